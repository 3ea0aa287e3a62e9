#!/usr/bin/python3
# qmail-remote against RFC 5321, 1870, 6531, 7505 and its own man page, with
# scripted SMTP servers that record the bytes they get (bare CR, SIZE,
# quoted local parts, SMTPUTF8, 552 to RCPT, a refused HELO), a real DNS
# server (dnsmasq) with a SERVFAIL server behind one zone, a TLS failure at
# one address of an MX host, and qmail-rspawn relaying a report of 100 long
# server replies.
import os
import quopri
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402

t.need_home()
if not shutil.which("dnsmasq"):
    t.skip_all("dnsmasq is not installed (Debian package dnsmasq-base)")
REMOTE = os.path.join(t.BIN, "qmail-remote")
RSPAWN = os.path.join(t.BIN, "qmail-rspawn")
HAVE_TLS = os.access(os.path.join(t.BIN, "qmail-tls"), os.X_OK)


def bindable(addr, port=0):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind((addr, port))
        s.close()
        return True
    except OSError:
        return False


HAVE6 = bindable("::1")
ADDRS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"] + (["::1"] if HAVE6 else [])
while True:
    PORT = t.free_port()
    if all(bindable(a, PORT) for a in ADDRS):
        break


class Conn:
    """One client connection of a scripted server: lines in, replies out."""

    def __init__(self, c, log):
        self.c = c
        self.buf = b""
        self.log = log

    def send(self, b):
        self.c.sendall(b)

    def line(self):
        while b"\n" not in self.buf:
            d = self.c.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        x, self.buf = self.buf.split(b"\n", 1)
        self.log.append(x + b"\n")
        return x + b"\n"

    def data(self):
        """the raw DATA bytes up to the final dot line, exactly as sent"""
        out = b""
        while True:
            x = self.line()
            if x == b".\r\n":
                return out
            out += x


class Server:
    """A scripted SMTP server on addr:PORT.  ext: EHLO keywords; rcpt(addr)
    gives the RCPT reply; ehlo/helo: replies to those (None: 250)."""

    def __init__(self, addr, ext=("8BITMIME", "SIZE 10000000"), rcpt=None, ehlo=None,
                 helo=None, tlsjunk=False):
        self.ext, self.rcpt, self.ehlo, self.helo, self.tlsjunk = ext, rcpt, ehlo, helo, tlsjunk
        self.log, self.mails = [], []
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, PORT))
        self.sock.listen(16)
        t.accept_loop(self.sock, self.one)

    def one(self, c):
        cc = Conn(c, self.log)
        mail = None
        try:
            cc.send(b"220 scripted ESMTP\r\n")
            while True:
                x = cc.line()
                verb = x[:4].upper()
                if verb == b"EHLO":
                    if self.ehlo:
                        cc.send(self.ehlo)
                        continue
                    cc.send(b"".join(b"250-%s\r\n" % e.encode() for e in ("scripted",) + self.ext[:-1]) +
                            b"250 %s\r\n" % self.ext[-1].encode() if self.ext else b"250 scripted\r\n")
                elif verb == b"HELO":
                    cc.send(self.helo or b"250 scripted\r\n")
                elif verb == b"STAR" and self.tlsjunk:
                    cc.send(b"220 go ahead\r\n")
                    time.sleep(0.2)
                    cc.send(b"this is no TLS server hello\r\n" * 4)
                    time.sleep(1)
                    return
                elif verb == b"MAIL":
                    mail = [x, []]
                    cc.send(b"250 2.1.0 ok\r\n")
                elif verb == b"RCPT":
                    a = x[x.index(b"<") + 1:x.rindex(b">")].decode("utf-8", "replace")
                    rep = self.rcpt(a) if self.rcpt else b"250 2.1.5 ok\r\n"
                    if rep.startswith(b"2"):
                        mail[1].append(a)
                    cc.send(rep)
                elif verb == b"DATA":
                    cc.send(b"354 go on\r\n")
                    mail.append(cc.data())
                    self.mails.append(tuple(mail))
                    cc.send(b"250 2.0.0 queued\r\n")
                elif verb == b"QUIT":
                    cc.send(b"221 bye\r\n")
                    return
                else:
                    cc.send(b"250 ok\r\n")
        except (EOFError, OSError, ValueError):
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()


