#!/usr/bin/env python3
"""Boot real Debian kernels under QEMU and check fsc against them (tests/kernel/README.md).

run.py [--fsc PATH] [SUITE...]   SUITE: bullseye (5.10), bookworm (6.1), trixie (6.12); default all.
Prints one "ok"/"not ok" line per check and kernel; exit 0 when all passed, 1 when one failed,
77 (skip) when this machine cannot run it, saying what is missing.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = {"bullseye": "5.10", "bookworm": "6.1", "trixie": "6.12"}
SKIP = 77


def missing_tools():
    need = {"qemu-system-x86_64": "qemu-system-x86", "debootstrap": "debootstrap",
            "mkfs.ext4": "e2fsprogs", "chroot": "coreutils", "ldd": "libc-bin"}
    miss = [f"{tool} (apt-get install {pkg})" for tool, pkg in need.items() if not shutil.which(tool)]
    if os.geteuid() != 0:
        miss.append("root (debootstrap and chroot need it: run as root or with sudo)")
    return miss


def kvm_works():
    """/dev/kvm usable and the CPU has virtualisation (a sandbox may offer a /dev/kvm whose
    guests never boot); FSC_KT_ACCEL=tcg|kvm overrides."""
    forced = os.environ.get("FSC_KT_ACCEL")
    if forced in ("tcg", "kvm"):
        return forced == "kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l.split(":", 1)[1].split() for l in f if l.startswith("flags")), [])
    except OSError:
        return True
    return "vmx" in flags or "svm" in flags


def cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "fsc-kernel-tests")


def input_tar(fsc, dest):
    """guest.sh, handles.py, and fsc with the host's libraries and loader, run through a wrapper."""
    libs, loader = [], None
    for line in subprocess.run(["ldd", fsc], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > 2 and parts[2].startswith("/"):
            libs.append(parts[2])
        elif parts and parts[0].startswith("/") and "ld-linux" in parts[0]:
            loader = parts[0]
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(f"{tmp}/bin")
        os.makedirs(f"{tmp}/lib")
        for lib in libs + [loader]:
            shutil.copy(os.path.realpath(lib), f"{tmp}/lib/{os.path.basename(lib)}")
        shutil.copy(fsc, f"{tmp}/lib/fsc")
        with open(f"{tmp}/bin/fsc", "w") as f:   # the host's glibc, not the guest's (2.31 on 5.10)
            f.write(f'#!/bin/sh\nexec /tmp/in/lib/{os.path.basename(loader)} --library-path /tmp/in/lib /tmp/in/lib/fsc "$@"\n')
        os.chmod(f"{tmp}/bin/fsc", 0o755)
        for name in ("guest.sh", "handles.py", "../scenarios/lifecycle.fsc"):
            shutil.copy(os.path.join(HERE, name), tmp)
        with tarfile.open(dest, "w", format=tarfile.GNU_FORMAT) as t:
            for name in sorted(os.listdir(tmp)):
                t.add(os.path.join(tmp, name), name)


def sparse(path, size):
    with open(path, "wb") as f:
        f.truncate(size)


def boot(img, run, fsc, timeout):
    """One guest run; returns the extracted output directory."""
    if os.path.exists(run):
        shutil.rmtree(run)
    os.makedirs(run)
    input_tar(fsc, f"{run}/in.tar")
    sparse(f"{run}/export.img", 1 << 30)
    sparse(f"{run}/cache.img", 256 << 20)
    sparse(f"{run}/out.img", 512 << 20)
    kvm = kvm_works()
    cmd = ["nice", "-n", "10", "qemu-system-x86_64", "-accel", "kvm" if kvm else "tcg",
           "-smp", "2", "-m", "3072", "-nographic", "-no-reboot", "-nic", "none",
           "-kernel", f"{img}/vmlinuz", "-initrd", f"{img}/initrd.img",
           "-append", "console=ttyS0 root=/dev/vda rw init=/sbin/fsc-guest-stub panic=-1 loglevel=4",
           "-drive", f"file={img}/root.img,if=virtio,format=raw,snapshot=on"]
    for d in ("in.tar", "export.img", "cache.img", "out.img"):
        cmd += ["-drive", f"file={run}/{d},if=virtio,format=raw"]
    with open(f"{run}/console.log", "w") as log:
        try:
            subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"# the guest did not power off within {timeout} s (console: {run}/console.log)")
    out = f"{run}/out"
    os.makedirs(out)
    try:
        with tarfile.open(f"{run}/out.img") as t:
            t.extractall(out)
    except tarfile.TarError as e:
        print(f"# no output from the guest ({e}); console: {run}/console.log")
    for d in ("export.img", "cache.img", "out.img"):
        os.unlink(f"{run}/{d}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fsc", help="the fsc binary to test (default: build-rel/fsc, then build/fsc)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per guest (default 3600)")
    ap.add_argument("--check-only", action="store_true", help="judge the last run's output again")
    ap.add_argument("--selftest", action="store_true",
                    help="also check that the checks fail on outputs a broken fsc would write")
    ap.add_argument("--meson", action="store_true", help="skip (77) unless FSC_KERNEL_TESTS=1")
    ap.add_argument("suites", nargs="*", metavar="SUITE", help=" ".join(SUITES))
    a = ap.parse_args()
    suites = a.suites or os.environ.get("FSC_KERNEL_SUITES", "").split() or list(SUITES)
    if a.meson and os.environ.get("FSC_KERNEL_TESTS") != "1":
        print("kernel tests: skipped; they boot Debian kernels under QEMU (about 4 minutes a kernel, plus building images once):"
              " FSC_KERNEL_TESTS=1 meson test -C BUILD --suite kernel, or scripts/kernel-tests")
        return SKIP
    for s in suites:
        if s not in SUITES:
            ap.error(f"unknown suite {s}: one of {' '.join(SUITES)}")
    top = os.path.dirname(os.path.dirname(HERE))
    fsc = a.fsc or next((p for p in (f"{top}/build-rel/fsc", f"{top}/build/fsc") if os.path.exists(p)), None)
    if not fsc or not os.access(fsc, os.X_OK):
        print(f"kernel tests: no fsc binary (build it, or give --fsc): {fsc}")
        return SKIP
    miss = [] if a.check_only else missing_tools()
    if miss:
        print("kernel tests: cannot run here; missing: " + "; ".join(miss))
        return SKIP
    fsc = os.path.abspath(fsc)
    n, failed = 0, 0
    for suite in suites:
        img = os.path.join(cache_root(), suite)
        run = os.path.join(img, "run")
        t0 = time.time()
        if not a.check_only:
            r = subprocess.run([f"{HERE}/build-image", suite, img])
            if r.returncode != 0:
                print(f"not ok {n + 1} - {suite}: image (build-image failed)")
                n, failed = n + 1, failed + 1
                continue
            t1 = time.time()
            out = boot(img, run, fsc, a.timeout)
            print(f"# {suite} ({SUITES[suite]}): image {t1 - t0:.0f} s, guest {time.time() - t1:.0f} s; output in {out}")
        else:
            out = f"{run}/out"
        res = check.Run(out, suite, fsc)
        print(f"# {suite}: {(res.text('uname.txt') or 'no uname').strip()}")
        for note in check.notes(res):
            print(f"# note: {note}")
        for name, fn in check.CHECKS:
            n += 1
            try:
                fails = fn(res)
            except Exception as e:  # a check that cannot read its evidence fails, with the reason
                fails = [f"{type(e).__name__}: {e}"]
            print(f"{'not ok' if fails else 'ok'} {n} - {suite}: {name}")
            for f in fails[:25]:
                print(f"#   {f}")
            for note in res.notes:
                print(f"#   note: {note}")
            res.notes = []
            failed += bool(fails)
        if a.selftest and os.path.isdir(out):
            import selftest
            for name, ok, detail in selftest.selftest(out, suite, fsc):
                n += 1
                print(f"{'ok' if ok else 'not ok'} {n} - {suite}: selftest {name}")
                print(f"#   {detail}")
                failed += not ok
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
