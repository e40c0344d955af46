// SPDX-License-Identifier: GPL-2.0
/*
 * Host microbenchmarks (make bench): not tests, they print figures.
 *
 * BPF side: the raw_tp twins of the hooks and the raw_tp/it_test program run
 * the same inline helpers as the fentry/kprobe programs, so BPF_PROG_TEST_RUN
 * on them times the in-kernel aggregation logic, in the lean default and in
 * --deep (rodata->deep). This kernel has no `repeat` for raw_tp test runs:
 * every run is one bpf() syscall, so an empty raw_tp program run the same
 * way is the baseline, and the in-kernel figures come from bpf_stats.
 *
 * Userspace side: collector_read() on maps holding 256 device slots (the
 * per-CPU summing and per-device lookups the daemon does every interval),
 * and render_table / render_json / prom_render / snapshot_delta on a
 * synthetic 256-device snapshot. IT_MAX_DEVS is 256: a 4096-device snapshot
 * cannot be represented, so none is measured.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "collector.h"
#include "common.h"
#include "iommutrace.skel.h"
#include "testskel.h"
#include "model.h"
#include "render.h"
#if __has_include("prom.h")
#include "prom.h"
#define HAVE_PROM 1
#endif

#define DEV_BASE	0xffff888000a00000ULL	/* fake pointers, never dereferenced */
#define DOM_1		0xffff888000d10000ULL

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int prog_run(int fd, __u64 a0, __u64 a1, __u64 a2)
{
	__u64 args[3] = { a0, a1, a2 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));

	return bpf_prog_test_run_opts(fd, &opts);
}

/* The baseline: a raw_tp program that returns 0. */
static int empty_prog_load(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "it_bench_empty", "GPL", insns, 2,
			     NULL);
}

struct bench_bpf {
	struct iommutrace_bpf *skel;
	int test_fd, map_fd, unmap_fd;
};

/* The test programs with the tunables of a mode: lean or --deep, -S N */
static int bench_bpf_load(struct bench_bpf *b, unsigned int sample_every, bool deep)
{
	int err;

	b->skel = testskel_open();
	if (!b->skel)
		return -errno;
	b->skel->rodata->lat_sample_every = sample_every;
	b->skel->rodata->deep = deep;
	/* the walker reads kernel memory: the fake domain pointers have none */
	b->skel->rodata->walk_maps = false;
	err = testskel_load(&b->skel, NULL);
	if (err)
		return err;
	b->test_fd = bpf_program__fd(b->skel->progs.it_test);
	b->map_fd = bpf_program__fd(b->skel->progs.raw_tp__map);
	b->unmap_fd = bpf_program__fd(b->skel->progs.raw_tp__unmap);
	return 0;
}

/* In-kernel run time so far of @fd: run_time_ns and run_cnt from bpf_stats. */
static void prog_stats(int fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	*ns = *cnt = 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
		*ns = info.run_time_ns;
		*cnt = info.run_cnt;
	}
}

/* A figure: wall ns per bpf() call, and in-kernel ns per program run. */
struct fig {
	double wall;
	double run;	/* -1: bpf_stats unavailable */
};

static struct fig fig_start(int fd, __u64 *ns, __u64 *cnt)
{
	prog_stats(fd, ns, cnt);
	return (struct fig){ 0, -1 };
}

static void fig_end(struct fig *f, int fd, __u64 ns0, __u64 cnt0, bool stats)
{
	__u64 ns, cnt;

	prog_stats(fd, &ns, &cnt);
	if (stats && cnt > cnt0)
		f->run = (double)(ns - ns0) / (cnt - cnt0);
}

/* ns per call of @n calls of (fd, a0, a1, a2); the best of 3 passes. */
static double time_calls(int fd, __u64 a0, __u64 a1, __u64 a2, int n)
{
	double best = 1e18;
	int pass, i;

	for (pass = 0; pass < 3; pass++) {
		double t0 = now_ns();

		for (i = 0; i < n; i++)
			prog_run(fd, a0, a1, a2);
		t0 = (now_ns() - t0) / n;
		if (t0 < best)
			best = t0;
	}
	return best;
}

