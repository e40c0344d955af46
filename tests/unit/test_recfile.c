// SPDX-License-Identifier: GPL-2.0
/*
 * Recording files (src/recfile.c): write/read round trip, every rejection
 * (truncated at every length, a flipped bit anywhere, foreign, future
 * version, bytes after the trailer, an interrupted recording), and compare's
 * verdict over two synthetic recordings (strict vs lazy nvme). Version 2
 * adds the IOMMU PMU rows: their round trip (figures equal after reading
 * back), the summary counted from when tracing began, a version-1 file
 * (tests/fuzz/corpus/recfile/lazy-10s.itr) still read, a corrupt PMU block
 * refused with what is wrong, and compare's hardware-counter rows.
 */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"
#include "recfile.h"
#include "subcommands.h"
#include "unit.h"

static char dir[] = "/tmp/it-test-recfile.XXXXXX";

/* version-1 recordings kept in the tree (written before PMU fields existed) */
#define V1_SYNTH	"tests/fuzz/corpus/recfile/lazy-10s.itr"
#define V1_GUEST	"tests/fuzz/corpus/recfile/guest-intel-lazy-nvme.itr"
/* a version-2 recording (PMU rows, no twins' figure) */
#define V2_HOST		"tests/fuzz/corpus/recfile/host-swdev-pmu-v2.itr"

/* snap_make adds hardware counters when >= 0: the IOTLB miss fraction */
static double pmu_miss_frac = -1;
static const char *pmu_msg = "";

static void pmu_row_put(struct it_snapshot *s, const char *unit, const char *device,
			double t_open)
{
	struct it_pmu_row *r = &s->pmu.rows[s->pmu.nr_rows++];

	memset(r, 0, sizeof(*r));
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	snprintf(r->device, sizeof(r->device), "%s", device);
	r->t_open = t_open;
}

static void pmu_count(struct it_pmu_row *r, int role, double n)
{
	r->count[role] = (uint64_t)(n + 0.5);
	r->have |= 1u << role;
}

/*
 * An Intel unit (lookups and hits, walk occupancy over clocks), its filtered
 * counters for the nvme device opened halfway through, and an AMD unit
 * (hits and misses, page-directory cache, page-table reads), multiplexed.
 */
static void pmu_make(struct it_snapshot *s, double secs, double miss)
{
	double look = 2e6 * secs, t_dev = s->t_start + secs / 2;
	struct it_pmu_row *r;

	s->pmu.status = PMU_OK;
	snprintf(s->pmu.msg, sizeof(s->pmu.msg), "%s", pmu_msg);
	pmu_row_put(s, "dmar0", "", 50);
	r = &s->pmu.rows[0];
	pmu_count(r, PMU_ROLE_CLOCKS, 1e9 * secs);
	pmu_count(r, PMU_ROLE_REQUESTS, look);
	pmu_count(r, PMU_ROLE_LOOKUPS, look);
	pmu_count(r, PMU_ROLE_HITS, look * (1 - miss));
	pmu_count(r, PMU_ROLE_WALK_OCC, 0.25e9 * secs);
	pmu_row_put(s, "dmar0", "0000:00:04.0", t_dev);
	r = &s->pmu.rows[1];
	pmu_count(r, PMU_ROLE_LOOKUPS, look / 4);
	pmu_count(r, PMU_ROLE_HITS, look / 4 * (1 - miss));
	if (miss < 0.5)
		return;		/* compare: Intel only, the AMD rows stay hidden */
	pmu_row_put(s, "amd_iommu_1", "", 50);
	r = &s->pmu.rows[2];
	pmu_count(r, PMU_ROLE_HITS, 3e5 * secs);
	pmu_count(r, PMU_ROLE_MISSES, 1e5 * secs);
	pmu_count(r, PMU_ROLE_PDE_HITS, 7e4 * secs);
	pmu_count(r, PMU_ROLE_PDE_MISSES, 3e4 * secs);
	pmu_count(r, PMU_ROLE_PT_READS, 4e5 * secs);
	pmu_count(r, PMU_ROLE_INVAL, 123 * secs);
	r->multiplexed = true;
}

static void meta_make(struct it_rec_meta *m, const char *mode)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->tool, sizeof(m->tool), "iommutrace 1");
	snprintf(m->host, sizeof(m->host), "guest");
	snprintf(m->kernel, sizeof(m->kernel), "6.1.0-56-amd64");
	snprintf(m->vendor, sizeof(m->vendor), "intel");
	snprintf(m->units, sizeof(m->units), "dmar0");
	snprintf(m->mode, sizeof(m->mode), "%s", mode);
	snprintf(m->command, sizeof(m->command), "fio --name=it\nsecond line");
	m->wall_start = 1795000000.5;
	m->interval = 1;
	m->nr_groups = 2;
	m->groups[0].id = 1;
	snprintf(m->groups[0].type, sizeof(m->groups[0].type), "%s",
		 strcmp(mode, "strict") ? "DMA-FQ" : "DMA");
	m->groups[1].id = 7;
	snprintf(m->groups[1].type, sizeof(m->groups[1].type), "identity");
	m->nr_probes = 2;
	snprintf(m->probes[0].name, sizeof(m->probes[0].name), "iommu_map");
	snprintf(m->probes[0].kind, sizeof(m->probes[0].kind), "tp_btf");
	snprintf(m->probes[1].name, sizeof(m->probes[1].name), "dma_unmap");
	snprintf(m->probes[1].kind, sizeof(m->probes[1].kind), "fentry");
}

