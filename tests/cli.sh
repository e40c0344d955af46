#!/usr/bin/env bash
# Command-line behaviour on this machine: options, exit codes, messages, JSON.
# Needs root for the tracing commands (they load BPF); prints ok/not ok lines.
set -u
cd "$(dirname "$0")/.."
bin=./iommutrace
fail=0

ok() { echo "ok - cli: $1"; }
nok() { echo "not ok - cli: $1"; fail=1; }

# expect_rc NAME WANT CMD...: exit status and a non-empty message on stderr for errors
expect_rc() {
	local name=$1 want=$2 rc err
	shift 2
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -eq "$want" ] && { [ "$want" -eq 0 ] || [ -n "$err" ]; }; then
		ok "$name (exit $rc)"
	else
		nok "$name: exit $rc, want $want; stderr: $err"
	fi
}

expect_rc "no command is a usage error" 2 $bin
expect_rc "unknown command" 2 $bin frobnicate
expect_rc "unknown global option" 2 $bin --bogus stat
expect_rc "unknown stat option" 2 $bin stat --bogus
expect_rc "bad interval" 2 $bin stat -i abc
expect_rc "negative interval" 2 $bin stat -i -1
expect_rc "zero count" 2 $bin stat -c 0
expect_rc "bad sample rate" 2 $bin stat -S 0
expect_rc "argument without --" 2 $bin stat sleep 1
expect_rc "unknown histogram" 2 $bin hist -o nope
expect_rc "unknown device" 2 $bin stat -f -d 0000:ff:1f.7 -- true
expect_rc "info unknown option" 2 $bin info --bogus
expect_rc "info malformed table" 8 $bin info --acpi tests/fixtures/acpi/bad-scope-odd.dmar
expect_rc "faults unknown option" 2 $bin faults --bogus
expect_rc "leaks: bad interval" 2 $bin leaks x
expect_rc "leaks: zero count" 2 $bin leaks 1 0
expect_rc "leaks: a third number" 2 $bin leaks 1 2 3
expect_rc "leaks: bad --min-age" 2 $bin leaks --min-age -1
expect_rc "leaks: nothing after --" 2 $bin leaks --
expect_rc "leaks help" 0 $bin leaks -h
expect_rc "help" 0 $bin --help
expect_rc "stat help" 0 $bin stat -h
$bin --help | grep -q "5 no IOMMU translating" && ok "help documents exit codes" ||
	nok "help lacks exit codes"

if [ "$(id -u)" -ne 0 ]; then
	echo "ok - cli: tracing checks # SKIP not root"
	exit $fail
fi

# privileges: an unprivileged user gets exit 3 and says why
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	expect_rc "unprivileged user" 3 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps=-all $bin stat -f -- true
fi

if [ ! -d /sys/class/iommu ] || [ -z "$(ls /sys/class/iommu 2>/dev/null)" ]; then
	# this host translates nothing: say so and exit 5 unless -f
	out=$($bin stat -- true 2>&1)
	rc=$?
	[ "$rc" -eq 5 ] && echo "$out" | grep -q "no IOMMU present" &&
		ok "no IOMMU: plain message and exit 5" || nok "no IOMMU: exit $rc: $out"
fi

# -f runs anyway; the command's exit status is passed through
$bin stat -f -- sh -c 'exit 7' >/dev/null 2>&1
rc=$?
[ "$rc" -eq 7 ] && ok "exit status of the traced command" || nok "command status: $rc"
expect_rc "command not found: 127" 127 $bin stat -f -- /nonexistent/cmd

json=$($bin stat -f -j -- true 2>/dev/null)
if echo "$json" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
t = d["totals"]
assert all(k in t["map"] for k in ("count", "bytes"))
assert "count" in t["unmap"] and "count" in t["flush"]
assert isinstance(d["lost"], int) and isinstance(d["devices"], list)
'; then ok "stat -j: one JSON document with totals, lost, devices"; else nok "stat -j: $json"; fi

