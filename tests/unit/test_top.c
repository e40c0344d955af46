// SPDX-License-Identifier: GPL-2.0
/* iommutrace top: rates, interval percentiles, gauges, filters and sort order. */
#include <math.h>
#include <stdlib.h>

#include "topcalc.h"
#include "unit.h"

static struct it_snapshot prev, cur, delta;

static struct it_dev *dev_init(struct it_snapshot *s, int slot, const char *name,
			       const char *driver, int group)
{
	struct it_dev *d = &s->devs[slot];

	d->slot = slot;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->meta.driver, sizeof(d->meta.driver), "%s", driver);
	snprintf(d->meta.domain_type, sizeof(d->meta.domain_type), "DMA-FQ");
	d->meta.group = group;
	if (slot >= s->nr_devs)
		s->nr_devs = slot + 1;
	return d;
}

static struct it_pmu_row *pmu_row_put(struct it_snapshot *s, const char *unit,
				       const char *device, double t_open, __u64 lookups,
				       __u64 hits)
{
	struct it_pmu_row *r = &s->pmu.rows[s->pmu.nr_rows++];

	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	snprintf(r->device, sizeof(r->device), "%s", device);
	r->t_open = t_open;
	/* Intel's pair: the model derives misses (page walks) from them */
	r->count[PMU_ROLE_LOOKUPS] = lookups;
	r->count[PMU_ROLE_HITS] = hits;
	r->have = 1u << PMU_ROLE_LOOKUPS | 1u << PMU_ROLE_HITS;
	return r;
}

static void ops_set(struct it_dev *d, int op, __u64 count, __u64 bytes)
{
	d->ops[op].count = count;
	d->ops[op].bytes = bytes;
}

/*
 * prev at t=10s, cur at t=12s. nvme: 1000 maps of ~1.5us before, then 500
 * maps of ~20us in the interval; virtio: only unmaps; e1000e: idle.
 */
static void fixture(void)
{
	struct it_dev *p, *c;

	memset(&prev, 0, sizeof(prev));
	memset(&cur, 0, sizeof(cur));
	prev.t_start = cur.t_start = 0;
	prev.t_end = 10;
	cur.t_end = 12;
	dev_init(&prev, 0, "unknown", "", -1);
	dev_init(&cur, 0, "unknown", "", -1);

	p = dev_init(&prev, 1, "0000:00:04.0", "nvme", 3);
	c = dev_init(&cur, 1, "0000:00:04.0", "nvme", 3);
	ops_set(p, IT_OP_MAP, 1000, 4000000);
	ops_set(c, IT_OP_MAP, 1500, 6000000);
	ops_set(p, IT_OP_UNMAP, 1000, 3000000);
	ops_set(c, IT_OP_UNMAP, 1400, 4000000);
	p->ops[IT_OP_MAP].lat_count = 1000;
	p->ops[IT_OP_MAP].lat_hist[10] = 1000;	/* [1024, 2048) ns */
	c->ops[IT_OP_MAP].lat_count = 1500;
	c->ops[IT_OP_MAP].lat_hist[10] = 1000;
	c->ops[IT_OP_MAP].lat_hist[14] = 500;	/* [16384, 32768) ns */
	ops_set(p, IT_OP_IOVA_ALLOC, 1000, 0);
	ops_set(c, IT_OP_IOVA_ALLOC, 1100, 0);
	ops_set(p, IT_OP_IOVA_SLOW, 500, 0);
	ops_set(c, IT_OP_IOVA_SLOW, 510, 0);
	ops_set(p, IT_OP_FQ_FLUSH, 100, 0);
	ops_set(c, IT_OP_FQ_FLUSH, 120, 0);
	ops_set(p, IT_OP_FAULT, 2, 0);
	ops_set(c, IT_OP_FAULT, 2, 0);

	p = dev_init(&prev, 2, "0000:00:05.0", "virtio-pci", 4);
	c = dev_init(&cur, 2, "0000:00:05.0", "virtio-pci", 4);
	ops_set(c, IT_OP_UNMAP, 2000, 8192000);
	ops_set(c, IT_OP_IOTLB_SYNC, 2000, 0);

	dev_init(&prev, 3, "0000:00:06.0", "e1000e", 5);
	dev_init(&cur, 3, "0000:00:06.0", "e1000e", 5);

	prev.bpf_stats = cur.bpf_stats = true;
	prev.bpf_run_ns = 5000000;
	cur.bpf_run_ns = 25000000;
	prev.bpf_run_cnt = 1000;
	cur.bpf_run_cnt = 9000;
	/*
	 * dmar0 counted all along; nvme's own counters too; virtio's opened at
	 * t=11, in the interval, so its 200 lookups are of 1 s, not 2.
	 */
	pmu_row_put(&prev, "dmar0", "", 0, 1000, 900);
	pmu_row_put(&cur, "dmar0", "", 0, 5000, 4000);
	pmu_row_put(&prev, "dmar0", "0000:00:04.0", 0, 100, 50);
	pmu_row_put(&cur, "dmar0", "0000:00:04.0", 0, 500, 350);
	pmu_row_put(&cur, "dmar0", "0000:00:05.0", 11, 200, 0);
	prev.lost[IT_LOST_UNPAIRED] = 7;
	cur.lost[IT_LOST_UNPAIRED] = 10;
	snapshot_totals(&prev);
	snapshot_totals(&cur);
	snapshot_delta(&cur, &prev, &delta);
}

