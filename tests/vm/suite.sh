#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# suite.sh: the VM check suite. For each configuration (kernel, IOMMU,
# mode), boot the guest once and run in it every tests/vm/checks/*.sh whose
# header has a line
#	# configs: intel-lazy intel-strict 7/intel-lazy */*-lazy ...	(or "all")
# naming that configuration. Each word is a shell pattern matched against
# the configuration's name; a 6.1 configuration also answers to "6.1/NAME",
# so "*/intel-lazy" is intel-lazy on every kernel. Each script runs in its
# own /bin/sh with tests/vm/lib.sh sourced first, so one failing script does
# not stop the rest. Prints every "ok"/"not ok" line and how long it all
# took; exits 1 if any check failed or a boot failed (itself a "not ok"
# line), 2 on bad usage.
#
#   tests/vm/suite.sh [-t SECS] [-k NAME[,NAME...]] [CONFIG...]
#	CONFIG: [KERNEL/]IOMMU-MODE or [KERNEL/]none.
#	KERNEL: 6.1 (the default, written without a prefix), 6.12, 7 (the
#	newest 7.x); see vm.sh --kernel.
#	IOMMU: intel (VT-d legacy mode), amd (AMD-Vi), both on the system's
#	QEMU (7.2); on QEMU 10: intel-sm (scalable mode), intel-flts
#	(scalable mode, first-stage translation), amd10 (AMD-Vi, intremap=off
#	pt=off),
#	virtio (virtio-iommu-pci). MODE: lazy, strict, pt.
#	Default: the full set on 6.1 (intel-lazy intel-strict amd-strict
#	intel-pt none) and the core checks on the other kernels and QEMU 10
#	modes (DEFAULT_CONFIGS below). "all-kernels" stands for those.
#	-t: the limit for one boot's
#	worth of checks (default 120 s plus 200 s per check script); one
#	script may run at most IT_SCRIPT_TIMEOUT seconds (default 600; a
#	guest whose kernel hung cannot enforce it, -t then names the script
#	that was running). -k: only the named check scripts (checks/NAME.sh),
#	e.g. -k harness.
#
# Each config's --out directory is tests/vm/results/CONFIG ($IT_OUT in the
# checks), emptied before the config boots; the checks see IT_CONFIG
# (IOMMU-MODE, as on 6.1), IT_KERNEL (6.1, 6.12, 7), IT_KVER, IT_QEMU
# (QEMU's version) and IT_IOMMU_MODEL (intel, intel-sm, ..., virtio).
# Lines starting with "#" are comments: timings, failure details. After
# the run, tests/vm/results/matrix.md is rebuilt from every config's
# results (tests/vm/matrix.sh; make matrix copies it to docs/matrix.md).

set -u -o pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
# 6.1: every check script. The rest: checks/core.sh (and whatever else
# names them), about 1-2 minutes each under TCG.
DEFAULT_CONFIGS="intel-lazy intel-strict amd-strict intel-pt none
6.12/intel-lazy 6.12/intel-strict 6.12/amd-strict
7/intel-lazy 7/intel-strict 7/amd-strict
6.12/intel-sm-lazy 7/intel-sm-strict 7/intel-flts-lazy
6.12/virtio-lazy 7/virtio-lazy 7/virtio-strict 7/amd10-strict"

