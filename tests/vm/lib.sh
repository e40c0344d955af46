# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh disable=SC3043
#
# lib.sh: helpers for guest-side check scripts (tests/vm/checks/*.sh).
# Source it inside the guest (tests/vm/suite.sh does). POSIX sh plus
# `local` (dash, busybox sh, bash).
#
# ENVIRONMENT (from /run/it-vm.env, written by the guest's init; IT_VM=1):
#   IT_CONFIG       intel-lazy, intel-strict, intel-pt, amd-strict, amd-lazy,
#                   amd-pt or none; on QEMU 10 also intel-sm-*, intel-flts-*,
#                   amd10-*, virtio-* (the IOMMU model and the mode)
#   IT_NAME         the suite's name of the configuration: IT_CONFIG, with
#                   "KERNEL/" in front on kernels other than 6.1 (7/intel-lazy)
#   IT_KERNEL       kernel series: 6.1, 6.12 or 7   IT_KVER  its release
#   IT_QEMU         QEMU's version (7.2.x, 10.0.x)
#   IT_IOMMU        intel, amd, virtio or none (the driver)
#   IT_IOMMU_MODEL  intel, intel-sm, intel-flts, amd, virtio or none
#   IT_MODE         strict, lazy, pt or none
#   IT_OUT          writable directory: the host's --out DIR when given,
#                   else a guest tmpfs directory
#   IT_REPO         the repo root (also the cwd CMD starts in)
#   IT_NVME_DEV     PCI address of the nvme controller   IT_NVME_BLK  /dev/nvme0n1
#   IT_VBLK_DEV     virtio-blk                           IT_VBLK_BLK  /dev/vda
#   IT_VNET_DEV     virtio-net   IT_VNET_IF    its interface   IT_VNET_PEER    echo peer
#   IT_E1000E_DEV   e1000e       IT_E1000E_IF  its interface   IT_E1000E_PEER  echo peer
#   IT_VNET_GW, IT_E1000E_GW   gateways (answer ICMP echo; the peers do not)
#   IT_ECHO_PORT    TCP port of the echo peers (9)
#   IT_EDU_DEV      QEMU's edu device (see build/vm-progs/edu_dma, vfio_map)
#   IT_PROGS        build/vm-progs: edu_dma and vfio_map
#
# CHECKS print one TAP-like line each and count failures:
#   check NAME CMD...          ok if CMD exits 0; on failure CMD's output
#                              follows as "# " lines
#   check_eq NAME GOT WANT     string equality
#   check_le NAME GOT WANT [TOL_PCT]    GOT <= WANT * (1 + TOL_PCT/100)
#   check_ge NAME GOT WANT [TOL_PCT]    GOT >= WANT * (1 - TOL_PCT/100)
#   check_near NAME GOT WANT TOL_PCT    |GOT - WANT| <= WANT * TOL_PCT/100
#   skip NAME WHY              "ok - $IT_NAME: NAME # SKIP WHY" (sparingly)
#   check_done                 exit 1 if any check failed, else 0 (for a
#                              script run on its own; suite.sh needs none)
# Lines read "ok - $IT_NAME: NAME" or "not ok - $IT_NAME: NAME".
# GOT that is not a number fails the numeric checks.
#
# WORKLOADS print "key=value" lines on stdout (their tools' chatter goes to
# stderr) and fail when no traffic got through:
#   wl_nvme_dd COUNT           dd COUNT 4 KiB O_DIRECT reads from $IT_NVME_BLK
#                              -> blocks=COUNT
#   wl_fio DEV SECS            fio 4k randread, O_DIRECT, QD1, psync -> ios=N iops=N
#   wl_tcp_echo IF SECS        TCP stream to IF's echo peer, echoed back
#                              -> bytes=N (received)
#   wl_ping_flood IF COUNT     ping -f IF's gateway -> sent=N received=N
#
# GROUND TRUTH, from the kernel's own counters for one run of CMD (a
# program or any shell function; it may nest another kcount/kfcount):
#   kcount EVENTS -- CMD...    perf stat -x, -a -e EVENTS (comma separated
#                              perf events, e.g. iommu:map,iommu:unmap,
#                              intel_iommu:qi_submit) counting while CMD
#                              runs in this shell: CMD's stdout, then one
#                              "event=count" line per event
#   kfcount "FUNC..." [--dev PCIDEV] -- CMD...
#                              calls of kernel functions during CMD, by
#                              tracefs kprobe events (group it_gt, removed
#                              afterwards) counted with perf: CMD's stdout
#                              (CMD runs in a subshell), then "FUNC=count"
#                              lines. --dev counts only calls whose first
#                              argument is the struct device * of PCIDEV:
#                              per-device truth for the dma-iommu entry
#                              points (iommu_dma_map_page, iommu_dma_unmap_page,
#                              iommu_dma_map_sg, __iommu_dma_map, ...)
#   kv KEY TEXT                the value of the last "KEY=value" in TEXT
#   kfunc_traceable FUNC       FUNC can take a kprobe (ftrace lists it)
#   kfunc_first FUNC...        the first FUNC that can, e.g. the DMA API's
#                              map entry: iommu_dma_map_page (6.1, 6.12),
#                              iommu_dma_map_phys (7.x)
# Both return CMD's exit status, or 2 when counting failed (unknown event
# or function: the message says which). Each costs about 1.5 s of perf
# start-up under TCG, outside the counted window.
# Example:
#   out=$(kcount iommu:map,iommu:unmap -- wl_nvme_dd 1000)
#   check_eq "dd 1000 maps" "$(kv iommu:map "$out")" 1000
# (one 4 KiB O_DIRECT nvme read is one dma_map_page: one iommu:map).
#
# kcount counts system-wide: anything else doing DMA at the same time
# counts too. An idle guest does none: the 9p shares bypass the IOMMU and
# IPv6 is off. Counts seen in translating configs (checks/harness.sh holds
# them): nvme dd N blocks -> N iommu:map, N unmaps, and under intel-strict
# N intel_iommu:qi_submit (lazy: a few per second); virtio-blk fio: 4 maps
# per I/O; ping -f: 2 maps per packet; vfio_map N -> N+1 maps and N+2
# unmaps on Intel, N+1 on AMD (type1 probes each new domain with one 8 KiB
# map); iommu=pt and no IOMMU: 0.

