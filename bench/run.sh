#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh: `make bench`. The tracer's own cost, in figures and ratios; not a
# test (nothing here passes or fails on a number).
#
#   1. host: build/bench/micro (bench/micro.c): the BPF aggregation logic
#      through raw_tp BPF_PROG_TEST_RUN against an empty program, and the
#      userspace side (collector_read, table/JSON//metrics rendering) for
#      256 devices.
#   2. guest (one intel-lazy boot through the flock'd tests/vm/vm.sh):
#      bench/guest.sh runs fio 4k randread QD1 O_DIRECT on nvme and TCP echo
#      over virtio-net with no tracer, `iommutrace stat`, bench/iommutrace.bt
#      and bench/empty.bt, interleaved; then the per-program BPF cost with
#      kernel.bpf_stats_enabled, including `stat -S 16`.
#   3. the report below, from $OUT/results.txt and the per-run files.
#
# Environment: BENCH_OUT (default build/bench/run), BENCH_ROUNDS (2),
# BENCH_SECS (8), BENCH_COST_SECS (6), BENCH_SAMPLE (16), BENCH_NO_VM=1
# (host part only), BENCH_REPORT_ONLY=1 (report from an existing BENCH_OUT).
# Exit: 0, 1 if a step could not run (its output says why).
#
# Under QEMU TCG the guest figures are ratios between tracers on one
# emulated machine, not hardware figures.

set -u -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
OUT=${BENCH_OUT:-$REPO/build/bench/run}
ROUNDS=${BENCH_ROUNDS:-2}
SECS=${BENCH_SECS:-8}
COST_SECS=${BENCH_COST_SECS:-6}
SAMPLE=${BENCH_SAMPLE:-16}
STATUS=0

for v in ROUNDS SECS COST_SECS SAMPLE; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: BENCH_$v='${!v}' is not a positive number" >&2; exit 2; }
done

host_part() {
	echo "== host microbenchmarks ($(uname -r), $(nproc) CPUs) =="
	make -s -C bench >/dev/null || { echo "bench: building bench/micro failed" >&2; return 1; }
	build/bench/micro | tee "$OUT/micro.txt"
}

guest_part() {
	local cmd

	command -v jq >/dev/null || { echo "bench: jq not found (apt-get install jq)" >&2; return 1; }
	[[ -x ./iommutrace ]] || { echo "bench: ./iommutrace not built (make)" >&2; return 1; }
	rm -rf "$OUT/guest"
	mkdir -p "$OUT/guest"
	cmd="BENCH_ROUNDS=$ROUNDS BENCH_SECS=$SECS BENCH_COST_SECS=$COST_SECS BENCH_SAMPLE=$SAMPLE"
	cmd+="; . tests/vm/lib.sh; . bench/guest.sh"
	echo
	echo "== guest: intel-lazy, $ROUNDS rounds x (base, iommutrace, bpftrace, empty hooks) x ${SECS}s fio + ${SECS}s TCP =="
	echo "bench: waiting for the VM lock, then about $((ROUNDS * 4 * (2 * SECS + 15) + 4 * (COST_SECS + 20) + 30)) s (TCG)" >&2
	flock /tmp/it-vm.lock /bin/bash -c '
		# other QEMUs on the host make TCG slower for everyone: note them
		echo "start: load $(cut -d" " -f1-3 /proc/loadavg), $(pgrep -c qemu-system) QEMU running" >"$1"
		# One host thread per vCPU, as docs/bench.md was measured: every
		# attach and detach here happens with the disk idle, outside the
		# window that makes vm.sh default to thread=single.
		IT_VM_ACCEL=${IT_VM_ACCEL:-tcg,thread=multi} \
			tests/vm/vm.sh run --iommu intel --mode lazy --timeout 560 --out "$2" -v -- "$3"
		rc=$?
		echo "end: load $(cut -d" " -f1-3 /proc/loadavg), $(pgrep -c qemu-system) QEMU running" >>"$1"
		exit $rc' bash "$OUT/host-load.txt" "$OUT/guest" "$cmd"
}

# mean_by MODE FIELD [PHASE]: mean of FIELD over the runs of MODE.
mean_by() {
	awk -v m="$1" -v f="$2" -v p="${3:-ratio}" '
	{ delete kv; for (i = 1; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] } }
	kv["mode"] == m && kv["phase"] == p && (f in kv) { s += kv[f]; n++ }
	END { if (n) printf "%.3f", s / n; else printf "nan" }' "$OUT/guest/results.txt"
}

