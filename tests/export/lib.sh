# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# lib.sh: helpers shared by the exporter tests on the host
# (tests/export/test_*.sh) and in the VM guest (tests/vm/checks/export.sh).
# POSIX sh; needs curl, jq and, for the Prometheus checks, prometheus.
#
#   exp_start PORT ARGS...   start `iommutrace export` on 127.0.0.1:PORT with
#                            ARGS, wait (<= 20 s) until /metrics answers;
#                            EXP_PID, EXP_ERR (its stderr file). With TLS or
#                            basic auth set EXP_SCHEME=https and EXP_CURL_OPTS
#                            (e.g. "--cacert F -u user:pass") first
#   exp_stop                 SIGTERM it; returns its exit status
#   exp_url PATH             $EXP_SCHEME://127.0.0.1:$EXP_PORT/PATH
#   exp_prog_ids PID         the ids of the BPF programs PID holds, a JSON array
#   dash_exprs FILE          every PromQL expression of a Grafana dashboard,
#                            one per line, with Grafana's variables replaced
#                            ($__rate_interval: 15s, $device/$instance: .*)
#   dash_metric_names FILE   every iommutrace_* name the dashboard's queries
#                            (expressions and template variables) use
#   scrape_names TEXT        the sample names of an exposition
#   prom_start PORT TARGET DIR   a Prometheus on 127.0.0.1:PORT scraping
#                            TARGET (host:port) every 1 s, TSDB in DIR;
#                            PROM_PID; waits (<= 60 s) until it is ready.
#                            PROM_JOB_EXTRA: YAML lines added to the job
#                            (indented 4: scheme, tls_config, basic_auth);
#                            PROM_RULE_FILES: rule files it evaluates (1 s);
#                            PROM_EXTRA_JOBS: more jobs (indented 2)
#   prom_query EXPR          instant query: prints the number of series
#                            returned, "error: ..." on a failed query
#   prom_value EXPR          the first series' value
#   prom_stop

EXP_BIN=${EXP_BIN:-./iommutrace}

EXP_SCHEME=${EXP_SCHEME:-http}
EXP_CURL_OPTS=${EXP_CURL_OPTS:-}

exp_url() {
	echo "$EXP_SCHEME://127.0.0.1:$EXP_PORT$1"
}

exp_prog_ids() {
	cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -nu |
		jq -s -c .
}

exp_start() {
	local i

	EXP_PORT=$1
	shift
	EXP_ERR=$(mktemp /tmp/it-export-err.XXXXXX)
	"$EXP_BIN" export --web.listen-address "127.0.0.1:$EXP_PORT" "$@" 2>"$EXP_ERR" &
	EXP_PID=$!
	i=0
	while [ $i -lt 200 ]; do
		# shellcheck disable=SC2086
		curl -sf -o /dev/null --max-time 2 $EXP_CURL_OPTS "$(exp_url /metrics)" && return 0
		kill -0 "$EXP_PID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	echo "exp_start: exporter not serving; stderr:" >&2
	cat "$EXP_ERR" >&2
	return 1
}

exp_stop() {
	local rc

	kill -TERM "$EXP_PID" 2>/dev/null
	wait "$EXP_PID"
	rc=$?
	rm -f "$EXP_ERR"
	return $rc
}

dash_exprs() {
	jq -r '.. | objects | select(has("expr")) | .expr' "$1" |
		sed -e 's/\$__rate_interval/15s/g' -e 's/\$device/.*/g' -e 's/\$instance/.*/g'
}

dash_metric_names() {
	{
		jq -r '.. | objects | select(has("expr")) | .expr' "$1"
		jq -r '.templating.list[] | .definition // empty' "$1"
	} | grep -o 'iommutrace_[a-z_]*' | sort -u
}

# metric_role NAME: the role (iommutrace probes) whose hooks feed NAME's
# series; nothing for series every mode and kernel has
metric_role() {
	case $1 in
	iommutrace_iotlb_invalidations_total*) echo "lazy flushes" ;;
	iommutrace_iova_alloc_total*) echo "IOVA allocations" ;;
	iommutrace_iova_rcache_miss_total*) echo "IOVA slow path" ;;
	iommutrace_iova_freed_by_flush_total*) echo "lazy freed entries" ;;
	esac
}

# role_untraced SCRAPE NAME: true if SCRAPE says NAME's role is not traced
# here (iommutrace_role_traced 0): its series are left out, never exported as 0
role_untraced() {
	local role

	role=$(metric_role "$2")
	[ -n "$role" ] && printf '%s\n' "$1" | grep -q "^iommutrace_role_traced{role=\"$role\",.*} 0$"
}

# expr_untraced SCRAPE EXPR: true if EXPR reads a metric whose role is untraced
expr_untraced() {
	local m

	for m in $(printf '%s\n' "$2" | grep -o 'iommutrace_[a-z_]*' | sort -u); do
		role_untraced "$1" "$m" && return 0
	done
	return 1
}

scrape_names() {
	printf '%s\n' "$1" | grep -v '^#' | sed -n 's/^\([a-zA-Z_:][a-zA-Z0-9_:]*\).*/\1/p' | sort -u
}

prom_start() {
	local i

	PROM_PORT=$1
	PROM_DIR=$3
	mkdir -p "$PROM_DIR/data"
	cat >"$PROM_DIR/prometheus.yml" <<EOT
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [${PROM_RULE_FILES:-}]
scrape_configs:
  - job_name: iommutrace
${PROM_JOB_EXTRA:-}
    static_configs:
      - targets: ['$2']
${PROM_EXTRA_JOBS:-}
EOT
	prometheus --config.file="$PROM_DIR/prometheus.yml" \
		--storage.tsdb.path="$PROM_DIR/data" \
		--web.listen-address="127.0.0.1:$PROM_PORT" \
		--storage.tsdb.retention.time=1h >"$PROM_DIR/prometheus.log" 2>&1 &
	PROM_PID=$!
	i=0
	while [ $i -lt 600 ]; do
		curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$PROM_PORT/-/ready" && return 0
		kill -0 "$PROM_PID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	echo "prom_start: Prometheus not ready; log:" >&2
	tail -n 20 "$PROM_DIR/prometheus.log" >&2
	return 1
}

prom_api() {
	curl -s --max-time 30 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$1"
}

prom_query() {
	prom_api "$1" | jq -r 'if .status == "success" then (.data.result | length)
		else "error: \(.error)" end'
}

prom_value() {
	prom_api "$1" | jq -r '.data.result[0].value[1] // "none"'
}

# prom_wait_scrapes N: wait (<= 60 s) until Prometheus has N samples of
# iommutrace_probes_attached, i.e. N scrapes of the exporter
prom_wait_scrapes() {
	local i n

	i=0
	while [ $i -lt 120 ]; do
		n=$(prom_value 'count_over_time(iommutrace_probes_attached[5m])' 2>/dev/null)
		case $n in
		'' | *[!0-9]*) ;;
		*) [ "$n" -ge "$1" ] && return 0 ;;
		esac
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

prom_stop() {
	kill -TERM "$PROM_PID" 2>/dev/null
	wait "$PROM_PID" 2>/dev/null
	return 0
}
