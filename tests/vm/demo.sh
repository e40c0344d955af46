#!/usr/bin/env bash
# make demo: boot the QEMU guest (Debian 6.1, emulated Intel VT-d, lazy mode)
# and show iommutrace on live IOMMU traffic, on any machine, IOMMU or not.
# IT_DEMO_IOMMU=amd|intel, IT_DEMO_MODE=strict|lazy choose the platform;
# IT_VM_KERNEL=6.12|7 another kernel (tests/vm/vm.sh --kernel).
set -eu
cd "$(dirname "$0")/../.."
make -s iommutrace
exec tests/vm/vm.sh run --iommu "${IT_DEMO_IOMMU:-intel}" --mode "${IT_DEMO_MODE:-lazy}" \
	--timeout 600 -- '
. tests/vm/lib.sh
banner() { printf "\n\033[1m$ %s\033[0m\n" "$*"; }
banner "iommutrace info        # the platform: units, groups, domain types"
./iommutrace info | head -24
banner "iommutrace probes      # what attaches on this kernel (Debian $IT_KVER in the guest)"
./iommutrace probes | tail -12
banner "iommutrace stat -- <fio 4k randread on nvme + TCP echo over e1000e, 5 s>"
./iommutrace stat -- sh -c ". tests/vm/lib.sh; wl_fio $IT_NVME_BLK 5 >/dev/null &
	wl_tcp_echo $IT_E1000E_IF 5 >/dev/null; wait"
banner "iommutrace hist -o dma_unmap -d nvme -- <fio 3 s>"
./iommutrace hist -o dma_unmap -d nvme -- sh -c ". tests/vm/lib.sh; wl_fio $IT_NVME_BLK 3 >/dev/null"
banner "iommutrace top -b -i 1 -n 3   # (batch mode of the live view)"
(wl_fio "$IT_NVME_BLK" 4 >/dev/null &)
./iommutrace top -b -i 1 -n 3
banner "iommutrace faults --walk -- edu_dma <DMA read to an IOVA nobody mapped>"
./iommutrace faults --walk -- "$IT_PROGS/edu_dma" "$IT_EDU_DEV" read 0x12345000 2 2>/dev/null |
	grep -v "^edu_dma"
'
