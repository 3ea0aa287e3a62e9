#!/usr/bin/python3
"""qmail-smtpd: a client cannot hold a connection for ever.  A command
line must arrive whole within control/timeoutsmtpd, however slowly it is
dripped; commands that deliver nothing (control/smtpdmaxjunk) end the
session; control/timeoutsession ends it at the next command, or inside
DATA drops the message unqueued.  Short timeouts keep this quick."""
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import smtpdtest as s

t.need_home()
s.setup()
for f in ("timeoutsession", "smtpdmaxjunk"):
    s.control(f, None)
srv = s.Server()
P = srv.port


def drip(c, data, every):
    """Send data a byte at a time, one each `every` seconds, until the
    server says something; (time.time() when it did, what it said or
    None)."""
    for b in data:
        r, _, _ = select.select([c.s], [], [], every)
        if r:
            break
        try:
            c.send(bytes([b]))
        except OSError:
            break
    r, _, _ = select.select([c.s], [], [], 10)
    try:
        return time.time(), c.reply() if r else None
    except (EOFError, OSError):
        return time.time(), None


def pipeline(c, cmds):
    """Every command in one write; the reply codes as they come, until
    the server closes."""
    c.send("".join(x + "\r\n" for x in cmds))
    out = []
    try:
        for _ in cmds:
            out.append(s.code(c.reply()))
    except (EOFError, OSError):
        pass
    return out


