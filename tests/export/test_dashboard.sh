#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_dashboard.sh: dashboards/iommutrace.json only queries what the
# exporter really emits. On the host (no IOMMU: -f, real zeros; hardware
# counters from the swdev fixture, the software PMU standing in for dmar0):
# every iommutrace_* name in the dashboard's queries is a sample name of a
# live scrape, and a real Prometheus scraping that exporter answers every
# PromQL expression of the dashboard with data, except the per-device
# hardware-counter ones: no host device does DMA, so they must evaluate to
# nothing, without error. The guest check (tests/vm/checks/export.sh)
# repeats the Prometheus part with nvme traffic, where every one has data.

set -u
cd "$(dirname "$0")/../.."
. tests/export/lib.sh

DASH=dashboards/iommutrace.json
T_NAME="dashboard"
. tests/export/check.sh

jq -e . "$DASH" >/dev/null && ok "valid JSON" || { nok "valid JSON"; exit 1; }
n=$(jq '[.panels[] | select(.type != "row") | select((.targets // []) | length == 0)] | length' "$DASH")
[ "$n" = 0 ] && ok "every panel has a query" || nok "every panel has a query ($n without)"
n=$(jq '[.panels[] | select(.type == "heatmap") | .targets[] | select(.format != "heatmap")] | length' "$DASH")
[ "$n" = 0 ] && ok "heatmaps use format=heatmap" || nok "heatmaps use format=heatmap"
n=$(jq '[.panels[] | select(.type == "heatmap")] | length' "$DASH")
[ "$n" -ge 2 ] && ok "map and unmap latency heatmaps ($n)" || nok "map and unmap latency heatmaps ($n)"
jq -e '.templating.list[] | select(.name == "device")' "$DASH" >/dev/null &&
	ok "device template variable" || nok "device template variable"
n=$(dash_exprs "$DASH" | grep -c '\$')
[ "$n" = 0 ] && ok "only \$__rate_interval, \$device, \$instance used" || nok "unknown variables in $n expressions"

# the hardware-counter row: its panels (those below it, above the next row)
pmu_panels=$(jq '(.panels | map(select(.type == "row" and .title == "IOMMU hardware counters"))
	| first | .gridPos.y // -1) as $y | (.panels | map(select(.type == "row" and .gridPos.y > $y)
	| .gridPos.y) | min // 1e9) as $next | if $y < 0 then [] else [.panels[]
	| select(.type != "row" and .gridPos.y > $y and .gridPos.y < $next)] end' "$DASH")
n=$(printf '%s' "$pmu_panels" | jq length)
[ "$n" -ge 4 ] && ok "row \"IOMMU hardware counters\" with $n panels" ||
	nok "row \"IOMMU hardware counters\" with panels ($n)"
# pmu_count JQ_SELECT [RE]: how many of those panels match (\$re is RE)
pmu_count() {
	printf '%s' "$pmu_panels" | jq --arg re "${2:-}" "[.[] | $1] | length"
}
n=$(pmu_count 'select(.type == "stat" and (.targets[0].expr | startswith("iommutrace_pmu_up{"))
	and .fieldConfig.defaults.mappings[0].options["0"].text == "no IOMMU PMU")')
[ "$n" = 1 ] && ok "stat panel from iommutrace_pmu_up says \"no IOMMU PMU\" for 0" ||
	nok "stat panel from iommutrace_pmu_up says \"no IOMMU PMU\" for 0 ($n)"
# hit % = rate(hits) / rate(lookups) over the same rows: the unit's (device="")
# or each device's (device!="", summed by device)
ratio_re() {	# BY SELECTOR
	printf '^sum by \\(instance, unit%s\\) \\(rate\\(iommutrace_pmu_iotlb_hits_total\\{[^}]*%s[^}]*\\}\\[[^]]*\\]\\)\\) / sum by \\(instance, unit%s\\) \\(rate\\(iommutrace_pmu_iotlb_lookups_total\\{[^}]*%s[^}]*\\}\\[[^]]*\\]\\)\\)$' \
		"$1" "$2" "$1" "$2"
}
n=$(pmu_count 'select(any(.targets[]; .expr | test($re)))' "$(ratio_re '' 'device=""')")
[ "$n" = 1 ] && ok "IOTLB hit % per unit: rate(hits) / rate(lookups), device=\"\"" ||
	nok "IOTLB hit % per unit: rate(hits) / rate(lookups), device=\"\" ($n)"
