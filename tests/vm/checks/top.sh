# configs: intel-lazy
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
#
# `iommutrace top` in the guest, driven like a user would through tmux
# (send-keys, capture-pane): the nvme row shows a map rate while fio reads
# the disk, sort keys and the device filter change the screen, the view
# survives a resize, q and SIGTERM exit 0 and leave the terminal sane (icanon,
# echo), and batch mode prints the stat table with rates. Screens are saved
# in $IT_OUT/top/. Sourced by suite.sh after lib.sh.

top_d=$IT_OUT/top
mkdir -p "$top_d"
# the tmux server's socket: on the guest's tmpfs, not the 9p share
top_sock=/run/it-top.sock
TERM=${TERM:-xterm}
[ "$TERM" = dumb ] && TERM=xterm
export TERM

top_tmux() {
	tmux -S "$top_sock" "$@"
}

# top_screen NAME: the pane's text now, also saved as $top_d/NAME.txt
top_screen() {
	top_tmux capture-pane -p -t "${2:-top}" | tee "$top_d/$1.txt"
}

# top_wait NAME REGEX [SECS]: poll the pane until REGEX shows (1 if never)
top_wait() {
	local i=0

	while [ $i -lt $((${3:-20} * 5)) ]; do
		top_screen "$1" "${4:-top}" | grep -Eq "$2" && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# top_rows SCREEN: the DEVICE column of the table rows, in screen order
top_rows() {
	awk 'seen && ($1 ~ /^[0-9a-f]+:[0-9a-f]+:/ || $1 == "unknown") { print $1 }
		/^DEVICE .*MAPS\/s/ { seen = 1 }' "$top_d/$1.txt"
}

# top_col SCREEN DEVICE N: field N of DEVICE's row
top_col() {
	awk -v d="$2" -v n="$3" '$1 == d { print $n; exit }' "$top_d/$1.txt"
}

# top_sane NAME FILE: after top exited, the pane's `stty -a` has icanon and echo
top_sane() {
	if grep -Eq '(^| )icanon( |$)' "$2" && grep -Eq '(^| )echo( |$)' "$2"; then
		it_ok "$1"
	else
		it_not_ok "$1"
		it_comment "$(grep -E 'icanon|echo' "$2")"
	fi
}

top_tmux kill-server 2>/dev/null
# The pane's shell reports top's status and the tty modes once top is gone.
top_tmux new-session -d -s top -x 160 -y 40 \
	"./iommutrace top -i 1 2>$top_d/stderr.txt; echo TOP-EXIT=\$?; stty -a; echo STTY-DONE; sleep 300"
if ! top_wait start '^Total: ' 30; then
	it_not_ok "top: screen up with a first interval"
	it_comment "$(cat "$top_d/start.txt" "$top_d/stderr.txt")"
fi

# e1000e: a short burst, so a second, idle-now device has a row
wl_ping_flood "$IT_E1000E_IF" 300 >"$top_d/ping.txt" 2>&1
wl_fio "$IT_NVME_BLK" 16 >"$top_d/wl-fio.txt" 2>&1 &
top_fio=$!
top_wait fio "^$IT_NVME_DEV +nvme +[0-9]+ +[A-Za-z-]+ +[1-9]" 10 || true
check_ge "top: nvme row shows a map rate while fio runs" "$(top_col fio "$IT_NVME_DEV" 5)" 1
check_eq "top: nvme row driver" "$(top_col fio "$IT_NVME_DEV" 2)" nvme
check_eq "top: nvme row domain type" "$(top_col fio "$IT_NVME_DEV" 4)" DMA-FQ
check_eq "top: e1000e row (active earlier) present" "$(top_col fio "$IT_E1000E_DEV" 2)" e1000e
check_eq "top: busiest device first by default (sort MAPS/s)" \
	"$(top_rows fio | head -n 1)" "$IT_NVME_DEV"
check_ge "top: header total maps/s" \
	"$(sed -n 's/^Total: \([0-9]*\) maps\/s.*/\1/p' "$top_d/fio.txt")" 1
check "top: header shows the tool's BPF run time (bpf_stats)" \
	grep -Eq 'Overhead: BPF [0-9.]+[mun]?s/s' "$top_d/fio.txt"
check "top: header shows the IOMMU mode" grep -q 'mode lazy' "$top_d/fio.txt"
# QEMU's VT-d has no perfmon: the PMU line says why, no hardware columns
check "top: PMU line gives the reason there are no counters" \
	grep -q '^PMU: no IOMMU PMU on this system (Intel IOMMU dmar0 has no perf counters' \
	"$top_d/fio.txt"
check "top: no IOTLB% column without counters" sh -c "! grep -q 'IOTLB%' '$top_d/fio.txt'"

# sort by name, then reversed: e1000e (a higher address) comes first
top_tmux send-keys -t top n
top_wait sort-name '^Sort: DEVICE \(ascending\)' 5 || true
top_rows sort-name >"$top_d/rows-name.txt"
check "top: 'n' sorts rows by device name" sort -c "$top_d/rows-name.txt"
top_tmux send-keys -t top r
top_wait sort-rev '^Sort: DEVICE \(largest first\)' 5 || true
top_rows sort-rev >"$top_d/rows-rev.txt"
check "top: 'r' reverses the order" sort -r -c "$top_d/rows-rev.txt"
check_eq "top: reversed name order puts e1000e above nvme" \
	"$(grep -n -e "$IT_E1000E_DEV" -e "$IT_NVME_DEV" "$top_d/rows-rev.txt" | head -n 1 |
		cut -d: -f2-)" "$IT_E1000E_DEV"
