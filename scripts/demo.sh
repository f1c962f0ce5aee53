#!/usr/bin/env bash
# demo.sh - what `make demo` runs after building: the pipeline on the
# embedded default, fed by the built-in generators, then a short report.
#
#   DEMO_SECONDS=60   how long the generators run
#   DEMO_RATE=2000    events per second per generator
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/sluice
SECONDS_TO_RUN=${DEMO_SECONDS:-60}
RATE=${DEMO_RATE:-2000}
DATA=./sluice-data
LOGFILE=$(mktemp -t sluice-demo.XXXXXX.log)

echo "== sluice demo: the embedded default (data in $DATA), fed for ${SECONDS_TO_RUN}s"
"$BIN" run >"$LOGFILE" 2>&1 &
PID=$!
cleanup() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "sluice did not start (is another program on 127.0.0.1:8080 or :8081?):"
    cat "$LOGFILE"; exit 1
  fi
  grep -q 'running (config' "$LOGFILE" && curl -fsS http://127.0.0.1:8081/health >/dev/null 2>&1 && break
  sleep 0.1
done

echo "== collector http://127.0.0.1:8081/api/collect   admin http://127.0.0.1:8080 (/metrics, /api/topics)"
"$BIN" gen logs   --rate "$RATE" --duration "${SECONDS_TO_RUN}s" --to http://127.0.0.1:8081/api/collect &
G1=$!
"$BIN" gen events --rate "$((RATE / 2))" --duration "${SECONDS_TO_RUN}s" --to http://127.0.0.1:8081/api/collect &
G2=$!
# One deliberately bad request, to show where rejects go.
curl -sS -X POST http://127.0.0.1:8081/api/collect -d '[{"level":"INFO","service":"x","message":"no timestamp"}]'; echo
wait "$G1" "$G2"

echo
echo "== per-topic counts (sluice log offsets --data $DATA)"
"$BIN" log offsets --data "$DATA"
echo
echo "== the last two records of logs.raw"
"$BIN" log tail logs.raw --from-beginning --data "$DATA" | tail -n 2
echo
echo "== the dead-letter topic _dlq"
"$BIN" log tail _dlq --from-beginning --data "$DATA" | tail -n 1
echo
echo "== a few metrics"
curl -fsS http://127.0.0.1:8080/metrics | grep -E '^sluice_collector_events_(accepted|rejected)_total' | head -8
echo
echo "== the Parquet lake ($DATA/lake, by event-time hour; files close after 5 s without new events)"
log_rows() { "$BIN" log offsets --data "$DATA" | awk '$1 == "logs.raw" || $1 == "events.activity" {s += $4 - $3} END {print s + 0}'; }
lake_rows() { "$BIN" lake ls --data "$DATA" --json | python3 -c 'import sys, json; print(sum(json.loads(l)["rows"] for l in sys.stdin if l.strip()))'; }
WANT=$(log_rows)
for _ in $(seq 1 60); do [ "$(lake_rows)" -ge "$WANT" ] && break; sleep 0.5; done
"$BIN" lake ls --data "$DATA"
echo
echo "Query it with DuckDB (duckdb CLI, or any DuckDB client), for example:"
echo "  SELECT level, count(*) FROM read_parquet('sluice-data/lake/logs.raw/**/*.parquet', hive_partitioning=true) GROUP BY level;"
if command -v duckdb >/dev/null 2>&1; then
  duckdb -c "SELECT level, count(*) FROM read_parquet('$DATA/lake/logs.raw/**/*.parquet', hive_partitioning=true) GROUP BY level ORDER BY 2 DESC"
fi
echo "Inspect and compact it with"
echo "  build/sluice lake schema <file.parquet>    build/sluice lake cat <file.parquet> --limit 3"
echo "  build/sluice lake compact --data $DATA     (merges the small files of hours that ended 1 h ago)"
echo
echo "The log lives in $DATA/log/<topic>/<partition>/; inspect it with"
echo "  build/sluice log topics --data $DATA"
echo "  build/sluice log tail logs.raw -f --data $DATA"
echo "  build/sluice log verify --data $DATA"
