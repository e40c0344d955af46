#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# leaks-cost.sh: what tracking outstanding mappings costs (iommutrace leaks,
# stat --leaks). In the guest, interleaved rounds of `iommutrace stat -B -j`
# over an nvme dd (4 KiB O_DIRECT reads: one DMA map+unmap pair each), with
# and without --leaks; kernel.bpf_stats gives every program's run time.
# Prints per run: pairs, BPF ns per pair (all programs, and the iommu:map /
# iommu:unmap programs that do the tracking), and dd's wall time.
#
#   tests/vm/vm.sh run -- bench/leaks-cost.sh     (LEAKS_COST_ROUNDS=3,
#                                                  LEAKS_COST_BLOCKS=5000)
. tests/vm/lib.sh
IT=${IT:-./iommutrace}
ROUNDS=${LEAKS_COST_ROUNDS:-3}
N=${LEAKS_COST_BLOCKS:-5000}
D=${IT_OUT:-/tmp}/leaks-cost
mkdir -p "$D"

r=1
while [ "$r" -le "$ROUNDS" ]; do
	for m in off on; do
		opt=
		[ "$m" = on ] && opt=--leaks
		f=$D/$m-$r.json
		# shellcheck disable=SC2086
		$IT stat -B -j $opt -- /bin/sh -c 't0=$(date +%s.%N); dd if="$1" of=/dev/null iflag=direct bs=4k count="$2" status=none; t1=$(date +%s.%N); echo "$t0 $t1" >"$3"' \
			sh "$IT_NVME_BLK" "$N" "$f.time" >"$f" 2>"$f.err" || echo "# run $m $r failed: $(cat "$f.err")"
		jq -r --arg m "$m" --arg r "$r" --arg t "$(cat "$f.time")" '
			($t | split(" ") | (.[1] | tonumber) - (.[0] | tonumber)) as $secs |
			.totals.map.count as $pairs |
			([.hooks[].run_ns] | add) as $all |
			([.hooks[] | select(.hook == "map" or .hook == "unmap") | .run_ns] | add) as $tp |
			"leaks=\($m) round=\($r) pairs=\($pairs) ns_per_pair=\($all / $pairs | floor) map_unmap_ns_per_pair=\($tp / $pairs | floor) dd_s=\($secs * 1000 | floor / 1000)"' "$f"
	done
	r=$((r + 1))
done
