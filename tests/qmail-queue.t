#!/usr/bin/python3
# qmail-queue.t - qmail-queue end to end: the files it writes, byte for
# byte; every exit code that can be provoked; durability (the order of
# fsync and link calls recorded by strace); a kill at every system call
# leaves the queue consistent; a full file system gives 53 and nothing
# half-written.
#
# The installed bin/qmail-queue writes into the scratch home's queue.
# Exit codes 61-66 and the full-disk case need other install roots: the
# test compiles qmail-queue.c again against a generated auto.c naming a
# directory of its own (conf-home is compiled in), and lays out a queue
# there the way install.sh does.
import email.utils
import os
import pwd
import re
import resource
import shlex
import signal
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t

t.need_home()
QQ = os.path.join(t.BIN, "qmail-queue")
if not os.access(QQ, os.X_OK):
    t.skip_all("bin/qmail-queue is not installed")
QUEUE = os.path.join(t.HOME, "queue")
UID = os.getuid()
SPLIT = len([d for d in os.listdir(os.path.join(QUEUE, "mess")) if d.isdigit()])
SCRATCH = t.tmpdir("qmail-queue-t.")
RECEIVED = re.compile(rb"^Received: \(lanmail ([0-9]+) invoked by uid ([0-9]+)\); ([^\n]*)\n")


def path(name):
    p = os.path.join(SCRATCH, name)
    return p


def run(msg, env, qq=QQ, wrap=(), preexec=None, stdin=None, stdout=None):
    """Run qmail-queue with msg on fd 0 and env on fd 1 (both files)."""
    if stdin is None:
        with open(path("msg"), "wb") as f:
            f.write(msg)
        stdin = open(path("msg"), "rb")
    if stdout is None:
        with open(path("env"), "wb") as f:
            f.write(env)
        stdout = open(path("env"), "rb")
    try:
        p = subprocess.run(list(wrap) + [qq], stdin=stdin, stdout=stdout,
                           stderr=subprocess.PIPE, preexec_fn=preexec, timeout=120)
    finally:
        for f in (stdin, stdout):
            os.close(f) if isinstance(f, int) else f.close()
    return p.returncode, p.stderr.decode(errors="replace")


def files(root, sub):
    out = []
    for r, _d, fs in os.walk(os.path.join(root, "queue", sub)):
        out += [os.path.join(r, f) for f in fs]
    return sorted(out)


def empty(root=t.HOME):
    """True when pid/ mess/ intd/ todo/ hold nothing."""
    return not any(files(root, s) for s in ("pid", "mess", "intd", "todo"))


def clear(root=t.HOME):
    for s in ("pid", "mess", "intd", "todo"):
        for f in files(root, s):
            os.unlink(f)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def parse_todo(data):
    """The todo/ form: (uid, pid, sender, [recipients]) or None."""
    if data.endswith(b"\0\0") or not data.endswith(b"\0"):
        return None
    recs = data[:-1].split(b"\0")
    if len(recs) < 4 or recs[0][:1] != b"u" or recs[1][:1] != b"p" or recs[2][:1] != b"F":
        return None
    if not all(r[:1] == b"T" for r in recs[3:]):
        return None
    return int(recs[0][1:]), int(recs[1][1:]), recs[2][1:], [r[1:] for r in recs[3:]]


