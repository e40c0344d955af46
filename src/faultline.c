// SPDX-License-Identifier: GPL-2.0
/* Kernel IOMMU fault lines: the formats are quoted in faultline.h. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "faultdecode.h"
#include "faultline.h"

static void span_copy(char *dst, size_t len, const char *src, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool hex_after(const char *s, const char *key, unsigned long long *val)
{
	const char *p = strstr(s, key);
	char *end;

	if (!p)
		return false;
	p += strlen(key);
	*val = strtoull(p, &end, 16);	/* takes the 0x too */
	return end != p;
}

static void device_set(struct it_fault_event *e, const struct it_pci_addr *a)
{
	e->segment = a->seg;
	e->source_id = a->bus << 8 | a->dev << 3 | a->fn;
}

/* After "DMAR: [kind]": device, address or interrupt index, reason. */
static bool intel_decode(const char *rest, struct fault_line *fl)
{
	struct it_fault_event *e = &fl->ev;
	struct it_pci_addr a;
	unsigned long long addr, reason, pasid;
	const char *p;

	if (it_parse_pci_addr(fl->device, &a))
		return false;
	if (!hex_after(rest, "fault addr ", &addr) && !hex_after(rest, "fault index ", &addr))
		return false;
	if (!hex_after(rest, "[fault reason ", &reason) || reason > 0xff)
		return false;
	device_set(e, &a);
	e->iova = addr;
	e->reason = reason;
	e->is_write = !strncmp(fl->kind, "DMA Write", 9);
	p = strstr(fl->kind, " PASID ");
	if (p && hex_after(p, " PASID ", &pasid)) {
		e->pasid_present = 1;
		e->pasid = pasid;
	}
	return true;
}

static int intel_parse(const char *msg, struct fault_line *fl)
{
	const char *p = strstr(msg, "DMAR:"), *ke, *d, *de;

	if (!p)
		return -1;
	p += 5;
	while (*p == ' ')
		p++;
	if (strncmp(p, "[DMA ", 5) && strncmp(p, "[INTR-REMAP", 11))
		return -1;
	ke = strchr(p + 1, ']');
	if (!ke)
		return -1;
	fl->ev.vendor = IT_VENDOR_INTEL;
	span_copy(fl->kind, sizeof(fl->kind), p + 1, ke - (p + 1));
	d = strstr(ke, "device [");
	de = d ? strchr(d + 8, ']') : NULL;
	if (d && de)
		span_copy(fl->device, sizeof(fl->device), d + 8, de - (d + 8));
	fl->decoded = intel_decode(ke, fl);
	return 0;
}

/*
 * The device an AMD line names: its device= field, else the dev_printk
 * prefix "<driver> <device>: AMD-Vi: Event logged", the word before the
 * first ": " (not "AMD-Vi" itself, which a pr_err line starts with).
 */
static void amd_device(const char *msg, const char *ke, struct fault_line *fl)
{
	const char *d = strstr(ke, "device="), *de;

	if (d) {
		d += 7;
		span_copy(fl->device, sizeof(fl->device), d, strcspn(d, " ,]"));
		return;
	}
	de = strstr(msg, ": ");
	if (!de)
		return;
	for (d = de; d > msg && d[-1] != ' '; d--)
		;
	if (de - d == 6 && !strncmp(d, "AMD-Vi", 6))
		return;
	span_copy(fl->device, sizeof(fl->device), d, de - d);
}

/* IO_PAGE_FAULT: address and flags; the device when it is a PCI address. */
static bool amd_decode(const char *rest, struct fault_line *fl)
{
	struct it_fault_event *e = &fl->ev;
	struct it_pci_addr a;
	unsigned long long addr, flags;

	if (strcmp(fl->kind, "IO_PAGE_FAULT"))
		return false;
	if (!hex_after(rest, "address=", &addr) || !hex_after(rest, " flags=", &flags))
		return false;
	if (!it_parse_pci_addr(fl->device, &a))
		device_set(e, &a);
	e->iova = addr;
	e->flags = flags;
	e->is_write = !!(flags & IT_AMD_FLAG_RW);
	return true;
}

static int amd_parse(const char *msg, struct fault_line *fl)
{
	const char *p = strstr(msg, "Event logged ["), *k, *ke;

	if (!p)
		return -1;
	k = p + 14;
	ke = k + strcspn(k, " ]");
	fl->ev.vendor = IT_VENDOR_AMD;
	span_copy(fl->kind, sizeof(fl->kind), k, ke - k);
	amd_device(msg, ke, fl);
	fl->decoded = amd_decode(ke, fl);
	return 0;
}

int fault_line_parse(const char *msg, struct fault_line *fl)
{
	memset(fl, 0, sizeof(*fl));
	if (!intel_parse(msg, fl))
		return 0;
	memset(fl, 0, sizeof(*fl));
	return amd_parse(msg, fl);
}

int fault_parse_line(const char *line, struct it_fault_event *e)
{
	struct fault_line fl;

	if (fault_line_parse(line, &fl) || !fl.decoded)
		return -1;
	e->vendor = fl.ev.vendor;
	e->segment = fl.ev.segment;
	e->source_id = fl.ev.source_id;
	e->iova = fl.ev.iova;
	e->reason = fl.ev.reason;
	e->flags = fl.ev.flags;
	e->is_write = fl.ev.is_write;
	e->pasid_present = fl.ev.pasid_present;
	e->pasid = fl.ev.pasid;
	return 0;
}
