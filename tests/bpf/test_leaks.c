// SPDX-License-Identifier: GPL-2.0
/*
 * Host BPF tests of the outstanding-mappings table (bpf/leaks.bpf.h): map
 * and unmap events driven through BPF_PROG_TEST_RUN on the raw_tp programs
 * inside device scopes opened by raw_tp/it_test, then read back with
 * src/leaks.c as `iommutrace leaks` does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector.h"
#include "common.h"
#include "iommutrace.skel.h"
#include "it_hooks.h"
#include "leaks.h"
#include "testskel.h"
#include "unit.h"

#define DEV_A	0xffff888000a00000ULL	/* fake pointers: never dereferenced successfully */
#define DEV_B	0xffff888000b00000ULL
#define DOM_1	0xffff888000d10000ULL
#define PG	4096ULL

struct fixture {
	struct iommutrace_bpf *skel;
	struct it_collector col;
	struct it_leak_table t;
};

static int run(struct bpf_program *prog, __u64 a0, __u64 a1, __u64 a2)
{
	return testskel_run(prog, a0, a1, a2, NULL);
}

/* @entries: the table's size, 0 for the default */
static int fixture_load(struct fixture *fx, bool track, __u32 entries)
{
	memset(fx, 0, sizeof(*fx));
	fx->skel = testskel_open();
	if (!fx->skel)
		return -errno;
	fx->skel->rodata->track_leaks = track;
	if (entries)
		bpf_map__set_max_entries(fx->skel->maps.leak_table, entries);
	return testskel_load(&fx->skel, &fx->col);
}

static void fixture_read(struct fixture *fx)
{
	leak_table_free(&fx->t);
	if (leaks_read(&fx->col, &fx->t))
		printf("# leaks_read failed\n");
}

static void fixture_free(struct fixture *fx)
{
	leak_table_free(&fx->t);
	iommutrace_bpf__destroy(fx->skel);
}

#define T(action, key, arg) run(fx.skel->progs.it_test, action, key, arg)
#define MAP(iova, size) run(fx.skel->progs.raw_tp__map, iova, 0x5000000, size)
#define UNMAP(iova, size) run(fx.skel->progs.raw_tp__unmap, iova, size, size)

static const struct it_leak_entry *entry_at(const struct fixture *fx, __u64 iova)
{
	size_t i;

	for (i = 0; i < fx->t.nr; i++)
		if (fx->t.e[i].key.iova == iova)
			return &fx->t.e[i];
	return NULL;
}

/* map and unmap events inside DMA-API scopes of device A */
static void dev_map(struct fixture *fxp, __u64 dev, __u64 iova, __u64 size)
{
	struct fixture fx = *fxp;

	T(IT_TEST_DEV_ENTER, dev, IT_OP_DMA_MAP | IT_SCOPE_IOVA);
	MAP(iova, size);
	T(IT_TEST_DEV_EXIT, dev, IT_OP_DMA_MAP | IT_SCOPE_IOVA);
}

static void dev_unmap(struct fixture *fxp, __u64 dev, __u64 iova, __u64 size)
{
	struct fixture fx = *fxp;

	T(IT_TEST_DEV_ENTER, dev, IT_OP_DMA_UNMAP | IT_SCOPE_IOVA);
	UNMAP(iova, size);
	T(IT_TEST_DEV_EXIT, dev, IT_OP_DMA_UNMAP | IT_SCOPE_IOVA);
}

