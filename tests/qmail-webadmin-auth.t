#!/usr/bin/python3
"""qmail-webadmin: the limits on failed sign-ins, with python's
http.client against the real program under tcpserver.  Wrong guesses
sent in parallel are all counted and those over the limit refused with
429 and a Retry-After at once; a right password of another login does
not clear the attacked login's count, nor the address's; an address
over its own limit is refused whatever the login; old counts are
forgotten and the file stays small; a sign-in whose TOTP check finds
users/admin.lock held gives up after a few seconds."""
import fcntl
import http.client
import os
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402
import vmailtest as v  # noqa: E402

t.need_home()
for prog in ("qmail-webadmin", "qmail-admin"):
    if not os.path.exists(os.path.join(t.BIN, prog)):
        t.skip_all("bin/%s is not built" % prog)

H = t.HOME
FAIL = os.path.join(H, "users", "webfail")
VICTIM, VPW = "victim", "Victim-Pass-2026"
OTHER, OPW = "other", "Other-Pass-2026"
TOTPUSER, TPW = "second", "Second-Pass-2026"


def cleanup():
    for a in (VICTIM, OTHER, TOTPUSER):
        v.admin("admin", "del", a)
    for f in ("webfail", "webfail.lock"):
        if os.path.exists(os.path.join(H, "users", f)):
            os.unlink(os.path.join(H, "users", f))


cleanup()
# the TOTP check below waits 5 seconds: the request may take longer than that
t.control("timeoutwebadmin", "30\n")
for a, pw in ((VICTIM, VPW), (OTHER, OPW), (TOTPUSER, TPW)):
    v.admin("admin", "add", a, "--stdin", stdin=pw + "\n", check=True)

logpath = os.path.join(t.tmpdir(), "webadmin.log")
logf = open(logpath, "wb")
port = t.free_port()
t.start(["tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.1", str(port),
         os.path.join(t.BIN, "qmail-webadmin")], stderr=logf)
t.ok(t.wait_port(port), "qmail-webadmin listens under tcpserver")


def request(method, path, body=None, headers=None):
    """(status, headers, body); status 0 when the server hung up"""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=40)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read().decode(errors="replace")
        return r.status, r.getheaders(), data
    except (http.client.HTTPException, OSError):
        return 0, [], ""
    finally:
        c.close()


def header(hd, name):
    for k, val in hd:
        if k.lower() == name.lower():
            return val
    return None


def pre_token():
    """the sign-in form's token, from its cookie"""
    _st, hd, _b = request("GET", "/login")
    return re.match(r"lm_pre=([0-9a-f]+);", header(hd, "Set-Cookie")).group(1)


def signin(user, pw, code="", pre=None):
    pre = pre or pre_token()
    body = urllib.parse.urlencode({"csrf": pre, "user": user, "password": pw, "code": code})
    return request("POST", "/login", body, {"Cookie": "lm_pre=" + pre,
                                            "Content-Type": "application/x-www-form-urlencoded"})


def counts():
    """users/webfail as {key: count}"""
    out = {}
    if os.path.exists(FAIL):
        for line in open(FAIL):
            f = line.rstrip("\n").split(" ", 2)
            if len(f) == 3 and f[0].isdigit():
                out[f[2]] = int(f[0])
    return out


# ------------------------------------------------ parallel wrong guesses
pres = [pre_token() for _ in range(8)]
results = [None] * 8
gate = threading.Barrier(8)


def guess(i):
    gate.wait()
    results[i] = signin(VICTIM, "wrong-guess-%d" % i, pre=pres[i])


threads = [threading.Thread(target=guess, args=(i,)) for i in range(8)]
t0 = time.time()
for th in threads:
    th.start()
for th in threads:
    th.join()
took = time.time() - t0
wrong = [r for r in results if r[0] == 200 and "Wrong login" in r[2]]
many = [r for r in results if r[0] == 429]
t.is_((len(wrong), len(many)), (5, 3),
      "8 wrong guesses at once: 5 are checked, the 3 over the limit get 429")