# interval mode: -c stops it, each interval and the summary are JSON documents
n=$($bin stat -f -j -i 0.2 -c 2 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for line in sys.stdin if json.loads(line)))')
[ "$n" = 3 ] && ok "stat -i -c 2: two intervals and a summary" || nok "stat -i -c 2: $n documents"

# SIGTERM prints the final summary and exits 0
$bin stat -f > /tmp/it-cli-term.$$ 2>&1 &
pid=$!
# attached once it has said why there are no hardware counters (a loaded
# machine takes seconds to load the BPF side)
for _ in $(seq 100); do
	grep -q "PMU" /tmp/it-cli-term.$$ && break
	sleep 0.2
done
kill -TERM $pid
wait $pid
rc=$?
grep -q "^total" /tmp/it-cli-term.$$ && [ "$rc" -eq 0 ] && ok "SIGTERM: summary and exit 0" ||
	nok "SIGTERM: exit $rc, output: $(cat /tmp/it-cli-term.$$)"
rm -f /tmp/it-cli-term.$$

out=$($bin probes 2>&1)
echo "$out" | grep -Eq "^map +map events +(tp_btf|raw_tp|tracepoint) +iommu:map" &&
	ok "probes lists iommu:map as attached" || nok "probes: $out"
echo "$out" | grep -Eq "^lazy flushes +not traceable +fq_flush_iotlb: fq_flush_iotlb not in this kernel" &&
	ok "probes: a role no hook serves says so, with the reason" || nok "probes roles: $out"
$bin probes -j | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert any(p["hook"] == "map" and p["attached"] for p in d["probes"])
assert all(p["attached"] or p["reason"] or p["failure"] for p in d["probes"])
roles = {r["role"]: r for r in d["roles"]}
assert roles["map events"]["traceable"] and roles["map events"]["served_by"].startswith("iommu:map (")
assert not roles["lazy flushes"]["traceable"] and roles["lazy flushes"]["why"]
assert d["mode"] == "lean"
' && ok "probes -j: every unattached hook and untraced role says why" || nok "probes -j"
$bin probes -j --deep | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["mode"] == "deep"
assert not any(p["reason"] == "--deep only" for p in d["probes"])
' && ok "probes --deep: no hook left out for the mode" || nok "probes --deep"

$bin hist -f -o size -- true >/dev/null 2>&1 && ok "hist -o size runs" || nok "hist -o size"
$bin hist -f -o pagesize -- true 2>&1 >/dev/null | grep -q "the pagesize histogram needs --deep: tracing with it" &&
	ok "hist -o pagesize: says it traces with --deep" || nok "hist -o pagesize: --deep note"

# Hardware IOMMU counters. This host has no IOMMU PMU: stat says so once and
# carries on. The swdev fixture describes dmar0 as the software PMU (cpu-clock
# of CPU 0 for lookups, the always-zero dummy event for hits), which runs the
# real perf_event_open/read path: ~1e9 lookups/s, 0 % hits, 1.0 walks busy.
err=$($bin stat -f -i 0.2 -c 2 2>&1 >/dev/null)
[ "$(printf '%s\n' "$err" | grep -c 'no IOMMU PMU on this system')" = 1 ] &&
	ok "stat: no IOMMU PMU said once over 3 reports" || nok "stat no-PMU note: $err"
out=$($bin stat -f --no-pmu -- true 2>&1)
printf '%s\n' "$out" | grep -q 'PMU' && nok "stat --no-pmu still talks of a PMU: $out" ||
	ok "stat --no-pmu: nothing said of counters"
