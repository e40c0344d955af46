# configs: */*-lazy */*-strict
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh disable=SC3043
#
# core.sh: the core checks, on every kernel and IOMMU mode the suite boots
# (6.1, 6.12, 7.x; Intel legacy and scalable mode, AMD, virtio-iommu):
#  - `iommutrace probes` runs and accounts for every hook;
#  - map/unmap totals of `stat -j` over an nvme dd equal the kernel's
#    iommu:map/iommu:unmap for the same run;
#  - lazy: flush-queue flushes counted (> 0, fewer than unmaps, equal to the
#    kernel's own flush calls) and freed entries counted (> 0);
#  - strict: IOTLB syncs counted, equal to the kernel's sync calls (and one
#    per unmap on Intel legacy), no lazy flushes;
#  - faults decoded where the emulator raises them (edu DMA on Intel);
#  - --lossless under nvme and virtio-net at once: the hot hooks' twins
#    serve what the kernel's recursion guard skips: totals equal the
#    kernel's, nothing lost.
# A role the tracer reports as not traceable on this kernel fails with that
# reason, never passes as 0. The numbers also go to $IT_OUT/core.env, from
# which tests/vm/matrix.sh builds the tested matrix.
# Sourced by suite.sh after lib.sh.

. tests/vm/tracer-lib.sh
T=$IT_OUT/core
mkdir -p "$T"
ENV=$IT_OUT/core.env
: > "$ENV"

# note KEY VALUE: one fact for the matrix
note() {
	echo "$1=$2" >> "$ENV"
}

# role_why FILE ROLE: "" if ROLE is traced (or the output has no roles
# yet), else the tracer's own reason it is not
role_why() {
	jget "$1" "if has(\"roles\") then ([.roles[] | select(.role == \"$2\")][0] |
		if . == null or .traceable then \"\" else \"not traceable: \" + (.why // .state // \"no reason given\") end)
		else \"\" end" 2>/dev/null
}

# hook_why FILE HOOK...: why none of the HOOKs attached, from `probes -j`
hook_why() {
	local f=$1
	shift
	for h in "$@"; do
		jq -r --arg h "$h" '.probes[] | select(.hook == $h) |
			if .attached then "" else "hook \(.hook): \(.reason)" end' "$f"
	done | grep -v '^$' | tr '\n' ';' | sed 's/;$//; s/;/; /g'
}

# check_count NAME FILE ROLE JQ-COUNT OP WANT: a tracer count against WANT
# (OP: gt, lt, eq, ge; window: WANT to WANT+2, for timer-driven flushes the
# tracer may also see just outside the kernel's counting window), failing with the tracer's reason when ROLE is not
# traceable, or with the hooks that did not attach when the count is 0
check_count() {
	local name=$1 f=$2 role=$3 got why ok=0
	got=$(jget "$f" "$4 // \"null\"")
	why=$(role_why "$f" "$role")
	if [ -n "$why" ]; then
		it_not_ok "$name"
		it_comment "role '$role' $why (count $got)"
		return 0
	fi
	if it_is_number "$got"; then
		case $5 in
		gt) [ "$got" -gt "$6" ] && ok=1 ;;
		lt) [ "$got" -lt "$6" ] && ok=1 ;;
		ge) [ "$got" -ge "$6" ] && ok=1 ;;
		eq) [ "$got" -eq "$6" ] && ok=1 ;;
		window) [ "$got" -ge "$6" ] && [ "$got" -le $(($6 + 2)) ] && ok=1 ;;
		esac
	fi
	if [ $ok = 1 ]; then
		it_ok "$name"
		return 0
	fi
	it_not_ok "$name"
	case $5 in
	window) it_comment "got $got, want $6 to $(($6 + 2))" ;;
	*) it_comment "got $got, want $5 $6" ;;
	esac
	[ -n "${7:-}" ] && it_comment "$7"
	return 0
}

# ------------------------------------------------------------------ probes

