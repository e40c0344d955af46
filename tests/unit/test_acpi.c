// SPDX-License-Identifier: GPL-2.0
/*
 * DMAR and IVRS parsers (src/acpi.c) against real tables captured from
 * QEMU 7.2 guests, checked against what the guest kernel itself logged
 * about them (dev/kmsg of the tests/fixtures/sysfs-NAME trees); against
 * hand-built tables using every structure and entry type
 * (tests/fixtures/acpi/make-tables.py documents each); and against
 * malformed tables, which must be rejected at the right offset. Sweeps over
 * every truncation and many byte mutations of the valid tables check that a
 * failure always names an offset inside the input (the fuzzer,
 * tests/fuzz/fuzz_acpi.c, does this at scale).
 */
#include <stdlib.h>
#include <sys/stat.h>

#include "unit.h"
#include "acpi.h"

/* A fixture file, whole; NULL (and a failed check) when unreadable. */
static uint8_t *load(const char *rel, size_t *len)
{
	char path[700];
	uint8_t *buf = NULL;
	long n;
	FILE *f;

	snprintf(path, sizeof(path), "%s", unit_fixture(rel));
	f = fopen(path, "rb");
	if (f && !fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)) {
		buf = malloc(n + 1);
		if (buf && fread(buf, 1, n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[n] = 0;
			*len = n;
		}
	}
	if (f)
		fclose(f);
	if (!buf)
		CHECK(0, "fixture %s readable", path);
	return buf;
}

/* The first line of a kmsg fixture containing key, from key on. */
static const char *kmsg_find(const char *kmsg, const char *key, char *out, size_t len)
{
	const char *p = strstr(kmsg, key), *e;

	if (!p)
		return NULL;
	e = strchr(p, '\n');
	if (!e)
		e = p + strlen(p);
	snprintf(out, len, "%.*s", (int)(e - p), p);
	return out;
}

static bool has_note(const struct acpi_note *notes, size_t n, uint32_t off,
		     const char *needle)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (notes[i].offset == off && strstr(notes[i].msg, needle))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ real DMAR */

static void test_qemu_dmar(void)
{
	struct dmar_table t;
	struct acpi_error err;
	uint8_t *buf, *kmsg;
	size_t len, klen, i;
	char line[256];
	unsigned int haw = 0;
	unsigned long long base = 0;
	const struct dmar_struct *s;
	static const char *const want[] = {
		"ioapic ff:00.0", "endpoint 00:00.0", "endpoint 00:01.0",
		"endpoint 00:02.0", "endpoint 00:03.0", "endpoint 00:04.0",
		"bridge 00:05.0", "endpoint 00:1f.0", "endpoint 00:1f.2",
		"endpoint 00:1f.3",
	};

	buf = load("acpi/qemu-intel-iommu.dmar", &len);
	kmsg = load("sysfs-intel-lazy/dev/kmsg", &klen);
	if (!buf || !kmsg)
		return;
	CHECK(dmar_parse(buf, len, &t, &err) == 0, "qemu DMAR parses (%s)", err.msg);
	CHECK_STR(t.hdr.signature, "DMAR", "qemu DMAR signature");
	CHECK(t.hdr.length == 144 && len == 144, "qemu DMAR length 144");
	CHECK_STR(t.hdr.oem_id, "BOCHS", "qemu DMAR OEM id");
	CHECK_STR(t.hdr.oem_table_id, "BXPC", "qemu DMAR OEM table id");
	CHECK(t.hdr.checksum_ok, "qemu DMAR checksum ok");
	CHECK(t.nnotes == 0, "qemu DMAR has no oddities (%zu)", t.nnotes);

	/* what the guest kernel printed about the same table */
	CHECK(kmsg_find((char *)kmsg, "DMAR: Host address width", line, sizeof(line)) &&
	      sscanf(line, "DMAR: Host address width %u", &haw) == 1 && haw == t.haw + 1u,
	      "host address width %u = kernel's 'Host address width %u'", t.haw + 1, haw);
	CHECK(t.flags == DMAR_INTR_REMAP, "flags INTR_REMAP (qemu intremap=on)");
	CHECK(t.nstructs == 1 && t.structs[0].type == DMAR_DRHD, "one DRHD");
	s = &t.structs[0];
	CHECK(kmsg_find((char *)kmsg, "DMAR: DRHD base:", line, sizeof(line)) &&
	      sscanf(line, "DMAR: DRHD base: %llx", &base) == 1 && base == s->base,
	      "DRHD base 0x%llx = kernel's 'DRHD base: 0x%llx'",
	      (unsigned long long)s->base, base);
	CHECK(s->flags == 0 && s->segment == 0, "DRHD flags 0 (no INCLUDE_PCI_ALL), segment 0");
	CHECK(s->nscopes == sizeof(want) / sizeof(want[0]), "DRHD has %zu scopes",
	      s->nscopes);
	for (i = 0; i < s->nscopes && i < sizeof(want) / sizeof(want[0]); i++) {
		char got[64];

		snprintf(got, sizeof(got), "%s %02x:%02x.%x", dmar_scope_name(s->scopes[i].type),
			 s->scopes[i].start_bus, s->scopes[i].path[0].dev, s->scopes[i].path[0].fn);
		CHECK_STR(got, want[i], "DRHD scope %zu", i);
	}
	/* "DMAR-IR: IOAPIC id 0 under DRHD base  0xfed90000 IOMMU 0" */
	CHECK(kmsg_find((char *)kmsg, "DMAR-IR: IOAPIC id 0 under DRHD base  0xfed90000", line,
			sizeof(line)) && s->scopes[0].enum_id == 0,
	      "IOAPIC scope id 0, as the kernel found it");
	dmar_free(&t);
	CHECK(t.structs == NULL && t.nstructs == 0, "dmar_free resets the table");
	free(buf);
	free(kmsg);
}

