#!/usr/bin/python3
"""qmail-popup and qmail-pop3d against the letter of RFC 1939 and RFC
2449, and against the limits of qmail-admin and qmail-auth:

- the longest login qmail-admin makes (64-octet user at a 253-octet
  domain) and the longest password (256 octets) log in with USER/PASS
  and AUTH PLAIN; a longer USER gets a clear -ERR;
- PASS only immediately after USER (RFC 1939): NOOP or CAPA in between
  makes the login forgotten, and the checkpassword is not run;
- a command line of 512 octets, CRLF included, is taken, 513 is not,
  before and after the login alike (RFC 2449);
- CAPA after the login announces what CAPA before it did (RFC 2449
  section 5), and PIPELINING is not offered before the login;
- an invalid $TLSCONTROL is removed before the subprogram runs;
- two sessions deleting the same message subtract it once from the
  Maildir++ maildirsize (the race made certain with strace's syscall
  delay).
"""
import base64
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
D = "rfc.pop3.test.example"
# the longest names vpasswd(5) allows: 63-octet labels, 253 in all
LONGD = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 53, "example"])
LONGU = "u" * 64
LONGPW = "".join(chr(33 + (i * 7) % 94) for i in range(256))
v.cleanup(D)
v.cleanup(LONGD)
t.control("timeoutpop3", None)
t.control("plaintextauthnets", None)
POPUP = os.path.join(t.BIN, "qmail-popup")
POP3D = os.path.join(t.BIN, "qmail-pop3d")

MSG = (b"Received: (lanmail 4242 invoked by uid 1000); 28 Nov 2026 17:00:00 +0000\n"
       b"Subject: %d\n\nbody of message %d\n")

t.is_(len(LONGD), 253, "the long domain is 253 octets")
t.is_(v.admin("domain", "add", D)[0], 0, "qmail-admin domain add")
t.is_(v.admin("user", "add", "alice@" + D, "--stdin", stdin="Alice-pw 1\n")[0], 0,
      "qmail-admin user add alice")
t.is_(v.admin("user", "add", "q@" + D, "--stdin", "--quota", "1000000",
              stdin="Quota-pw 2\n")[0], 0, "qmail-admin user add q with a quota")
rc, _, err = v.admin("domain", "add", LONGD)
t.is_(rc, 0, "qmail-admin adds a 253-octet domain " + err.strip())
rc, _, err = v.admin("user", "add", LONGU + "@" + LONGD, "--stdin", stdin=LONGPW + "\n")
t.is_(rc, 0, "qmail-admin adds a 64-octet user with a 256-octet password " + err.strip())
t.ok(all(v.deliver(D, "alice", MSG % (i, i)) == 0 for i in (1, 2)), "two messages for alice")
t.is_(v.deliver(LONGD, LONGU, MSG % (1, 1)), 0, "one message for the long login")

port = v.pop3_server()

# the limits of qmail-admin and qmail-auth
LOGIN = LONGU + "@" + LONGD
t.is_(len(LOGIN), 318, "the longest login is 318 octets")
r = v.Raw(port)
r.line()
t.is_(r.cmd("USER " + LOGIN), b"+OK send PASS\r\n", "USER with the longest login")
t.is_(r.cmd("PASS " + LONGPW), b"+OK 1 messages\r\n", "PASS with the longest password logs in")
r.cmd("QUIT")
r.close()
r = v.Raw(port)
r.line()
plain = base64.b64encode(("%s\0%s\0%s" % (LOGIN, LOGIN, LONGPW)).encode())
t.is_(len(plain), 1192, "the longest PLAIN response is 1192 octets of base64")
t.is_(r.cmd("AUTH PLAIN"), b"+ \r\n", "AUTH PLAIN asks for the response")
t.is_(r.cmd(plain + b"\r\n"), b"+OK 1 messages\r\n",
      "AUTH PLAIN with the longest authzid, login and password on a line of its own")
