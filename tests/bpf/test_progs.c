// SPDX-License-Identifier: GPL-2.0
/*
 * Host BPF tests: load and attach on this kernel (CO-RE against its BTF), then
 * drive the attribution and aggregation logic through BPF_PROG_TEST_RUN on the
 * raw_tp programs, which call the same inline helpers as the fentry/kprobe
 * hooks, and read the result back through the collector and model.
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
#include "testskel.h"
#include "unit.h"

/* the raw_tp/it_test actions (include/it_hooks.h) */
enum {
	T_DEV_ENTER = IT_TEST_DEV_ENTER, T_DEV_EXIT = IT_TEST_DEV_EXIT,
	T_OP_ENTER = IT_TEST_OP_ENTER, T_OP_EXIT = IT_TEST_OP_EXIT,
	T_ATTACH = IT_TEST_ATTACH, T_IOVA_FREE = IT_TEST_IOVA_FREE,
	T_FQ_TIMEOUT_ENTER = IT_TEST_FQ_TIMEOUT_ENTER, T_FQ_TIMEOUT_EXIT = IT_TEST_FQ_TIMEOUT_EXIT,
	T_FQ_RING_FREE_ENTER = IT_TEST_FQ_RING_FREE_ENTER,
	T_FQ_RING_FREE_EXIT = IT_TEST_FQ_RING_FREE_EXIT,
	T_RID_SLOT = IT_TEST_RID_SLOT, T_PCI_NAME = IT_TEST_PCI_NAME,
	T_FLUSH_ALL_ENTER = IT_TEST_FLUSH_ALL_ENTER, T_FLUSH_ALL_EXIT = IT_TEST_FLUSH_ALL_EXIT,
	T_OBJS_SET = IT_TEST_OBJS_SET,
	T_TWIN_CLAIM = IT_TEST_TWIN_CLAIM, T_TWIN_RELEASE = IT_TEST_TWIN_RELEASE,
};

#define DEV_A	0xffff888000a00000ULL	/* fake pointers: never dereferenced successfully */
#define DEV_B	0xffff888000b00000ULL
#define DEV_E	0xffff888000e00000ULL
#define DOM_1	0xffff888000d10000ULL
#define DOM_2	0xffff888000d20000ULL
#define DOM_3	0xffff888000d30000ULL
#define IOVAD	0xffff888000f00000ULL
#define COOKIE	0xffff888000c00000ULL

static int run(struct bpf_program *prog, __u64 a0, __u64 a1, __u64 a2)
{
	return testskel_run(prog, a0, a1, a2, NULL);
}

/* the program's return value (raw_tp test runs report it) */
static long run_ret(struct bpf_program *prog, __u64 a0, __u64 a1, __u64 a2)
{
	long ret;

	testskel_run(prog, a0, a1, a2, &ret);
	return ret;
}

struct fixture {
	struct iommutrace_bpf *skel;
	struct it_collector col;
	struct it_snapshot snap;
};

/* @deep: the --deep programs' behaviour (every layer scoped and timed) */
static int fixture_load(struct fixture *fx, unsigned int sample_every, bool deep)
{
	memset(fx, 0, sizeof(*fx));
	it_verbose = getenv("IT_TEST_VERBOSE") ? 1 : 0;
	fx->skel = testskel_open();
	if (!fx->skel)
		return -errno;
	fx->skel->rodata->lat_sample_every = sample_every;
	fx->skel->rodata->deep = deep;
	/* the model reads through a collector: give it this skeleton */
	return testskel_load(&fx->skel, &fx->col);
}

static void fixture_read(struct fixture *fx)
{
	collector_read(&fx->col, &fx->snap);
}

static void fixture_free(struct fixture *fx)
{
	free(fx->col.percpu_buf);
	iommutrace_bpf__destroy(fx->skel);
}

#define T(action, key, arg) run(fx.skel->progs.it_test, action, key, arg)