static void test_qemu_dmar_atsr(void)
{
	struct dmar_table t;
	struct acpi_error err;
	uint8_t *buf, *kmsg;
	size_t len, klen;
	char line[256];
	unsigned int flags = 99;

	buf = load("acpi/qemu-intel-iommu-ats.dmar", &len);
	kmsg = load("sysfs-intel-strict-noir/dev/kmsg", &klen);
	if (!buf || !kmsg)
		return;
	CHECK(dmar_parse(buf, len, &t, &err) == 0, "qemu DMAR with ATS parses");
	CHECK(t.nstructs == 2 && t.structs[1].type == DMAR_ATSR, "DRHD then ATSR");
	CHECK(kmsg_find((char *)kmsg, "DMAR: ATSR flags:", line, sizeof(line)) &&
	      sscanf(line, "DMAR: ATSR flags: %x", &flags) == 1 &&
	      t.nstructs == 2 && flags == t.structs[1].flags,
	      "ATSR flags 0x%x = kernel's 'ATSR flags: 0x%x'",
	      t.nstructs == 2 ? t.structs[1].flags : 0, flags);
	CHECK(t.nstructs == 2 && t.structs[1].flags & DMAR_ATSR_ALL_PORTS &&
	      t.structs[1].nscopes == 0, "ATSR ALL_PORTS, no scopes");
	dmar_free(&t);
	free(buf);
	free(kmsg);
}

/* ------------------------------------------------------------ real IVRS */

