#!/usr/bin/python3
"""qmail-admin list make: a qmail-list list in a virtual domain, used end
to end through qmail-smtpd, qmail-send and qmail-local: a member
subscribes by mail and confirms, a post reaches the members, a held post
the owner accepts carries the list's own Delivered-To, and the list and
its command addresses pass the RCPT check."""
import email
import email.policy
import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend
import vmailtest as v

D = qsend.DOMAIN
VD = "lists.test"
s = qsend.Scene()
saved = {}
for f in ("control/rcpthosts", "users/recipients", "users/recipients.cdb", "users/admin.lock",
          "users/newu.lock"):
    p = os.path.join(t.HOME, f)
    saved[f] = open(p, "rb").read() if os.path.exists(p) else None


def box(home):
    return [email.message_from_bytes(m.as_bytes(), policy=email.policy.default) for m in s.maildir(home)]


def subj(home, pat):
    return [m for m in box(home) if re.search(pat, m["Subject"] or "")]


def smtp(frm, to, text):
    c = smtplib.SMTP("127.0.0.1", PORT, timeout=20)
    try:
        return c.sendmail(frm, [to], text)
    finally:
        c.quit()


try:
    ann = s.home("ann")
    bob = s.home("bob")
    s.assign([s.user("ann", ann), s.user("bob", bob)])
    rc, out, err = v.admin("domain", "add", VD, check=True)
    t.is_(rc, 0, "qmail-admin domain add")
    with open(os.path.join(t.HOME, "control", "rcpthosts"), "a") as f:
        f.write(D + "\n")
    rc, out, err = v.admin("list", "make", "team@" + VD, "ann@" + D, check=True)
    t.is_(rc, 0, "qmail-admin list make")
    ldir = os.path.join(t.HOME, "domains", VD, ".lists", "team")
    with open(os.path.join(t.HOME, "domains", VD, ".qmail-team")) as f:
        t.is_(f.read(), "|%s/bin/qmail-list deliver %s\n" % (t.HOME, ldir), ".qmail-team in the domain")
    with open(os.path.join(ldir, "owner")) as f:
        t.is_(f.read(), "ann@%s\n" % D, "owner as given")
    rc, out, err = v.admin("list", "make", "team@" + VD)
    t.ok(rc == 100 and "exists already" in err, "a second make is refused")
    rc, out, err = v.admin("list", "make", "Bad Name@" + VD)
    t.is_(rc, 100, "a bad list name is refused")
    s.start()
    # qmail-send's VERP is what the list relies on: without it, nothing to test
    s.inject("probe-@%s-@[]" % D, ["ann@" + D], "Subject: verp probe\n\nx\n")
    s.wait(lambda: box(ann) and s.queue_empty())
    if [m.get("Return-Path") for m in box(ann)] != ["<probe-ann=%s@%s>" % (D, D)]:
        t.skip("this qmail-send does not rewrite VERP senders (-@[])", 10)
        raise SystemExit
    proc, PORT = t.tcpserver([os.path.join(t.BIN, "qmail-smtpd")])

    smtp("bob@" + D, "team-subscribe@" + VD, "From: bob@%s\nSubject: join\n\nplease\n" % D)
    t.ok(s.wait(lambda: subj(bob, "confirm subscription")), "confirmation request through the domain")
    c = subj(bob, "confirm subscription")
    to = c[0]["Reply-To"] if c else "nothing@" + VD
    t.ok(re.match(r"team-sc\.\d+\.[0-9a-f]{32}-bob=send\.test@lists\.test$", to), "its address: " + to)
    smtp("bob@" + D, to, "From: bob@%s\nSubject: yes\n\nyes\n" % D)
    t.ok(s.wait(lambda: subj(bob, "welcome")), "subscribed")
    smtp("bob@" + D, "team@" + VD, "From: bob@%s\nSubject: hi all\n\nhi\n" % D)
    t.ok(s.wait(lambda: subj(bob, r"\[team\] hi all")), "the post comes back to the member")
    p = subj(bob, r"\[team\] hi all")
    t.is_(p and p[0]["Return-Path"], "<team-return-bob=send.test@lists.test>", "with a VERP sender")
    t.is_(p and p[0]["List-Id"], "<team.lists.test>", "and List-Id")
    # a post the owner accepts carries the list's own Delivered-To, in the
    # form qmail-local checks for loops (with the domain's prefix), and not
    # the accept address it came through
    with open(os.path.join(ldir, "moderated"), "w") as f:
        f.write("1\n")
    smtp("bob@" + D, "team@" + VD, "From: bob@%s\nSubject: held one\n\nwait\n" % D)
    t.ok(s.wait(lambda: subj(ann, "moderate post")), "held: the owner is asked")
    m = subj(ann, "moderate post")
    acc = re.search(r"(team-accept\.\d+\.[0-9a-f]{32}@lists\.test)", m[0].get_content() if m else "")
    smtp("ann@" + D, acc.group(1) if acc else "team@" + VD, "From: ann@%s\nSubject: ok\n\nok\n" % D)
    t.ok(s.wait(lambda: subj(bob, r"\[team\] held one")), "accepted: the member gets it")
    p = subj(bob, r"\[team\] held one")
    dts = (p[0].get_all("Delivered-To") if p else None) or []
    t.ok("lists.test-team@lists.test" in dts and not any("accept" in d for d in dts),
         "Delivered-To: the list as qmail-local sees it: %r" % dts)
    t.ok(s.wait(s.queue_empty), "queue empty")
except SystemExit:
    pass
finally:
    s.stop()
    v.admin("domain", "del", VD, "--force")
    s.finish()
    for f, data in saved.items():
        p = os.path.join(t.HOME, f)
        if data is None:
            if os.path.exists(p):
                os.unlink(p)
        else:
            with open(p, "wb") as fh:
                fh.write(data)
t.done()
