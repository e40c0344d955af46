#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vm.sh: boot a Debian kernel (6.1, 6.12 or the newest 7.x) under QEMU (TCG)
# behind an emulated IOMMU and run one command in it, with the host's / as
# the guest's root.
#
#   tests/vm/vm.sh setup [--kernel SERIES] [--qemu system|10]
#	Fetch the kernel (apt-get download, never installed into /boot),
#	unpack and depmod it, build the busybox initramfs and the guest
#	programs (build/vm-progs/); with --qemu 10, fetch and unpack QEMU 10
#	too. Idempotent; fast when cached.
#
#   tests/vm/vm.sh run [--kernel SERIES] [--qemu system|10]
#		[--iommu intel|intel-sm|intel-flts|amd|virtio|none]
#		[--mode strict|lazy|pt]
#		[--timeout SECS] [--out DIR] [--append "ARGS"] [-v] -- CMD [ARGS...]
#	Boot, run CMD with /bin/sh -c in the repo root (same path as on the
#	host), stream its stdout+stderr to our stdout, power off, and exit
#	with CMD's status: 124 if CMD ran longer than --timeout (default
#	300 s), 125 if the guest did not boot or never ran CMD (the reason
#	goes to stderr). One CMD argument is a shell command line; several
#	are an argv, quoted so that each reaches the guest unchanged.
#	--out DIR: a writable host directory, mounted at the same path in
#	the guest and exported as $IT_OUT. -v: print boot and run times.
#
# Kernels (--kernel, or IT_VM_KERNEL; default 6.1):
#	6.1	bookworm's linux-image-amd64 ABI, through the system's apt
#	6.12	the newest linux-image-6.12.*+deb13-amd64 (trixie)
#	7	the newest linux-image-7.*+deb13-amd64 (trixie-backports), with
#		the linux-base/binary/modules packages it depends on
# The newer ones come through a private apt state in CACHE/apt (its own
# sources.list for trixie, trixie-backports and bookworm-backports on the
# system's mirror, its own lists and archives): the system's apt state is
# never touched. The version is resolved when a series is first fetched;
# the cache then keeps it (CACHE/kver-SERIES) until IT_VM_REFRESH=1.
#
# QEMU (--qemu, or IT_VM_QEMU_VERSION): "system" is the installed
# qemu-system-x86_64 (7.2 on Debian 12); "10" is qemu-system-x86 10.0.x
# from bookworm-backports, unpacked into CACHE/qemu-VERSION (dpkg -x,
# never installed) and run from there with -L for its firmware. IOMMUs:
#	intel		VT-d, legacy mode (intremap=on, caching-mode=off)
#	intel-sm	VT-d scalable mode, second-stage tables (QEMU 10)
#	intel-flts	VT-d scalable mode, first-stage translation (QEMU 10)
#	amd		AMD-Vi; intremap=on on QEMU 7.2; on QEMU 10 intremap=off
#			(on panics 6.1 and 6.12 at boot) and pt=off (with pt=on
#			translated DMA never completes)
#	virtio		virtio-iommu-pci at 00:01.0 (QEMU 10; its driver is a
#			module the initramfs loads before the root's 9p device)
#
# The guest: q35, 2 vCPUs, 1 GiB, TCG (the host's /dev/kvm does not work).
# Its devices sit at the same PCI addresses whatever the IOMMU:
#	00:04.0 nvme (1b36:0010)	00:05.0 virtio-blk (1af4:1042)
#	00:06.0 virtio-net (1af4:1041)	00:07.0 e1000e (8086:10d3)
#	00:08.0 edu (1234:11e8)		00:10.0-00:12.0 virtio-9p root, ctl, out
#	00:01.0 the AMD IOMMU's own function or virtio-iommu-pci
# virtio-net and e1000e each have a TCP echo peer (10.0.2.100:9 and
# 10.0.3.100:9; the guest is .15 on each). The environment CMD sees is
# documented in tests/vm/lib.sh. The kernel, initramfs and per-run
# scratch directories live in .cache/vm (IT_VM_CACHE overrides).
#
# Environment: IT_VM_CACHE (cache directory), IT_VM_KERNEL (series, as
# --kernel), IT_VM_KVER (kernel ABI name, e.g. 6.1.0-56-amd64, instead of
# the cached or apt-resolved one of the series), IT_VM_REFRESH=1 (resolve
# the newest kernel of the series again), IT_VM_QEMU_VERSION (as --qemu),
# IT_VM_BOOT_TIMEOUT (seconds allowed from QEMU start to CMD start,
# default 180), IT_VM_KEEP=1 (keep the run directory with console.log and
# qemu.log), IT_VM_QEMU (the system QEMU binary), IT_VM_ACCEL (QEMU's -accel,
# default tcg,thread=single; see qemu_args).

set -u -o pipefail

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd)
CACHE=${IT_VM_CACHE:-$REPO/.cache/vm}
QEMU=${IT_VM_QEMU:-qemu-system-x86_64}
SERIES=${IT_VM_KERNEL:-6.1}
QEMU_SEL=${IT_VM_QEMU_VERSION:-}
PROGS_OUT=$REPO/build/vm-progs

# Exit statuses of `run` besides CMD's own.
EX_TIMEOUT=124
EX_NOBOOT=125

# DEVICE ADDRESSES. Fixed so checks can name devices; slot 1 is left free
# because QEMU's amd-iommu is itself a PCI function and takes the first
# free slot (it is placed first on the command line, so that is 00:01.0).
SLOT_IOMMU=01
SLOT_NVME=04
SLOT_VBLK=05
SLOT_VNET=06
SLOT_E1000E=07
SLOT_EDU=08
SLOT_9P_ROOT=10
SLOT_9P_CTL=11
SLOT_9P_OUT=12

