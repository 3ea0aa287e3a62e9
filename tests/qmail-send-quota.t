#!/usr/bin/python3
"""A mailbox over its Maildir++ quota, through the whole queue: qmail-send
hands the message to qmail-local, which refuses it permanently (5.2.2),
and the sender gets a bounce at once; nothing stays queued and nothing is
lost.  After room is made the same message goes through."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

D = qsend.DOMAIN
s = qsend.Scene()
try:
    bob = s.home("bob")
    full = s.home("full")
    t.write(os.path.join(full, "Maildir", "maildirsize"), "6000S\n")
    s.assign([s.user("bob", bob), s.user("full", full)])
    t.control("bouncefrom", "MAILER-DAEMON\n")
    s.start()

    big = "From: bob@%s\nSubject: big %%d\n\n%s\n" % (D, "y" * 2500)
    t.is_(s.inject("bob@" + D, ["full@" + D], big % 1), 0, "first message queued")
    t.is_(s.inject("bob@" + D, ["full@" + D], big % 2), 0, "second message queued")
    t.ok(s.wait(lambda: len(s.maildir(full)) == 2 and s.queue_empty()), "two 2.5 kB messages fit 6000 bytes")
    t.is_(s.inject("bob@" + D, ["full@" + D], big % 3), 0, "third message queued")
    t.ok(s.wait(lambda: len(s.maildir(bob)) == 1 and s.queue_empty()), "the third bounced at once; queue empty")
    t.is_(len(s.maildir(full)), 2, "the full mailbox got nothing more")
    b = s.maildir(bob)[0] if s.maildir(bob) else None
    text = b.as_string() if b else ""
    t.ok("5.2.2" in text and "mailbox is full" in text, "the bounce says 5.2.2 mailbox full")
    t.ok("Subject: big 3" in text, "and carries the refused message")

    # make room the Maildir++ way and the mail fits again
    new = os.path.join(full, "Maildir", "new")
    victim = os.path.join(new, sorted(os.listdir(new))[0])
    size = os.path.getsize(victim)
    os.unlink(victim)
    with open(os.path.join(full, "Maildir", "maildirsize"), "a") as f:
        f.write("-%d -1\n" % size)
    t.is_(s.inject("bob@" + D, ["full@" + D], big % 4), 0, "fourth message queued")
    t.ok(s.wait(lambda: len(s.maildir(full)) == 2 and s.queue_empty()), "after a removal it is delivered")
    t.is_(len(s.maildir(bob)), 1, "no second bounce")
finally:
    s.finish()
t.done()
