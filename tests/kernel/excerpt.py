#!/usr/bin/env python3
"""Cut a one-volume excerpt of a 6.x ftrace text log, for a test fixture.

Keeps the header, and of lines FIRST..LAST those of the volume V (its
fscache_volume/fscache_access_volume lines), of its cookies (c= of an
fscache_acquire naming V, and any later line with that c=), and of their
objects (o= of a cachefiles_ref naming one of those cookies). With
--cache, the cache's lines too (fscache_cache, fscache_access_cache).

    tests/kernel/excerpt.py TRACE FIRST LAST V [--cache] > out.txt
"""

import argparse
import re
import sys

C = re.compile(r"\bc=([0-9a-f]{8})\b")
V = re.compile(r"\bV=([0-9a-f]{8})\b")
O = re.compile(r"\bo=([0-9a-f]{8})\b")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("first", type=int)
    ap.add_argument("last", type=int)
    ap.add_argument("volume", help="the volume's id, 8 hex digits")
    ap.add_argument("--cache", action="store_true", help="keep the cache's lines")
    a = ap.parse_args()
    cookies, objects = set(), set()
    with open(a.trace, errors="replace") as f:  # a cookie's NEW acq comes before its acquire
        for n, line in enumerate(f, 1):
            if n > a.last:
                break
            v, c, o = V.search(line), C.search(line), O.search(line)
            if " fscache_acquire: " in line and v and v.group(1) == a.volume and c:
                cookies.add(c.group(1))
            if " cachefiles_ref: " in line and c and c.group(1) in cookies and o:
                objects.add(o.group(1))
    with open(a.trace, errors="replace") as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#"):
                sys.stdout.write(line)
                continue
            if n > a.last:
                break
            if n < a.first:
                continue
            v, c, o = V.search(line), C.search(line), O.search(line)
            keep = (
                (v and v.group(1) == a.volume)
                or (c and c.group(1) in cookies)
                or (o and o.group(1) in objects and " cachefiles_" in line)
                or (a.cache and (" fscache_cache: " in line or " fscache_access_cache: " in line))
            )
            if keep:
                sys.stdout.write(line)


if __name__ == "__main__":
    main()
