#!/usr/bin/python3
"""bench.py - make bench's workloads, run side by side against lanmail and
Postfix/Dovecot (the peer), alternating, ROUNDS rounds each.

Run by bench/run.sh, which installs the packages and builds and installs
lanmail (static musl) into DIR/lanmail first.  Usage:
    bench.py SRC DIR
Settings come from the environment (see bench/README.md).  Every process
started here is recorded in DIR/pids while it runs (run.sh's trap stops
what is left there) and stopped by pid at the end.
"""
import json
import os
import platform
import pwd
import grp
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

SRC, DIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


ROUNDS = env_int("ROUNDS", 3)
ACCEPT_N = env_int("ACCEPT_N", 5000)
CONCS = [int(c) for c in os.environ.get("CONCS", "1 10 50").split()]
MSG_SIZE = env_int("MSG_SIZE", 4096)
LAT_N = env_int("LAT_N", 300)
RELAY_N = env_int("RELAY_N", 1000)
RELAY_C = env_int("RELAY_C", 10)
POP_LOGINS = env_int("POP_LOGINS", 200)
POP_MSGS = env_int("POP_MSGS", 1000)
IDLE_CONNS = env_int("IDLE_CONNS", 20)
DISK_SECS = env_int("DISK_SECS", 2)
WRITERS = [int(c) for c in os.environ.get("WRITERS", "1 10 50").split()]
DRAIN_TIMEOUT = env_int("DRAIN_TIMEOUT", 180)

PASSWORD = "bench-password"
LHOME = os.path.join(DIR, "lanmail")
PDIR = os.path.join(DIR, "postfix")
DDIR = os.path.join(DIR, "dovecot")
PIDFILE = os.path.join(DIR, "pids")
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

_procs = []     # (name, pid, popen or None, group)


def log(*a):
    print("bench:", *a, flush=True)


def die(*a):
    print("bench: fatal:", *a, file=sys.stderr, flush=True)
    sys.exit(111)


def _write_pids():
    with open(PIDFILE + ".new", "w") as f:
        for _n, pid, _p, _g in _procs:
            f.write("%d\n" % pid)
    os.replace(PIDFILE + ".new", PIDFILE)


