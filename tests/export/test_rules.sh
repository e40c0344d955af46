#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_rules.sh: dashboards/iommutrace.rules.yml. `promtool check rules`;
# `promtool test rules tests/export/rules_test.yml` (every alert on synthetic
# series, and the look-alikes that must stay quiet), and the same test
# against copies of the rules with a threshold or a `for` changed, which
# must fail: the unit tests can tell. Then a real Prometheus loads the file
# unchanged and evaluates it against a live `iommutrace export -f` (no IOMMU
# on the host: the unattributed slot, every counter 0): every rule healthy,
# the recording rules that have inputs produce series, the ones that must
# not (flushes per unmap with no unmap) do not, no alert fires; then the
# exporter stops and IommutraceExporterDown goes pending. Needs root (BPF),
# curl, jq, prometheus, promtool.

set -u
cd "$(dirname "$0")/../.."
. tests/export/lib.sh

RULES=dashboards/iommutrace.rules.yml
TESTS=tests/export/rules_test.yml
T_NAME="export rules"
. tests/export/check.sh

DIR=$(mktemp -d /tmp/it-export-rules.XXXXXX)
PROM_PID=
trap 'kill "$EXP_PID" $PROM_PID 2>/dev/null; rm -rf "$DIR"' EXIT
PORT=$((20000 + ($$ + 17) % 20000))
PPORT=$((PORT + 1))

# ------------------------------------------------------------ promtool
out=$(promtool check rules "$RULES" 2>&1)
rc=$?
n=$(printf '%s\n' "$out" | sed -n 's/.*SUCCESS: \([0-9]*\) rules found.*/\1/p')
expect "promtool check rules: 20 rules" "$rc:$n" "0:20"
out=$(promtool test rules "$TESTS" 2>&1)
expect "promtool test rules on synthetic series" "$?" 0
[ "$fails" -gt 0 ] && printf '%s\n' "$out" | head -n 30

# mutant NAME SED-EXPR: the rules with one change must fail the unit tests
mutant() {
	mkdir -p "$DIR/dashboards" "$DIR/tests/export"
	sed "$2" "$RULES" >"$DIR/dashboards/iommutrace.rules.yml"
	cp "$TESTS" "$DIR/tests/export/"
	if cmp -s "$RULES" "$DIR/dashboards/iommutrace.rules.yml"; then
		nok "mutant '$1': the edit changed nothing"
	elif promtool test rules "$DIR/tests/export/rules_test.yml" >/dev/null 2>&1; then
		nok "mutant '$1' passes the unit tests: they cannot tell"
	else
		ok "mutant '$1' fails the unit tests"
	fi
}
mutant "saturation threshold 0.5 -> 0.95" 's/flush_queue_full:ratio_rate5m > 0.5/flush_queue_full:ratio_rate5m > 0.95/'
mutant "flushes per unmap on every domain" 's/ratio_rate5m{domain_type="DMA-FQ"} > 0.5/ratio_rate5m > 0.5/'
mutant "leak floor dropped" 's/ and iommutrace_live_mapped_bytes > 256 \* 1024 \* 1024//'
mutant "exporter down without for" '/alert: IommutraceExporterDown/,/for:/s/for: 5m/for: 0m/'
mutant "faults: rate window 5m -> 1m" 's/increase(iommutrace_faults_total\[5m\])/increase(iommutrace_faults_total[1m])/'

# ------------------------------------------------------------ live
if ! exp_start "$PORT" -f -i 0.5; then
	nok "exporter starts with -f"
	exit 1
fi
PROM_RULE_FILES="'$PWD/$RULES'"
if ! prom_start "$PPORT" "127.0.0.1:$PORT" "$DIR/prom"; then
	nok "Prometheus starts with the rules"
	exit 1
fi
prom_wait_scrapes 4 || nok "Prometheus scraped the exporter 4 times"

