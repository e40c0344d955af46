/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommutrace ABI: everything the BPF programs and userspace exchange.
 *
 * Aggregation model: every traced operation lands in a per-CPU array slot
 * indexed by (device slot, op). A device slot is a small integer the BPF side
 * hands out the first time it sees a struct device; slot 0 collects what could
 * not be attributed to a device. Userspace sums the per-CPU copies.
 */
#ifndef IOMMUTRACE_H
#define IOMMUTRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define IT_MAX_DEVS		256	/* device slots, slot 0 = unattributed */
#define IT_SLOT_UNKNOWN		0
#define IT_LAT_SLOTS		32	/* log2(ns): [2^k, 2^(k+1)) */
#define IT_SIZE_SLOTS		32	/* log2(bytes) */
#define IT_NAME_LEN		32
#define IT_COMM_LEN		16
#define IT_SCOPE_DEPTH		6	/* nested scopes per execution context */
#define IT_WALK_MAX_LEVELS	6
#define IT_FAULT_TEXT_LEN	160

enum it_op {
	IT_OP_MAP,		/* iommu:map events; latency from iommu_map*() */
	IT_OP_UNMAP,		/* iommu:unmap events; latency from iommu_unmap*() */
	IT_OP_DMA_MAP,		/* DMA-API map calls (iova alloc + map + sync) */
	IT_OP_DMA_UNMAP,	/* DMA-API unmap calls (incl. strict invalidation) */
	IT_OP_IOVA_ALLOC,	/* alloc_iova_fast() */
	IT_OP_IOVA_SLOW,	/* alloc_iova(): rcache miss, global rbtree */
	IT_OP_IOVA_FREE,	/* free_iova_fast() */
	IT_OP_IOTLB_SYNC,	/* strict: vendor iotlb_sync per unmap */
	IT_OP_FQ_FLUSH,		/* lazy: fq_flush_iotlb(), whole-domain flush */
	IT_OP_FQ_TIMEOUT,	/* lazy: flushes triggered by the 10 ms timer */
	IT_OP_FQ_FREED,		/* lazy: IOVAs freed from the flush queue */
	IT_OP_INV_CMD,		/* hardware invalidation submissions (qi_submit_sync, AMD cmd) */
	IT_OP_FAULT,		/* I/O page faults */
	IT_OP_MAX,
};

/* One (device, op) cell; per CPU. */
struct it_op_stats {
	__u64 count;
	__u64 bytes;
	__u64 lat_count;	/* timed calls: may differ from count (sg, sampling) */
	__u64 lat_sum_ns;
	__u64 lat_hist[IT_LAT_SLOTS];
};

enum it_pgsize {
	IT_PGSIZE_4K,
	IT_PGSIZE_2M,
	IT_PGSIZE_1G,
	IT_PGSIZE_OTHER,	/* AMD non-default sizes */
	IT_PGSIZE_NOLEAF,	/* walk found no present leaf */
	IT_PGSIZE_MAX,
};

/* Per-device histograms that are not per op; per CPU. */
struct it_dev_hists {
	__u64 map_size[IT_SIZE_SLOTS];
	__u64 unmap_size[IT_SIZE_SLOTS];
	__u64 pgsize[IT_PGSIZE_MAX];	/* leaf page size of each map, by the walker */
};

/* All of a device slot's counters: one per-CPU lookup per hook program */
struct it_dev_stats {
	struct it_op_stats ops[IT_OP_MAX];
	struct it_dev_hists hists;
};

/* Domain type bits as in include/linux/iommu.h (__IOMMU_DOMAIN_*). */
#define IT_DOMAIN_PAGING	(1U << 0)
#define IT_DOMAIN_DMA_API	(1U << 1)
#define IT_DOMAIN_PT		(1U << 2)
#define IT_DOMAIN_DMA_FQ	(1U << 3)

/* it_dev_info.flags */
#define IT_DEVF_DIRECT_MAPS	(1U << 0)	/* maps seen outside the DMA API (VFIO...) */

/* Filled once per slot by BPF; not per CPU. */
struct it_dev_info {
	char name[IT_NAME_LEN];		/* dev_name(): "0000:00:04.0" for PCI */
	__u64 domain;			/* last domain seen, for attribution only */
	__s32 group;			/* iommu group id, -1 if none */
	__u32 domain_type;		/* iommu_domain.type bits, 0 if unknown */
	__u32 flags;
	__u32 owner_pid;		/* last process mapping directly (VFIO user) */
	__u32 direct_domain_type;	/* type bits of the domain it mapped directly */
	char owner_comm[IT_COMM_LEN];
};

