#!/usr/bin/python3
"""The everyday path, every program real: qmail-admin makes a domain, two
mailboxes, an alias and a list; smtplib submits with AUTH through
qmail-smtpd (SUBMISSION, checked by qmail-auth); qmail-queue, qmail-send,
qmail-lspawn and qmail-local deliver through users/assign and the
domain's .qmail files; poplib and curl fetch the mail over
qmail-popup/qmail-auth/qmail-pop3d, byte for byte."""
import os
import poplib
import shutil
import signal
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
for prog in ("qmail-smtpd", "qmail-start", "qmail-send", "qmail-lspawn", "qmail-local"):
    if not os.path.exists(os.path.join(t.BIN, prog)):
        t.skip_all("bin/%s is not built" % prog)
D = "e2e.test.example"
v.cleanup(D)
CONTROLS = ("me", "locals", "rcpthosts", "virtualdomains")
saved = {}
for c in CONTROLS:
    p = os.path.join(t.HOME, "control", c)
    saved[c] = open(p, "rb").read() if os.path.exists(p) else None
t.clear_queue()
send = None
try:
    t.control("me", "mail.e2e.test\n")
    t.control("locals", "mail.e2e.test\n")
    t.is_(v.admin("domain", "add", D)[0], 0, "qmail-admin domain add")
    t.is_(v.admin("user", "add", "alice@" + D, "--stdin", stdin="alice's secret\n")[0], 0, "user add alice")
    t.is_(v.admin("user", "add", "bob@" + D, "--stdin", stdin="bob's secret\n")[0], 0, "user add bob")
    t.is_(v.admin("alias", "add", "info@" + D, "bob@" + D)[0], 0, "alias info -> bob")
    t.is_(v.admin("list", "add", "all@" + D, "alice@" + D, "bob@" + D)[0], 0, "list all -> alice, bob")

    logf = open(os.path.join(t.tmpdir(), "send.log"), "wb")
    send = t.start([os.path.join(t.BIN, "qmail-start"), "./Maildir/"], stdout=logf,
                   stderr=subprocess.STDOUT, cwd="/")
    _p, sport = t.tcpserver([os.path.join(t.BIN, "qmail-smtpd"), os.path.join(t.BIN, "qmail-auth"),
                             "/bin/true"], env={"SUBMISSION": "1"})
    port = v.pop3_server()

    body = ("From: Alice <alice@%s>\r\nTo: bob@%s\r\nSubject: end to end\r\n"
            "Message-ID: <e2e-1@%s>\r\n\r\nHello Bob.\r\n.a dot line\r\nBye.\r\n" % (D, D, D))
    c = smtplib.SMTP("127.0.0.1", sport, timeout=20)
    c.ehlo("client.e2e.test")
    try:
        c.login("bob@" + D, "wrong")
        bad = False
    except smtplib.SMTPAuthenticationError:
        bad = True
    t.ok(bad, "AUTH with a wrong password refused")
    c.login("alice@" + D, "alice's secret")
    t.is_(c.sendmail("alice@" + D, ["bob@" + D], body), {}, "smtplib AUTH submission to bob accepted")
    t.is_(c.sendmail("alice@" + D, ["info@" + D], body.replace("e2e-1", "e2e-2")), {},
          "submission to the alias accepted")
    t.is_(c.sendmail("alice@" + D, ["all@" + D], body.replace("e2e-1", "e2e-3")), {},
          "submission to the list accepted")
    c.quit()

    t.ok(t.wait_until(lambda: len(v.messages(D, "bob")) == 3 and len(v.messages(D, "alice")) == 1, 30),
         "qmail-send delivered: three to bob (direct, alias, list), one to alice (list)")
    files = v.messages(D, "bob")
    stored = [open(f, "rb").read() for f in files]
    t.ok(all(b"Hello Bob.\n.a dot line\nBye.\n" in s for s in stored), "bodies stored intact with LF ends")
    t.ok(all(b"Delivered-To: " + D.encode() + b"-bob@" + D.encode() in s for s in stored),
         "delivered through the domain's +prefix- assignment")
    t.ok(all(b"(authenticated user alice@" + D.encode() + b")" in s for s in stored),
         "the Received line names the authenticated sender")

    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.user("bob@" + D)
    p.pass_("bob's secret")
    t.is_(p.stat()[0], 3, "bob sees three messages over POP3")
    got = [b"\n".join(p.retr(i)[1]) + b"\n" for i in (1, 2, 3)]
    t.is_(got, stored, "poplib RETR gives each message byte for byte")
    p.quit()
    if shutil.which("curl"):
        cu = subprocess.run(["curl", "-s", "--max-time", "10", "-u", "bob@%s:bob's secret" % D,
                             "pop3://127.0.0.1:%d/1" % port], capture_output=True)
        t.is_(cu.stdout, stored[0].replace(b"\n", b"\r\n"), "curl pop3:// fetches it byte for byte")
    else:
        t.skip("no curl")
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.user("alice@" + D)
    p.pass_("alice's secret")
    t.is_(p.stat()[0], 1, "alice sees the list message")
    p.dele(1)
    p.quit()
    t.is_(v.messages(D, "alice"), [], "DELE and QUIT removed it")
finally:
    if send:
        send.send_signal(signal.SIGTERM)
        try:
            send.wait(20)
        except subprocess.TimeoutExpired:
            t.stop(send, signal.SIGKILL)
    v.cleanup(D)
    for c in CONTROLS:
        t.control(c, saved[c])
    v.admin("sync")
    t.clear_queue()
t.done()
