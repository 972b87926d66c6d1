#!/usr/bin/env python3
"""TAP test: every verb's --json and --json=lines output validates against
its schema in man/schema/, on real kernel caches and traces.

usage: test_json_output.py FSC_BIN SOURCE_ROOT
"""
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schema  # noqa: E402

FSC, ROOT = sys.argv[1], sys.argv[2]
FIX = os.path.join(ROOT, "tests", "fixtures")
results = []


def tap(ok, what, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}")
    for line in detail.splitlines():
        print(f"# {line}")


def extract(fixture, into):
    os.makedirs(into)
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "-xpJf",
                    os.path.join(FIX, fixture, "cache.tar.xz"), "-C", into],
                   check=True)
    (top,) = [e for e in os.listdir(into) if not e.startswith(".")]
    return os.path.join(into, top)


def fsc(mode, args, env):
    flag = "--json" if mode == "document" else "--json=lines"
    return subprocess.run([FSC, flag] + args, capture_output=True, text=True,
                          env=env)


def validator(check):
    """A validator built once: jsonschema.validate() checks the schema itself
    again on every call, which made this test take minutes."""
    cls = jsonschema.validators.validator_for(check)
    cls.check_schema(check)
    return cls(check)


def validate(verb, mode, args, env, seen, exits=(0, 1)):
    spec = schema.load(os.path.join(ROOT, "man", "schema", verb + ".json"))
    r = fsc(mode, args, env)
    what = f"fsc {'--json' if mode == 'document' else '--json=lines'} " \
           f"{' '.join(os.path.basename(a) for a in args)}"
    if r.returncode not in exits:
        tap(False, what, f"exit {r.returncode}\n{r.stderr}")
        return []
    try:
        if mode == "document":
            docs = [json.loads(r.stdout)]
            validator(schema.document_schema(spec)).validate(docs[0])
            recs = docs[0]["records"]
            summary = docs[0]
        else:
            lines = r.stdout.splitlines()
            docs = [json.loads(line) for line in lines]
            check = validator(schema.line_schema(spec))
            for d in docs:
                check.validate(d)
            recs, summary = docs[:-1], docs[-1]
            assert summary.get("record") == "summary", \
                "the stream does not end with its summary record"
            assert all(d["record"] != "summary" for d in recs), \
                "a summary record before the end"
        assert summary["complete"] is True, "complete is not true"
        for rec in recs:
            seen.setdefault(verb, set()).add(rec["record"])
        tap(True, what)
        return recs
    except (AssertionError, ValueError, jsonschema.ValidationError) as e:
        tap(False, what, str(e)[:2000])
        return []


def documented():
    """Every field of a verb's schema is named (*field*) in its man page or,
    for the shared ones, in fsc-json(7)."""
    shared = open(os.path.join(ROOT, "man", "fsc-json.7.scd")).read()
    for verb in ("inspect", "cull", "verify", "refs", "replay", "stats"):
        spec = schema.load(os.path.join(ROOT, "man", "schema", verb + ".json"))
        page = open(os.path.join(ROOT, "man", f"fsc-{verb}.8.scd")).read()
        text = page + shared
        missing = sorted(n for n in schema.field_names(spec)
                         if f"*{n}*" not in text and f'"{n}"' not in text
                         and not n.endswith(("_hex", "_ns")))
        tap(not missing, f"fsc-{verb}(8) documents every field of its JSON",
            "not in the man page: " + ", ".join(missing) if missing else "")


def proc_copy(tmp, kernel, extra=""):
    """A copy of a kernel's /proc/fs/fscache made from the fixture files."""
    src = os.path.join(FIX, f"real-{kernel}-smoke")
    dst = os.path.join(tmp, f"proc-{kernel}{'-odd' if extra else ''}")
    os.makedirs(dst)
    for name in ("stats", "caches", "cookies"):
        path = os.path.join(src, name + ".txt")
        if os.path.exists(path):
            with open(path) as f, open(os.path.join(dst, name), "w") as out:
                out.write(f.read() + (extra if name == "stats" else ""))
    return dst


def stats_runs(tmp, env, seen):
    for kernel in ("5.10", "6.1", "6.12"):
        proc = proc_copy(tmp, kernel)
        for mode in ("document", "lines"):
            validate("stats", mode, ["stats", "--proc", proc], env, seen)
    odd = proc_copy(tmp, "6.12", "Frobs  : x=1\nsomething new\nIO : rd=zz\n")
    every = os.path.join(FIX, "real-6.12-smoke", "proc-fscache-all.txt")
    for mode in ("document", "lines"):
        validate("stats", mode, ["stats", "--proc", odd], env, seen)
        validate("stats", mode, ["stats", "--proc", every], env, seen)
        validate("stats", mode, ["stats", "--proc", every, "--interval",
                                 "0.1", "--count", "2"], env, seen)


