// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <string.h>

#include "common.h"
#include "topcalc.h"

/*
 * Keys avoid the command keys (d h p q r s a): lower case for the common
 * columns, upper case for the p99 twin of a p50 column.
 */
const struct top_col_info top_cols[TOP_COL_MAX] = {
	[TOP_COL_DEVICE]    = { "DEVICE",   'n', 12, true,  false, 0 },
	[TOP_COL_DRIVER]    = { "DRIVER",   'v',  8, true,  false, 3 },
	[TOP_COL_GROUP]     = { "GRP",      'g',  3, false, false, 4 },
	[TOP_COL_TYPE]      = { "TYPE",     't',  6, true,  false, 5 },
	[TOP_COL_MAPS]      = { "MAPS/s",   'm',  8, false, true,  0 },
	[TOP_COL_UNMAPS]    = { "UNMAPS/s", 'u',  8, false, true,  0 },
	[TOP_COL_MBS]       = { "MB/s",     'b',  7, false, true,  0 },
	[TOP_COL_LIVE]      = { "LIVE",     'l',  7, false, true,  2 },
	[TOP_COL_MAP_P50]   = { "MAP50",    'e',  7, false, true,  6 },
	[TOP_COL_MAP_P99]   = { "MAP99",    'E',  7, false, true,  1 },
	[TOP_COL_UNMAP_P50] = { "UNMAP50",  'x',  7, false, true,  7 },
	[TOP_COL_UNMAP_P99] = { "UNMAP99",  'X',  7, false, true,  1 },
	[TOP_COL_RCACHE]    = { "RC-HIT%",  'c',  7, false, true,  1 },
	[TOP_COL_INV]       = { "INV/s",    'i',  7, false, true,  0 },
	[TOP_COL_FAULTS]    = { "FAULTS",   'f',  6, false, true,  0 },
	[TOP_COL_IOTLB]     = { "IOTLB%",   'o',  6, false, true,  1, true },
	[TOP_COL_WALKS]     = { "WALKS/s",  'w',  8, false, true,  2, true },
	[TOP_COL_HELD]      = { "HELD",     'k',  7, false, true,  0, false, true },
	[TOP_COL_OLDEST]    = { "OLDEST",   'K',  7, false, true,  2, false, true },
};

/* the columns no hook counts on this kernel or in this mode */
static __u32 top_row_untraced(const struct it_dev *d)
{
	__u32 cols = 0;

	if (!dev_op_traced(d, IT_OP_MAP))
		cols |= 1u << TOP_COL_MAPS | 1u << TOP_COL_MBS | 1u << TOP_COL_LIVE;
	if (!dev_op_traced(d, IT_OP_UNMAP))
		cols |= 1u << TOP_COL_UNMAPS | 1u << TOP_COL_LIVE;
	if (!dev_op_traced(d, IT_OP_IOVA_ALLOC) || !dev_op_traced(d, IT_OP_IOVA_SLOW))
		cols |= 1u << TOP_COL_RCACHE;
	if (!dev_flushes_traced(d))
		cols |= 1u << TOP_COL_INV;
	if (!dev_op_traced(d, IT_OP_FAULT))
		cols |= 1u << TOP_COL_FAULTS;
	return cols;
}

void top_row_fill(struct top_row *r, const struct it_dev *delta, const struct it_dev *cum,
		  double secs)
{
	const struct it_op_stats *ml = dev_map_latency(delta), *ul = dev_unmap_latency(delta);
	int i;

	if (!cum)
		cum = delta;
	r->dev = delta;
	for (i = 0; i < TOP_COL_MAX; i++)
		r->v[i] = NAN;
	r->v[TOP_COL_GROUP] = delta->meta.group >= 0 ? delta->meta.group : NAN;
	r->v[TOP_COL_MAPS] = rate_per_sec(delta->ops[IT_OP_MAP].count, secs);
	r->v[TOP_COL_UNMAPS] = rate_per_sec(delta->ops[IT_OP_UNMAP].count, secs);
	r->v[TOP_COL_MBS] = rate_per_sec(delta->ops[IT_OP_MAP].bytes, secs) / 1e6;
	/* a gauge: what is mapped now, so counted since start, not per interval */
	r->v[TOP_COL_LIVE] = dev_live_bytes(cum);
	r->v[TOP_COL_MAP_P50] = hist_percentile(ml->lat_hist, IT_LAT_SLOTS, 50);
	r->v[TOP_COL_MAP_P99] = hist_percentile(ml->lat_hist, IT_LAT_SLOTS, 99);
	r->v[TOP_COL_UNMAP_P50] = hist_percentile(ul->lat_hist, IT_LAT_SLOTS, 50);
	r->v[TOP_COL_UNMAP_P99] = hist_percentile(ul->lat_hist, IT_LAT_SLOTS, 99);
	r->v[TOP_COL_RCACHE] = dev_rcache_hit_pct(delta);
	r->v[TOP_COL_INV] = rate_per_sec(dev_flushes(delta), secs);
	/* faults are rare: keep one on screen after its interval */
	r->v[TOP_COL_FAULTS] = cum->ops[IT_OP_FAULT].count;
	/* gauges of the moment (--leaks): the delta carries the latest read */
	r->v[TOP_COL_HELD] = delta->leak_count;
	r->v[TOP_COL_OLDEST] = delta->leak_count ? delta->leak_oldest_s : NAN;
	r->untraced = top_row_untraced(delta);
}

