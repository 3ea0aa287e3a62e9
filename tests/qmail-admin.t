#!/usr/bin/python3
"""qmail-admin: domains, mailboxes, passwords, aliases and lists.

Every command is run for real against the scratch install; its effect
is checked in the files (control/, users/, domains/), in the compiled
cdbs (through qmail-auth and qmail-local, the programs that read them),
and every bad input must be refused with exit 100 and change nothing.
"""
import hashlib
import os
import pty
import select
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
import smtpdtest as s  # noqa: E402

D = "admin.test.example"
D2 = "other.admin.test.example"
D3 = "third.admin.test.example"
D4 = "import.admin.test.example"
for d in (D, D2, D3, D4):
    v.cleanup(d)
t.control("minpasswordlength", None)
H = t.HOME
# what this test changes beyond its domains, put back at the end
SAVED = ("control/me", "control/locals", "control/rcpthosts", "control/virtualdomains",
         "users/recipients", "users/recipients.cdb", "users/assign", "users/assign.cdb", "users/webtotp")
saved = {}
for f in SAVED:
    p = os.path.join(H, f)
    saved[f] = open(p, "rb").read() if os.path.exists(p) else None


def read(rel):
    try:
        with open(os.path.join(H, rel)) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def snapshot():
    """Every file qmail-admin may touch, by content."""
    out = {}
    for top in ("control", "users", "domains"):
        for root, dirs, files in os.walk(os.path.join(H, top)):
            for n in files + dirs:
                p = os.path.join(root, n)
                if n == "admin.lock":
                    continue
                if os.path.isdir(p):
                    out[p] = "dir"
                else:
                    out[p] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


def auth(login, pw):
    """qmail-auth with login and password on descriptor 3 (from sh's stdin)."""
    p = subprocess.run(
        ["sh", "-c", 'exec "$0" sh -c \'echo "$USER $HOME $MAILDIR"; pwd\' 3<&0',
         os.path.join(t.BIN, "qmail-auth")],
        input=login.encode() + b"\0" + pw.encode() + b"\0" + b"0\0", capture_output=True)
    return p.returncode, p.stdout.decode()


# domain add
rc, out, err = v.admin("domain", "add", D)
t.is_(rc, 0, "domain add")
t.ok((D + ":" + D + "\n") in read("control/virtualdomains"), "control/virtualdomains has domain:domain")
t.ok((D + "\n") in read("control/rcpthosts").splitlines(True), "control/rcpthosts has the domain")
assign = read("users/assign")
want = "+%s-:%s:%d:%d:%s/domains/%s:-::\n" % (D, v.vmail_user(), os.getuid(), os.getgid(), H, D)
t.ok(want in assign and assign.endswith("\n.\n"), "users/assign has the +domain- line and the final dot")
t.ok(os.path.exists(os.path.join(H, "users/assign.cdb")), "qmail-newu compiled users/assign.cdb")
st = os.stat(os.path.join(H, "domains", D))
t.is_(oct(st.st_mode & 0o777), "0o750", "domains/DOMAIN mode 750")
t.ok(os.path.exists(os.path.join(H, "domains", D, "vpasswd.cdb")), "an empty vpasswd.cdb exists")
t.ok(D in v.admin("domain", "list")[1].split(), "domain list shows it")
t.is_(v.admin("domain", "add", D2)[0], 0, "a second domain")

# two domains of which one is the other followed by a hyphen and more:
# REST-USER@SHORT would reach USER@LONG through users/assign's longest
# prefix, so the second of them is refused, whichever comes first
SHORT = "shop.admin.test.example"
LONG = SHORT + "-luxe.test"
for d in (SHORT, LONG):
    v.cleanup(d)
t.is_(v.admin("domain", "add", SHORT)[0], 0, "domain add " + SHORT)
before = snapshot()
rc, out, err = v.admin("domain", "add", LONG)
t.ok(rc == 100 and SHORT in err and ("luxe.test-USER@%s would go to USER@%s" % (SHORT, LONG)) in err,
     "domain add of it followed by a hyphen and more: refused, naming it and why: " + err.strip())
t.ok(snapshot() == before, "and nothing changed")
t.is_(v.admin("domain", "del", SHORT)[0], 0, "domain del " + SHORT)
t.is_(v.admin("domain", "add", LONG)[0], 0, "domain add " + LONG)
rc, out, err = v.admin("domain", "add", SHORT)
t.ok(rc == 100 and LONG in err and ("luxe.test-USER@%s would go to USER@%s" % (SHORT, LONG)) in err,
     "the other way round: refused too: " + err.strip())
t.is_(v.admin("domain", "add", SHORT + "x")[0], 0, "a name that only begins the same is fine")
for d in (SHORT + "x", LONG):
    v.cleanup(d)

# domain refusals change nothing
before = snapshot()
for args, what in ((["domain", "add", D], "a domain that exists"),
                   (["domain", "add", "not_a_domain"], "an underscore in a domain"),
                   (["domain", "add", "-bad.example"], "a label starting with a hyphen"),
                   (["domain", "add", "a..b"], "an empty label"),
                   (["domain", "add", "../etc"], "a path"),
                   (["domain", "add", "x" * 64 + ".example"], "a 64-octet label"),
                   (["domain", "del", "nosuch.example"], "deleting an unknown domain"),
                   (["domain", "frob", D], "an unknown verb"),
                   (["domain"], "no verb"),
                   (["user", "add", "nobody@nosuch.example", "--stdin"], "a mailbox in an unknown domain"),
                   (["user", "add", "no-at-sign", "--stdin"], "an address without @"),
                   (["user", "add", ".dot@" + D, "--stdin"], "a local part starting with a dot"),
                   (["user", "add", "a..b@" + D, "--stdin"], "two dots in a local part"),
                   (["user", "add", "sp ace@" + D, "--stdin"], "a blank in a local part"),
                   (["user", "add", "a/b@" + D, "--stdin"], "a slash in a local part"),
                   (["user", "add", "x" * 65 + "@" + D, "--stdin"], "a 65-octet local part"),
                   (["user", "add", "default@" + D, "--stdin"], "the reserved name default"),
                   (["user", "add", "x-default@" + D, "--stdin"], "a mailbox name ending in -default"),
                   (["alias", "add", "sales-default@" + D, "a@b.example"], "an alias name ending in -default"),
                   (["list", "add", "team-default@" + D, "a@b.example"], "a list name ending in -default"),
                   (["list", "make", "news-default@" + D], "a list made with a name ending in -default"),
                   (["user", "quota", "ghost@" + D, "1000"], "a quota for nobody"),
                   (["user", "quota", "ghost@" + D], "a quota without its bytes"),
                   (["user", "add", "--bogus"], "an unknown option"),
                   (["user", "add", "q@" + D, "--stdin", "--quota", "lots"], "a quota that is no number"),
                   (["user", "del", "ghost@" + D], "deleting a mailbox that does not exist"),
                   (["user", "passwd", "ghost@" + D, "--stdin"], "a new password for nobody"),
                   (["alias", "add", "al@" + D], "an alias without a target"),
                   (["alias", "add", "al@" + D, "not an address"], "an alias to junk"),
                   (["alias", "add", "al@" + D, "|/bin/sh"], "an alias to a program"),
                   (["alias", "del", "al@" + D], "deleting an alias that does not exist"),
                   (["list", "members", "nolist@" + D], "members of no list")):
    rc, out, err = v.admin(*args, stdin="Secret-1\n")
    t.ok(rc == 100 and err.startswith("qmail-admin: fatal: "),
         "refused (100, clear message): %s: %s" % (what, err.strip()))
