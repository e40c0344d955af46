# configs: intel-lazy amd-strict 6.12/intel-lazy 7/intel-lazy
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# leaks.sh: `iommutrace leaks` against known outstanding mappings.
# (a) the dmaleak test module (tests/vm/progs/dmaleak, built on the host for
#     this kernel) maps N buffers for the edu device, unmaps K, and maps and
#     unmaps a scatterlist (one map event per segment, one unmap for all):
#     exactly N-K mappings are listed, with dmaleak_map_one as the mapper;
#     after rmmod none, and the N-K unmaps are of mappings older than the trace;
# (b) vfio_map -H holds M mappings through VFIO_IOMMU_MAP_DMA: listed under
#     the edu device (unmanaged) while held, gone once the process exits;
# (c) nvme dd: no mapping older than 3 s at any interval.
# Sourced by suite.sh after lib.sh.

. tests/vm/tracer-lib.sh
T=$IT_OUT/leaks-${IT_NAME:-$IT_CONFIG}
mkdir -p "$T"
KO=$IT_PROGS/dmaleak-$(uname -r).ko

# jdocs FILE JQ: the expression over every JSON document in FILE, one per line
jdocs() {
	grep '^{' "$1" | jq -r "$2"
}

# edu FIELD: a field of the edu device's row in the last document of FILE
edu_get() {
	jget "$1" "[.devices[] | select(.device == \"$IT_EDU_DEV\")][0]$2 // 0"
}

leaks_insmod() {
	$IT leaks -j -s 20 -d "$IT_EDU_DEV" -- insmod "$KO" nr_map="$2" nr_unmap="$3" sg_pages=4 \
		>"$1" 2>"$T/module.err"
}

