#!/usr/bin/python3
"""Mailing lists end to end: qmail-smtpd under tcpserver, qmail-queue,
qmail-send with VERP, qmail-local and qmail-list; every message read back
from the Maildirs with python's email package.  A plain ~/.qmail-friends
list of 50 addresses; a qmail-list list: subscribe and confirm, posts with
List-* headers and VERP senders, unsubscribe, forged and misdirected
confirmations, used confirmations replayed, moderation (and the
Delivered-To of an accepted post), bounces counted, probed and removed,
mail with a sender to bounce and probe addresses, a used probe code, a
list that forwards to itself, over-size posts, garbage commands, no
sender, auto-replies and a second List-Id sent to the list, a folded
subject, a sender whose name only starts like the list's, the archive
and get.N of a long post, the owner's command line (thousands of
addresses added or removed with one write of the subscribers file, a
full list), and, as root, make, add, remove and show on a list another
user owns: every file stays that user's, and a post delivered as that
user reaches the subscribers root added."""
import email
import email.policy
import hashlib
import hmac
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

D = qsend.DOMAIN
LOGIN = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
LIST = "%s-team@%s" % (LOGIN, D)
LP = "%s-team" % LOGIN

s = qsend.Scene()
saved_rcpthosts = None
rh = os.path.join(t.HOME, "control", "rcpthosts")
newu_lock = os.path.join(t.HOME, "users", "newu.lock")
had_lock = os.path.exists(newu_lock)
if os.path.exists(rh):
    with open(rh, "rb") as f:
        saved_rcpthosts = f.read()


def parsed(m):
    return email.message_from_bytes(m.as_bytes(), policy=email.policy.default)


def box(home, sub="Maildir"):
    return [parsed(m) for m in s.maildir(home, sub)]


def with_subject(home, pat):
    return [m for m in box(home) if re.search(pat, m["Subject"] or "")]


def body(m):
    p = m.get_body(("plain",)) if m.is_multipart() else m
    return p.get_content() if p is not None else ""


def smtp(frm, to, text, port=None):
    c = smtplib.SMTP("127.0.0.1", port or PORT, timeout=20)
    try:
        c.sendmail(frm, to if isinstance(to, list) else [to], text)
    finally:
        c.quit()


def msg(frm, to, subject, text="hello\n", extra=""):
    return ("From: %s\nTo: %s\nSubject: %s\nMessage-ID: <%s.%f@x>\n%s\n%s"
            % (frm, to, subject, subject.replace(" ", "."), time.time(), extra, text))


def probe_addr(ldir, addr, when):
    """The probe address qmail-list would write for addr at time when: the
    cookie is HMAC-SHA256 with the list's secret, as qmail-list(1) says."""
    with open(os.path.join(ldir, "secret")) as f:
        key = f.readline().strip().encode()
    mac = hmac.new(key, ("probe\n%d\n%s" % (when, addr)).lower().encode(), hashlib.sha256).hexdigest()
    local, dom = addr.rsplit("@", 1)
    return "%s-probe.%d.%s-%s=%s@%s" % (LP, when, mac[:32], local, dom, D)