t.ok(snapshot() == before, "the refusals changed nothing")
rc, out, err = v.admin("user", "add", "x-default@" + D, "--stdin", stdin="Secret-1\n")
t.ok("reserved name: x-default" in err and ("every x-...@%s address" % D) in err,
     "the message says which addresses it would catch: " + err.strip())

# mailboxes
rc, out, err = v.admin("user", "add", "Alice@" + D.upper(), "--stdin", stdin="first secret\n")
t.is_(rc, 0, "user add (upper case folded)")
md = os.path.join(H, "domains", D, "alice", "Maildir")
t.ok(all(os.path.isdir(os.path.join(md, s)) for s in ("tmp", "new", "cur")), "Maildir with tmp new cur")
t.is_(read("domains/%s/.qmail-alice" % D), "./alice/Maildir/\n", ".qmail-alice delivers to the Maildir")
vp = read("domains/%s/vpasswd" % D)
t.ok(vp.startswith("alice:$6$") and "first secret" not in vp, "vpasswd holds a SHA-512 crypt hash, not the password")
t.is_(oct(os.stat(os.path.join(H, "domains", D, "vpasswd")).st_mode & 0o777), "0o600", "vpasswd mode 600")
t.ok("alice@%s\n" % D in read("users/recipients"), "users/recipients lists the address")
rc, out = auth("alice@" + D, "first secret")
t.ok(rc == 0 and out.split("\n")[0] == "alice@%s %s/domains/%s/alice %s/domains/%s/alice/Maildir/" % (D, H, D, H, D),
     "qmail-auth accepts the password, sets USER HOME MAILDIR")
t.is_(out.split("\n")[1], "%s/domains/%s/alice" % (H, D), "and runs the program in the mailbox directory")
t.is_(auth("alice@" + D, "wrong")[0], 1, "qmail-auth refuses a wrong password")

rc, out, err = v.admin("user", "add", "bob.smith@" + D, "--stdin", "--quota=1000000", stdin="bob pw\n")
t.is_(rc, 0, "user add with a dot and a quota")
t.ok(os.path.exists(os.path.join(H, "domains", D, ".qmail-bob:smith")), ".qmail file names dots as colons")
t.is_(read("domains/%s/bob.smith/Maildir/maildirsize" % D), "1000000S\n", "the quota is in Maildir++ maildirsize")
t.ok(":1000000" in [l for l in read("domains/%s/vpasswd" % D).splitlines() if l.startswith("bob.smith:")][0],
     "and in vpasswd's third field")
t.is_(v.admin("user", "list", D)[1], "alice@%s\nbob.smith@%s quota=1000000 used=0\n" % (D, D),
      "user list: the quota and its Maildir++ usage")

MSG = b"Received: (lanmail 1 invoked by uid 0); 28 Nov 2026 17:00:00 +0000\nSubject: hi\n\nhello\n"
t.is_(v.deliver(D, "bob.smith", MSG), 0, "qmail-local delivers to bob.smith through .qmail-bob:smith")
t.is_(len(v.messages(D, "bob.smith")), 1, "the message is in bob.smith's Maildir")
used = os.path.getsize(v.messages(D, "bob.smith")[0])
t.is_(v.admin("user", "list", D)[1], "alice@%s\nbob.smith@%s quota=1000000 used=%d\n" % (D, D, used),
      "user list shows the delivered message in the usage")

before = snapshot()
for args, stdin, what in ((["user", "add", "alice@" + D, "--stdin"], "x\n", "a mailbox that exists"),
                          (["user", "add", "carol@" + D, "--stdin"], "", "no password on stdin"),
                          (["user", "add", "carol@" + D, "--stdin"], "\n", "an empty password")):
    rc, out, err = v.admin(*args, stdin=stdin)
    t.ok(rc == 100 and "fatal" in err, "refused: %s: %s" % (what, err.strip()))
t.control("minpasswordlength", "12\n")
rc, out, err = v.admin("user", "add", "carol@" + D, "--stdin", stdin="short\n")
t.ok(rc == 100 and "too short" in err, "control/minpasswordlength refuses a short password")
t.control("minpasswordlength", None)
rc, out, err = subprocess.run([os.path.join(t.BIN, "qmail-admin"), "user", "add", "carol@" + D],
                              stdin=subprocess.DEVNULL, capture_output=True,
                              start_new_session=True).returncode, "", ""
t.is_(rc, 100, "no terminal and no --stdin: refused")
t.ok(snapshot() == before, "and nothing changed")

