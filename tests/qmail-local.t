#!/usr/bin/python3
"""qmail-local: dot-qmail(5) and qmail-command(8) semantics, case by case.

Each row of CASES builds a fresh home directory with the files it names,
runs bin/qmail-local on a message, and checks the exit code, the report
on stdout, and everything the delivery produced: Maildirs (read back with
python's mailbox module), mboxes (byte for byte and through mailbox.mbox),
forwards (through tests/qq-record as $QMAILQUEUE) and program output.
"""
import mailbox
import os
import re
import signal
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t

t.need_home()
QL = os.path.join(t.BIN, "qmail-local")
RECORDER = os.path.join(t.SRC, "tests", "qq-record")
# a queue program that reads nothing and refuses for good
QQ_REFUSE = os.path.join(t.tmpdir("ql-qq."), "refuse")
t.write(QQ_REFUSE, "#!/bin/sh\nexit 31\n", 0o755)
QQ_KILLED = os.path.join(os.path.dirname(QQ_REFUSE), "killed")
t.write(QQ_KILLED, "#!/bin/sh\ncat >/dev/null\nkill -9 $$\n", 0o755)

MSG = (b"Received: (lanmail 4242 invoked by uid 1000); 28 Nov 2026 17:00:00 +0000\n"
       b"From: Alice <alice@sender.example>\n"
       b"To: joe@example.org\n"
       b"Subject: test message\n"
       b"\n"
       b"From the first body line\n"
       b"Fromage is not quoted\n"
       b">From already quoted gets one more\n"
       b"last line\n")
SENDER = "alice@sender.example"
RP = b"Return-Path: <alice@sender.example>\n"


def dt(addr):
    return b"Delivered-To: " + addr.encode() + b"\n"


DT = dt("joe@example.org")


class Run:
    pass


def setup(files):
    home = t.tmpdir("ql-home.")
    os.chmod(home, 0o755)
    for name, spec in files.items():
        path = os.path.join(home, name)
        if name.endswith("/"):
            os.makedirs(path, exist_ok=True)
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(path, sub), exist_ok=True)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = 0o644
        if isinstance(spec, tuple):
            spec, mode = spec
        t.write(path, spec if isinstance(spec, bytes) else spec.encode(), mode)
    return home


def run(home, local="joe", dash="", ext="", domain="example.org", sender=SENDER,
        default="./Maildir/", msg=MSG, opts=(), qq_exit=None, pipe=False, user="joe", timeout=30,
        qq=RECORDER, env_extra=None, wrap=()):
    rec = t.tmpdir("ql-rec.")
    env = dict(os.environ)
    env.update(env_extra or {})
    env["QMAILQUEUE"] = qq
    env["QQ_RECORD"] = rec
    env.pop("QQ_EXIT", None)
    if qq_exit is not None:
        env["QQ_EXIT"] = str(qq_exit)
    argv = list(wrap) + [QL] + list(opts) + [user, home, local, dash, ext, domain, sender, default]
    if pipe:
        p = subprocess.run(argv, input=msg, capture_output=True, env=env, timeout=timeout)
    else:
        mf = os.path.join(rec, "input")
        with open(mf, "wb") as f:
            f.write(msg)
        with open(mf, "rb") as f:
            p = subprocess.run(argv, stdin=f, capture_output=True, env=env, timeout=timeout)
        os.unlink(mf)
    r = Run()
    r.home, r.rc, r.out, r.err = home, p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr
    r.forwards = []
    n = 0
    while os.path.exists(os.path.join(rec, "%d.msg" % n)):
        r.forwards.append((open(os.path.join(rec, "%d.env" % n), "rb").read(),
                           open(os.path.join(rec, "%d.msg" % n), "rb").read()))
        n += 1
    return r


def maildir(r, path="Maildir"):
    """Messages in the Maildir as bytes, sorted by name; tmp/ must be empty."""
    p = os.path.join(r.home, path)
    if not os.path.isdir(os.path.join(p, "new")):
        return None
    if os.listdir(os.path.join(p, "tmp")):
        return ["tmp/ not empty"]
    md = mailbox.Maildir(p, factory=None, create=False)
    return [md.get_bytes(k) for k in sorted(md.keys())]


def mbox_bytes(r, path="mbox"):
    p = os.path.join(r.home, path)
    return open(p, "rb").read() if os.path.exists(p) else None


def readfile(r, path):
    p = os.path.join(r.home, path)
    return open(p, "rb").read() if os.path.exists(p) else None