try:
    owner = s.home(LOGIN)
    users = {n: s.home(n) for n in ("a1", "a2", "a3", "out", "m")}
    bad = s.home("bad", {"": "|echo mailbox disabled; exit 100\n"})
    t.write(os.path.join(users["m"], ".qmail-default"), "./Maildir/\n")
    s.assign([s.user(LOGIN, owner), s.user(LOGIN, owner, prefix=True)] +
             [s.user(n, h) for n, h in users.items()] + [s.user("m", users["m"], prefix=True),
                                                         s.user("bad", bad)])
    t.write(rh, D + "\n")
    t.control("retrylocal", "1\n")
    t.control("concurrencyremote", "1\n")
    s.start()
    # qmail-send's VERP is what the list relies on: without it, nothing to test
    s.inject("probe-@%s-@[]" % D, ["a1@" + D], "Subject: verp probe\n\nx\n")
    s.wait(lambda: box(users["a1"]) and s.queue_empty())
    if [m.get("Return-Path") for m in box(users["a1"])] != ["<probe-a1=%s@%s>" % (D, D)]:
        t.skip_all("this qmail-send does not rewrite VERP senders (-@[])")
    proc, PORT = t.tcpserver([os.path.join(t.BIN, "qmail-smtpd")])
    A = {n: "%s@%s" % (n, D) for n in users}

    # 1. a plain list: ~/.qmail-friends with 50 addresses, through SMTP
    t.write(os.path.join(owner, ".qmail-friends"), "".join("&m-f%d@%s\n" % (i, D) for i in range(1, 51)))
    smtp(A["a1"], "%s-friends@%s" % (LOGIN, D), msg(A["a1"], "friends", "plain list"))
    t.ok(s.wait(lambda: len(with_subject(users["m"], "plain list")) == 50, 30), "plain list: 50 copies")
    dts = sorted(m["Delivered-To"] for m in with_subject(users["m"], "plain list"))
    t.is_(dts, sorted("m-f%d@%s" % (i, D) for i in range(1, 51)), "one to each of the 50 addresses")
    t.ok(all(m.get_all("Delivered-To") and "%s-friends@%s" % (LOGIN, D) in m.get_all("Delivered-To")
             for m in with_subject(users["m"], "plain list")), "each passed through the list address")

    # 2. qmail-list make
    ldir = os.path.join(s.dir, "team.list")
    # the owner reads list mail at LOGIN-mod (mail for root goes nowhere)
    t.write(os.path.join(owner, ".qmail-mod"), "./Maildir/\n")
    OWNER = "%s-mod@%s" % (LOGIN, D)
    r = subprocess.run([os.path.join(t.BIN, "qmail-list"), "make", "-o", OWNER, ldir, LIST],
                       env=dict(os.environ, HOME=owner), capture_output=True, text=True)
    t.is_(r.returncode, 0, "qmail-list make exits 0 " + r.stderr)
    with open(os.path.join(owner, ".qmail-team")) as f:
        line = f.read()
    t.is_(line, "|%s/bin/qmail-list deliver %s\n" % (t.HOME, ldir), ".qmail-team hands mail to qmail-list")
    t.ok(os.path.exists(os.path.join(owner, ".qmail-team-default")), ".qmail-team-default too")
    t.ok(all(os.path.exists(os.path.join(ldir, f)) for f in
             ("address", "owner", "subscribers", "moderators", "subonly", "moderated", "prefix",
              "archive", "maxbytes", "bouncelimit", "secret", "Maildir/new")), "settings, one per file")
    r2 = subprocess.run([os.path.join(t.BIN, "qmail-list"), "make", ldir, LIST],
                        env=dict(os.environ, HOME=owner), capture_output=True, text=True)
    t.ok(r2.returncode == 100 and "already exists" in r2.stderr, "make refuses to overwrite")
    # a list directory whose parents are missing: they are made, as mkdir -p makes them
    mhome = os.path.join(s.dir, "makehome")
    os.mkdir(mhome)
    deep = os.path.join(s.dir, "new", "lists", "deep")
    r3 = subprocess.run([os.path.join(t.BIN, "qmail-list"), "make", "-h", mhome, deep, "%s-deep@%s" % (LOGIN, D)],
                        capture_output=True, text=True)
    t.ok(r3.returncode == 0 and os.path.isfile(os.path.join(deep, "secret")) and
         all(os.stat(p).st_mode & 0o777 == 0o700 and os.stat(p).st_uid == os.getuid()
             for p in (os.path.join(s.dir, "new"), os.path.join(s.dir, "new", "lists"))),
         "make creates the missing parent directories, mode 700, the caller's (%d %s)"
         % (r3.returncode, r3.stderr.strip()))
    t.write(os.path.join(s.dir, "afile"), "not a directory\n")
    r4 = subprocess.run([os.path.join(t.BIN, "qmail-list"), "make", "-h", mhome,
                         os.path.join(s.dir, "afile", "x"), "%s-x@%s" % (LOGIN, D)],
                        capture_output=True, text=True)
    t.ok(r4.returncode == 111 and "unable to create" in r4.stderr,
         "a directory that cannot be made: 111, not 100 (%d %s)" % (r4.returncode, r4.stderr.strip()))

    # 2b. the owner adds and removes thousands in one run: the subscribers
    # file is written once per run, not once per address
    def owner_run(verb, addrs):
        """qmail-list verb on the deep list under strace: exit code, the
        warnings, and how many renames and fsyncs it made"""
        log = os.path.join(s.dir, "strace.%s" % verb)
        r = subprocess.run(["strace", "-qq", "-o", log, "-e", "signal=none", "-e",
                            "trace=rename,renameat,renameat2,fsync,fdatasync",
                            os.path.join(t.BIN, "qmail-list"), verb, deep] + addrs,
                           capture_output=True, text=True)
        calls = open(log).read().splitlines()
        return (r.returncode, r.stderr.splitlines(),
                sum(1 for c in calls if c.startswith("rename")),
                sum(1 for c in calls if c.startswith(("fsync", "fdatasync"))))

    def subscribers():
        with open(os.path.join(deep, "subscribers")) as f:
            return f.read()

    if shutil.which("strace"):
        many = ["u%d@far%d.test" % (i, i % 7) for i in range(5000)]
        subprocess.run([os.path.join(t.BIN, "qmail-list"), "add", deep, "old@far.test"], check=True)
        rc, err, renames, fsyncs = owner_run(
            "add", many[:2500] + ["U7@FAR0.TEST", "not an address", "OLD@far.test"] + many[2500:])
        t.is_((rc, renames, fsyncs), (100, 1, 1),
              "add of 5000 addresses: exit 100 for the bad one, the file written once")
        t.is_(err, ["qmail-list: warning: already subscribed: U7@FAR0.TEST",
                    "qmail-list: warning: not a usable address, skipped: not an address",
                    "qmail-list: warning: already subscribed: OLD@far.test"],
              "each address skipped is reported, in order")
        t.is_(subscribers(), "".join(a + "\n" for a in ["old@far.test"] + many),
              "the subscribers, in the order added")
        gone = many[::2]
        rc, err, renames, fsyncs = owner_run("remove", ["nobody@far.test"] + gone + [gone[0].upper()])
        t.is_((rc, renames, fsyncs), (0, 1, 1), "remove of 2500 addresses: the file written once")
        t.is_(err, ["qmail-list: warning: not subscribed: nobody@far.test",
                    "qmail-list: warning: not subscribed: " + gone[0].upper()],
              "addresses not in the list are reported")
        t.is_(subscribers(), "".join(a + "\n" for a in ["old@far.test"] + many[1::2]),
              "the others are left, in their order")
        # a list one short of full takes one more, then stops
        full = ["f%d@far.test" % i for i in range(99999)]
        t.write(os.path.join(deep, "subscribers"), "".join(a + "\n" for a in full))
        rc, err, renames, fsyncs = owner_run("add", ["new1@far.test", "f5@far.test", "new2@far.test",
                                                     "new3@far.test"])
        t.is_((rc, renames), (100, 1), "a full list: exit 100, what fitted written once")
        t.ok(err[-1].endswith("fatal: the list is full: %s-deep@%s" % (LOGIN, D)) and len(err) == 2,
             "the list is full, after the address already in: " + " | ".join(err))
        t.is_(subscribers(), "".join(a + "\n" for a in full + ["new1@far.test"]),
              "the address before the limit is in, those after it not")
    else:
        t.skip("no strace", 8)

    # 3. three addresses subscribe and confirm
    confirm_addr = {}
    for n in ("a1", "a2", "a3"):
        smtp(A[n], "%s-subscribe@%s" % (LP, D), msg(A[n], "sub", "please"))
    t.ok(s.wait(lambda: all(with_subject(users[n], "confirm subscription") for n in ("a1", "a2", "a3"))),
         "each gets a confirmation request")
    for n in ("a1", "a2", "a3"):
        c = with_subject(users[n], "confirm subscription")
        confirm_addr[n] = c[0]["Reply-To"] if c else ""
    t.ok(all(re.match(r"%s-sc\.\d+\.[0-9a-f]{32}-%s=%s@%s$" % (re.escape(LP), n, re.escape(D), re.escape(D)),
                      confirm_addr[n]) for n in confirm_addr), "confirmation address carries a cookie")
    with open(os.path.join(ldir, "subscribers")) as f:
        t.is_(f.read(), "", "nobody subscribed before confirming")
    # a confirmation from the wrong address is refused
    smtp(A["a2"], confirm_addr["a3"], msg(A["a2"], "x", "re: confirm"))
    t.ok(s.wait(lambda: with_subject(users["a2"], "confirmation refused")), "confirmation from the wrong address refused")
    refused = with_subject(users["a2"], "confirmation refused")
    t.ok(refused and "must come from the address being confirmed" in body(refused[0]), "and says why")
    for n in ("a1", "a2", "a3"):
        smtp(A[n], confirm_addr[n], msg(A[n], "x", "re: confirm"))
    t.ok(s.wait(lambda: all(with_subject(users[n], "welcome") for n in ("a1", "a2", "a3"))), "welcome after confirming")
    with open(os.path.join(ldir, "subscribers")) as f:
        t.is_(sorted(f.read().split()), sorted(A[n] for n in ("a1", "a2", "a3")), "three subscribers")

    # 4. a post reaches all three with the list's headers and VERP senders
    smtp(A["a1"], LIST, msg(A["a1"], LIST, "first post", "the body\n"))
    t.ok(s.wait(lambda: all(with_subject(users[n], "first post") for n in ("a1", "a2", "a3"))), "post reaches all three")
    for n in ("a1", "a2", "a3"):
        p = with_subject(users[n], "first post")
        p = p[0] if p else {}
        t.is_(p.get("Return-Path"), "<%s-return-%s=%s@%s>" % (LP, n, D, D), "VERP sender for " + n)
    p = with_subject(users["a2"], "first post")[0]
    t.is_(p["List-Id"], "<%s.%s>" % (LP, D), "List-Id (RFC 2919)")
    t.is_(p["List-Post"], "<mailto:%s>" % LIST, "List-Post")
    t.is_(p["List-Help"], "<mailto:%s-help@%s>" % (LP, D), "List-Help")
    t.is_(p["List-Subscribe"], "<mailto:%s-subscribe@%s>" % (LP, D), "List-Subscribe")
    t.is_(p["List-Unsubscribe"], "<mailto:%s-unsubscribe@%s>" % (LP, D), "List-Unsubscribe")
    t.is_(p["Precedence"], "list", "Precedence: list")
    t.ok(LIST in (p.get_all("Delivered-To") or []), "Delivered-To: the list")
    t.is_(p["Subject"], "[team] first post", "subject prefix")
    t.is_(body(p), "the body\n", "body intact")
    t.ok(s.wait(s.queue_empty), "queue empty")

    # 4b. remote subscribers: one delivery each, each with its own sender
    rec = t.tmpdir("list-remote.")
    _p2, PORT2 = t.tcpserver([os.path.join(t.BIN, "qmail-smtpd")],
                             env={"RELAYCLIENT": "", "QMAILQUEUE": os.path.join(t.SRC, "tests", "qq-record"),
                                  "QQ_RECORD": rec})
    t.control("smtproutes", "far.test:[127.0.0.1]:%d\n" % PORT2)
    s.signal(signal.SIGHUP)
    subprocess.run([os.path.join(t.BIN, "qmail-list"), "add", ldir, "r1@far.test", "r2@far.test"], check=False)
    smtp(A["a2"], LIST, msg(A["a2"], LIST, "far away"))
    t.ok(s.wait(lambda: len([f for f in os.listdir(rec) if f.endswith(".env")]) == 2 and s.queue_empty()),
         "two remote copies")
    envs = []
    for f in sorted(os.listdir(rec)):
        if f.endswith(".env"):
            with open(os.path.join(rec, f), "rb") as fh:
                envs.append(fh.read())
    t.is_(sorted(envs), [("F%s-return-r%d=far.test@%s\0Tr%d@far.test\0\0" % (LP, i, D, i)).encode()
                         for i in (1, 2)], "VERP through qmail-remote: one recipient and its own sender each")
    subprocess.run([os.path.join(t.BIN, "qmail-list"), "remove", ldir, "r1@far.test", "r2@far.test"], check=False)

    # 5. one unsubscribes
    smtp(A["a3"], "%s-unsubscribe@%s" % (LP, D), msg(A["a3"], "x", "bye"))
    t.ok(s.wait(lambda: with_subject(users["a3"], "confirm unsubscription")), "unsubscribe confirmation request")
    uc = with_subject(users["a3"], "confirm unsubscription")[0]["Reply-To"]
    smtp(A["a3"], uc, msg(A["a3"], "x", "re: bye"))
    t.ok(s.wait(lambda: with_subject(users["a3"], "goodbye")), "goodbye")
    with open(os.path.join(ldir, "subscribers")) as f:
        t.is_(sorted(f.read().split()), [A["a1"], A["a2"]], "a3 left")

    # 6. forged and expired confirmations are refused
    forged = re.sub(r"\.[0-9a-f]{32}-", "." + "0" * 32 + "-", confirm_addr["a3"])
    smtp(A["a3"], forged, msg(A["a3"], "x", "forged"))
    old = re.sub(r"-sc\.\d+\.", "-sc.1000000000.", confirm_addr["a3"])
    smtp(A["a3"], old, msg(A["a3"], "x", "old"))
    t.ok(s.wait(lambda: len(with_subject(users["a3"], "confirmation refused")) == 2), "forged confirmations refused")
    why = " ".join(body(m) for m in with_subject(users["a3"], "confirmation refused"))
    t.ok("not valid" in why, "a forged cookie: not valid")
    with open(os.path.join(ldir, "subscribers")) as f:
        t.ok(A["a3"] not in f.read(), "and a3 stays out")

    # 6b. a used confirmation cannot be used again: a3 subscribed with it,
    # then left; the old subscribe address must not bring a3 back
    smtp(A["a3"], confirm_addr["a3"], msg(A["a3"], "x", "replay"))
    t.ok(s.wait(lambda: len(with_subject(users["a3"], "confirmation refused")) == 3), "a replayed confirmation is refused")
    why = [body(m) for m in with_subject(users["a3"], "confirmation refused") if "used already" in body(m)]
    t.ok(why, "because it has been used already")
    t.is_(len(with_subject(users["a3"], "welcome")), 1, "no second welcome")
    with open(os.path.join(ldir, "subscribers")) as f:
        t.ok(A["a3"] not in f.read(), "a3 stays out after the replay")
    uf = os.path.join(ldir, "usedcookies")
    used = open(uf).read() if os.path.exists(uf) else ""
    t.ok(re.match(r"(\d+ [0-9a-f]{32}\n){4}$", used), "usedcookies: a line per used code (3 sc, 1 uc)")
    # a fresh request still works, and its code is a new one: a request in
    # the second of the first would get the same code, so wait for the next
    first = int(re.search(r"-sc\.(\d+)\.", confirm_addr["a3"]).group(1))
    while int(time.time()) <= first:
        time.sleep(0.1)
    smtp(A["a3"], "%s-subscribe@%s" % (LP, D), msg(A["a3"], "sub", "again"))
    t.ok(s.wait(lambda: len(with_subject(users["a3"], "confirm subscription")) == 2), "a new confirmation request")
    fresh = [m["Reply-To"] for m in with_subject(users["a3"], "confirm subscription")
             if m["Reply-To"] != confirm_addr["a3"]]
    smtp(A["a3"], fresh[0] if fresh else LIST, msg(A["a3"], "x", "re: again"))
    t.ok(s.wait(lambda: len(with_subject(users["a3"], "welcome")) == 2), "the fresh code subscribes")
    with open(os.path.join(ldir, "subscribers")) as f:
        t.ok(A["a3"] in f.read().split(), "a3 is back")
    subprocess.run([os.path.join(t.BIN, "qmail-list"), "remove", ldir, A["a3"]], check=False)

    # 7. a non-subscriber's post is held for moderation, then released
    smtp(A["out"], LIST, msg(A["out"], LIST, "outside view"))
    t.ok(s.wait(lambda: with_subject(owner, "moderate post")), "the owner (moderator) is asked")
    t.ok(s.wait(lambda: with_subject(users["out"], "awaits moderation")), "the poster is told it waits")
    mod = body(with_subject(owner, "moderate post")[0])
    acc = re.search(r"(%s-accept\.\d+\.[0-9a-f]{32}@\S+)" % re.escape(LP), mod)
    rej = re.search(r"(%s-reject\.\d+\.[0-9a-f]{32}@\S+)" % re.escape(LP), mod)
    t.ok(acc and rej, "accept and reject addresses")
    time.sleep(0.3)
    t.ok(not with_subject(users["a1"], "outside view"), "not sent before approval")
    smtp(A["out"], re.sub(r"\.[0-9a-f]{32}@", "." + "1" * 32 + "@", acc.group(1)), msg(A["out"], "x", "self-approve"))
    t.ok(s.wait(lambda: with_subject(users["out"], "moderation refused")), "a forged accept is refused")
    smtp(OWNER, acc.group(1), msg(OWNER, "x", "ok"))
    t.ok(s.wait(lambda: with_subject(users["a1"], "outside view") and with_subject(users["a2"], "outside view")),
         "released to the subscribers")
    t.is_(with_subject(users["a1"], "outside view")[0]["Return-Path"],
          "<%s-return-a1=%s@%s>" % (LP, D, D), "with VERP too")
    dts = with_subject(users["a1"], "outside view")[0].get_all("Delivered-To") or []
    t.ok(LIST in dts, "an accepted post carries the list's Delivered-To: " + repr(dts))
    t.ok(not any("accept" in d for d in dts), "and not the moderator's accept address")
    t.is_(os.listdir(os.path.join(ldir, "held")), [], "nothing left held")
    # and a rejected one
    smtp(A["out"], LIST, msg(A["out"], LIST, "spam spam"))
    t.ok(s.wait(lambda: len(with_subject(owner, "moderate post")) == 2), "second post held")
    mod2 = [body(m) for m in with_subject(owner, "moderate post") if "spam spam" in body(m)]
    rej = re.search(r"(%s-reject\.\d+\.[0-9a-f]{32}@\S+)" % re.escape(LP), mod2[0] if mod2 else "")
    smtp(OWNER, rej.group(1) if rej else LIST, msg(OWNER, "x", "no"))
    t.ok(s.wait(lambda: with_subject(users["out"], "rejected")), "rejected: the poster is told")
    time.sleep(0.3)
    t.ok(not with_subject(users["a1"], "spam spam"), "and nobody got it")

    # 8. a subscriber whose mail bounces is counted, probed and removed
    r = subprocess.run([os.path.join(t.BIN, "qmail-list"), "add", ldir, "bad@" + D], capture_output=True, text=True)
    t.is_(r.returncode, 0, "owner adds an address by command line")
    for i in range(3):
        smtp(A["a1"], LIST, msg(A["a1"], LIST, "bouncy %d" % i))
        t.ok(s.wait(lambda: with_subject(users["a2"], "bouncy %d" % i) and s.queue_empty()), "post %d delivered" % i)
    bfile = os.path.join(ldir, "bounce", ("bad@" + D).encode().hex())
    t.ok(s.wait(lambda: "probe sent to bad@" in s.log()), "a probe after 3 bounces")
    t.ok(s.wait(lambda: "removed bad@%s after repeated bounces" % D in s.log()), "the probe bounced: removed")
    with open(os.path.join(ldir, "subscribers")) as f:
        t.ok("bad@" not in f.read(), "bad@ no longer subscribed")
    t.ok(not os.path.exists(bfile), "its bounce count is gone")
    t.ok(s.wait(lambda: with_subject(owner, "subscriber removed")), "the owner is told")
    t.ok(not any("failure notice" in (m["Subject"] or "") or "bounced" in (m["Subject"] or "")
                 for m in box(users["a2"])), "no bounce reached the list")
    t.ok(len(with_subject(users["a2"], "bouncy")) == 3, "each post once")

    # 8b. only a bounce counts as one: mail with a sender (an out-of-office
    # reply, a person) to a bounce or probe address changes nothing
    ret = "%s-return-a2=%s@%s" % (LP, D, D)
    for i in range(4):
        smtp(A["out"], ret, msg(A["out"], ret, "I am away %d" % i))
    t.ok(s.wait(lambda: s.log().count("dropped mail with a sender sent to a bounce address") == 4),
         "mail with a sender to a bounce address is dropped")
    t.ok(not os.path.exists(os.path.join(ldir, "bounce", A["a2"].encode().hex())), "and not counted")
    t.ok("probe sent to %s" % A["a2"] not in s.log(), "no probe")
    pa = probe_addr(ldir, A["a2"], int(time.time()))
    smtp(A["out"], pa, msg(A["out"], pa, "away again"))
    t.ok(s.wait(lambda: "dropped mail with a sender sent to a probe address" in s.log()),
         "mail with a sender to a probe address is dropped")
    with open(os.path.join(ldir, "subscribers")) as f:
        t.ok(A["a2"] in f.read().split(), "a2 is still subscribed")
    # a probe's code removes once: a bounce of it replayed after the
    # address subscribed again changes nothing
    subprocess.run([os.path.join(t.BIN, "qmail-list"), "add", ldir, "gone@far.test"], check=False)
    pa = probe_addr(ldir, "gone@far.test", int(time.time()))
    smtp("", pa, msg("MAILER-DAEMON", pa, "failure notice"))
    t.ok(s.wait(lambda: "removed gone@far.test after repeated bounces" in s.log()), "a probe bounce removes")
    subprocess.run([os.path.join(t.BIN, "qmail-list"), "add", ldir, "gone@far.test"], check=False)
    smtp("", pa, msg("MAILER-DAEMON", pa, "failure notice"))
    t.ok(s.wait(lambda: "probe bounce whose code was used already for gone@far.test" in s.log()),
         "the same probe bounce again is ignored")
    with open(os.path.join(ldir, "subscribers")) as f:
        t.ok("gone@far.test" in f.read().split(), "and the address stays")
    subprocess.run([os.path.join(t.BIN, "qmail-list"), "remove", ldir, "gone@far.test"], check=False)

    # 9. a list that forwards to itself does not loop
    subprocess.run([os.path.join(t.BIN, "qmail-list"), "add", ldir, LIST], check=False)
    smtp(A["a1"], LIST, msg(A["a1"], LIST, "round and round"))
    t.ok(s.wait(lambda: with_subject(users["a2"], "round and round") and s.queue_empty()), "delivered, queue empty")
    time.sleep(0.5)
    t.is_(len(with_subject(users["a2"], "round and round")), 1, "exactly one copy")
    t.ok(re.search(r"looping|a loop", s.log()), "the copy to itself is stopped as a loop")
    subprocess.run([os.path.join(t.BIN, "qmail-list"), "remove", ldir, LIST], check=False)

    # 10. bad input
    with open(os.path.join(ldir, "maxbytes"), "w") as f:
        f.write("3000\n")
    n1 = len(box(users["a1"]))
    smtp(A["a1"], LIST, msg(A["a1"], LIST, "huge", ("x" * 70 + "\n") * 100))
    t.ok(s.wait(lambda: any("larger than the list accepts" in m.as_string() for m in box(users["a1"]))),
         "over-size post bounced with a reason")
    t.ok(not with_subject(users["a2"], "huge"), "and not sent")
    smtp("", LIST, msg("MAILER-DAEMON", LIST, "huge bounce", ("x" * 70 + "\n") * 100))
    t.ok(s.wait(lambda: s.log().count("dropped a post without a sender") == 1 and s.queue_empty()),
         "an over-size post without a sender is dropped, not bounced")
    with open(os.path.join(ldir, "maxbytes"), "w") as f:
        f.write("1000000\n")
    smtp(A["a1"], "%s-sc.12.zz-nothing@%s" % (LP, D), msg(A["a1"], "x", "garbage"))
    t.ok(s.wait(lambda: with_subject(users["a1"], "unknown list command")), "garbage command: help comes back")
    smtp("", LIST, msg("nobody", LIST, "no sender"))
    t.ok(s.wait(lambda: s.log().count("dropped a post without a sender") == 2), "post without a sender dropped")
    # auto-replies from a subscriber to the list reach nobody
    smtp(A["a1"], LIST, msg(A["a1"], LIST, "out of office", extra="Auto-Submitted: auto-replied\n"))
    smtp(A["a1"], LIST, msg(A["a1"], LIST, "away on leave", extra="Precedence: junk\n"))
    t.ok(s.wait(lambda: s.log().count("dropped an automatic reply") == 2 and s.queue_empty()),
         "auto-replies to the list are dropped")
    t.ok(not with_subject(users["a2"], "out of office|away on leave"), "and reach no subscriber")
    # another list's post (Precedence: list, its List-Id): a list subscribed to this one
    smtp(A["a1"], LIST, msg(A["a1"], LIST, "from the inner list",
                             extra="Precedence: list\nList-Id: <inner.other.example>\n"))
    t.ok(s.wait(lambda: with_subject(users["a2"], "from the inner list")),
         "another list's traffic is posted as usual")
    # the list's own List-Id after another list's is a loop too
    smtp(A["a1"], LIST, msg(A["a1"], LIST, "second list-id",
                             extra="List-Id: <other.example>\nList-Id: Team <%s.%s>\n" % (LP, D)))
    t.ok(s.wait(lambda: any("already been through the list" in m.as_string() for m in box(users["a1"]))),
         "our List-Id in the second field: refused as a loop")
    t.ok(not with_subject(users["a2"], "second list-id"), "and not sent")
    # the prefix on a folded line of the subject is found
    smtp(A["a1"], LIST, msg(A["a1"], LIST, "Re: a subject long enough to fold\n [team] folded"))
    t.ok(s.wait(lambda: with_subject(users["a2"], "folded")), "a post with a folded subject")
    f2 = with_subject(users["a2"], "folded")
    t.is_(f2 and f2[0]["Subject"], "Re: a subject long enough to fold [team] folded", "no second prefix")
    # a sender whose local part only starts like the list's is a person
    t.write(os.path.join(owner, ".qmail-teamster"), "./Maildir/\n")
    ster = "%s-teamster@%s" % (LOGIN, D)
    smtp(ster, "%s-help@%s" % (LP, D), msg(ster, "x", "help for teamster"))
    t.ok(s.wait(lambda: [m for m in with_subject(owner, "^help$") if m["To"] == ster]),
         "%s-teamster is answered" % LOGIN)
    smtp(A["a1"], "%s-help@%s" % (LP, D), msg(A["a1"], "x", "help?", extra="Precedence: bulk\n"))
    t.ok(s.wait(lambda: "automatic" in s.log() and s.queue_empty()), "bulk mail to a command is not answered")
    t.ok(not with_subject(users["a1"], "^help$"), "no reply to it")
    smtp(A["a1"], "%s-help@%s" % (LP, D), msg(A["a1"], "x", "help me"))
    t.ok(s.wait(lambda: with_subject(users["a1"], "^help$")), "help")

    # 11. archive and get.N
    with open(os.path.join(ldir, "archive"), "w") as f:
        f.write("1\n")
    smtp(A["a2"], LIST, msg(A["a2"], LIST, "for the record", "keep me\n"))
    t.ok(s.wait(lambda: with_subject(users["a1"], "for the record")), "archived post delivered")
    arch = [parsed(m) for m in s.maildir(ldir, "Maildir")]
    t.ok(len(arch) == 1 and arch[0]["Subject"] == "[team] for the record", "archive Maildir holds it")
    smtp(A["out"], "%s-get.1@%s" % (LP, D), msg(A["out"], "x", "get it"))
    t.ok(s.wait(lambda: with_subject(users["out"], "archived post 1")), "get.1 answered")
    g = with_subject(users["out"], "archived post 1")
    t.ok(g and "keep me" in body(g[0]), "with the post")
    long_text = "".join("line %05d %s\n" % (i, "z" * 60) for i in range(600)) + "THE END\n"
    smtp(A["a2"], LIST, msg(A["a2"], LIST, "a long one", long_text))
    t.ok(s.wait(lambda: with_subject(users["a1"], "a long one")), "a post of %d bytes" % len(long_text))
    smtp(A["out"], "%s-get.2@%s" % (LP, D), msg(A["out"], "x", "get the long one"))
    t.ok(s.wait(lambda: with_subject(users["out"], "archived post 2")), "get.2 answered")
    g = with_subject(users["out"], "archived post 2")
    t.ok(g and body(g[0]).endswith(long_text), "with the whole post, not its first 20000 bytes")

    r = subprocess.run([os.path.join(t.BIN, "qmail-list"), "show", ldir], capture_output=True, text=True)
    t.is_(sorted(r.stdout.split()), [A["a1"], A["a2"]], "qmail-list show")
    r = subprocess.run([os.path.join(t.BIN, "qmail-list"), "add", ldir, "not an address"], capture_output=True, text=True)
    t.is_(r.returncode, 100, "a bad address on the command line: exit 100")

    # 12. root (the administrator) runs the owner's commands on a list
    # another user owns: qmail-list acts as that user, so every file stays
    # the owner's, and the deliveries, which run as the owner, can read it
    top = t.tmpdir("list-owned.")
    os.chmod(top, 0o711)
    if os.geteuid() != 0:
        t.skip("not root: no other user to own a list", 14)
    elif not t.traversable(top):
        t.skip("%s cannot be entered by another user" % top, 14)
    else:
        NOBODY = 65534
        ohome = os.path.join(top, "home")
        os.mkdir(ohome, 0o755)
        os.chown(ohome, NOBODY, NOBODY)
        cdir = os.path.join(ohome, "lists", "club")
        CLUB = "%s-club@%s" % (LOGIN, D)
        ql = os.path.join(t.BIN, "qmail-list")

        def owners(top_dir):
            """(path, uid, gid) of every file and directory below top_dir
            that is not NOBODY's"""
            bad = []
            for d, dirs, files in os.walk(top_dir):
                for n in dirs + files:
                    st = os.lstat(os.path.join(d, n))
                    if (st.st_uid, st.st_gid) != (NOBODY, NOBODY):
                        bad.append((os.path.relpath(os.path.join(d, n), top_dir), st.st_uid, st.st_gid))
            return bad

        # the list made by its owner, as qmail-admin list make does as vmail
        r = subprocess.run([ql, "make", "-h", ohome, "-o", OWNER, cdir, CLUB], capture_output=True,
                           text=True, cwd="/", user=NOBODY, group=NOBODY, extra_groups=[])
        t.is_(r.returncode, 0, "make as the owner " + r.stderr)
        r = subprocess.run([ql, "make", "-h", ohome, os.path.join(ohome, "lists", "hall"),
                            "%s-hall@%s" % (LOGIN, D)], capture_output=True, text=True)
        t.is_(r.returncode, 0, "make as root in a home another user owns " + r.stderr)
        t.is_(owners(ohome), [], "the list root made and its .qmail files are the home owner's")
        r = subprocess.run([ql, "add", cdir, A["a1"], A["a2"], A["a3"]], capture_output=True, text=True)
        t.is_(r.returncode, 0, "add as root " + r.stderr)
        r = subprocess.run([ql, "remove", cdir, A["a3"]], capture_output=True, text=True)
        t.is_(r.returncode, 0, "remove as root " + r.stderr)
        t.is_(owners(ohome), [], "subscribers and lock made as root are the list owner's too")
        r = subprocess.run([ql, "show", cdir], capture_output=True, text=True)
        t.is_(r.stdout, "%s\n%s\n" % (A["a1"], A["a2"]), "show as root")
        # a post, delivered as the owner (as qmail-local runs it): the
        # owner reads the subscribers root added; a recording stand-in for
        # qmail-queue (this install's is root's alone) keeps what it is
        # given, which then goes through the real queue to the subscribers
        rec = os.path.join(top, "rec")
        os.mkdir(rec, 0o755)
        os.chown(rec, NOBODY, NOBODY)
        qq = os.path.join(top, "qq-record")
        shutil.copy(os.path.join(t.SRC, "tests", "qq-record"), qq)
        os.chmod(qq, 0o755)
        r = subprocess.run([ql, "deliver", cdir], input=msg(A["a1"], CLUB, "owned post"),
                           capture_output=True, text=True, cwd="/", user=NOBODY, group=NOBODY,
                           extra_groups=[], env=dict({k: v for k, v in os.environ.items()
                                                      if k not in ("DEFAULT", "RECIPIENT")},
                                                     SENDER=A["a1"], QMAILQUEUE=qq, QQ_RECORD=rec))
        t.ok(r.returncode == 0 and "post sent to the list" in r.stdout,
             "a post delivered as the list's owner (%d %s)" % (r.returncode, r.stderr.strip()))
        envl = b""
        if os.path.exists(os.path.join(rec, "0.env")):
            with open(os.path.join(rec, "0.env"), "rb") as f:
                envl = f.read()
        t.is_(envl, ("F%s-club-return-@%s-@[]\0T%s\0T%s\0\0" % (LOGIN, D, A["a1"], A["a2"])).encode(),
              "handed to the queue for both subscribers")
        if envl.startswith(b"F"):
            fields = envl.split(b"\0")
            with open(os.path.join(rec, "0.msg"), "rb") as f:
                s.inject(fields[0][1:].decode(), [x[1:].decode() for x in fields[1:] if x], f.read())
        t.ok(s.wait(lambda: all(with_subject(users[n], r"\[club\] owned post") for n in ("a1", "a2"))),
             "and delivered to both")
        t.ok(not with_subject(users["a3"], "owned post"), "not to the one removed")
        # directories root will not work in
        os.chown(cdir, NOBODY, 0)
        r = subprocess.run([ql, "add", cdir, A["a3"]], capture_output=True, text=True)
        t.ok(r.returncode == 111 and "group root" in r.stderr,
             "a user's list in group root is refused (%d %s)" % (r.returncode, r.stderr.strip()))
        os.chown(cdir, NOBODY, NOBODY)
        os.chmod(deep, 0o707)
        r = subprocess.run([ql, "add", deep, A["a3"]], capture_output=True, text=True)
        t.ok(r.returncode == 111 and "other than root may write" in r.stderr,
             "root's list that others may write in is refused (%d %s)" % (r.returncode, r.stderr.strip()))
        os.chmod(deep, 0o700)
        r = subprocess.run([ql, "show", cdir], capture_output=True, text=True)
        t.is_(r.stdout, "%s\n%s\n" % (A["a1"], A["a2"]), "neither changed anything")
    t.ok(s.wait(s.queue_empty), "queue empty at the end")
finally:
    s.finish()
    t.control("retrylocal", None)
    if not had_lock and os.path.exists(newu_lock):
        os.unlink(newu_lock)
    if saved_rcpthosts is None:
        t.control("rcpthosts", None)
    else:
        t.write(rh, saved_rcpthosts)
t.done()