/* an nvme device doing @iops 4 KiB reads for @secs, strict or lazy */
static void snap_make(struct it_snapshot *s, bool strict, double iops, double secs)
{
	__u64 n = (__u64)(iops * secs + 0.5);
	struct it_dev *d;
	int i;

	memset(s, 0, sizeof(*s));
	s->t_start = 100;
	s->t_end = 100 + secs;
	s->nr_devs = 5;			/* slots 1..3 idle: not written */
	snprintf(s->devs[0].name, sizeof(s->devs[0].name), "unknown");
	s->devs[0].meta.group = -1;
	s->devs[0].ops[IT_OP_INV_CMD].count = 3;
	d = &s->devs[4];
	d->slot = 4;
	snprintf(d->name, sizeof(d->name), "0000:00:04.0");
	snprintf(d->meta.driver, sizeof(d->meta.driver), "nvme");
	d->meta.group = 1;
	snprintf(d->meta.domain_type, sizeof(d->meta.domain_type), strict ? "DMA" : "DMA-FQ");
	snprintf(d->meta.vendor_device, sizeof(d->meta.vendor_device), "1b36:0010");
	d->ops[IT_OP_MAP].count = n;
	d->ops[IT_OP_MAP].bytes = n * 4096;
	d->ops[IT_OP_UNMAP].count = n;
	d->ops[IT_OP_UNMAP].bytes = n * 4096;
	d->ops[IT_OP_DMA_MAP].count = n;
	d->ops[IT_OP_DMA_MAP].lat_count = n;
	d->ops[IT_OP_DMA_MAP].lat_sum_ns = n * 1500;
	d->ops[IT_OP_DMA_MAP].lat_hist[10] = n - n / 100;
	d->ops[IT_OP_DMA_MAP].lat_hist[14] = n / 100;
	d->ops[IT_OP_DMA_UNMAP].count = n;
	d->ops[IT_OP_DMA_UNMAP].lat_count = n;
	d->ops[IT_OP_DMA_UNMAP].lat_hist[strict ? 13 : 10] = n;
	d->ops[IT_OP_IOVA_ALLOC].count = n;
	d->ops[IT_OP_IOVA_SLOW].count = 2;
	if (strict) {
		d->ops[IT_OP_IOTLB_SYNC].count = n;
	} else {
		d->ops[IT_OP_FQ_FLUSH].count = (__u64)(60 * secs);
		d->ops[IT_OP_FQ_TIMEOUT].count = (__u64)(55 * secs);
		d->ops[IT_OP_FQ_FREED].count = n;
	}
	for (i = 0; i < IT_SIZE_SLOTS; i++)
		d->hists.map_size[i] = i == 12 ? n : 0;
	d->hists.pgsize[IT_PGSIZE_4K] = n;
	s->lost[IT_LOST_UNPAIRED] = 1;
	s->lost_recursion = 2;
	/* the strict recordings ran --lossless: twins made up 5 runs */
	s->twins = strict;
	s->twin_served = strict ? 5 : 0;
	if (pmu_miss_frac >= 0)
		pmu_make(s, secs, pmu_miss_frac);
	snapshot_totals(s);
}

/* a recording of @secs one-second intervals plus the summary */
static int file_make(const char *path, bool strict, double iops, int secs, bool with_fault,
		     bool close_it)
{
	struct it_rec_writer w = {};
	struct it_snapshot *s = malloc(sizeof(*s));
	struct it_rec_figure fig = { "IOPS", iops };
	struct it_rec_meta m;
	int i, ret;

	meta_make(&m, strict ? "strict" : "lazy");
	ret = recw_open(&w, path, &m);
	for (i = 0; !ret && i < secs; i++) {
		snap_make(s, strict, iops, 1);
		ret = recw_interval(&w, s, false);
	}
	if (!ret && with_fault) {
		struct it_fault_event e = { .ts_ns = 101500000000ull, .iova = 0x12345000,
					    .source_id = 0x18, .vendor = IT_VENDOR_INTEL,
					    .reason = 6, .has_text = 1 };

		struct it_rec_fault f;

		snprintf(e.device, sizeof(e.device), "0000:00:03.0");
		snprintf(e.text, sizeof(e.text), "DMAR: [DMA Read NO_PASID] fault addr 0x12345000");
		rec_fault_from_event(&f, &e, e.ts_ns / 1e9);
		ret = recw_fault(&w, &f);
	}
	snap_make(s, strict, iops, secs);
	if (!ret)
		ret = recw_interval(&w, s, true);
	if (!ret)
		ret = recw_figures(&w, &fig, 1);
	free(s);
	if (ret) {
		recw_abort(&w);
		return ret;
	}
	if (!close_it) {
		recw_abort(&w);
		return 0;
	}
	return recw_close(&w);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc(n ? n : 1);
	*len = fread(b, 1, n, f);
	fclose(f);
	return b;
}

static int seen_intervals;

static void count_interval(void *ctx, const struct it_snapshot *s, int index)
{
	if (index == seen_intervals && s->nr_devs == 2 &&
	    s->devs[1].ops[IT_OP_MAP].count == 3225)
		seen_intervals++;
}

