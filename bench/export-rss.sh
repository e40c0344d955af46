#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# export-rss.sh: the daemon's memory with 256 devices, on the host (part of
# `make bench`). Starts the real `iommutrace export` (-f: no IOMMU here), has
# build/bench/devfill write 256 busy devices into the maps it pinned (every
# counter and bucket non-zero: every series present), lets it collect, has
# it serve /metrics plain and gzip five times each, as Prometheus would,
# and reads its VmHWM (peak resident set) and VmRSS from /proc: before the
# devices, and after the scrapes. Prints "key=value" lines. Root.
#
#   bench/export-rss.sh [DEVICES]	(default 256)
set -u -o pipefail
cd "$(dirname "$0")/.."
. tests/export/lib.sh

N=${1:-256}
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$EXP_PID/status"; }

[[ -x ./iommutrace && -x build/bench/devfill ]] ||
	{ echo "export-rss: build ./iommutrace and build/bench/devfill first (make bench)" >&2; exit 2; }
# devfill writes whichever daemon's pins are there: never a running one's
[[ -e /sys/fs/bpf/iommutrace ]] &&
	{ echo "export-rss: an iommutrace already shares its maps (/sys/fs/bpf/iommutrace): stop it first" >&2; exit 1; }
exp_start $((20000 + $$ % 20000)) -f -i 0.5 || exit 1
sleep 1.5
echo "hwm_start_kb=$(kb VmHWM) rss_start_kb=$(kb VmRSS)"
if ! build/bench/devfill "$N" >/dev/null; then
	exp_stop
	exit 1
fi
sleep 1.5			# three collections of $N devices
for i in 1 2 3 4 5; do
	plain=$(curl -s "$(exp_url /metrics)" | wc -c)
	gz=$(curl -s -H 'Accept-Encoding: gzip' "$(exp_url /metrics)" | wc -c)
done
series=$(curl -s "$(exp_url /metrics)" | grep -c '^iommutrace_')
devs=$(curl -s "$(exp_url /metrics)" | grep '^iommutrace_map_total{' | wc -l)
echo "devices=$devs series=$series metrics_bytes=$plain metrics_gzip_bytes=$gz"
echo "hwm_kb=$(kb VmHWM) rss_kb=$(kb VmRSS)"
exp_stop
