#!/usr/bin/env python3
"""Trace benchmark: `fsc refs` against the parse-every-field floor
(bench/parse_floor.c, compiled here), `grep -c fscache` and `wc -l` on the
same generated 4.19 trace (bench/gen_trace.py), alternating, median of R
rounds; prints MB/s, lines/s, peak RSS and the ratios of
../shared/perf/README.md (half the floor: its 4 M lines/s were half of 7.9 M
on the machine it was measured on; RSS follows live cookies).
Usage: bench_refs.py FSC_BIN [-n LINES] [--rounds R] [--workdir D] [--no-xz]"""
import argparse, os, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(argv):
    # Output to a file, not /dev/null: GNU grep stops at the first match
    # when it sees its output discarded. xz -dc writes the whole trace: to
    # /dev/null, as the target says.
    with tempfile.NamedTemporaryFile("r") as f, tempfile.TemporaryFile() as out:
        sink = subprocess.DEVNULL if argv[0] == "xz" else out
        t0 = time.perf_counter()
        rc = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", f.name] + argv,
                             stdout=sink, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        if rc not in (0, 1):
            sys.exit(f"benchmark command failed ({rc}): {argv}")
        return dt, int(f.read().split()[-1]) / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fsc")
    ap.add_argument("-n", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/fsc-bench")
    ap.add_argument("--no-xz", dest="xz", action="store_false",
                    help="skip the .xz input and its xz -dc baseline")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    path = os.path.join(a.workdir, f"trace-{a.n}.txt")
    if not os.path.exists(path):
        subprocess.check_call([sys.executable, os.path.join(HERE, "gen_trace.py"),
                               str(a.n), path])
    size = os.path.getsize(path) / 1e6
    floor = os.path.join(a.workdir, "parse_floor")
    subprocess.check_call(["gcc", "-O2", "-Wall", "-o", floor,
                           os.path.join(HERE, "parse_floor.c")])
    tools = {"fsc refs": [a.fsc, "refs", path],
             "floor": [floor, path],
             "grep -c": ["grep", "-c", "fscache", path],
             "wc -l": ["wc", "-l", path]}
    xz = path + ".xz"
    if a.xz:
        if not os.path.exists(xz):  # several blocks, as xz -T0 writes them
            subprocess.check_call(["xz", "-T2", "-k", "-1", path])
        tools["fsc refs .xz"] = [a.fsc, "refs", xz]
        tools["xz -dc"] = ["xz", "-dc", xz]
    times = {k: [] for k in tools}
    rss = {k: 0.0 for k in tools}
    for _ in range(a.rounds):
        for k, argv in tools.items():
            dt, mem = timed(argv)
            times[k].append(dt)
            rss[k] = max(rss[k], mem)
    print(f"{a.n} lines, {size:.0f} MB, median of {a.rounds} rounds")
    for k in tools:
        m = statistics.median(times[k])
        print(f"  {k:<9} {m:7.3f} s  {size / m:7.0f} MB/s  {a.n / m / 1e6:6.2f} "
              f"M lines/s  peak RSS {rss[k]:6.1f} MiB")
    def ratio(x, y):  # speed of x / speed of y, median of per-round ratios
        return statistics.median(q / p for p, q in zip(times[x], times[y]))
    rate = a.n / statistics.median(times["fsc refs"]) / 1e6
    print(f"fsc refs: {rate:.2f} M lines/s  (4 M, half the README's 7.9 M "
          "floor, on the machine it was measured on)")
    print(f"ratio: fsc refs speed / floor speed    {ratio('fsc refs', 'floor'):.2f}x"
          "  (target >= 0.5: half the floor measured here)")
    print(f"ratio: fsc refs speed / grep -c speed  {ratio('fsc refs', 'grep -c'):.2f}x"
          "  (the issue's 0.5 is beyond the floor, 0.28x grep: "
          "../shared/perf/README.md)")
    if a.xz:
        print(f"ratio: fsc refs .xz / xz -dc speed     "
              f"{ratio('fsc refs .xz', 'xz -dc'):.2f}x  (target >= 0.8)")


if __name__ == "__main__":
    main()
