# configs: intel-lazy intel-strict amd-strict intel-pt none
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# tracer.sh: iommutrace against the guest kernel's own counters, for the
# same run of a real workload: exact totals, per-device attribution,
# strict vs lazy invalidation, latency histograms, VFIO ownership, the
# no-translation exit codes, and that every attached hook fires.
# Sourced by suite.sh after lib.sh.

. tests/vm/tracer-lib.sh
T=$IT_OUT/tracer-$IT_CONFIG
mkdir -p "$T"
HOOKS_SEEN=$T/hooks-seen

# Hooks that ran during a traced run, accumulated for the final check.
hooks_note() {
	jget "$1" '.hooks[] | select(.runs > 0) | .hook' >> "$HOOKS_SEEN"
}

case $IT_CONFIG in
*-lazy) want_type=DMA-FQ ;;
*) want_type=DMA ;;
esac

# nvme_totals LABEL FILE: an nvme_dd run's totals against the kernel's, and on nvme
nvme_totals() {
	local f=$2 maps

	maps=$(jget "$f" .totals.map.count)
	check_eq "$1nvme dd: maps = kernel iommu:map" "$maps" "$(kv iommu:map "$(cat "$f")")"
	check_eq "$1nvme dd: unmaps = kernel iommu:unmap" "$(jget "$f" .totals.unmap.count)" \
		"$(kv iommu:unmap "$(cat "$f")")"
	check_eq "$1nvme dd: mapped bytes = kernel sum of iommu:map size" \
		"$(jget "$f" .totals.map.bytes)" "$(kv map.size "$(cat "$f")")"
	check_eq "$1nvme dd: unmapped bytes = kernel sum of unmapped_size" \
		"$(jget "$f" .totals.unmap.bytes)" "$(kv unmap.unmapped_size "$(cat "$f")")"
	check_eq "$1nvme: attributed maps" "$(dev_get "$f" "$IT_NVME_DEV" .map.count)" "$maps"
}

