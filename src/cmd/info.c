// SPDX-License-Identifier: GPL-2.0
/*
 * iommutrace info: what IOMMU this machine has and how the kernel uses it.
 * The options, and the tree and JSON renderings of the joined view that
 * src/topology.c builds (firmware tables, the kernel's view, warnings).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "common.h"
#include "json.h"
#include "subcommands.h"
#include "topology.h"

static const char info_usage[] =
"Usage: iommutrace info [-j] [--acpi FILE]... [--sysfs ROOT]\n"
"\n"
"Show the IOMMU topology: remapping units and the devices they cover (ACPI\n"
"DMAR/IVRS), iommu groups with their devices, domain type and reserved\n"
"regions, interrupt remapping, the kernel's IOMMU options, faults logged\n"
"since boot, and warnings about what prevents device assignment.\n"
"\n"
"  -j, --json         one JSON document instead of the tree\n"
"      --acpi FILE    decode this DMAR or IVRS table (repeatable) instead of\n"
"                     /sys/firmware/acpi/tables; the running system is then\n"
"                     not read unless --sysfs is given too\n"
"      --sysfs ROOT   read sys/, proc/ and dev/kmsg below ROOT (default /)\n"
"  -h, --help         this help\n"
"\n"
"Exit status: 0 ok, 1 runtime error, 2 usage error, 8 malformed ACPI table\n"
"(the report is still printed; the error names the table and byte offset).\n"
"\n"
"Examples:\n"
"  sudo iommutrace info                    this machine (root reads the tables)\n"
"  iommutrace info -j | jq '.warnings'     warnings only\n"
"  iommutrace info --acpi DMAR.bin         decode a table from another machine\n";

/* ---------------------------------------------------------------- helpers */

static const char *state_str(int s)
{
	return s == TOPO_ON ? "on" : s == TOPO_OFF ? "off" : "unknown";
}

static void json_state(struct json_writer *jw, const char *key, int s)
{
	if (s == TOPO_UNKNOWN)
		jw_null(jw, key);
	else
		jw_bool(jw, key, s == TOPO_ON);
}

static void json_hex(struct json_writer *jw, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	jw_string(jw, key, buf);
}

static const char *pci_class_name(int64_t class)
{
	static const struct {
		uint16_t cls;
		const char *name;
	} names[] = {
		{ 0x0000, "unclassified" }, { 0x00ff, "unclassified" },
		{ 0x0100, "SCSI" }, { 0x0101, "IDE" }, { 0x0104, "RAID" },
		{ 0x0106, "SATA" }, { 0x0107, "SAS" }, { 0x0108, "NVMe" },
		{ 0x0180, "storage" }, { 0x0200, "Ethernet" },
		{ 0x0207, "InfiniBand" }, { 0x0280, "network" },
		{ 0x0300, "VGA" }, { 0x0302, "3D" }, { 0x0380, "display" },
		{ 0x0401, "audio" }, { 0x0403, "audio" },
		{ 0x0600, "host bridge" }, { 0x0601, "ISA bridge" },
		{ 0x0604, "PCI bridge" }, { 0x0805, "SD host" },
		{ 0x0806, "IOMMU" }, { 0x0880, "system" }, { 0x0c03, "USB" },
		{ 0x0c04, "Fibre Channel" }, { 0x0c05, "SMBus" },
		{ 0x1200, "accelerator" },
	};
	size_t i;

	if (class < 0)
		return NULL;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].cls == (class >> 8))
			return names[i].name;
	}
	return NULL;
}

/* "1b36:0010 NVMe, nvme" for trees; "" parts are left out. */
static char *dev_describe(const struct topo_dev *d, char *buf, size_t len)
{
	const char *cls = pci_class_name(d->class);
	size_t n = 0;

	buf[0] = '\0';
	if (d->vendor >= 0 && d->device >= 0)
		n += snprintf(buf, len, "%04x:%04x", d->vendor, d->device);
	if (cls && n < len)
		n += snprintf(buf + n, len - n, "%s%s", n ? " " : "", cls);
	else if (d->class >= 0 && n < len)
		n += snprintf(buf + n, len - n, "%sclass %04x", n ? " " : "",
			      (unsigned int)(d->class >> 8) & 0xffff);
	if (n < len)
		snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
			 d->driver[0] ? d->driver : "no driver");
	return buf;
}

/* ------------------------------------------------------------ tree */

static void tree_flags(const char *const *names, unsigned int nnames,
		       unsigned int flags)
{
	unsigned int i;

	for (i = 0; i < nnames; i++) {
		if (flags & (1u << i) && names[i])
			printf(" %s", names[i]);
	}
}

static const char *const dmar_flag_names[] = {
	"INTR_REMAP", "X2APIC_OPT_OUT", "DMA_CTRL_PLATFORM_OPT_IN",
};
static const char *const ivhd_flag_names[] = {
	"HtTunEn", "PassPW", "ResPassPW", "Isoc", "IotlbSup", "Coherent",
	"PrefSup", "PPRSup",
};
static const char *const ivmd_flag_names[] = {
	"Unity", "IR", "IW", "ExclusionRange",
};

static void tree_dev_suffix(const struct topo_dev *d)
{
	char desc[160];

	if (!d)
		return;
	printf("  %s  %s, group %d", d->name, dev_describe(d, desc, sizeof(desc)),
	       d->group);
}

static void tree_dmar_scope(const struct info *in, const struct dmar_struct *s,
			    const struct dmar_scope *sc)
{
	char path[DMAR_PATH_MAX * 6 + 16];

	printf("    %-8s %s", dmar_scope_name(sc->type),
	       dmar_scope_path_str(sc, path, sizeof(path)));
	if (sc->type == DMAR_SCOPE_IOAPIC || sc->type == DMAR_SCOPE_HPET ||
	    sc->type == DMAR_SCOPE_ACPI)
		printf("  id %u", sc->enum_id);
	tree_dev_suffix(info_scope_dev(in, s->segment, sc));
	if (sc->type == DMAR_SCOPE_BRIDGE)
		printf("  (and everything below it)");
	putchar('\n');
}