static void test_rates(void)
{
	struct top_row r;

	CHECK(rate_per_sec(100, 2) == 50, "rate: 100 in 2 s is 50/s");
	CHECK(isnan(rate_per_sec(100, 0)), "rate: an empty interval gives NaN (shown -), not inf");
	CHECK(fabs(rate_per_sec(1, 0.5) - 2) < 1e-12, "rate: fractional interval");

	top_row_fill(&r, &delta.devs[1], &cur.devs[1], snapshot_seconds(&delta));
	CHECK(snapshot_seconds(&delta) == 2, "interval is cur - prev = 2 s");
	CHECK(r.v[TOP_COL_MAPS] == 250, "maps/s: 500 maps in 2 s (got %g)", r.v[TOP_COL_MAPS]);
	CHECK(r.v[TOP_COL_UNMAPS] == 200, "unmaps/s: 400 in 2 s (got %g)", r.v[TOP_COL_UNMAPS]);
	CHECK(fabs(r.v[TOP_COL_MBS] - 1.0) < 1e-9, "MB/s: 2e6 bytes in 2 s (got %g)",
	      r.v[TOP_COL_MBS]);
	CHECK(r.v[TOP_COL_INV] == 10, "inv/s: 20 lazy flushes in 2 s (got %g)", r.v[TOP_COL_INV]);
	CHECK(fabs(r.v[TOP_COL_RCACHE] - 90) < 1e-9,
	      "rcache hit %% of the interval: 100 allocs, 10 slow (got %g)", r.v[TOP_COL_RCACHE]);
	CHECK(r.v[TOP_COL_LIVE] == 2000000,
	      "live: cumulative mapped - unmapped, not the interval's (got %g)", r.v[TOP_COL_LIVE]);
	CHECK(r.v[TOP_COL_FAULTS] == 2, "faults: since start, kept after their interval");
	CHECK(r.v[TOP_COL_GROUP] == 3, "group");
}

static void test_percentiles(void)
{
	struct top_row r, whole;

	top_row_fill(&r, &delta.devs[1], &cur.devs[1], 2);
	top_row_fill(&whole, &cur.devs[1], &cur.devs[1], 12);
	/* the interval's 500 samples are all in [16384, 32768) */
	CHECK(r.v[TOP_COL_MAP_P50] >= 16384 && r.v[TOP_COL_MAP_P50] < 32768,
	      "map p50 of the interval only sees the interval's samples (got %g)",
	      r.v[TOP_COL_MAP_P50]);
	CHECK(r.v[TOP_COL_MAP_P99] >= r.v[TOP_COL_MAP_P50] && r.v[TOP_COL_MAP_P99] < 32768,
	      "map p99 of the interval in the same bucket, >= p50 (got %g)",
	      r.v[TOP_COL_MAP_P99]);
	CHECK(whole.v[TOP_COL_MAP_P50] >= 1024 && whole.v[TOP_COL_MAP_P50] < 2048,
	      "since-start p50 would be 1-2us: the interval differs (got %g)",
	      whole.v[TOP_COL_MAP_P50]);
	CHECK(isnan(r.v[TOP_COL_UNMAP_P50]), "no unmap latency samples: NaN, shown as -");
	top_row_fill(&r, &delta.devs[2], &cur.devs[2], 2);
	CHECK(isnan(r.v[TOP_COL_RCACHE]), "no IOVA allocations: rcache hit NaN");
	CHECK(r.v[TOP_COL_INV] == 1000, "strict: 2000 syncs in 2 s = 1000 inv/s");
}

