# configs: intel-lazy
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# export_web.sh: issue 20's "done when", on a live IOMMU with nvme traffic.
# The exporter serves TLS (a self-signed certificate made here by openssl)
# with basic auth (a bcrypt hash from libcrypt) through --web.config.file:
# a gzip scrape is at least 4x smaller than the plain one, a wrong password
# gets 401; a real Prometheus in the guest scrapes it over https with
# basic_auth, loads dashboards/iommutrace.rules.yml and evaluates it: every
# rule healthy, nvme's recording-rule series (map rate, flushes per unmap,
# the flush-queue ratio in lazy mode) present and nonzero during fio. Last,
# -d nvme serves nvme alone and counts the rest as dropped. The scrapes and
# logs are kept in $IT_OUT/export_web.

. tests/export/lib.sh
X=$IT_OUT/export_web
D=/tmp/it-web
mkdir -p "$X" "$D"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$D/key.pem" -out "$D/cert.pem" -days 2 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
check_eq "web: openssl made a certificate" "$?" 0
HASH=$(python3 -W ignore -c 'import crypt
print(crypt.crypt("guest-pw", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10)))')
printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  prom: %s\n' \
	"$HASH" >"$D/web.yml"
printf 'guest-pw' >"$D/password"

EXP_SCHEME=https
EXP_CURL_OPTS="--cacert $D/cert.pem -u prom:guest-pw"
if ! exp_start 19121 -i 0.5 --web.config.file "$D/web.yml"; then
	it_not_ok "web: exporter serves https with basic auth"
	return 0 2>/dev/null || exit 0
fi
it_ok "web: exporter serves https with basic auth"

wl_nvme_dd 2000 >/dev/null
sleep 1.2
# shellcheck disable=SC2086
curl -s $EXP_CURL_OPTS "$(exp_url /metrics)" >"$X/plain.txt"
# shellcheck disable=SC2086
curl -s -D "$X/gzip-headers.txt" -H 'Accept-Encoding: gzip' $EXP_CURL_OPTS \
	"$(exp_url /metrics)" >"$X/scrape.gz"
plain=$(wc -c <"$X/plain.txt")
gz=$(wc -c <"$X/scrape.gz")
ndev=$(grep -c '^iommutrace_map_total{' "$X/plain.txt")
it_comment "scrape with $ndev devices: $plain bytes plain, $gz gzip"
check_ge "web: nvme in the scrape" \
	"$(grep -c "^iommutrace_map_total{device=\"$IT_NVME_DEV\"" "$X/plain.txt")" 1
check_eq "web: Content-Encoding: gzip" \
	"$(tr -d '\r' <"$X/gzip-headers.txt" | sed -n 's/^Content-Encoding: //Ip')" gzip
check "web: gzip -d decodes it and promtool accepts it" \
	sh -c 'gzip -dc <"$1" | promtool check metrics' sh "$X/scrape.gz"
check_ge "web: gzip scrape at least 4x smaller ($plain -> $gz bytes)" "$((plain * 10 / gz))" 40
check_eq "web: wrong password: 401" \
	"$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/cert.pem" -u prom:wrong "$(exp_url /metrics)")" 401
check_eq "web: no credentials: 401" \
	"$(curl -s -o /dev/null -w '%{http_code}' --cacert "$D/cert.pem" "$(exp_url /metrics)")" 401

PROM_JOB_EXTRA="    scheme: https
    tls_config:
      ca_file: $D/cert.pem
    basic_auth:
      username: prom
      password_file: $D/password"
PROM_RULE_FILES="'$PWD/dashboards/iommutrace.rules.yml'"
if prom_start 19131 127.0.0.1:19121 "$D/prom"; then
	it_ok "web: Prometheus ready with the rules"
	wl_fio "$IT_NVME_BLK" 12 >"$X/fio.out" 2>&1 &
	fio_pid=$!
	if prom_wait_scrapes 8; then
		it_ok "web: Prometheus scraped over https with basic_auth 8 times"
	else
		it_not_ok "web: Prometheus scraped over https with basic_auth 8 times"
	fi
	check_eq "web: up{job=\"iommutrace\"} 1" "$(prom_value 'up{job="iommutrace"}')" 1
	check_ge "web: Prometheus got gzip" \
		"$(prom_value 'iommutrace_exporter_scrapes_total{encoding="gzip"}')" 1
	curl -s "http://127.0.0.1:19131/api/v1/rules" >"$X/rules.json"
	check_eq "web: 20 rules loaded" "$(jq '[.data.groups[].rules[]] | length' "$X/rules.json")" 20
	check_eq "web: every rule healthy" \
		"$(jq '[.data.groups[].rules[] | select(.health != "ok")] | length' "$X/rules.json")" 0
	check_ge "web: iommutrace:map:rate5m for nvme > 0 during fio" \
		"$(prom_value "iommutrace:map:rate5m{device=\"$IT_NVME_DEV\"}" | cut -d. -f1)" 1
	# lazy mode: a figure, not a pass/fail (TCG's timing is not a host's)
	fpu=$(prom_value "iommutrace:flushes_per_unmap:ratio_rate5m{device=\"$IT_NVME_DEV\"}")
	case $fpu in
	none | NaN | '' | *[!0-9.e+-]*) it_not_ok "web: flushes per unmap for nvme evaluated ($fpu)" ;;
	*) it_ok "web: flushes per unmap for nvme evaluated ($fpu)" ;;
	esac
	it_comment "nvme flush-queue-full share: $(prom_value "iommutrace:flush_queue_full:ratio_rate5m{device=\"$IT_NVME_DEV\"}")"
	it_comment "alerts: $(curl -s http://127.0.0.1:19131/api/v1/alerts | jq -c '[.data.alerts[] | .labels.alertname]')"
	wait "$fio_pid"
	prom_stop
	cp "$D/prom/prometheus.log" "$X/" 2>/dev/null
else
	it_not_ok "web: Prometheus ready with the rules"
fi
cp "$EXP_ERR" "$X/stderr.txt"
exp_stop
check_eq "web: SIGTERM: exit 0" "$?" 0

# -d nvme: nvme alone; the others (the unattributed slot at least) dropped
EXP_SCHEME=http
EXP_CURL_OPTS=
if exp_start 19121 -i 0.25 -d nvme; then
	wl_nvme_dd 100 >/dev/null
	sleep 0.6
	s=$(curl -s "$(exp_url /metrics)")
	printf '%s\n' "$s" >"$X/scrape-d-nvme.txt"
	check_eq "web: -d nvme: one device served, nvme" \
		"$(printf '%s\n' "$s" | grep '^iommutrace_map_total{' | grep -c "device=\"$IT_NVME_DEV\"") $(printf '%s\n' "$s" | grep -c '^iommutrace_map_total{')" "1 1"
	check_ge "web: -d nvme: the others counted as dropped" \
		"$(printf '%s\n' "$s" | sed -n 's/^iommutrace_exporter_devices_dropped{reason="filter"} //p')" 1
	exp_stop
else
	it_not_ok "web: exporter serves with -d nvme"
fi
rm -rf "$D"
