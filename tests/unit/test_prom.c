// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus exposition: bucket conversion, escaping, every family typed,
 * the hardware-counter families from hand-made PMU rows (Intel: lookups and
 * hits, AMD: hits and misses, derived lookups), counters that never step
 * back, and `promtool check metrics` on a 256-device rendering. The
 * exporter's side: -d and --max-devices selection with its dropped counts,
 * its own HTTP families, Accept-Encoding, and gzip (decoded back with zlib;
 * the 256-device ratio and time printed).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"
#include "model.h"
#include "prom.h"
#include "unit.h"

static char *render(const struct it_snapshot *s, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	prom_render(f, s);
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

/* as a scrape of the exporter renders it, with its state */
static char *render_st(const struct it_snapshot *s, const struct prom_state *st)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	prom_render_state(f, s, st);
	fclose(f);
	return buf;
}

/* The value of the sample line that starts with @prefix ("name{labels} "), or -1. */
static double sample(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (!strncmp(p, prefix, n))
			return strtod(p + n, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* The rest of the line that starts with @prefix (never the first line) */
static const char *sample_str(const char *text, const char *prefix, char *out, size_t size)
{
	char anchored[256];
	const char *p;
	size_t i = 0;

	snprintf(anchored, sizeof(anchored), "\n%s", prefix);
	p = strstr(text, anchored);
	out[0] = '\0';
	if (!p)
		return out;
	for (p += strlen(anchored); *p && *p != '\n' && i + 1 < size; p++)
		out[i++] = *p;
	out[i] = '\0';
	return out;
}

static void test_le(void)
{
	char b[24];

	prom_le(b, sizeof(b), 0);
	CHECK_STR(b, "0.000000002", "bucket 0 ([0, 2) ns) ends at 2 ns");
	prom_le(b, sizeof(b), 9);
	CHECK_STR(b, "0.000001024", "bucket 9 ends at 1024 ns");
	prom_le(b, sizeof(b), 29);
	CHECK_STR(b, "1.073741824", "bucket 29 ends at 2^30 ns");
	prom_le(b, sizeof(b), 31);
	CHECK_STR(b, "4.294967296", "the last bucket ends at 2^32 ns");
	prom_le(b, sizeof(b), IT_LAT_SLOTS);
	CHECK_STR(b, "+Inf", "past the last bucket: +Inf");
}

static void test_escape(void)
{
	char b[64];

	prom_escape(b, sizeof(b), "plain-0000:00:04.0");
	CHECK_STR(b, "plain-0000:00:04.0", "nothing to escape");
	prom_escape(b, sizeof(b), "a\"b\\c\nd");
	CHECK_STR(b, "a\\\"b\\\\c\\nd", "quote, backslash and newline escaped");
	prom_escape(b, 4, "\\\\\\");
	CHECK_STR(b, "\\\\", "truncation never splits an escape");
	prom_escape(b, 1, "x");
	CHECK_STR(b, "", "room for the terminator only");
}

static void dev_fill(struct it_dev *d, int slot)
{
	memset(d, 0, sizeof(*d));
	d->slot = slot;
	snprintf(d->name, sizeof(d->name), "0000:%02x:%02x.%d", slot / 32, slot % 32, slot % 8);
	snprintf(d->meta.driver, sizeof(d->meta.driver), "drv%d", slot % 7);
	snprintf(d->meta.domain_type, sizeof(d->meta.domain_type), slot % 2 ? "DMA-FQ" : "DMA");
	d->meta.group = slot;
}

static struct it_snapshot *snap_small(void)
{
	struct it_snapshot *s = calloc(1, sizeof(*s));
	struct it_dev *d;

	s->nr_devs = 2;
	dev_fill(&s->devs[0], 0);
	snprintf(s->devs[0].name, sizeof(s->devs[0].name), "unknown");
	s->devs[0].meta.group = -1;
	d = &s->devs[1];
	dev_fill(d, 1);
	snprintf(d->meta.driver, sizeof(d->meta.driver), "we\"ird\\drv\n");
	d->ops[IT_OP_MAP].count = 5001;
	d->ops[IT_OP_MAP].bytes = 5001 * 4096ULL;
	d->ops[IT_OP_UNMAP].count = 5000;
	d->ops[IT_OP_UNMAP].bytes = 5002 * 4096ULL;
	/* DMA-API timing present: it, not iommu_map(), is the latency shown */
	d->ops[IT_OP_MAP].lat_hist[5] = 99;
	d->ops[IT_OP_DMA_MAP].lat_count = 10;
	d->ops[IT_OP_DMA_MAP].lat_sum_ns = 1234567890123ULL;
	d->ops[IT_OP_DMA_MAP].lat_hist[3] = 4;	/* [8, 16) ns */
	d->ops[IT_OP_DMA_MAP].lat_hist[10] = 6;	/* [1024, 2048) ns */
	d->ops[IT_OP_UNMAP].lat_hist[12] = 3;	/* no DMA-API unmap timing: iommu_unmap() */
	d->ops[IT_OP_UNMAP].lat_count = 3;
	d->ops[IT_OP_UNMAP].lat_sum_ns = 15000;
	d->ops[IT_OP_IOTLB_SYNC].count = 7;
	d->ops[IT_OP_FQ_FLUSH].count = 120;
	d->ops[IT_OP_FQ_TIMEOUT].count = 100;
	d->ops[IT_OP_FQ_FREED].count = 4990;
	d->ops[IT_OP_IOVA_ALLOC].count = 5001;
	d->ops[IT_OP_IOVA_SLOW].count = 12;
	d->ops[IT_OP_FAULT].count = 2;
	s->lost[IT_LOST_UNPAIRED] = 3;
	s->lost_recursion = 4;
	s->nr_probes = 17;
	snprintf(s->mode, sizeof(s->mode), "lazy");
	return s;
}

#define L1 "{device=\"0000:00:01.1\",driver=\"we\\\"ird\\\\drv\\n\",group=\"1\",domain_type=\"DMA-FQ\""

static void test_render(void)
{
	struct it_snapshot *s = snap_small();
	char *t = render(s, NULL), v[64];

	CHECK(sample(t, "iommutrace_map_total" L1 "} ") == 5001, "map_total with escaped labels");
	CHECK(sample(t, "iommutrace_mapped_bytes_total" L1 "} ") == 5001 * 4096.0, "mapped bytes");
	CHECK(sample(t, "iommutrace_unmap_total" L1 "} ") == 5000, "unmap_total");
	CHECK(sample(t, "iommutrace_live_mapped_bytes" L1 "} ") == -4096,
	      "live bytes is a signed gauge");
	CHECK(strstr(t, "iommutrace_map_total{device=\"unknown\",driver=\"drv0\",group=\"\","
		     "domain_type=\"DMA\"} 0\n") != NULL, "slot 0 with no group: group=\"\"");
	/* histogram: DMA-API map, cumulative */
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"0.000000008\"} ") == 0,
	      "below bucket 3: 0");
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"0.000000016\"} ") == 4,
	      "bucket 3 ([8,16) ns) counted under le=16ns");
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"0.000001024\"} ") == 4,
	      "cumulative stays until the next bucket");
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"0.000002048\"} ") == 10,
	      "bucket 10 adds up: 10");
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"4.294967296\"} ") == 10,
	      "last finite bucket holds everything");
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"+Inf\"} ") == 10,
	      "+Inf == total");
	CHECK(sample(t, "iommutrace_map_latency_seconds_count" L1 "} ") == 10, "_count == +Inf");
	CHECK_STR(sample_str(t, "iommutrace_map_latency_seconds_sum" L1 "} ", v, sizeof(v)),
		  "1234.567890123", "_sum in exact seconds");
	CHECK(sample(t, "iommutrace_unmap_latency_seconds_count" L1 "} ") == 3,
	      "unmap falls back to iommu_unmap() timing");
	CHECK(sample(t, "iommutrace_unmap_latency_seconds_bucket" L1 ",le=\"0.000008192\"} ") == 3,
	      "unmap bucket 12 under le=8192ns");
	/* invalidations by cause */
	CHECK(sample(t, "iommutrace_iotlb_invalidations_total" L1 ",cause=\"strict_sync\"} ") == 7,
	      "strict syncs");
	CHECK(sample(t, "iommutrace_iotlb_invalidations_total" L1 ",cause=\"lazy_timer\"} ") == 100,
	      "lazy timer flushes");
	CHECK(sample(t, "iommutrace_iotlb_invalidations_total" L1
		     ",cause=\"lazy_queue_full\"} ") == 20, "queue-full = flushes - timer");
	CHECK(sample(t, "iommutrace_iova_rcache_miss_total" L1 "} ") == 12, "rcache misses");
	CHECK(sample(t, "iommutrace_iova_freed_by_flush_total" L1 "} ") == 4990, "freed by flush");
	CHECK(sample(t, "iommutrace_faults_total" L1 "} ") == 2, "faults");
	CHECK(sample(t, "iommutrace_lost_events_total{reason=\"unpaired\"} ") == 3, "lost unpaired");
	CHECK(sample(t, "iommutrace_lost_events_total{reason=\"recursion\"} ") == 4,
	      "lost recursion");
	CHECK(sample(t, "iommutrace_probes_attached ") == 17, "probes attached");
	CHECK(sample(t, "iommutrace_info{mode=\"lazy\"} ") == 1, "info carries the mode");
	CHECK(!strstr(t, "bpf_run"), "no bpf_stats: no run-time families at all");
	free(t);

	s->bpf_stats = true;
	s->bpf_run_ns = 2500000001ULL;
	s->bpf_run_cnt = 42;
	t = render(s, NULL);
	CHECK_STR(sample_str(t, "iommutrace_bpf_run_time_seconds_total ", v, sizeof(v)),
		  "2.500000001", "bpf run time in seconds");
	CHECK(sample(t, "iommutrace_bpf_runs_total ") == 42, "bpf runs");
	free(t);
	free(s);
}