static void test_round_trip(const char *path)
{
	struct it_snapshot *want = malloc(sizeof(*want));
	struct it_rec_error err;
	struct it_recording r;
	const struct it_dev *d;
	int ret;

	CHECK(file_make(path, true, 3225, 3, true, true) == 0, "write a strict recording");
	seen_intervals = 0;
	ret = rec_load(path, &r, count_interval, NULL, &err);
	CHECK(ret == IT_REC_OK, "read it back (%s)", err.msg);
	if (ret) {
		free(want);
		return;
	}
	CHECK(seen_intervals == 3 && r.nr_intervals == 3, "3 intervals, in order, each decoded");
	CHECK_STR(r.meta.kernel, "6.1.0-56-amd64", "meta: kernel");
	CHECK_STR(r.meta.vendor, "intel", "meta: vendor");
	CHECK_STR(r.meta.mode, "strict", "meta: mode");
	CHECK_STR(r.meta.command, "fio --name=it second line", "meta: newline in a value flattened");
	CHECK(r.meta.nr_groups == 2 && r.meta.groups[1].id == 7 &&
	      !strcmp(r.meta.groups[1].type, "identity"), "meta: per-group types");
	CHECK(r.meta.nr_probes == 2 && !strcmp(r.meta.probes[1].kind, "fentry"),
	      "meta: probes with kinds");
	CHECK(fabs(r.meta.wall_start - 1795000000.5) < 1e-3, "meta: wall clock start");
	CHECK(r.nr_figures == 1 && rec_figure_find(&r, "iops") &&
	      rec_figure_find(&r, "iops")->value == 3225, "workload figure IOPS=3225");
	CHECK(r.nr_faults == 1 && r.faults[0].iova == 0x12345000 && r.faults[0].reason == 6 &&
	      !strcmp(r.faults[0].device, "0000:00:03.0") && strstr(r.faults[0].text, "DMAR"),
	      "fault event kept");
	snap_make(want, true, 3225, 3);
	CHECK(r.summary->nr_devs == 2, "idle slots dropped: 2 devices");
	d = &r.summary->devs[1];
	CHECK(!strcmp(d->name, "0000:00:04.0") && d->slot == 4 && d->meta.group == 1 &&
	      !strcmp(d->meta.domain_type, "DMA") && !strcmp(d->meta.driver, "nvme"),
	      "device identity");
	CHECK(!memcmp(d->ops, want->devs[4].ops, sizeof(d->ops)), "every op counter and histogram");
	CHECK(!memcmp(&d->hists, &want->devs[4].hists, sizeof(d->hists)), "size/pgsize hists");
	CHECK(r.summary->devs[0].meta.group == -1, "group -1 survives");
	CHECK(r.summary->total.ops[IT_OP_MAP].count == 9675 &&
	      r.summary->total.ops[IT_OP_INV_CMD].count == 3, "totals rebuilt");
	CHECK(r.summary->lost[IT_LOST_UNPAIRED] == 1 && r.summary->lost_recursion == 2, "losses");
	CHECK(r.summary->twins && r.summary->twin_served == 5,
	      "--lossless and the runs its twins made up (v3)");
	CHECK(snapshot_seconds(r.summary) == 3, "summary covers 3 s");
	CHECK_STR(r.summary->mode, "strict", "summary mode for render");
	rec_free(&r);
	free(want);
}

static int parse_buf(const unsigned char *b, size_t len, struct it_rec_error *err)
{
	struct it_recording r;
	int ret = rec_parse(b, len, &r, NULL, NULL, err);

	rec_free(&r);
	return ret;
}

static void test_rejections(const char *path, const char *cut_path)
{
	unsigned char *b, *c;
	struct it_rec_error err;
	size_t len = 0, i;
	int bad = 0, flips_ok = 0, ret;
	size_t first_bad = 0;

	if (file_make(path, false, 4795, 2, true, true))
		return;
	b = slurp(path, &len);
	c = malloc(len + 8);
	if (!b || !c)
		return;
	CHECK(parse_buf(b, len, &err) == IT_REC_OK, "intact file reads (%zu bytes)", len);

	/* every prefix is truncated, never accepted, never a crash */
	for (i = 0; i < len; i++) {
		ret = parse_buf(b, i, &err);
		if (ret != IT_REC_ETRUNCATED) {
			if (!bad++)
				first_bad = i;
		}
	}
	CHECK(bad == 0, "every one of %zu prefixes rejected as truncated (first odd: %zu)", len,
	      first_bad);
	ret = parse_buf(b, len - 5, &err);
	CHECK(ret == IT_REC_ETRUNCATED && strstr(err.msg, "trailer") && strstr(err.msg, "offset"),
	      "cut in the trailer: says where (%s)", err.msg);

	/* a flipped bit anywhere: rejected (CRC, magic, version...) */
	for (i = 0; i < len; i++) {
		memcpy(c, b, len);
		c[i] ^= 0x10;
		if (parse_buf(c, len, &err) != IT_REC_OK && err.msg[0])
			flips_ok++;
	}
	CHECK(flips_ok == (int)len, "a flipped bit at any of %zu offsets is rejected (%d were)",
	      len, flips_ok);
	memcpy(c, b, len);
	c[40] ^= 1;		/* inside the metadata section's payload */
	ret = parse_buf(c, len, &err);
	CHECK(ret == IT_REC_ECORRUPT && strstr(err.msg, "metadata section 0 at offset 16: CRC"),
	      "corrupt payload: section, offset, CRC (%s)", err.msg);

	memcpy(c, "PK\3\4", 4);
	memcpy(c + 4, b + 4, len - 4);
	ret = parse_buf(c, len, &err);
	CHECK(ret == IT_REC_EFOREIGN && err.offset == 0, "foreign magic (%s)", err.msg);
	ret = parse_buf((const unsigned char *)"hello\n", 6, &err);
	CHECK(ret == IT_REC_EFOREIGN, "a short text file is foreign");

	memcpy(c, b, len);
	c[8] = IT_REC_VERSION + 1;
	ret = parse_buf(c, len, &err);
	{
		char want[32];

		snprintf(want, sizeof(want), "version %d ", IT_REC_VERSION + 1);
		CHECK(ret == IT_REC_EVERSION && strstr(err.msg, want) && err.offset == 8,
		      "future version (%s)", err.msg);
	}

	memcpy(c, b, len);
	memcpy(c + len, "junkjunk", 8);
	ret = parse_buf(c, len + 8, &err);
	CHECK(ret == IT_REC_ECORRUPT && strstr(err.msg, "after the trailer"),
	      "bytes after the trailer (%s)", err.msg);

	ret = parse_buf(b, 0, &err);
	CHECK(ret == IT_REC_ETRUNCATED, "empty file is truncated");

	/* a recording killed before its end has no trailer */
	file_make(cut_path, false, 4795, 2, false, false);
	{
		struct it_recording r;

		ret = rec_load(cut_path, &r, NULL, NULL, &err);
		rec_free(&r);
	}
	CHECK(ret == IT_REC_ETRUNCATED && strstr(err.msg, "2 intervals without a trailer"),
	      "interrupted recording (%s)", err.msg);
	free(b);
	free(c);
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle))) {
		n++;
		hay++;
	}
	return n;
}

