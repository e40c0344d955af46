#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# build.sh KVER: build the dmaleak test module for the guest kernel KVER
# (e.g. 6.1.0-57-amd64, 6.12.117+deb13-amd64) into
# build/vm-progs/dmaleak-KVER.ko. The kernel's Debian headers
# (linux-headers-KVER, its -common package and the linux-kbuild package it
# depends on) are fetched with apt-get download into CACHE/dl and unpacked
# (dpkg -x, never installed) into CACHE/headers-KVER; newer kernels come
# through vm.sh's private apt state in CACHE/apt (vm.sh setup --kernel
# SERIES prepares it). CACHE is IT_VM_CACHE, or .cache/vm. Idempotent.
set -eu -o pipefail

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$DIR/../../../.." && pwd)
CACHE=${IT_VM_CACHE:-$REPO/.cache/vm}
KVER=${1:?usage: build.sh KVER}
OUT=$REPO/build/vm-progs/dmaleak-$KVER.ko
HDR=$CACHE/headers-$KVER

die() { echo "dmaleak/build.sh: $*" >&2; exit 1; }

# apt CMD ARGS: the system's apt for bookworm's 6.1, else vm.sh's private state
apt() {
	local cmd=$1 a=$CACHE/apt

	shift
	if [[ $KVER == 6.1.* ]]; then
		"$cmd" -o APT::Sandbox::User=root "$@"
	else
		[[ -s $a/sources.list ]] || die "no private apt state in $a: run tests/vm/vm.sh setup --kernel ${KVER%%.*}.. first"
		"$cmd" -o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts=/dev/null \
			-o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache" \
			-o APT::Sandbox::User=root "$@"
	fi
}

[[ -s $OUT && $OUT -nt $DIR/dmaleak.c ]] && exit 0
if [[ ! -e $HDR/.ok ]]; then
	pkgs=("linux-headers-$KVER")
	mapfile -t -O 1 pkgs < <(apt apt-cache depends "linux-headers-$KVER" 2>/dev/null |
		sed -n 's/^ *|\?Depends: \(linux-\(headers-[^ ]*-common\|kbuild-[^ ]*\)\)$/\1/p')
	((${#pkgs[@]} >= 3)) || die "cannot resolve the header packages of $KVER (got: ${pkgs[*]})"
	mkdir -p "$CACHE/dl"
	rm -rf "$HDR.tmp"
	mkdir -p "$HDR.tmp"
	for p in "${pkgs[@]}"; do
		deb=$(ls "$CACHE/dl/${p}_"*.deb 2>/dev/null | head -n1 || true)
		if [[ -z $deb ]]; then
			(cd "$CACHE/dl" && apt apt-get download -q "$p") >&2 || die "apt-get download $p failed"
			deb=$(ls "$CACHE/dl/${p}_"*.deb | head -n1)
		fi
		dpkg -x "$deb" "$HDR.tmp"
	done
	# the arch package's Makefile includes the common one by its installed path
	# (and on 7.x names itself as KBUILD_OUTPUT): point both at the copy
	rm -rf "$HDR"
	mv "$HDR.tmp" "$HDR"
	sed -i -e "s#^include /usr/src/#include $HDR/usr/src/#" \
		-e "s#^KBUILD_OUTPUT=/usr/src/#KBUILD_OUTPUT=$HDR/usr/src/#" \
		"$HDR/usr/src/linux-headers-$KVER/Makefile"
	touch "$HDR/.ok"
fi
B=$CACHE/dmaleak-build-$KVER
K=$HDR/usr/src/linux-headers-$KVER
rm -rf "$B"
mkdir -p "$B" "$(dirname "$OUT")"
cp "$DIR/dmaleak.c" "$DIR/Kbuild" "$B/"
args=()
# The newer kernels were built with a newer gcc than Debian 12's: use the
# one the headers name where installed, else the system's, without the flag
# it lacks (-fmin-function-alignment: kbuild then aligns with -falign-functions).
KCC=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="x86_64-linux-gnu-\(gcc-[0-9]*\).*/\1/p' "$K/.config")
if ! command -v "${KCC:-none}" >/dev/null; then
	KCC=gcc
	args+=(CONFIG_CC_HAS_MIN_FUNCTION_ALIGNMENT=)
fi
# Their kbuild tools (modpost, objtool) want a newer glibc: run them through
# the newer suite's own loader and libc (libc6 unpacked beside the headers).
# objtool must run: it writes the module's ORC unwind tables, without which
# a stack taken inside the module stops there.
if [[ $("$K/scripts/mod/modpost.real-lsb-64" 2>&1) == *"GLIBC_"*"not found"* ]]; then
	if [[ ! -e $HDR/libc/.ok ]]; then
		deb=$(ls "$CACHE/dl/libc6_"*deb13*.deb 2>/dev/null | head -n1 || true)
		if [[ -z $deb ]]; then
			(cd "$CACHE/dl" && apt apt-get download -q libc6/trixie) >&2 || die "apt-get download libc6/trixie failed"
			deb=$(ls "$CACHE/dl/libc6_"*deb13*.deb | head -n1)
		fi
		rm -rf "$HDR/libc"
		dpkg -x "$deb" "$HDR/libc"
		touch "$HDR/libc/.ok"
	fi
	L=$HDR/libc/usr/lib/x86_64-linux-gnu
	for t in modpost:scripts/mod/modpost.real-lsb-64 objtool:tools/objtool/objtool.real-x86; do
		printf '#!/bin/sh\nexec %s --library-path %s:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu %s "$@"\n' \
			"$L/ld-linux-x86-64.so.2" "$L" "$(readlink -f "$K/${t#*:}")" >"$B/${t%%:*}-wrap"
		chmod +x "$B/${t%%:*}-wrap"
	done
	args+=(MODPOST="$B/modpost-wrap" objtool="$B/objtool-wrap")
fi
# Module BTF needs pahole and the kernel's vmlinux: the test needs neither.
command -v pahole >/dev/null || args+=(CONFIG_DEBUG_INFO_BTF_MODULES=)
make -s -C "$K" M="$B" CC="$KCC" "${args[@]}" modules >&2 || die "module build for $KVER failed"
cp "$B/dmaleak.ko" "$OUT"
echo "dmaleak/build.sh: $OUT" >&2
