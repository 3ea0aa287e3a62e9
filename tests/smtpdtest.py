"""smtpdtest.py - what the qmail-smtpd tests share: a configured scratch
home (saved and restored), a real tcpserver running qmail-smtpd with its
log in a file, a raw SMTP client for byte-exact sessions, and a careful
reader of the queue (todo/ envelopes and mess/ files).
"""
import os
import shutil
import socket
import subprocess
import time

import lanmail as t

ME = "lanmail.test"
CONTROLS = ("me", "rcpthosts", "locals", "virtualdomains", "badmailfrom",
            "databytes", "timeoutsmtpd", "smtpgreeting", "smtpdmaxrcpt",
            "smtpdmaxbad", "smtpgreetdelay", "smtpdauthfrom", "defaultdomain",
            "smtpdmaxmsgs", "smtpdmaxconnrcpt", "smtpdcmdmax", "smtpdlinemax",
            "smtpdmaxauthfail", "mfdnscheck", "morercpthosts.cdb", "nameservers")
USERFILES = ("assign", "recipients", "assign.cdb", "recipients.cdb", "admin.lock", "newu.lock")
ALIASFILES = (".qmail-info", ".qmail-sales-default", ".qmail-default")

_saved = {}
_made = []


def _save(path):
    if path in _saved:
        return
    if os.path.exists(path):
        with open(path, "rb") as f:
            _saved[path] = f.read()
    else:
        _saved[path] = None


def restore():
    """Put back every file setup() or a test changed; empty the queue."""
    for path, data in _saved.items():
        if data is None:
            if os.path.exists(path):
                os.unlink(path)
        else:
            with open(path, "wb") as f:
                f.write(data)
    for d in _made:
        shutil.rmtree(d, ignore_errors=True)
    t.clear_queue()


def new_cert(name="mail.lanmail.test"):
    """A fresh self-signed control/servercert.pem and serverkey.pem from
    mkcert.sh (the old ones saved, and put back by restore()); their
    paths."""
    cert = os.path.join(t.HOME, "control", "servercert.pem")
    key = os.path.join(t.HOME, "control", "serverkey.pem")
    for f in (cert, key):
        _save(f)
        if os.path.exists(f):
            os.unlink(f)
    r = subprocess.run(["sh", os.path.join(t.SRC, "mkcert.sh"), t.HOME, name],
                       capture_output=True, text=True)
    if r.returncode != 0:
        t.diag(r.stderr)
    return cert, key


def control(name, value):
    _save(os.path.join(t.HOME, "control", name))
    t.control(name, value)


def setup():
    """Domains: lanmail.test local, virt.test virtual with u1..u100 and a
    few more, relay.test relayed (no checks); a local user joe in
    users/assign, alias files info and sales-default."""
    t.need_home()
    for c in CONTROLS:
        _save(os.path.join(t.HOME, "control", c))
        t.control(c, None)
    for u in USERFILES:
        _save(os.path.join(t.HOME, "users", u))
    for a in ALIASFILES:
        _save(os.path.join(t.HOME, "alias", a))
    t.control("me", ME + "\n")
    t.control("rcpthosts", "lanmail.test\nvirt.test\nrelay.test\n.sub.relay.test\n")
    t.control("locals", "lanmail.test\n")
    t.control("virtualdomains", "virt.test:virt.test\n")
    uid, gid = os.getuid(), os.getgid()
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    home = t.tmpdir("smtpd-home.")
    vhome = os.path.join(t.HOME, "domains", "virt.test")
    if not os.path.isdir(vhome):
        os.makedirs(vhome)
        _made.append(vhome)
    t.write(os.path.join(t.HOME, "users", "assign"),
            "=joe:%s:%d:%d:%s:::\n+joe-:%s:%d:%d:%s:-::\n=bob:%s:%d:%d:%s:::\n"
            "+virt.test-:%s:%d:%d:%s:-::\n.\n"
            % (user, uid, gid, home, user, uid, gid, home, user, uid, gid, home, user, uid, gid, vhome))
    rcpts = "".join("u%d@virt.test\n" % i for i in range(1, 101))
    t.write(os.path.join(t.HOME, "users", "recipients"), rcpts + "alice@virt.test\n")
    newu()
    t.write(os.path.join(t.HOME, "alias", ".qmail-info"), "&joe@lanmail.test\n")
    t.write(os.path.join(t.HOME, "alias", ".qmail-sales-default"), "&joe@lanmail.test\n")
    if os.path.exists(os.path.join(t.HOME, "alias", ".qmail-default")):
        os.unlink(os.path.join(t.HOME, "alias", ".qmail-default"))
    t.clear_queue()


