#!/usr/bin/env python3
"""The shipped systemd units and alert rules, checked with the real tools:
systemd-analyze verify on the units (with ExecStart pointing at the built
fsc), their hardening, their commands run for real on a real cache (the
metrics they write pass promtool check metrics), and promtool check/test
rules on the alert rules. Prints TAP.
Usage: check_units.py FSC_BIN SOURCE_ROOT"""
import os, re, shlex, shutil, subprocess, sys, tempfile

FSC, ROOT = sys.argv[1], sys.argv[2]
UNITS = os.path.join(ROOT, "systemd")
n = 0
failed = 0


def tap(ok, what, why=""):
    global n, failed
    n += 1
    failed += not ok
    print(f"{'ok' if ok else 'not ok'} {n} - {what}")
    if not ok:
        for line in why.strip().splitlines():
            print(f"# {line}")


def skip(what, why):
    global n
    n += 1
    print(f"ok {n} - {what} # SKIP {why}")


def units(tmp):
    out = {}
    for name in sorted(os.listdir(UNITS)):
        src = os.path.join(UNITS, name)
        if name.endswith(".in"):
            name = name[:-3]
            text = open(src).read().replace("@SBINDIR@",
                                            os.path.dirname(os.path.abspath(FSC)))
            text = text.replace("/fsc ", "/" + os.path.basename(FSC) + " ")
        elif name.endswith((".service", ".timer")):
            text = open(src).read()
        else:
            continue
        path = os.path.join(tmp, name)
        open(path, "w").write(text)
        out[name] = text
    return out


def settings(text):
    """key → [values] of a unit file's lines."""
    d = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+)=(.*)$", line)
        if m:
            d.setdefault(m.group(1), []).append(m.group(2))
    return d


def verify(tmp, names):
    if not shutil.which("systemd-analyze"):
        return skip("systemd-analyze verify", "systemd-analyze not installed")
    r = subprocess.run(["systemd-analyze", "verify", "--man=no"] +
                       [os.path.join(tmp, x) for x in names],
                       capture_output=True, text=True)
    tap(r.returncode == 0 and not r.stderr.strip(),
        "systemd-analyze verify: no error, no warning", r.stdout + r.stderr)


def hardening(name, s):
    want = {"ProtectSystem": "strict", "NoNewPrivileges": "yes",
            "PrivateTmp": "yes", "ProtectHome": "yes", "Type": "oneshot"}
    bad = [f"{k}={v}" for k, v in want.items() if s.get(k, [None])[-1] != v]
    tap(not bad, f"{name}: hardened", "missing: " + ", ".join(bad))
    rw = " ".join(s.get("ReadWritePaths", []))
    allowed = {"/var/cache/fscache", "-/var/lib/prometheus/node-exporter"}
    tap(set(rw.split()) <= allowed and "-/var/lib/prometheus/node-exporter" in rw,
        f"{name}: writes only the cache and the textfile directory", rw)


def run_execs(name, s, cache, textdir, env):
    """Runs the unit's ExecStart lines with its Environment, on a real cache
    and a temporary textfile directory; returns the files they wrote."""
    envs = dict(env)
    for e in s.get("Environment", []):
        k, v = e.split("=", 1)
        envs[k] = v
    envs["FSC_CACHE"], envs["FSC_TEXTFILE_DIR"] = cache, textdir
    ok_status = {0} | {int(x) for x in " ".join(s.get("SuccessExitStatus", [])).split()}
    for line in s.get("ExecStart", []):
        ignore = line.startswith("-")
        argv = [re.sub(r"\$\{(\w+)\}", lambda m: envs[m.group(1)], a)
                for a in shlex.split(line.lstrip("-"))]
        r = subprocess.run(argv, capture_output=True, text=True, env=envs)
        tap(ignore or r.returncode in ok_status,
            f"{name}: {os.path.basename(argv[0])} {argv[1]} ran (exit {r.returncode})",
            r.stderr)


def main():
    tmp = tempfile.mkdtemp(prefix="fsc-units-")
    try:
        u = units(tmp)
        verify(tmp, sorted(u))
        for name in ("fsc-cull.service", "fsc-metrics.service"):
            hardening(name, settings(u[name]))
        for t in ("fsc-cull.timer", "fsc-metrics.timer"):
            s = settings(u[t])
            tap(s.get("WantedBy") == ["timers.target"] and "Persistent" in s,
                f"{t}: installs under timers.target, catches up after a boot")
        # The commands, for real, on the real 6.1 cache.
        cache_root = os.path.join(tmp, "c")
        os.makedirs(cache_root)
        subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "-xpJf",
                        os.path.join(ROOT, "tests/fixtures/real-6.1-smoke/cache.tar.xz"),
                        "-C", cache_root], check=True)
        cache = os.path.join(cache_root, "fscache")
        textdir = os.path.join(tmp, "textfile")
        os.makedirs(textdir)
        proc = os.path.join(tmp, "proc")
        os.makedirs(proc)
        env = dict(os.environ, FSC_PROC_ROOT=proc, ASAN_OPTIONS="detect_leaks=0")
        for name in ("fsc-cull.service", "fsc-metrics.service"):
            run_execs(name, settings(u[name]), cache, textdir, env)
        proms = sorted(f for f in os.listdir(textdir))
        tap("fsc-cull.prom" in proms and "fsc-inspect.prom" in proms,
            "the units wrote their metrics files", " ".join(proms))
        if shutil.which("promtool"):
            for f in proms:
                r = subprocess.run(["promtool", "check", "metrics"],
                                   stdin=open(os.path.join(textdir, f)),
                                   capture_output=True, text=True)
                tap(r.returncode == 0 and not (r.stdout + r.stderr).strip(),
                    f"promtool check metrics {f}", r.stdout + r.stderr)
            rules = os.path.join(UNITS, "fsc-alerts.yml")
            r = subprocess.run(["promtool", "check", "rules", rules],
                               capture_output=True, text=True)
            tap(r.returncode == 0, "promtool check rules fsc-alerts.yml",
                r.stdout + r.stderr)
            r = subprocess.run(["promtool", "test", "rules", "fsc-alerts.test.yml"],
                               cwd=os.path.join(ROOT, "tests/units"),
                               capture_output=True, text=True)
            tap(r.returncode == 0, "promtool test rules: each alert fires when "
                "it should", r.stdout + r.stderr)
        else:
            skip("promtool checks", "promtool not installed (package prometheus)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