top_tmux send-keys -t top a
top_wait all 'all devices' 5 || true
top_rows all >"$top_d/rows-all.txt"
# slot 0 (DMA of no known device) exists from the start, idle here
check "top: 'a' lists idle devices too (the unknown slot)" grep -qx unknown "$top_d/rows-all.txt"
top_tmux send-keys -t top a m
top_wait sort-maps '^Sort: MAPS/s \(largest first\)' 5 || true
check_eq "top: 'm' puts the nvme row back on top" "$(top_rows sort-maps | head -n 1)" \
	"$IT_NVME_DEV"

# filter: only e1000e by address, then only nvme by driver
top_tmux send-keys -t top d "$IT_E1000E_DEV" Enter
top_wait filter-e1000e "Filter: $IT_E1000E_DEV" 5 || true
check_eq "top: 'd' filter shows only the chosen device" \
	"$(top_rows filter-e1000e | tr '\n' ' ')" "$IT_E1000E_DEV "
top_tmux send-keys -t top d C-u nvme Enter
top_wait filter-nvme 'Filter: nvme' 5 || true
check_eq "top: filter by driver" "$(top_rows filter-nvme | tr '\n' ' ')" "$IT_NVME_DEV "

# pause freezes the screen
top_tmux send-keys -t top p
top_wait paused '\[PAUSED\]' 5 || true
check "top: 'p' pauses" grep -q '\[PAUSED\]' "$top_d/paused.txt"
sleep 1.5
top_screen paused2 >/dev/null
check "top: paused screen does not change" cmp -s "$top_d/paused.txt" "$top_d/paused2.txt"
top_tmux send-keys -t top p

# resize to 80x24: columns that do not fit are dropped, the rest redrawn
top_tmux resize-window -t top -x 80 -y 24
sleep 1.5
top_screen small >/dev/null
check "top: after a resize to 80x24 the titles keep the key columns" \
	grep -Eq '^DEVICE .*MAPS/s.*INV/s.*FAULTS' "$top_d/small.txt"
check "top: after the resize no header line wraps into the next" \
	awk 'NR == 2 && !/^Total: / { exit 1 } NR == 3 && !/^Lost: / { exit 1 }
		NR == 4 && !/^Sort: / { exit 1 }' "$top_d/small.txt"
check_eq "top: after the resize the nvme row is drawn" "$(top_rows small | head -n 1)" \
	"$IT_NVME_DEV"
top_tmux resize-window -t top -x 160 -y 40

top_tmux send-keys -t top h
# wait for the help's last line: a capture taken while it is drawn has its title only
top_wait help '^  q  *quit' 5 || true
check "top: 'h' shows the help" grep -q '^  q  *quit' "$top_d/help.txt"
top_tmux send-keys -t top Space
sleep 0.5

top_tmux send-keys -t top q
if top_wait quit '^STTY-DONE' 30; then
	check_eq "top: q exits 0" "$(sed -n 's/^TOP-EXIT=//p' "$top_d/quit.txt")" 0
	top_sane "top: terminal sane after q (icanon, echo)" "$top_d/quit.txt"
else
	it_not_ok "top: q exits"
	it_comment "$(cat "$top_d/quit.txt")"
fi

# Ctrl-C (SIGINT from the tty) and SIGTERM: exit 0, terminal restored
top_tmux new-window -t top -n int \
	"./iommutrace top -i 0.2 2>/dev/null; echo TOP-EXIT=\$?; stty -a; echo STTY-DONE; sleep 300"
