#!/usr/bin/python3
"""qmail-smtpd: AUTH only over TLS from networks control/plaintextauthnets
does not trust (RFC 4954 538 5.7.11), like Postfix's smtpd_tls_auth_only.
A client made to look like 192.0.2.9 (tcprules sets TCPREMOTEIP) is not
offered AUTH in clear and is refused, then authenticates after STARTTLS
(raw socket, smtplib, swaks) and on implicit TLS; loopback stays trusted;
the control file widens or empties the trusted set."""
import base64
import os
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import smtpdtest as s

t.need_home()
TLS = os.path.join(t.BIN, "qmail-tls")
if not os.path.exists(TLS):
    t.skip_all("qmail-tls was not built")
s.setup()
CERT, KEY = s.new_cert()
AUTHNETS = os.path.join(t.HOME, "control", "plaintextauthnets")
s._save(AUTHNETS)
if os.path.exists(AUTHNETS):
    os.unlink(AUTHNETS)


def rules(ip):
    d = t.tmpdir("smtpd-rules.")
    cdb = os.path.join(d, "rules.cdb")
    subprocess.run(["tcprules", cdb, os.path.join(d, "rules.tmp")],
                   input=(':allow,TCPREMOTEIP="%s"\n' % ip).encode(), check=True)
    return cdb


def serve(tlsargs, args, env, ip=None):
    log = open(os.path.join(t.tmpdir("smtpd-tlsauth."), "log"), "wb")
    port = t.free_port()
    e = dict(os.environ)
    for k in ("RELAYCLIENT", "SUBMISSION", "DATABYTES", "QMAILQUEUE"):
        e.pop(k, None)
    e.update(env)
    x = ["-x", rules(ip)] if ip else []
    p = t.start(["tcpserver", "-R", "-H", "-l", "localhost"] + x + ["127.0.0.1", str(port), TLS] + tlsargs +
                [os.path.join(t.BIN, "qmail-smtpd")] + args, env=e, stdout=subprocess.DEVNULL, stderr=log)
    t.wait_port(port)
    return p, port


ctx = t.tls_client_context


def b64(x):
    return base64.b64encode(x.encode()).decode()


