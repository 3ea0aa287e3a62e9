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


QQ = os.path.join(t.SRC, "tests", "qq-record")
rec = t.tmpdir("srs-qq.")


def qq_clear():
    for f in os.listdir(rec):
        os.unlink(os.path.join(rec, f))


def qq_env():
    path = os.path.join(rec, "0.env")
    return open(path, "rb").read() if os.path.exists(path) else None


def filter_sender(sender, rcpt="carol@far.test"):
    """bin/qmail-srs as a queue filter with qq-record after it: the
    sender it passes on (None when nothing was passed on)."""
    qq_clear()
    r, w = os.pipe()
    os.write(w, b"F" + sender.encode() + b"\0T" + rcpt.encode() + b"\0\0")
    os.close(w)
    p = subprocess.run([os.path.join(t.BIN, "qmail-srs")], input=b"Subject: x\n\nx\n", stdout=r,
                       stderr=subprocess.PIPE, env=dict(os.environ, NEXTQUEUE=QQ, QQ_RECORD=rec))
    os.close(r)
    env = qq_env()
    if p.returncode != 0 or env is None or not env.startswith(b"F"):
        t.diag("qmail-srs: exit %d %s" % (p.returncode, p.stderr.decode()))
        return None
    return env[1:env.index(b"\0")].decode()


def reverse(local, sender=""):
    """bin/qmail-srs -r LOCAL with qq-record as the queue: (exit code,
    its report, the recipient it queued for or None)."""
    qq_clear()
    p = subprocess.run([os.path.join(t.BIN, "qmail-srs"), "-r", local], input=b"Subject: bounce\n\nx\n",
                       capture_output=True, env=dict(os.environ, NEXTQUEUE=QQ, QQ_RECORD=rec, SENDER=sender))
    env = qq_env()
    m = re.match(rb"F[^\0]*\0T([^\0]*)\0\0$", env or b"")
    return p.returncode, p.stdout.decode(), m.group(1).decode() if m else None


