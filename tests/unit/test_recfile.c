// SPDX-License-Identifier: GPL-2.0
/*
 * Recording files (src/recfile.c): write/read round trip, every rejection
 * (truncated at every length, a flipped bit anywhere, foreign, future
 * version, bytes after the trailer, an interrupted recording), and compare's
 * verdict over two synthetic recordings (strict vs lazy nvme).
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
	CHECK(ret == IT_REC_EVERSION && strstr(err.msg, "version 2") && err.offset == 8,
	      "future version (%s)", err.msg);

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
