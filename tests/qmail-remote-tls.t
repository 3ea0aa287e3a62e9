#!/usr/bin/python3
# qmail-remote and outbound TLS: STARTTLS through qmail-tls -C against
# lanmail's own qmail-smtpd behind a real tcpserver and qmail-tls -s, with
# certificates this test makes with openssl (a test CA; a good certificate,
# one for the wrong name, an expired one), control/tlsroutes policies, and
# raw peers whose TLS handshake fails, stalls, or that inject clear text
# after their 220.  Names come from a real dnsmasq; every peer listens on
# one port, reached through a ".test::PORT" smtproutes entry.
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402
import smtpdtest as s  # noqa: E402

t.need_home()
TLS = os.path.join(t.BIN, "qmail-tls")
REMOTE = os.path.join(t.BIN, "qmail-remote")
if not os.path.exists(TLS):
    t.skip_all("qmail-tls was not built")
if not shutil.which("dnsmasq"):
    t.skip_all("dnsmasq is not installed (Debian package dnsmasq-base)")
RECORDER = os.path.join(t.SRC, "tests", "qq-record")
CERT = os.path.join(t.HOME, "control", "servercert.pem")
KEY = os.path.join(t.HOME, "control", "serverkey.pem")


def addr_ok(a):
    try:
        x = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        x.bind((a, 0))
        x.close()
        return True
    except OSError:
        return False


while True:
    PORT = t.free_port()
    if all(addr_ok("127.0.0.%d" % i) for i in range(1, 7)):
        break

# --- certificates -----------------------------------------------------------
pki = t.tmpdir("remote-tls-pki.")


def ossl(*args, **kw):
    r = subprocess.run(["openssl"] + list(args), cwd=pki, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        t.diag("openssl %s: %s" % (" ".join(args), r.stderr))
    return r.returncode == 0


def p(name):
    return os.path.join(pki, name)


ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
     "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=lanmail test CA", "-days", "30",
     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
# "openssl ca" sets any validity period, the past included
t.write(p("ca.cnf"), """[ca]
default_ca = testca
[testca]
dir = %s
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
""" % pki)
t.write(p("index.txt"), "")
t.write(p("serial"), "1000\n")


def leaf(name, san, start=None, end=None):
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + san.split(",")[0][4:],
         "-addext", "subjectAltName=" + san)
    dates = ["-startdate", start, "-enddate", end] if start else ["-days", "30"]
    ossl("ca", "-batch", "-config", "ca.cnf", "-in", name + ".csr", "-out", name + ".pem",
         "-notext", *dates)


leaf("good", "DNS:mx.tls.test,IP:127.0.0.1")
leaf("wrong", "DNS:www.elsewhere.example")
leaf("expired", "DNS:mx.tls.test,IP:127.0.0.1", "20200101000000Z", "20200201000000Z")
made = all(os.path.exists(p(n + ".pem")) for n in ("good", "wrong", "expired"))
if not made:
    t.skip_all("openssl could not make the test certificates")


def servercert(name):
    """The certificate the qmail-tls -s peer uses from its next connection."""
    with open(p(name + ".pem"), "rb") as f:
        c = f.read()
    with open(p("ca.pem"), "rb") as f:
        c += f.read()
    t.write(CERT, c)
    with open(p(name + ".key"), "rb") as f:
        t.write(KEY, f.read(), 0o600)


# --- DNS --------------------------------------------------------------------
DNSPORT = t.free_port()
dnsdir = t.tmpdir()
t.start(["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
         "--listen-address=127.0.0.1", "--bind-interfaces", "--port=%d" % DNSPORT, "--pid-file=",
         "--local=/test/", "--log-facility=" + os.path.join(dnsdir, "log"),
         "--mx-host=tls.test,mx.tls.test,10", "--host-record=mx.tls.test,127.0.0.1",
         "--mx-host=bad.test,mx.bad.test,10", "--host-record=mx.bad.test,127.0.0.2",
         "--mx-host=fb.test,mx.bad.test,10", "--mx-host=fb.test,mx.tls.test,20",
         "--mx-host=stall.test,mx.stall.test,10", "--host-record=mx.stall.test,127.0.0.3",
         "--mx-host=plain.test,mx.plain.test,10", "--host-record=mx.plain.test,127.0.0.4",
         "--mx-host=inject.test,mx.inject.test,10", "--host-record=mx.inject.test,127.0.0.5",
         "--mx-host=refuse.test,mx.refuse.test,10", "--host-record=mx.refuse.test,127.0.0.6"])
if not t.wait_port(DNSPORT):
    t.diag("dnsmasq did not start")

