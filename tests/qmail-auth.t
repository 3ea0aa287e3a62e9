#!/usr/bin/python3
"""qmail-auth: the checkpassword interface (descriptor 3, exit codes,
environment, logging) against mailboxes made by qmail-admin; failed
logins counted per client address across runs (users/authfail/), by
qmail-auth alone and through qmail-popup under tcpserver."""
import os
import shutil
import stat
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
    e = t.environ(env)
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

# hashes imported by hand: one of a method no build knows, a lock, and
# a yescrypt one (of "x"), which every build checks, qmail-admin's link
# in the musl build without knowing more than its method
VP = os.path.join(t.HOME, "domains", D, "vpasswd")
vp_saved = open(VP).read()
with open(VP, "a") as f:
    f.write("imported:$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA:\nlocked:!$6$abc$def:\n"
            "yes:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$6foLM1JhGupouWKMU70wxK61Kw9ZnecbACjJwRadqM2:\n")
rc, out, err = v.admin("sync")
t.ok(rc == 0 and "imported@%s" % D in err and "locked@" not in err and "joe@" not in err and "yes@" not in err,
     "qmail-admin sync warns of the hash it cannot check, by user: " + err.strip())
# hashes whose cost setting asks for hours of work (SHA-512 with the
# most rounds, bcrypt at cost 31): sync tells their method without
# hashing, so at once, and warns of neither
with open(VP, "a") as f:
    f.write("slow:$6$rounds=999999999$abcdefgh$" + "D" * 86 + ":\n"
            "slower:$2b$31$" + "C" * 53 + ":\n")
try:
    p = subprocess.run([os.path.join(t.BIN, "qmail-admin"), "sync"], capture_output=True, timeout=20)
    rc, err = p.returncode, p.stderr.decode()
except subprocess.TimeoutExpired:
    rc, err = None, "still running after 20 s"
t.ok(rc == 0 and "imported@" in err and "slow@" not in err and "slower@" not in err,
     "sync with a hash of 999999999 SHA-512 rounds and one of bcrypt cost 31: done at once, "
     "no warning of either: " + err.strip())
os.makedirs(os.path.join(t.HOME, "domains", D, "yes", "Maildir"))
rc, out, err = run(b"yes@" + D.encode() + b"\0x\0\0")
t.ok(rc == 0 and out.startswith("yes@%s|" % D), "the yescrypt hash is checked (%s)" % err.strip())
shutil.rmtree(os.path.join(t.HOME, "domains", D, "yes"))
rc, out, err = run(b"imported@" + D.encode() + b"\0x\0\0", env={"TCPREMOTEIP": "192.0.2.8"})
t.ok(rc == 1 and out == "" and
     err == "qmail-auth: warning: unsupported password hash method for imported@%s from 192.0.2.8\n" % D,
     "qmail-auth: exit 1, logged as an unsupported hash method (%s)" % err.strip())
rc, out, err = run(b"locked@" + D.encode() + b"\0x\0\0", env={"TCPREMOTEIP": "192.0.2.8"})
t.ok(rc == 1 and err == "qmail-auth: warning: login failed for locked@%s from 192.0.2.8\n" % D,
     "a locked mailbox: the plain failed login (%s)" % err.strip())
rc, out, err = run(b"nobody@" + D.encode() + b"\0x\0\0", env={"TCPREMOTEIP": "192.0.2.8"})
t.ok(rc == 1 and "login failed for nobody@" in err, "an unknown user: the plain failed login")
t.write(VP, vp_saved, 0o600)
v.admin("sync")

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

