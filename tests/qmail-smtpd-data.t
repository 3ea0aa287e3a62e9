#!/usr/bin/python3
"""qmail-smtpd: the DATA phase - SMTP smuggling patterns, bare CR and LF,
a hang-up in the middle, 8-bit data, 20 MB under and over databytes,
50 clients at once, a $QMAILQUEUE filter and its exit codes."""
import hashlib
import os
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import smtpdtest as s

t.need_home()
s.setup()
srv = s.Server()
P = srv.port


def empty_soon():
    """The queue holds no file within 30 s: an abandoned qmail-queue
    removes its files at once, but a loaded machine may be slow to run
    it (the alternative is qmail-send's 36-hour sweep)."""
    return t.wait_until(s.queue_empty)


def open_data(port=None):
    c = s.Raw(port or P)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@sender.test>")
    c.cmd("RCPT TO:<u1@virt.test>")
    r = c.cmd("DATA")
    return c, r


try:
    # --- smuggling: none of these may end the message early
    patterns = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r", b"\n.\r", b"\r\n.\r\r\n"]
    for pat in patterns:
        c, r = open_data()
        smuggled = (b"Subject: outer\r\n\r\nbody" + pat +
                    b"MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<u2@virt.test>\r\nDATA\r\n"
                    b"Subject: smuggled\r\n\r\nhidden\r\n.\r\nQUIT\r\n")
        c.send(smuggled)
        r1 = c.reply()
        t.is_(s.code(r1), "554 5.6.0", "smuggling %r: the whole DATA is refused, 554 5.6.0" % pat)
        t.ok(c.closed(), "smuggling %r: the QUIT inside ended the session, nothing else answered" % pat)
        c.close()
        t.ok(s.queue_empty(), "smuggling %r: nothing queued" % pat)
        t.clear_queue()
    # the same pattern but each over many tiny writes
    c, r = open_data()
    for b in b"Subject: x\r\n\r\nbody\n.\nMAIL FROM:<e@x.test>\r\n.\r\n":
        c.send(bytes([b]))
    t.is_(s.code(c.reply()), "554 5.6.0", "LF.LF split into one-byte writes: refused")
    t.is_(s.code(c.cmd("NOOP")), "250 2.0.0", "the session goes on after a refused message")
    c.close()
    t.ok(s.queue_empty(), "nothing queued")

    c, r = open_data()
    c.send("Subject: bare CR\r\n\r\nline\ranother\r\n.\r\n")
    r = c.reply()
    t.ok(r.startswith("554 5.6.0") and "bare CR" in r, "bare CR refused, 554 5.6.0 saying so")
    c.close()
    c, r = open_data()
    t.is_(s.code(r), "354 go", "354")
    c.send("Subject: bare LF\r\n\r\nline\nanother\r\n.\r\n")
    r = c.reply()
    t.ok(r.startswith("554 5.6.0") and "bare LF" in r, "bare LF refused, 554 5.6.0 saying so")
    c.close()
    c, r = open_data()
    c.send("Subject: long\r\n\r\n" + "x" * 999 + "\r\n.\r\n")
    r = c.reply()
    t.ok(r.startswith("554 5.6.0") and "longer than" in r, "a 1001-octet line refused")
    c.close()
    c, r = open_data()
    c.send("Subject: long\r\n\r\n" + "x" * 998 + "\r\n.\r\n")
    t.is_(s.code(c.reply()), "250 2.0.0", "a 1000-octet line (CRLF included) accepted")
    c.close()
    q = s.queue()
    t.ok(len(q) == 1 and s.strip_received(q[0]["message"]) == b"Subject: long\n\n" + b"x" * 998 + b"\n",
         "and stored whole")
    t.clear_queue()
    # dot-stuffing edge cases that are legitimate
    c, r = open_data()
    c.send(".\r\n")
    t.is_(s.code(c.reply()), "250 2.0.0", "an empty message (the dot right after 354)")
    c.close()
    c, r = open_data()
    c.send("..\r\n...\r\n.x\r\n\r\n.\r\n")
    t.is_(s.code(c.reply()), "250 2.0.0", "stuffed dots")
    c.close()
    bodies = sorted(s.strip_received(m["message"]) for m in s.queue())
    t.is_(bodies, [b"", b".\n..\nx\n\n"], "empty message stored empty; dots unstuffed")
    t.clear_queue()

    # --- hang-up in the middle of DATA: nothing queued
    c, r = open_data()
    c.send("Subject: cut\r\n\r\nsome text\r\n")
    c.close()
    t.ok(empty_soon(), "disconnect in the middle of a small message: nothing at all in the queue")
    c, r = open_data()
    c.send(b"Subject: cut\r\n\r\n" + (b"y" * 70 + b"\r\n") * 10000)
    c.close()
    t.ok(empty_soon(), "disconnect in the middle of a 720 kB message: nothing at all in the queue")
    # past 1 MB qmail-queue is writing the message: abandoned, it must
    # remove its file at once, not leave it for qmail-send's 36-hour sweep
    c, r = open_data()
    c.send(b"Subject: cut big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 30000)
    c.close()
    # it drops the message (and logs that) once it has read all of it
    t.wait_until(lambda: "size=2160020 result=dropped:disconnected" in srv.logtext(), 60)
    t.ok(empty_soon(), "disconnect in the middle of a 2 MB message: nothing left in the queue")
    t.clear_queue()
    t.ok("result=dropped:disconnected" in srv.logtext(), "the drop is logged")

    # --- 8-bit body, unchanged
    body8 = bytes(range(128, 256)) + b"\r\n" + "Grüße, ça va? 日本語".encode("utf-8") + b"\r\n" + bytes(range(1, 9)) + b"\r\n"
    with smtplib.SMTP("127.0.0.1", P) as m:
        m.ehlo("client.test")
        m.sendmail("a@sender.test", ["u1@virt.test"], b"Subject: 8bit\r\n\r\n" + body8, mail_options=["BODY=8BITMIME"])
    q = s.queue()
    t.ok(len(q) == 1 and s.strip_received(q[0]["message"]) == b"Subject: 8bit\n\n" + body8.replace(b"\r\n", b"\n"),
         "8-bit body passes unchanged")
    t.clear_queue()

    # --- 20 MB under and over databytes
    big = (b"0123456789" * 7 + b"abcdefgh\r\n") * (20 * 1024 * 1024 // 80)
    s.control("databytes", "%d\n" % (21 * 1024 * 1024))
    with smtplib.SMTP("127.0.0.1", P, timeout=120) as m:
        m.ehlo("client.test")
        t.ok("SIZE %d" % (21 * 1024 * 1024) in m.ehlo_resp.decode(), "EHLO SIZE shows control/databytes")
        r = m.sendmail("a@sender.test", ["u1@virt.test"], b"Subject: big\r\n\r\n" + big)
    q = s.queue()
    want = b"Subject: big\n\n" + big.replace(b"\r\n", b"\n")
    t.ok(len(q) == 1 and hashlib.sha256(s.strip_received(q[0]["message"])).digest() == hashlib.sha256(want).digest(),
         "20 MB message under databytes stored byte for byte")
    t.clear_queue()
    s.control("databytes", "%d\n" % (10 * 1024 * 1024))
    try:
        with smtplib.SMTP("127.0.0.1", P, timeout=120) as m:
            m.sendmail("a@sender.test", ["u1@virt.test"], b"Subject: big\r\n\r\n" + big)
        r = None
    except smtplib.SMTPDataError as e:
        r = "%d %s" % (e.smtp_code, e.smtp_error.decode()[:5])
    except smtplib.SMTPSenderRefused as e:
        r = "sender %d" % e.smtp_code
    t.is_(r, "sender 552", "smtplib announces SIZE: refused at MAIL with 552")
    c, r = open_data()
    c.send(b"Subject: big\r\n\r\n" + big + b".\r\n")
    t.is_(s.code(c.reply()), "552 5.3.4", "20 MB over control/databytes: 552 5.3.4 after the dot")
    t.ok(empty_soon(), "and the 10 MB qmail-queue had written are gone: nothing in mess/, pid/, intd/")
    t.is_(s.code(c.cmd("RSET")), "250 2.0.0", "session goes on")
    c.close()
    time.sleep(0.2)
    t.ok(not t.queue_files("todo"), "nothing queued")
    # a bare LF after 1.5 MB, the rest of the 3 MB message still coming
    c, r = open_data()
    c.send(b"Subject: bare LF late\r\n\r\n" + (b"y" * 78 + b"\r\n") * 20000 + b"bare\n" +
           (b"y" * 78 + b"\r\n") * 20000 + b".\r\n")
    t.is_(s.code(c.reply()), "554 5.6.0", "bare LF after 1.5 MB: 554 5.6.0")
    t.ok(empty_soon(), "and nothing left in the queue")
    c.close()
    t.ok(srv.logtext().count("result=refused:bare-LF") >= 1 and
         "qmail-queue" not in srv.logtext(), "logged as before, qmail-queue says nothing")
    t.clear_queue()
    s.control("databytes", None)
    srvd = s.Server(env={"DATABYTES": "1000"})
    c, r = open_data(srvd.port)
    c.send(b"Subject: x\r\n\r\n" + b"z" * 2000 + b"\r\n.\r\n")
    t.is_(s.code(c.reply()), "552 5.3.4", "DATABYTES from the environment overrides")
    c.close()
    srvd.stop()

    # --- 50 clients at once.  On a loaded machine connections wait in
    # tcpserver's listen queue (SYNs retried after 1, 3, 7, 15, 31 s) and
    # qmail-queue's fsyncs queue up: each client gets 300 s per step and
    # all of them one deadline, and the time taken is reported
    results = []
    t50 = time.time()

    def client(i):
        try:
            with smtplib.SMTP("127.0.0.1", P, timeout=300) as m:
                m.ehlo("c%d.test" % i)
                m.sendmail("s%d@sender.test" % i, ["u%d@virt.test" % (i + 1)],
                           b"Subject: client %d\r\n\r\nhello %d\r\n" % (i, i))
            results.append(i)
        except Exception as e:
            t.diag("client %d after %.1fs: %s" % (i, time.time() - t50, e))
    th = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(50)]
    for x in th:
        x.start()
    for x in th:
        x.join(max(0, t50 + 400 - time.time()))
    t.diag("50 clients done in %.1fs" % (time.time() - t50))
    t.is_(len(results), 50, "50 concurrent clients all accepted")
    q = s.queue()
    pairs = sorted((m["sender"], tuple(m["recipients"])) for m in q)
    t.is_(pairs, sorted((b"s%d@sender.test" % i, (b"u%d@virt.test" % (i + 1),)) for i in range(50)),
          "50 messages with the right envelopes")
    t.ok(all(s.strip_received(m["message"]) == b"Subject: client %s\n\nhello %s\n" %
             (m["sender"][1:m["sender"].index(b"@")], m["sender"][1:m["sender"].index(b"@")]) for m in q),
         "each with its own body")
    t.clear_queue()

    # --- $QMAILQUEUE filter and the queue's exit codes
    fdir = t.tmpdir("smtpd-filter.")
    filt = os.path.join(fdir, "filter")
    t.write(filt, "#!/bin/sh\n{ echo 'X-Filtered: yes'; cat; } | exec %s\n" % os.path.join(t.BIN, "qmail-queue"), 0o755)
    srvf = s.Server(env={"QMAILQUEUE": filt})
    with smtplib.SMTP("127.0.0.1", srvf.port) as m:
        m.sendmail("a@sender.test", ["u1@virt.test"], b"Subject: filtered\r\n\r\nx\r\n")
    q = s.queue()
    t.ok(len(q) == 1 and s.body_of(q[0]["message"]).startswith(b"X-Filtered: yes\nReceived: from "),
         "$QMAILQUEUE filter sat in between")
    t.ok(len(q) == 1 and q[0]["raw"].endswith(b"Fa@sender.test\0Tu1@virt.test\0"), "envelope passed through the filter")
    t.clear_queue()
    srvf.stop()
    for ex, want in ((31, "554 5.3.0"), (71, "451 4.3.0"), (11, "554 5.3.0"), (53, "451 4.3.0")):
        f2 = os.path.join(fdir, "q%d" % ex)
        t.write(f2, "#!/bin/sh\ncat >/dev/null; cat <&1 >/dev/null; exit %d\n" % ex, 0o755)
        sv = s.Server(env={"QMAILQUEUE": f2})
        c, r = open_data(sv.port)
        c.send("Subject: x\r\n\r\ny\r\n.\r\n")
        t.is_(s.code(c.reply()), want, "queue program exit %d: %s" % (ex, want))
        c.close()
        sv.stop()
    # a filter that reads a few bytes, closes its input and exits 0 has
    # not queued the message: both sizes overflow the pipe's buffer, the
    # first held until the dot, the second streamed as it comes
    f3 = os.path.join(fdir, "stops")
    t.write(f3, "#!/bin/sh\ndd bs=10 count=1 >/dev/null 2>&1\nexec <&-\nexit 0\n", 0o755)
    sv = s.Server(env={"QMAILQUEUE": f3})
    for kb in (300, 1500):
        c, r = open_data(sv.port)
        c.send(b"Subject: cut by the filter\r\n\r\n" + (b"z" * 78 + b"\r\n") * (kb * 1024 // 80) + b".\r\n")
        t.is_(s.code(c.reply()), "451 4.3.0", "%d kB, the queue program stopped reading and exited 0: 451 4.3.0" % kb)
        t.is_(s.code(c.cmd("RSET")), "250 2.0.0", "%d kB: the session goes on" % kb)
        c.close()
    sv.stop()
    t.is_(sv.logtext().count("result=deferred:queue-stopped-reading:cut-copy-may-be-queued qp="), 2,
          "each logged as deferred, saying a cut copy may be queued")
    t.ok(s.queue_empty(), "the filter queued nothing")
    # a queue program that cannot be started: a message over the 1 MB
    # held in memory (started mid-DATA) and a small one (started at the
    # end) are both read to their end, answered 451, and the log says why
    sv = s.Server(env={"QMAILQUEUE": os.path.join(fdir, "missing")})
    c, r = open_data(sv.port)
    c.send(b"Subject: big\r\n\r\n" + (b"z" * 78 + b"\r\n") * (2 * 1024 * 1024 // 80) + b".\r\n")
    r = c.reply()
    t.is_(s.code(r), "451 4.3.0", "2 MB, queue program missing: 451 4.3.0 (%r)" % r)
    t.ok("queue" in r, "the reply says it is queue trouble: %r" % r.strip())
    t.is_([s.code(c.cmd(x)) for x in ("MAIL FROM:<a@sender.test>", "RCPT TO:<u1@virt.test>", "DATA")],
          ["250 2.1.0", "250 2.1.5", "354 go"], "the session goes on: a second transaction")
    c.send(b"Subject: small\r\n\r\n" + b"y" * 78 + b"\r\n.\r\n")
    t.is_(s.code(c.reply()), "451 4.3.0", "100 bytes, queue program missing: 451 4.3.0")
    t.is_(s.code(c.cmd("QUIT")), "221 2.0.0", "and QUIT is answered")
    c.close()
    sv.stop()
    log = sv.logtext()
    t.is_(log.count("result=deferred:queue-start-failed"), 2, "both messages logged as deferred, unable to start")
    t.is_(log.count("warning: unable to run %s: no such file or directory" % os.path.join(fdir, "missing")), 2,
          "each with the program and errno in the log")
    t.ok("out of memory" not in log, "no 'out of memory' in the log")
finally:
    srv.stop()
    s.restore()
t.ok(s.queue_empty(), "queue left empty")
t.done()