/* ns per timed op scope (enter + exit: two test runs); best of 3. */
static double time_op_pairs(struct bench_bpf *b, int n)
{
	double best = 1e18;
	int pass, i;

	for (pass = 0; pass < 3; pass++) {
		double t0 = now_ns();

		for (i = 0; i < n; i++) {
			prog_run(b->test_fd, IT_TEST_OP_ENTER, DOM_1, IT_OP_IOVA_ALLOC);
			prog_run(b->test_fd, IT_TEST_OP_EXIT, DOM_1, IT_OP_IOVA_ALLOC);
		}
		t0 = (now_ns() - t0) / n;
		if (t0 < best)
			best = t0;
	}
	return best;
}

static void fig_print(const char *what, struct fig f, struct fig base, int runs)
{
	printf("bpf:   %-40s %6.0f ns/call", what, f.wall);
	if (f.run >= 0)
		printf("  %6.1f ns in-kernel/run (%+.1f vs empty)", f.run,
		       f.run - base.run);
	printf("\n");
	(void)runs;
}

/* bpf_stats of several programs, summed */
static void progs_stats(const int *fds, int nr, __u64 *ns, __u64 *cnt)
{
	__u64 n1, c1;
	int i;

	*ns = *cnt = 0;
	for (i = 0; i < nr; i++) {
		prog_stats(fds[i], &n1, &c1);
		*ns += n1;
		*cnt += c1;
	}
}

/*
 * One DMA-API map+unmap pair as the guest's hot path runs it. Lean: the
 * DMA-API call's entry and exit and the iommu:map/unmap event, 6 runs.
 * --deep adds the nested __iommu_dma_map/__iommu_dma_unmap scopes, the IOVA
 * allocation and the timed iommu_map/iommu_unmap_fast scopes: 16 runs (its
 * flush-queue programs, fq_ring_free and free_iova_fast, run later in
 * batches and are left out).
 */
static void dma_pair(struct bench_bpf *b, __u64 dev, bool deep)
{
	__u32 map = IT_OP_DMA_MAP | IT_SCOPE_IOVA, unmap = IT_OP_DMA_UNMAP | IT_SCOPE_IOVA;

	prog_run(b->test_fd, IT_TEST_DEV_ENTER, dev, map);
	if (deep) {
		prog_run(b->test_fd, IT_TEST_DEV_ENTER, dev, IT_OP_DMA_MAP);
		prog_run(b->test_fd, IT_TEST_OP_ENTER, DOM_1, IT_OP_IOVA_ALLOC);
		prog_run(b->test_fd, IT_TEST_OP_EXIT, DOM_1, IT_OP_IOVA_ALLOC);
		prog_run(b->test_fd, IT_TEST_OP_ENTER, DOM_1, IT_OP_MAP);
	}
	prog_run(b->map_fd, 0x1000, 0x123000, 4096);
	if (deep) {
		prog_run(b->test_fd, IT_TEST_OP_EXIT, DOM_1, IT_OP_MAP);
		prog_run(b->test_fd, IT_TEST_DEV_EXIT, dev, IT_OP_DMA_MAP);
	}
	prog_run(b->test_fd, IT_TEST_DEV_EXIT, dev, map);

	prog_run(b->test_fd, IT_TEST_DEV_ENTER, dev, unmap);
	if (deep) {
		prog_run(b->test_fd, IT_TEST_DEV_ENTER, dev, IT_OP_DMA_UNMAP);
		prog_run(b->test_fd, IT_TEST_OP_ENTER, DOM_1, IT_OP_UNMAP);
	}
	prog_run(b->unmap_fd, 0x1000, 4096, 4096);
	if (deep) {
		prog_run(b->test_fd, IT_TEST_OP_EXIT, DOM_1, IT_OP_UNMAP);
		prog_run(b->test_fd, IT_TEST_DEV_EXIT, dev, IT_OP_DMA_UNMAP);
	}
	prog_run(b->test_fd, IT_TEST_DEV_EXIT, dev, unmap);
}