/*
 * Every sample's family has HELP and TYPE lines before it, each family once.
 * Returns the number of families; *bad counts untyped samples and families
 * without HELP or typed twice.
 */
static int families(const char *text, int *bad)
{
	char *t = strdup(text), *line, *save = NULL, typed[64][96];
	int nr_typed = 0, nr_help = 0, untyped = 0, twice = 0, i;

	for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[96];
		size_t n;

		if (!strncmp(line, "# HELP ", 7)) {
			nr_help++;
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			char name[96];

			sscanf(line + 7, "%95s", name);
			for (i = 0; i < nr_typed; i++)
				twice += !strcmp(typed[i], name);
			if (nr_typed < 64)
				snprintf(typed[nr_typed++], sizeof(typed[0]), "%s", name);
			continue;
		}
		n = strcspn(line, "{ ");
		snprintf(name, sizeof(name), "%.*s", (int)n, line);
		for (i = 0; i < nr_typed; i++) {
			size_t l = strlen(typed[i]);

			if (!strncmp(name, typed[i], l) &&
			    (!name[l] || !strcmp(name + l, "_bucket") || !strcmp(name + l, "_sum") ||
			     !strcmp(name + l, "_count")))
				break;
		}
		if (i == nr_typed)
			untyped++;
	}
	free(t);
	*bad = untyped + twice + (nr_help != nr_typed);
	return nr_typed;
}

