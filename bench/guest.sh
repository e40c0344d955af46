# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# guest.sh: the in-guest half of `make bench`, sourced after tests/vm/lib.sh
# by bench/run.sh through tests/vm/vm.sh (intel-lazy). One boot:
#
#   1. ratio rounds, kernel.bpf_stats_enabled=0: per round, interleaved,
#      base (no tracer), it (iommutrace stat), bt (bench/iommutrace.bt),
#      empty (bench/empty.bt, empty hooks on the same attach points); each
#      runs fio 4k randread QD1 O_DIRECT on nvme then TCP echo over
#      virtio-net, BENCH_SECS each.
#   2. cost phase, kernel.bpf_stats_enabled=1: it, it -S 16, bt, empty over
#      fio only; the tracer's BPF programs' run_time_ns/run_cnt are read
#      with bpftool while it still runs.
#
# Results go to $IT_OUT: results.txt ("key=value ..." lines, one per run)
# and, per run, the tracer's output, stderr and bpftool JSON. run.sh reads
# them on the host.
#
# Environment: BENCH_ROUNDS (2), BENCH_SECS (8), BENCH_COST_SECS (6),
# BENCH_SAMPLE (16, the -S of the sampled run).

BENCH=$IT_REPO/bench
OUT=$IT_OUT
ROUNDS=${BENCH_ROUNDS:-2}
SECS=${BENCH_SECS:-8}
COST_SECS=${BENCH_COST_SECS:-6}
SAMPLE=${BENCH_SAMPLE:-16}
TICK=$(getconf CLK_TCK)
RES=$OUT/results.txt

bench_now() {
	date +%s.%N
}

# bench_prog_ids: ids of every loaded BPF program, one per line.
bench_prog_ids() {
	bpftool prog show -j 2>/dev/null | jq -r '.[].id' | sort -n
}

# bench_cpu PID: user+system CPU seconds of PID so far.
bench_cpu() {
	awk -v t="$TICK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"
}

# bench_sys PID: the system part of it (verifier, trampolines, map reads).
bench_sys() {
	awk -v t="$TICK" '{ sub(/^.*\) /, ""); printf "%.2f", $13 / t }' "/proc/$1/stat"
}

bench_hwm() {
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"
}

# tracer_start MODE TAG: start the tracer of MODE in the background; sets
# TPID, T_ATTACH (seconds from start to hooks attached), CPU0 and HOLD (the
# pid to end the session with). base starts nothing.
tracer_start() {
	local mode=$1 tag=$2 t0 i rdy

	TPID="" HOLD="" T_ATTACH=0 CPU0=0
	[ "$mode" = base ] && return 0
	rdy=$OUT/$tag.ready
	rm -f "$rdy"
	bench_prog_ids >"$OUT/$tag.ids-before"
	t0=$(bench_now)
	case $mode in
	it)
		./iommutrace stat -j -- /bin/sh "$BENCH/hold.sh" "$rdy" \
			>"$OUT/$tag.out" 2>"$OUT/$tag.err" &
		;;
	it-S*)
		./iommutrace stat -j -S "${mode#it-S}" -- /bin/sh "$BENCH/hold.sh" "$rdy" \
			>"$OUT/$tag.out" 2>"$OUT/$tag.err" &
		;;
	bt | empty)
		local script=$BENCH/iommutrace.bt

		[ "$mode" = empty ] && script=$BENCH/empty.bt
		bpftrace "$script" -c "/bin/sh $BENCH/hold.sh $rdy" \
			>"$OUT/$tag.out" 2>"$OUT/$tag.err" &
		;;
	esac
	TPID=$!
	i=0
	while [ ! -s "$rdy" ]; do
		if ! kill -0 "$TPID" 2>/dev/null || [ $i -ge 1200 ]; then
			echo "bench: $tag: tracer did not attach: $(tail -n 5 "$OUT/$tag.err")" >&2
			kill "$TPID" 2>/dev/null
			wait "$TPID"
			TPID=""
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
	read -r t1 HOLD <"$rdy"
	T_ATTACH=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	CPU0=$(bench_cpu "$TPID")
}