/* In-kernel ns and runs per DMA map+unmap pair of a mode; best of 3 passes */
static void time_dma_pairs(struct bench_bpf *b, bool deep, int n, double *ns_pair,
			   double *runs_pair)
{
	int fds[3] = { b->test_fd, b->map_fd, b->unmap_fd }, pass, i;
	__u64 ns0, cnt0, ns1, cnt1;

	*ns_pair = 1e18;
	for (pass = 0; pass < 3; pass++) {
		progs_stats(fds, 3, &ns0, &cnt0);
		for (i = 0; i < n; i++)
			dma_pair(b, DEV_BASE, deep);
		progs_stats(fds, 3, &ns1, &cnt1);
		if ((double)(ns1 - ns0) / n < *ns_pair)
			*ns_pair = (double)(ns1 - ns0) / n;
		*runs_pair = (double)(cnt1 - cnt0) / n;
	}
}

static void bench_bpf_logic(int n)
{
	struct bench_bpf b = {}, bs = {}, bd = {};
	struct fig empty, unattr, scoped, dscoped, pair, pair_s;
	int efd = empty_prog_load(), sfd;
	double lean_ns, lean_runs, deep_ns, deep_runs;
	__u64 ns0, cnt0;
	bool stats;

	if (efd < 0) {
		printf("bpf: cannot load an empty raw_tp program (%s): BPF figures skipped\n",
		       strerror(errno));
		return;
	}
	if (bench_bpf_load(&b, 1, false) || bench_bpf_load(&bd, 1, true) ||
	    bench_bpf_load(&bs, 16, true)) {
		printf("bpf: cannot load the iommutrace raw_tp programs: BPF figures skipped\n");
		goto out;
	}
	/* run_time_ns per program, without the syscall around it */
	sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	stats = sfd >= 0;

	empty = fig_start(efd, &ns0, &cnt0);
	empty.wall = time_calls(efd, 0x1000, 0x123000, 4096, n);
	fig_end(&empty, efd, ns0, cnt0, stats);

	unattr = fig_start(b.map_fd, &ns0, &cnt0);
	unattr.wall = time_calls(b.map_fd, 0x1000, 0x123000, 4096, n);
	fig_end(&unattr, b.map_fd, ns0, cnt0, stats);

	/* lean: a DMA-API map in flight on device A, no op scope under it */
	prog_run(b.test_fd, IT_TEST_DEV_ENTER, DEV_BASE, IT_OP_DMA_MAP);
	scoped = fig_start(b.map_fd, &ns0, &cnt0);
	scoped.wall = time_calls(b.map_fd, 0x1000, 0x123000, 4096, n);
	fig_end(&scoped, b.map_fd, ns0, cnt0, stats);
	prog_run(b.test_fd, IT_TEST_DEV_EXIT, DEV_BASE, IT_OP_DMA_MAP);

	/* --deep: iommu_map's op scope open too */
	prog_run(bd.test_fd, IT_TEST_DEV_ENTER, DEV_BASE, IT_OP_DMA_MAP);
	prog_run(bd.test_fd, IT_TEST_OP_ENTER, DOM_1, IT_OP_MAP);
	dscoped = fig_start(bd.map_fd, &ns0, &cnt0);
	dscoped.wall = time_calls(bd.map_fd, 0x1000, 0x123000, 4096, n);
	fig_end(&dscoped, bd.map_fd, ns0, cnt0, stats);
	prog_run(bd.test_fd, IT_TEST_OP_EXIT, DOM_1, IT_OP_MAP);
	prog_run(bd.test_fd, IT_TEST_DEV_EXIT, DEV_BASE, IT_OP_DMA_MAP);

	/* per run: half are entries (scope, clock), half exits (histogram) */
	pair = fig_start(bd.test_fd, &ns0, &cnt0);
	pair.wall = time_op_pairs(&bd, n / 2) / 2;
	fig_end(&pair, bd.test_fd, ns0, cnt0, stats);
	pair_s = fig_start(bs.test_fd, &ns0, &cnt0);
	pair_s.wall = time_op_pairs(&bs, n / 2) / 2;
	fig_end(&pair_s, bs.test_fd, ns0, cnt0, stats);

	printf("bpf: BPF_PROG_TEST_RUN of raw_tp programs, best of 3 x %d calls (wall: one bpf()\n"
	       "bpf: syscall per call; in-kernel: bpf_stats run_time_ns/run_cnt%s)\n", n,
	       stats ? "" : ", UNAVAILABLE here");
	fig_print("empty raw_tp program (baseline)", empty, empty, n);
	fig_print("raw_tp__map, no device scope", unattr, empty, n);
	fig_print("raw_tp__map, lean, in a device scope", scoped, empty, n);
	fig_print("raw_tp__map, --deep, device + op scope", dscoped, empty, n);
	fig_print("op scope enter/exit, --deep -S 1", pair, empty, n);
	fig_print("op scope enter/exit, --deep -S 16", pair_s, empty, n);
	if (stats) {
		time_dma_pairs(&b, false, n / 8, &lean_ns, &lean_runs);
		time_dma_pairs(&bd, true, n / 16, &deep_ns, &deep_runs);
		printf("bpf:   DMA map+unmap pair, lean:   %4.0f runs, %6.0f ns in-kernel "
		       "(%.1fx as many empty programs)\n", lean_runs, lean_ns,
		       lean_ns / (lean_runs * empty.run));
		printf("bpf:   DMA map+unmap pair, --deep: %4.0f runs, %6.0f ns in-kernel "
		       "(%.1fx as many empty programs; %.1fx lean)\n", deep_runs, deep_ns,
		       deep_ns / (deep_runs * empty.run), deep_ns / lean_ns);
		close(sfd);
	}
out:
	if (b.skel)
		iommutrace_bpf__destroy(b.skel);
	if (bd.skel)
		iommutrace_bpf__destroy(bd.skel);
	if (bs.skel)
		iommutrace_bpf__destroy(bs.skel);
	close(efd);
}

