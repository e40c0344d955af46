#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_pmu.sh: the exporter's hardware-counter metrics on the host, through
# the real parts. `iommutrace export -f --pmu-sysfs tests/fixtures/pmu/swdev`
# opens real perf counters: the fixture describes dmar0 as the software PMU,
# so iotlb_lookup, iommu_requests, iommu_clocks and pw_occupancy count
# cpu-clock nanoseconds (~1e9 per second) and iotlb_hit is the dummy event
# (always 0). A real Prometheus scrapes it every second and PromQL checks
# the rates and that no counter ever went back. Then the same target
# without --pmu-sysfs (this host has no IOMMU PMU): iommutrace_pmu_up
# {status="no_pmu"} 0, the reason said once on stderr, the dashboard's stat
# panel still has its series; and with --no-pmu, status="disabled" and
# silence. Run from the repo root; needs root (BPF, perf), curl, jq,
# prometheus, promtool.

set -u
cd "$(dirname "$0")/../.."
. tests/export/lib.sh

SW=tests/fixtures/pmu/swdev
DASH=dashboards/iommutrace.json
U0='unit="dmar0",device=""'
T_NAME="export pmu"
. tests/export/check.sh
# within NAME GOT LO HI: LO <= GOT <= HI (numbers, floats allowed)
within() {
	if awk -v g="$2" -v lo="$3" -v hi="$4" \
		'BEGIN { exit !(g ~ /^-?[0-9.e+]+$/ && g + 0 >= lo && g + 0 <= hi) }'; then
		ok "$1 ($2)"
	else
		nok "$1"
		echo "#   got '$2', want $3 .. $4"
	fi
}
# sample TEXT LINE_PREFIX: the value of the first sample line starting so
sample() {
	printf '%s\n' "$1" | awk -v p="$2 " 'index($0, p) == 1 { print $NF; exit }'
}
# pmu_samples TEXT: iommutrace_pmu_* sample lines (comments left out)
pmu_samples() {
	printf '%s\n' "$1" | grep -c '^iommutrace_pmu_'
}

trap 'kill "$EXP_PID" "$PROM_PID" 2>/dev/null' EXIT
PORT=$((20000 + ($$ + 7) % 20000))
PROM_PORT=$((PORT + 1))
EXP_PID=
PROM_PID=

# ------------------------------------------------------------ flags
"$EXP_BIN" export --pmu-sysfs 2>/dev/null
expect "--pmu-sysfs without ROOT: usage error" $? 2
help=$("$EXP_BIN" export -h)
case $help in *'--no-pmu'*'--pmu-sysfs ROOT'*) ok "help lists --no-pmu and --pmu-sysfs" ;;
*) nok "help lists --no-pmu and --pmu-sysfs" ;; esac

# ------------------------------------------------------------ swdev: counting
if ! exp_start "$PORT" -f -i 0.25 --pmu-sysfs "$SW"; then
	nok "exporter starts with --pmu-sysfs $SW"
	exit 1
fi
ok "exporter starts with --pmu-sysfs $SW"
a=$(curl -s "$(exp_url /metrics)")
t_a=$EPOCHREALTIME
out=$(printf '%s\n' "$a" | promtool check metrics 2>&1)
expect "promtool check metrics with hardware counters" "$?:$out" "0:"
for m in iotlb_lookups_total iotlb_hits_total iotlb_misses_total requests_total \
	walk_occupancy_total clock_cycles_total; do
	expect "iommutrace_pmu_$m: HELP, TYPE counter, one unit-wide dmar0 row" \
		"$(printf '%s\n' "$a" | grep -c "^# HELP iommutrace_pmu_$m ")/$(printf '%s\n' "$a" |
		grep -c "^# TYPE iommutrace_pmu_$m counter$")/$(printf '%s\n' "$a" |
		grep -c "^iommutrace_pmu_$m{$U0} [0-9][0-9]*$")/$(printf '%s\n' "$a" |
		grep -c "^iommutrace_pmu_$m{")" "1/1/1/1"
done
# the software PMU has the Intel aliases only, so no AMD family appears
expect "no AMD-only family (pde, page-table reads, hardware invalidations)" \
	"$(printf '%s\n' "$a" | grep -cE '^(# TYPE )?iommutrace_pmu_(pde_|page_table_reads|iotlb_invalidations)')" 0