# tracer_stop TAG: note the tracer's CPU and peak RSS, end its session and
# wait for its final output. Prints "key=value" words.
tracer_stop() {
	local tag=$1 cpu1 hwm sys

	[ -n "$TPID" ] || return 0
	cpu1=$(bench_cpu "$TPID")
	sys=$(bench_sys "$TPID")
	hwm=$(bench_hwm "$TPID")
	kill "$HOLD" 2>/dev/null
	wait "$TPID"
	printf ' attach_s=%s cpu_attach_s=%s cpu_total_s=%s sys_total_s=%s hwm_kb=%s' \
		"$T_ATTACH" "$CPU0" "$cpu1" "$sys" "$hwm"
}

# bench_progs TAG: this tracer's programs (absent from the ids-before list)
# with their bpf_stats, as JSON lines {name, type, run_cnt, run_time_ns}.
bench_progs() {
	local tag=$1

	jq -R tonumber "$OUT/$tag.ids-before" | jq -s . >"$OUT/$tag.ids.json"
	bpftool prog show -j 2>/dev/null |
		jq -c --slurpfile before "$OUT/$tag.ids.json" \
			'.[] | select(.id as $i | $before[0] | any(. == $i) | not) |
			 {id, name, type, run_cnt: (.run_cnt // 0), run_time_ns: (.run_time_ns // 0)}' \
			>"$OUT/$tag.progs"
}

bench_fio() {
	local r

	r=$(wl_fio "$IT_NVME_BLK" "$1") || { echo " fio_ios=0 fio_iops=0"; return 1; }
	printf ' fio_ios=%s fio_iops=%s' "$(kv ios "$r")" "$(kv iops "$r")"
}

bench_tcp() {
	local r

	r=$(wl_tcp_echo "$IT_VNET_IF" "$1") || { echo " tcp_bytes=0"; return 1; }
	printf ' tcp_bytes=%s tcp_secs=%s' "$(kv bytes "$r")" "$1"
}

# bench_run PHASE ROUND MODE: one tracer session over the phase's workload.
bench_run() {
	local phase=$1 round=$2 mode=$3 tag line

	tag=$phase-$round-$mode
	echo "bench: $tag" >&2
	tracer_start "$mode" "$tag" || { echo "phase=$phase round=$round mode=$mode failed=1" >>"$RES"; return 1; }
	line="phase=$phase round=$round mode=$mode"
	line="$line$(bench_fio "$SECS")"
	if [ "$phase" = ratio ]; then
		line="$line$(bench_tcp "$SECS")"
	fi
	[ "$phase" = cost ] && [ -n "$TPID" ] && bench_progs "$tag"
	line="$line$(tracer_stop "$tag")"
	echo "$line" >>"$RES"
	echo "bench:   $line" >&2
}

bench_main() {
	local r m

	: >"$RES"
	echo "kernel=$(uname -r) config=$IT_CONFIG cpus=$(nproc) secs=$SECS rounds=$ROUNDS cost_secs=$COST_SECS sample=$SAMPLE clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" >"$OUT/env.txt"
	# load + attach + detach of every hook, as `iommutrace probes` does it
	r=$(bench_now)
	./iommutrace probes >"$OUT/probes.txt" 2>&1
	echo "probes_s=$(awk -v a="$r" -v b="$(bench_now)" "BEGIN { printf \"%.3f\", b - a }")" >>"$OUT/env.txt"
	echo 0 >/proc/sys/kernel/bpf_stats_enabled
	r=1
	while [ $r -le "$ROUNDS" ]; do
		for m in base it bt empty; do
			bench_run ratio $r $m
		done
		r=$((r + 1))
	done
	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	SECS=$COST_SECS
	for m in it "it-S$SAMPLE" bt empty; do
		bench_run cost 1 "$m"
	done
	echo 0 >/proc/sys/kernel/bpf_stats_enabled
}

bench_main
