// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "iommutrace.h"
#include "sysinfo.h"

const char *it_vendor_name(int vendor)
{
	static const char *const names[IT_VENDOR_MAX] = {
		[IT_VENDOR_GENERIC] = "generic", [IT_VENDOR_INTEL] = "intel",
		[IT_VENDOR_AMD] = "amd", [IT_VENDOR_VIRTIO] = "virtio",
	};

	return vendor >= 0 && vendor < IT_VENDOR_MAX ? names[vendor] : "generic";
}

static void path_join(char *out, int size, const char *root, const char *path)
{
	snprintf(out, size, "%s%s", root, path);
}

/* virtio-iommu names its unit after the virtio device: look for the driver */
static bool virtio_iommu_bound(const char *root)
{
	char path[256];
	struct dirent *de;
	bool bound = false;
	DIR *d;

	path_join(path, sizeof(path), root, "/sys/bus/virtio/drivers/virtio_iommu");
	d = opendir(path);
	if (!d)
		return false;
	while (!bound && (de = readdir(d)))
		bound = !strncmp(de->d_name, "virtio", 6);
	closedir(d);
	return bound;
}

static void units_scan(const char *root, struct it_sysinfo *si)
{
	char path[256];
	struct dirent *de;
	DIR *d;

	path_join(path, sizeof(path), root, "/sys/class/iommu");
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t len = strlen(si->units);

		if (de->d_name[0] == '.')
			continue;
		si->nr_units++;
		if (!strncmp(de->d_name, "dmar", 4))
			si->vendor = IT_VENDOR_INTEL;
		else if (!strncmp(de->d_name, "ivhd", 4))
			si->vendor = IT_VENDOR_AMD;
		else if (virtio_iommu_bound(root))
			si->vendor = IT_VENDOR_VIRTIO;
		if (len + strlen(de->d_name) + 2 < sizeof(si->units))
			snprintf(si->units + len, sizeof(si->units) - len, "%s%s",
				 len ? " " : "", de->d_name);
	}
	closedir(d);
}

static void groups_scan(const char *root, struct it_sysinfo *si)
{
	char path[300], type[32];
	struct dirent *de;
	DIR *d;

	path_join(path, sizeof(path), root, "/sys/kernel/iommu_groups");
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		si->nr_groups++;
		snprintf(path, sizeof(path), "%s/sys/kernel/iommu_groups/%s/type", root, de->d_name);
		if (it_read_file(path, type, sizeof(type)) < 0)
			continue;
		if (!strcmp(type, "DMA"))
			si->nr_dma++;
		else if (!strcmp(type, "DMA-FQ"))
			si->nr_dma_fq++;
		else if (!strcmp(type, "identity"))
			si->nr_identity++;
		else if (!strcmp(type, "unmanaged"))
			si->nr_unmanaged++;
		else if (!strcmp(type, "blocked"))
			si->nr_blocked++;
	}
	closedir(d);
}

static void cmdline_pick(const char *root, struct it_sysinfo *si)
{
	char path[256], buf[4096], *tok, *save = NULL;
	size_t len = 0;

	path_join(path, sizeof(path), root, "/proc/cmdline");
	if (it_read_file(path, buf, sizeof(buf)) < 0)
		return;
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (strncmp(tok, "iommu", 5) && strncmp(tok, "intel_iommu", 11) &&
		    strncmp(tok, "amd_iommu", 9))
			continue;
		if (len + strlen(tok) + 2 >= sizeof(si->cmdline))
			break;
		len += snprintf(si->cmdline + len, sizeof(si->cmdline) - len, "%s%s",
				len ? " " : "", tok);
	}
}