fix=$(dirname "$0")/fixtures/pmu/swdev
# swdev_unit(doc): dmar0's row in one JSON document of a swdev run, checked
swdev_py='
import json, sys
def swdev_unit(d):
    p = d["pmu"]
    assert p["status"] == "ok" and p["message"] == "", p
    u = [r for r in p["units"] if r["unit"] == "dmar0" and r["device"] is None]
    assert len(u) == 1, p["units"]
    f = u[0]["figures"]
    assert 3e8 <= f["lookups_per_s"] <= 1.2e9, f
    assert f["iotlb_hit_pct"] == 0 and f["iotlb_misses_per_s"] == f["lookups_per_s"], f
    assert abs(f["walks_in_flight"] - 1) < 0.01, f
    return u[0]
docs = [json.loads(line) for line in sys.stdin]
'
$bin stat -f -j --pmu-sysfs "$fix" -i 1 -c 1 2>/dev/null | python3 -c "$swdev_py"'
assert len(docs) == 2, len(docs)
for d in docs:
    u = swdev_unit(d)
    f = u["figures"]
    assert f["pt_reads_per_s"] is None, f
    assert u["counts"]["iotlb_hits"] == 0 and u["counts"]["iotlb_lookups"] > 0, u
    assert d["totals"]["pmu"]["iotlb_misses_per_s"] == f["iotlb_misses_per_s"], d["totals"]
' && ok "stat -j --pmu-sysfs swdev: counted cpu-clock as IOTLB lookups, 0 hits" ||
	nok "stat -j --pmu-sysfs swdev"
out=$($bin stat -f --pmu-sysfs "$fix" -- sleep 0.5 2>&1)
printf '%s\n' "$out" | grep -Eq '^DEVICE .* IOTLB% +WALKS/s$' &&
	printf '%s\n' "$out" | grep -Eq '^dmar0 +[0-9]+ +[0-9]+ +0\.00 +[0-9]+ +1\.000 +- +-$' &&
	ok "stat --pmu-sysfs swdev: IOTLB columns and the dmar0 line" || nok "stat table: $out"
expect_rc "--pmu-sysfs without a PMU there is no error" 0 $bin stat -f --pmu-sysfs /nonexistent -- true
# record / report / compare carry the counters (recording format version 2):
# the swdev PMU's cpu-clock reads back at ~1e9 lookups/s, 0 hits, in the
# whole run as in each interval, and compare shows them side by side.
rec=$(mktemp -d)
if $bin record -f --pmu-sysfs "$fix" -o "$rec/a.itr" -i 0.5 -- sleep 2 2>/dev/null &&
	$bin record -f --pmu-sysfs "$fix" -o "$rec/b.itr" -i 0.5 -- sleep 1 2>/dev/null; then
	ok "record --pmu-sysfs swdev: two recordings"
else
	nok "record --pmu-sysfs swdev"
fi
$bin report -a -j "$rec/a.itr" | python3 -c "$swdev_py"'
assert len(docs) >= 4, len(docs)
look = secs = 0
for d in docs:
    u = swdev_unit(d)
    if d is not docs[-1]:
        look += u["counts"]["iotlb_lookups"]
        secs += d["interval_s"]
whole = docs[-1]["pmu"]["units"][0]
# the whole run counts from when tracing began, like its seconds: no more
# than the intervals plus the tail after the last one, at the same rate
assert whole["counts"]["iotlb_lookups"] >= look, (whole, look)
assert abs(whole["figures"]["lookups_per_s"] / (look / secs) - 1) < 0.05, (whole, look, secs)
assert docs[-1]["totals"]["pmu"]["iotlb_misses_per_s"] == whole["figures"]["iotlb_misses_per_s"]
' && ok "report -a -j: PMU units in every interval and the whole run, ~1e9 lookups/s, 0 hits" ||
	nok "report -a -j of a recording with counters"
# what the recording host could not trace stays "n/a" in the report, with the reason
$bin report -j "$rec/a.itr" | python3 -c '
import json, sys
d = json.load(sys.stdin)
roles = {r["role"]: r for r in d["roles"]}
assert roles["lazy flushes"]["state"] == "not traceable" and roles["lazy flushes"]["why"], roles
assert d["totals"]["fq_flush"]["traced"] is False and d["totals"]["fq_flush"]["count"] is None
assert d["totals"]["map"]["traced"] is True and d["totals"]["map"]["count"] == 0
' && ok "report -j: roles from the recording; untraced ops null, traced ones counted" ||
	nok "report -j roles"
