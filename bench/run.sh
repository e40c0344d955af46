#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh: `make bench`. The tracer's own cost, in one table; not a test
# (nothing here passes or fails on a number).
#
#   1. host: build/bench/micro (bench/micro.c): the BPF aggregation logic
#      through raw_tp BPF_PROG_TEST_RUN against an empty program, and the
#      userspace side (collector_read, table/JSON//metrics rendering) for
#      256 devices; then the real exporter's memory with 256 busy devices
#      (bench/export-rss.sh: peak and resident set, as Prometheus scrapes).
#   2. guest: one intel-lazy boot (tests/vm/vm.sh, TSC clocksource,
#      round-robin TCG) running bench/guest.sh: no tracer, empty hooks,
#      iommutrace lean, --lossless and --deep, bpftrace equivalents, interleaved
#      rounds of fio 4k randread QD1 on nvme; then lost events under nvme +
#      virtio-net traffic at once.
#   3. the table (build/bench/run/report.txt), also written into
#      docs/bench.md between its bench-table markers.
#
# Run it with nothing else heavy beside it: one VM, timings as ratios.
# Environment: BENCH_OUT (default build/bench/run), BENCH_ROUNDS (4),
# BENCH_SECS (8), BENCH_COST_SECS (5), BENCH_NO_VM=1 (host part only),
# BENCH_MODES (the tracers compared, default all six), BENCH_MIXED (the
# modes of the mixed-traffic part, default "lean lossless deep"),
# BENCH_REPORT_ONLY=1 (report from an existing BENCH_OUT), BENCH_DOC (the
# page the table goes into, default docs/bench.md; "-" for none).
# Exit: 0; 1 if a step could not run (its output says why); 2 bad knob.
#
# Under QEMU TCG the guest figures are ratios between tracers on one
# emulated machine, not hardware figures.

set -u -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
OUT=${BENCH_OUT:-$REPO/build/bench/run}
ROUNDS=${BENCH_ROUNDS:-4}
SECS=${BENCH_SECS:-8}
COST_SECS=${BENCH_COST_SECS:-5}
DOC=${BENCH_DOC:-docs/bench.md}
G=$OUT/guest
STATUS=0

for v in ROUNDS SECS COST_SECS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_$v='${!v}' is not a positive number" >&2; exit 2; }
done

host_part() {
	echo "== host microbenchmarks ($(uname -r), $(nproc) CPUs) =="
	make -s build/bench/micro >/dev/null || { echo "bench: building bench/micro failed" >&2; return 1; }
	build/bench/micro | tee "$OUT/micro.txt"
	echo "== the exporter with 256 devices (bench/export-rss.sh) =="
	make -s build/bench/devfill >/dev/null &&
		bench/export-rss.sh | tee "$OUT/export-rss.txt"
}

guest_part() {
	local cmd

	command -v jq >/dev/null || { echo "bench: jq not found (apt-get install jq)" >&2; return 1; }
	[[ -x ./iommutrace ]] || { echo "bench: ./iommutrace not built (make)" >&2; return 1; }
	rm -rf "$G"
	mkdir -p "$G"
	cmd="BENCH_ROUNDS=$ROUNDS BENCH_SECS=$SECS BENCH_COST_SECS=$COST_SECS"
	[ -n "${BENCH_MODES:-}" ] && cmd+=" BENCH_MODES='$BENCH_MODES'"
	[ -n "${BENCH_MIXED+x}" ] && cmd+=" BENCH_MIXED='$BENCH_MIXED'"
	cmd+="; . tests/vm/lib.sh; . bench/guest.sh"
	echo
	echo "== guest: intel-lazy, $ROUNDS rounds x 6 tracers, each between two no-tracer sessions, x (${SECS}s fio + ${COST_SECS}s fio with bpf_stats), then nvme + virtio-net =="
	echo "bench: about $((ROUNDS * (12 * SECS + 6 * COST_SECS + 130) + 4 * SECS + 100)) s of TCG" >&2
	# other QEMUs on the host make TCG slower for everyone: note them
	echo "start: $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg), $(pgrep -c qemu-system) QEMU running" \
		>"$OUT/host-load.txt"
	# Round-robin TCG (one host thread for both vCPUs, vm.sh's default):
	# MTTCG can hang the guest when fentry text is patched beside DMA, and
	# one host thread leaves the other core to the rest of the machine.
	# TSC clocksource: bpf_ktime_get_ns is then not an emulated HPET read.
	IT_VM_ACCEL=${IT_VM_ACCEL:-tcg,thread=single} \
		tests/vm/vm.sh run --iommu intel --mode lazy --timeout 1500 \
		--append "clocksource=tsc tsc=reliable" --out "$G" -v -- "$cmd"
	local rc=$?
	echo "end: $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg), $(pgrep -c qemu-system) QEMU running" \
		>>"$OUT/host-load.txt"
	return $rc
}