# 1, 2, 4: nvme dd — exact counts and bytes, attribution, histograms; the
# lean default first, then --deep for the layers below the DMA API
tracer_nvme() {
	local n=3000 f=$T/nvme-lean.out maps
	traced "$f" nvme_dd $n
	hooks_note "$f"
	maps=$(jget "$f" .totals.map.count)
	nvme_totals "lean " "$f"
	check_eq "lean nvme: DMA-API map calls timed = kernel iommu_dma_map_page calls" \
		"$(dev_get "$f" "$IT_NVME_DEV" .dma_map.lat_count)" "$(kv iommu_dma_map_page "$(cat "$f")")"
	check_eq "lean nvme: IOVA allocations (one per DMA-API map) = kernel alloc_iova_fast calls" \
		"$(jget "$f" .totals.iova_alloc.count)" "$(kv alloc_iova_fast "$(cat "$f")")"
	check_eq "lean nvme: iommu_map() not timed below the DMA API" "$(jget "$f" .totals.map.lat_count)" 0
	check_eq "lean nvme: IOVA frees not traced (null, not 0)" "$(jget "$f" .totals.iova_free.count)" null
	jcheck "lean nvme: the roles say why (IOVA frees: --deep)" "$f" \
		'[.roles[] | select(.role == "IOVA frees")][0].state == "lean-off"'
	# strict adds the sync's entry; iommu_map's entry runs where VFIO is loaded
	# and the DMA API maps through iommu_map() (6.3+)
	check_eq "lean nvme: nothing lost" "$(jget "$f" .lost)" 0
	check_le "lean nvme: at most 6 program runs per map+unmap pair (+1 strict sync)" \
		"$(jget "$f" "[.hooks[] | select(.hook | test(\"^(dma_|iommu_|map$|unmap$)\")) | .runs] | add")" \
		$((maps * 6))

	f=$T/nvme.out
	TRACE_OPTS=--deep traced "$f" nvme_dd $n
	hooks_note "$f"
	maps=$(jget "$f" .totals.map.count)
	nvme_totals "" "$f"
	check_ge "nvme dd: at least one map per block" "$maps" $n
	check_eq "nvme: driver" "$(dev_get "$f" "$IT_NVME_DEV" .driver)" nvme
	check_eq "nvme: domain type" "$(dev_get "$f" "$IT_NVME_DEV" .domain_type)" "$want_type"
	check_eq "nvme: group from sysfs" "$(dev_get "$f" "$IT_NVME_DEV" .group)" \
		"$(basename "$(readlink "/sys/bus/pci/devices/$IT_NVME_DEV/iommu_group")")"
	check_eq "nvme: nothing unattributed" \
		"$(jget "$f" '[.devices[] | select(.device == "unknown") | .map.count] | add // 0')" 0
	# --deep: every call is timed or reported lost: one call per run at most is not
	# timed (an exit without its entry, counted in lost.unpaired; see the notes)
	check_le "nvme: iommu_map calls timed <= kernel iommu_map_atomic calls" \
		"$(jget "$f" .totals.map.lat_count)" "$(kv iommu_map_atomic "$(cat "$f")")"
	check_ge "nvme: iommu_map calls timed + reported lost >= kernel calls" \
		"$(jget "$f" '.totals.map.lat_count + .lost_detail.unpaired')" \
		"$(kv iommu_map_atomic "$(cat "$f")")"
	check_eq "nvme: DMA-API map calls timed = kernel iommu_dma_map_page calls" \
		"$(dev_get "$f" "$IT_NVME_DEV" .dma_map.lat_count)" "$(kv iommu_dma_map_page "$(cat "$f")")"
	check_eq "nvme: IOVA allocations = kernel alloc_iova_fast calls" \
		"$(jget "$f" .totals.iova_alloc.count)" "$(kv alloc_iova_fast "$(cat "$f")")"
	jcheck "nvme: map latency p50 and p99 present" "$f" \
		'.totals.map.lat_p50_ns > 0 and .totals.map.lat_p99_ns >= .totals.map.lat_p50_ns'
	jcheck "nvme: rcache hit % reported" "$f" '.totals.iova_rcache_hit_pct >= 0'
	cp "$f" "$IT_OUT/sample-stat-$IT_CONFIG.json"
	check_ge "nvme: maps walked to a 4K leaf (+ untimed, reported lost)" \
		"$(jget "$f" "[.devices[] | select(.device == \"$IT_NVME_DEV\")][0].pgsize.\"4K\" + .lost_detail.unpaired")" "$maps"
	check_eq "nvme: no map walked to another size" \
		"$(jget "$f" "[.devices[] | select(.device == \"$IT_NVME_DEV\")][0].pgsize | .\"2M\" + .\"1G\" + .other + .noleaf")" 0
	check_eq "nvme: live bytes back to 0 after dd" "$(dev_get "$f" "$IT_NVME_DEV" .live_bytes)" 0
	check_eq "nvme: nothing lost in a steady run" "$(jget "$f" '.lost - .lost_detail.unpaired')" 0

	# the histogram's buckets add up to the timed calls
	$IT hist -j -o dma_map -d nvme -- dd if="$IT_NVME_BLK" of=/dev/null bs=4k count=500 \
		iflag=direct > "$T/hist.out" 2>/dev/null
	check_eq "hist dma_map: buckets sum to the calls" \
		"$(jget "$T/hist.out" '[.devices[0].buckets[].count] | add')" \
		"$(jget "$T/hist.out" .devices[0].total)"
	check_ge "hist dma_map: 500 calls timed" "$(jget "$T/hist.out" .devices[0].total)" 500

	# 128 KiB direct reads into a buffer whose pages are not physically
	# adjacent (sgread), so nvme maps a scatterlist (dma_map_sg) every time
	TRACE_OPTS=--deep traced "$T/sg.out" kcount iommu:map -- "$IT_PROGS/sgread" "$IT_NVME_BLK" \
		25165824 131072
	hooks_note "$T/sg.out"
	check_eq "nvme 128k: maps = kernel iommu:map" "$(jget "$T/sg.out" .totals.map.count)" \
		"$(kv iommu:map "$(cat "$T/sg.out")")"
	jcheck "nvme 128k: scatterlist maps timed" "$T/sg.out" \
		"[.devices[] | select(.device == \"$IT_NVME_DEV\")][0].dma_map.lat_count >= 192"
	jcheck "nvme 128k: each of the 192 reads a scatterlist (dma_map_sg runs)" "$T/sg.out" \
		'[.hooks[] | select(.hook == "dma_map_sg")][0].runs >= 192'
}

# 3: invalidations — strict: one sync per unmap; lazy: few, timer-driven flushes
tracer_flush() {
	local f=$T/fio.out out unmaps
	if [ "$IT_IOMMU" = intel ]; then
		traced "$f" kcount iommu:unmap,intel_iommu:qi_submit -- \
			kfcount "fq_flush_iotlb intel_iommu_tlb_sync" -- nvme_fio 4
	else
		traced "$f" kcount iommu:unmap -- kfcount "amd_iommu_iotlb_sync" -- nvme_fio 4
	fi
	out=$(cat "$f")
	hooks_note "$f"
	unmaps=$(jget "$f" .totals.unmap.count)
	check_eq "fio: unmaps = kernel iommu:unmap" "$unmaps" "$(kv iommu:unmap "$out")"
	case $IT_CONFIG in
	intel-strict)
		check_eq "strict: syncs = kernel intel_iommu_tlb_sync calls" \
			"$(jget "$f" .totals.iotlb_sync.count)" "$(kv intel_iommu_tlb_sync "$out")"
		check_near "strict: one invalidation per unmap" "$(jget "$f" .totals.flush.count)" "$unmaps" 2
		check_eq "strict: no lazy flushes" "$(jget "$f" .totals.fq_flush.count)" 0
		check_eq "lean strict: syncs counted at entry, not timed" \
			"$(jget "$f" .totals.iotlb_sync.lat_count)" 0
		;;
	amd-strict)
		check_eq "amd strict: syncs = kernel amd_iommu_iotlb_sync calls" \
			"$(jget "$f" .totals.iotlb_sync.count)" "$(kv amd_iommu_iotlb_sync "$out")"
		check_near "amd strict: one invalidation per unmap" "$(jget "$f" .totals.flush.count)" \
			"$unmaps" 2
		;;
	intel-lazy)
		check_eq "lazy: flushes = kernel fq_flush_iotlb calls" \
			"$(jget "$f" .totals.fq_flush.count)" "$(kv fq_flush_iotlb "$out")"
		check_eq "lazy: flushes = kernel qi_submit" "$(jget "$f" .totals.fq_flush.count)" \
			"$(kv intel_iommu:qi_submit "$out")"
		check_le "lazy: invalidations << unmaps (< 10%)" "$(jget "$f" .totals.flush.count)" \
			$((unmaps / 10))
		jcheck "lazy: timer-triggered flushes > 0" "$f" '.totals.fq_timeout.count > 0'
		check_eq "lean lazy: freed entries not traced (fq_ring_free runs per unmap: --deep)" \
			"$(jget "$f" .totals.flush.iovas_freed_per_flush)" null
		check_eq "lazy: no strict syncs" "$(jget "$f" .totals.iotlb_sync.count)" 0
		# another device's background traffic (an IPv6 probe on a NIC) may
		# flush its own domain's queue during the run
		check_eq "lazy: every flush charged to a device" \
			"$(jget "$f" '[.devices[] | select(.device != "unknown") | .fq_flush.count // 0] | add // 0')" \
			"$(jget "$f" .totals.fq_flush.count)"
		check_ge "lazy: >= 95% of flushes charged to nvme" \
			"$(dev_get "$f" "$IT_NVME_DEV" .fq_flush.count)" "$(jget "$f" .totals.fq_flush.count)" 5
		;;
	esac
}

# 3b: invalidation commands (--deep): one queue submission per strict unmap
tracer_inv_cmds() {
	local f=$T/inv.out
	TRACE_OPTS=--deep traced "$f" kcount intel_iommu:qi_submit -- \
		dd if="$IT_NVME_BLK" of=/dev/null bs=4k count=500 iflag=direct
	hooks_note "$f"
	case $IT_CONFIG in
	intel-*)
		check_eq "deep: invalidation submissions = kernel qi_submit" \
			"$(jget "$f" .totals.inv_cmd.count)" "$(kv intel_iommu:qi_submit "$(cat "$f")")"
		[ "$IT_MODE" = strict ] &&
			jcheck "deep strict: sync latency timed" "$f" '.totals.iotlb_sync.lat_count > 0'
		;;
	amd-strict)
		jcheck "deep amd: command submissions counted" "$f" '.totals.inv_cmd.count > 0' ;;
	esac
	case $IT_CONFIG in
	*-lazy)
		jcheck "deep lazy: IOVAs freed by the flush queue > 0" "$f" '.totals.fq_freed.count > 0'
		jcheck "deep lazy: IOVAs freed per flush > 1" "$f" '.totals.flush.iovas_freed_per_flush > 1'
		;;
	esac
}

