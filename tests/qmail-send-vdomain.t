#!/usr/bin/python3
"""qmail-send and a virtual domain that goes away while mail for it waits
in local/: when the delivery starts, the recipient's domain is neither in
control/locals nor in control/virtualdomains any more, so the recipient
waits as after a temporary failure ("this host no longer handles mail for
DOMAIN"): the domain added again, it is delivered; once the message is
older than control/queuelifetime, the sender gets a bounce (5.1.2).
Nothing is handed to qmail-lspawn, which would take root@DOMAIN for the
system's root (the alias user's Maildir) and other names for system
accounts."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend
import vmailtest as v

D = qsend.DOMAIN
VD = "gone.test"
s = qsend.Scene()
alias_new = os.path.join(t.HOME, "alias", "Maildir", "new")
vdir = os.path.join(t.HOME, "domains", VD)


def alias_mail():
    return set(n for n in os.listdir(alias_new) if not n.startswith("."))


before = alias_mail()

try:
    bob = s.home("bob")
    s.assign([s.user("bob", bob)])
    t.control("bouncefrom", "MAILER-DAEMON\n")
    rcpts = ["root@" + VD, "Dave@" + VD.upper()]

    def queue_and_delete(subject):
        """a message for rcpts, held by the sticky home, then the domain
        deleted and qmail-send told; the domain's users are made first"""
        t.is_(v.admin("domain", "add", VD, check=True)[0], 0, "domain add " + VD)
        for u in ("root", "dave"):
            t.is_(v.admin("user", "add", "%s@%s" % (u, VD), "--stdin", stdin="pw of %s\n" % u,
                          check=True)[0], 0, "user add %s@%s" % (u, VD))
        # a sticky home: qmail-local defers, so the recipients wait in local/
        os.chmod(vdir, os.stat(vdir).st_mode | 0o1000)
        n = s.log().count("control files read again")
        s.signal(signal.SIGHUP)
        t.ok(s.wait(lambda: s.log().count("control files read again") > n), "domain known to qmail-send")
        mark = len(s.log())
        t.is_(s.inject("bob@" + D, rcpts, "From: bob@%s\nSubject: %s\n\nx\n" % (D, subject)), 0,
              "queued for root@ and Dave@ the virtual domain")
        t.ok(s.wait(lambda: all("deferral: %s: " % r in s.log()[mark:] for r in rcpts) and
                    len(t.queue_files("local")) == 1),
             "both deferred (sticky home) and waiting in local/")
        os.chmod(vdir, os.stat(vdir).st_mode & ~0o1000)
        t.is_(v.admin("domain", "del", VD, "--force", check=True)[0], 0, "domain del --force")
        vdf = os.path.join(t.HOME, "control", "virtualdomains")
        t.ok(not os.path.exists(vdf) or VD not in open(vdf).read(), "the domain has left control/virtualdomains")
        n = s.log().count("control files read again")
        s.signal(signal.SIGHUP)
        t.ok(s.wait(lambda: s.log().count("control files read again") > n), "SIGHUP noticed")
        mark = len(s.log())
        s.signal(signal.SIGALRM)
        t.ok(s.wait(lambda: all(re.search(r"deferral without a delivery: %s: this host no longer handles "
                                          r"mail for %s \(#4\.1\.2\)" % (re.escape(r), re.escape(r.split("@")[1])),
                                          s.log()[mark:]) for r in rcpts)),
             "both wait: this host no longer handles mail for " + VD)
        return mark

    # 1. the domain comes back: the waiting mail is delivered to it
    s.start()
    mark = queue_and_delete("put right")
    t.ok(not re.search(r"to local (\S+-)?(root|Dave)@", s.log()[mark:]), "no local delivery started meanwhile")
    t.is_(len(s.maildir(bob)), 0, "no bounce yet")
    t.is_(v.admin("domain", "add", VD, check=True)[0], 0, "the domain added again")
    for u in ("root", "dave"):
        v.admin("user", "add", "%s@%s" % (u, VD), "--stdin", stdin="pw\n", check=True)
    s.signal(signal.SIGHUP)
    t.ok(s.wait(lambda: "control files read again" in s.log()[mark:]), "SIGHUP noticed")
    s.signal(signal.SIGALRM)
    got = lambda u: os.listdir(os.path.join(vdir, u, "Maildir", "new")) if os.path.isdir(vdir) else []
    t.ok(s.wait(lambda: len(got("root")) == 1 and len(got("dave")) == 1 and s.queue_empty()),
         "delivered to root@ and dave@ once the domain is back")
    t.is_(v.admin("domain", "del", VD, "--force", check=True)[0], 0, "domain del --force")

    # 2. it does not come back: a bounce once the message is older than
    # control/queuelifetime
    mark = queue_and_delete("to a domain")
    t.control("queuelifetime", "1\n")
    s.signal(signal.SIGHUP)
    t.ok(s.wait(lambda: "control files read again" in s.log()[mark:]), "queuelifetime 1 read")
    s.signal(signal.SIGALRM)
    t.ok(s.wait(lambda: len(s.maildir(bob)) == 1 and s.queue_empty()), "a bounce comes back; queue empty")

    log = s.log()[mark:]
    for r in rcpts:
        t.ok(re.search(r"failure without a delivery: %s: this host no longer handles mail for %s \(#5\.1\.2\)"
                       % (re.escape(r), re.escape(r.split("@")[1])), log),
             "log: %s failed without a delivery" % r)
    t.ok(not re.search(r"to local (\S+-)?(root|Dave)@", log), "no local delivery started after the domain went")
    b = s.maildir(bob)[0] if s.maildir(bob) else None
    text = b.as_string() if b else ""
    t.ok(b is not None and b["Subject"] == "failure notice", "bob got the bounce")
    fr = sorted(re.findall(r"Final-Recipient: rfc822; (\S+)", text))
    t.is_(fr, sorted(rcpts), "it lists both recipients")
    t.is_(re.findall(r"Status: (\S+)", text), ["5.1.2", "5.1.2"], "Status 5.1.2 for each")
    t.ok("this host no longer handles mail for " + VD in text, "the report says why")
    t.is_(sorted(alias_mail() - before), [], "nothing in alias/Maildir/new")
    t.ok(not os.path.exists(vdir), "no mailbox of the domain is left to land in")
    t.ok(not any(x["Subject"] == "to a domain" for x in s.maildir(bob)), "nor in the sender's")
finally:
    s.finish()
    t.control("queuelifetime", None)
    if os.path.isdir(vdir):
        os.chmod(vdir, os.stat(vdir).st_mode & ~0o1000)
    v.cleanup(VD)
    for n in alias_mail() - before:     # what a failure left there
        os.unlink(os.path.join(alias_new, n))
t.done()
