// SPDX-License-Identifier: GPL-2.0
/*
 * Reading the kernel's view of the IOMMU. Every file here is optional: a
 * machine without an IOMMU has no /sys/class/iommu entries, a container may
 * hide /dev/kmsg, an old kernel lacks reserved_regions. What is missing stays
 * empty and the caller says so; only an unusable root is an error.
 */
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "faultline.h"
#include "sysfs_topo.h"
#include "sysinfo.h"

#define KMSG_MAX_BYTES	(16u << 20)	/* the printk ring is far smaller */

struct feature_bit {
	uint8_t bit;
	const char *name;
};

/* Intel VT-d CAP_REG single-bit capabilities (VT-d spec 11.4.2). */
static const struct feature_bit intel_cap_bits[] = {
	{ 3, "AFL" },		/* advanced fault logging */
	{ 4, "RWBF" },		/* write-buffer flushing required */
	{ 5, "PLMR" },		/* protected low memory region */
	{ 6, "PHMR" },		/* protected high memory region */
	{ 7, "CM" },		/* caching mode: an emulated IOMMU */
	{ 22, "ZLR" },		/* zero-length read */
	{ 34, "SLLPS-2M" },	/* second-level 2 MiB pages */
	{ 35, "SLLPS-1G" },	/* second-level 1 GiB pages */
	{ 39, "PSI" },		/* page-selective invalidation */
	{ 54, "DWD" },		/* write draining */
	{ 55, "DRD" },		/* read draining */
	{ 56, "FL1GP" },	/* first-level 1 GiB pages */
	{ 59, "PI" },		/* posted interrupts */
	{ 60, "FL5LP" },	/* first-level 5-level paging */
	{ 62, "ESIRTPS" },
	{ 63, "ESRTPS" },
};

/* Intel VT-d ECAP_REG (VT-d spec 11.4.3). */
static const struct feature_bit intel_ecap_bits[] = {
	{ 0, "C" },		/* page walks are coherent */
	{ 1, "QI" },		/* queued invalidation */
	{ 2, "DT" },		/* device TLB (ATS) */
	{ 3, "IR" },		/* interrupt remapping */
	{ 4, "EIM" },		/* x2APIC (32-bit) interrupt ids */
	{ 6, "PT" },		/* pass-through */
	{ 7, "SC" },		/* snoop control */
	{ 25, "MTS" },		/* memory type support */
	{ 26, "NEST" },		/* nested translation */
	{ 29, "PRS" },		/* page requests */
	{ 30, "ERS" },		/* execute requests */
	{ 31, "SRS" },		/* supervisor requests */
	{ 33, "NWFS" },
	{ 34, "EAFS" },
	{ 40, "PASID" },
	{ 41, "DIT" },
	{ 42, "PDS" },
	{ 43, "SMTS" },		/* scalable mode */
	{ 44, "VCS" },
	{ 45, "SLADS" },	/* second-level accessed/dirty */
	{ 46, "SLTS" },		/* second-level translation */
	{ 47, "FLTS" },		/* first-level translation */
	{ 48, "SMPWCS" },
	{ 49, "RPS" },
	{ 51, "PMS" },
};

/*
 * AMD extended feature register. Bits 0-9 carry the names the kernel prints
 * in "AMD-Vi: Extended features (...): PreF PPR ...", so the two agree.
 */
static const struct feature_bit amd_efr_bits[] = {
	{ 0, "PreF" },
	{ 1, "PPR" },
	{ 2, "X2APIC" },
	{ 3, "NX" },
	{ 4, "GT" },
	{ 6, "IA" },
	{ 7, "GA" },
	{ 8, "HE" },
	{ 9, "PC" },
	{ 21, "GAM" },
	{ 48, "GIO" },
	{ 49, "HA" },
	{ 50, "EPH" },
	{ 52, "HD" },
	{ 63, "SNP" },
};

/* Capability header of the IOMMU's PCI function (AMD IOMMU spec 3.1). */
static const struct feature_bit amd_cap_bits[] = {
	{ 24, "IotlbSup" },
	{ 25, "HtTunnel" },
	{ 26, "NpCache" },
	{ 27, "EFRSup" },
	{ 28, "CapExt" },
};

