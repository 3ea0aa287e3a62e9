#!/usr/bin/python3
"""qmail-remote and qmail-rspawn bounded in time: each SMTP reply, all of
its lines, must come within timeoutremote of the moment qmail-remote
starts to wait for it, however the peer cuts it up; and qmail-rspawn
kills a qmail-remote that runs past control/timeoutremotetotal and
defers each of its recipients, saying why; one that a signal ends before
it reports has its recipients deferred with the signal named.

The dribbling peers stop by themselves after DRIP_MAX pieces, so that a
qmail-remote that waits for them all still ends; the tests count the
pieces sent before it hung up, not the seconds it took."""
import os
import select
import signal
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402
import qsend  # noqa: E402

t.need_home()
REMOTE = os.path.join(t.BIN, "qmail-remote")
RSPAWN = os.path.join(t.BIN, "qmail-rspawn")
DRIP_MAX = 30		# pieces a dribbling peer sends at most, one per 0.3 s
DRIP_GAP = 0.3


class Peer:
    """A TCP peer on 127.0.0.1: greeting() speaks to each connection;
    sent counts the pieces a dribble got out before the client left."""

    def __init__(self, greeting):
        self.greeting = greeting
        self.sent = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        t.accept_loop(self.sock, self.one)

    def one(self, c):
        try:
            self.greeting(self, c)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()


def gone(c, wait):
    """wait seconds at most; True when the client closed meanwhile"""
    r, _, _ = select.select([c], [], [], wait)
    if not r:
        return False
    try:
        return c.recv(4096) == b""
    except OSError:
        return True


def dribble(c, piece, sent):
    """piece() every DRIP_GAP seconds until the client leaves or
    DRIP_MAX went out; the count goes to sent"""
    n = 0
    while n < DRIP_MAX:
        c.sendall(piece)
        n += 1
        if gone(c, DRIP_GAP):
            break
    sent.append(n)


def lines(p, c):
    c.sendall(b"220-")
    dribble(c, b"x\r\n220-", p.sent)


def bytes_(p, c):
    c.sendall(b"220 ")
    dribble(c, b"x", p.sent)


def ehlo_lines(p, c):
    c.sendall(b"220 ready\r\n")
    buf = b""
    while b"\n" not in buf:
        d = c.recv(1000)
        if not d:
            return
        buf += d
    c.sendall(b"250-")
    dribble(c, b"x\r\n250-", p.sent)


def silent(p, c):
    """greets, then answers nothing: only a deadline ends it"""
    c.sendall(b"220 ready\r\n")
    while not gone(c, 60):
        pass


tmp = t.tmpdir()
msgfile = os.path.join(tmp, "msg")
with open(msgfile, "wb") as f:
    f.write(b"Subject: test\n\nhello\n")


def sent(peer):
    """the pieces counted: the peer's thread notes them once it sees
    the client gone, which may be a moment after qmail-remote exits"""
    for _ in range(100):
        if peer.sent:
            break
        select.select([], [], [], 0.05)
    return peer.sent


def run(peer, rcpts):
    """qmail-remote to peer; (codes, texts)"""
    t.control("smtproutes", "drip.test:[127.0.0.1]:%d\n" % peer.port)
    with open(msgfile, "rb") as f:
        p = subprocess.run([REMOTE, "drip.test", "a@me.test"] + rcpts, stdin=f,
                           stdout=subprocess.PIPE, timeout=60)
    parts = p.stdout.split(b"\0")[:-1]
    return "".join(x[:1].decode() for x in parts), [x[1:].decode("utf-8", "replace") for x in parts]


