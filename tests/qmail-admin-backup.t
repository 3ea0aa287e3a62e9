#!/usr/bin/python3
"""qmail-admin backup and restore: a round trip while mail arrives.

A domain with two mailboxes, an alias and queued messages is backed up
while one thread delivers more mail with bin/qmail-local and another
moves messages from new/ to cur/ as a POP3 or IMAP reader would.  The
backup must hold every message that was there before it started,
exactly once and byte for byte, and nothing half-written.  Then the
domain and the queue are removed and `qmail-admin restore` brings them
back: mailboxes readable over POP3, passwords working, queue messages
renumbered with consistent envelopes.
"""
import hashlib
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import vmailtest as v

t.need_home()
D = "backup.test.example"
v.cleanup(D)
H = t.HOME
if t.queue_files("todo") or t.queue_files("mess"):
    t.diag("queue not empty at the start; clearing it")
t.clear_queue()


def msg(i, size=200):
    return (b"Received: (lanmail %d invoked by uid 0); 28 Nov 2026 17:00:00 +0000\n"
            b"Subject: message %d\n\n" % (i, i) + (b"line %d\n" % i) * (size // 8))


def maildir_files(root):
    """base name -> (path, sha256) for new/ and cur/ under a Maildir root;
    also the count of names seen (duplicates show as count > len)."""
    out, count = {}, 0
    for sub in ("new", "cur"):
        d = os.path.join(root, sub)
        for n in os.listdir(d):
            if n.startswith("."):
                continue
            count += 1
            p = os.path.join(d, n)
            out[n.split(":")[0]] = (p, hashlib.sha256(open(p, "rb").read()).hexdigest())
    return out, count


def queue_msg(i):
    r, w = os.pipe()
    os.write(w, b"Fsender@outside.example\0Talice@" + D.encode() + b"\0\0")
    os.close(w)
    p = subprocess.run([os.path.join(t.BIN, "qmail-queue")], input=msg(1000 + i), stdout=r,
                       capture_output=False, stderr=subprocess.PIPE)
    os.close(r)
    return p.returncode


t.is_(v.admin("domain", "add", D)[0], 0, "domain add")
t.is_(v.admin("user", "add", "alice@" + D, "--stdin", "--quota", "9000000", stdin="alice pw\n")[0], 0,
      "user add alice")
t.is_(v.admin("user", "add", "bob@" + D, "--stdin", stdin="bob pw\n")[0], 0, "user add bob")
t.is_(v.admin("alias", "add", "info@" + D, "alice@" + D)[0], 0, "alias add")
ok = all(v.deliver(D, "alice", msg(i, 200 + 50 * i)) == 0 for i in range(40))
ok = ok and all(v.deliver(D, "bob", msg(100 + i)) == 0 for i in range(5))
t.ok(ok, "45 messages delivered")
amd, bmd = v.maildir(D, "alice"), v.maildir(D, "bob")
# a few read already, one with flags
for n in sorted(os.listdir(os.path.join(amd, "new")))[:10]:
    os.rename(os.path.join(amd, "new", n), os.path.join(amd, "cur", n + ":2,S"))
# a leftover in tmp/ (a delivery that died) must not be copied
with open(os.path.join(amd, "tmp", "123.half.written"), "wb") as f:
    f.write(b"half")
t.is_(sum(queue_msg(i) == 0 for i in range(3)), 3, "three messages queued with bin/qmail-queue")
queued = {}
for f in t.queue_files("mess"):
    queued[hashlib.sha256(open(f, "rb").read()).hexdigest()] = f
t.is_(len(queued), 3, "three messages in queue/mess")

before_a, _ = maildir_files(amd)
before_b, _ = maildir_files(bmd)

# during the backup: deliveries and a reader moving new/ to cur/
stop = threading.Event()
arrived = []


def deliverer():
    i = 500
    while not stop.is_set() and i < 1500:
        if v.deliver(D, "alice", msg(i, 3000)) == 0:
            arrived.append(i)
        i += 1


def reader():
    while not stop.is_set():
        for n in os.listdir(os.path.join(amd, "new")):
            try:
                os.rename(os.path.join(amd, "new", n), os.path.join(amd, "cur", n + ":2,"))
            except FileNotFoundError:
                pass
        time.sleep(0.001)


threads = [threading.Thread(target=deliverer), threading.Thread(target=reader)]
for th in threads:
    th.start()
time.sleep(0.2)
bdir = os.path.join(t.tmpdir("lanmail-backup."), "b")
rc, out, err = v.admin("backup", bdir, "--queue")
time.sleep(0.1)
stop.set()
for th in threads:
    th.join()
t.is_(rc, 0, "qmail-admin backup --queue while mail arrives (%s)" % err.strip())
t.ok(len(arrived) > 0, "%d messages arrived during the backup" % len(arrived))
mark = open(os.path.join(bdir, "lanmail-backup")).read()
t.ok(mark.startswith("lanmail-backup 1\nhome %s\n" % H) and "queue yes" in mark,
     "the lanmail-backup mark says what the backup holds")

ba, bcount = maildir_files(os.path.join(bdir, "domains", D, "alice", "Maildir"))
live_a, _ = maildir_files(amd)
t.ok(set(before_a) <= set(ba), "every message alice had before the backup is in it")
t.is_(bcount, len(ba), "no message is in the backup twice (new/ and cur/)")
t.ok(all(live_a[k][1] == ba[k][1] for k in ba), "every message in the backup is whole, byte for byte")
t.is_(os.listdir(os.path.join(bdir, "domains", D, "alice", "Maildir", "tmp")), [],
      "tmp/ is copied empty")
bb, _ = maildir_files(os.path.join(bdir, "domains", D, "bob", "Maildir"))
t.is_(sorted(bb.values(), key=lambda x: x[1]) and {k: h for k, (p, h) in bb.items()},
      {k: h for k, (p, h) in before_b.items()}, "bob's mailbox is in the backup")
bq = []
for root, _d, files in os.walk(os.path.join(bdir, "queue", "mess")):
    bq += [hashlib.sha256(open(os.path.join(root, f), "rb").read()).hexdigest() for f in files]
t.is_(sorted(bq), sorted(queued), "the three queued messages are in the backup")
t.ok(not os.path.exists(os.path.join(bdir, "users", "admin.lock")), "the lock file is left out")
rc, out, err = v.admin("backup", bdir)
t.ok(rc == 100 and "not empty" in err, "a backup into a used directory is refused")

# a fresh start: the domain and the queue go, then restore
final_a, _ = maildir_files(os.path.join(bdir, "domains", D, "alice", "Maildir"))
t.is_(v.admin("domain", "del", D, "--force")[0], 0, "domain del --force")
t.clear_queue()
rc, out, err = v.admin("restore", os.path.join(t.tmpdir(), "nothing"))
t.is_(rc, 100, "restore from a directory without a backup refused")
rc, out, err = v.admin("restore", bdir)
t.is_(rc, 0, "qmail-admin restore (%s)" % err.strip())
ra, _ = maildir_files(amd)
t.is_({k: h for k, (p, h) in ra.items()}, {k: h for k, (p, h) in final_a.items()},
      "alice's mailbox restored byte for byte")
t.ok(D in open(os.path.join(H, "control", "virtualdomains")).read() and
     ("+%s-:" % D) in open(os.path.join(H, "users", "assign")).read(),
     "control/virtualdomains and users/assign restored")
t.is_(v.admin("alias", "list", D)[1], "info@%s: alice@%s\n" % (D, D), "the alias is back")
t.is_(open(os.path.join(amd, "maildirsize")).read(), "9000000S\n", "the quota file is back")
rq = {}
for f in t.queue_files("mess"):
    rq[hashlib.sha256(open(f, "rb").read()).hexdigest()] = f
t.is_(sorted(rq), sorted(queued), "the queued messages are back")
okids = True
for h, f in rq.items():
    ino = os.stat(f).st_ino
    okids = okids and os.path.basename(f) == str(ino)
    todo = os.path.join(H, "queue", "todo", os.path.basename(os.path.dirname(f)), str(ino))
    okids = okids and os.path.exists(todo) and b"Talice@" + D.encode() in open(todo, "rb").read()
t.ok(okids, "each has the inode number of its file as id, and its todo/ envelope")
t.is_(t.queue_files("intd") + t.queue_files("pid"), [], "nothing left in intd/ or pid/")

port = v.pop3_server()
r, _, rep = v.login(port, "alice@" + D, "alice pw")
t.ok(rep.startswith(b"+OK %d " % len(final_a)), "alice logs in over POP3 and sees %d messages" % len(final_a))
st = r.cmd("RETR 1")
body = r.multi()
r.cmd("QUIT")
r.close()
t.ok(st.startswith(b"+OK") and body.endswith(b".\r\n"), "and reads one")
r, _, rep = v.login(port, "bob@" + D, "bob pw")
t.ok(rep.startswith(b"+OK 5 "), "bob's password works after the restore")
r.close()

v.cleanup(D)
t.clear_queue()
t.done()