static size_t features_collect(uint64_t reg, const struct feature_bit *bits,
			       size_t nbits, const char **names, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < nbits; i++) {
		if (!(reg >> bits[i].bit & 1))
			continue;
		if (n < max)
			names[n] = bits[i].name;
		n++;
	}
	return n;
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

size_t intel_cap_features(uint64_t cap, const char **names, size_t max)
{
	return features_collect(cap, intel_cap_bits, ARRAY_LEN(intel_cap_bits),
				names, max);
}

size_t intel_ecap_features(uint64_t ecap, const char **names, size_t max)
{
	return features_collect(ecap, intel_ecap_bits, ARRAY_LEN(intel_ecap_bits),
				names, max);
}

size_t amd_efr_features(uint64_t efr, const char **names, size_t max)
{
	return features_collect(efr, amd_efr_bits, ARRAY_LEN(amd_efr_bits),
				names, max);
}

size_t amd_cap_features(uint32_t cap, const char **names, size_t max)
{
	return features_collect(cap, amd_cap_bits, ARRAY_LEN(amd_cap_bits),
				names, max);
}

unsigned int intel_cap_mgaw(uint64_t cap)
{
	return (unsigned int)((cap >> 16) & 0x3f) + 1;
}

unsigned long intel_cap_ndoms(uint64_t cap)
{
	return 1ul << (4 + 2 * (cap & 7));
}

unsigned int intel_cap_nfr(uint64_t cap)
{
	return (unsigned int)((cap >> 40) & 0xff) + 1;
}

char *intel_cap_sagaw_str(uint64_t cap, char *buf, size_t len)
{
	static const char *const levels[] = {
		"30-bit/2-level", "39-bit/3-level", "48-bit/4-level",
		"57-bit/5-level", "64-bit/6-level",
	};
	unsigned int sagaw = (cap >> 8) & 0x1f, i;
	size_t n = 0;

	buf[0] = '\0';
	for (i = 0; i < 5 && n < len; i++) {
		if (!(sagaw & (1u << i)))
			continue;
		n += snprintf(buf + n, len - n, "%s%s",
			      n ? " " : "", levels[i]);
	}
	return buf;
}

/* ------------------------------------------------------------ file helpers */

/*
 * printf into a path buffer. A path that does not fit becomes "", which
 * then fails to open: better than opening a truncated, different path.
 */
