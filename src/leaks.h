/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Outstanding DMA mappings: the BPF leak table read into groups per device
 * and per mapper stack (count, bytes, oldest age, age histogram), and the
 * stacks symbolized from /proc/kallsyms.
 */
#ifndef IT_LEAKS_SRC_H
#define IT_LEAKS_SRC_H

#include <stdbool.h>
#include <stddef.h>

#include "iommutrace.h"
#include "it_leaks.h"

struct it_collector;

/* Age buckets: [0,1) s, then [2^(i-1), 2^i) s, the last one open-ended */
#define IT_LEAK_AGE_SLOTS	12

/* One table entry as read */
struct it_leak_entry {
	struct it_leak_key key;
	struct it_leak_val val;
};

struct it_leak_table {
	struct it_leak_entry *e;
	size_t nr, cap;
	__u64 stats[IT_LEAK_STAT_MAX];
	__u64 now_ns;		/* CLOCK_MONOTONIC when read */
};

/* Outstanding mappings of one device, or of one (device, stack) */
struct it_leak_group {
	__u32 slot;
	__s32 stack_id;		/* < 0 in a device row, or: mapped with no stack */
	__u64 count, bytes;
	double oldest_s;
	__u64 age_hist[IT_LEAK_AGE_SLOTS];
	__u32 pid;		/* of the oldest mapping */
	char comm[IT_LEAK_COMM_LEN];
};

struct it_leak_report {
	struct it_leak_group *devs;	/* one per device with mappings, most first */
	size_t nr_devs;
	struct it_leak_group *stacks;	/* per (device, stack), most first */
	size_t nr_stacks;
	__u64 count, bytes;		/* everything listed */
	__u64 hidden;			/* younger than min_age, or other devices */
};

/* Which entries count: the device rows a filter accepted (NULL: all) */
struct it_leak_filter {
	double min_age_s;
	const bool *slots;		/* [IT_MAX_DEVS] */
};

int leak_age_slot(double age_s);
/* "<1s", "1-2s", ..., ">=1024s" */
const char *leak_age_label(int slot, char *buf, size_t size);

/* Reads the table and its counters; 0 or -errno */
int leaks_read(struct it_collector *c, struct it_leak_table *t);
void leak_table_free(struct it_leak_table *t);

/* Groups @t's entries; 0 or -ENOMEM. Free with leak_report_free. */
int leaks_aggregate(const struct it_leak_table *t, const struct it_leak_filter *f,
		    struct it_leak_report *r);
void leak_report_free(struct it_leak_report *r);

/* Per-device figures for top and export (--leaks), indexed by device slot */
struct it_leak_gauge {
	__u64 count, bytes;
	double oldest_s;
};

/* Whether the collector tracks outstanding mappings (--leaks, or `leaks`) */
bool leaks_tracking(const struct it_collector *c);
/* Fills @g[IT_MAX_DEVS] and, if not NULL, @stats[IT_LEAK_STAT_MAX]; 0 or -errno */
int leaks_gauges(struct it_collector *c, struct it_leak_gauge *g, __u64 *stats);

/* Kernel symbols from a kallsyms file ("" or NULL: /proc/kallsyms) */
struct it_ksyms;
struct it_ksyms *ksyms_load(const char *path);
void ksyms_free(struct it_ksyms *ks);
/* "func+0x1a [module]" or "0xffff..." when unknown; returns buf */
const char *ksyms_format(const struct it_ksyms *ks, __u64 addr, char *buf, size_t size);
/* The symbol name only, NULL when unknown */
const char *ksyms_name(const struct it_ksyms *ks, __u64 addr);
/* Whether a frame is inside the DMA API, the IOMMU core or the tracing machinery */
bool leak_frame_is_core(const char *sym);
/* Index of the first frame in @ips[0..n) outside that core (the mapper), or -1 */
int leak_mapper_frame(const struct it_ksyms *ks, const __u64 *ips, int n);

/* A stack's frames (0-terminated array of IT_LEAK_STACK_DEPTH); count or -errno */
int leaks_stack(struct it_collector *c, __s32 stack_id, __u64 *ips);

#endif
