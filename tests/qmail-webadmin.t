#!/usr/bin/python3
"""qmail-webadmin: a real browser (Debian's chromium, headless, driven
through the DevTools protocol) signs in, adds a domain and a mailbox,
resets its password, adds an alias and signs out; smtplib and poplib then
use the new mailbox.  With curl and raw sockets: malformed and oversized
requests, missing and wrong CSRF tokens, a postmaster reaching into
another domain, a wrong password, an expired session, a reused TOTP code
are all refused and change nothing.  A domain of hundreds, then
twenty thousand, mailboxes is shown a page at a time: next and previous
links reach every mailbox, a search finds one and is echoed escaped, bad
page numbers are answered sensibly, and strace shows that a view counts
the messages of the mailboxes on its page only.  Screenshots of each
page are saved under LANMAIL_BUILD/tests/qmail-webadmin/."""
import base64
import json
import os
import poplib
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402
import vmailtest as v  # noqa: E402

t.need_home()
for prog in ("qmail-webadmin", "qmail-admin", "qmail-smtpd", "qmail-auth", "qmail-popup", "qmail-pop3d"):
    if not os.path.exists(os.path.join(t.BIN, prog)):
        t.skip_all("bin/%s is not built" % prog)
if not shutil.which("curl"):
    t.skip_all("no curl")

D = "webadmin.test.example"
D2 = "other.test.example"
BIG = "big.test.example"
ADMIN, APW = "boss", "Boss-Pass-2026"
OUT = os.path.join(t.BUILD or t.tmpdir(), "tests", "qmail-webadmin")
os.makedirs(OUT, exist_ok=True)
H = t.HOME


def fexists(*p):
    return os.path.exists(os.path.join(H, *p))


def cleanup():
    for d in (D, D2, BIG):
        v.cleanup(d)
    v.admin("admin", "del", ADMIN)
    v.admin("admin", "del", "clerk")
    for f in ("users/webfail", "users/webfail.lock"):
        if fexists(f):
            os.unlink(os.path.join(H, f))
    shutil.rmtree(os.path.join(H, "users", "websessions"), ignore_errors=True)


cleanup()
# room for every request on a slow, busy machine; a short limit only
# where the test waits for it
t.control("timeoutwebadmin", "30\n")
t.is_(v.admin("admin", "add", ADMIN, "--stdin", stdin=APW + "\n")[0], 0, "qmail-admin admin add")
rc, _o, err = v.admin("admin", "add", "clerk", "--stdin", stdin="password\n")
t.ok(rc == 100 and "common" in err, "a common password is refused for an administrator")
rc, _o, err = v.admin("admin", "add", "clerk", "--stdin", stdin="Clerk\n")
t.ok(rc == 100 and "login" in err, "the login itself is refused as a password")

logpath = os.path.join(t.tmpdir(), "webadmin.log")
logf = open(logpath, "wb")
port = t.free_port()
t.start(["tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.1", str(port),
         os.path.join(t.BIN, "qmail-webadmin")], stderr=logf)
t.ok(t.wait_port(port), "qmail-webadmin listens under tcpserver")
URL = "http://127.0.0.1:%d" % port


def log():
    return open(logpath, errors="replace").read()


