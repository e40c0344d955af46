#!/usr/bin/env bash
# tests/fuzz/run-one.sh TARGET CORPUS_DIR SECONDS: one libFuzzer run, one ok/not ok line.
set -u
target=$1 corpus=$2 secs=$3
name=$(basename "$target")
out=$(mktemp)
"$target" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="${TMPDIR:-/tmp}/$name-" "$corpus" > "$out" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out")
if [ "$rc" -eq 0 ]; then
	echo "ok - $name: ${runs:-?} inputs in ${secs}s, no crash"
else
	tail -30 "$out"
	echo "not ok - $name: crash or leak (exit $rc), artifact under ${TMPDIR:-/tmp}/$name-*"
fi
rm -f "$out"