def committed(root, msg, env, uid=UID, name=""):
    """Check the one committed message against what was handed in."""
    todo = files(root, "todo")
    if not t.is_(len(todo), 1, name + ": one todo/ entry"):
        return False
    tid = os.path.basename(todo[0])
    sub = os.path.basename(os.path.dirname(todo[0]))
    mess = os.path.join(root, "queue", "mess", sub, tid)
    good = t.ok(os.path.exists(mess), name + ": mess/%s/%s beside todo/%s/%s" % (sub, tid, sub, tid))
    good &= t.is_(os.stat(mess).st_ino, int(tid), name + ": the id is the message file's inode")
    good &= t.is_(int(sub), int(tid) % SPLIT, name + ": split directory is id %% %d" % SPLIT)
    data = read(mess)
    m = RECEIVED.match(data)
    if not t.ok(m, name + ": mess starts with the Received line"):
        t.diag(data[:200])
        return False
    good &= t.is_(data[m.end():], msg, name + ": the message, byte for byte")
    good &= t.is_(int(m.group(2)), uid, name + ": Received names the invoking uid")
    when = email.utils.parsedate_to_datetime(m.group(3).decode())
    good &= t.ok(abs(when.timestamp() - time.time()) < 120, name + ": Received date is RFC 5322 and now")
    pid = int(m.group(1))
    good &= t.is_(read(todo[0]), b"u%d\0p%d\0" % (uid, pid) + env[:-1],
                  name + ": todo/ is u uid, p pid, then the envelope without its final NUL")
    good &= t.ok(not files(root, "intd") and not files(root, "pid"), name + ": intd/ and pid/ left empty")
    return good


def signal_awaiting_envelope(sig):
    """qmail-queue given the message, its envelope pipe left open and
    empty, then sig once the message file is written: its exit status"""
    r, w = os.pipe()
    p = subprocess.Popen([QQ], stdin=open(path("msg"), "rb"), stdout=r, stderr=subprocess.DEVNULL)
    end = time.time() + 10
    while time.time() < end and not files(t.HOME, "mess"):
        time.sleep(0.02)
    time.sleep(0.2)
    p.send_signal(sig)
    rc = p.wait(10)
    os.close(r)
    os.close(w)
    return rc


def mklayout(root):
    """The queue part of install.sh's layout, under root."""
    for d in ("pid", "lock", "info", "local", "remote", "bounce"):
        os.makedirs(os.path.join(root, "queue", d), exist_ok=True)
    for d in ("mess", "intd", "todo"):
        for i in range(SPLIT):
            os.makedirs(os.path.join(root, "queue", d, str(i)), exist_ok=True)
    fifo = os.path.join(root, "queue", "lock", "trigger")
    if not os.path.exists(fifo):
        os.mkfifo(fifo, 0o622)


_qqobj = None


def build_qq(home):
    """qmail-queue compiled with conf-home = home; None when it cannot be."""
    global _qqobj
    conf = lambda n: shlex.split(read(os.path.join(t.SRC, n)).decode().splitlines()[0])
    cc, ld = conf("conf-cc"), conf("conf-ld")
    lib = os.path.join(t.SRC, "lib")
    d = t.tmpdir("qmail-queue-build.")
    try:
        if _qqobj is None:
            o = os.path.join(SCRATCH, "qmail-queue.o")
            subprocess.run(cc + ["-iquote", lib, "-c", "-o", o, os.path.join(t.SRC, "qmail-queue.c")],
                           check=True, stderr=subprocess.PIPE)
            _qqobj = o
        user = pwd.getpwuid(UID).pw_name
        auto = subprocess.run(["sh", os.path.join(t.SRC, "mkauto.sh"), home, str(SPLIT), user],
                              check=True, stdout=subprocess.PIPE).stdout
        t.write(os.path.join(d, "auto.c"), auto)
        subprocess.run(cc + ["-iquote", lib, "-c", "-o", os.path.join(d, "auto.o"), os.path.join(d, "auto.c")],
                       check=True, stderr=subprocess.PIPE)
        subprocess.run(ld + ["-o", os.path.join(d, "qmail-queue"), _qqobj, os.path.join(d, "auto.o"),
                             os.path.join(t.BUILD, "liblanmail.a")], check=True, stderr=subprocess.PIPE)
    except (subprocess.CalledProcessError, OSError) as e:
        t.diag("cannot build a qmail-queue for %s: %s %s" % (home, e, getattr(e, "stderr", b"")))
        return None
    return os.path.join(d, "qmail-queue")


