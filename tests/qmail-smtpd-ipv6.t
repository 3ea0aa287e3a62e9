#!/usr/bin/python3
"""qmail-smtpd over IPv6: a real tcpserver on ::1, python's smtplib
connecting over IPv6, the message queued with the client's IPv6 address
in the Received line; an IPv4 client of the same program still sees
plain dotted quads."""
import os
import smtplib
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lanmail as t
import smtpdtest as s

t.need_home()
try:
    socket.socket(socket.AF_INET6, socket.SOCK_STREAM).bind(("::1", 0))
except OSError as e:
    t.skip_all("no IPv6 on loopback: %s" % e)

s.setup()
try:
    srv = s.Server(addr="::1")
    if not t.wait_port(srv.port, "::1", timeout=5):
        t.skip_all("this tcpserver cannot listen on ::1 (install ucspi-tcp-ipv6)")
    msg = b"From: a@v6.test\r\nTo: u1@virt.test\r\nSubject: over IPv6\r\n\r\nhello\r\n"
    with smtplib.SMTP("::1", srv.port, timeout=30) as c:
        code, _ = c.ehlo("client6.test")
        t.is_(code, 250, "EHLO over IPv6")
        refused = c.sendmail("a@v6.test", ["u1@virt.test"], msg)
        t.is_(refused, {}, "message accepted over IPv6")
    q = s.queue()
    t.is_(len(q), 1, "one message queued")
    m = q[0] if q else {"message": b"", "error": "none", "recipients": []}
    t.ok(m["error"] is None, "envelope well formed: %s" % m["error"])
    t.is_(m.get("recipients"), [b"u1@virt.test"], "recipient")
    t.ok(b"[IPv6:::1]" in s.body_of(m["message"]).split(b"\nFrom: ")[0],
         "Received line names the client as [IPv6:::1]")
    t.ok(s.strip_received(m["message"]).endswith(b"\nhello\n"), "body intact")
    t.clear_queue()

    srv4 = s.Server(addr="127.0.0.1")
    with smtplib.SMTP("127.0.0.1", srv4.port, timeout=30) as c:
        c.ehlo("client4.test")
        c.sendmail("a@v4.test", ["u1@virt.test"], msg)
    q = s.queue()
    # the Received line only: the subject says IPv6 too
    head = s.body_of(q[0]["message"]).split(b"\nFrom: ")[0] if q else b""
    t.ok(b"[127.0.0.1]" in head and b"IPv6" not in head, "an IPv4 client is a dotted quad")
    if b"[127.0.0.1]" not in head:
        t.diag(head.decode("latin-1"))
finally:
    s.restore()
t.done()
