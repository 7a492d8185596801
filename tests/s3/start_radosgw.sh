#!/usr/bin/env bash
# Starts a throwaway one-node Ceph cluster (one mon, one bluestore OSD on a
# sparse file, optionally one mgr) with the RADOS Gateway on 127.0.0.1, for the
# S3 tests. It installs nothing: the packages come from
#   apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mgr radosgw ceph-common s3cmd
# (.ci/s3_env does that in CI).
#
#   tests/s3/start_radosgw.sh [DIR]
#
# DIR holds all state (default: $FTS_S3_DIR, else a new mktemp -d folder). Run
# again on the same DIR after stop_radosgw.sh (or a kill -9 of any daemon) and
# it restarts the daemons on the data already there: objects survive.
#
# On success prints one line on stdout and writes it, one variable a line, to
# DIR/s3.env (sourceable):
#   S3_ENDPOINT=http://127.0.0.1:PORT S3_ACCESS_KEY=… S3_SECRET_KEY=… S3_DIR=DIR
# Progress and errors go to stderr. Every wait is bounded by FTS_S3_TIMEOUT
# seconds (default 180); on failure the daemons it started are stopped again
# and the exit status is 1.
#
# Settings (environment): FTS_S3_OSD_GB (sparse OSD size, default 8),
# FTS_S3_MGR=0 to skip ceph-mgr (saves ~230 MB; health then warns, S3 works).
#
# Why these settings: no cephx (loopback only; S3 signatures are checked by
# radosgw on their own), pool size 1, and two radosgw settings without which it
# never reaches the monitor (auth client required = none, ms mon client mode =
# crc); paxos propose interval 0.1 cuts a cold start from ~16 s to ~7 s;
# beast's tcp_nodelay removes a ~40 ms Nagle/delayed-ACK stall from every
# answer with a body (each listing), which dominated small-file puts; a
# 10 s OSD watch timeout (default 30) lets a radosgw killed with -9 drop out
# of the control watchers sooner: until then every metadata change (creating
# or deleting a bucket) waits for its notify to time out, ~25 s measured.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:-${FTS_S3_DIR:-}}"
[[ -n "$dir" ]] || dir="$(mktemp -d "${TMPDIR:-/tmp}/fts-radosgw.XXXXXX")"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
osd_gb="${FTS_S3_OSD_GB:-8}"
timeout_s="${FTS_S3_TIMEOUT:-180}"
started=$SECONDS
conf="$dir/ceph.conf"
export CEPH_CONF="$conf"

