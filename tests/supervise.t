#!/usr/bin/python3
"""supervise.t - the real supervision tree: svscan, supervise, multilog.

Installs the service directories (service/install.sh) into the scratch
home, links send and smtpd (and submission and pop3 when their programs
are there) into a scan directory of the test's own, runs svscan on it with
the listeners on high loopback ports, sends mail with smtplib, kills
qmail-send with -9 while mail keeps arriving, and shows that supervise
starts it again and that every message reaches the Maildir.  Then reads
the multilog logs: timestamped lines, rotation at control/logsize.
"""
import glob
import os
import pwd
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402

t.need_home()
NEED = ["qmail-queue", "qmail-smtpd", "qmail-start", "qmail-send", "qmail-lspawn",
        "qmail-rspawn", "qmail-clean", "qmail-local", "qmail-newu"]
missing = [p for p in NEED if not os.access(os.path.join(t.BIN, p), os.X_OK)]
if missing:
    t.skip_all("needs %s in bin/ (not built yet)" % ", ".join(missing))
for tool in ("svscan", "supervise", "multilog", "svc", "svok", "svstat", "tcpserver", "tcprules"):
    if not shutil.which(tool):
        t.skip_all("%s is not installed (daemontools, ucspi-tcp)" % tool)

HOME = t.HOME
SERVICES = ["send", "smtpd"]
if all(os.access(os.path.join(t.BIN, p), os.X_OK) for p in ("qmail-auth",)):
    SERVICES.append("submission")
if all(os.access(os.path.join(t.BIN, p), os.X_OK) for p in ("qmail-popup", "qmail-auth", "qmail-pop3d")):
    SERVICES.append("pop3")
DOMAIN = "supervise.test"
BATCH = 30
login = pwd.getpwuid(os.getuid()).pw_name

# control files and users/ files this test sets: saved now, put back at the end
saved = {}


def save(rel):
    path = os.path.join(HOME, rel)
    if rel not in saved:
        saved[rel] = open(path, "rb").read() if os.path.exists(path) else None


def setfile(rel, value):
    save(rel)
    t.write(os.path.join(HOME, rel), value)


def restore():
    for rel, data in saved.items():
        path = os.path.join(HOME, rel)
        if data is None:
            if os.path.exists(path):
                os.unlink(path)
        else:
            t.write(path, data)


ports = {"smtpd": t.free_port(), "submission": t.free_port(), "pop3": t.free_port()}
for name, value in (("me", DOMAIN + "\n"), ("locals", DOMAIN + "\n"), ("rcpthosts", DOMAIN + "\n"),
                    ("listenip", "127.0.0.1\n"), ("smtpport", "%d\n" % ports["smtpd"]),
                    ("submissionport", "%d\n" % ports["submission"]), ("pop3port", "%d\n" % ports["pop3"]),
                    ("concurrencyincoming", "10\n"), ("logsize", "4096\n"), ("logcount", "3\n"),
                    ("relaynets", None), ("rbls", None), ("tcp.smtpd", None), ("defaultdelivery", None),
                    ("srsdomain", None)):
    save("control/" + name)
    t.control(name, value)

# one mailbox: sup@DOMAIN, delivered by qmail-local as this login into
# MAILHOME/Maildir/ through the default delivery that send/run passes
mailhome = t.tmpdir("lanmail-supervise-home.")
for sub in ("tmp", "new", "cur"):
    os.makedirs(os.path.join(mailhome, "Maildir", sub))
pw = pwd.getpwuid(os.getuid())
setfile("users/assign", "=sup:%s:%d:%d:%s:::\n.\n" % (login, pw.pw_uid, pw.pw_gid, mailhome))
save("users/assign.cdb")
save("users/recipients.cdb")
save("users/recipients")
newu = subprocess.run([os.path.join(t.BIN, "qmail-newu")], capture_output=True, text=True)

scan = t.tmpdir("lanmail-svscan.")
svscan = None
t.plan(20)


