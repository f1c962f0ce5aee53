#!/usr/bin/env bash
# test.sh - what `make test` runs: build plain and ASan+UBSan, then run the
# unit tests (Criterion) and the end-to-end tests (node --test, driving the
# real binary) against both builds. Ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
passed=0
failed=0
failures=()
failed_names=()

make -j"$JOBS" --no-print-directory all unit || exit 1
make -j"$JOBS" --no-print-directory BUILD=build/asan SANITIZE=1 all unit || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_unit() { # build dir
  local dir=$1 t out synth
  for t in "$dir"/tests/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" --jobs 2 2>&1)
    local rc=$?
    synth=$(printf '%s\n' "$out" | grep -E 'Synthesis: Tested' | tail -1)
    local tested pass
    tested=$(printf '%s' "$synth" | sed -nE 's/.*Tested: ([0-9]+).*/\1/p')
    pass=$(printf '%s' "$synth" | sed -nE 's/.*Passing: ([0-9]+).*/\1/p')
    tested=${tested:-0}; pass=${pass:-0}
    passed=$((passed + pass))
    if [ $rc -ne 0 ] || [ "$tested" -ne "$pass" ] || [ "$tested" -eq 0 ]; then
      failed=$((failed + (tested > pass ? tested - pass : 1)))
      failures+=("$t")
      printf '%s\n' "$out" | tail -40
    fi
    echo "unit $(basename "$dir") $(basename "$t"): $synth"
  done
}

run_e2e() { # label, binary
  local label=$1 bin=$2 out rc p f
  [ -d tests/e2e ] || return 0
  out=$(SLUICE_BIN="$PWD/$bin" SLUICE_TOOLS="$PWD/$(dirname "$bin")/tools" \
        node --test --test-concurrency=1 tests/e2e/ 2>&1)
  rc=$?
  p=$(printf '%s\n' "$out" | sed -nE 's/^# pass ([0-9]+)/\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -nE 's/^# fail ([0-9]+)/\1/p' | tail -1)
  p=${p:-0}; f=${f:-0}
  passed=$((passed + p)); failed=$((failed + f))
  if [ $rc -ne 0 ] || [ "$f" -ne 0 ]; then
    [ "$f" -eq 0 ] && failed=$((failed + 1))
    printf '%s\n' "$out" | grep -vE '^# (Subtest|tests|suites|cancelled|skipped|todo|duration_ms)' | tail -120
    # Name the failed tests again last, where a truncated log still shows them.
    local names
    names=$(printf '%s\n' "$out" | sed -nE 's/^ *not ok [0-9]+ - (.*)$/  \1/p')
    failures+=("e2e ($label)")
    [ -n "$names" ] && failed_names+=("e2e $label:" "$names")
  fi
  echo "e2e $label: $p passed, $f failed"
}

run_unit build
run_unit build/asan
run_e2e plain build/sluice
run_e2e asan build/asan/sluice

if [ ${#failures[@]} -gt 0 ]; then
  [ ${#failed_names[@]} -gt 0 ] && printf '%s\n' "${failed_names[@]}"
  echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
