#!/usr/bin/python3
"""qmail-smtpd over IPv6: a real tcpserver on ::1, python's smtplib
connecting over IPv6, the message queued with the client's IPv6 address
in the Received line; an IPv4 client of the same program still sees
plain dotted quads.  Then the IPv6 networks of control/relaynets: in a
network namespace of its own (unshare -n, as root), with two IPv6
addresses on its loopback, a client from one in a listed network may
relay and a client from the other may not, and a tcprules deny line
for an IPv6 prefix drops a third."""
import os
import shutil
import smtplib
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lanmail as t
import smtpdtest as s

t.need_home()
try:
    socket.socket(socket.AF_INET6, socket.SOCK_STREAM).bind(("::1", 0))
except OSError as e:
    t.skip_all("no IPv6 on loopback: %s" % e)

# run in the namespace: tcpserver with qmail-smtpd on ::1, then from each
# source address one SMTP dialogue up to RCPT; prints "SOURCE CODE" lines
INNER = r"""
set -e
ip link set lo up
ip -6 addr add fd00:1:2::5/128 dev lo nodad
ip -6 addr add fd00:9::5/128 dev lo nodad
ip -6 addr add fd00:7::7/128 dev lo nodad
printf 'fd00:7::deny\n:allow\n' > "$RULES"
tcprules "$RULES.cdb" "$RULES.tmp" < "$RULES"
tcpserver -x "$RULES.cdb" -R -H -l localhost ::1 "$PORT" "$SMTPD" 2>/dev/null &
ts=$!
trap 'kill $ts' EXIT
/usr/bin/python3 - <<'PY'
import os, socket, time
port = int(os.environ["PORT"])
end = time.time() + 30
while time.time() < end:
    try:
        socket.create_connection(("::1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.05)
for src in ("fd00:1:2::5", "fd00:9::5", "::1", "fd00:7::7"):
    c = socket.socket(socket.AF_INET6)
    c.settimeout(10)
    c.bind((src, 0))
    c.connect(("::1", port))
    f = c.makefile("rb")
    if not f.peek(1):
        print(src, "closed", flush=True)
        continue
    def reply():
        line = f.readline()
        while line[3:4] == b"-":
            line = f.readline()
        return line[:3].decode()
    reply()
    for cmd in (b"HELO six.test", b"MAIL FROM:<a@six.test>"):
        c.sendall(cmd + b"\r\n")
        reply()
    c.sendall(b"RCPT TO:<far@elsewhere.example>\r\n")
    print(src, reply(), flush=True)
    c.sendall(b"QUIT\r\n")
    c.close()
PY
"""


def relaynets6():
    if os.getuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        t.skip("needs root, unshare and ip for a network namespace", 4)
        return
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        t.skip("no network namespace here: %s" % probe.stderr.decode(errors="replace").strip(), 4)
        return
    s.control("relaynets", "# the lab\n10.9.0.0/16\nfd00:1:2::/48\n")
    env = dict(os.environ, PORT=str(t.free_port()), SMTPD=os.path.join(t.BIN, "qmail-smtpd"),
               RULES=os.path.join(t.tmpdir("smtpd6-rules."), "tcp"))
    for v in ("RELAYCLIENT", "SUBMISSION"):
        env.pop(v, None)
    r = subprocess.run(["unshare", "-n", "sh", "-c", INNER], capture_output=True, env=env,
                       timeout=60, text=True)
    got = dict(line.split() for line in r.stdout.splitlines() if len(line.split()) == 2)
    if not got:
        t.diag("namespace run: exit %d, %s" % (r.returncode, r.stderr.strip()))
    t.is_(got.get("fd00:1:2::5"), "250", "an IPv6 client in a control/relaynets network may relay")
    t.is_(got.get("fd00:9::5"), "553", "an IPv6 client outside it may not")
    t.is_(got.get("::1"), "553", "without the tcprules databases, ::1 is not in the file either")
    t.is_(got.get("fd00:7::7"), "closed", "a tcprules line fd00:7::deny (the prefix fd00:7: and the colon ending it) drops fd00:7::7")


s.setup()
try:
    srv = s.Server(addr="::1")
    if not t.wait_port(srv.port, "::1", timeout=5):
        t.skip_all("this tcpserver cannot listen on ::1 (install ucspi-tcp-ipv6)")
    msg = b"From: a@v6.test\r\nTo: u1@virt.test\r\nSubject: over IPv6\r\n\r\nhello\r\n"
    with smtplib.SMTP("::1", srv.port, timeout=30) as c:
        code, _ = c.ehlo("client6.test")
        t.is_(code, 250, "EHLO over IPv6")
        refused = c.sendmail("a@v6.test", ["u1@virt.test"], msg)
        t.is_(refused, {}, "message accepted over IPv6")
    q = s.queue()
    t.is_(len(q), 1, "one message queued")
    m = q[0] if q else {"message": b"", "error": "none", "recipients": []}
    t.ok(m["error"] is None, "envelope well formed: %s" % m["error"])
    t.is_(m.get("recipients"), [b"u1@virt.test"], "recipient")
    t.ok(b"[IPv6:::1]" in s.body_of(m["message"]).split(b"\nFrom: ")[0],
         "Received line names the client as [IPv6:::1]")
    t.ok(s.strip_received(m["message"]).endswith(b"\nhello\n"), "body intact")
    t.clear_queue()

    srv4 = s.Server(addr="127.0.0.1")
    with smtplib.SMTP("127.0.0.1", srv4.port, timeout=30) as c:
        c.ehlo("client4.test")
        c.sendmail("a@v4.test", ["u1@virt.test"], msg)
    q = s.queue()
    # the Received line only: the subject says IPv6 too
    head = s.body_of(q[0]["message"]).split(b"\nFrom: ")[0] if q else b""
    t.ok(b"[127.0.0.1]" in head and b"IPv6" not in head, "an IPv4 client is a dotted quad")
    if b"[127.0.0.1]" not in head:
        t.diag(head.decode("latin-1"))
    t.clear_queue()
    relaynets6()
finally:
    s.restore()
t.done()
