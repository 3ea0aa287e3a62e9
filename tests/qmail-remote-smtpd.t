#!/usr/bin/python3
"""qmail-remote to lanmail's own qmail-smtpd under a real tcpserver: one
pipelined transaction for many recipients, one refused at RCPT, the
message queued byte for byte (8-bit kept: qmail-smtpd offers 8BITMIME)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402

t.need_home()
if not os.path.exists(os.path.join(t.BIN, "qmail-smtpd")):
    t.skip_all("qmail-smtpd is not built")
import smtpdtest as s  # noqa: E402

s.setup()
srv = s.Server()
tmp = t.tmpdir()


def run(host, sender, rcpts, msg):
    path = os.path.join(tmp, "msg")
    with open(path, "wb") as f:
        f.write(msg)
    with open(path, "rb") as f:
        p = subprocess.run([os.path.join(t.BIN, "qmail-remote"), host, sender] + rcpts,
                           stdin=f, stdout=subprocess.PIPE, timeout=60)
    parts = p.stdout.split(b"\0")
    if p.returncode != 0 or parts[-1] != b"" or len(parts) != len(rcpts) + 2:
        t.diag("exit %d, output %r" % (p.returncode, p.stdout[:500]))
        return "?", []
    parts.pop()
    return "".join(chr(x[0]) for x in parts), [x[1:].decode("latin-1") for x in parts]


try:
    s.control("smtproutes", "virt.test:[127.0.0.1]:%d\n" % srv.port)
    s.control("timeoutremote", "10\n")
    msg = ("From: a@lanmail.test\nTo: list@virt.test\nSubject: caf\u00e9\n\n"
           "Gr\u00fc\u00dfe\n.dot line\n\nend\n").encode()
    rcpts = ["u%d@virt.test" % i for i in range(1, 51)] + ["nosuch@virt.test"] + \
        ["u%d@virt.test" % i for i in range(51, 101)]
    codes, texts = run("virt.test", "a@lanmail.test", rcpts, msg)
    t.is_(codes, "r" * 50 + "h" + "r" * 50 + "K", "100 accepted, the unknown one refused, K")
    t.ok(len(texts) > 50 and "550" in texts[50], "the refusal quotes qmail-smtpd's 550")
    t.ok(texts and "127.0.0.1" in texts[-1], "the message report names the server")
    q = s.queue()
    t.is_(len(q), 1, "one message queued: one transaction")
    if q:
        t.is_(q[0]["error"], None, "envelope well-formed")
        t.is_(q[0].get("recipients"), [r.encode() for r in rcpts if r != "nosuch@virt.test"],
              "every accepted recipient in the one envelope, in order")
        t.is_(q[0].get("sender"), b"a@lanmail.test", "sender")
        t.is_(s.strip_received(q[0]["message"]), msg, "message queued byte for byte, 8-bit kept")
        ours = s.body_of(q[0]["message"])
        t.ok(ours.startswith(b"Received: from lanmail.test (") and b"with ESMTP" in ours[:200],
             "qmail-smtpd saw EHLO with control/me")
    else:
        t.skip("nothing queued", 5)
    t.clear_queue()

    # a null sender
    codes, texts = run("virt.test", "", ["u1@virt.test"], b"Subject: bounce\n\nx\n")
    t.is_(codes, "rK", "null sender delivered")
    q = s.queue()
    t.ok(len(q) == 1 and q[0].get("sender") == b"", "null sender queued as empty")
finally:
    srv.stop()
    s.restore()
t.done()
