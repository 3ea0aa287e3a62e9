#!/usr/bin/python3
"""qmail-admin backup and restore: a round trip while mail arrives.

A domain with two mailboxes, an alias and 45 stored messages is backed
up with --queue while a running qmail-send delivers a stream of messages
injected with bin/qmail-queue, and a thread renames new/ to cur/ as a
POP3 or IMAP reader would.  The backup must hold every stored message
exactly once and byte for byte, nothing half-written, and every message
queued before the backup began (in the copied queue or, delivered
meanwhile, in the copied Maildir).  Then the domain and the queue go,
`qmail-admin restore` brings them back, and a restarted qmail-send
delivers the restored queue: every message queued before the backup
reaches the mailbox, which POP3 reads.  Names that look like the
temporaries the copy leaves out (a mailbox bob.tmp, a Maildir++ folder
.news) and a domain whose mailboxes are called new, cur and tmp go
through backup and restore whole, and a message whose flags change
while cur/ is read is copied once.  alias/ (the postmaster's .qmail
file, the alias user's Maildir) goes through the round trip too, and a
restore into an install that has a domain of its own is refused.

Last, a backup is restored into a second install with another root
(built from the objects of the first): users/assign, a list's .qmail
files and an absolute Maildir line of alias/ name the new root, a path
of a third install stays with a warning, and mail queued there for a
mailbox and a list lands in the new install, nothing in the old one.
A backup without alias/ (made before it was backed up) still restores.
"""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
D = "backup.test.example"
D2 = "names.backup.test.example"
D3 = "flags.backup.test.example"
OTHER = "other.backup.test.example"
R = "move.backup.test.example"
for d in (D, D2, D3, OTHER, R):
    v.cleanup(d)
H = t.HOME
ALIAS = os.path.join(H, "alias")
alias_saved = {n: open(os.path.join(ALIAS, n), "rb").read() for n in os.listdir(ALIAS)
               if n.startswith(".qmail-")}
ALIAS_MSG = os.path.join(ALIAS, "Maildir", "new", "1700000000.M1P1.alias.backup")
HAVE_SEND = os.path.exists(os.path.join(t.BIN, "qmail-start"))
SAVED = ("control/me", "control/locals", "control/rcpthosts", "control/virtualdomains",
         "users/recipients", "users/recipients.cdb")
saved = {}
for c in SAVED:
    p = os.path.join(H, c)
    saved[c] = open(p, "rb").read() if os.path.exists(p) else None
t.clear_queue()
send = None


