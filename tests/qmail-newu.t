#!/usr/bin/python3
"""qmail-newu: users/assign and users/recipients into their cdbs, atomically."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t

t.need_home()
USERS = os.path.join(t.HOME, "users")
NEWU = os.path.join(t.BIN, "qmail-newu")
FILES = ("assign", "recipients", "assign.cdb", "recipients.cdb")
saved = {}
for f in FILES:
    p = os.path.join(USERS, f)
    if os.path.exists(p):
        with open(p, "rb") as fh:
            saved[f] = fh.read()


def put(name, text):
    p = os.path.join(USERS, name)
    if text is None:
        if os.path.exists(p):
            os.unlink(p)
    else:
        t.write(p, text)


def newu():
    r = subprocess.run([NEWU], capture_output=True, text=True)
    return r.returncode, r.stderr


def dump(name):
    """The cdb as a dict key -> value (bytes), through tinycdb's cdb -d."""
    p = os.path.join(USERS, name)
    if not os.path.exists(p):
        return None
    out = subprocess.run(["cdb", "-d", p], capture_output=True, check=True).stdout
    d = {}
    i = 0
    while i < len(out) and out[i:i + 1] == b"+":
        comma = out.index(b",", i)
        colon = out.index(b":", comma)
        kl = int(out[i + 1:comma])
        vl = int(out[comma + 1:colon])
        k = out[colon + 1:colon + 1 + kl]
        v = out[colon + 3 + kl:colon + 3 + kl + vl]
        d.setdefault(k, v)
        i = colon + 3 + kl + vl + 1
    return d


ASSIGN = """=Joe:joe:1001:100:/home/joe:::
+example.org-:vmail:998:998:/var/qmail/domains/example.org:-::
=postmaster:alias:7:8:/var/qmail/alias:-:postmaster:
=joe:other:1:1:/tmp:::
.
this is ignored
"""
RCPT = """# mailboxes
Joe@Example.org
  bob@example.org\t

@catchall.example
"""