static void test_load_attach(void)
{
	/* not a running exporter's maps; --lossless: the twins load too */
	struct it_collector_opts o = { .own = true, .twins = true };
	struct it_collector c;
	int ret = collector_open(&c, &o), i, tps = 0, twinned = 0, fentry_refused = 0;

	CHECK(ret == IT_EXIT_OK, "collector loads and attaches on this kernel (%d: %s)", ret,
	      c.fail_msg);
	for (i = 0; ret == IT_EXIT_OK && i < c.probes.nr; i++) {
		const struct it_probe *pr = &c.probes.probes[i];

		if (pr->tp && pr->links[0])
			tps++;
		if (pr->tp && pr->kind == IT_KIND_TP_BTF && pr->links[IT_PROG_ENTRY_TWIN])
			twinned++;
		if (strstr(pr->failure, "fentry load failed: Operation not permitted"))
			fentry_refused++;
	}
	CHECK(tps >= 2, "iommu:map and iommu:unmap tracepoints attached (%d tracepoint hooks)", tps);
	CHECK(twinned == 2, "iommu:map and iommu:unmap attached with their twins (%d)", twinned);
	if (!c.probes.caps.fentry)
		printf("# this kernel refused fentry (EPERM, expected in the sandbox): %d hook(s) "
		       "reported it, falling back to kprobes: %s\n", fentry_refused,
		       c.probes.caps.kprobes ? "yes" : "none available");
	CHECK(c.probes.caps.fentry || fentry_refused >= 1,
	      "an fentry refusal is reported on the probe, not fatal");
	collector_close(&c);
}

static void test_dma_attribution(void)
{
	struct fixture fx;
	const struct it_dev *a;

	CHECK(fixture_load(&fx, 1, true) == 0, "test programs load (CO-RE against host BTF)");
	if (!fx.skel)
		return;
	/* DMA-API map of 4 KiB on device A through domain 1 */
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP);
	T(T_OP_ENTER, DOM_1, IT_OP_MAP);
	run(fx.skel->progs.raw_tp__map, 0x1000, 0x123000, 4096);
	T(T_OP_EXIT, DOM_1, IT_OP_MAP);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP);
	fixture_read(&fx);
	CHECK(fx.snap.nr_devs == 2, "one device slot allocated (nr_devs %d)", fx.snap.nr_devs);
	a = &fx.snap.devs[1];
	CHECK(a->ops[IT_OP_MAP].count == 1 && a->ops[IT_OP_MAP].bytes == 4096,
	      "map counted on device A with its bytes");
	CHECK(a->ops[IT_OP_MAP].lat_count == 1, "iommu_map latency recorded");
	CHECK(a->ops[IT_OP_DMA_MAP].count == 1 && a->ops[IT_OP_DMA_MAP].lat_count == 1,
	      "DMA-API map counted and timed once");
	CHECK(a->hists.map_size[12] == 1, "size histogram: 4096 in the 2^12 bucket");
	CHECK(fx.snap.devs[0].ops[IT_OP_MAP].count == 0, "nothing unattributed");

	/* same domain, no DMA-API scope: a direct (VFIO-style) map */
	T(T_OP_ENTER, DOM_1, IT_OP_MAP);
	run(fx.skel->progs.raw_tp__map, 0x2000, 0x456000, 8192);
	T(T_OP_EXIT, DOM_1, IT_OP_MAP);
	fixture_read(&fx);
	a = &fx.snap.devs[1];
	CHECK(a->ops[IT_OP_MAP].count == 2 && a->ops[IT_OP_MAP].bytes == 4096 + 8192,
	      "direct map attributed through the learnt domain");
	CHECK(a->owner_pid == (unsigned int)getpid() && (a->flags & IT_DEVF_DIRECT_MAPS),
	      "direct map records the owning process (pid %u)", a->owner_pid);

	/* unknown domain, and no scope at all: unattributed, still counted */
	T(T_OP_ENTER, DOM_2, IT_OP_MAP);
	run(fx.skel->progs.raw_tp__map, 0x3000, 0x789000, 4096);
	T(T_OP_EXIT, DOM_2, IT_OP_MAP);
	run(fx.skel->progs.raw_tp__map, 0x4000, 0x789000, 4096);
	fixture_read(&fx);
	CHECK(fx.snap.devs[0].ops[IT_OP_MAP].count == 2, "unknown domain and bare map land in slot 0");
	CHECK(fx.snap.total.ops[IT_OP_MAP].count == 4, "total equals every map event");

	/* strict unmap on device B: unmap + iotlb_sync inside the DMA scope */
	T(T_DEV_ENTER, DEV_B, IT_OP_DMA_UNMAP);
	T(T_OP_ENTER, DOM_2, IT_OP_UNMAP);
	run(fx.skel->progs.raw_tp__unmap, 0x3000, 4096, 4096);
	T(T_OP_EXIT, DOM_2, IT_OP_UNMAP);
	T(T_OP_ENTER, DOM_2, IT_OP_IOTLB_SYNC);
	T(T_OP_EXIT, DOM_2, IT_OP_IOTLB_SYNC);
	T(T_DEV_EXIT, DEV_B, IT_OP_DMA_UNMAP);
	fixture_read(&fx);
	CHECK(fx.snap.nr_devs == 3, "device B got the next slot");
	CHECK(fx.snap.devs[2].ops[IT_OP_UNMAP].count == 1 &&
	      fx.snap.devs[2].ops[IT_OP_UNMAP].bytes == 4096, "unmap on device B");
	CHECK(fx.snap.devs[2].ops[IT_OP_IOTLB_SYNC].count == 1 &&
	      fx.snap.devs[2].ops[IT_OP_IOTLB_SYNC].lat_count == 1, "strict sync counted and timed");
	CHECK(fx.snap.devs[2].ops[IT_OP_DMA_UNMAP].lat_count == 1, "DMA-API unmap timed");

	/* the domain of B was learnt too: a later sync outside the scope goes to B */
	T(T_OP_ENTER, DOM_2, IT_OP_IOTLB_SYNC);
	T(T_OP_EXIT, DOM_2, IT_OP_IOTLB_SYNC);
	fixture_read(&fx);
	CHECK(fx.snap.devs[2].ops[IT_OP_IOTLB_SYNC].count == 2, "sync charged through the domain");

	/* attach hook: domain 3 -> device E, before any DMA */
	T(T_ATTACH, DOM_3, DEV_E);
	T(T_OP_ENTER, DOM_3, IT_OP_MAP);
	run(fx.skel->progs.raw_tp__map, 0x5000, 0x1000, 4096);
	T(T_OP_EXIT, DOM_3, IT_OP_MAP);
	fixture_read(&fx);
	CHECK(fx.snap.nr_devs == 4 && fx.snap.devs[3].ops[IT_OP_MAP].count == 1,
	      "attach teaches domain -> device for later maps");
	CHECK(snapshot_lost_total(&fx.snap) == 0, "nothing lost in balanced sequences");
	fixture_free(&fx);
}

