"""vmailtest.py - helpers for the virtual-mailbox tests (qmail-admin,
qmail-auth, qmail-popup, qmail-pop3d): domains and mailboxes made with
the real bin/qmail-admin, mail delivered with the real bin/qmail-local,
POP3 served by the real programs under tcpserver.
"""
import os
import pwd
import socket
import subprocess

import lanmail as t


def admin(*args, stdin=None, check=False):
    """Run bin/qmail-admin; returns (exit code, stdout, stderr) as text."""
    p = subprocess.run([os.path.join(t.BIN, "qmail-admin")] + list(args),
                       input=(stdin or "").encode(), capture_output=True,
                       timeout=60)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    if check and p.returncode != 0:
        t.diag("qmail-admin %s: %d %s" % (" ".join(args), p.returncode, err))
    return p.returncode, out, err


def vmail_user():
    return pwd.getpwuid(os.getuid()).pw_name


def deliver(domain, user, msg):
    """Deliver msg (bytes, the queue's LF form) with bin/qmail-local the
    way qmail-lspawn does for user@domain; returns the exit code."""
    home = os.path.join(t.HOME, "domains", domain)
    p = subprocess.run([os.path.join(t.BIN, "qmail-local"), vmail_user(), home,
                        domain + "-" + user, "-", user, domain,
                        "sender@outside.example", "./Maildir/"],
                       input=msg, capture_output=True, timeout=30, cwd=home)
    if p.returncode != 0:
        t.diag("qmail-local: %d %r" % (p.returncode, p.stdout + p.stderr))
    return p.returncode


def maildir(domain, user):
    return os.path.join(t.HOME, "domains", domain, user, "Maildir")


def messages(domain, user):
    """Every message file of the mailbox (new/ and cur/), oldest first."""
    md = maildir(domain, user)
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(md, sub)
        for n in os.listdir(d):
            if not n.startswith("."):
                out.append(os.path.join(d, n))
    out.sort(key=lambda p: (os.stat(p).st_mtime, os.path.basename(p)))
    return out


def wire(data):
    """A message file in POP3 form, without the terminator."""
    out = b""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for ln in lines:
        if ln.endswith(b"\r"):
            ln = ln[:-1]
        if ln.startswith(b"."):
            ln = b"." + ln
        out += ln + b"\r\n"
    return out


def pop3_server(extra_env=None):
    """qmail-popup qmail-auth qmail-pop3d under tcpserver; returns the port."""
    _p, port = t.tcpserver([os.path.join(t.BIN, "qmail-popup"), "mail.test.example",
                            os.path.join(t.BIN, "qmail-auth"),
                            os.path.join(t.BIN, "qmail-pop3d"), "Maildir"],
                           env=extra_env)
    return port


class Raw:
    """A plain POP3 conversation over a socket, for what poplib hides."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                r, self.buf = self.buf, b""
                return r
            self.buf += d
        i = self.buf.index(b"\n") + 1
        r, self.buf = self.buf[:i], self.buf[i:]
        return r

    def multi(self):
        """A multi-line reply's body up to and including the terminator."""
        while b"\r\n.\r\n" not in b"\r\n" + self.buf:
            d = self.s.recv(65536)
            if not d:
                break
            self.buf += d
        full = b"\r\n" + self.buf
        i = full.index(b"\r\n.\r\n") + 5
        r, self.buf = full[2:i], full[i:]
        return r

    def cmd(self, c):
        self.s.sendall(c if isinstance(c, bytes) else c.encode() + b"\r\n")
        return self.line()

    def close(self):
        self.s.close()


def login(port, user, password):
    r = Raw(port)
    greet = r.line()
    r.cmd("USER " + user)
    reply = r.cmd("PASS " + password)
    return r, greet, reply


def cleanup(domain):
    admin("domain", "del", domain, "--force")

