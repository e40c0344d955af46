#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_http.sh: `iommutrace export` on the host (no IOMMU here, so -f: every
# counter is a real zero read from the BPF maps). Its HTTP side against
# well-formed, malformed, concurrent and slow clients, on loopback only and
# bounded in count and time; after each round it must still serve /metrics.
# Its flags, signals and exit codes. Run from the repo root; needs root
# (BPF), curl, jq, promtool.

set -u
cd "$(dirname "$0")/../.."
. tests/export/lib.sh

T_NAME="export"
. tests/export/check.sh
serving() {	# NAME: /metrics answers 200 within 3 s
	expect "$1" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$(exp_url /metrics)")" 200
}

# raw REQUEST: send bytes (printf format) on a fresh connection, print the
# status line, or "closed" if the server closed without one
raw() {
	local fd line

	exec {fd}<>"/dev/tcp/127.0.0.1/$EXP_PORT" || { echo "connect failed"; return; }
	# shellcheck disable=SC2059
	printf "$1" >&"$fd" 2>/dev/null
	IFS= read -r -t 5 line <&"$fd" || line=closed
	exec {fd}>&-
	line=${line%$'\r'}
	printf '%s\n' "${line:-closed}"
}

# a server that answers and closes early must not kill the writer
trap "" PIPE
PORT=$((20000 + $$ % 20000))

# ------------------------------------------------------------ flags
"$EXP_BIN" export --web.listen-address nonsense 2>/dev/null
expect "listen address without port: usage error" $? 2
"$EXP_BIN" export --web.listen-address 127.0.0.1:99999 2>/dev/null
expect "port out of range: usage error" $? 2
"$EXP_BIN" export --web.telemetry-path metrics 2>/dev/null
expect "telemetry path without /: usage error" $? 2
"$EXP_BIN" export -i 0 2>/dev/null
expect "interval 0: usage error" $? 2
"$EXP_BIN" export stray 2>/dev/null
expect "stray argument: usage error" $? 2
"$EXP_BIN" export -h | grep -q '127.0.0.1:19120'
expect "help names the default address" $? 0

# ------------------------------------------------------------ basics
if ! exp_start "$PORT" -f -i 0.2; then
	nok "exporter starts with -f"
	exit 1
fi
ok "exporter starts with -f on 127.0.0.1:$PORT"

"$EXP_BIN" export -f --web.listen-address "127.0.0.1:$PORT" 2>/dev/null
expect "port in use: runtime error" $? 1

body=$(curl -s -D /tmp/it-exp-hdr.$$ "$(exp_url /metrics)")
expect "metrics content type" \
	"$(sed -n 's/^Content-Type: \(.*\)\r$/\1/Ip' /tmp/it-exp-hdr.$$)" \
	"text/plain; version=0.0.4; charset=utf-8"
rm -f /tmp/it-exp-hdr.$$
out=$(printf '%s\n' "$body" | promtool check metrics 2>&1)
expect "promtool check metrics on a live scrape" "$?:$out" "0:"
for m in iommutrace_map_total iommutrace_map_latency_seconds_bucket \
	iommutrace_iotlb_invalidations_total iommutrace_probes_attached \
	iommutrace_bpf_run_time_seconds_total iommutrace_info; do
	printf '%s\n' "$body" | grep -q "^$m[{ ]"
	rc=$?
	if role_untraced "$body" "$m"; then
		expect "live scrape leaves out $m: its role is not traced here" $rc 1
	else
		expect "live scrape has $m" $rc 0
	fi
done
printf '%s\n' "$body" | grep -q '^iommutrace_dma_outstanding'
expect "no outstanding-mapping gauges without --leaks" $? 1
printf '%s\n' "$body" | grep -q '^iommutrace_role_traced{role="map events",state="traced"} 1$'
expect "live scrape: iommutrace_role_traced says map events are traced" $? 0
printf '%s\n' "$body" | grep -q '^iommutrace_role_traced{role="lazy flushes",state="not traceable"} 0$'
expect "live scrape: iommutrace_role_traced says lazy flushes are not (no IOMMU driver here)" $? 0
expect "probes attached as the exporter says" \
	"$(printf '%s\n' "$body" | sed -n 's/^iommutrace_probes_attached //p')" \
	"$(sed -n 's/.*(\([0-9]*\) hooks attached.*/\1/p' "$EXP_ERR")"

html=$(curl -s "$(exp_url /)")
case $html in *'<a href="/metrics">'*) ok "/ links to /metrics" ;; *) nok "/ links to /metrics" ;; esac
expect "unknown path 404" "$(curl -s -o /dev/null -w '%{http_code}' "$(exp_url /nope)")" 404
expect "/metrics/x 404" "$(curl -s -o /dev/null -w '%{http_code}' "$(exp_url /metrics/x)")" 404
expect "query string ignored" "$(curl -s -o /dev/null -w '%{http_code}' "$(exp_url '/metrics?a=b')")" 200
expect "HEAD /metrics 200" "$(curl -s -I -o /dev/null -w '%{http_code}' "$(exp_url /metrics)")" 200
for m in POST PUT DELETE PATCH OPTIONS; do
	expect "$m 405" "$(curl -s -X "$m" -d x -o /dev/null -w '%{http_code}' "$(exp_url /metrics)")" 405
done
expect "405 says Allow: GET, HEAD" \
	"$(curl -s -X POST -D - -o /dev/null "$(exp_url /metrics)" | tr -d '\r' | sed -n 's/^Allow: //Ip')" \
	"GET, HEAD"

