#!/usr/bin/python3
"""qmail-pop3d against odd and busy Maildirs, under a real tcpserver.

Sessions that see other sessions and IMAP servers change the mailbox
under them (quickly, and with STAT and LIST agreeing; a client going
through a mailbox renamed under it reads cur/ a few times, not once per
command), entries that
cannot be moved or read (which cost only themselves), names with
nothing before the ':', leftovers in tmp/, a password with a tab, and
the ",W=" size qmail-local puts in the names (STAT reads no message).
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
D = "pop3md.test.example"
v.cleanup(D)
t.control("timeoutpop3", None)
U = "carol@" + D
PW = "carol\tpw"
t.is_(v.admin("domain", "add", D)[0], 0, "qmail-admin domain add")
t.is_(v.admin("user", "add", U, "--stdin", stdin=PW + "\n")[0], 0,
      "qmail-admin user add carol, with a tab in the password")
MD = v.maildir(D, "carol")
port = v.pop3_server()


def clear():
    for sub in ("new", "cur", "tmp"):
        d = os.path.join(MD, sub)
        for n in os.listdir(d):
            p = os.path.join(d, n)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)


def put(sub, name, data, when=None):
    p = os.path.join(MD, sub, name)
    with open(p, "wb") as f:
        f.write(data)
    if when is not None:
        os.utime(p, (when, when))
    return p


def login():
    r, _, rep = v.login(port, U, PW)
    return r, rep


def listing(r, cmd):
    st = r.cmd(cmd)
    body = r.multi()
    return st, [ln.split() for ln in body.split(b"\r\n")[:-2]]


def crlf(data):
    out = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return out if out.endswith(b"\r\n") or not out else out + b"\r\n"


# a password holding a tab: PASS takes the rest of the line
r, rep = login()
t.ok(rep.startswith(b"+OK"), "PASS with a tab in the password logs in")
t.ok(r.cmd("STAT\t").startswith(b"-ERR malformed"), "a tab elsewhere is still malformed")
r.cmd("QUIT")
r.close()

# two sessions on 10,000 messages: the one that stays pays little for
# the 5,000 the other removed, and STAT agrees with LIST
clear()
base = int(time.time()) - 200000
N = 10000
body = b"Subject: x\n\nbody\n"
for i in range(N):
    put("cur", "%d.M%dP1.test:2," % (base + i, i), body, base + i)
a, rep = login()
b, _ = login()
t.ok(rep.startswith(b"+OK %d " % N), "10,000 messages")
a.s.sendall(b"".join(b"DELE %d\r\n" % i for i in range(1, N // 2 + 1)))
for i in range(N // 2):
    a.line()
t.ok(a.cmd("QUIT").startswith(b"+OK bye, 5000"), "the first session removes 5,000")
b.s.settimeout(120)
t0 = time.time()
st = b.cmd("STAT")
t1 = time.time()
lst, rows = listing(b, "LIST")
t2 = time.time()
t.is_(st, b"+OK 5000 %d\r\n" % (5000 * len(crlf(body))), "STAT counts only what is left")
t.ok(t1 - t0 < 2.0, "STAT after 5,000 removals in %.2fs" % (t1 - t0))
t.ok(t2 - t1 < 2.0, "LIST after 5,000 removals in %.2fs" % (t2 - t1))
t.is_([int(x[0]) for x in rows], list(range(N // 2 + 1, N + 1)),
      "LIST lists only what is left, under the old numbers")
t.is_(b.cmd("LIST 1"), b"-ERR [SYS/TEMP] message removed by another session\r\n",
      "LIST of a removed message says so")
t.is_(b.cmd("RETR 2"), b"-ERR [SYS/TEMP] message removed by another session\r\n",
      "RETR of a removed message says so")
t.is_(b.cmd("UIDL 3"), b"-ERR [SYS/TEMP] message removed by another session\r\n",
      "UIDL of a removed message says so")
st2, urows = listing(b, "UIDL")
t.is_(len(urows), 5000, "UIDL lists what is left")
t.ok(b.cmd("DELE 1").startswith(b"+OK"), "DELE of a removed message: it is gone as asked")
t.ok(b.cmd("RETR %d" % N).startswith(b"+OK"), "a message left is read")
b.multi()
b.close()

# an IMAP server flags every message after the login
b, _ = login()
for n in os.listdir(os.path.join(MD, "cur")):
    os.rename(os.path.join(MD, "cur", n), os.path.join(MD, "cur", n + "S"))
b.s.settimeout(120)
t0 = time.time()
st = b.cmd("STAT")
t1 = time.time()
t.is_(st, b"+OK 5000 %d\r\n" % (5000 * len(crlf(body))), "STAT finds every renamed message")
t.ok(t1 - t0 < 2.0, "in %.2fs" % (t1 - t0))
b.s.sendall(b"".join(b"DELE %d\r\n" % i for i in range(1, N // 2 + 1)))
for i in range(N // 2):
    b.line()
t.ok(b.cmd("QUIT").startswith(b"+OK bye, 5000"), "and QUIT removes them")
b.close()
t.is_(os.listdir(os.path.join(MD, "cur")), [], "the mailbox is empty")


def flag_all(flags):
    """an IMAP server gives every message in cur/ new flags"""
    d = os.path.join(MD, "cur")
    for n in os.listdir(d):
        os.rename(os.path.join(d, n), os.path.join(d, n.split(":")[0] + ":2," + flags))


# a client going through a mailbox renamed under it reads cur/ once, not
# once per command: the listing is kept and read again only when a name
# is missing from it too.  Messages without W= sizes, so LIST opens each.
clear()
N = 3000
bodies = [b"Subject: %d\n\n%s\n" % (i, b"x" * (i % 50)) for i in range(1, N + 1)]
for i in range(N):
    put("cur", "%d.M%dP1.test:2," % (base + i, i), bodies[i], base + i)
if shutil.which("strace"):
    log = os.path.join(t.tmpdir(), "strace")
    p = t.start(["strace", "-qq", "-o", log, "-e", "trace=open,openat,getdents,getdents64",
                 "-e", "signal=none", os.path.join(t.BIN, "qmail-pop3d"),
                 os.path.basename(MD)], cwd=os.path.dirname(MD),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    greet = p.stdout.readline()
    flag_all("S")

    def ask(lines):
        p.stdin.write(b"".join(ln + b"\r\n" for ln in lines))
        p.stdin.flush()
        return [p.stdout.readline() for _ in lines]

    got = ask([b"LIST 1"])		# reads cur/ once: every name is new
    flag_all("ST")			# the kept listing is out of date for all
    # LIST 2 reads cur/ again (its name from the listing is gone too);
    # LIST 3 and on, and LIST 1 once more, use what LIST 2 read
    got += ask([b"LIST %d" % i for i in range(2, N + 1)] + [b"LIST 1"])
    flag_all("RST")
    got += ask([b"DELE %d" % i for i in range(1, N + 1)] + [b"QUIT"])
    p.stdin.close()
    p.wait(60)
    want = [b"+OK %d %d\r\n" % (i, len(crlf(bodies[i - 1]))) for i in range(1, N + 1)]
    t.is_(greet, b"+OK %d messages\r\n" % N, "a session on %d messages" % N)
    t.ok(got[:N + 1] == want + want[:1], "LIST finds every message renamed under it, twice")
    t.ok(got[N + 1:-1] == [b"+OK marked for deletion\r\n"] * N and
         got[-1] == b"+OK bye, %d messages deleted\r\n" % N,
         "QUIT removes them after a third renaming: " + got[-1].decode().strip())
    t.is_(os.listdir(os.path.join(MD, "cur")), [], "cur/ is empty")
    calls = open(log).read().splitlines()
    reads = [ln for ln in calls if '"cur"' in ln and "O_DIRECTORY" in ln]
    dents = [ln for ln in calls if ln.startswith("getdents")]
    # musl's readdir takes 2 KiB a call, glibc's 32 KiB
    t.ok(len(reads) <= 4 and len(dents) <= 400,
         "%d commands read cur/ %d times in %d getdents calls" % (2 * N + 2, len(reads), len(dents)))
else:
    t.skip("no strace", 5)

# entries that cannot be moved or read cost only themselves
clear()
long_name = "%d.M1P1." % base
long_name += "l" * (255 - len(long_name))
put("new", long_name, b"Subject: long name\n\nlong\n", base)
put("new", "%d.M2P1.test" % base, b"Subject: blocked\n\nblocked\n", base + 1)
os.mkdir(os.path.join(MD, "cur", "%d.M2P1.test:2," % base))
good = put("cur", "%d.M3P1.test:2," % base, b"Subject: good\n\ngood\n", base + 2)
later = put("cur", "%d.M4P1.test:2," % base, b"Subject: later a directory\n\nx\n", base + 3)
linked = put("cur", "%d.M5P1.test:2," % base, b"Subject: later a symlink\n\nx\n", base + 4)
secret = os.path.join(t.tmpdir(), "secret")
with open(secret, "wb") as f:
    f.write(b"Subject: secret\n\nnot in the mailbox\n")
os.symlink(secret, os.path.join(MD, "cur", "%d.M6P1.test:2," % base))
r, rep = login()
t.ok(rep.startswith(b"+OK 5 "), "login: a name too long for cur/ and one blocked by a "
     "directory stay in new/ and are listed; a symlink is not")
t.ok(os.path.exists(os.path.join(MD, "new", long_name)), "the long name is still in new/")
st = r.cmd("RETR 1")
t.ok(st.startswith(b"+OK") and b"long\r\n" in r.multi(), "and is read from there")
st = r.cmd("RETR 2")
t.ok(st.startswith(b"+OK") and b"blocked\r\n" in r.multi(), "so is the blocked one")
# after the login: a message turns into a directory, another into a symlink
os.unlink(later)
os.mkdir(later)
os.unlink(linked)
os.symlink(secret, linked[:-1] + ",S")
st, rows = listing(r, "LIST")
t.is_([int(x[0]) for x in rows], [1, 2, 3], "LIST leaves out what cannot be read")
t.ok(r.cmd("STAT").startswith(b"+OK 3 "), "STAT agrees")
t.is_(r.cmd("RETR 4"), b"-ERR [SYS/TEMP] unable to read message 4\r\n",
      "RETR of a directory: -ERR, the session goes on")
t.is_(r.cmd("RETR 5"), b"-ERR [SYS/TEMP] unable to read message 5\r\n",
      "RETR never follows a symlink")
st = r.cmd("RETR 3")
t.ok(st.startswith(b"+OK") and b"good\r\n" in r.multi(), "the good message is still served")
t.ok(r.cmd("DELE 1").startswith(b"+OK") and r.cmd("QUIT").startswith(b"+OK bye, 1"),
     "a message read from new/ is removed from there")
r.close()
t.ok(not os.path.exists(os.path.join(MD, "new", long_name)), "the long name is gone")

# names with nothing before the ':' are two messages, never confused
clear()
put("cur", ":2,a", b"Subject: a\n\nmessage a\n", base)
put("cur", ":2,b", b"Subject: b\n\nmessage b\n", base + 1)
r, rep = login()
st, rows = listing(r, "UIDL")
t.ok(len(rows) == 2 and rows[0][1] != rows[1][1], "two UIDLs for :2,a and :2,b")
os.unlink(os.path.join(MD, "cur", ":2,a"))
st = r.cmd("RETR 1")
if st.startswith(b"+OK"):
    r.multi()
t.is_(st, b"-ERR [SYS/TEMP] message removed by another session\r\n",
      "with :2,a removed, RETR 1 does not serve :2,b")
t.ok(r.cmd("DELE 1").startswith(b"+OK") and r.cmd("QUIT").startswith(b"+OK bye, 1"),
     "DELE 1 and QUIT")
r.close()
t.is_(os.listdir(os.path.join(MD, "cur")), [":2,b"], "and QUIT does not remove it")

# tmp/: what is not read or written for 36 hours goes at the login
clear()
now = time.time()
old = put("tmp", "old", b"x")
os.utime(old, (now - 37 * 3600, now - 37 * 3600))
young = put("tmp", "young", b"x")
os.utime(young, (now - 35 * 3600, now - 35 * 3600))
read = put("tmp", "read", b"x")
os.utime(read, (now - 60, now - 37 * 3600))
os.mkdir(os.path.join(MD, "tmp", "olddir"))
os.utime(os.path.join(MD, "tmp", "olddir"), (now - 37 * 3600, now - 37 * 3600))
r, rep = login()
r.cmd("QUIT")
r.close()
t.is_(sorted(os.listdir(os.path.join(MD, "tmp"))), ["olddir", "read", "young"],
      "a tmp/ file 37 hours old is removed; younger or recently read ones and directories stay")

# qmail-local names messages with their POP3 size; STAT opens none
clear()
msgs = [b"Subject: one\n\nbody\n", b"Subject: two\n\n.dot\nno end", b"Subject: 3\n\na\r\nb\r",
        b"Subject: four\n\n" + b"line\n" * 5000]
for m in msgs:
    t.ok(v.deliver(D, "carol", m) == 0, "delivered %d octets" % len(m))
names = sorted(os.listdir(os.path.join(MD, "new")))
stored = {n: open(os.path.join(MD, "new", n), "rb").read() for n in names}
t.ok(all(",W=" in n for n in names), "every new/ name has a W= size")

def wsize(data):
    """octets RETR sends before dot-stuffing: LF made CRLF, last line ended"""
    n = len(data) + sum(1 for i, c in enumerate(data) if c == 10 and (i == 0 or data[i - 1] != 13))
    if data and not data.endswith(b"\n"):
        n += 1 if data.endswith(b"\r") else 2
    return n


t.is_([int(n.split(",W=")[1]) for n in names], [wsize(stored[n]) for n in names],
      "and it is the size in CRLF form")
if shutil.which("strace"):
    log = os.path.join(t.tmpdir(), "strace")
    sport = t.free_port()
    sp = t.start(["strace", "-f", "-qq", "-e", "trace=open,openat", "-e", "signal=none",
                  "-o", log, "tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.1",
                  str(sport), os.path.join(t.BIN, "qmail-popup"), "mail.test.example",
                  os.path.join(t.BIN, "qmail-auth"), os.path.join(t.BIN, "qmail-pop3d"),
                  "Maildir"], stderr=subprocess.DEVNULL)
    if t.wait_port(sport):
        r, _, _ = v.login(sport, U, PW)
        st = r.cmd("STAT")
        lst, rows = listing(r, "LIST")
        r.cmd("QUIT")
        r.close()
        time.sleep(0.3)
        t.stop(sp)
        text = open(log).read()
        opens = [ln for ln in text.splitlines() if "open" in ln]
        t.ok(st.startswith(b"+OK 4 ") and len(rows) == 4 and
             any('"cur"' in ln for ln in opens) and
             not any(",W=" in ln for ln in opens),
             "STAT and LIST open no message file")
    else:
        t.skip("strace cannot run tcpserver here")
else:
    t.skip("no strace")
r, rep = login()
st, rows = listing(r, "LIST")
sent = []
for i in range(len(msgs)):
    r.cmd("RETR %d" % (i + 1))
    sent.append(r.multi())
unstuffed = [b"\r\n".join(ln[1:] if ln.startswith(b".") else ln
                          for ln in s[:-3].split(b"\r\n")) for s in sent]
t.is_([int(x[1]) for x in rows], [len(u) for u in unstuffed],
      "LIST sizes from the names equal what RETR sends")
r.close()

# a name's W= is believed only when the file could have that size
clear()
put("cur", "%d.M1P1.test,W=999999:2," % base, b"short\n", base)
put("cur", "%d.M2P1.test,W=3:2," % base, b"longer than three\n", base + 1)
put("cur", "%d.M3P1.test,W=12x:2," % base, b"junk size\n", base + 2)
put("cur", "%d.M4P1.test,W=13:2," % base, b"a\nb\nc\nd\ne\nf", base + 3)
r, rep = login()
st, rows = listing(r, "LIST")
t.is_([int(x[1]) for x in rows], [7, 19, 11, 13],
      "a W= too large, too small or malformed is ignored; a possible one is taken")
r.cmd("QUIT")
r.close()

v.cleanup(D)
t.done()
