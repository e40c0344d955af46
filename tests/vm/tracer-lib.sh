# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Helpers for checks that compare iommutrace with the kernel's own counters.
# Sourced after lib.sh (also inside traced commands).

IT=${IT:-./iommutrace}
export IT

# jget FILE JQ-EXPR: a value from the last JSON document in FILE
jget() {
	grep -q '^{' "$1" 2>/dev/null || { echo "no-json-in-$1"; return 1; }
	grep '^{' "$1" | tail -n 1 | jq -r "$2"
}

# jcheck NAME FILE JQ-BOOL-EXPR: ok if the expression holds on the last document
jcheck() {
	check "$1" sh -c 'grep "^{" "$1" | tail -n 1 | jq -e "$2" >/dev/null' _ "$2" "$3"
}

# dev_get FILE PCIDEV JQ-PATH: a field of one device entry
dev_get() {
	jget "$1" "[.devices[] | select(.device == \"$2\")][0]$3 // \"missing\""
}

# tsum_on EVENT FIELD / tsum_off EVENT FIELD: the kernel's own sum of a
# tracepoint field over the run, by a tracefs hist trigger; tsum_off prints
# "EVENT.FIELD=SUM"
tsum_on() {
	echo "hist:keys=common_type:vals=$2" > "/sys/kernel/tracing/events/iommu/$1/trigger"
}
tsum_off() {
	awk -v f="$2:" -v k="$1.$2" '{ for (i = 1; i < NF; i++) if ($i == f) s += $(i + 1) }
		END { print k "=" s + 0 }' "/sys/kernel/tracing/events/iommu/$1/hist"
	echo "!hist:keys=common_type:vals=$2" > "/sys/kernel/tracing/events/iommu/$1/trigger"
}

# traced FILE CMD...: CMD (a program or a lib.sh function) runs under
# `iommutrace stat -B -j $TRACE_OPTS` (e.g. TRACE_OPTS=--deep), so every
# kernel counter CMD takes is inside the tracer's window; CMD's output, then
# the tracer's JSON, go to FILE.
traced() {
	local f=$1
	shift
	# shellcheck disable=SC2086
	$IT stat -B -j ${TRACE_OPTS:-} -- /bin/sh -c '. tests/vm/lib.sh; . tests/vm/tracer-lib.sh; "$@"' \
		sh "$@" > "$f" 2> "$f.err"
}

# workloads for traced runs
nvme_dd() {
	tsum_on map size
	tsum_on unmap unmapped_size
	kcount iommu:map,iommu:unmap -- kfcount "iommu_dma_map_page iommu_map_atomic alloc_iova_fast" \
		-- dd if="$IT_NVME_BLK" of=/dev/null bs=4k count="$1" iflag=direct
	tsum_off map size
	tsum_off unmap unmapped_size
}

# check_edges NAME GOT WANT: the tracer's GOT against the kernel's WANT for a
# workload under kcount. The tracer counts from before the kernel's counter
# starts to after it stops: a background DMA at those edges (an ARP on e1000e,
# a late RX refill) may add one or two, never fewer.
check_edges() {
	check_ge "$1 (>= kernel)" "$2" "$3"
	check_le "$1 (<= kernel + 2 at the edges)" "$2" "$(($3 + 2))"
}

# check_lossless_lost NAME FILE: a --lossless run loses nothing. A twin works
# exactly when the kernel skips its main copy (it reads the kernel's own
# recursion counter), so a call is lost only if the twin was interrupted while
# serving an interrupted main copy by a third level (task, softirq, hardirq)
# on the same hook: none was in the guest runs (docs/bench.md).
check_lossless_lost() {
	echo "# $1: twins made up $(jget "$2" .twin_served) runs the kernel skipped"
	check_eq "$1" "$(jget "$2" .lost)" 0
}

# nvme fio and TCP echo over virtio-net at once for SECS: a NIC's DMA in softirq
# interrupting the block DMA of a task (the kernel's per-program recursion guard)
mixed_io() {
	local pid

	wl_tcp_echo "$IT_VNET_IF" "$1" >/dev/null 2>&1 &
	pid=$!
	nvme_fio "$1"
	wait "$pid"
}

nvme_fio() {
	fio --name=r --filename="$IT_NVME_BLK" --rw=randread --bs=4k --direct=1 --ioengine=psync \
		--runtime="$1" --time_based --output=/dev/null
}

