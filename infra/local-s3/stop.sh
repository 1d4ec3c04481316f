#!/usr/bin/env bash
# Stops the local S3 started by infra/local-s3/start.sh: SIGTERM to the pid in
# STATE_DIR/weed.pid (only if that pid is still a `weed mini`), SIGKILL after
# MEMX_S3_STOP_TIMEOUT seconds (default 20). Data in STATE_DIR/data is kept.
#   infra/local-s3/stop.sh [STATE_DIR]     (default: $MEMX_S3_DIR, else ~/.cache/memx/local-s3)
set -euo pipefail

dir=${1:-${MEMX_S3_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/memx/local-s3}}
timeout=${MEMX_S3_STOP_TIMEOUT:-20}
pidfile=$dir/weed.pid
# alive = exists and is not a zombie waiting for its parent to reap it
alive() { kill -0 "$1" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }

[[ -f $pidfile ]] || { echo "local-s3: not running (no $pidfile)"; exit 0; }
pid=$(cat "$pidfile")
[[ $pid =~ ^[0-9]+$ ]] || { echo "local-s3: bad pid file $pidfile" >&2; exit 1; }
if ! alive "$pid" || ! tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -q 'weed mini'; then
  echo "local-s3: pid $pid is not running weed mini; removing the stale pid file"
  rm -f "$pidfile"
  exit 0
fi

kill -TERM "$pid"
deadline=$((SECONDS + timeout))
while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
if alive "$pid"; then
  echo "local-s3: pid $pid ignored SIGTERM for ${timeout}s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.1; done
fi
rm -f "$pidfile"
# weed leaves some unix sockets behind in /tmp (s3, s3-grpc, admin-grpc); remove ours.
port=$(cat "$dir/weed.port" 2>/dev/null || true)
if [[ $port =~ ^[0-9]+$ ]]; then
  for p in $(seq "$port" $((port + 4))) $(seq $((port + 10000)) $((port + 10004))); do
    for sock in /tmp/seaweedfs-*-"$p".sock; do [[ -S $sock ]] && rm -f "$sock"; done
  done
fi
echo "local-s3: stopped pid $pid (data kept in $dir/data)"
