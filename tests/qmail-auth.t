#!/usr/bin/python3
"""qmail-auth: the checkpassword interface (descriptor 3, exit codes,
environment, logging) against mailboxes made by qmail-admin."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
D = "auth.test.example"
v.cleanup(D)
t.control("defaultdomain", None)
AUTH = os.path.join(t.BIN, "qmail-auth")
PROG = ["sh", "-c", 'echo "$USER|$HOME|$MAILDIR|$SHELL|$(pwd)"']


def run(data, argv=PROG, env=None, fd3=True):
    """qmail-auth with data on descriptor 3 (fed through sh's stdin)."""
    e = dict(os.environ)
    e.update(env or {})
    if fd3:
        cmd = ["sh", "-c", 'exec "$@" 3<&0', "sh", AUTH] + argv
    else:
        cmd = ["sh", "-c", 'exec 3<&-; exec "$@"', "sh", AUTH] + argv
    p = subprocess.run(cmd, input=data, capture_output=True, env=e, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


t.is_(v.admin("domain", "add", D)[0], 0, "domain add")
t.is_(v.admin("user", "add", "joe@" + D, "--stdin", stdin="joe's pass word\n")[0], 0, "user add")
home = os.path.join(t.HOME, "domains", D, "joe")

rc, out, err = run(b"joe@" + D.encode() + b"\0joe's pass word\0<1.2@host>\0")
t.is_(rc, 0, "good login: the program runs")
t.is_(out, "joe@%s|%s|%s/Maildir/|/bin/false|%s\n" % (D, home, home, home),
      "USER HOME MAILDIR SHELL set, in the mailbox directory")
rc, out, err = run(b"JOE@" + D.upper().encode() + b"\0joe's pass word\0\0")
t.ok(rc == 0 and out.startswith("joe@%s|" % D), "login folded to lower case")
rc, out, err = run(b"joe@" + D.encode() + b"\0joe's pass word\0")
t.is_(rc, 0, "no timestamp is fine")

rc, out, err = run(b"joe@" + D.encode() + b"\0wrong\0x\0", env={"TCPREMOTEIP": "192.0.2.7"})
t.ok(rc == 1 and out == "", "wrong password: exit 1, program not run")
t.is_(err, "qmail-auth: warning: login failed for joe@%s from 192.0.2.7\n" % D,
      "failed login logged with the client address")
for login, what in ((b"nobody@" + D.encode(), "unknown user"),
                    (b"joe@nosuch.example", "unknown domain"),
                    (b"joe", "bare login without control/defaultdomain"),
                    (b"../../etc@" + D.encode(), "a path as the user"),
                    (b"joe@../" + D.encode(), "a path as the domain"),
                    (b"", "empty login"),
                    (b"joe@" + D.encode() + b"\x01", "control byte in the login")):
    rc, out, err = run(login + b"\0joe's pass word\0x\0")
    t.ok(rc == 1 and out == "" and "login failed" in err, "refused with 1: " + what)
rc, out, err = run(b"joe@" + D.encode() + b"\0\0x\0")
t.is_(rc, 1, "empty password refused")

t.control("defaultdomain", D + "\n")
rc, out, err = run(b"joe\0joe's pass word\0x\0")
t.ok(rc == 0 and out.startswith("joe@%s|" % D), "bare login in control/defaultdomain")
t.control("defaultdomain", None)

# misuse: exit 2
t.is_(run(b"joe@" + D.encode() + b"\0joe's pass word\0", argv=[])[0], 2, "no program: 2")
t.is_(run(b"joe@" + D.encode(), fd3=True)[0], 2, "no NUL at all: 2")
t.is_(run(b"joe@" + D.encode() + b"\0joe's pass word")[0], 2, "password without its NUL: 2")
t.is_(run(b"x" * 2000 + b"\0y\0")[0], 2, "over-long input: 2")
# at most 1024 bytes, the end of input included: 1024 is fine, 1025 not
head = b"joe@" + D.encode() + b"\0joe's pass word\0<"
for size, want in ((1024, 0), (1025, 2)):
    data = head + b"x" * (size - len(head) - 2) + b">\0"
    rc, out, err = run(data)
    t.ok(len(data) == size and rc == want, "input of exactly %d bytes: %d (%s)" % (size, want, err.strip()))
t.is_(run(b"", fd3=False)[0], 2, "descriptor 3 closed: 2")
rc, out, err = run(b"joe@" + D.encode() + b"\0joe's pass word\0", argv=["/nonexistent/program"])
t.is_(rc, 111, "a program that cannot be run: 111")

# unknown users cost the same as wrong passwords
def timed(login, n=8):
    t0 = time.time()
    for _ in range(n):
        run(login + b"\0wrong\0x\0")
    return (time.time() - t0) / n


timed(b"joe@" + D.encode(), 2)
a = timed(b"joe@" + D.encode())
b = timed(b"nobody@" + D.encode())
c = timed(b"joe@nosuch.example")
t.ok(max(a, b, c) < 1.6 * min(a, b, c) + 0.004,
     "wrong password %.1fms, unknown user %.1fms, unknown domain %.1fms" % (a * 1e3, b * 1e3, c * 1e3))

# a damaged cdb is temporary trouble, and qmail-admin sync repairs it
cdb = os.path.join(t.HOME, "domains", D, "vpasswd.cdb")
good = open(cdb, "rb").read()
with open(cdb, "wb") as f:
    f.write(b"junk")
rc, out, err = run(b"joe@" + D.encode() + b"\0joe's pass word\0x\0")
t.ok(rc == 111 and "vpasswd.cdb" in err, "unreadable vpasswd.cdb: 111 (%s)" % err.strip())
t.is_(v.admin("sync")[0], 0, "qmail-admin sync")
t.is_(run(b"joe@" + D.encode() + b"\0joe's pass word\0x\0")[0], 0, "rebuilds vpasswd.cdb")

# a locked mailbox: a hash crypt cannot use matches nothing
vp = os.path.join(t.HOME, "domains", D, "vpasswd")
line = open(vp).read()
with open(vp, "w") as f:
    f.write("joe:!" + line.split(":", 1)[1])
v.admin("sync")
t.is_(run(b"joe@" + D.encode() + b"\0joe's pass word\0x\0")[0], 1, "a ! hash locks the mailbox")
v.cleanup(D)
t.done()