# ratio_by MODE FIELD: mean over rounds of MODE's FIELD / base's FIELD in
# the same round (interleaving pairs each run with its neighbour baseline).
ratio_by() {
	awk -v m="$1" -v f="$2" '
	{ delete kv; for (i = 1; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] } }
	kv["phase"] == "ratio" && kv["mode"] == "base" { b[kv["round"]] = kv[f] }
	kv["phase"] == "ratio" && kv["mode"] == m { v[kv["round"]] = kv[f] }
	END { for (r in v) if (b[r] > 0) { s += v[r] / b[r]; n++ }
	      if (n) printf "%.3f", s / n; else printf "nan" }' "$OUT/guest/results.txt"
}

# lost TAG: the lost-event total of an iommutrace run's final JSON.
it_lost() {
	jq -s 'if length > 0 then .[-1].lost else "?" end' "$OUT/guest/$1.out" 2>/dev/null || echo "?"
}

report_ratio() {
	local m name iops tcp ri rt dt att cpu1 sys cpu hwm base_iops lost

	base_iops=$(mean_by base fio_iops)
	echo
	echo "-- workload (mean of $ROUNDS interleaved rounds; ratio = mean of per-round mode/base) --"
	printf '%-22s %9s %7s %9s %7s %12s %9s %10s %7s %10s %9s %6s\n' mode fio_IOPS ratio TCP_MB/s \
		ratio 'us/IO_extra' attach_s cpu_attach of_sys cpu_steady peak_MiB lost
	for m in base it bt empty; do
		case $m in
		base) name="no tracer" ;;
		it) name="iommutrace stat" ;;
		bt) name="bpftrace iommutrace.bt" ;;
		empty) name="bpftrace empty.bt" ;;
		esac
		iops=$(mean_by $m fio_iops)
		tcp=$(awk -v b="$(mean_by $m tcp_bytes)" -v s="$SECS" 'BEGIN { printf "%.2f", b / s / 1e6 }')
		ri=$(ratio_by $m fio_iops)
		rt=$(ratio_by $m tcp_bytes)
		# the time each IO gained: 1/IOPS - 1/IOPS(base)
		dt=$(awk -v a="$iops" -v b="$base_iops" 'BEGIN { printf "%.1f", 1e6 / a - 1e6 / b }')
		att=$(mean_by $m attach_s)
		cpu1=$(mean_by $m cpu_attach_s)
		sys=$(mean_by $m sys_total_s)
		cpu=$(awk -v t="$(mean_by $m cpu_total_s)" -v a="$cpu1" -v s="$SECS" \
			'BEGIN { if (t == "nan") print "nan"; else printf "%.1f%%", (t - a) / (2 * s) * 100 }')
		hwm=$(awk -v k="$(mean_by $m hwm_kb)" 'BEGIN { if (k == "nan") print "nan"; else printf "%.1f", k / 1024 }')
		lost=-
		if [[ $m == it ]]; then
			lost=$(for r in $(seq 1 "$ROUNDS"); do it_lost "ratio-$r-it"; done |
				awk '$1 == "?" { u = 1 } { s += $1 } END { print u ? "?" : s }')
		fi
		[[ $m == base ]] && att=- cpu1=- sys=- cpu=- hwm=- dt=0
		printf '%-22s %9.0f %7s %9s %7s %12s %9s %10s %7s %10s %9s %6s\n' "$name" "$iops" "$ri" \
			"$tcp" "$rt" "$dt" "$att" "$cpu1" "$sys" "$cpu" "$hwm" "$lost"
	done
	echo "(cpu_attach: CPU seconds to load+attach; of_sys: system CPU of the whole run; cpu_steady: CPU while the workload ran, % of one CPU)"
	echo "(us/IO_extra: 1e6/IOPS - 1e6/IOPS(no tracer), every hook's cost incl. trampolines)"
	echo "(lost, per iommutrace run: $(for f in "$OUT"/guest/*-it*.out; do
		printf '%s %s; ' "$(basename "$f" .out)" "$(jq -s -c '.[-1].lost_detail' "$f" 2>/dev/null)"; done))"
	report_counts
	echo "(TCP over QEMU user networking varies by 3x between identical runs: use the fio figures)"
}

