#!/usr/bin/env bash
# Kills -9 the radosgw that tests/s3/start_radosgw.sh started in DIR (by the
# pid in DIR/run, checked to run with DIR's ceph.conf), and waits until it is
# gone: the crash the S3 tests recover from. start_radosgw.sh DIR restarts it.
#
#   tests/s3/kill_radosgw.sh DIR
set -uo pipefail

dir="${1:?usage: kill_radosgw.sh DIR}"
dir="$(cd "$dir" && pwd)"
pid="$(cat "$dir/run/client.rgw.a.pid" 2>/dev/null)" || { echo "kill_radosgw: no radosgw pid in $dir/run" >&2; exit 1; }
ours() { [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/ceph.conf"; }
ours || { echo "kill_radosgw: pid $pid is not this cluster's radosgw" >&2; exit 1; }
kill -KILL "$pid"
for _ in $(seq 1 100); do ours || exit 0; sleep 0.05; done
echo "kill_radosgw: pid $pid still alive after 5 s" >&2
exit 1