static void test_families(void)
{
	struct it_snapshot *s = snap_small();
	char *t;
	int n, bad;

	s->bpf_stats = true;
	t = render(s, NULL);
	n = families(t, &bad);
	CHECK(bad == 0, "every sample belongs to one TYPEd family with HELP (%d defects)", bad);
	/* 17 BPF-side families, and iommutrace_pmu_up, present without a PMU too */
	CHECK(n == 18, "18 families without hardware counters (%d)", n);
	free(t);
	free(s);
}

/* ------------------------------------------------ hardware counters */

static struct it_pmu_row *row_push(struct it_snapshot *s, const char *unit, const char *device)
{
	struct it_pmu_row *r = &s->pmu.rows[s->pmu.nr_rows++];

	memset(r, 0, sizeof(*r));
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	snprintf(r->device, sizeof(r->device), "%s", device);
	return r;
}

static void row_set(struct it_pmu_row *r, enum pmu_role role, uint64_t n)
{
	r->count[role] = n;
	r->have |= 1u << role;
}

/* Intel counts lookups and hits: misses are derived */
static void rows_intel(struct it_snapshot *s)
{
	struct it_pmu_row *r = row_push(s, "dmar0", "");

	row_set(r, PMU_ROLE_CLOCKS, 2000000000ULL);
	row_set(r, PMU_ROLE_REQUESTS, 1500);
	row_set(r, PMU_ROLE_LOOKUPS, 1000);
	row_set(r, PMU_ROLE_HITS, 900);
	row_set(r, PMU_ROLE_WALK_OCC, 300);
	r = row_push(s, "dmar0", "0000:00:04.0");
	row_set(r, PMU_ROLE_CLOCKS, 1000000000ULL);
	row_set(r, PMU_ROLE_REQUESTS, 500);
	row_set(r, PMU_ROLE_LOOKUPS, 400);
	row_set(r, PMU_ROLE_HITS, 100);
	row_set(r, PMU_ROLE_WALK_OCC, 50);
	r->multiplexed = true;
}

/* AMD counts hits and misses: lookups are derived */
static void rows_amd(struct it_snapshot *s)
{
	struct it_pmu_row *r = row_push(s, "amd_iommu_1", "");

	row_set(r, PMU_ROLE_REQUESTS, 7000);
	row_set(r, PMU_ROLE_HITS, 600);
	row_set(r, PMU_ROLE_MISSES, 150);
	row_set(r, PMU_ROLE_PDE_HITS, 80);
	row_set(r, PMU_ROLE_PDE_MISSES, 20);
	row_set(r, PMU_ROLE_PT_READS, 450);
	row_set(r, PMU_ROLE_INVAL, 12);
	r = row_push(s, "amd_iommu_1", "0000:c1:00.0");
	row_set(r, PMU_ROLE_HITS, 60);
	row_set(r, PMU_ROLE_MISSES, 40);
}

static int count_str(const char *text, const char *needle)
{
	const char *p = text;
	int n = 0;

	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	return n;
}

#define P_D0	"{unit=\"dmar0\",device=\"\"} "
#define P_D0_4	"{unit=\"dmar0\",device=\"0000:00:04.0\"} "
#define P_A1	"{unit=\"amd_iommu_1\",device=\"\"} "
#define P_A1_C1	"{unit=\"amd_iommu_1\",device=\"0000:c1:00.0\"} "

