# configs: intel-lazy 7/intel-lazy
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# export.sh: `iommutrace export` on a live IOMMU. Its counters against the
# kernel's own (perf iommu:map) for one workload; promtool on a scrape with
# traffic; then a real Prometheus in the guest scrapes it every second and
# every PromQL expression of dashboards/iommutrace.json must return data
# through Prometheus's HTTP API, with nvme's map counter above zero.
# Hardware counters: the guest has no IOMMU PMU, so the exporter runs with
# the swdev fixture (dmar0 described as the software PMU: cpu-clock for
# iotlb_lookup, ~1e9/s; 0 hits): nvme's DMA gives it a row filtered to
# nvme's requester id, device="$IT_NVME_DEV", which must count and grow;
# the dashboard's per-device PMU panels get their data from it. Last, the
# exporter without the fixture: iommutrace_pmu_up{status="no_pmu"} 0, the
# reason said once on stderr, the BPF counters unchanged.
# Sourced by suite.sh after lib.sh; the scrapes, stderr and Prometheus's
# log are kept in $IT_OUT/export.

. tests/export/lib.sh
X=$IT_OUT/export
mkdir -p "$X"

# x_sum TEXT PREFIX: the sum of the samples whose line starts with PREFIX
x_sum() {
	printf '%s\n' "$1" | awk -v m="$2" 'index($0, m) == 1 { s += $NF } END { printf "%d\n", s }'
}

# x_val TEXT SERIES: the value of one sample, as written (mawk's %d stops at 2^31)
x_val() {
	printf '%s\n' "$1" | awk -v m="$2 " 'index($0, m) == 1 { print $NF; exit }'
}

# x_prog_skips IDS: the kernel's recursion skips of those programs, summed
x_prog_skips() {
	bpftool prog show -j | jq --argjson ids "$1" \
		'[.[] | select(.id as $i | $ids | index($i)) | .recursion_misses // 0] | add // 0'
}

SW=tests/fixtures/pmu/swdev
NV_PMU="unit=\"dmar0\",device=\"$IT_NVME_DEV\""
if ! exp_start 19120 -i 0.5 --pmu-sysfs "$SW"; then
	it_not_ok "export: exporter serves on 127.0.0.1:19120"
	return 0 2>/dev/null || exit 0
fi
it_ok "export: exporter serves on 127.0.0.1:19120"

# exact counts: sum over devices of map_total moves by what the kernel counted
before=$(curl -s "$(exp_url /metrics)")
wl=$(kcount iommu:map,iommu:unmap -- wl_nvme_dd 1000)
sleep 1.2			# two collection intervals
after=$(curl -s "$(exp_url /metrics)")
printf '%s\n' "$after" >"$X/scrape-after-dd.txt"
check_eq "export: map_total delta = kernel iommu:map" \
	"$(($(x_sum "$after" 'iommutrace_map_total{') - $(x_sum "$before" 'iommutrace_map_total{')))" \
	"$(kv iommu:map "$wl")"
check_eq "export: unmap_total delta = kernel iommu:unmap" \
	"$(($(x_sum "$after" 'iommutrace_unmap_total{') - $(x_sum "$before" 'iommutrace_unmap_total{')))" \
	"$(kv iommu:unmap "$wl")"
check "export: promtool check metrics on a scrape with traffic" \
	sh -c 'promtool check metrics < "$1"' sh "$X/scrape-after-dd.txt"
check_eq "export: info says lazy" \
	"$(printf '%s\n' "$after" | grep -c '^iommutrace_info{mode="lazy"} 1$')" 1
check_ge "export: nvme map latency histogram counted" \
	"$(x_sum "$after" "iommutrace_map_latency_seconds_count{device=\"$IT_NVME_DEV\"")" 1000
# nvme did DMA: its own counters on dmar0 (through the requester filter)
check_eq "export: swdev: pmu_up{status=\"ok\"} 1" \
	"$(printf '%s\n' "$after" | grep -c '^iommutrace_pmu_up{status="ok"} 1$')" 1
check_ge "export: swdev: nvme row iommutrace_pmu_iotlb_lookups_total{$NV_PMU} counts" \
	"$(x_val "$after" "iommutrace_pmu_iotlb_lookups_total{$NV_PMU}")" 1
check_eq "export: swdev: nvme row hits 0" \
	"$(printf '%s\n' "$after" | grep -c "^iommutrace_pmu_iotlb_hits_total{$NV_PMU} 0$")" 1