[ -r /run/it-vm.env ] && . /run/it-vm.env
IT_PROGS=${IT_REPO:-.}/build/vm-progs
IT_FAILS=0

# it_fail_note: suite.sh's runner learns of failures through this file.
it_fail_note() {
	IT_FAILS=$((IT_FAILS + 1))
	[ -n "${IT_FAIL_FILE:-}" ] && echo x >>"$IT_FAIL_FILE"
	return 0
}

it_ok() {
	echo "ok - ${IT_NAME:-${IT_CONFIG:-host}}: $1"
}

it_not_ok() {
	echo "not ok - ${IT_NAME:-${IT_CONFIG:-host}}: $1"
	it_fail_note
}

# it_comment TEXT: TEXT as "# " lines under a result.
it_comment() {
	printf '%s\n' "$1" | sed 's/^/#   /'
}

check() {
	local name out rc

	name=$1
	shift
	if out=$("$@" 2>&1); then
		it_ok "$name"
	else
		rc=$?
		it_not_ok "$name"
		it_comment "$* exited $rc"
		[ -n "$out" ] && it_comment "$(printf '%s\n' "$out" | tail -n 20)"
	fi
	return 0
}

check_eq() {
	if [ "$2" = "$3" ]; then
		it_ok "$1"
	else
		it_not_ok "$1"
		it_comment "got '$2', want '$3'"
	fi
}

