#!/usr/bin/env python3
"""Cull benchmark: `fsc cull` against the find pipeline it replaces and the
rename+unlink floor, on the same synthetic v1 tree, in one run.

Each round builds a tree of N objects with bench/mktree.py (not timed);
the tools then take turns on it, each timed removing the V oldest of what is
left (V = N/100 by default: "10k of 1M"), in an order that rotates between
rounds so that drift hits every tool alike:

  floor      floor -x none -C V  (stat-only scan, rename into graveyard, unlink)
  fsc        fsc cull --max-objects LEFT-V  (its default threads, or --threads)
  fsc-1t     the same with --threads 1
  find       find -printf '%A@ %p' | sort -n | head -V | xargs rm

It prints median wall times, peak RSS (/usr/bin/time) and the ratios the
targets speak of (../shared/perf/README.md): fsc/floor (<= 1.3),
find/fsc (>= 1.3), and fsc's delete rate against the floor's.
Usage: bench_cull.py FSC_BIN [-n N] [-v V] [--rounds R] [--workdir D]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(argv):
    with tempfile.NamedTemporaryFile("r") as f:
        t0 = time.perf_counter()
        rc = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", f.name] + argv,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        if rc != 0:
            sys.exit(f"benchmark command failed ({rc}): {argv}")
        return dt, int(f.read().split()[-1]) / 1024.0


def count_files(root):
    return sum(len(fs) for _, _, fs in os.walk(os.path.join(root, "cache")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fsc")
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("-v", type=int, default=0, help="victims (default N/100)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/fsc-bench")
    ap.add_argument("--threads", type=int, default=0,
                    help="fsc cull --threads (default: fsc's choice)")
    a = ap.parse_args()
    v = a.v or max(a.n // 100, 1)
    threads = ["--threads", str(a.threads)] if a.threads else []
    os.makedirs(a.workdir, exist_ok=True)
    floor = os.path.join(a.workdir, "floor")
    subprocess.check_call(["gcc", "-O2", "-Wall", "-pthread", "-o", floor,
                           os.path.join(HERE, "floor.c")])
    root = os.path.join(a.workdir, f"cull-{a.n}")
    tools = {
        "floor": lambda r, keep: [floor, "-x", "none", "-C", str(v),
                                  r + "/cache"],
        "fsc": lambda r, keep: [a.fsc, "cull", "--config", "/dev/null",
                                "--max-objects", str(keep)] + threads + [r],
        "fsc-1t": lambda r, keep: [a.fsc, "cull", "--config", "/dev/null",
                                   "--max-objects", str(keep),
                                   "--threads", "1", r],
        "find": lambda r, keep: ["sh", "-c",
                                 f"find {r}/cache -type f -printf '%A@ %p\\n' | "
                                 f"sort -n | head -n {v} | cut -d' ' -f2- | "
                                 "xargs -d '\\n' rm -f"],
    }
    times = {k: [] for k in tools}
    rss = {k: 0.0 for k in tools}
    names = list(tools)
    for rnd in range(a.rounds):
        # One tree per round; the tools take turns on it, each removing the
        # V oldest of what is left (1 % of the tree: the others see a tree
        # 1-2 % smaller), in an order that rotates between rounds.
        shutil.rmtree(root, ignore_errors=True)
        subprocess.check_call([sys.executable, os.path.join(HERE, "mktree.py"),
                               "-n", str(a.n), "--now", "fixed", root],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        left = a.n
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for name in order:
            argv = tools[name](root, left - v)
            subprocess.call(["sync"])
            dt, mem = timed(argv)
            left -= v
            got = count_files(root)
            if got != left:
                sys.exit(f"{name} left {got} objects, want {left}")
            times[name].append(dt)
            rss[name] = max(rss[name], mem)
    shutil.rmtree(root, ignore_errors=True)
    med = {k: statistics.median(t) for k, t in times.items()}
    print(f"cull {v} oldest of {a.n} objects, median of {a.rounds} rounds")
    for k in tools:
        print(f"  {k:<6} {med[k]:8.3f} s  {v / med[k]:9.0f} objects/s  "
              f"peak RSS {rss[k]:7.1f} MiB")

    def ratio(x, y):
        return statistics.median(p / q for p, q in zip(times[x], times[y]))
    print("ratios:")
    print(f"  fsc / floor        {ratio('fsc', 'floor'):.2f}x  (target <= 1.3)")
    print(f"  fsc-1t / floor     {ratio('fsc-1t', 'floor'):.2f}x  (one thread each)")
    print(f"  find / fsc         {ratio('find', 'fsc'):.2f}x  (target >= 1.3)")
    print(f"  fsc rate / floor   {ratio('floor', 'fsc'):.2f}x  (target >= 0.8)")


if __name__ == "__main__":
    main()
