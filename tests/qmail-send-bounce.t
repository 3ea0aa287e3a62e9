#!/usr/bin/python3
"""qmail-send bounces against hostile input: a header planting MIME
delimiters, 8-bit and NUL bytes; addresses that differ only in case;
a bounce/ file over the 64 MiB qmail-send reads; a record torn by a
full disk."""
import email
import email.policy
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

D = qsend.DOMAIN
Q = os.path.join(t.HOME, "queue")


def parse(m):
    return email.message_from_bytes(m.as_bytes(), policy=email.policy.default)


def take_bounce(home):
    """The one bounce in home's Maildir, removed once read."""
    md = os.path.join(home, "Maildir", "new")
    f = sorted(os.listdir(md))
    if len(f) != 1:
        return None
    with open(os.path.join(md, f[0]), "rb") as fh:
        data = fh.read()
    os.unlink(os.path.join(md, f[0]))
    return data


def final_rcpts(data):
    return re.findall(rb"\nFinal-Recipient: rfc822; (\S+)", data)


s = qsend.Scene()
try:
    bob = s.home("bob", {"slow": "|sleep 3; echo slow failure; exit 100\n"})
    s.assign([s.user("bob", bob), s.user("bob", bob, prefix=True)])
    t.control("bouncefrom", "MAILER-DAEMON\n")
    s.start()

    # 1. the quoted header plants delimiters of the boundary as it used
    # to be (inode, time, sequence), 8-bit bytes, a NUL, a long line
    hdr = b"From: bob@" + D.encode() + b"\nSubject: caf\xc3\xa9 \x00nul\nX-Long: " + b"L" * 1500 + b"\n"
    plant = b"X-Plant: y\n--lanmail-dsn-1-1700000000-1\nContent-Type: text/html\n"
    body = hdr + plant + b"\nbody\n"
    t.is_(s.inject("bob@" + D, ["nobody@-bad"], body), 0, "queued a message with a hostile header")
    t.ok(s.wait(lambda: len(s.maildir(bob)) == 1 and s.queue_empty()), "bounced")
    data = take_bounce(bob)
    msg = email.message_from_bytes(data or b"", policy=email.policy.compat32)
    parts = msg.get_payload() if msg.is_multipart() else []
    types = [p.get_content_type() for p in parts]
    t.is_(types, ["text/plain", "message/delivery-status", "message/global-headers"],
          "three parts, no planted one; 8-bit header as message/global-headers")
    b = msg.get_boundary() or ""
    t.ok(re.fullmatch(r"lanmail-dsn-[0-9a-f]{32}", b), "boundary with 128 random bits: %s" % b)
    t.ok(data is not None and b"\0" not in data, "no NUL in the bounce")
    t.ok(data is not None and max(len(l) for l in data.split(b"\n")) <= 998, "no line over 998 octets")

    # 2. local parts are case-sensitive: both are reported
    t.is_(s.inject("bob@" + D, ["John.Smith@-bad", "john.smith@-bad"], "Subject: case\n\nx\n"), 0,
          "queued to two addresses that differ in case")
    t.ok(s.wait(lambda: len(s.maildir(bob)) == 1 and s.queue_empty()), "bounced")
    t.is_(sorted(final_rcpts(take_bounce(bob) or b"")), [b"John.Smith@-bad", b"john.smith@-bad"],
          "both listed")

    # 2b. a first field of 70 KB, then the fields that say what the
    # message was: the whole header is read, each line cut at 998
    # octets; past 64 KiB of quoted header, From, To, Subject, Date and
    # Message-ID are still kept
    big = ("X-Huge: " + "h" * 70000 + "\nFrom: bob@%s\nSubject: after the huge field\n"
           "Message-ID: <huge@%s>\n\nbody\n") % (D, D)
    hops = "".join("X-Hop-%03d: %s\n" % (i, "r" * 900) for i in range(120))
    capped = hops + ("To: nobody@-bad\nFrom: bob@%s\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
                     "Subject: capped\nMessage-ID: <capped@%s>\n\nbody\n") % (D, D)
    for name, text, want in (("70 KB field", big, [b"X-Huge: " + b"h" * 990, b"From: bob@" + D.encode(),
                                                 b"Subject: after the huge field", b"Message-ID: <huge@"]),
                             ("120 KB header", capped, [b"X-Hop-000: ", b"To: nobody@-bad", b"From: bob@",
                                                        b"Date: Mon, 1 Jan 2024", b"Subject: capped",
                                                        b"Message-ID: <capped@"])):
        t.is_(s.inject("bob@" + D, ["nobody@-bad"], text), 0, "queued a message with a %s" % name)
        t.ok(s.wait(lambda: len(s.maildir(bob)) == 1 and s.queue_empty()), "bounced")
        msg = email.message_from_bytes(take_bounce(bob) or b"", policy=email.policy.compat32)
        parts = msg.get_payload() if msg.is_multipart() else []
        quoted = parts[2].get_payload().encode() if len(parts) == 3 else b""
        lines = quoted.split(b"\n")
        t.ok(all(any(ln.startswith(w) for ln in lines) for w in want) and
             max(len(ln) for ln in lines) <= 998 and len(quoted) <= 65536,
             "%s: the fields after it are in the bounce, lines cut at 998, at most 64 KiB (%d bytes, %r)"
             % (name, len(quoted), [ln[:20] for ln in lines][-8:]))
    t.ok(b"X-Hop-119" not in quoted and b"X-Hop-050" in quoted, "the header past 64 KiB is cut at a line")

    # 3. bounce/ID over 64 MiB, with a duplicate: the first records that
    # fit are reported, the count of the others said, the message leaves
    limit = 64 * 1024 * 1024
    mta = b"m" * 1000
    rec = [b"Rdup@-bad\0S5.1.1\0M" + mta + b"\0Xfirst\0", b"Rdup@-bad\0S5.1.1\0M" + mta + b"\0Xsecond\0"]
    n = limit // 1000
    rec += [b"Ru%06d@-bad\0S5.1.1\0M%s\0Xno\0" % (i, mta) for i in range(n)]
    raw = b"".join(rec)
    listed = raw[:limit].count(b"\0") // 4 - 1	# the two dup records are one
    t.is_(s.inject("bob@" + D, ["bob-slow@" + D], "Subject: huge\n\nx\n"), 0, "queued to a slow failure")
    t.ok(s.wait(lambda: "to local bob-slow@" in s.log() and len(t.queue_files("mess")) == 1),
         "delivery started")
    mid = os.path.basename(t.queue_files("mess")[0])
    with open(os.path.join(Q, "bounce", mid), "wb") as f:
        f.write(raw)
    t.ok(s.wait(lambda: len(s.maildir(bob)) == 1 and s.queue_empty(), 60), "bounced, queue empty")
    data = take_bounce(bob) or b""
    got = final_rcpts(data)
    total = n + 2	# every u%06d, dup once, bob-slow
    t.is_(len(got), listed, "the records that fit are listed (%d)" % listed)
    t.is_(got.count(b"dup@-bad"), 1, "a duplicate listed once")
    t.ok(b"Diagnostic-Code: X-lanmail; first\n" in data, "the first of the duplicates kept")
    t.ok(b"\n%d more recipients failed as well;" % (total - listed) in data,
         "the text says how many more failed: %d" % (total - listed))
    t.ok(re.search(r"bounce/%s is too big: %d recipients left out" % (mid, total - listed), s.log()),
         "and so does the log")
    del raw, rec, data

    # 4. a full disk tears a record: it is cut off, the later ones stay
    s.stop()
    t.clear_queue()
    why = t.mount_small(Q, "1m")
    if why:
        t.skip("full disk: " + why, 3)
    else:
        try:
            for d in ("bounce", "pid", "lock"):
                os.makedirs(os.path.join(Q, d))
            for d in ("info", "intd", "local", "mess", "remote", "todo"):
                for i in range(23):
                    os.makedirs(os.path.join(Q, d, str(i)))
            open(os.path.join(Q, "lock", "sendmutex"), "w").close()
            os.mkfifo(os.path.join(Q, "lock", "trigger"), 0o622)
            os.chmod(os.path.join(Q, "lock", "trigger"), 0o622)
            t.write(os.path.join(bob, ".qmail-fail-default"),
                    "|sleep 2; printf '%0893d' 0; exit 100\n")
            s.start()
            rc = s.inject("bob@" + D, ["bob-fail-%d@%s" % (i, D) for i in range(1, 6)],
                          "From: bob@%s\nSubject: torn\n\nbody\n" % D)
            t.is_(rc, 0, "queued to five failures")
            st = os.statvfs(Q)
            filler = os.path.join(Q, "filler")
            with open(filler, "wb") as f:
                f.write(b"z" * (st.f_bavail * st.f_frsize - 4096))
            t.ok(s.wait(lambda: "unable to write" in s.log(), 20), "a record did not fit")
            os.unlink(filler)
            os.kill(s.pids()["qmail-send"], signal.SIGALRM)
            s.wait(lambda: len(s.maildir(bob)) == 1 and s.queue_empty(), 60)
            got = sorted(final_rcpts(take_bounce(bob) or b""))
            t.is_(got, [b"bob-fail-%d@%s" % (i, D.encode()) for i in range(1, 6)],
                  "all five failures reported")
        finally:
            s.stop()
            t.umount_small(Q)