t.plan(38)
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
        want = srs_hash("SRS0=" + m.group(2) + "=orig.test=alice")
        t.is_(m.group(1), want, "its hash is HMAC-SHA256 of SRS0=TT=domain=local")
    else:
        t.ok(False, "its hash is HMAC-SHA256 of SRS0=TT=domain=local")

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
    expired = "SRS0=%s=%s=orig.test=alice@%s" % (srs_hash("SRS0=" + old + "=orig.test=alice"), old, SRSD)
    s.inject("", [forged], "Subject: forged\n\nforged bounce\n")
    s.inject("", [expired], "Subject: expired\n\nexpired bounce\n")
    t.ok(s.wait(lambda: s.log().count("exited with status 100") >= 2 and s.queue_empty(), 30),
         "both refused permanently by qmail-srs -r")
    t.is_([m for m in h.mails if "alice@orig.test" in m[1]], [], "nothing reached the original sender")
    log = s.log()
    t.ok(re.search(r"forged", log), "the log says forged")
    t.ok(re.search(r"expired", log), "the log says expired")

    # the filter alone: qmail's own senders and what SRS cannot carry
    # stay as they are
    for sender, why in (("joe-team-return-@%s-@[]" % D, "a VERP sender of ours (a list post)"),
                        ("list-return-@other.test-@[]", "a VERP sender of another domain"),
                        ("#@[]", "the double-bounce sender"),
                        ("joe@[192.0.2.1]", "a domain literal"),
                        ("joe@[IPv6:2001:db8::1]", "an IPv6 domain literal"),
                        ('"joe smith"@orig.test', "a local part with a blank"),
                        ("a@b@orig.test", "a local part with an '@'")):
        t.is_(filter_sender(sender), sender, "%s stays as it is: %s" % (why, sender))
    t.is_(filter_sender("joe@" + D.upper()), "joe@" + D.upper(), "a sender of ours in capitals stays")
    t.control("virtualdomains", "%s:srs\n.wild.test:wild\nsome@one.test:x\n" % SRSD)
    t.is_(filter_sender("joe@sub.wild.test"), "joe@sub.wild.test",
          "a sender under a .wild.test entry of control/virtualdomains is ours")
    t.ok((filter_sender("joe@one.test") or "").startswith("SRS0="),
         "an address entry of control/virtualdomains makes no domain ours")
    t.control("virtualdomains", "%s:srs\n" % SRSD)
    t.is_(filter_sender("alice@orig.test", "bob@" + D), "alice@orig.test",
          "no recipient elsewhere: the sender stays")
    got = filter_sender("alice@orig.test") or ""
    m = re.match(r"SRS0=([A-Za-z0-9_.]{6})=([A-Z2-7]{2})=orig\.test=alice@" + re.escape(SRSD) + "$", got)
    t.ok(m and m.group(1) == srs_hash("SRS0=" + m.group(2) + "=orig.test=alice"), "a plain sender is rewritten: " + got)
    local = got.split("@")[0]
    t.is_(reverse(local)[0::2], (0, "alice@orig.test"), "and reversed to the original address")

    # one hash, one address: the same bytes cut elsewhere are forged
    rc, out, dest = reverse(local.replace("=orig.test=alice", "=orig.tes=talice"))
    t.ok(rc == 100 and "forged" in out and dest is None,
         "the SRS0 hash does not pass for the domain cut short (%d %s)" % (rc, out.strip()))
    rc, out, dest = reverse(local.replace("=orig.test=alice", "=orig.testa=lice"))
    t.ok(rc == 100 and dest is None, "nor for the local part cut short (%d %s)" % (rc, out.strip()))
    day = int(time.time() // 86400)
    forged = "SRS0=%s=%s=orig.tes=ta" % (srs_hash(tt(day) + "orig.test" + "a"), tt(day))
    rc, out, dest = reverse(forged)
    t.ok(rc == 100 and dest is None, "a hash made the old way, without '=', is refused (%d %s)" % (rc, out.strip()))

    # SRS1: an SRS0 sender of another host
    srs0 = "SRS0=AbCdEf=%s=orig.test=alice" % tt(day)
    got = filter_sender(srs0 + "@host-a.test") or ""
    m = re.match(r"SRS1=([A-Za-z0-9_.]{6})=host-a\.test==AbCdEf=%s=orig\.test=alice@%s$" % (tt(day), re.escape(SRSD)),
                 got)
    t.ok(m and m.group(1) == srs_hash("SRS1=host-a.test==AbCdEf=%s=orig.test=alice" % tt(day)),
         "an SRS0 sender of another host becomes SRS1, hash of host=rest: " + got)
    local = got.split("@")[0]
    t.is_(reverse(local)[0::2], (0, srs0 + "@host-a.test"), "reversed to the SRS0 address at that host")
    rc, out, dest = reverse(local.replace("=host-a.test==", "=host=-a.test="))
    t.ok(rc == 100 and dest is None, "the SRS1 hash does not pass for the host cut short (%d %s)" % (rc, out.strip()))
    got = filter_sender("SRS1=XyZxYz=first.test==AbCdEf=%s=orig.test=alice@host-b.test" % tt(day)) or ""
    t.ok(re.match(r"SRS1=[A-Za-z0-9_.]{6}=first\.test==AbCdEf=%s=orig\.test=alice@%s$" % (tt(day), re.escape(SRSD)),
                  got) is not None, "an SRS1 sender keeps its first host: " + got)
    t.is_(reverse(got.split("@")[0])[0::2], (0, "SRS0=AbCdEf=%s=orig.test=alice@first.test" % tt(day)),
          "and goes back to it")
    # without the type, SRS0's "JR=-x.test=a" would be SRS1's "JR" "=-x.test=a"
    h = srs_hash("SRS0=%s=-x.test=a" % tt(day))
    t.is_(reverse("SRS0=%s=%s=-x.test=a" % (h, tt(day)))[0::2], (0, "a@-x.test"), "an SRS0 address and its hash")
    rc, out, dest = reverse("SRS1=%s=%s=-x.test=a" % (h, tt(day)))
    t.ok(rc == 100 and dest is None, "its hash does not pass for an SRS1 address (%d %s)" % (rc, out.strip()))

    # a next queue program that a signal ends has no exit code to pass
    # on: refused for now (71), and the signal named
    killed = os.path.join(t.tmpdir("srs-killed."), "qq")
    t.write(killed, "#!/bin/sh\ncat >/dev/null\nkill -9 $$\n", 0o755)
    r, w = os.pipe()
    os.write(w, b"Falice@orig.test\0Tcarol@far.test\0\0")
    os.close(w)
    p = subprocess.run([os.path.join(t.BIN, "qmail-srs")], input=b"Subject: x\n\nx\n", stdout=r,
                       stderr=subprocess.PIPE, env=dict(os.environ, NEXTQUEUE=killed))
    os.close(r)
    err = p.stderr.decode()
    t.ok(p.returncode == 71 and "the next queue program was killed by signal 9" in err,
         "the next queue program killed by a signal: exit 71 (%d %s)" % (p.returncode, err.strip()))
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