# Each NIC has its own user-mode network so that traffic to a peer leaves
# through the NIC meant; the peer is a TCP echo (slirp runs `cat` per
# connection) on port 9, the gateway answers ICMP echo.
VNET_NET=10.0.2
E1000E_NET=10.0.3
ECHO_PORT=9

# Modules the initramfs needs to mount the 9p root and the overlay (a
# built-in one is skipped), and those stage 2 loads: the NICs', then the
# disks' and VFIO's. crc64_rocksoft_generic is gone from 7.x: optional.
INITRD_MODULES="virtio_pci 9pnet_virtio 9p overlay"
STAGE2_NET_MODULES="e1000e virtio_net"
STAGE2_DISK_MODULES="nvme virtio_blk vfio_pci vfio_iommu_type1"
STAGE2_OPTIONAL_MODULES="crc64_rocksoft_generic"

# die: setup errors end `setup` with 1, and `run` with 125 (CMD never ran).
die() {
	echo "vm.sh: $*" >&2
	exit "${DIE_STATUS:-1}"
}

note() {
	echo "vm.sh: $*" >&2
}

# sq STRING: STRING single-quoted for any POSIX shell (dash and busybox
# source the files we write; bash's printf %q may emit $'...').
sq() {
	local s=$1
	printf "'%s'" "${s//\'/\'\\\'\'}"
}

# elapsed START [END]: seconds from START to END (default: now), one
# decimal; both are $EPOCHREALTIME values.
elapsed() {
	local a=${1/./} b=${2:-$EPOCHREALTIME} us

	us=$((${b/./} - a))

	printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}

# ---------------------------------------------------------------- setup

# Kernel series the harness knows, and the packages that name their images.
KERNEL_SERIES="6.1 6.12 7"

# kernel_series_check SERIES: 0 if the harness knows SERIES.
kernel_series_check() {
	[[ " $KERNEL_SERIES " == *" $1 "* ]]
}

# apt_mirror: the system's Debian mirror (the first deb URI of its sources
# that is not the security archive), so the newer suites come from the
# same place the system's packages do.
apt_mirror() {
	local m=""

	if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
		m=$(awk '$1 == "URIs:" && $2 !~ /security/ { print $2; exit }' \
			/etc/apt/sources.list.d/debian.sources)
	fi
	if [[ -z $m && -r /etc/apt/sources.list ]]; then
		m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++)
			if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
	fi
	[[ -n $m ]] || die "no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
	echo "$m"
}

# apt_priv CMD ARGS...: apt-get or apt-cache on the private state in
# CACHE/apt, never the system's lists, sources or archives.
apt_priv() {
	local cmd=$1 a=$CACHE/apt

	shift
	"$cmd" -o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache" \
		-o APT::Sandbox::User=root "$@"
}

# apt_priv_ready: write the private sources.list and update its lists,
# once per vm.sh run and at most once a day.
apt_priv_ready() {
	local a=$CACHE/apt m s

	[[ -n ${APT_PRIV_READY:-} ]] && return 0
	command -v apt-get >/dev/null || die "apt-get not found: cannot fetch newer kernels or QEMU"
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
	m=$(apt_mirror) || exit "${DIE_STATUS:-1}"
	for s in trixie trixie-backports bookworm-backports; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $m $s main"
	done >"$a/sources.list.new"
	if ! cmp -s "$a/sources.list.new" "$a/sources.list" ||
		[[ -z $(find "$a/updated" -mmin -1440 2>/dev/null) ]]; then
		mv "$a/sources.list.new" "$a/sources.list"
		note "updating the private apt lists in $a (trixie, trixie-backports, bookworm-backports from $m)"
		apt_priv apt-get -q update >&2 || die "apt-get update of the private lists in $a failed"
		# apt keeps the lists' own dates: our stamp says when we updated.
		touch "$a/updated"
	fi
	rm -f "$a/sources.list.new"
	APT_PRIV_READY=1
}

# kernel_resolve SERIES: print the kernel ABI name to use. A cached kernel
# wins so that runs are reproducible and need no apt lists; IT_VM_KVER
# overrides, IT_VM_REFRESH=1 resolves the newest again.
kernel_resolve() {
	local series=$1 kver f=$CACHE/kver-$1 re

	if [[ -n ${IT_VM_KVER:-} ]]; then
		echo "$IT_VM_KVER"
		return
	fi
	# Before several series, the 6.1 kernel's name was in CACHE/kver.
	[[ $series == 6.1 && ! -s $f && -s $CACHE/kver ]] && f=$CACHE/kver
	if [[ ${IT_VM_REFRESH:-} != 1 && -s $f && -e $CACHE/kernel-$(cat "$f")/.ok ]]; then
		cat "$f"
		return
	fi
	if [[ $series == 6.1 ]]; then
		command -v apt-cache >/dev/null || die "apt-cache not found: cannot resolve the kernel (set IT_VM_KVER)"
		kver=$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *|\?Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' | head -n1)
		[[ -n $kver ]] || die "cannot resolve the kernel from 'apt-cache depends linux-image-amd64' (run apt-get update, or set IT_VM_KVER)"
		echo "$kver"
		return
	fi
	apt_priv_ready
	# The newest patch release of the series the lists still carry.
	re="^linux-image-${series//./\\.}\\.[0-9.]*\\+deb[0-9]*-amd64\$"
	kver=$(apt_priv apt-cache search --names-only "$re" 2>/dev/null |
		awk '{ print $1 }' | sed 's/^linux-image-//' | sort -V | tail -n1)
	[[ -n $kver ]] || die "no linux-image-$series.*-amd64 in the private apt lists ($CACHE/apt)"
	echo "$kver"
}