static void test_qemu_ivrs(void)
{
	struct ivrs_table t;
	struct acpi_error err;
	uint8_t *buf, *kmsg;
	size_t len, klen;
	char line[256], a[8];
	unsigned int cap = 0;
	const struct ivrs_ivhd *h;

	buf = load("acpi/qemu-amd-iommu.ivrs", &len);
	kmsg = load("sysfs-amd-strict/dev/kmsg", &klen);
	if (!buf || !kmsg)
		return;
	CHECK(ivrs_parse(buf, len, &t, &err) == 0, "qemu IVRS parses (%s)", err.msg);
	CHECK(t.hdr.length == 136 && t.hdr.checksum_ok && t.nnotes == 0,
	      "qemu IVRS: 136 bytes, checksum ok, no oddities");
	CHECK(IVINFO_PA_SIZE(t.ivinfo) == 40 && IVINFO_VA_SIZE(t.ivinfo) == 0,
	      "IVinfo: 40-bit physical addresses");
	CHECK(t.nivhds == 1 && t.nivmds == 0, "one IVHD, no IVMD");
	if (t.nivhds != 1)
		goto out;
	h = &t.ivhds[0];
	CHECK(h->type == IVRS_IVHD_10 && h->flags == 0xd1 && h->base == 0xfed80000,
	      "IVHD type 0x10, flags 0xd1, registers 0xfed80000");
	/* "pci 0000:00:01.0: AMD-Vi: Found IOMMU cap 0x40" */
	CHECK(kmsg_find((char *)kmsg, "pci 0000:00:01.0: AMD-Vi: Found IOMMU cap", line,
			sizeof(line)) &&
	      sscanf(line, "pci 0000:00:01.0: AMD-Vi: Found IOMMU cap %x", &cap) == 1 &&
	      h->devid == 0x0008 && h->cap_offset == cap,
	      "IOMMU at %s with capability at 0x%x, as the kernel found it",
	      pci_devid_str(h->devid, a), h->cap_offset);
	CHECK(h->ndevs == 13, "13 device entries (%zu)", h->ndevs);
	if (h->ndevs != 13)
		goto out;
	CHECK(h->devs[0].kind == IVHD_DEV_SELECT && h->devs[0].first == 0,
	      "entry 0 selects 00:00.0");
	CHECK(h->devs[8].kind == IVHD_DEV_ALIAS_RANGE && h->devs[8].first == 0x0200 &&
	      h->devs[8].last == 0x02ff && h->devs[8].alias == 0x0200,
	      "alias range 02:00.0-02:1f.7 as 02:00.0 (the PCIe-to-PCI bridge)");
	CHECK(h->devs[12].kind == IVHD_DEV_SPECIAL && h->devs[12].variety == IVHD_SPECIAL_IOAPIC &&
	      h->devs[12].handle == 0 && h->devs[12].first == 0x00a0,
	      "special entry: IOAPIC 0 at 00:14.0");
out:
	ivrs_free(&t);
	free(buf);
	free(kmsg);
}

/* ------------------------------------------------------------ hand-built */

static void test_hand_dmar(void)
{
	struct dmar_table t;
	struct acpi_error err;
	const struct dmar_struct *s;
	uint8_t *buf;
	size_t len;

	buf = load("acpi/hand-full.dmar", &len);
	if (!buf)
		return;
	CHECK(dmar_parse(buf, len, &t, &err) == 0, "hand DMAR parses (%s)", err.msg);
	CHECK(t.haw + 1 == 47 && t.flags == 7, "width 47, all three table flags");
	CHECK(t.nstructs == 8 && t.nnotes == 0, "8 structures, no notes (%zu, %zu)",
	      t.nstructs, t.nnotes);
	if (t.nstructs != 8)
		goto out;
	s = t.structs;
	CHECK(s[0].type == DMAR_DRHD && s[0].base == 0xfed90000 && s[0].nscopes == 1 &&
	      s[0].scopes[0].type == DMAR_SCOPE_ENDPOINT && s[0].scopes[0].path[0].dev == 2,
	      "DRHD 0xfed90000 with the GPU 00:02.0");
	CHECK(s[1].flags & DMAR_DRHD_INCLUDE_PCI_ALL && s[1].nscopes == 3 &&
	      s[1].scopes[0].type == DMAR_SCOPE_IOAPIC && s[1].scopes[0].enum_id == 2 &&
	      s[1].scopes[0].start_bus == 0xf0 && s[1].scopes[1].type == DMAR_SCOPE_HPET &&
	      s[1].scopes[2].type == DMAR_SCOPE_ACPI && s[1].scopes[2].enum_id == 1,
	      "INCLUDE_PCI_ALL DRHD with IOAPIC 2 on bus f0, HPET 0, ACPI device 1");
	CHECK(s[2].type == DMAR_RMRR && s[2].base == 0x3e2e0000 && s[2].limit == 0x3e2fffff &&
	      s[2].nscopes == 2, "RMRR 0x3e2e0000-0x3e2fffff for two devices");
	CHECK(s[3].type == DMAR_RMRR && s[3].nscopes == 1 && s[3].scopes[0].path_len == 2 &&
	      s[3].scopes[0].path[0].dev == 0x1c && s[3].scopes[0].path[1].dev == 0,
	      "RMRR scope with a two-hop path 00:1c.0/00.0");
	CHECK(s[4].type == DMAR_ATSR && s[4].flags == DMAR_ATSR_ALL_PORTS, "ATSR ALL_PORTS");
	CHECK(s[5].type == DMAR_RHSA && s[5].base == 0xfed91000 && s[5].proximity == 1,
	      "RHSA: unit 0xfed91000 on proximity domain 1");
	CHECK(s[6].type == DMAR_ANDD && s[6].acpi_dev == 1 && s[6].acpi_name &&
	      !strcmp(s[6].acpi_name, "\\_SB.PCI0.I2C0"), "ANDD 1 = \\_SB.PCI0.I2C0");
	CHECK(s[7].type == DMAR_SATC && s[7].flags == DMAR_SATC_ATC_REQUIRED &&
	      s[7].nscopes == 1, "SATC ATC_REQUIRED with one scope");
out:
	dmar_free(&t);
	free(buf);
}

