#!/usr/bin/python3
"""qmail-smtpd: what the client says in HELO and MAIL FROM cannot change
the meaning of the Received and Authentication-Results fields it writes;
a HELO address literal must be a real one (RFC 5321 4.1.3); and the
client's Authentication-Results fields naming us are removed (RFC 8601
5), with SPF recording or without.  SPF in record mode against a name server that answers SERVFAIL at once,
so every check is a quick temperror; the queued message is read back."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import smtpdtest as s

t.need_home()
s.setup()
BADPORT = t.servfail_server()
s.control("nameservers", "127.0.0.1:%d\n" % BADPORT)
s.control("spfbehavior", "record\n")
srv = s.Server()
P = srv.port


def send(helo, sender):
    """One message with the given EHLO argument and MAIL FROM path; our
    Received field and the Authentication-Results field after it, as
    strings (None when not queued)."""
    c = s.Raw(P)
    c.cmd("EHLO " + helo)
    r = [s.code(c.cmd("MAIL FROM:" + sender)), s.code(c.cmd("RCPT TO:<u1@virt.test>")), s.code(c.cmd("DATA"))]
    r.append(s.code(c.cmd("Subject: trace\r\n\r\nx\r\n.")))
    c.cmd("QUIT")
    c.close()
    q = s.queue()
    t.clear_queue()
    if r[:3] != ["250 2.1.0", "250 2.1.5", "354 go"] or len(q) != 1:
        t.diag("session: %r" % r)
        return None, None
    lines = s.body_of(q[0]["message"]).decode("latin-1").split("\n")
    fields, cur = [], None
    for ln in lines:
        if ln == "":
            break
        if ln[0] in " \t" and cur is not None:
            cur += "\n" + ln
            continue
        if cur is not None:
            fields.append(cur)
        cur = ln
    if cur is not None:
        fields.append(cur)
    ar = fields[1] if len(fields) > 1 and fields[1].startswith("Authentication-Results:") else None
    return fields[0], ar


def message(data, port=None, helo="client.test"):
    """data (CRLF lines, no final dot) sent as one message; the queued
    message without qmail-queue's Received line, or None when refused."""
    c = s.Raw(port or P)
    c.cmd("EHLO " + helo)
    r = [s.code(c.cmd("MAIL FROM:<joe@sender.test>")), s.code(c.cmd("RCPT TO:<u1@virt.test>")),
         s.code(c.cmd("DATA"))]
    c.send(data)
    r.append(s.code(c.cmd(".")))
    c.cmd("QUIT")
    c.close()
    q = s.queue()
    t.clear_queue()
    if r != ["250 2.1.0", "250 2.1.5", "354 go", "250 2.0.0"] or len(q) != 1:
        t.diag("session: %r" % r)
        return None
    return s.body_of(q[0]["message"])