# Helpers avoid exec where they can: under TCG each costs about 0.1 s.
it_is_number() {
	case $1 in
	'' | - | *[!0-9.-]* | ?*-* | *.*.* | .* | -.* | *.) return 1 ;;
	esac
	return 0
}

# it_cmp NAME GOT WANT TOL OP: OP is le, ge or near.
it_cmp() {
	if ! it_is_number "$2" || ! it_is_number "$3" || ! it_is_number "$4"; then
		it_not_ok "$1"
		it_comment "not a number: got '$2', want '$3', tolerance '$4'"
		return 0
	fi
	if it_cmp_true "$2" "$3" "$4" "$5"; then
		it_ok "$1"
	else
		it_not_ok "$1"
		case $5 in
		le) it_comment "got $2, want <= $3 (+$4%)" ;;
		ge) it_comment "got $2, want >= $3 (-$4%)" ;;
		near) it_comment "got $2, want $3 +-$4%" ;;
		esac
	fi
}

# it_cmp_true GOT WANT TOL OP: shell arithmetic for integers, awk otherwise.
it_cmp_true() {
	local g w t a d

	case $1$2$3 in
	*.*)
		awk -v g="$1" -v w="$2" -v t="$3" -v op="$4" 'BEGIN {
			a = w < 0 ? -w : w
			if (op == "le") exit !(g <= w + a * t / 100)
			if (op == "ge") exit !(g >= w - a * t / 100)
			d = g - w; if (d < 0) d = -d
			exit !(d <= a * t / 100) }'
		return
		;;
	esac
	g=$(($1 * 100)) w=$(($2 * 100)) t=$3
	a=$(($2 < 0 ? -$2 : $2))
	case $4 in
	le) [ "$g" -le $((w + a * t)) ] ;;
	ge) [ "$g" -ge $((w - a * t)) ] ;;
	*)
		d=$((g - w))
		[ "${d#-}" -le $((a * t)) ]
		;;
	esac
}

check_le() {
	it_cmp "$1" "$2" "$3" "${4:-0}" le
}

check_ge() {
	it_cmp "$1" "$2" "$3" "${4:-0}" ge
}

check_near() {
	it_cmp "$1" "$2" "$3" "${4:-0}" near
}

skip() {
	echo "ok - ${IT_NAME:-${IT_CONFIG:-host}}: $1 # SKIP $2"
}

check_done() {
	[ "$IT_FAILS" -eq 0 ]
	exit $?
}

kv() {
	local line val=""

	while IFS= read -r line; do
		case $line in
		"$1="*) val=${line#"$1="} ;;
		esac
	done <<EOF
$2
EOF
	printf '%s\n' "$val"
}

# ------------------------------------------------------------ workloads

it_err() {
	echo "lib.sh: $*" >&2
	return 1
}

wl_nvme_dd() {
	[ -b "${IT_NVME_BLK:-}" ] || { it_err "wl_nvme_dd: no IT_NVME_BLK"; return 2; }
	dd if="$IT_NVME_BLK" of=/dev/null iflag=direct bs=4k count="$1" status=none ||
		return 1
	echo "blocks=$1"
}

wl_fio() {
	local t

	[ $# -eq 2 ] || { it_err "usage: wl_fio DEV SECS"; return 2; }
	t=$(fio --name=it --filename="$1" --rw=randread --bs=4k --direct=1 \
		--ioengine=psync --iodepth=1 --time_based --runtime="$2" \
		--output-format=terse --terse-version=3 2>&1) ||
		{ it_err "fio failed: $t"; return 1; }
	# Terse v3: field 6 is KiB read, 8 read IOPS.
	printf '%s\n' "$t" | awk -F';' '$1 == "3" {
		printf "ios=%d\niops=%d\n", $6 / 4, $8; found = 1 }
		END { exit !found }' || { it_err "fio: no terse line in: $t"; return 1; }
	[ "$(printf '%s\n' "$t" | awk -F';' '$1 == "3" { print $6 }')" -gt 0 ]
}

