# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# guest.sh: the in-guest half of `make bench`, sourced after tests/vm/lib.sh
# by bench/run.sh through tests/vm/vm.sh (intel-lazy, TSC clocksource). One
# boot, every row of the table:
#
#   1. `iommutrace probes -j` and `probes -j --deep`: what each mode attaches.
#   2. BENCH_ROUNDS rounds; each runs, in this order, one session of
#        base    no tracer
#        empty   bpftrace bench/empty.bt (empty bodies, lean attach points)
#        lean    iommutrace stat -j (the lean default)
#        lossless  iommutrace stat -j --lossless (lean with the hot hooks' twins)
#        btlean  bpftrace bench/iommutrace-lean.bt (lean's equivalent)
#        deep    iommutrace stat -j --deep
#        btdeep  bpftrace bench/iommutrace.bt (--deep's equivalent)
#      each followed by a base session (and one base opens the first
#      round), so every tracer session sits between two baselines a few
#      seconds away: the ratio to their mean cancels the drift of a host
#      shared with other VMs. A session: start the tracer and wait until
#      its command starts (start-up time); fio 4k randread QD1 on nvme for
#      BENCH_SECS with kernel.bpf_stats_enabled=0 (IOPS); then
#      bpf_stats_enabled=1 and fio again for BENCH_COST_SECS, with the
#      tracer's programs' run_time_ns/run_cnt read by bpftool before and
#      after (BPF ns and program runs per IO); VmHWM; end the command and
#      time the tracer's exit (stop time).
#   3. mixed: lean, lossless and deep under fio on nvme and TCP echo over
#      virtio-net at once for BENCH_SECS: lost events.
#
# Results go to $IT_OUT: results.txt ("key=value ..." lines, one per
# session), env.txt, and per session the tracer's output, stderr and the
# bpftool JSON. run.sh reads them on the host.
#
# Environment: BENCH_ROUNDS (4), BENCH_SECS (8), BENCH_COST_SECS (5).

BENCH=$IT_REPO/bench
OUT=$IT_OUT
ROUNDS=${BENCH_ROUNDS:-4}
SECS=${BENCH_SECS:-8}
COST_SECS=${BENCH_COST_SECS:-5}
RES=$OUT/results.txt
MODES=${BENCH_MODES:-"empty lean lossless btlean deep btdeep"}

bench_now() {
	date +%s.%N
}

bench_since() {
	awk -v a="$1" -v b="$(bench_now)" 'BEGIN { printf "%.3f", b - a }'
}

bench_hwm() {
	awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"
}

# bench_prog_ids: ids of every loaded BPF program, as a JSON array.
bench_prog_ids() {
	bpftool prog show -j 2>/dev/null | jq -c '[.[].id]'
}

# tracer_start MODE TAG: start MODE's tracer in the background and wait
# until its command runs; sets TPID, HOLD (the pid that ends the session)
# and T_START (seconds from start to the command's start).
tracer_start() {
	local mode="$1" tag="$2" t0 i rdy

	TPID="" HOLD="" T_START=0
	[ "$mode" = base ] && return 0
	rdy=$OUT/$tag.ready
	rm -f "$rdy"
	bench_prog_ids >"$OUT/$tag.ids-before"
	t0=$(bench_now)
	case $mode in
	lean) ./iommutrace stat -j -- /bin/sh "$BENCH/hold.sh" "$rdy" \
		>"$OUT/$tag.out" 2>"$OUT/$tag.err" & ;;
	lossless) ./iommutrace stat -j --lossless -- /bin/sh "$BENCH/hold.sh" "$rdy" \
		>"$OUT/$tag.out" 2>"$OUT/$tag.err" & ;;
	deep) ./iommutrace stat -j --deep -- /bin/sh "$BENCH/hold.sh" "$rdy" \
		>"$OUT/$tag.out" 2>"$OUT/$tag.err" & ;;
	# bpftrace -c: through /bin/sh (a script on the 9p root cannot be run directly)
	empty) bpftrace "$BENCH/empty.bt" -c "/bin/sh $BENCH/hold.sh $rdy" \
		>"$OUT/$tag.out" 2>"$OUT/$tag.err" & ;;
	btlean) bpftrace "$BENCH/iommutrace-lean.bt" -c "/bin/sh $BENCH/hold.sh $rdy" \
		>"$OUT/$tag.out" 2>"$OUT/$tag.err" & ;;
	btdeep) bpftrace "$BENCH/iommutrace.bt" -c "/bin/sh $BENCH/hold.sh $rdy" \
		>"$OUT/$tag.out" 2>"$OUT/$tag.err" & ;;
	esac
	TPID=$!
	i=0
	while [ ! -s "$rdy" ]; do
		if ! kill -0 "$TPID" 2>/dev/null || [ $i -ge 2400 ]; then
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
	T_START=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

# tracer_stop: note the tracer's peak RSS, end its command and time its exit
# (final output included). Prints "key=value" words.
tracer_stop() {
	local hwm t0

	[ -n "$TPID" ] || return 0
	hwm=$(bench_hwm "$TPID")
	t0=$(bench_now)
	kill "$HOLD" 2>/dev/null
	wait "$TPID"
	printf ' start_s=%s stop_s=%s hwm_kb=%s' "$T_START" "$(bench_since "$t0")" "$hwm"
}

