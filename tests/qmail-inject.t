#!/usr/bin/python3
"""qmail-inject and sendmail: header completion, recipients from arguments
and header fields, the envelope sender, the sendmail command line (-t, -i,
-f, -F, -bs, -bp), errors and their exit codes, and messages that travel
through the real qmail-queue and qmail-send into a Maildir read back with
python's mailbox module."""
import email
import email.policy
import os
import pwd
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

D = qsend.DOMAIN
s = qsend.Scene()
INJECT = os.path.join(t.BIN, "qmail-inject")
SENDMAIL = os.path.join(t.BIN, "sendmail")
cap = t.tmpdir("lanmail-inject.")
CAPTURE = os.path.join(cap, "qq")
# a queue program that keeps what it is given: message, envelope, exit code
t.write(CAPTURE, "#!/bin/sh\nexec 3<&1\ncat > %s/msg || exit 54\ncat <&3 > %s/env || exit 54\n"
        "exit ${QQEXIT:-0}\n" % (cap, cap), 0o755)
BASEENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "USER": "alice"}


def run(argv, data, env=None, prog=INJECT):
    e = dict(BASEENV)
    e.update(env or {})
    r = subprocess.run([prog] + argv, input=data if isinstance(data, bytes) else data.encode(),
                       capture_output=True, env=e, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def captured(argv, data, env=None, prog=INJECT):
    """Run with the capturing queue program: (exit, message, sender, [rcpts], stderr)."""
    for f in ("msg", "env"):
        if os.path.exists(os.path.join(cap, f)):
            os.unlink(os.path.join(cap, f))
    e = {"QMAILQUEUE": CAPTURE}
    e.update(env or {})
    rc, out, err = run(argv, data, e, prog)
    try:
        with open(os.path.join(cap, "msg"), "rb") as f:
            msg = f.read().decode("utf-8", "replace")
        with open(os.path.join(cap, "env"), "rb") as f:
            env_ = f.read()
    except OSError:
        return rc, None, None, None, err
    recs = env_.split(b"\0")
    ok_ = env_.endswith(b"\0\0") and recs[0].startswith(b"F")
    sender = recs[0][1:].decode() if ok_ else None
    rcpts = [r[1:].decode() for r in recs[1:] if r.startswith(b"T")] if ok_ else None
    return rc, msg, sender, rcpts, err


def head(msg):
    return msg.split("\n\n", 1)[0] if msg else ""


try:
    for c in ("defaulthost", "defaultdomain", "plusdomain", "idhost"):
        t.control(c, None)
    t.control("defaulthost", "mail.%s\n" % D)
    t.control("defaultdomain", "corp.test\n")
    t.control("plusdomain", "plus.test\n")
    t.control("idhost", "id.%s\n" % D)

    # --- header completion (-n prints the message) ---
    rc, out, err = run(["-n"], "To: bob, carol@host, \"Dan D\" <dan@h+>, g: e@x.y;\n"
                       "Cc: (c) frank (comment)\nBcc: hidden\nReturn-Path: <rp@x.y>\n"
                       "Content-Length: 12\nSubject: s\r\n\r\nbody\r\nline two\n", {"NAME": "Alice A"})
    h = head(out)
    t.is_(rc, 0, "-n: exit 0")
    t.ok("To: bob@mail.%s, carol@host.corp.test, \"Dan D\" <dan@h.plus.test>,\n g: e@x.y;\n" % D in out,
         "To: bare user gets defaulthost, a dotless host defaultdomain, host+ plusdomain")
    t.ok("Cc: (c) frank@mail.%s (comment)\n" % D in out, "completed in place, comments kept")
    t.ok(not re.search(r"^(Bcc|Return-Path|Content-Length):", h, re.M | re.I),
         "Bcc, Return-Path and Content-Length removed")
    t.ok("From: Alice A <alice@mail.%s>\n" % D in h, "From added: $NAME, $USER, control/defaulthost")
    t.ok(re.search(r"^Date: \w\w\w, \d\d? \w\w\w \d{4} \d\d:\d\d:\d\d [+-]\d{4}$", h, re.M), "Date added")
    t.ok(re.search(r"^Message-ID: <\d{14}\.\d+\.lanmail@id\.%s>$" % re.escape(D), h, re.M),
         "Message-ID added on control/idhost")
    t.ok(out.endswith("\n\nbody\nline two\n") and "\r" not in out, "CR LF made LF, body kept")
    # a dotless host that is one of this machine's names (localhost, me,
    # locals, defaulthost, defaultdomain) is not completed: a host called
    # vm must not send postmaster@vm to vm.vm
    keep = {}
    for c in ("me", "locals"):
        p_ = os.path.join(t.HOME, "control", c)
        keep[c] = open(p_).read() if os.path.exists(p_) else None
    try:
        t.control("me", "vm\n")
        t.control("locals", "# ours\nlan\n")
        rc, out, err = run(["-n"], "To: a@vm, b@LAN, c@localhost, d@corp.test, e@other\n\nb\n")
        t.ok("To: a@vm, b@LAN, c@localhost, d@corp.test, e@other.corp.test\n" in out,
             "dotless hosts of ours (me, locals, localhost, defaultdomain) left alone, others completed")
    finally:
        for c in keep:
            t.control(c, keep[c])

    rc, out, err = run(["-n"], "From: Me <me@x.y>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
                       "Message-ID: <a@b>\n\nbody\n")
    t.is_(head(out).splitlines(), ["From: Me <me@x.y>", "Date: Mon, 1 Jan 2024 00:00:00 +0000",
                                   "Message-ID: <a@b>"], "complete header left as it is")
    rc, out, err = run(["-n"], "From: Me <me@x.y>\nMessage-ID: <a@b>\n\nb\n", {"QMAILINJECT": "fi"})
    t.ok("me@x.y" not in out and out.count("Message-ID:") == 1 and "<a@b>" not in out,
         "QMAILINJECT=fi: From and Message-ID replaced")
    rc, out, err = run(["-n", "-F", "Zoë \"Z\""], "Subject: x\n\n")
    t.ok("From: =?UTF-8?B?Wm/DqyAiWiI=?= <alice@mail.%s>\n" % D in out, "-F with 8-bit bytes: an encoded word")
    rc, out, err = run(["-n", "-F", "A \"q\" B"], "Subject: x\n\n")
    t.ok("From: \"A \\\"q\\\" B\" <alice@mail.%s>\n" % D in out, "-F quoted with its quotes escaped")
    rc, out, err = run(["-n"], "From alice Sat Nov 28 10:00:00 2026\nSubject: mbox\nnot a field\nmore\n")
    t.ok(out.startswith("Subject: mbox\n") and out.endswith("\n\nnot a field\nmore\n"),
         "mbox From_ line dropped; a line that is no field starts the body after an empty line")
    rc, out, err = run(["-n"], "Subject: folded\n  and continued\nX-Last: no newline")
    t.ok("Subject: folded\n  and continued\nX-Last: no newline\n" in out and out.endswith("\n\n"),
         "folded field kept; a last line without LF ends the header")
    rc, out, err = run(["-n"], "Resent-To: r\nFrom: orig@x.y\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
                       "Message-ID: <o@x>\n\nfwd\n")
    h = head(out)
    t.ok(re.search(r"^Resent-From: .*alice@mail\.%s" % re.escape(D), h, re.M) and "Resent-Date:" in h and "Resent-Message-ID:" in h
         and h.count("Date:") == 2 and "From: orig@x.y" in h, "forwarded: the Resent- fields added")
    rc, out, err = run(["-n", "r@x.y"], "To: John Smith\nSubject: junk\n\nb\n")
    t.ok(rc == 0 and "To: John Smith\n" in out, "a malformed To is passed on unchanged when not used")

    # --- recipients and sender (through a capturing queue program) ---
    msg = "To: bob, carol@x.y\nCc: dan@x.y\nBcc: eve@x.y, bob\nSubject: r\n\nbody\n"
    rc, m, snd, rc_, err = captured([], msg)
    t.is_((rc, sorted(rc_ or [])), (0, ["bob@mail.%s" % D, "carol@x.y", "dan@x.y", "eve@x.y"]),
          "no arguments: To, Cc and Bcc, each once")
    t.ok(m and "Bcc" not in m and "eve@x.y" not in m, "Bcc recipients get the message without the field")
    t.is_(snd, "alice@mail.%s" % D, "sender: $USER at control/defaulthost")
    rc, m, snd, rc_, err = captured(["zed", "y@x.y"], msg)
    t.is_(sorted(rc_ or []), ["y@x.y", "zed@mail.%s" % D], "-A: arguments win over the header")
    rc, m, snd, rc_, err = captured(["-h", "zed"], msg)
    t.is_(len(rc_ or []), 4, "-h: the header only")
    rc, m, snd, rc_, err = captured(["-H", "zed"], msg)
    t.is_(len(rc_ or []), 5, "-H: both")
    rc, m, snd, rc_, err = captured(["-a"], msg)
    t.is_((rc, rc_), (100, None), "-a without arguments: no recipients")
    t.ok("no recipients" in err, "and says so: " + err.strip())
    rc, m, snd, rc_, err = captured([], "Resent-To: fw@x.y\nResent-Bcc: b2@x.y\nTo: orig@x.y\n\nb\n")
    t.is_(sorted(rc_ or []), ["b2@x.y", "fw@x.y"], "forwarded: Resent- recipients only")
    rc, m, snd, rc_, err = captured(["-f", "bounce@x.y", "r@x.y"], "Return-Path: <rp@x.y>\n\nb\n")
    t.is_(snd, "bounce@x.y", "-f sets the sender")
    rc, m, snd, rc_, err = captured(["r@x.y"], "Return-Path: <rp@x.y>\n\nb\n")
    t.is_(snd, "rp@x.y", "else Return-Path")
    rc, m, snd, rc_, err = captured(["r@x.y"], "Return-Path: <>\n\nb\n")
    t.is_(snd, "", "Return-Path <> is the null sender")
    rc, m, snd, rc_, err = captured(["r@x.y"], "Return-Path: <rp@x.y>\n\nb\n", {"QMAILINJECT": "s"})
    t.is_(snd, "alice@mail.%s" % D, "QMAILINJECT=s ignores Return-Path")
    rc, m, snd, rc_, err = captured(["-f", "<>", "r@x.y"], "b\n")
    t.is_(snd, "", "-f '<>': null sender")
    rc, m, snd, rc_, err = captured(["-fbare", "r@x.y"], "b\n")
    t.is_(snd, "bare@mail.%s" % D, "-f qualified too")
    rc, m, snd, rc_, err = captured(["r@x.y"], "b\n", {"QMAILSUSER": "su", "QMAILSHOST": "sh.test",
                                                        "QMAILUSER": "qu", "QMAILHOST": "qh.test"})
    t.is_(snd, "su@sh.test", "QMAILSUSER and QMAILSHOST for the envelope")
    t.ok(re.search(r"^From: .*\bqu@qh\.test>?$", m or "", re.M), "QMAILUSER and QMAILHOST for From")
    root = pwd.getpwuid(os.getuid())
    e = {"PATH": BASEENV["PATH"], "USER": ""}
    rc, m, snd, rc_, err = captured(["r@x.y"], "b\n", e)
    t.is_(snd, "%s@mail.%s" % (root.pw_name, D), "no $USER: the login of the uid")
    rc, m, snd, rc_, err = captured(["\"Name, Full\" <a@x.y>, b"], "b\n")
    t.is_(rc_, ["a@x.y", "b@mail.%s" % D], "an argument may be an address list")
    rc, m, snd, rc_, err = captured(["\"john smith\"@x.y"], "b\n")
    t.is_(rc_, ["john smith@x.y"], "quoted local part unquoted in the envelope")

    # --- found by an audit ---
    rc, m, snd, rc_, err = captured(["r@x.y"], "b\n", {"QMAILDEFAULTHOST": "env.host.test", "MALLOC_PERTURB_": "65"})
    t.ok(snd == "alice@env.host.test" and re.search(r"^From: .*<alice@env\.host\.test>$", m or "", re.M),
         "QMAILDEFAULTHOST: exactly that host in the sender and From")
    import signal as _sig
    e = dict(BASEENV, QMAILQUEUE=CAPTURE)
    p = subprocess.run([SENDMAIL, "-t", "-i"], input=b"To: a@b.test\n\nb\n", capture_output=True, env=e,
                       preexec_fn=lambda: _sig.signal(_sig.SIGCHLD, _sig.SIG_IGN), timeout=30)
    t.is_((p.returncode, p.stderr), (0, b""), "a caller that ignores SIGCHLD still gets 0 for a queued message")
    rc, out, err = run(["-n"], "From: orig@x.y\nMessage-ID: <orig@x>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
                       "Resent-To: fw@x.y\n\nbody\n", {"QMAILINJECT": "fi"})
    h = head(out)
    t.ok(re.search(r"^From: .*alice@mail", h, re.M) and re.search(r"^Message-ID: <", h, re.M) and
         "orig@" not in h and "Resent-From:" in h and "Resent-Message-ID:" in h,
         "QMAILINJECT=fi on a forwarded message: From and Message-ID replaced, not just removed")
    rc, m, snd, rc_, err = captured(['"a\\\r\\\nRCPT TO:<evil@x.y>"@x.y'], "b\n")
    t.is_((rc, m), (100, None), "CR LF through a quoted-pair in an argument: refused")
    rc, m, snd, rc_, err = captured(["-h"], 'To: "a\\\n RCPT TO:<e@x.y>"@x.y\n\nb\n')
    t.is_((rc, m), (100, None), "... and in a To field")
    for bad in ('"a\nb"@c.example', '"a\rb"@c.example', '"a\r\nb"@c.example'):
        rc, m, snd, rc_, err = captured([bad], "b\n")
        t.is_((rc, m), (100, None), "a bare %r inside quotes in an argument: refused, not dropped" % bad)
    rc, m, snd, rc_, err = captured(["-i", "r@x.y"], "x" * 2000000 + "\nsecond\n", prog=SENDMAIL)
    t.ok(rc == 0 and m is not None and m.endswith("\n\n" + "x" * 2000000 + "\nsecond\n"),
         "a 2 MB first body line without an empty line before it: taken whole")
    rc, m, snd, rc_, err = captured(["-i", "r@x.y"], "Subject: s\n" + "y" * 1500000 + "\r\nz\n", prog=SENDMAIL)
    t.ok(rc == 0 and m is not None and ("Subject: s\n" in m) and m.endswith("\n\n" + "y" * 1500000 + "\nz\n"),
         "after a field too, with its CR LF made LF")
    rc, out, err = run(["-n"], "From : Alice <alice@x.y>\nTo: b@x.y\n\nbody\n")
    t.ok(out.startswith("From : Alice <alice@x.y>\n") and out.count("From") == 1,
         "an obsolete 'From :' field first is a field, not an mbox separator")
    rc, out, err = run(["-n", "-F", "\u00c4" * 60], "Subject: x\n\n")
    h = head(out)
    words = re.findall(r"=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=", h)
    t.ok(len(words) == 3 and all(len(w) <= 75 for w in words) and
         max(len(l) for l in h.split("\n")) <= 998, "a long 8-bit name: encoded words of at most 75, folded")
    p = subprocess.run(["env", b"NAME=J\xf6rg", INJECT, "-n"], input=b"Subject: x\n\n", capture_output=True,
                       env=dict(BASEENV), timeout=30)
    t.ok(b"From: =?ISO-8859-1?B?SvZyZw==?= <alice@" in p.stdout, "a name that is not UTF-8 is labelled ISO-8859-1")
    rc, out, err = run(["-n", "-F", "A" * 1200], "Subject: x\n\n")
    t.ok(max(len(l) for l in out.split("\n")) <= 998, "a 1200-byte name is cut to fit a line")
    anon = t.tmpdir("lanmail-anon.")
    os.chmod(anon, 0o1777)
    if os.getuid() == 0 and shutil.which("setpriv") and t.traversable(SENDMAIL) and t.traversable(anon):
        t.write(os.path.join(anon, "qq"), "#!/bin/sh\nexec 3<&1\ncat > /dev/null\ncat <&3 > %s/env\n" % anon, 0o755)
        p = subprocess.run(["setpriv", "--reuid=4321", "--regid=4321", "--clear-groups", "env", "-i",
                            "PATH=/usr/bin:/bin", "QMAILQUEUE=" + os.path.join(anon, "qq"), SENDMAIL, "-t", "-i"],
                           input=b"To: a@b.test\n\nb\n", capture_output=True, timeout=30)
        env_ = open(os.path.join(anon, "env"), "rb").read() if os.path.exists(os.path.join(anon, "env")) else b""
        t.ok(p.returncode == 0 and env_.startswith(b"Fanonymous@mail." + D.encode()),
             "a uid with no passwd entry and no USER: sender anonymous@, queued (%r)" % (p.stderr,))
    else:
        t.skip("needs root, setpriv and a scratch directory anybody may enter, to act as a uid without a passwd entry")

    # --- errors ---
    rc, m, snd, rc_, err = captured(["-h"], "To: John Smith\n\nb\n")
    t.is_((rc, m), (100, None), "malformed To when it gives the recipients: 100, nothing queued")
    t.ok("To field" in err, "and names the field: " + err.strip())
    rc, m, snd, rc_, err = captured(["a@"], "b\n")
    t.ok(rc == 100 and "not a recipient address: a@" in err, "bad argument: 100")
    rc, out, err = run(["-Z"], "b\n")
    t.ok(rc == 100 and "usage" in err, "unknown option: 100 and usage")
    rc, m, snd, rc_, err = captured(["x" * 1001 + "@x.y"], "b\n")
    t.is_((rc, m), (100, None), "recipient over 1000 bytes: 100")
    rc, m, snd, rc_, err = captured(["-f", "s" * 1001 + "@x.y", "r@x.y"], "b\n")
    t.is_((rc, m), (100, None), "sender over 1000 bytes: 100")
    rc, m, snd, rc_, err = captured(["r@x.y"], "X-Big: " + "a" * (1 << 20) + "\n\nb\n")
    t.ok(rc == 100 and m is None and "header is longer" in err, "header over 1 MiB: 100")

    # the 1 MiB mark inside a field name: the rest of the header is no
    # body, and its recipients are not lost; sendmail -t the same
    def filler(n):
        """header lines of exactly n bytes (LF included)"""
        lines = []
        while n > 0:
            k = min(n, 1000)
            if n - k and n - k < 10:
                k -= 10
            lines.append("X-F: " + "f" * (k - 6) + "\n")
            n -= k
        return "".join(lines)
    HEADMAX = 1 << 20
    for cut in (1, 2, 7):
        hdr = "To: bob@x.y\n" + filler(HEADMAX - 12 - cut) + "Cc: carol@x.y\nSubject: s\n"
        rc, m, snd, rcpts, err = captured(["-t"], hdr + "\nbody\n", prog=SENDMAIL)
        t.ok(rc == 100 and m is None and "header is longer" in err,
             "sendmail -t: the 1 MiB mark %d byte(s) into a Cc line: 100, nothing queued (%d %r)"
             % (cut, rc, rcpts))
    hdr = "To: bob@x.y\n" + "".join("X-Header-%06d: v\n" % i for i in range(200000))
    rc, m, snd, rcpts, err = captured([], hdr + "Cc: carol@x.y\n\nbody\n")
    t.ok(rc == 100 and m is None and "header is longer" in err,
         "a header of 200000 lines (3.8 MB): 100, nothing queued (%d)" % rc)
    # a header of exactly 1 MiB is not too long, nor is a long body line
    # that starts the body without an empty line
    hdr = "To: bob@x.y\n" + filler(HEADMAX - 12 - 14) + "Cc: carol@x.y\n"
    rc, m, snd, rcpts, err = captured([], hdr + "\nbody\n")
    t.ok(rc == 0 and rcpts == ["bob@x.y", "carol@x.y"] and ("\nCc: carol@x.y\n" in head(m) + "\n"),
         "a header of exactly 1048576 bytes: queued, every recipient (%d %r)" % (rc, rcpts))
    long_ = "a long line, no field " + "y" * (1 << 21)
    rc, m, snd, rcpts, err = captured([], "To: bob@x.y\n" + long_ + "\nend\n")
    t.ok(rc == 0 and m and m.endswith("\n\n" + long_ + "\nend\n") and rcpts == ["bob@x.y"],
         "a 2 MiB line that is no field starts the body (%d)" % rc)
    hdr = "To: bob@x.y\n" + filler(HEADMAX - 12 - 5)
    rc, m, snd, rcpts, err = captured([], hdr + "body starts here, no empty line " + "z" * 100 + "\n")
    t.ok(rc == 0 and m and m.endswith("\n\nbody starts here, no empty line " + "z" * 100 + "\n"),
         "the 1 MiB mark inside a body line that is plainly no field: the body (%d)" % rc)
    rc, m, snd, rc_, err = captured(["r@x.y"], "b\n", {"QQEXIT": "31"})
    t.ok(rc == 100 and "exit code 31" in err, "queue program refuses (31): 100")
    rc, m, snd, rc_, err = captured(["r@x.y"], "b\n", {"QQEXIT": "53"})
    t.ok(rc == 111 and "disk full" in err, "queue program 53: 111 and why: " + err.strip())
    rc, out, err = run(["r@x.y"], "b\n", {"QMAILQUEUE": "/nonexistent/qq"})
    t.ok(rc == 111 and "unable to run" in err, "queue program missing: 111")
    rc, out, err = run(["r@x.y"], "b\n", {"QMAILQUEUE": "/bin/false"})
    t.is_(rc, 111, "queue program exits 1: 111")
    # a queue program that stops reading: a message bigger than a pipe
    # holds makes the write fail for certain.  An exit 0 is then no
    # success; a refusal's exit code still counts.
    big = "Subject: big\n\n" + ("x" * 999 + "\n") * 2048
    rc, out, err = run(["r@x.y"], big, {"QMAILQUEUE": "/bin/true"})
    t.ok(rc == 111 and "unable to write the message" in err,
         "queue program exits 0 without reading: 111: " + err.strip())
    t.write(os.path.join(cap, "refuse"), "#!/bin/sh\nexit 31\n", 0o755)
    rc, out, err = run(["r@x.y"], big, {"QMAILQUEUE": os.path.join(cap, "refuse")})
    t.ok(rc == 100 and "exit code 31" in err, "queue program refuses (31) without reading: 100: " + err.strip())

    # --- sendmail ---
    rc, m, snd, rc_, err = captured(["-t", "-oi", "-f", "s@x.y", "extra@x.y"],
                                    "To: t@x.y\nBcc: b@x.y\n\nline\n.\nafter\n", prog=SENDMAIL)
    t.is_(sorted(rc_ or []), ["b@x.y", "extra@x.y", "t@x.y"], "sendmail -t: header fields and arguments")
    t.ok(m and m.endswith("\n\nline\n.\nafter\n") and snd == "s@x.y", "-oi keeps a lone dot; -f sender")
    rc, m, snd, rc_, err = captured(["-r", "s2@x.y", "-FCronDaemon", "r@x.y"], "Subject: s\n\nline\r\n.\r\nlost\n",
                                    prog=SENDMAIL)
    t.ok(m and m.endswith("\n\nline\n") and "lost" not in m, "without -i a lone dot ends the message")
    t.ok(snd == "s2@x.y" and "From: CronDaemon <alice@mail.%s>" % D in (m or ""), "-r sender, -F name")
    rc, m, snd, rc_, err = captured(["-i", "-odi", "-oem", "-B8BITMIME", "-N", "never", "-v", "r@x.y"],
                                    ".\n..\n", prog=SENDMAIL)
    t.ok(rc == 0 and m and m.endswith("\n\n.\n..\n"), "-i, and -o, -B, -N, -v accepted")
    rc, m, snd, rc_, err = captured(["-t"], "Subject: none\n\nb\n", prog=SENDMAIL)
    t.is_((rc, m), (100, None), "sendmail -t without recipients: 100")
    rc, m, snd, rc_, err = captured([], "To: t@x.y\n\nb\n", prog=SENDMAIL)
    t.is_((rc, m), (100, None), "sendmail without -t ignores header recipients")
    rc, out, err = run(["-q"], "", prog=SENDMAIL)
    t.is_(rc, 0, "sendmail -q: nothing to do")
    rc, out, err = run(["-bv", "r@x.y"], "", prog=SENDMAIL)
    t.ok(rc == 100 and "unsupported" in err, "sendmail -bv: 100")
    rc, out, err = run(["-y"], "", prog=SENDMAIL)
    t.ok(rc == 100 and "usage: sendmail" in err, "sendmail unknown option: 100 and usage")

    # --- QMAILQUEUE=bin/qmail-dkim signs what a local program sends ---
    keydir = os.path.join(t.HOME, "control", "dkim")
    had_keydir = os.path.isdir(keydir)
    shutil.rmtree(os.path.join(keydir, "inj.test"), ignore_errors=True)
    k = subprocess.run([os.path.join(t.BIN, "qmail-dkimkey"), "inj.test", "s1"], capture_output=True, text=True)
    rc, m, snd, rc_, err = captured(["-f", "me@inj.test", "r@x.y"], "From: Me <me@inj.test>\nSubject: signed\n\nsigned body\n",
                                    {"QMAILQUEUE": os.path.join(t.BIN, "qmail-dkim"), "NEXTQUEUE": CAPTURE})
    record = "".join(re.findall(r'"([^"]*)"', k.stdout))
    verified = None
    if m and k.returncode == 0:
        v = subprocess.run(["/usr/bin/python3", "-c",
                            "import sys, dkim\n"
                            "rec = sys.argv[1].encode()\n"
                            "msg = open(sys.argv[2], 'rb').read().replace(b'\\n', b'\\r\\n')\n"
                            "print(dkim.verify(msg, dnsfunc=lambda name, timeout=5: rec))",
                            record, os.path.join(cap, "msg")], capture_output=True, text=True)
        verified = v.stdout.strip() or v.stderr.strip()[-200:]
    if subprocess.run(["/usr/bin/python3", "-c", "import dkim"], capture_output=True).returncode:
        t.skip("python3-dkim is not installed")
    else:
        t.is_((rc, verified), (0, "True"), "QMAILQUEUE=qmail-dkim: signed, and python3-dkim verifies it")
    shutil.rmtree(os.path.join(keydir, "inj.test"), ignore_errors=True)
    if not had_keydir:
        shutil.rmtree(keydir, ignore_errors=True)

    # --- closed descriptors, long address fields, other names ---
    import signal as _sig2

    def with_closed(argv, data, close, env=None, prog=SENDMAIL, timeout=20):
        """Run prog with descriptors close closed; its exit code, or None
        when it hung (then its process group is killed)."""
        for f in ("msg", "env"):
            if os.path.exists(os.path.join(cap, f)):
                os.unlink(os.path.join(cap, f))
        e = dict(BASEENV, QMAILQUEUE=CAPTURE)
        e.update(env or {})
        inp = os.path.join(cap, "input")
        t.write(inp, data)
        with open(inp, "rb") as f:
            p = subprocess.Popen([prog] + argv, stdin=f, env=e, start_new_session=True,
                                 preexec_fn=lambda: [os.close(fd) for fd in close])
            try:
                return p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, _sig2.SIGKILL)
                p.wait()
                return None

    def capfile(name):
        p_ = os.path.join(cap, name)
        return open(p_, "rb").read() if os.path.exists(p_) else None

    rc = with_closed(["-t", "-i"], "To: nobody@x.test\n\nbody\n", (1, 2))
    t.ok(rc == 0 and capfile("env") == b"Falice@mail.%s\0Tnobody@x.test\0\0" % D.encode(),
         "sendmail with descriptors 1 and 2 closed: queued, no hang (exit %r)" % (rc,))
    rc = with_closed(["-n"], "To: a@x.test\n\nb\n", (1, 2), prog=INJECT)
    t.is_(rc, 0, "qmail-inject -n with 1 and 2 closed: written to /dev/null")
    rc = with_closed(["r@x.test"], "", (0,))
    t.ok(rc == 0 and capfile("env") == b"Falice@mail.%s\0Tr@x.test\0\0" % D.encode() and
         (capfile("msg") or b"").endswith(b">\n\n"), "descriptor 0 closed: an empty message, as /dev/null")
    noisy = os.path.join(cap, "noisy")
    t.write(noisy, "#!/bin/sh\necho note >&2 || exit 71\nexec %s\n" % CAPTURE, 0o755)
    rc = with_closed(["-t", "-i"], "To: nobody@x.test\n\nbody\n", (2,), {"QMAILQUEUE": noisy})
    t.ok(rc == 0 and capfile("msg") is not None,
         "descriptor 2 closed: the queue program may still write to its own (exit %r)" % (rc,))

    names = ["user%02d" % i for i in range(70)]
    field = "To: " + ", ".join(names)
    t.is_(len(field), 562, "70 bare names: a 562-byte To")
    rc, out, err = run(["-n"], field + "\nCc: a, b@x.y\nSubject: s\n\nb\n")
    h = head(out)
    lines = h.split("\n")
    to = re.search(r"^To:.*(\n[ \t].*)*", h, re.M).group(0)
    t.ok(rc == 0 and max(len(l) for l in lines) <= 78 and to.count("\n") > 0,
         "completed, it is folded: no header line over 78")
    got = [a.strip() for a in to.replace("\n", "")[3:].split(",")]
    t.is_(got, ["%s@mail.%s" % (n, D) for n in names], "every address still there, in order, after unfolding")
    t.ok(re.search(r",\n [^ \t]", to) and not re.search(r"[ \t]\n", to), "folded after a comma, one space before the next")
    t.ok("\nCc: a@mail.%s, b@x.y\n" % D in "\n" + h, "a short field: completed, not folded")
    long_cc = "Cc: " + ", ".join("%s@x.y" % n for n in names)
    rc, out, err = run(["-n"], long_cc + "\nTo: (long,\n comment) a, \"q, \\\"r\\\" s\" <b>, <@r1.x,@r2.x:c@x.y>,"
                       " dd" + "d" * 90 + ", e\nSubject: s\n\nb\n")
    h = head(out)
    t.ok(("\n" + long_cc + "\n") in ("\n" + h), "a field needing no completion is kept byte for byte, however long")
    t.ok("To: (long,\n comment) a@mail.%s, \"q, \\\"r\\\" s\" <b@mail.%s>,\n <@r1.x,@r2.x:c@x.y>,\n dd%s@mail.%s,\n"
         " e@mail.%s\n" % (D, D, "d" * 90, D, D) in h,
         "commas in comments, quotes and routes are not folded at; the author's fold kept; a long address alone")
    rc, m, snd, rc_, err = captured(["-t", "-i"], field + "\n\nb\n", prog=SENDMAIL)
    t.is_(sorted(rc_ or []), ["%s@mail.%s" % (n, D) for n in names], "and the envelope has all 70")

    rc, m, snd, rc_, err = captured(["-t", "-i"], "To: bob@send.test, bob@SEND.TEST, Bob@send.test\n"
                                    "Cc: BOB@Send.Test\n\nb\n", prog=SENDMAIL)
    t.is_(sorted(r.split("@")[0] for r in rc_ or []), ["BOB", "Bob", "bob"],
          "duplicates: the domain compared in any case, the local part exactly")
    t.ok(rc_ is not None and all(r.split("@")[1].lower() == "send.test" for r in rc_) and
         "Bob@send.test" in rc_ and "BOB@Send.Test" in rc_, "addresses kept as they were written")

    names_dir = t.tmpdir("lanmail-names.")
    for n in ("send-mail", "mailq", "newaliases"):
        os.symlink(INJECT, os.path.join(names_dir, n))
    rc, m, snd, rc_, err = captured(["-t", "-i", "-f", "s@x.y"], "To: sm@x.y\n\nb\n",
                                    prog=os.path.join(names_dir, "send-mail"))
    t.is_((rc, snd, rc_), (0, "s@x.y", ["sm@x.y"]), "the name send-mail: sendmail's command line")
    bp = run(["-bp"], "", prog=SENDMAIL)
    mq = run([], "", prog=os.path.join(names_dir, "mailq"))
    t.ok(mq == bp and "usage" not in mq[2] and "recipients" not in mq[2],
         "the name mailq: sendmail -bp (%r)" % (mq,))
    alias = os.path.join(t.HOME, "alias")
    saved = {f: open(os.path.join(alias, f), "rb").read() for f in os.listdir(alias) if f.startswith(".qmail-")}

    def alias_state():
        st = {f: open(os.path.join(alias, f), "rb").read() for f in os.listdir(alias) if f.startswith(".qmail-")}
        for f in os.listdir(alias):
            if f.startswith(".qmail-") and f not in saved:
                os.unlink(os.path.join(alias, f))
        for f, data in saved.items():
            with open(os.path.join(alias, f), "wb") as fh:
                fh.write(data)
        return st
    try:
        direct = subprocess.run([os.path.join(t.BIN, "qmail-newaliases")], capture_output=True, timeout=30)
        want = alias_state()
        named = subprocess.run([os.path.join(names_dir, "newaliases")], capture_output=True, timeout=30)
        got_ = alias_state()
    finally:
        alias_state()
    t.ok((named.returncode, named.stderr, got_) == (direct.returncode, direct.stderr, want),
         "the name newaliases: qmail-newaliases (exit %d, %r)" % (named.returncode, named.stderr))

    shim_dir = t.tmpdir("lanmail-shim.")
    t.write(os.path.join(shim_dir, "shim.c"), r'''
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

/* realloc fails for SHIM_FAILSIZE bytes or more; getpwuid fails with
 * errno SHIM_PWERRNO; SHIM_MARK is created to show the shim was loaded */
__attribute__((constructor)) static void
mark(void)
{
	const char *m = getenv("SHIM_MARK");
	int fd;

	if (m && (fd = open(m, O_WRONLY | O_CREAT, 0644)) != -1)
		close(fd);
}

void *
realloc(void *p, size_t n)
{
	static void *(*real)(void *, size_t);
	const char *l = getenv("SHIM_FAILSIZE");

	if (l && n >= strtoul(l, NULL, 10)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!real)
		real = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	return real(p, n);
}

struct passwd *
getpwuid(uid_t uid)
{
	const char *e = getenv("SHIM_PWERRNO");

	if (e) {
		errno = atoi(e);
		return NULL;
	}
	return ((struct passwd *(*)(uid_t))dlsym(RTLD_NEXT, "getpwuid"))(uid);
}
''')
    so = os.path.join(shim_dir, "shim.so")
    cc = shutil.which("cc")
    built = cc and subprocess.run([cc, "-shared", "-fPIC", "-o", so, os.path.join(shim_dir, "shim.c"), "-ldl"],
                                  capture_output=True).returncode == 0
    markf = os.path.join(shim_dir, "loaded")
    if built:
        run(["-n"], "", {"LD_PRELOAD": so, "SHIM_MARK": markf})
    if built and os.path.exists(markf):
        shim = {"LD_PRELOAD": so}
        rc, m, snd, rc_, err = captured(["x" * 100000 + "@x.y"], "b\n", dict(shim, SHIM_FAILSIZE="65536"))
        t.ok(rc == 111 and m is None and "out of memory" in err,
             "out of memory reading a recipient argument: 111, not 100 (%d %s)" % (rc, err.strip()[:80]))
        rc, m, snd, rc_, err = captured(["-f", "x" * 100000 + "@x.y", "r@x.y"], "b\n", dict(shim, SHIM_FAILSIZE="65536"))
        t.ok(rc == 111 and m is None and "out of memory" in err, "... and the -f argument: 111")
        noenv = dict(shim, USER="")
        rc, m, snd, rc_, err = captured(["r@x.y"], "b\n", dict(noenv, SHIM_PWERRNO="5"))
        t.ok(rc == 111 and m is None and "passwd entry" in err,
             "getpwuid failing with EIO (the name service down): 111, nothing queued (%d %s)" % (rc, err.strip()))
        for eno in ("0", "2"):
            rc, m, snd, rc_, err = captured(["r@x.y"], "b\n", dict(noenv, SHIM_PWERRNO=eno))
            t.ok(rc == 0 and snd == "anonymous@mail.%s" % D and "From: anonymous@mail.%s\n" % D in (m or ""),
                 "getpwuid finding no entry (errno %s): anonymous, queued" % eno)
    else:
        t.skip("needs cc and a dynamically linked qmail-inject, to fail allocations and getpwuid", 5)

    # --- end to end: queue, qmail-send, a Maildir ---
    bob = s.home("bob")
    s.assign([s.user("bob", bob)])
    s.start()
    body8 = "caf\u00e9 line\n" + "".join("line %d %s\n" % (i, "x" * 70) for i in range(70000))
    rc, out, err = run(["-t", "-i", "-f", "owner@x.y"], "To: bob@%s\nSubject: big\n"
                       "Content-Type: text/plain; charset=utf-8\n\n%s" % (D, body8), prog=SENDMAIL)
    t.is_((rc, err), (0, ""), "sendmail queued a 5 MB message through qmail-queue")
    rc, out, err = run(["bob@%s" % D], "Subject: second\n\nhello\n")
    t.is_((rc, err), (0, ""), "qmail-inject queued one more")
    t.ok(s.wait(lambda: len(s.maildir(bob)) == 2, 30), "both delivered to bob's Maildir")
    msgs = {}
    for raw in s.maildir(bob):
        m = email.message_from_bytes(raw.as_bytes() if hasattr(raw, "as_bytes") else raw, policy=email.policy.default)
        msgs[str(m["Subject"])] = m
    big = msgs.get("big")
    t.ok(big is not None and big.get_content() == body8, "the 5 MB body arrived byte for byte")
    t.ok(big is not None and big["Return-Path"] == "<owner@x.y>" and big["Received"]
         and "lanmail" in str(big["Received"]), "sender and qmail-queue's Received line")
    sec = msgs.get("second")
    t.ok(sec is not None and str(sec["From"]).endswith("alice@mail.%s>" % D) and sec["Message-ID"] and sec["Date"],
         "From, Date and Message-ID as added")

    # sendmail -bs: an SMTP dialogue on standard input and output
    p = subprocess.Popen([SENDMAIL, "-bs"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=dict(BASEENV))
    dialogue = ("EHLO local\r\nMAIL FROM:<bs@x.y>\r\nRCPT TO:<bob@%s>\r\nDATA\r\n"
                "Subject: via bs\r\n\r\nbs body\r\n.\r\nQUIT\r\n" % D)
    try:
        so, _ = p.communicate(dialogue.encode(), timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        so, _ = p.communicate()
    codes = re.findall(r"^(\d{3}) ", so.decode("ascii", "replace"), re.M)
    t.is_(codes, ["220", "250", "250", "250", "354", "250", "221"], "sendmail -bs: a whole SMTP dialogue")
    t.ok(s.wait(lambda: len(s.maildir(bob)) == 3, 30), "and the message is delivered")

    # sendmail -bp: the queue listing
    t.control("retrylocal", "1000\n")
    rc, out, err = run(["-bp"], "", prog=SENDMAIL)
    t.is_((rc, err), (0, ""), "sendmail -bp runs qmail-qread")

    # a queue program that a signal ends has no exit code: qmail-inject
    # says which signal, and it is a temporary failure
    killed = os.path.join(cap, "killed")
    t.write(killed, "#!/bin/sh\ncat >/dev/null\nkill -9 $$\n", 0o755)
    rc, out, err = run(["r@x.y"], "Subject: k\n\nb\n", {"QMAILQUEUE": killed})
    t.is_((rc, err.strip()), (111, "qmail-inject: fatal: %s was killed by signal 9" % killed),
          "queue program killed by SIGKILL: 111, and the signal named")
finally:
    for c in ("defaulthost", "defaultdomain", "plusdomain", "idhost"):
        t.control(c, None)
    s.finish()
t.done()
