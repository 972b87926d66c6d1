#!/usr/bin/env python3
"""Writes a synthetic 4.19-format FS-Cache trace of about N lines: cookie
lives as the real 5.10 trace shows them (acquire, attach, object lookup,
relinquish, final puts), LIVE cookies alive at a time, pointers reused.
Usage: gen_trace.py N OUT [--live LIVE]"""
import argparse, random

ap = argparse.ArgumentParser()
ap.add_argument("n", type=int)
ap.add_argument("out")
ap.add_argument("--live", type=int, default=1000)
a = ap.parse_args()
rng = random.Random(1)
HEAD = "{task:>16}-{pid:<7} [{cpu:03}] .... {s:5}.{us:06}: "
PARENT = "ffff91ce821f9700"


def life(c, o):
    yield "cat", 222, "fscache_acquire", f"c={c} p={PARENT} pu=2 pc=1 pf=22 n=NFS.fh"
    yield "cat", 222, "fscache_cookie", f"GET obj c={c} u=2 p={PARENT} Nc=0 Na=1 f=47"
    yield "cat", 222, "cachefiles_ref", f"c={c} o={o} u=2 GET queue"
    yield "kworker/u4:0", 7, "fscache_osm", f"c={c} o={o} INIT WORK ev=0"
    yield "kworker/u4:0", 7, "fscache_page", f"c={c} pg=1 CHK1"
    yield "kworker/u4:0", 7, "cachefiles_ref", f"c={c} o={o} u=1 PUT work"
    yield "umount.nfs", 234, "fscache_relinquish", f"c={c} u=2 p={PARENT} Nc=0 Na=1 f=20 r=0"
    yield "umount.nfs", 234, "fscache_cookie", f"PUT rlq c={c} u=1 p={PARENT} Nc=0 Na=0 f=18"
    yield "kworker/u4:3", 223, "cachefiles_ref", f"c={c} o={o} u=0 PUT work"
    yield "kworker/u4:3", 223, "fscache_cookie", f"PUT obj c={c} u=0 p={PARENT} Nc=0 Na=0 f=10"


with open(a.out, "w") as f:
    f.write("# tracer: nop\n#\n")
    slots = [None] * a.live
    lines, ts, k = 0, 10_000_000, 0
    while lines < a.n:
        i = rng.randrange(a.live)
        if slots[i] is None:  # pointers come from a small pool: reuse
            slots[i] = life(f"ffff91ce{i:08x}", f"ffff91cf{i:08x}")
        try:
            task, pid, ev, body = next(slots[i])
        except StopIteration:
            slots[i] = None
            continue
        ts += rng.randrange(1, 40)
        f.write(HEAD.format(task=task, pid=pid, cpu=pid % 2, s=ts // 1_000_000,
                            us=ts % 1_000_000) + f"{ev}: {body}\n")
        lines += 1