static void test_scopes(void)
{
	struct fixture fx;
	int i;

	if (fixture_load(&fx, 1, true))
		return;
	/* map_page -> __iommu_dma_map: the outer call is the one timed */
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP);
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP);
	run(fx.skel->progs.raw_tp__map, 0x1000, 0x1000, 4096);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP);
	fixture_read(&fx);
	CHECK(fx.snap.devs[1].ops[IT_OP_DMA_MAP].count == 1 &&
	      fx.snap.devs[1].ops[IT_OP_DMA_MAP].lat_count == 1, "nested DMA scopes count once");
	CHECK(fx.snap.devs[1].ops[IT_OP_MAP].count == 1, "map under nested scopes attributed");

	/* an exit with no entry (tracer attached mid-call) is lost, and shown */
	T(T_DEV_EXIT, DEV_B, IT_OP_DMA_UNMAP);
	/* an exit for a different device than the open scope must not pop it */
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP);
	T(T_DEV_EXIT, DEV_B, IT_OP_DMA_MAP);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP);
	fixture_read(&fx);
	CHECK(fx.snap.lost[IT_LOST_UNPAIRED] == 2, "unpaired exits counted as lost (%llu)",
	      (unsigned long long)fx.snap.lost[IT_LOST_UNPAIRED]);
	CHECK(fx.snap.devs[1].ops[IT_OP_DMA_MAP].count == 2, "mismatched exit left the scope intact");

	/* a nested exit the kernel skipped: the outer exit drops the leaked entry */
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP);
	T(T_DEV_ENTER, DEV_B, IT_OP_DMA_MAP);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP);
	run(fx.skel->progs.raw_tp__map, 0x1000, 0x1000, 4096);
	fixture_read(&fx);
	CHECK(fx.snap.lost[IT_LOST_UNPAIRED] == 3, "leaked entry dropped and counted (%llu)",
	      (unsigned long long)fx.snap.lost[IT_LOST_UNPAIRED]);
	CHECK(fx.snap.devs[1].ops[IT_OP_DMA_MAP].count == 3, "outer scope closed despite the leak");
	CHECK(fx.snap.devs[0].ops[IT_OP_MAP].count == 1, "stack empty again: next map unattributed");

	/* deeper than IT_SCOPE_DEPTH: counted lost, stack stays consistent */
	for (i = 0; i < IT_SCOPE_DEPTH + 1; i++)
		T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP);
	for (i = 0; i < IT_SCOPE_DEPTH; i++)
		T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP);
	fixture_read(&fx);
	CHECK(fx.snap.lost[IT_LOST_SCOPE_DEPTH] == 1, "scope overflow counted as lost");
	CHECK(fx.snap.devs[1].ops[IT_OP_DMA_MAP].count == 4, "outer scope still closed once");

	/* IOVA allocation with an rcache miss under device A */
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP);
	T(T_OP_ENTER, IOVAD, IT_OP_IOVA_ALLOC);
	T(T_OP_ENTER, IOVAD, IT_OP_IOVA_SLOW);
	T(T_OP_EXIT, IOVAD, IT_OP_IOVA_SLOW);
	T(T_OP_EXIT, IOVAD, IT_OP_IOVA_ALLOC);
	T(T_OP_ENTER, IOVAD, IT_OP_IOVA_ALLOC);
	T(T_OP_EXIT, IOVAD, IT_OP_IOVA_ALLOC);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP);
	fixture_read(&fx);
	CHECK(fx.snap.devs[1].ops[IT_OP_IOVA_ALLOC].count == 2 &&
	      fx.snap.devs[1].ops[IT_OP_IOVA_SLOW].count == 1, "IOVA fast and slow path counted");
	CHECK(dev_rcache_hit_pct(&fx.snap.devs[1]) == 50.0, "rcache hit ratio 50%% (%.1f)",
	      dev_rcache_hit_pct(&fx.snap.devs[1]));
	fixture_free(&fx);
}