def header_of(m):
    """The header of a queued message: its fields, each with its
    continuation lines."""
    if m is None:
        return []
    fields = []
    for ln in m.split(b"\n\n", 1)[0].split(b"\n"):
        if ln[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + ln
        elif ln:
            fields.append(ln)
    return fields


def props(ar):
    """The method results and properties of an Authentication-Results
    field, as an RFC 8601 reader splits them: ';' outside quoted strings
    and comments ends a resinfo."""
    out, cur, i, depth, quoted = [], "", 0, 0, False
    body = ar.split(":", 1)[1]
    while i < len(body):
        ch = body[i]
        if quoted:
            if ch == "\\" and i + 1 < len(body):
                cur += body[i:i + 2]
                i += 2
                continue
            if ch == '"':
                quoted = False
        elif depth:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ";":
            out.append(cur.strip())
            cur = ""
            i += 1
            continue
        cur += ch
        i += 1
    out.append(cur.strip())
    return out


try:
    # the ordinary case: plain values, as before
    rcv, ar = send("client.test", "<joe@sender.test>")
    t.ok(rcv is not None and rcv.startswith("Received: from client.test ([127.0.0.1])\n\tby lanmail.test"),
         "a host name in HELO goes into Received as it is")
    t.ok(ar is not None and ar.endswith("spf=temperror (DNS lookup failed) smtp.mailfrom=joe@sender.test"),
         "a dot-atom sender is written plain (%r)" % ar)
    rcv, ar = send("client.test", "<>")
    t.ok(ar is not None and ar.endswith(" smtp.helo=client.test"), "a host name HELO is written plain (%r)" % ar)

    # HELO injection: after the quoting an RFC 8601 reader sees one resinfo
    rcv, ar = send("x;dkim=pass;header.d=bank.example", "<>")
    t.ok(ar is not None and ar.endswith(' smtp.helo="x;dkim=pass;header.d=bank.example"'),
         "a HELO that is no host name is a quoted string in smtp.helo= (%r)" % ar)
    t.is_(props(ar) if ar else None, ["lanmail.test", 'spf=temperror (DNS lookup failed) '
                                      'smtp.helo="x;dkim=pass;header.d=bank.example"'],
          "and no dkim=pass result can be read out of it")
    t.ok(rcv is not None and rcv.startswith("Received: from [127.0.0.1] (helo=x?dkim=pass?header.d=bank.example [127.0.0.1])\n"),
         "Received: such a HELO goes into the comment, defused, and the client's address is the from-domain (%r)"
         % rcv)
    t.ok(rcv is not None and rcv.count(";") == 1, "Received: one ';', the one before the date")

    # quotes and backslashes are escaped; parentheses cannot open a comment
    rcv, ar = send('a"b(c', "<>")
    t.ok(ar is not None and ar.endswith(' smtp.helo="a\\"b?c"'), "a quote in HELO escaped (%r)" % ar)
    t.ok(rcv is not None and rcv.startswith("Received: from [127.0.0.1] (helo=a?b?c [127.0.0.1])\n"),
         "Received: a quote and a parenthesis in HELO defused (%r)" % rcv)

    # MAIL FROM injection through a quoted local part
    rcv, ar = send("client.test", '<"x;dkim=pass;header.d=bank.example"@sender.test>')
    t.ok(ar is not None and ar.endswith(' smtp.mailfrom="x;dkim=pass;header.d=bank.example@sender.test"'),
         "a sender that is no dot-atom@domain is a quoted string in smtp.mailfrom= (%r)" % ar)
    t.is_(len(props(ar)) if ar else None, 2, "one resinfo only")
    rcv, ar = send("client.test", '<"a\\"b\\\\c d"@sender.test>')
    t.ok(ar is not None and ar.endswith(' smtp.mailfrom="a\\"b\\\\c d@sender.test"'),
         "quote and backslash in the sender escaped, the blank kept (%r)" % ar)
    rcv, ar = send("client.test", "<a=b;c@sender.test>")
    t.ok(ar is not None and ar.endswith(' smtp.mailfrom="a=b;c@sender.test"'),
         "';' in an unquoted sender: quoted (%r)" % ar)

    # address literals (RFC 5321 4.1.3) are checked exactly: one that is
    # not an address goes into the comment like any other bad name
    for helo in ("[nonsense]", "[::1]", "[999.1.2.3]", "[1.2.3]", "[1.2.3.4.5]", "[IPv6:1.2.3.4]",
                 "[IPv6:::1::2]", "[IPv6:]", "[1.2.3.4", "[]", "[tag-:x]", "[:x]", "[tag:]",
                 "[tag:a b]", "[tag:a\\b]", "[ta_g:x]"):
        rcv, ar = send(helo, "<>")
        want = "Received: from [127.0.0.1] (helo=%s [127.0.0.1])\n" % re.sub(r"[^A-Za-z0-9._:@\[\]+=-]", "?", helo)
        t.ok(rcv is not None and rcv.startswith(want),
             "Received: HELO %s is no address literal: in the comment (%r)" % (helo, rcv))
    for helo in ("[192.0.2.1]", "[IPv6:::1]", "[ipv6:2001:db8::1]", "[IPv6:::ffff:192.0.2.1]",
                 "[x-tag:any(text)=here]"):
        rcv, ar = send(helo, "<>")
        want = "Received: from %s ([127.0.0.1])\n" % helo.replace("(", "?").replace(")", "?")
        t.ok(rcv is not None and rcv.startswith(want),
             "Received: HELO %s is an address literal: kept (%r)" % (helo, rcv))

    # RFC 8601 5: the client's Authentication-Results fields naming us go,
    # folded, quoted, in any case, with blanks before the colon; others stay
    forged = (b"Authentication-Results: lanmail.test; spf=pass smtp.mailfrom=bank1.test\r\n"
              b"authentication-RESULTS: LANMAIL.TEST;\r\n\tdkim=pass\r\n header.d=bank2.test\r\n"
              b"Authentication-Results:\r\n\t\"lanmail.test\" (ours);\r\n\tdkim=pass header.d=bank3.test\r\n"
              b"Authentication-Results: (c) \"Lanmail.Test\";dkim=pass header.d=bank4.test\r\n"
              b"Authentication-Results \t: lanmail.test; dkim=pass header.d=bank5.test\r\n")
    kept = (b"Authentication-Results: other.test; dkim=pass header.d=keep1.test\r\n"
            b"Authentication-Results: lanmail.test.example;\r\n\tdkim=pass header.d=keep2.test\r\n"
            b"X-Authentication-Results: lanmail.test; dkim=pass header.d=keep3.test\r\n")
    body = (b"\r\nAuthentication-Results: lanmail.test; dkim=pass header.d=body1.test\r\n"
            b"..Authentication-Results: lanmail.test; spf=pass\r\nend\r\n")
    m = message(b"From: a@sender.test\r\n" + forged + b"Subject: forged\r\n" + kept + body)
    h = header_of(m)
    ars = [f for f in h if f.lower().startswith(b"authentication-results")]
    t.is_(re.findall(rb"bank\d", m or b""), [], "forged fields naming us: plain, folded, quoted, in capitals, gone")
    t.is_(len([f for f in ars if f.startswith(b"Authentication-Results: lanmail.test;\n\tspf=")]), 1,
          "our own SPF field stays, once")
    t.is_(re.findall(rb"keep\d", b"\n".join(h)), [b"keep1", b"keep2", b"keep3"],
          "fields naming another host, or another field name, stay")
    t.is_(h[2:] if len(h) > 2 else None,
          [b"From: a@sender.test", b"Subject: forged",
           b"Authentication-Results: other.test; dkim=pass header.d=keep1.test",
           b"Authentication-Results: lanmail.test.example;\n\tdkim=pass header.d=keep2.test",
           b"X-Authentication-Results: lanmail.test; dkim=pass header.d=keep3.test"],
          "the rest of the header as sent, in order")
    t.ok(m is not None and m.endswith(b"\n\nAuthentication-Results: lanmail.test; dkim=pass header.d=body1.test\n"
                                      b".Authentication-Results: lanmail.test; spf=pass\nend\n"),
         "such lines in the body stay, unstuffed")

    # a header that is only a forged field, and one cut across TCP writes
    m = message(b"Authentication-Results: lanmail.test; spf=pass\r\n")
    t.ok(m is not None and header_of(m)[2:] == [], "a message that is only a forged field: the field goes")
    c = s.Raw(P)
    c.cmd("EHLO client.test")
    c.cmd("MAIL FROM:<joe@sender.test>")
    c.cmd("RCPT TO:<u1@virt.test>")
    c.cmd("DATA")
    for piece in (b"Subject: x\r\nAuthentica", b"tion-Results: lanmail", b".test; spf=pass\r", b"\n\t(folded)",
                  b"\r\nTo: y\r\n\r\nbody\r\n"):
        c.send(piece)
        time.sleep(0.05)
    r = s.code(c.cmd("."))
    c.cmd("QUIT")
    c.close()
    q = s.queue()
    t.clear_queue()
    t.ok(r == "250 2.0.0" and len(q) == 1 and s.strip_received(q[0]["message"]).endswith(
        b"spf=temperror (DNS lookup failed) smtp.mailfrom=joe@sender.test\nSubject: x\nTo: y\n\nbody\n"),
        "a forged field sent in pieces goes all the same (%r)" % (q and q[0]["message"][-120:]))

    # the size limit is on what the client sent: a removed field counts
    s.control("databytes", "200\n")
    pad = b"Subject: " + b"x" * 150 + b"\r\n\r\nbody\r\n"
    m = message(b"Authentication-Results: lanmail.test; spf=pass\r\n" + pad)
    t.ok(m is None and "result=refused:too-big" in srv.logtext(),
         "a forged field counts toward databytes: refused as too big")
    t.ok(message(pad) is not None, "without it the message fits")
    s.control("databytes", None)

    # an address literal in HELO is proper RFC 5321: kept in Received
    rcv, ar = send("[127.0.0.1]", "<>")
    t.ok(rcv is not None and rcv.startswith("Received: from [127.0.0.1] ([127.0.0.1])\n"),
         "Received: an address literal HELO as it is (%r)" % rcv)
    t.ok(ar is not None and re.search(r'spf=none smtp\.helo="\[127\.0\.0\.1\]"$', ar),
         "an address literal HELO is not looked up, and is quoted in smtp.helo= (%r)" % ar)

    # with no SPF field of ours added, the forged ones go all the same
    srv2 = s.Server(env={"SPFBEHAVIOR": "off"})
    try:
        m = message(forged + b"Subject: off\r\n" + kept + body, port=srv2.port)
        h = header_of(m)
        t.is_([f for f in h if re.match(rb"(?i)authentication-results[ \t]*:", f) and b"lanmail.test;" in f]
              + re.findall(rb"bank\d", b"\n".join(h)), [],
              "SPF off: the forged fields go, and none of ours is added")
        t.is_(re.findall(rb"keep\d", b"\n".join(h)), [b"keep1", b"keep2", b"keep3"], "SPF off: the others stay")
    finally:
        srv2.stop()
finally:
    srv.stop()
    s.restore()
t.ok(s.queue_empty(), "queue left empty")
t.done()
