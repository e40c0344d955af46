// SPDX-License-Identifier: GPL-2.0
/* The model's math: percentiles, deltas, derived figures, filters, JSON. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "model.h"
#include "render.h"
#include "unit.h"

static void test_percentile(void)
{
	__u64 h[IT_LAT_SLOTS] = {};
	double p;

	CHECK(isnan(hist_percentile(h, IT_LAT_SLOTS, 50)), "empty histogram has no percentile");
	h[10] = 100;		/* all in [1024, 2048) */
	p = hist_percentile(h, IT_LAT_SLOTS, 50);
	CHECK(p >= 1024 && p < 2048, "p50 inside the only bucket (%.0f)", p);
	CHECK(fabs(p - 1536) < 1, "p50 interpolates to the bucket middle (%.0f)", p);
	h[20] = 1;		/* one outlier near 1 ms */
	p = hist_percentile(h, IT_LAT_SLOTS, 99);
	CHECK(p < 2048, "p99 of 100+1 samples stays in the bulk (%.0f)", p);
	p = hist_percentile(h, IT_LAT_SLOTS, 100);
	CHECK(p >= 1 << 20 && p <= 1 << 21, "p100 reaches the outlier bucket (%.0f)", p);
	CHECK(hist_total(h, IT_LAT_SLOTS) == 101, "hist_total");
}

static void test_delta(void)
{
	struct it_snapshot *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct it_snapshot *d = calloc(1, sizeof(*d));

	a->nr_devs = b->nr_devs = 2;
	a->t_end = 10;
	b->t_end = 12;
	a->devs[1].ops[IT_OP_MAP].count = 100;
	a->devs[1].ops[IT_OP_MAP].bytes = 409600;
	b->devs[1].ops[IT_OP_MAP].count = 150;
	b->devs[1].ops[IT_OP_MAP].bytes = 614400;
	b->devs[1].ops[IT_OP_UNMAP].bytes = 4096;
	b->devs[1].ops[IT_OP_MAP].lat_hist[3] = 7;
	a->devs[1].ops[IT_OP_MAP].lat_hist[3] = 2;
	b->lost[IT_LOST_UNPAIRED] = 5;
	a->lost[IT_LOST_UNPAIRED] = 3;
	snapshot_delta(b, a, d);
	CHECK(d->devs[1].ops[IT_OP_MAP].count == 50, "delta count");
	CHECK(d->devs[1].ops[IT_OP_MAP].lat_hist[3] == 5, "delta histogram bucket");
	CHECK(snapshot_seconds(d) == 2, "delta covers the interval");
	CHECK(d->total.ops[IT_OP_MAP].bytes == 204800, "totals recomputed on the delta");
	CHECK(snapshot_lost_total(d) == 2, "lost is a delta too");
	CHECK(dev_live_bytes(&b->devs[1]) == 614400 - 4096, "live bytes = mapped - unmapped");
	free(a);
	free(b);
	free(d);
}

static void test_derived(void)
{
	struct it_dev d = {};

	CHECK(isnan(dev_rcache_hit_pct(&d)), "no allocation: no hit ratio");
	d.ops[IT_OP_IOVA_ALLOC].count = 200;
	d.ops[IT_OP_IOVA_SLOW].count = 72;
	CHECK(fabs(dev_rcache_hit_pct(&d) - 64.0) < 1e-9, "rcache hit 64%%");
	d.ops[IT_OP_IOTLB_SYNC].count = 3;
	d.ops[IT_OP_FQ_FLUSH].count = 4;
	d.ops[IT_OP_FQ_FREED].count = 1000;
	CHECK(dev_flushes(&d) == 7, "flushes = strict syncs + lazy flushes");
	CHECK(dev_freed_per_flush(&d) == 250, "IOVAs freed per lazy flush");
	CHECK(dev_map_latency(&d) == &d.ops[IT_OP_MAP], "map latency falls back to iommu_map");
	d.ops[IT_OP_DMA_MAP].lat_count = 1;
	CHECK(dev_map_latency(&d) == &d.ops[IT_OP_DMA_MAP], "DMA-API latency preferred");
}

