# configs: intel-lazy amd-strict intel-pt none
# SPDX-License-Identifier: GPL-2.0
#
# `iommutrace info` in the guest, checked against what the guest kernel
# itself reports: its DMAR:/AMD-Vi: boot lines (dmesg) and sysfs. Sourced
# after tests/vm/lib.sh (check, check_eq, IT_CONFIG, IT_IOMMU, IT_MODE,
# IT_OUT); runs as root, so the ACPI tables and /dev/kmsg are readable.

info_json=$(./iommutrace info -j 2>"$IT_OUT/info.err")
check_eq info-json-exit-0 "$?" 0
check info-json-valid sh -c 'printf "%s" "$1" | jq -e . >/dev/null' sh "$info_json"

# info_q FILTER: jq -r FILTER over the JSON above
info_q() {
	printf '%s' "$info_json" | jq -r "$1"
}

info_dmesg=$(dmesg 2>/dev/null)

# ---------------------------------------------------------------- sysfs

info_n=0
for info_u in /sys/class/iommu/*; do
	[ -e "$info_u" ] && info_n=$((info_n + 1))
done
check_eq info-units-as-sysfs "$(info_q .summary.units)" "$info_n"

info_groups=""
for info_g in /sys/kernel/iommu_groups/*; do
	[ -e "$info_g" ] || continue
	info_groups="$info_groups$(basename "$info_g") $(cat "$info_g/type")
"
done
check_eq info-group-types-as-sysfs \
	"$(info_q '.groups[] | "\(.id) \(.type)"' | sort -n)" \
	"$(printf '%s' "$info_groups" | sort -n)"

# every device of every group, with its driver ("-" for none)
info_devs=""
for info_d in /sys/kernel/iommu_groups/*/devices/*; do
	[ -e "$info_d" ] || continue
	info_drv=-
	[ -L "$info_d/driver" ] && info_drv=$(basename "$(readlink "$info_d/driver")")
	info_devs="$info_devs$(basename "$info_d") $info_drv
"
done
check_eq info-devices-and-drivers-as-sysfs \
	"$(info_q '.groups[].devices[] | "\(.name) \(.driver // "-")"' | sort)" \
	"$(printf '%s' "$info_devs" | sort)"

# a shared-group warning for each group of two or more devices
info_shared=0
for info_g in /sys/kernel/iommu_groups/*; do
	[ -e "$info_g" ] || continue
	[ "$(ls "$info_g/devices" | wc -l)" -ge 2 ] && info_shared=$((info_shared + 1))
done
check_eq info-shared-group-warnings "$(info_q '[.warnings[] | select(.kind == "shared-group")] | length')" \
	"$info_shared"

# ------------------------------------------------------- the kernel's log

check_eq info-log-readable-as-root "$(info_q .kernel.log.readable)" true

# faults the kernel printed since boot (rate limiting hides some from both)
info_faults=$(printf '%s\n' "$info_dmesg" |
	grep -cE 'DMAR: ?\[(DMA |INTR-REMAP)|Event logged \[')
check_eq info-faults-as-dmesg "$(info_q .summary.faults)" "$info_faults"

if printf '%s\n' "$info_dmesg" | grep -qE 'DMAR-IR: Enabled IRQ remapping|AMD-Vi: Interrupt remapping enabled'; then
	info_ir=on
else
	info_ir=off
fi
check_eq info-irq-remapping-as-dmesg "$(info_q .summary.interrupt_remapping)" "$info_ir"

# --------------------------------------------------------- per IOMMU kind

case $IT_IOMMU in
intel)
	check_eq info-vendor-intel "$(info_q .summary.vendor)" intel
	info_dmar='.acpi[] | select(.kind == "DMAR")'
	check_eq info-dmar-decoded "$(info_q "[$info_dmar | select(.error == null)] | length")" 1
	# "DMAR: Host address width 39"
	check_eq info-host-address-width-as-dmesg \
		"$(info_q "$info_dmar | .host_address_width")" \
		"$(printf '%s\n' "$info_dmesg" | sed -n 's/.*DMAR: Host address width \([0-9]*\).*/\1/p' | head -n 1)"
	# "DMAR: DRHD base: 0x000000fed90000 flags: 0x0"
	info_want=""
	for info_b in $(printf '%s\n' "$info_dmesg" |
		sed -n 's/.*DMAR: DRHD base: \(0x[0-9a-f]*\) flags: \(0x[0-9a-f]*\).*/\1:\2/p'); do
		info_want="$info_want$(printf '0x%x flags %d' "${info_b%%:*}" "${info_b##*:}")
"
	done
	check_eq info-drhd-as-dmesg \
		"$(info_q "$info_dmar"' | .structures[] | select(.type == "DRHD") | "\(.base) flags \(.flags)"')" \
		"$(printf '%s' "$info_want")"
	# "DMAR: dmar0: reg_base_addr fed90000 ver 1:0 cap d2008c22260206 ecap f00f4a"
	check_eq info-units-cap-ecap-as-dmesg \
		"$(info_q '.units[] | "\(.name) \(.address) \(.version) \(.cap) \(.ecap)"' | sort)" \
		"$(printf '%s\n' "$info_dmesg" |
			sed -n 's/.*DMAR: \(dmar[0-9]*\): reg_base_addr \([0-9a-f]*\) ver \([0-9:]*\) cap \([0-9a-f]*\) ecap \([0-9a-f]*\).*/\1 0x\2 \3 0x\4 0x\5/p' | sort)"
	check_eq info-drhd-joined-to-unit \
		"$(info_q "[$info_dmar"' | .structures[] | select(.type == "DRHD" and .unit != null)] | length')" \
		"$(info_q '.summary.units')"
	;;
amd)
	check_eq info-vendor-amd "$(info_q .summary.vendor)" amd
	info_ivrs='.acpi[] | select(.kind == "IVRS")'
	check_eq info-ivrs-decoded "$(info_q "[$info_ivrs | select(.error == null)] | length")" 1
	# "pci 0000:00:01.0: AMD-Vi: Found IOMMU cap 0x40"
	info_line=$(printf '%s\n' "$info_dmesg" | sed -n 's/.*pci [0-9a-f]*:\([0-9a-f:.]*\): AMD-Vi: Found IOMMU cap \(0x[0-9a-f]*\).*/\1 \2/p' | head -n 1)
	check_eq info-ivhd-as-dmesg \
		"$(info_q "$info_ivrs"' | .ivhd[0] | "\(.devid) \(.cap_offset)"')" \
		"${info_line%% *} $(printf '%d' "${info_line##* }")"
	# "AMD-Vi: Extended features (0x29d3, 0x0): PreF PPR GT IA GA HE"
	check_eq info-efr-features-as-dmesg \
		"$(info_q '.units[0].efr_features | join(" ")')" \
		"$(printf '%s\n' "$info_dmesg" | sed -n 's/.*AMD-Vi: Extended features ([^)]*): *\(.*[^ ]\) *$/\1/p' | head -n 1)"
	check_eq info-ivhd-joined-to-unit "$(info_q "$info_ivrs | .ivhd[0].unit")" \
		"$(basename /sys/class/iommu/ivhd*)"
	;;
*)
	check_eq info-vendor-none "$(info_q .summary.vendor)" none
	check_eq info-no-tables "$(info_q '.acpi | length')" 0
	check_eq info-no-iommu-warning "$(info_q '[.warnings[] | select(.kind == "no-iommu")] | length')" 1
	;;