FROMLINE = re.compile(rb"^From alice@sender\.example (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                      rb"[A-Z][a-z][a-z] [ 0-9]\d \d\d:\d\d:\d\d \d{4}\n")
QUOTED = MSG.replace(b"\nFrom the first", b"\n>From the first").replace(b"\n>From already", b"\n>>From already")


def mbox_ok(data, count=1, msg=QUOTED, dtl=DT):
    """data is count copies of From_ line + RP + DT + msg + blank line."""
    if data is None:
        return False
    parts = []
    rest = data
    for _ in range(count):
        m = FROMLINE.match(rest)
        if not m:
            return False
        rest = rest[m.end():]
        want = RP + dtl + msg + b"\n"
        if not rest.startswith(want):
            return False
        rest = rest[len(want):]
        parts.append(1)
    return rest == b""


def env_lines(r):
    data = readfile(r, "env.out")
    return data.decode().split("\n") if data is not None else None


ENVCMD = ('|printf "%s\\n" "$RECIPIENT" "$SENDER" "$LOCAL" "$HOST" "$EXT" "$EXT2" "$EXT3" "$EXT4" '
          '"$HOST2" "$HOST3" "$HOST4" "$USER" "$HOME" "$DTLINE" "$RPLINE" "${DEFAULT-unset}" "$PWD" > env.out\n')

FULLMD = RP + DT + MSG

# name, files, run arguments, exit code, text in the report, check(r) -> bool
CASES = [
    ("no .qmail: defaultdelivery Maildir", {"Maildir/": ""}, {}, 0, "delivered: 1",
     lambda r: maildir(r) == [FULLMD]),
    ("empty .qmail: defaultdelivery", {"Maildir/": "", ".qmail": ""}, {}, 0, "delivered",
     lambda r: maildir(r) == [FULLMD]),
    ("maildir line", {"Mail/": "", ".qmail": "./Mail/\n"}, {}, 0, "delivered: 1",
     lambda r: maildir(r, "Mail") == [FULLMD] and maildir(r) is None),
    ("absolute maildir line", {"abs/box/": "", ".qmail": None}, {}, 0, "delivered: 1",
     lambda r: maildir(r, "abs/box") == [FULLMD]),
    ("maildir line with trailing blanks, no final newline", {"Mail/": "", ".qmail": "./Mail/ \t"}, {}, 0, "delivered",
     lambda r: maildir(r, "Mail") == [FULLMD]),
    ("mbox line: From_ line, quoting, blank line", {".qmail": "./mbox\n"}, {}, 0, "delivered: 1",
     lambda r: mbox_ok(mbox_bytes(r))),
    ("mbox read back by mailbox.mbox", {".qmail": "./mbox\n"}, {}, 0, "",
     lambda r: [m["Subject"] for m in mailbox.mbox(os.path.join(r.home, "mbox"))] == ["test message"]
     and mailbox.mbox(os.path.join(r.home, "mbox"))[0]["Return-Path"] == "<alice@sender.example>"),
    ("mbox appends to an existing mailbox", {".qmail": "./mbox\n", "mbox": "From x Sat Nov 28 00:00:00 2026\nSubject: old\n\nold\n\n"},
     {}, 0, "", lambda r: len(mailbox.mbox(os.path.join(r.home, "mbox"))) == 2
     and mbox_bytes(r).startswith(b"From x Sat Nov 28 00:00:00 2026\nSubject: old\n\nold\n\nFrom alice")),
    ("mbox: last line without newline gets one", {".qmail": "./mbox\n"}, {"msg": b"Subject: x\n\nno newline"}, 0, "",
     lambda r: mbox_ok(mbox_bytes(r), msg=b"Subject: x\n\nno newline\n")),
    ("mbox: From at the very start and split lines", {".qmail": "./mbox\n"}, {"msg": b"From x\nFrom\nFro\n\nFrom y"}, 0, "",
     lambda r: mbox_ok(mbox_bytes(r), msg=b">From x\nFrom\nFro\n\n>From y\n")),
    ("mbox on a full disk: temporary failure", {".qmail": "/dev/full\n"}, {}, 111, "unable to write mbox /dev/full",
     lambda r: True),
    ("comment only: accepted, nothing delivered", {"Maildir/": "", ".qmail": "# throw it away\n"}, {}, 0, "delivered: 0",
     lambda r: maildir(r) == [] and r.forwards == []),
    ("comment then maildir", {"Maildir/": "", ".qmail": "# mine\n./Maildir/\n"}, {}, 0, "delivered: 1",
     lambda r: maildir(r) == [FULLMD]),
    ("blank first line: temporary failure, nothing delivered", {"Maildir/": "", ".qmail": "\n./Maildir/\n"}, {}, 111, ".qmail line 1",
     lambda r: maildir(r) == []),
    ("blank first line of blanks only: temporary failure", {"Maildir/": "", ".qmail": "  \t\n./Maildir/\n"}, {}, 111, "line 1",
     lambda r: maildir(r) == []),
    ("blank lines later are ignored", {"Maildir/": "", "M2/": "", ".qmail": "./Maildir/\n\n\n./M2/\n\n"}, {}, 0, "delivered: 2",
     lambda r: maildir(r) == [FULLMD] and maildir(r, "M2") == [FULLMD]),
    ("NUL byte in .qmail: temporary failure", {"Maildir/": "", ".qmail": b"./Mai\0ldir/\n"}, {}, 111, "line 1",
     lambda r: maildir(r) == []),
    ("program gets the message unchanged on stdin, in HOME", {".qmail": "|cat > prog.out; pwd > pwd.out\n"}, {}, 0, "1 programs",
     lambda r: readfile(r, "prog.out") == MSG and readfile(r, "pwd.out") == (os.path.realpath(r.home) + "\n").encode()),
    ("program exit 99: delivered, later lines skipped", {"Maildir/": "", ".qmail": "|exit 99\n./Maildir/\n"}, {}, 0, "delivered",
     lambda r: maildir(r) == []),
    ("program exit 100: permanent", {"Maildir/": "", ".qmail": "|echo no such list; exit 100\n./Maildir/\n"}, {}, 100, "no such list",
     lambda r: maildir(r) == [] and "exited with status 100" in r.out),
    ("program exit 111: temporary", {".qmail": "|echo busy; exit 111\n"}, {}, 111, "busy", lambda r: True),
]
for code in (64, 65, 70, 76, 77, 78, 112):
    CASES.append(("program exit %d: permanent" % code, {".qmail": "|exit %d\n" % code}, {}, 100,
                  "exited with status %d" % code, lambda r: True))
for code in (1, 2, 75, 101, 255):
    CASES.append(("program exit %d: temporary" % code, {".qmail": "|exit %d\n" % code}, {}, 111,
                  "exited with status %d" % code, lambda r: True))
CASES += [
    ("program killed by a signal: temporary", {".qmail": "|kill -9 $$\n"}, {}, 111, "signal", lambda r: True),
    ("program output reaches the report", {".qmail": "|echo hello from the program\n"}, {}, 0, "hello from the program",
     lambda r: True),
    ("programs see the qmail-command environment",
     {".qmail-list-default": ENVCMD},
     {"local": "joe-list-a-b", "dash": "-", "ext": "list-a-b", "domain": "mx.lists.example.org"}, 0, "1 programs",
     lambda r: env_lines(r) == [
         "joe-list-a-b@mx.lists.example.org", SENDER, "joe-list-a-b", "mx.lists.example.org",
         "list-a-b", "a-b", "b", "", "mx.lists.example", "mx.lists", "mx", "joe", r.home,
         "Delivered-To: joe-list-a-b@mx.lists.example.org", "", "Return-Path: <alice@sender.example>", "",
         "a-b", os.path.realpath(r.home), ""]),
    ("UFLINE is a From_ line; DEFAULT unset without -default",
     {".qmail": '|printf "%s" "$UFLINE" > uf.out; echo "${DEFAULT-unset}" > d.out\n'}, {}, 0, "",
     lambda r: FROMLINE.match(readfile(r, "uf.out")) is not None and readfile(r, "uf.out").endswith(b"\n")
     and readfile(r, "d.out") == b"unset\n"),
    ("forward with &", {".qmail": "&bob@elsewhere.example\n"}, {}, 0, "1 forwarded",
     lambda r: r.forwards == [(b"F" + SENDER.encode() + b"\0Tbob@elsewhere.example\0\0", DT + MSG)]),
    ("bare address forward", {".qmail": "bob@elsewhere.example\n"}, {}, 0, "1 forwarded",
     lambda r: r.forwards == [(b"F" + SENDER.encode() + b"\0Tbob@elsewhere.example\0\0", DT + MSG)]),
    ("mailing list: every forward in one injection", {".qmail-list": "a@x.example\n&b@y.example\n# c@z.example\nd@w.example\n"},
     {"local": "joe-list", "dash": "-", "ext": "list"}, 0, "3 forwarded",
     lambda r: r.forwards == [(b"F" + SENDER.encode() + b"\0Ta@x.example\0Tb@y.example\0Td@w.example\0\0",
                               dt("joe-list@example.org") + MSG)]),
    ("list with an owner: forwards come from local-owner@domain",
     {".qmail-list": "a@x.example\n", ".qmail-list-owner": "&owner@x.example\n"},
     {"local": "joe-list", "dash": "-", "ext": "list"}, 0, "1 forwarded",
     lambda r: r.forwards == [(b"Fjoe-list-owner@example.org\0Ta@x.example\0\0", dt("joe-list@example.org") + MSG)]),
    ("list owner: programs see NEWSENDER; owner-default too means VERP",
     {".qmail-list": "a@x.example\n|echo \"$NEWSENDER\" > ns.out\n", ".qmail-list-owner": "&owner@x.example\n",
      ".qmail-list-owner-default": "&owner@x.example\n"},
     {"local": "joe-list", "dash": "-", "ext": "list"}, 0, "1 forwarded",
     lambda r: r.forwards[0][0] == b"Fjoe-list-owner-@example.org-@[]\0Ta@x.example\0\0"
     and readfile(r, "ns.out") == b"joe-list-owner-@example.org-@[]\n"),
    ("list owner through a -default file: .qmail-EXT-owner counts",
     {".qmail-default": "a@x.example\n", ".qmail-foo-owner": "&owner@x.example\n"},
     {"local": "joe-foo", "dash": "-", "ext": "foo"}, 0, "1 forwarded",
     lambda r: r.forwards[0][0] == b"Fjoe-foo-owner@example.org\0Ta@x.example\0\0"),
    ("list owner never rewrites the double-bounce sender #@[]",
     {".qmail-list": "a@x.example\n", ".qmail-list-owner": "&owner@x.example\n"},
     {"local": "joe-list", "dash": "-", "ext": "list", "sender": "#@[]"}, 0, "1 forwarded",
     lambda r: r.forwards[0][0] == b"F#@[]\0Ta@x.example\0\0"),
    ("HOST2..4 of a short domain stay as they are",
     {".qmail": ENVCMD}, {"domain": "localhost"}, 0, "1 programs",
     lambda r: env_lines(r)[8:11] == ["localhost"] * 3),
    ("HOST2..4 of example.org", {".qmail": ENVCMD}, {}, 0, "1 programs",
     lambda r: env_lines(r)[8:11] == ["example"] * 3),
    ("EXT and DEFAULT keep their case; the file name does not",
     {".qmail-list-default": ENVCMD}, {"local": "joe-List-Ab", "dash": "-", "ext": "List-Ab"}, 0, "1 programs",
     lambda r: env_lines(r)[4] == "List-Ab" and env_lines(r)[17] == "Ab"),
    ("mbox: >From and >>From lines get one more >", {".qmail": "./mbox\n"},
     {"msg": b"Subject: q\n\nFrom a\n>From b\n>>From c\n>Fro d\n>\n"}, 0, "",
     lambda r: mbox_ok(mbox_bytes(r), msg=b"Subject: q\n\n>From a\n>>From b\n>>>From c\n>Fro d\n>\n")),
    ("list owner never rewrites the null sender",
     {".qmail-list": "a@x.example\n", ".qmail-list-owner": "&owner@x.example\n"},
     {"local": "joe-list", "dash": "-", "ext": "list", "sender": ""}, 0, "",
     lambda r: r.forwards[0][0] == b"F\0Ta@x.example\0\0"),
    ("NEWSENDER is SENDER without an owner file",
     {".qmail-x-default": '|echo "$NEWSENDER" > ns.out\na@x.example\n', ".qmail-x-owner": "&o@x.example\n"},
     {"local": "joe-x-y", "dash": "-", "ext": "x-y"}, 0, "",
     lambda r: readfile(r, "ns.out") == (SENDER + "\n").encode() and r.forwards[0][0].startswith(b"F" + SENDER.encode() + b"\0")),
    ("forward and Maildir together", {"Maildir/": "", ".qmail": "./Maildir/\n&bob@elsewhere.example\n"}, {}, 0, "delivered: 1",
     lambda r: maildir(r) == [FULLMD] and len(r.forwards) == 1),
    ("forward of a bounce keeps the null sender", {".qmail": "&bob@elsewhere.example\n"}, {"sender": ""}, 0, "",
     lambda r: r.forwards == [(b"F\0Tbob@elsewhere.example\0\0", DT + MSG)]),
    ("qmail-queue permanent refusal: permanent", {".qmail": "&bob@elsewhere.example\n"}, {"qq_exit": 31}, 100, "permanently",
     lambda r: True),
    ("qmail-queue trouble: temporary", {".qmail": "&bob@elsewhere.example\n"}, {"qq_exit": 53}, 111, "qmail-queue",
     lambda r: True),
    # a message bigger than a pipe holds: the write fails for certain
    ("queue program exits 0 without reading: temporary", {".qmail": "&bob@elsewhere.example\n"},
     {"qq": "/bin/true", "msg": MSG + (b"x" * 999 + b"\n") * 2048}, 111, "qmail-queue failed", lambda r: True),
    ("queue program refuses (31) without reading: permanent", {".qmail": "&bob@elsewhere.example\n"},
     {"qq": QQ_REFUSE, "msg": MSG + (b"x" * 999 + b"\n") * 2048}, 100, "permanently", lambda r: True),
    ("queue program killed by a signal: temporary, the signal named", {".qmail": "&bob@elsewhere.example\n"},
     {"qq": QQ_KILLED}, 111, "unable to forward the message: qmail-queue was killed by signal 9; will try again",
     lambda r: True),
    ("failure after a forward line: nothing forwarded", {".qmail": "&bob@elsewhere.example\n|exit 111\n"}, {}, 111, "",
     lambda r: r.forwards == []),
    ("exit 99 after a forward line: the forward still goes", {".qmail": "&bob@elsewhere.example\n|exit 99\n&no@where.example\n"}, {}, 0, "",
     lambda r: len(r.forwards) == 1 and r.forwards[0][0].endswith(b"\0Tbob@elsewhere.example\0\0")),
    ("loop: our Delivered-To already there", {"Maildir/": ""}, {"msg": b"Delivered-To: joe@example.org\n" + MSG}, 100, "looping",
     lambda r: maildir(r) == []),
    ("loop detection ignores case and blanks", {"Maildir/": ""}, {"msg": b"DELIVERED-TO:   Joe@Example.ORG \n" + MSG}, 100, "#5.4.6",
     lambda r: maildir(r) == []),
    ("another Delivered-To is no loop", {"Maildir/": ""}, {"msg": b"Delivered-To: someone@example.org\n" + MSG}, 0, "",
     lambda r: maildir(r) == [RP + DT + b"Delivered-To: someone@example.org\n" + MSG]),
    ("Delivered-To in the body is no loop", {"Maildir/": ""}, {"msg": MSG + b"Delivered-To: joe@example.org\n"}, 0, "",
     lambda r: len(maildir(r)) == 1),
    ("extension: exact .qmail-ext", {"M/": "", ".qmail-foo": "./M/\n", ".qmail-default": "|exit 100\n"},
     {"local": "joe-foo", "dash": "-", "ext": "foo"}, 0, "",
     lambda r: maildir(r, "M") == [RP + dt("joe-foo@example.org") + MSG]),
    ("extension: .qmail-foo-default, DEFAULT set", {".qmail-foo-default": '|echo "$DEFAULT" > d.out\n'},
     {"local": "joe-foo-bar", "dash": "-", "ext": "foo-bar"}, 0, "",
     lambda r: readfile(r, "d.out") == b"bar\n"),
    ("extension: .qmail-default catches the rest", {".qmail-default": '|echo "$DEFAULT" > d.out\n'},
     {"local": "joe-x-y", "dash": "-", "ext": "x-y"}, 0, "",
     lambda r: readfile(r, "d.out") == b"x-y\n"),
    ("extension: dash by dash, longest first",
     {".qmail-a-b-default": '|echo ab "$DEFAULT" > d.out\n', ".qmail-a-default": "|exit 100\n", ".qmail-default": "|exit 100\n"},
     {"local": "joe-a-b-c-d", "dash": "-", "ext": "a-b-c-d"}, 0, "",
     lambda r: readfile(r, "d.out") == b"ab c-d\n"),
    ("extension: .qmail-a-default when .qmail-a-b-default is missing",
     {".qmail-a-default": '|echo a "$DEFAULT" > d.out\n', ".qmail-default": "|exit 100\n"},
     {"local": "joe-a-b-c", "dash": "-", "ext": "a-b-c"}, 0, "",
     lambda r: readfile(r, "d.out") == b"a b-c\n"),
    ("extension without any file: no such mailbox", {"Maildir/": "", ".qmail": "./Maildir/\n"},
     {"local": "joe-nope", "dash": "-", "ext": "nope"}, 100, "#5.1.1", lambda r: maildir(r) == []),
    ("extension is case-insensitive", {"M/": "", ".qmail-foo": "./M/\n"},
     {"local": "joe-FoO", "dash": "-", "ext": "FoO"}, 0, "", lambda r: len(maildir(r, "M")) == 1),
    ("extension dots become colons", {"M/": "", ".qmail-a:b": "./M/\n"},
     {"local": "joe-a.b", "dash": "-", "ext": "a.b"}, 0, "", lambda r: len(maildir(r, "M")) == 1),
    ("extension with a slash: no such mailbox", {"M/": "", ".qmail-default": "./M/\n"},
     {"local": "joe-a/b", "dash": "-", "ext": "a/b"}, 100, "#5.1.1", lambda r: maildir(r, "M") == []),
    ("extension with a leading dash: .qmail--default before .qmail-default",
     {".qmail--default": '|echo "$DEFAULT" > d.out\n', ".qmail-default": "|exit 100\n"},
     {"local": "joe--x", "dash": "-", "ext": "-x"}, 0, "", lambda r: readfile(r, "d.out") == b"x\n"),
    ("extension too long for a file name: no such file, .qmail-default",
     {".qmail-default": '|echo "$DEFAULT" > d.out\n'},
     {"local": "joe-" + "x" * 300, "dash": "-", "ext": "x" * 300}, 0, "",
     lambda r: readfile(r, "d.out") == b"x" * 300 + b"\n"),
    ("dash without extension: .qmail-, then .qmail-default", {"Maildir/": "", ".qmail-default": "|exit 100\n"},
     {"local": "joe-", "dash": "-", "ext": ""}, 100, "exited with status 100", lambda r: maildir(r) == []),
    ("dash without extension: .qmail- first", {"Maildir/": "", ".qmail-": "./Maildir/\n", ".qmail-default": "|exit 100\n"},
     {"local": "joe-", "dash": "-", "ext": ""}, 0, "", lambda r: maildir(r) == [RP + dt("joe-@example.org") + MSG]),
    ("dash without extension and no file: bounce", {"Maildir/": ""},
     {"local": "joe-", "dash": "-", "ext": ""}, 100, "no mailbox here", lambda r: maildir(r) == []),
    ("empty dash: a missing .qmailEXT means defaultdelivery, no -default",
     {"Maildir/": "", ".qmail-default": "|exit 100\n"},
     {"local": "joe.shmoe", "dash": "", "ext": "foo"}, 0, "delivered: 1",
     lambda r: maildir(r) == [RP + dt("joe.shmoe@example.org") + MSG]),
    ("empty dash: .qmailEXT is used", {"M2/": "", ".qmailfoo": "./M2/\n"},
     {"local": "joe.shmoe", "dash": "", "ext": "foo"}, 0, "delivered: 1",
     lambda r: len(maildir(r, "M2")) == 1),
    ("empty .qmail-ext: defaultdelivery", {"Maildir/": "", ".qmail-foo": ""},
     {"local": "joe-foo", "dash": "-", "ext": "foo"}, 0, "", lambda r: len(maildir(r)) == 1),
    ("group-writable .qmail: temporary", {"Maildir/": "", ".qmail": ("./Maildir/\n", 0o664)}, {}, 111, "writable",
     lambda r: maildir(r) == []),
    ("world-writable .qmail: temporary", {"Maildir/": "", ".qmail": ("./Maildir/\n", 0o646)}, {}, 111, "writable",
     lambda r: maildir(r) == []),
    (".qmail that is a directory: temporary", {"Maildir/": "", ".qmail/": ""}, {}, 111, "regular file",
     lambda r: maildir(r) == []),
    ("executable .qmail may only forward", {"Maildir/": "", ".qmail": ("./Maildir/\n", 0o755)}, {}, 111, "execute bit",
     lambda r: maildir(r) == []),
    ("executable .qmail with forwards works", {".qmail": ("&bob@elsewhere.example\n", 0o755)}, {}, 0, "1 forwarded",
     lambda r: len(r.forwards) == 1),
    ("missing Maildir: temporary, nothing lost", {".qmail": "./Maildir/\n"}, {}, 111, "unable to deliver to Maildir",
     lambda r: True),
    (".forward when there is no .qmail",
     {".forward": '# comment\nbob@elsewhere.example, carol@elsewhere.example\n"|cat > fwd.out"\n/HOMEDIR/fmbox\n'}, {}, 0, "2 forwarded",
     lambda r: r.forwards == [(b"F" + SENDER.encode() + b"\0Tbob@elsewhere.example\0Tcarol@elsewhere.example\0\0", DT + MSG)]
     and readfile(r, "fwd.out") == MSG and mbox_ok(readfile(r, "fmbox"))),
    (".forward \\user delivers here", {"Maildir/": "", ".forward": "\\joe, bob@elsewhere.example\n"}, {}, 0, "",
     lambda r: maildir(r) == [FULLMD] and len(r.forwards) == 1),
    (".forward of one blank line turns forwarding off: defaultdelivery", {"Maildir/": "", ".forward": "\n"}, {}, 0,
     "delivered: 1", lambda r: maildir(r) == [FULLMD] and r.forwards == []),
    (".forward of blanks and a comment: defaultdelivery", {"Maildir/": "", ".forward": "  \t\n# no forwarding now\n , \n"},
     {}, 0, "delivered: 1", lambda r: maildir(r) == [FULLMD] and r.forwards == []),
    (".forward \\otheruser forwards to that user in the recipient's domain",
     {"Maildir/": "", ".forward": "\\bob\n"}, {}, 0, "0 to mailboxes, 1 forwarded",
     lambda r: maildir(r) == [] and r.forwards == [(b"F" + SENDER.encode() + b"\0Tbob@example.org\0\0", DT + MSG)]),
    (".forward \\Joe.Smith, the local name in another case, is the own mailbox",
     {"Maildir/": "", ".forward": "\\joe.smith, \\bob@elsewhere.example\n"}, {"local": "Joe.Smith"}, 0, "1 to mailboxes, 1 forwarded",
     lambda r: maildir(r) == [RP + dt("Joe.Smith@example.org") + MSG]
     and r.forwards == [(b"F" + SENDER.encode() + b"\0Tbob@elsewhere.example\0\0", dt("Joe.Smith@example.org") + MSG)]),
    (".forward naming the user himself keeps a copy: no forward to himself",
     {"Maildir/": "", ".forward": "joe@example.org, bob@elsewhere.example\n"}, {}, 0, "1 to mailboxes, 1 forwarded",
     lambda r: maildir(r) == [FULLMD] and r.forwards == [(b"F" + SENDER.encode() + b"\0Tbob@elsewhere.example\0\0", DT + MSG)]),
    (".forward naming the user three ways, case ignored: one copy",
     {"Maildir/": "", ".forward": "JOE\nJoe@Example.ORG, \\joe\n"}, {}, 0, "1 to mailboxes, 0 forwarded",
     lambda r: maildir(r) == [FULLMD] and r.forwards == []),
    (".forward: the user's name in another domain is a forward",
     {"Maildir/": "", ".forward": "joe@elsewhere.example\n"}, {}, 0, "1 forwarded",
     lambda r: maildir(r) == [] and r.forwards == [(b"F" + SENDER.encode() + b"\0Tjoe@elsewhere.example\0\0", DT + MSG)]),
    (".forward: phrase <address>, address (comment), quoted phrase with a comma",
     {"Maildir/": "", ".forward": 'Joe Smith <joe@elsewhere.example>\nbob@x.example (Bob)\n"Doe, Ann" <ann@y.example>, carol@z.example\n'},
     {}, 0, "4 forwarded",
     lambda r: maildir(r) == [] and r.forwards == [(b"F" + SENDER.encode() + b"\0Tjoe@elsewhere.example\0Tbob@x.example\0"
                                                     b"Tann@y.example\0Tcarol@z.example\0\0", DT + MSG)]),
    (".forward: an unqualified name gets the recipient's domain",
     {".forward": "bob, carol@x.example\n"}, {}, 0, "2 forwarded",
     lambda r: r.forwards == [(b"F" + SENDER.encode() + b"\0Tbob@example.org\0Tcarol@x.example\0\0", DT + MSG)]),
    (".forward: an entry that is no address: temporary failure naming the line, nothing done",
     {"Maildir/": "", ".forward": "\\joe\nbob@x.example\nJoe <joe@x.example> Smith, ann@y.example\n"}, {}, 111,
     ".forward line 3: not an address: Joe <joe@x.example> Smith; fix the file",
     lambda r: maildir(r) == [] and r.forwards == []),
    (".forward: a < left open: temporary failure naming the line",
     {"Maildir/": "", ".forward": "# c\nJoe <joe@x.example\n"}, {}, 111, ".forward line 2: unusable entry",
     lambda r: maildir(r) == [] and r.forwards == []),
    (".forward :include: /file (a blank after the colon) is followed, the file left alone",
     {"Maildir/": "", ".forward": ":include: HOMEDIR/inc/list\n",
      "inc/list": "# the list\ncarol@x.example, \\joe\n|cat > inc.out\n"}, {}, 0, "1 to mailboxes, 1 forwarded, 1 programs",
     lambda r: maildir(r) == [FULLMD] and readfile(r, "inc.out") == MSG
     and readfile(r, "inc/list") == b"# the list\ncarol@x.example, \\joe\n|cat > inc.out\n"
     and r.forwards == [(b"F" + SENDER.encode() + b"\0Tcarol@x.example\0\0", DT + MSG)]),
    (".forward :include:/file: its forwards go out with the .forward's",
     {".forward": "a@x.example, :include:HOMEDIR/list, \"/HOMEDIR/mb\"\n", "list": "b@y.example\nJoe <joe@example.org>\n"},
     {"default": "./fmbox"}, 0, "2 to mailboxes, 2 forwarded",
     lambda r: r.forwards == [(b"F" + SENDER.encode() + b"\0Ta@x.example\0Tb@y.example\0\0", DT + MSG)]
     and mbox_ok(readfile(r, "fmbox")) and mbox_ok(readfile(r, "mb"))),
    (".forward :include: nested 5 deep",
     {".forward": ":include:HOMEDIR/i1\n", "i1": ":include:HOMEDIR/i2\n", "i2": ":include:HOMEDIR/i3\n",
      "i3": ":include:HOMEDIR/i4\n", "i4": ":include:HOMEDIR/i5\n", "i5": "deep@x.example\n"}, {}, 0, "1 forwarded",
     lambda r: r.forwards == [(b"F" + SENDER.encode() + b"\0Tdeep@x.example\0\0", DT + MSG)]),
    (".forward :include: nested 6 deep: temporary failure",
     {".forward": ":include:HOMEDIR/i1\n", "i1": ":include:HOMEDIR/i2\n", "i2": ":include:HOMEDIR/i3\n",
      "i3": ":include:HOMEDIR/i4\n", "i4": ":include:HOMEDIR/i5\n", "i5": ":include:HOMEDIR/i6\n", "i6": "deep@x.example\n"},
     {}, 111, "i5 line 1: :include: files nested more than 5 deep", lambda r: r.forwards == []),
    (".forward :include: of itself: temporary failure, not a loop",
     {"Maildir/": "", ".forward": "\\joe, :include:HOMEDIR/.forward\n"}, {}, 111, "nested more than 5 deep",
     lambda r: r.forwards == []),
    (".forward :include: of a missing file: temporary failure naming it",
     {"Maildir/": "", ".forward": ":include:HOMEDIR/nolist\n"}, {}, 111, "unable to open include file ",
     lambda r: "/nolist: no such file or directory" in r.out and maildir(r) == [] and r.forwards == []),
    (".forward :include: of a group-writable file: temporary failure",
     {"Maildir/": "", ".forward": ":include:HOMEDIR/list\n", "list": ("|touch ran\n", 0o664)}, {}, 111,
     "/list is group- or world-writable", lambda r: readfile(r, "ran") is None and maildir(r) == []),
    (".forward :include: of a world-writable file: temporary failure",
     {"Maildir/": "", ".forward": ":include:HOMEDIR/list\n", "list": ("|touch ran\n", 0o646)}, {}, 111,
     "/list is group- or world-writable", lambda r: readfile(r, "ran") is None and maildir(r) == []),
    (".forward :include: of a directory: temporary failure",
     {"Maildir/": "", ".forward": ":include:HOMEDIR/Maildir\n"}, {}, 111, "Maildir is not a regular file",
     lambda r: maildir(r) == []),
    (".forward :include: of a relative path: temporary failure",
     {"Maildir/": "", "list": "bob@x.example\n", ".forward": ":include:list\n"}, {}, 111,
     ".forward line 1: an :include: file needs an absolute path: list", lambda r: maildir(r) == [] and r.forwards == []),
    (".forward :include: of an empty file gives nothing: defaultdelivery",
     {"Maildir/": "", "list": "# nobody yet\n", ".forward": ":include:HOMEDIR/list\n"}, {}, 0, "1 to mailboxes",
     lambda r: maildir(r) == [FULLMD] and r.forwards == []),
    (".forward error inside an :include: file names that file",
     {"Maildir/": "", "list": "ok@x.example\n(Nobody)\n", ".forward": "\"|touch ran\", :include:HOMEDIR/list\n"}, {}, 111,
     "/list line 2: not an address: (Nobody)", lambda r: readfile(r, "ran") is None and maildir(r) == [] and r.forwards == []),
    ("-n shows a .forward as it would be followed",
     {"Maildir/": "", "list": "carol\n", ".forward": "Joe Smith <js@x.example>, bob, \\joe, joe, :include:HOMEDIR/list\n"},
     {"opts": ["-n"]}, 0, "&js@x.example\n&bob@example.org\n./Maildir/\n&carol@example.org\n",
     lambda r: maildir(r) == [] and r.forwards == []),
    (".forward ignored when .qmail exists", {"Maildir/": "", ".qmail": "./Maildir/\n", ".forward": "bob@elsewhere.example\n"}, {}, 0, "",
     lambda r: maildir(r) == [FULLMD] and r.forwards == []),
    ("multi-line defaultdelivery", {"Maildir/": ""}, {"default": "./Maildir/\n./mbox"}, 0, "delivered: 2",
     lambda r: maildir(r) == [FULLMD] and mbox_ok(mbox_bytes(r))),
    ("message on a pipe is read once and delivered twice", {"Maildir/": "", ".qmail": "./Maildir/\n|cat > prog.out\n"}, {"pipe": True}, 0, "",
     lambda r: maildir(r) == [FULLMD] and readfile(r, "prog.out") == MSG),
    ("message on a pipe, $TMPDIR missing: the copy is made in /tmp",
     {"Maildir/": "", ".qmail": "./Maildir/\n|cat > prog.out\n"},
     {"pipe": True, "env_extra": {"TMPDIR": "/nonexistent/tmp"}}, 0, "",
     lambda r: maildir(r) == [FULLMD] and readfile(r, "prog.out") == MSG),
    ("-n prints the instructions and delivers nothing",
     {"Maildir/": "", ".qmail": "# c\n./Maildir/\n|prog arg\nbob@x.example\n&carol@y.example\n/var/mail/joe\n"},
     {"opts": ["-n"]}, 0, "./Maildir/\n|prog arg\n&bob@x.example\n&carol@y.example\n/var/mail/joe\n",
     lambda r: maildir(r) == [] and r.forwards == []),
    ("-n shows the defaultdelivery", {}, {"opts": ["-n"], "default": "./Maildir/"}, 0, "./Maildir/\n", lambda r: True),
    ("usage error: permanent", {}, {"opts": ["-x"]}, 100, "usage", lambda r: True),
]


def program_output_reads():
    """A program's output is read in pieces of a normal buffer's size: 64
    KiB of it takes a few reads, not one per 512 bytes."""
    import shutil
    strace = shutil.which("strace")
    if not strace:
        t.skip("needs strace", 1)
        return
    home = setup({".qmail": "|head -c 65536 /dev/zero | tr '\\0' x\n"})
    log = os.path.join(t.tmpdir("ql-strace."), "log")
    r = run(home, wrap=[strace, "-qq", "-e", "trace=read", "-o", log])
    reads = open(log).read().count("read(") if os.path.exists(log) else 0
    t.ok(r.rc == 0 and "xxxx" in r.out and 0 < reads < 64,
         "64 KiB of a program's output read in %d reads (exit %d)" % (reads, r.rc))


def relative_home_case():
    """qmail-local(8): homedir is an absolute path; anything else is a
    usage error, permanent, and nothing is looked at."""
    r = run("relative/home")
    t.ok(r.rc == 100 and "relative/home is not an absolute path" in r.out,
         "relative homedir: usage error, 100: %r" % r.out)



def sticky_case():
    home = setup({"Maildir/": ""})
    os.chmod(home, 0o755 | stat.S_ISVTX)
    r = run(home)
    t.is_(r.rc, 111, "sticky home directory: temporary failure")
    t.ok("sticky" in r.out and maildir(r) == [], "sticky: report says so, nothing delivered")
    r = run(home, opts=["-n"])
    t.ok(r.rc == 0 and r.out.startswith("warning: home directory is sticky") and r.out.endswith("./Maildir/\n"),
         "sticky with -n: a warning, then the instructions, to test an edit")
    for mode in (0o775, 0o757):
        os.chmod(home, mode)
        r = run(home)
        t.ok(r.rc == 111 and "writable" in r.out and maildir(r) == [],
             "home directory mode %o: temporary failure, nothing delivered" % mode)
    os.chmod(home, 0o755)
    r = run(home)
    t.ok(r.rc == 0 and len(maildir(r)) == 1, "bit cleared: delivered")


def mbox_lock_case():
    """An mbox another program keeps locked: deferred after 30 s, unchanged."""
    import fcntl
    import time
    home = setup({".qmail": "./mbox\n", "mbox": ""})
    with open(os.path.join(home, "mbox"), "r+b") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        t0 = time.time()
        r = run(home, timeout=60)
        took = time.time() - t0
    t.ok(r.rc == 111 and "locked" in r.out and 29 <= took < 45,
         "mbox locked by another program: temporary failure after %.0f s (%r)" % (took, r.out))
    t.is_(mbox_bytes(r), b"", "and the mbox is unchanged")


def unreadable_case():
    """As an ordinary uid: an unreadable .qmail is a temporary failure."""
    import shutil
    setpriv = shutil.which("setpriv")
    if os.getuid() != 0 or not setpriv:
        t.skip("needs root and setpriv to act as another uid", 2)
        return
    home = setup({"Maildir/": "", ".qmail": ("./Maildir/\n", 0o600)})
    if not t.traversable(QL) or not t.traversable(home):
        t.skip("uid 65534 cannot reach the test tree (a parent directory is not searchable by others)", 2)
        return
    for root, dirs, files in os.walk(home):
        for n in dirs + files:
            os.chown(os.path.join(root, n), 65534, 65534)
    os.chown(home, 65534, 65534)
    os.chown(os.path.join(home, ".qmail"), 0, 0)
    mf = os.path.join(t.tmpdir("ql-msg."), "m")
    t.write(mf, MSG)
    argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", QL,
            "nobody", home, "joe", "", "", "example.org", SENDER, "./Maildir/"]
    with open(mf, "rb") as f:
        p = subprocess.run(argv, stdin=f, capture_output=True, timeout=30)
    t.ok(p.returncode == 111 and b"unable to open .qmail: permission denied" in p.stdout,
         "unreadable .qmail: temporary failure: %r" % p.stdout)
    os.chown(os.path.join(home, ".qmail"), 65534, 65534)
    with open(mf, "rb") as f:
        p = subprocess.run(argv, stdin=f, capture_output=True, timeout=30)
    t.ok(p.returncode == 0 and len(os.listdir(os.path.join(home, "Maildir", "new"))) == 1,
         "readable again: delivered as that uid: %r" % p.stdout)


