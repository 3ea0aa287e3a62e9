#!/usr/bin/python3
"""supervise-rules.t - the smtpd service's rules: relaynets, tcp.smtpd,
rbls through rblsmtpd, and the connection limit.

Runs the real smtpd service directory under svscan (on a high loopback
port) and connects from different loopback source addresses: 127.0.0.1
and a relaynets address may relay, another may not, a tcp.smtpd deny rule
drops its client, and a client a DNS blocklist lists (answered by a small
DNS server this test runs on 127.0.0.77:53, found by rblsmtpd through
DNSCACHEIP) is refused with the list's text.  Then control/concurrencyincoming
holds a third client back while two are connected.
"""
import os
import pwd
import shutil
import smtplib
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402

t.need_home()
for p in ("qmail-smtpd", "qmail-queue"):
    if not os.access(os.path.join(t.BIN, p), os.X_OK):
        t.skip_all("needs %s in bin/ (not built yet)" % p)
for tool in ("svscan", "supervise", "multilog", "svc", "svok", "tcpserver", "tcprules", "rblsmtpd"):
    if not shutil.which(tool):
        t.skip_all("%s is not installed" % tool)
try:
    s = socket.socket()
    s.bind(("127.0.0.5", 0))
    s.close()
except OSError:
    t.skip_all("cannot use 127.0.0.5 as a source address")

HOME = t.HOME
DOMAIN = "rules.test"
ZONE = "rbl.lanmail.test"
DNSIP = "127.0.0.77"
login = pwd.getpwuid(os.getuid()).pw_name
port = t.free_port()
NAMES = ("me", "locals", "rcpthosts", "listenip", "smtpport", "relaynets", "tcp.smtpd", "rbls",
         "concurrencyincoming", "servercert.pem", "serverkey.pem")
saved = {}
for n in NAMES:
    path = os.path.join(HOME, "control", n)
    saved[n] = open(path, "rb").read() if os.path.exists(path) else None
# plain SMTP: no TLS in front for this test
for n in ("servercert.pem", "serverkey.pem"):
    t.control(n, None)
t.control("me", DOMAIN + "\n")
t.control("locals", DOMAIN + "\n")
t.control("rcpthosts", DOMAIN + "\n")
t.control("listenip", "127.0.0.1\n")
t.control("smtpport", "%d\n" % port)
t.control("relaynets", "# the lab\n127.0.0.3\nfd00:1:2::/48\n")
t.control("tcp.smtpd", "127.0.0.4:deny\n")
t.control("concurrencyincoming", "2\n")


# a DNS server for the blocklist: TXT for 2.0.0.127.ZONE, NXDOMAIN for the rest
def dns_answer(q):
    if len(q) < 12:
        return None
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        n = q[i]
        labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace").lower())
        i += 1 + n
    question = q[12:i + 5]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0] if i + 3 <= len(q) else 0
    name = ".".join(labels)
    listed = name == "2.0.0.127." + ZONE
    if listed and qtype in (16, 255):
        txt = b"listed by the lanmail test list"
        rr = b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(txt) + 1) + bytes([len(txt)]) + txt
        return struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + rr
    if listed:
        return struct.pack(">HHHHHH", qid, 0x8180, 1, 0, 0, 0) + question
    return struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question


dns = None
queries = []
if os.getuid() == 0:
    try:
        dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dns.bind((DNSIP, 53))
        dns.settimeout(0.2)
    except OSError:
        dns = None
stop_dns = threading.Event()


def dns_loop():
    while not stop_dns.is_set():
        try:
            q, peer = dns.recvfrom(512)
        except socket.timeout:
            continue
        except OSError:
            return
        queries.append(q)
        a = dns_answer(q)
        if a:
            dns.sendto(a, peer)


if dns:
    t.control("rbls", ZONE + "\n")
    threading.Thread(target=dns_loop, daemon=True).start()
else:
    t.control("rbls", None)

scan = t.tmpdir("lanmail-svscan-rules.")
svscan = None
svdir = os.path.join(HOME, "service", "smtpd")
t.plan(14)


def svok(d):
    return subprocess.run(["svok", d], stderr=subprocess.DEVNULL).returncode == 0