static void tree_dmar(const struct info *in, const struct info_table *it)
{
	const struct dmar_table *t = &it->dmar;
	const struct topo_unit *u;
	size_t i, j;

	printf("  host address width %u bits, flags 0x%x:", t->haw + 1, t->flags);
	tree_flags(dmar_flag_names, 3, t->flags);
	putchar('\n');
	for (i = 0; i < t->nstructs; i++) {
		const struct dmar_struct *s = &t->structs[i];

		switch (s->type) {
		case DMAR_DRHD:
			printf("  DRHD  registers 0x%" PRIx64 ", segment %u, flags 0x%x%s",
			       s->base, s->segment, s->flags,
			       s->flags & DMAR_DRHD_INCLUDE_PCI_ALL ? " INCLUDE_PCI_ALL" : "");
			u = info_unit_for_drhd(in, s);
			if (u)
				printf("  = %s", u->name);
			putchar('\n');
			if (s->flags & DMAR_DRHD_INCLUDE_PCI_ALL)
				printf("    every PCI device of segment %u not under another DRHD\n",
				       s->segment);
			break;
		case DMAR_RMRR:
			printf("  RMRR  0x%" PRIx64 "-0x%" PRIx64 ", segment %u\n",
			       s->base, s->limit, s->segment);
			break;
		case DMAR_ATSR:
			printf("  ATSR  segment %u, flags 0x%x%s\n", s->segment, s->flags,
			       s->flags & DMAR_ATSR_ALL_PORTS ? " ALL_PORTS" : "");
			break;
		case DMAR_SATC:
			printf("  SATC  segment %u, flags 0x%x%s\n", s->segment, s->flags,
			       s->flags & DMAR_SATC_ATC_REQUIRED ? " ATC_REQUIRED" : "");
			break;
		case DMAR_RHSA:
			printf("  RHSA  registers 0x%" PRIx64 " on NUMA proximity domain %u\n",
			       s->base, s->proximity);
			break;
		case DMAR_ANDD:
			printf("  ANDD  ACPI device %u = %s\n", s->acpi_dev, s->acpi_name);
			break;
		default:
			printf("  type %u (%u bytes, not decoded)\n", s->type, s->length);
		}
		for (j = 0; j < s->nscopes; j++)
			tree_dmar_scope(in, s, &s->scopes[j]);
	}
}

static void tree_ivhd_dev(const struct info *in, const struct ivrs_ivhd *h,
			  const struct ivhd_dev *d)
{
	char a[8], b[8];
	size_t i, j, present = 0;

	printf("    %-11s ", ivhd_dev_kind_name(d->kind));
	switch (d->kind) {
	case IVHD_DEV_ALL:
		printf("every device");
		break;
	case IVHD_DEV_SPECIAL:
		printf("%s %u at %s", d->variety == IVHD_SPECIAL_IOAPIC ? "ioapic" :
		       d->variety == IVHD_SPECIAL_HPET ? "hpet" : "variety?",
		       d->handle, pci_devid_str(d->first, a));
		break;
	case IVHD_DEV_ACPI_HID:
		printf("%s%s%s uid %s at %s", d->hid, d->cid[0] ? " cid " : "",
		       d->cid, d->uid && d->uid[0] ? d->uid : "-",
		       pci_devid_str(d->first, a));
		break;
	default:
		if (d->first == d->last) {
			printf("%s", pci_devid_str(d->first, a));
			if (d->first == h->devid)
				printf("  the IOMMU itself");
			tree_dev_suffix(info_dev(in, h->segment, d->first));
		} else {
			printf("%s-%s", pci_devid_str(d->first, a), pci_devid_str(d->last, b));
			for (i = 0; in->have_topo && i < in->topo.ngroups; i++) {
				for (j = 0; j < in->topo.groups[i].ndevs; j++) {
					const struct topo_dev *td = &in->topo.groups[i].devs[j];
					uint16_t id = td->bus << 8 | td->dev << 3 | td->fn;

					present += td->is_pci && td->segment == h->segment &&
						   id >= d->first && id <= d->last;
				}
			}
			if (in->have_topo)
				printf("  (%zu present)", present);
		}
	}
	if (d->kind == IVHD_DEV_ALIAS_SELECT || d->kind == IVHD_DEV_ALIAS_RANGE)
		printf("  requests appear as %s", pci_devid_str(d->alias, a));
	if (d->kind == IVHD_DEV_EXT_SELECT || d->kind == IVHD_DEV_EXT_RANGE)
		printf("  ext 0x%x%s", d->ext,
		       d->ext & IVHD_EXT_ATS_DISABLED ? " (ATS disabled)" : "");
	if (d->dte)
		printf("  DTE 0x%02x", d->dte);
	putchar('\n');
}