# kernel_pkgs SERIES KVER: the packages that make up the kernel: the image,
# and on 7.x the base, binary and modules packages the image depends on.
kernel_pkgs() {
	local series=$1 kver=$2

	echo "linux-image-$kver"
	[[ $series == 6.1 ]] && return
	apt_priv apt-cache depends "linux-image-$kver" 2>/dev/null |
		sed -n "s/^ *|\\?Depends: \\(linux-\\(base\\|binary\\|modules\\)-$kver\\)\$/\\1/p"
}

# kernel_fetch SERIES KVER: download and unpack the kernel's packages into
# $CACHE/kernel-KVER, laid out as the 6.1 one: lib/modules/KVER (a link to
# usr/lib on merged-/usr packages) with a modules.dep (the .debs ship
# none), and vmlinuz and config links at the top.
kernel_fetch() {
	local series=$1 kver=$2 kdir=$CACHE/kernel-$2 deb tmp pkg f
	local -a pkgs debs=()

	[[ -e $kdir/.ok ]] && return 0
	command -v depmod >/dev/null || die "depmod not found: install kmod"
	command -v dpkg >/dev/null || die "dpkg not found"
	mkdir -p "$CACHE/dl"
	[[ $series != 6.1 ]] && apt_priv_ready
	mapfile -t pkgs < <(kernel_pkgs "$series" "$kver")
	for pkg in "${pkgs[@]}"; do
		deb=$(ls "$CACHE/dl/${pkg}_"*.deb 2>/dev/null | head -n1)
		if [[ -z $deb ]]; then
			note "downloading $pkg into $CACHE/dl"
			if [[ $series == 6.1 ]]; then
				(cd "$CACHE/dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg") >&2
			else
				(cd "$CACHE/dl" && apt_priv apt-get download -q "$pkg") >&2
			fi || die "apt-get download $pkg failed (apt-get update? network?)"
			deb=$(ls "$CACHE/dl/${pkg}_"*.deb 2>/dev/null | head -n1)
			[[ -n $deb ]] || die "apt-get download left no ${pkg}_*.deb in $CACHE/dl"
		fi
		debs+=("$deb")
	done
	tmp=$kdir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	for deb in "${debs[@]}"; do
		note "unpacking $(basename "$deb")"
		dpkg -x "$deb" "$tmp" || die "dpkg -x $deb failed"
	done
	# Merged /usr: depmod -b and the guest's modprobe look in lib/modules.
	if [[ -d $tmp/usr/lib/modules/$kver && ! -e $tmp/lib ]]; then
		ln -s usr/lib "$tmp/lib"
	fi
	kernel_links "$tmp" "$kver"
	[[ -e $tmp/vmlinuz ]] || die "no vmlinuz for $kver in ${pkgs[*]}"
	depmod -b "$tmp" "$kver" || die "depmod -b $tmp $kver failed"
	rm -rf "$kdir"
	mv "$tmp" "$kdir"
	touch "$kdir/.ok"
}

# kernel_links DIR KVER: DIR/vmlinuz and DIR/config point to where the
# packages put them (boot/ up to 6.12, lib/modules/KVER/ on 7.x). Also
# run on kernels cached before there were several series.
kernel_links() {
	local f

	for f in "boot/vmlinuz-$2" "lib/modules/$2/vmlinuz"; do
		[[ -r $1/$f && ! -e $1/vmlinuz ]] && ln -sfn "$f" "$1/vmlinuz"
	done
	for f in "boot/config-$2" "lib/modules/$2/config"; do
		[[ -r $1/$f && ! -e $1/config ]] && ln -sfn "$f" "$1/config"
	done
	return 0
}

# kernel_has_pvh ELF KDIR: the kernel has a PVH entry point: CONFIG_PVH in
# its config, or without a config the Xen PHYS32_ENTRY note (type 18).
kernel_has_pvh() {
	if [[ -r $2/config ]]; then
		grep -q '^CONFIG_PVH=y' "$2/config"
		return
	fi
	readelf -n "$1" 2>/dev/null | grep -Eq 'XEN_ELFNOTE_PHYS32_ENTRY|type: \(?0x0*12\)?'
}

