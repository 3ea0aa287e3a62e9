#!/usr/bin/python3
"""multiuser.t - a root install with the real service users, end to end.

Every other test runs a single-user copy; this one builds and installs a
second copy with the default conf-users (install.sh creates the users and
groups that are missing, and they stay: a later install reuses them) into
a scratch conf-home, and runs it the way an administrator does:
  - owners and modes of the installed tree (bin/qmail-queue setuid qmailq,
    the queue directories of lanmail-queue(5));
  - qmail-start as root: qmail-send as qmails, qmail-lspawn root,
    qmail-rspawn qmailr, qmail-clean qmailq (/proc/PID/status);
  - qmail-smtpd under tcpserver -u qmaild -g nofiles, to a virtual
    mailbox made with qmail-admin, to a throwaway system user and to
    root and postmaster (the alias user): the Maildir files belong to
    vmail, the user and alias, never to root;
  - POP3: qmail-popup as root, qmail-auth, qmail-pop3d as vmail;
  - submission with AUTH under tcpserver -u qmaild (qmail-auth checks
    the password without root) to a remote domain that control/smtproutes
    sends to an aiosmtpd sink, reached by qmail-remote as qmailr; a
    failed login counted by qmail-auth as qmaild in the users/authfail/
    files qmail-auth as root made for a failed POP3 login;
  - an ordinary user injects with the setuid bin/qmail-queue; the bounce
    for a missing mailbox is queued by qmail-send as qmails; a |program
    and a &forward run under the user's uid, a virtual alias forwards
    as vmail, an alias from qmail-newaliases as alias;
  - queue leftovers older than 36 hours are swept through qmail-clean;
  - users/assign naming uid 0 is deferred by qmail-lspawn, not delivered;
  - qmail-admin backup, and restore of it as if made on a machine where
    each lanmail user and group has another number: control/ (the DKIM
    key's group) gets this machine's numbers, alias/ the alias user,
    domains/ vmail;
  - make -j start under umask 077 (supervise, multilog as qmaill, the
    supervised services deliver), mkrules by hand, make stop.
The install itself runs under umask 077 too.  Skipped unless run as
root.  LANMAIL_MU_CC and LANMAIL_MU_LD, when set, build the copy with
another compiler (the static musl build make start installs:
"musl-gcc -static -O2 ..." and "musl-gcc -static").  Everything it makes
(processes, the scratch home, the build, the throwaway user) is removed
at the end; the service users stay, for install.sh reuses them.
"""
import atexit
import email
import os
import poplib
import pwd
import grp
import shutil
import signal
import smtplib
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402

if os.geteuid() != 0:
    t.skip_all("a multi-user install needs root (run make check as root)")
for tool in ("tcpserver", "useradd", "userdel", "make", "cc"):
    if not shutil.which(tool):
        t.skip_all("%s is not installed" % tool)
try:
    from aiosmtpd.controller import Controller
except ImportError:
    t.skip_all("python3-aiosmtpd is not installed")

SRC = t.SRC
USERS = []
for line in open(os.path.join(SRC, "conf-users")):
    if not line.strip():
        break
    USERS.append(line.strip())
if len(USERS) != 9:
    t.skip_all("conf-users does not name 7 users and 2 groups")
QMAILD, QMAILL, QMAILQ, QMAILR, QMAILS, ALIAS, VMAIL, GQMAIL, GNOFILES = USERS
PASSWORD = "Multi-User-Pass-8642"
VD = "vd.mu.test"
ME = "mu.test"
REMOTE = "far.mu.test"


traversable = t.traversable


# the build in $TMPDIR; the install where the service users can reach it
tmp = tempfile.gettempdir()
BUILDDIR = tempfile.mkdtemp(prefix="lanmail-mu-build.", dir=tmp)
if traversable(tmp):
    BASE = tempfile.mkdtemp(prefix="lanmail-mu.", dir=tmp)
else:
    BASE = "/var/tmp/lanmail-mu-%d" % os.getpid()
    os.mkdir(BASE)
os.chmod(BASE, 0o755)
HOME = os.path.join(BASE, "srv", "home")	# install.sh makes srv/ too
BIN = os.path.join(HOME, "bin")
SYSU = "lanmailmu%d" % (os.getpid() % 100000)
SYSHOME = os.path.join(BASE, "sys", SYSU)
procs = []
made_user = [False]
started = [False]	# make start ran


def cleanup():
    if started[0]:
        make("stop")
        started[0] = False
    for p in reversed(procs):
        try:
            t.stop(p)
        except Exception:
            pass
    if made_user[0]:
        subprocess.run(["userdel", SYSU], capture_output=True)
        try:
            grp.getgrnam(SYSU)
            subprocess.run(["groupdel", SYSU], capture_output=True)
        except KeyError:
            pass
        made_user[0] = False
    shutil.rmtree(BASE, ignore_errors=True)
    shutil.rmtree(BUILDDIR, ignore_errors=True)


atexit.register(cleanup)


def ids(name):
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


# LANMAIL_MU_CC and LANMAIL_MU_LD (e.g. "musl-gcc -static ..."): build the
# copy with them instead of conf-cc and conf-ld, as make start does
CC = []
if os.environ.get("LANMAIL_MU_CC"):
    CC = ["CONF_CC=" + os.environ["LANMAIL_MU_CC"], "CONF_LD=" + os.environ.get("LANMAIL_MU_LD", "")]