int sysinfo_read(const char *root, struct it_sysinfo *si)
{
	char path[256];
	int translating;

	memset(si, 0, sizeof(*si));
	units_scan(root, si);
	groups_scan(root, si);
	cmdline_pick(root, si);
	path_join(path, sizeof(path), root, "/sys/firmware/acpi/tables/DMAR");
	si->acpi_dmar = access(path, F_OK) == 0;
	path_join(path, sizeof(path), root, "/sys/firmware/acpi/tables/IVRS");
	si->acpi_ivrs = access(path, F_OK) == 0;
	if (si->vendor == IT_VENDOR_GENERIC)
		si->vendor = si->acpi_dmar ? IT_VENDOR_INTEL :
			     si->acpi_ivrs ? IT_VENDOR_AMD : IT_VENDOR_GENERIC;

	translating = si->nr_dma + si->nr_dma_fq + si->nr_unmanaged;
	if (translating)
		si->xlate = IT_XLATE_ACTIVE;
	else if (si->nr_units || si->nr_groups)
		si->xlate = IT_XLATE_PASSTHROUGH;
	else if (si->acpi_dmar || si->acpi_ivrs)
		si->xlate = IT_XLATE_DISABLED;
	else
		si->xlate = IT_XLATE_NONE;

	if (si->xlate != IT_XLATE_ACTIVE)
		snprintf(si->mode, sizeof(si->mode), "%s",
			 si->xlate == IT_XLATE_PASSTHROUGH ? "passthrough" : "none");
	else if (si->nr_dma && si->nr_dma_fq)
		snprintf(si->mode, sizeof(si->mode), "mixed");
	else if (si->nr_dma_fq)
		snprintf(si->mode, sizeof(si->mode), "lazy");
	else if (si->nr_dma)
		snprintf(si->mode, sizeof(si->mode), "strict");
	else
		snprintf(si->mode, sizeof(si->mode), "unmanaged");
	return 0;
}

const char *sysinfo_xlate_message(const struct it_sysinfo *si)
{
	switch (si->xlate) {
	case IT_XLATE_ACTIVE:
		return "IOMMU translating";
	case IT_XLATE_NONE:
		return "no IOMMU present: no DMAR/IVRS table, no /sys/class/iommu units; DMA is not translated";
	case IT_XLATE_DISABLED:
		return "IOMMU described by firmware but not enabled by the kernel "
		       "(intel_iommu=on / amd_iommu, or disabled on the command line)";
	case IT_XLATE_PASSTHROUGH:
		return "IOMMU enabled in passthrough: every group is identity-mapped (iommu=pt), "
		       "no DMA is translated";
	}
	return "?";
}

int sysinfo_exit_code(const struct it_sysinfo *si)
{
	switch (si->xlate) {
	case IT_XLATE_ACTIVE: return IT_EXIT_OK;
	case IT_XLATE_PASSTHROUGH: return IT_EXIT_PASSTHROUGH;
	default: return IT_EXIT_NO_IOMMU;
	}
}

void link_basename(const char *path, char *out, int size)
{
	char target[512];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *base;

	out[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/');
	snprintf(out, size, "%s", base ? base + 1 : target);
}

/* /sys/bus/<bus>/devices/<dev>: PCI first, then any bus */
static bool device_dir(const char *root, const char *dev, char *out, int size)
{
	static const char *const buses[] = { "pci", "platform", "amba", "virtio" };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(buses); i++) {
		snprintf(out, size, "%s/sys/bus/%s/devices/%s", root, buses[i], dev);
		if (access(out, F_OK) == 0)
			return true;
	}
	return false;
}

void devmeta_read(const char *root, const char *dev, struct it_devmeta *m)
{
	char dir[300], path[400], grp[32], vendor[16], device[16];

	memset(m, 0, sizeof(*m));
	m->group = -1;
	if (!device_dir(root, dev, dir, sizeof(dir)))
		return;
	snprintf(path, sizeof(path), "%s/driver", dir);
	link_basename(path, m->driver, sizeof(m->driver));
	snprintf(path, sizeof(path), "%s/iommu_group", dir);
	link_basename(path, grp, sizeof(grp));
	if (grp[0]) {
		m->group = atoi(grp);
		snprintf(path, sizeof(path), "%s/sys/kernel/iommu_groups/%s/type", root, grp);
		it_read_file(path, m->domain_type, sizeof(m->domain_type));
	}
	snprintf(path, sizeof(path), "%s/vendor", dir);
	if (it_read_file(path, vendor, sizeof(vendor)) > 2) {
		snprintf(path, sizeof(path), "%s/device", dir);
		if (it_read_file(path, device, sizeof(device)) > 2)
			snprintf(m->vendor_device, sizeof(m->vendor_device), "%s:%s",
				 vendor + 2, device + 2);
	}
}

const char *domain_type_from_bits(unsigned int bits)
{
	if (bits & IT_DOMAIN_PT)
		return "identity";
	if (!(bits & IT_DOMAIN_PAGING))
		return "blocked";
	if (bits & IT_DOMAIN_DMA_FQ)
		return "DMA-FQ";
	if (bits & IT_DOMAIN_DMA_API)
		return "DMA";
	return "unmanaged";
}