static void test_build(void)
{
	struct top_row rows[IT_MAX_DEVS];
	int n;

	n = top_rows_build(rows, IT_MAX_DEVS, &delta, &cur, NULL, false);
	CHECK(n == 2, "rows: the two active devices, not idle e1000e nor unknown (got %d)", n);
	n = top_rows_build(rows, IT_MAX_DEVS, &delta, &cur, NULL, true);
	CHECK(n == 4, "rows with all: every slot (got %d)", n);
	n = top_rows_build(rows, IT_MAX_DEVS, &delta, &cur, "nvme", false);
	CHECK(n == 1 && !strcmp(rows[0].dev->name, "0000:00:04.0"), "filter by driver");
	n = top_rows_build(rows, IT_MAX_DEVS, &delta, &cur, "00:05.0", false);
	CHECK(n == 1 && !strcmp(rows[0].dev->name, "0000:00:05.0"), "filter by short address");
	n = top_rows_build(rows, IT_MAX_DEVS, &delta, &cur, "virtio", false);
	CHECK(n == 1 && !strcmp(rows[0].dev->meta.driver, "virtio-pci"),
	      "filter by a driver's first word (virtio: virtio-pci)");
	n = top_rows_build(rows, IT_MAX_DEVS, &delta, &cur, "nosuch", true);
	CHECK(n == 0, "filter matching nothing");
	n = top_rows_build(rows, 1, &delta, &cur, NULL, true);
	CHECK(n == 1, "never more rows than asked for");
}

static const char *order(const struct top_row *rows, int n, char *buf)
{
	int i;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		/* "0000:00:0X.0" -> X */
		size_t len = strlen(buf);

		buf[len] = rows[i].dev->name[0] == 'u' ? 'n' : rows[i].dev->name[9];
		buf[len + 1] = '\0';
	}
	return buf;
}

static void test_sort(void)
{
	struct top_row rows[IT_MAX_DEVS];
	char buf[16];
	int n;

	n = top_rows_build(rows, IT_MAX_DEVS, &delta, &cur, NULL, true);
	/* one letter per row: the slot digit of the address, n for "unknown" */
	top_rows_sort(rows, n, TOP_COL_MAPS, false);
	CHECK_STR(order(rows, n, buf), "456n", "sort maps/s: largest first, ties by name");
	top_rows_sort(rows, n, TOP_COL_MAPS, true);
	CHECK_STR(order(rows, n, buf), "56n4", "sort maps/s reversed: smallest first");
	top_rows_sort(rows, n, TOP_COL_UNMAPS, false);
	CHECK_STR(order(rows, n, buf), "546n", "sort unmaps/s");
	top_rows_sort(rows, n, TOP_COL_MAP_P99, false);
	CHECK(!strcmp(rows[0].dev->name, "0000:00:04.0"), "sort p99: the only timed device first");
	top_rows_sort(rows, n, TOP_COL_MAP_P99, true);
	CHECK(!strcmp(rows[0].dev->name, "0000:00:04.0"),
	      "sort p99 reversed: devices without samples (NaN) still last");
	top_rows_sort(rows, n, TOP_COL_DEVICE, false);
	CHECK_STR(order(rows, n, buf), "456n", "sort by device: A-Z");
	top_rows_sort(rows, n, TOP_COL_DRIVER, false);
	CHECK_STR(order(rows, n, buf), "n645", "sort by driver: A-Z (\"\" < e1000e < nvme)");
	top_rows_sort(rows, n, TOP_COL_GROUP, false);
	CHECK_STR(order(rows, n, buf), "456n", "sort by group: smallest first, none last");
	top_rows_sort(rows, n, TOP_COL_MAX, false);
	CHECK_STR(order(rows, n, buf), "456n", "bad column: order unchanged");
}

