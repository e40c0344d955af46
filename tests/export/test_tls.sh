#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test_tls.sh: the exporter's --web.config.file, gzip and device selection
# on the host with real clients (no IOMMU here: -f). A bad config file exits
# 10 with a message naming it, before anything attaches. Then TLS with a
# self-signed certificate made here by openssl and basic auth with a bcrypt
# hash made by libcrypt (Python's crypt): curl with the CA, right and wrong
# passwords (401 + WWW-Authenticate), plain HTTP against the TLS port; gzip
# decoded by gzip(1) and by curl --compressed; then a real Prometheus
# scraping over https with basic_auth (target up, and it asked for gzip)
# beside a job with a wrong password (down, 401). Last, -d and
# --max-devices on a live scrape. Loopback only. Needs root (BPF), curl,
# jq, openssl, python3, gzip, prometheus, promtool.

set -u
cd "$(dirname "$0")/../.."
. tests/export/lib.sh

T_NAME="export tls"
. tests/export/check.sh
# sample TEXT LINE_PREFIX: the value of the first sample line starting so
sample() {
	printf '%s\n' "$1" | awk -v p="$2 " 'index($0, p) == 1 { print $NF; exit }'
}

DIR=$(mktemp -d /tmp/it-export-tls.XXXXXX)
PROM_PID=
trap 'kill "$EXP_PID" $PROM_PID 2>/dev/null; rm -rf "$DIR"' EXIT
PORT=$((20000 + ($$ + 11) % 20000))
PPORT=$((PORT + 1))

# ------------------------------------------------------------ material
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$DIR/key.pem" -out "$DIR/cert.pem" -days 2 -subj /CN=localhost \
	-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
expect "openssl made a self-signed certificate for 127.0.0.1" $? 0
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$DIR/other.pem" 2>/dev/null
# a ':' and a quote: basic auth splits at the first ':' only (no space:
# EXP_CURL_OPTS is split at spaces)
PASS='sc:rape"pw!'
HASH=$(python3 -W ignore -c 'import crypt, sys
print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10)))' "$PASS")
case $HASH in '$2b$10$'*) ok "bcrypt hash made by libcrypt (cost 10)" ;;
*) nok "bcrypt hash made by libcrypt (got '$HASH')" ;; esac
# the toolkit's own example layout: paths relative to the config file
cat >"$DIR/web.yml" <<EOT
# node_exporter's web config format
tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
basic_auth_users:
  prometheus: '$HASH'
EOT
printf '%s' "$PASS" >"$DIR/password"