t.is_(counts().get("l:" + VICTIM), 5, "every checked guess is counted for the login")
t.is_(counts().get("a:127.0.0.1"), 5, "and for the address")
ra = header(many[0][1], "Retry-After") if many else None
t.ok(ra is not None and 50 <= int(ra) <= 60, "a 429 says when to try again (Retry-After: %s)" % ra)
t.ok(many and "Too many failed sign-ins for this login" in many[0][2]
     and "<form" in many[0][2], "and the sign-in page says why")
t1 = time.time()
st, _h, body = signin(VICTIM, "one-more-guess")
t.ok(st == 429 and time.time() - t1 < 2, "a further guess is refused at once, nobody waits")
t.is_(counts().get("l:" + VICTIM), 5, "a refused attempt counts nothing")
t.ok(re.search(r"sign-in refused after too many failures: victim from 127\.0\.0\.1",
               open(logpath, errors="replace").read()), "refusals are logged")

# ------------------------------------- a success elsewhere clears nothing
st, _h, _b = signin(OTHER, OPW)
t.is_(st, 303, "another login signs in from the same address")
st, _h, body = signin(VICTIM, VPW)
t.is_(st, 429, "the attacked login stays refused, even with its right password")
t.ok(counts().get("l:" + VICTIM) == 5 and counts().get("a:127.0.0.1") == 5,
     "the other login's success cleared neither the login's count nor the address's")

# --------------------------------------------------- the address's limit
for i in range(15):
    signin("nobody%d" % i, "wrong")
t.is_(counts().get("a:127.0.0.1"), 20, "failures with other names count for the address")
st, hd, body = signin(OTHER, OPW)
t.ok(st == 429 and "from your address" in body, "20 failures from an address: every login is refused")
st, _h, _b = signin("bad name!", "x")
t.ok("l:bad name!" not in counts(), "a name that cannot be a login gets no count of its own")

# ------------------------------------------------- success clears its own
os.unlink(FAIL)
signin(OTHER, "wrong-1")
signin(OTHER, "wrong-2")
t.ok(counts().get("l:" + OTHER) == 2, "two failures of a login")
st, _h, _b = signin(OTHER, OPW)
t.is_(st, 303, "then its right password")
c = counts()
t.ok("l:" + OTHER not in c and c.get("a:127.0.0.1") == 2,
     "clears the login's count, not the address's earlier failures")

# ------------------------------------------------ old counts, a full file
now = int(time.time())
with open(FAIL, "w") as f:
    f.write("9 %d l:stale\n" % (now - 2 * 86400))
    f.write("junk line\n")
    f.write("3 %d l:keepme\n" % now)
    for i in range(1500):
        f.write("1 %d a:10.0.%d.%d\n" % (now - 60, i // 256, i % 256))
signin(OTHER, "wrong-3")
c = counts()
t.ok("l:stale" not in c and "junk" not in open(FAIL).read(), "counts a day old and junk lines are dropped")
t.ok(len(c) == 1000 and c.get("l:keepme") == 3 and c.get("l:" + OTHER) == 1,
     "the file keeps 1000 counts, those with the most and the latest failures")
os.unlink(FAIL)

# ------------------------- the TOTP check does not wait forever on the lock
rc, out, _e = v.admin("totp", "on", TOTPUSER)
m = re.search(r"secret=([A-Z2-7]+)&", out)


if m:
    lk = open(os.path.join(H, "users", "admin.lock"), "a+")
    fcntl.lockf(lk, fcntl.LOCK_EX)
    t1 = time.time()
    st, _h, body = signin(TOTPUSER, TPW, t.totp(m.group(1), int(time.time()) // 30))
    took = time.time() - t1
    fcntl.lockf(lk, fcntl.LOCK_UN)
    lk.close()
    t.ok("Temporary trouble" in body and 4.5 <= took < 20,
         "with users/admin.lock held, the sign-in gives up after a few seconds (%.1f s)" % took)
    t.ok("l:" + TOTPUSER not in counts(), "trouble is not counted as a failure")
    st, _h, _b = signin(TOTPUSER, TPW, t.totp(m.group(1), int(time.time()) // 30))
    t.is_(st, 303, "once the lock is free, the same code signs in")
else:
    t.skip("no TOTP secret", 3)

logf.close()
cleanup()
t.control("timeoutwebadmin", None)
t.done()
