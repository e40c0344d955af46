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
	T_TWIN_RUNNING = IT_TEST_TWIN_RUNNING,
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

/* Sets twin_cpu_probe's value to @v on CPU @only (all CPUs if -1), 0 on the others */
static int cpu_probe_set(struct iommutrace_bpf *skel, __u64 v, int only)
{
	int ncpu = libbpf_num_possible_cpus(), err;
	__u64 *vals = calloc(ncpu, sizeof(*vals));
	__u32 zero = 0;

	if (!vals)
		return -ENOMEM;
	for (int cpu = 0; cpu < ncpu; cpu++)
		vals[cpu] = only < 0 || cpu == only ? v : 0;
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.twin_cpu_probe), &zero, vals, 0);
	free(vals);
	return err;
}

/* it_test's twin check for @slot, run on CPU @cpu: 1 if the twin would work */
static long twin_check_on(struct iommutrace_bpf *skel, __u32 slot, int cpu)
{
	__u64 args[3] = { IT_TEST_TWIN_RUNNING, 0, slot };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args),
		    .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = cpu);

	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.it_test), &opts))
		return -1;
	return opts.retval;
}

/*
 * Twins: a twin works when its main copy's recursion counter is non-zero on
 * its CPU. The collector finds each main copy's counter and each CPU's
 * per-CPU offset once after load (an iterator); a per-CPU value we set
 * stands in for a counter to check the twin reads the right CPU's word.
 */
static void test_twins(void)
{
	struct it_collector_opts o = { .own = true, .twins = true, .test_progs = true,
				       .no_attach = true };
	int ncpu = libbpf_num_possible_cpus(), cpu, distinct = 1, twinned = 0, i;
	struct it_collector c;
	struct iommutrace_bpf *skel;
	__u32 slot = 0;
	long seen;

	if (collector_open(&c, &o) != IT_EXIT_OK) {
		CHECK(0, "collector opens with twins (%s)", c.fail_msg);
		return;
	}
	skel = c.skel;
	CHECK(c.probes.twins, "--lossless kept: the iterator found what twins need");
	for (cpu = 0; cpu < ncpu && cpu < IT_TWIN_MAX_CPUS; cpu++) {
		if (!skel->bss->twin_cpu_off[cpu])
			distinct = 0;
		for (i = 0; i < cpu; i++)
			if (skel->bss->twin_cpu_off[i] == skel->bss->twin_cpu_off[cpu])
				distinct = 0;
	}
	CHECK(distinct, "a per-CPU offset for each of %d CPUs, all different", ncpu);
	for (i = 0; i < c.probes.nr; i++) {
		const struct it_probe *pr = &c.probes.probes[i];
		__u32 slots[2];

		if (pr->kind != IT_KIND_TP_BTF || !pr->progs[IT_PROG_ENTRY_TWIN])
			continue;
		probes_twin_slots(&c.probes, i, slots);
		if (skel->bss->twin_main_active[slots[0]]) {
			twinned++;
			slot = slots[0];
		}
	}
	CHECK(twinned == 2, "iommu:map and iommu:unmap twins know their main copy's counter (%d)",
	      twinned);
	if (!twinned)
		goto out;
	seen = run_ret(skel->progs.it_test, T_TWIN_RUNNING, 0, slot);
	CHECK(seen == 0, "main copy not running: its twin does not work");
	/* a per-CPU word we set stands in for the counter */
	skel->bss->twin_main_active[slot] = skel->bss->twin_cpu_base;
	CHECK(cpu_probe_set(skel, 1, -1) == 0 &&
	      run_ret(skel->progs.it_test, T_TWIN_RUNNING, 0, slot) == 1,
	      "counter 1 on this CPU: the twin works");
	CHECK(cpu_probe_set(skel, 0, -1) == 0 &&
	      run_ret(skel->progs.it_test, T_TWIN_RUNNING, 0, slot) == 0,
	      "counter back to 0: the twin does not");
	/* each CPU reads its own word: 1 on CPU k only, checked from every CPU */
	for (cpu = 0, i = 0; cpu < ncpu && cpu < IT_TWIN_MAX_CPUS; cpu++) {
		int other;

		if (cpu_probe_set(skel, 1, cpu))
			break;
		for (other = 0; other < ncpu; other++)
			i += twin_check_on(skel, slot, other) == (other == cpu);
	}
	CHECK(i == ncpu * ncpu, "counter 1 on one CPU: only that CPU's twin works (%d of %d)",
	      i, ncpu * ncpu);
	skel->bss->twin_main_active[slot] = 0;
	CHECK(cpu_probe_set(skel, 1, -1) == 0 &&
	      run_ret(skel->progs.it_test, T_TWIN_RUNNING, 0, slot) == 0,
	      "counter unknown: the twin never works");
out:
	collector_close(&c);
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
