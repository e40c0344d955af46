// SPDX-License-Identifier: GPL-2.0
/* The joined view of topology.h: loading, the warnings, and the live group switch. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "devfilter.h"
#include "topology.h"

#define ACPI_FILE_MAX		(16u << 20)	/* DMAR/IVRS are a few KiB */

static void __attribute__((format(printf, 3, 4)))
warn_add(struct info *in, const char *kind, const char *fmt, ...)
{
	struct info_warning *w;
	va_list ap;

	w = realloc(in->warns, (in->nwarns + 1) * sizeof(*w));
	if (!w)
		return;
	in->warns = w;
	w = &in->warns[in->nwarns++];
	snprintf(w->kind, sizeof(w->kind), "%s", kind);
	va_start(ap, fmt);
	vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
	va_end(ap);
}

const struct topo_dev *info_dev(const struct info *in, uint16_t seg,
				       uint16_t devid)
{
	if (!in->have_topo)
		return NULL;
	return topo_find_bdf(&in->topo, seg, devid >> 8, (devid >> 3) & 0x1f,
			     devid & 7);
}

/* The sysfs device a DMAR scope names, when the system has it. */
const struct topo_dev *info_scope_dev(const struct info *in, uint16_t seg,
					const struct dmar_scope *sc)
{
	uint8_t hops[2 * DMAR_PATH_MAX];
	char name[TOPO_NAME_LEN];
	unsigned int i;

	if (!in->have_topo || !sc->path_len ||
	    (sc->type != DMAR_SCOPE_ENDPOINT && sc->type != DMAR_SCOPE_BRIDGE))
		return NULL;
	for (i = 0; i < sc->path_len; i++) {
		hops[2 * i] = sc->path[i].dev;
		hops[2 * i + 1] = sc->path[i].fn;
	}
	if (topo_pci_path_resolve(&in->topo, seg, sc->start_bus, hops,
				  sc->path_len, name, sizeof(name)))
		return NULL;
	return topo_find_dev(&in->topo, name);
}

const struct topo_unit *info_unit_for_drhd(const struct info *in,
					     const struct dmar_struct *s)
{
	size_t i;

	if (!in->have_topo)
		return NULL;
	for (i = 0; i < in->topo.nunits; i++) {
		const struct topo_unit *u = &in->topo.units[i];

		if (u->kind == TOPO_UNIT_INTEL && u->address == s->base)
			return u;
	}
	return NULL;
}

const struct topo_unit *info_unit_for_ivhd(const struct info *in,
					     const struct ivrs_ivhd *h)
{
	char name[TOPO_NAME_LEN];
	size_t i;

	if (!in->have_topo)
		return NULL;
	snprintf(name, sizeof(name), "%04x:%02x:%02x.%x", h->segment,
		 h->devid >> 8, (h->devid >> 3) & 0x1f, h->devid & 7);
	for (i = 0; i < in->topo.nunits; i++) {
		const struct topo_unit *u = &in->topo.units[i];

		if (u->kind == TOPO_UNIT_AMD && !strcmp(u->pci_dev, name))
			return u;
	}
	return NULL;
}
const char *info_vendor_name(const struct info *in)
{
	size_t i;
	bool intel = false, amd = false;

	if (in->have_topo) {
		for (i = 0; i < in->topo.nunits; i++) {
			intel |= in->topo.units[i].kind == TOPO_UNIT_INTEL;
			amd |= in->topo.units[i].kind == TOPO_UNIT_AMD;
		}
	}
	for (i = 0; i < in->ntables; i++) {
		intel |= in->tables[i].kind == ACPI_DMAR && !in->tables[i].err;
		amd |= in->tables[i].kind == ACPI_IVRS && !in->tables[i].err;
	}
	if (intel && amd)
		return "mixed";
	return intel ? "intel" : amd ? "amd" : (in->have_topo && in->topo.nunits) ?
	       "other" : "none";
}

/* ------------------------------------------------------------ loading */