try:
    # --- (a) a deadline per command line, not per read
    # The server's clock for the line starts after the connection is
    # made and before the greeting arrives: timed from before connecting
    # the 421 cannot come sooner than the setting, and from the greeting
    # not much later, however slowly this client runs.  The line lasts
    # 10 s, so a deadline set afresh by each byte never ends it.
    s.control("timeoutsmtpd", "2\n")
    t0 = time.time()
    c = s.Raw(P)
    tg = time.time()
    when, r = drip(c, b"NOOP dripped\r\n", 0.7)
    t.ok(r is not None and r.startswith("421 4.4.2 timeout"), "a line dripped a byte at a time: 421 4.4.2 (%r)" % r)
    t.ok(when - t0 >= 2 and when - tg < 5, "after control/timeoutsmtpd for the whole line (%.1f s after connecting,"
         " %.1f s after the greeting)" % (when - t0, when - tg))
    t.ok(c.closed(), "and the connection is closed")
    c.close()
    c = s.Raw(P)
    c.cmd("EHLO client.test")
    when, r = drip(c, b"AUTH LOGIN\r\n", 0.4)
    t.ok(r is not None and r.startswith("421 4.4.2"), "the same after EHLO, in any command (%r)" % r)
    c.close()
    # four pauses of 1 s, 4 s in all, each far within a 3 s timeout: a
    # timeout for the whole session would end it before the last command
    s.control("timeoutsmtpd", "3\n")
    c = s.Raw(P)
    t.is_(s.code(c.cmd("EHLO client.test")), "250 SIZE", "a client that sends whole lines")
    got = []
    for _ in range(3):
        time.sleep(1)
        got.append(s.code(c.cmd("NOOP")))
    t.is_(got, ["250 2.0.0"] * 3, "has the timeout again for each line")
    time.sleep(1)
    t.is_(s.code(c.cmd("QUIT")), "221 2.0.0", "and again")
    c.close()
    s.control("timeoutsmtpd", None)

    # --- (b) commands that deliver nothing: 100 by default
    c = s.Raw(P)
    got = pipeline(c, ["EHLO client.test"] + ["NOOP"] * 100 + ["QUIT"])
    t.is_(got[:101], ["250 SIZE"] + ["250 2.0.0"] * 100, "100 NOOPs answered")
    t.is_(got[101:], ["421 4.7.0"], "after the 100th, 421 4.7.0 and the end; no QUIT read")
    t.ok(c.closed(), "closed")
    c.close()
    s.control("smtpdmaxjunk", "4\n")
    for cmds, what in ((["RSET", "VRFY joe", "HELP", "NOOP"], "RSET, VRFY, HELP, NOOP"),
                       (["HELO a.test", "EHLO b.test", "HELO c.test", "EHLO d.test"], "HELO and EHLO again")):
        c = s.Raw(P)
        got = pipeline(c, ["EHLO client.test"] + cmds + ["QUIT"])
        t.ok(len(got) == 6 and got[5] == "421 4.7.0", "control/smtpdmaxjunk counts %s (%r)" % (what, got))
        c.close()
    s.control("smtpdmaxrcpt", "1\n")
    c = s.Raw(P)
    got = pipeline(c, ["EHLO client.test", "MAIL FROM:<a@b.test>", "RCPT TO:<u1@virt.test>"] +
                   ["RCPT TO:<u2@virt.test>"] * 4 + ["QUIT"])
    t.is_(got, ["250 SIZE", "250 2.1.0", "250 2.1.5", "452 4.5.3", "452 4.5.3", "452 4.5.3", "452 4.5.3",
                "421 4.7.0"], "RCPT refused for too many recipients counts")
    c.close()
    # a message taken starts the count again
    c = s.Raw(P)
    got = pipeline(c, ["EHLO client.test", "NOOP", "NOOP", "NOOP", "MAIL FROM:<a@b.test>", "RCPT TO:<u1@virt.test>",
                       "DATA"])
    got.append(s.code(c.cmd("Subject: x\r\n\r\nx\r\n.")))
    got += pipeline(c, ["NOOP", "NOOP", "NOOP", "QUIT"])
    t.is_(got, ["250 SIZE", "250 2.0.0", "250 2.0.0", "250 2.0.0", "250 2.1.0", "250 2.1.5", "354 go",
                "250 2.0.0", "250 2.0.0", "250 2.0.0", "250 2.0.0", "221 2.0.0"],
          "after a message is taken the client has smtpdmaxjunk again")
    c.close()
    t.clear_queue()
    s.control("smtpdmaxrcpt", None)
    s.control("smtpdmaxjunk", None)

    # --- (c) the session time limit
    # timed from before connecting: the session starts after that, so a
    # correct 421 never comes under 4 s; one at 2 s is timeoutsmtpd's
    s.control("timeoutsmtpd", "2\n")
    s.control("timeoutsession", "4\n")
    t0 = time.time()
    c = s.Raw(P)
    c.cmd("EHLO client.test")
    codes = []
    while time.time() - t0 < 20:
        try:
            r = c.cmd("NOOP")
        except (EOFError, OSError):
            break
        codes.append(s.code(r))
        if not r.startswith("250"):
            break
        time.sleep(0.5)
    took = time.time() - t0
    t.ok(codes and codes[-1] == "421 4.4.2" and all(x == "250 2.0.0" for x in codes[:-1]),
         "a busy client gets 421 4.4.2 at control/timeoutsession (%r)" % codes[-3:])
    t.ok(4 <= took < 10, "after the session time (%.1f s)" % took)
    t.ok(c.closed(), "and the connection is closed")
    c.close()
    c = s.Raw(P)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@b.test>")
    c.cmd("RCPT TO:<u1@virt.test>")
    t.is_(s.code(c.cmd("DATA")), "354 go", "DATA")
    t0 = time.time()
    closed = False
    c.send("Subject: slow\r\n\r\n")
    while time.time() - t0 < 20:
        r, _, _ = select.select([c.s], [], [], 0.5)
        if r:
            closed = True
            break
        try:
            c.send("line\r\n")
        except OSError:
            closed = True
            break
    t.ok(closed and time.time() - t0 < 10, "inside DATA the session ends at its time limit (%.1f s)" % (time.time() - t0))
    t.ok(c.closed(), "the connection is dropped")
    c.close()
    t.ok(s.queue_empty(), "and nothing is queued")
    s.control("timeoutsession", None)
    s.control("timeoutsmtpd", None)

    log = srv.logtext()
    t.ok("reason=too many junk commands" in log and "reason=session time limit" in log and
         "result=dropped:session-time-limit" in log, "log: why the sessions ended")
finally:
    srv.stop()
    s.restore()
t.ok(s.queue_empty(), "queue left empty")
t.done()
