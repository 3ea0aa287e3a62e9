#!/usr/bin/python3
"""qmail-showctl.t - every setting printed with its state; contradictions found."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t  # noqa: E402

t.need_home()
PROG = os.path.join(t.BIN, "qmail-showctl")
if not os.access(PROG, os.X_OK):
    t.skip_all("qmail-showctl is not built")

CTL = os.path.join(t.HOME, "control")
NAMES = ["servercert.pem", "serverkey.pem", "me", "locals", "rcpthosts", "virtualdomains", "databytes", "smtpport", "listenip",
         "badmailfrom", "helohost", "morercpthosts.cdb", "relaynets", "concurrencyincoming",
         "timeoutsmtpd", "lanmail-no-such-setting", "defaultdomain", "nameservers", "doublebounceto",
         "plaintextauthnets", "spfbehavior"]
saved = {}
for n in NAMES:
    p = os.path.join(CTL, n)
    if os.path.isdir(p):
        saved[n] = "dir"
    elif os.path.exists(p):
        saved[n] = open(p, "rb").read()
    else:
        saved[n] = None


def reset():
    for n in NAMES:
        p = os.path.join(CTL, n)
        if os.path.isdir(p) and not os.path.islink(p):
            os.rmdir(p)
        elif os.path.lexists(p):
            os.unlink(p)


def run():
    r = subprocess.run([PROG], capture_output=True)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def entry(out, name):
    """(status, value text, description) of one setting in the output."""
    m = re.search(r"^%s \[([^\]]*)\]:(.*?)\n((?:    .*\n)*)  - (.*)$" % re.escape(name), out, re.M)
    if not m:
        return None
    value = m.group(2).strip() if m.group(2).strip() else [x.strip() for x in m.group(3).splitlines()]
    return m.group(1), value, m.group(4)


def warnings(out):
    return [x[len("warning: "):] for x in out.splitlines() if x.startswith("warning: ")]


try:
    reset()
    # 1: everything default
    t.control("me", "mail.example.org\n")
    rc, out, err = run()
    t.is_(rc, 0, "exit 0")
    t.is_(err, "", "nothing on stderr")
    t.ok(out.startswith("lanmail installed in %s" % t.HOME), "names the install root")
    t.is_(entry(out, "me")[:2], ("set", "mail.example.org"), "me: set, with its value")
    t.is_(entry(out, "databytes")[0], "default", "databytes: default")
    t.ok("0" in entry(out, "databytes")[1] and "largest message" in entry(out, "databytes")[2],
         "databytes: default value and what it does")
    t.is_(entry(out, "helohost")[:2], ("default", "mail.example.org (from me)"),
          "helohost: the default follows control/me")
    t.is_(entry(out, "locals")[:2], ("default", "mail.example.org (from me)"), "locals: defaults to me")
    t.is_(entry(out, "listenip")[:2], ("default", "127.0.0.1"), "listenip: default loopback")
    t.is_(entry(out, "smtpport")[:2], ("default", "25"), "smtpport: default 25")
    t.is_(entry(out, "morercpthosts.cdb")[:2], ("default", "absent"), "morercpthosts.cdb: absent")
    names = re.findall(r"^(\S+) \[", out, re.M)
    t.ok(len(names) >= 40 and len(set(names)) == len(names), "%d settings, each once" % len(names))
    t.ok(all(entry(out, n) and entry(out, n)[2] for n in names), "every setting says what it does")
    t.ok(not warnings(out), "no rcpthosts: it defaults to locals and virtualdomains, no warning")
    # rcpthosts lacks mail.example.org (the default locals): that is a contradiction
    t.control("rcpthosts", "other.example\n")
    rc, out, err = run()
    t.ok(any("locals has mail.example.org but control/rcpthosts does not" in w for w in warnings(out)),
         "a local domain missing from rcpthosts is reported")

    # 2: set values, lists, comments and blanks
    t.control("locals", "# ours\nmail.example.org\nexample.org  \n\nlocalhost\n")
    t.control("rcpthosts", "example.org\n.example.org\n")
    t.control("databytes", "  10000000\n")
    t.control("smtpport", "2525\n")
    rc, out, err = run()
    t.is_(entry(out, "locals")[:2], ("set", ["mail.example.org", "example.org", "localhost"]),
          "locals: every line, comments and blanks dropped")
    t.is_(entry(out, "databytes")[:2], ("set", "10000000"), "databytes: the number")
    t.is_(entry(out, "smtpport")[:2], ("set", "2525"), "smtpport: set")
    t.ok(not any("locals has" in w for w in warnings(out)),
         "rcpthosts: an exact line, or a .domain line for a subdomain, accepts a local domain")

    # 3: contradictions
    t.control("virtualdomains", "example.org:example.org\nvirtual.test:virtual.test\nnocolon\n")
    t.control("databytes", "ten megabytes\n")
    t.control("smtpport", "70000\n")
    t.control("listenip", "192.168.1\n")
    t.control("lanmail-no-such-setting", "x\n")
    t.control("spfbehavior", "recrod\n")
    os.mkdir(os.path.join(CTL, "badmailfrom"))
    rc, out, err = run()
    w = warnings(out)
    t.is_(rc, 0, "exit 0 with warnings")
    t.ok(any("locals and control/virtualdomains both have example.org" in x for x in w),
         "a domain in both locals and virtualdomains")
    t.ok(any("virtualdomains has virtual.test but control/rcpthosts does not" in x for x in w),
         "a virtual domain missing from rcpthosts")
    t.ok(any("no colon" in x and "nocolon" in x for x in w), "a virtualdomains line without a colon")
    t.is_(entry(out, "databytes")[0], "NOT A NUMBER", "databytes: junk is shown as such")
    t.ok(any(x.startswith("control/databytes: not a number") for x in w), "and warned about")
    t.ok(any(x.startswith("control/smtpport: not a port") for x in w), "a port over 65535")
    t.ok(any(x.startswith("control/listenip: not an IPv4 or IPv6 address") for x in w), "a listen address that is not one")
    t.ok(any(x.startswith("control/spfbehavior: not off, record or reject") for x in w), "a misspelt spfbehavior")
    t.control("spfbehavior", None)
    t.is_(entry(out, "badmailfrom")[0], "UNREADABLE", "an unreadable file (a directory) is shown as such")
    t.ok(any(x.startswith("control/badmailfrom: unreadable") for x in w), "and warned about")
    unknown = out.split("no program reads", 1)[1].split("\n\n", 1)[0] if "no program reads" in out else ""
    t.ok("\n    lanmail-no-such-setting\n" in unknown + "\n", "an unknown file is listed")

    # 4: a virtual domain in morercpthosts.cdb counts as accepted; hostile bytes are escaped
    os.rmdir(os.path.join(CTL, "badmailfrom"))
    r = subprocess.run(["cdb", "-c", os.path.join(CTL, "morercpthosts.cdb")],
                       input=b"+12,0:virtual.test->\n\n", capture_output=True)
    t.control("virtualdomains", "virtual.test:virtual.test\n")
    t.control("helohost", b"evil\x1b[2Jname\n")
    rc, out, err = run()
    if r.returncode == 0:
        t.ok(not any("virtual.test" in x for x in warnings(out)), "morercpthosts.cdb entries count as accepted")
        t.is_(entry(out, "morercpthosts.cdb")[0], "set", "morercpthosts.cdb: present")
    else:
        t.skip("the cdb tool (tinycdb) is not installed", 2)
    t.ok("\x1b" not in out and "evil\\033[2Jname" in out, "control characters are escaped")
    t.is_(entry(out, "helohost")[0], "set", "helohost: set")
    t.ok(not any("control/me is missing" in x for x in warnings(out)), "control/me set: no warning about it")
    t.control("me", None)
    rc, out, err = run()
    t.ok(any(x.startswith("control/me is missing: qmail-remote delivers nothing") for x in warnings(out)),
         "control/me missing is warned about")
    t.is_(entry(out, "me")[:2], ("default", "localhost"), "me: default localhost")

    # 5: a file with no line left: the default for most, an empty setting for some
    t.control("me", "mail.example.org\n")
    t.control("helohost", None)
    rc, out, err = run()
    dd = entry(out, "defaultdomain")
    t.ok(dd[0] == "default" and dd[1].startswith("mail.example.org (from me) for qmail-smtpd and qmail-inject") and
         "none for qmail-auth" in dd[1], "defaultdomain: me for qmail-smtpd and qmail-inject, none for qmail-auth")
    t.ok(entry(out, "nameservers")[0] == "default" and "/etc/resolv.conf" in entry(out, "nameservers")[1],
         "nameservers: missing, those of /etc/resolv.conf")
    for n in ("locals", "rcpthosts", "nameservers", "plaintextauthnets", "badmailfrom", "helohost"):
        t.control(n, "# nothing here\n\n")
    t.control("doublebounceto", "")
    rc, out, err = run()
    t.is_(entry(out, "locals")[:2], ("set, empty", "no local domains: qmail-send and qmail-smtpd deliver no"
                                     " domain here by local part"), "locals of comments only: no local domains")
    t.ok(entry(out, "rcpthosts")[0] == "set, empty" and
         entry(out, "rcpthosts")[1].startswith("accept mail for no domain"), "rcpthosts of comments only: no domain")
    t.ok(entry(out, "nameservers")[0] == "set, empty" and "127.0.0.1 only" in entry(out, "nameservers")[1],
         "nameservers of comments only: 127.0.0.1, not resolv.conf")
    t.ok(entry(out, "plaintextauthnets")[0] == "set, empty" and
         "only after TLS" in entry(out, "plaintextauthnets")[1], "plaintextauthnets of comments only: no network")
    t.is_(entry(out, "doublebounceto")[:2], ("set, empty", "double bounces are discarded"),
          "doublebounceto empty: double bounces discarded")
    t.is_(entry(out, "badmailfrom")[:2], ("default, the file is empty", "none"),
          "badmailfrom of comments only: the default, none")
    t.is_(entry(out, "helohost")[:2], ("default, the file is empty", "mail.example.org (from me)"),
          "helohost of comments only: the default")
    t.control("me", "# this host\n")
    rc, out, err = run()
    t.ok(any(x.startswith("control/me has no line: qmail-remote delivers nothing") for x in warnings(out)),
         "control/me of comments only is warned about as well")
finally:
    reset()
    for n, v in saved.items():
        p = os.path.join(CTL, n)
        if v == "dir":
            os.mkdir(p)
        elif v is not None:
            t.write(p, v)
t.done()
