#!/usr/bin/python3
"""Maildir++ quotas end to end: qmail-admin user add --quota writes
maildirsize, bin/qmail-local delivers until the mailbox is full, the next
message fails permanently with 5.2.2 and nothing is written, a POP3 DELE
(qmail-popup, qmail-auth, qmail-pop3d under tcpserver) gives the space
back, and more mail fits again.  A message count limit, a stale file
recounted, and maildirsize lines kept in step; a refusal the file's sums
would make is checked against the files, so a removal line qmail-pop3d
could not write never bounces mail."""
import os
import poplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
D = "quota.test.example"
PW = "Quota-pw 3"
v.cleanup(D)
t.control("timeoutpop3", None)
t.control("plaintextauthnets", None)


def msg(n, size):
    head = (b"Received: (lanmail 4242 invoked by uid 1000); 28 Nov 2026 17:00:00 +0000\n"
            b"Subject: message %d\n\n" % n)
    return head + b"x" * (size - len(head) - 1) + b"\n"


def deliver(user, m):
    home = os.path.join(t.HOME, "domains", D)
    p = subprocess.run([os.path.join(t.BIN, "qmail-local"), v.vmail_user(), home,
                        D + "-" + user, "-", user, D, "sender@outside.example", "./Maildir/"],
                       input=m, capture_output=True, timeout=30, cwd=home)
    return p.returncode, p.stdout.decode(errors="replace")


def usage(user):
    with open(os.path.join(v.maildir(D, user), "maildirsize")) as f:
        lines = f.read().split("\n")
    b = c = 0
    for ln in lines[1:]:
        if ln.strip():
            x, y = ln.split()
            b += int(x)
            c += int(y)
    return lines[0], b, c


def disk(user):
    fs = v.messages(D, user)
    return sum(os.path.getsize(f) for f in fs), len(fs)


