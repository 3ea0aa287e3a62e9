#!/usr/bin/python3
"""start.t - make start and make stop on the scratch home.

Runs `make start NOBUILD=1` for the installed scratch copy (single-user,
high loopback ports given as make variables) as a new installation,
checks what it prints, the control files it writes, that the services
answer and svscan's pid is recorded; runs it a second time, over a
delivery in progress (same svscan, every service restarted with what was
installed, the delivery finished once, control files the administrator
removed left missing); then `make stop`, after which nothing it started is
left and the ports are closed; then once more with the certificate a
link that leads nowhere, which stays.
"""
import os
import pwd
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402

t.need_home()
for p in ("qmail-queue", "qmail-smtpd", "qmail-start", "qmail-send", "qmail-lspawn",
          "qmail-rspawn", "qmail-clean", "qmail-local"):
    if not os.access(os.path.join(t.BIN, p), os.X_OK):
        t.skip_all("needs %s in bin/ (not built yet)" % p)
for tool in ("svscan", "supervise", "multilog", "svc", "svok", "svstat", "tcpserver", "tcprules", "make"):
    if not shutil.which(tool):
        t.skip_all("%s is not installed" % tool)

HOME = t.HOME
SV = os.path.join(HOME, "svscan")
if os.path.exists(os.path.join(SV, ".how")):
    t.skip_all("%s/.how exists: a make start runs on this home already" % SV)
login = pwd.getpwuid(os.getuid()).pw_name
split = open(os.path.join(t.SRC, "conf-split")).readline().strip()
ports = {"smtpd": t.free_port(), "submission": t.free_port(), "pop3": t.free_port(),
         "smtps": t.free_port(), "pop3s": t.free_port(), "webadmin": t.free_port()}
CTL = ("me", "locals", "rcpthosts", "defaultdomain", "listenip", "smtpport", "submissionport", "pop3port",
       "smtpsport", "pop3sport", "webadminport", "servercert.pem", "serverkey.pem", "spfbehavior",
       "virtualdomains", "tcp.smtpd")
# a virtual domain, its mailboxes in a directory of the test's own
VDOM = "start-virt.test"
VHOME = t.tmpdir("start.")
saved = {}
for n in CTL:
    p = os.path.join(HOME, "control", n)
    saved[n] = open(p, "rb").read() if os.path.exists(p) else None
    if n in ("me", "locals", "rcpthosts", "defaultdomain", "servercert.pem", "serverkey.pem", "spfbehavior",
             "tcp.smtpd"):
        t.control(n, None)	# start.sh writes these when absent
t.control("virtualdomains", "%s:%s\n" % (VDOM, VDOM))
# users/ as the test sets it, and service/settings, whose absence makes
# this a new installation: put back at the end
USERS_SAVED = {}
for rel in ("users/assign", "users/assign.cdb", "users/recipients", "service/settings"):
    p = os.path.join(HOME, rel)
    USERS_SAVED[rel] = open(p, "rb").read() if os.path.exists(p) else None
    if os.path.exists(p):
        os.unlink(p)


def make(target, *extra):
    argv = ["make", "-s", "-C", t.SRC, target, "HOME_DIR=" + HOME, "USERS=" + login, "SPLIT=" + split,
            "NOBUILD=1", "SUPERVISOR=direct", "LISTEN=127.0.0.1", "SMTPPORT=%d" % ports["smtpd"],
            "SUBMISSIONPORT=%d" % ports["submission"], "POP3PORT=%d" % ports["pop3"],
            "SMTPSPORT=%d" % ports["smtps"], "POP3SPORT=%d" % ports["pop3s"],
            "WEBADMINPORT=%d" % ports["webadmin"],
            "SERVICES=send smtpd submission pop3 smtps pop3s webadmin"] + list(extra)
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=180)
    return r.returncode, r.stdout, r.stderr


def alive(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, ValueError):
        return False


def up_pid(service):
    r = subprocess.run(["svstat", os.path.join(HOME, "service", service)], capture_output=True, text=True)
    m = re.search(r": up \(pid (\d+)\)", r.stdout)
    return int(m.group(1)) if m else None


def child_pid(ppid, comm):
    """The pid of PPID's child named COMM, or None."""
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            name, rest = st.split(" (", 1)[1].rsplit(") ", 1)
            if name == comm and int(rest.split()[1]) == ppid:
                return int(d)
    return None


def maildir(name):
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(VHOME, name, sub), exist_ok=True)
    return os.path.join(VHOME, name, "new")