static void tree_ivrs(const struct info *in, const struct info_table *it)
{
	const struct ivrs_table *t = &it->ivrs;
	const struct topo_unit *u;
	char a[8], b[8];
	size_t i, j;

	printf("  IVinfo 0x%x: physical address %u bits, virtual %u bits, guest virtual %u bits%s%s\n",
	       t->ivinfo, IVINFO_PA_SIZE(t->ivinfo), IVINFO_VA_SIZE(t->ivinfo),
	       IVINFO_GVA_SIZE(t->ivinfo), t->ivinfo & IVINFO_EFR_SUP ? ", EFRSup" : "",
	       t->ivinfo & IVINFO_DMA_REMAP ? ", pre-boot DMA remap" : "");
	for (i = 0; i < t->nivhds; i++) {
		const struct ivrs_ivhd *h = &t->ivhds[i];

		printf("  IVHD type 0x%02x  IOMMU %04x:%s, registers 0x%" PRIx64 ", flags 0x%02x:",
		       h->type, h->segment, pci_devid_str(h->devid, a), h->base, h->flags);
		tree_flags(ivhd_flag_names, 8, h->flags);
		u = info_unit_for_ivhd(in, h);
		if (u)
			printf("  = %s", u->name);
		putchar('\n');
		if (h->has_efr)
			printf("    EFR image 0x%" PRIx64 ", EFR2 0x%" PRIx64 "\n", h->efr, h->efr2);
		for (j = 0; j < h->ndevs; j++)
			tree_ivhd_dev(in, h, &h->devs[j]);
	}
	for (i = 0; i < t->nivmds; i++) {
		const struct ivrs_ivmd *m = &t->ivmds[i];

		printf("  IVMD type 0x%02x  0x%" PRIx64 " + 0x%" PRIx64 " for ", m->type,
		       m->start, m->size);
		if (m->type == IVRS_IVMD_ALL)
			printf("every device");
		else if (m->type == IVRS_IVMD_ONE)
			printf("%s", pci_devid_str(m->devid, a));
		else
			printf("%s-%s", pci_devid_str(m->devid, a), pci_devid_str(m->aux, b));
		printf(", flags 0x%x:", m->flags);
		tree_flags(ivmd_flag_names, 4, m->flags);
		putchar('\n');
	}
}

static void tree_tables(const struct info *in)
{
	size_t i;

	for (i = 0; i < in->ntables; i++) {
		const struct info_table *t = &in->tables[i];
		const struct acpi_header *h = t->kind == ACPI_DMAR ? &t->dmar.hdr :
					      &t->ivrs.hdr;

		putchar('\n');
		if (t->err) {
			printf("ACPI %s  %s: %s\n", t->kind == ACPI_DMAR ? "DMAR" : "IVRS",
			       t->source, strerror(t->err));
			continue;
		}
		if (t->malformed) {
			printf("ACPI table  %s: malformed: %s\n", t->source, t->aerr.msg);
			continue;
		}
		printf("ACPI %s  %s  %u bytes, revision %u, %s %s, checksum %s\n",
		       h->signature, t->source, h->length, h->revision, h->oem_id,
		       h->oem_table_id, h->checksum_ok ? "ok" : "BAD");
		if (t->kind == ACPI_DMAR)
			tree_dmar(in, t);
		else
			tree_ivrs(in, t);
	}
}

static void tree_unit(const struct topo_unit *u)
{
	const char *names[64];
	char sagaw[80];
	size_t n, i;

	printf("  %s", u->name);
	if (u->kind == TOPO_UNIT_INTEL) {
		printf("  Intel VT-d %s, registers 0x%" PRIx64 ", %zu devices\n",
		       u->version, u->address, u->ndevices);
		printf("    cap  0x%016" PRIx64 "  MGAW %u bits, SAGAW %s, %lu domain ids",
		       u->cap, intel_cap_mgaw(u->cap),
		       intel_cap_sagaw_str(u->cap, sagaw, sizeof(sagaw)),
		       intel_cap_ndoms(u->cap));
		if (u->domains_used >= 0)
			printf(" (%ld used)", u->domains_used);
		printf(", %u fault register%s\n        ", intel_cap_nfr(u->cap),
		       intel_cap_nfr(u->cap) == 1 ? "" : "s");
		n = intel_cap_features(u->cap, names, 64);
		for (i = 0; i < n && i < 64; i++)
			printf(" %s", names[i]);
		printf("\n    ecap 0x%016" PRIx64 " ", u->ecap);
		n = intel_ecap_features(u->ecap, names, 64);
		for (i = 0; i < n && i < 64; i++)
			printf(" %s", names[i]);
		putchar('\n');
	} else if (u->kind == TOPO_UNIT_AMD) {
		printf("  AMD-Vi, PCI function %s\n", u->pci_dev[0] ? u->pci_dev : "?");
		printf("    cap  0x%08x ", u->amd_cap);
		n = amd_cap_features(u->amd_cap, names, 64);
		for (i = 0; i < n && i < 64; i++)
			printf(" %s", names[i]);
		printf("\n    EFR  0x%" PRIx64 " (EFR2 0x%" PRIx64 ") ", u->amd_efr, u->amd_efr2);
		n = amd_efr_features(u->amd_efr, names, 64);
		for (i = 0; i < n && i < 64; i++)
			printf(" %s", names[i]);
		/* HATS: host page tables may have 4 + HATS levels */
		printf("  HATS %u (%u-level page tables), GATS %u\n",
		       (unsigned int)(u->amd_efr >> 10) & 3,
		       4 + ((unsigned int)(u->amd_efr >> 10) & 3),
		       (unsigned int)(u->amd_efr >> 12) & 3);
	} else {
		printf("  %zu devices\n", u->ndevices);
	}
}

static const char *group_mode(const char *type)
{
	if (!strcmp(type, "DMA"))
		return "translated, strict";
	if (!strcmp(type, "DMA-FQ"))
		return "translated, lazy";
	if (!strcmp(type, "identity"))
		return "passthrough";
	if (!strcmp(type, "unmanaged"))
		return "owned by a user (VFIO)";
	if (!strcmp(type, "blocked"))
		return "DMA blocked";
	return "";
}

