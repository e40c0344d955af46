/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsers for the two ACPI tables that describe x86 IOMMUs: Intel's DMAR
 * (VT-d spec, chapter 8) and AMD's IVRS (AMD IOMMU spec, section 5). They
 * take a byte buffer and fill plain structs; they do no I/O. The tables are
 * untrusted input (a file from another machine, a fuzzer): every length and
 * offset is checked before it is used, and a table whose framing is broken
 * is rejected with the byte offset where it broke. Oddities that do not stop
 * decoding (bad checksum, unknown sub-table types, a range end without a
 * start) are kept as notes and decoding goes on, as the kernel does.
 */
#ifndef IT_ACPI_H
#define IT_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_HEADER_LEN		36

struct acpi_header {
	char signature[5];
	uint32_t length;		/* as the table claims it */
	uint8_t revision;
	uint8_t checksum;
	char oem_id[7];
	char oem_table_id[9];
	uint32_t oem_revision;
	char creator_id[5];
	uint32_t creator_revision;
	bool checksum_ok;		/* the bytes of the table sum to 0 */
};

/* Why a table was rejected; offset is from the start of the table. */
struct acpi_error {
	uint32_t offset;
	char msg[200];			/* "DMAR: offset 0x30: ..." */
};

/* Something odd that did not stop decoding. */
struct acpi_note {
	uint32_t offset;
	char msg[160];
};

enum acpi_kind {
	ACPI_UNKNOWN,
	ACPI_DMAR,
	ACPI_IVRS,
};

/* By signature alone: the parsers do the rest of the checking. */
enum acpi_kind acpi_kind_detect(const uint8_t *buf, size_t len);

/* ---- DMAR ---- */

enum dmar_struct_type {
	DMAR_DRHD = 0,			/* a remapping hardware unit */
	DMAR_RMRR = 1,			/* memory devices keep using (identity map) */
	DMAR_ATSR = 2,			/* root ports that may use ATS */
	DMAR_RHSA = 3,			/* NUMA node of a unit */
	DMAR_ANDD = 4,			/* ACPI namespace device */
	DMAR_SATC = 5,			/* devices whose ATC the OS must use */
};

/* Table flags (byte 37) */
#define DMAR_INTR_REMAP			(1u << 0)
#define DMAR_X2APIC_OPT_OUT		(1u << 1)
#define DMAR_DMA_CTRL_PLATFORM_OPT_IN	(1u << 2)

#define DMAR_DRHD_INCLUDE_PCI_ALL	(1u << 0)
#define DMAR_ATSR_ALL_PORTS		(1u << 0)
#define DMAR_SATC_ATC_REQUIRED		(1u << 0)

enum dmar_scope_type {
	DMAR_SCOPE_ENDPOINT = 1,
	DMAR_SCOPE_BRIDGE = 2,		/* the bridge and everything below it */
	DMAR_SCOPE_IOAPIC = 3,
	DMAR_SCOPE_HPET = 4,
	DMAR_SCOPE_ACPI = 5,		/* ACPI namespace device, see ANDD */
};

/* A scope's length is one byte: at most (255 - 6) / 2 hops. */
#define DMAR_PATH_MAX		124

struct dmar_scope {
	uint32_t offset;
	uint8_t type;
	uint8_t flags;
	uint8_t enum_id;		/* IOAPIC/HPET id, ACPI device number */
	uint8_t start_bus;
	uint8_t path_len;		/* number of (device, function) hops */
	struct {
		uint8_t dev;
		uint8_t fn;
	} path[DMAR_PATH_MAX];
};

struct dmar_struct {
	uint32_t offset;
	uint16_t type;
	uint16_t length;
	uint8_t flags;			/* DRHD, ATSR, SATC */
	uint8_t size;			/* DRHD: register set is 2^size pages */
	uint16_t segment;		/* DRHD, RMRR, ATSR, SATC */
	uint64_t base;			/* DRHD/RHSA register base, RMRR base */
	uint64_t limit;			/* RMRR: last byte, inclusive */
	uint32_t proximity;		/* RHSA */
	uint8_t acpi_dev;		/* ANDD: device number scopes refer to */
	char *acpi_name;		/* ANDD: object path, NUL-terminated */
	struct dmar_scope *scopes;
	size_t nscopes;
};

struct dmar_table {
	struct acpi_header hdr;
	uint8_t haw;			/* host address width: bits - 1 */
	uint8_t flags;
	struct dmar_struct *structs;
	size_t nstructs;
	struct acpi_note *notes;
	size_t nnotes;
};

/* 0 on success; -1 with *err filled when the table is malformed or memory
 * runs out. dmar_free() is safe on a zeroed or failed table. */
int dmar_parse(const uint8_t *buf, size_t len, struct dmar_table *t,
	       struct acpi_error *err);
void dmar_free(struct dmar_table *t);