r.cmd("QUIT")
r.close()
r = v.Raw(port)
r.line()
t.is_(r.cmd("USER " + "u" + LOGIN), b"-ERR login name too long: user@domain is at most 318 octets\r\n",
      "USER with 319 octets: a clear -ERR")
t.is_(r.cmd("PASS " + LONGPW), b"-ERR USER first: PASS must follow it directly\r\n",
      "and no login is remembered")
t.is_(r.cmd("USER " + LOGIN), b"+OK send PASS\r\n", "USER again")
t.is_(r.cmd("PASS " + LONGPW + "x"), b"-ERR [AUTH] authentication failed\r\n",
      "a 257-octet password: a failed login")
t.ok(r.cmd(b"AUTH PLAIN\r\n") == b"+ \r\n" and
     r.cmd(b"x" * 1193 + b"\r\n") == b"-ERR line too long\r\n",
     "a PLAIN response longer than the longest login needs: -ERR line too long")
r.close()

# RFC 1939: PASS only immediately after a successful USER
for between in ("NOOP", "CAPA", "STAT", "BOGUS"):
    r = v.Raw(port)
    r.line()
    r.cmd("USER alice@" + D)
    r.s.sendall(between.encode() + b"\r\n")
    if between == "CAPA":
        r.line()
        r.multi()
    else:
        r.line()
    t.is_(r.cmd("PASS Alice-pw 1"), b"-ERR USER first: PASS must follow it directly\r\n",
          "USER, %s, PASS: the login is forgotten, the password not checked" % between)
    t.is_(r.cmd("STAT"), b"-ERR log in first (USER and PASS, or AUTH PLAIN)\r\n",
          "and the client is not logged in")
    r.close()
r = v.Raw(port)
r.line()
r.cmd("USER alice@" + D)
t.is_(r.cmd(b"NOOP " + b"x" * 600 + b"\r\n"), b"-ERR line too long\r\n", "USER, an over-long line")
t.ok(r.cmd("PASS Alice-pw 1").startswith(b"-ERR USER first"), "then PASS: the login is forgotten")
t.is_(r.cmd("USER alice@" + D), b"+OK send PASS\r\n", "USER again")
t.is_(r.cmd("USER nobody@" + D), b"+OK send PASS\r\n", "a second USER replaces the first")
t.is_(r.cmd("PASS Alice-pw 1"), b"-ERR [AUTH] authentication failed\r\n",
      "PASS checks the login of the latest USER")
t.is_(r.cmd("USER alice@" + D), b"+OK send PASS\r\n", "USER")
t.is_(r.cmd("PASS Alice-pw 1"), b"+OK 2 messages\r\n", "USER directly followed by PASS logs in")
r.cmd("QUIT")
r.close()

# RFC 2449: 512 octets, CRLF included
TOOLONG = b"-ERR line too long\r\n"
r = v.Raw(port)
r.line()
t.ok(r.cmd(b"NOOP " + b"x" * 505 + b"\r\n") != TOOLONG, "before login: 512 octets with CRLF taken")
t.is_(r.cmd(b"NOOP " + b"x" * 506 + b"\r\n"), TOOLONG, "before login: 513 octets with CRLF refused")
t.ok(r.cmd(b"NOOP " + b"x" * 506 + b"\n") != TOOLONG, "before login: 512 octets with LF taken")
t.is_(r.cmd(b"NOOP " + b"x" * 507 + b"\n"), TOOLONG, "before login: 513 octets with LF refused")
t.is_(r.cmd("NOOP"), b"-ERR log in first (USER and PASS, or AUTH PLAIN)\r\n",
      "the next command is read whole")
r.cmd("USER alice@" + D)
t.ok(r.cmd("PASS Alice-pw 1").startswith(b"+OK"), "login")
t.ok(r.cmd(b"NOOP " + b"x" * 505 + b"\r\n") != TOOLONG, "after login: 512 octets with CRLF taken")
t.is_(r.cmd(b"NOOP " + b"x" * 506 + b"\r\n"), TOOLONG, "after login: 513 octets with CRLF refused")
t.ok(r.cmd(b"NOOP " + b"x" * 506 + b"\n") != TOOLONG, "after login: 512 octets with LF taken")
t.is_(r.cmd(b"NOOP " + b"x" * 507 + b"\n"), TOOLONG, "after login: 513 octets with LF refused")
r.cmd("QUIT")
r.close()