static void test_map_unmap(void)
{
	struct fixture fx;
	const struct it_leak_entry *e;
	struct it_leak_report r;
	__u32 slot_a;
	int i, with_stack = 0;

	CHECK(fixture_load(&fx, true, 0) == 0, "leak table and programs load (CO-RE against host BTF)");
	if (!fx.skel)
		return;
	dev_map(&fx, DEV_A, 0x10000, PG);
	fixture_read(&fx);
	CHECK(fx.t.nr == 1, "a map inside a DMA-API scope is one entry (%zu)", fx.t.nr);
	e = entry_at(&fx, 0x10000);
	CHECK(e && e->val.size == PG && e->val.slot != IT_SLOT_UNKNOWN,
	      "entry: IOVA, size and the device's slot");
	slot_a = e ? e->val.slot : 0;
	CHECK(e && e->val.pid == (unsigned int)getpid() && e->val.dir == IT_LEAK_DIR_UNKNOWN,
	      "entry: the mapper's pid; direction unknown in the lean hooks");
	CHECK(e && e->key.domain == slot_a + 1,
	      "a device whose domain is unknown keys by its slot + 1 (0x%llx)",
	      e ? (unsigned long long)e->key.domain : 0ULL);
	CHECK(e && e->val.t_map > 0 && e->val.t_map <= fx.t.now_ns, "entry: map time before the read");
	with_stack = e && e->val.stack_id >= 0;
	CHECK(with_stack == (fx.t.stats[IT_LEAK_NO_STACK] == 0),
	      "a stack id, or the missing stack counted (stack_id %d, no_stack %llu)",
	      e ? e->val.stack_id : -1, (unsigned long long)fx.t.stats[IT_LEAK_NO_STACK]);
	if (with_stack) {
		__u64 ips[IT_LEAK_STACK_DEPTH];

		CHECK(leaks_stack(&fx.col, e->val.stack_id, ips) > 0, "the stack reads back with frames");
	}

	dev_unmap(&fx, DEV_A, 0x10000, PG);
	fixture_read(&fx);
	CHECK(fx.t.nr == 0, "its unmap removes it");

	/* a scatterlist: a map event per segment, one unmap for the range */
	for (i = 0; i < 5; i++)
		dev_map(&fx, DEV_A, 0x100000 + i * 2 * PG, 2 * PG);
	fixture_read(&fx);
	CHECK(fx.t.nr == 5, "scatterlist: one entry per segment (%zu)", fx.t.nr);
	CHECK(leaks_aggregate(&fx.t, NULL, &r) == 0 && r.nr_devs == 1 && r.count == 5 &&
	      r.bytes == 10 * PG && r.devs[0].slot == slot_a,
	      "aggregated: one device, 5 mappings, 40 KiB");
	leak_report_free(&r);
	dev_unmap(&fx, DEV_A, 0x100000, 10 * PG);
	fixture_read(&fx);
	CHECK(fx.t.nr == 0 && fx.t.stats[IT_LEAK_SPLIT] == 0,
	      "scatterlist: one unmap event covering the range removes every segment");

	/* the same IOVA on two devices: two domains, two entries */
	dev_map(&fx, DEV_A, 0x200000, PG);
	dev_map(&fx, DEV_B, 0x200000, PG);
	fixture_read(&fx);
	CHECK(fx.t.nr == 2, "one IOVA in two devices' domains: two entries");
	dev_unmap(&fx, DEV_B, 0x200000, PG);
	fixture_read(&fx);
	e = entry_at(&fx, 0x200000);
	CHECK(fx.t.nr == 1 && e && e->val.slot == slot_a, "device B's unmap leaves device A's");
	dev_unmap(&fx, DEV_A, 0x200000, PG);

	/* partial unmap: the head goes, the tail stays */
	dev_map(&fx, DEV_A, 0x300000, 4 * PG);
	dev_unmap(&fx, DEV_A, 0x300000, PG);
	fixture_read(&fx);
	e = entry_at(&fx, 0x301000);
	CHECK(fx.t.nr == 1 && e && e->val.size == 3 * PG && fx.t.stats[IT_LEAK_SPLIT] == 1,
	      "a partial unmap keeps the tail (3 pages at +4K), counted");
	dev_unmap(&fx, DEV_A, 0x301000, 3 * PG);

	/* unmaps of mappings the table never saw: older than the trace */
	dev_unmap(&fx, DEV_A, 0x400000, 2 * PG);
	fixture_read(&fx);
	CHECK(fx.t.nr == 0 && fx.t.stats[IT_LEAK_UNTRACKED] == 1 &&
	      fx.t.stats[IT_LEAK_UNTRACKED_BYTES] == 2 * PG,
	      "an unmap with no entry counts as older than the trace, with its bytes");

	/* a direct (VFIO-style) map: iommu_map() names the domain */
	T(IT_TEST_OP_ENTER, DOM_1, IT_OP_MAP | IT_TEST_EXIT_DEEP);
	MAP(0x500000, PG);
	T(IT_TEST_OP_ENTER, DOM_1, IT_OP_UNMAP | IT_TEST_EXIT_DEEP);
	fixture_read(&fx);
	e = entry_at(&fx, 0x500000);
	CHECK(e && e->key.domain == DOM_1, "outside the DMA API: keyed by iommu_map()'s domain");
	UNMAP(0x500000, PG);
	fixture_read(&fx);
	CHECK(fx.t.nr == 0, "the unmap in the same context finds it by that domain");

	/* the per-device gauges top and export read */
	{
		struct it_leak_gauge g[IT_MAX_DEVS];
		__u64 st[IT_LEAK_STAT_MAX];

		dev_map(&fx, DEV_A, 0x600000, PG);
		dev_map(&fx, DEV_A, 0x601000, 2 * PG);
		CHECK(leaks_tracking(&fx.col) && leaks_gauges(&fx.col, g, st) == 0 &&
		      g[slot_a].count == 2 && g[slot_a].bytes == 3 * PG && g[slot_a].oldest_s >= 0 &&
		      st[IT_LEAK_SPLIT] == 1, "gauges: device A holds 2 mappings, 12 KiB");
		dev_unmap(&fx, DEV_A, 0x600000, 3 * PG);
	}

	/* more segments than one unmap may walk */
	for (i = 0; i < IT_LEAK_UNMAP_WALK + 8; i++)
		dev_map(&fx, DEV_A, 0x1000000 + i * PG, PG);
	dev_unmap(&fx, DEV_A, 0x1000000, (IT_LEAK_UNMAP_WALK + 8) * PG);
	fixture_read(&fx);
	CHECK(fx.t.nr == 8 && fx.t.stats[IT_LEAK_WALK_LIMIT] == 1,
	      "an unmap over %d segments stops at the walk limit, counted (%zu left)",
	      IT_LEAK_UNMAP_WALK + 8, fx.t.nr);
	fixture_free(&fx);
}

