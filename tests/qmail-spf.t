#!/usr/bin/python3
# SPF at MAIL FROM (qmail-smtpd, lib/spf): records served by a real
# dnsmasq on 127.0.0.1, a real tcpserver, smtplib as the client.  Each
# result in record mode (the Authentication-Results field after our
# Received line) and in reject mode (the SMTP reply).
import os
import smtplib
import socket
import subprocess
import sys
import shutil
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402
import smtpdtest as s  # noqa: E402

if not shutil.which("dnsmasq"):
    t.skip_all("dnsmasq is not installed (Debian package dnsmasq-base)")
t.need_home()

DNSPORT = t.free_port()
DEADPORT = t.free_port(socket.AF_INET, "127.0.0.1")  # nobody answers there
dnsdir = t.tmpdir("spf-dns.")


# a name server that fails at once: the temporary failures cost no time
BADPORT = t.servfail_server()

txt = {
    "pass.test": "v=spf1 ip4:127.0.0.0/8 -all",
    "fail.test": "v=spf1 ip4:192.0.2.1 -all",
    "soft.test": "v=spf1 ip4:192.0.2.1 ~all",
    "neutral.test": "v=spf1 ?all",
    "mx.test": "v=spf1 mx -all",
    "a.test": "v=spf1 a:host.a.test/24 -all",
    "incl.test": "v=spf1 include:pass.test -all",
    "redir.test": "v=spf1 redirect=fail.test",
    "loop.test": "v=spf1 include:loop2.test -all",
    "loop2.test": "v=spf1 include:loop.test -all",
    "many.test": "v=spf1 " + " ".join("a:h%d.many.test" % i for i in range(1, 12)) + " -all",
    "void.test": "v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test -all",
    "syntax.test": "v=spf1 foo:bar -all",
    "macro.test": "v=spf1 exists:%{ir}.%{l}.ex.test -all",
    "helo.test": "v=spf1 ip4:127.0.0.1 -all",
    "temp.test": "v=spf1 include:x.fail.example -all",
    "slow.test": "v=spf1 include:x.dead.example -all",
    "v6only.test": "v=spf1 ip6:2001:db8::/32 -all",
    # c, r and t are for explanation text only: a permerror in a domain-spec
    "cmacro.test": "v=spf1 exists:%{c}.c.test -all",
    "rmacro.test": "v=spf1 -all exp=%{r}.example.com",
    # '/' as a macro delimiter is no prefix length
    "slash.test": "v=spf1 a:%{l/}.slash.test/24 -all",
    "slash32.test": "v=spf1 a:%{l/}.slash.test -all",
    # the one address that matches after 100 that do not
    "manya.test": "v=spf1 a:hosts.manya.test -all",
}
args = ["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
        "--listen-address=127.0.0.1", "--bind-interfaces", "--port=%d" % DNSPORT, "--pid-file=",
        "--local=/test/", "--server=/dead.example/127.0.0.1#%d" % DEADPORT,
        "--server=/fail.example/127.0.0.1#%d" % BADPORT,
        "--log-facility=" + os.path.join(dnsdir, "log")]
for name, rec in txt.items():
    args.append("--txt-record=%s,%s" % (name, rec))
args += ["--txt-record=two.test,v=spf1 -all", "--txt-record=two.test,v=spf1 +all",
         "--host-record=none.test,192.0.2.9", "--mx-host=mx.test,mx1.mx.test,10",
         "--host-record=mx1.mx.test,127.0.0.1", "--host-record=host.a.test,127.0.0.77",
         "--host-record=1.0.0.127.joe.ex.test,127.0.0.2"]
args += ["--host-record=h%d.many.test,192.0.2.%d" % (i, i) for i in range(1, 12)]
args += ["--host-record=127.0.0.1.c.test,127.0.0.2", "--host-record=joe.slash.test,127.0.0.77"]
# More records than the first 32: dnsmasq gives a name's TXT records in
# the reverse order of its options, so the record given first comes
# last; and it starts a name's addresses with the last one given, and
# moves each answer's start one back (the test asks a few times only).
junk = ["--txt-record=%s,junk record number %d" % (name, i)
        for name in ("bigtxt.test", "bigtwo.test") for i in range(40)]
args += ["--txt-record=bigtxt.test,v=spf1 ip4:192.0.2.1 -all"] + junk[:40]
args += ["--txt-record=bigtwo.test,v=spf1 +all"] + junk[40:] + ["--txt-record=bigtwo.test,v=spf1 -all"]
args += ["--host-record=hosts.manya.test,198.51.100.%d" % i for i in range(1, 101)]
args += ["--host-record=hosts.manya.test,127.0.0.1"]
t.start(args)
if not t.wait_port(DNSPORT):
    t.diag("dnsmasq did not start")

s.setup()
s.control("nameservers", "127.0.0.1:%d\n" % DNSPORT)
s.control("spfbehavior", None)
rec = t.tmpdir("spf-qq.")
QQ = os.path.join(t.SRC, "tests", "qq-record")
srv = s.Server(env={"QMAILQUEUE": QQ, "QQ_RECORD": rec})

