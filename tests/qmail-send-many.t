#!/usr/bin/python3
"""qmail-send with a message to thousands of remote domains: grouping
recipients by domain costs no more than the recipients, whatever their
domains.  Every domain is routed to a port nobody listens on, so each
delivery is a quick deferral; qmail-send's own CPU time for the first
round is compared with a bound far below what a scan of every later
recipient per delivery costs."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

N = int(os.environ.get("MANY_N", "8000"))
CPU_MAX = 0.4	# seconds; a scan of every later recipient per delivery took 1.5


def cpu(pid):
    """user + system CPU seconds of pid"""
    with open("/proc/%d/stat" % pid) as f:
        st = f.read()
    fields = st[st.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


s = qsend.Scene()
try:
    port = t.free_port()	# nothing listens there
    t.control("smtproutes", ":[127.0.0.1]:%d\n" % port)
    t.control("concurrencyremote", "100\n")
    s.start()
    t.ok(s.wait(lambda: "qmail-send" in s.pids(), 20), "qmail-send runs")
    send = s.pids().get("qmail-send")

    # distinct domains, in an order that is not the domains' order
    rcpts = ["u%d@d%06d.example" % (i, (i * 7919) % N) for i in range(N)]
    rcpts += ["v1@d000001.example", "v2@D000001.EXAMPLE"]
    t.is_(s.inject("bob@" + qsend.DOMAIN, rcpts, "Subject: many\n\nhello\n"), 0, "accepted")
    t.ok(s.wait(lambda: s.log().count(": deferral: ") >= len(rcpts), 120, 0.2),
         "every recipient tried once and deferred")
    used = cpu(send) if send else 99
    log = s.log()
    t.is_(len(re.findall(r"to remote \S+ \(1 recipient\)", log)), N - 1,
          "one delivery per domain")
    t.ok(re.search(r"to remote d000001\.example \(3 recipients\)", log),
         "recipients at one domain, any case, travel together")
    t.ok(used < CPU_MAX, "qmail-send used %.2f s of CPU for %d deliveries (bound %.2f)"
         % (used, N, CPU_MAX))
finally:
    s.finish()
t.done()
