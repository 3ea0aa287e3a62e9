#!/usr/bin/python3
"""qmail-remote to lanmail's own qmail-smtpd under a real tcpserver: one
pipelined transaction for many recipients, one refused at RCPT, the
message queued byte for byte (8-bit kept: qmail-smtpd offers 8BITMIME);
lines longer than SMTP carries (which qmail-smtpd refuses) sent as
quoted-printable or folded, and read back byte for byte with python's
email module; a message on a pipe copied to a temporary file, not
memory, and a full disk there a temporary failure."""
import email
import email.policy
import os
import quopri
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


def report(rc, out, rcpts):
    parts = out.split(b"\0")
    if rc != 0 or parts[-1] != b"" or len(parts) != len(rcpts) + 2:
        t.diag("exit %d, output %r" % (rc, out[:500]))
        return "?", []
    parts.pop()
    return "".join(chr(x[0]) for x in parts), [x[1:].decode("latin-1") for x in parts]


def run(host, sender, rcpts, msg):
    path = os.path.join(tmp, "msg")
    with open(path, "wb") as f:
        f.write(msg)
    with open(path, "rb") as f:
        p = subprocess.run([os.path.join(t.BIN, "qmail-remote"), host, sender] + rcpts,
                           stdin=f, stdout=subprocess.PIPE, timeout=60)
    return report(p.returncode, p.stdout, rcpts)


