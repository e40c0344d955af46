#!/usr/bin/env bash
# Installs the Debian packages needed to build, run and test iommutrace.
set -eu
pkgs=(
	# build
	make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
	libncurses-dev libmicrohttpd-dev libclang-rt-14-dev
	# export --web.config.file: YAML, TLS checks and hashes, bcrypt
	libyaml-dev libgnutls28-dev libcrypt-dev
	# run and test
	linux-perf bpftrace tmux jq curl python3 prometheus util-linux openssl gzip
	# the QEMU guest of tests/vm
	qemu-system-x86 busybox-static kmod pciutils fio iputils-ping netcat-openbsd cpio xz-utils libc6-dev
	# 7.x kernels: a zstd payload (vm.sh unpacks it to boot the ELF by PVH)
	zstd
)
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
# tests/vm fetches the guest kernel with apt-get download: it needs package lists
if ! apt-cache depends linux-image-amd64 2>/dev/null | grep -q 'Depends: linux-image-6'; then
	echo "deps: apt-get update (package lists needed for the guest kernel)"
	$SUDO apt-get update -qq
fi
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#pkgs[@]} packages installed"
	exit 0
fi
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