MSG = b"From: a@example.org\nTo: b@example.org\nSubject: test\n\nline 1\nline 2\n"
ENV = b"Fa@example.org\0Tb@example.org\0Tc@example.net\0\0"

clear()
t.ok(empty(), "queue empty at the start")

# --- a plain message, a bounce sender, binary content ---------------------
rc, err = run(MSG, ENV)
t.is_(rc, 0, "queued: exit 0")
committed(t.HOME, MSG, ENV, name="plain")
clear()

rc, err = run(b"", b"F\0T\0\0")
t.is_(rc, 0, "empty message, empty sender, empty recipient: exit 0")
committed(t.HOME, b"", b"F\0T\0\0", name="empty")
clear()

big = bytes(range(256)) * 20000 + b"no final newline\r"
env = b"F" + b"s" * 1000 + b"\0" + b"".join(b"T%d@x\0" % i for i in range(1000)) + b"\0"
rc, err = run(big, env)
t.is_(rc, 0, "5 MB binary message with NULs and CR, 1000-byte sender, 1000 recipients: exit 0")
committed(t.HOME, big, env, name="binary")
clear()

# the trigger: a reader of lock/trigger gets a byte
fifo = os.path.join(QUEUE, "lock", "trigger")
if os.path.exists(fifo):
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    rc, err = run(MSG, ENV)
    try:
        got = os.read(fd, 10)
    except BlockingIOError:
        got = b""
    os.close(fd)
    todo = files(t.HOME, "todo")
    split = int(os.path.basename(os.path.dirname(todo[0]))) if len(todo) == 1 else -1
    t.ok(rc == 0 and got == bytes([split + 1]),
         "lock/trigger poked once the message is committed, with its split plus one (%r)" % got)
    clear()
else:
    t.skip("no lock/trigger fifo in this install")

# many at once: distinct ids, all whole
procs = []
for i in range(20):
    m = MSG + b"n=%d\n" % i
    with open(path("m%d" % i), "wb") as f:
        f.write(m)
    with open(path("e%d" % i), "wb") as f:
        f.write(ENV)
    procs.append(subprocess.Popen([QQ], stdin=open(path("m%d" % i), "rb"),
                                  stdout=open(path("e%d" % i), "rb"), stderr=subprocess.DEVNULL))
codes = [p.wait(60) for p in procs]
todo = files(t.HOME, "todo")
bodies = sorted(RECEIVED.sub(b"", read(os.path.join(QUEUE, "mess", os.path.relpath(f, os.path.join(QUEUE, "todo")))))
                for f in todo)
t.ok(codes == [0] * 20 and len(todo) == 20, "20 concurrent qmail-queues: 20 messages")
t.is_(bodies, sorted(MSG + b"n=%d\n" % i for i in range(20)), "each one whole")
clear()

# --- refusals: documented code, nothing queued, nothing left ---------------
long_addr = b"a" * 1001
cases = [
    (91, b"", "empty envelope"),
    (91, b"Tb@x\0\0", "missing F"),
    (91, b"Fa@x\0\0", "no recipient"),
    (91, b"Fa@x\0", "no recipient, no final NUL"),
    (91, b"Fa@x\0Tb@x\0", "no final NUL"),
    (91, b"Fa@x\0Tb@x", "cut inside a recipient"),
    (91, b"Fa@x\0Tb@x\0\0junk", "junk after the final NUL"),
    (91, b"Fa@x\0Tb@x\0\0\0", "a second final NUL"),
    (91, b"Fa@x\0Xb@x\0\0", "a record that is not T"),
    (91, b"Fa@x\0Tb@x\0Fc@x\0\0", "a second F"),
    (11, b"F" + long_addr + b"\0Tb@x\0\0", "1001-byte sender"),
    (11, b"Fa@x\0Tb@x\0T" + long_addr + b"\0\0", "1001-byte recipient"),
    (11, b"Fa@x\0T" + b"a" * 5000000, "5 MB without a NUL"),
    (31, b"Fa@x\0" + b"T\0" * 100001 + b"\0", "100001 recipients"),
]
for code, env, what in cases:
    rc, err = run(MSG, env)
    t.ok(rc == code and empty(), "%s: exit %d, nothing left in the queue" % (what, code))
    if rc != code:
        t.diag("exit %d: %s" % (rc, err))
    clear()
