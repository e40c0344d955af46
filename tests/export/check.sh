# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# check.sh: result lines of the host exporter tests. Set T_NAME (the prefix
# of every line, e.g. "export tls") and source after lib.sh; $fails counts
# the failures for the test's exit status.
fails=0
ok() { echo "ok - $T_NAME: $1"; }
nok() { echo "not ok - $T_NAME: $1"; fails=$((fails + 1)); }
expect() {	# NAME GOT WANT
	if [ "$2" = "$3" ]; then ok "$1"; else nok "$1"; echo "#   got '$2', want '$3'"; fi
}