/*
 * A twin's check: is its main copy's recursion counter non-zero on this CPU
 * (the CPU number, the per-CPU offset, one read of kernel memory). Run
 * through it_test with a per-CPU word standing in for the counter (as in
 * tests/bpf test_twins), against it_test's own dispatch on an unknown
 * counter (returns before any of it).
 */
static void bench_twin_check(int n)
{
	struct it_collector_opts o = { .own = true, .twins = true, .test_progs = true,
				       .no_attach = true };
	struct fig unknown, known;
	struct it_collector c;
	__u64 ns0, cnt0;
	int fd, sfd;
	__u32 slot = 0;

	if (collector_open(&c, &o) != IT_EXIT_OK || !c.probes.twins) {
		printf("twin check: cannot open with twins (%s): skipped\n", c.fail_msg);
		collector_close(&c);
		return;
	}
	fd = bpf_program__fd(c.skel->progs.it_test);
	sfd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	c.skel->bss->twin_main_active[slot] = 0;
	unknown = fig_start(fd, &ns0, &cnt0);
	unknown.wall = time_calls(fd, IT_TEST_TWIN_RUNNING, 0, slot, n);
	fig_end(&unknown, fd, ns0, cnt0, sfd >= 0);
	c.skel->bss->twin_main_active[slot] = c.skel->bss->twin_cpu_base;
	known = fig_start(fd, &ns0, &cnt0);
	known.wall = time_calls(fd, IT_TEST_TWIN_RUNNING, 0, slot, n);
	fig_end(&known, fd, ns0, cnt0, sfd >= 0);
	printf("bpf:   %-40s %6.0f ns/call  %6.1f ns in-kernel/run\n",
	       "it_test, twin's counter unknown", unknown.wall, unknown.run);
	printf("bpf:   %-40s %6.0f ns/call  %6.1f ns in-kernel/run (the check: %+.1f)\n",
	       "it_test, twin check, main not running", known.wall, known.run,
	       known.run - unknown.run);
	if (sfd >= 0)
		close(sfd);
	collector_close(&c);
}