# kernel_vmlinux KVER: unpack the bzImage's payload into KDIR/vmlinux.
# QEMU boots that ELF through its PVH entry point (CONFIG_PVH): under TCG
# this skips the real-mode setup and the xz/zstd decompression, about
# 3.5 s of every boot. Without PVH or a decompressor we boot the bzImage.
kernel_vmlinux() {
	local kver=$1 kdir=$CACHE/kernel-$1 bz out
	local sects off len magic

	bz=$kdir/vmlinuz
	out=$kdir/vmlinux
	[[ -s $out || -e $kdir/.bzimage-only ]] && return 0
	if [[ -r $kdir/config ]] && ! kernel_has_pvh "" "$kdir"; then
		note "kernel $kver lacks CONFIG_PVH: booting the bzImage (slower)"
		touch "$kdir/.bzimage-only"
		return 0
	fi
	# Boot protocol header: setup_sects at 0x1f1, payload_offset and
	# payload_length (from the protected-mode code) at 0x248 and 0x24c.
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
	len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
	((sects == 0)) && sects=4
	off=$(((sects + 1) * 512 + off))
	magic=$(od -An -tx1 -j "$off" -N4 "$bz" | tr -d ' ')
	case $magic in
	fd377a58) dec=(xz -dc --single-stream) ;;
	1f8b*) dec=(gzip -dc) ;;
	28b52ffd) dec=(zstd -dcq) ;;
	*) dec=() ;;
	esac
	if ((${#dec[@]})) && command -v "${dec[0]}" >/dev/null; then
		tail -c +$((off + 1)) "$bz" | head -c "$len" | "${dec[@]}" >"$out.tmp" 2>/dev/null
		# gzip and zstd complain about the size appended to the payload.
		if [[ $(od -An -tx1 -N4 "$out.tmp" | tr -d ' ') == 7f454c46 ]]; then
			if kernel_has_pvh "$out.tmp" "$kdir"; then
				mv "$out.tmp" "$out"
				return 0
			fi
			rm -f "$out.tmp"
			note "kernel $kver has no PVH entry note: booting the bzImage (slower)"
			touch "$kdir/.bzimage-only"
			return 0
		fi
	fi
	rm -f "$out.tmp"
	note "cannot unpack the payload of $bz (magic $magic): booting the bzImage (slower)"
	touch "$kdir/.bzimage-only"
}

# kmod_resolve KVER OPTIONAL? MODULE...: the module files MODULE needs, in
# load order, as lines "insmod PATH"; nothing for a built-in module (7.x
# builds in several that 6.1 ships as modules). A module that is neither
# is an error, unless OPTIONAL is 1 (then it is left out).
kmod_resolve() {
	local kver=$1 optional=$2 kdir=$CACHE/kernel-$1 m out

	shift 2
	for m in "$@"; do
		if out=$(modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>/dev/null); then
			printf '%s\n' "$out" | awk '$1 == "insmod" { print }'
		elif sed 's/.*\///; s/\.ko.*//; s/-/_/g' "$kdir/lib/modules/$kver/modules.builtin" 2>/dev/null |
			grep -qx "${m//-/_}"; then
			:
		elif [[ $optional != 1 ]]; then
			die "module $m is neither a module nor built in for $kver"
		fi
	done
}

# kmod_present KVER MODULE...: the MODULEs this kernel has (as a module or
# built in), for the guest's stage 2 modprobe.
kmod_present() {
	local kver=$1 kdir=$CACHE/kernel-$1 m list=""

	shift
	for m in "$@"; do
		if modprobe -d "$kdir" -S "$kver" --show-depends "$m" >/dev/null 2>&1; then
			list+="${list:+ }$m"
		fi
	done
	echo "$list"
}

# initramfs_build KVER: busybox, tests/vm/init and the modules that mount
# the root, rebuilt whenever one of those changes. virtio_iommu (a module
# on 6.12 and 7.x, absent on 6.1) is loaded first when the kernel has it:
# behind a virtio-iommu the root's 9p device is not probed before its
# IOMMU's driver is there.
initramfs_build() {
	local kver=$1 kdir=$CACHE/kernel-$1 out=$CACHE/initramfs-$1.cpio.gz
	local bb key tmp m b

	bb=$(command -v busybox) || die "busybox not found: install busybox-static"
	if ldd "$bb" >/dev/null 2>&1; then
		die "$bb is dynamically linked: install busybox-static"
	fi
	key=$(cat "$VM_DIR/init" "$bb" | md5sum | cut -d' ' -f1)-$kver-virtio_iommu,${INITRD_MODULES// /,}
	[[ -e $out && $(cat "$out.key" 2>/dev/null) == "$key" ]] && return 0

	note "building $out"
	tmp=$(mktemp -d "$CACHE/initramfs.XXXXXX")
	mkdir -p "$tmp"/{bin,dev,proc,sys,lower,upper,newroot,modules}
	cp "$bb" "$tmp/bin/busybox"
	ln -s busybox "$tmp/bin/sh"
	cp "$VM_DIR/init" "$tmp/init"
	chmod 755 "$tmp/init"
	# modprobe prints the insmod lines in load order, dependencies
	# first; keep the first occurrence of each module.
	{
		kmod_resolve "$kver" 1 virtio_iommu
		# shellcheck disable=SC2086
		kmod_resolve "$kver" 0 $INITRD_MODULES
	} | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' >"$tmp/modlist" ||
		die "resolving the initramfs modules for $kver failed"
	: >"$tmp/modules/order"
	# busybox insmod reads plain .ko only: 6.12 and 7.x ship .ko.xz.
	while read -r m; do
		b=$(basename "$m")
		case $m in
		*.ko.xz) b=${b%.xz}; xz -dc "$m" >"$tmp/modules/$b" ;;
		*.ko.zst) b=${b%.zst}; zstd -dcq "$m" >"$tmp/modules/$b" ;;
		*.ko.gz) b=${b%.gz}; gzip -dc "$m" >"$tmp/modules/$b" ;;
		*) cp "$m" "$tmp/modules/" ;;
		esac || die "cannot unpack $m into the initramfs"
		echo "$b" >>"$tmp/modules/order"
	done <"$tmp/modlist"
	rm "$tmp/modlist"
	(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp" ||
		die "cpio of the initramfs failed"
	mv "$out.tmp" "$out"
	echo "$key" >"$out.key"
	rm -rf "$tmp"
}