def rcpt_from(src, rcpt):
    """(code of RCPT) from source address src; the connection is then closed."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(src, 0)) as s:
        s.ehlo("client.test")
        s.mail("someone@example.net")
        code, _ = s.rcpt(rcpt)
        s.rset()
        return code


def greeting(sock, timeout):
    sock.settimeout(timeout)
    try:
        return sock.recv(512)
    except OSError:
        return b""


def rblsmtpd_parent():
    """the name of the program that runs rblsmtpd, None without one"""
    parent = None
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and open("/proc/%s/comm" % pid).read().strip() == "rblsmtpd":
                ppid = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[1]
                parent = open("/proc/%s/comm" % ppid).read().strip()
        except OSError:
            pass
    return parent


def listed_client():
    """A session from 127.0.0.2, which the test list names: what the
    server said, and (while it still talks) who runs rblsmtpd"""
    c = socket.socket()
    c.bind(("127.0.0.2", 0))
    data, parent = b"", None
    try:
        c.connect(("127.0.0.1", port))
        c.settimeout(10)
        data = c.recv(512)
        c.sendall(b"HELO x\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<b@rules.test>\r\n")
        end = time.time() + 10
        while b"listed by the lanmail test list" not in data and time.time() < end:
            more = c.recv(512)
            if not more:
                break
            data += more
        parent = rblsmtpd_parent()
    except OSError:
        pass
    c.close()
    return data, parent


try:
    r = subprocess.run(["sh", os.path.join(t.SRC, "service", "install.sh"), HOME, login],
                       capture_output=True, text=True)
    if r.returncode:
        t.diag(r.stdout + r.stderr)
    os.symlink(svdir, os.path.join(scan, "smtpd"))
    env = dict(os.environ)
    if dns:
        env["DNSCACHEIP"] = DNSIP
    svscan = t.start(["svscan", scan], cwd=scan, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.ok(t.wait_port(port, timeout=15), "smtpd listens on 127.0.0.1:%d" % port)

    t.is_(rcpt_from("127.0.0.1", "far@example.org"), 250, "127.0.0.1 may relay")
    t.is_(rcpt_from("127.0.0.3", "far@example.org"), 250, "an address in control/relaynets may relay")
    t.is_(rcpt_from("127.0.0.5", "far@example.org"), 553, "any other client may not relay")
    t.ok(rcpt_from("127.0.0.5", "postmaster@" + DOMAIN) == 250, "but may send to a local domain")

    c = socket.socket()
    c.bind(("127.0.0.4", 0))
    c.connect(("127.0.0.1", port))
    t.is_(greeting(c, 5), b"", "a client a control/tcp.smtpd rule denies gets nothing")
    c.close()

    if dns:
        data, _ = listed_client()
        t.ok(b"451" in data and b"listed by the lanmail test list" in data,
             "a client control/rbls lists gets 451 with the list's text")
        if b"451" not in data:
            t.diag(repr(data))

        # with a certificate qmail-tls -s comes first: it drops root before
        # a byte is read, and rblsmtpd, which talks to the client too,
        # runs behind it, never as root in front of it
        r = subprocess.run(["sh", os.path.join(t.SRC, "mkcert.sh"), HOME, DOMAIN],
                           capture_output=True, text=True)
        subprocess.run(["svc", "-t", svdir], stderr=subprocess.DEVNULL)
        time.sleep(1)
        up = t.wait_port(port, timeout=15)
        data, parent = listed_client()
        t.ok(r.returncode == 0 and up and b"451" in data and b"listed by the lanmail test list" in data,
             "with a certificate, a listed client still gets 451 with the list's text (%r)" % data[-60:])
        t.is_(parent, "qmail-tls", "rblsmtpd runs behind qmail-tls, not in front of it")
        for n in ("servercert.pem", "serverkey.pem"):
            t.control(n, None)
        subprocess.run(["svc", "-t", svdir], stderr=subprocess.DEVNULL)
        time.sleep(1)
        t.wait_port(port, timeout=15)
    else:
        t.skip("not root: no DNS server on %s:53 for rblsmtpd" % DNSIP, 3)

    # concurrencyincoming 2: a third client waits until one of two leaves
    a = socket.create_connection(("127.0.0.1", port))
    b = socket.create_connection(("127.0.0.1", port))
    first = greeting(a, 5).startswith(b"220") and greeting(b, 5).startswith(b"220")
    c = socket.create_connection(("127.0.0.1", port))
    held = greeting(c, 1.5) == b""
    a.close()
    served = greeting(c, 10).startswith(b"220")
    t.ok(first and held and served,
         "control/concurrencyincoming 2: the third client is greeted only when one leaves")
    b.close()
    c.close()
    log = open(os.path.join(HOME, "log", "smtpd", "current"), errors="replace").read()
    t.ok("tcpserver: status: 2/2" in log and "tcpserver: deny" in log,
         "the log shows the limit reached and the denied client")

    # control/listenip ::1: the run script takes an IPv6 address (svc -t rereads it)
    t.control("listenip", "::1\n")
    subprocess.run(["svc", "-t", svdir], stderr=subprocess.DEVNULL)
    up6 = t.wait_port(port, addr="::1", timeout=15)
    g6 = b""
    if up6:
        with socket.create_connection(("::1", port), timeout=10) as c6:
            g6 = greeting(c6, 10)
    t.ok(up6 and g6.startswith(b"220"), "control/listenip ::1: smtpd greets over IPv6: %r" % g6[:40])
    code6 = None
    if up6:
        with smtplib.SMTP("::1", port, timeout=10) as s6:
            s6.ehlo("client.test")
            s6.mail("someone@example.net")
            code6, _ = s6.rcpt("far@example.org")
    t.is_(code6, 250, "::1 may relay, as 127.0.0.1 may")
    rules = open(os.path.join(svdir, "tcp")).read()
    log = open(os.path.join(HOME, "log", "smtpd", "current"), errors="replace").read()
    t.ok("fd00" not in rules and "not a network" not in log,
         "the IPv6 line of control/relaynets is left to qmail-smtpd, without a warning")
finally:
    stop_dns.set()
    try:
        os.unlink(os.path.join(scan, "smtpd"))
    except OSError:
        pass
    subprocess.run(["svc", "-dx", svdir], stderr=subprocess.DEVNULL)
    t.wait_until(lambda: not svok(svdir), 10)
    subprocess.run(["svc", "-dx", os.path.join(svdir, "log")], stderr=subprocess.DEVNULL)
    t.wait_until(lambda: not svok(os.path.join(svdir, "log")), 10)
    if svscan:
        t.stop(svscan)
    if dns:
        dns.close()
    for n, v in saved.items():
        path = os.path.join(HOME, "control", n)
        if v is None:
            if os.path.exists(path):
                os.unlink(path)
        else:
            t.write(path, v, 0o600 if n == "serverkey.pem" else 0o644)
    shutil.rmtree(os.path.join(HOME, "log", "smtpd"), ignore_errors=True)
    for s in ("send", "submission", "pop3", "smtps", "pop3s", "webadmin"):
        shutil.rmtree(os.path.join(HOME, "log", s), ignore_errors=True)
    t.clear_queue()
t.done()