static void tree_groups(const struct topo *t)
{
	char desc[160];
	size_t i, j;

	if (!t->ngroups)
		return;
	printf("\nGroups\n");
	for (i = 0; i < t->ngroups; i++) {
		const struct topo_group *g = &t->groups[i];

		printf("  group %-3d %-9s %s\n", g->id, g->type[0] ? g->type : "?",
		       group_mode(g->type));
		for (j = 0; j < g->ndevs; j++) {
			const struct topo_dev *d = &g->devs[j];

			printf("    %-14s %s", d->name, dev_describe(d, desc, sizeof(desc)));
			if (d->unit[0])
				printf("  via %s", d->unit);
			putchar('\n');
		}
		for (j = 0; j < g->nregions; j++)
			printf("    reserved 0x%" PRIx64 "-0x%" PRIx64 " %s\n",
			       g->regions[j].start, g->regions[j].end, g->regions[j].type);
	}
}

static void fault_dev_str(const struct topo *t, const char *name, char *buf,
			  size_t len)
{
	const struct topo_dev *d, *behind;
	char desc[160];

	d = topo_fault_dev(t, name, &behind);
	if (d)
		snprintf(buf, len, "%s, group %d", dev_describe(d, desc, sizeof(desc)),
			 d->group);
	else if (behind)
		snprintf(buf, len, "no such device: the requester ID of the devices behind a PCIe-to-PCI bridge (group %d)",
			 behind->group);
	else
		snprintf(buf, len, "not present");
}

static void tree_faults(const struct topo *t)
{
	char note[256];
	size_t i;

	if (!t->log.faults)
		return;
	printf("\nFaults since boot (kernel log): %zu\n", t->log.faults);
	for (i = 0; i < t->log.nby_dev; i++) {
		const struct topo_fault_dev *f = &t->log.by_dev[i];

		if (!f->device[0]) {
			printf("  %-14s %zu\n", "other devices", f->count);
			continue;
		}
		fault_dev_str(t, f->device, note, sizeof(note));
		printf("  %-14s %zu  (%s)\n", f->device, f->count, note);
	}
	if (t->log.faults > t->log.nfault)
		printf("  first %zu messages:\n", t->log.nfault);
	for (i = 0; i < t->log.nfault; i++)
		printf("  %s\n", t->log.fault[i].line);
}

static void tree_summary(const struct info *in)
{
	const struct topo *t = &in->topo;
	const char *v = info_vendor_name(in);
	size_t i, nfq, nstrict, nident;

	printf("IOMMU: %s", !strcmp(v, "intel") ? "Intel VT-d" : !strcmp(v, "amd") ?
	       "AMD-Vi" : v);
	if (!in->have_topo) {
		printf(" (firmware tables only)\n");
		return;
	}
	if (!t->nunits && strcmp(v, "none"))
		printf(" (described by the firmware, not in use by the kernel)\n");
	else
		printf(", %zu unit%s, %zu groups, %zu devices\n", t->nunits,
		       t->nunits == 1 ? "" : "s", t->ngroups, topo_ndevs(t));
	if (t->kernel[0])
		printf("  kernel            %s%s%s\n", t->kernel,
		       t->config_default[0] ? ", built with default " : "",
		       t->config_default);
	printf("  command line     ");
	for (i = 0; i < t->cmd.nargs; i++)
		printf(" %s", t->cmd.args[i]);
	printf("%s\n", t->cmd.nargs ? "" : " (no IOMMU options)");
	nfq = topo_groups_of_type(t, "DMA-FQ");
	nstrict = topo_groups_of_type(t, "DMA");
	nident = topo_groups_of_type(t, "identity");
	printf("  DMA domains       %zu lazy (DMA-FQ), %zu strict (DMA), %zu passthrough (identity), %zu other\n",
	       nfq, nstrict, nident, t->ngroups - nfq - nstrict - nident);
	if (t->log.domain_type[0] || t->log.tlb_policy[0])
		printf("  kernel says       %s%s%s\n", t->log.domain_type,
		       t->log.domain_type[0] && t->log.tlb_policy[0] ? "; " : "",
		       t->log.tlb_policy);
	if (t->log.strict_forced[0])
		printf("                    %s\n", t->log.strict_forced);
	printf("  interrupt remap   %s%s%s%s\n", state_str(t->ir),
	       t->ir_source[0] ? " (from " : "", t->ir_source, t->ir_source[0] ? ")" : "");
	if (t->log.readable)
		printf("  faults logged     %zu since boot\n", t->log.faults);
	else
		printf("  faults logged     unknown (/dev/kmsg: %s)\n", strerror(t->log.err));
}

static void tree_print(const struct info *in)
{
	size_t i;

	tree_summary(in);
	tree_tables(in);
	if (in->have_topo && in->topo.nunits) {
		printf("\nUnits\n");
		for (i = 0; i < in->topo.nunits; i++)
			tree_unit(&in->topo.units[i]);
	}
	if (in->have_topo) {
		tree_groups(&in->topo);
		tree_faults(&in->topo);
	}
	if (in->nwarns) {
		printf("\nWarnings\n");
		for (i = 0; i < in->nwarns; i++)
			printf("  ! %s\n", in->warns[i].msg);
	}
}

/* ------------------------------------------------------------ JSON */

static void json_names(struct json_writer *jw, const char *key,
		       const char *const *names, size_t n)
{
	size_t i;

	jw_begin_array(jw, key);
	for (i = 0; i < n; i++)
		jw_string(jw, NULL, names[i]);
	jw_end_array(jw);
}

static void json_flag_names(struct json_writer *jw, const char *key,
			    const char *const *names, unsigned int nnames,
			    unsigned int flags)
{
	unsigned int i;

	jw_begin_array(jw, key);
	for (i = 0; i < nnames; i++) {
		if (flags & (1u << i))
			jw_string(jw, NULL, names[i]);
	}
	jw_end_array(jw);
}

static void json_dev_ref(struct json_writer *jw, const char *key,
			 const struct topo_dev *d)
{
	if (!d) {
		jw_null(jw, key);
		return;
	}
	jw_begin_object(jw, key);
	jw_string(jw, "name", d->name);
	jw_i64(jw, "group", d->group);
	jw_end_object(jw);
}

