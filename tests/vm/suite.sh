#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# suite.sh: the VM check suite. For each IOMMU configuration, boot the guest
# once and run in it every tests/vm/checks/*.sh whose header has a line
#	# configs: intel-lazy intel-strict ...	(or "all")
# naming that configuration. Each script runs in its own /bin/sh with
# tests/vm/lib.sh sourced first, so one failing script does not stop the
# rest. Prints every "ok"/"not ok" line; exits 1 if any check failed or a
# boot failed (itself a "not ok" line), 2 on bad usage.
#
#   tests/vm/suite.sh [-t SECS] [-k NAME[,NAME...]] [CONFIG...]
#	CONFIG: intel-lazy intel-strict amd-strict intel-pt none (default:
#	all five), also amd-lazy and amd-pt. -t: the limit for one boot's
#	worth of checks (default 120 s plus 200 s per check script); one
#	script may run at most IT_SCRIPT_TIMEOUT seconds (default 600; a
#	guest whose kernel hung cannot enforce it, -t then names the script
#	that was running). -k: only the named check scripts (checks/NAME.sh),
#	e.g. -k harness.
#
# Each config's --out directory is tests/vm/results/CONFIG ($IT_OUT in the
# checks), emptied before the config boots. Lines starting with "#" are
# comments: timings, failure details.

set -u -o pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
DEFAULT_CONFIGS="intel-lazy intel-strict amd-strict intel-pt none"

# guest_run SCRIPT...: inside the guest, run each check script.
guest_run() {
	local script name rc fails t0 tmo=${IT_SCRIPT_TIMEOUT:-600}

	for script in "$@"; do
		name=${script#"$REPO"/tests/vm/}
		export IT_FAIL_FILE
		IT_FAIL_FILE=$(mktemp /run/it-fails.XXXXXX)
		t0=$EPOCHREALTIME
		echo "# $IT_CONFIG: $name started"
		timeout -k 5 "$tmo" /bin/sh -c '. "$1"; . "$2"' sh "$VM_DIR/lib.sh" "$script"
		rc=$?
		fails=$(wc -l <"$IT_FAIL_FILE")
		rm -f "$IT_FAIL_FILE"
		if ((rc == 124)); then
			echo "not ok - $IT_CONFIG: $name timed out after ${tmo}s (IT_SCRIPT_TIMEOUT)"
		elif ((rc != 0 && fails == 0)); then
			echo "not ok - $IT_CONFIG: $name exited $rc without a failed check"
		fi
		awk -v a="$t0" -v b="$EPOCHREALTIME" -v n="$name" -v c="$IT_CONFIG" \
			'BEGIN { printf "# %s: %s took %.1fs\n", c, n, b - a }'
	done
}

# config_scripts CONFIG: the check scripts whose "# configs:" line names it
# (only those in ONLY, a comma-separated list of names, when set).
config_scripts() {
	local f line name

	for f in "$VM_DIR"/checks/*.sh; do
		[[ -e $f ]] || continue
		name=${f##*/}
		[[ -z $ONLY || ,$ONLY, == *",${name%.sh},"* ]] || continue
		line=$(grep -m1 '^# configs:' "$f") || continue
		line=" ${line#\# configs:} "
		if [[ $line == *" $1 "* || $line == *" all "* ]]; then
			echo "$f"
		fi
	done
}

# config_args CONFIG: vm.sh options for CONFIG, in ARGS.
config_args() {
	case $1 in
	none) ARGS=(--iommu none) ;;
	intel-strict | intel-lazy | intel-pt | amd-strict | amd-lazy | amd-pt)
		ARGS=(--iommu "${1%%-*}" --mode "${1#*-}")
		;;
	*) return 1 ;;
	esac
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
	read -ra configs <<<"${*:-$DEFAULT_CONFIGS}"
	for cfg in "${configs[@]}"; do
		config_args "$cfg" ||
			{ echo "suite.sh: unknown config '$cfg' (e.g. $DEFAULT_CONFIGS)" >&2; exit 2; }
	done
	for name in ${ONLY//,/ }; do
		[[ -e $VM_DIR/checks/$name.sh ]] ||
			{ echo "suite.sh: -k: no tests/vm/checks/$name.sh" >&2; exit 2; }
	done

	"$VM_DIR/vm.sh" setup 2>&1 | sed 's/^/# /' || {
		echo "not ok - suite: vm.sh setup failed"
		exit 1
	}
	t0=$EPOCHREALTIME
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
		rm -rf "${VM_DIR:?}/results/$cfg"
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
	done
	awk -v a="$t0" -v b="$EPOCHREALTIME" -v o="$ok" -v n="$notok" \
		'BEGIN { printf "# suite: %d ok, %d not ok in %.1fs\n", o, n, b - a }'
	((notok == 0))
}

if [[ ${1:-} == --guest ]]; then
	shift
	guest_run "$@"
	exit 0
fi
main "$@"