def include_owner_case():
    """An :include: file another user owns could make the recipient run
    its commands: a temporary failure; the recipient's or root's works."""
    if os.getuid() != 0:
        t.skip("needs root to give a file to another uid", 2)
        return
    home = setup({"Maildir/": ""})
    lst = os.path.join(home, "list")
    t.write(lst, b"|touch ran\nbob@x.example\n", 0o644)
    t.write(os.path.join(home, ".forward"), (":include:" + lst + "\n").encode(), 0o644)
    os.chown(lst, 65534, 65534)
    r = run(home)
    t.ok(r.rc == 111 and "include file " + lst + " belongs to another user" in r.out
         and readfile(r, "ran") is None and r.forwards == [] and maildir(r) == [],
         ":include: file of another uid: temporary failure, nothing run: %r" % r.out)
    os.chown(lst, 0, 0)
    r = run(home)
    t.ok(r.rc == 0 and readfile(r, "ran") == b"" and len(r.forwards) == 1,
         ":include: file of root (the user here): followed: %r" % r.out)


def maildir_names():
    home = setup({"Maildir/": ""})
    for _ in range(5):
        run(home)
    names = os.listdir(os.path.join(home, "Maildir", "new"))
    pat = re.compile(r"^\d+\.M\d+P\d+(Q\d+)?\.[^/:]+$")
    t.ok(len(names) == 5 and all(pat.match(n) for n in names), "Maildir names are unique time.MusecPpid.host: %r" % names)
    md = mailbox.Maildir(os.path.join(home, "Maildir"), factory=None, create=False)
    t.ok(all(m["Subject"] == "test message" and m["Return-Path"] == "<alice@sender.example>"
             and m["Delivered-To"] == "joe@example.org" for m in md), "every Maildir message parses")