static void json_acpi_header(struct json_writer *jw, const struct acpi_header *h)
{
	jw_string(jw, "signature", h->signature);
	jw_u64(jw, "length", h->length);
	jw_u64(jw, "revision", h->revision);
	jw_string(jw, "oem_id", h->oem_id);
	jw_string(jw, "oem_table_id", h->oem_table_id);
	jw_u64(jw, "oem_revision", h->oem_revision);
	jw_string(jw, "creator_id", h->creator_id);
	jw_bool(jw, "checksum_ok", h->checksum_ok);
}

static void json_notes(struct json_writer *jw, const struct acpi_note *notes,
		       size_t n)
{
	size_t i;

	jw_begin_array(jw, "notes");
	for (i = 0; i < n; i++) {
		jw_begin_object(jw, NULL);
		jw_u64(jw, "offset", notes[i].offset);
		jw_string(jw, "message", notes[i].msg);
		jw_end_object(jw);
	}
	jw_end_array(jw);
}

static void json_dmar(struct json_writer *jw, const struct info *in,
		      const struct dmar_table *t)
{
	char path[DMAR_PATH_MAX * 6 + 16], hop[8];
	const struct topo_unit *u;
	size_t i, j, k;

	json_acpi_header(jw, &t->hdr);
	jw_u64(jw, "host_address_width", t->haw + 1u);
	jw_u64(jw, "flags", t->flags);
	json_flag_names(jw, "flag_names", dmar_flag_names, 3, t->flags);
	jw_begin_array(jw, "structures");
	for (i = 0; i < t->nstructs; i++) {
		const struct dmar_struct *s = &t->structs[i];

		jw_begin_object(jw, NULL);
		jw_string(jw, "type", dmar_struct_name(s->type));
		jw_u64(jw, "type_id", s->type);
		jw_u64(jw, "offset", s->offset);
		jw_u64(jw, "length", s->length);
		switch (s->type) {
		case DMAR_DRHD:
			jw_u64(jw, "flags", s->flags);
			jw_bool(jw, "include_pci_all", s->flags & DMAR_DRHD_INCLUDE_PCI_ALL);
			jw_u64(jw, "segment", s->segment);
			json_hex(jw, "base", s->base);
			u = info_unit_for_drhd(in, s);
			if (u)
				jw_string(jw, "unit", u->name);
			else
				jw_null(jw, "unit");
			break;
		case DMAR_RMRR:
			jw_u64(jw, "segment", s->segment);
			json_hex(jw, "base", s->base);
			json_hex(jw, "limit", s->limit);
			break;
		case DMAR_ATSR:
		case DMAR_SATC:
			jw_u64(jw, "flags", s->flags);
			jw_u64(jw, "segment", s->segment);
			break;
		case DMAR_RHSA:
			json_hex(jw, "base", s->base);
			jw_u64(jw, "proximity_domain", s->proximity);
			break;
		case DMAR_ANDD:
			jw_u64(jw, "acpi_device", s->acpi_dev);
			jw_string(jw, "acpi_name", s->acpi_name);
			break;
		}
		if (s->type == DMAR_DRHD || s->type == DMAR_RMRR ||
		    s->type == DMAR_ATSR || s->type == DMAR_SATC) {
			jw_begin_array(jw, "scopes");
			for (j = 0; j < s->nscopes; j++) {
				const struct dmar_scope *sc = &s->scopes[j];

				jw_begin_object(jw, NULL);
				jw_string(jw, "type", dmar_scope_name(sc->type));
				jw_u64(jw, "offset", sc->offset);
				jw_u64(jw, "enumeration_id", sc->enum_id);
				jw_u64(jw, "start_bus", sc->start_bus);
				jw_begin_array(jw, "path");
				for (k = 0; k < sc->path_len; k++) {
					snprintf(hop, sizeof(hop), "%02x.%x", sc->path[k].dev,
						 sc->path[k].fn);
					jw_string(jw, NULL, hop);
				}
				jw_end_array(jw);
				jw_string(jw, "bdf", dmar_scope_path_str(sc, path, sizeof(path)));
				json_dev_ref(jw, "device", info_scope_dev(in, s->segment, sc));
				jw_end_object(jw);
			}
			jw_end_array(jw);
		}
		jw_end_object(jw);
	}
	jw_end_array(jw);
	json_notes(jw, t->notes, t->nnotes);
}

static void json_ivhd_dev(struct json_writer *jw, const struct info *in,
			  const struct ivrs_ivhd *h, const struct ivhd_dev *d)
{
	char a[8];

	jw_begin_object(jw, NULL);
	jw_string(jw, "kind", ivhd_dev_kind_name(d->kind));
	jw_u64(jw, "type", d->type);
	jw_u64(jw, "offset", d->offset);
	jw_string(jw, "first", pci_devid_str(d->first, a));
	jw_string(jw, "last", pci_devid_str(d->last, a));
	jw_u64(jw, "dte", d->dte);
	switch (d->kind) {
	case IVHD_DEV_ALIAS_SELECT:
	case IVHD_DEV_ALIAS_RANGE:
		jw_string(jw, "alias", pci_devid_str(d->alias, a));
		break;
	case IVHD_DEV_EXT_SELECT:
	case IVHD_DEV_EXT_RANGE:
		jw_u64(jw, "ext", d->ext);
		break;
	case IVHD_DEV_SPECIAL:
		jw_string(jw, "variety", d->variety == IVHD_SPECIAL_IOAPIC ? "ioapic" :
			  d->variety == IVHD_SPECIAL_HPET ? "hpet" : "unknown");
		jw_u64(jw, "handle", d->handle);
		break;
	case IVHD_DEV_ACPI_HID:
		jw_string(jw, "hid", d->hid);
		jw_string(jw, "cid", d->cid);
		jw_u64(jw, "uid_format", d->uid_format);
		jw_string(jw, "uid", d->uid ? d->uid : "");
		break;
	}
	if (d->first == d->last && d->kind != IVHD_DEV_SPECIAL &&
	    d->kind != IVHD_DEV_ACPI_HID)
		json_dev_ref(jw, "device", info_dev(in, h->segment, d->first));
	jw_end_object(jw);
}