leaks_module() {
	local n=16 k=5 f=$T/module.json g=$T/rmmod.json out

	if [ ! -r "$KO" ]; then
		it_not_ok "dmaleak module built for $(uname -r)"
		it_comment "host: tests/vm/progs/dmaleak/build.sh $(uname -r) (vm.sh setup runs it)"
		return
	fi
	# the kernel's own count of the events: N + 4 maps (a scatterlist of 4
	# separate pages is 4 iommu:map events), K + 1 unmaps (the list in one)
	out=$(kcount iommu:map,iommu:unmap -- leaks_insmod "$f" $n $k)
	check_eq "insmod dmaleak under leaks: exit 0" $? 0
	check_eq "dmaleak: iommu:map events (N + 4 segments)" "$(kv iommu:map "$out")" $((n + 4))
	check_eq "dmaleak: iommu:unmap events (K + 1 for the list)" "$(kv iommu:unmap "$out")" $((k + 1))
	dmesg | grep 'dmaleak:' | tail -n 2 | sed 's/^/# /'
	check_eq "dmaleak: mappings listed on edu ($n mapped, $k unmapped)" "$(edu_get "$f" .count)" $((n - k))
	check_eq "dmaleak: bytes listed on edu" "$(edu_get "$f" .bytes)" $(((n - k) * 4096))
	check_eq "dmaleak: all listed" "$(jget "$f" .count)" $((n - k))
	check_eq "dmaleak: every stack's mapper is dmaleak_map_one" \
		"$(jget "$f" "[.devices[].stacks[] | select(.mapper // \"\" | startswith(\"dmaleak_map_one+\")) | .count] | add")" \
		$((n - k))
	check_eq "dmaleak: the module's stack names its probe" \
		"$(jget "$f" '[.devices[].stacks[].frames[] | select(startswith("dmaleak_probe+"))] | length > 0')" true
	check_eq "dmaleak: scatterlist segments all removed by one unmap (no partial)" \
		"$(jget "$f" .table.partial_unmaps)" 0
	check_eq "dmaleak: nothing lost" "$(jget "$f" '.table.table_full + .table.no_stack + .table.unmap_walk_limit')" 0
	check_eq "dmaleak: edu's domain type" "$(edu_get "$f" .domain_type)" "$want_type"
	check_le "dmaleak: oldest age below the trace's length" \
		"$(edu_get "$f" .oldest_age_s)" "$(jget "$f" .tracking_s)"

	$IT leaks -j -- rmmod dmaleak >"$g" 2>"$T/rmmod.err"
	check_eq "rmmod dmaleak under leaks: exit 0" $? 0
	check_eq "after rmmod: nothing listed" "$(jget "$g" .count)" 0
	check_eq "after rmmod: its unmaps were of mappings older than the trace" \
		"$(jget "$g" .older_than_trace.unmaps)" $((n - k))

	# the text table (README), while the module holds its buffers
	$IT leaks -s 2 -- /bin/sh -c "insmod '$KO' nr_map=$n nr_unmap=$k && sleep 2" \
		>"$T/module.txt" 2>&1
	check "text: the held buffers under dmaleak_map_one" \
		grep -q "^  *$((n - k)) .*dmaleak_map_one+0x[0-9a-f]* \[dmaleak\] (pid [0-9]* insmod)" "$T/module.txt"
	sed 's/^/# /' "$T/module.txt"
	check "text run: rmmod dmaleak" rmmod dmaleak
}

leaks_vfio() {
	local m=24 f=$T/vfio.json held

	$IT leaks -j -d "$IT_EDU_DEV" 2 -- "$IT_PROGS/vfio_map" -H 7 "$IT_EDU_DEV" $m \
		>"$f" 2>"$T/vfio.err"
	check_eq "vfio_map -H under leaks: exit 0" $? 0
	held=$(jdocs "$f" "select(.final == false) | [.devices[] | select(.device == \"$IT_EDU_DEV\") | .count] | add // 0" |
		sort -n | tail -n 1)
	check_eq "vfio: $m held mappings listed under $IT_EDU_DEV" "$held" $m
	check_eq "vfio: held while the domain is unmanaged" \
		"$(jdocs "$f" "select(.final == false) | .devices[] | select(.device == \"$IT_EDU_DEV\" and .count == $m) | .domain_type" | head -n 1)" unmanaged
	check_eq "vfio: the mapper is VFIO, by vfio_map" \
		"$(jdocs "$f" "select(.final == false) | .devices[].stacks[] | select(.count == $m) | ((.mapper // \"\") | test(\"vfio\")) and .comm == \"vfio_map\"" | head -n 1)" true
	check_eq "vfio: none listed after exit" "$(jget "$f" .count)" 0
}

leaks_nvme() {
	local f=$T/nvme.json old

	$IT leaks -j --min-age 3 -d "$IT_NVME_DEV" 2 -- \
		dd if="$IT_NVME_BLK" of=/dev/null iflag=direct bs=4k count=30000 status=none \
		>"$f" 2>"$T/nvme.err"
	check_eq "nvme dd under leaks: exit 0" $? 0
	check_ge "nvme: interval documents" "$(grep -c '^{' "$f")" 2
	old=$(jdocs "$f" '.count' | sort -n | tail -n 1)
	check_eq "nvme dd: no mapping older than 3 s at any interval" "$old" 0
	# QD1 under TCG: a read is in flight most of the time, so some interval
	# sees one young mapping (hidden by --min-age): the table is live
	check_ge "nvme dd: in-flight mappings tracked (younger ones hidden)" \
		"$(jdocs "$f" 'select(.final == false) | .hidden' | sort -n | tail -n 1)" 1
	$IT leaks -j -d "$IT_NVME_DEV" -- \
		dd if="$IT_NVME_BLK" of=/dev/null iflag=direct bs=4k count=3000 status=none \
		>"$T/nvme-all.json" 2>>"$T/nvme.err"
	check_eq "nvme dd: none outstanding once dd is done" "$(jget "$T/nvme-all.json" .count)" 0
	# 64 KiB reads: scatterlists (dma_iova_link on 7.x), one unmap per request
	$IT leaks -j -d "$IT_NVME_DEV" -- \
		dd if="$IT_NVME_BLK" of=/dev/null iflag=direct bs=64k count=500 status=none \
		>"$T/nvme-64k.json" 2>>"$T/nvme.err"
	check_eq "nvme dd 64k: every unmap matched its segments" \
		"$(jget "$T/nvme-64k.json" '[.older_than_trace.unmaps, .table.partial_unmaps, .table.unmap_walk_limit] | add')" 0
	# What stays is not a leak: the first PRP list grows nvme's DMA pool by a
	# page (dma_pool_alloc -> iommu_dma_alloc) that lives as long as the pool
	jget "$T/nvme-64k.json" '.devices[].stacks[] | "# outstanding after dd 64k: \(.count) by \(.mapper)"'
	check_eq "nvme dd 64k: nothing outstanding but DMA-pool pages" \
		"$(jget "$T/nvme-64k.json" '[.devices[].stacks[] | select(any(.frames[]; startswith("dma_pool_alloc+")) | not) | .count] | add // 0')" 0
}

case $IT_CONFIG in
*-lazy) want_type=DMA-FQ ;;
*) want_type=DMA ;;
esac
leaks_module
leaks_vfio
leaks_nvme
