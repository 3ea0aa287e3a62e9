#!/usr/bin/python3
"""qmail-send delivers straight from todo/: a message whose recipients all
succeed (or fail for good) never gets info/, local/ or remote/ files; one
with a recipient that has to wait is written out then, with the
recipients already done marked D, and each recipient gets exactly one
copy; more messages than qmail-send holds at once all arrive once;
messages queued while others are delivered and removed all arrive (an
id is reused at once); local mail is not held up behind messages that
wait for a stalled remote host; a qmail-send killed during a delivery from todo/
loses nothing."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

D = qsend.DOMAIN
t.plan(23)
s = qsend.Scene()
strace = None
try:
    ann = s.home("ann", {"later": "|echo 4.2.1 not now; exit 111\n",
                         "slow": "|sleep 3\n./Maildir/\n"})
    ben = s.home("ben")
    s.assign([s.user("ann", ann), s.user("ann", ann, prefix=True), s.user("ben", ben)])
    t.control("retrylocal", "1000\n")
    s.start()
    t.ok(s.wait(lambda: "qmail-send" in s.pids() and "status: starting" in s.log()),
         "qmail-start runs")

    def subjects(home):
        return sorted(m["Subject"] for m in s.maildir(home))

    # 1. every recipient succeeds: qmail-send itself creates no queue file
    have_strace = subprocess.run(["strace", "-qq", "-o", os.devnull, "-e", "trace=none", "true"],
                                 capture_output=True).returncode == 0
    if have_strace:
        out = os.path.join(s.dir, "strace")
        strace = t.start(["strace", "-qq", "-o", out, "-e", "trace=open,openat,creat,link,rename",
                          "-p", str(s.pids()["qmail-send"])], stderr=subprocess.DEVNULL)

        def traced():
            """qmail-send's calls reach the trace: the control files it
            opens on SIGHUP (sent again until they show, as strace may
            not have been tracing yet)"""
            s.signal(signal.SIGHUP)
            return s.wait(lambda: os.path.exists(out) and '"control/' in open(out).read(), 1)
        if not s.wait(traced, 30, 0):
            t.diag("strace shows no call of qmail-send after 30 s")
    t.is_(s.inject("ben@" + D, ["ann@" + D, "ben@" + D], "Subject: one\n\nbody\n"), 0, "queued")
    t.ok(s.wait(lambda: subjects(ann) == ["one"] and subjects(ben) == ["one"] and s.queue_empty()),
         "both recipients have it and the queue is empty")
    if have_strace:
        t.stop(strace, signal.SIGINT)
        strace = None
        trace = open(out).read().splitlines()
        calls = [l for l in trace if "O_CREAT" in l or "link(" in l or "rename(" in l]
        t.is_(calls, [], "qmail-send created no file for it (strace)")
        looked = sorted(set(re.findall(r'"todo/([0-9]+)"', "\n".join(trace))))
        read = sorted(set(re.findall(r'"todo/([0-9]+)/[0-9]+"', "\n".join(trace))))
        t.ok(len(read) == 1 and looked == read,
             "it looked only into the split of todo/ the trigger named (%s; read %s)" % (looked, read))
    else:
        t.skip("strace cannot trace here", 2)

    # 2. one recipient delivered, one deferred: written out with a D and a T
    t.is_(s.inject("ben@" + D, ["ben@" + D, "ann-later@" + D], "Subject: two\n\nbody\n"), 0, "queued")
    t.ok(s.wait(lambda: "4.2.1 not now" in s.log() and t.queue_files("local") and
                not t.queue_files("todo")), "deferred: local/ written and todo/ removed")
    loc = t.queue_files("local")
    recs = open(loc[0], "rb").read().split(b"\0") if loc else []
    t.is_(recs, [b"Dben@" + D.encode(), b"Tann-later@" + D.encode(), b""],
          "local/ marks the delivered recipient D, the waiting one T")
    info = t.queue_files("info")
    t.ok(info and open(info[0], "rb").read().endswith(b"\0Fben@" + D.encode() + b"\0"),
         "info/ holds the sender")
    t.write(os.path.join(ann, ".qmail-later"), "./Maildir/\n")
    s.signal(signal.SIGALRM)
    t.ok(s.wait(lambda: subjects(ann) == ["one", "two"] and s.queue_empty()),
         "the retry delivers it and the queue empties")
    t.is_(subjects(ben), ["one", "two"], "the recipient done before is not delivered again")

    # 3. more messages than are held at once (256): each arrives once
    s.stop()
    n = 600
    for i in range(n):
        if s.inject("ben@" + D, ["ben@" + D], "Subject: many %d\n\nx\n" % i) != 0:
            break
    s.start()
    t.ok(s.wait(lambda: len(s.maildir(ben)) == n + 2 and s.queue_empty(), 120),
         "%d messages waiting in todo/ are all delivered" % n)
    got = [x for x in subjects(ben) if x.startswith("many ")]
    t.is_((len(got), len(set(got))), (n, n), "each exactly once")

    # 4. messages delivered and removed while new ones are being queued:
    # a finished message's id is soon a new message's, and whatever
    # qmail-queue does after its commit must not touch the new one
    nb = len(s.maildir(ben))
    threads, bad = s.inject_parallel("ben@" + D, "ben@" + D, "busy %d", 1500)
    for th in threads:
        th.join()
    t.is_(bad, [], "1500 messages queued by 8 writers while deliveries run: every qmail-queue exits 0")
    # a message the trigger missed waits for the look into todo/ every
    # 30 s: deliveries pause with it still queued.  A slow machine only
    # delivers slowly, so the pauses are measured, not the whole.
    def files(home):
        return sum(len(os.listdir(os.path.join(home, "Maildir", sub))) for sub in ("new", "cur"))
    t0 = last = time.time()
    end = t0 + 600
    got = seen = files(ben)
    while time.time() < end and time.time() - last < 10:
        got = files(ben)
        if got == nb + 1500 and s.queue_empty():
            break
        if got != seen:
            seen, last = got, time.time()
        time.sleep(0.05)
    t.ok(got == nb + 1500 and s.queue_empty(),
         "and every one is delivered, none waiting for the 30-second look into todo/ "
         "(%d of 1500 in %.1f s, no pause of 10 s)" % (got - nb, time.time() - t0))

    # 5. a remote host that keeps every delivery waiting: the messages
    # for it fill what qmail-send holds from todo/, and local mail still
    # goes through (those waiting for a delivery slot are written out)
    stall = socket.socket()
    stall.bind(("127.0.0.1", 0))
    stall.listen(50)
    conns = []

    def staller():
        while True:
            try:
                c, _ = stall.accept()
            except OSError:
                return
            conns.append(c)     # accepted, never answered
    threading.Thread(target=staller, daemon=True).start()
    t.control("smtproutes", "slow.test:[127.0.0.1]:%d\n" % stall.getsockname()[1])
    t.control("concurrencyremote", "1\n")
    t.control("timeoutremote", "5\n")
    hups = s.log().count("control files read again")
    s.signal(signal.SIGHUP)
    s.wait(lambda: s.log().count("control files read again") > hups)
    for i in range(300):
        s.inject("ben@" + D, ["far%d@slow.test" % i], "Subject: slow %d\n\nx\n" % i)
    nb = len(s.maildir(ben))
    t.is_(s.inject("ann@" + D, ["ben@" + D], "Subject: meanwhile\n\nlocal\n"), 0, "queued")
    t.ok(s.wait(lambda: len(s.maildir(ben)) == nb + 1, 60),
         "local mail is delivered while 300 messages wait for a stalled remote host")
    t.ok(len(t.queue_files("info")) >= 16, "messages waiting for a delivery slot were written to info/ (%d)"
         % len(t.queue_files("info")))
    stall.close()
    for c in conns:
        c.close()
    s.stop()
    t.clear_queue()
    for c in ("smtproutes", "concurrencyremote", "timeoutremote"):
        t.control(c, None)
    s.start()

    # 6. files an interrupted run wrote while todo/ was still there: the
    # todo/ entry counts, the files go
    s.stop()
    t.is_(s.inject("ben@" + D, ["ann@" + D, "ben@" + D], "Subject: left\n\nbody\n"), 0, "queued")
    todo = t.queue_files("todo")
    sp, ino = todo[0].split(os.sep)[-2:]
    for sub, data in (("info", b"t1\0Fben@" + D.encode() + b"\0"),
                      ("local", b"Dann@" + D.encode() + b"\0Dben@" + D.encode() + b"\0"),
                      ("bounce", b"Rann@" + D.encode() + b"\0S5.1.1\0M\0Xold\0")):
        p = os.path.join(t.HOME, "queue", sub, ino) if sub == "bounce" else \
            os.path.join(t.HOME, "queue", sub, sp, ino)
        t.write(p, data)
    na, nb = len(s.maildir(ann)), len(s.maildir(ben))
    s.start()
    t.ok(s.wait(lambda: len(s.maildir(ann)) == na + 1 and len(s.maildir(ben)) == nb + 1 and
                s.queue_empty()),
         "leftover info/, local/ (all marked D) and bounce/ beside todo/: delivered to both, removed")
    t.ok("bounce msg" not in s.log(), "and no report from the old bounce/ file")

    # 7. qmail-send killed while delivering from todo/: delivered after a restart
    t.is_(s.inject("ben@" + D, ["ann-slow@" + D], "Subject: slow\n\nbody\n"), 0, "queued")
    s.wait(lambda: "to local ann-slow@" in s.log())
    os.kill(s.pids()["qmail-send"], signal.SIGKILL)
    try:
        s.proc.wait(10)
    except subprocess.TimeoutExpired:
        pass
    s.stop()
    time.sleep(3.5)     # the qmail-local of the killed run finishes or not
    s.start()
    t.ok(s.wait(lambda: "slow" in subjects(ann) and s.queue_empty(), 30),
         "not lost: delivered after a restart (%d copies)" % subjects(ann).count("slow"))
finally:
    t.control("timeoutremote", None)
    if strace:
        t.stop(strace, signal.SIGINT)
    s.finish()