static void json_ivrs(struct json_writer *jw, const struct info *in,
		      const struct ivrs_table *t)
{
	const struct topo_unit *u;
	char a[8];
	size_t i, j;

	json_acpi_header(jw, &t->hdr);
	jw_u64(jw, "ivinfo", t->ivinfo);
	jw_u64(jw, "pa_size", IVINFO_PA_SIZE(t->ivinfo));
	jw_u64(jw, "va_size", IVINFO_VA_SIZE(t->ivinfo));
	jw_u64(jw, "gva_size", IVINFO_GVA_SIZE(t->ivinfo));
	jw_bool(jw, "efr_sup", t->ivinfo & IVINFO_EFR_SUP);
	jw_bool(jw, "preboot_dma_remap", t->ivinfo & IVINFO_DMA_REMAP);
	jw_begin_array(jw, "ivhd");
	for (i = 0; i < t->nivhds; i++) {
		const struct ivrs_ivhd *h = &t->ivhds[i];

		jw_begin_object(jw, NULL);
		jw_u64(jw, "type", h->type);
		jw_u64(jw, "offset", h->offset);
		jw_u64(jw, "flags", h->flags);
		json_flag_names(jw, "flag_names", ivhd_flag_names, 8, h->flags);
		jw_string(jw, "devid", pci_devid_str(h->devid, a));
		jw_u64(jw, "cap_offset", h->cap_offset);
		json_hex(jw, "base", h->base);
		jw_u64(jw, "segment", h->segment);
		jw_u64(jw, "info", h->info);
		jw_u64(jw, "attributes", h->attr);
		if (h->has_efr) {
			json_hex(jw, "efr", h->efr);
			json_hex(jw, "efr2", h->efr2);
		}
		u = info_unit_for_ivhd(in, h);
		if (u)
			jw_string(jw, "unit", u->name);
		else
			jw_null(jw, "unit");
		jw_begin_array(jw, "devices");
		for (j = 0; j < h->ndevs; j++)
			json_ivhd_dev(jw, in, h, &h->devs[j]);
		jw_end_array(jw);
		jw_end_object(jw);
	}
	jw_end_array(jw);
	jw_begin_array(jw, "ivmd");
	for (i = 0; i < t->nivmds; i++) {
		const struct ivrs_ivmd *m = &t->ivmds[i];

		jw_begin_object(jw, NULL);
		jw_u64(jw, "type", m->type);
		jw_u64(jw, "offset", m->offset);
		jw_u64(jw, "flags", m->flags);
		json_flag_names(jw, "flag_names", ivmd_flag_names, 4, m->flags);
		jw_string(jw, "devid", pci_devid_str(m->devid, a));
		jw_string(jw, "devid_last", pci_devid_str(m->type == IVRS_IVMD_RANGE ?
							   m->aux : m->devid, a));
		json_hex(jw, "start", m->start);
		json_hex(jw, "size", m->size);
		jw_end_object(jw);
	}
	jw_end_array(jw);
	json_notes(jw, t->notes, t->nnotes);
}

static void json_tables(struct json_writer *jw, const struct info *in)
{
	size_t i;

	jw_begin_array(jw, "acpi");
	for (i = 0; i < in->ntables; i++) {
		const struct info_table *t = &in->tables[i];

		jw_begin_object(jw, NULL);
		jw_string(jw, "source", t->source);
		jw_string(jw, "kind", t->kind == ACPI_DMAR ? "DMAR" :
			  t->kind == ACPI_IVRS ? "IVRS" : "unknown");
		if (t->err) {
			jw_string(jw, "error", strerror(t->err));
		} else if (t->malformed) {
			jw_begin_object(jw, "error");
			jw_u64(jw, "offset", t->aerr.offset);
			jw_string(jw, "message", t->aerr.msg);
			jw_end_object(jw);
		} else {
			jw_null(jw, "error");
			if (t->kind == ACPI_DMAR)
				json_dmar(jw, in, &t->dmar);
			else
				json_ivrs(jw, in, &t->ivrs);
		}
		jw_end_object(jw);
	}
	jw_end_array(jw);
}

static void json_unit(struct json_writer *jw, const struct topo_unit *u)
{
	const char *names[64];
	char sagaw[80];
	size_t n;

	jw_begin_object(jw, NULL);
	jw_string(jw, "name", u->name);
	jw_string(jw, "kind", u->kind == TOPO_UNIT_INTEL ? "intel" :
		  u->kind == TOPO_UNIT_AMD ? "amd" : "other");
	jw_u64(jw, "devices", u->ndevices);
	if (u->kind == TOPO_UNIT_INTEL) {
		json_hex(jw, "address", u->address);
		jw_string(jw, "version", u->version);
		json_hex(jw, "cap", u->cap);
		json_hex(jw, "ecap", u->ecap);
		n = intel_cap_features(u->cap, names, 64);
		json_names(jw, "cap_features", names, n < 64 ? n : 64);
		n = intel_ecap_features(u->ecap, names, 64);
		json_names(jw, "ecap_features", names, n < 64 ? n : 64);
		jw_u64(jw, "mgaw", intel_cap_mgaw(u->cap));
		jw_string(jw, "sagaw", intel_cap_sagaw_str(u->cap, sagaw, sizeof(sagaw)));
		jw_u64(jw, "domain_ids", intel_cap_ndoms(u->cap));
		jw_u64(jw, "fault_registers", intel_cap_nfr(u->cap));
		if (u->domains_used >= 0)
			jw_i64(jw, "domains_used", u->domains_used);
		else
			jw_null(jw, "domains_used");
	} else if (u->kind == TOPO_UNIT_AMD) {
		jw_string(jw, "pci_function", u->pci_dev);
		json_hex(jw, "cap", u->amd_cap);
		n = amd_cap_features(u->amd_cap, names, 64);
		json_names(jw, "cap_features", names, n < 64 ? n : 64);
		json_hex(jw, "efr", u->amd_efr);
		json_hex(jw, "efr2", u->amd_efr2);
		n = amd_efr_features(u->amd_efr, names, 64);
		json_names(jw, "efr_features", names, n < 64 ? n : 64);
		jw_u64(jw, "hats", (u->amd_efr >> 10) & 3);
		jw_u64(jw, "gats", (u->amd_efr >> 12) & 3);
	}
	jw_end_object(jw);
}

