# configs: intel-lazy intel-strict
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# record / report / compare on the nvme controller. Each boot records the
# same fio run (4k randread QD1, 4 s) into $IT_OUT/compare-nvme.itr with the
# fio IOPS as its workload figure. suite.sh gives every config its own --out
# directory (tests/vm/results/CONFIG), and the guest sees the host's tree
# read-only, so the intel-strict boot finds the intel-lazy boot's recording
# at $IT_OUT/../intel-lazy/ (the suite runs intel-lazy first) and compares
# the two: invalidations per unmap ~1 strict and << 1 lazy, the IOPS ratio
# reported. A lazy recording older than an hour is another run's: skipped.
#
# Live switching (compare --live) works on 6.1 with --rebind for the nvme
# group, which holds one device: run in the intel-lazy boot, with the
# restore after a failing command and after SIGINT.
#
# Hardware counters: the guest has no IOMMU PMU, so record says so once and
# the recording says no_pmu. With --pmu-sysfs tests/fixtures/pmu/swdev (dmar0
# = the software PMU: cpu-clock as IOTLB lookups, never a hit) the counters
# are real perf events: a recording during nvme reads (intel-lazy) has the
# unit row and the nvme's filtered row, and compare --live carries them for
# each of its two runs.

cmp_dir=$IT_OUT
cmp_rec=$cmp_dir/compare-nvme.itr
cmp_kv=$cmp_dir/compare-fio.kv
cmp_grp=$(basename "$(readlink "/sys/bus/pci/devices/$IT_NVME_DEV/iommu_group")")
cmp_type=/sys/kernel/iommu_groups/$cmp_grp/type

# cmp_fio SECS: the fio workload as a command line for record/compare
cmp_fio() {
	echo ". $IT_REPO/tests/vm/lib.sh; wl_fio $IT_NVME_BLK $1 > $cmp_kv"
}

# ------------------------------------------------------------- record

rm -f "$cmp_rec" "$cmp_kv"
./iommutrace record -o "$cmp_rec" -d nvme -F "IOPS=@$cmp_kv" -- \
	/bin/sh -c "$(cmp_fio 4)" >"$IT_OUT/compare-record.out" 2>&1
check_eq compare-record-exit-0 "$?" 0
cmp_iops=$(kv iops "$(cat "$cmp_kv" 2>/dev/null)")
cmp_ios=$(kv ios "$(cat "$cmp_kv" 2>/dev/null)")

cmp_json=$(./iommutrace report -j "$cmp_rec" 2>"$IT_OUT/compare-report.err")
check_eq compare-report-exit-0 "$?" 0
cmp_q() {
	printf '%s' "$cmp_json" | jq -r "$1"
}
cmp_dev='.devices[] | select(.device == "'"$IT_NVME_DEV"'")'
check_eq compare-report-source "$(cmp_q .source)" "$cmp_rec"
# one map per 4k read (fio's ios), plus a few for its setup
check_near compare-report-maps-as-fio "$(cmp_q "$cmp_dev | .map.count")" "$cmp_ios" 3
cmp_pu=$(cmp_q "$cmp_dev | .flush.per_unmap")
case $IT_MODE in
strict) check_near compare-report-strict-inv-per-unmap "$cmp_pu" 1 2 ;;
lazy) check_le compare-report-lazy-inv-per-unmap "$cmp_pu" 0.1 ;;
esac
check compare-report-text sh -c './iommutrace report "$1" | grep -q "^recording .*mode '"$IT_MODE"'"' \
	sh "$cmp_rec"
check_eq compare-record-no-pmu-said-once \
	"$(grep -c 'no IOMMU PMU on this system (' "$IT_OUT/compare-record.out")" 1
check_eq compare-report-no-pmu "$(cmp_q '.pmu.status + " " + (.pmu.units | length | tostring)')" \
	"no_pmu 0"