cases = [
    # sender, expected result, expected reject-mode reply code
    ("joe@pass.test", "pass", 250),
    ("joe@fail.test", "fail", 550),
    ("joe@soft.test", "softfail", 250),
    ("joe@neutral.test", "neutral", 250),
    ("joe@none.test", "none", 250),
    ("joe@nxdomain.test", "none", 250),
    ("joe@mx.test", "pass", 250),
    ("joe@a.test", "pass", 250),
    ("joe@incl.test", "pass", 250),
    ("joe@redir.test", "fail", 550),
    ("joe@loop.test", "permerror", 250),
    ("joe@many.test", "permerror", 250),
    ("joe@void.test", "permerror", 250),
    ("joe@two.test", "permerror", 250),
    ("joe@syntax.test", "permerror", 250),
    ("joe@macro.test", "pass", 250),
    ("bob@macro.test", "fail", 550),
    ("joe@temp.test", "temperror", 451),
    ("joe@v6only.test", "fail", 550),
    ("joe@bigtxt.test", "fail", 550),
    ("joe@bigtwo.test", "permerror", 250),
    ("joe@manya.test", "pass", 250),
    ("joe@cmacro.test", "permerror", 250),
    ("joe@rmacro.test", "permerror", 250),
    ("joe@slash.test", "pass", 250),
    ("joe@slash32.test", "fail", 550),
]

t.plan(len(cases) * 3 + 10)


def send(sender, helo="client.test"):
    """MAIL FROM sender, one message; the reply to MAIL and the message queued (or None)."""
    for f in os.listdir(rec):
        os.unlink(os.path.join(rec, f))
    c = smtplib.SMTP("127.0.0.1", srv.port, local_hostname=helo, timeout=60)
    c.ehlo()
    code, msg = c.mail(sender)
    got = None
    if code == 250:
        c.rcpt("joe@lanmail.test")
        c.data(b"Subject: spf\r\n\r\nbody\r\n")
        p = os.path.join(rec, "0.msg")
        if os.path.exists(p):
            got = open(p, "rb").read()
    c.quit()
    return code, msg.decode(), got


def arfield(m):
    """The Authentication-Results field that follows our Received line."""
    lines = m.split(b"\n")
    i = 1
    while lines[i].startswith(b"\t"):
        i += 1
    if not lines[i].startswith(b"Authentication-Results: "):
        return None
    j = i + 1
    while lines[j].startswith(b"\t"):
        j += 1
    return b"\n".join(lines[i:j]).decode()


# off (the default): no field at all
code, msg, m = send("joe@fail.test")
t.ok(code == 250 and m is not None and m.startswith(b"Received: from ") and arfield(m) is None,
     "spfbehavior missing: nothing checked, nothing added")

s.control("spfbehavior", "record\n")
for sender, want, _ in cases:
    code, msg, m = send(sender)
    t.is_(code, 250, "record: %s accepted" % sender)
    ar = arfield(m) if m else None
    t.ok(ar is not None and ar.startswith("Authentication-Results: lanmail.test;\n\tspf=%s " % want)
         and ("smtp.mailfrom=%s" % sender) in ar, "record: %s gives spf=%s (%r)" % (sender, want, ar or (m or b"")[:200]))

# the null sender: the HELO name is checked
code, msg, m = send("", helo="helo.test")
ar = arfield(m) if m else ""
t.ok("spf=pass" in ar and "smtp.helo=helo.test" in ar, "null sender: HELO identity checked (%r)" % ar)

# a relay client is not checked
s.control("spfbehavior", "reject\n")
for sender, want, rcode in cases:
    code, msg, m = send(sender)
    t.is_(code, rcode, "reject: %s -> %d %s" % (sender, code, msg.split("\n")[0][:60]))
code, msg, m = send("joe@fail.test")
t.ok(msg.startswith("5.7.23 SPF: fail.test does not allow 127.0.0.1"), "the 550 reply names domain and address: " + msg)
t0 = time.time()
code, msg, m = send("joe@temp.test")
took = time.time() - t0
t.ok(msg.startswith("4.4.3 "), "temperror is a 451 4.4.3, never permanent: " + msg)
# waiting for an answer instead would take both rounds of the resolver's
# timeout, 2 s and 4 s: 5 s leave a slow machine room for the session
t.ok(took < 5, "a name server's SERVFAIL is a temperror at once (%.1f s)" % took)
# a name server that never answers: the resolver's timeout, once
t0 = time.time()
code, msg, m = send("joe@slow.test")
t.ok(code == 451 and msg.startswith("4.4.3 "),
     "no answer at all is a temperror too (451 4.4.3 after %.1f s): %d %s" % (time.time() - t0, code, msg))
code, msg, m = send("joe@soft.test")
ar = arfield(m) if m else ""
t.ok("spf=softfail" in ar, "reject mode still records what it accepts")
srv.stop()

srv = s.Server(env={"QMAILQUEUE": QQ, "QQ_RECORD": rec, "RELAYCLIENT": ""})
code, msg, m = send("joe@fail.test")
t.ok(code == 250 and arfield(m) is None, "a relay client is not checked")
srv.stop()

srv = s.Server(env={"QMAILQUEUE": QQ, "QQ_RECORD": rec, "SPFBEHAVIOR": "off"})
code, msg, m = send("joe@fail.test")
t.ok(code == 250 and arfield(m) is None, "$SPFBEHAVIOR=off overrides control/spfbehavior")
srv.stop()

s.control("spfbehavior", "junk\n")
srv = s.Server(env={"QMAILQUEUE": QQ, "QQ_RECORD": rec})
c = smtplib.SMTP()
try:
    reply = c.connect("127.0.0.1", srv.port)
    got = reply[0]
except smtplib.SMTPException as e:
    got = str(e)
t.ok(got == 421 or "421" in str(got), "a junk control/spfbehavior is trouble (421): %r" % (got,))
srv.stop()

s.control("spfbehavior", None)
s.restore()
t.done()
