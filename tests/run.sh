#!/usr/bin/env bash
# Runs test suites and counts their "ok - " / "not ok - " lines.
# Usage: tests/run.sh [all|unit|bpf|export|fuzz|vm]...   Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(all)
[ "${suites[0]}" = all ] && suites=(unit bpf export fuzz vm)

passed=0
failed=0
t0=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_one NAME CMD...: runs CMD, shows its output, adds its counts
run_one() {
	local name=$1 rc p f
	shift
	echo "# --- $name"
	"$@" > "$log" 2>&1
	rc=$?
	cat "$log"
	p=$(grep -c '^ok - ' "$log")
	f=$(grep -c '^not ok - ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc"
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name ran no check"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

suite_unit() {
	local t
	for t in build/tests/unit/test_*; do
		[ -x "$t" ] && run_one "unit $(basename "$t")" "$t"
	done
	run_one "cli" tests/cli.sh
}

suite_bpf() {
	local t
	for t in build/tests/bpf/test_*; do
		[ -x "$t" ] && run_one "bpf $(basename "$t")" "$t"
	done
}

# the exporter over real HTTP on loopback, and the dashboard through a real Prometheus
suite_export() {
	local t
	for t in tests/export/test_*.sh; do
		run_one "export $(basename "$t")" "$t"
	done
}

# libFuzzer targets, briefly, over a corpus seeded from tests/fixtures
suite_fuzz() {
	local t name corpus secs=${FUZZ_SECONDS:-15}
	for t in build/fuzz/fuzz_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		corpus=$(mktemp -d)
		[ -d "tests/fuzz/corpus/${name#fuzz_}" ] && cp -r "tests/fuzz/corpus/${name#fuzz_}/." "$corpus/"
		[ -d "tests/fixtures/${name#fuzz_}" ] && find "tests/fixtures/${name#fuzz_}" -maxdepth 1 \
			-type f ! -name '*.py' ! -name '*.md' -exec cp {} "$corpus/" \;
		run_one "fuzz $name" tests/fuzz/run-one.sh "$t" "$corpus" "$secs"
		rm -rf "$corpus"
	done
}

suite_vm() {
	run_one "vm" tests/vm/suite.sh ${IT_VM_CONFIGS:-}
}

for s in "${suites[@]}"; do
	case "$s" in
	unit|bpf|export|fuzz|vm) "suite_$s" ;;
	*) echo "unknown suite '$s' (all, unit, bpf, export, fuzz, vm)" >&2; exit 2 ;;
	esac
done

secs=$(($(date +%s) - t0))
printf '# tests/run.sh %s: took %dm%02ds\n' "${suites[*]}" $((secs / 60)) $((secs % 60))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