enum it_lost {
	IT_LOST_SLOTS_FULL,	/* more devices than IT_MAX_DEVS: counted as unknown */
	IT_LOST_TASK_CTX,	/* no task storage: op not timed or not attributed */
	IT_LOST_SCOPE_DEPTH,	/* nesting deeper than IT_SCOPE_DEPTH in one context */
	IT_LOST_UNPAIRED,	/* exit without entry (tracer started mid-call) */
	IT_LOST_RINGBUF,	/* fault events that did not fit the ring buffer */
	IT_LOST_MAX,
};

/* Twins (bpf/iommutrace.bpf.c): CPUs whose per-CPU offset they know */
#define IT_TWIN_MAX_CPUS	1024

enum it_vendor {
	IT_VENDOR_GENERIC,	/* iommu:io_page_fault */
	IT_VENDOR_INTEL,
	IT_VENDOR_AMD,
	IT_VENDOR_VIRTIO,	/* virtio-iommu (paravirtual) */
	IT_VENDOR_MAX,
};

/* Walk results: why translation stopped */
enum it_walk_status {
	IT_WALK_NONE,		/* not walked */
	IT_WALK_LEAF,		/* found a present leaf */
	IT_WALK_NOT_PRESENT,	/* a level's entry was not present */
	IT_WALK_NO_CONTEXT,	/* Intel: root/context entry not present */
	IT_WALK_READ_ERROR,	/* could not read a table page */
	IT_WALK_UNAVAILABLE,	/* layout unknown on this kernel */
};

struct it_walk {
	__u8 status;		/* enum it_walk_status */
	__u8 levels;		/* paging levels of the table */
	__u8 stop_level;	/* level of the leaf or of the missing entry */
	__u8 nr_ptes;		/* valid entries in pte[] (top level first) */
	__u32 pad;
	__u64 pte[IT_WALK_MAX_LEVELS];
};

/* Ring-buffer event for each fault. */
struct it_fault_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC */
	__u64 iova;
	__u32 slot;		/* device slot, 0 if the device is unknown */
	__u16 source_id;	/* PCI requester id (bus << 8 | devfn) */
	__u8 vendor;		/* enum it_vendor */
	__u8 reason;		/* Intel fault reason code */
	__u32 flags;		/* AMD event flags / generic fault flags */
	__u32 pasid;
	__u8 is_write;
	__u8 pasid_present;
	__u8 has_text;
	__u8 pad;
	__u16 segment;
	__u16 pad2;
	struct it_walk walk;
	char device[IT_NAME_LEN];
	char text[IT_FAULT_TEXT_LEN];	/* kernel log line, when captured from printk */
};

/*
 * What a daemon sharing its maps (src/pin.c) tells the sessions that read
 * them: who it is and what its hooks can see. Written by userspace only.
 */
#define IT_SHARED_ROLES		24	/* >= IT_ROLE_MAX (include/it_hooks.h) */
#define IT_SHARED_TEXT_LEN	96
#define IT_SHARED_HOOKS		48	/* >= hooks of include/it_hooks.h */
#define IT_SHARED_HOOK_PROGS	4	/* entry, exit, their twins (src/probes.h) */
#define IT_SHARED_NO_TWIN	0xffffffffu

/*
 * An attached hook of the daemon: a reader asks the kernel by id for its
 * programs' runs, run time and recursion skips, and takes from the main
 * copies' skips what their twins (slots in twin_served, also pinned) made up.
 */
struct it_shared_hook {
	char name[24];
	char kind[12];
	__u32 prog_ids[IT_SHARED_HOOK_PROGS];	/* 0: none */
	__u32 twin_slots[2];		/* entry's, exit's; IT_SHARED_NO_TWIN: none attached */
};

struct it_shared_meta {
	__u32 pid;
	__u32 deep;
	__u64 start_ns;			/* CLOCK_MONOTONIC when its hooks attached */
	__u32 nr_hooks;			/* attached, each in hooks[] */
	__u32 nr_roles;
	__u8 role_state[IT_SHARED_ROLES];	/* enum it_role_state */
	char role_text[IT_SHARED_ROLES][IT_SHARED_TEXT_LEN];
	char mode[32];
	__u32 twins;			/* --lossless */
	struct it_shared_hook hooks[IT_SHARED_HOOKS];
};

#endif /* IOMMUTRACE_H */