$bin report "$rec/a.itr" | grep -q "^lazy flushes: not traceable on this kernel (" &&
	ok "report: names the roles the recording host could not trace" || nok "report roles line"
out=$($bin report "$rec/a.itr")
printf '%s\n' "$out" | grep -Eq '^dmar0 +[0-9]+ +[0-9]+ +0\.00 +[0-9]+ +1\.000 +- +-$' &&
	ok "report: the IOMMU-PMU block" || nok "report table: $out"
$bin compare -j "$rec/a.itr" "$rec/b.itr" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["pmu"] is True and d["a"]["pmu_status"] == "ok", d
t = [x for x in d["devices"] if x["device"] == "total"][0]
for k in "ab":
    assert 3e8 <= t[k]["iotlb_misses_per_sec"] <= 1.2e9 and t[k]["iotlb_hit_pct"] == 0, t
assert abs(t["ratio_b_a"]["iotlb_misses_per_sec"] - 1) < 0.1, t["ratio_b_a"]
assert abs(t["ratio_b_a"]["walks_in_flight"] - 1) < 0.01, t["ratio_b_a"]
' && ok "compare -j: IOTLB misses/s of both, B/A ~1" || nok "compare -j with counters"
out=$($bin compare "$rec/a.itr" "$rec/b.itr")
printf '%s\n' "$out" | grep -Eq '^  IOTLB misses/s \(walks\) +[0-9]+ +[0-9]+ +(0\.9[0-9]|1\.[01][0-9])x$' &&
	printf '%s\n' "$out" | grep -Eq '^  IOTLB hit % +0\.0 +0\.0 +-$' &&
	ok "compare: IOTLB rows, ratio ~1" || nok "compare text: $out"
$bin record -f -o "$rec/n.itr" -- true 2>/dev/null
out=$($bin compare "$rec/n.itr" "$rec/n.itr")
[ "$(printf '%s\n' "$out" | grep -c '^IOMMU hardware counters: in neither recording (no IOMMU PMU')" = 1 ] &&
	! printf '%s\n' "$out" | grep -q 'IOTLB' &&
	ok "compare without counters: said once, no IOTLB rows" || nok "compare no-PMU: $out"
# a --lossless recording says so (format version 3), a lean one does not
$bin record -f --lossless -o "$rec/l.itr" -- true 2>/dev/null
[ "$($bin report -j "$rec/l.itr" | jq -s -r '.[-1].lossless')/$($bin report -j "$rec/n.itr" |
	jq -s -r '.[-1].lossless')" = true/false ] &&
	ok "report -j: --lossless kept in the recording" || nok "report -j: lossless not kept"
rm -rf "$rec"