# bench_progs TAG WHEN: this session's programs (not in ids-before) with
# their bpf_stats, as JSON lines {id, name, run_cnt, run_time_ns}.
bench_progs() {
	bpftool prog show -j 2>/dev/null |
		jq -c --argjson before "$(cat "$OUT/$1.ids-before")" \
			'.[] | select(.id as $i | $before | index($i) | not) |
			 {id, name, type, run_cnt: (.run_cnt // 0), run_time_ns: (.run_time_ns // 0),
			  recursion_misses: (.recursion_misses // 0)}' >"$OUT/$1.progs-$2"
}

# bench_cost_delta TAG: "progs runs ns" run between the two snapshots.
bench_cost_delta() {
	jq -n -r --slurpfile b "$OUT/$1.progs-before" --slurpfile a "$OUT/$1.progs-after" '
		($b | map({key: (.id | tostring), value: .}) | from_entries) as $bi |
		[($a | length), ($a | map(.run_cnt - ($bi[.id | tostring].run_cnt // 0)) | add // 0),
		 ($a | map(.run_time_ns - ($bi[.id | tostring].run_time_ns // 0)) | add // 0)] | @tsv' |
		tr '\t' ' '
}

bench_fio() {
	local r

	r=$(wl_fio "$IT_NVME_BLK" "$2") || { printf ' %s_ios=0 %s_iops=0' "$1" "$1"; return 1; }
	printf ' %s_ios=%s %s_iops=%s' "$1" "$(kv ios "$r")" "$1" "$(kv iops "$r")"
}

# bench_cost TAG: fio with bpf_stats on; the session's BPF time per IO.
bench_cost() {
	local line np runs ns

	echo 1 >/proc/sys/kernel/bpf_stats_enabled
	bench_progs "$1" before
	line=$(bench_fio cost "$COST_SECS")
	bench_progs "$1" after
	echo 0 >/proc/sys/kernel/bpf_stats_enabled
	read -r np runs ns <<EOF
$(bench_cost_delta "$1")
EOF
	printf '%s progs=%s runs=%s run_ns=%s' "$line" "${np:-0}" "${runs:-0}" "${ns:-0}"
}

# bench_run ROUND MODE: one session.
bench_run() {
	local round="$1" mode="$2" tag="ratio-$1-$2" line

	echo "bench: $tag" >&2
	tracer_start "$mode" "$tag" || { echo "phase=ratio round=$round mode=$mode failed=1" >>"$RES"; return 1; }
	line="phase=ratio round=$round mode=$mode$(bench_fio fio "$SECS")"
	[ -n "$TPID" ] && line="$line$(bench_cost "$tag")"
	line="$line$(tracer_stop)"
	echo "$line" >>"$RES"
	echo "bench:   $line" >&2
}

# bench_mixed MODE: nvme fio and virtio-net TCP echo at once under MODE.
bench_mixed() {
	local tag="mixed-$1" line

	echo "bench: $tag" >&2
	tracer_start "$1" "$tag" || { echo "phase=mixed mode=$1 failed=1" >>"$RES"; return 1; }
	wl_tcp_echo "$IT_VNET_IF" "$SECS" >"$OUT/$tag.tcp" 2>&1 &
	line="phase=mixed mode=$1$(bench_fio fio "$SECS")"
	wait $!
	# recursion_misses: runs the kernel skipped (a program already running on that CPU)
	bench_progs "$tag" after
	line="$line tcp_bytes=$(kv bytes "$(cat "$OUT/$tag.tcp")")$(tracer_stop)"
	echo "$line" >>"$RES"
	echo "bench:   $line" >&2
}

bench_main() {
	local r m t

	: >"$RES"
	echo "kernel=$(uname -r) config=$IT_CONFIG cpus=$(nproc) secs=$SECS rounds=$ROUNDS cost_secs=$COST_SECS clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) cmdline_tsc=$(grep -o 'tsc=[a-z]*' /proc/cmdline | tr '\n' ,)" >"$OUT/env.txt"
	echo 0 >/proc/sys/kernel/bpf_stats_enabled
	# what each mode attaches (load + attach + detach)
	t=$(bench_now)
	./iommutrace probes -j >"$OUT/probes-lean.json" 2>"$OUT/probes-lean.err"
	echo "probes_lean_s=$(bench_since "$t")" >>"$OUT/env.txt"
	t=$(bench_now)
	./iommutrace probes -j --deep >"$OUT/probes-deep.json" 2>"$OUT/probes-deep.err"
	echo "probes_deep_s=$(bench_since "$t")" >>"$OUT/env.txt"
	r=1
	bench_run 1 base
	while [ $r -le "$ROUNDS" ]; do
		for m in $MODES; do
			bench_run $r "$m"
			bench_run $r base
		done
		r=$((r + 1))
	done
	for m in ${BENCH_MIXED-lean lossless deep}; do
		bench_mixed $m
	done
}

bench_main