def real_queue():
    """One forward through the real bin/qmail-queue into the scratch queue."""
    qq = os.path.join(t.BIN, "qmail-queue")
    if not os.access(qq, os.X_OK):
        t.skip("bin/qmail-queue not installed", 2)
        return
    before = set(t.queue_files("todo"))
    home = setup({".qmail": "&bob@elsewhere.example\n"})
    env = dict(os.environ)
    env.pop("QMAILQUEUE", None)
    mf = os.path.join(home, "msgfile")
    t.write(mf, MSG)
    with open(mf, "rb") as f:
        p = subprocess.run([QL, "joe", home, "joe", "", "", "example.org", SENDER, "./Maildir/"],
                           stdin=f, capture_output=True, env=env, timeout=30)
    new = [f for f in t.queue_files("todo") if f not in before]
    t.ok(p.returncode == 0 and len(new) == 1, "forward through bin/qmail-queue: %r" % p.stdout)
    ok = False
    if new:
        envl = open(new[0], "rb").read()
        mess = new[0].replace(os.sep + "todo" + os.sep, os.sep + "mess" + os.sep)
        body = open(mess, "rb").read() if os.path.exists(mess) else b""
        ok = envl.endswith(b"F" + SENDER.encode() + b"\0Tbob@elsewhere.example\0") and body.endswith(DT + MSG)
    t.ok(ok, "queued envelope and message are the forward")
    t.clear_queue()