/* the hardware columns of @r's device from the counters of @delta, if any */
static void top_row_fill_pmu(struct top_row *r, const struct it_snapshot *delta)
{
	struct pmu_figures pf;

	/* NaN when the device has no counters of its own (not filterable, or over the limit) */
	snapshot_pmu_dev_figures(delta, r->dev->name, &pf);
	r->v[TOP_COL_IOTLB] = pf.hit_pct;
	r->v[TOP_COL_WALKS] = pf.misses_per_s;
}

bool top_col_shown(int col, bool have_pmu, bool have_leaks)
{
	return (!top_cols[col].pmu || have_pmu) && (!top_cols[col].leaks || have_leaks);
}

int top_rows_build(struct top_row *rows, int max, const struct it_snapshot *delta,
		   const struct it_snapshot *cum, const char *filter, bool all)
{
	double secs = snapshot_seconds(delta);
	int i, n = 0;

	for (i = 0; i < delta->nr_devs && n < max; i++) {
		const struct it_dev *d = &delta->devs[i];
		const struct it_dev *c = cum && i < cum->nr_devs ? &cum->devs[i] : NULL;

		if (!dev_matches(d, filter))
			continue;
		if (!all && !dev_has_activity(c ? c : d))
			continue;
		top_row_fill(&rows[n], d, c, secs);
		top_row_fill_pmu(&rows[n++], delta);
	}
	return n;
}

static const char *row_text(const struct top_row *r, int col)
{
	switch (col) {
	case TOP_COL_DRIVER:
		return r->dev->meta.driver;
	case TOP_COL_TYPE:
		return r->dev->meta.domain_type;
	default:
		return r->dev->name;
	}
}

/* <0 if @a goes before @b */
static int row_cmp(const struct top_row *a, const struct top_row *b, int col, bool reverse)
{
	double x = a->v[col], y = b->v[col];
	int c = 0;

	if (top_cols[col].text) {
		c = strcmp(row_text(a, col), row_text(b, col));
	} else if (isnan(x) || isnan(y)) {
		/* no data sorts last whatever the direction */
		if (isnan(x) != isnan(y))
			return isnan(x) ? 1 : -1;
	} else if (x != y) {
		c = x < y ? -1 : 1;
	}
	if (top_cols[col].desc)
		c = -c;
	if (reverse)
		c = -c;
	return c ? c : strcmp(a->dev->name, b->dev->name);
}

void top_rows_sort(struct top_row *rows, int n, int col, bool reverse)
{
	int i, j;

	if (col < 0 || col >= TOP_COL_MAX)
		return;
	/* insertion sort: at most IT_MAX_DEVS rows, and stable */
	for (i = 1; i < n; i++) {
		struct top_row r = rows[i];

		for (j = i; j > 0 && row_cmp(&r, &rows[j - 1], col, reverse) < 0; j--)
			rows[j] = rows[j - 1];
		rows[j] = r;
	}
}

int top_col_by_key(int key)
{
	int i;

	for (i = 0; i < TOP_COL_MAX; i++)
		if (top_cols[i].key == key)
			return i;
	return -1;
}

const char *top_fmt_number(double v, int decimals, int width, char *buf, size_t size)
{
	static const char suffix[] = "kMGTPE";
	int i, prec;

	if (isnan(v)) {
		snprintf(buf, size, "-");
		return buf;
	}
	if (snprintf(buf, size, "%.*f", decimals, v) <= width)
		return buf;
	/* the suffix that leaves 1-999, then as many decimals as fit (at most two) */
	for (i = 0; suffix[i + 1] && fabs(v) >= 999.5e3; i++)
		v /= 1000;
	v /= 1000;
	for (prec = 2; prec >= 0; prec--)
		if (snprintf(buf, size, "%.*f%c", prec, v, suffix[i]) <= width)
			return buf;
	return buf;	/* a column narrower than "999k" */
}

void top_totals_fill(struct top_totals *t, const struct it_snapshot *delta,
		     const struct it_snapshot *cum)
{
	const struct it_dev *d = &delta->total, *c = cum ? &cum->total : &delta->total;
	double secs = snapshot_seconds(delta);

	memset(t, 0, sizeof(*t));
	t->secs = secs;
	t->maps = rate_per_sec(d->ops[IT_OP_MAP].count, secs);
	t->unmaps = rate_per_sec(d->ops[IT_OP_UNMAP].count, secs);
	t->mbs = rate_per_sec(d->ops[IT_OP_MAP].bytes, secs) / 1e6;
	t->inv = dev_flushes_traced(d) ? rate_per_sec(dev_flushes(d), secs) : NAN;
	t->live = dev_live_bytes(c);
	t->faults = c->ops[IT_OP_FAULT].count;
	t->lost = snapshot_lost_total(delta);
	t->lost_total = cum ? snapshot_lost_total(cum) : t->lost;
	if (delta->bpf_stats && secs > 0) {
		t->bpf_ns_per_sec = delta->bpf_run_ns / secs;
		t->bpf_runs_per_sec = delta->bpf_run_cnt / secs;
		/* run time per second of wall time, against one CPU's second */
		t->bpf_cpu_pct = t->bpf_ns_per_sec / 1e7;
	} else {
		t->bpf_ns_per_sec = t->bpf_runs_per_sec = t->bpf_cpu_pct = NAN;
	}
	t->have_pmu = snapshot_pmu_total(delta, &t->pmu);
}