static int file_read(const char *path, uint8_t **bufp, size_t *lenp)
{
	size_t cap = 4096, len = 0, n;
	uint8_t *buf = NULL, *nb;
	FILE *f;
	int err;

	f = fopen(path, "rb");
	if (!f)
		return -errno;
	for (;;) {
		if (len == cap || !buf) {
			if (buf)
				cap *= 2;
			if (cap > ACPI_FILE_MAX + 1)
				cap = ACPI_FILE_MAX + 1;
			nb = realloc(buf, cap);
			if (!nb) {
				err = -ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (len > ACPI_FILE_MAX) {
			err = -EFBIG;
			goto fail;
		}
		if (n == 0) {
			if (ferror(f)) {
				err = -EIO;
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	free(buf);
	fclose(f);
	return err;
}

/* Decode buf into the next table slot; a malformed table keeps its error. */
static void table_decode(struct info_table *t, const uint8_t *buf, size_t len)
{
	t->size = len;
	t->kind = acpi_kind_detect(buf, len);
	switch (t->kind) {
	case ACPI_DMAR:
		t->malformed = dmar_parse(buf, len, &t->dmar, &t->aerr) != 0;
		break;
	case ACPI_IVRS:
		t->malformed = ivrs_parse(buf, len, &t->ivrs, &t->aerr) != 0;
		break;
	default:
		t->malformed = true;
		t->aerr.offset = 0;
		if (len < 4)
			snprintf(t->aerr.msg, sizeof(t->aerr.msg),
				 "offset 0x%zx: %zu bytes, too short for an ACPI signature",
				 len, len);
		else
			snprintf(t->aerr.msg, sizeof(t->aerr.msg),
				 "offset 0x0: signature '%c%c%c%c' is neither DMAR nor IVRS",
				 buf[0] >= 0x20 && buf[0] < 0x7f ? buf[0] : '?',
				 buf[1] >= 0x20 && buf[1] < 0x7f ? buf[1] : '?',
				 buf[2] >= 0x20 && buf[2] < 0x7f ? buf[2] : '?',
				 buf[3] >= 0x20 && buf[3] < 0x7f ? buf[3] : '?');
	}
}

/*
 * Load one table. For the system's own tables a missing file is normal
 * (returns 0 without a slot); for --acpi files any read error is fatal.
 */
static int table_load(struct info *in, const char *path, bool must_exist,
		      enum acpi_kind expect, char *why, size_t size)
{
	struct info_table *t = &in->tables[in->ntables];
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	err = file_read(path, &buf, &len);
	if (err == -ENOENT && !must_exist)
		return 0;
	snprintf(t->source, sizeof(t->source), "%s", path);
	in->ntables++;
	if (err) {
		t->err = -err;
		t->kind = expect;
		if (must_exist) {
			snprintf(why, size, "%s: %s", path,
				 err == -EFBIG ? "too large for an ACPI table" : strerror(-err));
			return -1;
		}
		return 0;
	}
	table_decode(t, buf, len);
	free(buf);
	return 0;
}

static int tables_load(struct info *in, const char *const *files, int nfiles,
		       const char *root, char *why, size_t size)
{
	static const struct {
		const char *name;
		enum acpi_kind kind;
	} sys[] = { { "DMAR", ACPI_DMAR }, { "IVRS", ACPI_IVRS } };
	char path[PATH_MAX];
	size_t i;
	int k;

	for (k = 0; k < nfiles; k++) {
		if (table_load(in, files[k], true, ACPI_UNKNOWN, why, size))
			return -1;
	}
	if (nfiles)
		return 0;
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/sys/firmware/acpi/tables/%s",
			 strcmp(root, "/") ? root : "", sys[i].name);
		table_load(in, path, false, sys[i].kind, why, size);
	}
	return 0;
}

/* ----------------------------------------------------------- warnings */

static void warn_groups(struct info *in)
{
	const struct topo *t = &in->topo;
	size_t i, j, n;
	char list[400];

	for (i = 0; i < t->ngroups; i++) {
		const struct topo_group *g = &t->groups[i];

		if (g->ndevs < 2)
			continue;
		n = 0;
		list[0] = '\0';
		for (j = 0; j < g->ndevs && n < sizeof(list); j++)
			n += snprintf(list + n, sizeof(list) - n, "%s%s",
				      j ? " " : "", g->devs[j].name);
		warn_add(in, "shared-group",
			 "group %d holds %zu devices (%s): they can only be assigned to a VM together",
			 g->id, g->ndevs, list);
	}
}

/* Which reserved region of the device's group matches [start, end]? */
static const char *region_type(const struct info *in, const struct topo_dev *d,
			       uint64_t start, uint64_t end)
{
	const struct topo_group *g;
	size_t i;

	if (!d || !(g = topo_find_group(&in->topo, d->group)))
		return NULL;
	for (i = 0; i < g->nregions; i++) {
		if (g->regions[i].start == start && g->regions[i].end == end)
			return g->regions[i].type;
	}
	return NULL;
}

/* missing: the table names one device that sysfs does not have */
static void warn_pinned(struct info *in, const char *what, const char *range,
			const char *where, bool missing)
{
	bool rmrr = !strcmp(what, "RMRR");

	warn_add(in, "reserved-memory",
		 "%s %s pins %s%s: the firmware keeps using that memory for DMA, so %s cannot be assigned to a VM %s",
		 what, range, where, missing ? " (not present in sysfs)" : "",
		 strncmp(where, "every", 5) && strncmp(where, "devices", 7) ? "the device" : "they",
		 rmrr ? "(\"Device is ineligible for IOMMU domain attach due to platform RMRR requirement\")" :
		 "(recent kernels refuse to attach such devices to a VFIO domain)");
}

static void warn_relaxable(struct info *in, const char *what, const char *range,
			   const struct topo_dev *d)
{
	warn_add(in, "reserved-memory",
		 "%s %s is identity-mapped for %s (group %d); the kernel marks it relaxable (USB, graphics, ISA), so the device can still be assigned",
		 what, range, d->name, d->group);
}

static void warn_rmrr(struct info *in, const struct dmar_table *t)
{
	char path[DMAR_PATH_MAX * 6 + 16], range[48];
	const struct topo_dev *d;
	const char *rt;
	size_t i, j;

	for (i = 0; i < t->nstructs; i++) {
		const struct dmar_struct *s = &t->structs[i];

		if (s->type != DMAR_RMRR)
			continue;
		snprintf(range, sizeof(range), "0x%" PRIx64 "-0x%" PRIx64, s->base, s->limit);
		for (j = 0; j < s->nscopes; j++) {
			d = info_scope_dev(in, s->segment, &s->scopes[j]);
			rt = region_type(in, d, s->base, s->limit);
			if (d && rt && !strcmp(rt, "direct-relaxable"))
				warn_relaxable(in, "RMRR", range, d);
			else
				warn_pinned(in, "RMRR", range, d ? d->name :
					    dmar_scope_path_str(&s->scopes[j], path, sizeof(path)),
					    in->have_topo && !d);
		}
	}
}

/*
 * IVMD unity ranges become "direct" reserved regions: the kernel maps them
 * 1:1 in every domain of the device, and recent kernels refuse to attach
 * such a device to a domain that would drop them. Exclusion ranges bypass
 * translation altogether.
 */
static void warn_ivmd(struct info *in, const struct ivrs_table *t)
{
	char where[TOPO_NAME_LEN + 48], range[48], a[8], b[8];
	const struct topo_dev *d;
	size_t i;

	for (i = 0; i < t->nivmds; i++) {
		const struct ivrs_ivmd *m = &t->ivmds[i];

		d = NULL;
		if (m->type == IVRS_IVMD_ALL) {
			snprintf(where, sizeof(where), "every device");
		} else if (m->type == IVRS_IVMD_ONE) {
			d = info_dev(in, 0, m->devid);
			snprintf(where, sizeof(where), "%s", d ? d->name :
				 pci_devid_str(m->devid, a));
		} else {
			snprintf(where, sizeof(where), "devices %s-%s",
				 pci_devid_str(m->devid, a), pci_devid_str(m->aux, b));
		}
		snprintf(range, sizeof(range), "0x%" PRIx64 "+0x%" PRIx64, m->start, m->size);
		if (m->flags & IVMD_EXCLUSION)
			warn_add(in, "reserved-memory",
				 "IVMD %s is an exclusion range for %s: DMA there bypasses the IOMMU",
				 range, where);
		else if (m->flags & IVMD_UNITY)
			warn_pinned(in, "IVMD", range, where,
				    in->have_topo && m->type == IVRS_IVMD_ONE && !d);
	}
}

/* A "direct" region in sysfs pins the group even when ACPI is unreadable. */
static void warn_direct_regions(struct info *in, bool acpi_seen)
{
	const struct topo *t = &in->topo;
	size_t i, j;

	if (acpi_seen)
		return;
	for (i = 0; i < t->ngroups; i++) {
		for (j = 0; j < t->groups[i].nregions; j++) {
			const struct topo_region *r = &t->groups[i].regions[j];

			if (strcmp(r->type, "direct"))
				continue;
			warn_add(in, "reserved-memory",
				 "group %d has a direct-mapped firmware region 0x%" PRIx64 "-0x%" PRIx64 " (RMRR/IVMD): its devices cannot be assigned to a VM",
				 t->groups[i].id, r->start, r->end);
		}
	}
}

static void warn_topo(struct info *in, size_t nacpi)
{
	const struct topo *t = &in->topo;
	size_t ident = topo_groups_of_type(t, "identity");

	if (!t->nunits && nacpi) {
		warn_add(in, "iommu-off",
			 "the firmware describes an IOMMU but the kernel is not using it%s",
			 t->cmd.dma_remap == TOPO_OFF ? " (turned off on the command line)" :
			 " (intel_iommu=on / amd_iommu, or a kernel without the driver?)");
	} else if (!t->nunits && !in->acpi_from_files) {
		warn_add(in, "no-iommu",
			 "no IOMMU: no DMAR/IVRS table found and nothing in /sys/class/iommu");
	}
	if (ident)
		warn_add(in, "passthrough",
			 "%zu of %zu groups are identity-mapped%s: their devices DMA to physical memory without translation or isolation",
			 ident, t->ngroups,
			 t->cmd.passthrough == TOPO_ON ? " (iommu=pt)" : "");
	if (t->nunits && t->ir == TOPO_OFF)
		warn_add(in, "irq-remap-off",
			 "interrupt remapping is off%s: devices can forge MSIs, and VFIO needs allow_unsafe_interrupts",
			 t->cmd.intremap == TOPO_OFF ? " (intremap=off)" : "");
	warn_groups(in);
	if (t->log.faults)
		warn_add(in, "faults",
			 "%zu IOMMU fault%s logged since boot; first: %s",
			 t->log.faults, t->log.faults == 1 ? "" : "s",
			 t->log.nfault ? t->log.fault[0].line : "?");
}

static void warnings_build(struct info *in)
{
	bool acpi_seen = false;
	size_t i, j, nacpi = 0;

	for (i = 0; i < in->ntables; i++) {
		struct info_table *t = &in->tables[i];
		const struct acpi_note *notes = NULL;
		size_t nnotes = 0;

		/* an unreadable table still tells the firmware has an IOMMU */
		nacpi++;
		if (t->err) {
			warn_add(in, "acpi-unreadable", "%s: %s%s", t->source,
				 strerror(t->err), t->err == EACCES ?
				 " (run as root to decode the firmware tables)" : "");
			continue;
		}
		if (t->malformed) {
			warn_add(in, "acpi-malformed", "%s: %s", t->source, t->aerr.msg);
			continue;
		}
		acpi_seen = true;
		if (t->kind == ACPI_DMAR) {
			warn_rmrr(in, &t->dmar);
			notes = t->dmar.notes;
			nnotes = t->dmar.nnotes;
		} else {
			warn_ivmd(in, &t->ivrs);
			notes = t->ivrs.notes;
			nnotes = t->ivrs.nnotes;
		}
		for (j = 0; j < nnotes; j++)
			warn_add(in, "acpi-firmware", "%s offset 0x%x: %s",
				 t->kind == ACPI_DMAR ? "DMAR" : "IVRS",
				 notes[j].offset, notes[j].msg);
	}
	if (in->have_topo) {
		warn_topo(in, nacpi);
		warn_direct_regions(in, acpi_seen);
	}
}

/* ------------------------------------------------------------ loading */

int info_load(struct info *in, const char *const *files, int nfiles, const char *root,
	      bool read_system, char *why, size_t size)
{
	/* a branch and a constant store, not `setg` into the fresh page (see struct info) */
	if (nfiles > 0)
		in->acpi_from_files = true;
	if (tables_load(in, files, nfiles, root, why, size))
		return -1;
	if (read_system) {
		if (topo_read(&in->topo, root, why, size))
			return -1;
		in->have_topo = true;
	}
	warnings_build(in);
	return 0;
}

void info_load_buffer(struct info *in, const uint8_t *buf, size_t len)
{
	in->acpi_from_files = true;
	in->ntables = 1;
	snprintf(in->tables[0].source, sizeof(in->tables[0].source), "(memory)");
	table_decode(&in->tables[0], buf, len);
	warnings_build(in);
}

void info_free(struct info *in)
{
	size_t i;

	for (i = 0; i < in->ntables; i++) {
		dmar_free(&in->tables[i].dmar);
		ivrs_free(&in->tables[i].ivrs);
	}
	if (in->have_topo)
		topo_free(&in->topo);
	free(in->warns);
	free(in);
}

/* ------------------------------------------------ one group, switched live */

static int sysfs_write(const char *path, const char *val, char *why, size_t size)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret)
		snprintf(why, size, "writing '%s' to %s: %s", val, path, strerror(-ret));
	return ret;
}

/* block and net devices of the group's device: gone while unbound */
static void group_children(struct live_group *g)
{
	static const char *const classes[] = { "/sys/class/block", "/sys/class/net" };
	char path[PATH_MAX * 2], real[PATH_MAX];
	unsigned int c;
	struct dirent *de;

	g->nr_children = 0;
	for (c = 0; c < ARRAY_SIZE(classes); c++) {
		DIR *d = opendir(classes[c]);

		while (d && (de = readdir(d)) && g->nr_children < 16) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", classes[c], de->d_name);
			if (!realpath(path, real) || strncmp(real, g->devdir, strlen(g->devdir)) ||
			    real[strlen(g->devdir)] != '/')
				continue;
			snprintf(g->children[g->nr_children++], 64, "%s/%s", classes[c], de->d_name);
		}
		if (d)
			closedir(d);
	}
}

