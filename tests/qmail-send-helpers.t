#!/usr/bin/python3
"""qmail-send watches its helpers: with the queue idle, qmail-lspawn,
qmail-rspawn or qmail-clean killed with SIGKILL makes qmail-send log which
one has gone and exit 111, so that qmail-start exits (111) within a few
seconds; started again, the set delivers a message.  A qmail-rspawn that
dies while qmail-send is handing it a request (qmail-send meets a broken
pipe, or the end of its answers) does not make qmail-send die: the local
delivery in progress still reports before qmail-send exits 111, so that
it is not made again after the restart.  A qmail-clean whose answers
have no reader (qmail-send killed) still makes the removals asked for."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

D = qsend.DOMAIN
t.plan(1 + 3 * 6 + 2 * 8)

SHIM = r'''/* the first request for far.test that qmail-send writes to
 * qmail-rspawn (descriptor 5) waits until qmail-rspawn has died: then
 * the write meets a broken pipe */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

static int held;

ssize_t
write(int fd, const void *p, size_t n)
{
	static ssize_t (*next)(int, const void *, size_t);
	struct pollfd pfd;

	if (next == NULL)
		next = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (!held && fd == 5 && memmem(p, n, "Hfar.test", 10) != NULL) {
		held = 1;
		/* a pipe's write end reports POLLERR once it has no reader */
		pfd.fd = fd, pfd.events = 0;
		while (poll(&pfd, 1, -1) >= 0 && !(pfd.revents & POLLERR))
			;
	}
	return next(fd, p, n);
}
'''


def shim_build():
    """the preloaded library above, or None where cc cannot build it"""
    so = os.path.join(s.dir, "holdreq.so")
    src = os.path.join(s.dir, "holdreq.c")
    t.write(src, SHIM)
    if not shutil.which("cc") or subprocess.run(["cc", "-shared", "-fPIC", "-o", so, src, "-ldl"],
                                                capture_output=True).returncode != 0:
        return None
    return so


def rspawn_dies(how, home):
    """qmail-rspawn is killed while qmail-send hands it a request, with a
    local delivery in progress that waits for a gate file.  how "full":
    qmail-rspawn is stopped first and the remote message's requests are
    twice what its request pipe holds, so that from the first "starting
    delivery" line for it until qmail-rspawn dies qmail-send is inside
    that hand-over, waiting for room, and meets the end of qmail-rspawn's
    answers there.  how "epipe": a preloaded library holds qmail-send's
    write of the request until qmail-rspawn has died, so that the write
    fails with EPIPE."""
    name = "rspawn dies (%s)" % how
    env = None
    if how == "epipe":
        so = shim_build()
        env = {"LD_PRELOAD": so} if so else None
    d = os.path.join(s.dir, how)
    os.makedirs(d)
    gate = os.path.join(d, "gate")
    began = os.path.join(d, "began")
    marker = os.path.join(d, "marker")
    slow = s.home("slow-" + how, {"": "|touch %s; i=0; while [ ! -e %s ] && [ $i -lt 600 ]; do "
                                    "sleep 0.05; i=$((i+1)); done; echo x >> %s\n"
                                    % (began, gate, marker)})
    s.assign([s.user("h", home), s.user("slow", slow)])
    t.control("smtproutes", "far.test:[127.0.0.1]:%d\n" % t.free_port())
    if how == "full":
        # twice what a pipe holds by default (16 pages), in recipients
        # of some 950 bytes each, 100 to a request
        nr = 2 * 16 * os.sysconf("SC_PAGE_SIZE") // 950 + 1
        rcpts = ["%s%04d@far.test" % ("r" * 936, i) for i in range(nr)]
        t.control("concurrencyremote", "%d\n" % (nr // 100 + 1))
    else:
        rcpts = ["r@far.test"]
    start = len(s.log())
    s.start(env=env)
    s.wait(lambda: len(s.pids()) == 4 and "status: starting" in s.log()[start:], 30)
    pids = s.pids()
    if how == "epipe":
        try:
            with open("/proc/%d/maps" % pids["qmail-send"]) as f:
                loaded = os.path.realpath(so) in f.read()
        except (OSError, KeyError, TypeError):
            loaded = False
        if not loaded:
            s.stop()
            t.skip("no preloaded library in qmail-send (no cc, or a static build)", 8)
            return
    s.inject("x@" + D, ["slow@" + D], "From: x@%s\nSubject: slow\n\nslow\n" % D)
    t.ok(s.wait(lambda: os.path.exists(began), 20), name + ": a slow local delivery is running")
    if how == "full":
        os.kill(pids["qmail-rspawn"], signal.SIGSTOP)
    s.inject("x@" + D, rcpts, "From: x@%s\nSubject: far\n\nfar\n" % D)
    t.ok(s.wait(lambda: "to remote far.test" in s.log()[start:], 20),
         name + ": qmail-send starts handing qmail-rspawn a remote delivery")
    os.kill(pids["qmail-rspawn"], signal.SIGKILL)
    t.ok(s.wait(lambda: "alert: qmail-rspawn has gone" in s.log()[start:] or
                s.proc.poll() is not None, 20),
         name + ": qmail-send logs that qmail-rspawn has gone")
    t.ok("fatal" not in s.log()[start:] and os.path.exists("/proc/%d" % pids["qmail-send"]),
         name + ": qmail-send does not die of the request it could not hand over")
    t.write(gate, "")
    try:
        rc = s.proc.wait(20)
    except subprocess.TimeoutExpired:
        rc = None
    t.is_(rc, 111, name + ": once the local delivery has reported, qmail-start exits 111")
    log = s.log()[start:]
    ok = log.find("success: slow@" + D)
    t.ok(ok != -1 and ok < log.find("status: exiting: qmail-rspawn has gone"),
         name + ": the local delivery's result is logged before qmail-send exits")
    if rc is None:
        s.stop()
    s.proc = None
    s.wait(lambda: not any(os.path.exists("/proc/%d" % p) and
                           open("/proc/%d/stat" % p).read().split(") ")[1][0] != "Z"
                           for p in pids.values()), 10)
    # started again: the local message has gone from the queue (made
    # again, or not) once the remote one alone is left and tried
    restart = len(s.log())
    s.start()
    s.wait(lambda: len(t.queue_files("mess")) == 1 and "deferral: r" in s.log()[restart:], 20)
    made = open(marker).read().count("x") if os.path.exists(marker) else 0
    t.is_(made, 1, name + ": after a new start the local delivery is not made again")
    t.ok(len(t.queue_files("mess")) == 1 and "deferral: r" in s.log()[restart:],
         name + ": the remote message was kept, and is tried after the new start")
    s.stop()
    t.clear_queue()
    t.control("concurrencyremote", None)


s = qsend.Scene()
try:
    home = s.home("h")
    s.assign([s.user("h", home)])

    # qmail-clean whose answers nobody reads any more (qmail-send killed):
    # the removals already asked for are still made, to the end of input
    split = int(open(os.path.join(t.SRC, "conf-split")).readline())
    ids = (990001, 990002, 990003)
    made = []
    for i in ids:
        for sub in ("todo", "mess"):
            made.append(os.path.join(t.HOME, "queue", sub, str(i % split), str(i)))
            t.write(made[-1], "x")
    r, w = os.pipe()
    os.close(r)
    p = subprocess.run([os.path.join(t.BIN, "qmail-clean")], input=b"".join(b"D%d\0" % i for i in ids),
                       stdout=w, stderr=subprocess.PIPE, timeout=30)
    os.close(w)
    left = [f for f in made if os.path.exists(f)]
    t.ok(p.returncode == 0 and left == [],
         "qmail-clean without a reader for its answers: every removal asked for is made, exit 0 "
         "(exit %d, left %r, %r)" % (p.returncode, left, p.stderr))
    for f in left:
        os.unlink(f)
    n = 0
    for victim in ("qmail-lspawn", "qmail-rspawn", "qmail-clean"):
        start = len(s.log()) if os.path.exists(s.logf) else 0
        s.start()
        ok = s.wait(lambda: len(s.pids()) == 4 and "status: starting" in s.log()[start:], 30)
        pids = s.pids()
        t.ok(ok and victim in pids, "%s: qmail-start runs its four helpers" % victim)
        # the queue idle: nothing would make qmail-send talk to the helper
        time.sleep(0.5)
        os.kill(pids[victim], signal.SIGKILL)
        t0 = time.time()
        try:
            rc = s.proc.wait(30)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.time() - t0
        t.is_(rc, 111, "%s killed: qmail-start exits 111 (after %.1f s)" % (victim, took))
        log = s.log()[start:]
        t.ok("alert: %s has gone" % victim in log,
             "%s killed: qmail-send logs which helper has gone" % victim)
        t.ok("status: exiting: %s has gone" % victim in log,
             "%s killed: qmail-send says why it exits" % victim)
        if rc is None:
            s.stop()
        # every helper of that generation has ended
        t.ok(s.wait(lambda: not any(os.path.exists("/proc/%d" % p) and
                                    open("/proc/%d/stat" % p).read().split(") ")[1][0] != "Z"
                                    for p in pids.values()), 10),
             "%s killed: the other helpers end too" % victim)
        s.proc = None
        # started again, the set works
        s.start()
        n += 1
        body = "From: x@%s\nSubject: after %s\n\nbody %d\n" % (D, victim, n)
        s.inject("x@" + D, ["h@" + D], body)
        t.ok(s.wait(lambda: len(s.maildir(home)) == n and s.queue_empty(), 20),
             "%s killed: after a new start a message is delivered" % victim)
        if s.stop() != 0:
            t.diag("qmail-start did not exit 0 on SIGTERM")
    for how in ("full", "epipe"):
        rspawn_dies(how, home)
finally:
    s.finish()
t.done()