# --- peers ------------------------------------------------------------------
s.setup()
for f in (CERT, KEY):
    s._save(f)
for c in ("smtproutes", "tlsroutes", "tlsca", "helohost", "timeoutremote", "timeoutconnect"):
    s._save(os.path.join(t.HOME, "control", c))
servercert("good")
rec = t.tmpdir("remote-tls-rec.")
logdir = t.tmpdir("remote-tls-log.")
env = dict(os.environ)
for v in ("RELAYCLIENT", "SUBMISSION", "DATABYTES"):
    env.pop(v, None)
env.update({"QMAILQUEUE": RECORDER, "QQ_RECORD": rec})
tlslog = open(os.path.join(logdir, "tls"), "wb")
t.start(["tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.1", str(PORT), TLS, "-s",
         os.path.join(t.BIN, "qmail-smtpd")], env=env, stdout=subprocess.DEVNULL, stderr=tlslog)
plainlog = open(os.path.join(logdir, "plain"), "wb")
t.start(["tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.4", str(PORT),
         os.path.join(t.BIN, "qmail-smtpd")], env=env, stdout=subprocess.DEVNULL, stderr=plainlog)
t.wait_port(PORT)
t.wait_port(PORT, "127.0.0.4")


class RawPeer:
    """An SMTP peer on addr that offers STARTTLS and answers it 220, then:
    'garbage' sends bytes that are not TLS and hangs up, 'stall' sends
    the first byte of a TLS record and no more, 'inject' had sent a second reply with its 220; 'refuse'
    answers 454 instead."""

    def __init__(self, addr, mode):
        self.mode = mode
        self.conns = 0
        self.got = b""
        self.stalled = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, PORT))
        self.sock.listen(8)
        self.held = []
        t.accept_loop(self.sock, self.talk)

    def talk(self, c):
        # counted before the greeting: nothing a client sees comes sooner
        self.conns += 1
        self.held.append(c)
        c.settimeout(20)
        try:
            c.sendall(b"220 raw.test ESMTP\r\n")
            buf = b""
            indata = False
            while True:
                d = c.recv(4096)
                if not d:
                    return
                self.got += d
                buf += d
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    cmd = line.strip().upper()
                    if indata:
                        if cmd == b".":
                            indata = False
                            c.sendall(b"250 2.0.0 taken in clear\r\n")
                        continue
                    if cmd == b"DATA":
                        indata = True
                        c.sendall(b"354 go on\r\n")
                    elif cmd.startswith(b"EHLO"):
                        c.sendall(b"250-raw.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
                    elif cmd == b"STARTTLS":
                        if self.mode == "refuse":
                            c.sendall(b"454 4.7.0 TLS not available right now\r\n")
                            continue
                        if self.mode == "inject":
                            c.sendall(b"220 go ahead\r\n250 injected\r\n")
                            continue
                        if self.mode == "stall":
                            # the 220 just before the wall clock's
                            # second turns: a limit counted in whole
                            # seconds from then would end close to a
                            # second early
                            time.sleep((0.85 - time.time() % 1) % 1)
                        c.sendall(b"220 go ahead\r\n")
                        t220 = time.time()
                        hello = c.recv(4096)
                        self.got += b"<hello %d bytes>" % len(hello)
                        if self.mode == "stall":
                            # the first byte of a record, just after the
                            # second turns, then nothing: a wait counted
                            # in whole seconds from then would end within
                            # that second.  The seconds until the client
                            # gives up and hangs up are noted.
                            time.sleep(max(0, int(t220) + 2.02 - time.time()))
                            c.sendall(b"\x16")
                            while c.recv(4096):
                                pass
                            self.stalled.append(time.time() - t220)
                            return
                        c.sendall(b"this is not TLS at all\r\n" * 4)
                        time.sleep(0.5)
                        c.close()
                        return
                    elif cmd == b"QUIT":
                        c.sendall(b"221 bye\r\n")
                        return
                    else:
                        c.sendall(b"250 ok\r\n")
        except OSError:
            return
        finally:
            try:
                c.close()
            except OSError:
                pass


bad = RawPeer("127.0.0.2", "garbage")
stall = RawPeer("127.0.0.3", "stall")
inject = RawPeer("127.0.0.5", "inject")
refuse = RawPeer("127.0.0.6", "refuse")

t.control("helohost", "client.remote-tls.test\n")
t.control("nameservers", "127.0.0.1:%d\n" % DNSPORT)
t.control("smtproutes", ".test::%d\n" % PORT)
t.control("timeoutremote", "3\n")
t.control("timeoutconnect", "3\n")
t.control("tlsroutes", None)
t.control("tlsca", None)
tmp = t.tmpdir()


def run(host, rcpts=("u1@relay.test",), msg=b"Subject: tls test\n\nhello over the wire\n"):
    path = os.path.join(tmp, "msg")
    with open(path, "wb") as f:
        f.write(msg)
    with open(path, "rb") as f:
        r = subprocess.run([REMOTE, host, "a@lanmail.test"] + list(rcpts), stdin=f,
                           stdout=subprocess.PIPE, timeout=60)
    parts = r.stdout.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    res = [(x[:1].decode(), x[1:].decode("utf-8", "replace")) for x in parts]
    if r.returncode != 0 or len(res) != len(rcpts) + 1:
        t.diag("exit %d, output %r" % (r.returncode, r.stdout))
        return "?", ""
    t.diag("%s: %s" % (host, res[-1][1]))
    return "".join(c for c, _ in res), res[-1][1]


def recorded():
    """The messages the peers handed to qmail-queue since the last call."""
    out = []
    for n in sorted(os.listdir(rec)):
        path = os.path.join(rec, n)
        if n.endswith(".msg"):
            with open(path, "rb") as f:
                out.append(f.read())
        os.unlink(path)
    return out


def received_with(msg):
    """The protocol of the peer's own Received line: ESMTP or ESMTPS."""
    first = msg.split(b"\n\t", 2)
    for part in first:
        if b" with " in part:
            return part.split(b" with ", 1)[1].split(b";")[0].split()[0].decode()
    return ""


try:
    # opportunistic: STARTTLS offered, used; not verified without control/tlsca
    code, text = run("tls.test")
    t.is_(code, "rK", "STARTTLS offered: delivered")
    t.ok("TLSv1." in text and "certificate not verified" in text,
         "report names the TLS version and says the certificate was not verified")
    m = recorded()
    t.ok(len(m) == 1 and received_with(m[0]) == "ESMTPS", "the peer saw a TLS session (ESMTPS)")

    # the same with the test CA as control/tlsca: verified
    t.control("tlsca", open(p("ca.pem")).read())
    code, text = run("tls.test")
    t.ok(code == "rK" and "certificate verified" in text, "with control/tlsca: verified")
    recorded()

    # no STARTTLS offered: clear text
    code, text = run("plain.test")
    t.ok(code == "rK" and "TLS" not in text, "STARTTLS not offered: delivered in clear text")
    m = recorded()
    t.ok(len(m) == 1 and received_with(m[0]) == "ESMTP", "the plain peer saw ESMTP")

    # a handshake that fails: deferred, nothing in clear, no second try
    code, text = run("bad.test")
    t.ok(code == "sZ" and "TLS handshake failed" in text, "failed handshake: deferred")
    t.ok(b"MAIL FROM" not in bad.got and bad.conns == 1,
         "failed handshake: no clear-text fallback (%d connection(s))" % bad.conns)

    # the next MX after a failed handshake
    code, text = run("fb.test")
    t.ok(code == "rK" and "mx.tls.test" in text and "TLSv1." in text,
         "failed handshake at the best MX: the next MX over TLS")
    recorded()

    # a handshake that stalls: timeoutremote applies
    start = time.time()
    code, text = run("stall.test")
    took = time.time() - start
    t.ok(code == "sZ" and "timed out" in text, "stalled handshake: deferred")
    t.ok(took < 20, "stalled handshake: gave up in time (%.1fs)" % took)
    end = time.time() + 20	# the peer's thread notes it once it sees the hang-up
    while not stall.stalled and time.time() < end:
        time.sleep(0.05)
    t.ok(stall.stalled and stall.stalled[-1] >= 2.9,
         "and not before timeoutremote, 3 s, from the 220 (%s)" % ["%.2f s" % x for x in stall.stalled])
    t.ok(b"MAIL FROM" not in stall.got, "stalled handshake: nothing sent in clear")

    # STARTTLS offered, then refused: not a reason to go on in clear
    code, text = run("refuse.test")
    t.ok(code == "sZ" and "STARTTLS refused" in text and "454" in text,
         "STARTTLS refused with 454: deferred")
    t.ok(b"MAIL FROM" not in refuse.got and refuse.conns == 1, "refused STARTTLS: nothing in clear")

    # a large message through the relay, several recipients
    big = b"Subject: big\n\n" + b"".join(b"%07d " % i + b"x" * 70 + b"\n" for i in range(40000))
    code, text = run("tls.test", ("u1@relay.test", "u2@relay.test"), big)
    t.ok(code == "rrK" and "TLSv1." in text, "3 MB message over TLS: delivered")
    m = recorded()
    t.ok(len(m) == 1 and m[0].endswith(big.split(b"\n\n", 1)[1]),
         "3 MB message over TLS: arrived whole")

    # a reply smuggled in clear after the 220 to STARTTLS
    code, text = run("inject.test")
    t.ok(code == "sZ" and "clear text after the 220" in text,
         "clear text after the 220 to STARTTLS: that host fails")
    t.ok(b"MAIL FROM" not in inject.got, "no transaction with the injecting peer")

    # verify: a good certificate for the MX name
    t.control("tlsroutes", "tls.test:verify\nplain.test:verify\n")
    code, text = run("tls.test")
    t.ok(code == "rK" and "certificate verified" in text, "verify route, good certificate: delivered")
    t.is_(len(recorded()), 1, "verify route: the peer got it")

    # verify: wrong name, expired
    servercert("wrong")
    code, text = run("tls.test")
    t.ok(code == "sZ" and "hostname mismatch" in text, "verify route, wrong-name certificate: deferred")
    servercert("expired")
    code, text = run("tls.test")
    t.ok(code == "sZ" and "expired" in text, "verify route, expired certificate: deferred")
    t.is_(recorded(), [], "nothing delivered with a bad certificate")

    # verify: no STARTTLS offered
    code, text = run("plain.test")
    t.ok(code == "sZ" and "STARTTLS is not offered" in text, "verify route, no STARTTLS: deferred")
    t.is_(recorded(), [], "verify route, no STARTTLS: nothing sent in clear")

    # verify, a CA the host does not trust (the system store)
    servercert("good")
    t.control("tlsca", None)
    code, text = run("tls.test")
    t.ok(code == "sZ" and "certificate not accepted" in text,
         "verify route, certificate from an unknown CA: deferred")
    t.control("tlsca", open(p("ca.pem")).read())

    # encrypt: TLS required, the name not checked; default line and suffixes
    servercert("wrong")
    t.control("tlsroutes", ".test:verify\ntls.test:encrypt\n:none\n")
    code, text = run("tls.test")
    t.ok(code == "rK" and "certificate not verified" in text, "encrypt route: wrong name accepted")
    code, text = run("plain.test")
    t.ok(code == "sZ" and "STARTTLS" in text, "'.test' suffix line: verify applies to plain.test")
    t.control("tlsroutes", ":encrypt\n")
    code, text = run("plain.test")
    t.ok(code == "sZ" and "tlsroutes" in text, "default line ':encrypt': no STARTTLS, deferred")
    recorded()

    # none: clear text even when STARTTLS is offered
    t.control("tlsroutes", "bad.test:none\n")
    code, text = run("bad.test")
    t.ok(code == "rK" and "TLS" not in text and b"MAIL FROM" in bad.got,
         "'none' route: clear text to a host with a broken TLS")

    # an address literal relay: the certificate must hold the address
    servercert("good")
    t.control("smtproutes", "lit.test:[127.0.0.1]:%d\n.test::%d\n" % (PORT, PORT))
    t.control("tlsroutes", "lit.test:verify\n")
    code, text = run("lit.test")
    t.ok(code == "rK" and "certificate verified" in text, "literal relay: IP address verified")
    servercert("wrong")
    code, text = run("lit.test")
    t.ok(code == "sZ" and "mismatch" in text, "literal relay: certificate without the address deferred")
    recorded()

    # a junk policy
    t.control("tlsroutes", "tls.test:sometimes\n")
    code, text = run("tls.test")
    t.ok(code == "sZ" and "tlsroutes" in text, "unknown policy in control/tlsroutes: deferred")
    t.is_(recorded(), [], "nothing delivered with a junk policy")

    # qmail-remote itself links no TLS library (static musl or glibc alike)
    with open(REMOTE, "rb") as f:
        binary = f.read()
    needed = ""
    if shutil.which("readelf"):
        needed = subprocess.run(["readelf", "-d", REMOTE], capture_output=True, text=True).stdout
    t.ok(b"OpenSSL" not in binary and b"SSL_CTX_new" not in binary and
         "libssl" not in needed and "libcrypto" not in needed, "qmail-remote does not link OpenSSL")

    # the client mode's command line
    r = subprocess.run([TLS, "-C", "-v"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    t.ok(r.returncode == 100 and "usage" in r.stderr, "qmail-tls -C -v without -n: usage, 100")
finally:
    s.restore()
    for peer in (bad, stall, inject, refuse):
        peer.sock.close()
        for c in peer.held:
            try:
                c.close()
            except OSError:
                pass
t.done()