def run_scripts(scripts, timeout=20):
    """Run each service/REL/run as supervise would, all at once: REL ->
    (exit code, output); None for one still running after timeout (it
    and what it started are killed)."""
    procs = {rel: t.start(["sh", "run"], cwd=os.path.join(HOME, "service", rel),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for rel in scripts}
    out = {}
    for rel, p in procs.items():
        try:
            text = p.communicate(timeout=timeout)[0]
            out[rel] = (p.returncode, text.decode("utf-8", "replace"))
        except subprocess.TimeoutExpired:
            t.stop(p, signal.SIGKILL)
            out[rel] = (None, p.communicate()[0].decode("utf-8", "replace"))
    return out


def unreadable(name):
    """control/NAME made a file the run scripts cannot read: a directory
    in its place (root reads any file), or mode 000 for anyone else."""
    path = os.path.join(HOME, "control", name)
    save("control/" + name)
    if os.path.lexists(path):
        os.unlink(path)
    if os.getuid() == 0:
        os.mkdir(path)
    else:
        t.write(path, "x\n", 0)
    return "not a regular file" if os.getuid() == 0 else "permission denied"


def readable_again(name):
    path = os.path.join(HOME, "control", name)
    if os.path.isdir(path) and not os.path.islink(path):
        os.rmdir(path)
    elif os.path.lexists(path):
        os.unlink(path)


def svc(*args):
    subprocess.run(["svc"] + list(args), stderr=subprocess.DEVNULL)


def up_pid(service):
    """pid of the process supervise runs for service, or None."""
    r = subprocess.run(["svstat", os.path.join(HOME, "service", service)], capture_output=True, text=True)
    m = re.search(r": up \(pid (\d+)\)", r.stdout)
    return int(m.group(1)) if m else None


def proc_comm(pid):
    """the command name of a live process ("" when gone or a zombie)."""
    try:
        if open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z":
            return ""
        return open("/proc/%d/comm" % pid).read().strip()
    except (OSError, IndexError):
        return ""


def children(pid):
    out = []
    for st in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = open(st).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(st.split("/")[2]))
    return out


def qmail_send_pid():
    """the qmail-send process under the send service (qmail-start may exec it or be its parent)."""
    top = up_pid("send")
    if top is None:
        return None
    if proc_comm(top) == "qmail-send":
        return top
    for c in children(top):
        if proc_comm(c) == "qmail-send":
            return c
    return None