static void test_hand_ivrs(void)
{
	struct ivrs_table t;
	struct acpi_error err;
	const struct ivrs_ivhd *h;
	const struct ivhd_dev *d;
	uint8_t *buf;
	size_t len;

	buf = load("acpi/hand-full.ivrs", &len);
	if (!buf)
		return;
	CHECK(ivrs_parse(buf, len, &t, &err) == 0, "hand IVRS parses (%s)", err.msg);
	CHECK(t.ivinfo == 0x203043 && IVINFO_PA_SIZE(t.ivinfo) == 48 &&
	      IVINFO_VA_SIZE(t.ivinfo) == 64 && IVINFO_GVA_SIZE(t.ivinfo) == 2 &&
	      t.ivinfo & IVINFO_EFR_SUP && t.ivinfo & IVINFO_DMA_REMAP,
	      "IVinfo fields: PA 48, VA 64, GVA 2, EFRSup, pre-boot DMA remap");
	CHECK(t.nivhds == 3 && t.nivmds == 3 && t.nnotes == 0,
	      "3 IVHD (0x10, 0x11, 0x40), 3 IVMD, no notes (%zu)", t.nnotes);
	if (t.nivhds != 3 || t.nivmds != 3)
		goto out;
	h = &t.ivhds[0];
	d = h->devs;
	CHECK(h->type == 0x10 && !h->has_efr && h->attr == 0x80048f6e && h->ndevs == 8,
	      "IVHD 0x10: feature reporting, 8 folded entries (%zu)", h->ndevs);
	if (h->ndevs == 8) {
		CHECK(d[1].kind == IVHD_DEV_RANGE && d[1].first == 0x0008 && d[1].last == 0x000f &&
		      d[1].dte == 0xd7, "range 00:01.0-00:01.7 with its DTE setting");
		CHECK(d[2].kind == IVHD_DEV_ALIAS_SELECT && d[2].first == 0x0300 &&
		      d[2].alias == 0x0200, "alias select 03:00.0 as 02:00.0");
		CHECK(d[3].kind == IVHD_DEV_ALIAS_RANGE && d[3].first == 0x0400 &&
		      d[3].last == 0x04ff, "alias range 04:00.0-04:1f.7");
		CHECK(d[4].kind == IVHD_DEV_EXT_SELECT && d[4].ext == IVHD_EXT_ATS_DISABLED,
		      "extended select with ATS disabled");
		CHECK(d[5].kind == IVHD_DEV_EXT_RANGE && d[5].first == 0x0600 && d[5].last == 0x06ff,
		      "extended range closed after a padding entry");
		CHECK(d[6].kind == IVHD_DEV_SPECIAL && d[6].variety == IVHD_SPECIAL_IOAPIC &&
		      d[6].handle == 0x21 && d[6].first == 0x00a0 &&
		      d[7].variety == IVHD_SPECIAL_HPET, "IOAPIC 0x21 and HPET 0 at 00:14.0");
	}
	h = &t.ivhds[1];
	CHECK(h->type == 0x11 && h->has_efr && h->efr == 0x246577efa2254afaull &&
	      h->efr2 == 0x10 && h->ndevs == 1 && h->devs[0].kind == IVHD_DEV_ALL &&
	      h->devs[0].last == 0xffff, "IVHD 0x11: EFR image, EFR2, select-all");
	h = &t.ivhds[2];
	CHECK(h->type == 0x40 && h->ndevs == 3, "IVHD 0x40 with 3 entries");
	if (h->ndevs == 3) {
		d = h->devs;
		CHECK(d[1].kind == IVHD_DEV_ACPI_HID && !strcmp(d[1].hid, "AMDI0020") &&
		      !d[1].cid[0] && d[1].uid_format == 2 && d[1].uid &&
		      !strcmp(d[1].uid, "\\_SB.FUR0") && d[1].first == 0x00a5,
		      "ACPI HID AMDI0020, string UID \\_SB.FUR0, at 00:14.5");
		CHECK(d[2].kind == IVHD_DEV_ACPI_HID && !strcmp(d[2].cid, "PNP0C09") &&
		      d[2].uid_format == 1 && d[2].uid && !strcmp(d[2].uid, "5"),
		      "ACPI HID with CID PNP0C09, integer UID 5");
	}
	CHECK(t.ivmds[0].type == IVRS_IVMD_ALL && t.ivmds[0].start == 0x9d000000 &&
	      t.ivmds[0].size == 0x100000 && t.ivmds[0].flags == 7,
	      "IVMD for all: unity RW 0x9d000000 + 1 MiB");
	CHECK(t.ivmds[1].type == IVRS_IVMD_ONE && t.ivmds[1].devid == 0x00a0,
	      "IVMD for 00:14.0");
	CHECK(t.ivmds[2].type == IVRS_IVMD_RANGE && t.ivmds[2].devid == 0x0100 &&
	      t.ivmds[2].aux == 0x01ff && t.ivmds[2].flags == IVMD_EXCLUSION,
	      "IVMD exclusion range for 01:00.0-01:1f.7");
out:
	ivrs_free(&t);
	free(buf);
}

