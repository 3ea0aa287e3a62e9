#!/usr/bin/python3
# Outbound TLS through the whole queue: bin/qmail-queue, qmail-send,
# qmail-rspawn, qmail-remote and qmail-tls -C, to a python3 aiosmtpd peer
# that offers STARTTLS (and requires it).  The delivery log line carries
# the TLS version and cipher; a route that requires a verified
# certificate the peer does not have leaves the message deferred.
import logging
import os
import re
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402
import qsend  # noqa: E402

t.need_home()
if not os.path.exists(os.path.join(t.BIN, "qmail-tls")):
    t.skip_all("qmail-tls was not built")
try:
    from aiosmtpd.controller import Controller
except ImportError:
    t.skip_all("python3-aiosmtpd is not installed")

D = qsend.DOMAIN
# the refused handshake is expected: keep aiosmtpd's traceback out of the output
for name in ("mail.log", "asyncio"):
    logging.getLogger(name).setLevel(logging.CRITICAL)
pki = t.tmpdir("send-tls-pki.")


def selfsigned(name, san):
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key",
                        "-out", name + ".pem", "-subj", "/CN=" + name, "-days", "2",
                        "-addext", "subjectAltName=" + san], cwd=pki, capture_output=True, text=True)
    if r.returncode != 0:
        t.diag(r.stderr)
    return os.path.join(pki, name + ".pem"), os.path.join(pki, name + ".key")


peer_cert, peer_key = selfsigned("peer", "IP:127.0.0.1")
other_cert, _ = selfsigned("other", "IP:127.0.0.1")
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(peer_cert, peer_key)


class Handler:
    def __init__(self):
        self.mails = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((session.ssl is not None, list(envelope.rcpt_tos)))
        return "250 2.0.0 ok: queued"


s = qsend.Scene()
c = None
saved = {}
for name in ("tlsroutes", "tlsca"):
    path = os.path.join(t.HOME, "control", name)
    saved[name] = open(path, "rb").read() if os.path.exists(path) else None
try:
    h = Handler()
    port = t.free_port()
    c = Controller(h, hostname="127.0.0.1", port=port, server_hostname="rx.test",
                   tls_context=ctx, require_starttls=True)
    c.start()
    bob = s.home("bob")
    s.assign([s.user("bob", bob)])
    t.control("smtproutes", "far.test:[127.0.0.1]:%d\n" % port)
    t.control("tlsroutes", None)
    t.control("tlsca", None)
    t.control("retryremote", "1\n")
    s.start()

    # opportunistic TLS; the self-signed certificate is not verified
    t.is_(s.inject("bob@" + D, ["u1@far.test"], "Subject: one\n\nover TLS\n"), 0, "accepted")
    t.ok(s.wait(lambda: s.queue_empty() and h.mails, 30), "delivered, queue empty")
    t.is_(h.mails[:1], [(True, ["u1@far.test"])], "the peer got it inside TLS")
    line = [x for x in s.log().splitlines() if "success: u1@far.test" in x]
    t.ok(line and re.search(r"TLSv1\.[23] \S+; certificate not verified\) said: 250", line[0]),
         "the log's success line names the TLS version and cipher")

    # verify, with the peer's own certificate as the trust anchor
    t.control("tlsca", open(peer_cert).read())
    t.control("tlsroutes", "far.test:verify\n")
    t.is_(s.inject("bob@" + D, ["u2@far.test"], "Subject: two\n\nverified\n"), 0, "accepted")
    t.ok(s.wait(lambda: s.queue_empty() and len(h.mails) == 2, 30), "verify route: delivered")
    t.ok(re.search(r"success: u2@far\.test: .*certificate verified\)", s.log()),
         "verify route: the log says verified")

    # verify against another CA: deferred, never sent in clear
    t.control("tlsca", open(other_cert).read())
    t.is_(s.inject("bob@" + D, ["u3@far.test"], "Subject: three\n\nkept\n"), 0, "accepted")
    t.ok(s.wait(lambda: re.search(r"deferral: u3@far\.test: .*TLS handshake failed: "
                                  r"certificate not accepted", s.log()), 30),
         "verify route, untrusted certificate: deferral logged with the reason")
    t.ok(len(h.mails) == 2 and not s.queue_empty(), "nothing delivered; the message stays queued")
finally:
    s.finish()
    if c:
        c.stop()
    for name, data in saved.items():
        t.control(name, None)
        if data is not None:
            t.write(os.path.join(t.HOME, "control", name), data)
t.done()
