#!/usr/bin/python3
"""qmail-smtpd: SMTP AUTH (PLAIN, LOGIN) through a checkpassword program,
relaying after AUTH, the SUBMISSION rules, slowed-down failures; and the
same with qmail-auth and a mailbox made by qmail-admin, whose failed
logins are counted per client address across connections."""
import base64
import os
import shutil
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import smtpdtest as s

t.need_home()
s.setup()
cpwlog = os.path.join(t.tmpdir("smtpd-cpw."), "log")
ENV = {"CPW_USERS": "alice@virt.test:s3cret bob:pw-of-bob mailer:pw-of-mailer postmaster:pw-of-pm",
       "CPW_LOG": cpwlog}
CPW = [s.checkpassword_path(), "true"]
srv = s.Server(CPW, env=ENV)
P = srv.port


def b64(x):
    return base64.b64encode(x if isinstance(x, bytes) else x.encode()).decode()


def ehlo(port):
    c = s.Raw(port)
    r = c.cmd("EHLO client.test")
    return c, r


try:
    c, r = ehlo(P)
    t.ok("250-AUTH PLAIN LOGIN\r\n" in r, "EHLO offers AUTH PLAIN LOGIN when given a checkpassword program")
    c.close()
    plain = s.Server()
    c, r = ehlo(plain.port)
    t.ok("AUTH" not in r, "no AUTH without arguments")
    t.is_(s.code(c.cmd("AUTH PLAIN " + b64("\0alice@virt.test\0s3cret"))), "502 5.5.1", "AUTH refused then")
    c.close()
    plain.stop()

    # --- PLAIN through smtplib, then relay and the Received line
    with smtplib.SMTP("127.0.0.1", P) as m:
        m.ehlo("client.test")
        code, _ = m.login("alice@virt.test", "s3cret")
        t.is_(code, 235, "smtplib AUTH PLAIN: 235")
        r = m.sendmail("alice@virt.test", ["friend@elsewhere.test"], b"Subject: relayed\r\n\r\nhi\r\n")
        t.is_(r, {}, "an authenticated client may relay")
    q = s.queue()
    t.ok(len(q) == 1 and q[0]["recipients"] == [b"friend@elsewhere.test"], "relayed message queued")
    t.ok(len(q) == 1 and b"\tby lanmail.test (lanmail) with ESMTPA (authenticated user alice@virt.test);\n"
         in s.body_of(q[0]["message"]), "Received line names the login and ESMTPA")
    t.clear_queue()
    with open(cpwlog, "rb") as f:
        logged = f.read().split(b"\n")[0]
    t.ok(logged.startswith(b"alice@virt.test <") and logged.endswith(b"@lanmail.test>"),
         "the checkpassword program got login NUL password NUL timestamp NUL on fd 3")

    # --- without AUTH no relaying
    c, r = ehlo(P)
    c.cmd("MAIL FROM:<a@b.test>")
    r = c.cmd("RCPT TO:<x@elsewhere.test>")
    t.ok(r.startswith("553 5.7.1") and "authenticate" in r, "relay without AUTH: 553 5.7.1, asks to authenticate")
    t.is_(s.code(c.cmd("AUTH PLAIN " + b64("\0alice@virt.test\0s3cret"))), "503 5.5.1", "no AUTH inside a transaction")
    c.close()

    # --- AUTH is an extension: offered in the EHLO reply only (RFC 5321 2.2)
    c = s.Raw(P)
    c.cmd("HELO client.test")
    r = c.cmd("AUTH PLAIN " + b64("\0alice@virt.test\0s3cret"))
    t.ok(r.startswith("503 5.5.1 ") and "EHLO" in r, "AUTH after HELO: 503 5.5.1, send EHLO (%r)" % r.strip())
    c.close()
    # a login made after EHLO outlives a later HELO: the Received line
    # still names a registered protocol, ESMTPA, never "SMTPA"
    c, r = ehlo(P)
    c.cmd("AUTH PLAIN " + b64("\0alice@virt.test\0s3cret"))
    got = [s.code(c.cmd(x)) for x in ("HELO client.test", "MAIL FROM:<alice@virt.test>", "RCPT TO:<u1@virt.test>",
                                      "DATA", "Subject: helo after auth\r\n\r\nhi\r\n.")]
    c.close()
    q = s.queue()
    t.ok(got[-1] == "250 2.0.0" and len(q) == 1 and
         b" with ESMTPA (authenticated user alice@virt.test);\n" in s.body_of(q[0]["message"]),
         "EHLO, AUTH, HELO: Received says ESMTPA (%r)" % (s.body_of(q[0]["message"])[:200] if q else got,))
    t.clear_queue()

    # --- PLAIN without initial response, LOGIN both ways
    c, r = ehlo(P)
    t.is_(c.cmd("AUTH PLAIN"), "334 \r\n", "AUTH PLAIN: empty 334 challenge")
    t.is_(s.code(c.cmd(b64("\0bob\0pw-of-bob"))), "235 2.7.0", "PLAIN response on its own line")
    t.is_(s.code(c.cmd("AUTH PLAIN " + b64("\0bob\0pw-of-bob"))), "503 5.5.1", "AUTH twice: 503")
    c.close()
    c, r = ehlo(P)
    t.is_(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n", "AUTH LOGIN asks Username:")
    t.is_(c.cmd(b64("alice@virt.test")), "334 UGFzc3dvcmQ6\r\n", "then Password:")
    t.is_(s.code(c.cmd(b64("s3cret"))), "235 2.7.0", "AUTH LOGIN: 235")
    c.close()
    c, r = ehlo(P)
    t.is_(c.cmd("auth login " + b64("alice@virt.test")), "334 UGFzc3dvcmQ6\r\n", "AUTH LOGIN with the user name given")
    t.is_(s.code(c.cmd(b64("s3cret"))), "235 2.7.0", "235")
    c.cmd("MAIL FROM:<alice@virt.test>")
    t.is_(s.code(c.cmd("RCPT TO:<x@elsewhere.test>")), "250 2.1.5", "relay after AUTH LOGIN")
    c.close()

    # --- failures: wrong password, unknown user, slowed down, counted
    c, r = ehlo(P)
    t0 = time.time()
    r = c.cmd("AUTH PLAIN " + b64("\0alice@virt.test\0wrong"))
    t.is_(s.code(r), "535 5.7.8", "wrong password: 535 5.7.8")
    t.ok(time.time() - t0 >= 0.9, "the failure is slowed down")
    c.cmd("MAIL FROM:<a@b.test>")
    t.is_(s.code(c.cmd("RCPT TO:<x@elsewhere.test>")), "553 5.7.1", "no relaying after a failed AUTH")
    c.close()
    c, r = ehlo(P)
    t.is_(s.code(c.cmd("AUTH LOGIN " + b64("nobody@virt.test"))), "334 UGFzc3dvcmQ6", "LOGIN for an unknown user")
    t.is_(s.code(c.cmd(b64("s3cret"))), "535 5.7.8", "unknown user: 535 5.7.8, the same answer")
    c.close()
    c, r = ehlo(P)
    t.is_(s.code(c.cmd("AUTH PLAIN " + b64("\0trouble\0x"))), "454 4.7.0", "checkpassword exit 111: 454 4.7.0")
    t.is_(s.code(c.cmd("AUTH PLAIN " + b64("bob\0alice@virt.test\0s3cret"))), "535 5.7.8",
          "a different authorization identity refused")
    t.is_(s.code(c.cmd("AUTH PLAIN !!!!")), "501 5.5.2", "invalid base64: 501 5.5.2")
    t.is_(s.code(c.cmd("AUTH PLAIN " + b64("no-nuls-here"))), "501 5.5.2", "malformed PLAIN: 501")
    t.is_(s.code(c.cmd("AUTH CRAM-MD5")), "504 5.5.4", "unknown mechanism: 504 5.5.4")
    t.is_(c.cmd("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n", "LOGIN again")
    t.is_(s.code(c.cmd("*")), "501 5.7.0", "* cancels: 501 5.7.0")
    c.close()
    # after a failure, a success waits as long as a failure would: a
    # client that hangs up when no quick answer comes learns nothing
    c, r = ehlo(P)
    t.is_(s.code(c.cmd("AUTH PLAIN " + b64("\0bob\0guess"))), "535 5.7.8", "a failure")
    t0 = time.time()
    r = c.cmd("AUTH PLAIN " + b64("\0bob\0pw-of-bob"))
    took = time.time() - t0
    t.is_(s.code(r), "235 2.7.0", "then the right password: 235")
    t.ok(took >= 1.9, "after the delay a second failure would get (%.1f s)" % took)
    c.close()
    sv = s.Server(CPW, env=dict(ENV, MAXAUTHFAIL="2"))
    c, r = ehlo(sv.port)
    t.is_(s.code(c.cmd("AUTH PLAIN " + b64("\0bob\0bad1"))), "535 5.7.8", "first failure")
    t0 = time.time()
    r = c.cmd("AUTH PLAIN " + b64("\0bob\0bad2"))
    r2 = c.reply()
    t.ok(time.time() - t0 >= 1.9, "the second failure waits longer")
    t.is_(s.code(r) + " / " + s.code(r2), "535 5.7.8 / 421 4.7.0", "MAXAUTHFAIL reached: 421 4.7.0")
    t.ok(c.closed(), "and the connection is closed")
    c.close()
    sv.stop()
    log = srv.logtext()
    t.ok("auth ip=127.0.0.1 result=failed login=alice@virt.test" in log and
         "auth ip=127.0.0.1 result=ok login=bob" in log, "AUTH results logged with the client IP")

    # --- SUBMISSION: AUTH mandatory, MAIL FROM bound to the login
    s.control("defaultdomain", "lanmail.test\n")
    sub = s.Server(CPW, env=dict(ENV, SUBMISSION="1"))
    c, r = ehlo(sub.port)
    t.is_(s.code(c.cmd("MAIL FROM:<alice@virt.test>")), "530 5.7.0", "SUBMISSION: MAIL before AUTH 530 5.7.0")
    c.cmd("AUTH PLAIN " + b64("\0alice@virt.test\0s3cret"))
    t.is_(s.code(c.cmd("MAIL FROM:<bob@virt.test>")), "553 5.7.1", "SUBMISSION: someone else's address 553 5.7.1")
    t.is_(s.code(c.cmd("MAIL FROM:<>")), "553 5.7.1", "SUBMISSION: null sender refused")
    t.is_(s.code(c.cmd("MAIL FROM:<Alice@VIRT.test>")), "250 2.1.0", "SUBMISSION: own address, any case")
    t.is_(s.code(c.cmd("RCPT TO:<x@elsewhere.test>")), "250 2.1.5", "relay")
    t.is_(s.code(c.cmd("RSET")), "250 2.0.0", "RSET")
    t.is_(s.code(c.cmd("MAIL FROM:<alice-news@virt.test>")), "250 2.1.0", "SUBMISSION: an extension of the login")
    c.cmd("RSET")
    t.is_(s.code(c.cmd("MAIL FROM:<alicex@virt.test>")), "553 5.7.1", "SUBMISSION: a longer name is not the login")
    c.close()
    # alice-smith is a mailbox of its own: not one of alice's extensions
    rfile = os.path.join(t.HOME, "users", "recipients")
    saved_r = open(rfile).read()
    t.write(rfile, saved_r + "alice-smith@virt.test\n")
    s.newu()
    c, r = ehlo(sub.port)
    c.cmd("AUTH PLAIN " + b64("\0alice@virt.test\0s3cret"))
    t.is_(s.code(c.cmd("MAIL FROM:<alice-smith@virt.test>")), "553 5.7.1",
          "SUBMISSION: login-ext that is another mailbox is not the login's")
    c.cmd("RSET")
    t.is_(s.code(c.cmd("MAIL FROM:<alice-smithy@virt.test>")), "250 2.1.0", "but other extensions still are")
    c.cmd("RSET")
    # mail to alice-smith-private goes to alice-smith: so does its sender
    t.is_(s.code(c.cmd("MAIL FROM:<alice-smith-private@virt.test>")), "553 5.7.1",
          "SUBMISSION: an extension of another mailbox is not the login's")
    c.cmd("RSET")
    t.is_(s.code(c.cmd("MAIL FROM:<Alice-Smith-a-b@virt.test>")), "553 5.7.1", "nor a deeper one, in any case")
    c.cmd("RSET")
    t.is_(s.code(c.cmd("MAIL FROM:<alice-smithy-private@virt.test>")), "250 2.1.0",
          "an extension of an extension of the login's is the login's")
    c.close()
    t.write(rfile, saved_r)
    s.newu()
    c, r = ehlo(sub.port)
    c.cmd("AUTH PLAIN " + b64("\0bob\0pw-of-bob"))
    t.is_(s.code(c.cmd("MAIL FROM:<bob@lanmail.test>")), "250 2.1.0", "SUBMISSION: bare login in control/defaultdomain")
    c.close()
    # the mail system's own names are nobody's extension
    c, r = ehlo(sub.port)
    c.cmd("AUTH PLAIN " + b64("\0mailer\0pw-of-mailer"))
    t.is_(s.code(c.cmd("MAIL FROM:<mailer-x@lanmail.test>")), "250 2.1.0", "SUBMISSION: login mailer, an extension")
    c.cmd("RSET")
    t.is_(s.code(c.cmd("MAIL FROM:<MAILER-DAEMON@lanmail.test>")), "553 5.7.1",
          "SUBMISSION: login mailer may not send as MAILER-DAEMON")
    t.is_(s.code(c.cmd("MAIL FROM:<mailer-daemon-x@lanmail.test>")), "553 5.7.1", "nor as an extension of it")
    c.close()
    c, r = ehlo(sub.port)
    c.cmd("AUTH PLAIN " + b64("\0postmaster\0pw-of-pm"))
    t.is_(s.code(c.cmd("MAIL FROM:<Postmaster@lanmail.test>")), "250 2.1.0",
          "SUBMISSION: a login that is exactly postmaster's address may send as it")
    c.close()
    s.control("smtpdauthfrom", "mailer:mailer-daemon@lanmail.test\n")
    c, r = ehlo(sub.port)
    c.cmd("AUTH PLAIN " + b64("\0mailer\0pw-of-mailer"))
    t.is_(s.code(c.cmd("MAIL FROM:<MAILER-DAEMON@lanmail.test>")), "250 2.1.0",
          "control/smtpdauthfrom may grant MAILER-DAEMON")
    c.close()
    s.control("smtpdauthfrom", None)
    s.control("smtpdauthfrom", "alice@virt.test:@lanmail.test\n*:shared@virt.test\nbob:*\n")
    c, r = ehlo(sub.port)
    c.cmd("AUTH PLAIN " + b64("\0alice@virt.test\0s3cret"))
    t.is_(s.code(c.cmd("MAIL FROM:<sales@lanmail.test>")), "250 2.1.0", "control/smtpdauthfrom: login:@domain")
    c.cmd("RSET")
    t.is_(s.code(c.cmd("MAIL FROM:<shared@virt.test>")), "250 2.1.0", "control/smtpdauthfrom: *:address")
    c.cmd("RSET")
    t.is_(s.code(c.cmd("MAIL FROM:<x@other.test>")), "553 5.7.1", "control/smtpdauthfrom: nothing else")
    c.close()
    c, r = ehlo(sub.port)
    c.cmd("AUTH PLAIN " + b64("\0bob\0pw-of-bob"))
    t.is_(s.code(c.cmd("MAIL FROM:<anyone@anywhere.test>")), "250 2.1.0", "control/smtpdauthfrom: login:*")
    c.close()
    s.control("smtpdauthfrom", None)
    sub.stop()

    # --- the real thing: qmail-admin makes a mailbox, qmail-auth checks it
    admin = os.path.join(t.BIN, "qmail-admin")
    qauth = os.path.join(t.BIN, "qmail-auth")
    if os.path.exists(admin) and os.path.exists(qauth):
        for f in ("vpasswd",):
            pass
        for c_ in ("rcpthosts", "virtualdomains"):
            s.control(c_, open(os.path.join(t.HOME, "control", c_)).read())
        made = not os.path.exists(os.path.join(t.HOME, "domains", "auth.test"))
        r1 = subprocess.run([admin, "domain", "add", "auth.test"], capture_output=True, text=True)
        r2 = subprocess.run([admin, "user", "add", "carol@auth.test", "--stdin"], input="Carol-pass-9\nCarol-pass-9\n",
                            capture_output=True, text=True)
        t.ok(r1.returncode == 0 and r2.returncode == 0, "qmail-admin made auth.test and carol@auth.test")
        if r1.returncode or r2.returncode:
            t.diag(r1.stderr + r2.stderr)
        sq = s.Server([qauth, "true"], env={"SUBMISSION": "1"})
        with smtplib.SMTP("127.0.0.1", sq.port) as m:
            m.ehlo("client.test")
            try:
                code, _ = m.login("carol@auth.test", "wrong-pass")
            except smtplib.SMTPAuthenticationError as e:
                code = e.smtp_code
            t.is_(code, 535, "qmail-auth: wrong password 535")
        with smtplib.SMTP("127.0.0.1", sq.port) as m:
            m.ehlo("client.test")
            code, _ = m.login("carol@auth.test", "Carol-pass-9")
            t.is_(code, 235, "qmail-auth: right password 235")
            r = m.sendmail("carol@auth.test", ["someone@elsewhere.test", "u7@virt.test"], b"Subject: real\r\n\r\nx\r\n")
            t.is_(r, {}, "submitted through qmail-auth")
        r3 = subprocess.run([admin, "user", "add", "dave@auth.test", "--stdin"], input="Dave-pass-77\nDave-pass-77\n",
                            capture_output=True, text=True)
        c = s.Raw(sq.port)
        c.cmd("EHLO client.test")
        c.cmd("AUTH PLAIN " + b64("\0carol@auth.test\0Carol-pass-9"))
        c.cmd("MAIL FROM:<carol@auth.test>")
        t.is_([s.code(c.cmd("RCPT TO:<dave@auth.test>")), s.code(c.cmd("RCPT TO:<nosuch@auth.test>"))],
              ["250 2.1.5", "550 5.1.1"] if r3.returncode == 0 else ["?", "?"],
              "qmail-admin's mailboxes exist at RCPT, others get 550 5.1.1")
        c.close()
        q = s.queue()
        t.ok(len(q) == 1 and q[0]["sender"] == b"carol@auth.test" and
             b"(authenticated user carol@auth.test)" in q[0]["message"], "queued with the login in Received")
        t.clear_queue()
        sq.stop()

        # failed logins counted across connections per client address
        # (qmail-auth(8)): the limit on (lanmail.py turns it off for
        # the other tests), the client made 127.0.0.31 by a tcprules cdb
        ip = "127.0.0.31"
        rdir = t.tmpdir("smtpd-rules.")
        rules = os.path.join(rdir, "rules.cdb")
        subprocess.run(["tcprules", rules, os.path.join(rdir, "rules.tmp")],
                       input=(':allow,TCPREMOTEIP="%s"\n' % ip).encode(), check=True)
        sl = s.Server([qauth, "true"], env={"SUBMISSION": "1", "AUTHLIMITOFF": None}, rules=rules)
        t.authfail_set("a:" + ip, 9)

        def login(pw):
            with smtplib.SMTP("127.0.0.1", sl.port) as m:
                m.ehlo("client.test")
                try:
                    return m.login("carol@auth.test", pw)[0]
                except smtplib.SMTPAuthenticationError as e:
                    return e.smtp_code
        t.is_(login("wrong-pass"), 535, "qmail-auth limit: a wrong password after 9 failures: 535")
        t.is_(t.authfail_counts().get("a:" + ip, (0,))[0], 10, "counted for the client's address: 10")
        t.is_(login("Carol-pass-9"), 535, "on a new connection the right password is refused too: 535")
        t.ok("login refused after too many failures: carol@auth.test from %s" % ip in sl.logtext(),
             "qmail-auth logs the refusal")
        t.authfail_set("a:" + ip, 10, int(time.time()) - 61)
        t.is_(login("Carol-pass-9"), 235, "once the wait is over: 235")
        t.authfail_set("a:" + ip, 0)
        sl.stop()
        subprocess.run([admin, "domain", "del", "auth.test", "--force"], capture_output=True)
        if made:
            shutil.rmtree(os.path.join(t.HOME, "domains", "auth.test"), ignore_errors=True)
    else:
        t.skip("qmail-admin or qmail-auth not built", 11)
finally:
    srv.stop()
    s.restore()
t.ok(s.queue_empty(), "queue left empty")
t.done()
