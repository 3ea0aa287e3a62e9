#!/usr/bin/python3
"""Dovecot reads lanmail's mailboxes: its checkpassword passdb runs
qmail-auth, its POP3 server reads the Maildir that qmail-local filled,
and qmail-pop3d still reads the same Maildir afterwards.  Proof that the
auth interface and the Maildir are the standard ones."""
import os
import poplib
import pwd
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
if not os.path.exists("/usr/sbin/dovecot") or not os.path.exists("/usr/lib/dovecot/pop3"):
    t.skip_all("Dovecot (dovecot-core, dovecot-pop3d) is not installed")
if os.getuid() != 0:
    t.skip_all("Dovecot needs root here")
try:
    nobody = pwd.getpwnam("nobody")
except KeyError:
    t.skip_all("no user nobody for Dovecot's mail process")
# Dovecot will not read mail as root: its mail process runs as nobody,
# which must be able to walk down to the domain directory
path = os.path.join(t.HOME, "domains")
anc = os.path.dirname(path)
while anc != "/":
    if not os.stat(anc).st_mode & stat.S_IXOTH:
        t.skip_all("%s cannot be entered by other users" % anc)
    anc = os.path.dirname(anc)

D = "dovecot.test.example"
v.cleanup(D)
MSGS = [b"Received: (lanmail 1 invoked by uid 0); 28 Nov 2026 17:00:00 +0000\n"
        b"Subject: for dovecot %d\n\nline one\n.dotted line\nend\n" % i for i in range(2)]
t.is_(v.admin("domain", "add", D)[0], 0, "domain add")
t.is_(v.admin("user", "add", "eve@" + D, "--stdin", stdin="eve pass\n")[0], 0, "user add")
t.ok(all(v.deliver(D, "eve", m) == 0 for m in MSGS), "qmail-local delivered two messages")
stored = [open(f, "rb").read() for f in v.messages(D, "eve")]

ddir = os.path.join(path, D)
modes = {p: os.stat(p).st_mode & 0o7777 for p in (path, ddir)}
try:
    for p in modes:
        os.chmod(p, modes[p] | 0o001)
    for root, dirs, files in os.walk(os.path.join(ddir, "eve")):
        for n in [root] + [os.path.join(root, f) for f in files]:
            os.chown(n, nobody.pw_uid, nobody.pw_gid)

    tmp = t.tmpdir("dovecot.")
    port = t.free_port()
    os.makedirs(os.path.join(tmp, "run"))
    os.makedirs(os.path.join(tmp, "state"))
    conf = os.path.join(tmp, "dovecot.conf")
    t.write(conf, """base_dir = %(tmp)s/run
state_dir = %(tmp)s/state
log_path = %(tmp)s/log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
first_valid_uid = 1
service pop3-login {
  inet_listener pop3 {
    port = %(port)d
  }
}
service auth {
  user = root
}
passdb {
  driver = checkpassword
  args = %(bin)s/qmail-auth
}
userdb {
  driver = static
  args = uid=%(uid)d gid=%(gid)d home=%(home)s/domains/%%d/%%n
}
""" % {"tmp": tmp, "port": port, "bin": t.BIN, "home": t.HOME,
       "uid": nobody.pw_uid, "gid": nobody.pw_gid})
    dc = t.start(["/usr/sbin/dovecot", "-F", "-c", conf], stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
    t.ok(t.wait_port(port, timeout=30), "Dovecot listens")

    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.user("eve@" + D)
    t.ok(p.pass_("eve pass").startswith(b"+OK"), "Dovecot logs eve in through qmail-auth")
    t.is_(p.stat()[0], 2, "Dovecot sees both messages")
    got = [b"\n".join(p.retr(i)[1]) + b"\n" for i in (1, 2)]
    t.is_(sorted(got), sorted(stored), "Dovecot's RETR gives what qmail-local stored")
    p.quit()
    # Dovecot passes the client's address as TCPREMOTEIP (and keeps
    # AUTHLIMITOFF out of its environment): qmail-auth counts the failure
    t.authfail_set("a:127.0.0.1", 0)
    p = poplib.POP3("127.0.0.1", port, timeout=10)
    p.user("eve@" + D)
    try:
        p.pass_("wrong pass")
        bad = False
    except poplib.error_proto:
        bad = True
    t.ok(bad, "Dovecot refuses a wrong password (qmail-auth exit 1)")
    p.close()
    # Dovecot's log process writes the line in its own time, which may
    # be after the client has its answer
    def logged():
        try:
            return "login failed for eve@%s" % D in open(os.path.join(tmp, "log")).read()
        except FileNotFoundError:
            return False
    t.ok(t.wait_until(logged, 20), "qmail-auth's log line reaches Dovecot's log")
    t.is_(t.authfail_counts().get("a:127.0.0.1", (0,))[0], 1,
          "Dovecot sets TCPREMOTEIP: the failure is counted for 127.0.0.1")
    t.authfail_set("a:127.0.0.1", 0)
    t.stop(dc)

    # qmail-pop3d on the Maildir Dovecot has used
    pport = v.pop3_server()
    r, _, rep = v.login(pport, "eve@" + D, "eve pass")
    t.ok(rep.startswith(b"+OK 2 "), "qmail-pop3d still sees both messages")
    r.cmd("RETR 1")
    body = r.multi()
    r.cmd("QUIT")
    r.close()
    t.ok(body[:-3] in [v.wire(s) for s in stored], "and reads them byte for byte")
finally:
    for p, m in modes.items():
        if os.path.exists(p):
            os.chmod(p, m)
    v.cleanup(D)
t.done()