# ------------------------------------------------------------ bad files: exit 10
# bad NAME WANT_IN_MESSAGE FILE_CONTENT
bad() {
	local f="$DIR/bad.yml" out rc

	printf '%s' "$3" >"$f"
	out=$("$EXP_BIN" export -f --web.listen-address "127.0.0.1:$PORT" \
		--web.config.file "$f" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" = 10 ] && [[ $out == *"$f"* ]] && [[ $out == *"$2"* ]] &&
		[[ $out != *"hooks attached"* ]]; then
		ok "bad config, $1: exit 10 before attaching ($(printf '%s' "$out" | head -n1 | cut -c1-150))"
	else
		nok "bad config, $1: exit 10 naming the file and '$2'"
		echo "#   got status $rc: $out"
	fi
}
out=$("$EXP_BIN" export -f --web.listen-address "127.0.0.1:$PORT" \
	--web.config.file "$DIR/nosuch.yml" 2>&1)
rc=$?
[ "$rc" = 10 ] && [[ $out == *"nosuch.yml: cannot read: No such file or directory"* ]] &&
	ok "bad config, missing file: exit 10 ($out)" ||
	{ nok "bad config, missing file: exit 10"; echo "#   got $rc: $out"; }
bad "bad YAML" "bad YAML" $'tls_server_config:\n  cert_file: [x\n'
bad "unknown key" "unknown key 'basic_auth'" $'basic_auth:\n  a: b\n'
bad "unreadable cert" "cert_file '$DIR/none.pem': cannot read: No such file" \
	$'tls_server_config:\n  cert_file: none.pem\n  key_file: key.pem\n'
bad "key of another cert" "is not the key of cert_file" \
	$'tls_server_config:\n  cert_file: cert.pem\n  key_file: other.pem\n'
bad "plain-text password" "not a bcrypt hash" $'basic_auth_users:\n  prometheus: secret\n'
bad "SHA-512 crypt hash" "not a bcrypt hash" \
	$'basic_auth_users:\n  prometheus: $6$rounds=5000$salt$'"$(head -c 86 /dev/zero | tr '\0' a)"$'\n'
bad "client certificates" "not supported by iommutrace" \
	$'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n  client_auth_type: RequireAndVerifyClientCert\n'
n=$(bpftool link show 2>/dev/null | grep -c iommutrace || true)
expect "bad configs left no BPF link" "$n" 0
"$EXP_BIN" export -h | grep -q -- '--web.config.file'
expect "help names --web.config.file" $? 0

# ------------------------------------------------------------ TLS + basic auth
EXP_SCHEME=https
EXP_CURL_OPTS="--cacert $DIR/cert.pem -u prometheus:$PASS"
EXP_CURL_OPTS_ARR=(--cacert "$DIR/cert.pem" -u "prometheus:$PASS")
if ! exp_start "$PORT" -f -i 0.5 --web.config.file "$DIR/web.yml"; then
	nok "exporter starts with TLS and basic auth"
	exit 1
fi
ok "exporter starts with TLS and basic auth"
grep -q "serving https://127.0.0.1:$PORT/metrics (.*basic auth)" "$EXP_ERR"
expect "says https and basic auth on stderr" $? 0

code() {	# curl ARGS...: the status code, 000 when no HTTP answer
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"
}
U=$(exp_url /metrics)
expect "curl --cacert, right password: 200" "$(code "${EXP_CURL_OPTS_ARR[@]}" "$U")" 200
expect "wrong password: 401" "$(code --cacert "$DIR/cert.pem" -u prometheus:nope "$U")" 401
expect "unknown user: 401" "$(code --cacert "$DIR/cert.pem" -u root:"$PASS" "$U")" 401
expect "no credentials: 401" "$(code --cacert "$DIR/cert.pem" "$U")" 401
expect "no credentials on /: 401" "$(code --cacert "$DIR/cert.pem" "$(exp_url /)")" 401
expect "401 says WWW-Authenticate: Basic realm" \
	"$(curl -s -D - -o /dev/null --cacert "$DIR/cert.pem" -u prometheus:nope "$U" |
		tr -d '\r' | sed -n 's/^WWW-Authenticate: //Ip')" 'Basic realm="iommutrace"'
expect "certificate not trusted without the CA: no answer" "$(code -u "prometheus:$PASS" "$U")" 000
expect "-k, right password: 200" "$(code -k -u "prometheus:$PASS" "$U")" 200
expect "plain HTTP on the TLS port: no HTTP answer" \
	"$(code -u "prometheus:$PASS" "http://127.0.0.1:$PORT/metrics")" 000
proto=$(curl -s -o /dev/null -w '%{scheme} %{http_version}' "${EXP_CURL_OPTS_ARR[@]}" "$U")
expect "served over HTTPS/1.1" "$proto" "HTTPS 1.1"
tlsv=$(openssl s_client -brief -connect "127.0.0.1:$PORT" -CAfile "$DIR/cert.pem" </dev/null 2>&1 |
	sed -n 's/^Protocol version: *//p' | head -n1)
case $tlsv in TLSv1.2 | TLSv1.3) ok "TLS version $tlsv" ;; *) nok "TLS version '$tlsv'" ;; esac