static void json_groups(struct json_writer *jw, const struct topo *t)
{
	size_t i, j;

	jw_begin_array(jw, "groups");
	for (i = 0; i < t->ngroups; i++) {
		const struct topo_group *g = &t->groups[i];

		jw_begin_object(jw, NULL);
		jw_i64(jw, "id", g->id);
		jw_string(jw, "type", g->type);
		jw_begin_array(jw, "devices");
		for (j = 0; j < g->ndevs; j++) {
			const struct topo_dev *d = &g->devs[j];
			char hex[12];

			jw_begin_object(jw, NULL);
			jw_string(jw, "name", d->name);
			jw_bool(jw, "pci", d->is_pci);
			if (d->vendor >= 0) {
				snprintf(hex, sizeof(hex), "%04x", d->vendor);
				jw_string(jw, "vendor", hex);
			} else {
				jw_null(jw, "vendor");
			}
			if (d->device >= 0) {
				snprintf(hex, sizeof(hex), "%04x", d->device);
				jw_string(jw, "device", hex);
			} else {
				jw_null(jw, "device");
			}
			if (d->class >= 0) {
				snprintf(hex, sizeof(hex), "%06x", (unsigned int)(d->class & 0xffffff));
				jw_string(jw, "class", hex);
			} else {
				jw_null(jw, "class");
			}
			jw_string(jw, "driver", d->driver[0] ? d->driver : NULL);
			jw_string(jw, "unit", d->unit[0] ? d->unit : NULL);
			jw_end_object(jw);
		}
		jw_end_array(jw);
		jw_begin_array(jw, "reserved_regions");
		for (j = 0; j < g->nregions; j++) {
			jw_begin_object(jw, NULL);
			json_hex(jw, "start", g->regions[j].start);
			json_hex(jw, "end", g->regions[j].end);
			jw_string(jw, "type", g->regions[j].type);
			jw_end_object(jw);
		}
		jw_end_array(jw);
		jw_end_object(jw);
	}
	jw_end_array(jw);
}

static void json_kernel(struct json_writer *jw, const struct topo *t)
{
	size_t i;

	jw_begin_object(jw, "kernel");
	jw_string(jw, "release", t->kernel[0] ? t->kernel : NULL);
	jw_string(jw, "config_default", t->config_default[0] ? t->config_default : NULL);
	jw_begin_object(jw, "cmdline");
	jw_begin_array(jw, "iommu_args");
	for (i = 0; i < t->cmd.nargs; i++)
		jw_string(jw, NULL, t->cmd.args[i]);
	jw_end_array(jw);
	json_state(jw, "passthrough", t->cmd.passthrough);
	json_state(jw, "strict", t->cmd.strict);
	json_state(jw, "intremap", t->cmd.intremap);
	json_state(jw, "dma_remap", t->cmd.dma_remap);
	jw_end_object(jw);
	jw_string(jw, "interrupt_remapping", state_str(t->ir));
	jw_string(jw, "interrupt_remapping_source", t->ir_source[0] ? t->ir_source : NULL);
	jw_begin_object(jw, "log");
	jw_bool(jw, "readable", t->log.readable);
	jw_string(jw, "error", t->log.readable ? NULL : strerror(t->log.err));
	jw_string(jw, "default_domain", t->log.domain_type[0] ? t->log.domain_type : NULL);
	jw_string(jw, "tlb_policy", t->log.tlb_policy[0] ? t->log.tlb_policy : NULL);
	jw_string(jw, "strict_forced", t->log.strict_forced[0] ? t->log.strict_forced : NULL);
	jw_string(jw, "interrupt_remapping", t->log.ir_line[0] ? t->log.ir_line : NULL);
	jw_end_object(jw);
	jw_end_object(jw);
}

static void json_faults(struct json_writer *jw, const struct topo *t)
{
	size_t i;

	jw_begin_object(jw, "faults");
	jw_bool(jw, "readable", t->log.readable);
	if (t->log.readable)
		jw_u64(jw, "count", t->log.faults);
	else
		jw_null(jw, "count");
	jw_u64(jw, "dmar", t->log.dmar_faults);
	jw_u64(jw, "amd_vi", t->log.amdvi_events);
	jw_begin_array(jw, "by_device");
	for (i = 0; i < t->log.nby_dev; i++) {
		const struct topo_dev *d, *behind;

		jw_begin_object(jw, NULL);
		jw_string(jw, "device", t->log.by_dev[i].device[0] ?
			  t->log.by_dev[i].device : NULL);
		jw_u64(jw, "count", t->log.by_dev[i].count);
		d = topo_fault_dev(t, t->log.by_dev[i].device, &behind);
		json_dev_ref(jw, "sysfs_device", d);
		if (!d && behind)
			jw_i64(jw, "behind_bridge_group", behind->group);
		jw_end_object(jw);
	}
	jw_end_array(jw);
	jw_begin_array(jw, "events");
	for (i = 0; i < t->log.nfault; i++) {
		jw_begin_object(jw, NULL);
		jw_string(jw, "device", t->log.fault[i].device);
		jw_string(jw, "kind", t->log.fault[i].kind);
		jw_string(jw, "message", t->log.fault[i].line);
		jw_end_object(jw);
	}
	jw_end_array(jw);
	jw_end_object(jw);
}

