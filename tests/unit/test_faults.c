// SPDX-License-Identifier: GPL-2.0
/* Fault decoding: Intel reasons, AMD flags, kernel log lines, walk explanations. */
#include <string.h>

#include "faultdecode.h"
#include "faultline.h"
#include "unit.h"

static void test_intel_line(void)
{
	struct it_fault_event e = {};
	char name[32];

	CHECK(fault_parse_line("DMAR: [DMA Read NO_PASID] Request device [00:08.0] fault addr "
			       "0x12345000 [fault reason 0x06] PTE Read access is not set", &e) == 0,
	      "Intel read fault line parses");
	CHECK(e.vendor == IT_VENDOR_INTEL && !e.is_write && e.iova == 0x12345000 &&
	      e.reason == 6 && !e.pasid_present, "Intel read: address, direction, reason");
	fault_device_name(&e, name, sizeof(name));
	CHECK_STR(name, "0000:00:08.0", "requester id back to a PCI address");

	memset(&e, 0, sizeof(e));
	CHECK(fault_parse_line("DMAR: [DMA Write PASID 0x5] Request device [0001:3a:00.1] fault "
			       "addr 0xabc00000 [fault reason 0x05] PTE Write access is not set",
			       &e) == 0 && e.is_write && e.reason == 5 && e.pasid_present &&
	      e.pasid == 5 && e.segment == 1 && e.source_id == (0x3a << 8 | 1),
	      "Intel write fault with PASID and segment");
	memset(&e, 0, sizeof(e));
	CHECK(fault_parse_line("DMAR: [INTR-REMAP] Request device [f0:1f.0] fault index 0x21 "
			       "[fault reason 0x22] Present field in the IRTE entry is clear",
			       &e) == 0 && e.reason == 0x22 && intel_fault_is_ir(e.reason),
	      "interrupt-remapping fault line");
	CHECK(fault_parse_line("DMAR: DRHD: handling fault status reg 2", &e) != 0,
	      "other DMAR lines are not faults");
	CHECK(fault_parse_line("DMAR: [DMA Read NO_PASID] Request device [zz:08.0] fault addr "
			       "0x1 [fault reason 0x06]", &e) != 0, "malformed device rejected");
	CHECK(fault_parse_line("nvme nvme0: I/O 5 QID 1 timeout", &e) != 0, "unrelated line");
}

/*
 * Lines as the kernels print them, from the format strings of
 * drivers/iommu/intel/dmar.c (dmar_fault_do_one) and
 * drivers/iommu/amd/iommu.c (amd_iommu_report_page_fault) of each release.
 */
static void test_kernel_formats(void)
{
	struct fault_line fl;

	/* 6.1: pr_err, "[%02x:%02x.%d]"; 6.12 and 7.0 print the same text with pr_info */
	CHECK(!fault_line_parse("DMAR: [DMA Read NO_PASID] Request device [00:03.0] fault addr "
				"0xfffd0000 [fault reason 0x06] PTE Read access is not set", &fl) &&
	      fl.decoded && fl.ev.vendor == IT_VENDOR_INTEL && !fl.ev.is_write &&
	      fl.ev.iova == 0xfffd0000 && fl.ev.reason == 6 && fl.ev.source_id == (3 << 3) &&
	      !strcmp(fl.kind, "DMA Read NO_PASID") && !strcmp(fl.device, "00:03.0"),
	      "6.1/6.12/7.0 Intel DMA read fault");
	CHECK(!fault_line_parse("DMAR: [DMA Write PASID 0x1] Request device [3a:00.1] fault addr "
				"0x7f0000001000 [fault reason 0x05] PTE Write access is not set", &fl) &&
	      fl.decoded && fl.ev.is_write && fl.ev.pasid_present && fl.ev.pasid == 1 &&
	      fl.ev.iova == 0x7f0000001000ULL && fl.ev.source_id == (0x3a << 8 | 1),
	      "6.1/6.12/7.0 Intel DMA write fault with a PASID");
	CHECK(!fault_line_parse("DMAR: [INTR-REMAP] Request device [f0:1f.0] fault index 0x2a "
				"[fault reason 0x25] Blocked a compatibility format interrupt request",
				&fl) && fl.decoded && fl.ev.reason == 0x25 && fl.ev.iova == 0x2a &&
	      !strcmp(fl.kind, "INTR-REMAP") && !strcmp(fl.device, "f0:1f.0"),
	      "6.1/6.12/7.0 interrupt-remapping fault");
	/* 7.2: the segment too, "[%04x:%02x:%02x.%d]" */
	CHECK(!fault_line_parse("DMAR: [DMA Read NO_PASID] Request device [0001:00:03.0] fault "
				"addr 0x1000 [fault reason 0x06] PTE Read access is not set", &fl) &&
	      fl.decoded && fl.ev.segment == 1 && fl.ev.source_id == (3 << 3) &&
	      !strcmp(fl.device, "0001:00:03.0"), "7.2 Intel fault with the segment");
	/* 6.1 .. 7.x AMD: pr_err with device=%04x:..., or pci_err with the "AMD-Vi: " dev_fmt */
	CHECK(!fault_line_parse("AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:00:04.0 "
				"domain=0x0007 address=0xfffd0000 flags=0x0020]", &fl) &&
	      fl.decoded && fl.ev.vendor == IT_VENDOR_AMD && fl.ev.is_write &&
	      fl.ev.iova == 0xfffd0000 && fl.ev.flags == 0x20 && fl.ev.source_id == (4 << 3) &&
	      !strcmp(fl.device, "0000:00:04.0"), "AMD pr_err line, device= with the segment");
	CHECK(!fault_line_parse("ahci 0000:28:00.0: AMD-Vi: Event logged [IO_PAGE_FAULT "
				"domain=0x0035 address=0x7fffff00300 flags=0x0000]", &fl) &&
	      fl.decoded && !fl.ev.is_write && fl.ev.iova == 0x7fffff00300ULL &&
	      fl.ev.source_id == (0x28 << 8) && !strcmp(fl.device, "0000:28:00.0") &&
	      !strcmp(fl.kind, "IO_PAGE_FAULT"),
	      "AMD pci_err line: the device from the dev_printk prefix, not 'AMD-Vi'");
	CHECK(!fault_line_parse("AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:00:08.0 "
				"domain=0x0002 address=0x2000 flags=0x0030 vflags=0x3]", &fl) &&
	      fl.decoded && fl.ev.flags == 0x30, "a trailing field (vflags=) does not hide flags=");
	CHECK(!fault_line_parse("iommu ivhd0: AMD-Vi: Event logged [ILLEGAL_DEV_TABLE_ENTRY "
				"device=0000:00:14.0 pasid=0x00000 address=0x0 flags=0x0000]", &fl) &&
	      !fl.decoded && !strcmp(fl.kind, "ILLEGAL_DEV_TABLE_ENTRY") &&
	      !strcmp(fl.device, "0000:00:14.0"), "other AMD events: a fault line, not decoded");
	CHECK(!fault_line_parse("AMD-Vi: Event logged [Device not attached to domain properly]",
				&fl) && !fl.device[0], "an AMD event naming no device");
	/* before the "DMAR: " pr_fmt had its space; the reason came on a line of its own */
	CHECK(!fault_line_parse("DMAR:[DMA Write] Request device [00:02.0] fault addr 6df084000",
				&fl) && !fl.decoded && !strcmp(fl.kind, "DMA Write") &&
	      !strcmp(fl.device, "00:02.0"), "old 'DMAR:[DMA Write]' line: a fault, not decoded");
	CHECK(fault_line_parse("DMAR: DRHD: handling fault status reg 2", &fl) &&
	      fault_line_parse("DMAR: Dump dmar0 table entries for IOVA 0x1000", &fl) &&
	      fault_line_parse("AMD-Vi: Interrupt remapping enabled", &fl),
	      "the lines around a fault are not fault lines");
}

