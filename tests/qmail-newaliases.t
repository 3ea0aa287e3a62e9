#!/usr/bin/python3
"""qmail-newaliases: /etc/aliases-style file -> alias/.qmail-NAME files,
then qmail-local -n reads them back (round trip); sendmail's \\name
delivered by a running qmail-send to the account, root's to the alias
user's Maildir, without a second trip through the aliases; no catch-all
aliases; owner-X gets X's bounces (qmail-local through tests/qq-record,
then a real bounce through qmail-send); empty lines inside an entry."""
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

t.need_home()
NA = os.path.join(t.BIN, "qmail-newaliases")
QL = os.path.join(t.BIN, "qmail-local")
RECORDER = os.path.join(t.SRC, "tests", "qq-record")
OWNER_MARK = "# qmail-newaliases: owner\n"
ALIAS = os.path.join(t.HOME, "alias")
me_path = os.path.join(t.HOME, "control", "me")
saved_me = open(me_path).read() if os.path.exists(me_path) else None
made = []
# the alias files a fresh install ships, put back at the end
saved_alias = {f: open(os.path.join(ALIAS, f)).read() for f in os.listdir(ALIAS) if f.startswith(".qmail-")}

ALIASES = """# system aliases
postmaster: root
MAILER-DAEMON: postmaster
root: admin@example.org, "|/usr/bin/logger -t mail", /var/mail/root
staff: alice, bob@example.org,
\tcarol@example.org
  # a comment inside an entry
\tdave
www.team: "/srv/mail/www/"
nobody: |exit 0
"""
WANT = {
    "postmaster": "&root@mail.example.org\n",
    "mailer-daemon": "&postmaster@mail.example.org\n",
    "root": "&admin@example.org\n|/usr/bin/logger -t mail\n/var/mail/root\n",
    "staff": "&alice@mail.example.org\n&bob@example.org\n&carol@example.org\n&dave@mail.example.org\n",
    "www:team": "/srv/mail/www/\n",
    "nobody": "|exit 0\n",
}