finally:
    s.finish()

# 5. a VERP message with hundreds of failed recipients makes a report for
# each; qmail-send makes a few a pass and in between reads answers and
# starts deliveries, so that local mail queued meanwhile is delivered
# while the reports are still being made.  The reports go to a domain
# that is no host name, and the double bounces are discarded, so that
# they cost no deliveries.
VN = 800
s = qsend.Scene()
try:
    bob = s.home("bob")
    s.assign([s.user("bob", bob)])
    t.control("doublebounceto", "")
    s.start()
    rc = s.inject("v-@-nowhere-@[]", ["x%d@-bad" % i for i in range(VN)], "Subject: verp\n\nx\n")
    t.is_(rc, 0, "queued a VERP message to %d failing recipients" % VN)
    t.ok(s.wait(lambda: "bounce msg " in s.log(), 60, 0.005), "its reports are being made")
    t0 = time.time()
    t.is_(s.inject("bob@" + D, ["bob@" + D], "Subject: probe\n\nx\n"), 0, "queued local mail meanwhile")
    s.wait(lambda: len(s.maildir(bob)) == 1, 60, 0.005)
    late = time.time() - t0
    t.ok(s.wait(lambda: s.queue_empty() and s.log().count("discarding double bounce") >= VN, 120),
         "every report made and its double bounce discarded")
    log = s.log()
    made = re.findall(r"bounce msg \d+ to <v-(x\d+)=-bad@-nowhere>", log)
    t.is_((len(made), len(set(made))), (VN, VN), "one report for each failed recipient")
    last = max(i for i, l in enumerate(log.splitlines()) if re.search(r"^bounce msg ", l))
    got = min([i for i, l in enumerate(log.splitlines()) if "success: bob@" in l] or [1 << 30])
    t.ok(got < last, "the local mail was delivered before the last report was made")
    t.ok(late < 0.5, "the local mail took %.2f s (bound 0.5 s)" % late)
finally:
    s.finish()
t.done()