# ---------------------------------------------------------------- browser
class Browser:
    """Chromium over the DevTools protocol: one page, commands by id."""

    def __init__(self, exe):
        import websocket
        # chromium makes a Unix socket in its profile: a short path
        self.prof = t.tmpdir("lanmail-chromium.", short=True)
        dport = t.free_port()
        self.proc = t.start([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                             "--no-first-run", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync",
                             "--user-data-dir=" + self.prof, "--remote-debugging-address=127.0.0.1",
                             "--remote-debugging-port=%d" % dport, "--window-size=800,900", "--hide-scrollbars",
                             "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            # its crash-report, dconf and temporary files too stay in the profile
                            env=dict(os.environ, HOME=self.prof, XDG_CONFIG_HOME=self.prof,
                                     XDG_CACHE_HOME=self.prof, TMPDIR=self.prof))
        end = time.time() + 30
        targets = []
        while time.time() < end:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % dport, timeout=2) as r:
                    targets = [x for x in json.load(r) if x.get("type") == "page"]
                if targets:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        if not targets:
            raise RuntimeError("chromium did not come up")
        self.ws = websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=30,
                                              suppress_origin=True)
        self.n = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.n:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r.get("result", {}).get("value")

    def wait_new_page(self, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if self.js("typeof window.__old === 'undefined' && document.readyState === 'complete'"):
                return True
            time.sleep(0.05)
        return False

    def go(self, url):
        self.js("window.__old = 1")
        self.call("Page.navigate", url=url)
        return self.wait_new_page()

    def fill(self, values):
        for k, val in values.items():
            self.js("document.getElementById(%s).value = %s" % (json.dumps(k), json.dumps(val)))

    def click(self, sel):
        """a real click on the element: the browser submits the form"""
        self.js("window.__old = 1")
        box = self.js("(function(){var r=document.querySelector(%s).getBoundingClientRect();"
                      "window.scrollTo(0, window.scrollY + r.top - 100);"
                      "r=document.querySelector(%s).getBoundingClientRect();"
                      "return [r.left + r.width/2, r.top + r.height/2];})()"
                      % (json.dumps(sel), json.dumps(sel)))
        for typ in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=typ, x=box[0], y=box[1], button="left",
                      clickCount=1)
        return self.wait_new_page()

    def text(self):
        return self.js("document.body.innerText") or ""

    def shot(self, name):
        r = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        p = os.path.join(OUT, name + ".png")
        with open(p, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return p

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        self.ws.close()


exe = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    import websocket  # noqa: F401
    have_ws = True
except ImportError:
    have_ws = False

PW1, PW2 = "Tulip-Harbor-51", "Mossy-Lantern-73"
if exe and have_ws:
    b = Browser(exe)
    t.ok(b.go(URL + "/"), "the browser opens the start page")
    t.ok("/login" in b.js("location.pathname") and "Sign in" in b.text(),
         "without a session it lands on the sign-in page")
    t.ok("not encrypted" in b.text(), "the page says plainly that the connection is not encrypted")
    b.shot("01-signin")
    b.fill({"user": ADMIN, "password": APW})
    t.ok(b.click("#signin"), "sign-in form submitted")
    t.is_(b.js("location.pathname"), "/domains", "signed in: the domain list")
    t.ok(b.js("document.cookie") == "", "the session cookie is HttpOnly (invisible to scripts)")
    b.fill({"newdomain": D})
    b.click("#adddomain")
    t.ok(D in b.text() and "Done." in b.text(), "domain added from the browser")
    b.shot("02-domains")
    t.ok(fexists("domains", D, "vpasswd"), "the domain exists on disk")
    b.go(URL + "/domain?d=" + D)
    b.fill({"newuser": "alice", "newpassword": PW1, "newquota": "20"})
    b.click("#adduser")
    t.ok("alice@" + D in b.text() and "Done." in b.text(), "mailbox added from the browser")
    t.ok(fexists("domains", D, "alice", "Maildir", "new"), "its Maildir exists")
    # reset the password: the row's own form
    b.js("document.querySelector('form[action=\"/user/passwd\"] input[name=password]').value = %s"
         % json.dumps(PW2))
    b.click('form[action="/user/passwd"] button')
    t.ok("Done." in b.text(), "password reset from the browser")
    b.fill({"newalias": "info", "aliasto": "alice@" + D})
    b.click("#addalias")
    t.ok("info@" + D in b.text() and "Done." in b.text(), "alias added from the browser")
    b.fill({"newlist": "team", "listto": "alice@%s bob@elsewhere.example" % D})
    b.click("#addlist")
    t.ok("team@" + D in b.text() and "bob@elsewhere.example" in b.text(), "list with members added")
    b.shot("03-domain")
    b.js("document.querySelector('form[action=\"/user/passwd\"] input[name=password]').value = 'Secret'")
    b.click('form[action="/user/passwd"] button')
    t.ok("common" in b.text(), "a common password is refused through the web too")
    b.shot("04-refused")
    b.go(URL + "/queue")
    t.ok("messages in queue" in b.text(), "the queue page shows qmail-qstat's counts")
    b.shot("05-queue")
    b.go(URL + "/domain/del?d=" + D)
    t.ok("cannot be undone" in b.text(), "deleting a domain asks for confirmation")
    b.shot("06-confirm")
    b.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
    b.go(URL + "/domain?d=" + D)
    t.ok(b.js("Array.from(document.querySelectorAll('section, header, main'))"
              ".every(function (s) { return s.scrollWidth <= s.clientWidth + 1; })"),
         "on a phone-sized screen the domain page needs no sideways scrolling")
    b.shot("07-phone")
    b.call("Emulation.clearDeviceMetricsOverride")
    b.go(URL + "/domains")
    b.click("#signout")
    t.is_(b.js("location.pathname"), "/login", "signed out: back at the sign-in page")
    b.go(URL + "/domains")
    t.is_(b.js("location.pathname"), "/login", "after signing out the pages need a new sign-in")
    b.close()
    t.stop(b.proc)
    t.ok(fexists("domains", D, ".qmail-info"), "the alias file exists")
else:
    t.skip("no chromium or python3-websocket", 23)
    v.admin("domain", "add", D)
    v.admin("user", "add", "alice@" + D, "--stdin", stdin=PW2 + "\n")
    v.admin("alias", "add", "info@" + D, "alice@" + D)

t.ok(re.search(r"change by boss from 127\.0\.0\.1\n.*user passwd alice@", log()),
     "the log says who changed what, from where")
t.ok(PW1 not in log() and PW2 not in log() and APW not in log(), "no password in the log")

# ------------------------------------------------ the new mailbox, for real
sport = t.free_port()
t.start(["tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.1", str(sport),
         os.path.join(t.BIN, "qmail-smtpd"), os.path.join(t.BIN, "qmail-auth"), "true"],
        env=dict(os.environ, SUBMISSION="1"), stderr=logf)
t.wait_port(sport)
c = smtplib.SMTP("127.0.0.1", sport, timeout=20)
c.ehlo("client.test")
try:
    c.login("alice@" + D, PW1)
    old = True
except smtplib.SMTPAuthenticationError:
    old = False
t.ok(not old, "SMTP AUTH with the old password is refused")
c.login("alice@" + D, PW2)
t.is_(c.sendmail("alice@" + D, ["info@" + D], "Subject: hi\r\n\r\nfrom the web\r\n"), {},
      "SMTP AUTH with the password set in the browser, and a message accepted")
c.quit()
t.ok(len(t.queue_files("todo")) + len(t.queue_files("info")) >= 1, "it is in the queue")
t.clear_queue()
t.is_(v.deliver(D, "alice", b"Subject: web\n\nhello alice\n"), 0, "a message delivered to the mailbox")
pport = t.free_port()
t.start(["tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.1", str(pport),
         os.path.join(t.BIN, "qmail-popup"), "mail.test.example", os.path.join(t.BIN, "qmail-auth"),
         os.path.join(t.BIN, "qmail-pop3d"), "Maildir"], stderr=logf)
t.wait_port(pport)
p = poplib.POP3("127.0.0.1", pport, timeout=10)
p.user("alice@" + D)
p.pass_(PW2)
t.is_(p.stat()[0], 1, "POP3 with the new password sees it")
t.ok(b"hello alice" in b"\n".join(p.retr(1)[1]), "and reads it")
p.quit()


# ------------------------------------------------------------------- curl
def curl(*args, data=None, cookies=None):
    argv = ["curl", "-s", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}"]
    if cookies:
        argv += ["-b", cookies, "-c", cookies]
    if data is not None:
        argv += ["--data", data]
    r = subprocess.run(argv + list(args), capture_output=True, timeout=30)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code or 0), body.decode(errors="replace")