def newu():
    r = subprocess.run([os.path.join(t.BIN, "qmail-newu")], capture_output=True, text=True)
    if r.returncode != 0:
        t.diag("qmail-newu failed: " + r.stderr)
    return r.returncode == 0


class Server:
    """qmail-smtpd under a real tcpserver on 127.0.0.1; stderr to a file."""

    def __init__(self, args=(), env=None, rules=None, conns=60, addr="127.0.0.1"):
        self.log = os.path.join(t.tmpdir("smtpd-log."), "log")
        self.addr = addr
        self.port = t.free_port(socket.AF_INET6 if ":" in addr else socket.AF_INET, addr)
        e = dict(os.environ)
        for v in ("RELAYCLIENT", "SUBMISSION", "DATABYTES", "QMAILQUEUE"):
            e.pop(v, None)
        for k, v in (env or {}).items():  # None removes the variable
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        argv = ["tcpserver", "-R", "-H", "-l", "localhost", "-c", str(conns)]
        if rules:
            argv += ["-x", rules]
        argv += [addr, str(self.port), os.path.join(t.BIN, "qmail-smtpd")] + list(args)
        self.logf = open(self.log, "wb")
        self.proc = t.start(argv, env=e, stdout=subprocess.DEVNULL, stderr=self.logf)
        if not t.wait_port(self.port, addr):
            t.diag("tcpserver did not start")
        time.sleep(0.05)

    def stop(self):
        t.stop(self.proc)
        self.logf.close()

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode("latin-1")


class Raw:
    """A byte-exact SMTP client: send what we say, read replies whole."""

    def __init__(self, port, greeting=True, addr="127.0.0.1"):
        self.s = socket.create_connection((addr, port), timeout=30)
        self.buf = b""
        self.greeting = self.reply() if greeting else None

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed")
            self.buf += d
        i = self.buf.index(b"\n") + 1
        ln, self.buf = self.buf[:i], self.buf[i:]
        return ln.decode("latin-1")

    def reply(self):
        """A whole (maybe multi-line) reply as one string."""
        out = ""
        while True:
            ln = self.line()
            out += ln
            if len(ln) < 4 or ln[3] != "-":
                return out

    def cmd(self, c):
        self.send(c + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True when the server closed the connection (after any replies)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except ConnectionResetError:
            return True     # closed with our unread data in its buffer
        except socket.timeout:
            return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def code(reply):
    """'550 5.1.1' from a reply: the basic and enhanced codes."""
    last = reply.rstrip("\r\n").split("\r\n")[-1]
    return " ".join(last.split(" ")[:2])


def queue():
    """Every committed message: a list of dicts with uid, pid, sender,
    recipients (all as bytes) and the message bytes; checks the todo/
    format strictly."""
    msgs = []
    for path in t.queue_files("todo"):
        with open(path, "rb") as f:
            env = f.read()
        m = {"path": path, "raw": env, "error": None}
        parts = env.split(b"\0")
        # u uid NUL p pid NUL F sender NUL (T rcpt NUL)+, no final NUL
        if len(parts) < 4 or parts[-1] != b"":
            m["error"] = "envelope does not end in one NUL after the last recipient"
        else:
            parts = parts[:-1]
            if not parts[0].startswith(b"u") or not parts[1].startswith(b"p") or \
                    not parts[2].startswith(b"F"):
                m["error"] = "envelope does not start with u, p, F"
            elif any(not p.startswith(b"T") for p in parts[3:]) or len(parts) < 4:
                m["error"] = "recipient records are not all T"
            else:
                m["uid"] = parts[0][1:]
                m["pid"] = parts[1][1:]
                m["sender"] = parts[2][1:]
                m["recipients"] = [p[1:] for p in parts[3:]]
        rel = os.path.relpath(path, os.path.join(t.HOME, "queue", "todo"))
        mess = os.path.join(t.HOME, "queue", "mess", rel)
        try:
            with open(mess, "rb") as f:
                m["message"] = f.read()
        except OSError as e:
            m["error"] = "no message file: %s" % e
            m["message"] = b""
        msgs.append(m)
    return msgs


def body_of(message):
    """The message as qmail-smtpd handed it on: without qmail-queue's
    own first Received line."""
    i = message.index(b"\n") + 1
    return message[i:]


def strip_received(message):
    """The client's message: without the two Received lines (ours spans
    three lines) in front of it."""
    m = body_of(message)
    assert m.startswith(b"Received: from "), m[:80]
    lines = m.split(b"\n")
    i = 1
    while lines[i].startswith(b"\t"):
        i += 1
    return b"\n".join(lines[i:])


def queue_empty():
    return not t.queue_files("todo") and not t.queue_files("mess") and \
        not t.queue_files("intd") and not t.queue_files("pid")


def checkpassword_path():
    return os.path.join(t.SRC, "tests", "smtpd-checkpassword")