static void test_pmu_intel(void)
{
	struct it_snapshot *s = snap_small();
	char *t;
	int bad;

	s->pmu.status = PMU_OK;
	rows_intel(s);
	t = render(s, NULL);
	CHECK(sample(t, "iommutrace_pmu_up{status=\"ok\"} ") == 1, "intel: pmu_up 1, status ok");
	CHECK(sample(t, "iommutrace_pmu_iotlb_lookups_total" P_D0) == 1000,
	      "intel: unit lookups as counted");
	CHECK(sample(t, "iommutrace_pmu_iotlb_hits_total" P_D0) == 900, "intel: unit hits");
	CHECK(sample(t, "iommutrace_pmu_iotlb_misses_total" P_D0) == 100,
	      "intel: unit misses = lookups - hits");
	CHECK(sample(t, "iommutrace_pmu_iotlb_lookups_total" P_D0_4) == 400 &&
	      sample(t, "iommutrace_pmu_iotlb_hits_total" P_D0_4) == 100 &&
	      sample(t, "iommutrace_pmu_iotlb_misses_total" P_D0_4) == 300,
	      "intel: device row 400 lookups, 100 hits, 300 misses");
	CHECK(sample(t, "iommutrace_pmu_requests_total" P_D0) == 1500, "intel: requests");
	CHECK(sample(t, "iommutrace_pmu_walk_occupancy_total" P_D0_4) == 50,
	      "intel: walk occupancy");
	CHECK(sample(t, "iommutrace_pmu_clock_cycles_total" P_D0) == 2e9, "intel: clock cycles");
	CHECK(sample(t, "iommutrace_pmu_multiplexed" P_D0) == 0 &&
	      sample(t, "iommutrace_pmu_multiplexed" P_D0_4) == 1,
	      "intel: multiplexed gauge per row");
	CHECK(!strstr(t, "iommutrace_pmu_pde_") && !strstr(t, "iommutrace_pmu_page_table_reads") &&
	      !strstr(t, "iommutrace_pmu_iotlb_invalidations"),
	      "intel: no AMD-only family (pde, page-table reads, invalidations)");
	CHECK(count_str(t, "# TYPE iommutrace_pmu_iotlb_lookups_total counter\n") == 1 &&
	      count_str(t, "\niommutrace_pmu_iotlb_lookups_total{") == 2,
	      "intel: one lookups family, two rows");
	families(t, &bad);
	CHECK(bad == 0, "intel: every PMU sample typed, each family once (%d defects)", bad);
	free(t);
	free(s);
}

static void test_pmu_amd_and_mixed(void)
{
	struct it_snapshot *s = snap_small();
	char *t;
	int n, bad;

	s->pmu.status = PMU_OK;
	rows_amd(s);
	t = render(s, NULL);
	CHECK(sample(t, "iommutrace_pmu_iotlb_lookups_total" P_A1) == 750,
	      "amd: lookups = hits + misses");
	CHECK(sample(t, "iommutrace_pmu_iotlb_hits_total" P_A1) == 600 &&
	      sample(t, "iommutrace_pmu_iotlb_misses_total" P_A1) == 150,
	      "amd: hits and misses as counted");
	CHECK(sample(t, "iommutrace_pmu_iotlb_lookups_total" P_A1_C1) == 100,
	      "amd: device row lookups derived");
	CHECK(sample(t, "iommutrace_pmu_pde_hits_total" P_A1) == 80 &&
	      sample(t, "iommutrace_pmu_pde_misses_total" P_A1) == 20, "amd: pde hits, misses");
	CHECK(sample(t, "iommutrace_pmu_page_table_reads_total" P_A1) == 450,
	      "amd: page-table reads");
	CHECK(sample(t, "iommutrace_pmu_iotlb_invalidations_total" P_A1) == 12,
	      "amd: hardware invalidations");
	CHECK(!strstr(t, "iommutrace_pmu_requests_total" P_A1_C1),
	      "amd: a row without requests has no requests sample");
	CHECK(!strstr(t, "iommutrace_pmu_walk_occupancy") && !strstr(t, "iommutrace_pmu_clock_"),
	      "amd: no Intel-only family (walk occupancy, clocks)");
	free(t);

	/* both vendors on one host: each family once, each row where it counts */
	rows_intel(s);
	t = render(s, NULL);
	n = families(t, &bad);
	CHECK(bad == 0, "mixed: every sample typed, each family once (%d defects)", bad);
	/* without bpf_stats: 15 BPF-side families and pmu_up, then 3 IOTLB, 7 roles, multiplexed */
	CHECK(n == 16 + 11, "mixed: 11 PMU families besides pmu_up (%d in all)", n);
	CHECK(sample(t, "iommutrace_pmu_iotlb_misses_total" P_D0) == 100 &&
	      sample(t, "iommutrace_pmu_iotlb_misses_total" P_A1) == 150,
	      "mixed: both derivations in one family");
	CHECK(!strstr(t, "iommutrace_pmu_clock_cycles_total{unit=\"amd") &&
	      !strstr(t, "iommutrace_pmu_pde_hits_total{unit=\"dmar"),
	      "mixed: a row appears only in the families it counts");
	free(t);
	free(s);
}

