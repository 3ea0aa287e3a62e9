#!/usr/bin/python3
# lib-date822.t - date822_fmt checked against python's RFC 5322 parser
# (email.utils) and against the local time python computes, in several
# time zones (whole-hour, half-hour and negative offsets, DST changes)
import os
import re
import subprocess
import sys
import time
sys.path.insert(0, os.path.dirname(__file__))
import lanmail as t
import email.utils

prog = os.path.join(t.BUILD, "tests", "lib-date822")
if not t.BUILD or not os.path.exists(prog):
    t.skip_all("LANMAIL_BUILD/tests/lib-date822 not built: run through make check")
if not os.path.exists("/usr/share/zoneinfo/Asia/Kolkata"):
    t.skip_all("no time zone data (tzdata)")

times = [0, 1, 59, 86399, 951782400, 1000000000, 1711846799, 1711846800,
         1730000000, 2147483647, 2147483648, 4102444799, 253402214400,
         int(time.time()), -1, -86400]
zones = ["UTC", "Europe/Amsterdam", "Asia/Kolkata", "America/St_Johns",
         "Pacific/Kiritimati", "America/Los_Angeles"]
shape = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([1-9]|[12][0-9]|3[01]) "
                   r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
                   r"[0-2][0-9]:[0-5][0-9]:[0-6][0-9] [+-][0-9]{4}$")

for tz in zones:
    env = dict(os.environ, TZ=tz)
    out = subprocess.run([prog] + [str(x) for x in times], env=env,
                         stdout=subprocess.PIPE, check=False)
    t.is_(out.returncode, 0, "%s: formatted %d times" % (tz, len(times)))
    lines = out.stdout.decode().splitlines()
    t.is_(len(lines), len(times), "%s: one line each" % tz)
    os.environ["TZ"] = tz
    time.tzset()
    bad = []
    for secs, line in zip(times, lines):
        if not shape.match(line):
            bad.append("shape: %d %r" % (secs, line))
            continue
        dt = email.utils.parsedate_to_datetime(line)
        if int(dt.timestamp()) != secs:
            bad.append("parsed back %d != %d: %r" % (dt.timestamp(), secs, line))
        lt = time.localtime(secs)
        want = "%s, %d %s %04d %s %s" % (
            time.strftime("%a", lt), lt.tm_mday, time.strftime("%b", lt),
            lt.tm_year, time.strftime("%H:%M:%S", lt), time.strftime("%z", lt))
        if line != want:
            bad.append("want %r got %r" % (want, line))
    t.ok(not bad, "%s: every date parses back to its time, fields as localtime" % tz)
    for b in bad:
        t.diag(b)

# a time no 4-digit year can hold becomes the epoch, never a malformed date
env = dict(os.environ, TZ="UTC")
out = subprocess.run([prog, "253402300800", "-99999999999"], env=env, stdout=subprocess.PIPE)
t.is_(out.stdout.decode().splitlines(), ["Thu, 1 Jan 1970 00:00:00 +0000"] * 2,
      "year past 9999 or before 0: the epoch")
t.done()
