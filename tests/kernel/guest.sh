#!/bin/sh
# Runs inside the guest (from the input disk, by guest-stub). Disks: vdb this script's tar,
# vdc the export, vdd the cache, vde the output tar. Every step writes OUT/<step>.{out,err,rc};
# the host (check.py) judges them. No step stops the run: the host wants all of the evidence.
IN=/tmp/in OUT=/tmp/out
EXP=/srv/export CDISK=/srv/cachedisk CACHE=/srv/cachedisk/fscache T=/sys/kernel/tracing
mkdir -p $OUT
PATH=$IN/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH
exec 2>&1
log() { echo "fsc-guest: $*"; }
# run NAME CMD...: CMD's output and exit code kept under OUT
run() { n=$1; shift; "$@" > $OUT/$n.out 2> $OUT/$n.err; r=$?; echo $r > $OUT/$n.rc; log "$n: exit $r"; return $r; }
finish() {
	log "done, writing the output disk"
	cat $T/trace > $OUT/trace.txt 2>/dev/null
	dmesg > $OUT/dmesg.txt
	tar -cf /dev/vde -C $OUT . && sync
	echo o > /proc/sysrq-trigger; sleep 30
}
snap() { # snap NAME: the kernel's view now
	cp /proc/fs/fscache/stats $OUT/$1.stats 2>/dev/null
	cat /proc/fs/fscache/cookies > $OUT/$1.cookies 2>/dev/null
	cat /proc/fs/fscache/volumes > $OUT/$1.volumes 2>/dev/null
	find $CACHE -printf '%i %y %A@ %s %p\n' > $OUT/$1.listing 2>/dev/null
	python3 $IN/handles.py $CACHE > $OUT/$1.handles   # inode and generation: 5.10 reuses inodes
	dmesg > $OUT/$1.dmesg
}
settle() { sync; sleep 3; sync; }
mounts() {
	[ -f /tmp/cfd.pid ] && alive mount
	mkdir -p /mnt/a /mnt/b
	timeout 120 mount -t nfs -o vers=3,fsc,nolock 127.0.0.1:$EXP /mnt/a || log "mount v3 failed"
	timeout 300 mount -t nfs -o vers=4.2,fsc 127.0.0.1:$EXP /mnt/b || log "mount v4.2 failed"
}
umounts() { umount /mnt/a; umount /mnt/b; settle; }
readall() { # readall NAME: read every file through both mounts; sums per mount
	for m in a b; do
		(cd /mnt/$m && find . -type f | sort | timeout 600 xargs -r sha256sum) > $OUT/$1.sum-$m 2> $OUT/$1.readerr-$m
	done
	(cd $EXP && find . -type f | sort | xargs -r sha256sum) > $OUT/$1.sum-server
	settle
}
daemon_start() { cachefilesd -d -s -n $CFD_OPTS -f /etc/cachefilesd.conf >> $OUT/cachefilesd.log 2>&1 & echo $! > /tmp/cfd.pid; sleep 3; }
daemon_stop() { # its exit status: 0 after our SIGTERM
	kill "$(cat /tmp/cfd.pid)" 2>/dev/null; wait "$(cat /tmp/cfd.pid)"
	echo "$1 $?" >> $OUT/cachefilesd.exits; rm -f /tmp/cfd.pid; sleep 3
	echo "fsc-kernel-tests unbound" > $T/trace_marker
}
# alive WHEN: cachefilesd 0.10.10 can abort() at random (../shared/spec/cachefilesd.md §10 item 2):
# note it with its exit status (134) and start another, so that the kernel has a cache again
cfd_up() { p=$(cat /tmp/cfd.pid); [ -r /proc/$p/stat ] && [ "$(cut -d' ' -f3 /proc/$p/stat)" != Z ]; }
alive() {
	cfd_up && return
	wait "$(cat /tmp/cfd.pid)"; st=$?
	log "cachefilesd died (status $st) before $1: starting it again"
	echo "$1 $st" >> $OUT/cachefilesd.died
	echo "fsc-kernel-tests unbound" > $T/trace_marker
	[ $st = 134 ] && CFD_OPTS=-N   # no cull table, so no decant and no abort
	daemon_start
}
phase() { log "phase $1"; [ -f /tmp/cfd.pid ] && alive "phase $1"; echo "fsc-kernel-tests phase $1" > $T/trace_marker 2>/dev/null; }