def make(*targets, umask=None, timeout=300):
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS"):
        env.pop(k, None)
    argv = ["make", "-s", "-C", SRC, "-j%d" % min(8, os.cpu_count() or 2), "B=" + BUILDDIR,
            "HOME_DIR=" + HOME, "USERS=" + " ".join(USERS)] + CC + list(targets)
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                              preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    except subprocess.TimeoutExpired as e:
        out = lambda b: b.decode(errors="replace") if isinstance(b, bytes) else (b or "")
        return subprocess.CompletedProcess(argv, -1, out(e.stdout),
                                           out(e.stderr) + "\nmake did not end in %d seconds" % timeout)


def status_ids(pid):
    """(real uid, effective uid, real gid) of a process, from /proc"""
    u = g = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                u = [int(x) for x in line.split()[1:]]
            elif line.startswith("Gid:"):
                g = [int(x) for x in line.split()[1:]]
    return u[0], u[1], g[0]


def children(pid):
    """every process whose parent is pid, as (pid, comm)"""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        if ppid == pid:
            out.append((int(d), comm))
    return out


def descendants(pid):
    out = []
    todo = [pid]
    while todo:
        for c in children(todo.pop()):
            out.append(c)
            todo.append(c[0])
    return out


def procs_named(comm, needle):
    """pids of the processes called comm whose command line holds needle;
    one that ends while /proc is read is passed over"""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                if f.read().strip() != comm:
                    continue
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if needle.encode() in f.read():
                    out.append(int(d))
        except OSError:
            continue
    return out


def mailfiles(maildir):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        if os.path.isdir(d):
            out += [os.path.join(d, n) for n in sorted(os.listdir(d)) if not n.startswith(".")]
    return out


def wait_mail(maildir, n, timeout=15):
    t.wait_until(lambda: len(mailfiles(maildir)) >= n, timeout)
    return mailfiles(maildir)


def queue_left():
    out = []
    for sub in ("pid", "mess", "intd", "todo", "info", "local", "remote", "bounce"):
        for root, _d, files in os.walk(os.path.join(HOME, "queue", sub)):
            out += [os.path.join(root, f) for f in files]
    return out


def wait_queue_empty(timeout=15):
    t.wait_until(lambda: not queue_left(), timeout)
    return queue_left()


def as_user(name):
    uid, gid = ids(name)

    def drop():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return drop


def admin(*args, stdin=None):
    return subprocess.run([os.path.join(BIN, "qmail-admin")] + list(args), input=stdin,
                          capture_output=True, text=True, timeout=60)


def tcpserver(argv, env=None, user=None):
    """argv under tcpserver on 127.0.0.1 (as user, when given); its log
    goes to BASE/tcpserver.log, not into the TAP output"""
    port = t.free_port()
    extra = []
    if user:
        extra = ["-u", str(ids(user)[0]), "-g", str(grp.getgrnam(GNOFILES).gr_gid)]
    e = t.environ(env)
    p = t.start(["tcpserver", "-R", "-H", "-l", "localhost"] + extra + ["127.0.0.1", str(port)] + argv,
                env=e, stdout=subprocess.DEVNULL, stderr=tcplog)
    procs.append(p)
    if not t.wait_port(port):
        t.diag("tcpserver did not start on port %d" % port)
    return p, port


def ctl(name, value):
    t.write(os.path.join(HOME, "control", name), value)


class Sink:
    """the remote domain's server: records each message and the uid that
    owns the client's socket (from /proc/net/tcp)"""

    def __init__(self):
        self.mails = []
        self.port = None

    def sock_uid(self, peer):
        ip, port = peer[0], peer[1]
        want_local = "0100007F:%04X" % port
        want_remote = "0100007F:%04X" % self.port
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                x = line.split()
                if x[1] == want_local and x[2] == want_remote:
                    return int(x[7])
        return None

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                           self.sock_uid(session.peer)))
        return "250 2.0.0 ok: queued"


