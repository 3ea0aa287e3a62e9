#!/usr/bin/python3
"""qmail-smtpd behind qmail-tls -s: STARTTLS (RFC 3207) with smtplib and
swaks, what is forgotten after it, plaintext injection, and the
protocol names ESMTPS / ESMTPSA in the Received line (SMTP after HELO,
over TLS too: no other name is registered), on implicit TLS as well."""
import os
import re
import socket
import smtplib
import subprocess
import sys
import base64

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import smtpdtest as s

t.need_home()
TLS = os.path.join(t.BIN, "qmail-tls")
if not os.path.exists(TLS):
    t.skip_all("qmail-tls was not built")
s.setup()
CERT, KEY = s.new_cert()


def serve(args, env=None, tlsargs=("-s",)):
    log = open(os.path.join(t.tmpdir("smtpd-tls."), "log"), "wb")
    port = t.free_port()
    e = dict(os.environ)
    e.update(env or {})
    p = t.start(["tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.1", str(port), TLS] + list(tlsargs) +
                [os.path.join(t.BIN, "qmail-smtpd")] + args, env=e, stdout=subprocess.DEVNULL, stderr=log)
    t.wait_port(port)
    return p, port


ctx = t.tls_client_context


ENV = {"CPW_USERS": "alice@virt.test:s3cret"}
proc, port = serve([s.checkpassword_path(), "true"], ENV)
try:
    c = s.Raw(port)
    r = c.cmd("EHLO client.test")
    t.ok("250-STARTTLS\r\n" in r, "EHLO offers STARTTLS behind qmail-tls -s")
    t.is_(s.code(c.cmd("STARTTLS now")), "501 5.5.4", "STARTTLS with an argument: 501")
    c.cmd("MAIL FROM:<a@b.test>")
    t.is_(c.cmd("STARTTLS"), "220 2.0.0 ready to start TLS\r\n", "STARTTLS: 220")
    c.s = ctx().wrap_socket(c.s)
    t.is_(s.code(c.cmd("RCPT TO:<u1@virt.test>")), "503 5.5.1", "after STARTTLS the transaction is forgotten")
    t.is_(s.code(c.cmd("MAIL FROM:<a@b.test>")), "503 5.5.1", "and the HELO too")
    r = c.cmd("EHLO client.test")
    t.ok(r.startswith("250-") and "STARTTLS" not in r, "no STARTTLS offered inside TLS")
    t.is_(s.code(c.cmd("STARTTLS")), "503 5.5.1", "STARTTLS twice: 503")
    c.close()

    # plaintext sent with STARTTLS in one packet is never executed
    c = s.Raw(port)
    c.cmd("EHLO client.test")
    c.send("STARTTLS\r\nEHLO injected.test\r\nMAIL FROM:<injected@b.test>\r\n")
    t.is_(s.code(c.reply()), "220 2.0.0", "pipelined STARTTLS")
    c.buf = b""
    c.s = ctx().wrap_socket(c.s)
    t.is_(s.code(c.cmd("RCPT TO:<u1@virt.test>")), "503 5.5.1",
          "the EHLO and MAIL sent in clear with STARTTLS were dropped, not run inside TLS")
    c.close()

    with smtplib.SMTP("127.0.0.1", port, timeout=20) as m:
        m.ehlo("client.test")
        m.starttls(context=ctx())
        m.ehlo("client.test")
        r = m.sendmail("a@b.test", ["u1@virt.test"], b"Subject: tls\r\n\r\nsecret\r\n")
    t.is_(r, {}, "smtplib: message over STARTTLS")
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as m:
        m.ehlo("client.test")
        m.starttls(context=ctx())
        m.ehlo("client.test")
        m.login("alice@virt.test", "s3cret")
        r = m.sendmail("alice@virt.test", ["x@elsewhere.test"], b"Subject: tls auth\r\n\r\nsecret\r\n")
    t.is_(r, {}, "smtplib: STARTTLS then AUTH then relay")
    r = subprocess.run(["swaks", "-tls", "--server", "127.0.0.1", "--port", str(port), "--from", "c@b.test",
                        "--to", "u2@virt.test", "--body", "by swaks"], capture_output=True, text=True, timeout=120)
    t.ok(r.returncode == 0, "swaks -tls delivers")
    q = s.queue()
    got = sorted((m["recipients"][0], b"with ESMTPSA (authenticated user alice@virt.test);" in m["message"],
                  b"with ESMTPS;" in m["message"]) for m in q)
    t.is_(got, [(b"u1@virt.test", False, True), (b"u2@virt.test", False, True), (b"x@elsewhere.test", True, False)],
          "Received says ESMTPS, and ESMTPSA after AUTH")
    t.clear_queue()

    # HELO asks for no extension: RFC 3848 registers no SMTP-with-TLS
    # protocol, so it is SMTP, over STARTTLS or implicit TLS alike
    def helo_message(c, to):
        got = [s.code(c.cmd(x)) for x in ("HELO client.test", "MAIL FROM:<a@b.test>", "RCPT TO:<%s>" % to,
                                          "DATA", "Subject: helo\r\n\r\nhi\r\n.")]
        c.close()
        return got[-1]
    c = s.Raw(port)
    c.cmd("EHLO client.test")
    c.cmd("STARTTLS")
    c.s = ctx().wrap_socket(c.s)
    t.is_(helo_message(c, "u3@virt.test"), "250 2.0.0", "STARTTLS, then HELO: a message")
    proc2, port2 = serve([], tlsargs=())
    try:
        c = s.Raw(port2, greeting=False)
        c.s = ctx().wrap_socket(c.s)
        c.reply()
        t.is_(helo_message(c, "u4@virt.test"), "250 2.0.0", "implicit TLS, HELO: a message")
        with smtplib.SMTP_SSL("127.0.0.1", port2, context=ctx(), timeout=20) as m:
            m.ehlo("client.test")
            r = m.sendmail("a@b.test", ["u5@virt.test"], b"Subject: smtps\r\n\r\nhi\r\n")
        t.is_(r, {}, "implicit TLS, EHLO: a message")
    finally:
        t.stop(proc2)
    got = sorted((m["recipients"][0], re.search(rb"\(lanmail\) with ([A-Z]+)[ ;]", m["message"]).group(1)) for m in s.queue())
    t.is_(got, [(b"u3@virt.test", b"SMTP"), (b"u4@virt.test", b"SMTP"), (b"u5@virt.test", b"ESMTPS")],
          "Received: SMTP after HELO, TLS or not; ESMTPS after EHLO with implicit TLS")
    t.clear_queue()
finally:
    t.stop(proc)
    s.restore()
t.ok(s.queue_empty(), "queue left empty")
t.done()
