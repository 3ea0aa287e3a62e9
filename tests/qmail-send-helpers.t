#!/usr/bin/python3
"""qmail-send watches its helpers: with the queue idle, qmail-lspawn,
qmail-rspawn or qmail-clean killed with SIGKILL makes qmail-send log which
one has gone and exit 111, so that qmail-start exits (111) within a few
seconds; started again, the set delivers a message."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

D = qsend.DOMAIN
t.plan(3 * 6)

s = qsend.Scene()
try:
    home = s.home("h")
    s.assign([s.user("h", home)])
    n = 0
    for victim in ("qmail-lspawn", "qmail-rspawn", "qmail-clean"):
        start = len(s.log()) if os.path.exists(s.logf) else 0
        s.start()
        ok = s.wait(lambda: len(s.pids()) == 4 and "status: starting" in s.log()[start:], 10)
        pids = s.pids()
        t.ok(ok and victim in pids, "%s: qmail-start runs its four helpers" % victim)
        # the queue idle: nothing would make qmail-send talk to the helper
        time.sleep(0.5)
        os.kill(pids[victim], signal.SIGKILL)
        t0 = time.time()
        try:
            rc = s.proc.wait(5)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.time() - t0
        t.is_(rc, 111, "%s killed: qmail-start exits 111 (after %.1f s)" % (victim, took))
        log = s.log()[start:]
        t.ok("alert: %s has gone" % victim in log,
             "%s killed: qmail-send logs which helper has gone" % victim)
        t.ok("status: exiting: %s has gone" % victim in log,
             "%s killed: qmail-send says why it exits" % victim)
        if rc is None:
            s.stop()
        # every helper of that generation has ended
        t.ok(s.wait(lambda: not any(os.path.exists("/proc/%d" % p) and
                                    open("/proc/%d/stat" % p).read().split(") ")[1][0] != "Z"
                                    for p in pids.values()), 10),
             "%s killed: the other helpers end too" % victim)
        s.proc = None
        # started again, the set works
        s.start()
        n += 1
        body = "From: x@%s\nSubject: after %s\n\nbody %d\n" % (D, victim, n)
        s.inject("x@" + D, ["h@" + D], body)
        t.ok(s.wait(lambda: len(s.maildir(home)) == n and s.queue_empty(), 20),
             "%s killed: after a new start a message is delivered" % victim)
        if s.stop() != 0:
            t.diag("qmail-start did not exit 0 on SIGTERM")
finally:
    s.finish()
t.done()