/* ------------------------------------------------------------ oddities */

static void test_odd(void)
{
	struct dmar_table d;
	struct ivrs_table v;
	struct acpi_error err;
	uint8_t *buf;
	size_t len;

	if ((buf = load("acpi/odd-checksum.dmar", &len))) {
		CHECK(dmar_parse(buf, len, &d, &err) == 0 && !d.hdr.checksum_ok &&
		      has_note(d.notes, d.nnotes, 9, "checksum"),
		      "bad checksum: decoded, with a note at offset 9");
		dmar_free(&d);
		free(buf);
	}
	if ((buf = load("acpi/odd-unknown-struct.dmar", &len))) {
		CHECK(dmar_parse(buf, len, &d, &err) == 0 && d.nstructs == 2 &&
		      has_note(d.notes, d.nnotes, 0x48, "unknown remapping structure type 99"),
		      "unknown structure type: skipped by its length, noted at 0x48");
		dmar_free(&d);
		free(buf);
	}
	if ((buf = load("acpi/odd-rmrr-order.dmar", &len))) {
		CHECK(dmar_parse(buf, len, &d, &err) == 0, "RMRR/DRHD oddities parse");
		CHECK(has_note(d.notes, d.nnotes, 0x30, "INCLUDE_PCI_ALL DRHD is not the last"),
		      "note: INCLUDE_PCI_ALL DRHD before another DRHD");
		CHECK(has_note(d.notes, d.nnotes, 0x60, "above its limit"),
		      "note: RMRR base above limit");
		CHECK(has_note(d.notes, d.nnotes, 0x80, "not page aligned"),
		      "note: RMRR not page aligned");
		dmar_free(&d);
		free(buf);
	}
	if ((buf = load("acpi/odd-ranges.ivrs", &len))) {
		CHECK(ivrs_parse(buf, len, &v, &err) == 0, "IVRS oddities parse (%s)", err.msg);
		CHECK(has_note(v.notes, v.nnotes, 0x48, "without a range start"),
		      "note: range end without start");
		CHECK(has_note(v.notes, v.nnotes, 0x4c, "has no range end") &&
		      v.nivhds == 1 && v.ivhds[0].ndevs >= 1 &&
		      v.ivhds[0].devs[0].first == 0x0100 && v.ivhds[0].devs[0].last == 0x0100,
		      "unclosed range start kept as one device");
		CHECK(has_note(v.notes, v.nnotes, 0x54, "reserved device entry type 0x05") &&
		      has_note(v.notes, v.nnotes, 0x58, "reserved device entry type 0x41"),
		      "reserved 4- and 8-byte entry types skipped by length");
		CHECK(has_note(v.notes, v.nnotes, 0x60, "only 0x40 defines it"),
		      "note: ACPI HID entry in an IVHD 0x10");
		CHECK(has_note(v.notes, v.nnotes, 0x88, "wraps around") &&
		      has_note(v.notes, v.nnotes, 0x7e, "below its start"),
		      "notes: IVMD wraps, IVMD device range reversed");
		CHECK(has_note(v.notes, v.nnotes, 0x98, "unknown block type 0x30"),
		      "unknown block type skipped by length");
		ivrs_free(&v);
		free(buf);
	}
}