# a parent of qmail-remote alone, that feeds it the message through a pipe
# and says the peak RSS of its children (in KiB, getrusage(2)).  That
# counts this python's own RSS too (the child is the parent until its
# exec), the same for any message: a small one gives the base.
PIPER = """
import resource, subprocess, sys
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as out:
    p = subprocess.Popen(sys.argv[3:], stdin=subprocess.PIPE, stdout=out)
    try:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            p.stdin.write(b)
        p.stdin.close()
    except BrokenPipeError:
        pass
    p.wait()
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run_pipe(host, sender, rcpts, msg, env=None):
    """qmail-remote with the message on a pipe: (codes, texts, peak RSS KiB)"""
    path, rep = os.path.join(tmp, "msg"), os.path.join(tmp, "report")
    with open(path, "wb") as f:
        f.write(msg)
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([sys.executable, "-c", PIPER, path, rep, os.path.join(t.BIN, "qmail-remote"),
                        host, sender] + rcpts, stdout=subprocess.PIPE, env=e, timeout=300)
    rc, rss = (int(x) for x in p.stdout.split())
    with open(rep, "rb") as f:
        out = f.read()
    c, x = report(rc, out, rcpts)
    return c, x, rss


def queued_one():
    """the one message queued, as qmail-remote sent it, and the queue emptied"""
    q = s.queue()
    t.clear_queue()
    if len(q) != 1 or q[0]["error"]:
        t.diag("queue: %r" % [(m["error"], len(m["message"])) for m in q])
        return b""
    return s.strip_received(q[0]["message"])


def parsed(m):
    return email.message_from_bytes(m, policy=email.policy.compat32)


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
    t.clear_queue()

    # --- lines longer than 998 octets (RFC 5321 4.5.3.1.6), which
    # qmail-smtpd refuses: a plain body becomes quoted-printable
    body = b"caf\xc3\xa9 " + b"w" * 5000 + b" =end \n.dot\n" + b"\x01\rx" * 600 + b"\nlast\n"
    codes, texts = run("virt.test", "a@lanmail.test", ["u1@virt.test"],
                       b"From: a@lanmail.test\nSubject: long\n\n" + body)
    t.is_(codes, "rK", "a body line of 5000 octets: accepted (%s)" % (texts[-1:],))
    m = queued_one()
    pm = parsed(m)
    t.ok(pm["Content-Transfer-Encoding"] == "quoted-printable" and pm["MIME-Version"] == "1.0" and
         pm["Subject"] == "long", "sent as quoted-printable, MIME-Version added, the header kept")
    t.is_(pm.get_payload(decode=True), body, "the body decodes back byte for byte")
    t.ok(texts and "converted to quoted-printable" in texts[-1], "the report says so: %s" % texts[-1:])

    # a multipart: each part as it needs, the MIME structure kept
    b64 = b"QUJD" * 600
    qp = b"=C3=A9t=C3=A9" * 120 + b"="
    parts = [(b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n",
              b"line \xe2\x82\xac" + b"v" * 3000 + b"\nshort\n"),
             (b"Content-Type: text/plain\n", b"all short\nlines\n"),
             (b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n",
              b64 + b"\n"),
             (b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n",
              qp + b"\nqp end\n")]
    mp = (b"From: a@lanmail.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"BB\"\n\n"
          b"preamble\n" + b"".join(b"--BB\n" + h + b"\n" + p for h, p in parts) + b"--BB--\nepilogue\n")
    codes, texts = run("virt.test", "a@lanmail.test", ["u1@virt.test"], mp)
    t.is_(codes, "rK", "a multipart with long lines in three of its parts: accepted")
    m = queued_one()
    pm = parsed(m)
    got = pm.get_payload() if pm.is_multipart() else []
    t.is_([p.get("Content-Transfer-Encoding") for p in got], ["quoted-printable", None, "base64",
                                                             "quoted-printable"],
          "the 8bit part with a long line re-encoded, the others keep their encoding")
    # the LF before a delimiter belongs to the delimiter (RFC 2046 5.1.1)
    want = [parts[0][1][:-1], parts[1][1][:-1], b"ABC" * 600, quopri.decodestring(parts[3][1][:-1])]
    t.ok([p.get_payload(decode=True) for p in got] == want and want[3].startswith("\u00e9t".encode()),
         "every part decodes back byte for byte")
    t.ok(m.count(b"MIME-Version") == 1 and b"\npreamble\n" in m and m.endswith(b"--BB--\nepilogue\n"),
         "one MIME-Version, preamble and epilogue kept")
    t.ok(max(len(ln) for ln in m.split(b"\n")) <= 998, "no line over 998 octets queued")

    # a header line too long: folded at a blank, else broken by CRLF SP
    subj = " ".join("word%d" % i for i in range(400))
    token = "T" * 2500
    hdr = ("From: a@lanmail.test\nSubject: %s\nX-Token: %s\nTo: u1@virt.test\n" % (subj, token)).encode()
    codes, texts = run("virt.test", "a@lanmail.test", ["u1@virt.test"], hdr + b"\nbody\n")
    t.is_(codes, "rK", "header lines of 3000 octets: accepted")
    m = queued_one()
    pm = parsed(m)
    t.ok(max(len(ln) for ln in m.split(b"\n")) <= 998 and b"Content-Transfer-Encoding" not in m,
         "no line over 998 octets, and nothing re-encoded")
    t.ok((pm["Subject"] or "").replace("\n", "") == subj,
         "the Subject folded at blanks: it unfolds to itself")
    t.ok((pm["X-Token"] or "").replace("\n", "").replace(" ", "") == token and pm["To"] == "u1@virt.test" and
         pm.get_payload() == "body\n", "a blankless value broken by CRLF SP; the fields after it and the body intact")
    t.ok(texts and "long lines broken" in texts[-1], "the report says so: %s" % texts[-1:])

    # --- a message on a pipe: copied to a temporary file, not memory
    big = b"From: a@lanmail.test\nSubject: big\n\n" + b"".join(
        b"%09d " % i + b"b" * 90 + b"\n" for i in range(300000))
    codes, texts, base = run_pipe("virt.test", "a@lanmail.test", ["u1@virt.test"], b"Subject: s\n\ns\n")
    t.ok(codes == "rK" and queued_one() == b"Subject: s\n\ns\n", "a small message on a pipe: delivered")
    codes, texts, rss = run_pipe("virt.test", "a@lanmail.test", ["u1@virt.test"], big)
    t.is_(codes, "rK", "30 MB on a pipe: delivered")
    t.ok(queued_one() == big, "and queued byte for byte")
    t.ok(0 < rss < base + 4 * 1024,
         "peak RSS %d KiB, %d KiB for a small message: the message is not held in memory" % (rss, base))
    # $TMPDIR unusable: /tmp; full: a temporary failure
    codes, texts, rss = run_pipe("virt.test", "a@lanmail.test", ["u1@virt.test"], b"Subject: p\n\np\n",
                                 {"TMPDIR": "/nonexistent/tmp"})
    t.ok(codes == "rK" and queued_one() == b"Subject: p\n\np\n",
         "TMPDIR that does not exist: the copy goes to /tmp")
    small = t.tmpdir()
    why = t.mount_small(small, "1m")
    if why:
        t.skip("full disk: " + why, 2)
    else:
        try:
            codes, texts, rss = run_pipe("virt.test", "a@lanmail.test", ["u1@virt.test"], big,
                                         {"TMPDIR": small})
            t.is_(codes, "sZ", "TMPDIR full: a temporary failure")
            t.ok(texts and "Unable to write a temporary file in %s" % small in texts[-1] and
                 not os.listdir(small), "which says where and why, and leaves nothing: %s" % texts[-1:])
        finally:
            t.umount_small(small)
        t.clear_queue()
finally:
    srv.stop()
    s.restore()
t.done()
