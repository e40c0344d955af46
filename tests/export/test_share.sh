#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# One attach per host: the exporter pins its maps under /sys/fs/bpf/iommutrace;
# stat beside it reads them and loads no program of its own (bpftool counts
# the kernel's programs); --own attaches its own; the pins go with a clean
# exit, and the pins of a killed exporter are found stale and removed.
set -u
cd "$(dirname "$0")/../.."
. tests/export/lib.sh

PIN=/sys/fs/bpf/iommutrace
T_NAME=share
. tests/export/check.sh
# wait_for FILE PATTERN: until FILE has a line matching PATTERN (<= 30 s)
wait_for() {
	local i
	for i in $(seq 150); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# nprogs PID: BPF programs PID holds (its bpf-prog file descriptors)
nprogs() {
	ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'anon_inode:bpf-prog'
}

PORT=$((21000 + $$ % 20000))
exp_start "$PORT" -f -i 0.5 || { nok "exporter starts"; exit 1; }
for f in dev_stats dev_info lost shared_meta twin_served iommutra_data; do
	[ -e "$PIN/$f" ] && ok "exporter pinned $f" || nok "exporter pinned $f"
done

# twin_slots: the twin slots the daemon's shared_meta publishes
twin_slots() {
	bpftool map dump pinned "$PIN/shared_meta" -j |
		jq '.[0].formatted.value | [.hooks[:.nr_hooks][].twin_slots[] | select(. != 4294967295)] | length'
}

# the exporter names its hooks and their programs, whose runs and kernel skips
# a reader reads by id: each one it holds, none it does not, twin slots only
# with --lossless
held=$(exp_prog_ids "$EXP_PID")
meta=$(bpftool map dump pinned "$PIN/shared_meta" -j | jq -c '.[0].formatted.value')
published=$(printf '%s\n' "$meta" | jq -c '[.hooks[:.nr_hooks][].prog_ids[] | select(. != 0)]')
[ "$(printf '%s\n' "$published" | jq length)" -gt 0 ] &&
	ok "exporter publishes its programs ($published)" || nok "exporter publishes no program"
expect "every published program is one the exporter holds" \
	"$(jq -n --argjson p "$published" --argjson h "$held" '[$p[] | select(. as $i | $h | index($i) | not)] | length')" 0
expect "lean exporter: no twin slots published" "$(twin_slots)" 0

# stat beside it: no program of its own, and it says whose maps it reads
daemon=$(nprogs "$EXP_PID")
[ "$daemon" -gt 0 ] && ok "the exporter holds its $daemon programs" || nok "exporter programs: $daemon"
out=$(mktemp)
./iommutrace stat -f -j -- sleep 3 >"$out" 2>"$out.err" &
spid=$!
wait_for "$out.err" "IOTLB hit/miss figures left out" || nok "stat beside the exporter: opened"
during=$(nprogs "$spid")
wait $spid
expect "stat beside the exporter: exit 0" $? 0
expect "stat beside the exporter loads no BPF program" "$during" 0
expect "stat JSON: read from the exporter's pid" "$(jq -r .shared_from_pid "$out")" "$EXP_PID"
grep -q "stat: reading the maps of iommutrace pid $EXP_PID" "$out.err" &&
	ok "stat says whose maps it reads" || nok "stat header: $(cat "$out.err")"
expect "stat JSON: the exporter's roles (map events traced)" \
	"$(jq -r '[.roles[] | select(.role == "map events")][0].state' "$out")" traced

# its hooks table is the exporter's hooks, as a session of its own would
# attach them, with their runs: one printk during the run is one run of the
# console hook (bpf_stats on for the reader's run)
own_hooks=$(./iommutrace stat -f -j --own -- true 2>/dev/null | jq -c '[.hooks[] | [.hook, .kind]]')
./iommutrace stat -f -j -B -- sh -c 'echo iommutrace-share-test > /dev/kmsg' >"$out" 2>"$out.err"
expect "stat -B beside the exporter: exit 0" $? 0
expect "stat beside the exporter: the exporter's hooks ($own_hooks)" \
	"$(jq -c '[.hooks[] | [.hook, .kind]]' "$out")" "$own_hooks"
expect "stat -B beside the exporter: bpf_stats" "$(jq -r .bpf_stats "$out")" true
jq -e '[.hooks[] | select(.hook == "console")][0].runs >= 1 and .bpf_run_cnt >= 1' "$out" >/dev/null &&
	ok "stat -B beside the exporter: the printk ran the exporter's console hook" ||
	nok "console hook runs: $(jq -c '[.hooks[] | select(.hook == "console")], .bpf_run_cnt' "$out")"

# --deep and --lossless beyond the lean exporter's mode: hooks of our own, said
for m in --deep --lossless; do
	./iommutrace stat -f -j $m -- true >"$out" 2>"$out.err"
	expect "stat $m beside a lean exporter: exit 0" $? 0
	expect "stat $m beside a lean exporter: hooks of its own" \
		"$(grep '^{' "$out" | tail -n 1 | jq -r .shared_from_pid)" null
	grep -q "iommutrace pid $EXP_PID shares its maps but runs without $m: attaching hooks of our own" \
		"$out.err" && ok "stat $m says why it attaches its own" || nok "stat $m: $(cat "$out.err")"
done
expect "stat --lossless beside a lean exporter: lossless" \
	"$(grep '^{' "$out" | tail -n 1 | jq -r .lossless)" true

# --own: a private session with hooks of its own
./iommutrace stat -f -j --own -- sleep 3 >"$out" 2>"$out.err" &
spid=$!
wait_for "$out.err" "IOTLB hit/miss figures left out" || nok "stat --own: attached"
during=$(nprogs "$spid")
wait $spid
[ "$during" -gt 0 ] && ok "stat --own loads its own programs ($during)" ||
	nok "stat --own loads its own programs ($during)"
expect "stat --own JSON: no shared pid" "$(jq -r .shared_from_pid "$out")" null

# exporter_briefly PORT: another exporter for 2 s, its stderr in $out2
exporter_briefly() {
	local p2

	./iommutrace export -f --web.listen-address "127.0.0.1:$1" 2>"$out2" &
	p2=$!
	sleep 2
	kill -TERM $p2
	wait $p2
}

# a second exporter does not take over the pins
out2=$(mktemp)
exporter_briefly $((PORT + 1))
grep -q "not sharing the maps with other sessions: iommutrace (pid $EXP_PID) already shares" "$out2" &&
	ok "a second exporter leaves the first one's pins" || nok "second exporter: $(cat "$out2")"
[ -e "$PIN/dev_stats" ] && ok "pins still there after the second exporter exits" ||
	nok "pins still there after the second exporter exits"

exp_stop
expect "exporter: exit 0 on SIGTERM" $? 0
[ -e "$PIN" ] && nok "a clean exit removes $PIN" || ok "a clean exit removes $PIN"

# --lossless: the twins' slots go with their main programs, twin_served is
# read from the pins, and stat beside it says the daemon runs twins
exp_start "$PORT" -f -i 0.5 --lossless || nok "exporter --lossless starts"
expect "exporter --lossless publishes twin slots (the tracepoints')" "$(twin_slots)" 2
./iommutrace stat -f -j -- true >"$out" 2>"$out.err"
expect "stat beside a --lossless exporter: exit 0" $? 0
expect "stat beside a --lossless exporter: lossless" "$(jq -r .lossless "$out")" true
expect "stat beside a --lossless exporter: twin_served read" "$(jq -r .twin_served "$out")" 0
exp_stop

# killed: its pins stay until the next session finds them stale
exp_start "$PORT" -f -i 0.5 || nok "exporter starts again"
kpid=$EXP_PID
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null
[ -e "$PIN/shared_meta" ] && ok "a killed exporter leaves its pins" || nok "a killed exporter leaves its pins"
./iommutrace stat -f -j -- true >"$out" 2>"$out.err"
expect "stat after a killed exporter: exit 0" $? 0
grep -q "removing stale pins in $PIN: their daemon (pid $kpid) is gone" "$out.err" &&
	ok "stat says it removes the stale pins" || nok "stale pins: $(cat "$out.err")"
[ -e "$PIN" ] && nok "stale pins removed" || ok "stale pins removed"
expect "stat after a killed exporter: its own hooks" "$(jq -r .shared_from_pid "$out")" null
# another version's daemon (its meta of another size; a process named
# iommutrace holds its pid): not read, not removed, not taken over
fake=$(mktemp -d)
cp "$(command -v sleep)" "$fake/iommutrace"
"$fake/iommutrace" 30 &
fpid=$!
mkdir -p "$PIN"
bpftool map create "$PIN/shared_meta" type array key 4 value 8 entries 1 name shared_meta
bpftool map update pinned "$PIN/shared_meta" key 0 0 0 0 value \
	$(printf '%08x' "$fpid" | sed 's/\(..\)\(..\)\(..\)\(..\)/0x\4 0x\3 0x\2 0x\1/') 0 0 0 0
./iommutrace stat -f -j -- true >"$out" 2>"$out.err"
expect "stat beside another version's daemon: exit 0" $? 0
grep -q "iommutrace pid $fpid, another version, shares its maps in $PIN: not read" "$out.err" &&
	ok "stat says the daemon is another version's" || nok "another version: $(cat "$out.err")"
expect "stat beside another version's daemon: hooks of its own" "$(jq -r .shared_from_pid "$out")" null
exporter_briefly $((PORT + 2))
grep -q "iommutrace (pid $fpid) already shares" "$out2" &&
	ok "an exporter leaves another version's pins" || nok "exporter beside another version: $(cat "$out2")"
[ -e "$PIN/shared_meta" ] && ok "another version's pins kept" || nok "another version's pins kept"
kill "$fpid"
wait "$fpid" 2>/dev/null
rm -rf "$PIN" "$fake"

rm -f "$out" "$out.err" "$out2" "$EXP_ERR"
[ "$fails" -eq 0 ]