try:
    t.is_(v.admin("domain", "add", D)[0], 0, "qmail-admin domain add")
    t.is_(v.admin("user", "add", "full@" + D, "--stdin", "--quota", "20000", stdin=PW + "\n")[0], 0,
          "qmail-admin user add --quota 20000")
    t.is_(v.admin("user", "add", "free@" + D, "--stdin", stdin=PW + "\n")[0], 0,
          "qmail-admin user add without a quota")
    first, _b, _c = usage("full")
    t.is_(first, "20000S", "maildirsize first line is the Maildir++ limit")

    # 4 x 4500 = 18000 (plus qmail-local's Delivered-To/Return-Path lines) fits, a fifth does not
    codes = [deliver("full", msg(i, 4500))[0] for i in range(4)]
    t.is_(codes, [0, 0, 0, 0], "four messages of 4500 bytes delivered under a 20000-byte quota")
    lim, b, c = usage("full")
    t.is_((b, c), disk("full"), "maildirsize sums equal the Maildir's files (%d bytes, %d messages)" % (b, c))
    code, out = deliver("full", msg(5, 4500))
    t.is_(code, 100, "the fifth would go over: permanent failure (exit 100)")
    t.ok("5.2.2" in out and "full" in out, "the report says mailbox full, 5.2.2: " + out.strip())
    t.is_(disk("full")[1], 4, "nothing was written for it")
    t.is_(os.listdir(os.path.join(v.maildir(D, "full"), "tmp")), [], "tmp/ is empty")
    t.is_(deliver("full", msg(6, 300))[0], 0, "a small message still fits")
    t.is_(deliver("free", msg(7, 30000))[0], 0,
          "a mailbox without maildirsize takes anything")

    # POP3: DELE two, QUIT; the space is free again
    port = v.pop3_server()
    m = poplib.POP3("127.0.0.1", port, timeout=20)
    m.user("full@" + D)
    m.pass_(PW)
    t.is_(m.stat()[0], 5, "POP3 sees five messages")
    m.dele(1)
    m.dele(2)
    m.quit()
    t.is_(disk("full")[1], 3, "two deleted at QUIT")
    lim, b, c = usage("full")
    t.is_((b, c), disk("full"), "qmail-pop3d wrote the removal into maildirsize")
    t.is_(deliver("full", msg(8, 4500))[0], 0, "after DELE a 4500-byte message fits again")
    t.is_(deliver("full", msg(9, 4500))[0], 0, "and another")
    t.is_(deliver("full", msg(10, 4500))[0], 100, "then it is full again")
    lim, b, c = usage("full")
    t.is_((b, c), disk("full"), "sums still equal the files")

    # a message count limit, and a stale file recounted
    md = v.maildir(D, "full")
    sizes, n = disk("full")
    with open(os.path.join(md, "maildirsize"), "w") as f:
        f.write("1000000S,%dC\n%d %d\n" % (n + 1, sizes, n))
    t.is_(deliver("full", msg(11, 200))[0], 0, "count limit: one more message fits")
    t.is_(deliver("full", msg(12, 200))[0], 100, "count limit: the next does not")
    with open(os.path.join(md, "maildirsize"), "w") as f:
        f.write("1000000S\n999999 0\n")
    t.is_(deliver("full", msg(13, 200))[0], 0,
          "a file saying full, however recent, is recounted from the files before a refusal: it fits")
    lim, b, c = usage("full")
    t.is_((lim, b, c), ("1000000S",) + disk("full"), "rewritten with the true usage")
    with open(os.path.join(md, "maildirsize"), "w") as f:
        f.write("1000000S\n" + "1 1\n" * 2000)
    t.is_(deliver("full", msg(15, 200))[0], 0, "a file over 5120 bytes is recounted")
    t.ok(os.path.getsize(os.path.join(md, "maildirsize")) < 100, "and rewritten short")
    t.is_(usage("full")[1:], disk("full"), "with the true usage")

    # qmail-pop3d cannot append its removal line (ENOSPC, injected): it
    # says so in its log, and the next delivery, which the sums would
    # refuse, recounts and delivers; no bounce for a lost line
    try:
        inject = subprocess.run(["strace", "-qq", "-o", os.devnull, "-e", "trace=none", "true"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0 and \
            subprocess.run(["strace", "-qq", "-o", os.devnull, "-e", "trace=write", "-e",
                            "inject=write:error=ENOSPC", "sh", "-c", "echo x"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0
    except OSError:
        inject = False
    if inject:
        home = t.tmpdir("quota-lost.")
        os.chmod(home, 0o755)
        qmd = os.path.join(home, "Maildir")
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(qmd, sub))
        t.write(os.path.join(qmd, "new", "1000000000.M1P1.host,W=3000"), b"Subject: old\n\n" + b"y" * 2984 + b"\n")
        size = os.path.join(qmd, "maildirsize")
        t.write(size, "4000S\n3000 1\n")
        p = subprocess.run(["strace", "-qq", "-o", os.devnull, "-e", "trace=write", "-P", size,
                            "-e", "inject=write:error=ENOSPC", os.path.join(t.BIN, "qmail-pop3d"), "Maildir"],
                           input=b"DELE 1\r\nQUIT\r\n", capture_output=True, cwd=home, timeout=30)
        t.ok(p.stdout.endswith(b"+OK bye, 1 messages deleted\r\n") and
             not os.listdir(os.path.join(qmd, "new")) and open(size).read() == "4000S\n3000 1\n",
             "maildirsize not writable at QUIT: the message removed, the file unchanged: %r" % p.stdout)
        t.ok(b"warning: unable to record the removals in maildirsize: no space left on device" in p.stderr,
             "qmail-pop3d logs a warning: %r" % p.stderr)
        d = subprocess.run([os.path.join(t.BIN, "qmail-local"), "joe", home, "joe", "", "", "example.org",
                            "sender@outside.example", "./Maildir/"],
                           input=msg(16, 1500), capture_output=True, timeout=30, cwd=home)
        t.ok(d.returncode == 0 and len(os.listdir(os.path.join(qmd, "new"))) == 1,
             "the next 1500-byte delivery, over by the file's sums, recounts and succeeds: %r" % d.stdout)
        lines = open(size).read().split("\n")
        t.ok(lines[0] == "4000S" and lines[1] == "0 0", "maildirsize rewritten from the files: %r" % lines)
    else:
        t.skip("strace cannot inject faults here", 4)
finally:
    v.cleanup(D)
t.done()
