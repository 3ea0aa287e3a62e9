#!/usr/bin/python3
"""qmail-send when system calls fail: a queue file that cannot be read at
the start is read again later (on a timer, and on SIGALRM), not left
alone; a report that cannot be written into qmail-queue's pipe is sent
again later, not lost; the entry of bounce/ID is synced once an append
to it has succeeded, also after a first attempt that created the file
and then failed.  The failures are made by strace's fault injection and,
for the pipe, by a preloaded library built with cc; each part is skipped
where that cannot be done."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

D = qsend.DOMAIN
Q = os.path.realpath(os.path.join(t.HOME, "queue")) if t.HOME else ""
t.plan(17)
STRACE = qsend.can_inject()


def split_id(path):
    """(split, id) of a queue file's path"""
    return int(os.path.basename(os.path.dirname(path))), int(os.path.basename(path))


def final_rcpts(m):
    return re.findall(r"\nFinal-Recipient: rfc822; (\S+)", m.as_string())


s = qsend.Scene()
try:
    flag = os.path.join(s.dir, "flag")
    u2 = s.home("u2", {"": "|test -f %s || { echo 4.3.0 not yet; exit 111; }\n./Maildir/\n" % flag})
    bob = s.home("bob", {"fail": "|echo 5.1.1 no such thing here; exit 100\n"})
    s.assign([s.user("u2", u2), s.user("bob", bob), s.user("bob", bob, prefix=True)])
    # no retry but the ones the test asks for (SIGALRM)
    t.control("retrylocal", "10000\n")
    t.control("bouncefrom", "MAILER-DAEMON\n")

    # 1. info/ unreadable (EIO) at the start, and at the first retry
    if not STRACE:
        t.skip("strace cannot inject faults here", 7)
    else:
        t.is_(s.inject("bob@" + D, ["u2@" + D], "Subject: stuck\n\nbody\n"), 0, "queued")
        s.start()
        t.ok(s.wait(lambda: "not yet" in s.log() and t.queue_files("info") and
                    not t.queue_files("todo")), "deferred: written out to info/ for a retry")
        s.stop()
        info = t.queue_files("info")[0]
        sp, mid = split_id(info)
        open(flag, "w").close()
        trace = os.path.join(s.dir, "trace-load")
        s.start(wrap=["strace", "-f", "-qq", "-e", "signal=none", "-o", trace, "-e", "trace=read",
                      "-P", os.path.join(Q, "info", str(sp), str(mid)),
                      "-e", "inject=read:error=EIO:when=1..2"])
        warned = "unable to read info/%d/%d: " % (sp, mid)
        t.ok(s.wait(lambda: "unable to load msg %d: will try again" % mid in s.log()) and
             "left alone" not in s.log() and not s.maildir(u2),
             "a read error at the start: warned, to be tried again, not left alone")
        t.ok(s.wait(lambda: s.log().count(warned) == 2, 40),
             "read again on the timer (failing once more: %d warnings)" % s.log().count(warned))
        s.signal(signal.SIGALRM)
        t.ok(s.wait(lambda: len(s.maildir(u2)) == 1 and s.queue_empty(), 8),
             "read again at SIGALRM, well before the next retry: delivered, queue empty")
        s.stop()
        t.is_(open(trace).read().count("(INJECTED)"), 2, "two reads failed")
        t.ok("warning: unable to load msg %d: will try again in 10 seconds" % mid in s.log() and
             "warning: unable to load msg %d: will try again in 20 seconds" % mid in s.log(),
             "the log says when it is tried again, later each time")

    # 2. writing a report into qmail-queue's pipe fails: qmail-queue is
    # given no envelope, and the report is sent again later
    shim = os.path.join(s.dir, "failreport.so")
    src = os.path.join(s.dir, "failreport.c")
    t.write(src, r'''/* the first write of a report from MAILER-DAEMON into a pipe fails */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failed;

ssize_t
write(int fd, const void *p, size_t n)
{
	static ssize_t (*next)(int, const void *, size_t);
	struct stat st;

	if (next == NULL)
		next = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (!failed && n >= 19 && memcmp(p, "From: MAILER-DAEMON", 19) == 0 &&
	    fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
		failed = 1;
		errno = EIO;
		return -1;
	}
	return next(fd, p, n);
}
''')
    built = shutil.which("cc") and subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", shim, src, "-ldl"], capture_output=True).returncode == 0
    loaded = False
    if built:
        s.start(env={"LD_PRELOAD": shim})
        s.wait(lambda: "qmail-send" in s.pids() and "status: starting" in s.log())
        try:
            with open("/proc/%d/maps" % s.pids()["qmail-send"]) as f:
                loaded = os.path.realpath(shim) in f.read()
        except (OSError, KeyError):
            pass
        if not loaded:
            s.stop()
    if not loaded:
        t.skip("no preloaded library in qmail-send (no cc, or a static build)", 5)
    else:
        t.is_(s.inject("bob@" + D, ["bob-fail@" + D], "Subject: lost report\n\nbody\n"), 0, "queued")
        t.ok(s.wait(lambda: re.search(r"unable to inject bounce for msg \d+: will try again", s.log()), 10) and
             not s.maildir(bob) and len(t.queue_files("bounce")) == 1,
             "the write failed: tried again later, bounce/ID kept, nothing sent")
        s.signal(signal.SIGALRM)
        t.ok(s.wait(lambda: len(s.maildir(bob)) == 1 and s.queue_empty()), "sent at SIGALRM, queue empty")
        got = s.maildir(bob)
        t.is_([final_rcpts(m) for m in got], [["bob-fail@" + D]], "one report, naming the failed recipient")
        t.ok(got and "no such thing here" in got[0].as_string(), "with the failure's text")
        s.stop()

    # 3. the first append to bounce/ID fails after creating it (a full
    # disk); the append that succeeds later syncs the directory entry
    if not STRACE:
        t.skip("strace cannot inject faults here", 5)
    else:
        for m in os.listdir(os.path.join(bob, "Maildir", "new")):
            os.unlink(os.path.join(bob, "Maildir", "new", m))
        t.is_(s.inject("bob@" + D, ["bob-fail@" + D], "Subject: torn\n\nbody\n"), 0, "queued")
        sp, mid = split_id(t.queue_files("todo")[0])
        bfile = os.path.join(Q, "bounce", str(mid))
        trace = os.path.join(s.dir, "trace-bounce")
        s.start(wrap=["strace", "-f", "-qq", "-e", "signal=none", "-y", "-o", trace, "-e", "trace=write,fsync",
                      "-P", bfile, "-P", os.path.join(Q, "bounce"),
                      "-e", "inject=write:error=ENOSPC:when=1"])
        t.ok(s.wait(lambda: "unable to write bounce/%d: " % mid in s.log()),
             "the first append failed")
        s.signal(signal.SIGALRM)
        t.ok(s.wait(lambda: len(s.maildir(bob)) == 1 and s.queue_empty()),
             "tried again at SIGALRM: recorded, reported, queue empty")
        t.is_([final_rcpts(m) for m in s.maildir(bob)], [["bob-fail@" + D]], "the report names it")
        s.stop()
        lines = open(trace).read().splitlines()

        def first(pat, start=0):
            for i in range(start, len(lines)):
                if re.search(pat, lines[i]):
                    return i
            return -1
        esc = re.escape(bfile)
        i_w = first(r"write\([0-9]+<%s>, .*\) = [1-9][0-9]*$" % esc)
        i_f = first(r"fsync\([0-9]+<%s>\) = 0$" % esc, i_w + 1) if i_w >= 0 else -1
        i_d = first(r"fsync\([0-9]+<%s>\) = 0$" % re.escape(os.path.join(Q, "bounce")), i_f + 1) if i_f >= 0 else -1
        t.ok(i_w >= 0 and i_f > i_w and i_d > i_f,
             "after the append that succeeded: fsync(bounce/ID), then fsync(bounce) (%d %d %d)" % (i_w, i_f, i_d))
        if i_d < 0:
            t.diag("\n".join(lines[-40:]))
finally:
    s.finish()
t.done()