int live_group_open(struct live_group *g, const char *arg, char *why, size_t size)
{
	char path[PATH_MAX + 80], norm[64];
	unsigned long id;
	struct dirent *de;
	int n = 0;
	DIR *d;

	memset(g, 0, sizeof(*g));
	if (it_parse_uint(arg, &id)) {
		/* a device name: its group */
		devfilter_normalize(arg, norm, sizeof(norm));
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", norm);
		if (!realpath(path, g->devdir) || !strrchr(g->devdir, '/') ||
		    it_parse_uint(strrchr(g->devdir, '/') + 1, &id)) {
			snprintf(why, size, "'%s' is neither a group number nor a PCI device in "
				 "an IOMMU group", arg);
			return IT_EXIT_USAGE;
		}
	}
	g->id = id;
	snprintf(g->dir, sizeof(g->dir), "/sys/kernel/iommu_groups/%lu", id);
	snprintf(path, sizeof(path), "%s/type", g->dir);
	if (it_read_file(path, g->orig, sizeof(g->orig)) < 0) {
		snprintf(why, size, "no IOMMU group %lu (%s unreadable: %s)", id, path,
			 strerror(errno));
		return IT_EXIT_USAGE;
	}
	strcpy(g->cur, g->orig);
	snprintf(path, sizeof(path), "%s/devices", g->dir);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (!n++)
			snprintf(g->dev, sizeof(g->dev), "%s", de->d_name);
	}
	if (d)
		closedir(d);
	if (n != 1) {
		snprintf(why, size, "group %lu has %d devices: the kernel changes a group's "
			 "domain type only when it holds exactly one", id, n);
		return IT_EXIT_ERROR;
	}
	if (strcmp(g->orig, "DMA") && strcmp(g->orig, "DMA-FQ")) {
		snprintf(why, size, "group %lu is %s: live compare switches between DMA (strict) "
			 "and DMA-FQ (lazy) only", id, g->orig);
		return IT_EXIT_ERROR;
	}
	snprintf(path, sizeof(path), "%s/devices/%s", g->dir, g->dev);
	if (!realpath(path, g->devdir)) {
		snprintf(why, size, "%s: %s", path, strerror(errno));
		return IT_EXIT_ERROR;
	}
	snprintf(path, sizeof(path), "%s/driver", g->devdir);
	if (realpath(path, g->drvdir))
		snprintf(g->driver, sizeof(g->driver), "%s", strrchr(g->drvdir, '/') + 1);
	else
		g->drvdir[0] = 0;
	group_children(g);
	return 0;
}