rc, err = run(MSG, b"Fa@x\0" + b"T\0" * 100000 + b"\0")
t.ok(rc == 0 and len(files(t.HOME, "todo")) == 1, "100000 recipients: accepted")
clear()
rc, err = run(MSG, b"F" + b"a" * 1000 + b"\0T" + b"b" * 1000 + b"\0\0")
t.ok(rc == 0, "1000-byte addresses: accepted")
clear()
t.ok(re.match(r"^qmail-queue: fatal: ", run(MSG, b"Fa\0\0")[1]), "refusal says qmail-queue: fatal: ...")
clear()

# 54: unreadable message or envelope
d = os.open(SCRATCH, os.O_RDONLY | os.O_DIRECTORY)
rc, err = run(None, ENV, stdin=os.dup(d))
t.ok(rc == 54 and empty(), "message unreadable (a directory on fd 0): exit 54, nothing left")
rc, err = run(MSG, None, stdout=os.dup(d))
t.ok(rc == 54 and empty(), "envelope unreadable (a directory on fd 1): exit 54, nothing left")
os.close(d)
rc, err = run(MSG, None, stdout=open(os.devnull, "wb"))
t.ok(rc == 54 and empty(), "envelope descriptor write-only: exit 54, nothing left")
clear()

# 53: a file size limit makes the message write fail (EFBIG)
def fsize_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
rc, err = run(b"x" * 300000, ENV, preexec=fsize_limit)
t.ok(rc == 53 and empty(), "message over the file size limit: exit 53, nothing left (%d)" % rc)
clear()

# 51: an address space limit makes the envelope buffer fail
def as_limit():
    resource.setrlimit(resource.RLIMIT_AS, (48 << 20, 48 << 20))
env = b"Fa@x\0" + (b"T" + b"r" * 998 + b"\0") * 90000 + b"\0"
rc, err = run(MSG, env, preexec=as_limit)
t.ok(rc == 51 and empty(), "90 MB envelope under a 48 MB address space limit: exit 51, nothing left (%d)" % rc)
if rc != 51:
    t.diag(err)
clear()

# 52: the deadline (SIGALRM) while waiting for the message
p = subprocess.Popen([QQ], stdin=subprocess.PIPE, stdout=open(os.devnull, "rb"), stderr=subprocess.DEVNULL)
p.stdin.write(b"partial")
p.stdin.flush()
# its message file exists only once its handlers are set up
end = time.time() + 10
while time.time() < end and not files(t.HOME, "mess"):
    time.sleep(0.02)
p.send_signal(signal.SIGALRM)
rc = p.wait(10)
p.stdin.close()
t.ok(rc == 52 and not files(t.HOME, "todo"), "deadline passed: exit 52, no todo/ entry")
t.ok(empty(), "and the message file it made is gone")
clear()

# TERM, HUP or INT before the commit: the files it made are removed and
# it dies of the signal; in the middle of the message, and while it
# waits for the envelope
for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    r, w = os.pipe()
    p = subprocess.Popen([QQ], stdin=subprocess.PIPE, stdout=r, stderr=subprocess.DEVNULL)
    p.stdin.write(b"x" * 200000)
    p.stdin.flush()
    end = time.time() + 10
    while time.time() < end and not files(t.HOME, "mess"):
        time.sleep(0.02)
    p.send_signal(sig)
    rc = p.wait(10)
    p.stdin.close()
    os.close(r)
    os.close(w)
    t.ok(rc == -sig and empty(), "%s in the middle of the message: killed by it, nothing left (%r)" %
         (signal.Signals(sig).name, rc))
    clear()