def run(*args):
    r = subprocess.run([NA] + list(args), capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


def aliasfile(name):
    p = os.path.join(ALIAS, ".qmail-" + name)
    return open(p).read() if os.path.lexists(p) else None


def show(ext):
    """qmail-local -n for ext@example.org at the alias user: (exit, stdout)"""
    r = subprocess.run([QL, "-n", "alias", ALIAS, ext, "-", ext, "example.org", "s@x.example", "./Maildir/"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    return r.returncode, r.stdout


def forward_envelopes(ext, sender):
    """A real delivery by qmail-local for ext@example.org at the alias
    user, forwards going to tests/qq-record: their envelopes."""
    rec = t.tmpdir("newaliases-rec.")
    env = dict(os.environ, QMAILQUEUE=RECORDER, QQ_RECORD=rec)
    env.pop("QQ_EXIT", None)
    mf = os.path.join(rec, "input")
    t.write(mf, "Subject: hi\n\nhello\n")
    with open(mf, "rb") as f:
        r = subprocess.run([QL, "alias", ALIAS, ext, "-", ext, "example.org", sender, "./Maildir/"],
                           stdin=f, capture_output=True, env=env, timeout=30)
    envs, n = [], 0
    while os.path.exists(os.path.join(rec, "%d.env" % n)):
        envs.append(open(os.path.join(rec, "%d.env" % n), "rb").read())
        n += 1
    return r.returncode, envs


try:
    t.control("me", "mail.example.org\n")
    d = t.tmpdir("newaliases.")
    src = os.path.join(d, "aliases")
    t.write(src, ALIASES)
    made = [os.path.join(ALIAS, ".qmail-" + n) for n in WANT]
    code, err = run(src)
    t.is_(code, 0, "aliases compile: " + err.strip())
    got = {}
    for n in WANT:
        p = os.path.join(ALIAS, ".qmail-" + n)
        got[n] = open(p).read() if os.path.exists(p) else None
    t.is_(got, WANT, "one .qmail file per alias, exact contents")
    t.ok(all(os.stat(p).st_mode & 0o022 == 0 for p in made if os.path.exists(p)),
         "files are not group- or world-writable (qmail-local would defer)")
    t.ok(not [f for f in os.listdir(ALIAS) if f.endswith(".tmp")], "no temporary files left")

    # round trip: qmail-local -n in the alias home shows the same instructions
    r = subprocess.run([QL, "-n", "alias", ALIAS, "alias-root", "-", "root", "example.org", "s@x.example", "./Maildir/"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    t.is_((r.returncode, r.stdout), (0, "&admin@example.org\n|/usr/bin/logger -t mail\n/var/mail/root\n"),
          "qmail-local -n reads alias/.qmail-root")
    r = subprocess.run([QL, "-n", "alias", ALIAS, "alias-Www.Team", "-", "Www.Team", "example.org", "s@x.example", "./Maildir/"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    t.is_((r.returncode, r.stdout), (0, "/srv/mail/www/\n"), "qmail-local finds .qmail-www:team for Www.Team")

    before = {n: open(os.path.join(ALIAS, ".qmail-" + n)).read() for n in WANT}
    for bad, line, why in [
        ("root: a@b.example\nnew: x@y.example\nbroken line\n", 3, "no colon"),
        ("a: b@c.example\n  \n\tcontinued@x.example\nb:\n", 4, "no targets"),
        ("a: b@c.example\na: d@e.example\n", 2, "defined twice"),
        ("a: :include:/etc/list\n", 1, ":include:"),
        ('a: "|unterminated\n', 1, "quote"),
        ("\tx@y.example\n", 1, "continuation"),
        ("a/b: x@y.example\n", 1, "slash"),
        ("a: <x@y.example>\n", 1, "angle"),
        ("a: b@c.example\nowner-a: d@e.example\na-owner: f@g.example\n", 3, "owner-a and a-owner"),
        ("owner-a: d@e.example\na-owner: f@g.example\n# a\na: b@c.example\n", 4, "a after owner-a and a-owner"),
    ]:
        t.write(src, bad)
        code, err = run(src)
        t.ok(code == 100 and ("line %d:" % line) in err, "bad file refused (%s): %s" % (why, err.strip()))
    after = {n: open(os.path.join(ALIAS, ".qmail-" + n)).read() for n in WANT}
    t.is_(after, before, "refused files changed nothing")
    t.ok(not os.path.exists(os.path.join(ALIAS, ".qmail-new")), "not even the good entries before the bad line")

    # \\name: the local user itself, not the aliases again
    t.write(src, 'bob: \\bob, carol\nroot: \\Root, admin@example.org\nq: "\\bob"\n')
    made += [os.path.join(ALIAS, ".qmail-" + n) for n in ("bob", "q")]
    # the alias user owns alias/: a link it leaves where a temporary file
    # goes is not written through
    victim = os.path.join(d, "victim")
    t.write(victim, "victim\n", 0o600)
    os.symlink(victim, os.path.join(ALIAS, ".qmail-bob.tmp"))
    code, err = run(src)
    t.is_(code, 0, "\\name targets compile: " + err.strip())
    t.ok(open(victim).read() == "victim\n" and os.stat(victim).st_mode & 0o777 == 0o600 and
         not os.path.lexists(os.path.join(ALIAS, ".qmail-bob.tmp")),
         "a link at alias/.qmail-bob.tmp: its target untouched, the link gone")
    t.is_([open(os.path.join(ALIAS, ".qmail-" + n)).read() for n in ("bob", "root", "q")],
          ["&bob@mail.example.org\n&carol@mail.example.org\n", "./Maildir/\n&admin@example.org\n",
           "&bob@mail.example.org\n"],
          "\\bob is bob at control/me, no backslash; \\root is the alias user's Maildir")
    for bad, why in (("a: \\bob@example.org\n", "a domain"), ("a: \\\n", "nothing"), ("a: \\a/b\n", "a slash")):
        t.write(src, bad)
        code, err = run(src)
        t.ok(code == 100 and "line 1:" in err, "a \\name with %s refused: %s" % (why, err.strip()))

    # an alias is one name: default and X-default are qmail-local's
    # catch-alls, which would take the mail of every unknown name
    for bad, line, why in [
        ("default: catchall@example.org\n", 1, "default"),
        ("root: a@b.example\nSales-Default: s@example.org\n", 2, "Sales-Default"),
        ("owner-default: s@example.org\n", 1, "owner-default"),
    ]:
        t.write(src, bad)
        code, err = run(src)
        t.ok(code == 100 and ("line %d:" % line) in err and "catch-all" in err,
             "an alias named %s refused: %s" % (why, err.strip()))
    t.is_([aliasfile(n) for n in ("default", "sales-default", "owner-default")], [None] * 3,
          "no catch-all file written")
    t.is_(show("nosuchname")[0], 100, "an unknown name still bounces (qmail-local -n)")
    for n in ("default", "sales-default", "owner-default"):
        if aliasfile(n) is not None:
            os.unlink(os.path.join(ALIAS, ".qmail-" + n))	# what a failure left

    # empty and blank lines inside an entry are skipped, the entry goes on
    t.write(src, "team: a@x.example,\n\n\tb@x.example,\n \t\n\tc@x.example\r\n\r\n\n\td@x.example\n"
                 "\ndefault-team: e@x.example\n")
    code, err = run(src)
    t.is_(code, 0, "empty and blank lines between continuation lines: " + err.strip())
    t.is_([aliasfile("team"), aliasfile("default-team")],
          ["&a@x.example\n&b@x.example\n&c@x.example\n&d@x.example\n", "&e@x.example\n"],
          "the entry goes on past them (and default-team is one name, allowed)")

    # owner-X: X's forwards are sent from X-owner@domain, which
    # .qmail-X-owner delivers to owner-X's targets
    t.write(os.path.join(ALIAS, ".qmail-hand-owner"), "&h@x.example\n")
    aliases = ("staff: a@x.example\nowner-staff: boss@x.example, \\root\nowner-lone: z@x.example\n"
               "keep-owner: k@x.example\n")
    t.write(src, aliases)
    code, err = run(src)
    t.is_(code, 0, "aliases with owner-staff compile: " + err.strip())
    t.is_([aliasfile(n) for n in ("staff-owner", "owner-staff", "lone-owner", "keep-owner")],
          [OWNER_MARK + "&boss@x.example\n./Maildir/\n", "&boss@x.example\n./Maildir/\n", None, "&k@x.example\n"],
          "owner-staff with staff: .qmail-staff-owner, owner-staff's targets; owner-lone alone: none")
    t.is_(show("staff-owner"), (0, "&boss@x.example\n./Maildir/\n"), "qmail-local reads .qmail-staff-owner")
    t.is_(forward_envelopes("staff", "author@a.example"), (0, [b"Fstaff-owner@example.org\0Ta@x.example\0\0"]),
          "staff's forwards go out from staff-owner@example.org")
    for gone, why in (("owner-staff: boss@x.example\n", "staff"), ("staff: a@x.example\n", "owner-staff")):
        t.write(src, aliases)
        code, err = run(src)
        t.write(src, gone + "keep-owner: k@x.example\n")
        code2, err2 = run(src)
        t.is_((code, code2, aliasfile("staff-owner")), (0, 0, None),
              "%s no longer listed: .qmail-staff-owner removed %s" % (why, (err + err2).strip()))
        t.is_([aliasfile("keep-owner"), aliasfile("hand-owner")], ["&k@x.example\n", "&h@x.example\n"],
              "an owner file the administrator made is kept")
    t.is_(forward_envelopes("staff", "author@a.example"), (0, [b"Fauthor@a.example\0Ta@x.example\0\0"]),
          "then staff's forwards keep the author's sender")

    # 20000 entries: each is checked against the names before it (twice
    # listed, owner-X beside X-owner) by a hash look-up, not by a scan of
    # all of them, which took seconds of CPU time at this size
    big = []
    for i in range(20000):
        if i % 10 == 3:
            big.append("owner-big%05d: boss%d@x.example, \\root\n" % (i - 1, i))
        elif i % 10 == 5:
            big.append("Big%05d.X: x%d\n" % (i, i))
        elif i % 10 == 7:
            big.append("Big%05d-Owner: own%d@x.example\n" % (i, i))
        else:
            big.append("big%05d: a%d, b%d@x.example,\n\t\"|exit 0\"\n" % (i, i, i))
    nextline = "".join(big).count("\n") + 1
    t.write(src, "".join(big))
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    code, err = run(src)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - cpu
    t.is_(code, 0, "20000 aliases compile: " + err.strip())
    t.ok(cpu < 1.0, "in %.2f s of CPU time (a bound of 1 s; comparing each name with all before it took 4 s)" % cpu)
    t.is_([aliasfile("big00000"), aliasfile("big00002-owner"), aliasfile("owner-big00002"),
           aliasfile("big00005:x"), aliasfile("big19997-owner"), aliasfile("big19999")],
          ["&a0@mail.example.org\n&b0@x.example\n|exit 0\n", OWNER_MARK + "&boss3@x.example\n./Maildir/\n",
           "&boss3@x.example\n./Maildir/\n", "&x5@mail.example.org\n", "&own19997@x.example\n",
           "&a19999@mail.example.org\n&b19999@x.example\n|exit 0\n"],
          "their files, and the owner files derived from owner-X")
    t.is_(len([f for f in os.listdir(ALIAS) if "big" in f]), 22000, "one file per alias, one per owner-X with X")
    t.write(src, "".join(big) + "BIG00004: again@x.example\n")
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    code, err = run(src)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - cpu
    t.ok(code == 100 and ("line %d: the alias is defined twice" % nextline) in err and cpu < 1.0,
         "a name listed again after 20000 others: refused (%.2f s of CPU time): %s" % (cpu, err.strip()))
    t.write(src, "".join(big) + "big00012-owner: again@x.example\n")
    code, err = run(src)
    t.ok(code == 100 and ("line %d: owner-NAME and NAME-owner" % nextline) in err,
         "big00012-owner after owner-big00012 and big00012: refused: " + err.strip())
    for f in os.listdir(ALIAS):
        if f.startswith(".qmail-big") or f.startswith(".qmail-owner-big"):
            os.unlink(os.path.join(ALIAS, f))

    code, err = run(os.path.join(d, "missing"))
    t.is_(code, 100, "missing input file: 100")
    t.control("me", None)
    t.write(src, "a: bare\n")
    code, err = run(src)
    t.ok(code == 111 and "control/me" in err, "bare name without control/me: temporary")
    t.control("me", saved_me)

    # delivered by qmail-send: \\bob to bob's account, \\root to the
    # alias user's own Maildir, no bounce and no loop through the aliases
    sc = qsend.Scene()
    try:
        bob, carol, dave = sc.home("bob"), sc.home("carol"), sc.home("dave")
        sc.assign([sc.user("bob", bob), sc.user("carol", carol), sc.user("dave", dave)])
        t.write(src, "staff: \\bob, carol\nroot: \\root, carol\nbob: nobody@example.org\n")
        made += [os.path.join(ALIAS, ".qmail-staff")]
        code, err = run(src)
        t.is_(code, 0, "aliases with \\bob and \\root compile")
        amd = os.path.join(ALIAS, "Maildir")
        before = len(os.listdir(os.path.join(amd, "new")))
        sc.start()
        # from carol: a bounce (a loop, an unknown \\name) would come back to her
        sender = "carol@" + qsend.DOMAIN
        sc.inject(sender, ["staff@" + qsend.DOMAIN], "Subject: to staff\n\nhello\n")
        sc.inject(sender, ["root@" + qsend.DOMAIN], "Subject: to root\n\nhello\n")
        done = sc.wait(lambda: sc.queue_empty() and len(sc.maildir(carol)) >= 2)
        time.sleep(0.3)

        def subj(h):
            return sorted(m["Subject"] for m in sc.maildir(h))
        t.ok(done and subj(bob) == ["to staff"], "staff's mail reaches bob's account, not bob's alias")
        t.is_(subj(carol), ["to root", "to staff"], "and carol, with no bounce")
        t.is_(len(os.listdir(os.path.join(amd, "new"))) - before, 1,
              "root's mail reaches the alias user's Maildir, once")
        t.ok(sc.queue_empty(), "nothing left in the queue (nothing for bob's alias nobody@example.org)")

        # owner-list: the bounce of list's unknown member goes to carol,
        # the owner, not to dave, the author
        t.write(src, "list: \\bob, nosuch\nowner-list: \\carol\n")
        code, err = run(src)
        t.is_(code, 0, "list with owner-list compiles: " + err.strip())
        sc.inject("dave@" + qsend.DOMAIN, ["list@" + qsend.DOMAIN], "Subject: to list\n\nhello\n")
        done = sc.wait(lambda: sc.queue_empty() and len(sc.maildir(carol)) >= 3)
        time.sleep(0.3)
        bounces = [m for m in sc.maildir(carol) if m["Subject"] not in ("to root", "to staff")]
        t.ok(done and len(bounces) == 1 and b"nosuch@" + qsend.DOMAIN.encode() in bounces[0].as_bytes(),
             "the bounce for nosuch reaches carol, list's owner")
        t.is_((subj(bob), subj(dave)), (["to list", "to staff"], []), "bob has the post; dave, the author, no bounce")
    finally:
        sc.finish()
finally:
    for f in os.listdir(ALIAS):
        if f.startswith(".qmail-") and f not in saved_alias:
            os.unlink(os.path.join(ALIAS, f))
    for f, text in saved_alias.items():
        t.write(os.path.join(ALIAS, f), text)
    t.control("me", saved_me)
t.done()
