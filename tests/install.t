#!/usr/bin/python3
# install.t - what make install lays out: the tree of qmail-queue(8) and
# lanmail-queue(5), users/authfail/ for qmail-auth(8), and mail for
# postmaster, root and mailer-daemon reaching the alias user's Maildir on
# a fresh install.
import mailbox
import os
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lanmail as t

t.need_home()
H = t.HOME
for d in ("bin", "control", "queue", "users", "alias", "domains", "service", "log", "man"):
    t.ok(os.path.isdir(os.path.join(H, d)), "%s/ exists" % d)
t.ok(stat.S_ISFIFO(os.stat(os.path.join(H, "queue/lock/trigger")).st_mode), "queue/lock/trigger is a fifo")
t.ok(os.path.isdir(os.path.join(H, "queue/mess/0")), "queue/mess is split")

alias = os.path.join(H, "alias")
md = os.path.join(alias, "Maildir")
t.ok(all(os.path.isdir(os.path.join(md, x)) for x in ("tmp", "new", "cur")), "alias/Maildir is a Maildir")
for who in ("postmaster", "mailer-daemon", "root"):
    p = os.path.join(alias, ".qmail-" + who)
    t.ok(os.path.exists(p) and os.stat(p).st_mode & 0o022 == 0, ".qmail-%s shipped, not group/world writable" % who)
    r = subprocess.run([os.path.join(t.BIN, "qmail-local"), "-n", "alias", alias, "alias-" + who, "-", who,
                        "example.org", "s@x.example", "./Maildir/"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    t.is_((r.returncode, r.stdout), (0, "./Maildir/\n"), "mail for %s goes to alias/Maildir" % who)

# users/authfail/: qmail-auth's failed-login counts, written by the
# qmaild and vmail users through their group (setgid, 2770); in this
# single-user install the installer's own
st = os.stat(os.path.join(H, "users", "authfail"))
t.is_((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (os.getuid(), os.getgid(), 0o2770),
      "users/authfail/ is the installer's, mode 2770")
# an older install without it: install.sh, run again, makes it and
# leaves what is there alone
dest = t.tmpdir("install.")
user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
inst = ["sh", os.path.join(t.SRC, "install.sh"), t.BUILD, dest, "/lm", "1", user, ""]
r1 = subprocess.run(inst, capture_output=True, text=True, cwd=t.SRC)
shutil.rmtree(os.path.join(dest, "lm", "users", "authfail"), ignore_errors=True)
t.write(os.path.join(dest, "lm", "users", "assign"), "=kept:x:1:1:/x:::\n.\n", 0o600)
r2 = subprocess.run(inst, capture_output=True, text=True, cwd=t.SRC)
st = os.stat(os.path.join(dest, "lm", "users", "authfail"))
t.ok(r1.returncode == 0 and r2.returncode == 0 and stat.S_IMODE(st.st_mode) == 0o2770 and
     open(os.path.join(dest, "lm", "users", "assign")).read() == "=kept:x:1:1:/x:::\n.\n",
     "install.sh again on an install without users/authfail/ makes it, users/assign untouched" +
     (": " + r1.stderr + r2.stderr if r1.returncode or r2.returncode else ""))

# one real delivery, read back, then removed
msg = b"From: a@b.example\nTo: postmaster@example.org\nSubject: install test\n\nhello postmaster\n"
r = subprocess.run([os.path.join(t.BIN, "qmail-local"), "alias", alias, "alias-postmaster", "-", "postmaster",
                    "example.org", "s@x.example", "./Maildir/"],
                   input=msg, capture_output=True, timeout=30)
t.is_(r.returncode, 0, "qmail-local delivers postmaster's mail")
box = mailbox.Maildir(md, create=False)
subjects = [m["Subject"] for m in box]
t.ok("install test" in subjects, "the message is in alias/Maildir/new")
for key, m in list(box.items()):
    if m["Subject"] == "install test":
        box.remove(key)
t.done()
