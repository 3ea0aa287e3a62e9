#!/usr/bin/python3
"""qmail-remote logs in to a smarthost: control/smtproutes names the relay,
control/smtpauth its login.  Real aiosmtpd servers that require AUTH: PLAIN
and LOGIN, a wrong password (deferred, never bounced), a server without
AUTH, a relay with no login, a bad control/smtpauth line, the password kept
out of every report.  Then, in a network namespace of its own (unshare -n,
as root) with 192.0.2.1 on its loopback: no password in clear text to an
address that is not loopback, and the login over STARTTLS (qmail-tls -C)
works."""
import logging
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lanmail as t  # noqa: E402
import smtpdtest as s  # noqa: E402

t.need_home()
try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError:
    t.skip_all("python3-aiosmtpd is not installed")

logging.getLogger("mail.log").setLevel(logging.ERROR)
REMOTE = os.path.join(t.BIN, "qmail-remote")
USER, PASS = "relayuser", "pa:ss w\u00f6rd"
PORT = t.free_port()


class Sink:
    def __init__(self):
        self.mails = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((session.authenticated, envelope.mail_from, envelope.rcpt_tos))
        return "250 2.0.0 taken"

    def authenticator(self, server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and data.login == USER.encode() and \
            data.password == PASS.encode()
        self.logins.append((mechanism, data.login if isinstance(data, LoginPassword) else None, ok))
        return AuthResult(success=ok, handled=False)


def server(host, auth=True, **kw):
    h = Sink()
    extra = dict(authenticator=h.authenticator, auth_required=True, auth_require_tls=False) if auth else {}
    extra.update(kw)
    c = Controller(h, hostname=host, port=PORT, server_hostname="relay-" + host, **extra)
    c.start()
    return c, h


tmp = t.tmpdir()


def run(host, rcpts=("r@far.test",)):
    """qmail-remote: (codes, message text, whole output)"""
    path = os.path.join(tmp, "msg")
    t.write(path, b"Subject: relayed\n\nthrough the smarthost\n")
    with open(path, "rb") as f:
        p = subprocess.run([REMOTE, host, "s@me.test"] + list(rcpts), stdin=f, stdout=subprocess.PIPE,
                           timeout=60)
    parts = [x for x in p.stdout.split(b"\0") if x]
    return "".join(x[:1].decode() for x in parts), parts[-1][1:].decode("utf-8", "replace") if parts \
        else "", p.stdout


servers = []
saved = {}
for c in ("smtproutes", "smtpauth", "timeoutremote", "timeoutconnect", "tlsroutes", "me"):
    path = os.path.join(t.HOME, "control", c)
    saved[c] = open(path, "rb").read() if os.path.exists(path) else None
try:
    t.control("me", "me.test\n")
    t.control("timeoutremote", "10\n")
    t.control("timeoutconnect", "5\n")
    t.control("tlsroutes", None)
    plain, hp = server("127.0.0.1")
    login, hl = server("127.0.0.2", auth_exclude_mechanism=["PLAIN"])
    noauth, hn = server("127.0.0.3", auth=False)
    wrong, hw = server("127.0.0.4")
    servers += [plain, login, noauth, wrong]
    t.control("smtproutes", "plain.test:127.0.0.1:%d\nlogin.test:127.0.0.2:%d\nnoauth.test:127.0.0.3:%d\n"
              "open.test:127.0.0.3:%d\nwrong.test:127.0.0.4:%d\n" % ((PORT,) * 5))
    t.write(os.path.join(t.HOME, "control", "smtpauth"),
            "# relay:login:password\n127.0.0.1:%s:%s\n127.0.0.2:%s:%s\n127.0.0.3:%s:%s\n127.0.0.4:%s:wrong\n"
            % (USER, PASS, USER, PASS, USER, PASS, USER), 0o600)

    codes, text, out = run("plain.test")
    t.is_(codes, "rK", "AUTH PLAIN to the relay, then delivered: " + text)
    t.ok(hp.logins == [("PLAIN", USER.encode(), True)] and len(hp.mails) == 1 and hp.mails[0][0],
         "the relay saw one PLAIN login and an authenticated message")
    codes, text, out = run("login.test")
    t.is_(codes, "rK", "AUTH LOGIN when PLAIN is not offered: " + text)
    t.ok(hl.logins == [("LOGIN", USER.encode(), True)] and len(hl.mails) == 1, "the relay saw a LOGIN login")
    codes, text, out = run("wrong.test")
    t.is_(codes, "sZ", "a refused password defers the message, never bounces it")
    t.ok("535" in text and "check control/smtpauth" in text and USER in text,
         "and says why and where to look: " + text)
    t.ok(not hw.mails, "nothing was delivered")
    codes, text, out = run("noauth.test")
    t.is_(codes, "sZ", "a relay that offers no AUTH: deferred")
    t.ok("offers neither AUTH PLAIN nor AUTH LOGIN" in text and not hn.mails, "and why: " + text)
    t.ok(all(PASS.encode() not in o and b"wrong" not in o for o in (out, run("wrong.test")[2])),
         "the password is in no report")
    t.control("smtproutes", "open.test:127.0.0.5:%d\n" % PORT)
    opened, ho = server("127.0.0.5", auth=False)
    servers.append(opened)
    codes, text, out = run("open.test")
    t.ok(codes == "rK" and len(ho.mails) == 1 and not ho.mails[0][0], "a relay with no login: no AUTH")
    t.write(os.path.join(t.HOME, "control", "smtpauth"), "127.0.0.5 no colons here\n", 0o600)
    codes, text, out = run("open.test")
    t.ok(codes == "sZ" and "Bad line in control/smtpauth" in text, "a malformed line: deferred, said")
    t.write(os.path.join(t.HOME, "control", "smtpauth"), "[127.0.0.5]:%s:%s\n" % (USER, PASS), 0o600)
    codes, text, out = run("open.test")
    t.is_(codes, "rK", "a bracketed entry that is not this relay is not used")

    # --- not loopback: clear text refused, STARTTLS used ---
    if os.getuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        t.skip("needs root, unshare and ip for a network namespace", 4)
    elif not os.path.exists(os.path.join(t.BIN, "qmail-tls")):
        t.skip("qmail-tls was not built", 4)
    else:
        cert, key = s.new_cert("relay.test")
        t.control("smtproutes", "clear.test:192.0.2.1:%d\ntls.test:192.0.2.1:%d\n" % (PORT, PORT + 1))
        t.write(os.path.join(t.HOME, "control", "smtpauth"), "192.0.2.1:%s:%s\n" % (USER, PASS), 0o600)
        inner = os.path.join(tmp, "inner.py")
        t.write(inner, r'''
import logging, ssl, subprocess, warnings
logging.getLogger("mail.log").setLevel(logging.ERROR)
warnings.simplefilter("ignore")
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "addr", "add", "192.0.2.1/32", "dev", "lo"], check=True)
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
logins = []
class H:
    async def handle_DATA(self, server, session, envelope):
        logins.append(("mail", session.authenticated))
        return "250 ok"
def a(server, session, envelope, mechanism, data):
    logins.append((mechanism, data.login.decode()))
    return AuthResult(success=data.login == %r and data.password == %r, handled=False)
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(%r, %r)
c1 = Controller(H(), hostname="192.0.2.1", port=%d, authenticator=a, auth_required=True, auth_require_tls=False)
c2 = Controller(H(), hostname="192.0.2.1", port=%d, authenticator=a, auth_required=True, auth_require_tls=True,
                tls_context=ctx, require_starttls=True)
c1.start(); c2.start()
for host in ("clear.test", "tls.test"):
    with open(%r, "rb") as f:
        p = subprocess.run([%r, host, "s@me.test", "r@far.test"], stdin=f, stdout=subprocess.PIPE, timeout=60)
    parts = [x for x in p.stdout.split(b"\0") if x]
    print(host, "".join(x[:1].decode() for x in parts), parts[-1][1:].decode("utf-8", "replace") if parts else "",
          repr(logins), flush=True)
    del logins[:]
c1.stop(); c2.stop()
''' % (USER.encode(), PASS.encode(), cert, key,
       PORT, PORT + 1, os.path.join(tmp, "msg"), REMOTE))
        r = subprocess.run(["unshare", "-n", "/usr/bin/python3", inner], capture_output=True, text=True,
                           timeout=120)
        lines = dict((l.split(" ", 1)[0], l.split(" ", 1)[1]) for l in r.stdout.splitlines() if " " in l)
        if r.returncode:
            t.diag(r.stderr[-2000:])
        clear = lines.get("clear.test", "")
        t.ok(clear.startswith("sZ ") and "only over TLS or to a loopback address" in clear,
             "192.0.2.1 without TLS: no password sent, deferred: " + clear[:160])
        t.ok(clear.endswith("[]"), "the server saw no AUTH at all")
        tls = lines.get("tls.test", "")
        t.ok(tls.startswith("rK "), "over STARTTLS: logged in and delivered: " + tls[:160])
        t.ok("('PLAIN', 'relayuser')" in tls and "('mail', True)" in tls, "the server saw the login after TLS")
finally:
    for c in servers:
        c.stop()
    for c, v in saved.items():
        path = os.path.join(t.HOME, "control", c)
        if v is None:
            if os.path.exists(path):
                os.unlink(path)
        else:
            t.write(path, v)
    s.restore() if hasattr(s, "restore") else None
t.done()