def raw(data, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


def signin(user, pw, code="", jar=None):
    jar = jar or os.path.join(t.tmpdir(), "jar")
    curl(URL + "/login", cookies=jar)
    pre = re.search(r"lm_pre\s+([0-9a-f]+)", open(jar).read()).group(1)
    st, body = curl(URL + "/login", cookies=jar,
                    data="csrf=%s&user=%s&password=%s&code=%s" % (pre, user, pw, code))
    return st, body, jar


def csrf_of(jar, path="/domains"):
    _s, body = curl(URL + path, cookies=jar)
    m = re.search(r'name="csrf" value="([0-9a-f]{32})"', body)
    return m.group(1) if m else ""


st, body = curl(URL + "/mail/config-v1.1.xml?emailaddress=alice%40" + D)
t.ok(st == 200 and "<port>587</port>" in body and "<port>995</port>" in body
     and "<domain>%s</domain>" % D in body, "Thunderbird autoconfig: submission 587, POP3 995")
st, body = curl(URL + "/autodiscover/autodiscover.xml", "-H", "Content-Type: text/xml",
                data="<Autodiscover><Request><EMailAddress>alice@%s</EMailAddress></Request></Autodiscover>" % D)
t.ok(st == 200 and "<LoginName>alice@%s</LoginName>" % D in body and "<Type>SMTP</Type>" in body,
     "Outlook autodiscover names the login and both servers")
# the body may hold bare LFs, even when it comes in the same segment as the head
xml = ("<?xml version=\"1.0\"?>\n<Autodiscover>\n <Request>\n  <EMailAddress>alice@%s</EMailAddress>\n"
       " </Request>\n</Autodiscover>\n" % D).encode()
r = raw(b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
        b"Content-Length: %d\r\n\r\n" % len(xml) + xml)
t.ok(r.startswith(b"HTTP/1.1 200 ") and b"<LoginName>alice@" + D.encode() in r,
     "a POST body with line feeds, sent in one write with its head, is accepted")

before = sorted(os.listdir(os.path.join(H, "domains")))
for req, what in ((b"GET / HTTP/1.1\nHost: x\n\n", "bare LF line ends"),
                  (b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 without Host"),
                  (b"GET /  HTTP/1.1\r\nHost: x\r\n\r\n", "two spaces in the request line"),
                  (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", "a blank before the colon"),
                  (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "a continuation line"),
                  (b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "two Host fields"),
                  (b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                   "a chunked body"),
                  (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                   "two Content-Lengths"),
                  (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", "a control byte in the target"),
                  (b"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", "an absolute target"),
                  (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", "another HTTP version"),
                  (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", "a NUL in a field")):
    r = raw(req)
    t.ok(r.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in r, "400 and close: " + what)
r = raw(b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
t.ok(r.startswith(b"HTTP/1.1 400 "), "an over-long request line: 400")
st, _b = curl(URL + "/login", "-H", "X-Big: " + "b" * 9000)
t.is_(st, 431, "an oversized header: 431")
st, _b = curl(URL + "/login", data="x=" + "y" * 20000)
t.is_(st, 413, "an oversized body: 413")
t.control("timeoutwebadmin", "3\n")
t0 = time.time()
s = socket.create_connection(("127.0.0.1", port), timeout=60)
s.sendall(b"GET / HTTP/1.1\r\n")
s.settimeout(60)
try:
    gone = s.recv(100) == b""
except OSError:
    gone = True
s.close()
t.ok(gone and time.time() - t0 < 10, "a client that stops sending is dropped within the time limit")
t.control("timeoutwebadmin", "30\n")

st, body, jar = signin(ADMIN, "not-the-password")
t.ok("Wrong login" in body, "a wrong password is refused")
t.ok(re.search(r"sign-in failed for boss from 127\.0\.0\.1", log()), "and logged with the client address")
t1 = time.time()
st, body, jar = signin(ADMIN, APW)
t.ok(st == 303 and time.time() - t1 < 2, "one failure does not hold up the next sign-in")
tok = csrf_of(jar)
t.is_(len(tok), 32, "a CSRF token in the forms")
# a cookie of another application on the host, with 8-bit bytes (RFC 9110 obs-text)
sess_tok = re.search(r"lm_s\s+([0-9a-f]{64})", open(jar).read()).group(1)
r = raw(b"GET /domains HTTP/1.1\r\nHost: x\r\nCookie: theme=caf\xc3\xa9; lm_s=" + sess_tok.encode() +
        b"\r\nUser-Agent: T\xe9st\r\n\r\n")
t.ok(r.startswith(b"HTTP/1.1 200 ") and b"Add a domain" in r,
     "8-bit bytes in a header value (another cookie, the User-Agent) do not break the request")
st, body = curl(URL + "/domain/add", cookies=jar, data="d=" + D2)
t.ok("expired" in body and not fexists("domains", D2), "a form without the CSRF token changes nothing")
st, body = curl(URL + "/domain/add", cookies=jar, data="csrf=%s&d=%s" % ("0" * 32, D2))
t.ok("expired" in body and not fexists("domains", D2), "a wrong CSRF token changes nothing")
t.ok("bad form token" in log(), "refused forms are logged")
st, body = curl(URL + "/domain/add", cookies=jar, data="csrf=%s&d=%s" % (tok, "bad_name!"))
t.ok("not valid" in body, "a bad domain name is refused")
st, body = curl(URL + "/domain/add", cookies=jar, data="csrf=%s&d=%s" % (tok, D2))
t.ok(fexists("domains", D2), "with the token the same form works")
v.admin("alias", "add", "x@" + D2, "alice@" + D)

# a domain's postmaster
PMPW = "Postmaster-Key-44"
v.admin("user", "add", "postmaster@" + D, "--stdin", stdin=PMPW + "\n")
st, body, pj = signin("postmaster@" + D, PMPW)
t.is_(st, 303, "postmaster@%s signs in" % D)
ptok = csrf_of(pj)
st, body = curl(URL + "/domains", cookies=pj)
t.ok(D in body and D2 not in body, "the postmaster sees only its own domain")
st, body = curl(URL + "/user/add", cookies=pj,
                data="csrf=%s&d=%s&u=evil&password=Evil-Pass-99" % (ptok, D2))
t.ok("own domain only" in body and not fexists("domains", D2, "evil"),
     "a postmaster cannot add a mailbox to another domain")
st, body = curl(URL + "/alias/del", cookies=pj, data="csrf=%s&d=%s&a=x@%s" % (ptok, D, D2))
t.ok("own domain only" in body and fexists("domains", D2, ".qmail-x"),
     "nor delete an alias there by naming it in the form")
st, body = curl(URL + "/domain?d=" + D2, cookies=pj)
t.ok("Not allowed" in body and "x@" + D2 not in body, "nor read its mailboxes and aliases")
st, body = curl(URL + "/domain/del", cookies=pj, data="csrf=%s&d=%s&confirm=yes" % (ptok, D2))
t.ok("administrator" in body and fexists("domains", D2), "nor delete a domain")
st, _b = curl(URL + "/queue", cookies=pj)
t.is_(st, 404, "nor see the queue and logs")
st, body = curl(URL + "/user/add", cookies=pj, data="csrf=%s&d=%s&u=bob&password=bob" % (ptok, D))
t.ok("part of the address" in body and not fexists("domains", D, "bob"),
     "the password may not be the address's local part")
st, body = curl(URL + "/user/add", cookies=pj,
                data="csrf=%s&d=%s&u=bob&password=Bobs-Garden-12" % (ptok, D))
t.ok(fexists("domains", D, "bob", "Maildir"), "the postmaster adds a mailbox in its own domain")
t.ok(re.search(r"change by postmaster@%s from 127\.0\.0\.1\n.*user add bob@" % re.escape(D), log()),
     "logged with the postmaster's name")
v.admin("user", "del", "postmaster@" + D)
st, _b = curl(URL + "/domains", cookies=pj)
t.is_(st, 303, "a postmaster whose mailbox is gone is signed out")

# the queue page: the last lines of each service's log, escaped
ldir = os.path.join(H, "log", "webadmintest")
os.makedirs(ldir, exist_ok=True)
with open(os.path.join(ldir, "current"), "w") as f:
    f.write("".join("@4000 line %d\n" % i for i in range(20)) + "@4000 <b>last</b> & done\n")
# the log directories belong to the log user: no link in them leads root elsewhere
secret = os.path.join(t.tmpdir(), "secret")
with open(secret, "w") as f:
    f.write("TOP-SECRET-CONTENT\n")
ldir2 = os.path.join(H, "log", "webadminlink")
os.makedirs(ldir2, exist_ok=True)
os.symlink(secret, os.path.join(ldir2, "current"))
st, body = curl(URL + "/queue", cookies=jar)
shutil.rmtree(ldir)
shutil.rmtree(ldir2)
t.ok("Log: webadmintest" in body and "line 19" in body and "line 5\n" not in body,
     "the queue page shows the last lines of each service's log")
t.ok("&lt;b&gt;last&lt;/b&gt; &amp; done" in body and "<b>last</b>" not in body, "log lines are HTML-escaped")
t.ok("TOP-SECRET-CONTENT" not in body, "a log/NAME/current that is a symbolic link is not followed")

# a domain with hundreds of mailboxes, aliases and lists: written the way
# qmail-admin lays them out (vpasswd lines, .qmail files, Maildirs), but
# directly, which takes a moment where qmail-admin would take minutes
t.control("timeoutwebadmin", "60\n")
v.admin("domain", "add", BIG, check=True)
v.admin("user", "add", "first@" + BIG, "--stdin", stdin="First-Pass-2026\n", check=True)
bigdir = os.path.join(H, "domains", BIG)
vp = os.path.join(bigdir, "vpasswd")
hashpart = open(vp).read().splitlines()[0].split(":")[1]


def mailbox(name, quota="", messages=0):
    """a mailbox of BIG: its vpasswd line, .qmail file and Maildir"""
    with open(vp, "a") as f:
        f.write("%s:%s:%s\n" % (name, hashpart, quota))
    with open(os.path.join(bigdir, ".qmail-" + name), "w") as f:
        f.write("./%s/Maildir/\n" % name)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(bigdir, name, "Maildir", sub))
    cur = os.path.join(bigdir, name, "Maildir", "cur")
    for i in range(messages):  # no ",S=" in the names: a count must stat each
        open(os.path.join(cur, "%d.M%dP1.big:2," % (1700000000 + i, i)), "w").close()


for i in range(250):
    mailbox("box%03d" % i)
mailbox("zfat", messages=5000)  # no quota: counted from its files
mailbox("zquota", quota="1000000000", messages=5000)  # a quota, and sums that say so
with open(os.path.join(bigdir, "zquota", "Maildir", "maildirsize"), "w") as f:
    f.write("1000000000S\n4321 5000\n")
for i in range(130):
    with open(os.path.join(bigdir, ".qmail-al%03d" % i), "w") as f:
        f.write("# alias\n&first@%s\n" % BIG)
with open(os.path.join(bigdir, ".qmail-team"), "w") as f:
    f.write("# list\n&first@%s\n&box001@%s\n" % (BIG, BIG))
BOXES = sorted(["box%03d" % i for i in range(250)] + ["first", "zfat", "zquota"])
# and the alias of the system's postmaster that domain add made
ALIASES = sorted(["al%03d" % i for i in range(130)] +
                 (["postmaster"] if os.path.exists(os.path.join(bigdir, ".qmail-postmaster")) else []))


def section(body, table):
    """the part of a domain page about one listing"""
    m = re.search(r'<section id="s-%s">(.*?)</section>' % table, body, re.S)
    return m.group(1) if m else ""


def rows(body, table="mailboxes"):
    return re.findall(r"<tr><td>([^<@]*)@", section(body, table))


def link(body, rel, table="mailboxes"):
    m = re.search(r'<a rel="%s" href="([^"]*)"' % rel, section(body, table))
    return m.group(1).replace("&amp;", "&") if m else None


st, body = curl(URL + "/domain?d=" + BIG, cookies=jar)
t.ok(st == 200 and rows(body) == BOXES[:100] and "1 to 100 of 253 (page 1 of 3)" in body,
     "a domain of 253 mailboxes: the first page shows the first 100 of them, by name")
t.ok(body.find('id="newuser"') < body.find('id="mailboxes"') and
     body.find('id="newalias"') < body.find('id="aliases"') and
     body.find('id="newlist"') < body.find('id="lists"') and body.find('id="newuser"') > 0,
     "each add form comes before its table")
t.ok(link(body, "prev") is None and link(body, "next") == "/domain?d=%s&p=2#s-mailboxes" % BIG,
     "the first page links to the next, not to a previous one")
seen, url, pages = [], "/domain?d=" + BIG, 0
while url and pages < 10:
    st, body = curl(URL + url, cookies=jar)
    pages += 1
    seen += rows(body)
    url = link(body, "next")
t.ok(pages == 3 and seen == BOXES, "following Next reaches the last mailbox, each shown once")
t.ok("201 to 253 of 253" in body and link(body, "next") is None, "the last page says so and has no Next")
st, body = curl(URL + (link(body, "prev") or "/none"), cookies=jar)
t.is_(rows(body), BOXES[100:200], "Previous goes back a page")
st, body = curl(URL + "/domain?d=%s&p=3" % BIG, cookies=jar)
use = dict(re.findall(r"<tr><td>([^<@]*)@[^<]*</td><td>([^<]*)</td>", section(body, "mailboxes")))
t.is_(use.get("zfat"), "0 bytes in 5000 messages", "a mailbox without quota: its files counted")
t.is_(use.get("zquota"), "4321 bytes in 5000 messages of 953 MB (0%)",
      "a mailbox with a quota: the sums of its maildirsize, not its files")
for q, what in (("0", "page 0"), ("999", "a page past the last"),
                ("99999999999999999999999", "a page number too long for any integer")):
    st, body = curl(URL + "/domain?d=%s&p=%s" % (BIG, q), cookies=jar)
    t.ok(st == 200 and rows(body) == (BOXES[:100] if q == "0" else BOXES[200:]),
         "%s shows the nearest page" % what)
for q in ("abc", "-1", "1.5", "%00", "2%0a"):
    st, body = curl(URL + "/domain?d=%s&p=%s" % (BIG, q), cookies=jar)
    t.ok(st == 400 and "<html" not in body, "a malformed page number (%r): 400" % q)

st, body = curl(URL + "/domain?d=%s&q=ZFA" % BIG, cookies=jar)
t.ok(st == 200 and rows(body) == ["zfat"] and 'value="zfa"' in body and
     "1 to 1 of 1" in body and link(body, "next") is None,
     "the search finds a mailbox by a part of its name, in any case")
st, body = curl(URL + "/domain?d=%s&q=1&p=2" % BIG, cookies=jar)
t.is_(rows(body), [b for b in BOXES if "1" in b][100:200], "the search has pages of its own")
t.ok(link(body, "prev") == "/domain?d=%s&q=1#s-mailboxes" % BIG, "and its links keep the search")
evil = "<script>\"x'&y="
st, body = curl(URL + "/domain?d=%s&q=%s" % (BIG, urllib.parse.quote(evil, safe="")), cookies=jar)
t.ok(st == 200 and "&lt;script&gt;&quot;x&#39;&amp;y=" in body and "<script>" not in body
     and "\"x'" not in body and rows(body) == [], "a hostile search is echoed escaped and finds nothing")
st, body = curl(URL + "/domain?d=%s&q=%s&p=1&pa=1" % (BIG, "box%22%3E"), cookies=jar)
t.ok(st == 200 and 'box&quot;&gt;' in body and 'box">' not in body, "quotes in the search cannot end an attribute")
st, body = curl(URL + "/domain?d=%s&q=%s" % (BIG, "x" * 65), cookies=jar)
t.is_(st, 400, "a search longer than any name: 400")

st, body = curl(URL + "/domain?d=%s&pa=2" % BIG, cookies=jar)
t.ok(rows(body, "aliases") == ALIASES[100:] and "101 to %d of %d" % (len(ALIASES), len(ALIASES)) in body
     and rows(body) == BOXES[:100], "aliases have pages of their own; mailboxes' .qmail files are none")
t.ok(rows(body, "lists") == ["team"] and "box001@%s" % BIG in section(body, "lists"), "the list and its members")
t.ok(link(body, "next") == "/domain?d=%s&p=2&pa=2#s-mailboxes" % BIG, "each pager keeps the others' pages")

# a change from page 2 comes back to page 2; the row stays where it was
# although qmail-admin moved its vpasswd line to the end
btok = csrf_of(jar, "/domain?d=" + BIG)
st, body = curl(URL + "/user/passwd", cookies=jar,
                data="csrf=%s&d=%s&a=box150@%s&password=Orchid-Ladder-92&p=2" % (btok, BIG, BIG))
t.ok("Done." in body and rows(body) == BOXES[100:200] and
     open(vp).read().splitlines()[-1].startswith("box150:"),
     "after a change the same page is shown, in the same order")
t.ok('name="p" value="2"' in section(body, "mailboxes"), "the row forms carry the page")


def syscalls(path):
    """the system calls of one GET of path, qmail-webadmin run under strace -c"""
    out = os.path.join(t.tmpdir(), "strace")
    a, b = socket.socketpair()
    tok = re.search(r"lm_s\s+([0-9a-f]{64})", open(jar).read()).group(1)
    p = subprocess.Popen(["strace", "-f", "-c", "-o", out, os.path.join(t.BIN, "qmail-webadmin")],
                         stdin=b, stdout=b, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, TCPREMOTEIP="127.0.0.1"))
    b.close()
    a.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nCookie: lm_s=%s\r\n\r\n" % (path.encode(), tok.encode()))
    got = b""
    a.settimeout(60)
    while True:
        d = a.recv(65536)
        if not d:
            break
        got += d
    a.close()
    p.wait(timeout=60)
    calls = {}
    for ln in open(out):
        f = ln.split()
        if len(f) >= 5 and f[3].isdigit():
            calls[f[-1]] = int(f[3])
    return got, calls


def stats(calls):
    return sum(n for s, n in calls.items() if "stat" in s and "statfs" not in s)


if shutil.which("strace"):
    got, calls = syscalls("/domain?d=%s&p=3" % BIG)
    t.ok(got.startswith(b"HTTP/1.1 200 ") and stats(calls) >= 5000,
         "strace sees a mailbox of 5000 messages counted when it is on the page (%d stat calls)"
         % stats(calls))
    got, calls = syscalls("/domain?d=" + BIG)
    t.ok(got.startswith(b"HTTP/1.1 200 ") and b"box000@" in got and stats(calls) < 2000,
         "and not when it is not (%d stat calls)" % stats(calls))
    got, calls = syscalls("/domain?d=%s&q=zquota" % BIG)
    t.ok(b"4321 bytes in 5000 messages" in got and stats(calls) < 2000,
         "nor when its maildirsize has the sums (%d stat calls)" % stats(calls))
else:
    t.skip("no strace", 3)

# 20000 mailboxes more, with names of 64 characters: far more than one
# listing could hand over, and every one on some page
long = "x" * 56
with open(vp, "a") as f:
    f.write("".join("%s%08d:%s:\n" % (long, i, hashpart) for i in range(20000)))
BOXES = sorted(BOXES + ["%s%08d" % (long, i) for i in range(20000)])
t0 = time.time()
st, body = curl(URL + "/domain?d=%s&p=%d" % (BIG, 12345 // 100 + 1), cookies=jar)
t.diag("a page of a domain of %d mailboxes: %.2f s, %d bytes" % (len(BOXES), time.time() - t0, len(body)))
t.ok(st == 200 and rows(body) == BOXES[12300:12400] and "too long" not in body,
     "a domain of 20253 mailboxes: any page shows its 100")
st, body = curl(URL + "/domain?d=" + BIG + "&p=1000", cookies=jar)
t.ok(st == 200 and rows(body) == BOXES[20200:] and "20201 to 20253 of 20253 (page 203 of 203)" in body,
     "and the last page its last ones")
t.ok(link(body, "first") and link(body, "last") is None and
     rows(curl(URL + (link(body, "first") or "/none"), cookies=jar)[1]) == BOXES[:100],
     "First leads back to the start")
v.cleanup(BIG)
t.control("timeoutwebadmin", "30\n")

# an expired session
sess = os.path.join(H, "users", "websessions")
for f in os.listdir(sess):
    old = time.time() - 7200
    os.utime(os.path.join(sess, f), (old, old))
st, body = curl(URL + "/domain/add", cookies=jar, data="csrf=%s&d=late.test.example" % tok)
t.ok("session has ended" in body and not fexists("domains", "late.test.example"),
     "an expired session changes nothing")
st, _b = curl(URL + "/domains", cookies=jar)
t.is_(st, 303, "and an expired session's pages send the browser to sign in")

# TOTP: enrolment, a code, the same code again
rc, out, _e = v.admin("totp", "on", ADMIN)
m = re.search(r"otpauth://totp/lanmail:boss\?secret=([A-Z2-7]+)&", out)
t.ok(rc == 0 and m, "qmail-admin totp on prints the otpauth:// URI")


if m:
    st, body, _j = signin(ADMIN, APW)
    t.ok("Wrong" in body, "with a second factor, the password alone is refused")
    code = t.totp(m.group(1), int(time.time()) // 30)
    st, body, _j = signin(ADMIN, APW, code)
    t.is_(st, 303, "password and the current code sign in")
    st, body, _j = signin(ADMIN, APW, code)
    t.ok("Wrong" in body, "the same code does not work twice")
    st, body, _j = signin(ADMIN, APW, t.totp(m.group(1), int(time.time()) // 30 - 5))
    t.ok("Wrong" in body, "a code from minutes ago is refused")
else:
    t.skip("no TOTP secret", 4)

# behind qmail-tls: Secure cookies, no warning
if os.path.exists(os.path.join(t.BIN, "qmail-tls")):
    made = []
    for f in ("servercert.pem", "serverkey.pem"):
        if not fexists("control", f):
            made.append(os.path.join(H, "control", f))
    if made:
        subprocess.run(["sh", os.path.join(t.SRC, "mkcert.sh"), H, "webadmin.test"],
                       capture_output=True, timeout=60)
    tport = t.free_port()
    t.start(["tcpserver", "-R", "-H", "-l", "localhost", "127.0.0.1", str(tport),
             os.path.join(t.BIN, "qmail-tls"), os.path.join(t.BIN, "qmail-webadmin")], stderr=logf)
    t.wait_port(tport)
    r = subprocess.run(["curl", "-k", "-s", "-i", "--max-time", "20", "https://127.0.0.1:%d/login" % tport],
                       capture_output=True, timeout=30)
    head, _, body = r.stdout.decode(errors="replace").partition("\r\n\r\n")
    t.ok(re.search(r"Set-Cookie: lm_pre=[0-9a-f]+;.*; Secure", head), "over TLS the cookies are Secure")
    t.ok("Strict-Transport-Security" in head and "Sign in" in body and "not encrypted" not in body,
         "over TLS: HSTS, and no warning on the page")
    for f in made:
        if os.path.exists(f):
            os.unlink(f)
else:
    t.skip("no qmail-tls", 2)

after = sorted(os.listdir(os.path.join(H, "domains")))
t.is_(sorted(set(after) - set(before)), [D2], "nothing refused added a domain")
logf.close()
cleanup()
t.control("timeoutwebadmin", None)
t.done()