if [ "$IT_CONFIG" = intel-lazy ]; then
	cmp_prec=$IT_OUT/compare-pmu.itr
	./iommutrace record -o "$cmp_prec" -d nvme -i 0.5 --pmu-sysfs tests/fixtures/pmu/swdev -- \
		dd if="$IT_NVME_BLK" of=/dev/null bs=4k count=3000 iflag=direct \
		>"$IT_OUT/compare-pmu-record.out" 2>&1
	check_eq compare-pmu-record-exit-0 "$?" 0
	check_eq compare-pmu-record-nothing-said "$(grep -c PMU "$IT_OUT/compare-pmu-record.out")" 0
	cmp_json=$(./iommutrace report -j "$cmp_prec" 2>"$IT_OUT/compare-pmu-report.err")
	check_eq compare-pmu-report-exit-0 "$?" 0
	check_eq compare-pmu-report-status "$(cmp_q .pmu.status)" ok
	check_eq compare-pmu-report-unit-row \
		"$(cmp_q '[.pmu.units[] | select(.unit == "dmar0" and .device == null)] | length')" 1
	check_eq compare-pmu-report-nvme-row \
		"$(cmp_q '[.pmu.units[] | select(.device != null) | .device] | join(",")')" "$IT_NVME_DEV"
	cmp_look=$(cmp_q "$cmp_dev | .pmu.lookups_per_s")
	check_ge compare-pmu-report-nvme-lookups-cpu-clock-rate "$cmp_look" 300000000
	check_le compare-pmu-report-nvme-lookups-at-most-1e9 "$cmp_look" 1200000000
	check_eq compare-pmu-report-nvme-hit-pct "$(cmp_q "$cmp_dev | .pmu.iotlb_hit_pct")" 0
	check compare-pmu-report-text sh -c './iommutrace report "$1" | grep -Eq "^ $2 +[0-9]+ +[0-9]+ +0\.00 "' \
		sh "$cmp_prec" "$IT_NVME_DEV"
	it_comment "$(./iommutrace report "$cmp_prec" | grep -A3 '^IOMMU-PMU')"
fi

# a copy cut short and one with a flipped byte: exit 9, a message naming the file
head -c 600 "$cmp_rec" >"$IT_OUT/compare-cut.itr"
./iommutrace report "$IT_OUT/compare-cut.itr" >/dev/null 2>"$IT_OUT/compare-cut.err"
check_eq compare-report-truncated-exit-9 "$?" 9
check compare-report-truncated-message grep -q "compare-cut.itr: truncated" "$IT_OUT/compare-cut.err"
rm -f "$IT_OUT/compare-cut.itr"

# ------------------------------------------------- compare two boots

if [ "$IT_CONFIG" = intel-strict ]; then
	cmp_lazy=$cmp_dir/../intel-lazy/compare-nvme.itr
	if [ -n "$(find "$cmp_lazy" -mmin -60 2>/dev/null)" ]; then
		cmp_c=$(./iommutrace compare -j "$cmp_lazy" "$cmp_rec" 2>"$IT_OUT/compare.err")
		check_eq compare-two-boots-exit-0 "$?" 0
		./iommutrace compare "$cmp_lazy" "$cmp_rec" >"$IT_OUT/compare.txt" 2>&1
		cmp_cq() {
			printf '%s' "$cmp_c" | jq -r "$1"
		}
		cmp_cd='.devices[] | select(.device == "'"$IT_NVME_DEV"'")'
		check_le compare-lazy-inv-per-unmap \
			"$(cmp_cq "$cmp_cd | .a.invalidations_per_unmap")" 0.1
		check_near compare-strict-inv-per-unmap \
			"$(cmp_cq "$cmp_cd | .b.invalidations_per_unmap")" 1 2
		check_eq compare-figure-name "$(cmp_cq .workload_figure.name)" IOPS
		check_eq compare-figure-b "$(cmp_cq .workload_figure.b)" "$cmp_iops"
		check compare-figure-ratio it_is_number "$(cmp_cq .workload_figure.ratio_b_a)"
		check compare-verdict sh -c 'grep -q "^verdict: strict costs [0-9.]*x in IOPS on $1 (nvme): [0-9]* invalidations/s vs [0-9]*/s" "$2"' \
			sh "$IT_NVME_DEV" "$IT_OUT/compare.txt"
		it_comment "$(grep '^verdict' "$IT_OUT/compare.txt")"
	else
		skip compare-two-boots "no intel-lazy recording from this suite run"
	fi