core_probes() {
	local p=$T/probes.json total listed unexplained
	$IT probes > "$IT_OUT/probes.txt" 2>&1
	check_eq "probes: runs" $? 0
	$IT probes -j > "$p" 2> "$p.err"
	check_eq "probes -j: runs" $? 0
	total=$(sed -n 's/^\([0-9]*\) of \([0-9]*\) hooks attached$/\2/p' "$IT_OUT/probes.txt")
	listed=$(jq '.probes | length' "$p")
	check_eq "probes: lists every hook ($total)" "$listed" "$total"
	unexplained=$(jq -r '[.probes[] | select((.attached | not) and ((.reason // "") == "")) | .hook]
		| join(" ")' "$p")
	check_eq "probes: every hook attached or says why" "${unexplained:-none}" none
	check_eq "probes: text and JSON agree on attached hooks" \
		"$(sed -n 's/^\([0-9]*\) of [0-9]* hooks attached$/\1/p' "$IT_OUT/probes.txt")" \
		"$(jq '[.probes[] | select(.attached)] | length' "$p")"
	note hooks "$(jq '[.probes[] | select(.attached)] | length' "$p")/$listed"
	note missing "$(jq -r '[.probes[] | select(.attached | not) |
		select(.reason | test("not the active|no IOMMU") | not) | .hook] | join(" ")' "$p")"
	note walker "$(jq -r '.walker' "$p" | cut -d' ' -f1)"
}

# -------------------------------------------------------------------- mode

core_mode() {
	local want got
	case $IT_MODE in
	lazy) want=DMA-FQ ;;
	*) want=DMA ;;
	esac
	got=$(cat "/sys/bus/pci/devices/$IT_NVME_DEV/iommu_group/type" 2>&1)
	note group_type "$got"
	# AMD-Vi under QEMU: the driver forces strict ("virtualization")
	if [ "$IT_IOMMU" = amd ] && [ "$IT_MODE" = lazy ]; then
		check_eq "nvme group type (AMD under QEMU: forced strict)" "$got" DMA
		return
	fi
	check_eq "nvme group type is $want" "$got" "$want"
}

# ------------------------------------------ totals, flushes, syncs vs kernel

# The kernel functions that count, per driver: the strict sync callback and
# the flush-all callback the flush queue calls (the fallback truth where
# fq_flush_iotlb itself is inlined, as on 7.x).
core_truth_funcs() {
	case $IT_IOMMU in
	intel) SYNC_FN=intel_iommu_tlb_sync; ALL_FN=intel_flush_iotlb_all ;;
	amd) SYNC_FN=amd_iommu_iotlb_sync; ALL_FN=amd_iommu_flush_iotlb_all ;;
	virtio) SYNC_FN=viommu_iotlb_sync; ALL_FN=viommu_flush_iotlb_all ;;
	*) SYNC_FN=""; ALL_FN="" ;;
	esac
	FLUSH_FN=$(kfunc_first fq_flush_iotlb $ALL_FN)
	FUNCS=""
	for fn in $FLUSH_FN fq_flush_timeout fq_ring_free $SYNC_FN; do
		kfunc_traceable "$fn" && FUNCS="$FUNCS $fn"
	done
	EVENTS=iommu:map,iommu:unmap
	[ -d /sys/kernel/tracing/events/intel_iommu/qi_submit ] &&
		EVENTS=$EVENTS,intel_iommu:qi_submit
	return 0
}