expect "iommutrace_pmu_up{status=\"ok\"} 1" "$(sample "$a" 'iommutrace_pmu_up{status="ok"}')" 1
expect "iommutrace_pmu_multiplexed{$U0} 0" "$(sample "$a" "iommutrace_pmu_multiplexed{$U0}")" 0
expect "no per-device row: no host device does DMA" \
	"$(printf '%s\n' "$a" | grep -c '^iommutrace_pmu_.*device="[^"]')" 0
expect "counting: nothing said about the PMU on stderr" "$(grep -c PMU "$EXP_ERR")" 0

sleep 1.5
b=$(curl -s "$(exp_url /metrics)")
t_b=$EPOCHREALTIME
la=$(sample "$a" "iommutrace_pmu_iotlb_lookups_total{$U0}")
lb=$(sample "$b" "iommutrace_pmu_iotlb_lookups_total{$U0}")
# snapshots are up to one interval (0.25 s) older than the scrape
within "two scrapes: lookups grew at a cpu-clock rate (per s)" \
	"$(awk -v a="$la" -v b="$lb" -v ta="$t_a" -v tb="$t_b" 'BEGIN { printf "%.0f", (b - a) / (tb - ta) }')" \
	3e8 1.2e9
expect "two scrapes: hits stay 0" \
	"$(sample "$a" "iommutrace_pmu_iotlb_hits_total{$U0}")/$(sample "$b" "iommutrace_pmu_iotlb_hits_total{$U0}")" 0/0
expect "misses = lookups - hits = lookups" \
	"$(sample "$b" "iommutrace_pmu_iotlb_misses_total{$U0}")" "$lb"

tmp=$(mktemp -d /tmp/it-prom.XXXXXX)
if ! prom_start "$PROM_PORT" "127.0.0.1:$PORT" "$tmp"; then
	nok "Prometheus ready"
	rm -rf "$tmp"
	exit 1
fi
ok "Prometheus ready on 127.0.0.1:$PROM_PORT"
prom_wait_scrapes 8 && ok "Prometheus scraped the exporter 8 times" ||
	nok "Prometheus scraped the exporter 8 times"
within "PromQL: rate(iommutrace_pmu_iotlb_lookups_total{$U0}[6s]) is a cpu-clock rate" \
	"$(prom_value "rate(iommutrace_pmu_iotlb_lookups_total{$U0}[6s])")" 3e8 1.2e9
within "PromQL: rate of misses = page walks/s, same rate" \
	"$(prom_value "rate(iommutrace_pmu_iotlb_misses_total{$U0}[6s])")" 3e8 1.2e9
expect "PromQL: hits stayed 0 all along" \
	"$(prom_value "max_over_time(iommutrace_pmu_iotlb_hits_total{$U0}[1m])")" 0
expect "PromQL: IOTLB hit ratio (docs/export.md) is 0" \
	"$(prom_value "sum by (unit) (rate(iommutrace_pmu_iotlb_hits_total{device=\"\"}[6s])) / sum by (unit) (rate(iommutrace_pmu_iotlb_lookups_total{device=\"\"}[6s]))")" 0
within "PromQL: walks in flight = rate(walk_occupancy) / rate(clock_cycles) ~ 1" \
	"$(prom_value "rate(iommutrace_pmu_walk_occupancy_total{$U0}[6s]) / rate(iommutrace_pmu_clock_cycles_total{$U0}[6s])")" 0.9 1.1
r=""
for m in iotlb_lookups iotlb_hits iotlb_misses requests walk_occupancy clock_cycles; do
	r="$r$(prom_value "sum(resets(iommutrace_pmu_${m}_total[1m]))")/"
done
expect "PromQL: no counter reset in any of the 6 PMU families (monotonic across scrapes)" \
	"$r" "0/0/0/0/0/0/"
expect "PromQL: iommutrace_pmu_up is 1" "$(prom_value 'iommutrace_pmu_up{status="ok"}')" 1
exp_stop
expect "SIGTERM with counters open: exit 0" $? 0

# ------------------------------------------------------------ no PMU on this host
# the same target, restarted without the fixture
if ! exp_start "$PORT" -f -i 0.25; then
	nok "exporter starts without --pmu-sysfs"
	prom_stop
	rm -rf "$tmp"
	exit 1
fi
i=0
until [ "$(prom_query 'iommutrace_pmu_up{status="no_pmu"}')" = 1 ] || [ $i -ge 40 ]; do
	sleep 0.25
	i=$((i + 1))
done
sleep 1.5			# several more collections: the message must not repeat
c=$(curl -s "$(exp_url /metrics)")
expect "scrape: iommutrace_pmu_up{status=\"no_pmu\"} 0, the only PMU sample" \
	"$(sample "$c" 'iommutrace_pmu_up{status="no_pmu"}')/$(pmu_samples "$c")" 0/1
out=$(printf '%s\n' "$c" | promtool check metrics 2>&1)
expect "promtool check metrics without a PMU" "$?:$out" "0:"
expect "PromQL: iommutrace_pmu_up{status=\"no_pmu\"} is 0" \
	"$(prom_value 'iommutrace_pmu_up{status="no_pmu"}')" 0
expect "PromQL: the counting series went stale, none left" \
	"$(prom_query '{__name__=~"iommutrace_pmu_.+", __name__!="iommutrace_pmu_up"}')/$(prom_query 'iommutrace_pmu_up{status="ok"}')" 0/0
stat_expr=$(jq -r '.panels[] | select(.type == "stat") | .targets[].expr |
	select(startswith("iommutrace_pmu_up"))' "$DASH" | sed 's/\$instance/.*/g')
expect "the dashboard's stat panel has its series without a PMU (value 0)" \
	"$(prom_query "$stat_expr")/$(prom_value "$stat_expr")" 1/0
expect "the reason said once on stderr" \
	"$(grep -c 'export: no IOMMU PMU on this system (.*); serving iommutrace_pmu_up 0' "$EXP_ERR")/$(grep -c PMU "$EXP_ERR")" 1/1
exp_stop
expect "SIGTERM without a PMU: exit 0" $? 0
prom_stop
rm -rf "$tmp"

# ------------------------------------------------------------ --no-pmu
if exp_start "$PORT" -f -i 0.25 --no-pmu; then
	sleep 0.6
	d=$(curl -s "$(exp_url /metrics)")
	expect "--no-pmu: iommutrace_pmu_up{status=\"disabled\"} 0, the only PMU sample" \
		"$(sample "$d" 'iommutrace_pmu_up{status="disabled"}')/$(pmu_samples "$d")" 0/1
	expect "--no-pmu: nothing said about the PMU" "$(grep -c PMU "$EXP_ERR")" 0
	exp_stop
else
	nok "exporter starts with --no-pmu"
fi

trap - EXIT
[ "$fails" -eq 0 ]