static int __attribute__((format(printf, 3, 4)))
path_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* Bounded string copy that always terminates. */
static void str_copy(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void path_join(char *out, size_t len, const char *root, const char *rel)
{
	path_fmt(out, len, "%s%s", root, rel);
}

/* A whole file of unknown size, NUL-terminated; NULL with errno on error. */
static char *file_slurp(const char *path, size_t max, size_t *lenp)
{
	size_t cap = 4096, len = 0;
	char *buf, *nb;
	ssize_t n;
	int fd;

	/* O_NONBLOCK: /dev/kmsg blocks at the end of the log otherwise */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	if (!buf)
		goto fail;
	for (;;) {
		/* /dev/kmsg returns one record per read and EINVAL if the
		 * buffer cannot hold it: keep 8 KiB free (records are < 1 KiB) */
		if (cap - len < 8192) {
			if (cap >= max)
				break;
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				goto fail;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n > 0) {
			len += n;
			continue;
		}
		if (n == 0 || errno == EAGAIN)
			break;
		if (errno == EINTR)
			continue;
		/* EPIPE: records were overwritten while we read; go on */
		if (errno == EPIPE)
			continue;
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
fail:
	n = errno;
	free(buf);
	close(fd);
	errno = (int)n;
	return NULL;
}

static int hex_read(const char *path, uint64_t *val)
{
	char buf[64], *end;
	int err = it_read_file(path, buf, sizeof(buf));

	if (err < 0)
		return err;
	errno = 0;
	*val = strtoull(buf, &end, 16);
	if (errno || end == buf)
		return -EINVAL;
	return 0;
}


static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of a directory, without dot entries. */
static char **dir_list(const char *path, size_t *np)
{
	char **names = NULL, **nn;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	*np = 0;
	d = opendir(path);
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn)
			break;
		names = nn;
		names[n] = strdup(de->d_name);
		if (!names[n])
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	*np = n;
	return names;
}

static void dir_list_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * The entries of @dir in *names (*n of them) and, returned, a zeroed array
 * of as many @elem-byte slots. NULL with *n == 0: no entries; NULL with
 * *n != 0: out of memory (*names already freed).
 */
static void *dir_slots(const char *dir, size_t elem, char ***names, size_t *n)
{
	void *arr;

	*names = dir_list(dir, n);
	if (!*n)
		return NULL;
	arr = calloc(*n, elem);
	if (!arr)
		dir_list_free(*names, *n);
	return arr;
}

/* ------------------------------------------------------------------ units */

static void unit_read_intel(struct topo_unit *u, const char *dir)
{
	char path[PATH_MAX + 64];
	char buf[64];

	u->kind = TOPO_UNIT_INTEL;
	path_fmt(path, sizeof(path), "%s/intel-iommu/address", dir);
	hex_read(path, &u->address);
	path_fmt(path, sizeof(path), "%s/intel-iommu/cap", dir);
	hex_read(path, &u->cap);
	path_fmt(path, sizeof(path), "%s/intel-iommu/ecap", dir);
	hex_read(path, &u->ecap);
	path_fmt(path, sizeof(path), "%s/intel-iommu/version", dir);
	it_read_file(path, u->version, sizeof(u->version));
	path_fmt(path, sizeof(path), "%s/intel-iommu/domains_supported", dir);
	if (it_read_file(path, buf, sizeof(buf)) >= 0)
		u->domains_supported = strtol(buf, NULL, 10);
	path_fmt(path, sizeof(path), "%s/intel-iommu/domains_used", dir);
	if (it_read_file(path, buf, sizeof(buf)) >= 0)
		u->domains_used = strtol(buf, NULL, 10);
}

static void unit_read_amd(struct topo_unit *u, const char *dir)
{
	char path[PATH_MAX + 64];
	char buf[64], *colon;
	uint64_t v;

	u->kind = TOPO_UNIT_AMD;
	path_fmt(path, sizeof(path), "%s/amd-iommu/cap", dir);
	if (!hex_read(path, &v))
		u->amd_cap = (uint32_t)v;
	/* "features" is "EFR2:EFR" since 6.x, plain "EFR" before */
	path_fmt(path, sizeof(path), "%s/amd-iommu/features", dir);
	if (it_read_file(path, buf, sizeof(buf)) >= 0) {
		colon = strchr(buf, ':');
		if (colon) {
			u->amd_efr2 = strtoull(buf, NULL, 16);
			u->amd_efr = strtoull(colon + 1, NULL, 16);
		} else {
			u->amd_efr = strtoull(buf, NULL, 16);
		}
	}
	/* The unit lives below its PCI function: .../0000:00:01.0/iommu/ivhd0 */
	path_fmt(path, sizeof(path), "%s/device", dir);
	link_basename(path, u->pci_dev, sizeof(u->pci_dev));
	if (!u->pci_dev[0]) {
		char real[PATH_MAX], *p;

		if (realpath(dir, real) && (p = strstr(real, "/iommu/"))) {
			*p = '\0';
			p = strrchr(real, '/');
			str_copy(u->pci_dev, sizeof(u->pci_dev), p ? p + 1 : real);
		}
	}
}

static int units_read(struct topo *t)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	char **names, **devs;
	struct stat st;
	size_t n, i, nd;

	path_join(dir, sizeof(dir), t->root, "/sys/class/iommu");
	t->units = dir_slots(dir, sizeof(*t->units), &names, &n);
	if (!t->units)
		return n ? -1 : 0;
	for (i = 0; i < n; i++) {
		struct topo_unit *u = &t->units[t->nunits++];
		char udir[PATH_MAX + 64];

		str_copy(u->name, sizeof(u->name), names[i]);
		u->domains_supported = u->domains_used = -1;
		path_fmt(udir, sizeof(udir), "%s/%s", dir, names[i]);
		path_fmt(path, sizeof(path), "%s/intel-iommu", udir);
		if (!stat(path, &st))
			unit_read_intel(u, udir);
		path_fmt(path, sizeof(path), "%s/amd-iommu", udir);
		if (!stat(path, &st))
			unit_read_amd(u, udir);
		path_fmt(path, sizeof(path), "%s/devices", udir);
		devs = dir_list(path, &nd);
		u->ndevices = nd;
		dir_list_free(devs, nd);
	}
	dir_list_free(names, n);
	return 0;
}

/* ----------------------------------------------------------------- groups */

