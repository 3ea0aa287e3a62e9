"""lanmail.py - shared helpers for the end-to-end tests (TAP output).

A test is a python3 script named tests/NAME.t that starts with
    #!/usr/bin/python3
and does
    import lanmail as t
    t.plan(3)               # or t.done() at the end without a plan
    t.ok(cond, "what")
Environment (set by make check): LANMAIL_HOME the installed scratch copy,
LANMAIL_BUILD its build directory, LANMAIL_SRC the source tree.
Every process started through start() is killed at exit, by pid.
"""
import atexit
import fcntl
import os
import shutil
import signal
import socket
import stat
import ssl
import subprocess
import sys
import tempfile
import threading
import time

# qmail-auth counts failed logins per client address for a day
# (users/authfail/, see qmail-auth(8)): the wrong passwords the tests
# send from 127.0.0.1 would add up, across tests and runs, and lock the
# later tests out.  So it is off, as an administrator turns it off for
# a trusted address, but where a test takes AUTHLIMITOFF out of the
# environment of what it runs (an env value None in tcpserver() does).
os.environ.setdefault("AUTHLIMITOFF", "1")

HOME = os.environ.get("LANMAIL_HOME", "")
BUILD = os.environ.get("LANMAIL_BUILD", "")
SRC = os.environ.get("LANMAIL_SRC", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(HOME, "bin")

_n = 0
_failed = 0
_planned = None
_procs = []
_tmpdirs = []


def plan(n):
    global _planned
    _planned = n
    print("1..%d" % n, flush=True)


def skip_all(reason):
    print("1..0 # SKIP %s" % reason, flush=True)
    sys.exit(0)


def ok(cond, name=""):
    global _n, _failed
    _n += 1
    if cond:
        print("ok %d - %s" % (_n, name), flush=True)
    else:
        _failed += 1
        print("not ok %d - %s" % (_n, name), flush=True)
    return bool(cond)


def is_(got, want, name=""):
    r = ok(got == want, name)
    if not r:
        diag("got:  %r" % (got,))
        diag("want: %r" % (want,))
    return r


def skip(reason, count=1):
    global _n
    for _ in range(count):
        _n += 1
        print("ok %d # skip %s" % (_n, reason), flush=True)


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


def done():
    if _planned is None:
        print("1..%d" % _n, flush=True)
    sys.exit(1 if _failed else 0)


def need_home():
    if not HOME or not os.path.isdir(HOME):
        skip_all("LANMAIL_HOME is not set: run through make check")


def tmpdir(prefix="lanmail-test.", short=False):
    """A scratch directory, removed at exit.  short: one in /tmp, whose
    path leaves room for Unix sockets deeper inside it (108 bytes in all)
    wherever TMPDIR is."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp" if short else None)
    _tmpdirs.append(d)
    return d


def free_port(family=socket.AF_INET, addr="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def accept_loop(sock, handler):
    """Accept connections on the listening sock in a daemon thread, each
    given to handler(conn) in a thread of its own, until sock is closed."""
    def loop():
        while True:
            try:
                c, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()


def wait_until(cond, timeout=30.0, step=0.05):
    """cond() looked at every step seconds until it gives something
    true, for at most timeout seconds; what it gave last.  A test waits
    for what it expects to happen this way, not by sleeping, so that a
    slow machine is given time and a fast one none is wasted."""
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def wait_port(port, addr="127.0.0.1", timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start(argv, **kw):
    """Start a background process; it is killed (by pid) at exit."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    _procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10):
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def environ(env=None):
    """os.environ with env's settings, a value None removing the variable"""
    e = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def tcpserver(prog_argv, port=None, addr="127.0.0.1", env=None, rules=None, extra=()):
    """Run prog_argv under a real tcpserver on addr:port; returns (proc, port)."""
    port = port or free_port(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr)
    argv = ["tcpserver", "-R", "-H", "-l", "localhost"]
    if rules:
        argv += ["-x", rules]
    argv += list(extra) + [addr, str(port)] + list(prog_argv)
    e = environ(env)
    p = start(argv, env=e, stderr=subprocess.PIPE if env and env.get("_capture") else None)
    if not wait_port(port, addr):
        diag("tcpserver did not start on %s:%d" % (addr, port))
    return p, port


def write(path, data, mode=0o644):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.chmod(path, mode)


def control(name, value):
    """Set control/NAME (None removes it)."""
    path = os.path.join(HOME, "control", name)
    if value is None:
        if os.path.exists(path):
            os.unlink(path)
    else:
        write(path, value)


def mount_small(path, size):
    """A tmpfs of SIZE (e.g. "64k") mounted on the directory PATH, for a
    full file system: None when mounted (umount_small undoes it), else
    the reason it could not be (not root, no mount)."""
    if os.getuid() != 0:
        return "mounting a tmpfs needs root"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "lanmail-test", path],
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        return "mount -t tmpfs failed: %s" % r.stderr.decode(errors="replace").strip()
    return None


