#!/usr/bin/python3
"""qmail-tls: implicit TLS and STARTTLS in front of real server programs,
with openssl s_client, python's ssl module and curl as clients.

The line server is tests/lib-starttls in its "serve" mode (ECHO, ENV,
DATA, BIG, STARTTLS through lib/starttls, QUIT); qmail-smtpd stands behind
qmail-tls for the smtps checks."""
import os
import select
import socket
import ssl
import subprocess
import sys
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402

t.need_home()
if not os.path.exists(os.path.join(t.BIN, "qmail-tls")):
    t.skip_all("qmail-tls was not built")

CTL = os.path.join(t.HOME, "control")
CERT = os.path.join(CTL, "servercert.pem")
KEY = os.path.join(CTL, "serverkey.pem")
TLS = os.path.join(t.BIN, "qmail-tls")
LINESERVER = os.path.join(t.BUILD, "tests", "lib-starttls")
work = t.tmpdir("qmail-tls.")

# our own certificate for the test; an existing one is put back at the end
saved = {}
for f in (CERT, KEY):
    if os.path.exists(f):
        with open(f, "rb") as fh:
            saved[f] = (fh.read(), os.stat(f).st_mode & 0o777)
        os.unlink(f)


def restore():
    for f in (CERT, KEY):
        if os.path.exists(f):
            os.unlink(f)
        if f in saved:
            with open(f, "wb") as fh:
                fh.write(saved[f][0])
            os.chmod(f, saved[f][1])


import atexit  # noqa: E402
atexit.register(restore)

r = subprocess.run(["sh", os.path.join(t.SRC, "mkcert.sh"), t.HOME, "mail.lanmail.test"],
                   capture_output=True, text=True)
t.ok(r.returncode == 0 and os.path.exists(CERT) and os.path.exists(KEY),
     "mkcert.sh makes a certificate: " + r.stderr.strip())
t.is_(os.stat(KEY).st_mode & 0o777, 0o600, "the key is mode 600")
t.ok("self-signed" in r.stderr, "mkcert.sh says it made a self-signed certificate")
r = subprocess.run(["sh", os.path.join(t.SRC, "mkcert.sh"), t.HOME], capture_output=True, text=True)
t.ok(r.returncode == 0 and "kept" in r.stderr, "mkcert.sh keeps an existing certificate")
# a link in the certificate's place is a certificate too, even one that
# leads nowhere (into an /etc/letsencrypt a restored host does not have)
for f in (CERT, KEY):
    os.rename(f, f + ".kept")
nowhere = os.path.join(work, "letsencrypt", "fullchain.pem")
os.symlink(nowhere, CERT)
r = subprocess.run(["sh", os.path.join(t.SRC, "mkcert.sh"), t.HOME], capture_output=True, text=True)
t.ok(r.returncode == 0 and "kept" in r.stderr and os.path.islink(CERT) and os.readlink(CERT) == nowhere and
     not os.path.lexists(KEY), "mkcert.sh keeps a certificate that is a link leading nowhere: " + r.stderr.strip())
os.unlink(CERT)
for f in (CERT, KEY):
    os.rename(f + ".kept", f)


def serve(args, prog=None, env=None, cwd=None):
    """tcpserver -> qmail-tls args -> prog; stderr to a log file."""
    prog = prog or [LINESERVER, "serve"]
    log = open(os.path.join(work, "log%d" % len(os.listdir(work))), "wb")
    port = t.free_port()
    e = dict(os.environ)
    e.update(env or {})
    p = t.start(["tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.1", str(port), TLS]
                + args + prog, env=e, stdout=subprocess.DEVNULL, stderr=log, cwd=cwd)
    t.wait_port(port)
    p.logname = log.name
    return p, port


def logged(p, text, timeout=20):
    """text is in p's log: qmail-tls logs a failed handshake after the
    client has seen the connection fail, so it is waited for"""
    def seen():
        with open(p.logname, "rb") as f:
            return text in f.read().decode("latin-1")
    return t.wait_until(seen, timeout)