static void test_lazy_flush(void)
{
	struct fixture fx;
	const struct it_dev *u;

	if (fixture_load(&fx, 1, true))
		return;
	/* a timer-driven flush, then the ring free that releases two IOVAs */
	T(T_OBJS_SET, 250, 0);
	T(T_FQ_TIMEOUT_ENTER, 0, 0);
	T(T_OP_ENTER, COOKIE, IT_OP_FQ_FLUSH);
	T(T_OP_EXIT, COOKIE, IT_OP_FQ_FLUSH);
	T(T_FQ_RING_FREE_ENTER, COOKIE, IT_TEST_OBJ_FQ);
	T(T_IOVA_FREE, 0, 0);
	T(T_IOVA_FREE, 0, 0);
	/* fq->head moved 250 -> 252 -> wraps at 256: 6 entries released */
	T(T_OBJS_SET, 0, 0);
	T(T_OBJS_SET, 0x100 + 0, 0);
	T(T_FQ_RING_FREE_EXIT, 0, 0);
	T(T_FQ_TIMEOUT_EXIT, 0, 0);
	/* a queue-full flush: no timer around it; its ring free releases nothing */
	T(T_OP_ENTER, COOKIE, IT_OP_FQ_FLUSH);
	T(T_OP_EXIT, COOKIE, IT_OP_FQ_FLUSH);
	T(T_FQ_RING_FREE_ENTER, COOKIE, IT_TEST_OBJ_FQ);
	T(T_FQ_RING_FREE_EXIT, 0, 0);
	/* a strict free outside any flush */
	T(T_IOVA_FREE, 0, 0);
	fixture_read(&fx);
	u = &fx.snap.total;
	CHECK(u->ops[IT_OP_FQ_FLUSH].count == 2 && u->ops[IT_OP_FQ_FLUSH].lat_count == 2,
	      "lazy flushes counted and timed");
	CHECK(u->ops[IT_OP_FQ_TIMEOUT].count == 1, "one flush attributed to the timer");
	CHECK(u->ops[IT_OP_FQ_FREED].count == 6,
	      "entries freed = how far fq->head moved, across the ring's wrap (%llu)",
	      (unsigned long long)u->ops[IT_OP_FQ_FREED].count);
	CHECK(u->ops[IT_OP_IOVA_FREE].count == 3, "IOVA frees counted in and out of the queue");
	CHECK(dev_freed_per_flush(u) == 3.0, "IOVAs freed per flush = 3.0 (%.1f)",
	      dev_freed_per_flush(u));
	fixture_free(&fx);
}