/* collector_read over maps holding 256 device slots, each with a map. */
static void bench_collector_read(int n)
{
	struct bench_bpf b = {};
	struct it_collector col = {};
	struct it_snapshot *s = calloc(1, sizeof(*s));
	double t0, best = 1e18;
	__u64 dev;
	int i, pass;

	if (!s || bench_bpf_load(&b, 1, false)) {
		printf("collector_read: cannot load the programs: skipped\n");
		free(s);
		return;
	}
	for (i = 1; i < IT_MAX_DEVS; i++) {
		dev = DEV_BASE + (__u64)i * 0x1000;
		prog_run(b.test_fd, IT_TEST_DEV_ENTER, dev, IT_OP_DMA_MAP);
		prog_run(b.map_fd, 0x1000, 0x123000, 4096);
		prog_run(b.test_fd, IT_TEST_DEV_EXIT, dev, IT_OP_DMA_MAP);
	}
	col.skel = b.skel;
	col.nr_cpus = libbpf_num_possible_cpus();
	col.stats_fd = -1;
	for (pass = 0; pass < 3; pass++) {
		t0 = now_ns();
		for (i = 0; i < n; i++)
			collector_read(&col, s);
		t0 = (now_ns() - t0) / n;
		if (t0 < best)
			best = t0;
	}
	printf("collector_read: %d device slots, %d possible CPUs: %.3f ms/read "
	       "(dev_stats %d x %d per-CPU cells, dev_info)\n",
	       s->nr_devs, col.nr_cpus, best / 1e6, s->nr_devs, col.nr_cpus);
	free(col.percpu_buf);
	free(s);
	iommutrace_bpf__destroy(b.skel);
}

/* A plausible busy snapshot: every device mapping, with latency histograms. */
static void snapshot_fill(struct it_snapshot *s, int nr, double secs, unsigned int seed)
{
	int i, op, k;

	memset(s, 0, sizeof(*s));
	s->t_start = 100.0;
	s->t_end = 100.0 + secs;
	s->nr_devs = nr;
	snprintf(s->mode, sizeof(s->mode), "lazy");
	for (i = 0; i < nr; i++) {
		struct it_dev *d = &s->devs[i];

		d->slot = i;
		if (i == 0) {
			snprintf(d->name, sizeof(d->name), "unknown");
		} else {
			snprintf(d->name, sizeof(d->name), "0000:%02x:%02x.%d", i / 32, i % 32, 0);
			snprintf(d->meta.driver, sizeof(d->meta.driver), "%s",
				 i % 3 ? "nvme" : "virtio-pci");
			d->meta.group = i;
			snprintf(d->meta.domain_type, sizeof(d->meta.domain_type), "DMA-FQ");
		}
		for (op = 0; op < IT_OP_MAX; op++) {
			struct it_op_stats *o = &d->ops[op];

			o->count = (seed + i * 7919 + op * 104729) % 100000 + 1;
			o->bytes = o->count * 4096;
			o->lat_count = o->count;
			for (k = 8; k < 20; k++) {
				o->lat_hist[k] = o->count / 12;
				o->lat_sum_ns += o->lat_hist[k] << k;
			}
		}
		d->hists.map_size[12] = d->ops[IT_OP_MAP].count;
		d->hists.unmap_size[12] = d->ops[IT_OP_UNMAP].count;
		d->hists.pgsize[IT_PGSIZE_4K] = d->ops[IT_OP_MAP].count;
	}
	snapshot_totals(s);
}