static void test_pmu_partial_rows(void)
{
	struct it_snapshot *s = snap_small();
	struct it_pmu_row *r;
	char *t;

	/* a unit that hides iotlb_hit: lookups only, nothing derived */
	s->pmu.status = PMU_OK;
	r = row_push(s, "dmar1", "");
	row_set(r, PMU_ROLE_LOOKUPS, 77);
	row_set(r, PMU_ROLE_REQUESTS, 88);
	/* nothing IOTLB at all */
	r = row_push(s, "dmar2", "");
	row_set(r, PMU_ROLE_CLOCKS, 5);
	/* a label that needs escaping */
	r = row_push(s, "dmar\"3", "a\\b");
	row_set(r, PMU_ROLE_HITS, 1);
	row_set(r, PMU_ROLE_MISSES, 2);
	t = render(s, NULL);
	CHECK(sample(t, "iommutrace_pmu_iotlb_lookups_total{unit=\"dmar1\",device=\"\"} ") == 77,
	      "lookups-only row: lookups served");
	CHECK(!strstr(t, "iommutrace_pmu_iotlb_hits_total{unit=\"dmar1\"") &&
	      !strstr(t, "iommutrace_pmu_iotlb_misses_total{unit=\"dmar1\""),
	      "lookups-only row: hits and misses left out, not served as 0");
	CHECK(!strstr(t, "iommutrace_pmu_iotlb_lookups_total{unit=\"dmar2\""),
	      "clocks-only row: no IOTLB samples");
	CHECK(sample(t, "iommutrace_pmu_clock_cycles_total{unit=\"dmar2\",device=\"\"} ") == 5,
	      "clocks-only row: clocks served");
	CHECK(sample(t, "iommutrace_pmu_iotlb_lookups_total{unit=\"dmar\\\"3\","
		     "device=\"a\\\\b\"} ") == 3, "unit and device labels escaped");
	free(t);
	free(s);
}

static void test_pmu_absent(void)
{
	struct it_snapshot *s = snap_small();
	struct prom_state st = {};
	char *t;

	s->pmu.status = PMU_NO_PMU;
	snprintf(s->pmu.msg, sizeof(s->pmu.msg), "no IOMMU PMU on this system (test)");
	t = render(s, NULL);
	CHECK(sample(t, "iommutrace_pmu_up{status=\"no_pmu\"} ") == 0,
	      "no PMU: pmu_up{status=\"no_pmu\"} 0");
	CHECK(count_str(t, "\niommutrace_pmu_") == 1, "no PMU: pmu_up is the only PMU sample");
	CHECK(!strstr(t, "no IOMMU PMU on this system"), "no PMU: the message is not a label");
	free(t);

	s->pmu.status = PMU_DENIED;
	t = render(s, NULL);
	CHECK(sample(t, "iommutrace_pmu_up{status=\"denied\"} ") == 0,
	      "perf refused: status=\"denied\", 0");
	free(t);

	st.pmu_disabled = true;
	t = render_st(s, &st);
	CHECK(sample(t, "iommutrace_pmu_up{status=\"disabled\"} ") == 0,
	      "--no-pmu: status=\"disabled\", 0");
	free(t);

	/* counters open although some failed: up, with the library's status */
	s->pmu.status = PMU_BUSY;
	row_set(row_push(s, "dmar0", ""), PMU_ROLE_LOOKUPS, 1);
	t = render(s, NULL);
	CHECK(sample(t, "iommutrace_pmu_up{status=\"busy\"} ") == 1,
	      "some counters open: up 1, status says what failed");
	free(t);
	free(s);
}

/* lookups, hits, misses of row @i as a served scrape has them */
static void served(const struct it_snapshot *s, const struct prom_state *st, const char *labels,
		   double v[3])
{
	static const char *const fam[3] = { "iommutrace_pmu_iotlb_lookups_total",
					    "iommutrace_pmu_iotlb_hits_total",
					    "iommutrace_pmu_iotlb_misses_total" };
	char *t = render_st(s, st), prefix[160];
	int k;

	for (k = 0; k < 3; k++) {
		snprintf(prefix, sizeof(prefix), "%s%s", fam[k], labels);
		v[k] = sample(t, prefix);
	}
	free(t);
}

/*
 * Multiplexed Intel counts can make lookups - hits step back between reads;
 * the exporter's state must keep every served counter from decreasing.
 */
static void test_pmu_monotonic(void)
{
	static const uint64_t look[] = { 1000, 1100, 1500 }, hit[] = { 100, 250, 300 };
	struct it_snapshot *s = snap_small();
	struct prom_state *st = calloc(1, sizeof(*st));
	double v[3], prev[3] = { 0, 0, 0 };
	struct it_pmu_row *r;
	bool mono = true;
	int i, k;

	s->pmu.status = PMU_OK;
	row_push(s, "dmar0", "");
	r = row_push(s, "dmar0", "0000:00:04.0");
	for (i = 0; i < 3; i++) {
		row_set(r, PMU_ROLE_LOOKUPS, look[i]);
		row_set(r, PMU_ROLE_HITS, hit[i]);
		r->multiplexed = true;
		prom_state_update(st, s);
		served(s, st, P_D0_4, v);
		for (k = 0; k < 3; k++)
			mono &= v[k] >= prev[k];
		memcpy(prev, v, sizeof(v));
		if (i == 1) {
			double raw[3];

			served(s, NULL, P_D0_4, raw);
			CHECK(raw[2] == 850, "derived misses step back, 900 -> 850, without state");
			CHECK(v[2] == 900 && v[0] == 1100 && v[1] == 250,
			      "with state: misses held at 900, lookups 1100 and hits 250 as read");
		}
	}
	CHECK(mono, "served lookups, hits, misses never decrease over three reads");
	CHECK(v[2] == 1200, "misses follow again once the difference catches up (%g)", v[2]);

	/* a row index that names another device starts afresh */
	snprintf(r->device, sizeof(r->device), "0000:00:05.0");
	row_set(r, PMU_ROLE_LOOKUPS, 10);
	row_set(r, PMU_ROLE_HITS, 4);
	prom_state_update(st, s);
	served(s, st, "{unit=\"dmar0\",device=\"0000:00:05.0\"} ", v);
	CHECK(v[0] == 10 && v[2] == 6, "another device at a row index: its own values");
	free(st);
	free(s);
}

