/* SPDX-License-Identifier: GPL-2.0 */
/* Is an IOMMU translating here, and what is each device's driver, group, domain type. */
#ifndef IT_SYSINFO_H
#define IT_SYSINFO_H

#include <stdbool.h>

enum it_xlate {
	IT_XLATE_ACTIVE,	/* at least one group translates (DMA, DMA-FQ, unmanaged) */
	IT_XLATE_NONE,		/* no IOMMU in firmware tables or sysfs */
	IT_XLATE_DISABLED,	/* firmware describes one, the kernel did not enable it */
	IT_XLATE_PASSTHROUGH,	/* enabled, every group identity */
};

struct it_sysinfo {
	int vendor;		/* enum it_vendor, GENERIC if unknown */
	int nr_units;
	char units[128];	/* "dmar0 dmar1" */
	int nr_groups;
	int nr_dma, nr_dma_fq, nr_identity, nr_unmanaged, nr_blocked;
	bool acpi_dmar, acpi_ivrs;
	enum it_xlate xlate;
	char mode[32];		/* "lazy", "strict", "mixed", "passthrough", "none" */
	char cmdline[160];	/* the IOMMU options from /proc/cmdline */
};

struct it_devmeta {
	char driver[32];
	int group;		/* -1 if none */
	char domain_type[16];	/* sysfs spelling: DMA, DMA-FQ, identity, unmanaged, blocked */
	char vendor_device[16];	/* "8086:10d3" for PCI */
};

/* @root: "" for the live system, or a fixture tree prefix */
int sysinfo_read(const char *root, struct it_sysinfo *si);
const char *sysinfo_xlate_message(const struct it_sysinfo *si);
int sysinfo_exit_code(const struct it_sysinfo *si);
void devmeta_read(const char *root, const char *dev, struct it_devmeta *m);

/* the last component of a symlink's target ("" when it is no link) */
void link_basename(const char *path, char *out, int size);
/* domain type spelling from iommu_domain.type bits */
const char *domain_type_from_bits(unsigned int bits);

/* "intel", "amd", "virtio", "generic": enum it_vendor as every output names it */
const char *it_vendor_name(int vendor);

#endif