/*
 * 6.16+ inline fq_flush_iotlb(): the domain's flush-all callback stands in,
 * but only flushes of a DMA-FQ domain are lazy flushes.
 */
static void test_flush_all_fallback(void)
{
	struct fixture fx;
	const struct it_dev *e;

	if (fixture_load(&fx, 1, false))
		return;
	T(T_OBJS_SET, 0, IT_DOMAIN_PAGING | IT_DOMAIN_DMA_API | IT_DOMAIN_DMA_FQ);
	T(T_ATTACH, IT_TEST_OBJ_DOMAIN, DEV_E);
	T(T_FQ_TIMEOUT_ENTER, 0, 0);
	T(T_FLUSH_ALL_ENTER, IT_TEST_OBJ_DOMAIN, 0);
	T(T_FLUSH_ALL_EXIT, IT_TEST_OBJ_DOMAIN, 0);
	T(T_FQ_TIMEOUT_EXIT, 0, 0);
	T(T_FLUSH_ALL_ENTER, IT_TEST_OBJ_DOMAIN, 0);
	T(T_FLUSH_ALL_EXIT, IT_TEST_OBJ_DOMAIN, 0);
	/* the same domain turned strict (DMA): its flush-all is not lazy */
	T(T_OBJS_SET, 0, IT_DOMAIN_PAGING | IT_DOMAIN_DMA_API);
	T(T_FLUSH_ALL_ENTER, IT_TEST_OBJ_DOMAIN, 0);
	T(T_FLUSH_ALL_EXIT, IT_TEST_OBJ_DOMAIN, 0);
	fixture_read(&fx);
	e = fx.snap.nr_devs > 1 ? &fx.snap.devs[1] : &fx.snap.devs[0];
	CHECK(fx.snap.nr_devs == 2 && e->ops[IT_OP_FQ_FLUSH].count == 2 &&
	      e->ops[IT_OP_FQ_FLUSH].lat_count == 2,
	      "flush-all of a DMA-FQ domain: a lazy flush on its device, timed (%llu)",
	      (unsigned long long)e->ops[IT_OP_FQ_FLUSH].count);
	CHECK(e->ops[IT_OP_FQ_TIMEOUT].count == 1, "the timer's flush told apart");
	CHECK(fx.snap.total.ops[IT_OP_FQ_FLUSH].count == 2, "a strict domain's flush-all not counted");
	CHECK(snapshot_lost_total(&fx.snap) == 0, "no unpaired exits from skipped domains");
	fixture_free(&fx);
}

/*
 * The lean default: no exit programs below the DMA API. Its calls count
 * the IOVA allocation, strict syncs count at entry, and iommu_map() outside
 * the DMA API (VFIO) names the domain for the map event that follows.
 */