static struct it_snapshot *snap_256(void)
{
	struct it_snapshot *s = calloc(1, sizeof(*s));
	int i, op, k;

	s->nr_devs = IT_MAX_DEVS;
	for (i = 0; i < IT_MAX_DEVS; i++) {
		dev_fill(&s->devs[i], i);
		for (op = 0; op < IT_OP_MAX; op++) {
			s->devs[i].ops[op].count = 1000003ULL * (i + 1) + op;
			s->devs[i].ops[op].bytes = 4096ULL * s->devs[i].ops[op].count;
			for (k = 8; k < 20; k++)
				s->devs[i].ops[op].lat_hist[k] = i + k;
			s->devs[i].ops[op].lat_count = hist_total(s->devs[i].ops[op].lat_hist,
								  IT_LAT_SLOTS);
			s->devs[i].ops[op].lat_sum_ns = 3000 * s->devs[i].ops[op].lat_count;
		}
	}
	s->bpf_stats = true;
	s->nr_probes = 20;
	snprintf(s->mode, sizeof(s->mode), "strict");
	/* as many hardware-counter rows as the model holds, both vendors */
	s->pmu.status = PMU_OK;
	for (i = 0; i < IT_PMU_MAX_ROWS; i++) {
		struct it_pmu_row *r = row_push(s, i % 2 ? "amd_iommu_0" : "dmar0",
						i < 2 ? "" : s->devs[i].name);
		int role;

		for (role = PMU_ROLE_CLOCKS; role < PMU_ROLE_MAX; role++)
			if (i % 2 ? role != PMU_ROLE_LOOKUPS && role != PMU_ROLE_CLOCKS &&
				    role != PMU_ROLE_WALK_OCC :
				    role <= PMU_ROLE_HITS || role == PMU_ROLE_WALK_OCC)
				row_set(r, role, 1000003ULL * (i + 1) * role);
	}
	return s;
}

static void test_promtool_and_time(void)
{
	struct it_snapshot *s = snap_256();
	char path[] = "/tmp/it-prom-XXXXXX", cmd[256];
	double t0, best = 1e9;
	size_t len;
	char *t;
	int fd, i, rc;
	FILE *f;

	for (i = 0; i < 5; i++) {
		t0 = it_now();
		t = render(s, &len);
		if (it_now() - t0 < best)
			best = it_now() - t0;
		if (i < 4)
			free(t);
	}
	printf("# 256 devices: %zu bytes, rendered in %.2f ms (best of 5)\n", len, best * 1e3);
	CHECK(best < 0.5, "256 devices render in under 500 ms (%.1f ms)", best * 1e3);

	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	CHECK(f && fwrite(t, 1, len, f) == len, "write the 256-device exposition");
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	rc = system(cmd);
	CHECK(rc == 0, "promtool check metrics accepts the 256-device exposition (status %d)", rc);
	unlink(path);
	free(t);
	free(s);
}

/* ------------------------------------------------ the exporter's side */

/* sample lines (not comments) that start with @name followed by { or space */
static int nr_samples(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);
	int count = 0;

	while (p && *p) {
		if (!strncmp(p, name, n) && (p[n] == '{' || p[n] == ' '))
			count++;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return count;
}

static int nr_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n' && text[1] && text[1] != '#';
	return n;
}