# 2: virtio-blk, virtio-net and e1000e traffic lands on their devices
tracer_other_devices() {
	local f out dev drv
	for spec in "vblk:$IT_VBLK_DEV:virtio-pci" "vnet:$IT_VNET_DEV:virtio-pci" \
		"e1000e:$IT_E1000E_DEV:e1000e"; do
		name=${spec%%:*}
		dev=${spec#*:}
		drv=${dev#*:*:*:}
		dev=${dev%:*}
		f=$T/$name.out
		case $name in
		vblk) traced "$f" kcount iommu:map -- dd if="$IT_VBLK_BLK" of=/dev/null bs=4k count=1000 \
			iflag=direct ;;
		vnet) traced "$f" kcount iommu:map -- wl_tcp_echo "$IT_VNET_IF" 2 ;;
		e1000e) traced "$f" kcount iommu:map -- wl_tcp_echo "$IT_E1000E_IF" 2 ;;
		esac
		out=$(cat "$f")
		hooks_note "$f"
		check_eq "$name: maps = kernel iommu:map" "$(jget "$f" .totals.map.count)" \
			"$(kv iommu:map "$out")"
		check_ge "$name: >= 95% of maps on $dev" "$(dev_get "$f" "$dev" .map.count)" \
			"$(jget "$f" .totals.map.count)" 5
		check_eq "$name: driver of $dev" "$(dev_get "$f" "$dev" .driver)" "$drv"
		check_le "$name: unattributed maps <= 1%" \
			"$(jget "$f" '[.devices[] | select(.device == "unknown") | .map.count] | add // 0')" \
			$(($(jget "$f" .totals.map.count) / 100))
	done
}