/* run cmd_* with stdout into a file; returns its exit code, output in @out */
static int run_cmd(int (*fn)(int, char **), char **argv, char *out, size_t size)
{
	char path[64];
	int fd, saved, ret, argc = 0;
	ssize_t n;

	while (argv[argc])
		argc++;
	snprintf(path, sizeof(path), "%s/out", dir);
	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	ret = fn(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, size - 1);
	out[n > 0 ? n : 0] = 0;
	close(fd);
	return ret;
}

static void test_compare(const char *lazy, const char *strict, const char *cut)
{
	static char out[65536];
	char *argv[8];
	int ret;

	file_make(lazy, false, 4795, 10, false, true);
	file_make(strict, true, 3225, 10, false, true);
	argv[0] = "compare";
	argv[1] = (char *)lazy;
	argv[2] = (char *)strict;
	argv[3] = NULL;
	ret = run_cmd(cmd_compare, argv, out, sizeof(out));
	CHECK(ret == 0, "compare lazy strict: exit 0");
	CHECK(strstr(out, "verdict: strict costs 1.49x in IOPS on 0000:00:04.0 (nvme): "
		      "3225 invalidations/s vs 60/s") != NULL, "verdict line");
	if (!strstr(out, "verdict: strict"))
		printf("# %s\n", out);
	CHECK(strstr(out, "invalidations/unmap") && strstr(out, "0.013") && strstr(out, "1.000"),
	      "invalidations per unmap: 0.013 lazy, 1.000 strict");
	CHECK(strstr(out, "IOPS") && strstr(out, "4795") && strstr(out, "0.67x"),
	      "workload figure and its ratio");
	argv[1] = (char *)strict;
	argv[2] = (char *)lazy;
	argv[3] = "-j";
	argv[4] = NULL;
	ret = run_cmd(cmd_compare, argv, out, sizeof(out));
	CHECK(ret == 0 && strstr(out, "\"verdict\":") && strstr(out, "strict costs 1.49x"),
	      "compare -j, either order");
	argv[1] = (char *)lazy;
	argv[2] = (char *)strict;
	argv[3] = "--workload-figure";
	argv[4] = "MB/s=20,10";
	argv[5] = NULL;
	ret = run_cmd(cmd_compare, argv, out, sizeof(out));
	CHECK(ret == 0 && strstr(out, "strict costs 2.00x in MB/s"),
	      "--workload-figure NAME=A,B overrides");
	/* getopt permuted argv: build it again */
	argv[1] = (char *)lazy;
	argv[2] = (char *)cut;
	argv[3] = NULL;
	ret = run_cmd(cmd_compare, argv, out, sizeof(out));
	CHECK(ret == IT_EXIT_BAD_FILE, "compare with a truncated file: exit 9");

	argv[0] = "report";
	argv[1] = (char *)strict;
	argv[2] = NULL;
	ret = run_cmd(cmd_report, argv, out, sizeof(out));
	CHECK(ret == 0 && strstr(out, "0000:00:04.0") && strstr(out, "32250") &&
	      strstr(out, "kernel 6.1.0-56-amd64") && strstr(out, "10 intervals"),
	      "report: the stat table from the file");
	argv[1] = "-j";
	argv[2] = (char *)strict;
	argv[3] = NULL;
	ret = run_cmd(cmd_report, argv, out, sizeof(out));
	CHECK(ret == 0 && strstr(out, "\"source\":") && strstr(out, strict),
	      "report -j: source is the path");
	argv[1] = "-o";
	argv[2] = "size";
	argv[3] = (char *)strict;
	argv[4] = NULL;
	ret = run_cmd(cmd_report, argv, out, sizeof(out));
	CHECK(ret == 0 && strstr(out, "4096 -> 8191"), "report -o size: histogram");
	argv[1] = (char *)cut;
	argv[2] = NULL;
	ret = run_cmd(cmd_report, argv, out, sizeof(out));
	CHECK(ret == IT_EXIT_BAD_FILE, "report of a truncated file: exit 9");
}

/* ------------------------------------------------------------ PMU rows */

static bool same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

static bool figures_equal(const struct pmu_figures *a, const struct pmu_figures *b)
{
	return same_double(a->requests_per_s, b->requests_per_s) &&
	       same_double(a->lookups_per_s, b->lookups_per_s) &&
	       same_double(a->hit_pct, b->hit_pct) &&
	       same_double(a->misses_per_s, b->misses_per_s) &&
	       same_double(a->pde_hit_pct, b->pde_hit_pct) &&
	       same_double(a->walks_in_flight, b->walks_in_flight) &&
	       same_double(a->pt_reads_per_s, b->pt_reads_per_s) &&
	       same_double(a->inval_per_s, b->inval_per_s) &&
	       a->multiplexed == b->multiplexed;
}