/* ------------------------------------------------------------ malformed */

static const struct {
	const char *file;
	uint32_t offset;
	const char *msg;
} bad[] = {
	{ "bad-short-header.dmar", 20, "shorter than the 36-byte ACPI table header" },
	{ "bad-length-past-file.dmar", 72, "table length 4096 but only 72 bytes" },
	{ "bad-table-too-short.dmar", 4, "shorter than the 48-byte DMAR header" },
	{ "bad-signature.dmar", 0, "signature is 'APIC', not 'DMAR'" },
	{ "bad-struct-len-zero.dmar", 0x30, "DRHD length 0 is shorter than its 16-byte minimum" },
	{ "bad-struct-past-end.dmar", 0x48, "RMRR length 64 runs past the end of the table" },
	{ "bad-drhd-short.dmar", 0x30, "DRHD length 12 is shorter" },
	{ "bad-scope-short.dmar", 0x40, "device scope length 5 is shorter than its 6-byte header" },
	{ "bad-scope-past-end.dmar", 0x40, "device scope length 12 runs past the end of its DRHD" },
	{ "bad-scope-odd.dmar", 0x40, "leaves half a path entry" },
	{ "bad-andd-unterminated.dmar", 0x50, "ANDD object name is not NUL-terminated" },
	{ "bad-trailing.dmar", 0x48, "2 trailing byte(s)" },
	{ "bad-block-short.ivrs", 0x30, "length 2 is shorter than its header" },
	{ "bad-block-past-end.ivrs", 0x30, "IVHD type 0x10 length 200 runs past the end" },
	{ "bad-ivhd11-short.ivrs", 0x30, "IVHD type 0x11 length 24 is shorter than its 40-byte header" },
	{ "bad-entry-past-end.ivrs", 0x4c, "type 0x42 (8 bytes) runs past the end of its IVHD" },
	{ "bad-entry-type.ivrs", 0x4c, "type 0x80 has no defined length" },
	{ "bad-hid-uid-len.ivrs", 0x58, "type 0xf0 (26 bytes) runs past" },
	{ "bad-hid-truncated.ivrs", 0x58, "type 0xf0 (22 bytes) runs past" },
	{ "bad-ivmd-short.ivrs", 0x30, "IVMD type 0x21 length 16 is shorter" },
	{ "bad-trailing.ivrs", 0x4c, "3 trailing byte(s)" },
};

static void test_malformed(void)
{
	struct acpi_error err;
	struct dmar_table d;
	struct ivrs_table v;
	char rel[128];
	uint8_t *buf;
	size_t len, i;
	int rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool dmar = strstr(bad[i].file, ".dmar") != NULL;

		snprintf(rel, sizeof(rel), "acpi/%s", bad[i].file);
		buf = load(rel, &len);
		if (!buf)
			continue;
		if (dmar)
			rc = dmar_parse(buf, len, &d, &err);
		else
			rc = ivrs_parse(buf, len, &v, &err);
		CHECK(rc == -1 && err.offset == bad[i].offset && strstr(err.msg, bad[i].msg) &&
		      !strncmp(err.msg, dmar ? "DMAR: offset 0x" : "IVRS: offset 0x", 15),
		      "%s rejected at offset 0x%x", bad[i].file, bad[i].offset);
		if (rc != -1 || err.offset != bad[i].offset || !strstr(err.msg, bad[i].msg))
			printf("#   got offset 0x%x: %s\n", err.offset, err.msg);
		/* a failed parse leaves nothing to leak, and free stays safe */
		if (dmar)
			dmar_free(&d);
		else
			ivrs_free(&v);
		free(buf);
	}
	CHECK(dmar_parse((const uint8_t *)"", 0, &d, &err) == -1 && err.offset == 0,
	      "empty input rejected at offset 0");
}