# ------------------------------------------------------------ malformed
st=$(raw 'GARBAGE\r\n\r\n')
case $st in *' 400 '* | closed) ok "garbage request line refused ($st)" ;;
*) nok "garbage request line refused ($st)" ;; esac
expect "HTTP/1.1 without Host: 400" "$(raw 'GET /metrics HTTP/1.1\r\n\r\n' | cut -d' ' -f2)" 400
# 505, or (rarely, when the close races the read) no status line at all
st=$(raw 'GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n')
case $st in *' 505 '* | closed) ok "unknown HTTP version refused ($st)" ;;
*) nok "unknown HTTP version refused ($st)" ;; esac
expect "header line without colon: 400" \
	"$(raw 'GET /metrics HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n' | cut -d' ' -f2)" 400
st=$(raw "GET /$(head -c 70000 /dev/zero | tr '\0' a) HTTP/1.1\r\nHost: x\r\n\r\n")
case $st in *' 414 '* | *' 431 '* | *' 413 '* | *' 400 '* | closed) ok "70 kB URL refused ($st)" ;;
*) nok "70 kB URL refused ($st)" ;; esac
st=$(raw "GET /metrics HTTP/1.1\r\nHost: x\r\nX: $(head -c 70000 /dev/zero | tr '\0' b)\r\n\r\n")
case $st in *' 431 '* | *' 413 '* | *' 400 '* | closed) ok "70 kB header refused ($st)" ;;
*) nok "70 kB header refused ($st)" ;; esac
st=$(raw '\x00\x01\x02\xff\xfe binary \r\n\r\n')
case $st in *' 400 '* | *' 405 '* | *' 501 '* | closed) ok "binary junk refused ($st)" ;;
*) nok "binary junk refused ($st)" ;; esac
st=$(raw 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nxx')
case $st in *' 405 '* | *' 413 '* | *' 400 '* | closed) ok "huge POST body not read ($st)" ;;
*) nok "huge POST body not read ($st)" ;; esac
expect "pipelined requests both answered" \
	"$(exec 3<>"/dev/tcp/127.0.0.1/$EXP_PORT"
	   printf 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
	   timeout 5 cat <&3 | grep -c '^HTTP/1.1 ')" 2
serving "serves after malformed requests"

# ------------------------------------------------------------ concurrency
t0=$EPOCHREALTIME
codes=$(seq 200 | xargs -P 50 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 \
	"$(exp_url /metrics)" | sort | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')
expect "200 scrapes, 50 at a time: all 200" "$codes" "200x200 "
echo "# 200 scrapes, 50 concurrent: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s"

# slow clients: 40 connections trickling a request a byte at a time
slow_pids=""
for i in $(seq 40); do
	( exec 3<>"/dev/tcp/127.0.0.1/$EXP_PORT" || exit
	  req='GET /metrics HTTP/1.1'
	  for j in $(seq ${#req}); do printf '%s' "${req:j-1:1}" >&3 2>/dev/null || exit; sleep 0.25; done
	  sleep 20 ) &
	slow_pids="$slow_pids $!"
done
sleep 1
t0=$EPOCHREALTIME
serving "serves while 40 slow clients trickle"
dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
awk -v d="$dt" 'BEGIN { exit !(d < 1.0) }' && ok "scrape under slow clients in ${dt}s (< 1 s)" ||
	nok "scrape under slow clients in ${dt}s (< 1 s)"

# more idle connections than the limit (128): the excess waits or is
# refused, and the server recovers when they go
fds=()
for i in $(seq 200); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$EXP_PORT" 2>/dev/null && fds+=("$fd")
done
echo "# opened ${#fds[@]} idle connections"
for fd in "${fds[@]}"; do exec {fd}>&-; done
kill $slow_pids 2>/dev/null
wait $slow_pids 2>/dev/null
sleep 0.5
serving "serves after 200 idle connections close"

# a client that never finishes its headers is dropped after the 10 s timeout
t0=$EPOCHREALTIME
exec 3<>"/dev/tcp/127.0.0.1/$EXP_PORT"
printf 'GET /metrics HTTP/1.1\r\n' >&3
timeout 20 cat <&3 >/dev/null
exec 3>&-
dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
awk -v d="$dt" 'BEGIN { exit !(d >= 9 && d < 15) }' && ok "idle half request dropped after ${dt}s (10 s timeout)" ||
	nok "idle half request dropped after ${dt}s (10 s timeout)"

# ------------------------------------------------------------ signals
kill -HUP "$EXP_PID"
sleep 0.3
serving "SIGHUP: still serving"
grep -q 'SIGHUP ignored' "$EXP_ERR"
expect "SIGHUP: logged as ignored" $? 0
t0=$EPOCHREALTIME
exp_stop
expect "SIGTERM: exit 0" $? 0
dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
awk -v d="$dt" 'BEGIN { exit !(d < 3) }' && ok "SIGTERM: gone in ${dt}s" || nok "SIGTERM: gone in ${dt}s"
expect "SIGTERM: port released" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$(exp_url /metrics)")" 000
n=$(bpftool link show 2>/dev/null | grep -c iommutrace || true)
expect "SIGTERM: no iommutrace BPF link left" "$n" 0

# --leaks: outstanding-mapping gauges per device, valid exposition
if exp_start "$PORT" -f -i 0.2 --leaks; then
	body=$(curl -s "$(exp_url /metrics)")
	for m in iommutrace_dma_outstanding_mappings iommutrace_dma_outstanding_bytes \
		iommutrace_dma_oldest_mapping_age_seconds; do
		printf '%s\n' "$body" | grep -q "^$m{device=\"unknown\",.*} 0"
		expect "--leaks: $m for the unattributed row, 0 here" $? 0
	done
	out=$(printf '%s\n' "$body" | promtool check metrics 2>&1)
	expect "--leaks: promtool check metrics" "$?:$out" "0:"
	exp_stop
else
	nok "--leaks: exporter starts"
fi

[ "$fails" -eq 0 ]