static void test_filter(void)
{
	struct it_dev d = {};

	snprintf(d.name, sizeof(d.name), "0000:00:04.0");
	snprintf(d.meta.driver, sizeof(d.meta.driver), "nvme");
	CHECK(dev_matches(&d, NULL), "no filter matches");
	CHECK(dev_matches(&d, "00:04.0"), "short PCI address matches");
	CHECK(dev_matches(&d, "0000:00:04.0"), "full PCI address matches");
	CHECK(dev_matches(&d, "nvme"), "driver name matches");
	CHECK(!dev_matches(&d, "00:05.0"), "other address does not match");
	CHECK(it_op_by_name("fq_flush") == IT_OP_FQ_FLUSH && it_op_by_name("nope") == -1,
	      "op names round-trip");
	CHECK(hist_kind_by_name("pagesize") == IT_HIST_PAGESIZE && hist_kind_by_name("x") == -1,
	      "histogram names round-trip");
}

static void test_domain_type(void)
{
	CHECK_STR(domain_type_from_bits(IT_DOMAIN_PAGING), "unmanaged", "PAGING only: unmanaged");
	CHECK_STR(domain_type_from_bits(IT_DOMAIN_PAGING | IT_DOMAIN_DMA_API), "DMA", "DMA");
	CHECK_STR(domain_type_from_bits(IT_DOMAIN_PAGING | IT_DOMAIN_DMA_API | IT_DOMAIN_DMA_FQ),
		  "DMA-FQ", "DMA-FQ");
	CHECK_STR(domain_type_from_bits(IT_DOMAIN_PT), "identity", "identity");
	CHECK_STR(domain_type_from_bits(0), "blocked", "blocked");
}

static void test_json(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json_writer jw;

	jw_init(&jw, f);
	jw_begin_object(&jw, NULL);
	jw_string(&jw, "s", "a\"b\\c\n\x01");
	jw_u64(&jw, "n", 18446744073709551615ULL);
	jw_double(&jw, "nan", NAN);
	jw_begin_array(&jw, "a");
	jw_i64(&jw, NULL, -1);
	jw_bool(&jw, NULL, true);
	jw_end_array(&jw);
	jw_end_object(&jw);
	jw_finish(&jw);
	fclose(f);
	CHECK_STR(buf, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":18446744073709551615,"
		  "\"nan\":null,\"a\":[-1,true]}\n", "JSON escaping, numbers, NaN as null, commas");
	free(buf);
}

static void test_fmt(void)
{
	char b[32];

	CHECK_STR(fmt_ns(512, b, sizeof(b)), "512ns", "ns");
	CHECK_STR(fmt_ns(1536, b, sizeof(b)), "1.5us", "us");
	CHECK_STR(fmt_ns(NAN, b, sizeof(b)), "-", "NaN is a dash");
	CHECK_STR(fmt_bytes(4096, b, sizeof(b)), "4.0K", "bytes");
	CHECK_STR(fmt_bytes(-2048, b, sizeof(b)), "-2.0K", "negative live bytes");
}

static struct it_pmu_row *pmu_row_put(struct it_snapshot *s, const char *unit,
				       const char *device, double t_open)
{
	struct it_pmu_row *r = &s->pmu.rows[s->pmu.nr_rows++];

	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	snprintf(r->device, sizeof(r->device), "%s", device);
	r->t_open = t_open;
	return r;
}

static void pmu_row_set(struct it_pmu_row *r, int role, uint64_t n)
{
	r->count[role] = n;
	r->have |= 1u << role;
}

