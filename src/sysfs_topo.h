/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The IOMMU topology as the running kernel exposes it: units under
 * /sys/class/iommu, groups under /sys/kernel/iommu_groups (type, devices,
 * reserved regions), each device's PCI ids and driver, the IOMMU options on
 * /proc/cmdline, interrupt remapping as /proc/interrupts shows it, and what
 * the kernel log says (faults since boot). Everything is read below a root
 * directory ("/" normally) so tests can point it at a captured tree.
 */
#ifndef IT_SYSFS_TOPO_H
#define IT_SYSFS_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOPO_NAME_LEN	64

struct topo_dev {
	char name[TOPO_NAME_LEN];	/* sysfs name, e.g. 0000:00:01.0 */
	bool is_pci;
	uint16_t segment;
	uint8_t bus, dev, fn;
	int vendor;			/* -1 when unknown */
	int device;
	int64_t class;			/* -1 when unknown */
	char driver[TOPO_NAME_LEN];	/* "" when no driver is bound */
	char unit[TOPO_NAME_LEN];	/* IOMMU unit (dmar0, ivhd0) or "" */
	int group;			/* -1 when in none */
};

struct topo_region {
	uint64_t start;
	uint64_t end;			/* inclusive */
	char type[24];			/* direct, direct-relaxable, msi, reserved */
};

struct topo_group {
	int id;
	char type[24];			/* DMA, DMA-FQ, identity, blocked, unmanaged */
	struct topo_dev *devs;
	size_t ndevs;
	struct topo_region *regions;
	size_t nregions;
};

enum topo_unit_kind {
	TOPO_UNIT_OTHER,
	TOPO_UNIT_INTEL,
	TOPO_UNIT_AMD,
};

struct topo_unit {
	char name[TOPO_NAME_LEN];
	int kind;
	/* Intel: intel-iommu/{address,cap,ecap,version,domains_*} */
	uint64_t address;
	uint64_t cap;
	uint64_t ecap;
	char version[16];
	long domains_supported;		/* -1 when unknown */
	long domains_used;
	/* AMD: amd-iommu/{cap,features}; features is "EFR2:EFR" */
	uint32_t amd_cap;
	uint64_t amd_efr;
	uint64_t amd_efr2;
	char pci_dev[TOPO_NAME_LEN];	/* AMD: the IOMMU's own PCI function */
	size_t ndevices;		/* devices the unit translates */
};

enum topo_state {
	TOPO_UNKNOWN = -1,
	TOPO_OFF = 0,
	TOPO_ON = 1,
};

/* IOMMU options from /proc/cmdline, and what they amount to. */
struct topo_cmdline {
	char *raw;
	char **args;			/* only the IOMMU-related words */
	size_t nargs;
	int passthrough;		/* enum topo_state: unset = unknown */
	int strict;
	int intremap;			/* OFF when intremap=off or nointremap */
	int dma_remap;			/* OFF when intel_iommu/amd_iommu/iommu=off */
};

struct topo_fault {
	char device[TOPO_NAME_LEN];	/* as the message names it */
	char kind[32];			/* "DMA Read", "INTR-REMAP", "IO_PAGE_FAULT" */
	char line[256];			/* the message */
};

#define TOPO_MAX_FAULT_LINES	32
#define TOPO_MAX_FAULT_DEVS	64

struct topo_fault_dev {
	char device[TOPO_NAME_LEN];	/* "" collects devices past the limit */
	size_t count;
};

struct topo_log {
	bool readable;
	int err;			/* errno when not readable */
	size_t faults;			/* every fault line seen */
	size_t dmar_faults;
	size_t amdvi_events;
	struct topo_fault *fault;	/* the first TOPO_MAX_FAULT_LINES */
	size_t nfault;
	struct topo_fault_dev *by_dev;	/* every fault, by device as named */
	size_t nby_dev;
	int ir;				/* from the driver's own messages */
	char ir_line[160];
	char domain_type[96];		/* "iommu: Default domain type: ..." */
	char tlb_policy[96];		/* "iommu: DMA domain TLB invalidation policy: ..." */
	char strict_forced[160];	/* "... strict mode due to virtualization" */
};

struct topo {
	char root[4096];
	struct topo_unit *units;
	size_t nunits;
	struct topo_group *groups;
	size_t ngroups;
	struct topo_cmdline cmd;
	int ir;				/* interrupt remapping, enum topo_state */
	char ir_source[64];
	char kernel[64];		/* /proc/sys/kernel/osrelease */
	char config_default[32];	/* CONFIG_IOMMU_DEFAULT_*, from /boot/config */
	struct topo_log log;
};

/*
 * Read the topology below root. Missing parts (no IOMMU, no readable log)
 * are not errors: they leave the fields empty. Returns 0, or -1 with msg
 * filled when root itself is unusable or memory runs out.
 */
int topo_read(struct topo *t, const char *root, char *msg, size_t msglen);
void topo_free(struct topo *t);

/* Lookups over what topo_read found; NULL when absent. */
const struct topo_dev *topo_find_dev(const struct topo *t, const char *name);
const struct topo_dev *topo_find_bdf(const struct topo *t, uint16_t segment,
				     uint8_t bus, uint8_t dev, uint8_t fn);
const struct topo_group *topo_find_group(const struct topo *t, int id);

/*
 * The sysfs name ("0000:02:01.0") of the device a DMAR scope path reaches;
 * hops holds nhops (device, function) byte pairs. -1 when not present.
 */
int topo_pci_path_resolve(const struct topo *t, uint16_t segment, uint8_t bus,
			  const uint8_t *hops, size_t nhops, char *name, size_t len);

/* Kernel-log parsing, exposed for tests: feed one message (no prefix). */
void topo_log_line(struct topo_log *log, const char *msg);
/*
 * The device a fault line names ("02:00.0", "0000:02:00.0"), or NULL; then
 * @behind is the bridge-side device when the ID is a PCIe-to-PCI bridge's
 * secondary bus with devfn 00.0 (conventional devices behind it).
 */
const struct topo_dev *topo_fault_dev(const struct topo *t, const char *name,
				      const struct topo_dev **behind);
size_t topo_ndevs(const struct topo *t);		/* in every group */
size_t topo_groups_of_type(const struct topo *t, const char *type);
/* Interrupt remapping from the chip names in /proc/interrupts text. */
int topo_ir_from_interrupts(const char *text);
/* Parse a command line into c (c->raw is copied). */
int topo_cmdline_parse(struct topo_cmdline *c, const char *line);

/*
 * Named features of an Intel unit (VT-d CAP_REG/ECAP_REG) and of an AMD
 * unit (extended feature register). Each call fills names[] with up to max
 * entries and returns how many bits were set, so callers can size a buffer.
 */
size_t intel_cap_features(uint64_t cap, const char **names, size_t max);
size_t intel_ecap_features(uint64_t ecap, const char **names, size_t max);
size_t amd_efr_features(uint64_t efr, const char **names, size_t max);
size_t amd_cap_features(uint32_t cap, const char **names, size_t max);

/* Numeric CAP_REG fields. */
unsigned int intel_cap_mgaw(uint64_t cap);		/* max guest address width, bits */
unsigned long intel_cap_ndoms(uint64_t cap);		/* domain ids */
unsigned int intel_cap_nfr(uint64_t cap);		/* fault recording registers */
/* SAGAW as "39-bit/3-level 48-bit/4-level": buf of at least 80 bytes */
char *intel_cap_sagaw_str(uint64_t cap, char *buf, size_t len);

#endif