def client_ctx(minv=None, maxv=None, seclevel0=False):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    if seclevel0:
        c.set_ciphers("DEFAULT@SECLEVEL=0")
    if minv:
        c.minimum_version = minv
    if maxv:
        c.maximum_version = maxv
    return c


class Lines:
    """A line client over a socket that may turn into TLS."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed")
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.rstrip(b"\r").decode("latin-1")

    def cmd(self, c):
        self.send(c.encode() + b"\r\n")
        return self.line()

    def rest(self):
        """Everything until the peer closes."""
        out = self.buf
        self.buf = b""
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    break
                out += d
        except (OSError, ssl.SSLError):
            pass
        return out.decode("latin-1")


def tls_connect(port, ctx=None, sni=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return Lines((ctx or client_ctx()).wrap_socket(raw, server_hostname=sni))


def env_of(c):
    r = c.cmd("ENV")
    return dict(kv.split("=", 1) for kv in r.split()[1:])


# --- implicit TLS ---
imp, iport = serve([])
c = tls_connect(iport, sni="mail.lanmail.test")
t.is_(c.line(), "220 test server ready", "implicit: greeting through TLS")
env = env_of(c)
t.is_(env.get("TLSVERSION"), "TLSv1.3", "implicit: TLSVERSION in the environment")
t.ok(env.get("TLSCIPHER", "").startswith("TLS_"), "implicit: TLSCIPHER " + env.get("TLSCIPHER", "?"))
t.ok(env.get("TLSCIPHERBITS") in ("128", "256"), "implicit: TLSCIPHERBITS")
t.is_(env.get("TLSSERVERNAME"), "mail.lanmail.test", "implicit: the client's SNI name")
t.ok("TLSCONTROL" not in env and "TLSCLIENTSUBJECT" not in env, "implicit: no control socket, no client certificate")
t.is_(c.cmd("ECHO hello"), "250 hello", "implicit: a command and its reply")
# relay correctness both ways with large volumes
body = b"".join(b"line %06d %s\r\n" % (i, b"y" * 90) for i in range(30000))
t.is_(c.cmd("DATA"), "354 go on", "implicit: DATA")
c.send(body + b".\r\n")
want = sum(len(ln) for ln in body.split(b"\r\n")[:-1])
t.is_(c.line(), "250 %d 30000" % want, "implicit: 3 MB from the client arrive whole")
r = c.cmd("BIG 2000000")
t.ok(r == "250 " + "x" * 2000000, "implicit: 2 MB to the client arrive whole")
# pipelined commands in one write
c.send(b"ECHO a\r\nECHO b\r\nECHO c\r\n")
t.is_([c.line(), c.line(), c.line()], ["250 a", "250 b", "250 c"], "implicit: pipelined commands")
t.is_(c.cmd("QUIT"), "221 bye", "implicit: QUIT")
t.is_(c.rest(), "", "implicit: the connection closes after the program exits")

# TLS 1.2: allowed, with a forward-secret AEAD suite
c = tls_connect(iport, client_ctx(maxv=ssl.TLSVersion.TLSv1_2))
c.line()
env = env_of(c)
t.is_(env.get("TLSVERSION"), "TLSv1.2", "TLS 1.2 accepted")
t.ok(env.get("TLSCIPHER", "").startswith("ECDHE-") and ("GCM" in env["TLSCIPHER"] or "CHACHA" in env["TLSCIPHER"]),
     "TLS 1.2 suite is ECDHE with AEAD: " + env.get("TLSCIPHER", "?"))
c.cmd("QUIT")

# below TLS 1.2: refused, whatever the client is willing to do
for v, name in ((ssl.TLSVersion.TLSv1_1, "TLS 1.1"), (ssl.TLSVersion.TLSv1, "TLS 1.0")):
    try:
        c = tls_connect(iport, client_ctx(minv=v, maxv=v, seclevel0=True))
        c.line()
        t.ok(False, name + " refused")
    except (ssl.SSLError, OSError, EOFError) as e:
        t.ok(True, name + " refused (%s)" % e.__class__.__name__)
t.ok(logged(imp, "handshake with 127.0.0.1 failed"), "the refusal is logged with the client's address")

# a TLS 1.2 client offering only CBC / non-forward-secret suites is refused
weak = client_ctx(maxv=ssl.TLSVersion.TLSv1_2, seclevel0=True)
weak.set_ciphers("AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0")
try:
    c = tls_connect(iport, weak)
    c.line()
    t.ok(False, "CBC-only TLS 1.2 client refused")
except (ssl.SSLError, OSError, EOFError):
    t.ok(True, "CBC-only TLS 1.2 client refused")

# openssl s_client: versions, compression, renegotiation
def s_client(args, stdin=b"", timeout=10):
    return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % iport,
                           "-servername", "mail.lanmail.test"] + args,
                          input=stdin, capture_output=True, timeout=timeout)


r = s_client(["-tls1_3", "-ign_eof"], b"ECHO via s_client\nQUIT\n")
out = r.stdout.decode("latin-1")
t.ok("250 via s_client" in out and "221 bye" in out, "s_client TLS 1.3 session")
t.ok("Compression: NONE" in out or "Compression" not in out, "no compression")
t.ok("New Session Ticket" not in out + r.stderr.decode("latin-1"),
     "no TLS 1.3 session tickets (none could ever be used)")
r = s_client(["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], b"QUIT\n")
t.ok(r.returncode != 0 and "220 test server ready" not in r.stdout.decode("latin-1"), "s_client -tls1_1 refused")
r = s_client(["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"], b"R\nECHO after renegotiation\nQUIT\n")
out = r.stdout.decode("latin-1") + r.stderr.decode("latin-1")
t.ok("RENEGOTIATING" in out and "250 after renegotiation" not in out,
     "TLS 1.2 renegotiation refused")

# a client certificate, with -c: recorded, not verified
ck, cc = os.path.join(work, "ck.pem"), os.path.join(work, "cc.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", ck, "-out", cc, "-days", "2", "-subj", "/CN=testclient"],
               capture_output=True, check=True)
fp = subprocess.run(["openssl", "x509", "-in", cc, "-noout", "-fingerprint", "-sha256"],
                    capture_output=True, text=True).stdout.strip().split("=", 1)[1].replace(":", "").lower()
cert_srv, cport = serve(["-c"])
ctx = client_ctx()
ctx.load_cert_chain(cc, ck)
c = tls_connect(cport, ctx)
c.line()
env = env_of(c)
t.is_(env.get("TLSCLIENTSUBJECT"), "CN=testclient", "-c: the client certificate's subject")
t.is_(env.get("TLSCLIENTSHA256"), fp, "-c: its SHA-256 fingerprint")
c.cmd("QUIT")
c = tls_connect(cport)
c.line()
t.ok("TLSCLIENTSUBJECT" not in env_of(c), "-c: no certificate, no subject (still served)")
c.cmd("QUIT")

# garbage instead of a ClientHello: no program runs
s = socket.create_connection(("127.0.0.1", iport), timeout=10)
s.sendall(b"EHLO plain.text\r\nECHO not tls\r\n")
got = Lines(s).rest()
t.ok("220" not in got and "250" not in got, "clear text on the implicit port: closed, nothing run")

# --- STARTTLS ---
st, sport = serve(["-s"])


def plain(port):
    return Lines(socket.create_connection(("127.0.0.1", port), timeout=10))


# a relative prog is the caller's, not one under the install root
rel, rport = serve(["-s"], ["./" + os.path.basename(LINESERVER), "serve"], cwd=os.path.dirname(LINESERVER))
try:
    greet = plain(rport).line()
except (OSError, EOFError):
    greet = None
t.is_(greet, "220 test server ready", "a relative prog runs from the caller's directory")
t.stop(rel)


c = plain(sport)
t.is_(c.line(), "220 test server ready", "starttls: clear greeting")
env = env_of(c)
t.ok("TLSVERSION" not in env and "TLSCONTROL" not in env, "starttls: no TLS variables in clear (TLSCONTROL taken by the server)")
t.is_(c.cmd("ECHO clear"), "250 clear", "starttls: a clear command")
t.is_(c.cmd("STARTTLS"), "220 2.0.0 go ahead", "starttls: go-ahead sent by the helper")
c.s = client_ctx().wrap_socket(c.s)
env = env_of(c)
t.is_(env.get("TLSVERSION"), "TLSv1.3", "starttls: the answer carries TLSVERSION into the server's environment")
t.ok(env.get("TLSCIPHER", "").startswith("TLS_"), "starttls: and TLSCIPHER")
t.is_(c.cmd("ECHO secret"), "250 secret", "starttls: commands inside TLS")
t.is_(c.cmd("DATA"), "354 go on", "starttls: DATA inside TLS")
c.send(body + b".\r\n")
t.is_(c.line(), "250 %d 30000" % want, "starttls: 3 MB inside TLS arrive whole")
t.is_(c.cmd("QUIT"), "221 bye", "starttls: QUIT")


def inject(port):
    """STARTTLS and a command in one packet, then a command inside TLS;
    every reply the server sent"""
    c = plain(port)
    c.line()
    c.send(b"STARTTLS\r\nECHO injected\r\n")
    first = c.line()
    c.s = client_ctx().wrap_socket(c.s)
    c.send(b"ECHO after\r\nQUIT\r\n")
    return [first] + c.rest().splitlines()


replies = inject(sport)
t.is_(replies, ["220 2.0.0 go ahead", "250 after", "221 bye"],
      "plaintext injected after STARTTLS in the same packet is dropped, not executed")
# the check would see the bug: a server that keeps its read-ahead runs it
bad, bport = serve(["-s"], [LINESERVER, "serve", "nodiscard"])
t.ok("250 injected" in inject(bport), "(a server keeping its read-ahead would execute it: the check sees that)")

# clear text after the go-ahead: read as TLS, so it fails; nothing runs
c = plain(sport)
c.line()
t.is_(c.cmd("STARTTLS"), "220 2.0.0 go ahead", "starttls again")
c.send(b"ECHO injected late\r\n")
got = c.rest()
t.ok("250" not in got, "clear text after the go-ahead is never a command")
t.ok(logged(st, "handshake with 127.0.0.1 failed"), "the failed handshake is logged")

# STARTTLS below TLS 1.2 refused; SMTP client pipelining EHLO+STARTTLS
c = plain(sport)
c.line()
c.send(b"ECHO before\r\nSTARTTLS\r\n")
t.is_([c.line(), c.line()], ["250 before", "220 2.0.0 go ahead"],
      "pipelined reply, then the go-ahead, in order")
try:
    c.s = client_ctx(minv=ssl.TLSVersion.TLSv1_1, maxv=ssl.TLSVersion.TLSv1_1, seclevel0=True).wrap_socket(c.s)
    t.ok(False, "starttls: TLS 1.1 refused")
except (ssl.SSLError, OSError):
    t.ok(True, "starttls: TLS 1.1 refused")

# openssl s_client -starttls smtp against qmail-smtpd-like line server
r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % sport, "-starttls", "smtp",
                    "-ign_eof"], input=b"ECHO via starttls\nQUIT\n", capture_output=True, timeout=10)
t.ok("250 via starttls" in r.stdout.decode("latin-1"), "s_client -starttls smtp")

# -r: prog's process is made before qmail-tls gives up root
rimp, riport = serve(["-r"])
c = tls_connect(riport)
t.is_(c.line(), "220 test server ready", "-r implicit: greeting")
t.is_(env_of(c).get("TLSVERSION"), "TLSv1.3", "-r implicit: TLSVERSION reaches prog")
c.cmd("QUIT")
s = socket.create_connection(("127.0.0.1", riport), timeout=10)
s.sendall(b"not a client hello\r\n" * 20)
t.ok("220" not in Lines(s).rest(), "-r implicit: failed handshake, prog never runs")
rst, rsport = serve(["-r", "-s"])
t.is_(inject(rsport), ["220 2.0.0 go ahead", "250 after", "221 bye"], "-r -s: STARTTLS, injection dropped")

# --- configuration errors ---
def run_direct(args):
    return subprocess.run([TLS] + args + [LINESERVER, "serve"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=10)


os.chmod(KEY, 0o640)
r = run_direct([])
t.ok(r.returncode == 111 and "refusing" in r.stderr and "serverkey.pem" in r.stderr,
     "a group-readable key is refused: " + r.stderr.strip())
r = run_direct(["-s"])
t.ok(r.returncode == 111 and "refusing" in r.stderr, "also with -s")
os.chmod(KEY, 0o600)
if os.geteuid() == 0:
    os.chown(KEY, 65534, -1)
    r = run_direct([])
    t.ok(r.returncode == 111 and "belong" in r.stderr, "a key of another user is refused")
    os.chown(KEY, 0, -1)
else:
    t.skip("not root: cannot give the key away")
# the key inside servercert.pem (the layout of older setups)
with open(KEY) as f:
    keytext = f.read()
with open(CERT) as f:
    certtext = f.read()
os.unlink(KEY)
t.write(CERT, certtext + keytext, 0o644)
r = run_direct([])
t.ok(r.returncode == 111 and "refusing" in r.stderr, "key in a world-readable servercert.pem refused")
os.chmod(CERT, 0o600)
comb, combport = serve([])
c = tls_connect(combport)
t.is_(c.line(), "220 test server ready", "key after the certificate in servercert.pem works")
c.cmd("QUIT")
# no certificate: -s runs the program without STARTTLS, implicit refuses
os.unlink(CERT)
r = run_direct([])
t.ok(r.returncode == 111 and "servercert.pem" in r.stderr, "implicit without a certificate: exit 111")
nocert, ncport = serve(["-s"])
c = plain(ncport)
c.line()
t.ok(c.cmd("STARTTLS").startswith("454"), "-s without a certificate: STARTTLS not offered")
c.cmd("QUIT")
r = subprocess.run([TLS], capture_output=True, text=True)
t.ok(r.returncode == 100 and "usage" in r.stderr, "no program: usage, exit 100")
r = subprocess.run([TLS, "-d", "2", "x"], capture_output=True, text=True)
t.ok(r.returncode == 100, "-d below 3: usage, exit 100")
t.write(CERT, certtext, 0o644)
t.write(KEY, keytext, 0o600)

# -C: the handshake has the whole of -t, to the millisecond.  A server
# whose first flight comes in two parts, 0.2 s and 1.4 s after the
# start, under -t 2: a limit counted in whole seconds of time() from
# .92 to .96 of a second timed out at 1.04 to 1.08 s, after the first
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(CERT, KEY)
bin_, bout = ssl.MemoryBIO(), ssl.MemoryBIO()
srv = sctx.wrap_bio(bin_, bout, server_side=True)
net, npeer = socket.socketpair()
data, dpeer = socket.socketpair()
ctl_r, ctl_w = os.pipe()
while not 0.92 <= time.time() % 1 < 0.96:
    time.sleep(0.005)
start = time.monotonic()
cl = subprocess.Popen([TLS, "-C", "-t", "2"], stdin=npeer, stdout=npeer, stderr=subprocess.DEVNULL,
                      pass_fds=(3, 4), preexec_fn=lambda: (os.dup2(dpeer.fileno(), 3), os.dup2(ctl_w, 4)))
npeer.close()
dpeer.close()
os.close(ctl_w)
net.settimeout(10)
flight = b""
try:
    while not flight:
        bin_.write(net.recv(65536))
        try:
            srv.do_handshake()
        except ssl.SSLWantReadError:
            pass
        flight = bout.read()
    time.sleep(max(0.0, start + 0.2 - time.monotonic()))
    net.sendall(flight[:5])
    time.sleep(max(0.0, start + 1.4 - time.monotonic()))
    net.sendall(flight[5:])
except OSError:
    pass
r, _w, _x = select.select([ctl_r], [], [], 10)
outcome = os.read(ctl_r, 4096) if r else b""
t.ok(outcome.startswith(b"K"), "-C -t 2: a server that sends its first flight over 1.4 s, as a "
     "second turns: the handshake is done (%r)" % outcome[:40])
net.close()
data.close()
os.close(ctl_r)
try:
    cl.wait(10)
except subprocess.TimeoutExpired:
    cl.kill()
    cl.wait()

# a multi-user build started as root: it becomes $UID/$GID, prog cannot
# read its memory; with -r prog keeps root
if os.geteuid() == 0:
    mb = t.tmpdir("qmail-tls-multi.")
    mh = os.path.join(mb, "home")
    os.makedirs(os.path.join(mh, "control"))
    r = subprocess.run(["make", "-s", "-C", t.SRC, "B=" + mb, "HOME_DIR=" + mh,
                        "USERS=qmaild qmaill qmailq qmailr qmails alias vmail qmail nofiles",
                        os.path.join(mb, "qmail-tls")], capture_output=True, text=True)
    subprocess.run(["sh", os.path.join(t.SRC, "mkcert.sh"), mh, "localhost"], capture_output=True)
    probe = ["/bin/sh", "-c", "echo prog=$(id -u) helper=$(awk '/^Uid/{print $2}' /proc/$PPID/status); "
             "if cat /proc/$PPID/environ >/dev/null 2>&1; then echo peek=yes; else echo peek=no; fi"]

    def multi(args, env):
        e = dict(os.environ)
        e.pop("UID", None)
        e.pop("GID", None)
        e.update(env)
        port = t.free_port()
        t.start(["tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.1", str(port),
                 os.path.join(mb, "qmail-tls")] + args + probe, env=e,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t.wait_port(port)
        try:
            return tls_connect(port).rest()
        except (ssl.SSLError, OSError, EOFError):
            return "refused"
    if r.returncode == 0:
        got = multi([], {"UID": "65534", "GID": "65534"})
        t.ok("prog=65534 helper=65534" in got, "root: drops to $UID/$GID, prog too: " + " ".join(got.split()))
        t.ok("peek=no" in got, "prog cannot read the helper's process (non-dumpable)")
        got = multi(["-r"], {"UID": "65534", "GID": "65534"})
        t.ok("prog=0 helper=65534" in got, "-r: prog keeps root, the helper does not: " + " ".join(got.split()))
        t.is_(multi([], {}), "refused", "root without $UID/$GID: refused")
    else:
        t.diag(r.stderr)
        t.ok(False, "multi-user build of qmail-tls")
        t.skip("no multi-user build", 3)
else:
    t.skip("not root", 4)

# --- qmail-smtpd behind qmail-tls: smtps with python and curl ---
if os.path.exists(os.path.join(t.BIN, "qmail-smtpd")):
    import smtpdtest as sd
    sd.setup()
    try:
        smtps, pport = serve([], [os.path.join(t.BIN, "qmail-smtpd")])
        import smtplib
        s = smtplib.SMTP_SSL("127.0.0.1", pport, context=client_ctx(), timeout=10)
        code, _ = s.ehlo("client.example")
        t.is_(code, 250, "smtps: python smtplib EHLO through qmail-tls")
        s.sendmail("a@client.example", ["joe@lanmail.test"], "Subject: smtps\r\n\r\nover TLS\r\n")
        s.quit()
        msgfile = os.path.join(work, "curlmsg")
        t.write(msgfile, "Subject: curl\r\n\r\nby curl over TLS\r\n")
        r = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "smtps://127.0.0.1:%d" % pport,
                            "--mail-from", "b@client.example", "--mail-rcpt", "joe@lanmail.test",
                            "-T", msgfile], capture_output=True, text=True, timeout=20)
        t.ok(r.returncode == 0, "smtps: curl --ssl-reqd delivers: " + r.stderr.strip())
        r = subprocess.run(["swaks", "--tlsc", "--server", "127.0.0.1", "--port", str(pport),
                            "--from", "c@client.example", "--to", "joe@lanmail.test",
                            "--body", "by swaks over TLS"], capture_output=True, text=True, timeout=20)
        t.ok(r.returncode == 0 and "TLS started" in r.stdout, "smtps: swaks --tlsc delivers")
        texts = []
        for m in t.queue_files("mess"):
            with open(m, "rb") as f:
                texts.append(f.read())
        t.ok(any(b"\nover TLS" in m for m in texts) and any(b"by curl over TLS" in m for m in texts)
             and any(b"by swaks over TLS" in m for m in texts), "smtps: the three messages are in the queue")
        t.stop(smtps)
    finally:
        sd.restore()
else:
    t.skip("qmail-smtpd not built", 4)

t.done()
