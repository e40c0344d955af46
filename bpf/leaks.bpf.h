/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iommutrace leaks, kernel side: the outstanding mappings, keyed by
 * (domain, IOVA), with the mapper's kernel stack. Included by
 * bpf/iommutrace.bpf.c after the device tables; its map and unmap event
 * handlers call leak_map() and leak_unmap(). Off unless userspace sets
 * track_leaks (then it also sizes the tables; they stay at one entry
 * otherwise, so an untracked run pays no memory for them).
 *
 * What a map event does not say, the context does: the device is the DMA-API
 * scope on top (or, outside the DMA API, the domain iommu_map() named); the
 * domain is iommu_map()'s where hooked (--deep, VFIO), else the one the
 * device was last seen in (dev_info.domain), so a map and its unmap, both in
 * the same device's scope, agree on the key.
 */
#ifndef IT_LEAKS_BPF_H
#define IT_LEAKS_BPF_H

#include "it_leaks.h"

const volatile bool track_leaks = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IT_LEAK_ENTRIES);	/* 1 when not tracking (userspace) */
	__type(key, struct it_leak_key);
	__type(value, struct it_leak_val);
} leak_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, IT_LEAK_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, IT_LEAK_STACK_DEPTH * sizeof(__u64));
} leak_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IT_LEAK_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} leak_stats SEC(".maps");

static __always_inline void leak_stat_add(__u32 what, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&leak_stats, &what);

	if (v)
		__sync_fetch_and_add(v, n);
}

/* The key's domain: the one a hook named, the device's, or the slot + 1 */
static __always_inline __u64 leak_domain(__u32 slot, __u64 domain)
{
	struct it_dev_info *info;

	if (domain)
		return domain;
	info = bpf_map_lookup_elem(&dev_info, &slot);
	if (info && info->domain)
		return info->domain;
	return (__u64)slot + 1;
}

/* @ctx: the tracepoint program's context, for the stack */
static __always_inline void leak_map(void *ctx, __u32 slot, __u64 domain, __u64 iova, __u64 size)
{
	struct it_leak_key k = {};
	struct it_leak_val v = {};
	long id;

	if (!track_leaks)
		return;
	k.domain = leak_domain(slot, domain);
	k.iova = iova;
	v.size = size;
	v.t_map = bpf_ktime_get_ns();
	v.slot = slot;
	v.pid = bpf_get_current_pid_tgid() >> 32;
	v.dir = IT_LEAK_DIR_UNKNOWN;
	bpf_get_current_comm(v.comm, sizeof(v.comm));
	id = bpf_get_stackid(ctx, &leak_stacks, 0);
	v.stack_id = id;
	if (id < 0)
		leak_stat_add(IT_LEAK_NO_STACK, 1);
	if (bpf_map_update_elem(&leak_table, &k, &v, BPF_ANY))
		leak_stat_add(IT_LEAK_TABLE_FULL, 1);
}

struct leak_unmap_walk {
	__u64 domain;
	__u64 iova;	/* next segment's start */
	__u64 left;	/* bytes of the unmap not yet matched */
	__u32 found;	/* entries removed */
	__u32 steps;
};

/* One segment of an unmap: remove the entry at w->iova; bpf_loop callback */
static long leak_unmap_step(__u32 i, void *data)
{
	struct leak_unmap_walk *w = data;
	struct it_leak_key k = { .domain = w->domain, .iova = w->iova };
	struct it_leak_val *v, tail;
	__u64 size;

	w->steps = i + 1;
	v = bpf_map_lookup_elem(&leak_table, &k);
	if (!v)
		return 1;
	size = v->size;
	if (size > w->left) {
		/* the unmap ends inside this mapping: its tail stays mapped */
		tail = *v;
		tail.size = size - w->left;
		bpf_map_delete_elem(&leak_table, &k);
		k.iova += w->left;
		bpf_map_update_elem(&leak_table, &k, &tail, BPF_ANY);
		leak_stat_add(IT_LEAK_SPLIT, 1);
		w->found++;
		w->left = 0;
		return 1;
	}
	bpf_map_delete_elem(&leak_table, &k);
	w->found++;
	w->iova += size;
	w->left -= size;
	return w->left == 0 || size == 0;
}

static __always_inline void leak_unmap(__u32 slot, __u64 domain, __u64 iova, __u64 unmapped)
{
	struct leak_unmap_walk w = {};

	if (!track_leaks || !unmapped)
		return;
	w.domain = leak_domain(slot, domain);
	w.iova = iova;
	w.left = unmapped;
	bpf_loop(IT_LEAK_UNMAP_WALK, leak_unmap_step, &w, 0);
	if (!w.found)
		leak_stat_add(IT_LEAK_UNTRACKED, 1);
	if (!w.left)
		return;
	if (w.steps >= IT_LEAK_UNMAP_WALK)
		leak_stat_add(IT_LEAK_WALK_LIMIT, 1);
	else
		leak_stat_add(IT_LEAK_UNTRACKED_BYTES, w.left);
}

#endif /* IT_LEAKS_BPF_H */
