#!/usr/bin/python3
# qmail-remote end to end: a real DNS server (dnsmasq) on 127.0.0.1 serving
# MX/A/AAAA/null-MX records for .test domains, real SMTP receivers (aiosmtpd)
# on 127.0.0.x and ::1, all routed to one port by a ".test::PORT" smtproutes
# suffix entry (empty relay: MX lookup, that port).
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402

t.need_home()
if not shutil.which("dnsmasq"):
    t.skip_all("dnsmasq is not installed (Debian package dnsmasq-base)")
try:
    from aiosmtpd.controller import Controller
except ImportError:
    t.skip_all("python3-aiosmtpd is not installed")

REMOTE = os.path.join(t.BIN, "qmail-remote")


def addr_ok(fam, a):
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((a, 0))
        s.close()
        return True
    except OSError:
        return False


HAVE6 = addr_ok(socket.AF_INET6, "::1")

# one port number for every receiver, free on each address used
while True:
    PORT = t.free_port()
    if all(addr_ok(socket.AF_INET, "127.0.0.%d" % i) for i in (1, 2, 4, 5, 6, 7, 8, 10)) and \
            (not HAVE6 or addr_ok(socket.AF_INET6, "::1")):
        break


class Handler:
    """A receiver: 'temp*' recipients get 451, 'perm*' 550, 'retry*' 451
    the first time only; options: no8bit (no 8BITMIME), pipelining."""

    def __init__(self, name, no8bit=False, pipelining=False, noehlo=False):
        self.name = name
        self.noehlo = noehlo
        self.no8bit = no8bit
        self.pipelining = pipelining
        self.mails = []
        self.seen = set()
        self.ehlo = []
        self.peers = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.ehlo.append(hostname)
        if self.noehlo:
            return ["502 5.5.1 EHLO not implemented"]
        session.host_name = hostname
        if self.no8bit:
            responses = [r for r in responses if "8BITMIME" not in r]
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 ok"

    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@")[0]
        if local.startswith("temp"):
            return "451 4.3.0 try again later"
        if local.startswith("perm"):
            return "550 5.1.1 no such user here"
        if local.startswith("retry") and address not in self.seen:
            self.seen.add(address)
            return "451 4.2.0 greylisted, come back"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 ok"

    async def handle_DATA(self, server, session, envelope):
        if any(r.startswith("dataperm") for r in envelope.rcpt_tos):
            return "554 5.6.0 content rejected"
        if any(r.startswith("datatemp") for r in envelope.rcpt_tos):
            return "452 4.3.1 out of space"
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos),
                           list(envelope.mail_options), envelope.original_content))
        self.peers.append(session.peer[0])
        return "250 2.0.0 ok: queued"


def receiver(host, **kw):
    h = Handler(host, **kw)
    c = Controller(h, hostname=host, port=PORT, server_hostname="rx-" + host,
                   data_size_limit=10 * 1024 * 1024)
    c.start()
    return h, c