try:
    # 1. build and install, twice (the second reuses users and files)
    # the objects of the check build, when there is one, save compiling
    if t.BUILD and os.path.isdir(t.BUILD) and not CC:
        for sub in ("", "lib"):
            src = os.path.join(t.BUILD, sub)
            os.makedirs(os.path.join(BUILDDIR, sub), exist_ok=True)
            for n in os.listdir(src):
                if n.endswith(".o") and n != "auto.o":
                    shutil.copy2(os.path.join(src, n), os.path.join(BUILDDIR, sub, n))
    r = make("all")
    if r.returncode != 0:
        t.diag("build with the check build's objects failed; again from scratch")
        shutil.rmtree(BUILDDIR, ignore_errors=True)
        os.mkdir(BUILDDIR)
        r = make("all")
    if r.returncode != 0:
        t.diag(r.stdout + r.stderr)
        t.ok(False, "make all with the default conf-users")
        t.done()
    # an administrator's umask 077 must not matter
    r = make("install", umask=0o077)
    t.is_(r.returncode, 0, "make install as root with the default conf-users, umask 077")
    if r.returncode:
        t.diag(r.stdout + r.stderr)
        t.done()
    t.is_(stat.S_IMODE(os.stat(os.path.dirname(HOME)).st_mode), 0o755,
          "a parent of conf-home that install made can be entered by the service users")
    r = make("install", umask=0o077)
    t.is_(r.returncode, 0, "make install again: users, groups and files reused")
    for u in USERS[:7]:
        pwd.getpwnam(u)
    for g in USERS[7:]:
        grp.getgrnam(g)
    t.ok(True, "the users and groups of conf-users exist")

    # 2. owners and modes
    uid = {u: ids(u)[0] for u in USERS[:7]}
    uid["root"] = 0
    gid = {g: grp.getgrnam(g).gr_gid for g in USERS[7:]}
    want = {
        ".": ("root", GQMAIL, 0o755), "bin": ("root", GQMAIL, 0o755),
        "control": ("root", GQMAIL, 0o755), "users": ("root", GQMAIL, 0o755),
        "alias": (ALIAS, GQMAIL, 0o2755), "domains": (VMAIL, GNOFILES, 0o750),
        "users/authfail": (VMAIL, GNOFILES, 0o2770),
        "bin/qmail-queue": (QMAILQ, GQMAIL, 0o4711), "bin/qmail-smtpd": ("root", GQMAIL, 0o755),
        "bin/qmail-lspawn": ("root", GQMAIL, 0o700), "bin/qmail-start": ("root", GQMAIL, 0o700),
        "bin/qmail-admin": ("root", GQMAIL, 0o700), "bin/qmail-newu": ("root", GQMAIL, 0o700),
        "bin/qmail-send": ("root", GQMAIL, 0o755), "bin/qmail-auth": ("root", GQMAIL, 0o755),
        "queue": (QMAILQ, GQMAIL, 0o750), "queue/lock": (QMAILQ, GQMAIL, 0o750),
        "queue/mess": (QMAILQ, GQMAIL, 0o750), "queue/todo": (QMAILQ, GQMAIL, 0o750),
        "queue/pid": (QMAILQ, GQMAIL, 0o700), "queue/intd": (QMAILQ, GQMAIL, 0o700),
        "queue/info": (QMAILS, GQMAIL, 0o700), "queue/local": (QMAILS, GQMAIL, 0o700),
        "queue/remote": (QMAILS, GQMAIL, 0o700), "queue/bounce": (QMAILS, GQMAIL, 0o700),
        "queue/lock/trigger": (QMAILS, GQMAIL, 0o622), "queue/lock/sendmutex": (QMAILS, GQMAIL, 0o600),
    }
    split = int(open(os.path.join(SRC, "conf-split")).readline())
    for x in ("mess", "todo", "intd", "info", "local", "remote"):
        for i in (0, split - 1):
            want["queue/%s/%d" % (x, i)] = want["queue/" + x]
    bad = []
    for path, (u, g, mode) in sorted(want.items()):
        try:
            st = os.lstat(os.path.join(HOME, path))
        except OSError as e:
            bad.append("%s: %s" % (path, e))
            continue
        got = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))
        if got != (uid[u], gid[g], mode):
            bad.append("%s: %d:%d %o, want %s:%s %o" % (path, got[0], got[1], got[2], u, g, mode))
    t.ok(not bad, "owners and modes of the installed tree (%d paths)" % len(want))
    for b in bad:
        t.diag(b)
    t.ok(stat.S_ISFIFO(os.lstat(os.path.join(HOME, "queue/lock/trigger")).st_mode), "queue/lock/trigger is a fifo")

    # 3. configuration: a virtual domain with a mailbox, the alias user,
    # a throwaway system user, a route for the remote domain
    tcplog = open(os.path.join(BASE, "tcpserver.log"), "w")
    sink = Sink()
    sink.port = t.free_port()
    ctrl = Controller(sink, hostname="127.0.0.1", port=sink.port, server_hostname="rx.mu.test")
    ctrl.start()
    atexit.register(ctrl.stop)
    ctl("me", ME + "\n")
    ctl("locals", ME + "\nlocalhost\n")
    ctl("rcpthosts", ME + "\nlocalhost\n")
    ctl("smtproutes", "%s:[127.0.0.1]:%d\n" % (REMOTE, sink.port))
    r = admin("domain", "add", VD)
    t.is_(r.returncode, 0, "qmail-admin domain add " + VD)
    r = admin("user", "add", "alice@" + VD, "--stdin", stdin=PASSWORD + "\n")
    t.is_(r.returncode, 0, "qmail-admin user add alice@" + VD)
    if r.returncode:
        t.diag(r.stderr)
    alice_md = os.path.join(HOME, "domains", VD, "alice", "Maildir")
    st = os.stat(alice_md)
    t.is_((st.st_uid, st.st_gid), ids(VMAIL), "the mailbox belongs to vmail and its group")

    os.makedirs(os.path.dirname(SYSHOME), mode=0o755)
    r = subprocess.run(["useradd", "-M", "-U", "-d", SYSHOME, "-s", "/usr/sbin/nologin", SYSU],
                       capture_output=True, text=True)
    made_user[0] = r.returncode == 0
    if not t.ok(r.returncode == 0, "useradd " + SYSU):
        t.diag(r.stderr)
        t.done()
    su, sg = ids(SYSU)
    os.mkdir(SYSHOME, 0o700)
    os.chown(SYSHOME, su, sg)
    sys_md = os.path.join(SYSHOME, "Maildir")
    subprocess.run([os.path.join(BIN, "maildirmake"), sys_md], preexec_fn=as_user(SYSU), check=True)
    alias_md = os.path.join(HOME, "alias", "Maildir")
    if not os.path.isdir(alias_md):     # make install makes it nowadays
        subprocess.run([os.path.join(BIN, "maildirmake"), alias_md], preexec_fn=as_user(ALIAS), check=True)
    for n in ("root", "postmaster"):
        p = os.path.join(HOME, "alias", ".qmail-" + n)
        t.write(p, "./Maildir/\n")
        os.chown(p, uid[ALIAS], -1)

    # leftovers of a qmail-queue that never committed: qmail-send (qmails)
    # cannot unlink in pid/, intd/ or mess/ (qmailq's), qmail-clean does
    q = os.path.join(HOME, "queue")
    old_id, young_id = split * 7001 + 1, split * 7002 + 2
    leftovers = ["pid/4242424", "intd/%d/%d" % (old_id % split, old_id), "mess/%d/%d" % (old_id % split, old_id)]
    young = os.path.join(q, "mess/%d/%d" % (young_id % split, young_id))
    for f in leftovers + [young]:
        fp = f if f == young else os.path.join(q, f)
        t.write(fp, "leftover\n")
        os.chown(fp, uid[QMAILQ], gid[GQMAIL])
        if fp != young:
            os.utime(fp, (time.time() - 40 * 3600, time.time() - 40 * 3600))

    # 4. qmail-start as root: each program under its own uid
    sendlog = open(os.path.join(BASE, "send.log"), "w+")
    start = t.start([os.path.join(BIN, "qmail-start"), "./Maildir/"], cwd=HOME,
                    stdout=sendlog, stderr=subprocess.STDOUT)
    procs.append(start)
    helpers = {}
    end = time.time() + 30
    while time.time() < end and len(helpers) < 4:
        helpers = {c: p for p, c in children(start.pid)}
        time.sleep(0.05)
    expect = {"qmail-send": QMAILS, "qmail-lspawn": "root", "qmail-rspawn": QMAILR, "qmail-clean": QMAILQ}
    for prog, user in expect.items():
        if prog not in helpers:
            t.ok(False, "%s runs as %s" % (prog, user))
            continue
        ru, eu, rg = status_ids(helpers[prog])
        t.ok(ru == eu == uid[user] and rg == gid[GQMAIL],
             "%s runs as %s (uid %d/%d gid %d)" % (prog, user, ru, eu, rg))

    t.wait_until(lambda: not any(os.path.exists(os.path.join(q, f)) for f in leftovers))
    t.is_([f for f in leftovers if os.path.exists(os.path.join(q, f))], [],
          "leftovers older than 36 hours swept (qmail-send asks qmail-clean)")
    t.ok(os.path.exists(young), "a young leftover stays (a qmail-queue may be writing it)")
    os.unlink(young)

    # 5. SMTP under tcpserver as qmaild: virtual, system, alias recipients
    _p, sport = tcpserver([os.path.join(BIN, "qmail-smtpd")], user=QMAILD)
    s = smtplib.SMTP("127.0.0.1", sport, timeout=20)
    rcpts = ["alice@" + VD, SYSU + "@" + ME, "root@" + ME, "postmaster@" + ME]
    refused = {}
    for rc in rcpts:
        refused.update(s.sendmail("sender@outside.example", [rc],
                                  "From: sender@outside.example\nTo: %s\nSubject: mu %s\n\nhello %s\n" % (rc, rc, rc)))
    s.quit()
    t.is_(refused, {}, "qmail-smtpd (as qmaild) accepted 4 messages")
    got_alice = wait_mail(alice_md, 1)
    got_sys = wait_mail(sys_md, 1)
    got_alias = wait_mail(alias_md, 2)
    owners = [(p, os.stat(p).st_uid) for p in got_alice + got_sys + got_alias]
    t.ok(len(got_alice) == 1 and all(os.stat(p).st_uid == uid[VMAIL] for p in got_alice),
         "virtual mailbox: delivered, file owned by vmail")
    t.ok(len(got_sys) == 1 and all(os.stat(p).st_uid == su and os.stat(p).st_gid == sg for p in got_sys),
         "system user: delivered, file owned by %s" % SYSU)
    t.ok(len(got_alias) == 2 and all(os.stat(p).st_uid == uid[ALIAS] for p in got_alias),
         "root and postmaster: delivered to the alias user's Maildir, owned by alias")
    t.ok(owners and all(o != 0 for _p2, o in owners), "no delivered file belongs to root")
    for p, o in owners:
        if o == 0:
            t.diag("owned by root: " + p)
    if got_alice:
        m = email.message_from_bytes(open(got_alice[0], "rb").read())
        recv = " ".join(m.get_all("Received") or [])
        t.ok("invoked from network by uid %d" % uid[QMAILD] in recv,
             "qmail-queue names qmaild's uid in its Received line")
        t.is_(m["Delivered-To"], "%s-alice@%s" % (VD, VD), "Delivered-To of the virtual mailbox")
    else:
        t.ok(False, "qmail-queue names qmaild's uid in its Received line")
        t.ok(False, "Delivered-To of the virtual mailbox")
    t.is_(wait_queue_empty(), [], "the queue is empty again (qmail-clean as qmailq)")

    # 6. POP3: qmail-popup as root, qmail-auth, qmail-pop3d as vmail
    # (qmail-auth's failed-login count on: lanmail.py turns it off)
    pp, pport = tcpserver([os.path.join(BIN, "qmail-popup"), ME, os.path.join(BIN, "qmail-auth"),
                           os.path.join(BIN, "qmail-pop3d"), "Maildir"], env={"AUTHLIMITOFF": None})
    pop = poplib.POP3("127.0.0.1", pport, timeout=20)
    pop.user("alice@" + VD)
    resp = pop.pass_(PASSWORD)
    t.ok(resp.startswith(b"+OK"), "POP3 login of alice@%s" % VD)
    pd = [pid for pid, c in descendants(pp.pid) if c == "qmail-pop3d"]
    if pd:
        ru, eu, rg = status_ids(pd[0])
        t.ok(ru == eu == uid[VMAIL] and rg == ids(VMAIL)[1],
             "qmail-pop3d runs as vmail (uid %d/%d gid %d)" % (ru, eu, rg))
    else:
        t.ok(False, "qmail-pop3d runs as vmail")
    n, _size = pop.stat()
    body = b"\n".join(pop.retr(1)[1]) if n else b""
    t.ok(n == 1 and b"hello alice@" + VD.encode() in body, "POP3 RETR returns the message")
    pop.quit()
    cur = os.listdir(os.path.join(alice_md, "cur"))
    t.ok(len(cur) == 1 and os.stat(os.path.join(alice_md, "cur", cur[0])).st_uid == uid[VMAIL],
         "the message moved to cur/, still vmail's")
    pop = poplib.POP3("127.0.0.1", pport, timeout=20)
    pop.user("alice@" + VD)
    pop.pass_(PASSWORD)
    pop.dele(1)
    pop.quit()
    t.is_(mailfiles(alice_md), [], "POP3 DELE and QUIT remove it (qmail-pop3d as vmail)")
    pop = poplib.POP3("127.0.0.1", pport, timeout=20)
    pop.user("alice@" + VD)
    try:
        pop.pass_("wrong-" + PASSWORD)
        t.ok(False, "POP3 refuses a wrong password")
    except poplib.error_proto:
        t.ok(True, "POP3 refuses a wrong password")
    try:
        pop.quit()
    except Exception:
        pass

    # 7. submission: AUTH checked by qmail-auth without root, relayed to
    # the remote domain by qmail-remote as qmailr
    # as service/submission/run does it: with a DKIM key, qmail-dkim
    # (run by qmail-smtpd as qmaild) signs on the way to the queue
    env = {"SUBMISSION": "1", "AUTHLIMITOFF": None}
    r = subprocess.run([os.path.join(BIN, "qmail-dkimkey"), VD, "mu"], capture_output=True, text=True)
    dkim = r.returncode == 0
    if dkim:
        env["QMAILQUEUE"] = os.path.join(BIN, "qmail-dkim")
    else:
        t.diag("qmail-dkimkey: %d %s" % (r.returncode, r.stderr))
    _p, subport = tcpserver([os.path.join(BIN, "qmail-smtpd"), os.path.join(BIN, "qmail-auth"), "true"],
                            env=env, user=QMAILD)
    s = smtplib.SMTP("127.0.0.1", subport, timeout=20)
    s.ehlo("client.mu.test")
    try:
        s.login("alice@" + VD, "wrong-" + PASSWORD)
        t.ok(False, "submission refuses a wrong password")
    except smtplib.SMTPAuthenticationError as e:
        t.is_(e.smtp_code, 535, "submission refuses a wrong password")
    s.quit()
    s = smtplib.SMTP("127.0.0.1", subport, timeout=20)
    s.ehlo("client.mu.test")
    try:
        code, _m = s.login("alice@" + VD, PASSWORD)
    except smtplib.SMTPException as e:
        t.diag("AUTH: %r" % (e,))
        code = None
    t.is_(code, 235, "submission AUTH as alice@%s under qmaild" % VD)
    # the failed-login counts: the POP3 failure counted, then the
    # submission ones (smtplib tries PLAIN, then LOGIN) by qmaild in the
    # same files, through their group
    af = os.path.join(HOME, "users", "authfail")
    try:
        counts = open(os.path.join(af, "counts")).read()
        modes = [(os.stat(os.path.join(af, f)).st_gid, stat.S_IMODE(os.stat(os.path.join(af, f)).st_mode))
                 for f in ("counts", "lock")]
    except OSError as e:
        counts, modes = str(e), []
    if not t.ok(counts.startswith("3 ") and counts.endswith(" a:127.0.0.1\n") and
                modes == [(gid[GNOFILES], 0o660)] * 2,
                "qmail-auth counted the failures from 127.0.0.1, as root (POP3) and as qmaild, "
                "in users/authfail/ (group %s, mode 660)" % GNOFILES):
        t.diag("counts %r, (gid, mode) of counts and lock %r" % (counts, modes))
    refused = None
    try:
        refused = s.sendmail("alice@" + VD, ["bob@" + REMOTE],
                             "From: alice@%s\nTo: bob@%s\nSubject: out\n\nto the far side\n" % (VD, REMOTE))
    except smtplib.SMTPException as e:
        t.diag("sendmail: %r" % (e,))
    s.quit()
    t.is_(refused, {}, "submission relays to %s after AUTH" % REMOTE)
    end = time.time() + 15
    while time.time() < end and not sink.mails:
        time.sleep(0.05)
    if sink.mails:
        frm, to, data, suid = sink.mails[0]
        t.is_((frm, to), ("alice@" + VD, ["bob@" + REMOTE]), "the sink got the message, envelope intact")
        t.ok(b"to the far side" in data, "the sink got the body")
        t.is_(suid, uid[QMAILR], "qmail-remote's socket belongs to qmailr")
        t.ok(dkim and b"DKIM-Signature:" in data and b"d=" + VD.encode() in data,
             "qmail-dkim under qmaild read the key (group %s) and signed" % GNOFILES)
    else:
        t.ok(False, "the sink got the message")
        t.skip("no message", 3)
    t.is_(wait_queue_empty(), [], "the queue is empty after the remote delivery")

    # 8. an ordinary user injects through the setuid qmail-queue; a
    # missing mailbox bounces back, queued by qmail-send as qmails
    def inject(user, sender, rcpts, msg):
        r, w = os.pipe()
        env = b"F" + sender.encode() + b"\0" + b"".join(b"T" + x.encode() + b"\0" for x in rcpts) + b"\0"
        os.write(w, env)
        os.close(w)
        p = subprocess.run([os.path.join(BIN, "qmail-queue")], input=msg.encode(), stdout=r,
                           stderr=subprocess.PIPE, preexec_fn=as_user(user), cwd="/", timeout=30)
        os.close(r)
        if p.returncode:
            t.diag("qmail-queue: %d %s" % (p.returncode, p.stderr.decode(errors="replace")))
        return p.returncode
    n_sys = len(mailfiles(sys_md))
    t.is_(inject(SYSU, SYSU + "@" + ME, ["root@" + ME],
                 "From: %s@%s\nSubject: injected\n\nfrom a user\n" % (SYSU, ME)), 0,
          "%s (uid %d) queues a message with bin/qmail-queue" % (SYSU, su))
    got_alias = wait_mail(alias_md, 3)
    inj = [p for p in got_alias if b"from a user" in open(p, "rb").read()]
    t.ok(len(inj) == 1 and b"invoked by uid %d" % su in open(inj[0], "rb").read(),
         "delivered, qmail-queue's Received line names the user's uid")
    # the same user through sendmail: a bare name completed with control/me
    r = subprocess.run([os.path.join(BIN, "sendmail"), "-t"], input=b"To: root\nSubject: by sendmail\n\nvia sendmail\n",
                       capture_output=True, preexec_fn=as_user(SYSU), cwd="/", timeout=30,
                       env={"PATH": "/usr/bin:/bin", "USER": SYSU})
    t.is_((r.returncode, r.stderr), (0, b""), "%s sends with bin/sendmail -t" % SYSU)
    got_alias = wait_mail(alias_md, 4)
    inj = [open(p, "rb").read() for p in got_alias if b"via sendmail" in open(p, "rb").read()]
    t.ok(len(inj) == 1 and b"invoked by uid %d" % su in inj[0] and
         ("From: %s@%s\n" % (SYSU, ME)).encode() in inj[0] and b"Message-ID: <" in inj[0],
         "delivered to root@%s with From, Message-ID and the user's uid" % ME)
    # and through sendmail -bs: qmail-smtpd as that user checks what it
    # can read: a virtual domain's own files are closed to it, so an
    # address it cannot find is "try later", never "no such user"
    dialogue = ("HELO local\r\nMAIL FROM:<%s@%s>\r\nRCPT TO:<nobody-here@%s>\r\nRCPT TO:<root@%s>\r\n"
                "RCPT TO:<alice@%s>\r\nDATA\r\nSubject: by bs\r\n\r\nvia bs\r\n.\r\nQUIT\r\n"
                % (SYSU, ME, VD, ME, VD))
    r = subprocess.run([os.path.join(BIN, "sendmail"), "-bs"], input=dialogue.encode(), capture_output=True,
                       preexec_fn=as_user(SYSU), cwd="/", timeout=30, env={"PATH": "/usr/bin:/bin"})
    codes = [l[:3] for l in r.stdout.decode(errors="replace").split("\r\n") if l[3:4] == " "]
    t.is_(codes, ["220", "250", "250", "451", "250", "250", "354", "250", "221"],
          "sendmail -bs as %s: root and a virtual mailbox taken, an unknown one deferred" % SYSU)
    got_alias = wait_mail(alias_md, 5)
    t.ok(any(b"via bs" in open(p, "rb").read() for p in got_alias), "and delivered")
    t.is_(inject(SYSU, SYSU + "@" + ME, ["nobody-here@" + VD],
                 "From: %s@%s\nSubject: to nobody\n\nlost\n" % (SYSU, ME)), 0,
          "a message for a missing mailbox is queued")
    got_sys = wait_mail(sys_md, n_sys + 1)
    bounce = [p for p in got_sys if b"nobody-here@" + VD.encode() in open(p, "rb").read()]
    if bounce:
        data = open(bounce[0], "rb").read()
        m = email.message_from_bytes(data)
        t.ok(m.get_content_type() == "multipart/report", "the bounce is a delivery status notification")
        t.ok(b"invoked for bounce by uid %d" % uid[QMAILS] in data, "the bounce was queued by qmails")
        t.is_(os.stat(bounce[0]).st_uid, su, "the bounce belongs to %s" % SYSU)
    else:
        t.ok(False, "the bounce arrived")
        t.skip("no bounce", 2)
    t.is_(wait_queue_empty(), [], "the queue is empty after the bounce")

    # 8b. the user's own .qmail: a program and a forward run under the
    # user's uid; a virtual alias forwards as vmail
    dq = os.path.join(SYSHOME, ".qmail-prog")
    t.write(dq, "|id -u > \"$HOME/prog.uid\"\n&root@%s\n" % ME)
    os.chown(dq, su, sg)
    r = admin("alias", "add", "info@" + VD, SYSU + "@" + ME)
    t.is_(r.returncode, 0, "qmail-admin alias add info@%s %s@%s" % (VD, SYSU, ME))
    # qmail-newaliases (as root) writes alias .qmail files the alias user reads
    aliases = os.path.join(BASE, "aliases")
    t.write(aliases, "abuse: root\n")
    r = subprocess.run([os.path.join(BIN, "qmail-newaliases"), aliases], capture_output=True, text=True)
    t.is_(r.returncode, 0, "qmail-newaliases")
    n_alias, n_sys = len(mailfiles(alias_md)), len(mailfiles(sys_md))
    t.is_(inject("root", "sender@outside.example", [SYSU + "-prog@" + ME, "info@" + VD, "abuse@" + ME],
                 "Subject: forwards\n\nforward me\n"), 0, "root queues a message too")
    got_alias = wait_mail(alias_md, n_alias + 2)
    got_sys = wait_mail(sys_md, n_sys + 1)
    progout = os.path.join(SYSHOME, "prog.uid")
    end = time.time() + 30
    while time.time() < end and not os.path.exists(progout):
        time.sleep(0.05)
    t.ok(os.path.exists(progout) and open(progout).read().strip() == str(su)
         and os.stat(progout).st_uid == su, "the |program line ran as %s" % SYSU)
    fwd = [open(p, "rb").read() for p in got_alias if b"forward me" in open(p, "rb").read()]
    t.ok(len([m for m in fwd if b"invoked by uid %d" % su in m]) == 1,
         "the &forward was queued by %s's uid" % SYSU)
    t.ok(len([m for m in fwd if b"invoked by uid %d" % uid[ALIAS] in m]) == 1,
         "abuse@ (qmail-newaliases) forwarded to root by the alias user")
    fwd = [p for p in got_sys if b"forward me" in open(p, "rb").read()]
    t.ok(len(fwd) == 1 and b"invoked by uid %d" % uid[VMAIL] in open(fwd[0], "rb").read()
         and os.stat(fwd[0]).st_uid == su, "the virtual alias forwarded as vmail, to %s" % SYSU)
    t.is_(wait_queue_empty(), [], "the queue is empty after the forwards")

    # 9. users/assign naming uid 0: qmail-lspawn defers, never runs as root
    assign = os.path.join(HOME, "users", "assign")
    lines = open(assign).read().splitlines()
    rootbox = os.path.join(BASE, "rootbox")
    os.mkdir(rootbox, 0o755)
    lines.insert(len(lines) - 1, "=rootbox:root:0:0:%s:::" % rootbox)
    t.write(assign, "\n".join(lines) + "\n")
    r = subprocess.run([os.path.join(BIN, "qmail-newu")], capture_output=True, text=True, cwd=HOME)
    t.is_(r.returncode, 0, "qmail-newu with a uid 0 line")
    t.is_(inject(SYSU, SYSU + "@" + ME, ["rootbox@" + ME], "Subject: root\n\nno\n"), 0,
          "a message for the uid 0 assignment is queued")
    end = time.time() + 30
    seen = ""
    while time.time() < end and "refusing to deliver as root" not in seen:
        time.sleep(0.05)
        sendlog.seek(0)
        seen = sendlog.read()
    t.ok("refusing to deliver as root" in seen, "qmail-lspawn defers it: refusing to deliver as root")
    t.is_(os.listdir(rootbox), [], "nothing was written as root")

    # 10. qmail-send ends on SIGTERM, and its helpers with it
    os.kill(start.pid, signal.SIGTERM)
    try:
        start.wait(15)
    except subprocess.TimeoutExpired:
        pass
    t.is_(start.poll(), 0, "qmail-start exits 0 after SIGTERM")

    def running(pid):
        """pid is a live process (not gone, not a zombie); it may end
        while /proc is read"""
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False

    # the helpers end when they see their pipes close, in their own time
    end = time.time() + 30
    while time.time() < end and any(running(p) for p in helpers.values()):
        time.sleep(0.05)
    gone = [p for p in helpers.values() if running(p)]
    t.is_(gone, [], "qmail-send and its helpers have ended")
    sendlog.seek(0)
    log = sendlog.read()
    if "fatal" in log or "warning" in log:
        t.diag(log)

    # 10b. backup, and restore as if on another machine: there every
    # user and group of conf-users had other numbers (these plus 50000),
    # which the backup's files carry and its lanmail-backup names
    BK = os.path.join(BASE, "backup")
    r = admin("backup", BK)
    mark = open(os.path.join(BK, "lanmail-backup")).read() if r.returncode == 0 else ""
    real = [uid[u] for u in USERS[:7]] + [gid[g] for g in USERS[7:]]
    t.ok(r.returncode == 0 and ("\nids %s\n" % " ".join(str(i) for i in real)) in mark,
         "backup: lanmail-backup names the numbers of the users and groups (%s)" % r.stderr.strip())
    OFF = 50000
    olduid = {uid[u]: uid[u] + OFF for u in USERS[:7]}
    oldgid = {gid[g]: gid[g] + OFF for g in USERS[7:]}
    for root, ds, fs in os.walk(BK):
        for n in ds + fs:
            p = os.path.join(root, n)
            st = os.lstat(p)
            os.lchown(p, olduid.get(st.st_uid, st.st_uid), oldgid.get(st.st_gid, st.st_gid))
    t.write(os.path.join(BK, "lanmail-backup"),
            mark.replace("ids " + " ".join(str(i) for i in real), "ids " + " ".join(str(i + OFF) for i in real)),
            0o600)
    stranger = os.path.join(BK, "control", "stranger")
    t.write(stranger, "not ours\n")
    os.lchown(stranger, 4242, 4343)
    # this machine as a fresh install: no domain, the alias files changed,
    # no mail for the alias user
    alias_root = os.path.join(HOME, "alias", ".qmail-root")
    alias_text = open(alias_root).read()
    alias_mail = sorted(os.path.basename(p) for p in mailfiles(alias_md))
    t.write(alias_root, "&nobody@example.test\n")
    for p in mailfiles(alias_md):
        os.unlink(p)
    t.is_(admin("domain", "del", VD, "--force").returncode, 0, "domain del: domains/ is empty again")
    r = admin("restore", BK)
    t.is_(r.returncode, 0, "restore of the backup from the other machine (%s)" % r.stderr.strip())

    def owner(rel):
        st = os.lstat(os.path.join(HOME, rel))
        return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)
    want = {"control": (0, gid[GQMAIL], 0o755), "control/stranger": (4242, 4343, 0o644),
            "alias": (uid[ALIAS], gid[GQMAIL], 0o2755), "alias/.qmail-root": (uid[ALIAS], gid[GQMAIL], 0o644),
            "domains": (uid[VMAIL], ids(VMAIL)[1], 0o750),
            "domains/%s/alice/Maildir" % VD: (uid[VMAIL], ids(VMAIL)[1], 0o700)}
    if dkim:
        want["control/dkim/%s/mu.key" % VD] = (0, gid[GNOFILES], 0o640)
    got = {rel: owner(rel) for rel in want}
    t.is_(got, want, "control/ with this machine's numbers (the DKIM key's group %s), a stranger's kept; "
          "alias/ the alias user's, domains/ vmail's" % GNOFILES)
    am = mailfiles(alias_md)
    t.ok(open(alias_root).read() == alias_text and alias_mail and
         sorted(os.path.basename(p) for p in am) == alias_mail and
         all(os.stat(p).st_uid == uid[ALIAS] for p in am),
         "alias/ restored: its .qmail files and the alias user's mail (%d), owned by alias" % len(am))
    t.ok(("+%s-:%s:%d:%d:" % (VD, VMAIL, uid[VMAIL], ids(VMAIL)[1])) in
         open(os.path.join(HOME, "users", "assign")).read(), "users/assign: vmail's uid and gid here")

    # 11. make start, as an administrator runs it (umask 077 again): the
    # run scripts, supervise, multilog as qmaill; then make stop
    # (make runs with -j: the services must not keep its jobserver pipe,
    # or make start never ends)
    mport, pport2 = t.free_port(), t.free_port()
    started[0] = True
    r = make("start", "NOBUILD=1", "SUPERVISOR=direct", "SERVICES=send smtpd pop3", "LISTEN=127.0.0.1",
             "SMTPPORT=%d" % mport, "POP3PORT=%d" % pport2, umask=0o077, timeout=60)
    t.is_(r.returncode, 0, "make -j start (umask 077) ends")
    if r.returncode:
        t.diag(r.stdout + r.stderr)
    t.ok(t.wait_port(mport) and t.wait_port(pport2), "smtpd and pop3 listen")
    n_alice = len(mailfiles(alice_md))
    try:
        s = smtplib.SMTP("127.0.0.1", mport, timeout=20)
        refused = s.sendmail("sender@outside.example", ["alice@" + VD], "Subject: supervised\n\nunder svscan\n")
        s.quit()
    except (OSError, smtplib.SMTPException) as e:
        refused = repr(e)
    t.is_(refused, {}, "the supervised qmail-smtpd accepts a message")
    try:
        s = smtplib.SMTP("127.0.0.1", mport, timeout=20)
        s.ehlo("client.test")
        s.mail("sender@outside.example")
        code = s.rcpt("%s@%s" % (VMAIL, ME))[0]
        s.quit()
    except (OSError, smtplib.SMTPException) as e:
        code = repr(e)
    t.is_(code, 550, "the vmail account owns domains/ but is no mailbox: %s@%s refused" % (VMAIL, ME))
    got = [p for p in wait_mail(alice_md, n_alice + 1) if b"under svscan" in open(p, "rb").read()]
    t.ok(len(got) == 1 and os.stat(got[0]).st_uid == uid[VMAIL], "the supervised qmail-send delivers it as vmail")
    logf = os.path.join(HOME, "log", "send", "current")
    end = time.time() + 30
    while time.time() < end and not (os.path.exists(logf) and b"new msg" in open(logf, "rb").read()):
        time.sleep(0.05)
    t.ok(os.path.exists(logf) and b"new msg" in open(logf, "rb").read(),
         "multilog (as qmaill) writes log/send/current")
    ml = [status_ids(x)[1] for x in procs_named("multilog", HOME)]
    t.ok(len(ml) == 3 and set(ml) == {uid[QMAILL]}, "the 3 multilogs run as qmaill (%r)" % ml)
    # the supervised pop3 service: no root behind the network socket but tcpserver
    try:
        pop = poplib.POP3("127.0.0.1", pport2, timeout=20)
        pids = [status_ids(x)[0] for x in procs_named("qmail-popup", HOME)]
        pop.user("alice@" + VD)
        ok = pop.pass_(PASSWORD).startswith(b"+OK")
        pop.quit()
    except (OSError, poplib.error_proto) as e:
        ok, pids = repr(e), []
    t.ok(ok is True and pids and set(pids) == {uid[VMAIL]},
         "the supervised pop3 service runs qmail-popup as vmail, and alice logs in (%r %r)" % (ok, pids))
    # service/mkrules, run by hand after a change to control/relaynets
    r = subprocess.run(["sh", os.path.join(HOME, "service", "mkrules"), "smtpd"], capture_output=True, text=True,
                       preexec_fn=lambda: os.umask(0o077))
    cdbmode = stat.S_IMODE(os.stat(os.path.join(HOME, "service", "smtpd", "tcp.cdb")).st_mode)
    t.ok(r.returncode == 0 and cdbmode == 0o644,
         "mkrules by hand (umask 077): tcp.cdb readable by tcpserver as qmaild (%o)" % cdbmode)
    r = make("stop")
    t.is_(r.returncode, 0, "make stop")
    started[0] = False
finally:
    cleanup()
t.ok(not os.path.exists(BASE), "the scratch home is removed")
try:
    pwd.getpwnam(SYSU)
    t.ok(False, "the throwaway user is removed")
except KeyError:
    t.ok(True, "the throwaway user is removed")
t.done()
