#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The exporter at its device limit: build/bench/devfill writes 256 busy
# slots (255 devices and the unattributed one) into the maps a real
# `iommutrace export` pinned, every counter and bucket non-zero, as its BPF
# programs would; /metrics must then carry all 256, each with the very map
# count written (the counters are read in chunks of keys: slots on both
# sides of every chunk edge), plain and gzip alike.
set -u
cd "$(dirname "$0")/../.."
. tests/export/lib.sh
T_NAME=devices
. tests/export/check.sh

FILL=build/bench/devfill
[ -x "$FILL" ] || { nok "$FILL built (make tests)"; exit 1; }
# devfill writes whichever daemon's pins are there: never a running one's
[ -e /sys/fs/bpf/iommutrace ] && { nok "no other iommutrace shares its maps here"; exit 1; }
exp_start $((22000 + $$ % 20000)) -f -i 0.3 || { nok "exporter starts"; exit 1; }
want=$(mktemp)
"$FILL" 256 >"$want"
expect "devfill: 256 slots written" "$?/$(wc -l <"$want")" 0/256
sleep 1			# collections
got=$(mktemp)
curl -s "$(exp_url /metrics)" >"$got"
expect "/metrics: 256 device rows" "$(grep -c '^iommutrace_map_total{' "$got")" 256
# every device's map count as written: "NAME COUNT" lines, compared whole
sed -n 's/^iommutrace_map_total{device="\([^"]*\)"[^}]*} \(.*\)$/\1 \2/p' "$got" | sort >"$got.maps"
if sort "$want" | cmp -s - "$got.maps"; then
	ok "every device's map count = the one written"
else
	nok "every device's map count = the one written"
	sort "$want" | diff - "$got.maps" | head -5 | sed 's/^/#   /'
fi
curl -s -H 'Accept-Encoding: gzip' "$(exp_url /metrics)" | gzip -dc >"$got.gz" 2>/dev/null
expect "gzip /metrics: the same 256 device rows" "$(grep -c '^iommutrace_map_total{' "$got.gz")" 256
exp_stop
expect "exporter: exit 0 on SIGTERM" $? 0
rm -f "$want" "$got" "$got.maps" "$got.gz" "$EXP_ERR"
[ "$fails" -eq 0 ]