rules_json() {
	curl -s "http://127.0.0.1:$PPORT/api/v1/rules"
}
# every rule evaluated at least once (evaluation_interval 1 s)
i=0
while [ $i -lt 60 ]; do
	n=$(rules_json | jq '[.data.groups[].rules[] | select(.lastEvaluation | startswith("0001"))] | length')
	[ "$n" = 0 ] && break
	sleep 0.5
	i=$((i + 1))
done
j=$(rules_json)
expect "Prometheus loaded 2 groups, 20 rules" \
	"$(printf '%s' "$j" | jq -r '"\(.data.groups | length) \([.data.groups[].rules[]] | length)"')" "2 20"
expect "every rule evaluated and healthy" \
	"$(printf '%s' "$j" | jq -r '[.data.groups[].rules[] | select(.health != "ok" or (.lastError // "") != "")] | length')" 0
printf '%s' "$j" | jq -r '.data.groups[].rules[] | select(.health != "ok") | "#   \(.name): \(.lastError)"'

# recording rules with inputs on this host: one series each for the
# unattributed slot (rates of 0), six lost-event reasons
for r in iommutrace:map:rate5m iommutrace:unmap:rate5m iommutrace:mapped_bytes:rate5m \
	iommutrace:faults:rate5m iommutrace:iotlb_invalidations:rate5m \
	iommutrace:map_latency_seconds:p99_5m iommutrace:unmap_latency_seconds:p99_5m \
	iommutrace:live_mapped_bytes:deriv30m; do
	if [ "$r" = iommutrace:iotlb_invalidations:rate5m ] &&
		role_untraced "$(curl -s "$(exp_url /metrics)")" iommutrace_iotlb_invalidations_total; then
		expect "$r: no series, flushes are not traced here" "$(prom_query "$r")" 0
		continue
	fi
	expect "$r: 1 series (the unattributed slot)" "$(prom_query "$r{device=\"unknown\"}")" 1
done
expect "iommutrace:map:rate5m is 0 (no DMA translated here)" \
	"$(prom_value 'iommutrace:map:rate5m')" 0
expect "iommutrace:lost_events:increase10m: one series per reason" \
	"$(prom_query 'iommutrace:lost_events:increase10m')" \
	"$(curl -s "$(exp_url /metrics)" | grep -c '^iommutrace_lost_events_total{')"
expect "iommutrace:bpf_cpu:ratio_rate5m: 1 series" "$(prom_query 'iommutrace:bpf_cpu:ratio_rate5m')" 1
# no unmap, no lazy flush: the ratios must be absent, not 0/0
expect "flushes_per_unmap: absent without unmaps" \
	"$(prom_query 'iommutrace:flushes_per_unmap:ratio_rate5m')" 0
expect "flush_queue_full ratio: absent without lazy flushes" \
	"$(prom_query 'iommutrace:flush_queue_full:ratio_rate5m')" 0
expect "no alert pending or firing while the exporter is up" "$(prom_query 'ALERTS')" 0
expect "the rules' alerts are all inactive" \
	"$(rules_json | jq -r '[.data.groups[].rules[] | select(.type == "alerting" and .state != "inactive")] | length')" 0

exp_stop
expect "exporter exits 0" $? 0
i=0
while [ $i -lt 40 ]; do
	[ "$(prom_query 'ALERTS{alertname="IommutraceExporterDown",alertstate="pending"}')" = 1 ] && break
	sleep 0.5
	i=$((i + 1))
done
expect "exporter stopped: IommutraceExporterDown pending (for 5m)" \
	"$(prom_query 'ALERTS{alertname="IommutraceExporterDown",alertstate="pending",instance="127.0.0.1:'"$PORT"'"}')" 1
expect "its severity label" \
	"$(curl -s "http://127.0.0.1:$PPORT/api/v1/alerts" | jq -r '.data.alerts[] | select(.labels.alertname == "IommutraceExporterDown") | .labels.severity')" warning
prom_stop
PROM_PID=

[ "$fails" -eq 0 ]
