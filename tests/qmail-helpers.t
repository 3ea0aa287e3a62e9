#!/usr/bin/python3
"""The programs qmail's .qmail files call: preline, forward, bouncesaying,
condredirect and except.

Each is run from .qmail files through the real bin/qmail-local (forwards
go to tests/qq-record as $QMAILQUEUE, which keeps the message and the
envelope), by hand for its usage and environment errors, and through
the whole path qmail-queue -> qmail-send -> qmail-lspawn -> qmail-local
with qmail-start running.  The .qmail lines find the programs through
PATH, with the install's bin first, as the send service sets it.
"""
import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

t.need_home()
QL = os.path.join(t.BIN, "qmail-local")
RECORDER = os.path.join(t.SRC, "tests", "qq-record")
PATH = t.BIN + ":" + os.environ.get("PATH", "/usr/bin:/bin")

MSG = (b"Received: (lanmail 4242 invoked by uid 1000); 28 Nov 2026 17:00:00 +0000\n"
       b"From: Alice <alice@sender.example>\n"
       b"To: joe@example.org\n"
       b"Subject: test message\n"
       b"\n"
       b"From the first body line\n"
       b"last line\n")
SENDER = "alice@sender.example"
RP = b"Return-Path: <alice@sender.example>\n"
DT = b"Delivered-To: joe@example.org\n"
FROMLINE = re.compile(rb"From alice@sender\.example (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                      rb"[A-Z][a-z][a-z] [ 0-9]\d \d\d:\d\d:\d\d \d{4}\n")
# 5 MB: far more than a pipe holds, so a program that stops reading
# early makes the writer see EPIPE for certain
BIG = MSG + (b"y" * 1023 + b"\n") * (5 * 1024)


class Run:
    pass


def home(files):
    """a fresh home directory with a Maildir and the files given"""
    h = t.tmpdir("helpers-home.")
    os.chmod(h, 0o755)
    for sub in ("Maildir/tmp", "Maildir/new", "Maildir/cur"):
        os.makedirs(os.path.join(h, sub))
    for name, text in files.items():
        t.write(os.path.join(h, name), text)
    return h


def local(files, msg=MSG, qq_exit=None, local="joe", dash="", ext="", sender=SENDER):
    """qmail-local on msg (a file on its descriptor 0) for joe@example.org"""
    r = Run()
    r.home = home(files)
    rec = t.tmpdir("helpers-rec.")
    env = t.environ({"PATH": PATH, "QMAILQUEUE": RECORDER, "QQ_RECORD": rec,
                     "QQ_EXIT": None if qq_exit is None else str(qq_exit)})
    mf = os.path.join(rec, "input")
    t.write(mf, msg)
    with open(mf, "rb") as f:
        p = subprocess.run([QL, "joe", r.home, local, dash, ext, "example.org", sender, "./Maildir/"],
                           stdin=f, capture_output=True, env=env, timeout=60)
    os.unlink(mf)
    r.rc, r.out = p.returncode, p.stdout.decode("utf-8", "replace")
    r.forwards = []
    n = 0
    while os.path.exists(os.path.join(rec, "%d.msg" % n)):
        r.forwards.append((open(os.path.join(rec, "%d.env" % n), "rb").read(),
                           open(os.path.join(rec, "%d.msg" % n), "rb").read()))
        n += 1
    r.maildir = [open(os.path.join(r.home, "Maildir/new", f), "rb").read()
                 for f in sorted(os.listdir(os.path.join(r.home, "Maildir/new")))]
    return r


def read(r, name):
    p = os.path.join(r.home, name)
    return open(p, "rb").read() if os.path.exists(p) else None


def helper(argv, msg=MSG, env=None, stdin=None):
    """a helper run by hand: (exit code, stdout, stderr)"""
    e = t.environ({"PATH": PATH, "SENDER": SENDER, "NEWSENDER": SENDER, "DTLINE": DT.decode(),
                   "RPLINE": RP.decode(), "UFLINE": "From alice@sender.example Sat Nov 28 17:00:00 2026\n"})
    e.update(env or {})
    e = {k: v for k, v in e.items() if v is not None}
    if stdin is None:
        d = t.tmpdir("helpers-in.")
        t.write(os.path.join(d, "msg"), msg)
        stdin = open(os.path.join(d, "msg"), "rb")
    with stdin:
        p = subprocess.run([os.path.join(t.BIN, argv[0])] + argv[1:], stdin=stdin, capture_output=True,
                           env=e, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def envelope(sender, *rcpts):
    return b"F" + sender.encode() + b"\0" + b"".join(b"T" + a.encode() + b"\0" for a in rcpts) + b"\0"


def md5(b):
    return hashlib.md5(b).hexdigest() if b is not None else None


# ---- preline --------------------------------------------------------------
CAT = "|preline sh -c 'exec cat > pre.out'\n"
r = local({".qmail": CAT})
out = read(r, "pre.out") or b""
m = FROMLINE.match(out)
t.is_(r.rc, 0, "preline: qmail-local delivers through it")
t.ok(m is not None and out[m.end():] == RP + DT + MSG,
     "preline: the program reads the From_, Return-Path and Delivered-To lines, then the message")
for opts, want in (("-d", lambda o: FROMLINE.match(o) and o[FROMLINE.match(o).end():] == RP + MSG),
                   ("-f", lambda o: o == RP + DT + MSG),
                   ("-r", lambda o: FROMLINE.match(o) and o[FROMLINE.match(o).end():] == DT + MSG),
                   ("-fr", lambda o: o == DT + MSG),
                   ("-d -f -r", lambda o: o == MSG),
                   ("-df --", lambda o: o == RP + MSG)):
    r = local({".qmail": "|preline %s sh -c 'exec cat > pre.out'\n" % opts})
    out = read(r, "pre.out")
    t.ok(r.rc == 0 and out is not None and want(out), "preline %s: the lines it leaves out are gone" % opts)
r = local({".qmail": "|preline sh -c 'exec cat > pre.out' -d\n"})
out = read(r, "pre.out") or b""
t.ok(r.rc == 0 and FROMLINE.match(out) and out.endswith(RP + DT + MSG),
     "preline: options end at the program name (its -d is the program's)")

r = local({".qmail": CAT}, msg=BIG)
out = read(r, "pre.out")
m = FROMLINE.match(out or b"")
t.ok(r.rc == 0 and m is not None and md5(out[m.end():]) == md5(RP + DT + BIG),
     "preline: a 5 MB message reaches the program whole")

# streaming: the program has the first part of the message while
# preline's input is still open; a preline that waited for the end of
# its input would hand nothing over before it
d = t.tmpdir("helpers-stream.")
sout = os.path.join(d, "out")
rfd, wfd = os.pipe()
e = t.environ({"PATH": PATH, "UFLINE": "", "RPLINE": "", "DTLINE": DT.decode()})
p = subprocess.Popen([os.path.join(t.BIN, "preline"), "sh", "-c", "exec cat > '%s'" % sout],
                     stdin=rfd, env=e)
os.close(rfd)
part = b"z" * 1023 + b"\n"
first = part * 1024             # 1 MB
threading.Thread(target=lambda: os.write(wfd, first), daemon=True).start()
end = time.time() + 30
while time.time() < end and (not os.path.exists(sout) or os.path.getsize(sout) < len(DT) + len(first)):
    time.sleep(0.02)
streamed = os.path.exists(sout) and os.path.getsize(sout) == len(DT) + len(first)
t.ok(streamed, "preline: the program gets the message as it comes, before its end")
os.write(wfd, part * 2048)
os.close(wfd)
rc = p.wait(30)
t.ok(rc == 0 and md5(open(sout, "rb").read()) == md5(DT + first + part * 2048),
     "preline: and then the rest of it")

# a program that stops reading early: preline is not killed by SIGPIPE,
# and the program's exit code is what qmail-local hears
r = local({".qmail": "|preline sh -c 'head -c 10 > early.out'\n./Maildir/\n"}, msg=BIG)
t.ok(r.rc == 0 and read(r, "early.out") == b"From alice" and len(r.maildir) == 1,
     "preline: a program that reads 10 bytes of 5 MB and exits 0: delivered, next line followed")
r = local({".qmail": "|preline sh -c 'head -c 10 > /dev/null; exit 99'\n./Maildir/\n"}, msg=BIG)
t.ok(r.rc == 0 and r.maildir == [], "preline: an early exit 99 is passed on: the rest is skipped")
r = local({".qmail": "|preline sh -c 'exit 100'\n./Maildir/\n"}, msg=BIG)
t.ok(r.rc == 100 and "exited with status 100" in r.out and r.maildir == [],
     "preline: an early exit 100 is passed on: a bounce")
t.is_(helper(["preline", "true"], msg=BIG)[0], 0, "preline true on 5 MB: exit 0, no SIGPIPE")
t.is_(helper(["preline", "sh", "-c", "exit 7"])[0], 7, "preline: the program's exit code is its own")

rc, _, err = helper(["preline"])
t.ok(rc == 100 and "usage" in err, "preline without a program: usage, 100")
rc, _, err = helper(["preline", "-x", "cat"])
t.ok(rc == 100 and "usage" in err, "preline with an unknown option: usage, 100")
for var in ("UFLINE", "RPLINE", "DTLINE"):
    rc, _, err = helper(["preline", "cat"], env={var: None})
    t.ok(rc == 111 and ("preline: fatal: %s is not set" % var) in err, "preline: %s unset: 111" % var)
rc, out, err = helper(["preline", "-f", "cat"], env={"UFLINE": None})
t.ok(rc == 0 and out.encode() == RP + DT + MSG, "preline -f needs no UFLINE")
rc, _, err = helper(["preline", "no-such-program-here"])
t.ok(rc == 111 and "preline: fatal: unable to run no-such-program-here: " in err,
     "preline: a missing program is a temporary failure")
rc, _, err = helper(["preline", "sh", "-c", "kill -9 $$"])
t.ok(rc == 111 and "killed by a signal" in err, "preline: a program killed by a signal: 111")

# started with descriptors 1 and 2 closed (by hand, from cron): the pipe
# to the program must not land there and go to it as its own 1 and 2,
# or it would hold its input open and wait for an end that never comes
d = t.tmpdir("helpers-closed.")
cout = os.path.join(d, "out")
t.write(os.path.join(d, "msg"), MSG)
e = t.environ({"PATH": PATH, "UFLINE": "", "RPLINE": RP.decode(), "DTLINE": DT.decode()})
with open(os.path.join(d, "msg"), "rb") as f:
    p = subprocess.Popen(["sh", "-c", 'exec "$@" >&- 2>&-', "sh", os.path.join(t.BIN, "preline"),
                          "sh", "-c", "cat > '%s'" % cout], stdin=f, env=e, start_new_session=True)
try:
    rc = p.wait(20)
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL)   # preline and the program it started
    p.wait(10)
    rc = "still running after 20 s"
t.ok(rc == 0 and os.path.exists(cout) and open(cout, "rb").read() == RP + DT + MSG,
     "preline with descriptors 1 and 2 closed: the program gets the message and its end (%s)" % rc)

# ---- forward --------------------------------------------------------------
r = local({".qmail": '|forward bob@elsewhere.example "carol@x.example"\n'})
t.ok(r.rc == 0 and r.forwards == [(envelope(SENDER, "bob@elsewhere.example", "carol@x.example"), DT + MSG)],
     "forward: one new message to both, the Delivered-To line in front, from the sender")
t.ok(re.search(r"forward: qp \d+", r.out), "forward: its qp is in qmail-local's report")
r = local({".qmail": "|forward bob@elsewhere.example\n"}, msg=BIG)
t.ok(r.rc == 0 and len(r.forwards) == 1 and md5(r.forwards[0][1]) == md5(DT + BIG), "forward: 5 MB whole")
r = local({".qmail-list": "|forward a@x.example\n", ".qmail-list-owner": "&owner@x.example\n"},
          local="joe-list", dash="-", ext="list")
t.ok(r.rc == 0 and r.forwards == [(envelope("joe-list-owner@example.org", "a@x.example"),
                                   b"Delivered-To: joe-list@example.org\n" + MSG)],
     "forward: the envelope sender is NEWSENDER (a list's owner address)")
r = local({".qmail": "|forward bob@elsewhere.example\n"}, sender="")
t.ok(r.rc == 0 and r.forwards == [(envelope("", "bob@elsewhere.example"), DT + MSG)],
     "forward: a bounce is forwarded with the null sender")
r = local({".qmail": "|forward bob@elsewhere.example\n"}, qq_exit=31)
t.ok(r.rc == 100 and "failed with exit code 31" in r.out, "forward: queue refuses for good (31): 100")
r = local({".qmail": "|forward bob@elsewhere.example\n"}, qq_exit=71)
t.ok(r.rc == 111 and "failed with exit code 71" in r.out, "forward: queue refuses for now (71): 111")
r = local({".qmail": "|forward bob@elsewhere.example\n"}, qq_exit=53)
t.is_(r.rc, 111, "forward: queue write error (53): 111")
# a queue program that a signal ends: temporary, and the signal named
KILLED = os.path.join(t.tmpdir("helpers-qq."), "killed")
t.write(KILLED, "#!/bin/sh\ncat >/dev/null\nkill -9 $$\n", 0o755)
rc, _, err = helper(["forward", "x@y.example"], env={"QMAILQUEUE": KILLED})
t.ok(rc == 111 and "forward: fatal: %s was killed by signal 9" % KILLED in err,
     "forward: queue program killed by a signal: 111, the signal named: " + err.strip())

rec = t.tmpdir("helpers-rec.")
rc, out, err = helper(["forward", "x@y.example"], env={"NEWSENDER": None, "SENDER": "s@old.example",
                                                      "QMAILQUEUE": RECORDER, "QQ_RECORD": rec})
t.ok(rc == 0 and open(os.path.join(rec, "0.env"), "rb").read() == envelope("s@old.example", "x@y.example"),
     "forward: without NEWSENDER, SENDER is the sender")
rc, _, err = helper(["forward"])
t.ok(rc == 100 and "usage" in err, "forward without an address: usage, 100")
rc, _, err = helper(["forward", "x@y.example"], env={"NEWSENDER": None, "SENDER": None})
t.ok(rc == 111 and "forward: fatal: NEWSENDER is not set" in err, "forward: no sender in the environment: 111")
rc, _, err = helper(["forward", "x@y.example"], env={"DTLINE": None})
t.ok(rc == 111 and "forward: fatal: DTLINE is not set" in err, "forward: DTLINE unset: 111")
rc, _, err = helper(["forward", "x@y.example"], env={"QMAILQUEUE": "/nonexistent/qq"})
t.ok(rc == 111 and "unable to run /nonexistent/qq" in err, "forward: queue program missing: 111")

# ---- bouncesaying ---------------------------------------------------------
r = local({".qmail": "|bouncesaying 'This address no longer accepts mail.'\n./Maildir/\n"})
t.ok(r.rc == 100 and "This address no longer accepts mail.\n" in r.out and r.maildir == [],
     "bouncesaying: bounces with its text in the report")
SPAM = MSG.replace(b"Subject: test message", b"Subject: spam")
for msg, rc, name in ((MSG, 0, "the program exits 1: next line"), (SPAM, 100, "the program exits 0: bounce")):
    r = local({".qmail": "|bouncesaying 'No spam here.' grep -q '^Subject: spam'\n./Maildir/\n"}, msg=msg)
    t.ok(r.rc == rc and len(r.maildir) == (rc == 0) and (("No spam here." in r.out) == (rc == 100)),
         "bouncesaying with a program: " + name)
r = local({".qmail": "|bouncesaying 'x' sh -c 'exit 111'\n./Maildir/\n"})
t.ok(r.rc == 111 and r.maildir == [], "bouncesaying: the program's 111 is passed on")
r = local({".qmail": "|bouncesaying 'x' sh -c 'exit 100'\n./Maildir/\n"})
t.ok(r.rc == 0 and len(r.maildir) == 1, "bouncesaying: the program's 100 means go on")
r = local({".qmail": "|bouncesaying 'x' no-such-program-here\n./Maildir/\n"})
t.ok(r.rc == 0 and len(r.maildir) == 1 and "no-such-program-here: no such program" in r.out,
     "bouncesaying: a program that does not exist means go on, with a warning in the report")
r = local({".qmail": "|bouncesaying 'x' sh -c 'kill -9 $$'\n./Maildir/\n"})
t.ok(r.rc == 111 and r.maildir == [], "bouncesaying: a program killed by a signal: 111")
rc, _, err = helper(["bouncesaying"])
t.ok(rc == 100 and "usage" in err, "bouncesaying without a text: usage, 100")
rc, _, err = helper(["bouncesaying", "Gone."])
t.ok(rc == 100 and err == "Gone.\n", "bouncesaying prints its text alone")

# ---- condredirect ---------------------------------------------------------
COND = ("|condredirect bob@elsewhere.example grep -q '^Subject: test message'\n"
        "./Maildir/\n|touch after.out\n")
r = local({".qmail": COND})
t.ok(r.rc == 0 and r.forwards == [(envelope(SENDER, "bob@elsewhere.example"), DT + MSG)],
     "condredirect: the program exits 0: the whole message is forwarded, from its start again")
t.ok(r.maildir == [] and read(r, "after.out") is None and re.search(r"condredirect: qp \d+", r.out),
     "condredirect: and exits 99: the lines after it are skipped")
r = local({".qmail": COND.replace("test message", "other")})
t.ok(r.rc == 0 and r.forwards == [] and len(r.maildir) == 1 and read(r, "after.out") == b"",
     "condredirect: the program exits 1: nothing forwarded, the next lines followed")
r = local({".qmail": COND}, msg=BIG)
t.ok(r.rc == 0 and len(r.forwards) == 1 and md5(r.forwards[0][1]) == md5(DT + BIG) and r.maildir == [],
     "condredirect: 5 MB, read by the program and forwarded whole")
r = local({".qmail-list": "|condredirect a@x.example true\n", ".qmail-list-owner": "&owner@x.example\n"},
          local="joe-list", dash="-", ext="list")
t.ok(r.rc == 0 and len(r.forwards) == 1 and r.forwards[0][0] == envelope("joe-list-owner@example.org", "a@x.example"),
     "condredirect: the envelope sender is NEWSENDER")
r = local({".qmail": "|condredirect bob@elsewhere.example sh -c 'exit 111'\n./Maildir/\n"})
t.ok(r.rc == 111 and r.forwards == [] and r.maildir == [], "condredirect: the program's 111 is passed on")
r = local({".qmail": "|condredirect bob@elsewhere.example no-such-program-here\n./Maildir/\n"})
t.ok(r.rc == 0 and r.forwards == [] and len(r.maildir) == 1 and "no such program" in r.out,
     "condredirect: a program that does not exist means go on")
r = local({".qmail": "|condredirect bob@elsewhere.example true\n./Maildir/\n"}, qq_exit=31)
t.ok(r.rc == 100 and r.maildir == [], "condredirect: the queue refuses for good: 100")
r = local({".qmail": "|condredirect bob@elsewhere.example true\n./Maildir/\n"}, qq_exit=71)
t.ok(r.rc == 111 and r.maildir == [], "condredirect: the queue refuses for now: 111")
rc, _, err = helper(["condredirect", "bob@elsewhere.example", "true"], env={"QMAILQUEUE": KILLED})
t.ok(rc == 111 and "condredirect: fatal: %s was killed by signal 9" % KILLED in err,
     "condredirect: queue program killed by a signal: 111, the signal named: " + err.strip())

rc, _, err = helper(["condredirect", "bob@elsewhere.example"])
t.ok(rc == 100 and "usage" in err, "condredirect without a program: usage, 100")
rfd, wfd = os.pipe()
os.write(wfd, MSG)
os.close(wfd)
d = t.tmpdir("helpers-cond.")
rc, _, err = helper(["condredirect", "bob@elsewhere.example", "touch", os.path.join(d, "ran")],
                    stdin=os.fdopen(rfd, "rb"))
t.ok(rc == 111 and "unable to seek in the message" in err and not os.path.exists(os.path.join(d, "ran")),
     "condredirect on a pipe: 111 before the program runs")
rc, _, err = helper(["condredirect", "bob@elsewhere.example", "true"], env={"DTLINE": None})
t.ok(rc == 111 and "DTLINE is not set" in err, "condredirect: DTLINE unset: 111")
rc, _, err = helper(["condredirect", "bob@elsewhere.example", "true"], env={"NEWSENDER": None, "SENDER": None})
t.ok(rc == 111 and "NEWSENDER is not set" in err, "condredirect: no sender in the environment: 111")

# ---- except ---------------------------------------------------------------
for code, want, then in ((0, 100, 0), (100, 0, 1), (111, 111, 0), (3, 0, 1), (99, 0, 1)):
    r = local({".qmail": "|except sh -c 'exit %d'\n./Maildir/\n" % code})
    t.ok(r.rc == want and len(r.maildir) == then, "except: the program exits %d, except %d" % (code, want))
MEMBERS = "|bouncesaying 'Members only.' except grep -q '^From:.*@sender\\.example'\n./Maildir/\n"
r = local({".qmail": MEMBERS})
t.ok(r.rc == 0 and len(r.maildir) == 1, "bouncesaying ... except grep: a member's message is delivered")
r = local({".qmail": MEMBERS}, msg=MSG.replace(b"sender.example>", b"outsider.example>"))
t.ok(r.rc == 100 and "Members only." in r.out and r.maildir == [],
     "bouncesaying ... except grep: anyone else's bounces")
rc, _, err = helper(["except"])
t.ok(rc == 100 and "usage" in err, "except without a program: usage, 100")
rc, _, err = helper(["except", "no-such-program-here"])
t.ok(rc == 111 and "except: fatal: unable to run no-such-program-here" in err,
     "except: a program that cannot be run is 111, not 0")
rc, _, err = helper(["except", "sh", "-c", "kill -9 $$"])
t.ok(rc == 111 and "killed by a signal" in err, "except: a program killed by a signal: 111")

# ---- the whole path: qmail-queue, qmail-send, qmail-lspawn, qmail-local ----
D = qsend.DOMAIN
s = qsend.Scene()
try:
    bob = s.home("bob", {"pre": "|preline sh -c 'exec cat > pre.out'\n",
                         "fwd": "|forward carol@%s\n" % D,
                         "closed": "|bouncesaying 'This address is closed; write to carol.'\n",
                         "cond": "|condredirect carol@%s grep -q '^Subject: for carol'\n./Maildir/\n" % D})
    carol = s.home("carol")
    pm = s.home("pm")
    s.assign([s.user("bob", bob), s.user("bob", bob, prefix=True), s.user("carol", carol), s.user("pm", pm)])
    s.start(env={"PATH": PATH})

    s.inject("pm@" + D, ["bob-pre@" + D], "From: pm@%s\nSubject: through preline\n\nbody one\n" % D)
    pre = os.path.join(bob, "pre.out")
    t.ok(s.wait(lambda: os.path.exists(pre) and s.queue_empty()), "preline from qmail-send: delivered")
    got = open(pre, "rb").read() if os.path.exists(pre) else b""
    t.ok(re.match(rb"From pm@send\.test \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n"
                  rb"Return-Path: <pm@send\.test>\nDelivered-To: bob-pre@send\.test\nReceived: ", got)
         and got.endswith(b"Subject: through preline\n\nbody one\n"),
         "preline from qmail-send: From_, Return-Path, Delivered-To, then the queued message")

    s.inject("pm@" + D, ["bob-fwd@" + D], "From: pm@%s\nSubject: forwarded\n\nbody two\n" % D)
    t.ok(s.wait(lambda: len(s.maildir(carol)) == 1 and s.queue_empty()), "forward from qmail-send: carol has it")
    m = s.maildir(carol)[0] if s.maildir(carol) else None
    t.ok(m is not None and m["Return-Path"] == "<pm@send.test>" and
         m.get_all("Delivered-To") == ["carol@send.test", "bob-fwd@send.test"] and
         m.get_payload() == "body two\n",
         "forward from qmail-send: the envelope sender kept, both Delivered-To lines")
    t.is_(len(s.maildir(bob)), 0, "forward from qmail-send: nothing for bob himself")

    s.inject("pm@" + D, ["bob-closed@" + D], "From: pm@%s\nSubject: to a closed address\n\nbody three\n" % D)
    t.ok(s.wait(lambda: len(s.maildir(pm)) == 1 and s.queue_empty()), "bouncesaying from qmail-send: a bounce")
    b = s.maildir(pm)[0].as_string() if s.maildir(pm) else ""
    t.ok("This address is closed; write to carol." in b and "bob-closed@send.test" in b,
         "bouncesaying from qmail-send: the bounce says the text")

    s.inject("pm@" + D, ["bob-cond@" + D], "From: pm@%s\nSubject: for carol\n\nbody four\n" % D)
    s.inject("pm@" + D, ["bob-cond@" + D], "From: pm@%s\nSubject: for bob\n\nbody five\n" % D)
    t.ok(s.wait(lambda: len(s.maildir(carol)) == 2 and len(s.maildir(bob)) == 1 and s.queue_empty()),
         "condredirect from qmail-send: one for carol, one for bob")
    t.ok([x["Subject"] for x in s.maildir(carol)].count("for carol") == 1 and
         [x["Subject"] for x in s.maildir(bob)] == ["for bob"],
         "condredirect from qmail-send: each where it belongs")
finally:
    s.finish()
t.done()
