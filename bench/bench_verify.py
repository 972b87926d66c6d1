#!/usr/bin/env python3
"""verify --data benchmark: `fsc verify --data` over dense cached extents
against, in the same run, sequential reading of the same bytes (dd) and
reading + XXH3 hashing them (a 20-line C reader on libxxhash, built here).
The cache is `fsc demo`'s, with its NFS objects filled with SIZE MiB each
and their aux rewritten to match fresh origin files.
Usage: bench_verify.py FSC_BIN [--mib SIZE] [--rounds R] [--workdir D]"""
import argparse, json, os, shutil, statistics, struct, subprocess, sys, time

HASHER = r'''
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <xxhash.h>
static char buf[1 << 20];
int main(int argc, char **argv) {
  unsigned long long h = 0;
  for (int i = 1; i < argc; i++) {
    int fd = open(argv[i], O_RDONLY);
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) h ^= XXH3_64bits(buf, n);
    close(fd);
  }
  printf("%llx\n", h);
  return 0;
}
'''


def run(argv):
    t0 = time.perf_counter()
    rc = subprocess.call(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if rc not in (0, 1):
        sys.exit(f"benchmark command failed ({rc}): {argv}")
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fsc")
    ap.add_argument("--mib", type=int, default=256, help="per object")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/fsc-bench")
    a = ap.parse_args()
    work = os.path.join(a.workdir, "verify")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    cache, origin = os.path.join(work, "cache"), os.path.join(work, "origin")
    os.makedirs(origin)
    subprocess.check_call([a.fsc, "demo", cache], stdout=subprocess.DEVNULL)
    hasher = os.path.join(work, "xxh3read")
    src = hasher + ".c"
    open(src, "w").write(HASHER)
    subprocess.check_call(["gcc", "-O2", "-o", hasher, src, "-lxxhash"])
    out = subprocess.run([a.fsc, "--json=lines", "inspect", cache],
                         capture_output=True, text=True).stdout
    block = os.urandom(1 << 20)
    mapping, files = [], []
    for line in out.splitlines():
        e = json.loads(line)
        if e.get("kind") != "data" or e.get("netfs") != "nfs" or e.get("problems"):
            continue
        cached = os.path.join(cache, e["path"])
        orig = os.path.join(origin, e["key_hex"])
        for p in (orig, cached):
            with open(p, "wb") as f:
                for _ in range(a.mib):
                    f.write(block)
        st = os.stat(orig)
        aux = struct.pack("<qqqqQ", int(st.st_mtime_ns // 10**9), st.st_mtime_ns % 10**9,
                          int(st.st_ctime_ns // 10**9), st.st_ctime_ns % 10**9, 0)
        os.setxattr(cached, "user.CacheFiles.cache", b"\x01" + aux)
        mapping.append(f"{e['key_hex']} {orig}")
        files += [cached, orig]
    open(os.path.join(work, "map"), "w").write("\n".join(mapping) + "\n")
    total = len(mapping) * a.mib / 1024.0  # GiB of cached data compared
    tools = {
        "fsc verify --data": [a.fsc, "verify", cache, "--origin-map",
                              os.path.join(work, "map"), "--data"],
        "read both (dd)": ["sh", "-c", " && ".join(
            f"dd if={p} of=/dev/null bs=1M status=none" for p in files)],
        "read+xxh3 both": [hasher] + files,
    }
    times = {k: [] for k in tools}
    for k, argv in tools.items():  # warm the page cache
        run(argv)
    for _ in range(a.rounds):
        for k, argv in tools.items():
            times[k].append(run(argv))
    print(f"verify --data: {len(mapping)} objects, {total:.2f} GiB cached "
          f"(+ the same from the origin), warm, median of {a.rounds}")
    for k in tools:
        m = statistics.median(times[k])
        print(f"  {k:<18} {m:7.3f} s  {total / m:6.2f} GiB/s of cached data")
    base = min(statistics.median(times["read both (dd)"]),
               statistics.median(times["read+xxh3 both"]))
    worst = max(statistics.median(times["read both (dd)"]),
                statistics.median(times["read+xxh3 both"]))
    r = worst / statistics.median(times["fsc verify --data"])
    print(f"ratio: fsc / min(read, xxh3) speed = {r:.2f}x  (target >= 0.8)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