# qemu_fetch: QEMU 10 from bookworm-backports (built against Debian 12's
# libraries), unpacked into CACHE/qemu-VERSION with the firmware it needs.
# Sets QEMU and QEMU_L (its -L options).
qemu_fetch() {
	local ver dir pkg deb sver tmp
	local -a debs=()

	if [[ -e $CACHE/qemu10 && -e $(readlink -f "$CACHE/qemu10")/.ok && ${IT_VM_REFRESH:-} != 1 ]]; then
		dir=$(readlink -f "$CACHE/qemu10")
	else
		apt_priv_ready
		ver=$(apt_priv apt-cache madison qemu-system-x86 2>/dev/null |
			awk -F' *[|] *' '$2 ~ /^1:10\./ && $3 ~ /bookworm-backports/ { print $2 }' |
			sort -V | tail -n1)
		[[ -n $ver ]] || die "no qemu-system-x86 10.x in bookworm-backports (private apt lists in $CACHE/apt)"
		sver=$(apt_priv apt-cache madison seabios 2>/dev/null |
			awk -F' *[|] *' '$3 ~ /bookworm-backports/ { print $2 }' | sort -V | tail -n1)
		dir=$CACHE/qemu-${ver#*:}
		if [[ ! -e $dir/.ok ]]; then
			mkdir -p "$CACHE/dl"
			for pkg in "qemu-system-x86=$ver" "qemu-system-common=$ver" "qemu-system-data=$ver" \
				"seabios${sver:+=$sver}"; do
				compgen -G "$CACHE/dl/${pkg%%=*}_*${pkg#*=*:}_*.deb" >/dev/null && continue
				note "downloading $pkg into $CACHE/dl"
				(cd "$CACHE/dl" && apt_priv apt-get download -q "$pkg") >&2 ||
					die "apt-get download $pkg failed"
			done
			tmp=$dir.tmp
			rm -rf "$tmp"
			mkdir -p "$tmp"
			# apt-get download spells an epoch "1%3a".
			debs=("$CACHE"/dl/qemu-system-{x86,common,data}_*"${ver#*:}"_*.deb)
			[[ -n $sver ]] && debs+=("$CACHE"/dl/seabios_*"${sver#*:}"_*.deb)
			for deb in "${debs[@]}"; do
				[[ -e $deb ]] || die "missing $deb after download"
				dpkg -x "$deb" "$tmp" || die "dpkg -x $deb failed"
			done
			if ldd "$tmp/usr/bin/qemu-system-x86_64" | grep -q 'not found'; then
				die "QEMU $ver needs libraries this system lacks: $(ldd "$tmp/usr/bin/qemu-system-x86_64" | grep 'not found' | tr '\n' ' ')"
			fi
			rm -rf "$dir"
			mv "$tmp" "$dir"
			touch "$dir/.ok"
		fi
		ln -sfn "$(basename "$dir")" "$CACHE/qemu10"
	fi
	QEMU=$dir/usr/bin/qemu-system-x86_64
	QEMU_L=(-L "$dir/usr/share/qemu" -L "$dir/usr/share/seabios")
}

# qemu_version: "major.minor.patch" of the QEMU in use.
qemu_version() {
	"$QEMU" --version 2>/dev/null | sed -n '1s/^QEMU emulator version \([0-9.]*\).*/\1/p'
}

progs_build() {
	make -s -C "$VM_DIR/progs" OUT="$PROGS_OUT" >&2 ||
		die "building tests/vm/progs failed"
}

# setup: the kernel of SERIES (KVER, KDIR, KIMAGE), the initramfs, the
# guest programs and the QEMU of QEMU_SEL (QEMU, QEMU_L, QEMU_VER).
setup() {
	local kver

	QEMU_L=()
	for t in setpriv cpio gzip flock make cc; do
		command -v "$t" >/dev/null || die "$t not found (see tests/deps.sh)"
	done
	mkdir -p "$CACHE"
	exec 9>"$CACHE/setup.lock"
	flock 9
	if [[ $QEMU_SEL == 10 ]]; then
		qemu_fetch
	else
		command -v "$QEMU" >/dev/null || die "$QEMU not found (see tests/deps.sh)"
	fi
	kver=$(kernel_resolve "$SERIES") || exit "${DIE_STATUS:-1}"
	kernel_fetch "$SERIES" "$kver"
	kernel_links "$CACHE/kernel-$kver" "$kver"
	kernel_vmlinux "$kver"
	echo "$kver" >"$CACHE/kver-$SERIES"
	initramfs_build "$kver"
	progs_build
	# checks/leaks.sh: a test module built against this kernel's headers
	IT_VM_CACHE=$CACHE "$VM_DIR/progs/dmaleak/build.sh" "$kver" ||
		note "dmaleak test module not built for $kver (checks/leaks.sh will fail)"
	exec 9>&-
	KVER=$kver
	KDIR=$CACHE/kernel-$kver
	KIMAGE=$KDIR/vmlinux
	[[ -s $KIMAGE ]] || KIMAGE=$KDIR/vmlinuz
	QEMU_VER=$(qemu_version)
}

# ------------------------------------------------------------------ run

usage() {
	sed -n '3,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit "${1:-$EX_NOBOOT}"
}

usage_error() {
	echo "vm.sh: $*" >&2
	echo "usage: vm.sh run [--kernel 6.1|6.12|7] [--qemu system|10] [--iommu intel|intel-sm|intel-flts|amd|virtio|none] [--mode strict|lazy|pt] [--timeout SECS] [--out DIR] [--append ARGS] [-v] -- CMD [ARGS...]" >&2
	exit $EX_NOBOOT
}

# options_check: --kernel and --qemu (or their IT_VM_ variables) are known.
options_check() {
	kernel_series_check "$SERIES" || usage_error "--kernel: '$SERIES' is not one of $KERNEL_SERIES"
	case ${QEMU_SEL:=system} in
	system | 10) ;;
	*) usage_error "--qemu: '$QEMU_SEL' is not system or 10" ;;
	esac
}

