#!/usr/bin/env bash
# run.sh - `make bench`: the benchmark workloads, one JSON line each on
# stdout (progress on stderr). Figures are measured, never asserted.
#
#   BENCH_SECONDS=10   duration of each timed load
#   BENCH_ONLY=W1      run only these workloads (comma-separated)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=$PWD/build/sluice
SECS=${BENCH_SECONDS:-10}
ONLY=${BENCH_ONLY:-}
WORK=$(mktemp -d -t sluice-bench.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }
say() { echo "bench: $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
peak_rss_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# The ceiling for W1: sequential write of 512 MiB ending in fdatasync.
disk_ceiling_mb_s() {
  local out
  out=$(dd if=/dev/zero of="$WORK/ddtest" bs=1M count=512 conv=fdatasync 2>&1 | tail -1)
  rm -f "$WORK/ddtest"
  # "536870912 bytes (537 MB, 512 MiB) copied, 0.93 s, 577 MB/s"
  awk -v s="$out" 'BEGIN { n = split(s, a, ", "); split(a[n-1], t, " "); printf "%.1f", 536870912 / t[1] / 1e6 }'
}

start_sluice() { # config file -> sets PID
  "$BIN" run -c "$1" >"$WORK/sluice.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 200); do
    kill -0 "$PID" 2>/dev/null || break
    curl -fsS "http://127.0.0.1:$CPORT/health" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  cat "$WORK/sluice.log" >&2
  return 1
}

stop_sluice() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; }

if want W1; then
  say "W1: HTTP collector, batches of 100 seed-004 log events, keep-alive, fsync: group (${SECS}s)"
  CPORT=$(free_port); APORT=$(free_port)
  cat >"$WORK/w1.yaml" <<YAML
data_dir: $WORK/w1-data
log_level: warn
log: { fsync: group }
topics:
  logs.raw: { partitions: 3, key: service, require: { level: string, service: string, message: string } }
  events.activity: { partitions: 3, key: user_id }
collector:
  listen: 127.0.0.1:$CPORT
  routes:
    - { when: 'has(level)', topic: logs.raw }
    - { when: 'has(event_type)', topic: events.activity }
admin:
  listen: 127.0.0.1:$APORT
YAML
  "$BIN" gen logs --count 100 --seed 1 --to - | python3 -c 'import sys,json; print(json.dumps([json.loads(l) for l in sys.stdin], separators=(",",":")))' >"$WORK/w1_body.json"
  BODY_BYTES=$(stat -c %s "$WORK/w1_body.json")
  CEILING=$(disk_ceiling_mb_s)
  start_sluice "$WORK/w1.yaml"
  T0=$(cpu_ticks "$PID")
  W1_BODY="$WORK/w1_body.json" wrk -t2 -c32 -d"${SECS}s" --latency -s bench/w1_post.lua \
    "http://127.0.0.1:$CPORT/api/collect" >"$WORK/wrk.out" 2>&1
  T1=$(cpu_ticks "$PID")
  RSS=$(peak_rss_kb "$PID")
  ACCEPTED=$(curl -fsS "http://127.0.0.1:$APORT/metrics" | grep -F 'sluice_collector_events_accepted_total{topic="logs.raw"}' | awk '{print $2}')
  stop_sluice
  WRK=$(grep '^WRK_JSON' "$WORK/wrk.out" | sed 's/^WRK_JSON //')
  TICK=$(getconf CLK_TCK)
  python3 - "$WRK" "$ACCEPTED" "$T0" "$T1" "$TICK" "$RSS" "$BODY_BYTES" "$CEILING" <<'PY'
import json, sys
w = json.loads(sys.argv[1]); accepted = float(sys.argv[2] or 0)
t0, t1, tick, rss, body, ceiling = map(float, sys.argv[3:9])
secs = w["duration_us"] / 1e6
eps = accepted / secs
cpu = (t1 - t0) / tick
mb_s = (w["requests"] - w["errors"]) * body / secs / 1e6
print(json.dumps({
  "workload": "W1", "what": "POST /api/collect, 100 events/request, keep-alive, fsync group",
  "events_per_s": round(eps), "requests": w["requests"], "non_2xx_or_errors": w["errors"],
  "p50_ms": round(w["p50_us"] / 1000, 2), "p99_ms": round(w["p99_us"] / 1000, 2),
  "cpu_s_per_million_events": round(cpu / (accepted / 1e6), 2) if accepted else None,
  "peak_rss_mb": round(rss / 1024, 1),
  "ingest_mb_s": round(mb_s, 1), "disk_fsync_write_mb_s": ceiling,
  "ratio_to_disk_ceiling": round(mb_s / ceiling, 3) if ceiling else None,
  "target": {"events_per_s": 500000, "p99_ms": 20, "peak_rss_mb": 200},
}))
PY
fi