# field PHASE MODE KEY [ROUND]: KEY's values over the matching sessions.
field() {
	awk -v p="$1" -v m="$2" -v f="$3" -v r="${4:-}" '
	{ delete kv; for (i = 1; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] } }
	kv["phase"] == p && kv["mode"] == m && (r == "" || kv["round"] == r) && (f in kv) && !kv["failed"] {
		print kv[f] }' "$G/results.txt"
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "nan";
		else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# kept_list MODE: per session of MODE, its IOPS / the mean of the base
# sessions just before and just after it (results.txt is in run order)
kept_list() {
	awk -v m="$1" '
	{ delete kv; for (i = 1; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] } }
	kv["phase"] != "ratio" || kv["failed"] { next }
	kv["mode"] == "base" { if (pend != "" && prev > 0) printf "%.3f\n", pend / ((prev + kv["fio_iops"]) / 2)
			      pend = ""; prev = kv["fio_iops"]; next }
	{ pend = kv["mode"] == m ? kv["fio_iops"] : "" }' "$G/results.txt"
}

# per_io MODE KEY: per round, KEY / cost_ios
per_io_list() {
	paste <(field ratio "$1" "$2") <(field ratio "$1" cost_ios) |
		awk '$2 > 0 { printf "%.2f\n", $1 / $2 }'
}

# lost TAG: "TOTAL" or "TOTAL (why N, ...)" from an iommutrace session's
# last JSON document (.lost, .lost_detail)
it_lost() {
	jq -s -r 'if length > 0 then "\(.[-1].lost)" + ([.[-1].lost_detail | to_entries[] |
		select(.value > 0) | "\(.key) \(.value)"] | if length > 0 then " (" + join(", ") + ")"
		else "" end) else "?" end' "$G/$1.out" 2>/dev/null || echo "?"
}

# recursion_of TAG: programs whose runs the kernel skipped, "name N, ..."
recursion_of() {
	[[ -s $G/$1.progs-after ]] || { echo "?"; return; }
	jq -s -r 'map(select(.recursion_misses > 0)) | sort_by(-.recursion_misses) |
		if length == 0 then "0" else map("\(.name) \(.recursion_misses)") | join(", ") end' \
		"$G/$1.progs-after"
}

it_maps() {
	jq -s -r '.[-1].totals.map.count // "?"' "$G/$1.out" 2>/dev/null || echo "?"
}

# ran PHASE MODE: MODE has sessions of PHASE (BENCH_MODES/BENCH_MIXED may leave some out)
ran() {
	grep -q "phase=$1 .*mode=$2 " "$G/results.txt" 2>/dev/null
}

mode_name() {
	case $1 in
	base) echo "no tracer" ;;
	empty) echo "empty hooks (bpftrace, lean attach points)" ;;
	lean) echo "**iommutrace stat** (lean default)" ;;
	lossless) echo "iommutrace stat --lossless" ;;
	deep) echo "iommutrace stat --deep" ;;
	btlean) echo "bpftrace iommutrace-lean.bt" ;;
	btdeep) echo "bpftrace iommutrace.bt (deep)" ;;
	esac
}

fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "nan" || v == "") print "—"; else printf f, v }'; }