# qemu_args: the QEMU command line for this run, in QARGS.
qemu_args() {
	# no_timer_check: under a loaded TCG host the IO-APIC timer test can
	# fail, and with interrupt remapping that is a panic.
	# cryptomgr.notests: the crypto self-tests cost 0.8 s of TCG time.
	# nvme_core.multipath=N: QEMU 10's nvme reports a multi-controller
	# subsystem; the namespace stays nvme0n1 under its controller.
	local cmdline="console=ttyS0 panic=-1 loglevel=6 no_timer_check cryptomgr.notests=1 nvme_core.multipath=N"

	# thread=single: with one host thread per vCPU (MTTCG), QEMU 7.2 can
	# leave a vCPU running a stale translation of kernel text another vCPU
	# just patched. Attaching or detaching fentry (text_poke) while that
	# function runs then traps the vCPU in an endless int3 with interrupts
	# off, and the patching CPU soft-locks waiting for its IPI: the guest
	# hangs within 1-9 runs of `top -n 2` beside nvme dd. Round-robin TCG
	# has no such window: 0 hangs in 20 runs, each ~15% slower.
	QARGS=(-machine q35,kernel-irqchip=split -accel "${IT_VM_ACCEL:-tcg,thread=single}" -cpu max -smp 2 -m 1G
		-nodefaults -display none -no-reboot "${QEMU_L[@]}")
	# The IOMMU comes first: amd-iommu takes the first free PCI slot.
	case $IOMMU in
	intel)
		QARGS+=(-device intel-iommu,intremap=on,caching-mode=off)
		cmdline+=" intel_iommu=on"
		;;
	intel-sm)
		QARGS+=(-device intel-iommu,intremap=on,caching-mode=off,x-scalable-mode=on)
		cmdline+=" intel_iommu=on,sm_on"
		;;
	intel-flts)
		QARGS+=(-device intel-iommu,intremap=on,caching-mode=off,x-scalable-mode=on,x-flts=on)
		cmdline+=" intel_iommu=on,sm_on"
		;;
	amd)
		# The 6.1 kernel rejects amd_iommu=on; the IVRS table suffices.
		# QEMU 10's interrupt remapping panics 6.1 and 6.12 at boot
		# ("timer doesn't work through Interrupt-remapped IO-APIC"). With
		# its default pt=on, QEMU 10.0.2 drops the DMA of translated
		# devices (nvme's first admin command times out, virtio-net's
		# control queue spins) on 6.1, 6.12 and 7.3; pt=off works.
		if [[ $QEMU_SEL == 10 ]]; then
			QARGS+=(-device amd-iommu,intremap=off,pt=off)
		else
			QARGS+=(-device amd-iommu,intremap=on)
		fi
		;;
	virtio)
		QARGS+=(-device "virtio-iommu-pci,addr=$SLOT_IOMMU.0")
		;;
	esac
	case $IOMMU-$MODE in
	none-*) ;;
	*-strict) cmdline+=" iommu.strict=1" ;;
	*-lazy) cmdline+=" iommu.strict=0" ;;
	*-pt) cmdline+=" iommu=pt" ;;
	esac
	[[ -n $APPEND ]] && cmdline+=" $APPEND"

	QARGS+=(-kernel "$KIMAGE"
		-initrd "$CACHE/initramfs-$KVER.cpio.gz"
		-append "$cmdline"
		# ttyS0: the kernel console, kept in a file; ttyS1: CMD's output.
		-serial "file:$RUN/console.log" -serial stdio

		-drive "if=none,id=nvme0,file=$RUN/nvme.img,format=raw,cache=unsafe"
		-device "nvme,drive=nvme0,serial=itnvme0,addr=$SLOT_NVME.0"
		-drive "if=none,id=vblk0,file=$RUN/vblk.img,format=raw,cache=unsafe"
		-device "virtio-blk-pci,drive=vblk0,iommu_platform=on,disable-legacy=on,addr=$SLOT_VBLK.0"
		-netdev "user,id=vnet0,net=$VNET_NET.0/24,host=$VNET_NET.2,guestfwd=tcp:$VNET_NET.100:$ECHO_PORT-cmd:cat"
		-device "virtio-net-pci,netdev=vnet0,iommu_platform=on,disable-legacy=on,mac=52:54:00:12:34:$SLOT_VNET,addr=$SLOT_VNET.0"
		-netdev "user,id=e1000e0,net=$E1000E_NET.0/24,host=$E1000E_NET.2,guestfwd=tcp:$E1000E_NET.100:$ECHO_PORT-cmd:cat"
		-device "e1000e,netdev=e1000e0,mac=52:54:00:12:34:$SLOT_E1000E,addr=$SLOT_E1000E.0"
		-device "edu,dma_mask=0xffffffffffffffff,addr=$SLOT_EDU.0"

		# 9p shares have no iommu_platform: they add no IOMMU traffic.
		-fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap"
		-device "virtio-9p-pci,fsdev=root,mount_tag=root,addr=$SLOT_9P_ROOT.0"
		-fsdev "local,id=ctl,path=$RUN/ctl,security_model=none"
		-device "virtio-9p-pci,fsdev=ctl,mount_tag=ctl,addr=$SLOT_9P_CTL.0")
	if [[ -n $OUT ]]; then
		QARGS+=(-fsdev "local,id=out,path=$OUT,security_model=none"
			-device "virtio-9p-pci,fsdev=out,mount_tag=out,addr=$SLOT_9P_OUT.0")
	fi
}

