#!/usr/bin/env python3
"""Scan benchmark for `fsc inspect` against the floor and the peers.

Builds (once, cached in WORKDIR) a synthetic v1 tree of N data objects with
bench/mktree.py (sparse files, xattrs, spread atimes), compiles bench/floor.c
(the fastest possible walker: getdents64 + statx + one xattr read per object),
then runs, alternating A B A B so that drift hits every tool alike:

  floor -t1 / -t2        the stat+xattr floor
  fsc inspect --json=lines --threads 1 / 2  (stdout to /dev/null)
  fsc inspect --threads 1 (the summary: the scan without per-object JSON)
  find -printf | sort -n (stat-only peer)
  getfattr -R -d -m - -e hex (xattr peer)

and prints the median wall time, peak RSS and the ratios the targets speak of
(../shared/perf/README.md): fsc-1t/floor-1t, fsc-2t speed-up, getfattr/fsc,
find|sort/fsc. Usage: bench_inspect.py FSC_BIN [-n N] [--rounds R] [--workdir D]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, shell=False):
    """Wall time and peak RSS of one command. /usr/bin/time measures the RSS:
    wait4's ru_maxrss of a child forked from Python starts at Python's own."""
    argv = ["sh", "-c", cmd] if shell else list(cmd)
    with tempfile.NamedTemporaryFile("r") as f:
        t0 = time.perf_counter()
        rc = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", f.name] + argv,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        if rc not in (0, 1):
            sys.exit(f"benchmark command failed ({rc}): {cmd}")
        return dt, int(f.read().split()[-1]) / 1024.0  # MiB


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fsc")
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/fsc-bench")
    a = ap.parse_args()
    # "-k": trees with kernel fan-outs and NFS aux (mktree since 2026-12).
    root = os.path.join(a.workdir, f"tree-{a.n}-k")
    if not os.path.isdir(os.path.join(root, "cache")):
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(a.workdir, exist_ok=True)
        subprocess.check_call([sys.executable, os.path.join(HERE, "mktree.py"),
                               "-n", str(a.n), "--now", "fixed", root])
    floor = os.path.join(a.workdir, "floor")
    subprocess.check_call(["gcc", "-O2", "-Wall", "-pthread", "-o", floor,
                           os.path.join(HERE, "floor.c")])
    cache = os.path.join(root, "cache")
    tools = {
        "floor-1t": [floor, "-t", "1", cache],
        "floor-2t": [floor, "-t", "2", cache],
        "fsc-1t": [a.fsc, "--json=lines", "inspect", root, "--threads", "1"],
        "fsc-2t": [a.fsc, "--json=lines", "inspect", root, "--threads", "2"],
        "fsc-sum-1t": [a.fsc, "inspect", root, "--threads", "1"],
        "find|sort": f"find {cache} -printf '%A@ %s %p\\n' | sort -n > /dev/null",
        "getfattr": f"getfattr -R -d -m - -e hex {cache} > /dev/null 2>&1",
    }
    if not shutil.which("getfattr"):
        del tools["getfattr"]
    times = {k: [] for k in tools}
    rss = {k: 0.0 for k in tools}
    for k, cmd in tools.items():  # warm the caches once
        run(cmd, shell=isinstance(cmd, str))
    for _ in range(a.rounds):
        for k, cmd in tools.items():
            dt, mem = run(cmd, shell=isinstance(cmd, str))
            times[k].append(dt)
            rss[k] = max(rss[k], mem)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"scan of {a.n} objects, warm, median of {a.rounds} rounds")
    for k in tools:
        print(f"  {k:<10} {med[k]:8.3f} s  peak RSS {rss[k]:7.1f} MiB")

    def ratio(x, y):  # median of per-round ratios: drift hits both alike
        if x not in times or y not in times:
            return float("nan")
        return statistics.median(p / q for p, q in zip(times[x], times[y]))
    print("ratios:")
    print(f"  fsc 1 thread / floor 1 thread   {ratio('fsc-1t', 'floor-1t'):.2f}x  (--json=lines; target <= 1.5)")
    print(f"  summary 1 thread / floor        {ratio('fsc-sum-1t', 'floor-1t'):.2f}x  (no JSON; target <= 1.3)")
    print(f"  fsc 1 thread / fsc 2 threads    {ratio('fsc-1t', 'fsc-2t'):.2f}x  (target >= 1.6)")
    print(f"  getfattr / fsc 2 threads        {ratio('getfattr', 'fsc-2t'):.2f}x  (target >= 2.5)")
    print(f"  find|sort / fsc 2 threads       {ratio('find|sort', 'fsc-2t'):.2f}x")
    print(f"  find|sort / fsc 1 thread        {ratio('find|sort', 'fsc-1t'):.2f}x")


if __name__ == "__main__":
    main()
