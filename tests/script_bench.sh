#!/usr/bin/env bash
# weft-bench smoke test: every suite runs for a few milliseconds in this build (its
# correctness checks must pass), bad input exits 2, and compare and plot run on the
# recorded fixtures in bench/fixtures/ (plot accepts a machine without gnuplot).
set -euo pipefail
src=$1 bin=$2 sanitize=${3:-}
wb="$bin/bench/weft-bench"
if [ ! -x "$wb" ]; then
	echo "weft-bench not built (WEFT_BUILD_BENCH=OFF): skipped"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case "$sanitize" in
thread) export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$src/tests/tsan.supp" ;;
address) export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" ;;
esac

expect() { # expect CODE CMD...: run CMD, require exit status CODE
	local want=$1 rc=0
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: '$*' exited $rc, expected $want"; cat "$tmp/out" "$tmp/err"; exit 1
	fi
}

echo "== every suite, a few milliseconds each"
quick=(--threads 1,3 --duration 3ms --warmup 1ms --repeat 2 --quiet)
expect 0 "$wb" all "${quick[@]}" --json "$tmp/all.json" --csv "$tmp/all.csv"
cat "$tmp/out"
grep -q '"schema": "weft-bench/1"' "$tmp/all.json"
grep -q '^suite,variant,impl,threads' "$tmp/all.csv"
if grep -q '"status": "failed"' "$tmp/all.json"; then echo "FAIL: a figure failed"; exit 1; fi
for s in counter mutex rwlock queue reclaim sched fiber; do
	grep -q "\"suite\": \"$s\"" "$tmp/all.json" || { echo "FAIL: no $s figures"; exit 1; }
done
echo "== ops mode, fixed queue shape, pinning, --out-dir"
expect 0 "$wb" counter queue --ops 20000 --threads 1,3 --warmup 0 --repeat 1 --quiet --pin
expect 0 "$wb" queue --producers 3 --consumers 1 --duration 5ms --warmup 1ms --repeat 1 --quiet
expect 0 "$wb" mutex rwlock --cs-ns 100 --read-pct 50,90 --threads 2 --duration 5ms \
	--warmup 0 --repeat 1 --out-dir "$tmp/outdir/nested" --quiet
test -s "$tmp/outdir/nested/run.json" && test -s "$tmp/outdir/nested/run.csv"

echo "== bad input exits 2 with the valid choices"
expect 2 "$wb" nosuch
grep -q "valid choices" "$tmp/err"
expect 2 "$wb" counter --threads 0
expect 2 "$wb" counter --threads 1025
expect 2 "$wb" counter --threads 1,x
expect 2 "$wb" counter --impl nosuch
grep -q "padded_slots" "$tmp/err"
expect 2 "$wb" counter --bogus
expect 2 "$wb" counter --duration -1
expect 2 "$wb" rwlock --read-pct 101
expect 2 "$wb" queue --producers 2
expect 2 "$wb" compare "$src/bench/fixtures/old.json"
expect 0 "$wb" --list
grep -q "padded_slots" "$tmp/out"
expect 0 "$wb" --help
if "$wb" --list | grep '^  go ' >/dev/null; then
	echo "== the Go peer's answers are checked (a fake go_peer answers wrong sums)"
	printf '#!/bin/sh\nwhile read job n t; do echo "1 100"; done\n' >"$tmp/fake_go_peer"
	chmod +x "$tmp/fake_go_peer"
	expect 1 env WEFT_BENCH_GO_PEER="$tmp/fake_go_peer" "$wb" sched --impl go --threads 1 \
		--duration 2ms --warmup 0 --repeat 1 --quiet
	grep -q "fib returned a wrong sum" "$tmp/out" "$tmp/err"
	expect 1 env WEFT_BENCH_GO_PEER="$tmp/fake_go_peer" "$wb" fiber --impl go \
		--duration 2ms --warmup 0 --repeat 1 --quiet
	grep -q "turn count is not twice the rounds" "$tmp/out" "$tmp/err"
fi
echo "== an unwritable output path fails before the run"
expect 1 "$wb" counter --json /nonexistent-dir/x.json --threads 1 --duration 5ms --repeat 1
grep -q "nothing was run" "$tmp/err"
! grep -q "== counter" "$tmp/out"

echo "== compare on the recorded fixtures"
expect 0 "$wb" compare "$src/bench/fixtures/old.json" "$src/bench/fixtures/new.json"
cat "$tmp/out"
grep -q "figures compared" "$tmp/out"
grep -q "padded_slots .* faster" "$tmp/out"
sed 's/"suites": \["counter", "mutex", "rwlock"\]/"suites": ["counter"]/' \
	"$src/bench/fixtures/new.json" >"$tmp/other-suites.json"
expect 2 "$wb" compare "$src/bench/fixtures/old.json" "$tmp/other-suites.json"
grep -q "different suites" "$tmp/err"
sed 's#weft-bench/1#weft-bench/0#' "$src/bench/fixtures/new.json" >"$tmp/old-schema.json"
expect 2 "$wb" compare "$src/bench/fixtures/old.json" "$tmp/old-schema.json"
grep -q "schema" "$tmp/err"

echo "== plot on a recorded fixture"
if command -v gnuplot >/dev/null; then
	expect 0 "$wb" plot "$src/bench/fixtures/new.json" -o "$tmp/plots"
	for s in counter mutex rwlock; do test -s "$tmp/plots/$s.svg"; done
	grep -q "<svg" "$tmp/plots/counter.svg"
else
	expect 3 "$wb" plot "$src/bench/fixtures/new.json" -o "$tmp/plots"
	grep -q "gnuplot" "$tmp/err"
	echo "gnuplot missing: plot said so (accepted)"
fi
echo "weft-bench smoke: passed"