check_eq "export: swdev: no \"no IOMMU PMU\" line on stderr" \
	"$(grep -c 'no IOMMU PMU' "$EXP_ERR")" 0

# a real Prometheus, scraping every second while fio keeps nvme busy
t0=$(date +%s)
if prom_start 19130 127.0.0.1:19120 /tmp/it-prom; then
	it_ok "export: Prometheus ready in $(($(date +%s) - t0))s"
	wl_fio "$IT_NVME_BLK" 12 >"$X/fio.out" 2>&1 &
	fio_pid=$!
	if prom_wait_scrapes 8; then
		it_ok "export: Prometheus scraped 8 times"
	else
		it_not_ok "export: Prometheus scraped 8 times"
	fi
	dash_exprs dashboards/iommutrace.json >"$X/exprs.txt"
	scrape=$(curl -s http://127.0.0.1:19120/metrics)
	i=0
	while IFS= read -r e; do
		i=$((i + 1))
		r=$(prom_query "$e")
		# a role the lean default leaves to --deep: no series, not zeros
		if expr_untraced "$scrape" "$e"; then
			check_eq "export: dashboard expression $i: no data, its role is not traced" "$r" 0
			continue
		fi
		case $r in
		'' | 0 | error*) it_not_ok "export: dashboard expression $i returns data"
			it_comment "$e: $r" ;;
		*) it_ok "export: dashboard expression $i returns data ($r series)" ;;
		esac
	done <"$X/exprs.txt"
	check_eq "export: every expression asked" "$i" "$(wc -l <"$X/exprs.txt")"
	nv=$(prom_value "iommutrace_map_total{device=\"$IT_NVME_DEV\"}")
	check_ge "export: Prometheus has iommutrace_map_total for nvme > 0" "$nv" 1
	check_ge "export: nvme maps during the fio run (increase, Prometheus)" \
		"$(prom_value "increase(iommutrace_map_total{device=\"$IT_NVME_DEV\"}[1m])" | cut -d. -f1)" 1000
	check_eq "export: lazy mode: no strict invalidations" \
		"$(prom_value 'sum(iommutrace_iotlb_invalidations_total{cause="strict_sync"})')" 0
	check_ge "export: lazy mode: lazy flushes counted" \
		"$(prom_value 'sum(iommutrace_iotlb_invalidations_total{cause=~"lazy_.*"})')" 1
	check_eq "export: swdev: Prometheus has nvme's PMU series" \
		"$(prom_query "iommutrace_pmu_iotlb_lookups_total{$NV_PMU}")" 1
	check_ge "export: swdev: nvme's lookups increase (Prometheus, 30s)" \
		"$(prom_value "increase(iommutrace_pmu_iotlb_lookups_total{$NV_PMU}[30s])" | cut -d. -f1)" 1
	# cpu-clock: ~1e9/s; snapshots are up to 0.5 s older than their scrape
	nv_rate=$(prom_value "rate(iommutrace_pmu_iotlb_lookups_total{$NV_PMU}[10s])" | cut -d. -f1)
	it_comment "nvme lookups/s (Prometheus rate over 10s): $nv_rate"
	check_ge "export: swdev: nvme lookups/s at a cpu-clock rate" "$nv_rate" 300000000
	check_le "export: swdev: nvme lookups/s at most 1.2e9" "$nv_rate" 1200000000
	check_eq "export: swdev: nvme's series never reset" \
		"$(prom_value "resets(iommutrace_pmu_iotlb_lookups_total{$NV_PMU}[1m]) + resets(iommutrace_pmu_iotlb_misses_total{$NV_PMU}[1m])")" 0
	check_eq "export: swdev: nvme's IOTLB hit ratio 0" \
		"$(prom_value "rate(iommutrace_pmu_iotlb_hits_total{$NV_PMU}[10s]) / rate(iommutrace_pmu_iotlb_lookups_total{$NV_PMU}[10s])")" 0
	wait "$fio_pid"
	prom_stop
	cp /tmp/it-prom/prometheus.log "$X/" 2>/dev/null
	rm -rf /tmp/it-prom
else
	it_not_ok "export: Prometheus ready"
fi

cp "$EXP_ERR" "$X/stderr-swdev.txt"
exp_stop
check_eq "export: SIGTERM: exit 0" "$?" 0

# no IOMMU PMU in this guest: said once, pmu_up 0, the rest as before
if exp_start 19120 -i 0.25; then
	it_ok "export: exporter serves without --pmu-sysfs"
	wl_nvme_dd 200 >/dev/null
	sleep 1.5		# several collections: the reason must not repeat
	np=$(curl -s "$(exp_url /metrics)")
	printf '%s\n' "$np" >"$X/scrape-no-pmu.txt"
	cp "$EXP_ERR" "$X/stderr-no-pmu.txt"
	check_eq "export: no PMU: iommutrace_pmu_up{status=\"no_pmu\"} 0" \
		"$(printf '%s\n' "$np" | grep -c '^iommutrace_pmu_up{status="no_pmu"} 0$')" 1
	check_eq "export: no PMU: no other iommutrace_pmu_ sample" \
		"$(printf '%s\n' "$np" | grep -c '^iommutrace_pmu_')" 1
	check_ge "export: no PMU: nvme maps still counted" \
		"$(x_sum "$np" "iommutrace_map_total{device=\"$IT_NVME_DEV\"")" 200
	check_eq "export: no PMU: the reason said once on stderr" \
		"$(grep -c 'no IOMMU PMU on this system (Intel IOMMU dmar0 has no perf counters' "$EXP_ERR")" 1
	check_eq "export: no PMU: nothing else about the PMU" "$(grep -c PMU "$EXP_ERR")" 1

	# one attach per host: stat beside the exporter reads its pinned maps,
	# loads no program, and counts only its own command's DMA, as the kernel does
	out=$(kcount iommu:map,iommu:unmap -- "$EXP_BIN" stat -j -B -- /bin/sh -c \
		'ls -l /proc/$PPID/fd | grep -c anon_inode:bpf-prog > '"$X/stat-progs.txt"'; \
		 dd if='"$IT_NVME_BLK"' of=/dev/null bs=4k count=500 iflag=direct 2>/dev/null' \
		2>"$X/stat-shared.err")
	printf '%s\n' "$out" >"$X/stat-shared.out"
	check_eq "export: stat beside it reads the exporter's maps (shared_from_pid)" \
		"$(printf '%s\n' "$out" | grep '^{' | tail -n 1 | jq -r .shared_from_pid)" "$EXP_PID"
	check_eq "export: stat beside it holds no BPF program" "$(cat "$X/stat-progs.txt")" 0
	check_eq "export: stat beside it: maps = kernel iommu:map of its window" \
		"$(printf '%s\n' "$out" | grep '^{' | tail -n 1 | jq .totals.map.count)" \
		"$(kv iommu:map "$out")"
	check_eq "export: stat beside it: unmaps = kernel iommu:unmap" \
		"$(printf '%s\n' "$out" | grep '^{' | tail -n 1 | jq .totals.unmap.count)" \
		"$(kv iommu:unmap "$out")"
	# and its hooks table is the exporter's programs' runs in its window
	check_eq "export: stat -B beside it: the exporter's map hook ran once per kernel iommu:map" \
		"$(printf '%s\n' "$out" | grep '^{' | tail -n 1 |
			jq '[.hooks[] | select(.hook == "map")][0].runs')" "$(kv iommu:map "$out")"
	check_ge "export: stat -B beside it: the exporter's DMA-API map entry and exit ran for the 500 reads" \
		"$(printf '%s\n' "$out" | grep '^{' | tail -n 1 |
			jq '[.hooks[] | select(.hook == "dma_map_page")][0].runs')" 1000

	# the calls the kernel skipped in the exporter's programs (a NIC's softirq
	# DMA interrupting them in a task's block DMA) reach stat beside it: its
	# bpf_recursion = the kernel's skip counters of those programs, read by
	# bpftool around the session (nothing else runs DMA then)
	ids=$(exp_prog_ids "$EXP_PID")
	skips0=$(x_prog_skips "$ids")
	"$EXP_BIN" stat -j -- /bin/sh -c '. tests/vm/lib.sh; . tests/vm/tracer-lib.sh; mixed_io 3' \
		>"$X/stat-shared-mixed.out" 2>"$X/stat-shared-mixed.err"
	skips=$(($(x_prog_skips "$ids") - skips0))
	it_comment "export: the exporter's programs skipped $skips calls under nvme + virtio-net"
	check_eq "export: stat beside it: bpf_recursion = the exporter's programs' kernel skips" \
		"$(grep '^{' "$X/stat-shared-mixed.out" | tail -n 1 | jq .lost_detail.bpf_recursion)" \
		"$skips"
	exp_stop
	check_eq "export: no PMU: SIGTERM: exit 0" "$?" 0
else
	it_not_ok "export: exporter serves without --pmu-sysfs"
fi
