#!/usr/bin/env bash
# fuzz.sh - what `make fuzz` runs: build every fuzz/fuzz_*.c as a libFuzzer
# target and run each for N seconds (N = $1, default 30).
#
# The library (every src/**/*.c except src/main.c) is compiled once with
# clang and -fsanitize=fuzzer-no-link,address,undefined into
# build/fuzz/obj/ (incrementally: an object is rebuilt when its source or a
# header it includes changed, or the flags did) and archived; each target is
# linked against that archive with -fsanitize=fuzzer,address,undefined, so
# a new fuzz/fuzz_<name>.c is picked up with nothing else to declare. Fuzz
# sources may include tests/unit/*.h helpers (such as json_oracle.h).
#
# Each target runs over a copy of its seed corpus, fuzz/corpus/<name>/ if
# there is one, kept in build/fuzz/corpus-<name>/ (so what a run finds is
# the starting point of the next), with fuzz/<name>.dict as its dictionary
# if present. One line per target reports the outcome; the script exits
# non-zero if a target failed to build or found a crash, leak, UB or hang,
# and the line names the log and the reproducer libFuzzer wrote.
set -uo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-30}
case "$SECS" in ''|*[!0-9]*) echo "usage: scripts/fuzz.sh SECONDS_PER_TARGET" >&2; exit 2;; esac
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
JOBS=${JOBS:-$(nproc)}
PKGS="libmicrohttpd yaml-0.1 libzstd jansson libcurl zlib sqlite3 rdkafka snappy hiredis libpq"
VERSION=$(cat VERSION 2>/dev/null || echo 0.0.0)

command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang)" >&2; exit 1; }
DEPS_CFLAGS=$(pkg-config --cflags $PKGS 2>/dev/null) || { echo "fuzz: pkg-config failed for: $PKGS" >&2; exit 1; }
DEPS_LIBS="$(pkg-config --libs $PKGS) -lpthread -lm"

# UB is made fatal so that libFuzzer sees it as a crash.
COMMON="-std=gnu11 -g -O1 -D_GNU_SOURCE -Isrc -DSL_HAVE_SNAPPY -DSLUICE_VERSION=\"$VERSION\" $DEPS_CFLAGS \
 -fno-omit-frame-pointer -fno-sanitize-recover=undefined -Wall -Wextra -Wno-missing-field-initializers"
LIB_FLAGS="-fsanitize=fuzzer-no-link,address,undefined"
TARGET_FLAGS="-fsanitize=fuzzer,address,undefined"
export CC COMMON LIB_FLAGS OUT

mkdir -p "$OUT/obj"
# Objects built with other flags are stale.
stamp="$CC $COMMON $LIB_FLAGS"
if [ "$(cat "$OUT/obj/.flags" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$OUT/obj"
  mkdir -p "$OUT/obj"
  printf '%s' "$stamp" > "$OUT/obj/.flags"
fi

# Compile one library source if its object is missing or older than the
# source or any header listed in its dependency file.
compile_one() {
  local src=$1 obj="$OUT/obj/${1%.c}.o" dep f
  dep="${obj%.o}.d"
  if [ -f "$obj" ] && [ -f "$dep" ]; then
    local stale=0
    for f in $(sed -e 's/\\$//' "$dep"); do
      case "$f" in *:) continue;; esac
      if [ ! -e "$f" ] || [ "$f" -nt "$obj" ]; then stale=1; break; fi
    done
    [ $stale -eq 0 ] && return 0
  fi
  mkdir -p "$(dirname "$obj")"
  # shellcheck disable=SC2086
  $CC $COMMON $LIB_FLAGS -MMD -MP -c "$src" -o "$obj"
}
export -f compile_one

mapfile -t LIB_SRC < <(find src -name '*.c' ! -path src/main.c | sort)
if ! printf '%s\n' "${LIB_SRC[@]}" | xargs -r -P "$JOBS" -I{} bash -c 'compile_one "$1"' _ {}; then
  echo "fuzz: the library did not compile with $CC" >&2
  exit 1
fi
LIB="$OUT/libsluice-fuzz.a"
rm -f "$LIB"
# Only objects whose source still exists (a removed file leaves an old one).
objs=()
for s in "${LIB_SRC[@]}"; do objs+=("$OUT/obj/${s%.c}.o"); done
ar rcs "$LIB" "${objs[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
targets=(fuzz/fuzz_*.c)
if [ ! -e "${targets[0]}" ]; then
  echo "fuzz: no fuzz/fuzz_*.c targets"
  exit 0
fi
for src in "${targets[@]}"; do
  base=$(basename "$src" .c)   # fuzz_json
  name=${base#fuzz_}           # json
  bin="$OUT/$base"
  log="$OUT/$base.log"
  # shellcheck disable=SC2086
  if ! $CC $COMMON -Itests/unit $TARGET_FLAGS "$src" "$LIB" $DEPS_LIBS -o "$bin" > "$OUT/$base.build.log" 2>&1; then
    echo "$base: BUILD FAILED (see $OUT/$base.build.log)"
    tail -20 "$OUT/$base.build.log" >&2
    failed=1
    continue
  fi

  corpus="$OUT/corpus-$name"
  artifacts="$OUT/artifacts-$name/"
  mkdir -p "$corpus" "$artifacts"
  if [ -d "fuzz/corpus/$name" ]; then
    cp -n "fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
  fi
  dict=()
  [ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")

  "$bin" -max_total_time="$SECS" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="$artifacts" "${dict[@]}" "$corpus" > "$log" 2>&1
  rc=$?
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
  files=$(find "$corpus" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    echo "$base: ok, ${runs:-?} runs in ${SECS}s, corpus $files files"
  else
    repro=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -1)
    kind=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer|UndefinedBehaviorSanitizer)[^(]*|runtime error:.*|check failed:.*|disagree:.*' "$log" | head -1)
    echo "$base: FAILED (exit $rc) ${kind:-} - log $log${repro:+, reproducer $repro (replay: $bin $repro)}"
    failed=1
  fi
done
exit $failed
