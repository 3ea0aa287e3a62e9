#!/usr/bin/python3
"""qmail-lspawn spoken to directly, as qmail-send speaks to it: requests
"slot NUL id NUL Fsender NUL Trecipient NUL NUL" on descriptor 0, one
answer "slot NUL letter text NUL" per request on descriptor 1, with the
real qmail-local delivering into real Maildirs.  Covers the letters K, D
and Z, several deliveries at once, a missing message file, malformed
and busy-slot requests (ignored), a users/assign.cdb replaced between
two deliveries (used at once), a home that does not exist, a qmail-local
killed by a signal (its deferral says so first, then what it had
written), and end of input while a delivery still runs (answered, then
exit 0)."""
import os
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

D = qsend.DOMAIN
t.plan(36)


class Lspawn:
    def __init__(self, errf):
        self.err = open(errf, "wb")
        self.p = t.start([os.path.join(t.BIN, "qmail-lspawn"), "./Maildir/"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, cwd="/")
        self.buf = b""

    def send(self, slot, mid, rcpt, sender="s@x.example"):
        req = b"%d\0%d\0F%s\0T%s\0\0" % (slot, mid, sender.encode(), rcpt.encode())
        os.write(self.p.stdin.fileno(), req)

    def answers(self, n, timeout=20.0):
        """n answers as [(slot, letter, text)], or fewer on timeout."""
        out = []
        end = time.time() + timeout
        fd = self.p.stdout.fileno()
        while len(out) < n:
            while len(out) < n:
                i = self.buf.find(b"\0")
                j = self.buf.find(b"\0", i + 1) if i >= 0 else -1
                if j < 0:
                    break
                out.append((int(self.buf[:i]), self.buf[i + 1:i + 2].decode(),
                            self.buf[i + 2:j].decode("ascii", "replace")))
                self.buf = self.buf[j + 1:]
            if len(out) == n:
                break
            left = end - time.time()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            r = os.read(fd, 65536)
            if not r:
                break
            self.buf += r
        return out

    def nothing_for(self, secs):
        fd = self.p.stdout.fileno()
        return not self.buf and not select.select([fd], [], [], secs)[0]


s = qsend.Scene()
lsp = None
try:
    a = s.home("a")
    a2 = s.home("a2")
    b = s.home("b", {"": "|echo no such luck; exit 100\n"})
    c = s.home("c", {"": "|echo try later; exit 111\n"})
    w = s.home("w", {"": "|sleep 1\n./Maildir/\n"})
    s.assign([s.user("alice", a), s.user("bob", b), s.user("carol", c), s.user("wait", w),
              "=nohome:u:%d:%d:%s/none:::" % (s.uid, s.gid, s.dir)])
    rc = s.inject("s@x.example", ["alice@" + D], "Subject: lspawn\n\nhello\n")
    mess = t.queue_files("mess")
    t.ok(rc == 0 and len(mess) == 1, "a message in the queue to deliver")
    mid = int(os.path.basename(mess[0])) if mess else 0

    errf = os.path.join(s.dir, "stderr")
    lsp = Lspawn(errf)
    lsp.send(0, mid, "alice@" + D)
    got = lsp.answers(1)
    t.ok(len(got) == 1 and got[0][0] == 0 and got[0][1] == "K" and "delivered: 1 to mailboxes" in got[0][2],
         "delivered: K and qmail-local's report (%r)" % (got,))
    t.ok(len(s.maildir(a)) == 1 and b"\nhello\n" in s.maildir(a)[0].as_bytes(),
         "the message is in alice's Maildir")

    lsp.send(5, mid, "bob@" + D)
    got = lsp.answers(1)
    t.ok(got and got[0][:2] == (5, "D") and "no such luck" in got[0][2], "exit 100: D with the program's words (%r)" % (got,))
    lsp.send(6, mid, "carol@" + D)
    got = lsp.answers(1)
    t.ok(got and got[0][:2] == (6, "Z") and "try later" in got[0][2], "exit 111: Z (%r)" % (got,))

    # several at once: every slot answered once
    for slot in (1, 2, 3, 999):
        lsp.send(slot, mid, "alice@" + D)
    got = lsp.answers(4)
    t.ok(sorted(g[0] for g in got) == [1, 2, 3, 999] and all(g[1] == "K" for g in got),
         "four deliveries at once, four answers (%r)" % ([g[:2] for g in got],))
    t.ok(len(s.maildir(a)) == 5, "five messages in alice's Maildir")

    lsp.send(7, 1, "alice@" + D)
    got = lsp.answers(1)
    t.ok(got == [(7, "Z", "unable to open the message file")], "missing message file: Z at once (%r)" % (got,))

    # malformed and busy-slot requests are ignored, the next one is served
    os.write(lsp.p.stdin.fileno(), b"1000\0%d\0Fs@x.example\0Talice@%s\0\0" % (mid, D.encode()))
    os.write(lsp.p.stdin.fileno(), b"8\0%d\0Talice@%s\0\0" % (mid, D.encode()))
    t.ok(lsp.nothing_for(0.5), "slot out of range, missing sender field: no answer")
    with open(errf, "rb") as f:
        err = f.read()
    t.ok(err.count(b"qmail-lspawn: warning: ignoring a malformed request\n") == 2, "and a warning each (%r)" % err)
    lsp.send(9, mid, "wait@" + D)
    lsp.send(9, mid, "alice@" + D)
    got = lsp.answers(2, timeout=3)
    t.ok(len(got) == 1 and got[0][:2] == (9, "K"), "a request for a busy slot is ignored (%r)" % (got,))
    t.ok(len(s.maildir(w)) == 1 and len(s.maildir(a)) == 5, "only the first request of slot 9 delivered")
    with open(errf, "rb") as f:
        err = f.read()
    t.ok(b"qmail-lspawn: warning: ignoring a request for a busy slot\n" in err, "with a warning")

    # a new users/assign.cdb counts at the very next delivery
    s.assign([s.user("alice", a2)])
    lsp.send(10, mid, "alice@" + D)
    got = lsp.answers(1)
    t.ok(got and got[0][:2] == (10, "K") and len(s.maildir(a2)) == 1 and len(s.maildir(a)) == 5,
         "users/assign.cdb replaced: the new home is used at once")
    s.assign([s.user("alice", a)])
    lsp.send(11, mid, "alice@" + D)
    got = lsp.answers(1)
    t.ok(got and got[0][:2] == (11, "K") and len(s.maildir(a)) == 6 and len(s.maildir(a2)) == 1,
         "and replaced again: the old home again")
    # rewritten in place (same inode) rather than renamed
    s.assign([s.user("alice", a2)])
    with open(os.path.join(s.users, "assign.cdb"), "rb") as f:
        newer = f.read()
    s.assign([s.user("alice", a)])
    with open(os.path.join(s.users, "assign.cdb"), "r+b") as f:
        f.write(newer)
        f.truncate()
    lsp.send(12, mid, "alice@" + D)
    got = lsp.answers(1)
    t.ok(got and got[0][:2] == (12, "K") and len(s.maildir(a2)) == 2 and len(s.maildir(a)) == 6,
         "users/assign.cdb rewritten in place: used at once")
    s.assign([s.user("alice", a), s.user("wait", w), "=nohome:u:%d:%d:%s/none:::" % (s.uid, s.gid, s.dir)])

    lsp.send(13, mid, "nohome@" + D)
    got = lsp.answers(1)
    t.ok(got and got[0][:2] == (13, "Z"), "a home that does not exist: Z (%r)" % (got,))

    # a qmail-local killed by a signal after the Maildir delivery: a
    # program line's $PPID is qmail-local (sh -c runs it).  Its report
    # is written at its exit, so first it has said nothing; then the
    # program writes the whole report into qmail-local's output, as
    # qmail-local would, before killing it: killed between the write of
    # its report and its exit, it must not be deferred as "delivered"
    killer = s.home("killer", {"": "./Maildir/\n|kill -9 $PPID\n"})
    sayer = s.home("sayer", {"": "./Maildir/\n|printf 'delivered: 1 to mailboxes, 0 forwarded, "
                                 "0 programs\\n' > /proc/$PPID/fd/1; kill -9 $PPID\n"})
    s.assign([s.user("alice", a), s.user("wait", w), s.user("killer", killer), s.user("sayer", sayer)])
    lsp.send(18, mid, "killer@" + D)
    got = lsp.answers(1)
    t.is_(got, [(18, "Z", "qmail-local was killed by signal 9")],
          "qmail-local killed before its report: Z, and it says so")
    t.is_(len(s.maildir(killer)), 1, "(the Maildir delivery had been made)")
    lsp.send(19, mid, "sayer@" + D)
    got = lsp.answers(1)
    t.is_(got, [(19, "Z", "qmail-local was killed by signal 9; it had said: "
                          "delivered: 1 to mailboxes, 0 forwarded, 0 programs")],
          "qmail-local killed after its report: Z, the kill first, then what it had said")
    t.is_(len(s.maildir(sayer)), 1, "(the Maildir delivery had been made)")
    s.assign([s.user("alice", a), s.user("wait", w), "=nohome:u:%d:%d:%s/none:::" % (s.uid, s.gid, s.dir)])

    # users/assign counts for postmaster too (qmail-users(5))
    pm = s.home("pm")
    s.assign([s.user("alice", a), s.user("wait", w), s.user("postmaster", pm)])
    lsp.send(14, mid, "PostMaster@" + D)
    got = lsp.answers(1)
    t.ok(got and got[0][:2] == (14, "K") and len(s.maildir(pm)) == 1,
         "postmaster in users/assign: delivered to its home, not the alias user's (%r)" % (got,))
    # the alias user gets the local part, in its own case, as EXT
    aliasq = os.path.join(t.HOME, "alias", ".qmail-zed-default")
    extout = os.path.join(s.dir, "ext.out")
    t.write(aliasq, '|echo "$EXT $DEFAULT" > %s\n' % extout)
    lsp.send(15, mid, "Zed-Foo.Bar@" + D)
    got = lsp.answers(1)
    os.unlink(aliasq)
    t.ok(got and got[0][:2] == (15, "K") and os.path.exists(extout) and
         open(extout).read() == "Zed-Foo.Bar Foo.Bar\n",
         "alias user: EXT and DEFAULT keep the case they came in (%r)" % (got,))
    # users/assign first for root too, and an empty dash without a
    # .qmailEXT means defaultdelivery: what qmail-smtpd's RCPT check takes
    h4 = s.home("h4", {"c-default": "./Maildir/\n"})
    h5 = s.home("h5")
    s.assign([s.user("wait", w), "+:catch:%d:%d:%s:-:c-:" % (s.uid, s.gid, h4),
              "+vp-:vp:%d:%d:%s:::" % (s.uid, s.gid, h5)])
    lsp.send(16, mid, "root@" + D)
    lsp.send(17, mid, "vp-joe@virt.example")
    got = sorted(lsp.answers(2))
    t.ok(len(got) == 2 and got[0][:2] == (16, "K") and len(s.maildir(h4)) == 1,
         "root: the users/assign catch-all, its .qmail-c-default (%r)" % (got,))
    t.ok(len(got) == 2 and got[1][:2] == (17, "K") and len(s.maildir(h5)) == 1,
         "an empty dash and no .qmailjoe: defaultdelivery (%r)" % (got,))
    s.assign([s.user("alice", a), s.user("wait", w), "=nohome:u:%d:%d:%s/none:::" % (s.uid, s.gid, s.dir)])

    # quick answers: the answer does not wait for a timer after the child's exit
    t0 = time.time()
    n = 40
    for i in range(n):
        lsp.send(20, mid, "alice@" + D)
        got = lsp.answers(1)
        if got != [(20, "K", "delivered: 1 to mailboxes, 0 forwarded, 0 programs")]:
            break
    took = time.time() - t0
    t.ok(i == n - 1 and len(s.maildir(a)) == 6 + n, "%d deliveries one after another, each answered" % n)
    t.diag("%.2f ms per delivery, one at a time" % (took * 1000 / n))

    # end of input while a delivery runs: it is answered, then exit 0
    lsp.send(30, mid, "wait@" + D)
    time.sleep(0.2)
    lsp.p.stdin.close()
    got = lsp.answers(1, timeout=10)
    t.ok(got and got[0][:2] == (30, "K"), "end of input: the running delivery still answered (%r)" % (got,))
    try:
        rc = lsp.p.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    t.is_(rc, 0, "then qmail-lspawn exits 0")
    t.ok(len(s.maildir(w)) == 2, "and the delivery is in the Maildir")
    lsp = None

    # bad usage
    r = subprocess.run([os.path.join(t.BIN, "qmail-lspawn")], capture_output=True, stdin=subprocess.DEVNULL)
    t.ok(r.returncode == 100 and b"usage" in r.stderr, "no defaultdelivery: exit 100")

    # a fresh qmail-lspawn, control/timeoutcommand 1: a delivery may take 2 s
    t.control("timeoutcommand", "1\n")
    stopper = s.home("stopper", {"": "|kill -STOP $PPID\n"})
    logger = s.home("logger", {"": "|echo forged-log-line > /proc/$PPID/fd/2\n./Maildir/\n"})
    # two programs, each within qmail-local's 1 s, 1.5 s in all
    twice = s.home("twice", {"": "|sleep 0.75\n|sleep 0.75\n./Maildir/\n"})
    s.assign([s.user("alice", a), s.user("stopper", stopper), s.user("logger", logger),
              s.user("twice", twice)])
    errf2 = os.path.join(s.dir, "stderr2")
    lsp = Lspawn(errf2)
    t0 = time.time()
    lsp.send(40, mid, "stopper@" + D)
    got = lsp.answers(1, timeout=15)
    t.ok(got == [(40, "Z", "the delivery ran longer than 2 seconds and was killed")] and time.time() - t0 < 10,
         "a qmail-local its user stopped is killed after 2 s: Z, the reason alone (%r)" % (got,))
    lsp.send(41, mid, "logger@" + D)
    got = lsp.answers(1)
    with open(errf2, "rb") as f:
        err = f.read()
    t.ok(got and got[0][:2] == (41, "K") and b"forged-log-line" not in err,
         "qmail-local's stderr is not qmail-lspawn's (the log): %r %r" % (got, err))
    # the 2 s are counted to the millisecond: a delivery of 1.5 s started
    # late in a (monotonic) second, looked at again just after the second
    # after next (another request wakes qmail-lspawn then), is not past
    # them; counted in whole seconds it was, after 1.1 s
    while time.monotonic() % 1 < 0.9:
        time.sleep(0.01)
    m0 = time.monotonic()
    lsp.send(45, mid, "twice@" + D)
    wake = int(m0) + 2.05
    while time.monotonic() < wake:
        time.sleep(0.01)
    lsp.send(46, mid, "alice@" + D)
    got = sorted(lsp.answers(2))
    t.ok([g[:2] for g in got] == [(45, "K"), (46, "K")] and len(s.maildir(twice)) == 1,
         "a delivery within the 2 s, started as a second turns, is not killed (%r)" % (got,))

    # queue/mess is qmailq's: no link followed, no FIFO opened, no file of another owner
    split = int(open(os.path.join(t.SRC, "conf-split")).readline())
    messdir = os.path.dirname(mess[0])
    secret = os.path.join(s.dir, "secret")
    t.write(secret, "ROOT-ONLY SECRET\n", 0o600)
    planted = os.path.join(messdir, str(mid + split * 1000))
    os.symlink(secret, planted)
    lsp.send(42, mid + split * 1000, "alice@" + D)
    got = lsp.answers(1)
    os.unlink(planted)
    t.ok(got == [(42, "Z", "unable to open the message file")] and
         not any(b"ROOT-ONLY" in m.as_bytes() for m in s.maildir(a)),
         "a symbolic link in queue/mess: Z, nothing delivered (%r)" % (got,))
    os.mkfifo(planted)
    lsp.send(43, mid + split * 1000, "alice@" + D)
    got = lsp.answers(1, timeout=5)
    os.unlink(planted)
    t.ok(got == [(43, "Z", "unable to open the message file")], "a FIFO in queue/mess: Z at once (%r)" % (got,))
    if os.getuid() == 0:
        t.write(planted, "Subject: not ours\n\nx\n")
        os.chown(planted, 65534, 65534)
        lsp.send(44, mid + split * 1000, "alice@" + D)
        got = lsp.answers(1)
        os.unlink(planted)
        t.ok(got == [(44, "Z", "unable to open the message file")],
             "a message file of another owner: Z (%r)" % (got,))
    else:
        t.skip("not root: no file of another owner can be made")
    t.control("timeoutcommand", None)
finally:
    if lsp is not None:
        t.stop(lsp.p, signal.SIGKILL)  # it ignores SIGTERM
    s.finish()
t.done()