def group_left(pgid):
    """Processes, zombies aside, still in process group PGID."""
    left = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                left.append(int(d))
    return left


def program_timeout():
    """control/timeoutcommand: a program past it is killed with what it
    started, and the delivery is deferred; a quick one is unaffected."""
    import time
    t.control("timeoutcommand", "2\n")
    try:
        cases = (
            ("a program that never ends", "|echo $$ > pgid; echo started; sleep 60\n"),
            ("a program that closes its output and sleeps",
             "|echo $$ > pgid; exec >/dev/null 2>&1; sleep 60\n"),
            ("a program whose background child keeps the output open",
             "|echo $$ > pgid; sleep 60 & exit 0\n"),
            # started late in a second, its output closed early in the
            # next: a limit counted in whole clock seconds waits 1 s
            ("a program that closes its output as a second turns",
             "|echo $$ > pgid; sleep 0.1; exec >/dev/null 2>&1; sleep 60\n"),
        )
        for name, line in cases:
            home = setup({"Maildir/": "", ".qmail": line + "./Maildir/\n"})
            if "second turns" in name:
                while time.time() % 1 < 0.95:
                    time.sleep(0.01)
            t0 = time.time()
            r = run(home)
            took = time.time() - t0
            ok = (r.rc == 111 and "ran longer than 2 seconds" in r.out and "will try again" in r.out
                  and 1.5 < took < 10 and maildir(r) == [])
            if not t.ok(ok, "%s: killed after 2 s, delivery deferred (%.1f s)" % (name, took)):
                t.diag("exit %d, stdout %r" % (r.rc, r.out))
            pgid = int(open(os.path.join(home, "pgid")).read())
            # killed, they still take a moment to end on a busy machine;
            # one that was not killed lives on for 60 s
            t.wait_until(lambda: not group_left(pgid), 20)
            t.is_(group_left(pgid), [], "%s: nothing it started is left" % name)
        home = setup({"Maildir/": "", ".qmail": "|echo quick\n./Maildir/\n"})
        r = run(home)
        t.ok(r.rc == 0 and "quick" in r.out and len(maildir(r)) == 1,
             "a program within the limit delivers as before")
        t.control("timeoutcommand", "junk\n")
        r = run(home)
        t.ok(r.rc == 111 and "timeoutcommand" in r.out and len(maildir(r)) == 1,
             "a junk control/timeoutcommand: temporary failure: %r" % r.out)
        t.control("timeoutcommand", "0\n")
        home = setup({"Maildir/": "", ".qmail": "|sleep 3; echo slow\n./Maildir/\n"})
        r = run(home)
        t.ok(r.rc == 0 and "slow" in r.out and len(maildir(r)) == 1, "0: no limit")
    finally:
        t.control("timeoutcommand", None)


