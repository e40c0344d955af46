// SPDX-License-Identifier: GPL-2.0
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faultdecode.h"

/* VT-d spec 7.1.3 / 7.2 fault reasons, as drivers/iommu/intel/dmar.c words them */
static const char *const intel_dma_reasons[] = {
	[0x00] = "Software",
	[0x01] = "Present bit in root entry is clear",
	[0x02] = "Present bit in context entry is clear",
	[0x03] = "Invalid context entry",
	[0x04] = "Access beyond MGAW",
	[0x05] = "PTE Write access is not set",
	[0x06] = "PTE Read access is not set",
	[0x07] = "Next page table ptr is invalid",
	[0x08] = "Root table address invalid",
	[0x09] = "Context table ptr is invalid",
	[0x0a] = "non-zero reserved fields in RTP",
	[0x0b] = "non-zero reserved fields in CTP",
	[0x0c] = "non-zero reserved fields in PTE",
	[0x0d] = "PCE for translation request specifies blocking",
};

static const char *const intel_ir_reasons[] = {
	[0x0] = "Detected reserved fields in the decoded interrupt-remapped request",
	[0x1] = "Interrupt index exceeded the interrupt-remapping table size",
	[0x2] = "Present field in the IRTE entry is clear",
	[0x3] = "Error accessing interrupt-remapping table pointed by IRTA_REG",
	[0x4] = "Detected reserved fields in the IRTE entry",
	[0x5] = "Blocked a compatibility format interrupt request",
	[0x6] = "Blocked an interrupt request due to source-id verification failure",
};

bool intel_fault_is_ir(unsigned int reason)
{
	return reason >= 0x20 && reason < 0x20 + sizeof(intel_ir_reasons) / sizeof(char *);
}

const char *intel_fault_reason_str(unsigned int reason)
{
	if (reason < sizeof(intel_dma_reasons) / sizeof(char *) && intel_dma_reasons[reason])
		return intel_dma_reasons[reason];
	if (intel_fault_is_ir(reason))
		return intel_ir_reasons[reason - 0x20];
	if (reason >= 0x30 && reason <= 0x5f)
		return "Scalable-mode fault (see VT-d spec table 7-2)";
	return "Unknown";
}

void amd_fault_flags_str(unsigned int flags, char *buf, size_t size)
{
	static const struct { unsigned int bit; const char *name; } names[] = {
		{ IT_AMD_FLAG_GN, "guest" }, { IT_AMD_FLAG_NX, "no-execute" },
		{ IT_AMD_FLAG_US, "user" }, { IT_AMD_FLAG_I, "interrupt" },
		{ IT_AMD_FLAG_PR, "present" }, { IT_AMD_FLAG_RW, "write" },
		{ IT_AMD_FLAG_PE, "permission" }, { IT_AMD_FLAG_RZ, "reserved-bit" },
		{ IT_AMD_FLAG_TR, "translation" },
	};
	size_t len = 0, i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].bit))
			continue;
		len += snprintf(buf + len, len < size ? size - len : 0, "%s%s", len ? "," : "",
				names[i].name);
	}
	if (!len)
		snprintf(buf, size, "none (not present, read)");
}

const char *walk_status_str(int status)
{
	switch (status) {
	case IT_WALK_NONE: return "not walked";
	case IT_WALK_LEAF: return "leaf present";
	case IT_WALK_NOT_PRESENT: return "entry not present";
	case IT_WALK_NO_CONTEXT: return "no context entry";
	case IT_WALK_READ_ERROR: return "table unreadable";
	case IT_WALK_UNAVAILABLE: return "walker unavailable on this kernel";
	}
	return "?";
}

static const char *level_size(int level)
{
	switch (level) {
	case 1: return "4K";
	case 2: return "2M";
	case 3: return "1G";
	default: return "table";
	}
}

void fault_explain(const struct it_fault_event *e, char *buf, size_t size)
{
	const struct it_walk *w = &e->walk;
	unsigned long long leaf = w->nr_ptes ? w->pte[w->nr_ptes - 1] : 0;

	switch (w->status) {
	case IT_WALK_NOT_PRESENT:
		snprintf(buf, size, "IOVA not mapped: the level-%u entry of the %u-level table is "
			 "not present (never mapped, or already unmapped)", w->stop_level, w->levels);
		return;
	case IT_WALK_NO_CONTEXT:
		snprintf(buf, size, "the device has no present context entry: it is not attached "
			 "to any translating domain");
		return;
	case IT_WALK_LEAF:
		if (e->vendor == IT_VENDOR_INTEL && w->nr_ptes)
			snprintf(buf, size, "mapped as a %s page at level %u with %s%s permission; "
				 "the %s was refused", level_size(w->stop_level), w->stop_level,
				 leaf & 1 ? "read" : "", leaf & 2 ? (leaf & 1 ? "+write" : "write") :
				 (leaf & 1 ? "-only" : "no"), e->is_write ? "write" : "read");
		else
			snprintf(buf, size, "a present %s leaf at level %u", level_size(w->stop_level),
				 w->stop_level);
		return;
	default:
		snprintf(buf, size, "%s", walk_status_str(w->status));
	}
}

void fault_device_name(const struct it_fault_event *e, char *buf, size_t size)
{
	if (e->device[0]) {
		snprintf(buf, size, "%s", e->device);
		return;
	}
	snprintf(buf, size, "%04x:%02x:%02x.%x", e->segment, e->source_id >> 8,
		 (e->source_id >> 3) & 0x1f, e->source_id & 7);
}
