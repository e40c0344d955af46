/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The joined view `info` shows: the firmware's description (ACPI DMAR/IVRS,
 * from the system or from files) beside the kernel's (sysfs_topo.h), and the
 * warnings drawn from both (shared groups, RMRR/IVMD-pinned devices,
 * passthrough, interrupt remapping off, faults already logged). Also the live
 * switch of one IOMMU group between DMA and DMA-FQ that `compare --live` uses.
 */
#ifndef IT_TOPOLOGY_H
#define IT_TOPOLOGY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acpi.h"
#include "sysfs_topo.h"

#define INFO_MAX_TABLES		16

struct info_table {
	char source[PATH_MAX];
	int err;			/* errno when the file could not be read */
	bool malformed;
	struct acpi_error aerr;
	enum acpi_kind kind;
	size_t size;
	struct dmar_table dmar;
	struct ivrs_table ivrs;
};

struct info_warning {
	char kind[24];
	char msg[512];
};

/*
 * The scalars first: calloc hands back untouched pages, and QEMU 7.2's TCG
 * takes the wrong branch after a `setcc` whose store faults on one
 * (tests/vm/progs/tcg-setcc.c proves it). With acpi_from_files 72 KiB into the
 * struct, `info` misread its --acpi list in the guest about 1 run in 3.
 */
struct info {
	size_t ntables;
	bool acpi_from_files;
	bool have_topo;
	size_t nwarns;
	struct info_warning *warns;
	struct info_table tables[INFO_MAX_TABLES];
	struct topo topo;
};

/*
 * Fill @in (zeroed, on the heap: see struct info): the --acpi @files, else
 * the system's tables below @root; the kernel's view below @root when
 * @read_system; then the warnings. 0, or -1 with @why (an --acpi file that
 * cannot be read, an unusable root). A malformed table is not an error here:
 * it keeps its message in tables[i].aerr.
 */
int info_load(struct info *in, const char *const *files, int nfiles, const char *root,
	      bool read_system, char *why, size_t size);
/* One table held in memory, as `info --acpi` would show it (the fuzzer's way in). */
void info_load_buffer(struct info *in, const uint8_t *buf, size_t len);
void info_free(struct info *in);		/* and @in itself */

/* The system's devices and units that the tables name, NULL when not present. */
const struct topo_dev *info_dev(const struct info *in, uint16_t seg, uint16_t devid);
const struct topo_dev *info_scope_dev(const struct info *in, uint16_t seg,
				      const struct dmar_scope *sc);
const struct topo_unit *info_unit_for_drhd(const struct info *in, const struct dmar_struct *s);
const struct topo_unit *info_unit_for_ivhd(const struct info *in, const struct ivrs_ivhd *h);
const char *info_vendor_name(const struct info *in);	/* intel, amd, mixed, other, none */

/* ------------------------------------------------ one group, switched live */

struct live_group {
	char dir[64];			/* /sys/kernel/iommu_groups/N */
	int id;
	char dev[64];			/* its one device */
	char devdir[PATH_MAX];
	char drvdir[PATH_MAX];		/* /sys/bus/pci/drivers/nvme, "" if unbound */
	char driver[64];
	char orig[16], cur[16];
	bool unbound;			/* by us: bind again before leaving */
	int nr_children;
	char children[16][64];		/* block/net devices to wait for after a bind */
};

/*
 * @arg: a group number or a PCI device in one. The group must hold exactly
 * one device and be DMA or DMA-FQ. 0, or IT_EXIT_USAGE / IT_EXIT_ERROR with @why.
 */
int live_group_open(struct live_group *g, const char *arg, char *why, size_t size);
/*
 * Write @to into the group's type, unbinding the driver around it when the
 * kernel needs that and @rebind allows it (SIGINT/SIGTERM held off meanwhile).
 * 0, or -1 with @why; g->cur is the type the kernel reports afterwards.
 */
int live_group_switch(struct live_group *g, const char *to, bool rebind, char *why, size_t size);

#endif
