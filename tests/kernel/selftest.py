"""Do the checks catch a wrong fsc? Each mutation edits a copy of a finished run's output the way
a broken fsc would have written it; the named check must then fail (run.py --selftest)."""
import json
import os
import re
import shutil
import tempfile

import check


def edit(d, name, fn):
    p = os.path.join(d, name)
    with open(p) as f:
        text = f.read()
    new = fn(text)
    with open(p, "w") as f:
        f.write(new)
    return new != text


def jsonl_edit(pred, change):
    def fn(text):
        out = []
        for line in text.splitlines():
            r = json.loads(line) if line.startswith("{") else None
            if r is not None and pred(r):
                r = change(r)
                if r is None:
                    continue
                line = json.dumps(r)
            out.append(line)
        return "\n".join(out) + "\n"
    return fn


def verify_ignores_ctime(d):
    """verify ignoring ctime: the object of the chmod'ed file (ctime changed only) called OKAY."""
    def okay(r):
        r["verdict"], r["differences"] = "OKAY", []
        return r
    only_ctime = lambda r: r.get("verdict") == "OBSOLETE" and {x["field"] for x in r["differences"]} <= {"ctime", "change_attr"}
    return edit(d, "verify.out", jsonl_edit(only_ctime, okay))


def cull_removes_young(d):
    """cull --older-than removing a young object: one young object missing after the cull."""
    cutoff = check.Run(d, "", "").json("cull-age").get("cutoff_ns", 0) / 1e9
    done = []

    def fn(text):
        out = []
        for line in text.splitlines():
            parts = line.split(" ", 4)
            if not done and parts[1] == "f" and "/cache/" in parts[4] and float(parts[2]) >= cutoff \
                    and os.path.basename(parts[4])[:1] in "DEST":
                done.append(line)
                continue
            out.append(line)
        return "\n".join(out) + "\n"
    return edit(d, "cull-age.listing", fn)


def decode_wrong_key(d):
    """inspect decoding a key wrongly: one data object's key_hex off by a byte."""
    def flip(r):
        r["key_hex"] = r["key_hex"][:-2] + ("00" if r["key_hex"][-2:] != "00" else "01")
        return r
    first = []
    pred = lambda r: r.get("kind") == "data" and not first and not first.append(1)
    return edit(d, "decode-inspect.out", jsonl_edit(pred, flip))


def cull_ignores_bind(d):
    """cull not refusing a bound cache."""
    return edit(d, "live-cull.rc", lambda t: "0\n")


def fault_check_misses(d):
    """inspect --check reporting a problem after the fault (as a broken scan would)."""
    return edit(d, "fault-check.out", lambda t: re.sub(r'"problem_count": ?0', '"problem_count":1', t))


MUTATIONS = [("verify", verify_ignores_ctime), ("cull", cull_removes_young),
             ("decode", decode_wrong_key), ("live", cull_ignores_bind), ("fault", fault_check_misses)]


def selftest(out, suite, fsc):
    """Yields (name, ok, detail) per mutation."""
    checks = dict(check.CHECKS)
    for name, mut in MUTATIONS:
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "out")
            shutil.copytree(out, d, ignore=shutil.ignore_patterns("trace.txt"))
            if os.path.exists(os.path.join(out, "trace.txt")):
                os.symlink(os.path.join(out, "trace.txt"), os.path.join(d, "trace.txt"))
            if not mut(d):
                yield f"{name}: {mut.__name__}", False, "the mutation found nothing to change"
                continue
            fails = checks[name](check.Run(d, suite, fsc))
            yield f"{name}: {mut.__name__}", bool(fails), (fails[0] if fails else "the check still passed")