typedef void (*render_fn)(FILE *f, const struct it_snapshot *s, const void *arg);

static void do_table(FILE *f, const struct it_snapshot *s, const void *arg)
{
	render_table(f, s, arg);
}

static void do_json(FILE *f, const struct it_snapshot *s, const void *arg)
{
	render_json(f, s, arg);
}

#ifdef HAVE_PROM
static void do_prom(FILE *f, const struct it_snapshot *s, const void *arg)
{
	prom_render(f, s);
}
#endif

/* ms per render into memory (the cost, not the terminal's), bytes produced. */
static void time_render(const char *what, render_fn fn, const struct it_snapshot *s,
			const void *arg, int n)
{
	double best = 1e18, t0;
	size_t len = 0;
	char *buf = NULL;
	int i, pass;

	for (pass = 0; pass < 3; pass++) {
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			FILE *f = open_memstream(&buf, &len);

			if (!f)
				return;
			fn(f, s, arg);
			fclose(f);
			free(buf);
			buf = NULL;
		}
		t0 = (now_ns() - t0) / n;
		if (t0 < best)
			best = t0;
	}
	/* once more for the size */
	{
		FILE *f = open_memstream(&buf, &len);

		if (f) {
			fn(f, s, arg);
			fclose(f);
		}
	}
	printf("render: %-26s %3d devices: %8.3f ms  (%zu bytes)\n", what, s->nr_devs,
	       best / 1e6, len);
	free(buf);
}

static void bench_userspace(int n)
{
	struct it_snapshot *cur = calloc(1, sizeof(*cur));
	struct it_snapshot *prev = calloc(1, sizeof(*prev));
	struct it_snapshot *delta = calloc(1, sizeof(*delta));
	struct it_render_opts ro = { .all_devices = true, .source = "live" };
	double t0, best = 1e18;
	int i, pass;

	if (!cur || !prev || !delta)
		goto out;
	snapshot_fill(prev, IT_MAX_DEVS, 10, 1);
	snapshot_fill(cur, IT_MAX_DEVS, 11, 2);
	for (pass = 0; pass < 3; pass++) {
		t0 = now_ns();
		for (i = 0; i < n; i++)
			snapshot_delta(cur, prev, delta);
		t0 = (now_ns() - t0) / n;
		if (t0 < best)
			best = t0;
	}
	printf("render: %-26s %3d devices: %8.3f ms\n", "snapshot_delta", IT_MAX_DEVS, best / 1e6);
	time_render("render_table (stat)", do_table, cur, &ro, n);
	time_render("render_json (stat -j)", do_json, cur, &ro, n);
#ifdef HAVE_PROM
	time_render("prom_render (/metrics)", do_prom, cur, NULL, n);
#else
	printf("render: prom_render: src/prom.h not present in this tree: not measured\n");
#endif
	printf("render: 4096 devices: not representable (IT_MAX_DEVS = %d device slots)\n",
	       IT_MAX_DEVS);
out:
	free(cur);
	free(prev);
	free(delta);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000;

	if (n < 10) {
		fprintf(stderr, "usage: micro [RUNS >= 10]\n");
		return IT_EXIT_USAGE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(NULL);
	if (geteuid() == 0) {
		bench_bpf_logic(n);
		bench_twin_check(n);
		bench_collector_read(n / 100 > 10 ? n / 100 : 10);
	} else {
		printf("bpf: not root: BPF and collector_read figures skipped\n");
	}
	bench_userspace(n / 100 > 10 ? n / 100 : 10);
	return 0;
}
