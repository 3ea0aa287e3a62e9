#!/usr/bin/python3
"""qmail-send: local deliveries, RFC 3464 bounces, double bounces,
virtual domains, retries and queue lifetime, SIGHUP, SIGALRM, SIGTERM."""
import collections
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
s = qsend.Scene()
try:
    bob = s.home("bob", {"fail": "|echo no such thing here; exit 100\n",
                         "temp": "|echo try later please; exit 111\n",
                         "slow": "|sleep 2\n./Maildir/\n"})
    pm = s.home("pm")
    vdom = s.home("vdom")
    os.makedirs(os.path.join(vdom, "alice"))
    s.home("vdom/alice")
    t.write(os.path.join(vdom, ".qmail-alice"), "./alice/Maildir/\n")
    s.assign([s.user("bob", bob), s.user("bob", bob, prefix=True), s.user("pm", pm),
              s.user("virt.test", vdom, prefix=True)])
    t.control("virtualdomains", "virt.test:virt.test\n")
    t.control("doublebounceto", "pm@%s\n" % D)
    t.control("bouncefrom", "MAILER-DAEMON\n")
    s.start()

    # 1. three local recipients, one message each, content intact
    body = "From: bob@%s\nSubject: plain\n\nline one\n.leading dot\nlast\n" % D
    t.is_(s.inject("bob@" + D, ["bob@" + D, "pm@" + D, "alice@virt.test"], body), 0, "qmail-queue accepts")
    t.ok(s.wait(lambda: len(s.maildir(bob)) == 1 and len(s.maildir(pm)) == 1 and
                len(s.maildir(vdom, "alice/Maildir")) == 1), "delivered to bob, pm and a virtual mailbox")
    m = s.maildir(bob)[0] if s.maildir(bob) else None
    t.ok(m is not None and m.get_payload() == "line one\n.leading dot\nlast\n", "body intact")
    t.ok(m is not None and m["Subject"] == "plain", "header intact")
    va = s.maildir(vdom, "alice/Maildir")
    t.ok(va and va[0]["Delivered-To"] == "virt.test-alice@virt.test",
         "virtualdomains prefix rewriting reaches qmail-local")
    t.ok(s.wait(s.queue_empty), "queue empty once delivered")
    log = s.log()
    t.ok(re.search(r"new msg \d+ from <bob@send\.test> size \d+ local 3 remote 0", log), "log: new msg")
    t.ok(re.search(r"starting delivery \d+: msg \d+ to local virt\.test-alice@virt\.test", log),
         "log: delivery start")
    t.ok(re.search(r"delivery \d+: success: bob@send\.test: ", log), "log: success")
    t.ok(re.search(r"end msg \d+", log), "log: end msg")

    # 1b. in through qmail-smtpd under a real tcpserver
    if os.path.exists(os.path.join(t.BIN, "qmail-smtpd")):
        import smtplib
        t.control("rcpthosts", D + "\nvirt.test\n")
        srv, port = t.tcpserver([os.path.join(t.BIN, "qmail-smtpd")], env={"_capture": "1"})
        c = smtplib.SMTP("127.0.0.1", port, timeout=20)
        c.sendmail("pm@" + D, ["bob@" + D, "alice@virt.test"],
                   "From: pm@%s\r\nSubject: via smtp\r\n\r\nover the wire\r\n" % D)
        c.quit()
        t.stop(srv)
        t.ok(s.wait(lambda: any(x["Subject"] == "via smtp" for x in s.maildir(bob)) and
                    any(x["Subject"] == "via smtp" for x in s.maildir(vdom, "alice/Maildir"))),
             "SMTP in, Maildirs out")
        got = [x for x in s.maildir(bob) if x["Subject"] == "via smtp"]
        t.is_(got[0].get_payload() if got else None, "over the wire\n", "body with LF line ends")
        t.ok(s.wait(s.queue_empty), "queue empty again")
    else:
        t.skip("qmail-smtpd is not built", 3)

    # 2. two permanent failures: one bounce listing both, RFC 3464
    nb = len(s.maildir(bob))
    s.inject("bob@" + D, ["bob-fail@" + D, "bob-nosuch@" + D, "pm@" + D],
             "From: bob@%s\nSubject: doomed\nMessage-ID: <doomed@x>\n\nbody\n" % D)
    t.ok(s.wait(lambda: len(s.maildir(bob)) == nb + 1 and s.queue_empty()), "one bounce comes back")
    bounces = [x for x in s.maildir(bob) if x["Subject"] == "failure notice"]
    t.is_(len(bounces), 1, "exactly one bounce for two failures")
    b = email.message_from_bytes(bounces[0].as_bytes(), policy=email.policy.default) if bounces else None
    t.ok(b is not None and b.get_content_type() == "multipart/report" and
         b.get_param("report-type") == "delivery-status", "multipart/report; report-type=delivery-status")
    t.is_(b and b["From"], "MAILER-DAEMON@" + D, "from bouncefrom@bouncehost")
    t.is_(b and bounces[0].get("Return-Path"), "<>", "bounce has the null sender")
    parts = list(b.iter_parts()) if b else []
    t.is_([p.get_content_type() for p in parts],
          ["text/plain", "message/delivery-status", "text/rfc822-headers"], "three parts")
    blocks = []
    if len(parts) == 3:
        # message/delivery-status: the per-message block, then one per recipient
        blocks = [dict(x.items()) for x in parts[1].get_payload()]
    t.ok(blocks and blocks[0].get("Reporting-MTA") == "dns; " + D, "Reporting-MTA")
    rc = {b2.get("Final-Recipient"): b2 for b2 in blocks[1:]}
    t.is_(sorted(rc), ["rfc822; bob-fail@" + D, "rfc822; bob-nosuch@" + D], "Final-Recipient for both, not for pm")
    t.ok(all(v.get("Action") == "failed" and re.match(r"5\.\d+\.\d+$", v.get("Status", "")) for v in rc.values()),
         "Action failed, Status 5.x.x")
    fr = rc.get("rfc822; bob-fail@" + D, {})
    t.ok("no such thing here" in fr.get("Diagnostic-Code", ""), "Diagnostic-Code carries qmail-local's reason")
    t.ok(len(parts) == 3 and "Subject: doomed" in parts[2].get_content() and
         "Message-ID: <doomed@x>" in parts[2].get_content(), "original headers included")
    t.ok(len(parts) == 3 and "body\n" not in parts[2].get_content(), "original body left out")
    t.ok(re.search(r"bounce msg \d+ to <bob@send\.test> qp \d+", s.log()), "log: bounce")

    # 2b. recipients no delivery can be tried for: empty, no domain, a dash
    nb = len(s.maildir(bob))
    s.inject("bob@" + D, ["", "x@", "y@-bad.test"], "Subject: odd\n\nx\n")
    t.ok(s.wait(lambda: len(s.maildir(bob)) == nb + 1 and s.queue_empty()), "odd recipients bounce")
    odd = [x for x in s.maildir(bob) if "Subject: odd" in x.as_string() and x["Subject"] == "failure notice"]
    t.is_(sorted(re.findall(r"Final-Recipient: rfc822; (.*)", odd[0].as_string())) if odd else None,
          ["", "x@", "y@-bad.test"], "each listed")

    # 3. a failure of null-sender mail: a double bounce to doublebounceto
    npm = len(s.maildir(pm))
    s.inject("", ["bob-fail@" + D], "Subject: a bounce itself\n\nx\n")
    t.ok(s.wait(lambda: len(s.maildir(pm)) == npm + 1 and s.queue_empty()), "double bounce to doublebounceto")
    db = [x for x in s.maildir(pm) if "double bounce" in (x["Subject"] or "")]
    t.ok(db and db[0].get("Return-Path") == "<#@[]>", "double bounce from #@[]")
    nb = len(s.maildir(bob))
    # 4. and a failed double bounce vanishes
    s.inject("#@[]", ["bob-fail@" + D], "Subject: a double bounce\n\nx\n")
    t.ok(s.wait(lambda: "discarding double bounce" in s.log() and s.queue_empty()), "failed double bounce discarded")
    t.ok(len(s.maildir(pm)) == npm + 1 and len(s.maildir(bob)) == nb, "nobody got mail for it")

    # 5. SIGHUP: control files read again (a new local domain)
    t.control("locals", D + "\nnew.test\n")
    s.signal(signal.SIGHUP)
    t.ok(s.wait(lambda: "control files read again" in s.log()), "SIGHUP noticed")
    s.inject("bob@" + D, ["bob@new.test"], "Subject: new domain\n\nx\n")
    t.ok(s.wait(lambda: any(x["Subject"] == "new domain" for x in s.maildir(bob))), "new local domain served")
    # a junk control file at SIGHUP: the old ones are kept, and the log names the file
    t.control("concurrencylocal", "abc\n")
    s.signal(signal.SIGHUP)
    t.ok(s.wait(lambda: "keeping the old control files: unable to read control/concurrencylocal" in s.log()),
         "junk in control/concurrencylocal at SIGHUP: the old files kept, the log names it")
    t.control("concurrencylocal", None)

    def reread():
        """SIGHUP, then wait until qmail-send has read the control files
        again: a message queued before would be scheduled with the old ones"""
        n = s.log().count("control files read again")
        s.signal(signal.SIGHUP)
        if not s.wait(lambda: s.log().count("control files read again") > n, 30):
            t.diag("qmail-send did not read the control files again within 30 s")

    # 6. SIGALRM: a deferred recipient is tried again at once
    t.control("retrylocal", "1000\n")
    reread()
    s.inject("bob@" + D, ["bob-temp@" + D], "Subject: later\n\nx\n")
    t.ok(s.wait(lambda: "try later please" in s.log()), "temporary failure deferred")
    t.write(os.path.join(bob, ".qmail-temp"), "./Maildir/\n")
    time.sleep(0.5)
    t.ok(not any(x["Subject"] == "later" for x in s.maildir(bob)), "not retried before its time")
    s.signal(signal.SIGALRM)
    t.ok(s.wait(lambda: any(x["Subject"] == "later" for x in s.maildir(bob)), 10), "SIGALRM: retried now")

    # 7. retries, then queuelifetime: a bounce with a 4.x.x status
    t.write(os.path.join(bob, ".qmail-temp"), "|echo 4.2.2 mailbox full; exit 111\n")
    t.control("retrylocal", "1\n")
    t.control("queuelifetime", "5\n")
    reread()
    t0 = time.time()
    nb = len(s.maildir(bob))
    s.inject("bob@" + D, ["bob-temp@" + D], "Subject: expires\n\nx\n")
    t.ok(s.wait(lambda: len(s.maildir(bob)) == nb + 1 and s.queue_empty(), 60), "bounced after queuelifetime")
    el = time.time() - t0
    # not before the lifetime (less the second the arrival time, a file's
    # mtime, is cut to); after it, at the next attempt (at 1, 4, 9, 16,
    # 25 s: 9 s here, later on a loaded machine, or at once when the one
    # at 4 s fails past 5 s)
    t.ok(4 <= el < 60, "gave up after the lifetime (%.1fs)" % el)
    tries = len(re.findall(r"deferral: bob-temp@send\.test: 4\.2\.2 mailbox full", s.log()))
    t.ok(tries >= 2, "retried on the schedule meanwhile (%d deferrals)" % tries)
    exp = [x for x in s.maildir(bob) if x["Subject"] == "failure notice" and "expires" in x.as_string()]
    st = re.search(r"Status: (\S+)", exp[0].as_string()) if exp else None
    t.is_(st and st.group(1), "4.2.2", "expired recipient's status from its last failure")
    t.control("queuelifetime", None)

    # 8. SIGTERM: the delivery in progress finishes, then exit 0
    s.inject("bob@" + D, ["bob-slow@" + D], "Subject: slow\n\nx\n")
    t.ok(s.wait(lambda: "to local bob-slow@" in s.log()), "slow delivery started")
    rc = s.stop()
    t.is_(rc, 0, "qmail-start exits 0 after SIGTERM")
    t.ok(any(x["Subject"] == "slow" for x in s.maildir(bob)), "the delivery in progress was finished")
    t.ok(re.search(r"success: bob-slow@", s.log()) and s.queue_empty(), "and recorded as done")

    # 8b. SIGTERM while messages are being finished and removed: each is
    # delivered once, also after the next start (the removals qmail-send
    # had asked qmail-clean for are done before it exits)
    s.start()
    newdir = os.path.join(pm, "Maildir", "new")
    base = len(os.listdir(newdir))
    threads, _ = s.inject_parallel("bob@" + D, "pm@" + D, "term %d", 400)
    s.wait(lambda: len(os.listdir(newdir)) >= base + 100, 120, 0.01)
    rc = s.stop()
    for th in threads:
        th.join()
    s.start()
    t.ok(s.wait(lambda: s.queue_empty() and len(os.listdir(newdir)) >= base + 400, 300, 0.2),
         "SIGTERM amid deliveries (exit %r), then a new start: all 400 delivered (%d)"
         % (rc, len(os.listdir(newdir)) - base))
    n = collections.Counter(x["Subject"] for x in s.maildir(pm) if (x["Subject"] or "").startswith("term "))
    t.is_(sum(c - 1 for c in n.values()), 0, "none of them twice")
    t.is_(s.stop(), 0, "qmail-start exits 0 after SIGTERM again")

    # 9. qmail-start killed: qmail-send and the helpers stop by themselves
    s.start()
    t.ok(s.wait(lambda: len(s.pids()) == 4), "started again")
    kids = s.pids()
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait()

    def alive(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split(")")[1].split()[0] != "Z"
        except OSError:
            return False
    t.ok(s.wait(lambda: not any(alive(p) for p in kids.values()), 15),
         "qmail-send and the helpers end when qmail-start is killed")
    t.ok("qmail-start has gone" in s.log(), "log: noticed")

    # 10. a logger program: every log line goes into it, found through $PATH
    lf = os.path.join(s.dir, "logger.out")
    s.start(["sh", "-c", "exec cat > " + lf])
    s.inject("bob@" + D, ["bob@" + D], "Subject: logged\n\nx\n")
    t.ok(s.wait(lambda: os.path.exists(lf) and "end msg" in open(lf).read()), "log lines reach the logger")
    t.is_(s.stop(), 0, "qmail-start with a logger exits 0")
    t.ok(re.search(r"new msg \d+ from <bob@send\.test>", open(lf).read()), "the logger saw the new message")
finally:
    s.finish()
t.done()