# run_config_write: what the guest's init needs, sourced by busybox sh and
# by dash.
run_config_write() {
	{
		echo "IT_REPO=$(sq "$REPO")"
		echo "IT_KVER=$(sq "$KVER")"
		echo "IT_KDIR=$(sq "$KDIR")"
		echo "IT_KERNEL=$(sq "$SERIES")"
		echo "IT_QEMU=$(sq "$QEMU_VER")"
		echo "IT_IOMMU_MODEL=$(sq "$IOMMU")"
		echo "IT_MODS_NET=$(sq "$(kmod_present "$KVER" $STAGE2_NET_MODULES)")"
		echo "IT_MODS_DISK=$(sq "$(kmod_present "$KVER" $STAGE2_OPTIONAL_MODULES $STAGE2_DISK_MODULES)")"
		echo "IT_IOMMU=$(sq "${IOMMU%%-*}")"
		echo "IT_MODE=$(sq "$MODE")"
		echo "IT_CONFIG=$(sq "${CONFIG#*/}")"
		echo "IT_NAME=$(sq "$CONFIG")"
		echo "IT_OUT=$(sq "${OUT:-/run/it-out}")"
		echo "IT_OUT_SHARED=$(sq "${OUT:+1}")"
		echo "IT_TIMEOUT=$(sq "$TIMEOUT")"
		echo "IT_NVME_DEV=0000:00:$SLOT_NVME.0"
		echo "IT_VBLK_DEV=0000:00:$SLOT_VBLK.0"
		echo "IT_VNET_DEV=0000:00:$SLOT_VNET.0"
		echo "IT_E1000E_DEV=0000:00:$SLOT_E1000E.0"
		echo "IT_EDU_DEV=0000:00:$SLOT_EDU.0"
		echo "IT_VNET_NET=$VNET_NET"
		echo "IT_E1000E_NET=$E1000E_NET"
		echo "IT_ECHO_PORT=$ECHO_PORT"
	} >"$RUN/ctl/config"
	printf '%s\n' "$CMDLINE" >"$RUN/ctl/cmd"
}

# boot_failure_reason: the guest init's own words if it left any, else the
# tail of the console and of QEMU's stderr.
boot_failure_reason() {
	local why=$1

	if [[ -s $RUN/ctl/boot-error ]]; then
		why="$(cat "$RUN/ctl/boot-error")"
	elif grep -q 'it-vm: boot failed:' "$RUN/console.log" 2>/dev/null; then
		why=$(grep -m1 'it-vm: boot failed:' "$RUN/console.log" | sed 's/.*it-vm: boot failed: //')
	elif grep -q 'Kernel panic' "$RUN/console.log" 2>/dev/null; then
		why="kernel panic: $(grep -m1 'Kernel panic' "$RUN/console.log" | tr -d '\r')"
	fi
	echo "vm.sh: $CONFIG: guest failed to boot or never ran CMD: $why" >&2
	# Every line says vm.sh, so that suite.sh can tell them from results.
	if [[ -s $RUN/qemu.log ]]; then
		echo "vm.sh: --- QEMU stderr (tail) ---" >&2
		tail -n 15 "$RUN/qemu.log" | sed 's/^/vm.sh:   /' >&2
	fi
	if [[ -s $RUN/console.log ]]; then
		echo "vm.sh: --- guest console (tail) ---" >&2
		tail -n 25 "$RUN/console.log" | tr -d '\r' | sed 's/^/vm.sh:   /' >&2
	fi
	console_keep
}

# console_keep: keep the console of a failed run past the run directory.
console_keep() {
	cp "$RUN/console.log" "$CACHE/console-last-failure.log" 2>/dev/null &&
		echo "vm.sh: full console log: $CACHE/console-last-failure.log" >&2
}

# hang_report: the guest kernel's own account of a hang (soft lockups, the
# NMI backtraces they trigger), as vm.sh lines, and the console kept.
hang_report() {
	if grep -Eq 'soft lockup|hung_task|rcu_sched detected|BUG:' "$RUN/console.log" 2>/dev/null; then
		echo "vm.sh: --- guest console: first lockup report ---" >&2
		tr -d '\r' <"$RUN/console.log" |
			grep -E -m1 -A 40 'soft lockup|hung_task|rcu_sched detected|BUG:' |
			grep -E 'lockup|BUG|RIP:|CPU: |NMI backtrace|^\[ *[0-9.]+\]  [a-z_0-9.]+\+0x' |
			head -n 30 | sed 's/^/vm.sh:   /' >&2
	fi
	console_keep
}

run_cleanup() {
	if [[ -n ${QPID:-} ]] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID" 2>/dev/null
		wait "$QPID" 2>/dev/null
	fi
	if [[ -n ${RUN:-} && -d $RUN ]]; then
		if [[ ${IT_VM_KEEP:-} == 1 ]]; then
			note "kept $RUN"
		else
			rm -rf "$RUN"
		fi
	fi
}

# run_wait: watch QEMU until it exits; kill it if the guest does not start
# CMD within the boot limit or overruns CMD's timeout by far (a hung
# guest: its own `timeout` should have fired). Sets STATUS.
run_wait() {
	local boot_limit=${IT_VM_BOOT_TIMEOUT:-180} t0=$1 started="" killed=""
	local rc now

	while kill -0 "$QPID" 2>/dev/null; do
		now=${EPOCHREALTIME/./}
		if [[ -z $started && -e $RUN/ctl/started ]]; then
			started=$EPOCHREALTIME
		fi
		if [[ -z $started ]] && ((now - ${t0/./} >= boot_limit * 1000000)); then
			killed=boot
			break
		fi
		if [[ -n $started ]] && ((now - ${started/./} >= (TIMEOUT + 30) * 1000000)); then
			killed=hang
			break
		fi
		sleep 0.2
	done
	if [[ -n $killed ]]; then
		kill "$QPID" 2>/dev/null
	fi
	wait "$QPID"
	rc=$?
	QPID=

	T_TOTAL=$(elapsed "$t0")
	[[ -n $started ]] && T_BOOT=$(elapsed "$t0" "$started")
	case $killed in
	boot)
		boot_failure_reason "CMD did not start within ${boot_limit}s (IT_VM_BOOT_TIMEOUT)"
		STATUS=$EX_NOBOOT
		return
		;;
	hang)
		echo "vm.sh: $CONFIG: guest hung: killed ${TIMEOUT}s+30s after CMD started" >&2
		hang_report
		STATUS=$EX_TIMEOUT
		return
		;;
	esac
	if [[ -s $RUN/ctl/rc ]]; then
		STATUS=$(cat "$RUN/ctl/rc")
		if [[ $STATUS == "$EX_TIMEOUT" ]]; then
			echo "vm.sh: $CONFIG: CMD timed out after ${TIMEOUT}s" >&2
		fi
		return
	fi
	if [[ -n $started ]]; then
		echo "vm.sh: $CONFIG: guest stopped while CMD ran (QEMU status $rc)" >&2
		boot_failure_reason "no exit status came back"
		STATUS=$EX_NOBOOT
		return
	fi
	boot_failure_reason "QEMU exited with status $rc before CMD started"
	STATUS=$EX_NOBOOT
}