/* IOTLB% and WALKS/s: the device's own hardware counters over the interval */
static void test_pmu(void)
{
	struct top_row rows[IT_MAX_DEVS];
	struct it_snapshot *none = calloc(1, sizeof(*none));
	struct top_totals t;
	char buf[16];
	int n, i;

	n = top_rows_build(rows, IT_MAX_DEVS, &delta, &cur, NULL, true);
	for (i = 0; i < n && strcmp(rows[i].dev->name, "0000:00:04.0"); i++)
		;
	CHECK(i < n && fabs(rows[i].v[TOP_COL_IOTLB] - 75) < 1e-9,
	      "nvme IOTLB%%: 300 hits of 400 lookups in the interval (got %g)",
	      i < n ? rows[i].v[TOP_COL_IOTLB] : NAN);
	CHECK(i < n && fabs(rows[i].v[TOP_COL_WALKS] - 50) < 1e-9,
	      "nvme WALKS/s: 100 misses in 2 s (got %g)", i < n ? rows[i].v[TOP_COL_WALKS] : NAN);
	for (i = 0; i < n && strcmp(rows[i].dev->name, "0000:00:05.0"); i++)
		;
	CHECK(i < n && rows[i].v[TOP_COL_IOTLB] == 0 && fabs(rows[i].v[TOP_COL_WALKS] - 200) < 1e-9,
	      "virtio: counters opened 1 s before the end: 200 walks/s, 0%% hit (got %g)",
	      i < n ? rows[i].v[TOP_COL_WALKS] : NAN);
	for (i = 0; i < n && strcmp(rows[i].dev->name, "0000:00:06.0"); i++)
		;
	CHECK(i < n && isnan(rows[i].v[TOP_COL_IOTLB]) && isnan(rows[i].v[TOP_COL_WALKS]),
	      "e1000e: no counters of its own: no figure (shown as -), not 0");

	top_rows_sort(rows, n, TOP_COL_IOTLB, false);
	CHECK_STR(order(rows, n, buf), "456n", "sort IOTLB%%: highest first, no counters last");
	top_rows_sort(rows, n, TOP_COL_WALKS, false);
	CHECK_STR(order(rows, n, buf), "546n", "sort WALKS/s: most walks first");

	top_totals_fill(&t, &delta, &cur);
	CHECK(t.have_pmu && fabs(t.pmu.hit_pct - 77.5) < 1e-9,
	      "totals: the unit's 3100 hits of 4000 lookups (got %g)", t.pmu.hit_pct);
	CHECK(fabs(t.pmu.misses_per_s - 450) < 1e-9, "totals: 900 walks in 2 s (got %g)",
	      t.pmu.misses_per_s);

	CHECK(!top_col_shown(TOP_COL_IOTLB, false, false) && !top_col_shown(TOP_COL_WALKS, false, false),
	      "no counters: IOTLB%% and WALKS/s hidden");
	CHECK(top_col_shown(TOP_COL_IOTLB, true, false) && top_col_shown(TOP_COL_WALKS, true, false),
	      "with counters: IOTLB%% and WALKS/s shown");
	for (i = 0; i < TOP_COL_MAX; i++)
		if (i != TOP_COL_IOTLB && i != TOP_COL_WALKS && i != TOP_COL_HELD &&
		    i != TOP_COL_OLDEST && !top_col_shown(i, false, false))
			break;
	CHECK(i == TOP_COL_MAX, "every other column shown without counters or --leaks");
	CHECK(!top_col_shown(TOP_COL_HELD, true, false) && top_col_shown(TOP_COL_HELD, false, true) &&
	      top_col_shown(TOP_COL_OLDEST, false, true), "HELD and OLDEST only with --leaks");
	CHECK(top_col_by_key('k') == TOP_COL_HELD && top_col_by_key('K') == TOP_COL_OLDEST,
	      "keys k and K sort by HELD and OLDEST");
	{
		struct it_dev held = { .leak_count = 3, .leak_bytes = 12288, .leak_oldest_s = 5.5 };
		struct top_row r;

		top_row_fill(&r, &held, NULL, 1);
		CHECK(r.v[TOP_COL_HELD] == 3 && r.v[TOP_COL_OLDEST] == 5.5,
		      "HELD and OLDEST: the gauges of the moment (3, 5.5 s)");
		held.leak_count = 0;
		top_row_fill(&r, &held, NULL, 1);
		CHECK(r.v[TOP_COL_HELD] == 0 && isnan(r.v[TOP_COL_OLDEST]),
		      "nothing held: OLDEST is -, not 0 s");
	}
	CHECK(top_col_by_key('o') == TOP_COL_IOTLB && top_col_by_key('w') == TOP_COL_WALKS,
	      "keys o and w sort by IOTLB%% and WALKS/s");

	snapshot_totals(none);
	none->t_end = 2;
	n = top_rows_build(rows, IT_MAX_DEVS, none, none, NULL, true);
	top_totals_fill(&t, none, none);
	CHECK(!t.have_pmu && isnan(t.pmu.hit_pct), "no counters: totals say so, NaN figures");
	free(none);
}