static void json_print(const struct info *in)
{
	struct json_writer jw;
	const struct topo *t = &in->topo;
	size_t i;

	jw_init(&jw, stdout);
	jw_begin_object(&jw, NULL);
	jw_begin_object(&jw, "summary");
	jw_string(&jw, "vendor", info_vendor_name(in));
	jw_bool(&jw, "live", in->have_topo);
	if (in->have_topo) {
		jw_u64(&jw, "units", t->nunits);
		jw_u64(&jw, "groups", t->ngroups);
		jw_u64(&jw, "devices", topo_ndevs(t));
		jw_u64(&jw, "groups_dma_fq", topo_groups_of_type(t, "DMA-FQ"));
		jw_u64(&jw, "groups_dma", topo_groups_of_type(t, "DMA"));
		jw_u64(&jw, "groups_identity", topo_groups_of_type(t, "identity"));
		jw_string(&jw, "interrupt_remapping", state_str(t->ir));
		if (t->log.readable)
			jw_u64(&jw, "faults", t->log.faults);
		else
			jw_null(&jw, "faults");
	}
	jw_end_object(&jw);
	json_tables(&jw, in);
	if (in->have_topo) {
		json_kernel(&jw, t);
		jw_begin_array(&jw, "units");
		for (i = 0; i < t->nunits; i++)
			json_unit(&jw, &t->units[i]);
		jw_end_array(&jw);
		json_groups(&jw, t);
		json_faults(&jw, t);
	}
	jw_begin_array(&jw, "warnings");
	for (i = 0; i < in->nwarns; i++) {
		jw_begin_object(&jw, NULL);
		jw_string(&jw, "kind", in->warns[i].kind);
		jw_string(&jw, "message", in->warns[i].msg);
		jw_end_object(&jw);
	}
	jw_end_array(&jw);
	jw_end_object(&jw);
	jw_finish(&jw);
}

/* ------------------------------------------------------------ command */

/*
 * Decode one table held in memory and print it as `info --acpi` would,
 * without reading the system. Returns the exit code. The fuzzer drives the
 * renderers through this; it writes to stdout only.
 */
int info_print_table(const uint8_t *buf, size_t len, bool json)
{
	struct info *in = calloc(1, sizeof(*in));
	int ret;

	if (!in)
		return IT_EXIT_ERROR;
	info_load_buffer(in, buf, len);
	if (json)
		json_print(in);
	else
		tree_print(in);
	ret = in->tables[0].malformed ? IT_EXIT_BAD_TABLE : IT_EXIT_OK;
	info_free(in);
	return ret;
}

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "iommutrace info: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'iommutrace info --help'.\n");
	return IT_EXIT_USAGE;
}

int cmd_info(int argc, char **argv)
{
	const char *acpi[INFO_MAX_TABLES] = { NULL }, *root = "/", *val;
	bool json = false, root_given = false, malformed = false;
	char msg[PATH_MAX + 128];
	struct info *in;
	int k, nacpi = 0, ret = IT_EXIT_OK;
	size_t i;

	/* a plain loop: four options, each spelt -x, --long VALUE or --long=VALUE */
	for (k = 1; k < argc; k++) {
		const char *a = argv[k];

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(info_usage, stdout);
			return IT_EXIT_OK;
		} else if (!strncmp(a, "--acpi", 6) && (a[6] == '\0' || a[6] == '=')) {
			val = a[6] == '=' ? a + 7 : (k + 1 < argc ? argv[++k] : NULL);
			if (!val)
				return usage_error("option '--acpi' needs an argument");
			if (!val[0])
				return usage_error("--acpi needs a file name");
			if (nacpi == INFO_MAX_TABLES)
				return usage_error("at most %d --acpi files", INFO_MAX_TABLES);
			acpi[nacpi++] = val;
		} else if (!strncmp(a, "--sysfs", 7) && (a[7] == '\0' || a[7] == '=')) {
			val = a[7] == '=' ? a + 8 : (k + 1 < argc ? argv[++k] : NULL);
			if (!val)
				return usage_error("option '--sysfs' needs an argument");
			if (!val[0])
				return usage_error("--sysfs needs a directory");
			root = val;
			root_given = true;
		} else if (a[0] == '-') {
			return usage_error("unknown option '%s'", a);
		} else {
			return usage_error("unexpected argument '%s'", a);
		}
	}

	in = calloc(1, sizeof(*in));
	if (!in) {
		fprintf(stderr, "iommutrace info: out of memory\n");
		return IT_EXIT_ERROR;
	}
	/* the system is read unless only --acpi files are given */
	if (info_load(in, acpi, nacpi, root, !nacpi || root_given, msg, sizeof(msg))) {
		fprintf(stderr, "iommutrace info: %s\n", msg);
		ret = IT_EXIT_ERROR;
		goto out;
	}
	if (json)
		json_print(in);
	else
		tree_print(in);
	fflush(stdout);

	for (i = 0; i < in->ntables; i++) {
		if (in->tables[i].malformed) {
			fprintf(stderr, "iommutrace info: %s: malformed ACPI table: %s\n",
				in->tables[i].source, in->tables[i].aerr.msg);
			malformed = true;
		}
	}
	if (malformed)
		ret = IT_EXIT_BAD_TABLE;
out:
	info_free(in);
	return ret;
}