DNSPORT = t.free_port()
SERVFAIL = t.servfail_server()
dnsdir = t.tmpdir()
t.start(["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
         "--listen-address=127.0.0.1", "--bind-interfaces", "--port=%d" % DNSPORT, "--pid-file=",
         "--local=/test/", "--log-facility=" + os.path.join(dnsdir, "log"),
         "--server=/broken.example/127.0.0.1#%d" % SERVFAIL,
         "--mx-host=tl.test,mx.broken.example,10", "--mx-host=tl.test,me.test,20",
         "--host-record=me.test,127.0.0.9",
         "--dns-rr=mix.test,15,000000", "--mx-host=mix.test,mx.mix.test,10",
         "--host-record=mx.mix.test,127.0.0.1",
         "--host-record=raw.test,127.0.0.1", "--host-record=utf.test,127.0.0.2",
         "--host-record=helo.test,127.0.0.3",
         "--mx-host=tlsdown.test,mx.tlsdown.test,10",
         "--host-record=mx.tlsdown.test,127.0.0.2,::1"])
if not t.wait_port(DNSPORT):
    t.diag("dnsmasq did not start")

t.control("me", "me.test\n")
t.control("nameservers", "127.0.0.1:%d\n" % DNSPORT)
t.control("smtproutes", ".test::%d\n" % PORT)
t.control("timeoutremote", "5\n")
t.control("timeoutconnect", "3\n")
tmp = t.tmpdir()


def run(host, sender, rcpts, msg=b"Subject: test\n\nhello\n"):
    """qmail-remote; returns (codes, [texts])"""
    path = os.path.join(tmp, "msg")
    with open(path, "wb") as f:
        f.write(msg)
    with open(path, "rb") as f:
        p = subprocess.run([REMOTE, host, sender] + rcpts, stdin=f, stdout=subprocess.PIPE,
                           timeout=60)
    parts = p.stdout.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    if p.returncode != 0 or len(parts) != len(rcpts) + 1:
        t.diag("exit %d, output %r" % (p.returncode, p.stdout[:300]))
    return "".join(x[:1].decode() for x in parts), [x[1:].decode("utf-8", "replace") for x in parts]


def rcpt552(a):
    return b"552 5.5.3 too many recipients\r\n" if a.startswith("many") else b"250 2.1.5 ok\r\n"