peers = []
t.plan(11)
try:
    t.control("me", "me.test\n")
    t.control("timeoutremote", "1\n")
    t.control("timeoutconnect", "3\n")

    # a greeting of one continuation line every 0.3 s (1 s for all of
    # it), of one byte every 0.3 s, and the same for the reply to EHLO:
    # every reply has its deadline, not only the greeting
    for greet, also, what, unit in (
            (lines, "no greeting", "a greeting dribbled line by line", "lines"),
            (bytes_, "", "a greeting dribbled byte by byte", "bytes"),
            (ehlo_lines, "", "the reply to EHLO dribbled", "lines")):
        p = Peer(greet)
        peers.append(p)
        c, x = run(p, ["u@drip.test"])
        t.ok(c == "sZ" and also in x[-1] and "timed out" in x[-1],
             "%s: temporary failure, timed out (%s: %s)" % (what, c, x[-1:]))
        t.ok(sent(p) and p.sent[0] < DRIP_MAX // 2,
             "given up within timeoutremote, after %s of %d %s" % (p.sent, DRIP_MAX, unit))

    # qmail-rspawn: a qmail-remote past control/timeoutremotetotal is
    # killed, and every recipient deferred with the reason
    t.control("timeoutremote", "40\n")
    t.control("timeoutremotetotal", "1\n")
    p = Peer(silent)
    peers.append(p)
    t.control("smtproutes", "drip.test:[127.0.0.1]:%d\n" % p.port)
    qid = 23 * 1000 + 11
    mess = os.path.join(t.HOME, "queue", "mess", str(qid % 23), str(qid))
    os.makedirs(os.path.dirname(mess), exist_ok=True)
    with open(mess, "wb") as f:
        f.write(b"Subject: slow\n\nhello\n")
    req = b"5\0%d\0Hdrip.test\0Fa@me.test\0Tu1@drip.test\0Tu2@drip.test\0\0" % qid
    out = b""
    try:
        out = subprocess.run([RSPAWN], input=req, stdout=subprocess.PIPE, timeout=25).stdout
    except subprocess.TimeoutExpired:
        t.diag("qmail-rspawn still waiting for qmail-remote after 25 s")
    finally:
        os.unlink(mess)
    recs = out.split(b"\0")
    t.ok(recs[:1] == [b"5"] and len(recs) == 4 and recs[3] == b"" and
         all(r[:1] == b"Z" for r in recs[1:3]), "qmail-rspawn: Z for both recipients (%r)" % out)
    t.ok(len(recs) == 4 and all(b"ran longer than 1 seconds and was killed" in r for r in recs[1:3]),
         "the report says why (%r)" % recs[1:2])
    t.ok(len(recs) == 4 and all(r == b"Zqmail-remote: the delivery ran longer than 1 seconds and was "
                                     b"killed (control/timeoutremotetotal)" for r in recs[1:3]),
         "and names the setting, and nothing else")

    # qmail-rspawn: a qmail-remote that a signal ends before it has
    # reported (it is killed once its server has greeted it): every
    # recipient deferred, and the deferral names the signal
    t.control("timeoutremotetotal", "0\n")
    greeted = threading.Event()

    def greet_once(p, c):
        greeted.set()
        silent(p, c)
    p = Peer(greet_once)
    peers.append(p)
    t.control("smtproutes", "drip.test:[127.0.0.1]:%d\n" % p.port)
    with open(mess, "wb") as f:
        f.write(b"Subject: killed\n\nhello\n")
    out = b""
    rs = t.start([RSPAWN], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        rs.stdin.write(req)
        rs.stdin.flush()
        remote = None
        if greeted.wait(20):
            remote = qsend.children(rs.pid).get("qmail-remote")
        if remote:
            os.kill(remote, signal.SIGKILL)
        out = rs.communicate(timeout=25)[0]	# end of input: it answers, then exits
    except subprocess.TimeoutExpired:
        t.diag("qmail-rspawn still running 25 s after qmail-remote was killed")
    finally:
        os.unlink(mess)
    recs = out.split(b"\0")
    t.ok(remote is not None and recs[:1] == [b"5"] and len(recs) == 4 and recs[3] == b"",
         "qmail-remote killed: qmail-rspawn answers for both recipients (%r)" % out)
    t.ok(len(recs) == 4 and all(r == b"Zqmail-remote was killed by signal 9" for r in recs[1:3]),
         "qmail-remote killed: Z, saying it was killed and by which signal (%r)" % recs[1:2])
finally:
    for n in ("me", "smtproutes", "timeoutremote", "timeoutconnect", "timeoutremotetotal"):
        t.control(n, None)
    for p in peers:
        p.close()
t.done()