# it_peer IF: the echo peer and gateway of IF, in PEER and GW.
it_peer() {
	if [ "$1" = "${IT_VNET_IF:-}" ]; then
		PEER=$IT_VNET_PEER GW=$IT_VNET_GW
	elif [ "$1" = "${IT_E1000E_IF:-}" ]; then
		PEER=$IT_E1000E_PEER GW=$IT_E1000E_GW
	else
		it_err "'$1' is neither IT_VNET_IF ($IT_VNET_IF) nor IT_E1000E_IF ($IT_E1000E_IF)"
		return 2
	fi
}

wl_tcp_echo() {
	local n

	[ $# -eq 2 ] || { it_err "usage: wl_tcp_echo IF SECS"; return 2; }
	it_peer "$1" || return 2
	# nc sends zeros for SECS seconds; slirp's cat sends them back.
	n=$(timeout "$2" nc -n "$PEER" "${IT_ECHO_PORT:-9}" </dev/zero | wc -c)
	echo "bytes=$n"
	[ "$n" -gt 0 ] || it_err "wl_tcp_echo: nothing came back from $PEER"
}

wl_ping_flood() {
	local t

	[ $# -eq 2 ] || { it_err "usage: wl_ping_flood IF COUNT"; return 2; }
	it_peer "$1" || return 2
	t=$(ping -n -q -f -I "$1" -c "$2" -w 60 "$GW" 2>&1)
	printf '%s\n' "$t" | sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/sent=\1\nreceived=\2/p'
	printf '%s\n' "$t" | grep -q ' [1-9][0-9]* received' ||
		it_err "wl_ping_flood: no reply from $GW: $t"
}

# ---------------------------------------------------------- ground truth

# it_perf_count PERF-ARGS -- CMD...: count PERF-ARGS (a string of shell
# words: -e and --filter options) system-wide while CMD runs in this shell,
# so CMD can be a function of the calling script. perf's workload is a
# gate: a sh that says "go" once perf counts and exits when released after
# CMD. A perf that fails says "exit N" on the same FIFO instead, so nothing
# waits on a dead perf. perf's own start-up (about 1 s under TCG) and exit
# are outside the counted window; the gate does no DMA.
it_perf_count() {
	local pargs d rc st

	pargs=$1
	shift 2
	d=$(mktemp -d /run/it-perf.XXXXXX) || return 2
	mkfifo "$d/ready" "$d/release" || { rm -rf "$d"; return 2; }
	eval "it_perf_gate \"\$d\" $pargs" >/dev/null &
	read -r st <"$d/ready"
	if [ "$st" != go ]; then
		it_err "perf stat$pargs failed ($st): $(head -n 4 "$d/err")"
		rm -rf "$d"
		return 2
	fi
	"$@"
	rc=$?
	echo >"$d/release"
	read -r st <"$d/ready"
	if [ "$st" != "exit 0" ]; then
		it_err "perf stat$pargs ended with $st: $(head -n 4 "$d/err")"
		rc=2
	fi
	# perf -x, lines: count,unit,event,...; "<not counted>" when idle.
	awk -F, '!/^#/ && NF >= 3 && $3 != "" {
		c = $1; if (c !~ /^[0-9]+$/) c = 0; print $3 "=" c }' "$d/out"
	rm -rf "$d"
	return $rc
}

# it_perf_gate DIR PERF-ARGS...: the background half of it_perf_count.
it_perf_gate() {
	local d

	d=$1
	shift
	perf stat -x, -a "$@" -o "$d/out" -- \
		/bin/sh -c 'echo go >"$1" && read -r x <"$2"' sh "$d/ready" "$d/release" \
		2>"$d/err"
	echo "exit $?" >"$d/ready"
}

kcount() {
	local ev e ifs

	[ $# -ge 3 ] && [ "$2" = -- ] || { it_err "usage: kcount EVENTS -- CMD..."; return 2; }
	ev=$1
	shift
	# A misspelt tracepoint fails here rather than after a second of perf.
	ifs=$IFS
	IFS=,
	for e in $ev; do
		case $e in
		*[!A-Za-z0-9_:]* | *:*:*) ;;
		*:*)
			# Only for known groups: "cycles:u" is no tracepoint.
			[ -d "/sys/kernel/tracing/events/${e%%:*}" ] || continue
			[ -d "/sys/kernel/tracing/events/${e%%:*}/${e#*:}" ] ||
				{ IFS=$ifs; it_err "kcount: no tracepoint $e"; return 2; }
			;;
		esac
	done
	IFS=$ifs
	it_perf_count "-e $(it_sq "$ev")" "$@"
}