ENV = {"CPW_USERS": "alice@virt.test:s3cret"}
CPW = [s.checkpassword_path(), "true"]
PLAIN = "AUTH PLAIN " + b64("\0alice@virt.test\0s3cret")
procs = []
try:
    p, port = serve(["-s"], CPW, ENV, ip="192.0.2.9")
    procs.append(p)
    c = s.Raw(port)
    r = c.cmd("EHLO client.test")
    t.ok("250-STARTTLS\r\n" in r and "AUTH" not in r, "untrusted client: STARTTLS offered, AUTH not")
    t.is_(c.cmd(PLAIN), "538 5.7.11 encryption required for requested authentication mechanism\r\n",
          "untrusted client: AUTH PLAIN in clear refused with 538 5.7.11")
    t.is_(s.code(c.cmd("AUTH LOGIN")), "538 5.7.11", "AUTH LOGIN in clear refused too (no password prompt)")
    t.is_(s.code(c.cmd("MAIL FROM:<alice@virt.test>")), "250 2.1.0", "not authenticated: MAIL is a normal MAIL")
    t.is_(s.code(c.cmd("RCPT TO:<friend@elsewhere.test>")), "553 5.7.1", "and relaying is refused")
    c.cmd("RSET")
    t.is_(c.cmd("STARTTLS"), "220 2.0.0 ready to start TLS\r\n", "STARTTLS")
    c.s = ctx().wrap_socket(c.s)
    r = c.cmd("EHLO client.test")
    t.ok("250-AUTH PLAIN LOGIN\r\n" in r, "inside TLS AUTH is offered")
    t.is_(s.code(c.cmd(PLAIN)), "235 2.7.0", "inside TLS AUTH PLAIN accepted")
    c.close()

    # plaintext AUTH injected with STARTTLS is not run after the handshake
    c = s.Raw(port)
    c.cmd("EHLO client.test")
    c.send("STARTTLS\r\n" + PLAIN + "\r\n")
    t.is_(s.code(c.reply()), "220 2.0.0", "pipelined STARTTLS")
    c.buf = b""
    c.s = ctx().wrap_socket(c.s)
    c.cmd("EHLO client.test")
    t.is_(s.code(c.cmd("MAIL FROM:<alice@virt.test>")), "250 2.1.0", "MAIL inside TLS")
    t.is_(s.code(c.cmd("RCPT TO:<friend@elsewhere.test>")), "553 5.7.1",
          "the AUTH sent in clear with STARTTLS did not log in")
    c.close()

    with smtplib.SMTP("127.0.0.1", port, timeout=20) as m:
        m.ehlo("client.test")
        t.ok(not m.has_extn("auth"), "smtplib sees no AUTH before STARTTLS")
        m.starttls(context=ctx())
        m.ehlo("client.test")
        m.login("alice@virt.test", "s3cret")
        rr = m.sendmail("alice@virt.test", ["friend@elsewhere.test"], b"Subject: tls auth\r\n\r\nhi\r\n")
    t.is_(rr, {}, "smtplib: STARTTLS, AUTH, relay from an untrusted address")
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(port), "--from", "alice@virt.test",
                        "--to", "x@elsewhere.test", "--auth", "PLAIN", "--auth-user", "alice@virt.test",
                        "--auth-password", "s3cret", "--body", "by swaks"], capture_output=True, text=True, timeout=120)
    t.ok(r.returncode != 0, "swaks AUTH without TLS from an untrusted address fails")
    r = subprocess.run(["swaks", "-tls", "--server", "127.0.0.1", "--port", str(port), "--from", "alice@virt.test",
                        "--to", "y@elsewhere.test", "--auth", "PLAIN", "--auth-user", "alice@virt.test",
                        "--auth-password", "s3cret", "--body", "by swaks"], capture_output=True, text=True, timeout=120)
    t.ok(r.returncode == 0, "swaks -tls --auth from an untrusted address relays")
    t.is_(sorted(m_["recipients"][0] for m_ in s.queue()), [b"friend@elsewhere.test", b"y@elsewhere.test"],
          "exactly the two authenticated messages were queued")
    t.clear_queue()

    # submission: MAIL before AUTH says STARTTLS first
    p2, port2 = serve(["-s"], CPW, dict(ENV, SUBMISSION="1"), ip="192.0.2.9")
    procs.append(p2)
    c = s.Raw(port2)
    c.cmd("EHLO client.test")
    t.is_(c.cmd("MAIL FROM:<alice@virt.test>"), "530 5.7.0 must issue a STARTTLS command first\r\n",
          "submission from an untrusted address: MAIL says STARTTLS first")
    c.close()

    # implicit TLS (smtps): AUTH offered and accepted
    p3, port3 = serve([], CPW, ENV, ip="192.0.2.9")
    procs.append(p3)
    with smtplib.SMTP_SSL("127.0.0.1", port3, context=ctx(), timeout=20) as m:
        m.ehlo("client.test")
        t.ok(m.has_extn("auth"), "smtps: AUTH offered to an untrusted address")
        t.is_(m.login("alice@virt.test", "s3cret")[0], 235, "smtps: AUTH accepted")

    # loopback, the default trusted network
    p4, port4 = serve(["-s"], CPW, ENV)
    procs.append(p4)
    c = s.Raw(port4)
    r = c.cmd("EHLO client.test")
    t.ok("250-AUTH PLAIN LOGIN\r\n" in r, "loopback: AUTH offered in clear")
    t.is_(s.code(c.cmd(PLAIN)), "235 2.7.0", "loopback: AUTH in clear accepted")
    c.close()

    # the control file
    t.write(AUTHNETS, "# trusted office\n192.0.2.0/24\n2001:db8::/32\n")
    c = s.Raw(port)
    r = c.cmd("EHLO client.test")
    t.ok("AUTH PLAIN" in r, "192.0.2.9 listed in plaintextauthnets: AUTH offered")
    t.is_(s.code(c.cmd(PLAIN)), "235 2.7.0", "and accepted in clear")
    c.close()
    c = s.Raw(port4)
    r = c.cmd("EHLO client.test")
    t.ok("AUTH" not in r, "loopback not listed: no AUTH in clear")
    t.is_(s.code(c.cmd(PLAIN)), "538 5.7.11", "and refused")
    c.close()
    p5, port6 = serve(["-s"], CPW, ENV, ip="2001:db8::5")
    procs.append(p5)
    c = s.Raw(port6)
    t.ok("AUTH PLAIN" in c.cmd("EHLO client.test"), "IPv6 client 2001:db8::5 in 2001:db8::/32: AUTH offered")
    t.is_(s.code(c.cmd(PLAIN)), "235 2.7.0", "and accepted in clear")
    c.close()
    t.write(AUTHNETS, "2001:db8:1::/48\n")
    c = s.Raw(port6)
    t.ok("AUTH" not in c.cmd("EHLO client.test"), "IPv6 client outside 2001:db8:1::/48: no AUTH in clear")
    t.is_(s.code(c.cmd(PLAIN)), "538 5.7.11", "and refused")
    c.close()
    # RFC 3207 4.2: a login from before STARTTLS is forgotten, and a
    # $QMAILQUEUE filter no longer sees it; nor one inherited
    t.write(AUTHNETS, "127.0.0.0/8\n")
    envd = t.tmpdir("smtpd-env.")
    qq = os.path.join(envd, "qq")
    t.write(qq, "#!/bin/sh\nexec 3<&1\ncat > /dev/null\ncat <&3 > /dev/null\n"
            "echo \"user=${SMTPAUTHUSER-unset}\" >> %s/seen\n" % envd, 0o755)
    p, port2 = serve(["-s"], CPW, dict(ENV, QMAILQUEUE=qq, SMTPAUTHUSER="inherited@x.test"))
    procs.append(p)
    c = s.Raw(port2)
    c.cmd("EHLO client.test")
    t.is_(s.code(c.cmd(PLAIN)), "235 2.7.0", "loopback: AUTH in clear")
    t.is_(c.cmd("STARTTLS"), "220 2.0.0 ready to start TLS\r\n", "then STARTTLS")
    c.s = ctx().wrap_socket(c.s)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@b.test>")
    c.cmd("RCPT TO:<u1@virt.test>")
    c.cmd("DATA")
    c.send("Subject: after tls\r\n\r\nx\r\n.\r\n")
    t.is_(s.code(c.reply()), "250 2.0.0", "a message without AUTH after STARTTLS")
    c.close()
    c = s.Raw(port2)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@b.test>")
    c.cmd("RCPT TO:<u1@virt.test>")
    c.cmd("DATA")
    c.send("Subject: no auth\r\n\r\nx\r\n.\r\n")
    c.reply()
    c.close()
    seen = open(os.path.join(envd, "seen")).read() if os.path.exists(os.path.join(envd, "seen")) else ""
    t.is_(seen, "user=unset\nuser=unset\n",
          "the queue program saw no SMTPAUTHUSER: not the login from before TLS, not an inherited one")
    t.write(AUTHNETS, "192.0.2.0/99\n")
    c = s.Raw(port)
    c.cmd("EHLO client.test")
    t.is_(s.code(c.cmd(PLAIN)), "538 5.7.11", "a malformed file trusts nobody")
    c.close()
    os.unlink(AUTHNETS)
finally:
    for p in procs:
        t.stop(p)
    t.clear_queue()
    s.restore()
t.ok(s.queue_empty(), "queue left empty")
t.done()