def closed(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


pid = None
services = []
SENDMAIL = "/usr/sbin/sendmail"
OURS = os.path.join(HOME, "bin", "sendmail")
# another mailer's sendmail is left alone; none (or a dead link) is replaced
theirs = os.path.exists(SENDMAIL) and os.path.realpath(SENDMAIL) != os.path.realpath(OURS)
t.plan(39)
try:
    # settings that would stop every listener: refused before anything starts
    rc, out, err = make("start", "LISTEN=localhost")
    t.ok(rc != 0 and "LISTEN is not an IPv4 or IPv6 address" in err and
         not os.path.exists(os.path.join(SV, ".how")), "LISTEN=localhost: refused, nothing started (%s)" % err.strip())
    rc, out, err = make("start", "SMTPPORT=abc")
    t.ok(rc != 0 and "SMTPPORT is not a port number" in err, "SMTPPORT=abc: refused (%s)" % err.strip())
    # a control file that cannot be read is no default: start stops
    os.mkdir(os.path.join(HOME, "control", "me"))
    try:
        rc, out, err = make("start")
    finally:
        os.rmdir(os.path.join(HOME, "control", "me"))
    t.ok(rc != 0 and "start: fatal: unable to read control/me: not a regular file" in err and
         not os.path.exists(os.path.join(SV, ".how")), "control/me a directory: refused, nothing started (%s)"
         % err.strip())
    # control/me is read as the programs read it: comments are no name
    t.control("me", "# the name of this mail server\nmail.start.test \n")
    rc, out, err = make("start")
    t.is_(rc, 0, "make start exits 0")
    if rc:
        t.diag(out + err)
    services = open(os.path.join(SV, ".services")).read().split() if os.path.exists(os.path.join(SV, ".services")) else []
    t.ok("send" in services and "smtpd" in services, "send and smtpd are linked: %s" % " ".join(services))
    pid = int(open(os.path.join(SV, ".pid")).read()) if os.path.exists(os.path.join(SV, ".pid")) else None
    t.ok(pid and alive(pid) and open("/proc/%d/comm" % pid).read().strip() == "svscan",
         "svscan runs, its pid recorded in svscan/.pid")
    t.ok(re.search(r"smtpd\s+127\.0\.0\.1:%d listening" % ports["smtpd"], out),
         "it says SMTP listens on 127.0.0.1:%d" % ports["smtpd"])
    t.ok("qmail-admin domain add" in out and "qmail-admin user add" in out and "swaks" in out,
         "it says how to add a domain, a mailbox, and send a first message")
    ctl = {n: open(os.path.join(HOME, "control", n)).read() for n in ("me", "locals", "rcpthosts", "defaultdomain")}
    t.ok(ctl["me"] == "# the name of this mail server\nmail.start.test \n" and
         ctl["locals"] == "mail.start.test\nlocalhost\n",
         "control/me kept; locals written from the name it holds, not its comment: %r" % ctl)
    t.is_(ctl["rcpthosts"], "mail.start.test\nlocalhost\n%s\n" % VDOM,
          "control/rcpthosts: the domains of locals and those of virtualdomains, as without the file")
    t.is_(ctl["defaultdomain"], "start.test\n", "control/defaultdomain: the name without its first label")
    t.is_(open(os.path.join(HOME, "control", "spfbehavior")).read().strip(), "record",
          "control/spfbehavior written: SPF results are recorded")
    t.is_(open(os.path.join(HOME, "control", "smtpport")).read().strip(), str(ports["smtpd"]),
          "SMTPPORT is kept in control/smtpport")
    with smtplib.SMTP("127.0.0.1", ports["smtpd"], timeout=10) as s:
        code, _ = s.ehlo("start.test")
    t.is_(code, 250, "qmail-smtpd answers EHLO on the port")

    # TLS: make start made a certificate, smtpd offers STARTTLS, smtps and pop3s speak TLS
    if os.access(os.path.join(t.BIN, "qmail-tls"), os.X_OK) and shutil.which("openssl") and \
            os.path.exists(os.path.join(t.SRC, "mkcert.sh")):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t.ok(os.path.exists(os.path.join(HOME, "control", "servercert.pem")) and "self-signed" in err,
             "a self-signed certificate was made, and it says so")
        subj = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in",
                               os.path.join(HOME, "control", "servercert.pem")], capture_output=True, text=True)
        t.ok(re.search(r"CN\s*=\s*mail\.start\.test$", subj.stdout.strip()),
             "mkcert.sh named it after control/me's name: %s" % subj.stdout.strip())
        with smtplib.SMTP("127.0.0.1", ports["smtpd"], timeout=10) as s:
            s.ehlo("start.test")
            offered = s.has_extn("starttls")
            code = s.starttls(context=ctx)[0] if offered else None
            tlsok = code == 220 and s.ehlo("start.test")[0] == 250
        t.ok(tlsok, "smtpd: STARTTLS offered and the handshake works")
        ok = False
        if "smtps" in services and t.wait_port(ports["smtps"], timeout=10):
            with smtplib.SMTP_SSL("127.0.0.1", ports["smtps"], timeout=10, context=ctx) as s:
                ok = s.ehlo("start.test")[0] == 250 and s.has_extn("auth")
        t.ok(ok, "smtps: TLS first, then EHLO offers AUTH")
        if "webadmin" in services and t.wait_port(ports["webadmin"], timeout=10):
            answer = b""
            try:
                with socket.create_connection(("127.0.0.1", ports["webadmin"]), timeout=10) as raw:
                    with ctx.wrap_socket(raw) as c:
                        c.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                        while len(answer) < 65536:
                            more = c.recv(4096)
                            if not more:
                                break
                            answer += more
            except OSError as e:
                t.diag("webadmin: %s" % e)
            t.ok(answer.startswith(b"HTTP/1.1 "), "webadmin answers HTTPS: %r" % answer[:20])
        else:
            t.skip("qmail-webadmin not built")
    else:
        t.skip("qmail-tls, openssl or mkcert.sh missing: no TLS", 5)

    if os.getuid() != 0:
        t.skip("not root: make start links no sendmail")
    elif theirs:
        t.ok(os.path.realpath(SENDMAIL) != os.path.realpath(OURS) and "belongs to another mailer" in out,
             "another mailer's %s is left alone, with a note" % SENDMAIL)
    else:
        t.ok(os.path.islink(SENDMAIL) and os.readlink(SENDMAIL) == OURS,
             "%s now leads to HOME/bin/sendmail" % SENDMAIL)

    # an install that exists: the control files the administrator took
    # away are settings (no rcpthosts: the domains of locals and
    # virtualdomains; no spfbehavior: off), and stay away.  Mail from
    # 127.0.0.1 must not relay here, so that rcpthosts counts.
    for n in ("rcpthosts", "spfbehavior", "defaultdomain"):
        t.control(n, None)
    t.control("tcp.smtpd", "127.0.0.1:allow\n")
    t.write(os.path.join(HOME, "users", "assign"),
            "+%s-:%s:%d:%d:%s:-::\n.\n" % (VDOM, login, os.getuid(), os.getgid(), VHOME))
    subprocess.run([os.path.join(t.BIN, "qmail-newu")], check=True)
    slowbox, fastbox = maildir("slowbox"), maildir("fastbox")
    t.write(os.path.join(VHOME, ".qmail-slow"), "|touch slow.started; sleep 5\n./slowbox/\n")
    t.write(os.path.join(VHOME, ".qmail-fast"), "./fastbox/\n")
    # a delivery in progress when make start runs again
    subprocess.run([os.path.join(t.BIN, "sendmail"), "-f", "someone@start.test", "slow@" + VDOM],
                   input=b"Subject: slow\n\nqueued before the second make start\n", check=True)
    started = t.wait_until(lambda: os.path.exists(os.path.join(VHOME, "slow.started")))
    before = {s: up_pid(s) for s in services}
    oldsend = child_pid(before.get("send") or 0, "qmail-send")
    rc, out2, err2 = make("start")
    t.is_(rc, 0, "make start a second time exits 0")
    if rc:
        t.diag(out2 + err2)
    t.ok("already running" in out2 and int(open(os.path.join(SV, ".pid")).read()) == pid,
         "the second run leaves svscan alone")
    t.ok(not [n for n in ("rcpthosts", "spfbehavior", "defaultdomain")
              if os.path.exists(os.path.join(HOME, "control", n))] and "wrote control/rcpthosts" not in out2,
         "control/rcpthosts, spfbehavior and defaultdomain, removed from an install, stay missing")
    t.ok(started and re.search(r"restarting send: qmail-send finishes the deliveries in progress", out2) and
         re.search(r"^start: restarting smtpd$", out2, re.M),
         "it says it restarts send, which finishes its deliveries first, and smtpd")
    # qmail-send has exited once the slow delivery reported
    t.ok(t.wait_until(lambda: all(up_pid(s) not in (None, before[s]) for s in services)),
         "every service that ran was restarted: %r, then %r" % (before, {s: up_pid(s) for s in services}))
    newsend = child_pid(up_pid("send") or 0, "qmail-send")
    t.ok(oldsend and newsend and newsend != oldsend and not alive(oldsend),
         "a new qmail-send runs (pid %s, was %s)" % (newsend, oldsend))
    t.ok(t.wait_until(lambda: len(os.listdir(slowbox)) == 1), "the delivery in progress was finished")
    # the virtual domain still takes mail from other servers, which the
    # new qmail-send delivers
    code = None
    if t.wait_port(ports["smtpd"], timeout=10):
        with smtplib.SMTP("127.0.0.1", ports["smtpd"], timeout=10) as s:
            s.ehlo("start.test")
            s.mail("someone@start.test")
            code, msg = s.rcpt("fast@" + VDOM)
            if code == 250:
                s.data(b"Subject: fast\r\n\r\nafter the second make start\r\n")
    t.is_(code, 250, "mail for the virtual domain is taken without control/rcpthosts, as its default says")
    t.ok(t.wait_until(lambda: len(os.listdir(fastbox)) == 1), "and delivered by the new qmail-send")
    t.ok(t.wait_until(lambda: not t.queue_files("mess")) and len(os.listdir(slowbox)) == 1,
         "the queue is empty, the slow message was delivered once")

    rc, out3, err3 = make("stop")
    t.is_(rc, 0, "make stop exits 0")
    if rc:
        t.diag(out3 + err3)
    t.ok(pid and not alive(pid), "svscan is gone")
    t.ok(all(subprocess.run(["svok", os.path.join(HOME, "service", s)]).returncode != 0 and
             subprocess.run(["svok", os.path.join(HOME, "service", s, "log")]).returncode != 0
             for s in services), "no supervise left for any service or logger")
    t.ok(all(closed(p) for p in ports.values()) and not os.path.exists(os.path.join(SV, ".how")) and
         not [x for x in os.listdir(SV) if not x.startswith(".")],
         "the ports are closed and the scan directory is empty")
    if os.getuid() != 0:
        t.skip("not root: make start linked no sendmail")
    elif theirs:
        t.ok(os.path.exists(SENDMAIL) and os.path.realpath(SENDMAIL) != os.path.realpath(OURS),
             "make stop leaves the other mailer's sendmail")
    else:
        t.ok(not os.path.lexists(SENDMAIL), "make stop removed the sendmail link")

    # a certificate that is a link into a directory this host lacks (a
    # backup of a host with /etc/letsencrypt): kept, with a warning
    for n in ("servercert.pem", "serverkey.pem"):
        t.control(n, None)
        os.symlink(os.path.join(VHOME, "letsencrypt", n), os.path.join(HOME, "control", n))
    # a port another program holds is reported, not taken for ours
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", ports["pop3"]))
    squatter.listen(1)
    try:
        rc, out4, err4 = make("start")
    finally:
        squatter.close()
    t.ok(rc == 0 and re.search(r"smtpd\s+127\.0\.0\.1:%d listening" % ports["smtpd"], out4),
         "with the POP3 port taken, make start still starts SMTP")
    t.ok(re.search(r"pop3\s+127\.0\.0\.1:%d NOT listening: .*(bind|port taken)" % ports["pop3"], out4),
         "and says POP3 is not listening, and why, rather than counting another program's socket")
    if not re.search(r"pop3\s+127.*NOT listening", out4):
        t.diag(out4)
    t.ok(all(os.readlink(os.path.join(HOME, "control", n)) == os.path.join(VHOME, "letsencrypt", n)
             for n in ("servercert.pem", "serverkey.pem") if os.path.islink(os.path.join(HOME, "control", n))) and
         all(os.path.islink(os.path.join(HOME, "control", n)) for n in ("servercert.pem", "serverkey.pem")),
         "a certificate that is a link leading nowhere is kept, not replaced by a self-signed one")
    t.ok("warning: control/servercert.pem is a link to %s, which does not exist" %
         os.path.join(VHOME, "letsencrypt", "servercert.pem") in out4 and "self-signed" not in err4,
         "and make start says it leads nowhere")
    pid = int(open(os.path.join(SV, ".pid")).read()) if os.path.exists(os.path.join(SV, ".pid")) else pid
    make("stop")
finally:
    if os.path.exists(os.path.join(SV, ".how")):
        make("stop")
    if pid and alive(pid):
        os.kill(pid, 9)
    for n, v in saved.items():
        path = os.path.join(HOME, "control", n)
        if os.path.lexists(path):
            os.unlink(path)
        if v is not None:
            t.write(path, v, 0o600 if n == "serverkey.pem" else 0o644)
    for rel, v in USERS_SAVED.items():
        path = os.path.join(HOME, rel)
        if os.path.exists(path):
            os.unlink(path)
        if v is not None:
            t.write(path, v)
    shutil.rmtree(SV, ignore_errors=True)
    for s in ("send", "smtpd", "submission", "pop3", "smtps", "pop3s", "webadmin"):
        shutil.rmtree(os.path.join(HOME, "log", s), ignore_errors=True)
    try:
        os.unlink(os.path.join(HOME, "log", "svscan.log"))
    except OSError:
        pass
    t.clear_queue()
t.done()
