#!/usr/bin/python3
"""Real POP3 clients against qmail-popup/qmail-auth/qmail-pop3d under
tcpserver: mpop (USER/PASS and SASL PLAIN, into a Maildir) and fetchmail
(through an MDA), each message compared byte for byte with the file
qmail-local stored; fetchmail without keep empties the mailbox."""
import glob
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
if not shutil.which("mpop") and not shutil.which("fetchmail"):
    t.skip_all("neither mpop nor fetchmail is installed")
D = "clients.test.example"
v.cleanup(D)
t.is_(v.admin("domain", "add", D)[0], 0, "domain add")
t.is_(v.admin("user", "add", "kim@" + D, "--stdin", stdin="kim's pw\n")[0], 0, "user add")
MSGS = [b"Received: (lanmail 7 invoked by uid 0); 28 Nov 2026 17:00:00 +0000\n"
        b"Subject: client test %d\n\n.leading dot\n..two\nFrom here\nend\n" % i for i in range(3)]
MSGS.append(b"Received: (lanmail 8 invoked by uid 0); 28 Nov 2026 17:00:00 +0000\n"
            b"Subject: big\n\n" + b"0123456789 a line of a long message\n" * 8000)
t.ok(all(v.deliver(D, "kim", m) == 0 for m in MSGS), "four messages delivered")
stored = sorted(open(f, "rb").read() for f in v.messages(D, "kim"))
port = v.pop3_server()
tmp = t.tmpdir("pop3-clients.")
env = dict(os.environ, HOME=tmp)

if shutil.which("mpop"):
    for auth in ("user", "plain"):
        md = os.path.join(tmp, "md-" + auth)
        for s in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(md, s))
        p = subprocess.run(["mpop", "--host=127.0.0.1", "--port=%d" % port, "--tls=off",
                            "--auth=" + auth, "--user=kim@" + D,
                            "--passwordeval=echo \"kim's pw\"", "--received-header=off",
                            "--delivery=maildir," + md, "--keep=on",
                            "--uidls-file=" + os.path.join(tmp, "uidls-" + auth)],
                           env=env, capture_output=True, timeout=60)
        got = sorted(open(f, "rb").read() for f in glob.glob(os.path.join(md, "new", "*")))
        t.is_(p.returncode, 0, "mpop --auth=%s exits 0 %s" % (auth, p.stderr.decode()[-200:]))
        t.ok(got == stored, "mpop --auth=%s fetched all four byte for byte" % auth)
else:
    t.skip("no mpop", 4)

if shutil.which("fetchmail"):
    out = os.path.join(tmp, "fm")
    os.makedirs(out)
    rc = os.path.join(tmp, "fetchmailrc")
    t.write(rc, 'set no bouncemail\npoll 127.0.0.1 protocol pop3 port %d auth password '
                'user "kim@%s" password "kim\'s pw" sslproto "" '
                'mda "/bin/sh -c \'cat > %s/msg.$$\'"\n' % (port, D, out), mode=0o600)
    p = subprocess.run(["fetchmail", "-f", rc, "--invisible", "--nokeep"],
                       env=dict(env, FETCHMAILHOME=tmp), capture_output=True, timeout=60)
    got = sorted(open(f, "rb").read() for f in glob.glob(os.path.join(out, "msg.*")))
    t.is_(p.returncode, 0, "fetchmail exits 0 %s" % p.stderr.decode()[-200:])
    if not t.ok(got == stored, "fetchmail fetched all four byte for byte"):
        for g, w in zip(got, stored):
            if g != w:
                t.diag(repr(g[:300]))
                t.diag(repr(w[:300]))
    t.is_(v.messages(D, "kim"), [], "fetchmail's DELE and QUIT emptied the mailbox")
    rcbad = os.path.join(tmp, "fetchmailrc.bad")
    t.write(rcbad, open(rc).read().replace("kim's pw", "not it"), mode=0o600)
    p = subprocess.run(["fetchmail", "-f", rcbad, "--invisible"],
                       env=dict(env, FETCHMAILHOME=tmp), capture_output=True, timeout=60)
    t.is_(p.returncode, 3, "fetchmail with a wrong password: authentication failed (3)")
else:
    t.skip("no fetchmail", 4)

v.cleanup(D)
t.done()