# top in a real terminal (tmux) beside the counters: with swdev the IOTLB%
# and WALKS/s columns and the PMU line with dmar0's figures; 'w' sorts by
# walks; without a PMU the line gives the reason and the columns are hidden.
# Batch top says the reason once on stderr, as stat does.
if command -v tmux >/dev/null; then
	tsock=$(mktemp -u /tmp/it-cli-top.XXXXXX)
	tdir=$(mktemp -d)
	# top_screen NAME REGEX: wait (5 s) for REGEX in the pane, keep the screen
	top_screen() {
		local i
		for i in $(seq 50); do
			tmux -S "$tsock" capture-pane -p -t "$1" >"$tdir/$1.txt"
			grep -Eq "$2" "$tdir/$1.txt" && return 0
			sleep 0.1
		done
		return 1
	}
	tmux -S "$tsock" new-session -d -s pmu -x 200 -y 20 \
		"$bin top -f -a -i 0.5 --pmu-sysfs $fix 2>$tdir/pmu.err; sleep 60"
	if top_screen pmu '^PMU: dmar0 IOTLB hit 0\.0%, [0-9]+ walks/s'; then
		ok "top --pmu-sysfs swdev: PMU line with dmar0's hit % and walks/s"
	else
		nok "top PMU line: $(cat "$tdir/pmu.txt" "$tdir/pmu.err")"
	fi
	walks=$(sed -n 's/^PMU: dmar0 IOTLB hit 0\.0%, \([0-9]*\) walks\/s.*/\1/p' "$tdir/pmu.txt")
	[ "${walks:-0}" -ge 300000000 ] && [ "${walks:-0}" -le 1200000000 ] &&
		ok "top: dmar0 walks/s is the cpu-clock rate ($walks)" ||
		nok "top: dmar0 walks/s $walks"
	grep -Eq '^DEVICE .* FAULTS +IOTLB% +WALKS/s *$' "$tdir/pmu.txt" &&
		ok "top: IOTLB% and WALKS/s columns" || nok "top columns: $(cat "$tdir/pmu.txt")"
	grep -Eq '^Total: .*, IOTLB hit 0\.0%, [0-9]+ walks/s' "$tdir/pmu.txt" &&
		ok "top: totals line has the IOTLB figures" || nok "top totals: $(cat "$tdir/pmu.txt")"
	tmux -S "$tsock" send-keys -t pmu w
	top_screen pmu '^Sort: WALKS/s \(largest first\)' &&
		ok "top: 'w' sorts by WALKS/s" || nok "top 'w': $(cat "$tdir/pmu.txt")"
	tmux -S "$tsock" new-session -d -s nopmu -x 200 -y 20 "$bin top -f -a -i 0.5; sleep 60"
	top_screen nopmu '^PMU: no IOMMU PMU on this system \(' &&
		! grep -q 'IOTLB%' "$tdir/nopmu.txt" &&
		ok "top without a PMU: the reason on the PMU line, no IOTLB columns" ||
		nok "top no-PMU: $(cat "$tdir/nopmu.txt")"
	tmux -S "$tsock" send-keys -t nopmu o
	top_screen nopmu 'no IOMMU hardware counters: IOTLB% is not shown' &&
		grep -q '^Sort: MAPS/s' "$tdir/nopmu.txt" &&
		ok "top without a PMU: 'o' says why and keeps the sort" ||
		nok "top no-PMU 'o': $(cat "$tdir/nopmu.txt")"
	tmux -S "$tsock" kill-server
	rm -rf "$tdir"
else
	nok "top: tmux is not installed (make deps)"
fi
err=$($bin top -f -b -i 0.2 -n 3 2>&1 >/dev/null)
[ "$(printf '%s\n' "$err" | grep -c 'no IOMMU PMU on this system')" = 1 ] &&
	ok "top -b: no IOMMU PMU said once over 3 tables" || nok "top -b no-PMU note: $err"
out=$($bin top -f -b -i 0.3 -n 1 --pmu-sysfs "$fix" 2>/dev/null)
printf '%s\n' "$out" | grep -Eq '^DEVICE .* IOTLB% +WALKS/s$' &&
	printf '%s\n' "$out" | grep -Eq '^dmar0 +[0-9]+ +[0-9]+ +0\.00 ' &&
	ok "top -b --pmu-sysfs swdev: IOTLB columns and the dmar0 line" || nok "top -b table: $out"
# leaks: on a host that translates nothing, -f runs it; the table is there, empty
out=$($bin leaks -f -j -- true 2>/dev/null)
rc=$?
[ "$rc" -eq 0 ] && printf '%s\n' "$out" | tail -n 1 |
	jq -e '.final and .count == 0 and .table.capacity == 65536 and (.older_than_trace | has("unmaps"))' >/dev/null &&
	ok "leaks -f -j -- true: one final document, empty table" || nok "leaks -j: exit $rc: $out"
expect_rc "leaks: unknown device" 2 $bin leaks -f -d 0000:ff:1f.7 -- true
exit $fail
