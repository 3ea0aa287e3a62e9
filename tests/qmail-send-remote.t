#!/usr/bin/python3
"""qmail-send's remote side: one qmail-remote run (one SMTP transaction)
per message and domain with every recipient at that domain, domains in
parallel, per-recipient outcomes: 5xx bounces that recipient only (an
RFC 3464 report with Remote-MTA and an smtp Diagnostic-Code), 4xx is
retried, and the retry carries only what is left.  A qmail-remote that
runs past control/timeoutremotetotal is killed by qmail-rspawn, and its
recipients are deferred and tried again."""
import email
import email.policy
import os
import re
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

t.need_home()
try:
    from aiosmtpd.controller import Controller
except ImportError:
    t.skip_all("python3-aiosmtpd is not installed")

D = qsend.DOMAIN


class Handler:
    """'perm*' recipients get 550, 'retry*' 451 the first time only."""

    def __init__(self):
        self.mails = []
        self.seen = set()

    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@")[0]
        if local.startswith("perm"):
            return "550 5.1.1 no such user here"
        if local.startswith("retry") and address not in self.seen:
            self.seen.add(address)
            return "451 4.2.0 greylisted, come back"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 ok"

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 ok: queued"


def silent_peer():
    """A peer that greets and then says nothing; (socket, connections)"""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    conns = []

    def loop():
        while True:
            try:
                c, _ = sock.accept()
                c.sendall(b"220 slow.test ready\r\n")
            except OSError:
                return
            conns.append(c)	# held open, closed with the test
    threading.Thread(target=loop, daemon=True).start()
    return sock, conns


s = qsend.Scene()
c = None
slow = None
try:
    slow, slowconns = silent_peer()
    port = t.free_port()
    h = Handler()
    c = Controller(h, hostname="127.0.0.1", port=port, server_hostname="rx.test")
    c.start()
    bob = s.home("bob")
    s.assign([s.user("bob", bob)])
    t.control("smtproutes", "far.test:[127.0.0.1]:%d\nnear.test:[127.0.0.1]:%d\n"
              "slow.test:[127.0.0.1]:%d\n" % (port, port, slow.getsockname()[1]))
    # read when qmail-rspawn starts; far more than the other deliveries need
    t.control("timeoutremotetotal", "4\n")
    t.control("helohost", D + "\n")
    t.control("retryremote", "1\n")
    s.start()

    far = ["u%02d@far.test" % i for i in range(50)]
    rcpts = far + ["perm1@far.test", "a@near.test", "retry@near.test", "b@near.test", "bob@" + D]
    t.is_(s.inject("bob@" + D, rcpts, "From: bob@%s\nSubject: many\n\nhello all\n" % D), 0, "accepted")
    t.ok(s.wait(lambda: s.queue_empty() and len(s.maildir(bob)) == 2, 30), "delivered, bounced, queue empty")
    farmails = [m for m in h.mails if any(r.endswith("@far.test") for r in m[1])]
    t.is_(len(farmails), 1, "far.test: one transaction")
    t.is_(sorted(farmails[0][1]) if farmails else None, far, "carrying all 50 accepted recipients")
    t.is_(farmails[0][0] if farmails else None, "bob@" + D, "with the sender")
    t.ok(farmails and farmails[0][2].endswith(b"hello all\r\n"), "and the message")
    near = [sorted(m[1]) for m in h.mails if any(r.endswith("@near.test") for r in m[1])]
    t.is_(near, [["a@near.test", "b@near.test"], ["retry@near.test"]],
          "near.test: its own transaction, then the retry with only the deferred recipient")
    log = s.log()
    t.ok(re.search(r"to remote far\.test \(51 recipients\)", log) and
         re.search(r"to remote near\.test \(3 recipients\)", log), "log: one delivery per domain")
    started = [m.group(1) for m in re.finditer(r"to remote (\S+) \(\d+ recipients?\)|(success): ", log)]
    t.ok(started[:2] in (["far.test", "near.test"], ["near.test", "far.test"]),
         "both domains started before either finished")
    t.ok(re.search(r"deferral: retry@near\.test: .*451", log), "log: the 451 deferral")
    t.ok(re.search(r"to remote near\.test \(1 recipient\)", log), "log: the retry")
    bounces = [m for m in s.maildir(bob) if m["Subject"] == "failure notice"]
    t.is_(len(bounces), 1, "one bounce")
    b = email.message_from_bytes(bounces[0].as_bytes(), policy=email.policy.default) if bounces else None
    parts = list(b.iter_parts()) if b else []
    blocks = [dict(x.items()) for x in parts[1].get_payload()] if len(parts) == 3 else []
    t.is_([x.get("Final-Recipient") for x in blocks[1:]], ["rfc822; perm1@far.test"], "for the 550 only")
    r = blocks[1] if len(blocks) > 1 else {}
    t.is_(r.get("Status"), "5.1.1", "Status from the remote reply")
    t.is_(r.get("Remote-MTA"), "dns; [127.0.0.1]", "Remote-MTA: the server that said no (smtproutes: [127.0.0.1])")
    t.ok(r.get("Diagnostic-Code", "").startswith("smtp; 550 "),
         "Diagnostic-Code: smtp; with the reply")

    # a host that never answers EHLO (timeoutremote is 1200 s): after 4 s
    # qmail-rspawn kills qmail-remote, the recipient is deferred with the
    # reason, and qmail-send tries again
    t.is_(s.inject("bob@" + D, ["x@slow.test"], "Subject: slow\n\nhello\n"), 0, "accepted for slow.test")
    t.ok(s.wait(lambda: re.search(r"deferral: x@slow\.test: qmail-remote: the delivery ran longer than 4 "
                                  r"seconds and was killed \(control/timeoutremotetotal\)", s.log()), 30),
         "log: killed after 4 s, deferred, with the reason")
    t.ok(s.wait(lambda: len(slowconns) >= 2, 30), "and tried again (%d connections)" % len(slowconns))