# --- setup ---------------------------------------------------------------------------------
ip link set lo up; echo fscguest > /proc/sys/kernel/hostname
uname -a > $OUT/uname.txt
for m in fscache cachefiles nfsd nfs nfsv3 nfsv4; do modprobe $m; done
mkfs.ext4 -q -L export /dev/vdc && mkdir -p $EXP && mount /dev/vdc $EXP
mkfs.ext4 -q -L cache /dev/vdd && mkdir -p $CDISK && mount /dev/vdd $CDISK && mkdir -p $CACHE
uuid=$(tune2fs -l /dev/vdc | sed -n 's/^Filesystem UUID: *//p')
mkdir -p /dev/disk/by-uuid && ln -sf ../../vdc /dev/disk/by-uuid/$uuid   # as udev would
mount -t tracefs nodev $T 2>/dev/null
echo 65536 > $T/buffer_size_kb
echo 1 > $T/events/fscache/enable
echo 1 > $T/events/cachefiles/enable
[ -d $T/events/netfs ] && echo 1 > $T/events/netfs/enable
cat $T/available_events > $OUT/trace-events-available.txt

# the origin tree: sizes around page and 4 KiB block edges, one file per change of phase 2
mkdir -p $EXP/d1 $EXP/d2 $EXP/d2/sub
i=0
for s in 0 1 4095 4096 4097 12345 65536 100000 262144 1048576 1500000; do
	i=$((i + 1))
	head -c $s /dev/urandom > $EXP/d1/f$i
	head -c $((s + 7)) /dev/urandom > $EXP/d2/g$i
done
for c in keep readonly content mtime trunc chmod delete rename replace bury; do
	head -c 200000 /dev/urandom > $EXP/d2/sub/$c
done
sed -e "s#^dir .*#dir $CACHE#" /etc/cachefilesd.conf > /tmp/cfd.conf && cp /tmp/cfd.conf /etc/cachefilesd.conf
cat /etc/cachefilesd.conf > $OUT/cachefilesd.conf

mount -t nfsd nfsd /proc/fs/nfsd
mkdir -p /run/rpcbind /var/lib/nfs/rpc_pipefs /var/lib/nfs/v4recovery
mount -t rpc_pipefs rpc_pipefs /var/lib/nfs/rpc_pipefs
rpcbind -w
echo "$EXP 127.0.0.1(rw,sync,no_root_squash,no_subtree_check)" > /etc/exports
exportfs -ra
rpc.mountd
echo 10 > /proc/fs/nfsd/nfsv4leasetime; echo 10 > /proc/fs/nfsd/nfsv4gracetime
rpc.nfsd 4 || log "rpc.nfsd failed"
daemon_start
sleep 11   # knfsd's NFSv4 grace period

# --- 1 decode, 4 live ----------------------------------------------------------------------
phase decode
mounts
cat /proc/mounts > $OUT/mounts.txt
readall decode
python3 $IN/handles.py /mnt/a > $OUT/handles-a.jsonl
python3 $IN/handles.py /mnt/b > $OUT/handles-b.jsonl
python3 $IN/handles.py $EXP > $OUT/handles-server.jsonl
snap decode-mounted
# The live checks need a bound cache: its daemon may have aborted during the reads, or
# during the checks themselves (then the cull rightly runs on an unbound cache): once more.
for try in 1 2; do
	[ -f /tmp/cfd.pid ] && alive live
	run live-inspect fsc --json inspect $CACHE
	run live-check fsc --json inspect --check $CACHE
	run live-cull fsc cull $CACHE
	cfd_up && break