# the figures of MODE, in globals (medians over rounds)
mode_figures() {
	K=$(kept_list "$1" | median)
	KL=$(kept_list "$1" | tr '\n' ' ')
	IOPS=$(field ratio "$1" fio_iops | median)
	NS=$(per_io_list "$1" run_ns | median)
	RUNS=$(per_io_list "$1" runs | median)
	NP=$(field ratio "$1" progs | median)
	HWM=$(field ratio "$1" hwm_kb | median)
	START=$(field ratio "$1" start_s | median)
	STOP=$(field ratio "$1" stop_s | median)
	LOST=—
	if [[ $1 == lean || $1 == lossless || $1 == deep ]]; then
		LOST=$(for r in $(field ratio "$1" round); do it_lost "ratio-$r-$1"; done | paste -sd';' | sed 's/;/; /g')
	fi
}

table() {
	local m

	echo "| mode | IOPS kept (median; per round) | fio IOPS | BPF ns per IO | program runs per IO | programs | lost (per round) | RSS MiB | start-up s | stop s |"
	echo "|---|---|---|---|---|---|---|---|---|---|"
	for m in base empty lean lossless deep btlean btdeep; do
		ran ratio "$m" || continue
		mode_figures "$m"
		if [[ $m == base ]]; then
			printf '| %s | 1 | %s | — | — | — | — | — | — | — |\n' "$(mode_name $m)" "$(fmt "$IOPS" %.0f)"
			continue
		fi
		printf '| %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$(mode_name $m)" \
			"$(fmt "$K" %.3f)" "${KL% }" "$(fmt "$IOPS" %.0f)" "$(fmt "$NS" %.0f)" \
			"$(fmt "$RUNS" %.2f)" "$(fmt "$NP" %.0f)" "$LOST" \
			"$(fmt "$(awk -v k="$HWM" 'BEGIN { print k == "nan" ? k : k / 1024 }')" %.1f)" \
			"$(fmt "$START" %.2f)" "$(fmt "$STOP" %.2f)"
	done
}

mixed_table() {
	local m l

	echo "| tracer | fio IOPS | TCP MB echoed | iommu maps counted | lost | runs the kernel skipped (recursion_misses) |"
	echo "|---|---|---|---|---|---|"
	for m in lean lossless deep; do
		ran mixed "$m" || continue
		l=$(it_lost "mixed-$m")
		printf '| %s | %s | %s | %s | %s | %s |\n' "$(mode_name $m)" "$(field mixed $m fio_iops)" \
			"$(awk -v b="$(field mixed $m tcp_bytes)" 'BEGIN { printf "%.1f", b / 1e6 }')" \
			"$(it_maps "mixed-$m")" "$l" "$(recursion_of "mixed-$m")"
	done
}

# implied_kept NS IOPS: the IOPS kept if the programs' own time were all a
# tracer added to each IO: 1 / (1 + NS * IOPS / 1e9). Host load barely
# moves it, unlike the measured ratio.
implied_kept() {
	awk -v n="$1" -v i="$2" 'BEGIN { if (n == "nan" || i == "nan") print "nan"; else printf "%.3f", 1 / (1 + n * i / 1e9) }'
}