# ------------------------------------------------------------ gzip
plain=$(curl -s "${EXP_CURL_OPTS_ARR[@]}" "$U")
curl -s -D "$DIR/hdr" -H 'Accept-Encoding: gzip' "${EXP_CURL_OPTS_ARR[@]}" "$U" >"$DIR/body.gz"
expect "Accept-Encoding: gzip: Content-Encoding: gzip" \
	"$(tr -d '\r' <"$DIR/hdr" | sed -n 's/^Content-Encoding: //Ip')" gzip
expect "gzip response: Vary: Accept-Encoding" \
	"$(tr -d '\r' <"$DIR/hdr" | sed -n 's/^Vary: //Ip')" Accept-Encoding
expect "plain response: Vary: Accept-Encoding, no Content-Encoding" \
	"$(curl -s -D - -o /dev/null "${EXP_CURL_OPTS_ARR[@]}" "$U" | tr -d '\r' |
		sed -n -e 's/^Vary: //Ip' -e 's/^Content-Encoding: .*/encoded/Ip' | tr '\n' ' ')" \
	"Accept-Encoding "
gz_bytes=$(stat -c %s "$DIR/body.gz")
unz=$(gzip -dc <"$DIR/body.gz")
expect "gzip(1) decodes the body" $? 0
out=$(printf '%s\n' "$unz" | promtool check metrics 2>&1)
expect "decoded body passes promtool check metrics" "$?:$out" "0:"
expect "decoded body has the plain body's series" \
	"$(scrape_names "$unz" | md5sum)" "$(scrape_names "$plain" | md5sum)"
plain_bytes=${#plain}
echo "# live host scrape (1 device): ${plain_bytes} bytes plain, ${gz_bytes} gzip" \
	"($(awk -v a="$plain_bytes" -v b="$gz_bytes" 'BEGIN { printf "%.1f", a / b }')x)"
[ "$gz_bytes" -gt 0 ] && [ $((gz_bytes * 4)) -le "$plain_bytes" ] &&
	ok "gzip scrape at least 4x smaller ($plain_bytes -> $gz_bytes bytes)" ||
	nok "gzip scrape at least 4x smaller ($plain_bytes -> $gz_bytes bytes)"
comp=$(curl -s --compressed "${EXP_CURL_OPTS_ARR[@]}" "$U")
printf '%s\n' "$comp" | grep -q '^iommutrace_probes_attached '
expect "curl --compressed (deflate, gzip, br, zstd) decodes it" $? 0
expect "Accept-Encoding: gzip;q=0: plain" \
	"$(curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip;q=0' "${EXP_CURL_OPTS_ARR[@]}" "$U" |
		tr -d '\r' | grep -ci '^Content-Encoding:')" 0

# the exporter counts what it sent: the next scrape shows this one's bytes
before=$(curl -s "${EXP_CURL_OPTS_ARR[@]}" "$U")
b0=$(sample "$before" 'iommutrace_exporter_response_bytes_total{encoding="gzip"}')
s0=$(sample "$before" 'iommutrace_exporter_gzip_saved_bytes_total')
curl -s -H 'Accept-Encoding: gzip' "${EXP_CURL_OPTS_ARR[@]}" "$U" >"$DIR/one.gz"
one=$(stat -c %s "$DIR/one.gz")
one_plain=$(gzip -dc <"$DIR/one.gz" | wc -c)
after=$(curl -s "${EXP_CURL_OPTS_ARR[@]}" "$U")
expect "response_bytes_total{gzip} grew by the gzip body received" \
	"$(( $(sample "$after" 'iommutrace_exporter_response_bytes_total{encoding="gzip"}') - b0 ))" "$one"
expect "gzip_saved_bytes_total grew by plain - gzip of it" \
	"$(( $(sample "$after" 'iommutrace_exporter_gzip_saved_bytes_total') - s0 ))" "$((one_plain - one))"
w=$(sample "$after" 'iommutrace_exporter_unauthorized_total{reason="wrong"}')
m=$(sample "$after" 'iommutrace_exporter_unauthorized_total{reason="missing"}')
# wrong: the wrong password, the unknown user, the WWW-Authenticate check
expect "401s counted: 3 wrong, 2 missing" "$w $m" "3 2"