static void dev_read(struct topo_dev *d, const char *dir, int group)
{
	char path[PATH_MAX + 64], buf[64];
	unsigned int seg, bus, dev, fn;
	char tail;

	d->group = group;
	d->vendor = d->device = -1;
	d->class = -1;
	if (sscanf(d->name, "%x:%x:%x.%x%c", &seg, &bus, &dev, &fn, &tail) == 4 &&
	    seg <= 0xffff && bus <= 0xff && dev <= 0x1f && fn <= 7) {
		d->is_pci = true;
		d->segment = (uint16_t)seg;
		d->bus = (uint8_t)bus;
		d->dev = (uint8_t)dev;
		d->fn = (uint8_t)fn;
	}
	path_fmt(path, sizeof(path), "%s/vendor", dir);
	if (it_read_file(path, buf, sizeof(buf)) >= 0)
		d->vendor = (int)strtol(buf, NULL, 16);
	path_fmt(path, sizeof(path), "%s/device", dir);
	if (it_read_file(path, buf, sizeof(buf)) >= 0)
		d->device = (int)strtol(buf, NULL, 16);
	path_fmt(path, sizeof(path), "%s/class", dir);
	if (it_read_file(path, buf, sizeof(buf)) >= 0)
		d->class = strtoll(buf, NULL, 16);
	path_fmt(path, sizeof(path), "%s/driver", dir);
	link_basename(path, d->driver, sizeof(d->driver));
	path_fmt(path, sizeof(path), "%s/iommu", dir);
	link_basename(path, d->unit, sizeof(d->unit));
}

/* reserved_regions: "0x00000000fee00000 0x00000000feefffff msi" per line */
static int regions_parse(struct topo_group *g, char *text)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct topo_region r = { 0 }, *nr;
		char type[24];

		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %23s", &r.start, &r.end, type) != 3)
			continue;
		str_copy(r.type, sizeof(r.type), type);
		nr = realloc(g->regions, (g->nregions + 1) * sizeof(*nr));
		if (!nr)
			return -1;
		g->regions = nr;
		g->regions[g->nregions++] = r;
	}
	return 0;
}

static int group_read(struct topo_group *g, const char *gdir)
{
	char path[PATH_MAX + 64];
	char **names, *text;
	size_t n, i;

	path_fmt(path, sizeof(path), "%s/type", gdir);
	it_read_file(path, g->type, sizeof(g->type));
	path_fmt(path, sizeof(path), "%s/reserved_regions", gdir);
	text = file_slurp(path, 1u << 20, NULL);
	if (text) {
		int err = regions_parse(g, text);

		free(text);
		if (err)
			return -1;
	}
	path_fmt(path, sizeof(path), "%s/devices", gdir);
	g->devs = dir_slots(path, sizeof(*g->devs), &names, &n);
	if (!g->devs)
		return n ? -1 : 0;
	for (i = 0; i < n; i++) {
		struct topo_dev *d = &g->devs[g->ndevs++];
		char ddir[PATH_MAX + 128];

		str_copy(d->name, sizeof(d->name), names[i]);
		path_fmt(ddir, sizeof(ddir), "%s/devices/%s", gdir, names[i]);
		dev_read(d, ddir, g->id);
	}
	dir_list_free(names, n);
	return 0;
}

static int group_cmp(const void *a, const void *b)
{
	const struct topo_group *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int groups_read(struct topo *t)
{
	char dir[PATH_MAX], gdir[PATH_MAX + 64];
	char **names, *end;
	size_t n, i;
	int ret = 0;

	path_join(dir, sizeof(dir), t->root, "/sys/kernel/iommu_groups");
	t->groups = dir_slots(dir, sizeof(*t->groups), &names, &n);
	if (!t->groups)
		return n ? -1 : 0;
	for (i = 0; i < n && !ret; i++) {
		long id = strtol(names[i], &end, 10);
		struct topo_group *g;

		if (*end || id < 0 || id > INT_MAX)
			continue;
		g = &t->groups[t->ngroups++];
		g->id = (int)id;
		path_fmt(gdir, sizeof(gdir), "%s/%s", dir, names[i]);
		ret = group_read(g, gdir);
	}
	dir_list_free(names, n);
	/* directory order is by name: "10" sorts before "2" */
	qsort(t->groups, t->ngroups, sizeof(*t->groups), group_cmp);
	return ret;
}

/* ---------------------------------------------------------------- cmdline */

static bool cmd_is_iommu_word(const char *w)
{
	static const char *const prefixes[] = {
		"iommu=", "iommu.", "intel_iommu=", "amd_iommu=", "amd_iommu_",
		"intremap=", "nointremap", "ivrs_", "dmar=", "vfio",
		"pci=noats", "swiotlb=",
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(prefixes); i++) {
		if (!strncmp(w, prefixes[i], strlen(prefixes[i])))
			return true;
	}
	return false;
}

static int bool_word(const char *v)
{
	if (!strcmp(v, "1") || !strcmp(v, "on") || !strcmp(v, "y") || !strcmp(v, "Y"))
		return TOPO_ON;
	if (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "n") || !strcmp(v, "N"))
		return TOPO_OFF;
	return TOPO_UNKNOWN;
}

