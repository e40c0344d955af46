#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# matrix.sh: the tested matrix (kernel x IOMMU x mode x QEMU), as Markdown on
# stdout, from the suite's own results: tests/vm/results/CONFIG/suite.env
# (the config's ok/not ok tally, written by suite.sh), core.env (the numbers
# checks/core.sh measured: tracer vs the kernel's own counters) and
# notok.txt (its failed checks). suite.sh writes it to
# tests/vm/results/matrix.md after every run; `make matrix` copies that to
# docs/matrix.md. A config's row is as old as its last run (the date column).
#
#   tests/vm/matrix.sh [RESULTS-DIR]

set -u -o pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RES=${1:-$VM_DIR/results}

# val FILE KEY: KEY's value in a key=value FILE, "" if absent
val() {
	[[ -r $1 ]] || return 0
	awk -v k="$2" 'index($0, k "=") == 1 { v = substr($0, length(k) + 2) } END { print v }' "$1"
}

# pair A B: "A / B", "A" when B is empty, "-" when both are
pair() {
	if [[ -z $1 && -z $2 ]]; then
		echo "-"
	elif [[ -z $2 ]]; then
		echo "$1"
	else
		echo "$1 / $2"
	fi
}

# configs: every results directory with a suite.env, 6.1 first, then by
# kernel and name
configs() {
	find "$RES" -name suite.env -printf '%P\n' 2>/dev/null | sed 's|/suite.env$||' |
		awk '{ k = index($0, "/") ? substr($0, 1, index($0, "/") - 1) : "6.1"; print k "\t" $0 }' |
		sort -t$'\t' -k1,1V -k2,2 | cut -f2
}

# lossless CORE_ENV: "maps / kernel's, lost N, made up M" of core.sh's --lossless mixed run
lossless() {
	local m u

	m=$(val "$1" lossless_maps)
	[[ -n $m ]] || { echo -; return; }
	u=$(val "$1" lossless_made_up)
	echo "${m/\// / }, lost $(val "$1" lossless_lost)${u:+, made up $u}"
}

row() {
	local cfg=$1 s=$RES/$1/suite.env c=$RES/$1/core.env
	local kernel=6.1 kver qemu iommu mode flush sync checks

	[[ $cfg == */* ]] && kernel=${cfg%%/*}
	kver=$(val "$c" kver)
	qemu=$(val "$c" qemu)
	iommu=$(val "$c" iommu)
	mode=$(val "$c" mode)
	flush=$(pair "$(val "$c" fq_flush)" "$(val "$c" kflush)")
	[[ -n $(val "$c" flush_fn) && $flush != - ]] && flush+=" ($(val "$c" flush_fn))"
	sync=$(pair "$(val "$c" iotlb_sync)" "$(val "$c" ksync)")
	checks="$(val "$s" ok) ok, $(val "$s" notok) not ok"
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
		"$cfg" "${kver:-$kernel}" "${qemu:--}" "${iommu:--}" "${mode:--}" \
		"$(val "$c" group_type)" "$(val "$c" hooks)" \
		"$(pair "$(val "$c" maps)" "$(val "$c" kmaps)")" \
		"$(pair "$(val "$c" unmaps)" "$(val "$c" kunmaps)")" \
		"$flush" "$(pair "$(val "$c" fq_freed)" "")" "$(pair "$(val "$c" deep_4k)" "")" "$sync" \
		"$(pair "$(val "$c" faults)" "$(val "$c" kfaults)")" \
		"$(lossless "$c")" "$checks" "$(val "$s" date)"
}

# hooks_unserved PROBES_JSON: "hook (reason)" for each hook missing for want of a function
hooks_unserved() {
	[[ -r $1 ]] || return 0
	jq -r '[.probes[] | select(.attached | not) |
		select(.reason | test("not the active|no IOMMU|--deep only|^fallback:|no VFIO") | not) |
		"\(.hook) (\(.reason))"] | join("; ")' "$1"
}

main() {
	local cfg n m

	[[ -d $RES ]] || { echo "matrix.sh: no results in $RES (run tests/vm/suite.sh)" >&2; exit 1; }
	mapfile -t cfgs < <(configs)
	((${#cfgs[@]})) || { echo "matrix.sh: no suite results in $RES" >&2; exit 1; }
	cat <<'EOF'
# Tested matrix

Written by `tests/vm/matrix.sh` from the VM suite's own results (`make vmtest`, or
`tests/vm/suite.sh CONFIG...`); `make matrix` copies it here. Each row is one boot of
Debian's kernel under QEMU (TCG) with the IOMMU and mode named, running the check
scripts that name the configuration (6.1: all of them; the others: `checks/core.sh`).
Numbers are from `checks/core.sh`: one `iommutrace stat -j` over `dd` of 3000 4 KiB
O_DIRECT reads from nvme, against the kernel's own counters for the same run
(`perf stat -e iommu:map,iommu:unmap`, kprobe counts of the named kernel function),
written "tracer / kernel"; then 3 edu DMA reads of an unmapped IOVA.

- hooks: attached of listed by `iommutrace probes` (hooks of other IOMMU drivers count as not attached).
- lazy flushes: the tracer's flush-queue flushes / the kernel's calls of the function named
  (`fq_flush_iotlb`, or the driver's flush-all callback where that is inlined).
- freed: entries the tracer saw the flush queue free, and 4K walked: maps the page-table walker
  followed to a 4 KiB leaf, both from a second run with `--deep` over 1000 reads (the lean
  default leaves both out). strict syncs: tracer / the driver's `iotlb_sync` callback calls.
- faults: faults the tracer decoded / the kernel's `dmar_fault` calls (QEMU's AMD-Vi and
  virtio-iommu raise none for the edu device).
- --lossless: `stat --lossless` over 3 s of nvme fio and a TCP echo over virtio-net at once
  (a NIC's DMA in softirq interrupting the block DMA of a task): maps / the kernel's, lost, and
  the runs the kernel skipped that the twins made up.

| config | kernel | QEMU | IOMMU | mode | group | hooks | maps | unmaps | lazy flushes | freed | 4K walked | strict syncs | faults | --lossless, nvme + virtio-net: maps, lost, made up | checks | run (UTC) |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
EOF
	for cfg in "${cfgs[@]}"; do
		row "$cfg"
	done
	echo
	echo "## Failed checks"
	echo
	n=0
	for cfg in "${cfgs[@]}"; do
		[[ -s $RES/$cfg/notok.txt ]] || continue
		n=$((n + 1))
		sed 's/^not ok - /- /' "$RES/$cfg/notok.txt"
	done
	((n)) || echo "None."
	echo
	echo "## Hooks this kernel cannot serve"
	echo
	echo "Hooks of the lean default that did not attach, with \`probes\`' reason (other drivers'"
	echo "hooks, hooks left to \`--deep\` and fallbacks not needed are left out)."
	echo
	for cfg in "${cfgs[@]}"; do
		[[ -r $RES/$cfg/core.env ]] || continue
		m=$(hooks_unserved "$RES/$cfg/core/probes.json")
		echo "- $cfg ($(val "$RES/$cfg/core.env" kver)): ${m:-none}"
	done
}

main "$@"
