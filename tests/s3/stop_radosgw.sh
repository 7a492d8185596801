#!/usr/bin/env bash
# Stops the daemons tests/s3/start_radosgw.sh started in DIR, by the pids in
# DIR/run only, each checked to run with DIR's ceph.conf (never by name).
#
#   tests/s3/stop_radosgw.sh DIR [--purge]     --purge: also delete DIR
#
# The OSD gets up to 60 s to stop cleanly, the others less; radosgw keeps no
# state of its own, so a SIGKILL there loses nothing. Always exits 0 unless
# the arguments are wrong.
set -uo pipefail

dir="${1:-${FTS_S3_DIR:-}}"
[[ -n "$dir" && -d "$dir" ]] || { echo "usage: stop_radosgw.sh DIR [--purge]" >&2; exit 2; }
dir="$(cd "$dir" && pwd)"
conf="$dir/ceph.conf"

ours() { [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$conf"; }
# stop NAME GRACE: SIGTERM, then SIGKILL after GRACE seconds.
stop() {
  local file="$dir/run/$1.pid" pid
  [[ -s "$file" ]] || return 0
  pid="$(cat "$file")"
  if ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 $(($2 * 2))); do ours "$pid" || break; sleep 0.5; done
    if ours "$pid"; then
      echo "stop_radosgw: $1 (pid $pid) ignored SIGTERM for $2 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$file"
}

stop client.rgw.a 10
stop osd.0 60
stop mgr.x 15
stop mon.a 30

if [[ "${2:-}" == "--purge" ]]; then
  # Only a folder this script family made: it holds cluster.env.
  if [[ -f "$dir/cluster.env" ]]; then
    rm -rf "$dir"
  else
    echo "stop_radosgw: $dir does not look like a test cluster; not deleting it" >&2
  fi
fi
exit 0
