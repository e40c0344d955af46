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