raw = Server("127.0.0.1", ext=("8BITMIME", "SIZE 10000000", "PIPELINING"), rcpt=rcpt552)
utf = Server("127.0.0.2", ext=("8BITMIME", "SMTPUTF8"))
helo = Server("127.0.0.3", ehlo=b"502 5.5.1 no EHLO here\r\n", helo=b"550 5.7.1 your name is wrong\r\n")
servers = [raw, utf, helo]
t.plan(27)
try:
    # bare CR: only CRLF goes out, and a dot after a bare CR is stuffed
    raw.mails.clear()
    c, x = run("raw.test", "a@me.test", ["u@raw.test"],
               msg=b"Subject: cr\n\nhello\r.\nMAIL FROM:<ceo@bank.example>\nx\r\r\ny\rz\n")
    got = raw.mails[0][2] if raw.mails else b""
    t.is_(c, "rK", "a message with bare CRs is delivered")
    t.is_(got, b"Subject: cr\r\n\r\nhello\r\n..\r\nMAIL FROM:<ceo@bank.example>\r\nx\r\ny\r\nz\r\n",
          "a bare CR goes out as CRLF, the dot after it stuffed; CR CR LF is one line end")
    t.ok(b"\r" not in got.replace(b"\r\n", b""), "no CR leaves except in CRLF")
    raw.mails.clear()
    long = b"x" * 8191
    c, x = run("raw.test", "a@me.test", ["u@raw.test"], msg=b"Subject: long\n\n" + long + b"\r\nend\n")
    got = raw.mails[0][2] if raw.mails else b""
    body = got.split(b"\r\n\r\n", 1)[-1]
    t.ok(body.endswith(b"x\r\nend\r\n") and b"=0D" not in body and
         quopri.decodestring(body.replace(b"\r\n", b"\n")) == long + b"\nend\n",
         "a CRLF split between two 8192-byte pieces is one line end, not CR CR LF, nor an encoded CR")

    # SIZE counts CRLF line ends, not stuffing dots (RFC 1870)
    raw.mails.clear()
    body = b"Subject: dots\n\n" + b".\n" * 100 + b"..x\n"
    c, x = run("raw.test", "a@me.test", ["u@raw.test"], msg=body)
    mail = raw.mails[0][0] if raw.mails else b""
    want = len(body.replace(b"\n", b"\r\n"))
    t.ok(c == "rK" and b" SIZE=%d" % want in mail, "SIZE=%d without the stuffing dots: %r" % (want, mail))

    # lines longer than 998 octets made shorter (RFC 5321 4.5.3.1.6):
    # SIZE is what is sent, a line the break leaves starting with a dot
    # is stuffed, and the stuffing dot is not counted
    raw.mails.clear()
    body = (b"Subject: " + b"s" * 1500 + b"\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=b1\n\n--b1\n"
            b"Content-Transfer-Encoding: base64\n\n" + b"A" * 998 + b".BBBB\n--b1\n"
            b"Content-Transfer-Encoding: quoted-printable\n\n" + b"q" * 996 + b"=3D.x\n--b1\n\n" +
            b"." * 3000 + b"\n--b1--\n")
    c, x = run("raw.test", "a@me.test", ["u@raw.test"], msg=body)
    mail, got = (raw.mails[0][0], raw.mails[0][2]) if raw.mails else (b"", b"")
    lines = got.split(b"\r\n")[:-1]
    unstuffed = [ln[1:] if ln.startswith(b".") else ln for ln in lines]
    sent = sum(len(ln) + 2 for ln in unstuffed)
    t.ok(c == "rK" and b" SIZE=%d" % sent in mail and max(len(ln) for ln in unstuffed) <= 998,
         "long lines: every line at most 998 octets, SIZE=%d exact (%r)" % (sent, mail))
    t.ok(b"\r\n" + b"A" * 998 + b"\r\n..BBBB\r\n" in got and
         b"\r\n" + b"q" * 996 + b"=\r\n=3D.x\r\n" in got,
         "base64 broken at 998, quoted-printable with a soft break not inside =XX, a dot stuffed")
    t.ok(got.startswith(b"Subject:\r\n " + b"s" * 997 + b"\r\n " + b"s" * 503 + b"\r\n"),
         "a header line folded at its one blank, then broken by CRLF SP")

    # RFC 5321 4.1.2: a local part that is no Dot-string goes out as a
    # Quoted-string (the queue keeps it unquoted), the others as they are
    raw.mails.clear()
    del raw.log[:]
    c, x = run("raw.test", "a b@me.test", ["x y@raw.test", "a..b@raw.test", ".a@raw.test", 'q"t@raw.test',
                                          "b\\s@raw.test", "plain.one+x@raw.test"])
    cmds = [ln for ln in raw.log if ln[:4] in (b"MAIL", b"RCPT")]
    t.is_([ln.split(b" SIZE=")[0].rstrip(b"\r\n") for ln in cmds],
          [b'MAIL FROM:<"a b"@me.test>', b'RCPT TO:<"x y"@raw.test>', b'RCPT TO:<"a..b"@raw.test>',
           b'RCPT TO:<".a"@raw.test>', b'RCPT TO:<"q\\"t"@raw.test>', b'RCPT TO:<"b\\\\s"@raw.test>',
           b"RCPT TO:<plain.one+x@raw.test>"],
          "MAIL and RCPT quote a local part that is no Dot-string, and only such a one")
    t.is_(c, "rrrrrrK", "and every recipient is delivered")
    c, x = run("raw.test", "", ["u@raw.test"])
    t.ok(c == "rK" and raw.mails[-1][0].startswith(b"MAIL FROM:<> "), "the null sender stays <>")

    # 552 to RCPT is temporary (RFC 5321 4.5.3.1.10)
    raw.mails.clear()
    c, x = run("raw.test", "a@me.test", ["ok@raw.test", "many@raw.test"])
    t.is_(c, "rsK", "552 to RCPT: that recipient deferred, the other delivered")
    t.ok("552" in x[1], "the 552 reply is quoted: %s" % x[1])

    # SMTPUTF8 (RFC 6531)
    raw.mails.clear()
    c, x = run("raw.test", "a@me.test", ["j\u00f6rg@raw.test", "ok@raw.test"])
    t.is_(c, "hrK", "a UTF-8 recipient to a server without SMTPUTF8 fails, the other goes")
    t.ok("SMTPUTF8" in x[0] and "5.6.7" in x[0], "and says why: %s" % x[0])
    t.ok(raw.mails and raw.mails[0][1] == ["ok@raw.test"] and b"SMTPUTF8" not in raw.mails[0][0],
         "only the ASCII recipient went, MAIL without SMTPUTF8")
    c, x = run("raw.test", "j\u00f6rg@me.test", ["ok@raw.test"])
    t.ok(c == "hD" and "SMTPUTF8" in x[1], "a UTF-8 sender to a server without SMTPUTF8: permanent")
    c, x = run("utf.test", "a@me.test", ["j\u00f6rg@utf.test"])
    t.ok(c == "rK" and utf.mails and utf.mails[0][0].rstrip() == b"MAIL FROM:<a@me.test> SMTPUTF8",
         "to a server that offers SMTPUTF8: MAIL carries SMTPUTF8 (%r)" %
         (utf.mails[0][0] if utf.mails else None))

    # a refused HELO is temporary: it may be our own helohost's fault
    c, x = run("helo.test", "a@me.test", ["u@helo.test"])
    t.ok(c == "sZ" and "550" in x[1] and "HELO" in x[1], "550 to HELO: temporary (%s)" % x[-1])

    # RFC 7505: a null MX beside a real MX is ignored
    raw.mails.clear()
    c, x = run("mix.test", "a@me.test", ["u@mix.test"])
    t.ok(c == "rK" and raw.mails, "a null MX beside a real one: the real one gets the mail (%s)" % x[-1])

    # a better MX that DNS cannot answer for, and this host worse: temporary
    t.control("smtproutes", None)
    c, x = run("tl.test", "a@me.test", ["u@tl.test"])
    t.ok(c == "sZ" and "DNS" in x[1] and "loops" not in x[1],
         "SERVFAIL for the better MX, this host the worse: temporary, no loop (%s)" % x[1])
    t.control("smtproutes", ".test::%d\n" % PORT)

    # TLS failed at one address: the host's other address must give TLS
    if HAVE6 and HAVE_TLS:
        tls6 = Server("::1", ext=("8BITMIME", "STARTTLS"), tlsjunk=True)
        clear4 = utf
        servers.append(tls6)
        clear4.mails.clear()
        del clear4.log[:]
        c, x = run("tlsdown.test", "a@me.test", ["u@tlsdown.test"])
        t.is_(c, "sZ", "TLS fails at ::1 and 127.0.0.2 offers no STARTTLS: temporary")
        t.ok(not clear4.mails and not any(w.startswith(b"MAIL") for w in clear4.log),
             "nothing went in clear text to the host's other address")
        t.ok("failed TLS at another address" in x[1], "the report says why: %s" % x[1])
    else:
        t.skip("needs ::1 and bin/qmail-tls", 3)

    # qmail-rspawn keeps a report of 100 recipients with long replies
    def longrcpt(a):
        return b"250 2.1.5 recipient ok " + b"x" * 1800 + b"\r\n"
    raw.rcpt = longrcpt
    raw.mails.clear()
    qid = 23 * 1000 + 7
    mess = os.path.join(t.HOME, "queue", "mess", str(qid % 23), str(qid))
    os.makedirs(os.path.dirname(mess), exist_ok=True)
    with open(mess, "wb") as f:
        f.write(b"Subject: many\n\nhello\n")
    req = b"3\0%d\0Hraw.test\0Fa@me.test\0" % qid + \
        b"".join(b"Tu%d@raw.test\0" % i for i in range(100)) + b"\0"
    try:
        p = subprocess.run([RSPAWN], input=req, stdout=subprocess.PIPE, timeout=120)
    finally:
        os.unlink(mess)
    recs = p.stdout.split(b"\0")
    t.ok(len(raw.mails) == 1 and len(raw.mails[0][1]) == 100, "one transaction, 100 recipients")
    t.ok(recs[0] == b"3" and len(recs) == 102 and all(r[:1] == b"K" for r in recs[1:101]),
         "qmail-rspawn answers K for all 100, though the replies passed 64 KiB (%r)" %
         sorted(set(r[:1] for r in recs[1:])))
    t.ok(all(len(r) <= 1001 for r in recs), "each record's text at most 1000 bytes")
finally:
    for n in ("me", "nameservers", "smtproutes", "timeoutremote", "timeoutconnect"):
        t.control(n, None)
    for s in servers:
        s.close()
t.done()