# kfcount "FUNC..." [--dev PCIDEV] -- CMD...
kfcount() {
	local funcs dev kp pargs map f e out rc fetch

	funcs=$1
	shift
	dev=""
	if [ "${1:-}" = --dev ]; then
		[ -n "${2:-}" ] || { it_err "kfcount: --dev needs a PCI address"; return 2; }
		dev=$2
		shift 2
	fi
	[ "${1:-}" = -- ] && [ $# -ge 2 ] ||
		{ it_err "usage: kfcount \"FUNC...\" [--dev PCIDEV] -- CMD..."; return 2; }
	shift
	kp=/sys/kernel/tracing/kprobe_events
	[ -w "$kp" ] || { it_err "kfcount: $kp not writable (tracefs not mounted?)"; return 2; }
	# dev_name(dev): struct device starts with its kobject, which starts
	# with the name pointer.
	fetch=""
	[ -n "$dev" ] && fetch=" dev=+0(+0(%di)):string"
	pargs=""
	map=""
	# Event names unique to this call, so that kfcounts can nest.
	IT_KF_SEQ=$((${IT_KF_SEQ:-0} + 1))
	for f in $funcs; do
		# Event names allow [A-Za-z0-9_]: ".constprop.0" -> "_constprop_0".
		case $f in
		*[!A-Za-z0-9_]*) e=$(printf '%s' "$f" | tr -c 'A-Za-z0-9_' '_') ;;
		*) e=$f ;;
		esac
		e=${e}_$$_$IT_KF_SEQ
		echo "-:it_gt/$e" >>"$kp" 2>/dev/null
		if ! echo "p:it_gt/$e $f$fetch" >>"$kp" 2>/dev/null; then
			it_kprobes_clear "$map"
			it_err "kfcount: cannot kprobe '$f' (not in /proc/kallsyms, inlined or notrace?)"
			return 2
		fi
		map="$map $e:$f"
		pargs="$pargs -e it_gt:$e"
		[ -n "$dev" ] && pargs="$pargs --filter $(it_sq "dev == \"$dev\"")"
	done
	out=$(it_perf_count "$pargs" -- "$@")
	rc=$?
	it_kprobes_clear "$map"
	printf '%s\n' "$out" | while IFS= read -r l; do
		case $l in
		it_gt:*=*)
			e=${l#it_gt:}
			e=${e%%=*}
			for m in $map; do
				[ "${m%%:*}" = "$e" ] && echo "${m#*:}=${l##*=}"
			done
			;;
		*) printf '%s\n' "$l" ;;
		esac
	done
	return $rc
}

kfunc_traceable() {
	awk -v f="$1" '$1 == f { found = 1; exit } END { exit !found }' \
		/sys/kernel/tracing/available_filter_functions
}

kfunc_first() {
	local f

	for f in "$@"; do
		kfunc_traceable "$f" && { echo "$f"; return 0; }
	done
	return 1
}

it_kprobes_clear() {
	local m

	for m in $1; do
		echo "-:it_gt/${m%%:*}" >>/sys/kernel/tracing/kprobe_events 2>/dev/null
	done
	return 0
}

# it_sq STRING: STRING single-quoted for eval.
it_sq() {
	case $1 in
	*"'"*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf "'%s'" "$1" ;;
	esac
}