def main():
    documented()
    tmp = tempfile.mkdtemp(prefix="fsc-json-")
    env = dict(os.environ, FSC_PROC_ROOT=os.path.join(tmp, "proc"),
               ASAN_OPTIONS="detect_leaks=0")
    os.makedirs(env["FSC_PROC_ROOT"])
    seen = {}
    try:
        caches = {"5.10": extract("real-5.10-smoke", os.path.join(tmp, "v1")),
                  "6.1": extract("real-6.1-smoke", os.path.join(tmp, "v2"))}
        empty_map = os.path.join(tmp, "empty.map")
        open(empty_map, "w").close()
        for kernel, cache in caches.items():
            data = []
            for mode in ("lines", "document"):
                entries = validate("inspect", mode, ["inspect", cache], env,
                                   seen)
                validate("inspect", mode, ["inspect", "--check", cache], env,
                         seen)
                validate("inspect", mode, ["inspect", "--tree", cache], env,
                         seen)
                data = data or [e["path"] for e in entries
                                if e["kind"] == "data"]
                if data:
                    validate("inspect", mode,
                             ["inspect", "--object", data[0], cache], env,
                             seen)
                validate("cull", mode,
                         ["cull", "-n", "--max-objects", "1", cache], env,
                         seen)
                validate("verify", mode,
                         ["verify", cache, "--origin-map", empty_map, "--bury",
                          "-n"], env, seen)
                trace = os.path.join(FIX, f"real-{kernel}-smoke",
                                     "ftrace.txt.xz")
                lives = validate("refs", mode, ["refs", trace], env, seen)
                cookies = [x["id"] for x in lives
                           if x["record"] == "life" and x["type"] == "cookie"]
                if cookies:
                    validate("refs", mode,
                             ["refs", "--cookie", cookies[0], trace], env,
                             seen)
            # 6.12: netfs requests and subrequests, and one request's timeline.
            netfs = os.path.join(FIX, "real-6.12-smoke", "ftrace.txt.xz")
            if kernel == "6.1":
                for mode in ("document", "lines"):
                    validate("refs", mode, ["refs", netfs], env, seen)
                    validate("refs", mode, ["refs", "--request", "6", netfs],
                             env, seen)
            copy = os.path.join(tmp, "copy-" + kernel)
            shutil.copytree(cache, copy, symlinks=True)
            # A stray file: a problem for inspect to list as a record.
            open(os.path.join(copy, "cache", "stray"), "w").close()
            for mode in ("document", "lines"):
                validate("inspect", mode, ["inspect", "--check", copy], env,
                         seen)
            validate("cull", "lines", ["cull", "--max-objects", "1", copy],
                     env, seen)
        stats_runs(tmp, env, seen)
        scen = os.path.join(ROOT, "tests", "scenarios", "lifecycle.fsc")
        scen61 = os.path.join(ROOT, "tests", "scenarios", "v2", "nfs-file.fsc")
        trace = os.path.join(FIX, "real-5.10-smoke", "ftrace.txt.xz")
        # 6.x traces on the 6.1 engine, one edited to diverge.
        v6 = [os.path.join(FIX, "real-6.1-smoke", "ftrace.txt.xz"),
              os.path.join(FIX, "real-6.12-smoke", "ftrace.txt.xz"),
              os.path.join(tmp, "edited-6.1.trace")]
        with lzma.open(v6[0], "rt") as f:
            lines = f.read().split("\n")
        lines[2639] = lines[2639].replace("r=3 a=0", "r=3 a=1")
        with open(v6[2], "w") as f:
            f.write("\n".join(lines))
        for mode in ("document", "lines"):
            for t in v6:
                validate("replay", mode, ["replay", "--from-trace", t], env,
                         seen)
            empty = os.path.join(tmp, "replay-" + mode)
            os.makedirs(empty)
            validate("replay", mode, ["replay", empty, scen], env, seen)
            # A 6.1 scenario on the 6.1 engine (read-only, a new cache).
            validate("replay", mode, ["replay", "--engine", "6.1", empty,
                                      scen61], env, seen)
            validate("replay", mode, ["replay", "--from-trace", trace], env,
                     seen)
        want = {"inspect": {"entry", "problem"}, "cull": {"victim"},
                "verify": {"object"}, "refs": {"life", "event"},
                "replay": {"change"},
                "stats": {"counter", "cache", "raw", "rate", "problem"}}
        for verb, kinds in want.items():
            missing = kinds - seen.get(verb, set())
            tap(not missing, f"{verb} showed records of kinds "
                f"{', '.join(sorted(kinds))}",
                f"missing: {', '.join(sorted(missing))}" if missing else "")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"1..{len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
