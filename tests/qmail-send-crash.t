#!/usr/bin/python3
"""qmail-send crash safety: 2000 messages accepted while qmail-send and its
helpers are killed with SIGKILL at random moments and started again; at
the end every message is in its Maildir exactly as sent (a repeated
delivery is allowed, a lost one is not) and the queue is empty."""
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

N = 2000
KILLS = int(os.environ.get("CRASH_KILLS", "8"))
D = qsend.DOMAIN
seed = int(os.environ.get("CRASH_SEED") or random.randrange(1, 1 << 30))
rnd = random.Random(seed)
t.diag("seed %d (set CRASH_SEED to repeat)" % seed)

s = qsend.Scene()
try:
    homes = [s.home("c%d" % i) for i in range(3)]
    s.assign([s.user("c%d" % i, h) for i, h in enumerate(homes)])
    t.control("concurrencylocal", "30\n")
    t.control("retrylocal", "1\n")

    def message(n):
        lines = ["line %d of message %d: %s" % (k, n, "x" * rnd.randrange(0, 120))
                 for k in range(rnd.randrange(1, 40))]
        return ("From: crash@%s\nSubject: crash %d\nX-Crash-Id: %d\n\n" % (D, n, n) +
                "\n".join(lines) + "\n")

    sent = {}
    for n in range(N):
        # most to one mailbox, some to two or three: several deliveries per message
        who = [0] if n % 5 else rnd.sample(range(3), rnd.randrange(1, 4))
        sent[n] = (message(n), who)

    failures = []
    lock = threading.Lock()
    todo = list(range(N))

    def injector():
        while True:
            with lock:
                if not todo:
                    return
                n = todo.pop()
            body, who = sent[n]
            if s.inject("crash@" + D, ["c%d@%s" % (i, D) for i in who], body) != 0:
                failures.append(n)

    def started(pid):
        """the start time of a running process (a pid is reused quickly
        here: thousands of qmail-queue and qmail-local), None when gone"""
        try:
            with open("/proc/%d/stat" % pid) as f:
                st = f.read()
        except OSError:
            return None
        f = st[st.rindex(")") + 2:].split()
        return None if f[0] == "Z" else f[19]

    HELPERS = ("qmail-send", "qmail-lspawn", "qmail-rspawn", "qmail-clean")

    def start():
        # the next kill must find every helper running: on a loaded machine
        # qmail-start takes a while to start them
        s.start()
        if not s.wait(lambda: all(h in s.pids() for h in HELPERS), 60, 0.02):
            t.diag("qmail-start has not started all its helpers after 60 s: %r" % s.pids())

    start()
    t0 = time.time()
    workers = [threading.Thread(target=injector) for _ in range(8)]
    for w in workers:
        w.start()

    kills = []
    for k in range(KILLS):
        time.sleep(rnd.uniform(0.3, 2.0))
        pids = s.pids()
        gen = {p: started(p) for p in pids.values()}
        victim = "qmail-send" if k % 2 == 0 else rnd.choice(["qmail-send", "qmail-lspawn", "qmail-clean"])
        if victim in pids:
            os.kill(pids[victim], signal.SIGKILL)
            kills.append(victim)
        # the others notice and end; qmail-start exits; start it again once
        # every helper of this generation is gone (a qmail-send still
        # ending would hold the queue's lock against the next one)
        tk = time.time()
        try:
            # qmail-send watches every helper's pipe, busy or idle
            s.proc.wait(60)
        except subprocess.TimeoutExpired:
            t.diag("qmail-start still running 60 s after %s was killed" % victim)
            t.stop(s.proc, signal.SIGKILL)
        if not s.wait(lambda: not any(started(p) == st for p, st in gen.items() if st), 60, 0.02):
            t.diag("helpers still running 60 s after %s was killed: %r" %
                   (victim, [p for p, st in gen.items() if st and started(p) == st]))
        if os.environ.get("CRASH_DEBUG"):
            t.diag("%.1f killed %s, ended after %.1fs" % (tk - t0, victim, time.time() - tk))
        start()
    for w in workers:
        w.join()
    t.diag("all accepted after %.1fs" % (time.time() - t0))
    t.is_(failures, [], "qmail-queue accepted all %d messages" % N)
    t.ok(len(kills) == KILLS, "killed %d times: %s" % (len(kills), " ".join(kills)))

    want = sum(len(w) for _, w in sent.values())

    def count():
        return sum(len(os.listdir(os.path.join(h, "Maildir", "new"))) for h in homes)

    def progress():
        if os.environ.get("CRASH_DEBUG"):
            t.diag("%.1f: %d delivered; queue todo %d info %d local %d mess %d bounce %d" % (
                time.time() - t0, count(), len(t.queue_files("todo")), len(t.queue_files("info")),
                len(t.queue_files("local")), len(t.queue_files("mess")), len(t.queue_files("bounce"))))
        return committed_empty() and count() >= want

    def committed_empty():
        return not any(t.queue_files(d) for d in ("todo", "info", "local", "remote", "bounce"))

    t.ok(s.wait(progress, 300, 0.5),
         "no message left in the queue and %d deliveries made in %.1fs" % (want, time.time() - t0))
    # a crash between removing info/ and mess/ leaves a message file that
    # is no message: invisible, swept after 36 hours
    left = t.queue_files("mess")
    t.ok(len(left) <= KILLS, "at most one leftover message file per kill (%d)" % len(left))
    q = subprocess.run([os.path.join(t.BIN, "qmail-qstat")], capture_output=True, text=True).stdout
    t.is_(q, "messages in queue: 0\nmessages in queue but not yet preprocessed: 0\n", "qmail-qstat: none")
    got = {}
    bad = []
    for i, h in enumerate(homes):
        for m in s.maildir(h):
            n = int(m["X-Crash-Id"])
            body, who = sent[n]
            head, _, text = body.partition("\n\n")
            if m.get_payload() != text or m["Subject"] != "crash %d" % n or i not in who:
                bad.append(n)
            got.setdefault((n, i), 0)
            got[(n, i)] += 1
    lost = [(n, i) for n, (_, who) in sent.items() for i in who if (n, i) not in got]
    t.is_(lost[:10], [], "no delivery lost (%d lost)" % len(lost))
    t.is_(bad[:10], [], "every copy exactly as sent")
    dup = sum(c - 1 for c in got.values())
    t.diag("%d deliveries repeated after crashes" % dup)
    # a kill repeats at most the deliveries in flight (concurrencylocal 30)
    # and the recipients already done of their messages (up to 3 each:
    # a message held from todo/ is recorded only when it is finished);
    # a killed qmail-clean also the removals of finished messages it had
    # not made yet (qmail-send asks for up to 256 before it waits)
    most = 3 * 30 * len(kills) + 256 * kills.count("qmail-clean")
    t.ok(dup <= most, "repeats stay rare: at most %d for these kills (%d)" % (most, dup))
    odd = [l for l in s.log().splitlines() if ("fatal" in l or "warning" in l) and "has gone" not in l and "broken pipe" not in l]
    t.is_(odd[:5], [], "no error in the log but helpers noticing a killed peer")
finally:
    s.finish()
t.done()