def raw_server(host, greeting):
    """A TCP peer that sends greeting (or nothing: a stalled peer)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, PORT))
    s.listen(16)
    held = []

    def loop():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            held.append(c)
            if greeting:
                try:
                    c.sendall(greeting)
                    c.recv(1000)
                except OSError:
                    pass
                c.close()
    threading.Thread(target=loop, daemon=True).start()
    return s


# --- DNS ------------------------------------------------------------------
DNSPORT = t.free_port()
dnsdir = t.tmpdir()
dns_args = [
    "--mx-host=pref.test,mx10.pref.test,10", "--mx-host=pref.test,mx20.pref.test,20",
    "--host-record=mx10.pref.test,127.0.0.2", "--host-record=mx20.pref.test,127.0.0.1",
    "--mx-host=fallback.test,dead.fallback.test,10", "--mx-host=fallback.test,mx20.pref.test,20",
    "--host-record=dead.fallback.test,127.0.0.3",
    "--mx-host=greet.test,busy.greet.test,10", "--mx-host=greet.test,mx20.pref.test,20",
    "--host-record=busy.greet.test,127.0.0.4",
    "--host-record=amx.test,127.0.0.1",
    "--dns-rr=nullmx.test,15,000000",
    "--mx-host=loop.test,me.test,10", "--host-record=me.test,127.0.0.1",
    "--mx-host=loop2.test,mx20.pref.test,20", "--mx-host=loop2.test,me.test,10",
    "--mx-host=loop3.test,mx10.pref.test,10", "--mx-host=loop3.test,me.test,20",
    "--mx-host=loop4.test,mx20.pref.test,10", "--mx-host=loop4.test,me.test,10",
    "--mx-host=stall.test,stall.stall.test,10", "--host-record=stall.stall.test,127.0.0.5",
    "--mx-host=refused.test,dead.fallback.test,10",
    "--mx-host=no8.test,mx.no8.test,10", "--host-record=mx.no8.test,127.0.0.6",
    "--mx-host=v6.test,mx.v6.test,10", "--host-record=mx.v6.test,::1",
    "--host-record=smarthost.test,127.0.0.1",
    "--mx-host=helo.test,mx.helo.test,10", "--host-record=mx.helo.test,127.0.0.7",
    "--mx-host=eq.test,mx10.pref.test,10", "--mx-host=eq.test,mx20.pref.test,10",
    "--mx-host=iploop.example,lo.iploop.example,10", "--host-record=lo.iploop.example,127.0.0.1",
    "--mx-host=iploop6.example,lo.iploop6.example,10", "--host-record=lo.iploop6.example,::1",
    "--mx-host=junk.test,mx.junk.test,10", "--host-record=mx.junk.test,127.0.0.8",
    "--mx-host=long.test,mx.long.test,10", "--host-record=mx.long.test,127.0.0.10",
]


def dnsmasq(listen, port, log):
    return t.start(["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                    "--no-poll", "--listen-address=" + listen, "--bind-interfaces",
                    "--port=%d" % port, "--pid-file=", "--local=/test/", "--local=/example/",
                    "--log-facility=" + os.path.join(dnsdir, log)] + dns_args)


dnsmasq("127.0.0.1", DNSPORT, "log")
if not t.wait_port(DNSPORT):
    t.diag("dnsmasq did not start")
if HAVE6:
    DNSPORT6 = t.free_port(socket.AF_INET6, "::1")
    dnsmasq("::1", DNSPORT6, "log6")
    t.wait_port(DNSPORT6, "::1")

rx1, c1 = receiver("127.0.0.1", pipelining=True)
rx2, c2 = receiver("127.0.0.2")
rx6no8, c6 = receiver("127.0.0.6", no8bit=True)
rxhelo, c7 = receiver("127.0.0.7", noehlo=True)
busy = raw_server("127.0.0.4", b"421 4.3.2 too busy, go away\r\n")
stall = raw_server("127.0.0.5", None)
junk = raw_server("127.0.0.8", b"hello, this is not SMTP\r\n")
longgreet = raw_server("127.0.0.10", b"220-" + b"x" * 10000 + b"\r\n220 ok\r\n")
if HAVE6:
    rxv6, cv6 = receiver("::1")

t.control("me", "me.test\n")
t.control("helohost", "helo.me.test\n")
t.control("nameservers", "127.0.0.1:%d\n" % DNSPORT)
t.control("smtproutes", ".test::%d\n" % PORT)
t.control("timeoutremote", "3\n")
t.control("timeoutconnect", "3\n")

tmp = t.tmpdir()


def run(host, sender, rcpts, msg=b"Subject: test\n\nhello\n", pipe=False, env=None):
    """qmail-remote; returns ([(code, text) per recipient], (code, text))"""
    path = os.path.join(tmp, "msg")
    with open(path, "wb") as f:
        f.write(msg)
    argv = [REMOTE, host, sender] + rcpts
    if pipe:
        p = subprocess.run(argv, input=msg, stdout=subprocess.PIPE, timeout=60)
    else:
        with open(path, "rb") as f:
            p = subprocess.run(argv, stdin=f, stdout=subprocess.PIPE, timeout=60)
    parts = p.stdout.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    res = [(x[:1].decode(), x[1:].decode("utf-8", "replace")) for x in parts]
    if p.returncode != 0 or len(res) != len(rcpts) + 1:
        t.diag("exit %d, output %r" % (p.returncode, p.stdout))
        return [("?", "")] * len(rcpts), ("?", "")
    return res[:-1], res[-1]


def codes(r):
    return "".join(c for c, _ in r[0]) + r[1][0]


def clear():
    for h in (rx1, rx2, rx6no8):
        h.mails.clear()
    if HAVE6:
        rxv6.mails.clear()


try:
    # MX preference: the best MX (127.0.0.2) takes it
    clear()
    r = run("pref.test", "a@me.test", ["u1@pref.test"])
    t.is_(codes(r), "rK", "MX preference: delivered")
    t.ok(len(rx2.mails) == 1 and not rx1.mails, "MX preference: the preference-10 host got it")
    t.ok(rx2.ehlo[-1:] == ["helo.me.test"], "EHLO carries control/helohost")

    # fallback: the best MX refuses connections, the next one takes it
    clear()
    r = run("fallback.test", "a@me.test", ["u2@fallback.test"])
    t.is_(codes(r), "rK", "MX fallback after a refused connection")
    t.ok(len(rx1.mails) == 1, "MX fallback: the preference-20 host got it")

    # a 4xx greeting: next MX
    clear()
    r = run("greet.test", "a@me.test", ["u3@greet.test"])
    t.is_(codes(r), "rK", "next MX after a 421 greeting")

    # no MX: the A record
    clear()
    r = run("amx.test", "", ["u4@amx.test"])
    t.is_(codes(r), "rK", "no MX: A record used")
    t.ok(rx1.mails and rx1.mails[0][0] == "<>", "null sender sent as <>")

    # null MX
    r = run("nullmx.test", "a@me.test", ["u5@nullmx.test", "u6@nullmx.test"])
    t.is_(codes(r), "hhD", "null MX: permanent failure")
    t.ok("null MX" in r[1][1], "null MX: said so")

    # no such domain
    r = run("nx.test", "a@me.test", ["u@nx.test"])
    t.is_(codes(r), "hD", "NXDOMAIN: permanent failure")

    # 5xx for one recipient of three (receiver with PIPELINING)
    clear()
    r = run("amx.test", "a@me.test", ["ok1@amx.test", "perm1@amx.test", "ok2@amx.test"])
    t.is_(codes(r), "rhrK", "5xx for one of three: h for that one only")
    t.ok("550" in r[0][1][1], "the 5xx text is reported")
    t.ok(len(rx1.mails) == 1 and rx1.mails[0][1] == ["ok1@amx.test", "ok2@amx.test"],
         "one transaction for the accepted two")

    # 4xx: s, then success on the retry
    clear()
    r = run("pref.test", "a@me.test", ["retry1@pref.test"])
    t.is_(codes(r), "sZ", "4xx recipient alone: s and Z")
    r = run("pref.test", "a@me.test", ["retry1@pref.test"])
    t.is_(codes(r), "rK", "4xx then success on retry")
    r = run("pref.test", "a@me.test", ["temp1@pref.test", "ok3@pref.test"])
    t.is_(codes(r), "srK", "4xx for one, the other delivered")

    # connection refused everywhere
    r = run("refused.test", "a@me.test", ["u@refused.test"])
    t.is_(codes(r), "sZ", "connection refused: temporary")
    t.ok("connect" in r[1][1], "connection refused: said so")

    # a peer that never speaks: timeoutremote (3 s)
    start = time.time()
    r = run("stall.test", "a@me.test", ["u@stall.test"])
    took = time.time() - start
    t.is_(codes(r), "sZ", "stalled peer: temporary failure")
    t.ok(2 <= took < 15, "stalled peer: gave up after timeoutremote (%.1fs)" % took)

    # peers that do not speak SMTP
    r = run("junk.test", "a@me.test", ["u@junk.test"])
    t.ok(codes(r) == "sZ" and "bad reply" in r[1][1], "garbage greeting: temporary failure")
    r = run("long.test", "a@me.test", ["u@long.test"])
    t.ok(codes(r) == "sZ" and "bad reply" in r[1][1], "10000-byte reply line: temporary failure")

    # broken control files: temporary failures, nothing sent
    t.control("smtproutes", ".test:[127.0.0.1:%d\n" % PORT)
    r = run("pref.test", "a@me.test", ["u@pref.test"])
    t.ok(codes(r) == "sZ" and "smtproutes" in r[1][1], "junk smtproutes line: temporary failure")
    t.control("smtproutes", ".test::70000\n")
    r = run("pref.test", "a@me.test", ["u@pref.test"])
    t.is_(codes(r), "sZ", "port out of range in smtproutes: temporary failure")
    t.control("smtproutes", ".test::%d\n" % PORT)
    t.control("outgoingip", "not-an-address\n")
    r = run("pref.test", "a@me.test", ["u@pref.test"])
    t.ok(codes(r) == "sZ" and "outgoingip" in r[1][1], "junk outgoingip: temporary failure")
    t.control("outgoingip", None)
    t.control("nameservers", "127.0.0.1:0\n")
    r = run("pref.test", "a@me.test", ["u@pref.test"])
    t.ok(codes(r) == "sZ" and "DNS" in r[1][1], "junk nameservers: temporary failure")
    t.control("nameservers", "127.0.0.1:%d\n" % DNSPORT)
    r = run("pref.test", "a@me.test", ["bad\r\nRCPT TO:<x@y>", "ok@pref.test"])
    t.is_(codes(r), "hrK", "recipient with CR LF refused before SMTP, the other delivered")
    r = run("pref.test", "a>\r\nRSET", ["ok@pref.test"])
    t.is_(codes(r), "hD", "sender with CR LF: permanent failure")

    # 100 recipients, one transaction
    clear()
    rc = ["user%d@amx.test" % i for i in range(100)]
    r = run("amx.test", "a@me.test", rc)
    t.is_(codes(r), "r" * 100 + "K", "100 recipients accepted")
    t.ok(len(rx1.mails) == 1 and len(rx1.mails[0][1]) == 100, "100 recipients: one transaction")

    # CRLF, dot-stuffing, SIZE, a message without a final newline, read from a pipe
    clear()
    body = b"Subject: dots\n\n.leading dot\n..two\nlast line without newline"
    r = run("pref.test", "a@me.test", ["dots@pref.test"], msg=body, pipe=True)
    t.is_(codes(r), "rK", "message from a pipe delivered")
    got = rx2.mails[0][3] if rx2.mails else b""
    t.is_(got, b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\nlast line without newline\r\n",
          "CRLF and dot-stuffing undone by the receiver: the same message")
    t.ok(rx2.mails and any(o.startswith("SIZE=") for o in rx2.mails[0][2]), "SIZE declared")

    # a message stored with CRLF line ends goes out with single CRLFs
    clear()
    r = run("pref.test", "a@me.test", ["crlf@pref.test"], msg=b"Subject: crlf\r\n\r\nline\r\nbare\rcr\n")
    t.is_(rx2.mails[0][3] if rx2.mails else b"", b"Subject: crlf\r\n\r\nline\r\nbare\r\ncr\r\n",
          "CRLF-stored lines end in one CRLF, a bare CR goes out as CRLF")

    # 8-bit to a peer without 8BITMIME: quoted-printable
    clear()
    msg8 = ("Subject: caf\u00e9\nContent-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: 8bit\n\nsch\u00f6ne Gr\u00fc\u00dfe = gleich \n"
            + "x" * 200 + "\n").encode()
    r = run("no8.test", "a@me.test", ["u@no8.test"], msg=msg8)
    t.is_(codes(r), "rK", "8-bit to a peer without 8BITMIME: delivered")
    got = rx6no8.mails[0][3] if rx6no8.mails else b""
    t.ok(all(b < 128 for b in got.split(b"\r\n\r\n", 1)[-1]), "converted body is 7-bit")
    t.ok(b"Content-Transfer-Encoding: quoted-printable\r\n" in got and b": 8bit" not in got,
         "Content-Transfer-Encoding rewritten")
    t.ok(b"MIME-Version: 1.0\r\n" in got, "MIME-Version added")
    t.ok(b"sch=C3=B6ne Gr=C3=BC=C3=9Fe =3D gleich=20\r\n" in got, "body encoded quoted-printable")
    t.ok(all(len(line) <= 76 for line in got.split(b"\r\n")), "encoded lines at most 76")
    import quopri
    t.is_(quopri.decodestring(got.split(b"\r\n\r\n", 1)[1].replace(b"\r\n", b"\n")),
          msg8.split(b"\n\n", 1)[1], "decodes back to the original body")
    t.ok(rx6no8.mails and not any("BODY=" in o for o in rx6no8.mails[0][2]), "no BODY=8BITMIME")

    # the same to a peer with 8BITMIME: unchanged
    clear()
    r = run("pref.test", "a@me.test", ["u8@pref.test"], msg=msg8)
    t.is_(codes(r), "rK", "8-bit to an 8BITMIME peer: delivered")
    got = rx2.mails[0][3] if rx2.mails else b""
    t.is_(got, msg8.replace(b"\n", b"\r\n"), "8BITMIME peer: unchanged")
    t.ok(rx2.mails and "BODY=8BITMIME" in rx2.mails[0][2], "BODY=8BITMIME declared")

    # multipart: the 8-bit text part converted, the 7-bit and base64 parts not
    clear()
    mp = ("Subject: parts\nMIME-Version: 1.0\n"
          "Content-Type: multipart/mixed;\n boundary=\"=_outer\"\n\npreamble\n"
          "--=_outer\nContent-Type: text/plain; charset=utf-8\n"
          "Content-Transfer-Encoding: 8bit\n\nGr\u00fc\u00dfe\n"
          "--=_outer\nContent-Type: text/plain\n\nplain ascii = kept\n"
          "--=_outer\nContent-Type: multipart/alternative; boundary=inner\n\n"
          "--inner\nContent-Type: text/html; charset=latin1\n\n<p>\u00e9t\u00e9</p>\n"
          "--inner--\n"
          "--=_outer\nContent-Type: application/octet-stream\n"
          "Content-Transfer-Encoding: base64\n\nAAEC\n"
          "--=_outer--\nepilogue\n").encode("utf-8")
    r = run("no8.test", "a@me.test", ["mp@no8.test"], msg=mp)
    t.is_(codes(r), "rK", "multipart 8-bit to a peer without 8BITMIME: delivered")
    got = rx6no8.mails[0][3] if rx6no8.mails else b""
    t.ok(got and all(b < 128 for b in got), "multipart: the whole message is 7-bit now")
    import email
    import email.policy
    em = email.message_from_bytes(got, policy=email.policy.compat32)
    parts = [p for p in em.walk() if not p.is_multipart()]
    t.is_([p.get("Content-Transfer-Encoding") for p in parts],
          ["quoted-printable", None, "quoted-printable", "base64"],
          "multipart: 8-bit parts marked quoted-printable, others untouched")
    t.is_([p.get_payload(decode=True) for p in parts],
          ["Gr\u00fc\u00dfe".encode(), b"plain ascii = kept",
           "<p>\u00e9t\u00e9</p>".encode(), b"\x00\x01\x02"],
          "multipart: every part decodes to its original content")
    t.ok(got.count(b"Content-Transfer-Encoding: 8bit") == 0 and got.count(b"MIME-Version") == 1,
         "multipart: old encoding fields gone, MIME-Version not doubled")

    # EHLO refused: HELO, no extensions
    clear()
    r = run("helo.test", "a@me.test", ["u@helo.test"], msg=msg8)
    t.is_(codes(r), "rK", "EHLO refused: HELO fallback delivers")
    t.ok(rxhelo.mails and rxhelo.mails[0][2] == [], "HELO: no SIZE or BODY parameters")
    t.ok(b"quoted-printable" in (rxhelo.mails[0][3] if rxhelo.mails else b""),
         "HELO peer: 8-bit converted")

    # refusals after DATA: the accepted recipients share the message's fate
    r = run("amx.test", "a@me.test", ["perm9@amx.test", "dataperm@amx.test", "ok@amx.test"])
    t.is_(codes(r), "hhhD", "554 after DATA: every recipient h, D")
    t.ok("554" in r[0][2][1] and "550" in r[0][0][1], "each keeps its own reason")
    r = run("amx.test", "a@me.test", ["datatemp@amx.test", "perm9@amx.test"])
    t.is_(codes(r), "shZ", "452 after DATA: accepted ones s, refused one h, Z")

    # MX loop: the best MX of loop.test is control/me
    r = run("loop.test", "a@me.test", ["u@loop.test"])
    t.is_(codes(r), "hD", "MX loop back to us: permanent failure")
    t.ok("loops" in r[1][1], "MX loop: said so")
    # an MX worse than us is not used either; one better than us is
    clear()
    r = run("loop2.test", "a@me.test", ["u@loop2.test"])
    t.is_(codes(r), "hD", "only MX worse than us: loop")
    r = run("loop3.test", "a@me.test", ["u@loop3.test"])
    t.ok(codes(r) == "rK" and len(rx2.mails) == 1, "an MX better than us is used")
    for _ in range(4):
        r = run("loop4.test", "a@me.test", ["u@loop4.test"])
        if codes(r) != "hD":
            break
    t.is_(codes(r), "hD", "an MX as good as us is not used, whatever the random order")

    # port 25 (no route): an exchanger at one of our own addresses is us
    r = run("iploop.example", "a@me.test", ["u@iploop.example"])
    t.ok(codes(r) == "hD" and "loops" in r[1][1], "MX at 127.0.0.1, port 25: loop")
    if HAVE6:
        r = run("iploop6.example", "a@me.test", ["u@iploop6.example"])
        t.ok(codes(r) == "hD" and "loops" in r[1][1], "MX at ::1, port 25: loop")
    else:
        t.skip("no IPv6 on this machine")

    # IPv6 peer on ::1 through an AAAA record
    if HAVE6:
        r = run("v6.test", "a@me.test", ["u@v6.test"])
        t.is_(codes(r), "rK", "IPv6 peer on ::1 via AAAA")
        t.ok(len(rxv6.mails) == 1, "IPv6 peer got it")
    else:
        t.skip("no IPv6 on this machine", 2)

    # a name server on ::1 in the bracketed form
    if HAVE6:
        t.control("nameservers", "[::1]:%d\n" % DNSPORT6)
        r = run("amx.test", "a@me.test", ["u@amx.test"])
        t.is_(codes(r), "rK", "control/nameservers [::1]:port")
        t.control("nameservers", "127.0.0.1:%d\n" % DNSPORT)
    else:
        t.skip("no IPv6 on this machine")

    # equal preferences: random order, so both exchangers get mail
    clear()
    for _ in range(24):
        run("eq.test", "a@me.test", ["u@eq.test"])
    t.ok(len(rx1.mails) + len(rx2.mails) == 24 and rx1.mails and rx2.mails,
         "equal-preference MX in random order (%d/%d)" % (len(rx1.mails), len(rx2.mails)))

    # address literals go to port 25 of that address, without DNS
    r = run("[192.0.2.1]", "a@me.test", ["u@[192.0.2.1]"])
    t.ok(codes(r) == "sZ" and "192.0.2.1" in r[1][1], "address literal: connects to that address")
    r = run("[127.0.0.3]", "a@me.test", ["u@[127.0.0.3]"])
    t.ok(codes(r) == "hD" and "loops" in r[1][1], "address literal of this host (127/8): loop")
    r = run("[IPv6:::ffff:127.0.0.1]", "a@me.test", ["u@[IPv6:::ffff:127.0.0.1]"])
    t.ok(codes(r) == "hD" and "loops" in r[1][1], "IPv4-mapped literal of this host: loop")
    r = run("[IPv6:::1", "a@me.test", ["u@x"])
    t.is_(codes(r), "hD", "broken address literal: permanent failure")

    # smarthost: a ":relay:port" default route, and a per-domain relay
    clear()
    t.control("smtproutes", ":smarthost.test:%d\n" % PORT)
    r = run("elsewhere.example", "a@me.test", ["u@elsewhere.example"])
    t.is_(codes(r), "rK", "smarthost default route")
    t.ok(len(rx1.mails) == 1, "smarthost got it")
    clear()
    t.control("smtproutes", "pref.test:[127.0.0.1]:%d\n.test::%d\n" % (PORT, PORT))
    r = run("pref.test", "a@me.test", ["u@pref.test"])
    t.is_(codes(r), "rK", "per-domain relay route")
    t.ok(len(rx1.mails) == 1 and not rx2.mails, "relay route overrides the MX")
    clear()
    t.control("smtproutes", "pref.test:127.0.0.1:%d\n.test::%d\n" % (PORT, PORT))
    r = run("pref.test", "a@me.test", ["u@pref.test"])
    t.is_(codes(r), "rK", "relay route to a bare dotted quad, as qmail allows")
    t.ok(len(rx1.mails) == 1 and not rx2.mails, "bare dotted quad: that address")

    # outgoingip
    clear()
    t.control("outgoingip", "127.0.0.9\n")
    t.control("smtproutes", ".test::%d\n" % PORT)
    r = run("pref.test", "a@me.test", ["u@pref.test"])
    t.is_(codes(r), "rK", "control/outgoingip: delivered")
    t.is_(rx2.peers[-1:], ["127.0.0.9"], "control/outgoingip: the source address")
    t.control("outgoingip", None)

    # hostile DNS: a responder sending broken answers -> clean temporary failure
    import struct
    bad = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bad.bind(("127.0.0.1", 0))
    badport = bad.getsockname()[1]

    def hostile():
        while True:
            try:
                q, peer = bad.recvfrom(2048)
            except OSError:
                return
            qid, qname_end = q[:2], 12
            while q[qname_end] != 0:
                qname_end += 1 + q[qname_end]
            question = q[12:qname_end + 5]
            label = q[13:13 + q[12]]
            hdr = qid + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0)
            if label == b"loop":     # answer owner: a pointer to itself
                off = 12 + len(question)
                a = hdr + question + struct.pack(">H", 0xC000 | off) + b"\x00\x0f\x00\x01" + \
                    b"\x00\x00\x00\x10\x00\x04\x00\x0a" + struct.pack(">H", 0xC000 | off)
            elif label == b"fwd":    # a pointer past the end
                a = hdr + question + b"\xc0\xff" + b"\x00\x0f\x00\x01\x00\x00\x00\x10\x00\x04\x00\x0a\xc0\x0c"
            elif label == b"short":  # cut in the middle of a record
                a = hdr + question + b"\xc0\x0c\x00\x0f\x00\x01\x00\x00"
            elif label == b"count":  # ancount far beyond the data
                a = qid + b"\x81\x80" + struct.pack(">HHHH", 1, 65535, 0, 0) + question
            elif label == b"rdlen":  # rdlength past the end
                a = hdr + question + b"\xc0\x0c\x00\x0f\x00\x01\x00\x00\x00\x10\xff\xff\x00\x0a"
            elif label == b"qname":  # answers another question
                a = hdr + b"\x05other\x04test\x00\x00\x0f\x00\x01"
            else:                    # header only
                a = q[:2] + b"\x81"
            try:
                bad.sendto(a, peer)
            except OSError:
                return
    threading.Thread(target=hostile, daemon=True).start()
    t.control("nameservers", "127.0.0.1:%d\n" % badport)
    for lab in ("loop", "fwd", "short", "count", "rdlen", "hdr"):
        start = time.time()
        r = run(lab + ".hostile.test", "a@me.test", ["u@x.test"])
        t.ok(codes(r) == "sZ" and "DNS" in r[1][1] and time.time() - start < 10,
             "hostile DNS answer '%s': clean temporary failure" % lab)
    start = time.time()
    r = run("qname.hostile.test", "a@me.test", ["u@x.test"])
    t.ok(codes(r) == "sZ" and "DNS" in r[1][1],
         "answer to another question ignored, then temporary failure (%.1fs)" % (time.time() - start))
    bad.close()

    # a dead name server first, then the good one (and the IPv6 [::1]:port form)
    t.control("nameservers", "127.0.0.1:%d\n127.0.0.1:%d\n" % (badport, DNSPORT))
    r = run("amx.test", "a@me.test", ["u@amx.test"])
    t.is_(codes(r), "rK", "second name server used when the first is dead")
finally:
    for name in ("me", "helohost", "nameservers", "smtproutes", "timeoutremote",
                 "timeoutconnect", "outgoingip"):
        t.control(name, None)
    for c in [c1, c2, c6, c7] + ([cv6] if HAVE6 else []):
        c.stop()
    for sock in (busy, stall, junk, longgreet):
        sock.close()
t.done()
