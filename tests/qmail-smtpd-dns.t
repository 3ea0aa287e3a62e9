#!/usr/bin/python3
"""qmail-smtpd: the MAIL FROM domain check (control/mfdnscheck, MFDNSCHECK)
against a real DNS server (dnsmasq) on 127.0.0.1, and a server that
answers SERVFAIL for the temporary failure."""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import smtpdtest as s

t.need_home()
if not shutil.which("dnsmasq"):
    t.skip_all("dnsmasq is not installed (Debian package dnsmasq-base)")
s.setup()
DNSPORT = t.free_port()
dnsdir = t.tmpdir("smtpd-dns.")
dnsmasq = t.start(["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                   "--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces",
                   "--port=%d" % DNSPORT, "--pid-file=", "--local=/test/",
                   "--log-facility=" + os.path.join(dnsdir, "log"),
                   "--mx-host=mx.test,mail.mx.test,10", "--host-record=mail.mx.test,127.0.0.9",
                   "--host-record=a.test,127.0.0.8", "--host-record=aaaa.test,::8"])
if not t.wait_port(DNSPORT):
    t.diag("dnsmasq did not start")


BADPORT = t.servfail_server()

srv = s.Server()


def mail_from(sender, port=None):
    c = s.Raw(port or srv.port)
    c.cmd("EHLO client.test")
    r = s.code(c.cmd("MAIL FROM:<%s>" % sender))
    c.close()
    return r


try:
    s.control("nameservers", "127.0.0.1:%d\n" % DNSPORT)
    t.is_(mail_from("x@nowhere.test"), "250 2.1.0", "without mfdnscheck no lookup")
    s.control("mfdnscheck", "1\n")
    t.is_(mail_from("x@mx.test"), "250 2.1.0", "domain with MX accepted")
    t.is_(mail_from("x@a.test"), "250 2.1.0", "domain with only A accepted")
    t.is_(mail_from("x@aaaa.test"), "250 2.1.0", "domain with only AAAA accepted")
    t.is_(mail_from("x@nowhere.test"), "553 5.1.8", "NXDOMAIN: 553 5.1.8")
    t.is_(mail_from("x@mail.mx.test"), "250 2.1.0", "a host name with an A record")
    t.is_(mail_from(""), "250 2.1.0", "the null sender is not looked up")
    t.is_(mail_from("x@[127.0.0.1]"), "250 2.1.0", "an address literal is not looked up")
    s.control("nameservers", "127.0.0.1:%d\n" % BADPORT)
    t0 = time.time()
    t.is_(mail_from("x@mx.test"), "451 4.4.3", "DNS failure: 451 4.4.3")
    t.diag("temporary failure took %.1f s" % (time.time() - t0))
    s.control("mfdnscheck", None)
    s.control("nameservers", "127.0.0.1:%d\n" % DNSPORT)
    srv2 = s.Server(env={"MFDNSCHECK": "1"})
    t.is_(mail_from("x@nowhere.test", srv2.port), "553 5.1.8", "MFDNSCHECK from the environment (tcprules)")
    srv2.stop()
finally:
    srv.stop()
    s.restore()
t.ok(s.queue_empty(), "queue left empty")
t.done()