static void test_lean(void)
{
	struct fixture fx;
	const struct it_dev *a, *e;

	if (fixture_load(&fx, 1, false))
		return;
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP | IT_SCOPE_IOVA);
	T(T_OP_ENTER, DOM_1, IT_OP_MAP | IT_TEST_EXIT_DEEP);
	run(fx.skel->progs.raw_tp__map, 0x1000, 0x1000, 4096);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP | IT_SCOPE_IOVA);
	/* dma_iova_try_alloc + two links: one allocation, two DMA-API maps */
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP | IT_SCOPE_IOVA | IT_SCOPE_NOCOUNT);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP | IT_SCOPE_IOVA | IT_SCOPE_NOCOUNT);
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP);
	run(fx.skel->progs.raw_tp__map, 0x2000, 0x1000, 4096);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP);
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_MAP);
	run(fx.skel->progs.raw_tp__map, 0x3000, 0x1000, 4096);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_MAP);
	/* strict unmap: the sync counts at entry, no exit runs */
	T(T_DEV_ENTER, DEV_A, IT_OP_DMA_UNMAP | IT_SCOPE_IOVA);
	run(fx.skel->progs.raw_tp__unmap, 0x1000, 4096, 4096);
	T(T_OP_ENTER, DOM_1, IT_OP_IOTLB_SYNC | IT_TEST_EXIT_DEEP);
	T(T_DEV_EXIT, DEV_A, IT_OP_DMA_UNMAP | IT_SCOPE_IOVA);
	/* VFIO: attach, then iommu_map() with no DMA-API scope */
	T(T_ATTACH, DOM_3, DEV_E);
	T(T_OP_ENTER, DOM_3, IT_OP_MAP | IT_TEST_EXIT_DEEP);
	run(fx.skel->progs.raw_tp__map, 0x5000, 0x1000, 8192);
	/* iommu_unmap_fast() is not hooked in lean: charged to the domain mapped last */
	run(fx.skel->progs.raw_tp__unmap, 0x5000, 8192, 8192);
	fixture_read(&fx);
	a = &fx.snap.devs[1];
	e = fx.snap.nr_devs > 2 ? &fx.snap.devs[2] : &fx.snap.devs[0];
	CHECK(a->ops[IT_OP_DMA_MAP].count == 3 && a->ops[IT_OP_DMA_MAP].lat_count == 3,
	      "DMA-API maps counted and timed (%llu)", (unsigned long long)a->ops[IT_OP_DMA_MAP].count);
	CHECK(a->ops[IT_OP_IOVA_ALLOC].count == 2,
	      "one IOVA allocation per allocating DMA-API call (%llu)",
	      (unsigned long long)a->ops[IT_OP_IOVA_ALLOC].count);
	CHECK(a->ops[IT_OP_MAP].count == 3 && a->ops[IT_OP_MAP].lat_count == 0,
	      "map events on their device; iommu_map() untimed in lean");
	CHECK(a->ops[IT_OP_IOTLB_SYNC].count == 1 && a->ops[IT_OP_IOTLB_SYNC].lat_count == 0,
	      "strict sync counted at entry");
	CHECK(e->ops[IT_OP_MAP].count == 1 && e->ops[IT_OP_MAP].bytes == 8192 &&
	      e->ops[IT_OP_UNMAP].count == 1, "VFIO map and unmap on the attached device");
	CHECK(e->flags & IT_DEVF_DIRECT_MAPS, "VFIO maps mark the device");
	CHECK(snapshot_lost_total(&fx.snap) == 0, "lean sequences lose nothing (%llu)",
	      (unsigned long long)snapshot_lost_total(&fx.snap));
	fixture_free(&fx);
}

static void test_sampling(void)
{
	struct fixture fx;
	int i;

	if (fixture_load(&fx, 4, true))
		return;
	for (i = 0; i < 8; i++) {
		T(T_OP_ENTER, IOVAD, IT_OP_IOVA_ALLOC);
		T(T_OP_EXIT, IOVAD, IT_OP_IOVA_ALLOC);
	}
	fixture_read(&fx);
	CHECK(fx.snap.total.ops[IT_OP_IOVA_ALLOC].count == 8, "sampling keeps counts exact");
	CHECK(fx.snap.total.ops[IT_OP_IOVA_ALLOC].lat_count == 2,
	      "1-in-4 sampling times 2 of 8 (%llu)",
	      (unsigned long long)fx.snap.total.ops[IT_OP_IOVA_ALLOC].lat_count);
	fixture_free(&fx);
}

/* Calls one copy of a twinned hook served alone, summed over CPUs and slots */
static long long twin_alone(struct fixture *fx)
{
	int fd = bpf_map__fd(fx->skel->maps.twin_rings), ncpu = libbpf_num_possible_cpus();
	__u32 n = bpf_map__max_entries(fx->skel->maps.twin_rings), slot;
	struct it_twin_ring *r = calloc(ncpu, sizeof(*r));
	long long sum = 0;
	int cpu;

	for (slot = 0; r && slot < n; slot++)
		if (!bpf_map_lookup_elem(fd, &slot, r))
			for (cpu = 0; cpu < ncpu; cpu++)
				sum += r[cpu].claimed - r[cpu].cleared;
	free(r);
	return sum;
}