# 7: nvme and virtio-net at once. The kernel skips a program that would nest into
# itself on a CPU: lean counts every skip in lost (nothing silent), --lossless's
# twins make every one up: lost 0 and the kernel's own counts.
tracer_mixed() {
	local f=$T/mixed.out fl=$T/mixed-lossless.out out

	traced "$f" kcount iommu:map,iommu:unmap -- mixed_io 4
	out=$(cat "$f")
	hooks_note "$f"
	check_ge "mixed lean: maps + lost >= kernel iommu:map (no silent loss)" \
		"$(jget "$f" '.totals.map.count + .lost')" "$(kv iommu:map "$out")"
	check_le "mixed lean: maps <= kernel iommu:map + 2 at the edges" \
		"$(jget "$f" .totals.map.count)" "$(($(kv iommu:map "$out") + 2))"
	TRACE_OPTS=--lossless traced "$fl" kcount iommu:map,iommu:unmap -- mixed_io 4
	out=$(cat "$fl")
	check_edges "mixed --lossless: maps = kernel iommu:map" "$(jget "$fl" .totals.map.count)" \
		"$(kv iommu:map "$out")"
	check_edges "mixed --lossless: unmaps = kernel iommu:unmap" \
		"$(jget "$fl" .totals.unmap.count)" "$(kv iommu:unmap "$out")"
	check_lossless_lost "mixed --lossless: nothing lost" "$fl"
	check_eq "mixed --lossless: DMA-API maps on virtio-net = its iommu maps" \
		"$(dev_get "$fl" "$IT_VNET_DEV" .dma_map.count)" "$(dev_get "$fl" "$IT_VNET_DEV" .map.count)"
	# DMA-API map/unmap page, sg, resource, alloc/free and the two tracepoints
	check_ge "--lossless: every hot hook has its twin" \
		"$($IT probes -j --lossless | jq '[.probes[] | select(.twins)] | length')" 10
	check_eq "lean: no twins" "$($IT probes -j | jq '[.probes[] | select(.twins)] | length')" 0
}