/* Does the comma-separated list contain opt? */
static bool list_has(const char *list, const char *opt)
{
	size_t n = strlen(opt);
	const char *p = list;

	while (p && *p) {
		if (!strncmp(p, opt, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

/* What one word does; later words override earlier ones, as in the kernel. */
static void cmd_word_apply(struct topo_cmdline *c, const char *w)
{
	const char *v = strchr(w, '=');

	v = v ? v + 1 : "";
	if (!strncmp(w, "iommu=", 6)) {
		if (list_has(v, "pt"))
			c->passthrough = TOPO_ON;
		if (list_has(v, "nopt"))
			c->passthrough = TOPO_OFF;
		if (list_has(v, "off"))
			c->dma_remap = TOPO_OFF;
	} else if (!strncmp(w, "iommu.passthrough=", 18)) {
		c->passthrough = bool_word(v);
	} else if (!strncmp(w, "iommu.strict=", 13)) {
		c->strict = bool_word(v);
	} else if (!strncmp(w, "intel_iommu=", 12)) {
		if (list_has(v, "off"))
			c->dma_remap = TOPO_OFF;
		if (list_has(v, "on"))
			c->dma_remap = TOPO_ON;
		if (list_has(v, "strict"))
			c->strict = TOPO_ON;
	} else if (!strncmp(w, "amd_iommu=", 10)) {
		if (list_has(v, "off"))
			c->dma_remap = TOPO_OFF;
		if (list_has(v, "fullflush"))
			c->strict = TOPO_ON;
	} else if (!strncmp(w, "intremap=", 9)) {
		if (list_has(v, "off"))
			c->intremap = TOPO_OFF;
		if (list_has(v, "on"))
			c->intremap = TOPO_ON;
	} else if (!strcmp(w, "nointremap")) {
		c->intremap = TOPO_OFF;
	}
}

int topo_cmdline_parse(struct topo_cmdline *c, const char *line)
{
	char *copy, *w, *save = NULL, **na;

	memset(c, 0, sizeof(*c));
	c->passthrough = c->strict = c->intremap = c->dma_remap = TOPO_UNKNOWN;
	c->raw = strdup(line);
	copy = strdup(line);
	if (!c->raw || !copy) {
		free(copy);
		return -1;
	}
	for (w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (!cmd_is_iommu_word(w))
			continue;
		na = realloc(c->args, (c->nargs + 1) * sizeof(*na));
		if (!na)
			break;
		c->args = na;
		c->args[c->nargs] = strdup(w);
		if (!c->args[c->nargs])
			break;
		c->nargs++;
		cmd_word_apply(c, w);
	}
	free(copy);
	return 0;
}

static void cmdline_free(struct topo_cmdline *c)
{
	size_t i;

	for (i = 0; i < c->nargs; i++)
		free(c->args[i]);
	free(c->args);
	free(c->raw);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ interrupts */

/*
 * With interrupt remapping on, the irq chips in /proc/interrupts are named
 * IR-IO-APIC, IR-PCI-MSI(-<dev>); without it IO-APIC and PCI-MSI. Readable
 * by anyone, unlike the kernel log.
 */
int topo_ir_from_interrupts(const char *text)
{
	if (strstr(text, " IR-IO-APIC") || strstr(text, " IR-PCI-MSI") ||
	    strstr(text, " IR-HPET"))
		return TOPO_ON;
	if (strstr(text, " IO-APIC") || strstr(text, " PCI-MSI"))
		return TOPO_OFF;
	return TOPO_UNKNOWN;
}

/* ---------------------------------------------------------------- counts */

size_t topo_ndevs(const struct topo *t)
{
	size_t i, n = 0;

	for (i = 0; i < t->ngroups; i++)
		n += t->groups[i].ndevs;
	return n;
}

size_t topo_groups_of_type(const struct topo *t, const char *type)
{
	size_t i, n = 0;

	for (i = 0; i < t->ngroups; i++)
		n += !strcmp(t->groups[i].type, type);
	return n;
}

/* ---------------------------------------------------------------- the log */

/*
 * What a device named in a fault message is: "02:00.0" or "0000:02:00.0".
 * Behind a PCIe-to-PCI bridge, conventional devices' requests carry the
 * bridge's secondary bus with devfn 00.0, an ID no device may have.
 */
const struct topo_dev *topo_fault_dev(const struct topo *t, const char *name,
				      const struct topo_dev **behind)
{
	struct it_pci_addr a;
	size_t i, j;

	*behind = NULL;
	if (it_parse_pci_addr(name, &a))
		return NULL;
	for (i = 0; i < t->ngroups; i++) {
		for (j = 0; j < t->groups[i].ndevs; j++) {
			const struct topo_dev *d = &t->groups[i].devs[j];

			if (!d->is_pci || d->segment != a.seg || d->bus != a.bus)
				continue;
			if (d->dev == a.dev && d->fn == a.fn)
				return d;
			if (!a.dev && !a.fn && !*behind)
				*behind = d;
		}
	}
	/* only an alias if a bridge shares the group (it leads to that bus) */
	if (*behind) {
		const struct topo_group *g = topo_find_group(t, (*behind)->group);

		for (j = 0; g && j < g->ndevs; j++) {
			if (g->devs[j].class >> 8 == 0x0604)
				return NULL;
		}
		*behind = NULL;
	}
	return NULL;
}


/* Count by device; past TOPO_MAX_FAULT_DEVS names, under "". */
static void fault_count_dev(struct topo_log *log, const char *dev)
{
	char name[TOPO_NAME_LEN];
	size_t i;

	str_copy(name, sizeof(name), dev);
	if (!log->by_dev) {
		log->by_dev = calloc(TOPO_MAX_FAULT_DEVS + 1, sizeof(*log->by_dev));
		if (!log->by_dev)
			return;
	}
	for (i = 0; i < log->nby_dev; i++) {
		if (!strcmp(log->by_dev[i].device, name))
			break;
	}
	if (i == log->nby_dev) {
		if (log->nby_dev >= TOPO_MAX_FAULT_DEVS)
			name[0] = '\0';
		for (i = 0; i < log->nby_dev && strcmp(log->by_dev[i].device, name); i++)
			;
		if (i == log->nby_dev)
			str_copy(log->by_dev[log->nby_dev++].device, TOPO_NAME_LEN, name);
	}
	log->by_dev[i].count++;
}

static void fault_add(struct topo_log *log, const struct fault_line *fl, const char *msg)
{
	struct topo_fault *f;

	log->faults++;
	if (fl->ev.vendor == IT_VENDOR_INTEL)
		log->dmar_faults++;
	else
		log->amdvi_events++;
	fault_count_dev(log, fl->device);
	if (log->nfault >= TOPO_MAX_FAULT_LINES)
		return;
	if (!log->fault) {
		log->fault = calloc(TOPO_MAX_FAULT_LINES, sizeof(*log->fault));
		if (!log->fault)
			return;
	}
	f = &log->fault[log->nfault++];
	str_copy(f->kind, sizeof(f->kind), fl->kind);
	str_copy(f->device, sizeof(f->device), fl->device);
	str_copy(f->line, sizeof(f->line), msg);
}

static void log_keep(char *dst, size_t len, const char *msg, const char *what)
{
	const char *p = strstr(msg, what);

	size_t n;

	if (!p)
		return;
	str_copy(dst, len, p);
	/* the kernel ends some of these with a space */
	n = strlen(dst);
	while (n > 0 && dst[n - 1] == ' ')
		dst[--n] = '\0';
}

void topo_log_line(struct topo_log *log, const char *msg)
{
	struct fault_line fl;

	if (!fault_line_parse(msg, &fl)) {
		fault_add(log, &fl, msg);
		return;
	}
	if (strstr(msg, "DMAR-IR: Enabled IRQ remapping") ||
	    strstr(msg, "AMD-Vi: Interrupt remapping enabled")) {
		log->ir = TOPO_ON;
		str_copy(log->ir_line, sizeof(log->ir_line), msg);
	} else if (strstr(msg, "DMAR-IR: IRQ remapping was enabled") ||
		   strstr(msg, "Failed to enable irq remapping") ||
		   strstr(msg, "Not enabling interrupt remapping")) {
		if (log->ir != TOPO_ON)
			log->ir = TOPO_OFF;
		str_copy(log->ir_line, sizeof(log->ir_line), msg);
	}
	log_keep(log->domain_type, sizeof(log->domain_type), msg,
		 "Default domain type:");
	log_keep(log->tlb_policy, sizeof(log->tlb_policy), msg,
		 "DMA domain TLB invalidation policy:");
	if (strstr(msg, "strict mode due to virtualization") ||
	    strstr(msg, "batching disallowed due to virtualization"))
		str_copy(log->strict_forced, sizeof(log->strict_forced), msg);
}

/*
 * One line of /dev/kmsg ("6,476,3343983,-;message", continuation lines
 * start with a space) or of dmesg ("[    1.23] message"): the message.
 */
static const char *log_message(char *line)
{
	char *semi, *p;

	if (line[0] == ' ')
		return NULL;
	semi = strchr(line, ';');
	if (semi && isdigit((unsigned char)line[0])) {
		for (p = line; p < semi && (isdigit((unsigned char)*p) || *p == ',' ||
					    *p == '-' || *p == '+' || *p == 'c'); p++)
			;
		if (p == semi)
			return semi + 1;
	}
	if (line[0] == '[' && (p = strchr(line, ']')))
		return p[1] == ' ' ? p + 2 : p + 1;
	return line;
}

static void log_read(struct topo *t)
{
	char path[PATH_MAX], *text, *line, *save = NULL;
	const char *msg;

	t->log.ir = TOPO_UNKNOWN;
	path_join(path, sizeof(path), t->root, "/dev/kmsg");
	text = file_slurp(path, KMSG_MAX_BYTES, NULL);
	if (!text) {
		t->log.err = errno;
		return;
	}
	t->log.readable = true;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		msg = log_message(line);
		if (msg)
			topo_log_line(&t->log, msg);
	}
	free(text);
}

/* ---------------------------------------------------------------- defaults */

/* CONFIG_IOMMU_DEFAULT_{DMA_STRICT,DMA_LAZY,PASSTHROUGH} of the kernel. */
static void config_read(struct topo *t)
{
	static const char *const opts[] = {
		"DMA_LAZY", "DMA_STRICT", "PASSTHROUGH",
	};
	char path[PATH_MAX], want[64];
	char *text;
	size_t i;

	if (!t->kernel[0])
		return;
	path_fmt(want, sizeof(want), "/boot/config-%s", t->kernel);
	path_join(path, sizeof(path), t->root, want);
	text = file_slurp(path, 8u << 20, NULL);
	if (!text)
		return;
	for (i = 0; i < ARRAY_LEN(opts); i++) {
		path_fmt(want, sizeof(want), "\nCONFIG_IOMMU_DEFAULT_%s=y", opts[i]);
		if (strstr(text, want)) {
			str_copy(t->config_default, sizeof(t->config_default), opts[i]);
			break;
		}
	}
	free(text);
}

/* ------------------------------------------------------------------- all */

static void misc_read(struct topo *t)
{
	char path[PATH_MAX], *text;

	path_join(path, sizeof(path), t->root, "/proc/sys/kernel/osrelease");
	it_read_file(path, t->kernel, sizeof(t->kernel));
	config_read(t);

	t->ir = TOPO_UNKNOWN;
	path_join(path, sizeof(path), t->root, "/proc/interrupts");
	text = file_slurp(path, 4u << 20, NULL);
	if (text) {
		t->ir = topo_ir_from_interrupts(text);
		if (t->ir != TOPO_UNKNOWN)
			str_copy(t->ir_source, sizeof(t->ir_source), "/proc/interrupts");
		free(text);
	}
	if (t->ir == TOPO_UNKNOWN && t->log.ir != TOPO_UNKNOWN) {
		t->ir = t->log.ir;
		str_copy(t->ir_source, sizeof(t->ir_source), "kernel log");
	}
}

int topo_read(struct topo *t, const char *root, char *msg, size_t msglen)
{
	char path[PATH_MAX], line[8192];
	struct stat st;
	size_t n;

	memset(t, 0, sizeof(*t));
	/* "/" and "/x/" become "" and "/x": paths are root + "/sys/..." */
	n = strlen(root);
	while (n > 0 && root[n - 1] == '/')
		n--;
	if (n >= sizeof(t->root) - 64) {
		snprintf(msg, msglen, "%s: path too long", root);
		return -1;
	}
	memcpy(t->root, root, n);
	t->root[n] = '\0';

	path_join(path, sizeof(path), t->root, "/sys");
	if (stat(path, &st)) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, msglen, "%s: not a directory", path);
		return -1;
	}
	path_join(path, sizeof(path), t->root, "/proc/cmdline");
	if (it_read_file(path, line, sizeof(line)) < 0)
		line[0] = '\0';
	if (topo_cmdline_parse(&t->cmd, line) || units_read(t) || groups_read(t)) {
		snprintf(msg, msglen, "out of memory reading %s", root);
		topo_free(t);
		return -1;
	}
	log_read(t);
	misc_read(t);
	return 0;
}

void topo_free(struct topo *t)
{
	size_t i;

	for (i = 0; i < t->ngroups; i++) {
		free(t->groups[i].devs);
		free(t->groups[i].regions);
	}
	free(t->groups);
	free(t->units);
	free(t->log.fault);
	free(t->log.by_dev);
	cmdline_free(&t->cmd);
	memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------------------- lookups */

const struct topo_dev *topo_find_dev(const struct topo *t, const char *name)
{
	size_t i, j;

	for (i = 0; i < t->ngroups; i++) {
		for (j = 0; j < t->groups[i].ndevs; j++) {
			if (!strcmp(t->groups[i].devs[j].name, name))
				return &t->groups[i].devs[j];
		}
	}
	return NULL;
}

const struct topo_dev *topo_find_bdf(const struct topo *t, uint16_t segment,
				     uint8_t bus, uint8_t dev, uint8_t fn)
{
	size_t i, j;

	for (i = 0; i < t->ngroups; i++) {
		for (j = 0; j < t->groups[i].ndevs; j++) {
			const struct topo_dev *d = &t->groups[i].devs[j];

			if (d->is_pci && d->segment == segment && d->bus == bus &&
			    d->dev == dev && d->fn == fn)
				return d;
		}
	}
	return NULL;
}

const struct topo_group *topo_find_group(const struct topo *t, int id)
{
	size_t i;

	for (i = 0; i < t->ngroups; i++) {
		if (t->groups[i].id == id)
			return &t->groups[i];
	}
	return NULL;
}

/*
 * Follow a DMAR device-scope path: the first hop is on start_bus, each
 * further hop on the secondary bus of the bridge before it. sysfs nests a
 * bridge's children inside its directory, which gives their bus numbers
 * without reading config space.
 */
int topo_pci_path_resolve(const struct topo *t, uint16_t segment, uint8_t bus,
			  const uint8_t *hops, size_t nhops, char *name, size_t len)
{
	char cur[TOPO_NAME_LEN], path[PATH_MAX + 128], **names;
	unsigned int s, b, d, f;
	struct stat st;
	size_t i, j, n;
	bool found;

	if (!nhops)
		return -1;
	path_fmt(cur, sizeof(cur), "%04x:%02x:%02x.%x", segment, bus, hops[0], hops[1]);
	path_fmt(path, sizeof(path), "%s/sys/bus/pci/devices/%s", t->root, cur);
	if (stat(path, &st))
		return -1;
	for (i = 1; i < nhops; i++) {
		path_fmt(path, sizeof(path), "%s/sys/bus/pci/devices/%s", t->root, cur);
		names = dir_list(path, &n);
		found = false;
		for (j = 0; j < n && !found; j++) {
			char tail;

			if (sscanf(names[j], "%x:%x:%x.%x%c", &s, &b, &d, &f, &tail) == 4 &&
			    s == segment && d == hops[2 * i] && f == hops[2 * i + 1]) {
				path_fmt(cur, sizeof(cur), "%s", names[j]);
				found = true;
			}
		}
		dir_list_free(names, n);
		if (!found)
			return -1;
	}
	str_copy(name, len, cur);
	return 0;
}
