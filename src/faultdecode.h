/* SPDX-License-Identifier: GPL-2.0 */
/* Decoding IOMMU faults: Intel reason codes, AMD event flags, walk explanations. */
#ifndef IT_FAULTDECODE_H
#define IT_FAULTDECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "iommutrace.h"

/* AMD IO_PAGE_FAULT event flags (AMD IOMMU spec, event log) */
#define IT_AMD_FLAG_GN	0x001
#define IT_AMD_FLAG_NX	0x002
#define IT_AMD_FLAG_US	0x004
#define IT_AMD_FLAG_I	0x008
#define IT_AMD_FLAG_PR	0x010
#define IT_AMD_FLAG_RW	0x020
#define IT_AMD_FLAG_PE	0x040
#define IT_AMD_FLAG_RZ	0x080
#define IT_AMD_FLAG_TR	0x100

const char *intel_fault_reason_str(unsigned int reason);
bool intel_fault_is_ir(unsigned int reason);	/* interrupt-remapping fault */
/* "present,write,permission" style list of the set flags */
void amd_fault_flags_str(unsigned int flags, char *buf, size_t size);
const char *walk_status_str(int status);
/* One sentence: why translation failed, from the walk and the reason */
void fault_explain(const struct it_fault_event *e, char *buf, size_t size);
/* "0000:00:08.0" from the event's segment and requester id */
void fault_device_name(const struct it_fault_event *e, char *buf, size_t size);

#endif