core_totals() {
	local n=3000 f=$T/dd.out out maps unmaps kflush ksync why
	core_truth_funcs
	if [ -n "$FUNCS" ]; then
		traced "$f" kcount "$EVENTS" -- kfcount "$FUNCS" -- wl_nvme_dd $n
	else
		traced "$f" kcount "$EVENTS" -- wl_nvme_dd $n
	fi
	out=$(cat "$f")
	check_eq "nvme dd $n ran under the tracer" "$(kv blocks "$out")" $n
	maps=$(jget "$f" .totals.map.count)
	unmaps=$(jget "$f" .totals.unmap.count)
	note maps "$maps"
	note kmaps "$(kv iommu:map "$out")"
	note unmaps "$unmaps"
	note kunmaps "$(kv iommu:unmap "$out")"
	check_eq "nvme dd: maps = kernel iommu:map" "$maps" "$(kv iommu:map "$out")"
	check_eq "nvme dd: unmaps = kernel iommu:unmap" "$unmaps" "$(kv iommu:unmap "$out")"
	check_ge "nvme dd: a map per block" "$(kv iommu:map "$out")" $n
	check_eq "nvme dd: maps on nvme" "$(dev_get "$f" "$IT_NVME_DEV" .map.count)" "$maps"

	note fq_flush "$(jget "$f" '.totals.fq_flush.count // "null"')"
	note iotlb_sync "$(jget "$f" '.totals.iotlb_sync.count // "null"')"
	note flush_fn "$FLUSH_FN"
	note kflush "$(kv "$FLUSH_FN" "$out")"
	note kfq_timeout "$(kv fq_flush_timeout "$out")"
	note kfq_ring_free "$(kv fq_ring_free "$out")"
	note sync_fn "$SYNC_FN"
	note ksync "$(kv "$SYNC_FN" "$out")"
	note qi_submit "$(kv intel_iommu:qi_submit "$out")"
	[ -n "$maps" ] && it_is_number "$unmaps" || unmaps=0

	case $IT_MODE in
	lazy)
		[ "$IT_IOMMU" = amd ] && return 0 # forced strict: core_mode said so
		why=$(hook_why "$T/probes.json" fq_flush_iotlb)
		check_count "lazy: flush-queue flushes > 0" "$f" "lazy flushes" \
			.totals.fq_flush.count gt 0 "$why"
		check_count "lazy: flushes fewer than unmaps ($unmaps)" "$f" "lazy flushes" \
			.totals.fq_flush.count lt "$unmaps"
		kflush=$(kv "$FLUSH_FN" "$out")
		if [ -n "$FLUSH_FN" ]; then
			# the tracer's window holds the kernel's, and the queue's
			# timer flushes once more after the last unmap
			check_count "lazy: flushes = kernel $FLUSH_FN calls ($kflush, +2)" "$f" "lazy flushes" \
				.totals.fq_flush.count window "${kflush:-0}" "$why"
		else
			it_not_ok "lazy: kernel flush count"
			it_comment "neither fq_flush_iotlb nor ${ALL_FN:-a flush-all callback} can take a kprobe"
		fi
		# freed entries: --deep only (fq_ring_free runs on every unmap): core_deep
		check_count "lazy: no strict syncs" "$f" "strict IOTLB syncs" .totals.iotlb_sync.count eq 0
		;;
	strict)
		ksync=$(kv "$SYNC_FN" "$out")
		why=$(hook_why "$T/probes.json" "iotlb_sync_$IT_IOMMU")
		[ -z "$why" ] && ! jq -e --arg h "iotlb_sync_$IT_IOMMU" \
			'any(.probes[]; .hook == $h)' "$T/probes.json" >/dev/null &&
			why="no hook iotlb_sync_$IT_IOMMU for the $IT_IOMMU driver's sync ($SYNC_FN)"
		check_count "strict: IOTLB syncs > 0" "$f" "strict IOTLB syncs" \
			.totals.iotlb_sync.count gt 0 "$why"
		check_count "strict: syncs = kernel $SYNC_FN calls ($ksync)" "$f" "strict IOTLB syncs" \
			.totals.iotlb_sync.count eq "${ksync:-0}" "$why"
		[ "$IT_IOMMU_MODEL" = intel ] &&
			check_count "strict: one sync per unmap (Intel legacy)" "$f" "strict IOTLB syncs" \
				.totals.iotlb_sync.count eq "$unmaps"
		check_count "strict: no lazy flushes" "$f" "lazy flushes" .totals.fq_flush.count eq 0
		;;
	esac
}

# ------------------------------------------------------------------ faults