# RFC 2449 section 5: the AUTHORIZATION state's capabilities in both states
def capa(r):
    st = r.cmd("CAPA")
    return st, [x.decode() for x in r.multi().split(b"\r\n")[:-2]]


r = v.Raw(port)
r.line()
st, before = capa(r)
t.ok(st.startswith(b"+OK") and "SASL PLAIN" in before and "AUTH-RESP-CODE" in before,
     "CAPA before login: %s" % ", ".join(before))
t.ok("PIPELINING" not in before, "no PIPELINING before login (qmail-popup hands over with exec)")
r.cmd("USER alice@" + D)
r.cmd("PASS Alice-pw 1")
st, after = capa(r)
t.ok(st.startswith(b"+OK") and "SASL PLAIN" in after and "AUTH-RESP-CODE" in after,
     "CAPA after login: %s" % ", ".join(after))
t.is_([c for c in before if c not in after and c != "STLS"], [],
      "every capability announced before login is announced after it")
r.cmd("QUIT")
r.close()

# an invalid $TLSCONTROL goes, like a valid one, before the subprogram runs
e = dict(os.environ)
e.update({"TLSCONTROL": "9", "TCPREMOTEIP": "127.0.0.1"})
p = subprocess.run([POPUP, "mail.test.example", "/bin/sh", "-c",
                    'exec 3<&-; printf "+OK TLSCONTROL=%s\\r\\n" "${TLSCONTROL-unset}"'],
                   input=b"CAPA\r\nUSER x\r\nPASS y\r\n", capture_output=True, env=e,
                   timeout=30, close_fds=True)
t.ok(b"STLS" not in p.stdout and b"not offering STLS" in p.stderr,
     "TLSCONTROL naming a closed descriptor: a warning, no STLS")
t.ok(p.stdout.endswith(b"+OK TLSCONTROL=unset\r\n"),
     "and the subprogram does not see it: %r" % p.stdout[-40:])

# no STLS on this port, password logins refused from here: not told to
# send STLS, which would be refused too
t.control("plaintextauthnets", "192.0.2.0/24\n")
e = dict(os.environ)
e.pop("TLSCONTROL", None)
e["TCPREMOTEIP"] = "127.0.0.1"
p = subprocess.run([POPUP, "mail.test.example", "true"], input=b"USER x\r\nQUIT\r\n", capture_output=True,
                   env=e, timeout=30)
t.ok(b"offers no TLS" in p.stdout and b"send STLS" not in p.stdout,
     "plaintext refused and no STLS here: says so, not 'send STLS': %r" % p.stdout.split(b"\r\n")[1:2])
t.control("plaintextauthnets", None)

# the hostname leaves room for the longest login in qmail-auth's 1024 octets
p = subprocess.run([POPUP, "h" * 254, "true"], input=b"QUIT\r\n", capture_output=True, timeout=30)
t.ok(p.returncode == 100 and p.stdout == b"", "a hostname of 254 octets: usage, exit 100")
p = subprocess.run([POPUP, "h" * 253, "true"], input=b"QUIT\r\n", capture_output=True, timeout=30)
t.ok(p.returncode == 0 and p.stdout.startswith(b"+OK <"), "one of 253 octets is fine")


# Maildir++: two sessions delete one message, it is subtracted once
def usage(md):
    """(bytes, count) from maildirsize's lines after the quota line"""
    lines = open(os.path.join(md, "maildirsize")).read().splitlines()[1:]
    return (sum(int(x.split()[0]) for x in lines), sum(int(x.split()[1]) for x in lines))