static void test_selection(void)
{
	struct it_snapshot *s = snap_256();
	struct prom_state *st = calloc(1, sizeof(*st));
	char *t, *all;
	int lines_all, lines_10;

	all = render_st(s, st);
	lines_all = nr_lines(all);
	CHECK(nr_samples(all, "iommutrace_map_total") == 256, "no selection: 256 devices served");
	CHECK(sample(all, "iommutrace_exporter_devices ") == 256 &&
	      sample(all, "iommutrace_exporter_devices_dropped{reason=\"filter\"} ") == 0 &&
	      sample(all, "iommutrace_exporter_devices_dropped{reason=\"max_devices\"} ") == 0,
	      "no selection: 256 served, none dropped");
	t = render(s, NULL);
	CHECK(!strstr(t, "iommutrace_exporter_devices"),
	      "a single rendering (stat, bench) has no exporter gauges");
	free(t);

	st->max_devices = 10;
	t = render_st(s, st);
	lines_10 = nr_lines(t);
	CHECK(nr_samples(t, "iommutrace_map_total") == 10 &&
	      nr_samples(t, "iommutrace_map_latency_seconds_bucket") == 10 * 33,
	      "--max-devices 10: 10 devices' counters and histograms");
	CHECK(strstr(t, "iommutrace_map_total{device=\"0000:00:09.1\"") &&
	      !strstr(t, "iommutrace_map_total{device=\"0000:00:0a.2\""),
	      "--max-devices 10: the first 10 slots (first seen), not the 11th");
	CHECK(sample(t, "iommutrace_exporter_devices ") == 10 &&
	      sample(t, "iommutrace_exporter_devices_dropped{reason=\"max_devices\"} ") == 246,
	      "--max-devices 10: 246 dropped, counted");
	printf("# series: %d for 256 devices, %d with --max-devices 10\n", lines_all, lines_10);
	CHECK(lines_10 < lines_all / 20, "the series count is bounded by --max-devices");
	/* the hardware rows of dropped devices go too; the units' rows stay */
	CHECK(strstr(t, "iommutrace_pmu_iotlb_lookups_total{unit=\"dmar0\",device=\"\"}") &&
	      strstr(t, "iommutrace_pmu_iotlb_lookups_total{unit=\"dmar0\",device=\"0000:00:02.2\"}") &&
	      !strstr(t, "device=\"0000:00:0a.2\""),
	      "--max-devices 10: PMU rows of served devices and units kept, others dropped");
	free(t);

	/* -d: drv3 is slots 3, 10, 17, ...; then at most 5 of those */
	st->max_devices = 0;
	st->device = "drv3";
	t = render_st(s, st);
	CHECK(nr_samples(t, "iommutrace_map_total") == 37 &&
	      sample(t, "iommutrace_exporter_devices_dropped{reason=\"filter\"} ") == 219,
	      "-d drv3: its 37 devices, 219 dropped by the filter");
	CHECK(!strstr(t, "driver=\"drv2\""), "-d drv3: no other driver's series");
	free(t);
	st->max_devices = 5;
	t = render_st(s, st);
	CHECK(nr_samples(t, "iommutrace_unmap_total") == 5 &&
	      sample(t, "iommutrace_exporter_devices_dropped{reason=\"filter\"} ") == 219 &&
	      sample(t, "iommutrace_exporter_devices_dropped{reason=\"max_devices\"} ") == 32,
	      "-d drv3 --max-devices 5: 5 served, 219 filtered, 32 over the cap");
	free(t);
	st->max_devices = 0;
	st->device = "0000:00:04";
	t = render_st(s, st);
	CHECK(nr_samples(t, "iommutrace_map_total") == 1 &&
	      strstr(t, "iommutrace_map_total{device=\"0000:00:04.4\""),
	      "-d by PCI prefix (devfilter's rule): 0000:00:04 is slot 4 only");
	free(t);
	free(all);
	free(st);
	free(s);
}

static void test_exporter_families(void)
{
	struct prom_http_stats h = {
		.scrapes = { 3, 40 }, .bytes = { 30000, 4000 }, .gzip_saved = 99000,
		.unauthorized_missing = 2, .unauthorized_wrong = 5,
	};
	struct it_snapshot *s = snap_small();
	struct prom_state st = { .max_devices = 1 };
	char *buf = NULL, path[] = "/tmp/it-prom-exp-XXXXXX", cmd[256];
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	int bad, fd, rc;

	prom_render_state(f, s, &st);
	prom_render_exporter(f, &h);
	fclose(f);
	CHECK(sample(buf, "iommutrace_exporter_scrapes_total{encoding=\"gzip\"} ") == 40 &&
	      sample(buf, "iommutrace_exporter_scrapes_total{encoding=\"identity\"} ") == 3,
	      "scrapes by encoding");
	CHECK(sample(buf, "iommutrace_exporter_response_bytes_total{encoding=\"gzip\"} ") == 4000 &&
	      sample(buf, "iommutrace_exporter_gzip_saved_bytes_total ") == 99000,
	      "bytes sent and bytes saved");
	CHECK(sample(buf, "iommutrace_exporter_unauthorized_total{reason=\"wrong\"} ") == 5 &&
	      sample(buf, "iommutrace_exporter_unauthorized_total{reason=\"missing\"} ") == 2,
	      "401s by reason");
	families(buf, &bad);
	CHECK(bad == 0, "exporter families typed, each once (%d defects)", bad);
	fd = mkstemp(path);
	rc = fd >= 0 && write(fd, buf, n) == (ssize_t)n ? 0 : -1;
	if (fd >= 0)
		close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	if (!rc)
		rc = system(cmd);
	CHECK(rc == 0, "promtool check metrics accepts the exporter's rendering (status %d)", rc);
	unlink(path);
	free(buf);
	free(s);
}