def descendants(root):
    """(pid, comm) of every process below root, found through /proc."""
    kids = {}
    for st in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = open(st).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(st.split("/")[2]))
    out, todo = [], [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append((c, proc_comm(c)))
            todo.append(c)
    return out


def svok(d):
    return subprocess.run(["svok", d], stderr=subprocess.DEVNULL).returncode == 0


def delivered():
    """Subjects of the messages in the Maildir (new/ and cur/)."""
    subjects = []
    for f in glob.glob(os.path.join(mailhome, "Maildir", "new", "*")) + \
            glob.glob(os.path.join(mailhome, "Maildir", "cur", "*")):
        with open(f, "rb") as fh:
            m = re.search(rb"^Subject: (.*)$", fh.read(), re.M)
        if m:
            subjects.append(m.group(1).strip().decode())
    return subjects


def send(subject):
    with smtplib.SMTP("127.0.0.1", ports["smtpd"], timeout=20) as s:
        s.sendmail("someone@example.net", ["sup@" + DOMAIN],
                   "From: someone@example.net\r\nTo: sup@%s\r\nSubject: %s\r\n\r\nbody of %s\r\n"
                   % (DOMAIN, subject, subject))


def log_lines(service):
    """The lines of the service's log: the files multilog rotated out
    (current may have just been emptied by a rotation), then current."""
    d = os.path.join(HOME, "log", service)
    out = []
    for path in sorted(glob.glob(os.path.join(d, "@*"))) + [os.path.join(d, "current")]:
        try:
            out += open(path, errors="replace").read().splitlines()
        except OSError:
            pass
    return out


try:
    t.ok(newu.returncode == 0, "qmail-newu compiles the test's users/assign")
    if newu.returncode:
        t.diag(newu.stderr)
    r = subprocess.run(["sh", os.path.join(t.SRC, "service", "install.sh"), HOME, login],
                       capture_output=True, text=True)
    t.ok(r.returncode == 0 and all(os.access(os.path.join(HOME, "service", s, "run"), os.X_OK)
                                   for s in SERVICES),
         "service/install.sh lays out HOME/service")
    if r.returncode:
        t.diag(r.stdout + r.stderr)

    # a control file that exists but cannot be read is fatal, never the
    # default: each run script stops on the first one it reads
    broken = {"smtpd": "rbls", "send": "defaultdelivery", "pop3": "me", "submission/log": "logsize"}
    why = {rel: unreadable(name) for rel, name in broken.items()}
    try:
        res = run_scripts(broken)
        t.ok(all(res[rel][0] == 111 and "%s/run: fatal: unable to read control/%s: %s" % (rel, name, why[rel])
                 in res[rel][1] for rel, name in broken.items()),
             "a control file that cannot be read stops the run script: exit 111, the file named")
        if not all(res[rel][0] == 111 for rel in broken):
            t.diag(repr(res))
        tcp = open(os.path.join(HOME, "service", "smtpd", "tcp")).read()
        why["relaynets"] = unreadable("relaynets")
        r = subprocess.run(["sh", os.path.join(HOME, "service", "mkrules"), "smtpd"], capture_output=True, text=True)
        t.ok(r.returncode == 111 and "mkrules: fatal: unable to read control/relaynets: " + why["relaynets"] in r.stderr
             and open(os.path.join(HOME, "service", "smtpd", "tcp")).read() == tcp,
             "mkrules too, and the rules are left as they were (%d %s)" % (r.returncode, r.stderr.strip()))
    finally:
        for name in list(broken.values()) + ["relaynets"]:
            readable_again(name)
        # me and logsize are the test's own again
        t.control("me", DOMAIN + "\n")
        t.control("logsize", "4096\n")

    for s in SERVICES:
        os.symlink(os.path.join(HOME, "service", s), os.path.join(scan, s))
    svscan = t.start(["svscan", scan], cwd=scan, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    t.ok(t.wait_port(ports["smtpd"], timeout=15), "smtpd listens on 127.0.0.1:%d" % ports["smtpd"])
    first = t.wait_until(qmail_send_pid, 15)
    t.ok(first, "supervise runs qmail-send (pid %s)" % first)

    send("first")
    if not t.ok(t.wait_until(lambda: "first" in delivered(), 30), "a message sent with smtplib reaches the Maildir"):
        t.diag("log/send/current:\n" + "\n".join(log_lines("send")[-30:]))

    # a batch of mail, with qmail-send killed -9 in the middle of it
    sent = []
    for i in range(BATCH):
        if i == BATCH // 3:
            os.kill(first, signal.SIGKILL)
        send("batch %d" % i)
        sent.append("batch %d" % i)
    second = t.wait_until(lambda: (lambda p: p if p and p != first else None)(qmail_send_pid()), 20)
    t.ok(second and second != first, "supervise started qmail-send again (pid %s, was %s)" % (second, first))
    got = t.wait_until(lambda: set(sent) <= set(delivered()), 60)
    have = set(delivered())
    t.ok(set(sent) <= have, "all %d messages sent around the kill were delivered" % BATCH)
    if not set(sent) <= have:
        t.diag("missing: %s" % sorted(set(sent) - have))
    t.diag("deliveries in the Maildir: %d for %d messages (a repeat after a crash is allowed)"
           % (len(delivered()), BATCH + 1))
    t.ok(len(delivered()) <= 2 * (BATCH + 1), "no message delivered more than a crash could explain")

    # a service that dies is restarted too: the listener
    tpid = up_pid("smtpd")
    os.kill(tpid, signal.SIGKILL)
    t.ok(t.wait_until(lambda: (lambda p: p and p != tpid)(up_pid("smtpd")), 10) and
         t.wait_port(ports["smtpd"], timeout=10), "tcpserver killed -9 is restarted and listens again")
    send("after tcpserver restart")
    t.ok(t.wait_until(lambda: "after tcpserver restart" in delivered(), 30), "mail flows after the restart")

    if "submission" in SERVICES:
        t.ok(t.wait_port(ports["submission"], timeout=10), "submission listens on %d" % ports["submission"])
    else:
        t.skip("qmail-auth not built: submission not started")
    if "pop3" in SERVICES and t.wait_port(ports["pop3"], timeout=10):
        import poplib
        p = poplib.POP3("127.0.0.1", ports["pop3"], timeout=10)
        t.ok(p.getwelcome().startswith(b"+OK"), "pop3 greets with +OK")
        p.quit()
    else:
        t.skip("qmail-popup/qmail-pop3d not built: pop3 not started")

    # the logs: multilog lines with TAI64N stamps, rotated at control/logsize
    stamp = re.compile(r"^@4[0-9a-f]{23} ")
    send_log = log_lines("send")
    smtpd_log = log_lines("smtpd")
    t.ok(send_log and all(stamp.match(x) for x in send_log), "send log: every line has a TAI64N stamp")
    t.ok(any("sup@" + DOMAIN in x for x in send_log) or
         any("sup@" + DOMAIN in open(f, errors="replace").read()
             for f in glob.glob(os.path.join(HOME, "log", "send", "@*"))),
         "send log names the recipient of the deliveries")
    t.ok(any(re.search(r"tcpserver: ok \d+ ", x) for x in smtpd_log) or
         glob.glob(os.path.join(HOME, "log", "smtpd", "@*")), "smtpd log has tcpserver's connection lines")
    rotated = glob.glob(os.path.join(HOME, "log", "smtpd", "@*.[su]"))
    t.ok(1 <= len(rotated) <= 3 and os.path.getsize(os.path.join(HOME, "log", "smtpd", "current")) <= 4096,
         "smtpd log rotated at control/logsize, control/logcount files kept (%d)" % len(rotated))
    r = subprocess.run(["tai64nlocal"], input="\n".join(smtpd_log[-1:]) + "\n", capture_output=True, text=True)
    t.ok(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r.stdout), "tai64nlocal reads the stamps")

    # without control/me the pop3 service greets as localhost, the name
    # every program takes then (not the machine's host name)
    if "pop3" in SERVICES:
        import poplib
        t.control("me", None)
        old = up_pid("pop3")
        svc("-t", os.path.join(HOME, "service", "pop3"))
        greet = b""
        if t.wait_until(lambda: (lambda p: p and p != old)(up_pid("pop3")), 15) and t.wait_port(ports["pop3"], timeout=15):
            p = poplib.POP3("127.0.0.1", ports["pop3"], timeout=10)
            greet = p.getwelcome()
            p.quit()
        t.ok(re.match(rb"^\+OK <\d+\.\d+@localhost>", greet), "no control/me: pop3 greets as localhost: %r" % greet)
        t.control("me", DOMAIN + "\n")
    else:
        t.skip("qmail-popup/qmail-pop3d not built: pop3 not started")
finally:
    # down: every service and logger, then svscan, then the files
    tree = descendants(svscan.pid) if svscan else []
    for s in SERVICES:
        try:
            os.unlink(os.path.join(scan, s))
        except OSError:
            pass
    for s in SERVICES:
        svc("-dx", os.path.join(HOME, "service", s))
    for s in SERVICES:
        d = os.path.join(HOME, "service", s)
        t0 = time.time()
        if not t.wait_until(lambda: not svok(d), 30):
            t.diag("%s still up after 30 s: svc -k" % s)
            svc("-k", d)
            t.wait_until(lambda: not svok(d), 5)
        t.diag("%s down after %.1f s" % (s, time.time() - t0))
        svc("-dx", os.path.join(d, "log"))
        t.wait_until(lambda: not svok(os.path.join(d, "log")), 10)
    if svscan:
        t.stop(svscan)
    # anything of the tree that outlived its supervise (it would hold
    # queue/lock/sendmutex into the next test)
    for pid, comm in tree:
        if comm and proc_comm(pid) == comm:
            t.diag("killing leftover pid %d (%s)" % (pid, comm))
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    restore()
    t.clear_queue()
    for s in ("send", "smtpd", "submission", "pop3", "smtps", "pop3s", "webadmin"):
        shutil.rmtree(os.path.join(HOME, "log", s), ignore_errors=True)
t.done()
