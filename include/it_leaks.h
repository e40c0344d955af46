/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Outstanding DMA mappings (iommutrace leaks): the table the BPF side keeps
 * (bpf/leaks.bpf.h) and userspace reads (src/leaks.c).
 *
 * One entry per iommu:map event, keyed by (domain, IOVA): filled on map,
 * removed by the unmap event that covers it. A scatterlist or a dma_iova_link
 * series maps segment by segment at consecutive IOVAs and unmaps the whole
 * range in one event: the unmap walks the entries from its IOVA on, segment
 * after segment, until the range is covered.
 */
#ifndef IT_LEAKS_H
#define IT_LEAKS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define IT_LEAK_ENTRIES		65536	/* outstanding mappings tracked at once */
#define IT_LEAK_STACKS		4096	/* distinct mapper stacks */
#define IT_LEAK_STACK_DEPTH	32	/* frames kept per stack */
#define IT_LEAK_UNMAP_WALK	512	/* segments one unmap event may cover */
#define IT_LEAK_COMM_LEN	16

/*
 * domain: the struct iommu_domain *; where no hook named it, the device slot
 * + 1 (never a kernel address), so two devices' IOVAs stay apart.
 */
struct it_leak_key {
	__u64 domain;
	__u64 iova;
};

#define IT_LEAK_DIR_UNKNOWN	0xff

struct it_leak_val {
	__u64 size;
	__u64 t_map;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__s32 stack_id;		/* in leak_stacks; < 0: no stack (counted) */
	__u32 slot;		/* device slot */
	__u32 pid;		/* tgid of the mapper's context */
	__u8 dir;		/* DMA direction, IT_LEAK_DIR_UNKNOWN in the lean hooks */
	__u8 pad[3];
	char comm[IT_LEAK_COMM_LEN];
};

/* Counters of the table (per CPU): what it could not hold, and the unmaps of
 * mappings it never saw */
enum it_leak_stat {
	IT_LEAK_TABLE_FULL,	/* a map not tracked: the table was full */
	IT_LEAK_NO_STACK,	/* tracked without a stack (stack map full, collision) */
	IT_LEAK_UNTRACKED,	/* unmap events whose mapping was made before the trace */
	IT_LEAK_UNTRACKED_BYTES,
	IT_LEAK_WALK_LIMIT,	/* unmaps covering more than IT_LEAK_UNMAP_WALK segments */
	IT_LEAK_SPLIT,		/* partial unmaps: an entry's head removed, its tail kept */
	IT_LEAK_STAT_MAX,
};

#endif /* IT_LEAKS_H */