/* Intel counts lookups and hits, AMD hits and misses: the model derives the rest */
static void test_pmu_rows(void)
{
	struct it_snapshot *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct it_snapshot *d = calloc(1, sizeof(*d));
	struct it_pmu_row *r;
	struct pmu_figures f;
	uint64_t look, hit, miss;

	a->t_start = b->t_start = 0;
	a->t_end = 10;
	b->t_end = 12;
	r = pmu_row_put(a, "dmar0", "", 0);
	pmu_row_set(r, PMU_ROLE_LOOKUPS, 1000);
	pmu_row_set(r, PMU_ROLE_HITS, 900);
	pmu_row_set(r, PMU_ROLE_WALK_OCC, 50);
	pmu_row_set(r, PMU_ROLE_CLOCKS, 100);
	r = pmu_row_put(a, "amd_iommu_0", "", 0);
	pmu_row_set(r, PMU_ROLE_HITS, 300);
	pmu_row_set(r, PMU_ROLE_MISSES, 100);
	memcpy(b, a, sizeof(*a));
	b->t_end = 12;
	b->pmu.rows[0].count[PMU_ROLE_LOOKUPS] = 3000;
	b->pmu.rows[0].count[PMU_ROLE_HITS] = 2500;
	b->pmu.rows[0].count[PMU_ROLE_WALK_OCC] = 250;
	b->pmu.rows[0].count[PMU_ROLE_CLOCKS] = 300;
	/* a device's counters opened at t=11: its rate covers one second, not twelve */
	r = pmu_row_put(b, "dmar0", "0000:00:04.0", 11);
	pmu_row_set(r, PMU_ROLE_LOOKUPS, 400);
	pmu_row_set(r, PMU_ROLE_HITS, 100);

	CHECK(pmu_row_figures(b, &b->pmu.rows[0], &f), "unit row has figures");
	CHECK(fabs(f.hit_pct - 2500.0 / 3000 * 100) < 1e-9, "Intel hit %% = hits/lookups (%.2f)",
	      f.hit_pct);
	CHECK(fabs(f.misses_per_s - 500.0 / 12) < 1e-9, "Intel misses/s = (lookups-hits)/s");
	CHECK(fabs(f.walks_in_flight - 250.0 / 300) < 1e-9, "walks in flight = occupancy/clocks");
	CHECK(isnan(f.pt_reads_per_s) && isnan(f.inval_per_s), "uncounted figures are NaN");
	CHECK(pmu_row_iotlb(&b->pmu.rows[1], &look, &hit, &miss) && look == 400 && hit == 300 &&
	      miss == 100, "AMD lookups = hits + misses");
	CHECK(snapshot_pmu_dev_figures(b, "0000:00:04.0", &f) && fabs(f.lookups_per_s - 400) < 1e-9,
	      "device row opened late: rate over its own second (%.1f/s)", f.lookups_per_s);
	CHECK(!snapshot_pmu_dev_figures(b, "0000:00:05.0", &f) && isnan(f.hit_pct),
	      "a device without counters has no figures");
	CHECK(snapshot_pmu_total(b, &f) && fabs(f.lookups_per_s - 3400.0 / 12) < 1e-9,
	      "total sums the unit rows only (%.1f/s)", f.lookups_per_s);
	CHECK(fabs(f.hit_pct - 2800.0 / 3400 * 100) < 1e-9,
	      "total hit %% over both vendors' derived counts (%.2f)", f.hit_pct);

	snapshot_delta(b, a, d);
	CHECK(d->pmu.nr_rows == 3 && d->pmu.rows[0].count[PMU_ROLE_LOOKUPS] == 2000 &&
	      d->pmu.rows[0].count[PMU_ROLE_HITS] == 1600, "delta subtracts row counts");
	CHECK(d->pmu.rows[2].count[PMU_ROLE_LOOKUPS] == 400,
	      "a row new in this interval keeps its whole count");
	pmu_row_figures(d, &d->pmu.rows[0], &f);
	CHECK(fabs(f.hit_pct - 80.0) < 1e-9 && fabs(f.misses_per_s - 200.0) < 1e-9,
	      "interval figures from the delta over 2 s (%.1f%%, %.1f/s)", f.hit_pct,
	      f.misses_per_s);
	/* scaled (multiplexed) hits above lookups clamp: 100 %, no misses */
	b->pmu.rows[0].count[PMU_ROLE_HITS] = 3100;
	pmu_row_figures(b, &b->pmu.rows[0], &f);
	CHECK(f.hit_pct == 100.0 && f.misses_per_s == 0.0, "multiplexed hits clamp at lookups");
	free(a);
	free(b);
	free(d);
}

int main(void)
{
	test_percentile();
	test_delta();
	test_derived();
	test_filter();
	test_domain_type();
	test_json();
	test_fmt();
	test_pmu_rows();
	UNIT_EXIT();
}
