#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_dashboard.sh: dashboards/iommutrace.json only queries what the
# exporter really emits. On the host (no IOMMU: -f, real zeros): every
# iommutrace_* name in the dashboard's queries is a sample name of a live
# scrape, and a real Prometheus scraping that exporter answers every PromQL
# expression of the dashboard with data. The guest check
# (tests/vm/checks/export.sh) repeats the Prometheus part with traffic.

set -u
cd "$(dirname "$0")/../.."
. tests/export/lib.sh

DASH=dashboards/iommutrace.json
fails=0
ok() { echo "ok - dashboard: $1"; }
nok() { echo "not ok - dashboard: $1"; fails=$((fails + 1)); }

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

PORT=$((20000 + $$ % 20000))
PROM_PORT=$((PORT + 1))
exp_start "$PORT" -f -i 0.5 || { nok "exporter starts"; exit 1; }
scrape=$(curl -s "$(exp_url /metrics)")
names=$(scrape_names "$scrape")
nnames=0
for m in $(dash_metric_names "$DASH"); do
	nnames=$((nnames + 1))
	if printf '%s\n' "$names" | grep -qx "$m"; then
		ok "$m is in a live scrape"
	else
		nok "$m is in a live scrape"
	fi
done
[ "$nnames" -ge 12 ] && ok "dashboard uses $nnames metric names" || nok "dashboard uses only $nnames names"

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