static bool rows_equal(const struct it_pmu_view *a, const struct it_pmu_view *b)
{
	int i;

	if (a->nr_rows != b->nr_rows || a->status != b->status || strcmp(a->msg, b->msg))
		return false;
	for (i = 0; i < a->nr_rows; i++) {
		const struct it_pmu_row *x = &a->rows[i], *y = &b->rows[i];

		if (strcmp(x->unit, y->unit) || strcmp(x->device, y->device) ||
		    x->t_open != y->t_open || memcmp(x->count, y->count, sizeof(x->count)) ||
		    x->have != y->have || x->multiplexed != y->multiplexed)
			return false;
	}
	return true;
}

/* every row's figures, the device's and the total: what report and compare show */
static bool snapshot_figures_equal(const struct it_snapshot *a, const struct it_snapshot *b)
{
	struct pmu_figures fa, fb;
	int i;

	for (i = 0; i < a->pmu.nr_rows; i++) {
		pmu_row_figures(a, &a->pmu.rows[i], &fa);
		pmu_row_figures(b, &b->pmu.rows[i], &fb);
		if (!figures_equal(&fa, &fb))
			return false;
	}
	if (snapshot_pmu_dev_figures(a, "0000:00:04.0", &fa) !=
	    snapshot_pmu_dev_figures(b, "0000:00:04.0", &fb) || !figures_equal(&fa, &fb))
		return false;
	return snapshot_pmu_total(a, &fa) == snapshot_pmu_total(b, &fb) &&
	       figures_equal(&fa, &fb);
}

static int pmu_intervals_ok;

static void pmu_interval(void *ctx, const struct it_snapshot *s, int index)
{
	struct it_snapshot *want = ctx;

	snap_make(want, true, 3225, 1);
	if (rows_equal(&s->pmu, &want->pmu) && snapshot_figures_equal(s, want))
		pmu_intervals_ok++;
}

static void test_pmu_round_trip(const char *path)
{
	struct it_snapshot *want = malloc(sizeof(*want));
	struct pmu_figures f;
	struct it_rec_error err;
	struct it_recording r;
	int ret;

	pmu_miss_frac = 0.75;
	pmu_msg = "no per-device IOMMU counters for 0000:00:05.0: busy";
	CHECK(file_make(path, true, 3225, 3, false, true) == 0,
	      "pmu: write 3 intervals and a summary");
	pmu_intervals_ok = 0;
	ret = rec_load(path, &r, pmu_interval, want, &err);
	CHECK(ret == IT_REC_OK, "pmu: read back (%s)", err.msg);
	if (ret) {
		pmu_miss_frac = -1;
		free(want);
		return;
	}
	CHECK(r.version == IT_REC_VERSION && IT_REC_VERSION == 3, "pmu: format version 3");
	CHECK(pmu_intervals_ok == 3, "pmu: every interval's rows and figures as written");
	snap_make(want, true, 3225, 3);
	CHECK(r.summary->pmu.nr_rows == 3 && rows_equal(&r.summary->pmu, &want->pmu),
	      "pmu: summary rows: unit, device, t_open, counts, have, multiplexed");
	CHECK_STR(r.summary->pmu.msg, pmu_msg, "pmu: status message kept");
	CHECK(snapshot_figures_equal(r.summary, want),
	      "pmu: summary figures equal the written ones");
	pmu_row_figures(r.summary, &r.summary->pmu.rows[1], &f);
	/* the device row opened at 101.5: 1.5 s of 3e6/4 lookups, a quarter hit */
	CHECK(fabs(f.lookups_per_s - 1e6) < 1 && fabs(f.hit_pct - 25) < 1e-9 &&
	      fabs(f.misses_per_s - 7.5e5) < 1, "pmu: row opened mid-record counts from then "
	      "(%.0f lookups/s, %.2f %% hits)", f.lookups_per_s, f.hit_pct);
	pmu_row_figures(r.summary, &r.summary->pmu.rows[2], &f);
	CHECK(f.multiplexed && fabs(f.pde_hit_pct - 70) < 1e-9 &&
	      fabs(f.pt_reads_per_s - 4e5) < 1e-6, "pmu: AMD row, multiplexed");
	rec_free(&r);
	pmu_miss_frac = -1;
	pmu_msg = "";
	free(want);
}

/*
 * record moves the summary's t_start to when tracing began; the counters
 * are then written since that moment too, or their rates would be too high.
 */