try:
    put("assign", ASSIGN)
    put("recipients", RCPT)
    code, err = newu()
    t.is_(code, 0, "good files compile")
    a = dump("assign.cdb")
    t.is_(a, {
        b"=joe": b"joe\0" b"1001\0" b"100\0" b"/home/joe\0" b"\0" b"\0",
        b"+example.org-": b"vmail\0" b"998\0" b"998\0" b"/var/qmail/domains/example.org\0" b"-\0" b"\0",
        b"=postmaster": b"alias\0" b"7\0" b"8\0" b"/var/qmail/alias\0" b"-\0" b"postmaster\0",
    }, "assign.cdb: keys lower-cased, first duplicate wins, lines after the dot ignored")
    r = dump("recipients.cdb")
    t.is_(r, {b"joe@example.org": b"", b"bob@example.org": b"", b"@catchall.example": b""},
          "recipients.cdb: lower-case addresses, empty values")
    t.ok(not os.path.exists(os.path.join(USERS, "assign.cdb.tmp")), "no temporary file left")

    before_a = open(os.path.join(USERS, "assign.cdb"), "rb").read()
    before_r = open(os.path.join(USERS, "recipients.cdb"), "rb").read()
    ino = os.stat(os.path.join(USERS, "assign.cdb")).st_ino

    put("assign", "=a:a:1:1:/a:::\n=b:b:x:1:/b:::\n.\n")
    code, err = newu()
    t.is_(code, 100, "bad uid refused with 100")
    t.ok("users/assign line 2" in err, "error names the line: " + err.strip())
    t.is_(open(os.path.join(USERS, "assign.cdb"), "rb").read(), before_a, "assign.cdb unchanged")
    t.is_(open(os.path.join(USERS, "recipients.cdb"), "rb").read(), before_r, "recipients.cdb unchanged")

    put("assign", "=a:a:1:1:/a:::\n")
    code, err = newu()
    t.is_(code, 100, "missing dot line refused")
    put("assign", ASSIGN)
    put("recipients", "ok@x\nnot an address\n")
    code, err = newu()
    t.ok(code == 100 and "users/recipients line 2" in err, "bad recipient line refused: " + err.strip())
    t.is_(open(os.path.join(USERS, "assign.cdb"), "rb").read(), before_a,
          "a bad recipients file leaves assign.cdb alone too")

    put("assign", "=new:new:5:5:/new:::\n.\n")
    put("recipients", "new@x\n")
    code, err = newu()
    t.is_(code, 0, "replacement compiles")
    t.is_(dump("assign.cdb"), {b"=new": b"new\0" b"5\0" b"5\0" b"/new\0" b"\0" b"\0"}, "assign.cdb replaced")
    t.ok(os.stat(os.path.join(USERS, "assign.cdb")).st_ino != ino, "replaced by rename, not rewritten in place")

    # a table that comes out the same is left as it is: qmail-admin runs
    # qmail-newu for every address it adds, and users/assign changes
    # only with the domains
    ino_a = os.stat(os.path.join(USERS, "assign.cdb")).st_ino
    ino_r = os.stat(os.path.join(USERS, "recipients.cdb")).st_ino
    put("recipients", "new@x\nmore@x\n")
    code, err = newu()
    t.ok(code == 0 and os.stat(os.path.join(USERS, "assign.cdb")).st_ino == ino_a and
         os.stat(os.path.join(USERS, "recipients.cdb")).st_ino != ino_r and
         b"more@x" in dump("recipients.cdb"),
         "users/recipients changed alone: assign.cdb not written again, recipients.cdb replaced")
    ino_r = os.stat(os.path.join(USERS, "recipients.cdb")).st_ino
    code, err = newu()
    t.ok(code == 0 and os.stat(os.path.join(USERS, "recipients.cdb")).st_ino == ino_r and
         not [f for f in os.listdir(USERS) if f.endswith(".tmp")],
         "nothing changed: neither written again, no temporary file left")
    put("assign", "=new:new:5:6:/new:::\n.\n")
    code, err = newu()
    t.ok(code == 0 and os.stat(os.path.join(USERS, "assign.cdb")).st_ino != ino_a and
         dump("assign.cdb") == {b"=new": b"new\0" b"5\0" b"6\0" b"/new\0" b"\0" b"\0"},
         "one byte of users/assign changed: assign.cdb replaced")

    put("recipients", None)
    code, err = newu()
    t.ok(code == 0 and dump("recipients.cdb") is None, "no users/recipients: recipients.cdb removed")
    put("assign", None)
    code, err = newu()
    t.ok(code == 0 and dump("assign.cdb") == {}, "no users/assign: empty assign.cdb")

    # one at a time: a held users/newu.lock makes qmail-newu wait
    import fcntl
    import time
    put("assign", "=locked:l:1:1:/l:::\n.\n")
    lf = open(os.path.join(USERS, "newu.lock"), "a")
    fcntl.lockf(lf, fcntl.LOCK_EX)
    p = subprocess.Popen([NEWU], stderr=subprocess.PIPE)
    time.sleep(0.5)
    t.ok(p.poll() is None and dump("assign.cdb") == {}, "waits while another holds the lock")
    fcntl.lockf(lf, fcntl.LOCK_UN)
    lf.close()
    t.ok(p.wait(10) == 0 and b"=locked" in dump("assign.cdb"), "then compiles")

    # many at once: every result is a whole table
    big = "".join("=u%d:u:%d:1:/h/%d:::\n" % (i, i, i) for i in range(3000)) + ".\n"
    put("assign", big)
    procs = [subprocess.Popen([NEWU]) for _ in range(8)]
    codes = [q.wait(30) for q in procs]
    a = dump("assign.cdb")
    t.ok(codes == [0] * 8 and len(a) == 3000 and a[b"=u2999"] == b"u\0" b"2999\0" b"1\0" b"/h/2999\0\0\0",
         "8 concurrent runs leave one complete table")
finally:
    for f in ("newu.lock", "assign.cdb.tmp", "recipients.cdb.tmp"):
        if os.path.exists(os.path.join(USERS, f)):
            os.unlink(os.path.join(USERS, f))
    for f in FILES:
        put(f, None)
        if f in saved:
            with open(os.path.join(USERS, f), "wb") as fh:
                fh.write(saved[f])
t.done()