def umount_small(path):
    if subprocess.run(["umount", path], stderr=subprocess.PIPE).returncode != 0:
        subprocess.run(["umount", "-l", path])


def queue_files(sub):
    """Every file under queue/SUB, as paths."""
    out = []
    for root, _dirs, files in os.walk(os.path.join(HOME, "queue", sub)):
        out += [os.path.join(root, f) for f in files]
    return sorted(out)


def clear_queue():
    for sub in ("pid", "mess", "intd", "todo", "info", "local", "remote", "bounce"):
        for f in queue_files(sub):
            os.unlink(f)


def traversable(path):
    """Every directory from / to path may be entered by anybody."""
    path = os.path.abspath(path)
    while True:
        try:
            if not os.stat(path).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
        if path == "/":
            return True
        path = os.path.dirname(path)


AUTHFAIL = os.path.join(HOME, "users", "authfail")


def _authfail_locked(fn):
    """fn(path of the counts) under qmail-auth's lock users/authfail/lock"""
    with open(os.path.join(AUTHFAIL, "lock"), "a") as lk:
        fcntl.lockf(lk, fcntl.LOCK_EX)
        try:
            return fn(os.path.join(AUTHFAIL, "counts"))
        finally:
            fcntl.lockf(lk, fcntl.LOCK_UN)


def authfail_counts():
    """qmail-auth's failed-login counts, {key: (count, last)}"""
    def read(path):
        try:
            lines = open(path).read().splitlines()
        except FileNotFoundError:
            return {}
        out = {}
        for ln in lines:
            c, last, key = ln.split(" ", 2)
            out[key] = (int(c), int(last))
        return out
    return _authfail_locked(read)


def authfail_set(key, count, last=None):
    """Set the count of key in qmail-auth's failed-login counts (count 0
    removes it); last defaults to now.  The time of the last failure put
    into the past stands in for waiting."""
    def rewrite(path):
        try:
            lines = open(path).read().splitlines()
        except FileNotFoundError:
            lines = []
        lines = [ln for ln in lines if ln.split(" ", 2)[2:] != [key]]
        if count:
            lines.append("%d %d %s" % (count, int(time.time()) if last is None else last, key))
        write(path + ".tmp", "".join(ln + "\n" for ln in lines), 0o660)
        os.rename(path + ".tmp", path)
    _authfail_locked(rewrite)


def tls_client_context():
    """A TLS client context that accepts the tests' self-signed certificates."""
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def _servfail(sock):
    while True:
        try:
            q, peer = sock.recvfrom(4096)
        except OSError:
            return
        if len(q) < 12:
            continue
        flags = 0x8182  # response, RD, RA, SERVFAIL
        sock.sendto(q[:2] + flags.to_bytes(2, "big") + q[4:6] + b"\0\0\0\0\0\0" + q[12:], peer)


def servfail_server(addr="127.0.0.1"):
    """A UDP name server on addr that answers every query at once with
    SERVFAIL (RCODE 2), echoing the question; returns its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, 0))
    threading.Thread(target=_servfail, args=(sock,), daemon=True).start()
    return sock.getsockname()[1]


def totp(secret, step):
    """The RFC 6238 code (HMAC-SHA-1, six digits) of base32 secret for
    30-second step number step."""
    import base64
    import hashlib
    import hmac
    import struct
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    h = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000)


@atexit.register
def _cleanup():
    for p in _procs:
        try:
            stop(p)
        except Exception:
            pass
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)