# the password from a terminal, twice
def on_tty(args, answers):
    """Run qmail-admin on a pseudo-terminal, answering each prompt."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(os.path.join(t.BIN, "qmail-admin"), ["qmail-admin"] + args)
    end = time.time() + 15

    def read_some():
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if not r:
            return None
        try:
            return os.read(fd, 1024)
        except OSError:
            return None

    for a in answers:
        seen = b""
        while not seen.endswith(b": "):
            d = read_some()
            if not d:
                break
            seen += d
        os.write(fd, a)
    while read_some():
        pass
    if time.time() >= end:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status)


t.is_(on_tty(["user", "add", "carol@" + D], [b"carols pw\n", b"carols pw\n"]), 0,
      "user add asks twice on the terminal")
t.is_(auth("carol@" + D, "carols pw")[0], 0, "and that password works")
t.is_(on_tty(["user", "passwd", "carol@" + D], [b"new one\n", b"typo\n"]), 100,
      "two different passwords on the terminal: refused")
t.is_(auth("carol@" + D, "carols pw")[0], 0, "and the old password still works")

# the password is read before the lock is taken: a run waiting at the
# prompt holds up no other one, and checks again once it has the password
class Tty:
    """qmail-admin on a pseudo-terminal, driven prompt by prompt."""

    def __init__(self, args):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(os.path.join(t.BIN, "qmail-admin"), ["qmail-admin"] + args)
        self.seen = b""

    def prompt(self, timeout=15):
        """True once the next prompt (ending in ": ") has come."""
        end = time.time() + timeout
        while True:
            i = self.seen.find(b": ")
            if i >= 0:
                self.seen = self.seen[i + 2:]
                return True
            r, _, _ = select.select([self.fd], [], [], max(0.0, end - time.time()))
            if not r:
                return False
            try:
                d = os.read(self.fd, 1024)
            except OSError:
                return False
            if not d:
                return False
            self.seen += d

    def finish(self, answers, timeout=15):
        """Answer the prompts; the exit code and what it wrote last."""
        for a in answers:
            os.write(self.fd, a)
            self.prompt(timeout)
        end = time.time() + timeout
        while time.time() < end:
            r, _, _ = select.select([self.fd], [], [], max(0.0, end - time.time()))
            try:
                d = os.read(self.fd, 1024) if r else b""
            except OSError:
                d = b""
            if not d:
                break
            self.seen += d
        if time.time() >= end:
            os.kill(self.pid, 9)
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status), self.seen.decode(errors="replace")


def admin_quick(*args, stdin=""):
    """qmail-admin that must not wait for the lock: None when it did."""
    try:
        p = subprocess.run([os.path.join(t.BIN, "qmail-admin")] + list(args), input=stdin.encode(),
                           capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return None
    return p.returncode, p.stdout.decode(), p.stderr.decode()


tty = Tty(["user", "add", "waiting@" + D])
t.ok(tty.prompt(), "user add at the password prompt")
got = admin_quick("user", "list", D)
t.ok(got is not None and got[0] == 0 and ("carol@%s\n" % D) in got[1],
     "user list meanwhile is not held up (%r)" % (got,))
got = admin_quick("user", "add", "waiting@" + D, "--stdin", stdin="other pw 1\n")
t.ok(got is not None and got[0] == 0, "nor is another user add of the same name (%r)" % (got,))
rc, out = tty.finish([b"waiting pw\n", b"waiting pw\n"])
t.ok(rc == 100 and "mailbox exists already" in out,
     "the one at the prompt then finds the mailbox made: 100 (%s)" % out.strip())
t.ok(auth("waiting@" + D, "other pw 1")[0] == 0 and auth("waiting@" + D, "waiting pw")[0] == 1,
     "the mailbox keeps the other run's password")
tty = Tty(["user", "passwd", "waiting@" + D])
t.ok(tty.prompt(), "user passwd at the password prompt")
got = admin_quick("user", "del", "waiting@" + D)
t.ok(got is not None and got[0] == 0, "user del meanwhile is not held up (%r)" % (got,))
rc, out = tty.finish([b"waiting pw\n", b"waiting pw\n"])
t.ok(rc == 100 and "no such mailbox" in out and "waiting:" not in read("domains/%s/vpasswd" % D),
     "the one at the prompt then finds it gone: 100, no line written (%s)" % out.strip())
tty = Tty(["admin", "add", "boss2"])
t.ok(tty.prompt(), "admin add at the password prompt")
got = admin_quick("admin", "add", "boss2", "--stdin", stdin="boss two pw\n")
t.ok(got is not None and got[0] == 0, "admin add of the same name meanwhile (%r)" % (got,))
rc, out = tty.finish([b"boss pw pw\n", b"boss pw pw\n"])
t.ok(rc == 100 and "exists already" in out and read("control/webadmins").count("boss2:") == 1,
     "the one at the prompt then finds it there: 100 (%s)" % out.strip())
v.admin("admin", "del", "boss2")

# passwd
t.is_(v.admin("user", "passwd", "alice@" + D, "--stdin", stdin="second secret\n")[0], 0, "user passwd")
t.is_(auth("alice@" + D, "first secret")[0], 1, "the old password no longer works")
t.is_(auth("alice@" + D, "second secret")[0], 0, "the new one does")
t.is_(v.admin("user", "passwd", "alice@" + D, "--stdin", "--quota", "5000", stdin="second secret\n")[0], 0,
      "user passwd --quota")
t.is_(read("domains/%s/alice/Maildir/maildirsize" % D), "5000S\n", "sets the Maildir++ quota")
t.is_(v.admin("user", "passwd", "alice@" + D, "--stdin", "--quota", "0", stdin="second secret\n")[0], 0,
      "user passwd --quota 0")
t.ok(not os.path.exists(os.path.join(H, "domains", D, "alice/Maildir/maildirsize")) and
     ("alice@%s" % D) in v.admin("user", "list", D)[1].splitlines(), "removes the quota")

# fields after the quota are kept (vpasswd(5)), by user passwd and user quota
VPF = os.path.join(H, "domains", D, "vpasswd")


def vline(user):
    return [l for l in read("domains/%s/vpasswd" % D).splitlines() if l.startswith(user + ":")][0]


old = vline("alice")
t.write(VPF, read("domains/%s/vpasswd" % D).replace(old + "\n", old + ":Alice A.:x\n"), 0o600)
t.is_(v.admin("sync")[0], 0, "extra fields in alice's vpasswd line")
t.is_(v.admin("user", "passwd", "alice@" + D, "--stdin", stdin="third secret\n")[0], 0, "user passwd")
new = vline("alice")
t.ok(new.endswith("::Alice A.:x") and new.split(":")[1] != old.split(":")[1],
     "a new hash, the fields after the quota kept: " + new[-20:])
t.is_(v.admin("user", "passwd", "alice@" + D, "--stdin", "--quota", "6000", stdin="second secret\n")[0], 0,
      "user passwd --quota")
t.ok(vline("alice").endswith(":6000:Alice A.:x"), "the quota set, the fields kept")
t.is_(auth("alice@" + D, "second secret")[0], 0, "and the password works")

# user quota: the quota alone
hash_before = vline("alice").split(":")[1]
rc, out, err = v.admin("user", "quota", "alice@" + D, "7000")
t.is_(rc, 0, "user quota (%s)" % err.strip())
t.ok(vline("alice") == "alice:%s:7000:Alice A.:x" % hash_before and
     read("domains/%s/alice/Maildir/maildirsize" % D) == "7000S\n",
     "the quota in vpasswd and maildirsize, the hash and the other fields as they were")
t.ok(auth("alice@" + D, "second secret")[0] == 0 and "alice@%s quota=7000 used=" % D in v.admin("user", "list", D)[1],
     "the password still works, user list shows the quota")
rc, out, err = v.admin("user", "quota", "alice@" + D, "0")
t.ok(rc == 0 and vline("alice") == "alice:%s::Alice A.:x" % hash_before and
     not os.path.exists(os.path.join(H, "domains", D, "alice/Maildir/maildirsize")),
     "user quota 0: no quota, no maildirsize")
before = snapshot()
for args, what in ((["user", "quota", "alice@" + D, "lots"], "bytes that are no number"),
                   (["user", "quota", "alice@" + D, "-1"], "negative bytes"),
                   (["user", "quota", "alice@" + D, "5", "--quota", "6"], "--quota beside it")):
    rc, out, err = v.admin(*args)
    t.ok(rc == 100 and "fatal" in err, "user quota refused: %s: %s" % (what, err.strip()))
t.ok(snapshot() == before, "and nothing changed")
t.write(VPF, read("domains/%s/vpasswd" % D).replace(":Alice A.:x\n", "\n"), 0o600)
v.admin("sync")

# a password on standard input without its final newline
PW = "Str0ng-Pass-99"
t.is_(v.admin("user", "passwd", "alice@" + D, "--stdin", stdin=PW)[0], 0,
      "user passwd --stdin: a password without a final newline")
t.is_(auth("alice@" + D, PW)[0], 0, "qmail-auth takes exactly that password")
t.is_(auth("alice@" + D, PW + "\n")[0], 1, "and nothing after it")
if shutil.which("valgrind"):
    p = subprocess.run(["valgrind", "-q", "--error-exitcode=99", os.path.join(t.BIN, "qmail-admin"),
                        "user", "passwd", "alice@" + D, "--stdin"], input=PW.encode(),
                       capture_output=True, timeout=600)
    t.ok(p.returncode == 0 and b"uninitialised" not in p.stderr,
         "valgrind: no uninitialised byte read from such a password")
    if p.returncode:
        t.diag(p.stderr.decode(errors="replace")[-3000:])
else:
    t.skip("valgrind is not installed")

# links the vmail user (owner of domains/) could leave for root to follow:
# each temporary name a link to a victim file, which must stay untouched
victim = os.path.join(t.tmpdir(), "victim")


def plant(rel):
    t.write(victim, "victim\n", 0o600)
    p = os.path.join(H, rel)
    if os.path.lexists(p):
        os.unlink(p)
    os.symlink(victim, p)
    return p


def untouched(p):
    return open(victim).read() == "victim\n" and not os.path.lexists(p)


dd = os.path.join(H, "domains", D)
p = plant("domains/%s/vpasswd.tmp" % D)
rc, out, err = v.admin("user", "passwd", "alice@" + D, "--stdin", stdin="An0ther-Pass-77\n")
t.ok(rc == 0 and untouched(p), "a link at vpasswd.tmp: passwd works, the link's target is untouched (%s)" % err.strip())
t.is_(auth("alice@" + D, "An0ther-Pass-77")[0], 0, "and the new password works")
p = plant("domains/%s/vpasswd.cdb.tmp" % D)
rc, out, err = v.admin("user", "passwd", "alice@" + D, "--stdin", stdin="second secret\n")
t.ok(rc == 0 and untouched(p) and auth("alice@" + D, "second secret")[0] == 0,
     "a link at vpasswd.cdb.tmp: the same (%s)" % err.strip())
p = plant("domains/%s/alice/Maildir/maildirsize.tmp" % D)
rc, out, err = v.admin("user", "passwd", "alice@" + D, "--stdin", "--quota", "5000", stdin="second secret\n")
t.ok(rc == 0 and untouched(p) and read("domains/%s/alice/Maildir/maildirsize" % D) == "5000S\n",
     "a link at Maildir/maildirsize.tmp: the quota is set, the target untouched (%s)" % err.strip())
v.admin("user", "passwd", "alice@" + D, "--stdin", "--quota", "0", stdin="second secret\n")
p = plant("domains/%s/.qmail-links.tmp" % D)
p2 = os.path.join(H, "users", "recipients.tmp")
os.symlink(victim, p2)
rc, out, err = v.admin("alias", "add", "links@" + D, "alice@" + D)
t.ok(rc == 0 and untouched(p) and untouched(p2) and read("domains/%s/.qmail-links" % D) == "# alias\n&alice@%s\n" % D,
     "links at .qmail-NAME.tmp and users/recipients.tmp: alias add works, nothing written through them")
v.admin("alias", "del", "links@" + D)
vdir = t.tmpdir()
for sub in ("Maildir", "Maildir/tmp", "Maildir/new", "Maildir/cur"):
    os.mkdir(os.path.join(vdir, sub))
t.write(os.path.join(vdir, "keep"), "keep\n")


def vdir_same():
    got = sorted(os.path.relpath(os.path.join(r, n), vdir) for r, ds, fs in os.walk(vdir) for n in ds + fs)
    return got == ["Maildir", "Maildir/cur", "Maildir/new", "Maildir/tmp", "keep"] and \
        open(os.path.join(vdir, "keep")).read() == "keep\n"


os.symlink(vdir, os.path.join(H, "domains", ".new"))
rc, out, err = v.admin("domain", "add", D3)
t.ok(rc == 0 and vdir_same() and not os.path.lexists(os.path.join(H, "domains", ".new")),
     "domains/.new a link to a directory: domain add works, only the link goes (%s)" % err.strip())
t.is_(v.admin("user", "add", "linked@" + D3, "--stdin", stdin="linked pw\n")[0], 0, "a mailbox")
box = os.path.join(H, "domains", D3, "linked")
shutil.rmtree(box)
os.symlink(vdir, box)
rc, out, err = v.admin("user", "passwd", "linked@" + D3, "--stdin", "--quota", "5000", stdin="linked pw2\n")
t.ok(rc == 111 and "symbolic link" in err and vdir_same() and auth("linked@" + D3, "linked pw")[0] == 0,
     "its directory made a link: a quota is refused (111), nothing changed, nothing written where it points: " +
     err.strip())
t.is_(v.admin("user", "passwd", "linked@" + D3, "--stdin", stdin="linked pw2\n")[0], 0, "a password alone is set")
t.is_(v.admin("user", "passwd", "linked@" + D3, "--stdin", "--quota", "5000", stdin="linked pw2\n")[0], 111,
      "a quota still is not")
rc, out, err = v.admin("user", "quota", "linked@" + D3, "5000")
t.ok(rc == 111 and "symbolic link" in err and vdir_same(), "nor by user quota: " + err.strip())
# a quota by hand in vpasswd, for the listing
line = read("domains/%s/vpasswd" % D3).rstrip("\n")
t.write(os.path.join(H, "domains", D3, "vpasswd"), line[:line.rindex(":") + 1] + "5000\n", 0o600)
v.admin("sync")
rc, out, err = v.admin("user", "list", D3)
t.ok(rc == 0 and "linked@%s quota=5000\n" % D3 in out, "user list shows no usage through the link")
rc, out, err = v.admin("user", "del", "linked@" + D3)
t.ok(rc == 0 and not os.path.lexists(box) and vdir_same(), "user del removes the link, not what it names")
d3 = os.path.join(H, "domains", D3)
os.rename(d3, d3 + ".real")
os.symlink(vdir, d3)
rc, out, err = v.admin("user", "add", "x@" + D3, "--stdin", stdin="x pw pw\n")
t.ok(rc == 111 and "symbolic link" in err and vdir_same(),
     "the domain directory made a link: user add refused (111), nothing made there: " + err.strip())
os.unlink(d3)
os.rename(d3 + ".real", d3)
t.is_(v.admin("domain", "del", D3)[0], 0, "domain del")

# aliases
t.is_(v.admin("alias", "add", "info@" + D, "alice@" + D, "someone@outside.example")[0], 0, "alias add")
t.is_(read("domains/%s/.qmail-info" % D), "# alias\n&alice@%s\n&someone@outside.example\n" % D,
      "the alias is a .qmail file of forwards")
t.ok("info@%s\n" % D in read("users/recipients"), "and a recipient")
t.is_(v.admin("alias", "list", D)[1], "info@%s: alice@%s someone@outside.example\n" % (D, D), "alias list")
rc, out, err = v.admin("alias", "add", "info@" + D, "x@y.example")
t.ok(rc == 100 and "exists" in err, "alias add of an existing alias refused")
rc, out, err = v.admin("alias", "add", "alice@" + D, "x@y.example")
t.ok(rc == 100 and "mailbox" in err, "alias add over a mailbox refused")
rc, out, err = v.admin("user", "add", "info@" + D, "--stdin", stdin="pw pw\n")
t.ok(rc == 100 and "exists" in err, "user add over an alias refused")
t.is_(v.admin("alias", "del", "info@" + D)[0], 0, "alias del")
t.ok(not os.path.exists(os.path.join(H, "domains", D, ".qmail-info")) and
     "info@" not in read("users/recipients"), "the alias and its recipient are gone")

# lists
t.is_(v.admin("list", "add", "team@" + D, "a@one.example", "b@two.example")[0], 0, "list add")
t.is_(v.admin("list", "add", "team@" + D, "c@three.example", "a@one.example")[0], 0, "list add more (no duplicates)")
t.is_(v.admin("list", "members", "team@" + D)[1], "a@one.example\nb@two.example\nc@three.example\n", "list members")
rc, out, err = v.admin("alias", "del", "team@" + D)
t.ok(rc == 100, "alias del of a list refused")
rc, out, err = v.admin("list", "del", "team@" + D, "zz@nowhere.example")
t.ok(rc == 100 and "not a member" in err, "list del of a non-member refused")
t.is_(v.admin("list", "del", "team@" + D, "b@two.example")[0], 0, "list del a member")
t.is_(v.admin("list", "members", "team@" + D)[1], "a@one.example\nc@three.example\n", "the member is gone")
t.is_(v.admin("list", "del", "team@" + D)[0], 0, "list del the whole list")
t.ok(not os.path.exists(os.path.join(H, "domains", D, ".qmail-team")), "the list file is gone")

# members by the hundred: on the command line (no limit to the number of
# arguments), and by the thousand on standard input with --stdin
many = ["m%d@many.example" % i for i in range(200)]
rc, out, err = v.admin("list", "add", "crowd@" + D, *many)
t.ok(rc == 0 and v.admin("list", "members", "crowd@" + D)[1] == "".join(a + "\n" for a in many),
     "list add with 200 members on the command line (%s)" % err.strip())
rc, out, err = v.admin("alias", "add", "wide@" + D, *many[:100])
t.ok(rc == 0 and v.admin("alias", "list", D)[1] == "wide@%s: %s\n" % (D, " ".join(many[:100])),
     "alias add with 100 targets (%s)" % err.strip())
v.admin("alias", "del", "wide@" + D)
big = ["s%d@stdin.example" % i for i in range(3000)]
rc, out, err = v.admin("list", "add", "crowd@" + D, "first@cmd.example", "--stdin",
                       stdin="# subscribers\n\n" + "\r\n".join(big) + "\n")
got = v.admin("list", "members", "crowd@" + D)[1].splitlines()
t.ok(rc == 0 and got == many + ["first@cmd.example"] + big,
     "list add --stdin: 3000 members from standard input, after those of the command line (%s)" % err.strip())
rc, out, err = v.admin("list", "del", "crowd@" + D, "--stdin", stdin="\n".join(big[:1000]))
got = v.admin("list", "members", "crowd@" + D)[1].splitlines()
t.ok(rc == 0 and got == many + ["first@cmd.example"] + big[1000:], "list del --stdin: 1000 of them gone")
before = snapshot()
for args, stdin, what, want in (
        (["list", "del", "crowd@" + D, "--stdin"], "", "list del --stdin without members", "no address"),
        (["list", "del", "crowd@" + D, "--stdin"], "# nobody\n\n", "list del --stdin with only a comment",
         "no address"),
        (["list", "add", "crowd@" + D, "--stdin"], "ok@x.example\nnot an address\n", "a bad member",
         "not an address"),
        (["list", "add", "crowd@" + D, "--stdin"], "ok@x.example\nn\0ul@x.example\n", "a NUL byte", "NUL"),
        (["alias", "add", "new@" + D, "--stdin"], "", "alias add --stdin without targets", "no address")):
    rc, out, err = v.admin(*args, stdin=stdin)
    t.ok(rc == 100 and want in err, "refused: %s: %s" % (what, err.strip()))
t.ok(snapshot() == before, "and nothing changed: the list keeps its members")
t.is_(v.admin("list", "del", "crowd@" + D)[0], 0, "list del of the big list")

# user del
t.is_(v.admin("user", "del", "bob.smith@" + D)[0], 0, "user del")
t.ok(not os.path.exists(os.path.join(H, "domains", D, "bob.smith")) and
     not os.path.exists(os.path.join(H, "domains", D, ".qmail-bob:smith")) and
     "bob.smith@" not in read("users/recipients"), "mailbox, .qmail file and recipient are gone")
t.is_(auth("bob.smith@" + D, "bob pw")[0], 1, "qmail-auth no longer knows bob.smith")

# the mailbox goes aside first: a del whose removal fails part way (here
# a file system mounted in the Maildir, or a directory that cannot be
# emptied) has taken the address and the password all the same, and
# running it again finishes
t.is_(v.admin("user", "add", "gone@" + D, "--stdin", stdin="gone pw pw\n")[0], 0, "a mailbox to delete")
t.is_(v.deliver(D, "gone", MSG), 0, "with a message")
folder = os.path.join(dd, "gone", "Maildir", ".Stuck")
os.mkdir(folder)
mounted = t.mount_small(folder, "64k") is None
if not mounted and os.getuid() != 0:
    # a directory its owner cannot empty
    os.mkdir(os.path.join(folder, "cur"))
    t.write(os.path.join(folder, "cur", "msg"), "x\n")
    os.chmod(os.path.join(folder, "cur"), 0o500)
aside = os.path.join(dd, ".deleted.gone")
stuck = mounted or os.getuid() != 0
if not stuck:
    t.skip("root, and no tmpfs to mount: no removal fails", 5)
    shutil.rmtree(folder)
else:
    try:
        rc, out, err = v.admin("user", "del", "gone@" + D)
        t.ok(rc == 111 and "unable to remove" in err, "user del stops part way: 111 (%s)" % err.strip())
        t.ok("gone:" not in read("domains/%s/vpasswd" % D) and "gone@" not in read("users/recipients") and
             not os.path.lexists(os.path.join(dd, ".qmail-gone")) and not os.path.lexists(os.path.join(dd, "gone")),
             "yet the password, the recipient, the .qmail file and the mailbox are gone from their places")
        t.is_(auth("gone@" + D, "gone pw pw")[0], 1, "qmail-auth no longer knows it")
        t.ok(os.path.isdir(aside), "what is left of the mailbox is in domains/D/.deleted.gone")
        rc, out, err = v.admin("user", "del", "gone@" + D)
        t.ok(rc == 111 and os.path.isdir(aside), "run again while the cause remains: 111 again (%s)" % " ".join(err.split()))
    finally:
        f = os.path.join(aside if os.path.isdir(aside) else os.path.join(dd, "gone"), "Maildir", ".Stuck")
        if mounted:
            t.umount_small(f)
        else:
            os.chmod(os.path.join(f, "cur"), 0o700)
rc, out, err = v.admin("user", "del", "gone@" + D)
t.ok(rc == 0 and ("part way" in err or not stuck) and not os.path.lexists(aside),
     "run again once it can be removed: finished (%s)" % err.strip())
t.is_(v.admin("user", "del", "gone@" + D)[0], 100, "and then there is no such mailbox")
t.is_(v.admin("user", "add", "gone@" + D, "--stdin", stdin="gone pw pw\n")[0], 0, "the name can be taken again")
os.mkdir(aside)
t.write(os.path.join(aside, "old"), "left\n")
t.ok(v.admin("user", "del", "gone@" + D)[0] == 0 and not os.path.lexists(aside) and
     not os.path.lexists(os.path.join(dd, "gone")), "and deleted again over a leftover of the first del")

# a user add that stops part way (exit 111) is finished by running it again
vtmp = os.path.join(dd, "vpasswd.tmp")
os.mkdir(vtmp)     # the vpasswd write fails
rc, out, err = v.admin("user", "add", "zoe@" + D, "--stdin", stdin="zoe pw one\n")
t.ok(rc == 111 and os.path.exists(os.path.join(dd, ".qmail-zoe")) and os.path.isdir(os.path.join(dd, "zoe", "Maildir")),
     "user add stopped before the vpasswd line: 111, mailbox and .qmail file made (%s)" % err.strip())
rc, out, err = v.admin("user", "add", "zoe@" + D, "--stdin", stdin="zoe pw one\n")
t.is_(rc, 111, "run again while the cause remains: 111 again")
os.rmdir(vtmp)
rc, out, err = v.admin("user", "add", "zoe@" + D, "--stdin", "--quota", "7000", stdin="zoe pw two\n")
t.ok(rc == 0 and "part way" in err, "run again: the add is finished (%s)" % err.strip())
t.is_(auth("zoe@" + D, "zoe pw two")[0], 0, "the password works")
t.ok("zoe@%s\n" % D in read("users/recipients") and read("domains/%s/.qmail-zoe" % D) == "./zoe/Maildir/\n" and
     read("domains/%s/zoe/Maildir/maildirsize" % D) == "7000S\n" and
     ":7000" in [l for l in read("domains/%s/vpasswd" % D).splitlines() if l.startswith("zoe:")][0],
     "recipient, .qmail file and the quota of the second run, in vpasswd and maildirsize")
t.is_(v.deliver(D, "zoe", MSG), 0, "mail reaches the finished mailbox")
os.mkdir(vtmp)
rc, out, err = v.admin("user", "add", "yves@" + D, "--stdin", stdin="yves pw\n")
os.rmdir(vtmp)
t.is_(rc, 111, "another add stopped part way")
rc, out, err = v.admin("user", "del", "yves@" + D)
t.ok(rc == 0 and not os.path.lexists(os.path.join(dd, "yves")) and
     not os.path.lexists(os.path.join(dd, ".qmail-yves")) and "yves@" not in read("users/recipients"),
     "user del removes what it left (%s)" % err.strip())
t.is_(v.admin("user", "del", "yves@" + D)[0], 100, "and then there is no such mailbox")
t.is_(v.admin("user", "del", "zoe@" + D)[0], 0, "user del of the finished one")
os.mkdir(os.path.join(dd, "odd"))
rc, out, err = v.admin("user", "add", "odd@" + D, "--stdin", stdin="odd pw pw\n")
t.ok(rc == 100 and "exists already" in err, "a directory that is no mailbox is not taken over")
os.rmdir(os.path.join(dd, "odd"))

# user import: many mailboxes in one run, from lines "ADDRESS PASSWORD"
# on standard input, every line checked before anything is written, then
# each file written once (not once per mailbox, as N user adds would)
t.control("me", "mail.admin.test.example\n")
t.is_(v.admin("domain", "add", D4)[0], 0, "a domain to import into (postmaster@ an alias)")
N = 300
good = ["m%03d@%s pw-%d-of-import" % (i, D4, i) for i in range(N)]
inp = "# address password\n\n" + "\n".join(good) + "\nPostmaster@%s pm pass 1\r\nx@%s  x pw with blanks\n" % (
    D4.upper(), D2)
rc, out, err = v.admin("user", "import", stdin=inp)
t.ok(rc == 0 and "postmaster@%s is no longer" % D4 in err, "user import of %d mailboxes (%s)" % (N + 2, err.strip()))
t.ok(all(auth(a, p)[0] == 0 for a, p in (("m000@" + D4, "pw-0-of-import"), ("m150@" + D4, "pw-150-of-import"),
                                        ("m299@" + D4, "pw-299-of-import"), ("postmaster@" + D4, "pm pass 1"),
                                        ("x@" + D2, "x pw with blanks"))),
     "each logs in with its password (blanks inside kept, a CR before the newline not)")
t.is_(auth("m001@" + D4, "pw-0-of-import")[0], 1, "and not with another's")
t.is_(v.admin("user", "list", D4)[1], "".join("m%03d@%s\n" % (i, D4) for i in range(N)) + "postmaster@%s\n" % D4,
      "user list: all of them, in the order given")
t.ok(v.deliver(D4, "m123", MSG) == 0 and len(v.messages(D4, "m123")) == 1 and
     v.deliver(D4, "postmaster", MSG) == 0 and len(v.messages(D4, "postmaster")) == 1,
     "mail is delivered into an imported mailbox, and to the postmaster, no longer an alias")
rcpts = read("users/recipients").splitlines()
t.ok(all(("m%03d@%s" % (i, D4)) in rcpts for i in range(N)) and rcpts.count("postmaster@" + D4) == 1 and
     ("x@" + D2) in rcpts, "users/recipients lists every address, once")
cdbq = [subprocess.run(["cdb", "-q", os.path.join(H, "users", "recipients.cdb"), a]).returncode
        for a in ("m000@" + D4, "m299@" + D4, "x@" + D2, "m300@" + D4)]
t.is_(cdbq, [0, 0, 0, 100], "and users/recipients.cdb takes them at RCPT")
dd4 = os.path.join(H, "domains", D4)
t.ok(not [n for n in os.listdir(dd4) if n.startswith(".new-") or n.endswith(".tmp")] and
     read("domains/%s/.qmail-m007" % D4) == "./m007/Maildir/\n" and
     all(os.path.isdir(os.path.join(dd4, "m042", "Maildir", s)) for s in ("tmp", "new", "cur")),
     "no temporary name left; .qmail files and Maildirs as user add makes them")
t.is_(v.admin("user", "del", "x@" + D2)[0], 0, "user del of an imported mailbox")

# a bad line anywhere: a message naming it, exit 100, nothing written
t.is_(v.admin("alias", "add", "sales@" + D4, "a@b.example")[0], 0, "an alias in the domain")
before = snapshot()
new1 = "new1@%s good-pass-1\n" % D4
for inp, line, want, what in (
        (new1 + "new2@%s good-pass-2\nbad-address good-pass-3\n" % D4, 3, "not an address", "a bad address last"),
        (new1 + "New1@%s good-pass-2\n" % D4, 2, "earlier line", "the same address twice"),
        (new1 + "m005@%s good-pass-2\n" % D4, 2, "mailbox exists already", "a mailbox that exists"),
        (new1 + "sales@%s good-pass-2\n" % D4, 2, "(an alias or list)", "an alias of that name"),
        (new1 + "x@nosuch.example good-pass-2\n", 2, "no such virtual domain", "an unknown domain"),
        (new1 + "#\n\nnew2@%s password\n" % D4, 4, "password refused", "a common password"),
        (new1 + "new2@%s new2@%s\n" % (D4, D4), 2, "password refused", "the address as its password"),
        (new1 + "new2@%s\n" % D4, 2, "want an address", "no password"),
        (new1 + "new2@%s \n" % D4, 2, "want an address", "blanks and no password"),
        (new1 + "default@%s good-pass-2\n" % D4, 2, "reserved name", "the name default"),
        (new1 + "x-default@%s good-pass-2\n" % D4, 2, "reserved name", "a name ending in -default"),
        (new1 + "new2@%s good\0pass\n" % D4, 2, "want an address", "a NUL byte"),
        (new1 + "new2@%s %s\n" % (D4, "p" * 300), 2, "too long", "a password too long"),
        ("", 0, "no mailbox", "nothing on standard input"),
        ("# only a comment\n\n", 0, "no mailbox", "only a comment")):
    rc, out, err = v.admin("user", "import", stdin=inp)
    t.ok(rc == 100 and (line == 0 or ("fatal: line %d: " % line) in err) and want in err,
         "refused: %s: %s" % (what, err.strip()))
t.control("minpasswordlength", "12\n")
rc, out, err = v.admin("user", "import", stdin=new1)
t.ok(rc == 100 and "line 1: password refused: " in err and "short" in err,
     "control/minpasswordlength counts: " + err.strip())
t.control("minpasswordlength", None)
t.ok(snapshot() == before and auth("new1@" + D4, "good-pass-1")[0] == 1, "the refusals changed nothing")

# --hashed: crypt(3) hashes, as another system keeps them
h = [l for l in read("domains/%s/vpasswd" % D4).splitlines() if l.startswith("m010:")][0].split(":")[1]
for inp, want, what in (("h1@%s $9$abc$def\n" % D4, "cannot check", "a hash of an unknown method"),
                        ("h1@%s not:a:hash\n" % D4, "not a crypt(3) hash", "a colon in the hash"),
                        ("h1@%s %s\nh2@%s %s junk\n" % (D4, h, D4, h), "not a crypt(3) hash", "a blank in the hash")):
    rc, out, err = v.admin("user", "import", "--hashed", stdin=inp)
    t.ok(rc == 100 and want in err, "--hashed refuses %s: %s" % (what, err.strip()))
rc, out, err = v.admin("user", "import", "--hashed", "--quota", "50000",
                       stdin="h1@%s %s\nh2@%s !locked\n" % (D4, h, D4))
t.ok(rc == 0 and auth("h1@" + D4, "pw-10-of-import")[0] == 0 and auth("h2@" + D4, "!locked")[0] == 1,
     "--hashed: the hash taken as it is (its password logs in), a lock too (%s)" % err.strip())
t.ok(read("domains/%s/h1/Maildir/maildirsize" % D4) == "50000S\n" and
     "h2@%s quota=50000 used=0\n" % D4 in v.admin("user", "list", D4)[1], "--quota for every mailbox imported")

# an import that stops part way (exit 111) is finished by running it again
vtmp4 = os.path.join(dd4, "vpasswd.tmp")
os.mkdir(vtmp4)     # the vpasswd write fails
inp = "".join("late%d@%s late-pw-%d\n" % (i, D4, i) for i in range(3))
rc, out, err = v.admin("user", "import", stdin=inp)
t.ok(rc == 111 and os.path.isdir(os.path.join(dd4, "late1", "Maildir")) and auth("late1@" + D4, "late-pw-1")[0] == 1,
     "stopped before the vpasswd file: 111, the mailboxes made, no password yet (%s)" % err.strip())
os.rmdir(vtmp4)
rc, out, err = v.admin("user", "import", stdin=inp)
t.ok(rc == 0 and "finishing 3 mailboxes" in err and auth("late1@" + D4, "late-pw-1")[0] == 0 and
     read("domains/%s/vpasswd" % D4).count("late") == 3, "run again: finished (%s)" % err.strip())
t.is_(v.admin("domain", "del", D4, "--force")[0], 0, "domain del of the imported domain")
t.control("me", None)

# the postmaster's second factor for the web pages goes with the mailbox
TOTP = os.path.join(H, "users", "webtotp")
t.write(TOTP, "boss:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:0\n", 0o600)
t.is_(v.admin("user", "add", "postmaster@" + D, "--stdin", stdin="pm pw pw\n")[0], 0, "user add postmaster")
rc, out, err = v.admin("totp", "on", "postmaster@" + D)
t.ok(rc == 0 and ("postmaster@%s:" % D) in read("users/webtotp"), "totp on postmaster@DOMAIN")
t.is_(v.admin("user", "del", "postmaster@" + D)[0], 0, "user del postmaster")
t.is_(read("users/webtotp"), "boss:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:0\n",
      "its users/webtotp line is gone, the others stay")
v.admin("user", "add", "postmaster@" + D, "--stdin", stdin="pm pw pw\n")
v.admin("totp", "on", "postmaster@" + D)

# domain del
rc, out, err = v.admin("domain", "del", D)
t.ok(rc == 100 and "--force" in err, "domain del of a domain with mailboxes needs --force")
t.is_(v.admin("domain", "del", D2)[0], 0, "domain del of an empty domain")
dkim = os.path.join(H, "control", "dkim", D)
os.makedirs(dkim)
t.write(os.path.join(dkim, "s1.key"), "not really a key\n", 0o600)
rc, out, err = v.admin("domain", "del", D, "--force")
t.is_(rc, 0, "domain del --force")
t.is_(read("users/webtotp"), "boss:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA:0\n", "the postmaster's users/webtotp line is gone")
t.ok(os.path.exists(os.path.join(dkim, "s1.key")) and ("control/dkim/" + D) in err,
     "the DKIM keys stay, with a warning that names them: " + err.strip())
shutil.rmtree(os.path.join(H, "control", "dkim"))
os.unlink(TOTP)
t.ok(D not in read("control/virtualdomains") and D not in read("control/rcpthosts") and
     D not in read("users/assign") and D not in read("users/recipients") and
     not os.path.exists(os.path.join(H, "domains", D)), "every trace of the domain is gone")
t.ok(read("users/assign").endswith(".\n"), "users/assign still ends with its dot")
t.is_(auth("alice@" + D, "second secret")[0], 1, "qmail-auth no longer knows the domain")

# the last mailbox gone, unknown recipients are still refused
t.ok(os.path.exists(os.path.join(H, "users", "recipients.cdb")) and
     not [l for l in read("users/recipients").splitlines() if l and not l.startswith("#")],
     "users/recipients and its cdb stay when no address is left")
# control/me read by the rules of the control files: a comment and
# trailing blanks are no part of the name
t.control("me", "# the name of this mail server\nmail.admin.test.example \n")
t.control("locals", None)
t.control("rcpthosts", None)
t.is_(v.admin("domain", "add", D3)[0], 0, "a domain without control/rcpthosts, control/locals")
t.ok(sorted(read("control/rcpthosts").split()) == sorted(["mail.admin.test.example", D3]),
     "control/rcpthosts is made from the default: control/me, virtualdomains, the new domain")
t.is_(v.admin("user", "add", "u@" + D3, "--stdin", stdin="u pw pw\n")[0], 0, "a mailbox")
t.is_(v.admin("user", "del", "u@" + D3)[0], 0, "deleted again: the last one")

# postmaster@D3 reaches the system's postmaster (RFC 5321 4.5.1) until it is made something else
PM = "postmaster@%s: postmaster@mail.admin.test.example\n" % D3
t.is_(v.admin("alias", "list", D3)[1], PM, "domain add made postmaster@D an alias of the system's postmaster")
t.is_(read("domains/%s/.qmail-postmaster" % D3), "# alias\n&postmaster@mail.admin.test.example\n",
      "its .qmail file names the host of control/me, not the comment before it")
rec = t.tmpdir()
r = subprocess.run([os.path.join(t.BIN, "qmail-local"), v.vmail_user(), os.path.join(H, "domains", D3),
                    D3 + "-postmaster", "-", "postmaster", D3, "a@b.test", "./Maildir/"],
                   input=b"Subject: hi\n\nx\n", capture_output=True,
                   env=dict(os.environ, QMAILQUEUE=os.path.join(t.SRC, "tests", "qq-record"), QQ_RECORD=rec))
env0 = open(os.path.join(rec, "0.env"), "rb").read() if os.path.exists(os.path.join(rec, "0.env")) else b""
t.ok(r.returncode == 0 and b"Tpostmaster@mail.admin.test.example\0" in env0,
     "mail for postmaster@D goes to the system's postmaster (%d %r %r)" % (r.returncode, r.stdout, env0))
rc, out, err = v.admin("user", "add", "postmaster@" + D3, "--stdin", stdin="pm pw pw\n")
t.ok(rc == 0 and v.admin("alias", "list", D3)[1] == "" and "no longer" in err,
     "user add postmaster@D takes the name from the alias (%s)" % err.strip())
t.is_(v.admin("user", "del", "postmaster@" + D3)[0], 0, "user del postmaster@D")
t.is_(v.admin("alias", "list", D3)[1], PM, "and postmaster@D is the system's postmaster's alias again")
srv = s.Server()


def rcpt(*addrs):
    c = s.Raw(srv.port)
    c.cmd("EHLO client.test")
    out = [s.code(c.cmd("MAIL FROM:<a@b.test>"))]
    out += [s.code(c.cmd("RCPT TO:<%s>" % a)) for a in addrs]
    c.cmd("QUIT")
    c.close()
    return out


t.is_(rcpt("nosuchuser@" + D3, "u@" + D3, "postmaster@" + D3, "postmaster@mail.admin.test.example"),
      ["250 2.1.0", "550 5.1.1", "550 5.1.1", "250 2.1.5", "250 2.1.5"],
      "qmail-smtpd: unknown and deleted addresses 550, postmaster 250; control/me still taken")
# an extension is taken at RCPT only when delivery has a .qmail file for
# it: qmail-admin gives a mailbox .qmail-USER alone, so USER-EXT would
# be queued and then bounced to a sender who may be forged
rcpts_before = read("users/recipients")
for u in ("a", "john.doe", "a-b"):
    v.admin("user", "add", "%s@%s" % (u, D3), "--stdin", stdin="pw of %s\n" % u, check=True)
v.admin("alias", "add", "sales@" + D3, "a@" + D3, check=True)
rc, out, err = v.admin("list", "make", "team@" + D3, "a@" + D3, check=True)
t.ok(rc == 0 and os.path.exists(os.path.join(H, "domains", D3, ".qmail-team-default")),
     "list make: .qmail-team-default")
t.is_(rcpt("a@" + D3, "john.doe@" + D3, "a-b@" + D3, "sales@" + D3, "team@" + D3),
      ["250 2.1.0"] + ["250 2.1.5"] * 5, "mailboxes, an alias and a list made by qmail-admin")
t.is_(rcpt("a-c@" + D3, "John.Doe-x@" + D3, "a-b-c@" + D3, "sales-x@" + D3),
      ["250 2.1.0"] + ["550 5.1.1"] * 4,
      "their extensions, which have no .qmail file, 550 at RCPT (no bounce after queueing)")
t.is_(rcpt("team-subscribe@" + D3, "team-return-bob=x.example@" + D3, "team-sc.1.ab-bob=x.example@" + D3),
      ["250 2.1.0"] + ["250 2.1.5"] * 3, "a list's command addresses: .qmail-team-default")
v.admin("user", "del", "a-b@" + D3, check=True)
t.is_(rcpt("a-b@" + D3), ["250 2.1.0", "550 5.1.1"], "a deleted a-b is gone, though a is there")
t.write(os.path.join(H, "domains", D3, ".qmail-a-default"), "./a/Maildir/\n", 0o600)
t.is_(rcpt("a-c@" + D3, "a-b-c@" + D3, "john.doe-x@" + D3),
      ["250 2.1.0", "250 2.1.5", "250 2.1.5", "550 5.1.1"], "the user's own .qmail-a-default takes a's extensions")
os.unlink(os.path.join(H, "domains", D3, ".qmail-a-default"))
rcpts_was = read("users/recipients")
t.write(os.path.join(H, "users", "recipients"), rcpts_was + "@" + D3 + "\n")
s.newu()
t.is_(rcpt("a-c@" + D3, "whoever@" + D3), ["250 2.1.0", "250 2.1.5", "250 2.1.5"],
      "@domain in users/recipients still takes every name")
t.write(os.path.join(H, "users", "recipients"), rcpts_was)
s.newu()
for u in ("a", "john.doe"):
    v.admin("user", "del", "%s@%s" % (u, D3), check=True)
v.admin("alias", "del", "sales@" + D3, check=True)
# a list of qmail-list has no qmail-admin del: its files by hand
for n in (".qmail-team", ".qmail-team-default"):
    os.unlink(os.path.join(H, "domains", D3, n))
t.write(os.path.join(H, "users", "recipients"), rcpts_before)
s.newu()
shutil.rmtree(os.path.join(H, "domains", D3, ".lists"), ignore_errors=True)
rc, out, err = v.admin("domain", "add", "mail.admin.test.example")
t.ok(rc == 100 and "control/me" in err, "control/me is local without control/locals: not a virtual domain: " + err.strip())
t.control("locals", "local.admin.test.example\n")
rc, out, err = v.admin("domain", "add", "local.admin.test.example")
t.ok(rc == 100 and "control/locals" in err, "a domain of control/locals is refused")
t.control("locals", None)
keep_me = read("control/me")
t.control("me", None)
rc, out, err = v.admin("domain", "add", "localhost")
t.ok(rc == 100 and "localhost (control/locals and control/me are missing)" in err,
     "without control/locals and control/me, localhost is local, as for qmail-send: " + err.strip())
t.control("me", keep_me)
t.is_(v.admin("domain", "del", D3)[0], 0, "domain del")
t.is_(read("control/rcpthosts").split(), ["mail.admin.test.example"], "control/rcpthosts keeps the other entries")
t.control("rcpthosts", D3 + "\n")
v.admin("domain", "add", D3)
v.admin("domain", "del", D3)
t.ok(os.path.exists(os.path.join(H, "control", "rcpthosts")) and
     not [l for l in read("control/rcpthosts").splitlines() if l and not l.startswith("#")],
     "control/rcpthosts left without a domain stays (empty, not the default)")
t.is_(rcpt("postmaster@mail.admin.test.example"), ["250 2.1.0", "553 5.7.1"], "and takes nothing")
srv.stop()

# a domain add or del that stops part way is finished by running it again
atmp = os.path.join(H, "users", "assign.tmp")
os.mkdir(atmp)     # the users/assign write fails
rc, out, err = v.admin("domain", "add", D3)
t.ok(rc == 111 and os.path.isdir(os.path.join(H, "domains", D3)), "domain add stopped part way: 111 (%s)" % err.strip())
os.rmdir(atmp)
rc, out, err = v.admin("domain", "add", D3)
t.ok(rc == 0 and "part way" in err and D3 in v.admin("domain", "list")[1].split() and
     ("+%s-:" % D3) in read("users/assign") and D3 in read("control/rcpthosts").split(),
     "run again, it is finished (%s)" % err.strip())
t.is_(v.admin("user", "add", "u@" + D3, "--stdin", stdin="u pw pw\n")[0], 0, "and takes a mailbox")
os.mkdir(atmp)
rc, out, err = v.admin("domain", "del", D3, "--force")
t.ok(rc == 111 and D3 not in read("control/virtualdomains"), "domain del stopped part way: 111 (%s)" % err.strip())
os.rmdir(atmp)
rc, out, err = v.admin("domain", "del", D3, "--force")
t.ok(rc == 0 and not os.path.exists(os.path.join(H, "domains", D3)) and ("+%s-:" % D3) not in read("users/assign") and
     "u@" + D3 not in read("users/recipients"), "run again, it is finished (%s)" % err.strip())
t.ok(not [n for n in os.listdir(os.path.join(H, "domains")) if n.startswith(".")], "nothing left in domains/")

# users/assign: what follows its final dot is no entry, and stays after it
ASSIGN = os.path.join(H, "users", "assign")
TAIL = "# ignored after the dot\n+old.example-:nobody:1:1:/nowhere:-::\n"
head = read("users/assign").split(".\n")[0]
t.write(ASSIGN, head + ".\n" + TAIL)
t.is_(v.admin("domain", "add", D3)[0], 0, "domain add with lines after the dot of users/assign")
a = read("users/assign")
t.ok(a.endswith(".\n" + TAIL) and a.count(".\n" + TAIL) == 1 and ("+%s-:" % D3) in a.split(".\n" + TAIL)[0],
     "the entry goes before the dot, the tail stays after it")
t.is_(v.admin("domain", "del", D3)[0], 0, "domain del")
t.is_(read("users/assign"), head + ".\n" + TAIL, "users/assign as it was, tail and all")

# qmail-send is told to reread control/ through supervise (svc -h)
svc = os.path.join(H, "service", "send")
if shutil.which("supervise") and not os.path.exists(svc):
    os.makedirs(svc)
    hups = os.path.join(t.tmpdir(), "hups")
    t.write(os.path.join(svc, "run"),
            "#!/bin/sh\ntrap 'echo hup >> %s' HUP\nwhile :; do sleep 1 & wait; done\n" % hups, 0o755)
    sup = t.start(["supervise", svc])
    ok = t.wait_until(lambda: os.path.exists(os.path.join(svc, "supervise", "control")) and
                      subprocess.run(["svok", svc]).returncode == 0, 10)
    time.sleep(0.3)
    t.is_(v.admin("domain", "add", D2)[0], 0, "domain add with a supervised service/send")
    t.ok(ok and t.wait_until(lambda: os.path.exists(hups) and "hup" in open(hups).read(), 5),
         "supervise passed qmail-admin's h on as SIGHUP")
    t.is_(v.admin("domain", "del", D2)[0], 0, "domain del")
    t.stop(sup)
    shutil.rmtree(svc)
else:
    t.skip("no supervise, or service/send in use", 3)
for f, data in saved.items():
    p = os.path.join(H, f)
    if data is None:
        if os.path.exists(p):
            os.unlink(p)
    else:
        t.write(p, data)
t.done()