# report_counts: both tracers' nvme map counts against fio's IOs (QD1,
# 4 KiB: one map per IO); the bpftrace script keys by struct device *.
report_counts() {
	local r ios itm btm

	for r in $(seq 1 "$ROUNDS"); do
		ios=$(awk -v r="$r" '$1 == "phase=ratio" && $2 == "round=" r && $3 == "mode=it" {
			sub(/fio_ios=/, "", $4); print $4 }' "$OUT/guest/results.txt")
		itm=$(jq -s '.[-1].devices[] | select(.driver == "nvme") | .map.count' \
			"$OUT/guest/ratio-$r-it.out" 2>/dev/null)
		btm=$(awk '/^@devname\[/ && $2 ~ /0000:00:04.0/ { k = $1; sub(/^@devname/, "@map", k); key = k }
			{ a[$1] = $2 } END { print (key in a) ? a[key] : "?" }' "$OUT/guest/ratio-$r-bt.out" 2>/dev/null)
		echo "(round $r nvme maps: iommutrace ${itm:-?} during fio's ${ios:-?} IOs;" \
			"bpftrace ${btm:-?} during its own run)"
	done
}

# cost_of TAG: "SUM_NS SUM_CNT NPROGS" over the run's BPF programs.
cost_of() {
	[[ -s $OUT/guest/$1.progs ]] || { echo "0 0 0"; return; }
	jq -s -r '[(map(.run_time_ns) | add), (map(.run_cnt) | add), length] | @tsv' \
		"$OUT/guest/$1.progs" | tr '\t' ' '
}

report_cost() {
	local m tag ios ns cnt np per_io per_run it_io empty_io bt_io

	echo
	echo "-- in-kernel BPF cost, kernel.bpf_stats_enabled=1, fio ${COST_SECS}s (run_time_ns / run_cnt) --"
	printf '%-22s %6s %10s %12s %10s %12s\n' mode progs runs run_ns ns/run ns/IO
	for m in it "it-S$SAMPLE" bt empty; do
		tag=cost-1-$m
		ios=$(awk -v m="$m" '{ delete kv; for (i = 1; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] } }
			kv["phase"] == "cost" && kv["mode"] == m { print kv["fio_ios"] }' "$OUT/guest/results.txt")
		read -r ns cnt np < <(cost_of "$tag")
		per_run=$(awk -v a="$ns" -v b="$cnt" 'BEGIN { if (b > 0) printf "%.0f", a / b; else print "nan" }')
		per_io=$(awk -v a="$ns" -v b="${ios:-0}" 'BEGIN { if (b > 0) printf "%.0f", a / b; else print "nan" }')
		printf '%-22s %6s %10s %12s %10s %12s\n' "$m" "$np" "$cnt" "$ns" "$per_run" "$per_io"
		case $m in
		it) it_io=$per_io ;;
		bt) bt_io=$per_io ;;
		empty) empty_io=$per_io ;;
		*) s_io=$per_io ;;
		esac
	done
	awk -v i="$it_io" -v e="$empty_io" -v b="$bt_io" -v s="$s_io" -v n="$SAMPLE" 'BEGIN {
		if (e > 0) printf "iommutrace / empty hooks, BPF ns per IO: %.2fx (target <= 1.3x)\n", i / e
		if (b > 0) printf "iommutrace / bpftrace,    BPF ns per IO: %.2fx (target <= 0.33x)\n", i / b
		if (i > 0) printf "-S %d / -S 1,              BPF ns per IO: %.2fx\n", n, s / i }'
	echo "(empty hooks: bpf_stats counts the programs only; trampoline entry/exit, the same for"
	echo " every fentry tracer, shows in us/IO_extra above)"
	echo
	echo "-- top iommutrace programs by run_time_ns (cost-1-it) --"
	jq -s -r 'sort_by(-.run_time_ns) | .[:8][] |
		"\(.name)\t\(.run_cnt) runs\t\(if .run_cnt > 0 then (.run_time_ns / .run_cnt | floor) else 0 end) ns/run"' \
		"$OUT/guest/cost-1-it.progs" 2>/dev/null | column -t
}

report() {
	[[ -s $OUT/guest/results.txt ]] || { echo "bench: no guest results in $OUT/guest" >&2; return 1; }
	echo
	echo "== guest report ($(tr '\n' ' ' <"$OUT/guest/env.txt")) =="
	if grep -q 'failed=1' "$OUT/guest/results.txt"; then
		echo "bench: some runs failed:" >&2
		grep 'failed=1' "$OUT/guest/results.txt" >&2
	fi
	[[ -s $OUT/host-load.txt ]] && sed 's/^/host /' "$OUT/host-load.txt"
	report_ratio
	report_cost
	echo
	echo "QEMU TCG: guest figures are ratios between tracers on one emulated machine, not hardware figures."
}

mkdir -p "$OUT"
if [[ ${BENCH_REPORT_ONLY:-} == 1 ]]; then
	report | tee "$OUT/report.txt"
	exit
fi
host_part || STATUS=1
if [[ ${BENCH_NO_VM:-} != 1 ]]; then
	guest_part || { echo "bench: the guest run failed (status $?)" >&2; STATUS=1; }
	report | tee "$OUT/report.txt" || STATUS=1
fi
exit $STATUS
