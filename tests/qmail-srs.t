#!/usr/bin/python3
"""SRS end to end: qmail-start with QMAILQUEUE=bin/qmail-srs, a .qmail
forward (&address) to a remote domain (a real aiosmtpd receiver through
control/smtproutes), the bounce back to the SRS address reversed by
qmail-srs -r in the alias user's .qmail-srs-default, and forged or
expired SRS addresses refused."""
import base64
import hashlib
import hmac
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402
import qsend  # noqa: E402

t.need_home()
try:
    from aiosmtpd.controller import Controller
except ImportError:
    t.skip_all("python3-aiosmtpd is not installed")

D = qsend.DOMAIN
SRSD = "srs." + D
SECRET = "test-secret-1"
SRSCONTROLS = ("srsdomain", "srssecret", "srsmaxage", "smtproutes", "virtualdomains")


class Handler:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 2.0.0 ok"


def srs_hash(data):
    mac = hmac.new(SECRET.encode(), data.lower().encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()[:6].replace("/", "_").replace("+", ".")


def tt(day):
    b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return b32[(day >> 5) & 31] + b32[day & 31]


t.plan(14)
s = qsend.Scene()
c = None
aliasfile, saved_alias = None, None
saved_env = os.environ.get("QMAILQUEUE")
try:
    port = t.free_port()
    h = Handler()
    c = Controller(h, hostname="127.0.0.1", port=port, server_hostname="rx.test")
    c.start()
    bob = s.home("bob", {"": "&carol@far.test\n"})
    # the SRS domain's local parts go to the alias user, as qmail-srs(8) says
    aliasfile = os.path.join(t.HOME, "alias", ".qmail-srs-default")
    saved_alias = open(aliasfile, "rb").read() if os.path.exists(aliasfile) else None
    t.write(aliasfile, "|%s -r\n" % os.path.join(t.BIN, "qmail-srs"))
    s.assign([s.user("bob", bob)])
    t.control("virtualdomains", "%s:srs\n" % SRSD)
    t.control("smtproutes", "far.test:[127.0.0.1]:%d\norig.test:[127.0.0.1]:%d\n" % (port, port))
    t.control("srsdomain", SRSD + "\n")
    t.control("srssecret", SECRET + "\n")
    t.control("retryremote", "1\n")
    os.environ["QMAILQUEUE"] = os.path.join(t.BIN, "qmail-srs")
    s.start()

    # a forward to a remote domain: the sender is rewritten
    t.is_(s.inject("alice@orig.test", ["bob@" + D], "From: alice@orig.test\nSubject: fwd\n\nforward me\n"),
          0, "message for bob accepted")
    t.ok(s.wait(lambda: len(h.mails) >= 1, 30), "forwarded to far.test")
    sender, rcpts, body = h.mails[0] if h.mails else ("", [], b"")
    m = re.match(r"SRS0=([A-Za-z0-9_.]{6})=([A-Z2-7]{2})=orig\.test=alice@" + re.escape(SRSD) + "$", sender)
    t.ok(m is not None, "the forward's sender is an SRS0 address at %s: %s" % (SRSD, sender))
    t.is_(rcpts, ["carol@far.test"], "to the forward's address")
    if m:
        want = srs_hash(m.group(2) + "orig.test" + "alice")
        t.is_(m.group(1), want, "its hash is HMAC-SHA256 of timestamp, domain and local part")
    else:
        t.ok(False, "its hash is HMAC-SHA256 of timestamp, domain and local part")

    # the bounce to the SRS address reaches the original sender
    h.mails.clear()
    t.is_(s.inject("", [sender], "From: MAILER-DAEMON@far.test\nSubject: failure notice\n\nbounced\n"),
          0, "bounce to the SRS address accepted")
    t.ok(s.wait(lambda: len(h.mails) >= 1, 30), "the bounce went on")
    got = h.mails[0] if h.mails else (None, [], b"")
    t.is_(got[1], ["alice@orig.test"], "to the original sender")
    t.ok(got[0] in ("", "<>") and b"bounced" in got[2],
         "with the null sender and the bounce's text: %r %r" % (got[0], got[2][-40:]))

    # a local sender is not rewritten
    h.mails.clear()
    s.inject("dave@" + D, ["bob@" + D], "Subject: local\n\nlocal sender\n")
    t.ok(s.wait(lambda: len(h.mails) >= 1, 30) and h.mails[0][0] == "dave@" + D,
         "a sender of ours stays as it is: %s" % (h.mails[0][0] if h.mails else None))

    # forged and expired addresses are refused
    h.mails.clear()
    day = int(time.time() // 86400)
    forged = "SRS0=AAAAAA=%s=orig.test=alice@%s" % (tt(day), SRSD)
    old = tt(day - 30)
    expired = "SRS0=%s=%s=orig.test=alice@%s" % (srs_hash(old + "orig.test" + "alice"), old, SRSD)
    s.inject("", [forged], "Subject: forged\n\nforged bounce\n")
    s.inject("", [expired], "Subject: expired\n\nexpired bounce\n")
    t.ok(s.wait(lambda: s.log().count("exited with status 100") >= 2 and s.queue_empty(), 30),
         "both refused permanently by qmail-srs -r")
    t.is_([m for m in h.mails if "alice@orig.test" in m[1]], [], "nothing reached the original sender")
    log = s.log()
    t.ok(re.search(r"forged", log), "the log says forged")
    t.ok(re.search(r"expired", log), "the log says expired")
finally:
    if saved_env is None:
        os.environ.pop("QMAILQUEUE", None)
    else:
        os.environ["QMAILQUEUE"] = saved_env
    s.finish()
    if aliasfile is None:
        pass
    elif saved_alias is None:
        if os.path.exists(aliasfile):
            os.unlink(aliasfile)
    else:
        t.write(aliasfile, saved_alias)
    for name in SRSCONTROLS + ("retryremote",):
        t.control(name, None)
    if c:
        c.stop()
t.done()