const char *dmar_struct_name(uint16_t type);
const char *dmar_scope_name(uint8_t type);

/* ---- IVRS ---- */

#define IVRS_IVHD_10		0x10
#define IVRS_IVHD_11		0x11
#define IVRS_IVHD_40		0x40
#define IVRS_IVMD_ALL		0x20
#define IVRS_IVMD_ONE		0x21
#define IVRS_IVMD_RANGE		0x22

/* IVinfo */
#define IVINFO_EFR_SUP		(1u << 0)
#define IVINFO_DMA_REMAP	(1u << 1)	/* pre-boot DMA protection */
#define IVINFO_GVA_SIZE(x)	(((x) >> 5) & 0x7)
#define IVINFO_PA_SIZE(x)	(((x) >> 8) & 0x7f)
#define IVINFO_VA_SIZE(x)	(((x) >> 15) & 0x7f)
#define IVINFO_ATS_RESERVED	(1u << 22)

/* IVMD flags */
#define IVMD_UNITY		(1u << 0)
#define IVMD_READ		(1u << 1)
#define IVMD_WRITE		(1u << 2)
#define IVMD_EXCLUSION		(1u << 3)

/* Device entries as the parser folds them: a start/end pair becomes one. */
enum ivhd_dev_kind {
	IVHD_DEV_ALL,			/* 0x01: every device */
	IVHD_DEV_SELECT,		/* 0x02 */
	IVHD_DEV_RANGE,			/* 0x03 .. 0x04 */
	IVHD_DEV_ALIAS_SELECT,		/* 0x42 */
	IVHD_DEV_ALIAS_RANGE,		/* 0x43 .. 0x04 */
	IVHD_DEV_EXT_SELECT,		/* 0x46 */
	IVHD_DEV_EXT_RANGE,		/* 0x47 .. 0x04 */
	IVHD_DEV_SPECIAL,		/* 0x48: IOAPIC or HPET */
	IVHD_DEV_ACPI_HID,		/* 0xf0: ACPI device (IVHD 0x40 only) */
	IVHD_DEV_UNKNOWN,		/* reserved type, skipped by length */
};

#define IVHD_SPECIAL_IOAPIC	1
#define IVHD_SPECIAL_HPET	2
#define IVHD_EXT_ATS_DISABLED	(1u << 31)

struct ivhd_dev {
	uint32_t offset;
	uint8_t type;			/* raw type of the (first) entry */
	uint8_t kind;			/* enum ivhd_dev_kind */
	uint8_t dte;			/* DTE setting: INIT/EINT/NMI/LINT pass */
	uint16_t first;			/* device id (bus << 8 | devfn) */
	uint16_t last;			/* == first unless a range */
	uint16_t alias;			/* alias entries: requests appear as */
	uint32_t ext;			/* extended entries */
	uint8_t handle;			/* special: IOAPIC/HPET id */
	uint8_t variety;		/* special: IVHD_SPECIAL_* */
	char hid[9];			/* ACPI HID entries */
	char cid[9];
	uint8_t uid_format;		/* 0 none, 1 integer, 2 string */
	char *uid;			/* printable form, NUL-terminated */
};

struct ivrs_ivhd {
	uint32_t offset;
	uint8_t type;
	uint8_t flags;
	uint16_t length;
	uint16_t devid;			/* the IOMMU's own PCI function */
	uint16_t cap_offset;
	uint64_t base;
	uint16_t segment;
	uint16_t info;			/* MSI number, unit id */
	uint32_t attr;			/* 0x10: feature reporting; else attributes */
	bool has_efr;			/* 0x11/0x40 carry an EFR image */
	uint64_t efr;
	uint64_t efr2;
	struct ivhd_dev *devs;
	size_t ndevs;
};

struct ivrs_ivmd {
	uint32_t offset;
	uint8_t type;
	uint8_t flags;
	uint16_t length;
	uint16_t devid;			/* ONE: the device; RANGE: first */
	uint16_t aux;			/* RANGE: last device */
	uint64_t start;
	uint64_t size;
};

struct ivrs_table {
	struct acpi_header hdr;
	uint32_t ivinfo;
	struct ivrs_ivhd *ivhds;
	size_t nivhds;
	struct ivrs_ivmd *ivmds;
	size_t nivmds;
	struct acpi_note *notes;
	size_t nnotes;
};

int ivrs_parse(const uint8_t *buf, size_t len, struct ivrs_table *t,
	       struct acpi_error *err);
void ivrs_free(struct ivrs_table *t);

const char *ivhd_dev_kind_name(uint8_t kind);

/* "00:1f.0", or "00:1c.0/00.0" for a multi-hop path */
char *dmar_scope_path_str(const struct dmar_scope *sc, char *buf, size_t len);
/* "01:00.0" from a 16-bit device id; buf must hold 8 bytes */
char *pci_devid_str(uint16_t devid, char *buf);

#endif
