"""qsend.py - shared set-up for the qmail-send tests.

A Scene owns what a test sets in the scratch home: control files, the
users/assign table (restored at the end), recipients' homes with
Maildirs, and a running qmail-start.  Messages go in through the real
bin/qmail-queue.
"""
import mailbox
import os
import signal
import subprocess
import threading

import lanmail as t

DOMAIN = "send.test"
CONTROLS = ("me", "locals", "virtualdomains", "concurrencylocal", "concurrencyremote",
            "queuelifetime", "retrylocal", "retryremote", "bouncefrom", "bouncehost",
            "doublebounceto", "doublebouncehost", "smtproutes", "helohost", "rcpthosts",
            "timeoutremotetotal")


def children(ppid):
    """{name: pid} of the processes whose parent is ppid"""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        if int(st[st.rindex(")") + 2:].split()[1]) == ppid:
            out[name] = int(d)
    return out


def can_inject():
    """strace exists, may trace here, and can make a system call fail"""
    try:
        return subprocess.run(["strace", "-qq", "-o", os.devnull, "-e", "trace=getppid",
                               "-e", "inject=getppid:error=EIO", "true"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    except OSError:
        return False


class Scene:
    def __init__(self):
        t.need_home()
        self.users = os.path.join(t.HOME, "users")
        self.saved = {}
        for f in ("assign", "assign.cdb"):
            p = os.path.join(self.users, f)
            if os.path.exists(p):
                with open(p, "rb") as fh:
                    self.saved[f] = fh.read()
        self.saved_controls = {}
        for c in CONTROLS:
            p = os.path.join(t.HOME, "control", c)
            if os.path.exists(p):
                with open(p, "rb") as fh:
                    self.saved_controls[c] = fh.read()
                os.unlink(p)
        t.clear_queue()
        self.dir = t.tmpdir("lanmail-send.")
        self.proc = None
        self.top = None
        self.seen = set()
        self.logf = os.path.join(self.dir, "log")
        self.uid = os.getuid()
        self.gid = os.getgid()
        t.control("me", DOMAIN + "\n")
        t.control("locals", DOMAIN + "\n")

    def home(self, name, dotqmail=None):
        """A recipient's home with a Maildir; dotqmail: {"": ..., "ext": ...}."""
        h = os.path.join(self.dir, name)
        for sub in ("", "Maildir", "Maildir/tmp", "Maildir/new", "Maildir/cur"):
            os.makedirs(os.path.join(h, sub), exist_ok=True)
        for ext, text in (dotqmail or {}).items():
            t.write(os.path.join(h, ".qmail" + ("-" + ext if ext else "")), text)
        return h

    def assign(self, lines):
        text = "".join(l + "\n" for l in lines) + ".\n"
        t.write(os.path.join(self.users, "assign"), text)
        r = subprocess.run([os.path.join(t.BIN, "qmail-newu")], capture_output=True, text=True)
        if r.returncode != 0:
            t.diag("qmail-newu: " + r.stderr)

    def user(self, name, home, prefix=False):
        if prefix:
            return "+%s-:%s:%d:%d:%s:-::" % (name, "u", self.uid, self.gid, home)
        return "=%s:%s:%d:%d:%s:::" % (name, "u", self.uid, self.gid, home)

    def start(self, logger=None, wrap=None, env=None):
        """Start qmail-start; wrap: a command line it runs under (strace -f,
        say); env: settings added to the environment it and its children get."""
        self.logfh = open(self.logf, "ab")
        argv = (wrap or []) + [os.path.join(t.BIN, "qmail-start"), "./Maildir/"] + (logger or [])
        self.proc = t.start(argv, stdout=self.logfh, stderr=subprocess.STDOUT, cwd="/",
                            env=t.environ(env) if env else None)
        self.top = self.proc.pid
        if wrap:
            self.top = None
            self.wait(self._find_top, 20, 0.02)
        return self.proc

    def _find_top(self):
        """qmail-start's pid when it runs under a wrapper: the wrapper's
        child once it has executed qmail-start"""
        kids = children(self.proc.pid)
        self.top = kids.get("qmail-start")
        return self.top is not None

    def pids(self):
        """{name: pid} of qmail-start's children."""
        out = {}
        if not self.proc or not self.top:
            return out
        out = children(self.top)
        self.seen.update(out.values())
        return out

    def signal(self, sig):
        """sig to qmail-start, which passes SIGTERM, SIGHUP and SIGALRM on
        to qmail-send"""
        os.kill(self.top, sig)

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            os.kill(self.top or self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                t.stop(self.proc, signal.SIGKILL)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        self.top = None
        return rc

    def log(self):
        with open(self.logf, "rb") as f:
            return f.read().decode("ascii", "replace")

    def inject(self, sender, rcpts, body, env=None):
        envl = b"F" + sender.encode() + b"\0" + b"".join(b"T" + r.encode() + b"\0" for r in rcpts) + b"\0"
        r, w = os.pipe()
        # an envelope bigger than the pipe holds is written while
        # qmail-queue reads it
        def feed():
            try:
                os.write(w, envl)
            except OSError:
                pass	# qmail-queue stopped reading: its exit code tells
            os.close(w)
        writer = threading.Thread(target=feed)
        writer.start()
        p = subprocess.run([os.path.join(t.BIN, "qmail-queue")], input=body if isinstance(body, bytes) else body.encode(),
                           stdout=r, stderr=subprocess.PIPE, env=env)
        os.close(r)
        writer.join()
        if p.returncode != 0:
            t.diag("qmail-queue exit %d: %s" % (p.returncode, p.stderr.decode()))
        return p.returncode

    def inject_parallel(self, sender, rcpt, subject, n, writers=8):
        """Queue n messages to rcpt, the i-th with Subject: subject % i,
        from writers threads at once.  Returns at once: (the threads, to
        be joined; a list the i of each failed qmail-queue go to)."""
        work = list(range(n))
        lock = threading.Lock()
        bad = []

        def injector():
            while True:
                with lock:
                    if not work:
                        return
                    i = work.pop()
                if self.inject(sender, [rcpt], "Subject: %s\n\nx\n" % (subject % i)) != 0:
                    bad.append(i)
        threads = [threading.Thread(target=injector) for _ in range(writers)]
        for th in threads:
            th.start()
        return threads, bad

    def maildir(self, home, sub="Maildir"):
        return [m for m in mailbox.Maildir(os.path.join(home, sub), factory=None, create=False)]

    def wait(self, cond, timeout=60.0, step=0.05):
        return t.wait_until(cond, timeout, step)

    def queue_empty(self):
        return not any(t.queue_files(d) for d in ("mess", "todo", "info", "local", "remote", "bounce", "intd"))

    def finish(self):
        self.stop()
        # children that outlived a killed qmail-start: by pid, never by name
        for pid in self.seen:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    st = f.read()
                if st[st.rindex(")") + 2] != "Z" and st[st.index("(") + 1:].startswith("qmail-"):
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
        if t._failed and os.path.exists(self.logf):
            t.diag("log of qmail-start:\n" + self.log())
        t.clear_queue()
        for c in CONTROLS:
            t.control(c, None)
        for c, v in self.saved_controls.items():
            t.write(os.path.join(t.HOME, "control", c), v)
        for f in ("assign", "assign.cdb"):
            p = os.path.join(self.users, f)
            if f in self.saved:
                with open(p, "wb") as fh:
                    fh.write(self.saved[f])
            elif os.path.exists(p):
                os.unlink(p)