static void test_pmu_summary_base(const char *path)
{
	struct it_snapshot *s = malloc(sizeof(*s));
	struct it_pmu_view *base = malloc(sizeof(*base));
	struct it_rec_writer w = {};
	struct it_rec_error err;
	struct it_recording r;
	struct it_rec_meta m;
	struct pmu_figures f;
	int ret, i;

	meta_make(&m, "lazy");
	snprintf(m.pmu_status, sizeof(m.pmu_status), "ok");
	pmu_miss_frac = 0.5;
	snap_make(s, false, 1000, 1);		/* the first interval: 100..101 */
	ret = recw_open(&w, path, &m);
	w.summary_start = 100;
	memset(base, 0, sizeof(*base));
	base->nr_rows = 1;			/* dmar0 as read at 100: 2e6 lookups */
	base->rows[0] = s->pmu.rows[0];
	w.summary_pmu_base = base;
	if (!ret)
		ret = recw_interval(&w, s, false);
	snap_make(s, false, 1000, 3);		/* cumulative since the collector opened */
	s->t_start = 99;
	for (i = 0; i < PMU_ROLE_MAX; i++)
		s->pmu.rows[0].count[i] += base->rows[0].count[i];
	if (!ret)
		ret = recw_interval(&w, s, true);
	if (!ret)
		ret = recw_close(&w);
	else
		recw_abort(&w);
	CHECK(ret == 0, "pmu base: write");
	ret = rec_load(path, &r, NULL, NULL, &err);
	CHECK(ret == IT_REC_OK, "pmu base: read (%s)", err.msg);
	if (!ret) {
		CHECK(r.summary->t_start == 100 && r.summary->pmu.rows[0].count[PMU_ROLE_LOOKUPS] ==
		      6e6 && r.summary->pmu.rows[0].count[PMU_ROLE_CLOCKS] == 3e9,
		      "pmu base: summary counts since tracing began (%llu lookups)",
		      (unsigned long long)r.summary->pmu.rows[0].count[PMU_ROLE_LOOKUPS]);
		pmu_row_figures(r.summary, &r.summary->pmu.rows[0], &f);
		CHECK(fabs(f.lookups_per_s - 2e6) < 1e-6 && fabs(f.walks_in_flight - 0.25) < 1e-9,
		      "pmu base: 2e6 lookups/s, 0.25 walks in flight, as at record time");
		CHECK(r.summary->pmu.rows[1].count[PMU_ROLE_LOOKUPS] == 1500000,
		      "pmu base: a row opened later keeps its counts");
		CHECK_STR(r.meta.pmu_status, "ok", "pmu base: META pmu_status");
	}
	rec_free(&r);
	/* the same for compare --live, in memory: rows matched by unit and device */
	snap_make(s, false, 1000, 3);
	snprintf(base->rows[0].unit, sizeof(base->rows[0].unit), "dmar9");
	rec_pmu_rebase(&s->pmu, base);
	CHECK(s->pmu.rows[0].count[PMU_ROLE_LOOKUPS] == 6e6,
	      "pmu base: another unit's row not subtracted");
	snprintf(base->rows[0].unit, sizeof(base->rows[0].unit), "dmar0");
	rec_pmu_rebase(&s->pmu, base);
	CHECK(s->pmu.rows[0].count[PMU_ROLE_LOOKUPS] == 4e6 &&
	      s->pmu.rows[0].count[PMU_ROLE_HITS] == 2e6, "pmu base: rec_pmu_rebase subtracts");
	pmu_miss_frac = -1;
	free(base);
	free(s);
}

static void test_pmu_v1(void)
{
	static char out[65536];
	struct it_rec_error err;
	struct it_recording r;
	char *argv[5];
	int ret;

	ret = rec_load(V1_GUEST, &r, NULL, NULL, &err);
	CHECK(ret == IT_REC_OK && r.version == 1, "v1: a guest recording of version 1 reads (%s)",
	      err.msg);
	rec_free(&r);
	ret = rec_load(V1_SYNTH, &r, NULL, NULL, &err);
	CHECK(ret == IT_REC_OK && r.version == 1, "v1: " V1_SYNTH " reads (%s)", err.msg);
	if (ret)
		return;
	CHECK(r.summary->pmu.nr_rows == 0 && r.summary->pmu.status == PMU_NO_PMU &&
	      strstr(r.summary->pmu.msg, "format version 1"), "v1: no PMU rows, says why (%s)",
	      r.summary->pmu.msg);
	CHECK(!strcmp(r.meta.pmu_status, "no_pmu") && strstr(r.meta.pmu_msg, "version 1"),
	      "v1: META says no_pmu too");
	CHECK(r.summary->total.ops[IT_OP_MAP].count > 0, "v1: its BPF counters are all there");
	rec_free(&r);

	argv[0] = "report";
	argv[1] = V1_SYNTH;
	argv[2] = NULL;
	ret = run_cmd(cmd_report, argv, out, sizeof(out));
	CHECK(ret == 0 && strstr(out, "\ncounters: recorded before iommutrace stored IOMMU "
				 "hardware counters (format version 1)\n") &&
	      !strstr(out, "IOTLB%"), "v1: report says why there are no counters, no columns");
	argv[1] = "-j";
	argv[2] = V1_SYNTH;
	argv[3] = NULL;
	ret = run_cmd(cmd_report, argv, out, sizeof(out));
	CHECK(ret == 0 && strstr(out, "\"pmu\":{\"status\":\"no_pmu\",\"message\":\"recorded "
				 "before"), "v1: report -j pmu status no_pmu with the message");
	argv[0] = "compare";
	argv[1] = V1_SYNTH;
	argv[2] = V1_GUEST;
	argv[3] = NULL;
	ret = run_cmd(cmd_compare, argv, out, sizeof(out));
	CHECK(ret == 0 && strstr(out, "IOMMU hardware counters: in neither recording (recorded "
				 "before") && count_str(out, "IOMMU hardware counters:") == 1 &&
	      !strstr(out, "IOTLB hit"), "v1: compare says once that neither has counters");
}

/*
 * Rewrites the first interval record of @b through @mutate (on its
 * uncompressed bytes), recompressing it and fixing every CRC, so only the
 * record decoder can object. Returns the new length in @out.
 */