# guest_run SCRIPT...: inside the guest, run each check script.
guest_run() {
	local script name rc fails t0 tmo=${IT_SCRIPT_TIMEOUT:-600}

	for script in "$@"; do
		name=${script#"$REPO"/tests/vm/}
		export IT_FAIL_FILE
		IT_FAIL_FILE=$(mktemp /run/it-fails.XXXXXX)
		t0=$EPOCHREALTIME
		echo "# $IT_NAME: $name started"
		timeout -k 5 "$tmo" /bin/sh -c '. "$1"; . "$2"' sh "$VM_DIR/lib.sh" "$script"
		rc=$?
		fails=$(wc -l <"$IT_FAIL_FILE")
		rm -f "$IT_FAIL_FILE"
		if ((rc == 124)); then
			echo "not ok - $IT_NAME: $name timed out after ${tmo}s (IT_SCRIPT_TIMEOUT)"
		elif ((rc != 0 && fails == 0)); then
			echo "not ok - $IT_NAME: $name exited $rc without a failed check"
		fi
		awk -v a="$t0" -v b="$EPOCHREALTIME" -v n="$name" -v c="$IT_NAME" \
			'BEGIN { printf "# %s: %s took %.1fs\n", c, n, b - a }'
	done
}

# config_matches CONFIG WORD...: some WORD (a shell pattern, or "all")
# matches CONFIG or, for a 6.1 config, its "6.1/" spelling.
config_matches() {
	local cfg=$1 w alias=$1

	shift
	[[ $cfg != */* ]] && alias=6.1/$cfg
	for w in "$@"; do
		# shellcheck disable=SC2053
		[[ $w == all || $cfg == $w || $alias == $w ]] && return 0
	done
	return 1
}

# config_scripts CONFIG: the check scripts whose "# configs:" line names it
# (only those in ONLY, a comma-separated list of names, when set).
config_scripts() {
	local f line name
	local -a words

	for f in "$VM_DIR"/checks/*.sh; do
		[[ -e $f ]] || continue
		name=${f##*/}
		[[ -z $ONLY || ,$ONLY, == *",${name%.sh},"* ]] || continue
		line=$(grep -m1 '^# configs:' "$f") || continue
		set -f
		read -ra words <<<"${line#\# configs:}"
		set +f
		config_matches "$1" "${words[@]}" && echo "$f"
	done
}

# config_normalize CONFIG: CONFIG as the suite names it (6.1/X is X).
config_normalize() {
	echo "${1#6.1/}"
}

# config_args CONFIG: vm.sh options for CONFIG, in ARGS.
config_args() {
	local cfg=$1 kernel=6.1 iommu mode

	if [[ $cfg == */* ]]; then
		kernel=${cfg%%/*}
		cfg=${cfg#*/}
	fi
	case $kernel in 6.1 | 6.12 | 7) ;; *) return 1 ;; esac
	if [[ $cfg == none ]]; then
		ARGS=(--kernel "$kernel" --qemu system --iommu none)
		return 0
	fi
	iommu=${cfg%-*}
	mode=${cfg##*-}
	case $mode in strict | lazy | pt) ;; *) return 1 ;; esac
	case $iommu in
	intel | amd) ARGS=(--kernel "$kernel" --qemu system --iommu "$iommu") ;;
	intel-sm | intel-flts | virtio) ARGS=(--kernel "$kernel" --qemu 10 --iommu "$iommu") ;;
	amd10) ARGS=(--kernel "$kernel" --qemu 10 --iommu amd) ;;
	*) return 1 ;;
	esac
	ARGS+=(--mode "$mode")
}

# config_kernels CONFIG...: the vm.sh setup options each config needs, once.
config_setups() {
	local cfg

	for cfg in "$@"; do
		config_args "$cfg"
		echo "${ARGS[1]} ${ARGS[3]}"
	done | sort -u
}

