#!/usr/bin/python3
"""qmail-popup behind qmail-tls: STLS (RFC 2595) under qmail-tls -s with
poplib, curl --ssl-reqd, openssl s_client -starttls pop3 and a raw
socket (plain text sent with STLS in one packet is never executed), and
implicit TLS (pop3s) with poplib.POP3_SSL and curl pop3s://.
Then control/plaintextauthnets: a client outside it gets no USER/SASL in
CAPA and -ERR [AUTH] for USER, PASS and AUTH until STLS."""
import base64
import os
import poplib
import socket
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


def rules(ip):
    """a tcprules cdb making every client look as if it came from ip"""
    d = t.tmpdir("popup-rules.")
    cdb = os.path.join(d, "rules.cdb")
    subprocess.run(["tcprules", cdb, os.path.join(d, "rules.tmp")],
                   input=(':allow,TCPREMOTEIP="%s"\n' % ip).encode(), check=True)
    return cdb


def serve(tlsargs, addr="127.0.0.1", ip=None):
    port = t.free_port(addr=addr)
    log = open(os.path.join(t.tmpdir("popup-tls."), "log"), "wb")
    x = ["-x", rules(ip)] if ip else []
    p = t.start(["tcpserver", "-R", "-H", "-l", "localhost"] + x + [addr, str(port), TLS] + tlsargs +
                [os.path.join(t.BIN, "qmail-popup"), "mail.test.example",
                 os.path.join(t.BIN, "qmail-auth"), os.path.join(t.BIN, "qmail-pop3d"), "Maildir"],
                stdout=subprocess.DEVNULL, stderr=log)
    t.wait_port(port, addr)
    return p, port


ctx = t.tls_client_context


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

    # a client outside control/plaintextauthnets (default: loopback only)
    p4, port4 = serve(["-s"], ip="192.0.2.9")
    procs.append(p4)
    r = v.Raw(port4)
    r.line()
    c = capa(r)
    t.ok(b"STLS" in c and b"USER" not in c and b"SASL" not in c,
         "untrusted client: CAPA has STLS but neither USER nor SASL")
    t.ok(r.cmd("USER " + USER).startswith(b"-ERR [AUTH] "), "untrusted client: USER in clear refused with [AUTH]")
    t.ok(r.cmd("PASS " + PW).startswith(b"-ERR [AUTH] "), "untrusted client: PASS in clear refused")
    auth = base64.b64encode(("\0%s\0%s" % (USER, PW)).encode()).decode()
    t.ok(r.cmd("AUTH PLAIN " + auth).startswith(b"-ERR [AUTH] "), "untrusted client: AUTH PLAIN in clear refused")
    t.ok(r.cmd("STAT").startswith(b"-ERR"), "and not logged in")
    t.ok(r.cmd("STLS").startswith(b"+OK"), "untrusted client: STLS")
    r.s = ctx().wrap_socket(r.s)
    c = capa(r)
    t.ok(b"USER" in c and b"SASL PLAIN" in c, "inside TLS CAPA offers USER and SASL PLAIN")
    t.ok(r.cmd("AUTH PLAIN " + auth).startswith(b"+OK"), "untrusted client: AUTH PLAIN accepted inside TLS")
    t.ok(r.cmd("STAT").startswith(b"+OK 1 "), "logged in")
    r.cmd("QUIT")
    r.close()
    m = poplib.POP3("127.0.0.1", port4, timeout=20)
    m.stls(context=ctx())
    m.user(USER)
    m.pass_(PW)
    t.is_(m.stat()[0], 1, "untrusted client: poplib stls then USER/PASS")
    m.quit()
    cu = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "--max-time", "20", "-u", "%s:%s" % (USER, PW),
                         "pop3://127.0.0.1:%d/1" % port4], capture_output=True, timeout=30)
    t.ok(cu.returncode == 0 and b"secret body" in cu.stdout, "untrusted client: curl --ssl-reqd works")
    cu = subprocess.run(["curl", "-sS", "--max-time", "20", "-u", "%s:%s" % (USER, PW),
                         "pop3://127.0.0.1:%d/1" % port4], capture_output=True, timeout=30)
    t.ok(cu.returncode != 0 and b"secret body" not in cu.stdout, "untrusted client: curl without TLS cannot log in")
    p5, port5 = serve([], ip="192.0.2.9")
    procs.append(p5)
    m = poplib.POP3_SSL("127.0.0.1", port5, context=ctx(), timeout=20)
    m.user(USER)
    m.pass_(PW)
    t.is_(m.stat()[0], 1, "untrusted client: implicit TLS logs in")
    m.quit()

    # the control file: a listed network is trusted, an empty file trusts nobody
    t.control("plaintextauthnets", "# docs\n10.0.0.0/8\n192.0.2.0/28\n2001:db8::/32\n")
    r = v.Raw(port4)
    r.line()
    t.ok(r.cmd("USER " + USER).startswith(b"+OK"), "192.0.2.9 in 192.0.2.0/28: USER in clear accepted")
    t.ok(r.cmd("PASS " + PW).startswith(b"+OK"), "and PASS")
    r.cmd("QUIT")
    r.close()
    t.control("plaintextauthnets", "")
    r = v.Raw(port)
    r.line()
    t.ok(r.cmd("USER " + USER).startswith(b"-ERR [AUTH] "), "empty plaintextauthnets: even loopback refused")
    r.close()
    r = v.Raw(v.pop3_server())
    r.line()
    t.ok(r.cmd("USER " + USER).startswith(b"-ERR [AUTH] "),
         "qmail-popup without qmail-tls reads the file from the install root too")
    r.close()
    t.control("plaintextauthnets", "127.0.0.1/40\n")
    r = v.Raw(port)
    r.line()
    t.ok(r.cmd("USER " + USER).startswith(b"-ERR [AUTH] "), "junk in plaintextauthnets: refused (fails closed)")
    r.close()
    t.control("plaintextauthnets", None)

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
    t.control("plaintextauthnets", None)
    if made_cert:
        for f in (CERT, KEY):
            if os.path.exists(f):
                os.unlink(f)
t.done()