# edu reads IOVAs nobody mapped: QEMU's VT-d records a fault for each (legacy
# and scalable mode); QEMU's AMD-Vi and virtio-iommu report none to the guest.
core_faults() {
	local f=$T/faults.out n=3 got kn
	if [ "$IT_IOMMU" != intel ]; then
		note faults "-"
		return 0
	fi
	$IT faults -j -- /bin/sh -c '. tests/vm/lib.sh; kfcount dmar_fault -- \
		"$IT_PROGS/edu_dma" "$IT_EDU_DEV" read 0x12345000 '$n > "$f" 2> "$f.err"
	got=$(grep -c '"event":"fault"' "$f")
	kn=$(kv dmar_fault "$(cat "$f")")
	note faults "$got"
	note kfaults "$kn"
	note fault_text "$(grep '"event":"fault"' "$f" | head -n 1 | jq -r .text)"
	check_eq "edu reads: faults decoded = kernel dmar_fault calls" "$got" "$kn"
	check_eq "edu reads: $n faults" "$got" $n
	check_eq "edu reads: on the edu device, at the IOVA" \
		"$(grep '"event":"fault"' "$f" | jq -s -r '[.[] | "\(.device) \(.iova)"] | unique | join(",")')" \
		"$IT_EDU_DEV $((0x12345000))"
}

# --deep on the same workload: totals still exact, every map walked to its
# leaf in the domain's page table (legacy, first-level or the generic page
# table of 6.18+; none to walk under virtio-iommu), lazy: freed entries.
core_deep() {
	local n=1000 f=$T/deep.out out maps
	TRACE_OPTS=--deep traced "$f" kcount iommu:map -- wl_nvme_dd $n
	out=$(cat "$f")
	maps=$(jget "$f" .totals.map.count)
	check_eq "deep: nvme dd: maps = kernel iommu:map" "$maps" "$(kv iommu:map "$out")"
	note deep_4k "$(jget "$f" '.totals.pgsize."4K"')"
	if [ "$IT_IOMMU" = virtio ]; then
		check_eq "deep: virtio-iommu: no page table to walk" \
			"$(jget "$f" '.totals.pgsize | add')" 0
	else
		check_ge "deep: maps walked to a 4K leaf" "$(jget "$f" '.totals.pgsize."4K"')" "$maps"
	fi
	if [ "$IT_MODE" = lazy ] && [ "$IT_IOMMU" != amd ]; then
		note fq_freed "$(jget "$f" '.totals.fq_freed.count // "null"')"
		check_count "deep lazy: freed entries > 0" "$f" "lazy freed entries" \
			.totals.fq_freed.count gt 0 "$(hook_why "$T/probes.json" fq_ring_free)"
	fi
	check_eq "deep: nothing lost" "$(jget "$f" .lost)" 0
}

# --lossless under a NIC's softirq DMA interrupting the block DMA of a task
core_lossless() {
	local f=$T/lossless.out out

	TRACE_OPTS=--lossless traced "$f" kcount iommu:map,iommu:unmap -- mixed_io 3
	out=$(cat "$f")
	note lossless_maps "$(jget "$f" .totals.map.count)/$(kv iommu:map "$out")"
	note lossless_lost "$(jget "$f" .lost)"
	note lossless_made_up "$(jget "$f" .twin_served)"
	check_edges "lossless mixed: maps = kernel iommu:map" "$(jget "$f" .totals.map.count)" \
		"$(kv iommu:map "$out")"
	check_edges "lossless mixed: unmaps = kernel iommu:unmap" \
		"$(jget "$f" .totals.unmap.count)" "$(kv iommu:unmap "$out")"
	check_lossless_lost "lossless mixed: nothing lost" "$f"
}

note config "$IT_NAME"
note kver "$IT_KVER"
note qemu "${IT_QEMU:-?}"
note iommu "$IT_IOMMU_MODEL"
note mode "$IT_MODE"
core_probes
core_mode
core_totals
core_deep
core_lossless
core_faults