run() {
	local t0 guest_boot

	IOMMU=intel MODE=lazy TIMEOUT=300 OUT="" APPEND="" VERBOSE=""
	while (($#)); do
		case $1 in
		--kernel) SERIES=${2-}; shift 2 || usage_error "--kernel needs a value" ;;
		--qemu) QEMU_SEL=${2-}; shift 2 || usage_error "--qemu needs a value" ;;
		--iommu) IOMMU=${2-}; shift 2 || usage_error "--iommu needs a value" ;;
		--mode) MODE=${2-}; shift 2 || usage_error "--mode needs a value" ;;
		--timeout) TIMEOUT=${2-}; shift 2 || usage_error "--timeout needs a value" ;;
		--out) OUT=${2-}; shift 2 || usage_error "--out needs a value" ;;
		--append) APPEND=${2-}; shift 2 || usage_error "--append needs a value" ;;
		-v) VERBOSE=1; shift ;;
		-h | --help) usage 0 ;;
		--) shift; break ;;
		*) usage_error "unknown option '$1' (CMD goes after --)" ;;
		esac
	done
	case $IOMMU in
	intel | amd | none) ;;
	intel-sm | intel-flts | virtio) QEMU_SEL=${QEMU_SEL:-10} ;;
	*) usage_error "--iommu: '$IOMMU' is not intel, intel-sm, intel-flts, amd, virtio or none" ;;
	esac
	options_check
	if [[ $QEMU_SEL != 10 ]] && [[ $IOMMU == intel-sm || $IOMMU == intel-flts || $IOMMU == virtio ]]; then
		usage_error "--iommu $IOMMU needs QEMU 10 (--qemu 10)"
	fi
	case $MODE in strict | lazy | pt) ;; *) usage_error "--mode: '$MODE' is not strict, lazy or pt" ;; esac
	[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || usage_error "--timeout: '$TIMEOUT' is not a positive number of seconds"
	(($#)) || usage_error "no CMD given"
	if [[ -n $OUT ]]; then
		mkdir -p "$OUT" || usage_error "--out: cannot create $OUT"
		OUT=$(cd "$OUT" && pwd)
		[[ -w $OUT ]] || usage_error "--out: $OUT is not writable"
	fi
	# The configuration's name, as suite.sh spells it: [SERIES/]IOMMU-MODE,
	# no prefix for 6.1; amd on QEMU 10 is amd10.
	if [[ $IOMMU == none ]]; then
		CONFIG=none MODE=none
	elif [[ $IOMMU == amd && $QEMU_SEL == 10 ]]; then
		CONFIG=amd10-$MODE
	else
		CONFIG=$IOMMU-$MODE
	fi
	[[ $SERIES != 6.1 ]] && CONFIG=$SERIES/$CONFIG
	if (($# == 1)); then
		CMDLINE=$1
	else
		CMDLINE=""
		for a in "$@"; do
			CMDLINE+="${CMDLINE:+ }$(sq "$a")"
		done
	fi

	DIE_STATUS=$EX_NOBOOT
	setup
	RUN=$(mktemp -d "$CACHE/run.XXXXXX") || exit $EX_NOBOOT
	trap run_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mkdir "$RUN/ctl"
	# Sparse: a read of a hole still goes through the device's DMA path.
	truncate -s 1G "$RUN/nvme.img" "$RUN/vblk.img"
	run_config_write
	qemu_args

	t0=$EPOCHREALTIME
	# pdeathsig: a QEMU whose harness was killed (CI's job limit, a
	# SIGKILLed suite) dies with it instead of holding the CPUs.
	setpriv --pdeathsig KILL -- "$QEMU" "${QARGS[@]}" </dev/null 2>"$RUN/qemu.log" &
	QPID=$!
	run_wait "$t0"
	if [[ -n $VERBOSE ]]; then
		guest_boot=$(cat "$RUN/ctl/started" 2>/dev/null || echo "?")
		note "$CONFIG: boot->CMD ${T_BOOT:-?}s wall (guest uptime ${guest_boot}s), total ${T_TOTAL}s, status $STATUS"
	fi
	exit "$STATUS"
}

case ${1:-} in
setup)
	shift
	while (($#)); do
		case $1 in
		--kernel) SERIES=${2-}; shift 2 || usage_error "--kernel needs a value" ;;
		--qemu) QEMU_SEL=${2-}; shift 2 || usage_error "--qemu needs a value" ;;
		*) echo "usage: vm.sh setup [--kernel 6.1|6.12|7] [--qemu system|10]" >&2; exit 2 ;;
		esac
	done
	DIE_STATUS=1
	options_check
	setup
	echo "vm.sh: ready: kernel $KVER in $KDIR, initramfs $CACHE/initramfs-$KVER.cpio.gz, QEMU $QEMU_VER ($QEMU), programs in $PROGS_OUT" >&2
	;;
run)
	shift
	run "$@"
	;;
-h | --help | help)
	usage 0
	;;
*)
	echo "usage: vm.sh setup | vm.sh run [OPTIONS] -- CMD [ARGS...]   (vm.sh --help)" >&2
	exit 2
	;;
esac