rc = signal_awaiting_envelope(signal.SIGTERM)
t.ok(rc == -signal.SIGTERM and empty(), "SIGTERM while waiting for the envelope: nothing left (%r)" % (rc,))
clear()
# a caller abandons a message by closing both pipes, no envelope written
# (qmail-smtpd refusing a big message): 91, nothing left, not a word
r, w = os.pipe()
p = subprocess.Popen([QQ], stdin=subprocess.PIPE, stdout=r, stderr=subprocess.PIPE)
os.close(r)
p.stdin.write(b"y" * 300000)
p.stdin.close()
os.close(w)
rc = p.wait(10)
err = p.stderr.read()
p.stderr.close()
t.ok(rc == 91 and empty() and err == b"", "message pipes closed without an envelope: exit 91, nothing left, "
     "nothing said (%r %r)" % (rc, err[:100]))
clear()

# the envelope's final NUL ends the input: a caller may keep fd 1 open
r, w = os.pipe()
os.write(w, ENV)
with open(path("msg"), "wb") as f:
    f.write(MSG)
t0 = time.time()
try:
    p = subprocess.run([QQ], stdin=open(path("msg"), "rb"), stdout=r, stderr=subprocess.PIPE, timeout=20)
    rc = p.returncode
except subprocess.TimeoutExpired:
    rc = None
os.close(r)
os.close(w)
t.ok(rc == 0 and time.time() - t0 < 10 and len(files(t.HOME, "todo")) == 1,
     "envelope pipe still open after the final NUL: queued at once (%r)" % (rc,))
clear()
# SIGALRM after the message, while the envelope pipe stays open and empty
rc = signal_awaiting_envelope(signal.SIGALRM)
t.ok(rc == 52 and empty(), "deadline while waiting for the envelope: exit 52, nothing left (%r)" % (rc,))
clear()