def start(name, argv, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    _procs.append((name, p.pid, p, True))
    _write_pids()
    return p


def adopt(name, pid):
    """A daemon that forked away (Postfix's master): stopped by its pid."""
    _procs.append((name, pid, None, False))
    _write_pids()


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def stop_one(entry, timeout=15):
    name, pid, p, group = entry
    if name == "postfix":
        subprocess.run(["postfix", "-c", os.path.join(PDIR, "conf"), "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        (os.killpg if group else os.kill)(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    end = time.time() + timeout
    while time.time() < end:
        if p is not None:
            if p.poll() is not None:
                break
        elif not alive(pid):
            break
        time.sleep(0.05)
    else:
        log("%s (pid %d) did not stop: killed" % (name, pid))
        try:
            (os.killpg if group else os.kill)(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if p is not None:
            p.wait()
    if group:   # what the group left behind (connections being served)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_all():
    while _procs:
        stop_one(_procs[-1])
        _procs.pop()
        _write_pids()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port):
    """Something listens on 127.0.0.1:port (from /proc/net/tcp, so that no
    test connection leaves a server process behind)."""
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return True
    return False


def wait_port(port, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if listening(port):
            return True
        time.sleep(0.05)
    die("nothing listens on 127.0.0.1:%d" % port)


def fill(template, out, subst, mode=0o644):
    with open(template) as f:
        text = f.read()
    for k, v in subst.items():
        text = text.replace("@%s@" % k, str(v))
    with open(out, "w") as f:
        f.write(text)
    os.chmod(out, mode)


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        die("%s: exit %d: %s" % (" ".join(argv), r.returncode, (r.stderr + r.stdout).strip()))
    return r.stdout


def maildir(path, owner=None):
    for sub in ("", "tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
        if owner:
            os.chown(os.path.join(path, sub), *owner)


def files_in(d):
    try:
        return [e for e in os.scandir(d) if e.is_file()]
    except FileNotFoundError:
        return []


def empty_dir(d):
    for e in files_in(d):
        os.unlink(e.path)


def count_files(d):
    n = 0
    for _root, _dirs, fs in os.walk(d):
        n += len(fs)
    return n


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(comm, ppid, utime+stime, cutime+cstime) in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    comm = st[st.index("(") + 1:st.rindex(")")]
    rest = st[st.rindex(")") + 2:].split()
    ppid = int(rest[1])
    own = (int(rest[11]) + int(rest[12])) / CLK
    kids = (int(rest[13]) + int(rest[14])) / CLK
    return comm, ppid, own, kids


def all_procs():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = proc_stat(int(d))
            if s:
                out[int(d)] = s
    return out


def tree(roots):
    """Every live pid under (and including) the given pids."""
    procs = all_procs()
    kids = {}
    for pid, (_c, ppid, _o, _k) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = [], [r for r in roots if r in procs]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return {pid: procs[pid] for pid in out}


def cpu_by_name(roots):
    """{name: seconds}: own CPU of each live process by its name, and the
    CPU of its reaped children as 'name>children'."""
    out = {}
    for _pid, (comm, _pp, own, kids) in tree(roots).items():
        out[comm] = out.get(comm, 0.0) + own
        if kids:
            out[comm + ">children"] = out.get(comm + ">children", 0.0) + kids
    return out


def cpu_delta(before, after):
    keys = set(before) | set(after)
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in keys}


def mem(pid):
    """(rss, pss) in KiB, from smaps_rollup."""
    rss = pss = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def mem_tree(roots):
    tot = [0, 0]
    each = []
    for pid, (comm, _pp, _o, _k) in sorted(tree(roots).items()):
        rss, pss = mem(pid)
        tot[0] += rss
        tot[1] += pss
        each.append((comm, pid, rss, pss))
    return tot, each


# ---------------------------------------------------------------- systems

class System:
    name = ""
    smtp_port = pop_port = 0

    def roots(self):
        return []

    def pop_roots(self):
        return []


class Lanmail(System):
    name = "lanmail"

    def setup(self, sink_port, uid, gid):
        h = LHOME
        ctl = os.path.join(h, "control")
        admin = os.path.join(h, "bin", "qmail-admin")
        with open(os.path.join(ctl, "me"), "w") as f:
            f.write("mx.bench.test\n")
        with open(os.path.join(ctl, "locals"), "w") as f:
            f.write("localhost\n")
        run([admin, "domain", "add", "bench.test"], cwd=h)
        for u in ("u", "p"):
            run([admin, "user", "add", u + "@bench.test", "--stdin"], input=PASSWORD + "\n", cwd=h)
        with open(os.path.join(ctl, "rcpthosts"), "a") as f:
            f.write("relay.test\n")
        with open(os.path.join(ctl, "smtproutes"), "w") as f:
            f.write("relay.test:[127.0.0.1]:%d\n" % sink_port)
        self.maildir = os.path.join(h, "domains", "bench.test", "u", "Maildir")
        self.popdir = os.path.join(h, "domains", "bench.test", "p", "Maildir")
        self.log = open(os.path.join(DIR, "lanmail.log"), "ab")
        self.send = start("qmail-start", [os.path.join(h, "bin", "qmail-start"), "./Maildir/"],
                          cwd=h, stdout=self.log, stderr=subprocess.STDOUT,
                          env={"PATH": os.path.join(h, "bin") + ":/usr/bin:/bin"})
        self.smtp_port = free_port()
        self.smtpd = start("tcpserver smtpd", ["tcpserver", "-R", "-H", "-l", "mx.bench.test", "-c", "200",
                                               "-b", "100", "127.0.0.1", str(self.smtp_port),
                                               os.path.join(h, "bin", "qmail-smtpd")],
                           cwd=h, stdout=self.log, stderr=subprocess.STDOUT)
        self.pop_port = free_port()
        self.pop3d = start("tcpserver pop3", ["tcpserver", "-R", "-H", "-l", "mx.bench.test", "-c", "200",
                                              "-b", "100", "127.0.0.1", str(self.pop_port),
                                              os.path.join(h, "bin", "qmail-popup"), "mx.bench.test",
                                              os.path.join(h, "bin", "qmail-auth"),
                                              os.path.join(h, "bin", "qmail-pop3d"), "Maildir"],
                           cwd=h, stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.smtp_port)
        wait_port(self.pop_port)

    def roots(self):
        return [self.send.pid, self.smtpd.pid]

    def pop_roots(self):
        return [self.pop3d.pid]

    def queue_empty(self):
        return count_files(os.path.join(LHOME, "queue", "mess")) == 0

    def deferred(self):
        return count_files(os.path.join(LHOME, "queue", "mess"))


class Peer(System):
    name = "peer"

    def setup(self, sink_port, uid, gid):
        conf = os.path.join(PDIR, "conf")
        for d in (conf, os.path.join(PDIR, "queue"), os.path.join(PDIR, "data"), os.path.join(PDIR, "vmail")):
            os.makedirs(d, exist_ok=True)
        pf = pwd.getpwnam("postfix")
        os.chown(os.path.join(PDIR, "data"), pf.pw_uid, pf.pw_gid)
        os.chown(os.path.join(PDIR, "vmail"), uid, gid)
        self.smtp_port = free_port()
        subst = {"DIR": PDIR, "PORT": self.smtp_port, "UID": uid, "GID": gid}
        fill(os.path.join(SRC, "bench", "postfix", "main.cf"), os.path.join(conf, "main.cf"), subst)
        fill(os.path.join(SRC, "bench", "postfix", "master.cf"), os.path.join(conf, "master.cf"), subst)
        with open(os.path.join(PDIR, "vmailbox"), "w") as f:
            f.write("u@bench.test bench.test/u/Maildir/\n")
        with open(os.path.join(PDIR, "transport"), "w") as f:
            f.write("relay.test smtp:[127.0.0.1]:%d\n" % sink_port)
        self.maildir = os.path.join(PDIR, "vmail", "bench.test", "u", "Maildir")
        os.makedirs(os.path.dirname(os.path.dirname(self.maildir)), exist_ok=True)
        os.chown(os.path.dirname(os.path.dirname(self.maildir)), uid, gid)
        os.makedirs(os.path.dirname(self.maildir), exist_ok=True)
        os.chown(os.path.dirname(self.maildir), uid, gid)
        maildir(self.maildir, (uid, gid))
        # postfix(1) reports errors only to a terminal or the log: keep its log
        r = subprocess.run(["postfix", "-c", conf, "start"], capture_output=True, text=True)
        if r.returncode != 0:
            try:
                with open(os.path.join(PDIR, "maillog")) as f:
                    tail = f.read()[-2000:]
            except OSError:
                tail = ""
            die("postfix -c %s start failed: %s %s" % (conf, r.stderr, tail))
        pidf = os.path.join(PDIR, "queue", "pid", "master.pid")
        end = time.time() + 10
        while not os.path.exists(pidf) and time.time() < end:
            time.sleep(0.05)
        with open(pidf) as f:
            self.master = int(f.read().split()[0])
        adopt("postfix", self.master)
        wait_port(self.smtp_port)

        # Dovecot: POP3 only, passwd-file with the same SHA512-CRYPT hash lanmail keeps
        os.makedirs(DDIR, exist_ok=True)
        self.pop_port = free_port()
        hashed = ""
        with open(os.path.join(LHOME, "domains", "bench.test", "vpasswd")) as f:
            for line in f:
                if line.startswith("p:"):
                    hashed = line.split(":")[1]
        if not hashed:
            die("no hash for p@bench.test in lanmail's vpasswd")
        with open(os.path.join(DDIR, "passwd"), "w") as f:
            f.write("p@bench.test:{SHA512-CRYPT}%s\n" % hashed)
        self.popdir = os.path.join(DDIR, "mail", "p", "Maildir")
        os.makedirs(os.path.dirname(self.popdir), exist_ok=True)
        os.chown(os.path.dirname(self.popdir), uid, gid)
        maildir(self.popdir, (uid, gid))
        fill(os.path.join(SRC, "bench", "dovecot", "dovecot.conf"), os.path.join(DDIR, "dovecot.conf"),
             {"DIR": DDIR, "PORT": self.pop_port, "UID": uid, "GID": gid})
        self.dovecot = start("dovecot", ["dovecot", "-F", "-c", os.path.join(DDIR, "dovecot.conf")],
                             stdout=open(os.path.join(DDIR, "stdout"), "ab"), stderr=subprocess.STDOUT)
        wait_port(self.pop_port)

    def roots(self):
        return [self.master]

    def pop_roots(self):
        return [self.dovecot.pid]

    def queue_files(self):
        return sum(count_files(os.path.join(PDIR, "queue", d))
                   for d in ("maildrop", "incoming", "active", "deferred", "hold"))

    def queue_empty(self):
        return self.queue_files() == 0

    def deferred(self):
        return self.queue_files()


# ---------------------------------------------------------------- workloads

def drain(sysm, what):
    end = time.time() + DRAIN_TIMEOUT
    while not sysm.queue_empty():
        if time.time() > end:
            log("%s: queue not empty after %ds (%s)" % (sysm.name, DRAIN_TIMEOUT, what))
            return False
        time.sleep(0.05)
    return True


def smtp_source(port, conc, n, rcpts=1, to="u@bench.test"):
    argv = ["smtp-source", "-s", str(conc), "-m", str(n), "-l", str(MSG_SIZE),
            "-f", "bench@client.test", "-t", to, "-M", "client.test"]
    if rcpts > 1:
        argv += ["-r", str(rcpts)]
    argv.append("127.0.0.1:%d" % port)
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or r.stderr.strip():
        log("smtp-source %s: exit %d %s" % (" ".join(argv[1:]), r.returncode, r.stderr.strip()[:300]))
    return r.returncode == 0


def accept_run(sysm, conc, n):
    """smtp-source into the Maildir: accept rate, then end to end."""
    md_new = os.path.join(sysm.maildir, "new")
    empty_dir(md_new)
    empty_dir(os.path.join(sysm.maildir, "cur"))
    cpu0 = cpu_by_name(sysm.roots())
    t0 = time.time()
    ok = smtp_source(sysm.smtp_port, conc, n)
    t1 = time.time()
    end = t1 + DRAIN_TIMEOUT
    got = 0
    while time.time() < end:
        got = len(files_in(md_new))
        if got >= n:
            break
        time.sleep(0.02)
    last = max((e.stat().st_ctime for e in files_in(md_new)), default=t1)
    drained = drain(sysm, "accept")
    cpu = cpu_delta(cpu0, cpu_by_name(sysm.roots()))
    if got < n or not ok or not drained:
        log("%s c=%d: %d of %d messages delivered" % (sysm.name, conc, got, n))
        return None
    return {"accept": n / (t1 - t0), "e2e": n / (last - t0),
            "cpu_ms": 1000 * sum(cpu.values()) / n,
            "cpu": {k: 1000 * v / n for k, v in cpu.items() if v > 0}}


class SmtpClient:
    """A plain SMTP client (one connection per message), for latency:
    every message carries X-Bench-Seq, its send time is kept."""

    def __init__(self, port):
        self.port = port

    def _reply(self, f):
        while True:
            line = f.readline()
            if not line:
                raise OSError("connection closed")
            if line[3:4] != b"-":
                if line[:1] not in (b"2", b"3"):
                    raise OSError("refused: %r" % line)
                return line

    def send(self, seq, body):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        try:
            self._reply(f)
            for cmd in (b"EHLO client.test\r\n", b"MAIL FROM:<bench@client.test>\r\n",
                        b"RCPT TO:<u@bench.test>\r\n", b"DATA\r\n"):
                s.sendall(cmd)
                self._reply(f)
            s.sendall(b"X-Bench-Seq: %d\r\n" % seq + body + b".\r\n")
            self._reply(f)
            s.sendall(b"QUIT\r\n")
            self._reply(f)
        finally:
            f.close()
            s.close()


def latency_run(sysm, conc, n):
    md_new = os.path.join(sysm.maildir, "new")
    empty_dir(md_new)
    empty_dir(os.path.join(sysm.maildir, "cur"))
    line = b"x" * 78 + b"\r\n"
    body = (b"From: bench@client.test\r\nTo: u@bench.test\r\nSubject: latency\r\n\r\n" +
            line * max(1, MSG_SIZE // len(line)))
    sent = {}
    errors = []
    lock = threading.Lock()
    seqs = iter(range(n))
    client = SmtpClient(sysm.smtp_port)

    def worker():
        while True:
            with lock:
                seq = next(seqs, None)
            if seq is None:
                return
            t = time.time()
            try:
                client.send(seq, body)
            except OSError as e:
                errors.append(str(e))
                return
            sent[seq] = t

    t0 = time.time()
    ths = [threading.Thread(target=worker) for _ in range(conc)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    end = time.time() + DRAIN_TIMEOUT
    while len(files_in(md_new)) < n and time.time() < end:
        time.sleep(0.02)
    drain(sysm, "latency")
    lat = []
    last = t0
    for e in files_in(md_new):
        with open(e.path, "rb") as f:
            head = f.read(8192)
        i = head.find(b"X-Bench-Seq: ")
        if i < 0:
            continue
        seq = int(head[i + 13:head.index(b"\n", i)].strip())
        ct = e.stat().st_ctime
        last = max(last, ct)
        if seq in sent:
            lat.append(ct - sent[seq])
    if errors or len(lat) < n:
        log("%s latency c=%d: %d of %d delivered, errors: %s" % (sysm.name, conc, len(lat), n, errors[:3]))
        return None
    return {"lat_ms": 1000 * statistics.median(lat), "lat_p90_ms": 1000 * sorted(lat)[int(0.9 * len(lat))],
            "e2e": n / (last - t0)}


def relay_run(sysm, rcpts, n):
    cpu0 = cpu_by_name(sysm.roots())
    t0 = time.time()
    ok = smtp_source(sysm.smtp_port, RELAY_C, n, rcpts=rcpts, to="rcpt@relay.test")
    t1 = time.time()
    drained = drain(sysm, "relay")
    t2 = time.time()
    cpu = cpu_delta(cpu0, cpu_by_name(sysm.roots()))
    if not ok or not drained:
        return None
    return {"accept": n / (t1 - t0), "relay": n / (t2 - t0), "cpu_ms": 1000 * sum(cpu.values()) / n}


class Pop:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise OSError("connection closed")
            self.buf += d
        i = self.buf.index(b"\r\n") + 2
        r, self.buf = self.buf[:i], self.buf[i:]
        if not r.startswith(b"+OK"):
            raise OSError("POP3: %r" % r)
        return r

    def multi(self):
        while True:
            i = self.buf.find(b"\r\n.\r\n")
            if i >= 0:
                r, self.buf = self.buf[:i + 5], self.buf[i + 5:]
                return r
            d = self.s.recv(262144)
            if not d:
                raise OSError("connection closed")
            self.buf += d

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\r\n")
        return self.line()

    def close(self):
        self.s.close()


def pop_login(port):
    p = Pop(port)
    p.line()
    p.cmd("USER p@bench.test")
    p.cmd("PASS " + PASSWORD)
    return p


def pop_logins(sysm, n):
    t0 = time.time()
    for _ in range(n):
        p = pop_login(sysm.pop_port)
        p.cmd("QUIT")
        p.close()
    return {"logins": n / (time.time() - t0)}


def pop_retr(sysm):
    p = pop_login(sysm.pop_port)
    stat = p.cmd("STAT").split()
    count = int(stat[1])
    if count < POP_MSGS:
        log("%s: the POP3 mailbox holds %d messages, not %d" % (sysm.name, count, POP_MSGS))
        return None
    nbytes = 0
    each = []
    t0 = time.time()
    for i in range(1, count + 1):
        t = time.time()
        p.s.sendall(b"RETR %d\r\n" % i)
        p.line()
        nbytes += len(p.multi())
        each.append(time.time() - t)
    dt = time.time() - t0
    p.cmd("QUIT")
    p.close()
    return {"retr_mbs": nbytes / dt / 1e6, "retr_ms": 1000 * statistics.median(each),
            "retr_max_ms": 1000 * max(each)}


def fill_popbox(sysm, uid, gid):
    """POP_MSGS messages of MSG_SIZE in new/, the same bytes for both."""
    line = b"y" * 78 + b"\n"
    for i in range(POP_MSGS):
        name = "%d.M%dP%d.bench" % (1700000000 + i, i, os.getpid())
        path = os.path.join(sysm.popdir, "new", name)
        with open(path, "wb") as f:
            f.write(b"From: bench@client.test\nTo: p@bench.test\nSubject: message %d\n\n" % i +
                    line * (MSG_SIZE // len(line)))
        if uid is not None:
            os.chown(path, uid, gid)


def idle_memory(port, roots, n, greeting=True):
    """PSS and RSS added by n idle connections (after the greeting), per connection."""
    time.sleep(0.5)
    base, _ = mem_tree(roots)
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        if greeting:
            s.recv(1024)
        socks.append(s)
    time.sleep(1.0)
    load, _ = mem_tree(roots)
    for s in socks:
        s.close()
    return {"rss_kib": (load[0] - base[0]) / n, "pss_kib": (load[1] - base[1]) / n}


def disk(writers):
    d = os.path.join(DIR, "disk")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    out = run([os.path.join(DIR, "fsyncbench"), d, str(writers), str(DISK_SECS)])
    shutil.rmtree(d, ignore_errors=True)
    return float(out.split()[1])


# ---------------------------------------------------------------- report

def med(results, key):
    vals = [r[key] for r in results if r and key in r]
    return statistics.median(vals) if vals else None


def machine():
    def first(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, shell=False).stdout.strip()
        except OSError:
            return ""
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    dev = first(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "-T", DIR])
    src = dev.split()[0] if dev else ""
    rota = ""
    name = os.path.basename(src)
    for cand in (name, name.rstrip("0123456789")):
        p = "/sys/block/%s/queue/rotational" % cand
        if os.path.exists(p):
            with open(p) as f:
                rota = "rotational" if f.read().strip() == "1" else "non-rotational"
            break
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "mem_gib": round(mem_kib / 1048576, 1),
        "kernel": platform.release(), "disk": (dev + " " + rota).strip(),
        "os": first(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "postfix": first(["postconf", "-d", "-h", "mail_version"]),
        "dovecot": first(["dovecot", "--version"]),
        "commit": first(["git", "-C", SRC, "rev-parse", "--short", "HEAD"]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main():
    os.makedirs(DIR, exist_ok=True)
    nobody = pwd.getpwnam("nobody")
    uid, gid = nobody.pw_uid, grp.getgrnam("nogroup").gr_gid if _has_group("nogroup") else nobody.pw_gid
    info = machine()
    log("machine:", json.dumps(info))
    loads = [os.getloadavg()[0]]

    sink_port = free_port()
    start("smtp-sink", ["smtp-sink", "-u", "nobody", "-c", "127.0.0.1:%d" % sink_port, "256"],
          stdout=open(os.path.join(DIR, "sink.out"), "ab"), stderr=subprocess.STDOUT)
    wait_port(sink_port)
    lan, peer = Lanmail(), Peer()
    lan.setup(sink_port, uid, gid)
    peer.setup(sink_port, uid, gid)
    fill_popbox(lan, None, None)
    fill_popbox(peer, uid, gid)
    systems = (lan, peer)
    R = {s.name: {} for s in systems}
    R["disk"] = {}

    def add(sysname, key, val):
        R[sysname].setdefault(key, []).append(val)

    # memory first, freshly started: the long-running processes at rest, then
    # what each idle connection adds (before any mail left idle workers around)
    time.sleep(1.0)
    longrun, mems = {}, {}
    for s in systems:
        _, longrun[s.name] = mem_tree(s.roots() + s.pop_roots())
    for s in systems:
        mems[s.name] = {
            "smtp": idle_memory(s.smtp_port, s.roots(), IDLE_CONNS),
            "pop3": idle_memory(s.pop_port, s.pop_roots(), IDLE_CONNS),
        }
    t_start = time.time()
    # warm up: a few messages and a POP3 session each, not measured
    for s in systems:
        accept_run(s, 2, 20)
        pop_login(s.pop_port).close()
        pop_retr(s)
    for rnd in range(ROUNDS):
        order = systems if rnd % 2 == 0 else systems[::-1]
        log("round %d of %d (load average %.2f)" % (rnd + 1, ROUNDS, os.getloadavg()[0]))
        loads.append(os.getloadavg()[0])
        for c in CONCS:
            for s in order:
                r = accept_run(s, c, ACCEPT_N)
                add(s.name, "accept c%d" % c, r)
                log("  %-7s accept c=%-2d %s" % (s.name, c, _short(r)))
        for c in CONCS:
            for s in order:
                r = latency_run(s, c, LAT_N)
                add(s.name, "latency c%d" % c, r)
                log("  %-7s latency c=%-2d %s" % (s.name, c, _short(r)))
        for rc in (1, 10):
            for s in order:
                r = relay_run(s, rc, RELAY_N)
                add(s.name, "relay r%d" % rc, r)
                log("  %-7s relay %2d rcpt %s" % (s.name, rc, _short(r)))
        for s in order:
            r = pop_logins(s, POP_LOGINS)
            r.update(pop_retr(s) or {})
            add(s.name, "pop3", r)
            log("  %-7s pop3 %s" % (s.name, _short(r)))
        for w in WRITERS:
            v = disk(w)
            add("disk", "w%d" % w, {"creates": v})
            log("  disk %d writers: %.0f creates/s" % (w, v))
    longrun_after = {}
    for s in systems:
        tot, _ = mem_tree(s.roots() + s.pop_roots())
        longrun_after[s.name] = tot
    sizes = []
    bindir = os.path.join(LHOME, "bin")
    for b in sorted(os.listdir(bindir)):
        p = os.path.join(bindir, b)
        st = subprocess.run(["strip", "-o", os.path.join(DIR, "stripped"), p], capture_output=True)
        ssize = os.path.getsize(os.path.join(DIR, "stripped")) if st.returncode == 0 else None
        kind = subprocess.run(["file", "-b", p], capture_output=True, text=True).stdout
        sizes.append((b, os.path.getsize(p), ssize, "static" in kind))
    info["seconds"] = round(time.time() - t_start)
    info["load"] = loads
    data = {"machine": info, "results": R, "memory": mems, "longrun": longrun,
            "longrun_after": longrun_after, "sizes": sizes,
            "settings": {"ROUNDS": ROUNDS, "ACCEPT_N": ACCEPT_N, "CONCS": CONCS, "MSG_SIZE": MSG_SIZE,
                         "LAT_N": LAT_N, "RELAY_N": RELAY_N, "RELAY_C": RELAY_C,
                         "POP_LOGINS": POP_LOGINS, "POP_MSGS": POP_MSGS, "IDLE_CONNS": IDLE_CONNS,
                         "DISK_SECS": DISK_SECS, "WRITERS": WRITERS}}
    with open(os.path.join(DIR, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
    log("results in %s" % os.path.join(DIR, "results.json"))


def _has_group(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _short(r):
    if not r:
        return "FAILED"
    return " ".join("%s=%.1f" % (k, v) for k, v in r.items() if isinstance(v, float))


def _signalled(sig, _frame):
    raise SystemExit(128 + sig)


if __name__ == "__main__":
    for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(_s, _signalled)
    try:
        main()
    finally:
        stop_all()