esac

# ------------------------------------------------------------- per mode

info_ngroups=$(info_q .summary.groups)
case $IT_MODE in
lazy) check_eq info-all-groups-lazy "$(info_q .summary.groups_dma_fq)" "$info_ngroups" ;;
strict) check_eq info-all-groups-strict "$(info_q .summary.groups_dma)" "$info_ngroups" ;;
pt)
	check_eq info-all-groups-identity "$(info_q .summary.groups_identity)" "$info_ngroups"
	check_eq info-passthrough-warning \
		"$(info_q '[.warnings[] | select(.kind == "passthrough")] | length')" 1
	;;
esac

# ------------------------------------------------ tree, --acpi, exit codes

info_tree=$(./iommutrace info 2>&1)
check_eq info-tree-exit-0 "$?" 0
check info-tree-summary sh -c 'printf "%s\n" "$1" | head -n 1 | grep -q "^IOMMU: "' sh "$info_tree"

for info_t in /sys/firmware/acpi/tables/DMAR /sys/firmware/acpi/tables/IVRS; do
	[ -r "$info_t" ] || continue
	info_name=$(basename "$info_t")
	info_acpi=$(./iommutrace info -j --acpi "$info_t")
	check_eq "info-acpi-$info_name-exit-0" "$?" 0
	check_eq "info-acpi-$info_name-length" \
		"$(printf '%s' "$info_acpi" | jq -r '"\(.summary.live) \(.acpi[0].length)"')" \
		"false $(wc -c <"$info_t" | tr -d ' ')"
	head -c 40 "$info_t" >"$IT_OUT/info-$info_name.trunc"
	./iommutrace info --acpi "$IT_OUT/info-$info_name.trunc" >/dev/null 2>"$IT_OUT/info.err"
	check_eq "info-acpi-$info_name-truncated-exit-8" "$?" 8
	check "info-acpi-$info_name-truncated-names-offset" grep -q 'offset 0x' "$IT_OUT/info.err"
done

./iommutrace info --bogus >/dev/null 2>&1
check_eq info-unknown-option-exit-2 "$?" 2