static size_t interval_rewrite(const unsigned char *b, size_t len, unsigned char *out,
			       size_t cap, void (*mutate)(unsigned char *raw, size_t *rawlen))
{
	size_t off = IT_REC_FILE_HDR_LEN, o = off;
	unsigned long crc;
	bool done = false;

	memcpy(out, b, off);
	crc = crc32(crc32(0, NULL, 0), out, off);
	while (off + IT_REC_SECT_HDR_LEN <= len) {
		const unsigned char *h = b + off;
		__u32 type = h[0] | h[1] << 8, rawlen = h[4] | h[5] << 8 | h[6] << 16;
		__u32 zlen = h[8] | h[9] << 8 | h[10] << 16;
		unsigned char *oh = out + o;

		if (type == IT_REC_TRAILER) {
			memcpy(oh, h, IT_REC_SECT_HDR_LEN + zlen);
			oh[IT_REC_SECT_HDR_LEN + 24] = crc;
			oh[IT_REC_SECT_HDR_LEN + 25] = crc >> 8;
			oh[IT_REC_SECT_HDR_LEN + 26] = crc >> 16;
			oh[IT_REC_SECT_HDR_LEN + 27] = crc >> 24;
			crc = crc32(0, oh + IT_REC_SECT_HDR_LEN, zlen);
			oh[12] = crc;
			oh[13] = crc >> 8;
			oh[14] = crc >> 16;
			oh[15] = crc >> 24;
			return o + IT_REC_SECT_HDR_LEN + zlen;
		}
		if (type == IT_REC_INTERVAL && !done) {
			unsigned char raw[65536];
			uLongf rl = sizeof(raw), zl = cap - o - IT_REC_SECT_HDR_LEN;
			size_t n;
			unsigned long c;

			uncompress(raw, &rl, h + IT_REC_SECT_HDR_LEN, zlen);
			n = rl;
			mutate(raw, &n);
			compress2(oh + IT_REC_SECT_HDR_LEN, &zl, raw, n, 6);
			c = crc32(0, oh + IT_REC_SECT_HDR_LEN, zl);
			memcpy(oh, h, 4);
			for (int i = 0; i < 4; i++) {
				oh[4 + i] = n >> (8 * i);
				oh[8 + i] = zl >> (8 * i);
				oh[12 + i] = c >> (8 * i);
			}
			done = true;
			o += IT_REC_SECT_HDR_LEN + zl;
		} else {
			memcpy(oh, h, IT_REC_SECT_HDR_LEN + zlen);
			o += IT_REC_SECT_HDR_LEN + zlen;
		}
		crc = crc32(crc, oh, out + o - oh);
		off += IT_REC_SECT_HDR_LEN + zlen;
		(void)rawlen;
	}
	return o;
}

#define PMU_MARK "pmu-marker"

static int pmu_mutation;

static void le32_put(unsigned char *p, __u32 v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* the PMU block: u32 status, str msg (PMU_MARK), u32 rows, rows from "dmar0" */
static void pmu_mutate(unsigned char *raw, size_t *len)
{
	unsigned char *m = memmem(raw, *len, PMU_MARK, strlen(PMU_MARK));
	unsigned char *rows = m + strlen(PMU_MARK), *row0 = rows + 4;
	unsigned char *devlen = row0 + 4 + strlen("dmar0"), *t_open = devlen + 4;
	unsigned char *nroles = t_open + 8, *have = nroles + 4 + 8 * PMU_ROLE_MAX;
	double nan = NAN;

	if (!m)
		return;
	switch (pmu_mutation) {
	case 0: le32_put(m - 8, 1000); break;			/* status */
	case 1: le32_put(m - 4, 1u << 30); break;		/* message length */
	case 2: le32_put(rows, IT_PMU_MAX_ROWS + 1); break;
	case 3: le32_put(row0, IT_PMU_UNIT_LEN); break;		/* unit name length */
	case 4: le32_put(row0, 0); break;			/* no unit name */
	case 5: le32_put(devlen, IT_NAME_LEN + 4); break;
	case 6: le32_put(nroles, 33); break;
	case 7: have[2] |= 0x10; break;				/* role 20 */
	case 8: memcpy(t_open, &nan, 8); break;
	/* the interval ends with the PMU block, then (v3) u32 flags, u64 twin_served */
	case 9: *len -= 12 + 4; break;				/* last row cut short */
	case 10: *len -= 12 + 2; break;				/* ... inside its have field */
	case 11: m[2] = 0; break;				/* NUL in the message */
	case 12: *len -= 4; break;				/* twin_served cut short */
	}
}

static void test_pmu_corrupt(const char *path)
{
	static const char *const want[] = {
		"corrupt: record 1: PMU status 1000",
		"corrupt: record 1: PMU message: cut short",
		"corrupt: record 1: 25 PMU rows (at most 24)",
		"corrupt: record 1: PMU row 0: unit name: too long",
		"corrupt: record 1: PMU row 0: no unit name",
		"corrupt: record 1: PMU row 0: device name: too long",
		"corrupt: record 1: PMU row 0: more than 32 counts",
		"corrupt: record 1: PMU row 0: counted roles beyond its counts",
		"corrupt: record 1: PMU row 0: open time is not a number",
		"corrupt: record 1: PMU row 2: cut short",
		"corrupt: record 1: PMU row 2: cut short",
		"corrupt: record 1: PMU message: a NUL byte in it",
		"corrupt: record 1: shorter than its content",
	};
	unsigned char *b, *c;
	struct it_rec_error err;
	size_t len = 0, n;
	unsigned int i;
	int ret;

	pmu_miss_frac = 0.5;
	pmu_msg = PMU_MARK;
	file_make(path, false, 1000, 1, false, true);
	pmu_miss_frac = -1;
	pmu_msg = "";
	b = slurp(path, &len);
	c = malloc(len + 4096);
	if (!b || !c)
		return;
	pmu_mutation = -1;
	n = interval_rewrite(b, len, c, len + 4096, pmu_mutate);
	CHECK(n == len && parse_buf(c, n, &err) == IT_REC_OK,
	      "pmu corrupt: the rewrite alone changes nothing (%s)", err.msg);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		pmu_mutation = i;
		n = interval_rewrite(b, len, c, len + 4096, pmu_mutate);
		ret = parse_buf(c, n, &err);
		CHECK(ret == IT_REC_ECORRUPT && !strcmp(err.msg, want[i]) && err.offset > 16,
		      "pmu corrupt %u: %s (got: %s)", i, want[i], err.msg);
	}
	free(b);
	free(c);
}