static void test_keys(void)
{
	static const char cmd_keys[] = "dhpqrsa?<>";
	bool dup = false, clash = false;
	int i, j;

	CHECK(top_col_by_key('m') == TOP_COL_MAPS, "key m sorts by maps/s");
	CHECK(top_col_by_key('E') == TOP_COL_MAP_P99, "key E sorts by map p99");
	CHECK(top_col_by_key('q') == -1, "q is no column");
	for (i = 0; i < TOP_COL_MAX; i++) {
		for (j = i + 1; j < TOP_COL_MAX; j++)
			dup |= top_cols[i].key == top_cols[j].key;
		clash |= strchr(cmd_keys, top_cols[i].key) != NULL;
	}
	CHECK(!dup, "every column has its own key");
	CHECK(!clash, "no column key is a command key");
}

static void test_fmt_number(void)
{
	char b[32];

	CHECK_STR(top_fmt_number(1234567, 0, 8, b, sizeof(b)), "1234567", "fits: as is");
	CHECK_STR(top_fmt_number(12345678, 0, 8, b, sizeof(b)), "12345678", "exactly the width");
	CHECK_STR(top_fmt_number(1000156450, 0, 8, b, sizeof(b)), "1.00G",
		  "1e9 in 8 columns: 1.00G, not the first 8 digits");
	CHECK_STR(top_fmt_number(123456789, 0, 8, b, sizeof(b)), "123.46M", "9 digits: M");
	CHECK_STR(top_fmt_number(99999.9, 1, 6, b, sizeof(b)), "100.0k", "decimals kept with k");
	CHECK_STR(top_fmt_number(123456, 0, 4, b, sizeof(b)), "123k", "narrow: no decimals");
	CHECK_STR(top_fmt_number(75, 1, 6, b, sizeof(b)), "75.0", "a percentage");
	CHECK_STR(top_fmt_number(NAN, 0, 8, b, sizeof(b)), "-", "NaN is a dash");
}

static void test_totals(void)
{
	struct top_totals t;

	top_totals_fill(&t, &delta, &cur);
	CHECK(t.maps == 250, "totals: maps/s");
	CHECK(t.unmaps == 1200, "totals: unmaps/s (400 + 2000 in 2 s, got %g)", t.unmaps);
	CHECK(t.inv == 1010, "totals: inv/s (got %g)", t.inv);
	CHECK(t.live == 6000000 - 4000000 - 8192000, "totals: live since start");
	CHECK(t.lost == 3 && t.lost_total == 10, "lost: interval 3, since start 10");
	CHECK(t.bpf_ns_per_sec == 1e7, "overhead: 20 ms BPF run time in 2 s = 10 ms/s");
	CHECK(fabs(t.bpf_cpu_pct - 1.0) < 1e-9, "overhead: 10 ms/s is 1%% of a CPU");
	CHECK(t.bpf_runs_per_sec == 4000, "overhead: 8000 runs in 2 s");
	delta.bpf_stats = false;
	top_totals_fill(&t, &delta, &cur);
	CHECK(isnan(t.bpf_ns_per_sec), "overhead unknown without bpf_stats");
	delta.bpf_stats = true;
}

int main(void)
{
	fixture();
	test_rates();
	test_percentiles();
	test_build();
	test_sort();
	test_keys();
	test_totals();
	test_fmt_number();
	test_pmu();
	UNIT_EXIT();
}