# ------------------------------------------------------------ Prometheus over TLS + auth
PROM_JOB_EXTRA="    scheme: https
    tls_config:
      ca_file: $DIR/cert.pem
    basic_auth:
      username: prometheus
      password_file: $DIR/password"
PROM_EXTRA_JOBS="  - job_name: wrong-password
    scheme: https
    tls_config:
      insecure_skip_verify: true
    basic_auth:
      username: prometheus
      password: not-it
    static_configs:
      - targets: ['127.0.0.1:$PORT']"
if ! prom_start "$PPORT" "127.0.0.1:$PORT" "$DIR/prom"; then
	nok "Prometheus starts"
	exit 1
fi
if prom_wait_scrapes 3; then
	ok "Prometheus scraped over https with basic_auth 3 times"
else
	nok "Prometheus scraped over https with basic_auth 3 times"
	tail -n 5 "$DIR/prom/prometheus.log"
fi
expect "up{job=\"iommutrace\"} is 1" "$(prom_value 'up{job="iommutrace"}')" 1
expect "up{job=\"wrong-password\"} is 0" "$(prom_value 'up{job="wrong-password"}')" 0
err=$(curl -s "http://127.0.0.1:$PPORT/api/v1/targets" |
	jq -r '.data.activeTargets[] | select(.labels.job == "wrong-password") | .lastError')
case $err in *401*) ok "Prometheus says why: $err" ;; *) nok "wrong-password target error names 401 ('$err')" ;; esac
g=$(prom_value 'iommutrace_exporter_scrapes_total{job="iommutrace",encoding="gzip"}')
awk -v g="$g" 'BEGIN { exit !(g + 0 >= 1) }' && ok "Prometheus asked for gzip and got it ($g gzip scrapes)" ||
	nok "Prometheus asked for gzip and got it ($g)"
prom_stop
PROM_PID=
exp_stop
expect "SIGTERM: exit 0" $? 0

# ------------------------------------------------------------ -d and --max-devices
EXP_SCHEME=http
EXP_CURL_OPTS=
"$EXP_BIN" export --max-devices 0 2>/dev/null
expect "--max-devices 0: usage error" $? 2
"$EXP_BIN" export --max-devices 257 2>/dev/null
expect "--max-devices 257 (over the model's 256): usage error" $? 2
if exp_start "$PORT" -f -i 0.5 -d nvme --max-devices 4; then
	body=$(curl -s "$(exp_url /metrics)")
	grep -q -- "-d nvme matches no device now" "$EXP_ERR"
	expect "-d matching nothing yet: said, not refused" $? 0
	expect "-d nvme on a host without nvme: no device series" \
		"$(printf '%s\n' "$body" | grep -c '^iommutrace_map_total{')" 0
	expect "the unattributed slot counted as dropped by the filter" \
		"$(sample "$body" 'iommutrace_exporter_devices_dropped{reason="filter"}')" 1
	expect "iommutrace_exporter_devices 0" "$(sample "$body" 'iommutrace_exporter_devices')" 0
	out=$(printf '%s\n' "$body" | promtool check metrics 2>&1)
	expect "a scrape with no device passes promtool" "$?:$out" "0:"
	exp_stop
else
	nok "exporter starts with -d nvme --max-devices 4"
fi
if exp_start "$PORT" -f -i 0.5 -d unknown --max-devices 1; then
	body=$(curl -s "$(exp_url /metrics)")
	expect "-d unknown --max-devices 1: the unattributed slot served" \
		"$(printf '%s\n' "$body" | grep -c '^iommutrace_map_total{device="unknown"')" 1
	expect "nothing dropped" \
		"$(sample "$body" 'iommutrace_exporter_devices_dropped{reason="filter"}') $(sample "$body" 'iommutrace_exporter_devices_dropped{reason="max_devices"}')" "0 0"
	exp_stop
else
	nok "exporter starts with -d unknown --max-devices 1"
fi

[ "$fails" -eq 0 ]