/* one row of compare's text table */
static const char *cmp_line(const char *name, const char *a, const char *b, const char *ratio)
{
	static char line[4][96];
	static int k;

	k = (k + 1) % 4;
	snprintf(line[k], sizeof(line[k]), "  %-22s %12s %12s %8s\n", name, a, b, ratio);
	return line[k];
}

static void test_compare_pmu(const char *lazy, const char *strict)
{
	static char out[65536];
	char *argv[5], *p;
	int ret;

	pmu_miss_frac = 0.1;		/* lazy: 90 % IOTLB hits */
	file_make(lazy, false, 4795, 4, false, true);
	pmu_miss_frac = 0.2;		/* strict: 80 %, twice the walks */
	file_make(strict, true, 3225, 4, false, true);
	pmu_miss_frac = -1;
	argv[0] = "compare";
	argv[1] = (char *)lazy;
	argv[2] = (char *)strict;
	argv[3] = NULL;
	ret = run_cmd(cmd_compare, argv, out, sizeof(out));
	p = strstr(out, "\n0000:00:04.0");
	/* the device row opened halfway: 1e6 lookups/s */
	CHECK(ret == 0 && p && strstr(p, cmp_line("IOTLB hit %", "90.0", "80.0", "0.89x")) &&
	      strstr(p, cmp_line("IOTLB misses/s (walks)", "100000", "200000", "2.00x")),
	      "compare: the device's IOTLB hit %% and misses/s, B/A");
	p = strstr(out, "\ntotal\n");
	CHECK(p && strstr(p, cmp_line("IOTLB misses/s (walks)", "200000", "400000", "2.00x")) &&
	      strstr(p, cmp_line("walks in flight", "0.250", "0.250", "1.00x")),
	      "compare: the units' total, walks in flight");
	if (!strstr(out, "2.00x"))
		printf("# %s\n", out);
	argv[3] = "-j";
	argv[4] = NULL;
	ret = run_cmd(cmd_compare, argv, out, sizeof(out));
	CHECK(ret == 0 && strstr(out, "\"pmu\":true") &&
	      strstr(out, "\"iotlb_misses_per_sec\":2,") &&
	      strstr(out, "\"pt_reads_per_sec\":null") &&
	      strstr(out, "\"iotlb_hit_pct\":90,"), "compare -j: hardware figures and ratios");
	/* one side without counters: said which */
	argv[1] = V1_SYNTH;
	argv[2] = (char *)strict;
	argv[3] = NULL;
	ret = run_cmd(cmd_compare, argv, out, sizeof(out));
	CHECK(ret == 0 &&
	      count_str(out, "IOMMU hardware counters: none in A (recorded before") == 1 &&
	      strstr(out, "IOTLB hit %"), "compare: one side without counters says which");
}

static void test_figures(void)
{
	struct it_rec_figure f;

	CHECK(rec_figure_parse("IOPS=3225", &f) == 0 && f.value == 3225 &&
	      !strcmp(f.name, "IOPS"), "IOPS=3225");
	CHECK(rec_figure_parse("IOPS", &f) < 0, "no value rejected");
	CHECK(rec_figure_parse("=3", &f) < 0, "no name rejected");
	CHECK(rec_figure_parse("IO PS=3", &f) < 0, "space in the name rejected");
	CHECK(rec_figure_parse("IOPS=fast", &f) < 0, "non-number rejected");
	CHECK(rec_figure_parse("IOPS=nan", &f) < 0, "NaN rejected");
}

/* version 2: still read; no twins ran then, so none made anything up */
static void test_v2(void)
{
	struct it_rec_error err;
	struct it_recording r;
	int ret = rec_load(V2_HOST, &r, NULL, NULL, &err);

	CHECK(ret == IT_REC_OK && r.version == 2, "v2: " V2_HOST " reads (%s)", err.msg);
	if (ret)
		return;
	CHECK(r.summary && !r.summary->twins && r.summary->twin_served == 0,
	      "v2: not --lossless, nothing made up by twins");
	rec_free(&r);
}

int main(void)
{
	char a[64], b[64], c[64];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(a, sizeof(a), "%s/a.itr", dir);
	snprintf(b, sizeof(b), "%s/b.itr", dir);
	snprintf(c, sizeof(c), "%s/cut.itr", dir);
	test_round_trip(a);
	test_rejections(b, c);
	test_compare(a, b, c);
	test_figures();
	test_pmu_round_trip(a);
	test_pmu_summary_base(a);
	test_pmu_v1();
	test_v2();
	test_pmu_corrupt(a);
	test_compare_pmu(a, b);
	if (getenv("IT_REC_KEEP"))
		printf("# files kept in %s\n", dir);
	else {
		unlink(a);
		unlink(b);
		unlink(c);
		snprintf(a, sizeof(a), "%s/out", dir);
		unlink(a);
		rmdir(dir);
	}
	UNIT_EXIT();
}