/*
 * Twins: two copies of a hook program on one call; whichever runs first
 * notes the call's frame and works, the other finds the note and does not.
 * A copy the kernel skipped (recursion guard) leaves the work to the other.
 */
static void test_twins(void)
{
	struct fixture fx;
	long first, second;
	int i, burst;

	memset(&fx, 0, sizeof(fx));
	fx.skel = testskel_open();
	if (!fx.skel) {
		CHECK(0, "test programs open");
		return;
	}
	fx.skel->rodata->twins = true;
	if (testskel_load(&fx.skel, &fx.col)) {
		CHECK(0, "test programs load with twins");
		return;
	}
/* copy 0 (main) or 1 (spare) of hook program SLOT on the call at FRAME, run at LEVEL
 * (0 task, 1 softirq...) with second argument ARG1: 1 = it works */
#define CLAIM_AT(frame, slot, copy, level, arg1)					\
	run_ret(fx.skel->progs.it_test, T_TWIN_CLAIM, frame, (__u64)(arg1) << 32 |	\
		(__u64)(level) << IT_TEST_TWIN_LEVEL_SHIFT | (copy) << 16 | (slot))
#define CLAIM(frame, slot, copy) CLAIM_AT(frame, slot, copy, 0, 0)
/* an interrupt's call, at softirq level */
#define CLAIM_IRQ(frame, slot, copy, arg1) CLAIM_AT(frame, slot, copy, 1, arg1)
/* the copy begins and keeps running: calls from now on interrupt it */
#define CLAIM_HOLD(frame, slot, copy) CLAIM_AT(frame, slot, (copy) | 2, 0, 0)
#define RELEASE(slot, copy) \
	run_ret(fx.skel->progs.it_test, T_TWIN_RELEASE, 0, (copy) << 16 | (slot))
#define BURST 12
	first = CLAIM(0x1000, 0, 0);
	second = CLAIM(0x1000, 0, 1);
	CHECK(first == 1 && second == 0, "main then spare: the call is served once");
	first = CLAIM(0x1000, 0, 1);
	second = CLAIM(0x1000, 0, 0);
	CHECK(first == 1 && second == 0, "spare then main (fentry runs the newest first): once");
	CHECK(CLAIM(0x1000, 0, 1) == 1, "main copy skipped by the kernel: the spare works");
	CHECK(twin_alone(&fx) == 1, "one call served alone (%lld)", twin_alone(&fx));
	/* interrupts between the two copies of a call: every call served once */
	CHECK(CLAIM(0x2000, 0, 0) == 1, "outer call: main works");
	for (i = 0, burst = 0; i < BURST; i++)
		burst += CLAIM_IRQ(0x3000, 0, 0, i) + 2 * CLAIM_IRQ(0x3000, 0, 1, i);
	CHECK(burst == BURST && CLAIM(0x2000, 0, 1) == 0,
	      "%d calls between the outer call's copies: each once, the outer still once", BURST);
	/* an interrupt during the main copy: the kernel skips the nested main copy */
	first = CLAIM_HOLD(0x4000, 0, 0);
	second = CLAIM_IRQ(0x5000, 0, 1, 0);
	RELEASE(0, 0);
	CHECK(first == 1 && second == 1 && CLAIM(0x4000, 0, 1) == 0,
	      "nested call whose main copy was skipped: the spare works, the outer call once");
	first = CLAIM_IRQ(0x5000, 0, 0, 0);
	second = CLAIM_IRQ(0x5000, 0, 1, 0);
	CHECK(first == 1 && second == 0, "the nested call left no note: the next call at its frame once");
	/* a NIC's softirq maps buffer after buffer while it interrupts the spare */
	first = CLAIM(0x7000, 0, 0);
	second = CLAIM_HOLD(0x7000, 0, 1);
	for (i = 0, burst = 0; i < BURST; i++)
		burst += CLAIM_IRQ(0x8000, 0, 0, i) == 1;
	RELEASE(0, 1);
	CHECK(first == 1 && second == 0 && burst == BURST,
	      "a burst of nested calls inside the spare's run: each served by the main copy");
	CHECK(CLAIM(0x9000, 0, 1) == 1 && CLAIM(0x9000, 0, 0) == 0,
	      "after the burst: the pair still serves each call once");
	CHECK(CLAIM(0x1000, 1, 0) == 1 && CLAIM(0x1000, 2, 1) == 1,
	      "each hook program has its own notes");
	/* a NIC refilling its ring: calls one after the other at one stack depth */
	CHECK(CLAIM_IRQ(0x6000, 0, 0, 0x10) == 1, "refill 1, its spare skipped: the main copy works");
	CHECK(CLAIM_IRQ(0x6000, 0, 1, 0x20) == 1,
	      "refill 2 at the same frame, its main skipped: refill 1's note is not taken for it");
	CHECK(twin_alone(&fx) == 6 + BURST, "calls served alone: %lld (want %d)",
	      twin_alone(&fx), 6 + BURST);
#undef BURST
#undef CLAIM_AT
#undef CLAIM_IRQ
#undef CLAIM_HOLD
#undef RELEASE
#undef CLAIM
	fixture_free(&fx);
}