fi

# ------------------------------------------------------ compare --live

if [ "$IT_CONFIG" = intel-lazy ]; then
	cmp_orig=$(cat "$cmp_type")
	# without --rebind: refused before anything changes, saying why
	./iommutrace compare --live -g "$cmp_grp" -- true >/dev/null 2>"$IT_OUT/compare-live.err"
	check_eq compare-live-needs-rebind-exit-2 "$?" 2
	check compare-live-says-why grep -q "bound to nvme.*--rebind" "$IT_OUT/compare-live.err"

	./iommutrace compare --live -g "$cmp_grp" --rebind -F "IOPS=@$cmp_kv" -j \
		--pmu-sysfs tests/fixtures/pmu/swdev -- \
		/bin/sh -c "$(cmp_fio 3)" >"$IT_OUT/compare-live.json" 2>"$IT_OUT/compare-live.err"
	check_eq compare-live-exit-0 "$?" 0
	check_eq compare-live-restored "$(cat "$cmp_type")" "$cmp_orig"
	cmp_c=$(cat "$IT_OUT/compare-live.json")
	cmp_cd='.devices[] | select(.device == "'"$IT_NVME_DEV"'")'
	check_eq compare-live-a-type "$(printf '%s' "$cmp_c" | jq -r "$cmp_cd | .a.domain_type")" DMA-FQ
	check_eq compare-live-b-type "$(printf '%s' "$cmp_c" | jq -r "$cmp_cd | .b.domain_type")" DMA
	check_near compare-live-strict-inv-per-unmap \
		"$(printf '%s' "$cmp_c" | jq -r "$cmp_cd | .b.invalidations_per_unmap")" 1 2
	check compare-live-verdict sh -c 'printf "%s" "$1" | jq -er ".verdict" | grep -q "^strict costs"' \
		sh "$cmp_c"
	# each run opened its own counters, the nvme's filtered row among them
	for cmp_k in a b; do
		cmp_w=$(printf '%s' "$cmp_c" | jq -r "$cmp_cd | .$cmp_k.iotlb_misses_per_sec")
		check_ge "compare-live-pmu-$cmp_k-nvme-walks" "$cmp_w" 300000000
		check_le "compare-live-pmu-$cmp_k-nvme-walks-at-most-1e9" "$cmp_w" 1200000000
	done
	check_eq compare-live-pmu-nothing-said "$(grep -c PMU "$IT_OUT/compare-live.err")" 0
	check compare-live-nvme-back test -b "$IT_NVME_BLK"

	# the command fails in the second mode: the type is restored anyway
	./iommutrace compare --live -g "$cmp_grp" --rebind -- /bin/sh -c \
		"test \"\$(cat $cmp_type)\" = $cmp_orig" >/dev/null 2>"$IT_OUT/compare-live-fail.err"
	check_eq compare-live-failing-command-exit-1 "$?" 1
	# two runs, no PMU: said by the first only
	check_eq compare-live-no-pmu-said-once \
		"$(grep -c 'no IOMMU PMU on this system (' "$IT_OUT/compare-live-fail.err")" 1
	check_eq compare-live-restored-after-failure "$(cat "$cmp_type")" "$cmp_orig"

	# SIGINT while the second mode runs: restored too
	./iommutrace compare --live -g "$cmp_grp" --rebind -- /bin/sh -c \
		"test \"\$(cat $cmp_type)\" = $cmp_orig || sleep 30" >/dev/null \
		2>"$IT_OUT/compare-live-int.err" &
	cmp_pid=$!
	cmp_i=0
	while [ "$(cat "$cmp_type")" = "$cmp_orig" ] && [ $cmp_i -lt 100 ]; do
		sleep 0.2
		cmp_i=$((cmp_i + 1))
	done
	sleep 2
	kill -INT "$cmp_pid"
	wait "$cmp_pid"
	check compare-live-sigint-nonzero test "$?" -ne 0
	check_eq compare-live-restored-after-sigint "$(cat "$cmp_type")" "$cmp_orig"
	check compare-live-sigint-nvme-back test -b "$IT_NVME_BLK"
fi