static void test_table_full(void)
{
	struct fixture fx;
	int i;

	CHECK(fixture_load(&fx, true, 4) == 0, "a 4-entry table loads");
	if (!fx.skel)
		return;
	for (i = 0; i < 6; i++)
		dev_map(&fx, DEV_A, 0x10000 + i * PG, PG);
	fixture_read(&fx);
	CHECK(fx.t.nr == 4 && fx.t.stats[IT_LEAK_TABLE_FULL] == 2,
	      "a full table counts the maps it could not hold (%llu)",
	      (unsigned long long)fx.t.stats[IT_LEAK_TABLE_FULL]);
	fixture_free(&fx);
}

static void test_off(void)
{
	struct fixture fx;

	CHECK(fixture_load(&fx, false, 1) == 0, "tracking off: loads with a 1-entry table");
	if (!fx.skel)
		return;
	dev_map(&fx, DEV_A, 0x10000, PG);
	dev_unmap(&fx, DEV_A, 0x20000, PG);
	fixture_read(&fx);
	CHECK(fx.t.nr == 0 && fx.t.stats[IT_LEAK_UNTRACKED] == 0 && fx.t.stats[IT_LEAK_TABLE_FULL] == 0,
	      "tracking off: nothing recorded, nothing counted");
	CHECK(!leaks_tracking(&fx.col), "tracking off: leaks_tracking says so");
	fixture_free(&fx);
}

int main(void)
{
	char msg[256];

	if (collector_preflight(msg, sizeof(msg))) {
		printf("not ok - bpf tests need root and BTF: %s\n", msg);
		return 1;
	}
	libbpf_set_print(NULL);
	test_map_unmap();
	test_table_full();
	test_off();
	UNIT_EXIT();
}