n=$(pmu_count 'select(any(.targets[]; .expr | test($re)))' "$(ratio_re ', device' 'device!=""')")
[ "$n" = 1 ] && ok "IOTLB hit % per device: rate(hits) / rate(lookups) by device" ||
	nok "IOTLB hit % per device: rate(hits) / rate(lookups) by device ($n)"
n=$(pmu_count 'select([.targets[].expr | select(test($re))] | length == 2)' \
	'rate\(iommutrace_pmu_iotlb_misses_total\{')
[ "$n" = 1 ] && ok "IOTLB misses/s panel: per unit and per device" ||
	nok "IOTLB misses/s panel: per unit and per device ($n)"

PORT=$((20000 + $$ % 20000))
PROM_PORT=$((PORT + 1))
exp_start "$PORT" -f -i 0.5 --pmu-sysfs tests/fixtures/pmu/swdev || { nok "exporter starts"; exit 1; }
scrape=$(curl -s "$(exp_url /metrics)")
names=$(scrape_names "$scrape")
# on a host without an IOMMU (the usual case here) no device does DMA
pmu_dev_rows=$(printf '%s\n' "$scrape" | grep -c '^iommutrace_pmu_iotlb_lookups_total{.*device="[^"]')
nnames=0
for m in $(dash_metric_names "$DASH"); do
	nnames=$((nnames + 1))
	if role_untraced "$scrape" "$m"; then
		# no hook for its role on this host: absent, not 0
		printf '%s\n' "$names" | grep -qx "$m" &&
			nok "$m is absent: its role is not traced here" ||
			ok "$m is absent: its role is not traced here"
	elif printf '%s\n' "$names" | grep -qx "$m"; then
		ok "$m is in a live scrape"
	else
		nok "$m is in a live scrape"
	fi
done
[ "$nnames" -ge 12 ] && ok "dashboard uses $nnames metric names" || nok "dashboard uses only $nnames names"
n=$(dash_metric_names "$DASH" | grep -c '^iommutrace_pmu_')
[ "$n" -ge 6 ] && ok "$n of them hardware-counter metrics" || nok "only $n hardware-counter metrics"

tmp=$(mktemp -d /tmp/it-prom.XXXXXX)
if prom_start "$PROM_PORT" "127.0.0.1:$PORT" "$tmp"; then
	ok "Prometheus ready on 127.0.0.1:$PROM_PORT"
	if prom_wait_scrapes 4; then
		ok "Prometheus scraped the exporter 4 times"
	else
		nok "Prometheus scraped the exporter 4 times"
	fi
	expect_up=$(prom_value 'up{job="iommutrace"}')
	[ "$expect_up" = 1 ] && ok "target up" || nok "target up ($expect_up)"
	i=0
	while IFS= read -r e; do
		i=$((i + 1))
		r=$(prom_query "$e")
		case $e in
		*iommutrace_pmu_*'device!=""'*)
			# per-device hardware counters: only for devices that did DMA
			if [ "$pmu_dev_rows" = 0 ]; then
				[ "$r" = 0 ] && ok "expression $i (per-device PMU) evaluates, no device did DMA: 0 series" ||
					nok "expression $i (per-device PMU) evaluates to 0 series ($r): $e"
				continue
			fi ;;
		esac
		if expr_untraced "$scrape" "$e"; then
			[ "$r" = 0 ] && ok "expression $i: no data, its role is not traced here" ||
				nok "expression $i: no data, its role is not traced here ($r): $e"
			continue
		fi
		case $r in
		'' | 0 | error*) nok "expression $i returns data ($r): $e" ;;
		*) ok "expression $i returns data ($r series)" ;;
		esac
	done < <(dash_exprs "$DASH")
	prom_stop
else
	nok "Prometheus ready"
fi
rm -rf "$tmp"
exp_stop
[ $? = 0 ] && ok "exporter exits 0 on SIGTERM" || nok "exporter exits 0 on SIGTERM"
[ "$fails" -eq 0 ]