static void test_accept_encoding(void)
{
	static const struct {
		const char *v;
		bool gzip;
	} cases[] = {
		{ NULL, false },
		{ "", false },
		{ "gzip", true },				/* Prometheus */
		{ "deflate, gzip, br, zstd", true },		/* curl --compressed */
		{ "GZIP", true },
		{ "x-gzip", true },
		{ "identity", false },
		{ "br", false },
		{ "gzip;q=0", false },
		{ "gzip; q=0.000", false },
		{ "gzip;q=0.5", true },
		{ "*", true },
		{ "*;q=0", false },
		{ "*, gzip;q=0", false },			/* explicit refusal wins */
		{ "gzip;q=0, *", false },
		{ "gzipx", false },
		{ "agzip", false },
		{ " gzip ;q=1 ", true },
		{ "br;q=1.0, gzip;q=0.8, *;q=0.1", true },
		{ "gzip;q=2", false },				/* out of range: refused */
		{ "gzip;q=abc", false },
		{ ",,,gzip", true },
	};
	unsigned int i;
	int wrong = 0;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (prom_accepts_gzip(cases[i].v) == cases[i].gzip)
			continue;
		wrong++;
		printf("#   Accept-Encoding '%s': got %d\n", cases[i].v ? cases[i].v : "(none)",
		       !cases[i].gzip);
	}
	CHECK(!wrong, "Accept-Encoding: %u header values, %d read wrongly", i, wrong);
}

/* @gz decoded with zlib's own gzip reader equals @plain */
static bool gunzip_equals(const void *gz, size_t gzlen, const char *plain, size_t len)
{
	z_stream z = {};
	char *out = malloc(len + 1);
	bool same;
	int ret;

	if (!out || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(out);
		return false;
	}
	z.next_in = (Bytef *)gz;
	z.avail_in = gzlen;
	z.next_out = (Bytef *)out;
	z.avail_out = len + 1;
	ret = inflate(&z, Z_FINISH);
	same = ret == Z_STREAM_END && z.total_out == len && !memcmp(out, plain, len);
	inflateEnd(&z);
	free(out);
	return same;
}

static uint64_t rand48(void)
{
	return ((uint64_t)rand() << 24 ^ (uint64_t)rand()) & ((1ULL << 48) - 1);
}

static void test_gzip(void)
{
	static const int levels[] = { 1, 6 };
	struct it_snapshot *s = snap_256();
	size_t len, gzlen = 0;
	unsigned int l;
	int i, op, k;
	char *t = render(s, &len);
	void *gz = NULL;

	CHECK(!prom_gzip("", 0, 1, &gz, &gzlen) && gzlen == 20 && gunzip_equals(gz, gzlen, "", 0),
	      "gzip of nothing: a 20-byte empty member");
	free(gz);
	for (l = 0; l < ARRAY_SIZE(levels); l++) {
		double t0, best = 1e9;

		for (i = 0; i < 3; i++) {
			gz = NULL;
			t0 = it_now();
			if (prom_gzip(t, len, levels[l], &gz, &gzlen))
				break;
			if (it_now() - t0 < best)
				best = it_now() - t0;
			if (i < 2)
				free(gz);
		}
		printf("# 256 devices, gzip level %d: %zu -> %zu bytes (%.1fx) in %.1f ms\n",
		       levels[l], len, gzlen, (double)len / gzlen, best * 1e3);
		CHECK(gz && gunzip_equals(gz, gzlen, t, len),
		      "level %d: zlib decodes the 256-device scrape back byte for byte", levels[l]);
		CHECK(gzlen * 4 <= len, "level %d: at least 4x smaller (%.1fx)", levels[l],
		      (double)len / gzlen);
		free(gz);
	}
	free(t);

	/*
	 * The worst case for gzip: every counter, bucket and sum a random
	 * 48-bit number (a real host has long runs of 0 and of equal buckets).
	 * The label sets and names still repeat on every line.
	 */
	srand(20);
	for (i = 0; i < s->nr_devs; i++) {
		for (op = 0; op < IT_OP_MAX; op++) {
			struct it_op_stats *o = &s->devs[i].ops[op];

			o->count = rand48();
			o->bytes = rand48();
			o->lat_sum_ns = rand48();
			for (k = 0; k < IT_LAT_SLOTS; k++)
				o->lat_hist[k] = rand48() >> 8;
		}
	}
	t = render(s, &len);
	gz = NULL;
	CHECK(!prom_gzip(t, len, 6, &gz, &gzlen) && gunzip_equals(gz, gzlen, t, len),
	      "random values: gzip round trip");
	printf("# 256 devices, every value random: %zu -> %zu bytes (%.1fx) at level 6\n", len,
	       gzlen, (double)len / gzlen);
	CHECK(gzlen * 4 <= len, "random values: still at least 4x smaller (%.1fx)",
	      (double)len / gzlen);
	free(gz);
	free(t);
	free(s);
}

int main(void)
{
	test_le();
	test_escape();
	test_render();
	test_families();
	test_pmu_intel();
	test_pmu_amd_and_mixed();
	test_pmu_partial_rows();
	test_pmu_absent();
	test_pmu_monotonic();
	test_promtool_and_time();
	test_selection();
	test_exporter_families();
	test_accept_encoding();
	test_gzip();
	UNIT_EXIT();
}
