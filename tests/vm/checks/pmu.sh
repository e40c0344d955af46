# configs: intel-lazy amd-strict none
# SPDX-License-Identifier: GPL-2.0
#
# Hardware IOMMU counters in the QEMU guest: neither QEMU's intel-iommu (no
# VT-d perfmon; the 6.1 guest kernel predates it anyway) nor its amd-iommu
# (no performance-counter feature) registers a PMU. `iommutrace pmu` must say
# so once, plainly, give this configuration's reason and exit 0, in text,
# JSON and counting mode alike.

pmu_out=$(./iommutrace pmu 2>&1)
check_eq pmu-absent-exit-0 "$?" 0
check_eq pmu-absent-one-line "$(printf '%s\n' "$pmu_out" | wc -l)" 1
check_eq pmu-absent-said-once \
	"$(printf '%s\n' "$pmu_out" | grep -c '^no IOMMU PMU on this system (')" 1

# Intel: a kernel before 6.3 is named as the reason, a newer one the hardware
pmu_rel=$(uname -r)
pmu_maj=${pmu_rel%%.*}
pmu_min=${pmu_rel#*.}
pmu_min=${pmu_min%%.*}
if [ "$pmu_maj" -lt 6 ] || { [ "$pmu_maj" -eq 6 ] && [ "$pmu_min" -lt 3 ]; }; then
	pmu_intel="Linux $pmu_rel predates VT-d perfmon support, added in 6.3)"
else
	pmu_intel='they need VT-d 4.0 perfmon hardware'
fi
case $IT_CONFIG in
intel-*) pmu_why="(Intel IOMMU dmar0 has no perf counters: $pmu_intel" ;;
amd-*) pmu_why='(AMD IOMMU ivhd0 has no perf counters: ' ;;
*) pmu_why='(no IOMMU is enabled; ' ;;
esac
check_eq pmu-absent-reason \
	"$(printf '%s\n' "$pmu_out" | grep -cF "$pmu_why")" 1

# nothing under event_source may look like an IOMMU PMU in this guest
check_eq pmu-no-iommu-event-source \
	"$(ls /sys/bus/event_source/devices | grep -cE '^(dmar[0-9]+|amd_iommu_[0-9]+)$')" 0

pmu_json=$(./iommutrace pmu -j 2>/dev/null)
check_eq pmu-absent-json-exit-0 "$?" 0
check_eq pmu-absent-json-status \
	"$(printf '%s\n' "$pmu_json" | grep -cF '"status":"no_pmu"')" 1
check_eq pmu-absent-json-no-units "$(printf '%s\n' "$pmu_json" | grep -cF '"pmus":[]')" 1

# asking to count changes nothing: the same single sentence, exit 0
pmu_count=$(./iommutrace pmu -i 0.2 -c 2 2>&1)
check_eq pmu-absent-count-exit-0 "$?" 0
check_eq pmu-absent-count-same-message "$pmu_count" "$pmu_out"

# stat next to the counters. Without a PMU, stat says why once (stderr) and
# its JSON has status no_pmu and no figures; nothing else changes. With the
# swdev fixture (dmar0 = the software PMU, guest devices linked to it) the
# real perf_event_open/read path counts: the unit row and, because nvme did
# DMA, a row filtered to the nvme's requester id, opened while dd runs.
case $IT_CONFIG in
none) ;;
*)
	. tests/vm/tracer-lib.sh
	pmu_f=$IT_OUT/pmu-stat
	$IT stat -j -- dd if="$IT_NVME_BLK" of=/dev/null bs=4k count=500 iflag=direct \
		> "$pmu_f.json" 2> "$pmu_f.err"
	check_eq pmu-stat-absent-said-once \
		"$(grep -c 'no IOMMU PMU on this system (' "$pmu_f.err")" 1
	jcheck pmu-stat-absent-json "$pmu_f.json" \
		'.pmu.status == "no_pmu" and (.pmu.units | length) == 0 and .totals.pmu == null'
	jcheck pmu-stat-absent-maps-still-counted "$pmu_f.json" '.totals.map.count >= 500'

	pmu_f=$IT_OUT/pmu-swdev
	# long enough that opening the device's counters (within a watch period of
	# its first map) is a small part of it: the lean tracer makes 3000 reads ~1 s
	$IT stat -j -d nvme --pmu-sysfs tests/fixtures/pmu/swdev -- \
		dd if="$IT_NVME_BLK" of=/dev/null bs=4k count=12000 iflag=direct \
		> "$pmu_f.json" 2> "$pmu_f.err"
	check_eq pmu-swdev-nothing-to-say "$(grep -c PMU "$pmu_f.err")" 0
	jcheck pmu-swdev-unit-row "$pmu_f.json" \
		'[.pmu.units[] | select(.unit == "dmar0" and .device == null)] | length == 1'
	jcheck pmu-swdev-nvme-row-only "$pmu_f.json" \
		"[.pmu.units[] | select(.device != null) | .device] == [\"$IT_NVME_DEV\"]"
	pmu_look=$(dev_get "$pmu_f.json" "$IT_NVME_DEV" .pmu.lookups_per_s)
	check_ge pmu-swdev-nvme-lookups-cpu-clock-rate "$pmu_look" 300000000
	check_le pmu-swdev-nvme-lookups-at-most-1e9 "$pmu_look" 1200000000
	check_eq pmu-swdev-nvme-hit-pct "$(dev_get "$pmu_f.json" "$IT_NVME_DEV" .pmu.iotlb_hit_pct)" 0
	# both rows count CPU 0's clock: their ratio is the share of the run the
	# device row saw, opened within a watch period (0.25 s) of nvme's first map
	jcheck pmu-swdev-nvme-counted-most-of-run "$pmu_f.json" \
		"([.pmu.units[] | select(.device == \"$IT_NVME_DEV\")][0].counts.iotlb_lookups) >= 0.5 * ([.pmu.units[] | select(.device == null)][0].counts.iotlb_lookups)"
	# the table: -d by driver keeps nvme's own line in the IOMMU-PMU block (a
	# run long enough for the device's counters to open and count, as above)
	$IT stat -d nvme --pmu-sysfs tests/fixtures/pmu/swdev -- \
		dd if="$IT_NVME_BLK" of=/dev/null bs=4k count=12000 iflag=direct \
		> "$pmu_f.txt" 2>&1
	check pmu-swdev-table-nvme-row grep -Eq "^$IT_NVME_DEV +nvme .* 0\.0 +[0-9]+\$" "$pmu_f.txt"
	check pmu-swdev-table-block-nvme-line \
		grep -Eq "^ $IT_NVME_DEV +[0-9]+ +[0-9]+ +0\.00 +[0-9]+ +[01]\.[0-9]+ +- +-\$" "$pmu_f.txt"
	;;
esac