# verdicts against issue 18's targets
targets() {
	local kl sl sb stl stb hwm nl nb base il ib l m

	base=$(field ratio base fio_iops | median)
	mode_figures lean
	kl=$K stl=$START hwm=$HWM nl=$NS
	mode_figures btlean
	stb=$START nb=$NS
	il=$(implied_kept "$nl" "$base")
	ib=$(implied_kept "$nb" "$base")
	sl=$(awk -v k="$kl" 'BEGIN { print 1 - k }')
	sb=$(awk -v k="$K" 'BEGIN { print 1 - k }')
	echo "| target (issue 18) | measured | met? |"
	echo "|---|---|---|"
	awk -v k="$kl" -v i="$il" 'BEGIN { printf "| lean keeps >= 95 %% of no-tracer IOPS (goal 97 %%) | %.1f %% measured (median); %.1f %% implied by its BPF ns per IO alone | %s |\n",
		k * 100, i * 100, (k >= 0.95 ? "yes" : "**no**") }'
	awk -v a="$sl" -v b="$sb" -v na="$nl" -v nb="$nb" -v il="$il" -v ib="$ib" 'BEGIN { printf "| lean slowdown <= 1/3 of bpftrace'"'"'s (iommutrace-lean.bt) | IOPS lost %.1f %% vs %.1f %%: %s; BPF ns per IO %.0f vs %.0f: %.2fx (implied IOPS lost %.1f %% vs %.1f %%) | %s |\n",
		a * 100, b * 100, (b > 0 ? sprintf("%.2fx", a / b) : "n/a"), na, nb, na / nb, (1 - il) * 100, (1 - ib) * 100,
		((b > 0 && a <= b / 3) ? "yes" : "**no**") }'
	if ran ratio empty; then
		mode_figures empty
		awk -v e="$K" -v l="$kl" -v b="$(awk -v s="$sb" 'BEGIN { print 1 - s }')" 'BEGIN { printf "| (no target) the floor: empty programs on lean'"'"'s attach points | keep %.1f %% (median): what any tracer of these hooks pays for the kernel to call it; above it lean loses %.1f points of IOPS, bpftrace %.1f (%s) | — |\n",
			e * 100, (e - l) * 100, (e - b) * 100, (e - b > 0 ? sprintf("%.2fx", (e - l) / (e - b)) : "n/a") }'
	fi
	if ran ratio lossless; then
		mode_figures lossless
		awk -v a="$NS" -v b="$nb" -v k="$K" -v r="$RUNS" 'BEGIN { printf "| --lossless (lost = 0) slowdown <= 1/3 of bpftrace'"'"'s | BPF ns per IO %.0f vs %.0f: %.2fx; %.2f runs per IO; IOPS kept %.1f %% | %s |\n",
			a, b, a / b, r, k * 100, (a <= b / 3 ? "yes" : "**no**") }'
	fi
	awk -v a="$stl" -v b="$stb" 'BEGIN { printf "| start-up <= half of bpftrace'"'"'s | %.2f s vs %.2f s: %.2fx | %s |\n",
		a, b, a / b, (a <= b / 2 ? "yes" : "**no**") }'
	awk -v k="$hwm" 'BEGIN { printf "| RSS <= 16 MiB | %.1f MiB (VmHWM) | %s |\n", k / 1024, (k <= 16384 ? "yes" : "**no**") }'
	for m in lean lossless deep; do
		ran mixed "$m" || continue
		l=$(it_lost "mixed-$m")
		printf '| lost = 0 under nvme + virtio-net (%s) | %s | %s |\n' "$m" "${l%% *}" \
			"$([[ ${l%% *} == 0 ]] && echo yes || echo '**no**')"
	done
}

report() {
	[[ -s $G/results.txt ]] || { echo "bench: no guest results in $G" >&2; return 1; }
	if grep -q 'failed=1' "$G/results.txt"; then
		echo "bench: some sessions failed:" >&2
		grep 'failed=1' "$G/results.txt" >&2
	fi
	echo "<!-- bench-table:begin (written by bench/run.sh) -->"
	echo "Guest: $(tr '\n' ' ' <"$G/env.txt")"
	echo
	[[ -s $OUT/host-load.txt ]] && sed 's/^/Host /; s/$/  /' "$OUT/host-load.txt" && echo
	table
	echo
	echo "Under nvme fio and virtio-net TCP echo at once (${SECS} s):"
	echo
	mixed_table
	echo
	targets
	echo "<!-- bench-table:end -->"
}

# doc_update FILE: replace the table between the markers of FILE
doc_update() {
	[[ $DOC == - || ! -f $DOC ]] && return 0
	grep -q '<!-- bench-table:begin' "$DOC" || { echo "bench: $DOC has no bench-table markers" >&2; return 1; }
	awk -v t="$1" '
		/<!-- bench-table:begin/ { while ((getline l < t) > 0) print l; skip = 1; next }
		/<!-- bench-table:end/ { skip = 0; next }
		!skip' "$DOC" >"$DOC.tmp" && mv "$DOC.tmp" "$DOC"
	echo "bench: table written into $DOC" >&2
}

mkdir -p "$OUT"
if [[ ${BENCH_REPORT_ONLY:-} != 1 ]]; then
	host_part || STATUS=1
	[[ ${BENCH_NO_VM:-} == 1 ]] && exit $STATUS
	guest_part || { echo "bench: the guest run failed (status $?)" >&2; STATUS=1; }
fi
echo
report >"$OUT/report.txt" || exit 1
cat "$OUT/report.txt"
doc_update "$OUT/report.txt" || STATUS=1
exit $STATUS