def new_mbox_durable():
    """A new mbox: its directory is fsynced after the file, so the name
    survives a crash as the message does (seen through strace)."""
    import shutil
    if not shutil.which("strace"):
        t.skip("no strace")
        return
    home = setup({".qmail": "./newbox\n"})
    log = os.path.join(home, "strace.out")
    ql = globals()["QL"]
    try:
        globals()["QL"] = "strace"
        r = run(home, opts=("-f", "-qq", "-e", "trace=open,openat,fsync", "-o", log, ql))
    finally:
        globals()["QL"] = ql
    calls = open(log).read() if os.path.exists(log) else ""
    box = re.search(r'open(?:at)?\((?:AT_FDCWD, )?"\./newbox", [^)]*O_CREAT[^)]*\) = (\d+)', calls)
    dirs = re.findall(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]*)", [^)]*O_DIRECTORY[^)]*\) = (\d+)\n(?:\d+ +)?fsync\(\2\) += 0',
                      calls[box.end():] if box else "")
    t.ok(r.rc == 0 and box and any(d in (".", home) for d, _ in dirs),
         "a new mbox: its directory fsynced after the file (%r)" % (dirs,))


def can_inject():
    """strace runs here and can make a system call fail"""
    try:
        plain = subprocess.run(["strace", "-qq", "-o", os.devnull, "-e", "trace=none", "true"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        hurt = subprocess.run(["strace", "-qq", "-o", os.devnull, "-e", "trace=write", "-e",
                               "inject=write:error=ENOSPC", "sh", "-c", "echo x"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    except OSError:
        return False
    return plain == 0 and hurt != 0


def run_strace(home, args, **kw):
    """run, with qmail-local under strace ARGS"""
    ql = globals()["QL"]
    try:
        globals()["QL"] = "strace"
        return run(home, opts=["-qq"] + list(args) + [ql], **kw)
    finally:
        globals()["QL"] = ql


def dir_synced(calls, box):
    """the directories opened and fsynced after box was opened, in an
    strace log of openat and fsync"""
    m = re.search(r'open(?:at)?\((?:AT_FDCWD, )?"%s", [^)]*\) = (\d+)' % re.escape(box), calls)
    return [d for d, _ in re.findall(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]*)", [^)]*O_DIRECTORY[^)]*\) = (\d+)\n'
                                     r'(?:\d+ +)?fsync\(\2\) += 0', calls[m.end():] if m else "")]


def mbox_dirsync_retry():
    """The directory sync of a new mbox fails: a temporary failure, the
    message stays in the file, and the retry, which appends to a file
    that is no longer empty, still syncs the directory before it says
    delivered."""
    if not can_inject():
        t.skip("strace cannot inject faults here", 3)
        return
    home = setup({".qmail": "./newbox\n"})
    log = os.path.join(home, "strace.out")
    # fsync 1 is the file's, 2 its directory's
    r = run_strace(home, ["-e", "trace=open,openat,fsync", "-e", "inject=fsync:error=EIO:when=2", "-o", log])
    t.ok(r.rc == 111 and "unable to sync the directory of mbox ./newbox" in r.out and
         mbox_ok(mbox_bytes(r, "newbox")), "mbox directory sync fails: 111, message left in the file: %r" % r.out)
    r = run_strace(home, ["-e", "trace=open,openat,fsync", "-o", log])
    calls = open(log).read() if os.path.exists(log) else ""
    t.ok(r.rc == 0 and mbox_ok(mbox_bytes(r, "newbox"), 2), "the retry delivers: %r" % r.out)
    t.ok(any(d in (".", home) for d in dir_synced(calls, "./newbox")),
         "and syncs the directory though the file was not empty: %r" % dir_synced(calls, "./newbox"))


def mbox_cutback_fails():
    """An mbox append fails (ENOSPC at the third write, a partial
    message already in the file) and cutting it back fails too (EIO): a
    temporary failure that names the byte where the damage starts; the
    retry's From_ line still starts a line, so a reader sees the message
    whole."""
    if not can_inject():
        t.skip("strace cannot inject faults here", 4)
        return
    old = b"From x@y Thu Jan  1 00:00:00 1970\nSubject: old\n\nold body\n\n"
    lines = b"".join(b"line %d abcdefghijklmnopqrstuvwxyz\n" % i for i in range(800))
    home = setup({".qmail": "./mbox\n", "mbox": old})
    r = run_strace(home, ["-e", "trace=write,ftruncate", "-e", "inject=write:error=ENOSPC:when=3",
                          "-e", "inject=ftruncate:error=EIO", "-o", os.devnull], msg=MSG + lines)
    t.ok(r.rc == 111 and re.search(r"unable to cut it back: (input/output|i/o) error", r.out, re.I) and
         "left damaged at byte %d," % len(old) in r.out,
         "write and cut-back fail: 111, the report names the byte: %r" % r.out)
    data = mbox_bytes(r)
    t.ok(data.startswith(old) and len(data) == len(old) + 2 * 8192 and not data.endswith(b"\n"),
         "a partial message with an open last line is left (%d bytes)" % len(data))
    r = run(home, msg=MSG + lines)
    data2 = mbox_bytes(r)
    froms = [m.start() for m in re.finditer(rb"^From ", data2, re.M)]
    t.ok(r.rc == 0 and data2.startswith(data + b"\n") and len(froms) == 3 and
         mbox_ok(data2[froms[-1]:], msg=QUOTED + lines),
         "the retry begins with a newline: its From_ line starts a line, the message whole")
    r = run(home, msg=MSG)
    data3 = mbox_bytes(r)
    t.ok(r.rc == 0 and data3.startswith(data2) and mbox_ok(data3[len(data2):]),
         "a file that ends with a newline gets none added")


def full_maildir():
    """A Maildir on a full file system (a 64 KB tmpfs): a temporary failure
    that leaves nothing behind, then delivery once there is room."""
    home = setup({})
    mnt = os.path.join(home, "Maildir")
    os.makedirs(mnt)
    why = t.mount_small(mnt, "64k")
    if why:
        t.skip("full file system: " + why, 4)
        return
    try:
        for sub in ("tmp", "new", "cur"):
            os.mkdir(os.path.join(mnt, sub))
        filler = os.path.join(mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while os.write(fd, b"x" * 4096) > 0:
                pass
        except OSError:
            pass
        os.close(fd)
        r = run(home)
        left = os.listdir(os.path.join(mnt, "tmp")) + os.listdir(os.path.join(mnt, "new"))
        t.ok(r.rc == 111 and "no space left on device" in r.out.lower(),
             "Maildir on a full file system: temporary failure: %r" % r.out)
        t.is_(left, [], "and no partial file is left in tmp/ or new/")
        os.unlink(filler)
        r = run(home)
        t.is_(r.rc, 0, "room again: delivered")
        got = maildir(r)
        t.ok(got is not None and len(got) == 1 and got[0].endswith(MSG), "the one message is whole")
    finally:
        t.umount_small(mnt)


def closed_fds_forward():
    """Started with descriptors 1 and 2 closed, a forward's pipes to the
    queue program must not land there: the queue program would hold its
    own message pipe open as its stderr and wait for ever."""
    home = setup({".qmail": "&bob@elsewhere.example\n"})
    rec = t.tmpdir("ql-rec.")
    env = dict(os.environ, QMAILQUEUE=RECORDER, QQ_RECORD=rec)
    env.pop("QQ_EXIT", None)
    mf = os.path.join(rec, "input")
    t.write(mf, MSG)
    with open(mf, "rb") as f:
        p = subprocess.Popen([QL, "joe", home, "joe", "", "", "example.org", SENDER, "./Maildir/"],
                             stdin=f, env=env, start_new_session=True,
                             preexec_fn=lambda: (os.close(1), os.close(2)))
        try:
            rc = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            rc = None
    envl = os.path.join(rec, "0.env")
    t.ok(rc == 0 and os.path.exists(envl) and
         open(envl, "rb").read() == b"F" + SENDER.encode() + b"\0Tbob@elsewhere.example\0\0",
         "descriptors 1 and 2 closed: the forward is queued, no hang (exit %r)" % (rc,))


def main():
    for name, files, args, rc, text, check in CASES:
        files = dict(files)
        if files.get(".qmail", "") is None:
            files[".qmail"] = "HOMEDIR/abs/box/\n"
        home = setup({k: v for k, v in files.items()})
        for f in files:
            p = os.path.join(home, f)
            if os.path.isfile(p) and not os.path.islink(p):
                data = open(p, "rb").read().replace(b"HOMEDIR", home.encode())
                mode = os.stat(p).st_mode & 0o7777
                with open(p, "wb") as fh:
                    fh.write(data)
                os.chmod(p, mode)
        r = run(home, **args)
        good = r.rc == rc and text in r.out
        try:
            good = good and check(r)
        except Exception as e:  # a check that cannot read what it wants is a failure
            t.diag("check raised %r" % (e,))
            good = False
        if not t.ok(good, name):
            t.diag("exit %d (want %d), stdout %r, stderr %r" % (r.rc, rc, r.out, r.err))
    relative_home_case()
    program_output_reads()
    sticky_case()
    mbox_lock_case()
    unreadable_case()
    include_owner_case()
    maildir_names()
    real_queue()
    program_timeout()
    full_maildir()
    new_mbox_durable()
    mbox_dirsync_retry()
    mbox_cutback_fails()
    closed_fds_forward()
    t.done()


main()
