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
D = "admin.test.example"
D2 = "other.admin.test.example"
for d in (D, D2):
    v.cleanup(d)
t.control("minpasswordlength", None)
H = t.HOME


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

# user del
t.is_(v.admin("user", "del", "bob.smith@" + D)[0], 0, "user del")
t.ok(not os.path.exists(os.path.join(H, "domains", D, "bob.smith")) and
     not os.path.exists(os.path.join(H, "domains", D, ".qmail-bob:smith")) and
     "bob.smith@" not in read("users/recipients"), "mailbox, .qmail file and recipient are gone")
t.is_(auth("bob.smith@" + D, "bob pw")[0], 1, "qmail-auth no longer knows bob.smith")

# domain del
rc, out, err = v.admin("domain", "del", D)
t.ok(rc == 100 and "--force" in err, "domain del of a domain with mailboxes needs --force")
t.is_(v.admin("domain", "del", D2)[0], 0, "domain del of an empty domain")
t.is_(v.admin("domain", "del", D, "--force")[0], 0, "domain del --force")
t.ok(D not in read("control/virtualdomains") and D not in read("control/rcpthosts") and
     D not in read("users/assign") and D not in read("users/recipients") and
     not os.path.exists(os.path.join(H, "domains", D)), "every trace of the domain is gone")
t.ok(read("users/assign").endswith(".\n"), "users/assign still ends with its dot")
t.is_(auth("alice@" + D, "second secret")[0], 1, "qmail-auth no longer knows the domain")

# qmail-send is told to reread control/ through supervise (svc -h)
svc = os.path.join(H, "service", "send")
if shutil.which("supervise") and not os.path.exists(svc):
    os.makedirs(svc)
    hups = os.path.join(t.tmpdir(), "hups")
    t.write(os.path.join(svc, "run"),
            "#!/bin/sh\ntrap 'echo hup >> %s' HUP\nwhile :; do sleep 1 & wait; done\n" % hups, 0o755)
    sup = t.start(["supervise", svc])
    ok = v.wait_for(lambda: os.path.exists(os.path.join(svc, "supervise", "control")) and
                    subprocess.run(["svok", svc]).returncode == 0)
    time.sleep(0.3)
    t.is_(v.admin("domain", "add", D2)[0], 0, "domain add with a supervised service/send")
    t.ok(ok and v.wait_for(lambda: os.path.exists(hups) and "hup" in open(hups).read(), 5),
         "supervise passed qmail-admin's h on as SIGHUP")
    t.is_(v.admin("domain", "del", D2)[0], 0, "domain del")
    t.stop(sup)
    shutil.rmtree(svc)
else:
    t.skip("no supervise, or service/send in use", 3)
t.done()
