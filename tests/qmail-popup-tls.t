#!/usr/bin/python3
"""qmail-popup behind qmail-tls: STLS (RFC 2595) under qmail-tls -s with
poplib, curl --ssl-reqd, openssl s_client -starttls pop3 and a raw
socket (plain text sent with STLS in one packet is never executed), and
implicit TLS (pop3s) with poplib.POP3_SSL and curl pop3s://."""
import os
import poplib
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
TLS = os.path.join(t.BIN, "qmail-tls")
if not os.path.exists(TLS):
    t.skip_all("qmail-tls was not built")
D = "popup-tls.test.example"
PW = "Tls-secret 7"
v.cleanup(D)
t.control("plaintextauthnets", None)
t.control("timeoutpop3", None)
CERT = os.path.join(t.HOME, "control", "servercert.pem")
KEY = os.path.join(t.HOME, "control", "serverkey.pem")
made_cert = not os.path.exists(CERT) and not os.path.exists(KEY)
if made_cert:
    r = subprocess.run(["sh", os.path.join(t.SRC, "mkcert.sh"), t.HOME, "mail.lanmail.test"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        t.diag(r.stderr)

MSG = (b"Received: (lanmail 4242 invoked by uid 1000); 28 Nov 2026 17:00:00 +0000\n"
       b"Subject: over tls\n\nsecret body\n")


def serve(tlsargs, addr="127.0.0.1"):
    port = t.free_port(addr=addr)
    log = open(os.path.join(t.tmpdir("popup-tls."), "log"), "wb")
    p = t.start(["tcpserver", "-R", "-H", "-l", "localhost", addr, str(port), TLS] + tlsargs +
                [os.path.join(t.BIN, "qmail-popup"), "mail.test.example",
                 os.path.join(t.BIN, "qmail-auth"), os.path.join(t.BIN, "qmail-pop3d"), "Maildir"],
                stdout=subprocess.DEVNULL, stderr=log)
    t.wait_port(port, addr)
    return p, port


def ctx():
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def capa(r):
    r.s.sendall(b"CAPA\r\n")
    first = r.line()
    return first + r.multi() if first.startswith(b"+OK") else first


USER = "alice@" + D
procs = []
try:
    t.is_(v.admin("domain", "add", D)[0], 0, "qmail-admin domain add")
    t.is_(v.admin("user", "add", USER, "--stdin", stdin=PW + "\n")[0], 0, "qmail-admin user add")
    t.is_(v.deliver(D, "alice", MSG), 0, "one message delivered")

    p, port = serve(["-s"])
    procs.append(p)
    r = v.Raw(port)
    t.ok(r.line().startswith(b"+OK"), "greeting behind qmail-tls -s")
    t.ok(b"\r\nSTLS\r\n" in capa(r), "CAPA offers STLS")
    t.ok(r.cmd("STLS now").startswith(b"-ERR"), "STLS with an argument: -ERR")
    t.ok(r.cmd("USER " + USER).startswith(b"+OK"), "USER in clear from loopback")
    t.ok(r.cmd("STLS").startswith(b"+OK"), "STLS: +OK")
    r.s = ctx().wrap_socket(r.s)
    t.ok(r.cmd("PASS " + PW).startswith(b"-ERR"), "the USER sent before STLS is forgotten")
    c = capa(r)
    t.ok(c.startswith(b"+OK") and b"STLS" not in c, "no STLS in CAPA inside TLS")
    t.ok(r.cmd("STLS").startswith(b"-ERR"), "STLS twice: -ERR")
    t.ok(r.cmd("USER " + USER).startswith(b"+OK"), "USER inside TLS")
    t.ok(r.cmd("PASS " + PW).startswith(b"+OK"), "PASS inside TLS: logged in")
    t.ok(r.cmd("STAT").startswith(b"+OK 1 "), "STAT sees the message")
    t.ok(r.cmd("QUIT").startswith(b"+OK"), "QUIT")
    r.close()

    # plain text sent in the same packet as STLS is never executed
    r = v.Raw(port)
    r.line()
    r.s.sendall(("STLS\r\nUSER %s\r\nPASS %s\r\nSTAT\r\n" % (USER, PW)).encode())
    t.ok(r.line().startswith(b"+OK"), "pipelined STLS: +OK")
    t.is_(r.buf, b"", "nothing answered to the injected commands before the handshake")
    r.buf = b""
    r.s = ctx().wrap_socket(r.s)
    t.ok(r.cmd("STAT").startswith(b"-ERR"), "the USER/PASS/STAT sent in clear with STLS were not run inside TLS")
    t.ok(r.cmd("PASS " + PW).startswith(b"-ERR"), "and no USER was remembered")
    r.close()

    # poplib
    m = poplib.POP3("127.0.0.1", port, timeout=20)
    t.ok("STLS" in m.capa(), "poplib: capa lists STLS")
    m.stls(context=ctx())
    m.user(USER)
    m.pass_(PW)
    t.is_(m.stat()[0], 1, "poplib: stls, user, pass, stat")
    body = b"\r\n".join(m.retr(1)[1])
    t.ok(b"secret body" in body, "poplib: RETR over STLS")
    m.quit()

    # curl --ssl-reqd
    cu = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "--max-time", "20", "-u", "%s:%s" % (USER, PW),
                         "pop3://127.0.0.1:%d/1" % port], capture_output=True, timeout=30)
    t.ok(cu.returncode == 0 and b"secret body" in cu.stdout, "curl --ssl-reqd pop3:// fetches the message")
    if cu.returncode != 0:
        t.diag(cu.stderr)

    # openssl s_client -starttls pop3
    os_ = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-starttls", "pop3",
                          "-quiet", "-ign_eof"],
                         input=("USER %s\r\nPASS %s\r\nSTAT\r\nQUIT\r\n" % (USER, PW)).encode(),
                         capture_output=True, timeout=30)
    t.ok(b"+OK 1 " in os_.stdout, "openssl s_client -starttls pop3 logs in and sees the message")
    if b"+OK 1 " not in os_.stdout:
        t.diag(os_.stdout + os_.stderr)

    # implicit TLS (pop3s)
    p2, sport = serve([])
    procs.append(p2)
    m = poplib.POP3_SSL("127.0.0.1", sport, context=ctx(), timeout=20)
    t.ok("STLS" not in m.capa(), "pop3s: no STLS in CAPA")
    m.user(USER)
    m.pass_(PW)
    t.is_(m.stat()[0], 1, "poplib.POP3_SSL: logged in")
    m.quit()
    cu = subprocess.run(["curl", "-sS", "-k", "--max-time", "20", "-u", "%s:%s" % (USER, PW),
                         "pop3s://127.0.0.1:%d/1" % sport], capture_output=True, timeout=30)
    t.ok(cu.returncode == 0 and b"secret body" in cu.stdout, "curl pop3s:// fetches the message")

    # without qmail-tls there is no STLS
    port3 = v.pop3_server()
    r = v.Raw(port3)
    r.line()
    c = capa(r)
    t.ok(c.startswith(b"+OK") and b"STLS" not in c, "plain qmail-popup: no STLS in CAPA")
    t.ok(r.cmd("STLS").startswith(b"-ERR"), "plain qmail-popup: STLS refused")
    r.close()
finally:
    for p in procs:
        t.stop(p)
    v.cleanup(D)
    if made_cert:
        for f in (CERT, KEY):
            if os.path.exists(f):
                os.unlink(f)
t.done()