def actual(md):
    fs = [os.path.join(md, s, f) for s in ("new", "cur") for f in os.listdir(os.path.join(md, s))]
    return (sum(os.path.getsize(f) for f in fs), len(fs))


qhome = os.path.join(t.HOME, "domains", D, "q")
qmd = os.path.join(qhome, "Maildir")
for i in (1, 2, 3):
    v.deliver(D, "q", MSG % (i, i))
t.is_(usage(qmd), actual(qmd), "maildirsize counts the three messages delivered")


def pop3d(prefix=()):
    p = t.start(list(prefix) + [POP3D, "Maildir"], cwd=qhome, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p, p.stdout.readline()


if shutil.which("strace"):
    # session A stops for 2 s at its unlink, after its lstat: session B
    # removes the message meanwhile, and A's unlink finds it gone
    a, ga = pop3d(["strace", "-f", "-qq", "-o", "/dev/null",
                   "-e", "inject=unlink,unlinkat:delay_enter=2000000"])
    b, gb = pop3d()
    t.ok(ga == gb == b"+OK 3 messages\r\n", "two sessions on the mailbox")
    t0 = time.time()
    a.stdin.write(b"DELE 1\r\nQUIT\r\n")
    a.stdin.flush()
    time.sleep(0.8)
    outb = b.communicate(b"DELE 1\r\nQUIT\r\n", timeout=30)[0]
    outa = a.communicate(timeout=30)[0]
    t1 = time.time()
    t.ok(outa.endswith(b"+OK bye, 1 messages deleted\r\n") and
         outb.endswith(b"+OK bye, 1 messages deleted\r\n"),
         "both QUITs succeed (%r, %r)" % (outa, outb))
    t.ok(t1 - t0 >= 1.9, "session A's unlink came after session B's (%.1fs)" % (t1 - t0))
    t.is_(actual(qmd)[1], 2, "two messages left")
    t.is_(usage(qmd), actual(qmd), "maildirsize subtracted the message once")
else:
    t.skip("no strace", 5)

# commands sent together with the login: qmail-popup never reads past the
# line it answers, so what follows PASS is left for qmail-pop3d
r = v.Raw(port)
r.line()
r.s.sendall(b"USER alice@" + D.encode() + b"\r\nPASS Alice-pw 1\r\nSTAT\r\nQUIT\r\n")
got = [r.line() for _ in range(4)]
t.ok(got[0].startswith(b"+OK") and got[1].startswith(b"+OK") and got[2].startswith(b"+OK ") and
     got[3].startswith(b"+OK"), "USER, PASS, STAT and QUIT in one packet: STAT reaches qmail-pop3d (%r)" % got)
r.close()

if shutil.which("strace"):
    # a long junk line before the login is read a block at a time: a
    # 200 kB line costs a few dozen reads, not one per byte
    import socket
    sa, sb = socket.socketpair()
    cnt = os.path.join(t.tmpdir("popup-strace."), "count")
    p = subprocess.Popen(["strace", "-qq", "-c", "-o", cnt, "-e", "trace=read", POPUP, "h.test", "true"],
                         stdin=sb, stdout=sb, stderr=subprocess.DEVNULL)
    sb.close()
    sa.settimeout(30)
    f = sa.makefile("rb")
    greet = f.readline()
    sa.sendall(b"NOOP " + b"j" * 200000 + b"\r\nQUIT\r\n")
    got = [f.readline(), f.readline()]
    p.wait(30)
    f.close()
    sa.close()
    reads = [int(x.split()[3]) for x in open(cnt) if x.split()[-1:] == ["read"]]
    t.ok(greet.startswith(b"+OK <") and got == [b"-ERR line too long\r\n", b"+OK bye\r\n"],
         "a 200 kB line before the login: -ERR line too long, then QUIT is answered")
    t.ok(len(reads) == 1 and reads[0] < 200, "and it took %s read calls, not one per byte" % reads)
else:
    t.skip("no strace", 2)

v.cleanup(D)
v.cleanup(LONGD)
t.done()