static int group_unbind(struct live_group *g, char *why, size_t size)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/unbind", g->drvdir);
	if (sysfs_write(path, g->dev, why, size))
		return -1;
	g->unbound = true;
	return 0;
}

static int group_bind(struct live_group *g, char *why, size_t size)
{
	char path[PATH_MAX + 16];
	double deadline;
	int i;

	snprintf(path, sizeof(path), "%s/bind", g->drvdir);
	if (sysfs_write(path, g->dev, why, size))
		return -1;
	g->unbound = false;
	/* drivers probe asynchronously (nvme scans namespaces in a work item):
	 * wait for the block/net devices the command will use */
	deadline = it_now() + 15;
	for (i = 0; i < g->nr_children; i++) {
		while (access(g->children[i], F_OK) && it_now() < deadline)
			usleep(50000);
		if (access(g->children[i], F_OK))
			it_warn("compare: %s did not come back after binding %s", g->children[i],
				g->driver);
	}
	return 0;
}

/* DMA -> DMA-FQ works with a driver bound (the flush queue is added to the
 * live domain); any other change needs the device unbound: 6.1 refuses with
 * EBUSY ("Device is still bound to driver") */
static bool switch_needs_unbind(const struct live_group *g, const char *to)
{
	return g->drvdir[0] && !(!strcmp(g->cur, "DMA") && !strcmp(to, "DMA-FQ"));
}

int live_group_switch(struct live_group *g, const char *to, bool rebind, char *why,
			size_t size)
{
	char path[PATH_MAX];
	sigset_t block, old;
	int ret = 0;

	if (!strcmp(g->cur, to))
		return 0;
	if (switch_needs_unbind(g, to) && !rebind) {
		snprintf(why, size, "group %d: %s -> %s needs %s unbound from %s (pass --rebind)",
			 g->id, g->cur, to, g->dev, g->driver);
		return -1;
	}
	/* an unbind/write/bind sequence is not left half done by Ctrl-C */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (switch_needs_unbind(g, to))
		ret = group_unbind(g, why, size);
	snprintf(path, sizeof(path), "%s/type", g->dir);
	if (!ret)
		ret = sysfs_write(path, to, why, size);
	if (!ret)
		snprintf(g->cur, sizeof(g->cur), "%s", to);
	/* rebind also after a failed write: the device must not stay driverless */
	if (g->unbound) {
		char why2[256];

		if (group_bind(g, ret ? why2 : why, ret ? sizeof(why2) : size)) {
			if (ret)
				it_warn("compare: %s", why2);
			ret = -1;
		}
	}
	it_read_file(path, g->cur, sizeof(g->cur));
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