if top_wait int-up '^Total: ' 30 top:int; then
	top_tmux send-keys -t top:int C-c
	top_wait int '^STTY-DONE' 30 top:int || true
	check_eq "top: Ctrl-C exits 0" "$(sed -n 's/^TOP-EXIT=//p' "$top_d/int.txt")" 0
	top_sane "top: terminal sane after Ctrl-C" "$top_d/int.txt"
else
	it_not_ok "top: second top (for Ctrl-C) came up"
fi
# sh -c ... exec: top keeps the pid written and the pane's tty as stdin
top_tmux new-window -t top -n term \
	"sh -c 'echo \$\$ >$top_d/term.pid; exec ./iommutrace top -i 0.2 2>/dev/null'; echo TOP-EXIT=\$?; stty -a; echo STTY-DONE; sleep 300"
if top_wait term-up '^Total: ' 30 top:term; then
	kill -TERM "$(cat "$top_d/term.pid")"
	top_wait term '^STTY-DONE' 30 top:term || true
	check_eq "top: SIGTERM exits 0" "$(sed -n 's/^TOP-EXIT=//p' "$top_d/term.txt")" 0
	top_sane "top: terminal sane after SIGTERM" "$top_d/term.txt"
else
	it_not_ok "top: third top (for SIGTERM) came up"
fi
top_tmux kill-server
wait "$top_fio"

# batch: not a terminal -> the stat table with rates, once per interval
./iommutrace top -i 1 -n 2 -d nvme >"$top_d/batch.txt" 2>&1 &
top_b=$!
# Two 1 s intervals after attach; 120 dd rounds (a minute or more) mean
# top is stuck, not slow.
top_n=0
while kill -0 "$top_b" 2>/dev/null && [ $top_n -lt 120 ]; do
	wl_nvme_dd 500 >/dev/null
	top_n=$((top_n + 1))
done
if kill -0 "$top_b" 2>/dev/null; then
	kill -KILL "$top_b"
	it_comment "top -n 2 still running after $top_n dd rounds: killed"
fi
wait "$top_b"
check_eq "top: batch exits 0 after -n 2" "$?" 0
check_eq "top: batch prints -n 2 tables" "$(grep -c '^top - ' "$top_d/batch.txt")" 2
check "top: batch nvme row has a rate" \
	grep -Eq "^$IT_NVME_DEV +nvme .* [1-9][0-9]*/s " "$top_d/batch.txt"

# Beside the counters: the swdev fixture makes the software PMU dmar0, with
# the guest's devices linked to it, so top opens real counters for the unit
# and, once nvme does DMA, for nvme's requester id: its row gets IOTLB% 0.0
# and WALKS/s at the CPU clock's rate (~1e9/s in TCG too: it counts time).
top_tmux new-session -d -s pmu -x 180 -y 30 \
	"./iommutrace top -i 1 --pmu-sysfs tests/fixtures/pmu/swdev 2>$top_d/pmu-stderr.txt; sleep 300"
top_n=0
until top_wait pmu "^$IT_NVME_DEV +nvme .* [0-9.]+ +[0-9.]+[kMG]? *\$" 1 pmu ||
	[ $top_n -ge 20 ]; do
	wl_nvme_dd 300 >/dev/null
	top_n=$((top_n + 1))
done
check "top --pmu-sysfs swdev: IOTLB% and WALKS/s columns" \
	grep -Eq '^DEVICE .* FAULTS +IOTLB% +WALKS/s *$' "$top_d/pmu.txt"
check "top --pmu-sysfs swdev: PMU line with dmar0's figures" \
	grep -Eq '^PMU: dmar0 IOTLB hit 0\.0%, [0-9]+ walks/s' "$top_d/pmu.txt"
check_eq "top --pmu-sysfs swdev: nvme row IOTLB% (its own counter)" \
	"$(top_col pmu "$IT_NVME_DEV" 16)" 0.0
# a figure wider than its column is scaled (1.00G), never cut to its first digits
top_walks=$(top_col pmu "$IT_NVME_DEV" 17)
check_ge "top --pmu-sysfs swdev: nvme row WALKS/s at the clock rate ($top_walks)" \
	"$(awk -v x="$top_walks" 'BEGIN { m = 1; s = substr(x, length(x))
		if (s == "k") m = 1e3; else if (s == "M") m = 1e6; else if (s == "G") m = 1e9
		printf "%.0f\n", x * m }')" 300000000
check_eq "top --pmu-sysfs swdev: nothing on stderr" "$(wc -c <"$top_d/pmu-stderr.txt")" 0
top_tmux kill-server