finally:
    s.finish()
    if c:
        c.stop()
    t.control("timeoutremotetotal", None)
    if slow:
        slow.close()
        for x in slowconns:
            x.close()


class Holding:
    """slow.test takes HOLD seconds over each message's DATA; fast.test
    none.  Records when each message came and how many were at once."""
    HOLD = 2.0

    def __init__(self):
        self.got = []
        self.now = 0
        self.most = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        slow = any(r.endswith("@slow.test") for r in envelope.rcpt_tos)
        if slow:
            self.now += 1
            self.most = max(self.most, self.now)
            await asyncio.sleep(self.HOLD)
            self.now -= 1
        self.got.append("slow" if slow else "fast")
        return "250 2.0.0 ok: queued"


# a backlog for one slow host takes at most half of concurrencyremote
# while mail for another domain is due, and every slot while none is
NS = 16
s = qsend.Scene()
c = None
try:
    port = t.free_port()
    h = Holding()
    c = Controller(h, hostname="127.0.0.1", port=port, server_hostname="rx.test")
    c.start()
    t.control("smtproutes", "slow.test:[127.0.0.1]:%d\nfast.test:[127.0.0.1]:%d\n" % (port, port))
    t.control("concurrencyremote", "4\n")
    t.control("helohost", D + "\n")
    s.start()
    for i in range(NS):
        s.inject("bob@" + D, ["u%d@slow.test" % i], "Subject: slow %d\n\nx\n" % i)
    t.ok(s.wait(lambda: h.now == 4, 30, 0.01), "alone, the slow domain has every slot (4)")
    t.is_(s.inject("bob@" + D, ["a@fast.test"], "Subject: fast\n\nx\n"), 0, "then mail for fast.test")
    t.ok(s.wait(lambda: "fast" in h.got, 30, 0.01), "delivered")
    slowdone = h.got.count("slow")
    t.ok(slowdone <= 8, "while the slow backlog was in progress (%d of %d done first)" % (slowdone, NS))
    t.ok(s.wait(lambda: h.got.count("slow") == NS and s.queue_empty(), 60), "the backlog delivered too")
    t.is_(h.most, 4, "with every slot while no other domain was due")
finally:
    s.finish()
    if c:
        c.stop()
t.done()
