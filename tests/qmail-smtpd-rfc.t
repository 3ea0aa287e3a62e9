#!/usr/bin/python3
"""qmail-smtpd against the letter of the RFCs, where it once strayed:
plain <Postmaster> when control/me is not in rcpthosts, queued for a
domain delivered here (RFC 5321 4.5.1), the recipient limit that must
not end the session (4.5.3.1.10), the stuffing dot outside the line
limit (4.5.3.1.6), the message size with CRLF line ends (RFC 1870), MAIL
lines longer by SIZE=, BODY= and AUTH= (RFC 1870, 6152, 4954), 501 for
bad arguments (MAIL without FROM:, VRFY without one, RSET with one, AUTH
without a mechanism), a 20-digit SIZE, UTF-8 addresses without SMTPUTF8
(RFC 6531), and a
submission port without TLS that does not ask for STARTTLS."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import smtpdtest as s

t.need_home()
s.setup()


def dialogue(port, *cmds):
    c = s.Raw(port)
    c.cmd("EHLO client.test")
    out = [s.code(c.cmd(x)) for x in cmds]
    c.close()
    return out


def send(port, body, mail="MAIL FROM:<a@b.test>"):
    """MAIL, one RCPT, DATA, the body (CRLF lines, dot-stuffed by the
    caller), the end: the codes of MAIL and of the end of DATA."""
    c = s.Raw(port)
    c.cmd("EHLO client.test")
    m = s.code(c.cmd(mail))
    c.cmd("RCPT TO:<u1@virt.test>")
    c.cmd("DATA")
    c.send(body + ".\r\n")
    end = s.code(c.reply())
    c.close()
    return m, end


srv = None
try:
    s.control("me", "mx.lanmail.test\n")
    s.control("rcpthosts", "lanmail.test\nvirt.test\n")
    srv = s.Server(env={"DATABYTES": "100"})
    P = srv.port
    t.is_(dialogue(P, "MAIL FROM:<a@b.test>", "RCPT TO:<postmaster>", "RCPT TO:<Postmaster>",
                   "RCPT TO:<postmaster@mx.lanmail.test>"),
          ["250 2.1.0", "250 2.1.5", "250 2.1.5", "553 5.7.1"],
          "plain <Postmaster> is taken though control/me is not in rcpthosts; postmaster@me is not")
    # and it must reach this host's postmaster: control/me is not in
    # control/locals, so postmaster@me would go out as remote mail
    for vdoms, want in ((None, b"postmaster@lanmail.test"),
                        ("virt.test:virt.test\nmx.lanmail.test:virt.test\n", b"postmaster@mx.lanmail.test")):
        s.control("virtualdomains", vdoms)
        c = s.Raw(P)
        c.cmd("EHLO client.test")
        got = [s.code(c.cmd(x)) for x in ("MAIL FROM:<a@b.test>", "RCPT TO:<postmaster>", "DATA",
                                          "Subject: pm\r\n\r\nhi\r\n.")]
        c.close()
        q = s.queue()
        t.ok(got[3] == "250 2.0.0" and len(q) == 1 and q[0]["recipients"] == [want],
             "<postmaster> with control/me %s: queued for %s (%r, %r)" %
             ("virtual" if vdoms else "in neither locals nor virtualdomains", want.decode(), got,
              [m.get("recipients") for m in q]))
        t.clear_queue()
    s.control("virtualdomains", "virt.test:virt.test\n")

    # RFC 1870: CRLF counts.  40 lines of "a" CRLF are 120 octets.
    t.is_(send(P, "a\r\n" * 40), ("250 2.1.0", "552 5.3.4"), "120 octets with CRLF are over DATABYTES=100")
    t.is_(send(P, "a\r\n" * 33), ("250 2.1.0", "250 2.0.0"), "99 octets with CRLF fit")
    t.is_(send(P, "a\r\n" * 40, "MAIL FROM:<a@b.test> SIZE=120")[0], "552 5.3.4",
          "SIZE=120 is refused at MAIL, as the DATA would be")
    t.is_(dialogue(P, "MAIL FROM:<> SIZE=99999999999999999999"), ["552 5.3.4"],
          "a 20-digit SIZE over the limit: 552, not a syntax error")
    t.is_(dialogue(P, "MAIL FROM:<> SIZE=999999999999999999999"), ["501 5.5.4"], "21 digits: 501")
    t.is_(dialogue(P, "MAIL FROM:<> SIZE=12x"), ["501 5.5.4"], "SIZE=12x: 501")
    srv.stop()

    s.control("me", None)
    s.control("rcpthosts", None)
    s.setup()
    s.control("smtpdmaxrcpt", "3\n")
    s.control("smtpdmaxbad", "2\n")
    srv = s.Server()
    P = srv.port
    c = s.Raw(P)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<a@b.test>")
    codes = [s.code(c.cmd("RCPT TO:<u%d@virt.test>" % i)) for i in range(1, 8)]
    t.is_(codes, ["250 2.1.5"] * 3 + ["452 4.5.3"] * 4,
          "past smtpdmaxrcpt: 452 each time, though smtpdmaxbad is 2")
    t.is_(s.code(c.cmd("DATA"))[:3], "354", "and DATA goes on for the three taken")
    c.send("Subject: three\r\n\r\nbody\r\n.\r\n")
    t.is_(s.code(c.reply()), "250 2.0.0", "queued")
    c.close()
    q = [m for m in s.queue() if b"Subject: three" in m["message"]]
    t.ok(len(q) == 1 and len(q[0]["recipients"]) == 3, "one message, three recipients")
    s.control("smtpdmaxrcpt", None)
    s.control("smtpdmaxbad", None)
    srv.stop()

    srv = s.Server()
    P = srv.port
    t.is_(send(P, "." + "a" * 998 + "\r\n")[1], "250 2.0.0",
          "a stuffing dot and 998 octets: 1000 with CRLF, taken")
    t.is_(send(P, "." + "a" * 999 + "\r\n")[1], "554 5.6.0", "one more octet: refused")
    # 512 octets, plus 26 for SIZE= (RFC 1870), 14 for BODY=8BITMIME
    # (RFC 6152) and 500 for AUTH= (RFC 4954): 1052 with the CRLF
    auth = " AUTH=<%s@a.test>" % ("x" * (500 - 15))
    params = " SIZE=1000 BODY=8BITMIME" + auth
    local = "l" * (1052 - 2 - len("MAIL FROM:<@d.test>") - len(params))
    long_mail = "MAIL FROM:<%s@d.test>%s" % (local, params)
    t.ok(len(auth) == 500 and len(long_mail) + 2 == 1052, "a MAIL line of %d octets, AUTH= %d of them" %
         (len(long_mail) + 2, len(auth)))
    t.is_(dialogue(P, long_mail), ["250 2.1.0"], "is taken (RFC 1870, 6152 and 4954 allow 540 more)")
    t.is_(dialogue(P, long_mail.replace("@d.test", "l@d.test")), ["500 5.5.2"], "one octet more is too long")
    t.is_(dialogue(P, "RCPT TO:<" + "r" * 600 + "@virt.test>"), ["500 5.5.2"],
          "an RCPT line over 512 octets is still too long")
    t.is_(dialogue(P, "MAIL", "MAIL <a@b.test>", "MAIL TO:<a@b.test>"), ["501 5.1.7"] * 3,
          "MAIL without FROM: is a syntax error (501), not an unknown command")
    rc = dialogue(P, "MAIL FROM:<a@b.test>", "RCPT")[1]
    t.ok(rc.startswith("501 "), "RCPT without an argument is 501: " + rc)
    rc = dialogue(P, "MAIL FROM:<a@b.test>", "RCPT FROM:<x@virt.test>")[1]
    t.ok(rc.startswith("501 "), "RCPT without TO: is 501: " + rc)
    t.is_(dialogue(P, "VRFY", "VRFY joe", "RSET now", "RSET"), ["501 5.5.4", "252 2.5.0", "501 5.5.4", "250 2.0.0"],
          "VRFY needs an argument, RSET takes none")
    # RFC 6531: no address beyond ASCII without SMTPUTF8, which is not offered
    for cmds, what in ((["MAIL FROM:<j\u00f6rg@b.test>"], "MAIL"),
                       (["MAIL FROM:<\"j\u00f6 rg\"@b.test>"], "MAIL, quoted"),
                       (["MAIL FROM:<a@b.test>", "RCPT TO:<j\u00f6rg@virt.test>"], "RCPT"),
                       (["MAIL FROM:<a@b.test>", "RCPT TO:<u1@v\u00efrt.test>"], "RCPT, in the domain")):
        c = s.Raw(P)
        c.cmd("EHLO client.test")
        r = [c.cmd(x) for x in cmds][-1]
        c.close()
        t.ok(r.startswith("553 5.6.7 ") and "SMTPUTF8" in r, "a UTF-8 address in %s: %r" % (what, r.strip()))

    srv.stop()

    # AUTH and submission without TLS, from outside plaintextauthnets
    s.control("plaintextauthnets", "192.0.2.0/24\n")
    srv = s.Server(args=[os.path.join(t.BIN, "qmail-auth"), "true"], env={"SUBMISSION": "1"})
    P = srv.port
    t.is_(dialogue(P, "MAIL FROM:<joe@lanmail.test>")[0][:9], "530 5.7.0", "submission: MAIL needs AUTH")
    c = s.Raw(P)
    c.cmd("EHLO client.test")
    r = c.cmd("MAIL FROM:<joe@lanmail.test>")
    c.close()
    t.ok("STARTTLS" not in r and "TLS" in r, "without TLS on the port it does not say STARTTLS: " + r.strip())
    s.control("plaintextauthnets", None)
    srv.stop()
    srv = s.Server(args=[os.path.join(t.BIN, "qmail-auth"), "true"])
    t.is_(dialogue(srv.port, "AUTH", "AUTH FOO"), ["501 5.5.4", "504 5.5.4"],
          "AUTH without a mechanism: 501; an unknown one: 504")
finally:
    if srv:
        srv.stop()
    s.restore()
    t.clear_queue()
t.done()