done
run live-stats fsc --json stats
cp /proc/fs/fscache/caches $OUT/caches.txt 2>/dev/null
umounts
snap decode
run decode-check fsc --json inspect --check $CACHE
run decode-inspect fsc --json=lines inspect --tree $CACHE

# --- 2 verify = the kernel's next lookup ----------------------------------------------------
phase verify
S=$EXP/d2/sub
cat $S/readonly > /dev/null
printf 'XYZ' | dd of=$S/content bs=1 seek=1000 conv=notrunc 2>/dev/null
touch -m -d '2001-02-03 04:05:06' $S/mtime
truncate -s 1000 $S/trunc
chmod 600 $S/chmod
rm $S/delete
mv $S/rename $S/renamed
rm $S/replace && head -c 5000 /dev/urandom > $S/replace
sync
python3 $IN/handles.py $EXP > $OUT/handles-server-changed.jsonl
snap verify-before
run verify fsc --json=lines verify $CACHE --origin $EXP
mounts
readall verify
python3 $IN/handles.py /mnt/a > $OUT/handles-a-changed.jsonl
snap verify-mounted
umounts
snap verify-after
run verify-check fsc --json inspect --check $CACHE

# --- 3 cull then bind ---------------------------------------------------------------------
phase cull
daemon_stop cull
printf 'Q' | dd of=$S/bury bs=1 seek=10 conv=notrunc 2>/dev/null
run bury fsc --json=lines verify $CACHE --origin $EXP --bury
# age half of the data objects (every other one in name order) by ten days
find $CACHE/cache -type f -name '[DEST]*' | sort | awk 'NR % 2' | while read -r f; do touch -a -d '10 days ago' "$f"; done
snap cull-before
run cull-dry fsc --json=lines cull $CACHE --older-than 5d --dry-run
snap cull-dry
run cull-age fsc --json=lines cull $CACHE --older-than 5d
snap cull-age
run cull-count fsc --json=lines cull $CACHE --max-objects 6
snap cull-count
run cull-check fsc --json inspect --check $CACHE
grep -q '"format":"v1"' $OUT/cull-check.out && run replay-write fsc replay $CACHE $IN/lifecycle.fsc --write
daemon_start
mounts
readall cull
snap cull-mounted
umounts
snap cull-after
run cull-after-check fsc --json inspect --check $CACHE

# --- 6 fault: the cache disk below bstop during reads ---------------------------------------
phase fault
mkdir -p $EXP/fault
for i in 1 2 3 4 5 6; do head -c 1500000 /dev/urandom > $EXP/fault/h$i; done
df -k $CDISK > $OUT/fault-df-before.txt
avail=$(df -k --output=avail $CDISK | tail -1); size=$(df -k --output=size $CDISK | tail -1)
fallocate -l $(( (avail - size / 100) * 1024 )) $CDISK/filler   # leaves 1% free: below bstop
df -k $CDISK > $OUT/fault-df-full.txt
mounts
readall fault
snap fault-mounted
umounts
sleep 10
snap fault-full
run fault-full-check fsc --json inspect --check $CACHE
cp $OUT/cachefilesd.log $OUT/fault-cachefilesd.log
# room again: the same reads fill the cache, which must then pass check 1 and check 3
rm -f $CDISK/filler
mounts
readall fault-refill
for m in a b; do python3 $IN/handles.py /mnt/$m > $OUT/handles-fault-$m.jsonl; done
python3 $IN/handles.py $EXP > $OUT/handles-fault-server.jsonl
umounts
snap fault
run fault-check fsc --json inspect --check $CACHE
run fault-inspect fsc --json=lines inspect --tree $CACHE
daemon_stop fault
run fault-cull fsc --json=lines cull $CACHE --max-objects 10
snap fault-culled
run fault-cull-check fsc --json inspect --check $CACHE
daemon_start
mounts
readall fault-after
umounts
snap fault-after
run fault-after-check fsc --json inspect --check $CACHE
daemon_stop end
phase end
finish
