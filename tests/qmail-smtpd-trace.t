#!/usr/bin/python3
"""qmail-smtpd: what the client says in HELO and MAIL FROM cannot change
the meaning of the Received and Authentication-Results fields it writes.
SPF in record mode against a name server that answers SERVFAIL at once,
so every check is a quick temperror; the queued message is read back."""
import os
import re
import sys

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

    # an address literal in HELO is proper RFC 5321: kept in Received
    rcv, ar = send("[127.0.0.1]", "<>")
    t.ok(rcv is not None and rcv.startswith("Received: from [127.0.0.1] ([127.0.0.1])\n"),
         "Received: an address literal HELO as it is (%r)" % rcv)
    t.ok(ar is not None and re.search(r'spf=none smtp\.helo="\[127\.0\.0\.1\]"$', ar),
         "an address literal HELO is not looked up, and is quoted in smtp.helo= (%r)" % ar)
finally:
    srv.stop()
    s.restore()
t.ok(s.queue_empty(), "queue left empty")
t.done()