static int fault_seen;
static struct it_fault_event fault_last;

static int on_fault(void *ctx, void *data, size_t size)
{
	fault_seen++;
	memcpy(&fault_last, data, sizeof(fault_last));
	return 0;
}

static void test_fault_event(void)
{
	struct ring_buffer *rb;
	struct fixture fx;

	if (fixture_load(&fx, 1, false))
		return;
	rb = ring_buffer__new(bpf_map__fd(fx.skel->maps.fault_events), on_fault, NULL, NULL);
	run(fx.skel->progs.raw_tp__io_page_fault, DEV_E, 0xabc000, 1);
	ring_buffer__poll(rb, 100);
	fixture_read(&fx);
	CHECK(fx.snap.total.ops[IT_OP_FAULT].count == 1, "generic fault counted");
	CHECK(fault_seen == 1 && fault_last.iova == 0xabc000 && fault_last.is_write &&
	      fault_last.vendor == IT_VENDOR_GENERIC, "fault event carries iova and direction");
	ring_buffer__free(rb);
	fixture_free(&fx);
}

static long pci_name(struct fixture *fx, const char *name)
{
	__u64 w[2] = { 0, 0 };

	memcpy(w, name, strlen(name) < 15 ? strlen(name) : 15);
	return run_ret(fx->skel->progs.it_test, T_PCI_NAME, w[0], w[1]);
}

/* Intel fault records name a requester id only: it gets a device row of its own */
static void test_fault_requester(void)
{
	struct fixture fx;
	long slot, again;

	if (fixture_load(&fx, 1, false))
		return;
	CHECK(pci_name(&fx, "0000:00:04.0") == 0x20, "PCI name 0000:00:04.0 -> rid 0x20");
	CHECK(pci_name(&fx, "0001:6a:1f.7") == 0x16aff, "segment, bus, device, function");
	CHECK(pci_name(&fx, "virtio0") == -1 && pci_name(&fx, "0000:00:20.0") == -1 &&
	      pci_name(&fx, "0000:00:04.0x") == -1, "non-PCI names and bad devices refused");
	slot = run_ret(fx.skel->progs.it_test, T_RID_SLOT, 0x0040, 0);
	again = run_ret(fx.skel->progs.it_test, T_RID_SLOT, 0x0040, 0);
	CHECK(slot >= 1 && again == slot, "requester 00:08.0 gets one slot (%ld, %ld)", slot, again);
	fixture_read(&fx);
	CHECK(slot >= 1 && slot < fx.snap.nr_devs &&
	      !strcmp(fx.snap.devs[slot].name, "0000:00:08.0"),
	      "its row is named from the requester id (%s)",
	      slot >= 1 && slot < fx.snap.nr_devs ? fx.snap.devs[slot].name : "?");
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
	test_load_attach();
	test_dma_attribution();
	test_scopes();
	test_lazy_flush();
	test_flush_all_fallback();
	test_lean();
	test_sampling();
	test_twins();
	test_fault_event();
	test_fault_requester();
	UNIT_EXIT();
}