def msg(i, size=200):
    return (b"Received: (lanmail %d invoked by uid 0); 28 Nov 2026 17:00:00 +0000\n"
            b"X-Token: tok%d.\nSubject: message %d\n\n" % (i, i, i) + (b"line %d\n" % i) * (size // 8))


def maildir_files(root):
    """base name -> (path, sha256) for new/ and cur/ of a Maildir, and the
    number of files seen (more than the names: a message twice)."""
    out, count = {}, 0
    for sub in ("new", "cur"):
        d = os.path.join(root, sub)
        for n in os.listdir(d):
            if n.startswith("."):
                continue
            count += 1
            p = os.path.join(d, n)
            out[n.split(":")[0]] = (p, hashlib.sha256(open(p, "rb").read()).hexdigest())
    return out, count


def tree(root):
    """relative path -> "dir" or the sha256 of the file, for all under root."""
    out = {}
    for r, ds, fs in os.walk(root):
        for n in ds:
            out[os.path.relpath(os.path.join(r, n), root)] = "dir"
        for n in fs:
            p = os.path.join(r, n)
            out[os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def tokens_in(paths):
    found = set()
    for p in paths:
        try:
            found.update(int(x) for x in re.findall(rb"X-Token: tok(\d+)\.", open(p, "rb").read()))
        except FileNotFoundError:
            pass
    return found


def files_under(root):
    out = []
    for r, _d, fs in os.walk(root):
        out += [os.path.join(r, f) for f in fs]
    return out


def inject(i):
    r, w = os.pipe()
    os.write(w, b"Fsender@outside.example\0Talice@" + D.encode() + b"\0\0")
    os.close(w)
    p = subprocess.run([os.path.join(t.BIN, "qmail-queue")], input=msg(i, 2000), stdout=r,
                       stderr=subprocess.PIPE)
    os.close(r)
    return p.returncode


def start_send(home=H):
    logf = open(os.path.join(t.tmpdir(), "send.log"), "ab")
    return t.start([os.path.join(home, "bin", "qmail-start"), "./Maildir/"], stdout=logf,
                   stderr=subprocess.STDOUT, cwd="/")


def stop_send(p):
    if p and p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            t.stop(p, signal.SIGKILL)


def build_second():
    """A second single-user install with its own root, as make install
    makes it: the check build's objects relinked with another conf-home
    (reused only from a build with conf-cc's compiler, not a musl one),
    else built anew.  Its root, or None."""
    base = t.tmpdir("lanmail-second.")
    b, home = os.path.join(base, "build"), os.path.join(base, "home")
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS"):
        env.pop(k, None)
    argv = ["make", "-s", "-C", t.SRC, "B=" + b, "HOME_DIR=" + home, "USERS=" + v.vmail_user(), "install"]
    if t.BUILD and os.path.isdir(t.BUILD) and not os.path.isdir(os.path.join(t.BUILD, "musl")):
        shutil.copytree(t.BUILD, b, symlinks=True)
        if subprocess.run(argv, capture_output=True, env=env, timeout=600).returncode == 0:
            return home
        shutil.rmtree(b, ignore_errors=True)
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1200)
    if r.returncode != 0:
        t.diag(r.stdout + r.stderr)
        return None
    return home


def files_holding(root, needle):
    """the files under root's control/ users/ alias/ domains/ that hold needle"""
    out = []
    for top in ("control", "users", "alias", "domains"):
        for p in files_under(os.path.join(root, top)):
            if not os.path.islink(p) and needle in open(p, "rb").read():
                out.append(os.path.relpath(p, root))
    return sorted(out)


def admin_in(home, *args):
    r = subprocess.run([os.path.join(home, "bin", "qmail-admin")] + list(args), capture_output=True,
                       text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def move_to_second(C):
    """this install backed up with a domain, a mailbox and a list, and
    restored into the install C: the paths follow"""
    t.is_(v.admin("domain", "add", R)[0], 0, "a domain to move")
    v.admin("user", "add", "bob@" + R, "--stdin", stdin="bob moves\n", check=True)
    v.admin("list", "make", "team@" + R, check=True)
    lists = os.path.join(H, "domains", R, ".lists", "team")
    r = subprocess.run([os.path.join(t.BIN, "qmail-list"), "add", lists, "bob@" + R], capture_output=True)
    t.is_(r.returncode, 0, "a list team@%s with bob as its subscriber" % R)
    t.write(os.path.join(ALIAS, ".qmail-mailer-daemon"), "%s/alias/Maildir/\n" % H)
    bk = os.path.join(t.tmpdir("lanmail-backup."), "b")
    rc, out, err = v.admin("backup", bk)
    held = files_holding(bk, H.encode())
    t.ok(rc == 0 and "users/assign" in held and "domains/%s/.qmail-team" % R in held,
         "a backup naming this install's root in %s (%s)" % (held, err.strip()))
    # what the backup of an install restored without moving its paths
    # would hold: an entry of a third install
    third = "/nonexistent/lanmail-third/domains/x.third.test"
    assign = os.path.join(bk, "users", "assign")
    lines = open(assign).read().splitlines()
    lines.insert(lines.index("."), "+x.third.test-:%s:0:0:%s:-::" % (v.vmail_user(), third))
    t.write(assign, "\n".join(lines) + "\n")
    before = tree(os.path.join(H, "domains", R))

    rc, out, err = admin_in(C, "restore", bk)
    t.ok(rc == 0 and third in err and "left as it is" in err,
         "restored into %s; the third install's path named in a warning (%s)" % (C, err.strip()))
    cassign = open(os.path.join(C, "users", "assign")).read()
    t.ok(("+%s-:" % R) in cassign and (":%s/domains/%s:" % (C, R)) in cassign and (":%s:" % third) in cassign,
         "users/assign names the new root for %s, the third install's path as it was" % R)
    t.is_(open(os.path.join(C, "domains", R, ".qmail-team")).read(),
          "|%s/bin/qmail-list deliver %s/domains/%s/.lists/team\n" % (C, C, R),
          "the list's .qmail file names the new root's qmail-list and list directory")
    t.is_(open(os.path.join(C, "alias", ".qmail-mailer-daemon")).read(), "%s/alias/Maildir/\n" % C,
          "an absolute Maildir line of alias/ names the new root")
    t.is_(files_holding(C, H.encode()), [], "no file of the new install names the old root")

    # mail queued in the new install lands there
    send2 = start_send(C)
    cbob = os.path.join(C, "domains", R, "bob", "Maildir")

    def moved():
        return [f for f in files_under(os.path.join(cbob, "new")) + files_under(os.path.join(cbob, "cur"))
                if b"after the move" in open(f, "rb").read()]
    try:
        rd, wr = os.pipe()
        os.write(wr, b"Fbob@%s\0Tbob@%s\0Tteam@%s\0\0" % (R.encode(), R.encode(), R.encode()))
        os.close(wr)
        p = subprocess.run([os.path.join(C, "bin", "qmail-queue")], stdout=rd, stderr=subprocess.PIPE,
                           input=b"From: bob@%s\nSubject: moved\n\nafter the move\n" % R.encode())
        os.close(rd)
        t.is_(p.returncode, 0, "a message for bob@%s and team@%s queued in the new install" % (R, R))
        t.wait_until(lambda: len(moved()) >= 2, 30)
    finally:
        stop_send(send2)
    got = moved()
    t.ok(len(got) == 2 and any(b"List-" in open(f, "rb").read() for f in got),
         "bob's mailbox in the new install has it twice, direct and through the list (%d)" % len(got))
    t.is_(tree(os.path.join(H, "domains", R)), before, "nothing landed in the old install")

    # a backup without alias/ (older versions made them) restores, and
    # leaves the install's alias/ as it is
    for d in admin_in(C, "domain", "list")[1].split():
        admin_in(C, "domain", "del", d, "--force")
    shutil.rmtree(os.path.join(bk, "alias"), ignore_errors=True)
    t.write(os.path.join(C, "alias", ".qmail-root"), "&kept@example.test\n")
    rc, out, err = admin_in(C, "restore", bk)
    t.ok(rc == 0 and os.path.isdir(os.path.join(C, "domains", R, "bob", "Maildir")) and
         open(os.path.join(C, "alias", ".qmail-root")).read() == "&kept@example.test\n",
         "a backup without alias/ restores, the install's alias/ untouched (%s)" % err.strip())


try:
    t.control("me", "mail.backup.test\n")
    t.control("locals", "mail.backup.test\n")
    t.is_(v.admin("domain", "add", D)[0], 0, "domain add")
    t.is_(v.admin("user", "add", "alice@" + D, "--stdin", "--quota", "90000000", stdin="alice pw\n")[0], 0,
          "user add alice")
    t.is_(v.admin("user", "add", "bob@" + D, "--stdin", stdin="bob pw\n")[0], 0, "user add bob")
    t.is_(v.admin("alias", "add", "info@" + D, "alice@" + D)[0], 0, "alias add")
    ok = all(v.deliver(D, "alice", msg(i, 200 + 50 * i)) == 0 for i in range(40))
    ok = ok and all(v.deliver(D, "bob", msg(100 + i)) == 0 for i in range(5))
    t.ok(ok, "45 messages stored with qmail-local")
    # names the copy must not take for temporaries, Maildirs that are none
    t.is_(v.admin("user", "add", "bob.tmp@" + D, "--stdin", stdin="bobtmp pw\n")[0], 0, "user add bob.tmp")
    t.is_(v.deliver(D, "bob.tmp", msg(200)), 0, "a message for bob.tmp")
    news = os.path.join(v.maildir(D, "alice"), ".news")
    for sub in ("", "tmp", "new", "cur"):
        os.mkdir(os.path.join(news, sub))
    t.write(os.path.join(news, "maildirfolder"), "")
    t.write(os.path.join(news, "cur", "1700000000.1.host:2,S"), msg(300).decode())
    t.write(os.path.join(news, "new", "1700000001.1.host"), msg(301).decode())
    t.is_(v.admin("domain", "add", D2)[0], 0, "a domain whose mailboxes are called new, cur and tmp")
    for u in ("new", "cur", "tmp"):
        v.admin("user", "add", "%s@%s" % (u, D2), "--stdin", stdin="pw of %s\n" % u)
        v.deliver(D2, u, msg(400))
    odd = {"bob.tmp": os.path.join(H, "domains", D, "bob.tmp"), ".news": news,
           D2: os.path.join(H, "domains", D2)}
    odd_before = {k: tree(p) for k, p in odd.items()}
    t.ok(all(odd_before.values()) and len(odd_before[D2]) > 20, "they hold files")
    amd, bmd = v.maildir(D, "alice"), v.maildir(D, "bob")
    for n in sorted(os.listdir(os.path.join(amd, "new")))[:10]:
        os.rename(os.path.join(amd, "new", n), os.path.join(amd, "cur", n + ":2,S"))
    with open(os.path.join(amd, "tmp", "123.half.written"), "wb") as f:
        f.write(b"half")   # a delivery that died: not to be copied
    before_a, _ = maildir_files(amd)
    before_b, _ = maildir_files(bmd)

    # alias/: the postmaster pointed elsewhere, mail in the alias Maildir
    t.write(os.path.join(ALIAS, ".qmail-postmaster"), "&alice@%s\n" % D)
    t.write(ALIAS_MSG, "Subject: for the postmaster\n\nkept\n", 0o600)

    # mail arrives during the backup
    stop = threading.Event()
    injected = []   # (token, time qmail-queue returned)

    def injector():
        i = 1000
        while not stop.is_set() and i < 3000:
            if HAVE_SEND:
                rc = inject(i)
            else:
                rc = v.deliver(D, "alice", msg(i, 2000))
            if rc == 0:
                injected.append((i, time.time()))
            i += 1

    def reader():
        """Reads new mail (new/ to cur/), and marks and unmarks the
        messages it had read before (their flags change by rename in
        cur/, which a pass over cur/ may see under both names)."""
        flip = 0
        while not stop.is_set():
            for n in os.listdir(os.path.join(amd, "new")):
                if n in before_a:
                    continue
                try:
                    os.rename(os.path.join(amd, "new", n), os.path.join(amd, "cur", n + ":2,"))
                except FileNotFoundError:
                    pass
            flip += 1
            for n in os.listdir(os.path.join(amd, "cur")):
                if n.split(":")[0] in before_a and n.endswith((":2,S", ":2,RS")):
                    try:
                        os.rename(os.path.join(amd, "cur", n),
                                  os.path.join(amd, "cur", n.split(":")[0] + (":2,S" if flip % 2 else ":2,RS")))
                    except FileNotFoundError:
                        pass
            time.sleep(0.002)

    if HAVE_SEND:
        send = start_send()
    threads = [threading.Thread(target=injector), threading.Thread(target=reader)]
    for th in threads:
        th.start()
    # mail has arrived before the backup begins, whatever the machine's pace
    t.wait_until(lambda: len(injected) >= 3, 60)
    # what a user del that stopped part way left renamed (qmail-admin(8))
    gone = os.path.join(H, "domains", D, ".deleted.gone")
    os.makedirs(os.path.join(gone, "Maildir", "new"))
    t.write(os.path.join(gone, "Maildir", "new", "1.2.x"), "old mail\n")
    bdir = os.path.join(t.tmpdir("lanmail-backup."), "b")
    t_begin = time.time()
    rc, out, err = v.admin("backup", bdir, "--queue")
    # and more from its start on (a backup quicker than one message has
    # the one then under way): waited for, not guessed with a pause
    t.wait_until(lambda: any(when >= t_begin for _i, when in injected), 60)
    stop.set()
    for th in threads:
        th.join()
    t.is_(rc, 0, "qmail-admin backup --queue while mail arrives (%s)" % err.strip())
    before = {i for i, when in injected if when < t_begin}
    during = {i for i, when in injected if when >= t_begin}
    t.ok(len(before) > 0 and len(during) > 0,
         "%d messages %s before the backup began, %d during it" %
         (len(before), "queued" if HAVE_SEND else "delivered", len(during)))
    mark = open(os.path.join(bdir, "lanmail-backup")).read()
    t.ok(mark.startswith("lanmail-backup 1\nhome %s\n" % H) and "queue yes" in mark,
         "the lanmail-backup mark says what the backup holds")

    bamd = os.path.join(bdir, "domains", D, "alice", "Maildir")
    ba, bcount = maildir_files(bamd)
    live_a, _ = maildir_files(amd)
    t.ok(set(before_a) <= set(ba), "every message alice had stored is in the backup")
    t.is_(bcount, len(ba), "no message is in the backup twice (new/ and cur/)")
    t.ok(all(k in live_a and live_a[k][1] == ba[k][1] for k in ba),
         "every message in the backup is whole, byte for byte")
    t.is_(os.listdir(os.path.join(bamd, "tmp")), [], "tmp/ is copied empty")
    bb, _ = maildir_files(os.path.join(bdir, "domains", D, "bob", "Maildir"))
    t.is_({k: h for k, (p, h) in bb.items()}, {k: h for k, (p, h) in before_b.items()},
          "bob's mailbox is in the backup")
    bodd = {"bob.tmp": os.path.join(bdir, "domains", D, "bob.tmp"), ".news": os.path.join(bamd, ".news"),
            D2: os.path.join(bdir, "domains", D2)}
    for k in odd:
        t.is_(tree(bodd[k]), odd_before[k], "%s is in the backup whole" % k)
    in_backup = tokens_in([p for p, h in ba.values()] + files_under(os.path.join(bdir, "queue", "mess")))
    missing = before - in_backup
    t.ok(not missing, "every message queued before the backup is in its queue or Maildir copy"
         + (" (missing %s)" % sorted(missing)[:10] if missing else ""))
    t.ok(not os.path.exists(os.path.join(bdir, "users", "admin.lock")), "the lock file is left out")
    balias = os.path.join(bdir, "alias")
    t.ok(os.path.isdir(balias) and
         open(os.path.join(balias, ".qmail-postmaster")).read() == "&alice@%s\n" % D and
         os.path.exists(os.path.join(balias, "Maildir", "new", os.path.basename(ALIAS_MSG))),
         "alias/ is in the backup: the postmaster's .qmail file and the alias Maildir")
    t.ok(not os.path.exists(os.path.join(bdir, "domains", D, ".deleted.gone")),
         "so is what a stopped user del left in the domain directory")
    shutil.rmtree(gone)
    t.ok(os.path.isdir(os.path.join(H, "users", "authfail")) and
         not os.path.exists(os.path.join(bdir, "users", "authfail")),
         "users/authfail/ (qmail-auth's failed-login counts) is left out")
    bq = open(os.path.join(bamd, "maildirsize")).read()
    t.ok(bq.startswith("90000000S\n") and len(bq.splitlines()) > 40,
         "the quota file is in the backup as it was, usage lines and all")
    rc, out, err = v.admin("backup", bdir)
    t.ok(rc == 100 and "not empty" in err, "a backup into a used directory is refused")
    rc, out, err = v.admin("backup", os.path.join(H, "domains", "x"))
    t.ok(rc == 100 and "inside" in err and not os.path.exists(os.path.join(H, "domains", "x")),
         "a backup inside the install is refused")
    tt = t.tmpdir()
    os.mkdir(os.path.join(tt, "x"))
    os.symlink(H, os.path.join(tt, "home"))
    for how, path in (("through ..", os.path.join(tt, "x", "..", os.path.relpath(H, tt), "domains", "bk")),
                      ("through a link", os.path.join(tt, "home", "domains", "bk")),
                      ("the install itself, through a link", os.path.join(tt, "home"))):
        rc, out, err = v.admin("backup", path)
        t.ok(rc == 100 and "inside" in err and not os.path.exists(os.path.join(H, "domains", "bk")),
             "a backup inside the install spelled %s is refused: %s" % (how, err.strip()))

    # a fresh start: qmail-send stopped, the domain and the queue gone
    stop_send(send)
    send = None
    t.is_(v.admin("domain", "del", D, "--force")[0], 0, "domain del --force")
    t.is_(v.admin("domain", "del", D2, "--force")[0], 0, "domain del --force of the other")
    t.clear_queue()
    # a fresh install: the alias files as install made them, no alias mail
    t.write(os.path.join(ALIAS, ".qmail-postmaster"), "./Maildir/\n")
    os.unlink(ALIAS_MSG)
    rc, out, err = v.admin("restore", os.path.join(t.tmpdir(), "nothing"))
    t.is_(rc, 100, "restore from a directory without a backup refused")
    # restore replaces control/ and users/: a domain of this install would
    # lose its lines there, so an install with any domain is refused
    t.is_(v.admin("domain", "add", OTHER)[0], 0, "a domain the backup does not have")
    rc, out, err = v.admin("restore", bdir)
    t.ok(rc == 100 and OTHER in err and "fresh install" in err and
         OTHER in open(os.path.join(H, "control", "virtualdomains")).read() and
         not os.path.exists(os.path.join(H, "domains", D)),
         "restore into an install with a domain of its own refused, nothing changed (%s)" % err.strip())
    t.is_(v.admin("domain", "del", OTHER)[0], 0, "that domain deleted again")
    rc, out, err = v.admin("restore", bdir)
    t.is_(rc, 0, "qmail-admin restore (%s)" % err.strip())
    rc, out, err = v.admin("restore", bdir)
    t.ok(rc == 100 and D in err and D2 in err, "a second restore refused, naming the domains there (%s)"
         % err.strip())
    t.ok(open(os.path.join(ALIAS, ".qmail-postmaster")).read() == "&alice@%s\n" % D and
         open(ALIAS_MSG).read() == "Subject: for the postmaster\n\nkept\n",
         "alias/ restored: the postmaster's .qmail file and the alias user's mail")
    ra, _ = maildir_files(amd)
    t.is_({k: h for k, (p, h) in ra.items()}, {k: h for k, (p, h) in ba.items()},
          "alice's mailbox restored byte for byte")
    t.ok(D in open(os.path.join(H, "control", "virtualdomains")).read() and
         ("+%s-:" % D) in open(os.path.join(H, "users", "assign")).read(),
         "control/virtualdomains and users/assign restored")
    t.ok(os.path.isdir(os.path.join(H, "users", "authfail")), "users/authfail/ is still there")
    t.is_([x for x in v.admin("alias", "list", D)[1].splitlines() if not x.startswith("postmaster@")],
          ["info@%s: alice@%s" % (D, D)], "the alias is back")
    for k in odd:
        t.is_(tree(odd[k]), tree(bodd[k]), "%s restored whole" % k)
    r, _, rep = v.login(v.pop3_server(), "new@" + D2, "pw of new")
    t.ok(rep.startswith(b"+OK 1 "), "the mailbox called new logs in and has its message")
    r.close()
    # the usage lines of the backup were counted while mail arrived;
    # the restore keeps the quota and lets the usage be recounted
    t.is_(open(os.path.join(amd, "maildirsize")).read(), "90000000S\n",
          "the quota line is back, its usage left to be recounted")
    t.is_(v.deliver(D, "alice", msg(5000)), 0, "a delivery after the restore")
    lines = open(os.path.join(amd, "maildirsize")).read().splitlines()
    usage = [sum(int(x.split()[k]) for x in lines[1:]) for k in (0, 1)]
    # Maildir++: the folder's messages count too
    files = [p for p, h in maildir_files(amd)[0].values()] + \
        [p for p, h in maildir_files(os.path.join(amd, ".news"))[0].values()]
    t.is_(usage, [sum(os.stat(p).st_size for p in files), len(files)],
          "recounts the usage: it matches the restored mailbox and its folder")
    bq = sorted(hashlib.sha256(open(f, "rb").read()).hexdigest()
                for f in files_under(os.path.join(bdir, "queue", "mess")))
    rq = sorted(hashlib.sha256(open(f, "rb").read()).hexdigest() for f in t.queue_files("mess"))
    t.is_(rq, bq, "the queued messages are back (%d)" % len(rq))
    okids = True
    for f in t.queue_files("mess"):
        ino = str(os.stat(f).st_ino)
        split = os.path.basename(os.path.dirname(f))
        okids = okids and os.path.basename(f) == ino and (
            os.path.exists(os.path.join(H, "queue", "todo", split, ino)) or
            os.path.exists(os.path.join(H, "queue", "info", split, ino)))
    t.ok(okids, "each has its inode number as id, and its envelope under that id")
    t.is_(t.queue_files("intd") + t.queue_files("pid"), [], "nothing left in intd/ or pid/")

    if HAVE_SEND:
        send = start_send()
        t.ok(t.wait_until(lambda: not any(t.queue_files(d) for d in ("mess", "todo", "info", "local")), 60),
             "a restarted qmail-send delivers the restored queue")
        stop_send(send)
        send = None
        got = tokens_in(f for f in v.messages(D, "alice"))
        missing = before - got
        t.ok(not missing, "every message queued before the backup reached the mailbox"
             + (" (missing %s)" % sorted(missing)[:10] if missing else ""))
    else:
        t.skip("no qmail-send", 2)

    port = v.pop3_server()
    n = len(v.messages(D, "alice"))
    r, _, rep = v.login(port, "alice@" + D, "alice pw")
    t.ok(rep.startswith(b"+OK %d " % n), "alice logs in over POP3 and sees all %d messages" % n)
    st = r.cmd("RETR %d" % n)
    body = r.multi()
    r.cmd("QUIT")
    r.close()
    t.ok(st.startswith(b"+OK") and body.endswith(b".\r\n"), "and reads the newest")
    r, _, rep = v.login(port, "bob@" + D, "bob pw")
    t.ok(rep.startswith(b"+OK 5 "), "bob's password works after the restore")
    r.close()
    # a big cur/ where a tenth of the messages keep changing their flags:
    # a pass over it may see one under its old and its new name, and
    # copies it once
    t.is_(v.admin("domain", "add", D3)[0], 0, "a domain for a busy reader")
    v.admin("user", "add", "busy@" + D3, "--stdin", stdin="busy pw\n")
    cur = os.path.join(v.maildir(D3, "busy"), "cur")
    for i in range(3000):
        with open(os.path.join(cur, "1700%06d.M1P1.host:2,S" % i), "w") as f:
            f.write("x\n")
    stop = threading.Event()

    flipping = ["1700%06d.M1P1.host" % i for i in range(0, 3000, 10)]

    def flipper():
        k = 0
        while not stop.is_set():
            k += 1
            for b in flipping:
                try:
                    os.rename(os.path.join(cur, b + (":2,RS" if k % 2 else ":2,S")),
                              os.path.join(cur, b + (":2,S" if k % 2 else ":2,RS")))
                except FileNotFoundError:
                    pass

    th = threading.Thread(target=flipper)
    th.start()
    counts = []
    for k in range(2):
        bd = os.path.join(t.tmpdir("lanmail-backup."), "b")
        rc, out, err = v.admin("backup", bd)
        names = os.listdir(os.path.join(bd, "domains", D3, "busy", "Maildir", "cur")) if rc == 0 else []
        counts.append((rc, len(names), len({n.split(":")[0] for n in names})))
    stop.set()
    th.join()
    t.is_(counts, [(0, 3000, 3000)] * 2, "each message copied once while its flags change (twice)")
    v.cleanup(D3)

    # a restore into another install, with another root
    C = build_second()
    if C is None:
        t.skip("no second install could be built", 12)
    else:
        move_to_second(C)
finally:
    stop_send(send)
    for d in (D, D2, D3, OTHER, R):
        v.cleanup(d)
    for n in os.listdir(ALIAS):
        if n.startswith(".qmail-") and n not in alias_saved:
            os.unlink(os.path.join(ALIAS, n))
    for n, data in alias_saved.items():
        t.write(os.path.join(ALIAS, n), data)
    if os.path.exists(ALIAS_MSG):
        os.unlink(ALIAS_MSG)
    for c, data in saved.items():
        p = os.path.join(H, c)
        if data is None:
            if os.path.exists(p):
                os.unlink(p)
        else:
            t.write(p, data)
    t.clear_queue()
t.done()
