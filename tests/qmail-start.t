#!/usr/bin/python3
"""qmail-start's logger lookup in $PATH (the last element of the last
environment string once read past it), signals passed on to qmail-send
whenever they come, a start with descriptors 1 and 2 closed, and
maildirmake's modes under any umask."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

t.need_home()
START = os.path.join(t.BIN, "qmail-start")
MDM = os.path.join(t.BIN, "maildirmake")

# env - PATH=...: PATH is the only, so the last, environment string
for path in (t.BIN + ":/usr/bin", "/usr/bin"):
    r = subprocess.run(["env", "-", "PATH=" + path, START, "./Maildir/", "no-such-logger-here"],
                       capture_output=True, timeout=30, cwd="/")
    t.ok(r.returncode == 111 and b"unable to find the logger no-such-logger-here" in r.stderr,
         "a logger not in PATH=%s: 111 and why, no crash (%d)" % (path, r.returncode))
r = subprocess.run(["env", "-", START, "./Maildir/", "no-such-logger-here"], capture_output=True, timeout=30, cwd="/")
t.ok(r.returncode == 111, "no PATH at all: 111 (%d)" % r.returncode)
r = subprocess.run([START], capture_output=True, timeout=30, cwd="/")
t.ok(r.returncode == 100 and b"usage" in r.stderr, "no defaultdelivery: usage, 100")

# SIGHUP, SIGALRM and SIGTERM are passed on whenever they come, in bursts
# too: each run ends on its SIGTERM, exit 0, with no child left to
# exit first (a signal caught just before qmail-start waits for its
# children must not wait with it).  The moment a signal falls on cannot
# be chosen from here; many runs with signals back to back cover the
# moments that can.
s = qsend.Scene()
try:
    ends = []
    for run in range(10):
        s.start()
        # qmail-send says it starts once its own handlers are set
        if not s.wait(lambda: s.log().count("status: starting") == run + 1, 20):
            ends.append("not started")
            s.stop()
            continue
        for _ in range(20):
            s.signal(signal.SIGALRM)
            s.signal(signal.SIGHUP)
        s.signal(signal.SIGTERM)
        try:
            ends.append(s.proc.wait(10))
        except subprocess.TimeoutExpired:
            ends.append("still running 10 s after SIGTERM")
        s.stop()
    t.is_(ends, [0] * 10, "signals in bursts passed on: every run ends on SIGTERM, exit 0")
    s.start()
    t.ok(s.wait(lambda: s.log().count("status: starting") == 11, 20), "started again")
    os.kill(s.top, signal.SIGHUP)
    t.ok(s.wait(lambda: "control files read again" in s.log(), 10), "a lone SIGHUP reaches qmail-send")
    t.is_(s.stop(), 0, "and SIGTERM ends it, exit 0")
finally:
    s.finish()

# started with descriptors 1 and 2 closed, its pipes must not land there
# and go to every child as its log (qmail-send's log lines in
# qmail-lspawn's input, qmail-lspawn holding its own input open so that
# it never ends): it exits 111 and leaves nothing running
p = subprocess.Popen(["sh", "-c", 'exec "$@" >&- 2>&-', "sh", START, "./Maildir/"],
                     cwd="/", start_new_session=True)
try:
    rc = p.wait(20)
except subprocess.TimeoutExpired:
    rc = "still running after 20 s"


def group_gone():
    try:
        os.killpg(p.pid, 0)
        return False
    except ProcessLookupError:
        return True


end = time.time() + 10
while not group_gone() and time.time() < end:
    time.sleep(0.05)
gone = group_gone()
if not gone:
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(10)
t.ok(rc == 111 and gone, "started with 1 and 2 closed: exit 111, nothing left running (%s)" % rc)

d = t.tmpdir("lanmail-mdm.")
md = os.path.join(d, "box")
r = subprocess.run([MDM, md], capture_output=True, preexec_fn=lambda: os.umask(0o277), timeout=30)
modes = [oct(os.stat(os.path.join(md, x)).st_mode & 0o7777) if os.path.isdir(os.path.join(md, x)) else None
         for x in ("", "tmp", "new", "cur")]
t.is_((r.returncode, modes), (0, ["0o700"] * 4), "maildirmake under umask 277: every directory 0700")
r = subprocess.run([MDM, md], capture_output=True, timeout=30)
t.ok(r.returncode == 100 and b"already exists" in r.stderr, "an existing directory: 100")
t.done()
