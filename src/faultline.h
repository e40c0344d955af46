/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one parser of the kernel's IOMMU fault lines (printk text, /dev/kmsg,
 * dmesg): `faults` decodes the lines the BPF console hook captured, `info`
 * counts the ones in the kernel log. The BPF side only recognises that a
 * line is one (bpf/iommutrace.bpf.c text_is_fault); what it means is read here.
 */
#ifndef IT_FAULTLINE_H
#define IT_FAULTLINE_H

#include <stdbool.h>

#include "iommutrace.h"

#define FAULT_LINE_NAME_LEN	64

struct fault_line {
	char kind[32];		/* "DMA Read NO_PASID", "INTR-REMAP", "IO_PAGE_FAULT", ... */
	char device[FAULT_LINE_NAME_LEN]; /* as the line names it: "02:00.0", "0000:00:04.0" */
	bool decoded;		/* ev holds device, address and reason/flags */
	struct it_fault_event ev; /* vendor always; the rest when decoded */
};

/*
 * Intel (drivers/iommu/intel/dmar.c, dmar_fault_do_one; pr_fmt "DMAR: "):
 *   6.1  pr_err  "[DMA Read NO_PASID] Request device [00:03.0] fault addr 0x... [fault reason 0x06] ..."
 *   6.12, 7.0 the same text through pr_info
 *   7.2  "Request device [0000:00:03.0]": the segment too
 *   INTR-REMAP: "... fault index 0x... [fault reason 0x25] ..."
 *   before 4.x: "DMAR:[DMA Read] Request device [..] fault addr 7f000" (no 0x,
 *   the reason on a line of its own): a fault line, not decoded.
 * AMD (drivers/iommu/amd/iommu.c, pr_fmt and dev_fmt "AMD-Vi: "):
 *   pr_err  "AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:00:04.0 domain=0x0007 address=0x... flags=0x0020]"
 *   pci_err "nvme 0000:00:04.0: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x000d address=0x... flags=0x0020]"
 *   and the other events ("Event logged [ILLEGAL_DEV_TABLE_ENTRY device=..."),
 *   which are fault lines of their kind; only IO_PAGE_FAULT is decoded.
 * Returns 0 for a fault line (@fl filled), -1 for any other line.
 */
int fault_line_parse(const char *msg, struct fault_line *fl);

/* A decoded fault line as an event: 0, or -1 (not a fault line, or not decodable). */
int fault_parse_line(const char *line, struct it_fault_event *e);

/* "0000:00:08.0" or "00:08.0" (segment 0): 0, or -1 when not a PCI address. */
int pci_addr_parse(const char *s, unsigned int *seg, unsigned int *bus, unsigned int *dev,
		   unsigned int *fn);

#endif