/* ------------------------------------------------------------ sweeps */

static bool parse_sane(const uint8_t *buf, size_t len, bool dmar)
{
	struct acpi_error err;
	struct dmar_table d;
	struct ivrs_table v;
	int rc;

	if (dmar) {
		rc = dmar_parse(buf, len, &d, &err);
		dmar_free(&d);
	} else {
		rc = ivrs_parse(buf, len, &v, &err);
		ivrs_free(&v);
	}
	return rc == 0 || (rc == -1 && err.offset <= len && err.msg[0]);
}

/*
 * Every prefix of a valid table must be rejected (the header's length no
 * longer fits) with an offset inside the prefix; every single-byte change
 * must give a decode or such an error. Run under ASan by `make fuzz`.
 */
static void test_sweeps(void)
{
	static const char *const files[] = {
		"acpi/qemu-intel-iommu.dmar", "acpi/qemu-intel-iommu-ats.dmar",
		"acpi/hand-full.dmar", "acpi/hand-rmrr-q35.dmar",
		"acpi/qemu-amd-iommu.ivrs", "acpi/hand-full.ivrs", "acpi/odd-ranges.ivrs",
	};
	static const uint8_t vals[] = { 0x00, 0x01, 0x04, 0x08, 0x7f, 0x80, 0xf0, 0xff };
	size_t f, n, i, k, prefixes, mutations;
	bool ok_prefix, ok_mut;
	uint8_t *buf, *copy;
	size_t len;

	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		bool dmar = strstr(files[f], ".dmar") != NULL;
		struct acpi_error err;
		struct dmar_table d;
		struct ivrs_table v;

		buf = load(files[f], &len);
		if (!buf)
			continue;
		copy = malloc(len);
		ok_prefix = ok_mut = true;
		prefixes = mutations = 0;
		for (n = 0; n < len; n++, prefixes++) {
			int rc = dmar ? dmar_parse(buf, n, &d, &err) : ivrs_parse(buf, n, &v, &err);

			if (dmar)
				dmar_free(&d);
			else
				ivrs_free(&v);
			if (rc != -1 || err.offset > n)
				ok_prefix = false;
		}
		for (i = 0; copy && i < len; i++) {
			for (k = 0; k < sizeof(vals); k++, mutations++) {
				memcpy(copy, buf, len);
				copy[i] = vals[k];
				if (!parse_sane(copy, len, dmar))
					ok_mut = false;
			}
		}
		CHECK(ok_prefix, "%s: all %zu truncations rejected inside the input",
		      files[f], prefixes);
		CHECK(ok_mut, "%s: %zu byte mutations decode or fail inside the input",
		      files[f], mutations);
		free(copy);
		free(buf);
	}
}

static void test_helpers(void)
{
	char a[8];

	CHECK(acpi_kind_detect((const uint8_t *)"DMAR", 4) == ACPI_DMAR &&
	      acpi_kind_detect((const uint8_t *)"IVRS....", 8) == ACPI_IVRS &&
	      acpi_kind_detect((const uint8_t *)"APIC", 4) == ACPI_UNKNOWN &&
	      acpi_kind_detect((const uint8_t *)"DMA", 3) == ACPI_UNKNOWN,
	      "table kind by signature");
	CHECK_STR(pci_devid_str(0x02fb, a), "02:1f.3", "device id 0x02fb is 02:1f.3");
	CHECK_STR(dmar_struct_name(DMAR_SATC), "SATC", "structure name SATC");
	CHECK_STR(dmar_struct_name(77), "unknown", "unknown structure name");
	CHECK_STR(ivhd_dev_kind_name(IVHD_DEV_ALIAS_RANGE), "alias-range", "entry kind name");
}

int main(int argc, char **argv)
{
	unit_fixtures_locate(argv[0], "tests/fixtures", "IT_FIXTURES");
	test_helpers();
	test_qemu_dmar();
	test_qemu_dmar_atsr();
	test_qemu_ivrs();
	test_hand_dmar();
	test_hand_ivrs();
	test_odd();
	test_malformed();
	test_sweeps();
	UNIT_EXIT();
}
