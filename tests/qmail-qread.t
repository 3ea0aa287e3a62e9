#!/usr/bin/python3
"""qmail-qstat and qmail-qread: exactly the committed messages, before and
after qmail-send sorts them, never what a failed qmail-queue left; and
qmail-send's sweep of such leftovers once they are 36 hours old."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import qsend

D = qsend.DOMAIN
s = qsend.Scene()


def run(prog):
    r = subprocess.run([os.path.join(t.BIN, prog)], capture_output=True, text=True)
    return r.returncode, r.stdout


def qstat():
    rc, out = run("qmail-qstat")
    m = re.fullmatch(r"messages in queue: (\d+)\nmessages in queue but not yet preprocessed: (\d+)\n", out)
    return (int(m.group(1)), int(m.group(2))) if rc == 0 and m else (rc, out)


try:
    bob = s.home("bob", {"temp": "|echo not now; exit 111\n"})
    s.assign([s.user("bob", bob), s.user("bob", bob, prefix=True)])
    t.control("retrylocal", "1000\n")
    t.is_(qstat(), (0, 0), "empty queue")
    rc, out = run("qmail-qread")
    t.is_((rc, out), (0, ""), "qmail-qread: nothing")

    s.inject("a@x.test", ["bob@" + D, "bob-temp@" + D], "Subject: one\n\nbody\n")
    s.inject("", ["bob-temp@" + D], "Subject: two\n\nbody two\n")
    t.is_(qstat(), (2, 2), "two messages, neither preprocessed")
    rc, out = run("qmail-qread")
    lines = out.splitlines()
    heads = [l for l in lines if not l.startswith("\t")]
    t.is_(len(heads), 2, "one line per message")
    first = [i for i, l in enumerate(lines) if "<a@x.test>" in l]
    m = re.fullmatch(r"(\d\d \w\w\w \d{4} \d\d:\d\d:\d\d GMT)  #(\d+)  (\d+)  <a@x\.test>  \[preprocessing pending\]",
                     lines[first[0]]) if first else None
    t.ok(m, "date, id, size, sender: " + (lines[first[0]] if first else ""))
    mess = [f for f in t.queue_files("mess") if m and os.path.basename(f) == m.group(2)]
    t.ok(mess and os.path.getsize(mess[0]) == int(m.group(3)), "size is the message file's")
    t.ok(re.search(r"<>  \[preprocessing pending\]", out), "null sender shown as <>")
    t.is_(lines[first[0] + 1:first[0] + 3] if first else None, ["\ttodo\tbob@" + D, "\ttodo\tbob-temp@" + D],
          "recipients of an unsorted message")

    # leftovers of failed qmail-queue runs are invisible
    for sub, name in (("pid", "99999999"), ("mess/0", "23"), ("intd/1", "24"), ("mess/1", "24")):
        t.write(os.path.join(t.HOME, "queue", sub, name), "junk")
    t.is_(qstat(), (2, 2), "leftovers are not counted")
    t.is_(run("qmail-qread")[1], out, "nor listed")

    # and qmail-send sweeps them once they are 36 hours old, not sooner
    old = [("pid", "88888888"), ("mess/2", "25"), ("intd/3", "26")]
    for sub, name in old:
        f = os.path.join(t.HOME, "queue", sub, name)
        t.write(f, "old junk")
        os.utime(f, (time.time() - 37 * 3600,) * 2)
    s.start()
    t.ok(s.wait(lambda: not any(os.path.exists(os.path.join(t.HOME, "queue", a, b)) for a, b in old)),
         "old leftovers swept at start")
    t.ok(all(os.path.exists(os.path.join(t.HOME, "queue", a, b))
             for a, b in (("pid", "99999999"), ("mess/0", "23"), ("intd/1", "24"), ("mess/1", "24"))),
         "young leftovers kept")
    t.ok(s.wait(lambda: s.log().count("deferral: bob-temp@") == 2 and qstat() == (2, 0)),
         "qmail-send sorted both, delivered one recipient, deferred two")
    rc, out2 = run("qmail-qread")
    lines = out2.splitlines()
    t.ok(not re.search(r"preprocessing pending", out2), "no longer pending")
    t.ok("\tdone local\tbob@" + D in lines and lines.count("\tlocal\tbob-temp@" + D) == 2,
         "done and pending recipients shown with their channel")
    s.stop()
    t.is_(qstat(), (2, 0), "same count with qmail-send stopped")
    for sub, name in (("pid", "99999999"), ("mess/0", "23"), ("intd/1", "24"), ("mess/1", "24")):
        os.unlink(os.path.join(t.HOME, "queue", sub, name))
    s.stop()
    t.clear_queue()

    # a message qmail-send takes from todo/ to info/ while qmail-qstat
    # looks is counted once: its info/ scan is held up under strace
    # while the move happens
    import shutil
    if shutil.which("strace"):
        # static musl programs call open(2), glibc's openat(2)
        tr = subprocess.run(["strace", "-f", "-e", "trace=open,openat", os.path.join(t.BIN, "qmail-qstat")],
                            capture_output=True, text=True, cwd="/")
        calls = [l for l in tr.stderr.splitlines() if re.match(r"(\d+ +)?open(at)?\(", l)]
        idx = [i for i, l in enumerate(calls) if '"info/0"' in l]
        split = int(open(os.path.join(t.SRC, "conf-split")).readline())
        todo = os.path.join(t.HOME, "queue", "todo", str(4242 % split), "4242")
        info = os.path.join(t.HOME, "queue", "info", str(4242 % split), "4242")
        t.write(todo, "u0\0p1\0Fa@x\0Tb@y\0")
        p = subprocess.Popen(["strace", "-o", "/dev/null", "-f", "-e", "trace=open,openat", "-e",
                              "inject=open,openat:delay_enter=1500000:when=%d" % (idx[0] + 1 if idx else 1),
                              os.path.join(t.BIN, "qmail-qstat")], stdout=subprocess.PIPE, text=True, cwd="/")
        time.sleep(0.7)
        t.write(info, "t1\0Fa@x\0")
        os.unlink(todo)
        out, _ = p.communicate(timeout=20)
        t.ok(idx and out.startswith("messages in queue: 1\n"),
             "a message moved from todo/ to info/ during the count is counted once: %r" % out)
        os.unlink(info)
    else:
        t.skip("strace is not installed")
finally:
    s.finish()
t.done()