# unknown users cost the same as wrong passwords: one crypt each, about
# half of what qmail-auth spends.  Measured as the CPU time qmail-auth
# uses, which a busy machine stretches less than the time on the clock,
# and as its ratio to a wrong password's in the same round: how fast the
# machine runs a program drifts by a third over seconds when it is busy.
def cpu(data):
    """(exit code, CPU seconds) of qmail-auth with data on descriptor 3"""
    rd, wr = os.pipe()
    os.write(wr, data)
    os.close(wr)
    p = subprocess.Popen(["sh", "-c", 'exec "$@" 3<&0', "sh", AUTH] + PROG, stdin=rd,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(rd)
    _pid, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_utime + ru.ru_stime


KINDS = (("wrong password", b"joe@" + D.encode()), ("unknown user", b"nobody@" + D.encode()),
         ("unknown domain", b"joe@nosuch.example"))
rounds = []
codes = set()
for _ in range(15):
    got = []
    for _k, login in KINDS:
        rc, used = cpu(login + b"\0wrong\0x\0")
        codes.add(rc)
        got.append(used)
    rounds.append(got)
wrong = sorted(r[0] for r in rounds)[len(rounds) // 2]
ratio = [sorted(r[i] / r[0] for r in rounds)[len(rounds) // 2] for i in (1, 2)]
t.ok(codes == {1} and all(0.8 < x < 1.25 for x in ratio),
     "wrong password %.2f ms of CPU; unknown user %.2f and unknown domain %.2f times that"
     % (wrong * 1e3, ratio[0], ratio[1]))

# a damaged cdb is temporary trouble, and qmail-admin sync repairs it
cdb = os.path.join(t.HOME, "domains", D, "vpasswd.cdb")
good = open(cdb, "rb").read()
with open(cdb, "wb") as f:
    f.write(b"junk")
rc, out, err = run(b"joe@" + D.encode() + b"\0joe's pass word\0x\0")
t.ok(rc == 111 and "vpasswd.cdb" in err, "unreadable vpasswd.cdb: 111 (%s)" % err.strip())
t.is_(v.admin("sync")[0], 0, "qmail-admin sync")
t.is_(run(b"joe@" + D.encode() + b"\0joe's pass word\0x\0")[0], 0, "rebuilds vpasswd.cdb")

# ---- failed logins, counted per client address (AUTHLIMITOFF, which
# lanmail.py sets for every other test, taken out of the environment)
GOOD = b"joe@" + D.encode() + b"\0joe's pass word\0x\0"
BAD = b"joe@" + D.encode() + b"\0wrong\0x\0"
ADDRS = ["192.0.2.%d" % i for i in range(21, 30)] + ["127.0.0.30"]
for a in ADDRS:
    t.authfail_set("a:" + a, 0)


def lim(data, ip, extra=None):
    """qmail-auth with the limit on, for client address ip (None: no
    TCPREMOTEIP at all)"""
    env = {"AUTHLIMITOFF": None, "TCPREMOTEIP": ip}
    env.update(extra or {})
    return run(data, env=env)


def count(ip):
    return t.authfail_counts().get("a:" + ip, (0, 0))


REFUSED = "qmail-auth: warning: login refused after too many failures: joe@%s from %%s\n" % D
A = "192.0.2.21"
for i in range(3):
    lim(BAD, A)
t.is_(count(A)[0], 3, "three wrong passwords from an address: counted 3 (COUNT LAST a:ADDRESS)")
rc, out, err = lim(GOOD, A)
t.ok(rc == 0 and out.startswith("joe@"), "the right password before the limit logs in")
t.is_(count(A)[0], 3, "and takes its own attempt back, not the address's other failures")
results = [lim(BAD, A)[0] for i in range(7)]
t.is_(results, [1] * 7, "seven more wrong passwords: exit 1 each")
c10 = count(A)
t.is_(c10[0], 10, "ten failures from the address")
rc, out, err = lim(GOOD, A)
t.ok(rc == 1 and out == "", "the allowance used: the right password is refused with 1, program not run")
t.is_(err, REFUSED % A, "and logged as refused")
t.is_(count(A), c10, "a refused attempt counts nothing, LAST unchanged")
rc, out, err = lim(b"jo\x01e@" + D.encode() + b"\0x\0\0", A)
t.ok(rc == 1 and "refused after too many failures: jo?e@%s from %s\n" % (D, A) in err,
     "the login in the refusal is logged made safe")
rc, out, err = lim(GOOD, "192.0.2.22")
t.ok(rc == 0 and out.startswith("joe@"), "another address still logs in")
t.is_(count("192.0.2.22")[0], 0, "and its good login left no count")

# waiting: the last failure moved into the past.  10 failures: 60 s.
# qmail-auth counts whole seconds of time(): a "refused" check set up
# late in a second would run in the next one, a second later than set
# (at 900 s of 900: logs in); so each is set up early in a second.


def early_second():
    """now, in whole seconds, with at least half the second left"""
    while time.time() % 1 >= 0.5:
        time.sleep(0.01)
    return int(time.time())


now = early_second()
t.authfail_set("a:" + A, 10, now - 50)
t.is_(lim(GOOD, A)[0], 1, "10 failures, the last 50 s ago: still refused")
t.authfail_set("a:" + A, 10, now - 61)
rc, out, err = lim(GOOD, A)
t.ok(rc == 0 and out.startswith("joe@"), "10 failures, the last 61 s ago: the right password logs in")
t.is_(count(A)[0], 10, "the count stays at 10: a right password clears nothing")
t.authfail_set("a:" + A, 10, now - 61)
t.is_(lim(BAD, A)[0], 1, "a wrong password after the wait")
now = early_second()
t.authfail_set("a:" + A, 11, now - 100)
t.is_(lim(GOOD, A)[0], 1, "11 failures, the last 100 s ago: refused (120 s, doubled)")
t.authfail_set("a:" + A, 11, now - 121)
t.is_(lim(GOOD, A)[0], 0, "11 failures, the last 121 s ago: logs in")
now = early_second()
t.authfail_set("a:" + A, 40, now - 899)
t.is_(lim(GOOD, A)[0], 1, "40 failures, the last 899 s ago: refused (at most 900 s)")
t.authfail_set("a:" + A, 40, now - 901)
t.is_(lim(GOOD, A)[0], 0, "40 failures, the last 901 s ago: logs in")
t.authfail_set("a:" + A, 40, now - 86401)
rc = lim(BAD, A)[0]
t.ok(rc == 1 and count(A)[0] == 1, "a count a day old is forgotten: the next failure is the first")

# AUTHLIMITOFF, and no client address
t.authfail_set("a:" + A, 10)
c10 = count(A)
for val in ("1", ""):
    rc, out, err = run(GOOD, env={"AUTHLIMITOFF": val, "TCPREMOTEIP": A})
    t.ok(rc == 0 and out.startswith("joe@"), "AUTHLIMITOFF=%r: an address over its allowance logs in" % val)
    t.is_(run(BAD, env={"AUTHLIMITOFF": val, "TCPREMOTEIP": A})[0], 1, "AUTHLIMITOFF=%r: a wrong password" % val)
t.is_(count(A), c10, "with AUTHLIMITOFF nothing is counted")
before = t.authfail_counts()
for ip in (None, ""):
    t.is_([lim(BAD, ip)[0], lim(GOOD, ip)[0]], [1, 0], "TCPREMOTEIP %s: wrong 1, right 0" % ("unset" if ip is None else "empty"))
t.is_(t.authfail_counts(), before, "without a client address nothing is counted")

# a hostile address cannot make a line of its own
rc, out, err = lim(BAD, "192.0.2.23\n0 0 x y")
t.ok(rc == 1 and count("192.0.2.23?0?0?x?y")[0] == 1 and "a:x y" not in t.authfail_counts(),
     "a newline or blank in TCPREMOTEIP is written as ?")
t.authfail_set("a:192.0.2.23?0?0?x?y", 0)

# guesses in parallel are all counted: the count is taken under the lock
P = "192.0.2.24"
e = t.environ({"AUTHLIMITOFF": None, "TCPREMOTEIP": P})
procs = [subprocess.Popen(["sh", "-c", 'exec "$@" 3<&0', "sh", AUTH] + PROG, stdin=subprocess.PIPE,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e) for i in range(10)]
for p in procs:
    p.stdin.write(BAD)
    p.stdin.close()
t.is_([p.wait(timeout=30) for p in procs], [1] * 10, "ten wrong passwords at once: exit 1 each")
t.is_(count(P)[0], 10, "all ten counted")
t.is_(lim(GOOD, P)[0], 1, "so the next one is refused")

# temporary trouble takes its attempt back
T = "192.0.2.25"
lim(BAD, T)
with open(cdb, "wb") as f:
    f.write(b"junk")
rc, out, err = lim(GOOD, T)
t.ok(rc == 111 and count(T)[0] == 1, "trouble (a damaged vpasswd.cdb): 111, its attempt taken back")
t.is_(v.admin("sync")[0], 0, "qmail-admin sync")

# the files: group-writable whatever the umask, for qmaild and vmail
cf, lf = os.path.join(t.AUTHFAIL, "counts"), os.path.join(t.AUTHFAIL, "lock")
saved = open(cf, "rb").read()
os.unlink(cf)
os.unlink(lf)
p = subprocess.run(["sh", "-c", 'umask 077; exec "$@" 3<&0', "sh", AUTH] + PROG, input=BAD,
                   capture_output=True, env=t.environ({"AUTHLIMITOFF": None, "TCPREMOTEIP": T}), timeout=30)
t.is_((p.returncode, stat.S_IMODE(os.stat(cf).st_mode), stat.S_IMODE(os.stat(lf).st_mode)), (1, 0o660, 0o660),
      "under umask 077 the counts and the lock are made mode 660")
t.write(cf, saved, 0o660)

# counts that cannot be kept: a warning, and the password is checked
away = t.AUTHFAIL + ".away"
os.rename(t.AUTHFAIL, away)
try:
    rc, out, err = lim(BAD, T)
    t.ok(rc == 1 and err.startswith("qmail-auth: warning: unable to lock users/authfail/lock: ") and
         "login failed for joe@" in err, "no users/authfail/: a warning naming the lock, then the login fails")
    rc, out, err = lim(GOOD, T)
    t.ok(rc == 0 and out.startswith("joe@") and "unable to lock users/authfail/lock" in err,
         "and the right password still logs in")
finally:
    os.rename(away, t.AUTHFAIL)

# through qmail-popup under tcpserver: a tcprules cdb gives the client
# the address 127.0.0.30 (loopback: plaintext logins allowed)
POP = "127.0.0.30"
rdir = t.tmpdir("auth-rules.")
rules = os.path.join(rdir, "rules.cdb")
subprocess.run(["tcprules", rules, os.path.join(rdir, "rules.tmp")],
               input=(':allow,TCPREMOTEIP="%s"\n' % POP).encode(), check=True)
_p, port = t.tcpserver([os.path.join(t.BIN, "qmail-popup"), "mail.test.example", AUTH,
                        os.path.join(t.BIN, "qmail-pop3d"), "Maildir"], env={"AUTHLIMITOFF": None}, rules=rules)
t.authfail_set("a:" + POP, 8)
r = v.Raw(port)
r.line()
got = []
for pw in ("wrong", "wrong", "joe's pass word"):
    r.cmd("USER joe@" + D)
    got.append(r.cmd("PASS " + pw))
r.close()
t.is_(got, [b"-ERR [AUTH] authentication failed\r\n"] * 3,
      "POP3: two wrong passwords after 8 failures, then the right one is refused too")
t.is_(count(POP)[0], 10, "the POP3 failures were counted for the client's address")
t.authfail_set("a:" + POP, 10, int(time.time()) - 61)
r, _greet, reply = v.login(port, "joe@" + D, "joe's pass word")
t.ok(reply.startswith(b"+OK"), "POP3: once the wait is over the right password logs in")
r.cmd("QUIT")
r.close()
for a in ADDRS:
    t.authfail_set("a:" + a, 0)

# a locked mailbox: a hash crypt cannot use matches nothing
vp = os.path.join(t.HOME, "domains", D, "vpasswd")
line = open(vp).read()
with open(vp, "w") as f:
    f.write("joe:!" + line.split(":", 1)[1])
v.admin("sync")
t.is_(run(b"joe@" + D.encode() + b"\0joe's pass word\0x\0")[0], 1, "a ! hash locks the mailbox")
v.cleanup(D)
t.done()