main() {
	local timeout="" cfg scripts rc ok=0 notok=0 t0 tc name limit hung
	local -a configs


	ONLY=""
	while getopts t:k:h opt; do
		case $opt in
		t) timeout=$OPTARG ;;
		k) ONLY=$OPTARG ;;
		*) sed -n '3,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	[[ -z $timeout || $timeout =~ ^[1-9][0-9]*$ ]] || { echo "suite.sh: -t: bad seconds '$timeout'" >&2; exit 2; }
	local want=${*:-$DEFAULT_CONFIGS}
	want=${want//all-kernels/$DEFAULT_CONFIGS}
	read -ra configs <<<"${want//$'\n'/ }"
	for i in "${!configs[@]}"; do
		cfg=$(config_normalize "${configs[i]}")
		configs[i]=$cfg
		config_args "$cfg" ||
			{ echo "suite.sh: unknown config '$cfg' (e.g. intel-lazy, 6.12/intel-strict, 7/virtio-lazy; see suite.sh -h)" >&2; exit 2; }
	done
	for name in ${ONLY//,/ }; do
		[[ -e $VM_DIR/checks/$name.sh ]] ||
			{ echo "suite.sh: -k: no tests/vm/checks/$name.sh" >&2; exit 2; }
	done

	t0=$EPOCHREALTIME
	while read -r kernel qemu; do
		"$VM_DIR/vm.sh" setup --kernel "$kernel" --qemu "$qemu" 2>&1 | sed 's/^/# /' || {
			echo "not ok - suite: vm.sh setup --kernel $kernel --qemu $qemu failed"
			exit 1
		}
	done < <(config_setups "${configs[@]}")
	log=$(mktemp)
	trap 'rm -f "$log"' EXIT
	for cfg in "${configs[@]}"; do
		mapfile -t scripts < <(config_scripts "$cfg")
		if ((${#scripts[@]} == 0)); then
			echo "# $cfg: no check script lists this config"
			continue
		fi
		config_args "$cfg"
		limit=${timeout:-$((120 + 200 * ${#scripts[@]}))}
		tc=$EPOCHREALTIME
		# Fresh, so no check reads an artifact of an earlier run.
		rm -rf "${VM_DIR:?}/results/${cfg:?}"
		mkdir -p "$VM_DIR/results/$cfg"
		# vm.sh's own messages (timings, boot failures) become comments.
		# A guest that never reached the checks (a TCG boot hiccup such as
		# "timer doesn't work through Interrupt-remapped IO-APIC") gets one
		# more boot; a failure once checks ran is never retried.
		for attempt in 1 2; do
			"$VM_DIR/vm.sh" run -v "${ARGS[@]}" --timeout "$limit" \
				--out "$VM_DIR/results/$cfg" -- \
				env IT_SCRIPT_TIMEOUT="${IT_SCRIPT_TIMEOUT:-600}" \
				"$VM_DIR/suite.sh" --guest "${scripts[@]}" 2>&1 |
				sed -u 's/^vm\.sh: /# vm.sh: /' | tee "$log"
			rc=${PIPESTATUS[0]}
			((rc == 125 && attempt == 1)) && ! grep -q '^\(not \)\?ok' "$log" || break
			echo "# $cfg: the guest did not boot; booting once more"
		done
		case $rc in
		0) ;;
		124)
			# The script that started and never reported its time.
			hung=$(awk '/^# .*: .* started$/ { s = $3 } /^# .*: .* took / { s = "" }
				END { print s }' "$log")
			echo "not ok - $cfg: the checks overran ${limit}s (suite.sh -t)${hung:+ in $hung}" |
				tee -a "$log"
			;;
		125) echo "not ok - $cfg: boot failed (see the vm.sh lines above)" | tee -a "$log" ;;
		*) grep -q '^not ok' "$log" ||
			echo "not ok - $cfg: guest runner exited $rc" | tee -a "$log" ;;
		esac
		ok=$((ok + $(grep -c '^ok' "$log")))
		notok=$((notok + $(grep -c '^not ok' "$log")))
		awk -v a="$tc" -v b="$EPOCHREALTIME" -v c="$cfg" \
			'BEGIN { printf "# %s: boot and checks took %.1fs\n", c, b - a }'
		# For the matrix: this config's own tally, and its failures.
		{
			echo "ok=$(grep -c '^ok' "$log")"
			echo "notok=$(grep -c '^not ok' "$log")"
			echo "secs=$(awk -v a="$tc" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"
			echo "scripts=$(printf '%s\n' "${scripts[@]##*/}" | tr '\n' ' ')"
			echo "date=$(date -u '+%Y-%m-%d %H:%M')"
		} >"$VM_DIR/results/$cfg/suite.env"
		grep '^not ok' "$log" >"$VM_DIR/results/$cfg/notok.txt"
	done
	"$VM_DIR/matrix.sh" >"$VM_DIR/results/matrix.md.tmp" 2>/dev/null &&
		mv "$VM_DIR/results/matrix.md.tmp" "$VM_DIR/results/matrix.md" &&
		echo "# suite: the tested matrix is in tests/vm/results/matrix.md"
	awk -v a="$t0" -v b="$EPOCHREALTIME" -v o="$ok" -v n="$notok" \
		'BEGIN { printf "# suite: %d ok, %d not ok in %.1fs (%dm%02ds)\n", o, n, b - a, (b - a) / 60, (b - a) % 60 }'
	((notok == 0))
}

if [[ ${1:-} == --guest ]]; then
	shift
	guest_run "$@"
	exit 0
fi
main "$@"