# --- durability: fsync before link, link before exit -----------------------
try:
    # strace must exist and be allowed to trace (ptrace) here
    have_strace = subprocess.run(["strace", "-qq", "-o", os.devnull, "-e", "trace=none", "true"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
except OSError:
    have_strace = False
if have_strace:
    trace = path("trace")
    rc, err = run(MSG, ENV, wrap=["strace", "-f", "-qq", "-y", "-o", trace, "-e",
                                  "trace=openat,open,read,link,linkat,rename,renameat,renameat2,unlink,unlinkat,write,fsync,fdatasync,close,exit_group"])
    lines = read(trace).decode(errors="replace").splitlines()
    t.is_(rc, 0, "under strace: exit 0")

    def first(pat, start=0):
        for i in range(start, len(lines)):
            if re.search(pat, lines[i]):
                return i
        return -1

    # the line where the call at line i returned 0: syncs issued together
    # show as "<unfinished ...>" and "<... fsync resumed>" in strace -f
    def done(i):
        if i < 0:
            return -1
        if "<unfinished ...>" not in lines[i]:
            return i if re.search(r"= 0$", lines[i]) else -1
        pid = lines[i].split()[0]
        for k in range(i + 1, len(lines)):
            if lines[k].split()[0] == pid and "resumed>" in lines[k]:
                return k if re.search(r"= 0$", lines[k]) else -1
        return -1
    # the message file: unnamed in pid/ (O_TMPFILE), or pid/PID where
    # that is not supported
    i_open = first(r'open(at)?\(.*"pid(/[0-9]+)?", O_WRONLY\|(O_CREAT\|O_EXCL|.*O_TMPFILE).*= ([0-9]+)<')
    fd = re.search(r"= ([0-9]+)<", lines[i_open]).group(1) if i_open >= 0 else "?"
    i_msync = first(r"fsync\(%s<.*queue/pid/" % fd, i_open + 1)
    i_lastw = max([i for i, l in enumerate(lines) if re.search(r"write\(%s<.*queue/pid/" % fd, l)] or [-1])
    i_mdir = first(r"fsync\([0-9]+<.*queue/mess/[0-9]+>(\)| <unfinished)")
    i_intd = first(r'open(at)?\(.*"intd/[0-9]+/[0-9]+".*= ([0-9]+)<')
    ifd = re.search(r"= ([0-9]+)<", lines[i_intd]).group(1) if i_intd >= 0 else "?"
    i_isync = first(r"fsync\(%s<.*queue/intd/" % ifd, i_intd + 1)
    i_link = first(r'rename(at2?)?\(.*"intd/[0-9]+/[0-9]+".*"todo/[0-9]+/[0-9]+"')
    i_tdir = first(r"fsync\([0-9]+<.*queue/todo/[0-9]+>\)")
    i_trig = first(r'"lock/trigger"')
    i_exit = first(r"exit_group\(0\)")
    t.ok(i_open >= 0 and i_msync > i_lastw > i_open, "message written, then fsync(message)")
    if i_open >= 0 and "O_TMPFILE" in lines[i_open]:
        i_mlink = first(r'linkat\(AT_FDCWD[^,]*, "/proc/self/fd/%s", AT_FDCWD[^,]*, "mess/[0-9]+/[0-9]+", AT_SYMLINK_FOLLOW\) = 0' % fd)
        t.ok(i_open < i_mlink < i_lastw and first(r'"pid/[0-9]+"') < 0,
             "unnamed message file linked as mess/S/ID before it is written; no name in pid/")
    else:
        t.skip("no O_TMPFILE here: the message file began as pid/PID")
    t.ok(0 <= done(i_msync) < i_link, "fsync(message) done before the todo/ link")
    t.ok(0 <= done(i_mdir) < i_link, "fsync(mess/S directory) done before the todo/ link")
    t.ok(0 <= done(i_isync) < i_link, "fsync(envelope) done before the todo/ link")
    t.ok(0 <= i_link < i_tdir < i_exit, "rename into todo/, then fsync(todo/S directory), then exit 0")
    # once todo/ names it the message may be delivered and removed at
    # once, and its id given to a new message: nothing may be removed
    t.ok(i_link >= 0 and not [l for l in lines[i_link:] if re.search(r"unlink(at)?\(", l)],
         "nothing removed after the commit")
    t.ok(i_tdir < i_trig < i_exit, "trigger poked only after the commit is durable")
    for i in (i_msync, i_mdir, i_isync, i_link, i_tdir, i_exit):
        if i >= 0:
            t.diag(lines[i])
    clear()
    # todo/S cannot be opened for its sync after the commit: the message
    # is queued, and the exit must be 53, the one code documented as
    # "may be queued all the same" (66 would say nothing was)
    only = []
    for i in range(SPLIT):
        only += ["-P", os.path.join(QUEUE, "todo", str(i)), "-P", "todo/%d" % i]
    rc, err = run(MSG, ENV, wrap=["strace", "-f", "-qq", "-o", os.devnull] + only +
                  ["-e", "trace=openat,open", "-e", "inject=openat,open:error=EACCES"])
    t.ok(rc == 53 and "todo" in err and len(files(t.HOME, "todo")) == 1,
         "todo/ unopenable after the commit: exit 53, the message queued (%r, %r)" % (rc, err.strip()))
    clear()
else:
    t.skip("strace missing or not allowed to trace here", 10)

# --- without /proc an unnamed file cannot be linked: pid/PID instead ------
def noproc():
    probe = ["unshare", "-m", "sh", "-c", "mount -t tmpfs lanmail-noproc /proc"]
    try:
        can = UID == 0 and have_strace and subprocess.run(probe, stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        can = False
    if not can:
        t.skip("without /proc: needs root, unshare, mount and strace", 2)
        return
    trace = path("trace-noproc")
    script = 'mount -t tmpfs lanmail-noproc /proc && exec strace -f -qq -o "$0" -e trace=open,openat,link,linkat,unlink "$1"'
    rc, err = run(MSG, ENV, wrap=["unshare", "-m", "sh", "-c", script, trace])
    got = read(trace).decode(errors="replace")
    t.ok(rc == 0 and re.search(r'open(at)?\(.*"pid/[0-9]+", O_WRONLY\|O_CREAT\|O_EXCL', got) and
         re.search(r'\blink\("pid/[0-9]+", "mess/[0-9]+/[0-9]+"\) = 0', got),
         "without /proc: the message file begins as pid/PID, linked into mess/ (%d %s)" % (rc, err.strip()))
    committed(t.HOME, MSG, ENV, name="without /proc")
    clear()


noproc()

# --- kill at every system call: nothing, or a whole message ---------------
def consistent(root, msg, env):
    """No todo/ entry, or exactly one whose message and envelope are whole."""
    todo = files(root, "todo")
    if not todo:
        return "none"
    if len(todo) != 1:
        return None
    rel = os.path.relpath(todo[0], os.path.join(root, "queue", "todo"))
    mess = os.path.join(root, "queue", "mess", rel)
    if not os.path.exists(mess):
        return None
    p = parse_todo(read(todo[0]))
    data = read(mess)
    m = RECEIVED.match(data)
    if p is None or m is None or data[m.end():] != msg:
        return None
    if p[2] != b"a@example.org" or p[3] != [b"b@example.org", b"c@example.net"]:
        return None
    return "whole"


if have_strace:
    counts = {}
    for l in lines:
        m = re.match(r"^[0-9]+ +([a-z_0-9]+)\(", l)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    runs = bad = whole = none = 0
    for sc in ("open", "openat", "read", "write", "fsync", "close", "link", "linkat", "rename", "renameat",
               "renameat2", "unlink"):
        for n in range(1, counts.get(sc, 0) + 1):
            rc, err = run(MSG, ENV, wrap=["strace", "-f", "-qq", "-o", os.devnull, "-e", "trace=" + sc,
                                          "-e", "inject=%s:signal=KILL:when=%d" % (sc, n)])
            state = consistent(t.HOME, MSG, ENV)
            runs += 1
            if state is None:
                bad += 1
                t.diag("inconsistent after a kill at %s #%d" % (sc, n))
            elif state == "whole":
                whole += 1
            else:
                none += 1
            clear()
    t.ok(runs > 20 and bad == 0, "killed at each of %d system calls: never a partial message in todo/" % runs)
    t.ok(whole > 0 and none > 0, "some kills came before the commit (%d: invisible) and some after (%d: whole)" % (none, whole))
else:
    t.skip("strace missing or not allowed to trace here", 2)

# killed while the message trickles in, and before the envelope
p = subprocess.Popen([QQ], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
p.stdin.write(MSG[:20])
p.stdin.flush()
time.sleep(0.2)
p.kill()
p.wait()
t.ok(not files(t.HOME, "todo"), "killed mid-message: no todo/ entry")
clear()
rpipe, wpipe = os.pipe()
p = subprocess.Popen([QQ], stdin=subprocess.PIPE, stdout=rpipe, stderr=subprocess.DEVNULL)
os.close(rpipe)
p.stdin.write(MSG)
p.stdin.close()
end = time.time() + 5
while time.time() < end and not files(t.HOME, "mess"):
    time.sleep(0.02)
os.write(wpipe, ENV[:10])
time.sleep(0.2)
p.kill()
p.wait()
os.close(wpipe)
t.ok(files(t.HOME, "mess") and not files(t.HOME, "todo"), "killed with the message written and half an envelope: invisible")
clear()

# --- broken install roots: 61-66 -------------------------------------------
roots = {}
for name in ("nohome", "noqueue", "nopid", "nomess", "nointd", "notodo"):
    roots[name] = os.path.join(SCRATCH, name)
for name in ("noqueue", "nopid", "nomess", "nointd", "notodo"):
    os.makedirs(roots[name])
for name in ("nopid", "nomess", "nointd", "notodo"):
    mklayout(roots[name])
os.rmdir(os.path.join(roots["nopid"], "queue", "pid"))
for name, d in (("nomess", "mess"), ("nointd", "intd"), ("notodo", "todo")):
    for i in range(SPLIT):
        os.rmdir(os.path.join(roots[name], "queue", d, str(i)))
for name, code, what in (("nohome", 61, "home missing"), ("noqueue", 62, "queue/ missing"),
                         ("nopid", 63, "queue/pid missing"), ("nomess", 64, "queue/mess/S missing"),
                         ("nointd", 65, "queue/intd/S missing"), ("notodo", 66, "queue/todo/S missing")):
    qq = build_qq(roots[name])
    if qq is None:
        t.skip("cannot compile qmail-queue with another conf-home")
        continue
    rc, err = run(MSG, ENV, qq=qq)
    left = [] if name in ("nohome", "noqueue") else files(roots[name], "mess") + files(roots[name], "intd") + files(roots[name], "pid")
    t.ok(rc == code and not left, "%s: exit %d, nothing left (%d %s)" % (what, code, rc, err.strip()))

# --- a full file system: 53, nothing half-written -------------------------
def full_disk():
    mnt = os.path.join(SCRATCH, "small")
    os.makedirs(mnt)
    why = t.mount_small(mnt, "256k")
    if why:
        t.skip("full file system: " + why, 5)
        return
    try:
        mklayout(mnt)
        qq = build_qq(mnt)
        if qq is None:
            t.skip("cannot compile qmail-queue with another conf-home", 5)
            return
        rc, err = run(b"x" * 1000000, ENV, qq=qq)
        t.ok(rc == 53 and not files(mnt, "todo"), "1 MB message on a 256 KB file system: exit 53, nothing in todo/ (%d)" % rc)
        t.ok(empty(mnt), "and the partial message is gone")
        env = b"Fa@x\0" + (b"T" + b"r" * 999 + b"\0") * 200 + b"\0"
        rc, err = run(b"y" * 150000, env, qq=qq)
        t.ok(rc == 53 and empty(mnt), "message fits, envelope does not: exit 53, nothing left (%d)" % rc)
        rc, err = run(MSG, ENV, qq=qq)
        t.is_(rc, 0, "room again once the failures cleaned up: exit 0")
        t.ok(consistent(mnt, MSG, ENV) == "whole", "and that message is whole")
    finally:
        t.umount_small(mnt)


full_disk()


def swept_meanwhile():
    """The message file removed between its write and the commit (qmail-send's
    sweep, after the clock jumped 36 hours): nothing may be committed.
    strace holds every fstat for 0.3 s; the file goes as soon as it is there."""
    import shutil
    import threading
    if not shutil.which("strace"):
        t.skip("no strace", 2)
        return
    clear()
    gone = []

    def remove():
        end = time.time() + 20
        while time.time() < end and not gone:
            for f in files(t.HOME, "mess"):
                os.unlink(f)
                gone.append(f)
            time.sleep(0.005)
    th = threading.Thread(target=remove)
    th.start()
    rc, err = run(MSG, ENV, wrap=("strace", "-qq", "-o", "/dev/null", "-e", "trace=fstat,newfstatat",
                                  "-e", "inject=fstat,newfstatat:delay_enter=300000"))
    gone.append("stop")
    th.join()
    t.ok(rc == 53 and "removed before the commit" in err and not files(t.HOME, "todo"),
         "the message file removed before the commit: exit 53, nothing in todo/ (%d %s)" % (rc, err.strip()))
    t.ok(empty(), "and nothing else left behind")


swept_meanwhile()

clear()
t.ok(empty(), "queue left empty")
t.done()