say() { printf 'start_radosgw: %s\n' "$*" >&2; }
fail() {
  say "FAILED: $*"
  local f
  for f in "$dir"/log/*.log "$dir"/log/*.out; do
    [[ -s "$f" ]] && { echo "--- last lines of $f" >&2; tail -n 6 "$f" >&2; }
  done
  "$here/stop_radosgw.sh" "$dir" >&2 || true
  exit 1
}
remaining() { echo $((timeout_s - (SECONDS - started))); }
# capped SECS CMD…: runs CMD for at most SECS and never past the overall deadline.
capped() {
  local cap=$1 left
  shift
  left="$(remaining)"
  ((left > 0)) || return 124
  ((left < cap)) && cap=$left
  timeout "$cap" "$@"
}
# until_ok WHAT CMD…: retries CMD every half second until it succeeds.
until_ok() {
  local what=$1
  shift
  until "$@" >/dev/null 2>&1; do
    (($(remaining) > 0)) || fail "gave up after ${timeout_s}s waiting for $what"
    sleep 0.5
  done
}
port_free() { [[ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }
free_port() {
  local port=$1
  until port_free "$port"; do port=$((port + 1)); done
  echo "$port"
}
hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
# Whether the pid in run/NAME.pid is alive and runs with this cluster's config.
running() {
  local file="$dir/run/$1.pid" pid
  [[ -s "$file" ]] || return 1
  pid="$(cat "$file")"
  [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$conf"
}
# daemon NAME CMD…: starts a Ceph daemon in the foreground mode (-f), detached
# in its own session, and records its pid.
daemon() {
  local name=$1
  shift
  setsid "$@" -f -c "$conf" </dev/null >>"$dir/log/$name.out" 2>&1 &
  echo $! >"$dir/run/$name.pid"
}
ceph_cmd() { capped 30 ceph --connect-timeout 15 "$@"; }

for tool in ceph ceph-mon ceph-osd radosgw radosgw-admin monmaptool curl setsid ss timeout; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install -y --no-install-recommends ceph-mon ceph-osd ceph-mgr radosgw ceph-common s3cmd)"
done
mkdir -p "$dir"/{run,log,crash}

# Ports and keys are chosen once and kept, so a restart serves the same endpoint.
if [[ ! -f "$dir/cluster.env" ]]; then
  {
    echo "mon_port=$(free_port 3300)"
    echo "s3_port=$(free_port 7480)"
    echo "access_key=$(hex 10 | tr a-f A-F)"
    echo "secret_key=$(hex 20)"
  } >"$dir/cluster.env"
fi
# shellcheck disable=SC1091
source "$dir/cluster.env"

if [[ ! -f "$conf" ]]; then
  say "new cluster in $dir"
  cat >"$conf.tmp" <<CONF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = [v2:127.0.0.1:$mon_port]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = false
mon cluster log file = $dir/log/cluster.log
crash dir = $dir/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
paxos propose interval = 0.1
paxos min wait = 0.01
mgr disabled modules = diskprediction_local restful dashboard prometheus iostat nfs
mgr initial modules =
debug ms = 0
debug mon = 1
debug osd = 1
debug rgw = 1

[mon]
mon data = $dir/\$name
mon data avail warn = 2
mon data avail crit = 1

[mgr]
mgr data = $dir/\$name

[osd]
osd data = $dir/\$name
osd objectstore = bluestore
bluestore block create = true
bluestore block size = $((osd_gb * 1024 * 1024 * 1024))
bluestore fsck on mount = false
osd memory target = 939524096
osd op num shards = 1
osd op num threads per shard = 2
osd client watch timeout = 10

[client.rgw.a]
auth client required = none
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$s3_port tcp_nodelay=1
rgw data = $dir/client.rgw.a
rgw thread pool size = 64
rgw enable usage log = false
# Deleted objects' space comes back after a minute, not radosgw's default two
# hours: benchmarks would otherwise fill the OSD, and a full OSD leaves a
# restarted radosgw hanging at start.
rgw gc obj min wait = 60
rgw gc processor period = 60
CONF
  mv "$conf.tmp" "$conf"
fi

if [[ ! -d "$dir/mon.a/store.db" ]]; then
  port_free "$mon_port" || fail "the monitor port $mon_port is taken"
  rm -rf "$dir/mon.a"
  monmaptool --create --fsid "$(sed -n 's/^fsid = //p' "$conf")" \
    --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
  capped 60 ceph-mon --mkfs -i a --monmap "$dir/monmap" -c "$conf" >>"$dir/log/mon.a.out" 2>&1 ||
    fail "ceph-mon --mkfs"
fi
running mon.a || daemon mon.a ceph-mon -i a
until_ok "the monitor" ceph_cmd mon stat

if [[ "${FTS_S3_MGR:-1}" == 1 ]] && command -v ceph-mgr >/dev/null && ! running mgr.x; then
  mkdir -p "$dir/mgr.x"
  daemon mgr.x ceph-mgr -i x
fi

if [[ ! -f "$dir/osd.0/ready" ]]; then
  uuid="$(cat /proc/sys/kernel/random/uuid)"
  id="$(ceph_cmd osd new "$uuid")" || fail "ceph osd new"
  [[ "$id" == 0 ]] || fail "expected OSD 0, got '$id' (a half-made cluster: remove $dir)"
  rm -rf "$dir/osd.0"
  mkdir -p "$dir/osd.0"
  say "formatting osd.0 (${osd_gb} GiB sparse file)"
  capped 120 ceph-osd -i 0 --mkfs --osd-uuid "$uuid" -c "$conf" >>"$dir/log/osd.0.out" 2>&1 ||
    fail "ceph-osd --mkfs"
fi
running osd.0 || daemon osd.0 ceph-osd -i 0
osd_up() { ceph_cmd osd dump | grep -q '^osd\.0 up'; }
until_ok "osd.0 to come up" osd_up

endpoint="http://127.0.0.1:$s3_port"
if ! running client.rgw.a; then
  # A radosgw killed a moment ago may still hold the port.
  for _ in $(seq 1 20); do port_free "$s3_port" && break; sleep 0.5; done
  port_free "$s3_port" || fail "the S3 port $s3_port is taken"
  mkdir -p "$dir/client.rgw.a"
  daemon client.rgw.a radosgw -n client.rgw.a
fi
until_ok "radosgw on $endpoint (it creates its pools first)" curl -sf -o /dev/null --max-time 5 "$endpoint/"

if ! capped 60 radosgw-admin user info --uid=fts-test >/dev/null 2>&1; then
  capped 60 radosgw-admin user create --uid=fts-test --display-name="fts tests" \
    --access-key="$access_key" --secret-key="$secret_key" >/dev/null ||
    fail "radosgw-admin user create"
fi

printf 'S3_ENDPOINT=%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\nS3_DIR=%s\n' \
  "$endpoint" "$access_key" "$secret_key" "$dir" >"$dir/s3.env"
say "ready after $((SECONDS - started))s"
echo "S3_ENDPOINT=$endpoint S3_ACCESS_KEY=$access_key S3_SECRET_KEY=$secret_key S3_DIR=$dir"