# 6: a VFIO user's maps appear under the edu device, unmanaged, with the owner
tracer_vfio() {
	local f=$T/vfio.out n=50 pid
	$IT stat -B -j -- "$IT_PROGS/vfio_map" "$IT_EDU_DEV" $n > "$f" 2>"$T/vfio.err"
	check_eq "vfio_map under the tracer: exit 0" $? 0
	hooks_note "$f"
	pid=$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' "$f" | tail -n 1)
	check_ge "vfio: maps on $IT_EDU_DEV" "$(dev_get "$f" "$IT_EDU_DEV" .map.count)" $n
	check_eq "vfio: domain type" "$(dev_get "$f" "$IT_EDU_DEV" .domain_type)" unmanaged
	check_eq "vfio: owner pid" "$(dev_get "$f" "$IT_EDU_DEV" .owner_pid)" "$pid"
	check_eq "vfio: owner comm" "$(dev_get "$f" "$IT_EDU_DEV" .owner_comm)" vfio_map
}

# exercise the coherent-allocation hooks: rebinding nvme allocates its queues
tracer_rebind() {
	local f=$T/rebind.out
	$IT stat -B -j -- sh -c "echo $IT_NVME_DEV > /sys/bus/pci/drivers/nvme/unbind && \
		echo $IT_NVME_DEV > /sys/bus/pci/drivers/nvme/bind && sleep 1 && \
		dd if=$IT_NVME_BLK of=/dev/null bs=4k count=10 iflag=direct 2>/dev/null" > "$f" 2>&1
	check_eq "nvme unbind/bind under the tracer" $? 0
	hooks_note "$f"
	jcheck "nvme rebind: DMA-API maps on nvme" "$f" \
		"[.devices[] | select(.device == \"$IT_NVME_DEV\")][0].dma_map.count > 0"
}

# 7: every hook attached in this config ran in at least one of the runs above
tracer_hooks() {
	local attached missing=""
	attached=$({ $IT probes -j; $IT probes -j --deep; } | jq -r '.probes[] | select(.attached) | .hook' |
		sort -u)
	for h in $attached; do
		case $h in
		# faults: checks/faults.sh. map_resource: no device in the guest maps
		# MMIO for peer DMA. iommu_map_sg: 6.1's DMA layer calls the _atomic
		# variant; only GPU and remoteproc drivers, absent here, call this one.
		dmar_fault | io_page_fault | console | dma_map_resource | dma_unmap_resource | \
			iommu_map_sg) continue ;;
		esac
		# the flush queue only runs for DMA-FQ groups: proven in intel-lazy
		case "$IT_MODE:$h" in
		strict:fq_*) continue ;;
		esac
		grep -qx "$h" "$HOOKS_SEEN" || missing="$missing $h"
	done
	check_eq "every attached hook fired in a workload" "${missing:- none}" " none"
}

# 5: no translation: say so plainly, exit 6 (passthrough) or 5 (none)
tracer_no_translation() {
	local want=5 msg="no IOMMU present" out rc
	[ "$IT_CONFIG" = intel-pt ] && want=6 && msg="passthrough"
	out=$(timeout 60 $IT stat -- dd if="$IT_NVME_BLK" of=/dev/null bs=4k count=10 iflag=direct 2>&1)
	rc=$?
	check_eq "no translation: exit code" "$rc" "$want"
	check "no translation: says '$msg'" sh -c "printf '%s' \"\$1\" | grep -q '$msg'" _ "$out"
	out=$(kcount iommu:map -- timeout 60 $IT stat -f -j -- dd if="$IT_NVME_BLK" of=/dev/null \
		bs=4k count=100 iflag=direct)
	check_eq "no translation, -f: runs and counts what the kernel counts" \
		"$(printf '%s\n' "$out" | grep '^{' | jq .totals.map.count)" "$(kv iommu:map "$out")"
	check_eq "no translation: kernel maps for nvme I/O" "$(kv iommu:map "$out")" 0
}

case $IT_CONFIG in
intel-pt | none)
	tracer_no_translation
	;;
*)
	: > "$HOOKS_SEEN"
	tracer_nvme
	tracer_flush
	tracer_inv_cmds
	tracer_other_devices
	tracer_mixed
	tracer_vfio
	tracer_rebind
	tracer_hooks
	;;
esac
