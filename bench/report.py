#!/usr/bin/python3
"""report.py - make bench's results.json as a Markdown table and a PNG chart

    report.py RESULTS.json OUTDIR

Writes OUTDIR/DATE-COMMIT.md and OUTDIR/DATE-COMMIT.png (the chart is drawn
by gnuplot).  Every figure is the median of the rounds, with the lowest and
highest in brackets; ratios are lanmail / peer.
"""
import json
import os
import statistics
import subprocess
import sys

data = json.load(open(sys.argv[1]))
outdir = sys.argv[2]
M, R, S = data["machine"], data["results"], data["settings"]
base = "%s-%s" % (M["date"][:10], M["commit"])
md_path = os.path.join(outdir, base + ".md")
png_path = os.path.join(outdir, base + ".png")


def vals(sysname, key, field):
    return [r[field] for r in R.get(sysname, {}).get(key, []) if r and field in r]


def med(sysname, key, field):
    v = vals(sysname, key, field)
    return statistics.median(v) if v else None


def fmt(x, unit_digits=0):
    if x is None:
        return "n/a"
    if abs(x) >= 100 or unit_digits == 0 and abs(x) >= 10:
        return "%.0f" % x
    if abs(x) >= 10:
        return "%.1f" % x
    return "%.2f" % x


def cell(sysname, key, field):
    v = vals(sysname, key, field)
    if not v:
        return "n/a"
    m = statistics.median(v)
    if len(v) == 1:
        return fmt(m)
    return "%s (%s–%s)" % (fmt(m), fmt(min(v)), fmt(max(v)))


rows = []      # (label, unit, key, field, higher_is_better, target)
for c in S["CONCS"]:
    rows.append(("SMTP accept, %d client%s" % (c, "s" if c > 1 else ""), "msg/s", "accept c%d" % c, "accept",
                 True, "≥ 2×" if c >= 10 else ""))
for c in S["CONCS"]:
    rows.append(("local delivery end to end, %d client%s" % (c, "s" if c > 1 else ""), "msg/s", "accept c%d" % c,
                 "e2e", True, "≥ 2×" if c >= 10 else "≥ 1.5×"))
for c in S["CONCS"]:
    rows.append(("median latency to Maildir, %d client%s" % (c, "s" if c > 1 else ""), "ms", "latency c%d" % c,
                 "lat_ms", False, ""))
for c in S["CONCS"]:
    rows.append(("CPU per delivered message, %d client%s" % (c, "s" if c > 1 else ""), "ms", "accept c%d" % c,
                 "cpu_ms", False, ""))
for rc in (1, 10):
    rows.append(("relay to smtp-sink, %d recipient%s" % (rc, "s" if rc > 1 else ""), "msg/s", "relay r%d" % rc,
                 "relay", True, ""))
rows.append(("POP3 logins", "/s", "pop3", "logins", True, "≥ 1×"))
rows.append(("POP3 RETR of %d messages" % S["POP_MSGS"], "MB/s", "pop3", "retr_mbs", True, "≥ 1×"))
rows.append(("POP3 median time per RETR", "ms", "pop3", "retr_ms", False, ""))
rows.append(("POP3 slowest RETR", "ms", "pop3", "retr_max_ms", False, ""))

out = []
w = out.append
w("# make bench: lanmail and Postfix %s / Dovecot %s" % (M["postfix"], M["dovecot"].split()[0] if M["dovecot"] else ""))
w("")
w("| | |")
w("|---|---|")
w("| date | %s |" % M["date"])
w("| commit | %s |" % M["commit"])
w("| machine | %s CPUs (%s), %s GiB memory |" % (M["nproc"], M["cpu"], M["mem_gib"]))
w("| system | %s, kernel %s |" % (M["os"], M["kernel"]))
w("| disk | %s |" % M["disk"])
w("| load average | %s (1 minute, at the start and at each round; a round's figure includes the "
  "previous round's own 50 clients) |" % ", ".join("%.1f" % x for x in M["load"]))
w("| run | %d rounds, alternating, %s s; %d messages of %d bytes per SMTP run |"
  % (S["ROUNDS"], M["seconds"], S["ACCEPT_N"], S["MSG_SIZE"]))
w("")
w("Medians of the rounds, the lowest and highest in brackets. The peer is Postfix for SMTP")
w("and Dovecot for POP3. Ratio = lanmail / peer: above 1 is better for lanmail in")
w("rates, below 1 is better for lanmail in times, CPU and memory.")
w("")
w("| workload | unit | lanmail | peer | ratio | target |")
w("|---|---|---|---|---|---|")
chart = []
for label, unit, key, field, higher, target in rows:
    a, b = med("lanmail", key, field), med("peer", key, field)
    ratio = a / b if a is not None and b else None
    w("| %s | %s | %s | %s | %s | %s |" % (label, unit, cell("lanmail", key, field), cell("peer", key, field),
                                         "%.2f" % ratio if ratio is not None else "n/a", target))
    if ratio:
        chart.append((label, ratio if higher else 1 / ratio, target))

mem = data["memory"]
w("")
w("## Memory")
w("")
w("Added by each idle connection (%d connections held open after the greeting;" % S["IDLE_CONNS"])
w("the difference of the sum over every process of the server, from /proc/PID/smaps_rollup), KiB:")
w("")
w("| per idle connection | lanmail PSS | peer PSS | lanmail RSS | peer RSS | ratio (PSS) | target |")
w("|---|---|---|---|---|---|---|")
for kind in ("smtp", "pop3"):
    a, b = mem["lanmail"][kind], mem["peer"][kind]
    ratio = a["pss_kib"] / b["pss_kib"] if b["pss_kib"] else None
    w("| %s | %.0f | %.0f | %.0f | %.0f | %s | ≤ 64 KiB |" % (kind.upper(), a["pss_kib"], b["pss_kib"], a["rss_kib"],
                                                            b["rss_kib"], "%.2f" % ratio if ratio else "n/a"))
    if ratio:
        chart.append(("memory per idle %s connection" % kind.upper(), 1 / ratio, ""))