static void test_amd_line(void)
{
	struct it_fault_event e = {};
	char flags[128];

	CHECK(fault_parse_line("nvme 0000:00:04.0: AMD-Vi: Event logged [IO_PAGE_FAULT "
			       "domain=0x000d address=0xfffd0000 flags=0x0020]", &e) == 0 &&
	      e.vendor == IT_VENDOR_AMD && e.iova == 0xfffd0000 && e.flags == 0x20 && e.is_write,
	      "AMD line with a driver prefix: write fault");
	memset(&e, 0, sizeof(e));
	CHECK(fault_parse_line("AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:00:08.0 "
			       "domain=0x0000 address=0x1000 flags=0x0150]", &e) == 0 &&
	      e.source_id == (8 << 3) && !e.is_write, "AMD line with device=");
	amd_fault_flags_str(0x0150, flags, sizeof(flags));
	CHECK_STR(flags, "present,permission,translation", "AMD flags decoded");
	amd_fault_flags_str(0, flags, sizeof(flags));
	CHECK_STR(flags, "none (not present, read)", "AMD no flags");
	amd_fault_flags_str(0x1ff, flags, sizeof(flags));
	CHECK_STR(flags, "guest,no-execute,user,interrupt,present,write,permission,reserved-bit,"
		  "translation", "every AMD flag named");
}

static void test_reasons(void)
{
	CHECK_STR(intel_fault_reason_str(5), "PTE Write access is not set", "reason 0x05");
	CHECK_STR(intel_fault_reason_str(6), "PTE Read access is not set", "reason 0x06");
	CHECK_STR(intel_fault_reason_str(0x26),
		  "Blocked an interrupt request due to source-id verification failure", "IR 0x26");
	CHECK_STR(intel_fault_reason_str(0x1f), "Unknown", "unknown reason");
	CHECK(!intel_fault_is_ir(6) && intel_fault_is_ir(0x20) && !intel_fault_is_ir(0x27),
	      "IR range 0x20-0x26");
}

static void test_explain(void)
{
	struct it_fault_event e = { .vendor = IT_VENDOR_INTEL, .reason = 5, .is_write = 1 };
	char why[256];

	e.walk.status = IT_WALK_NOT_PRESENT;
	e.walk.levels = 4;
	e.walk.stop_level = 1;
	fault_explain(&e, why, sizeof(why));
	CHECK(strstr(why, "level-1 entry of the 4-level table is not present") != NULL,
	      "not-present explanation names the level: %s", why);
	e.walk.status = IT_WALK_LEAF;
	e.walk.nr_ptes = 4;
	e.walk.pte[3] = 0x1234000 | 1;	/* read only */
	fault_explain(&e, why, sizeof(why));
	CHECK(strstr(why, "4K page at level 1 with read-only permission; the write was refused"),
	      "permission explanation: %s", why);
	e.walk.status = IT_WALK_NO_CONTEXT;
	fault_explain(&e, why, sizeof(why));
	CHECK(strstr(why, "no present context entry") != NULL, "context explanation");
}

int main(void)
{
	test_intel_line();
	test_kernel_formats();
	test_amd_line();
	test_reasons();
	test_explain();
	UNIT_EXIT();
}