w("")
w("Long-running processes at rest, freshly started, before any mail (KiB); the last line is the")
w("same sum at the end, with the idle workers Postfix and Dovecot keep for a while:")
w("")
for sysname, title in (("lanmail", "lanmail"), ("peer", "Postfix and Dovecot")):
    each = data["longrun"][sysname]
    w("| %s | pid | RSS | PSS |" % title)
    w("|---|---|---|---|")
    for comm, pid, rss, pss in each:
        w("| %s | %d | %d | %d |" % (comm, pid, rss, pss))
    w("| **total** | | %d | %d |" % (sum(e[2] for e in each), sum(e[3] for e in each)))
    after = data.get("longrun_after", {}).get(sysname)
    if after:
        w("| total after the runs, idle | | %d | %d |" % (after[0], after[1]))
    w("")

w("## CPU per delivered message, by program (ms)")
w("")
w("Measured from /proc/PID/stat over each accept run: the long-running processes' own time,")
w("and as NAME>children the time of the children they waited for (tcpserver>children is")
w("qmail-smtpd with its qmail-queue; qmail-lspawn>children is qmail-local; master>children")
w("is Postfix's processes that exited). Medians of the rounds.")
w("")
keys = []
for sysname in ("lanmail", "peer"):
    for c in S["CONCS"]:
        for r in R[sysname].get("accept c%d" % c, []):
            if r:
                keys += [(sysname, k) for k in r["cpu"] if (sysname, k) not in keys]
w("| system | program | " + " | ".join("%d client%s" % (c, "s" if c > 1 else "") for c in S["CONCS"]) + " |")
w("|---|---|" + "---|" * len(S["CONCS"]))
for sysname, k in sorted(keys):
    cells = []
    for c in S["CONCS"]:
        v = [r["cpu"].get(k, 0.0) for r in R[sysname].get("accept c%d" % c, []) if r]
        cells.append("%.2f" % statistics.median(v) if v else "n/a")
    if any(x not in ("0.00", "n/a") for x in cells):
        w("| %s | %s | %s |" % (sysname, k, " | ".join(cells)))
w("")

w("## Static binaries (musl)")
w("")
w("| program | size | stripped | static |")
w("|---|---|---|---|")
for name, size, ssize, static in data["sizes"]:
    w("| %s | %d | %s | %s |" % (name, size, ssize if ssize is not None else "n/a", "yes" if static else "no"))
w("")
w("## The disk's own limit")
w("")
w("Durable creates of %d-byte files per second (write, fsync, rename, fsync of the directory)," % S["MSG_SIZE"])
w("bench/fsyncbench.c, %d s per run, on the file system of the queues:" % S["DISK_SECS"])
w("")
w("| writers | creates/s |")
w("|---|---|")
for wr in S["WRITERS"]:
    w("| %d | %s |" % (wr, cell("disk", "w%d" % wr, "creates")))
w("")
with open(md_path, "w") as f:
    f.write("\n".join(out))

# the chart: lanmail's advantage, as a factor, per workload
dat = os.path.join(os.path.dirname(sys.argv[1]), "chart.dat")
with open(dat, "w") as f:
    for i, (label, adv, target) in enumerate(chart):
        t = target.replace("≥", "").replace("×", "").strip()
        f.write('%d "%s: %.2f" %.4f %s\n' % (i, label.replace('"', "'"), adv, adv, t if t else "NaN"))
n = len(chart)
script = """
set terminal pngcairo size 1200,%d font "DejaVu Sans,11"
set output "%s"
set title "lanmail against Postfix / Dovecot — %s, commit %s, %s CPUs\\n(factor by which lanmail is better: rate ratio, or inverse ratio for latency, CPU and memory; log scale)"
set style fill solid 0.8 border -1
set boxwidth 0.7 relative
set logscale x 2
c(x) = x < 0.0625 ? 0.0625 : (x > 32 ? 32 : x)
set xrange [0.035:64]
set xtics ("1/16" 0.0625, "1/8" 0.125, "1/4" 0.25, "1/2" 0.5, "1" 1, "2" 2, "4" 4, "8" 8, "16" 16, "32" 32)
set grid xtics
set yrange [%f:-0.7]
set ytics scale 0 nomirror
set key outside bottom center horizontal
set arrow from 1, graph 0 to 1, graph 1 nohead lc rgb "black" lw 2
plot "%s" using (1):1:ytic(2) notitle with points pt -1, \\
     "" using (1):1:(1):(c($3) > 1 ? c($3) : 1):($1-0.35):($1+0.35) with boxxyerror lc rgb "#2e8b57" title "lanmail better", \\
     "" using (c($3) < 1 ? c($3) : 1):1:(c($3) < 1 ? c($3) : 1):(1):($1-0.35):($1+0.35) with boxxyerror lc rgb "#cd5c5c" title "peer better", \\
     "" using 4:1 with points pt 6 ps 1.5 lw 2 lc rgb "blue" title "target"
""" % (120 + 28 * n, png_path, M["date"], M["commit"], M["nproc"], n - 0.3, dat)
gp = os.path.join(os.path.dirname(sys.argv[1]), "chart.gp")
with open(gp, "w") as f:
    f.write(script)
r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
if r.returncode != 0:
    print("report: gnuplot failed: " + r.stderr, file=sys.stderr)
    sys.exit(111)
print("report: wrote %s and %s" % (md_path, png_path))
