/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The figures `iommutrace top` shows, computed from the model: one row per
 * device from an interval delta (rates, interval percentiles) and the
 * cumulative snapshot (gauges), and the ordering of those rows. Pure: no
 * curses, no BPF, so tests/unit/test_top.c can check every number.
 */
#ifndef IT_TOPCALC_H
#define IT_TOPCALC_H

#include <stdbool.h>
#include <linux/types.h>

#include "model.h"

enum top_col {
	TOP_COL_DEVICE,
	TOP_COL_DRIVER,
	TOP_COL_GROUP,
	TOP_COL_TYPE,
	TOP_COL_MAPS,		/* maps/s */
	TOP_COL_UNMAPS,		/* unmaps/s */
	TOP_COL_MBS,		/* MB (10^6 bytes) mapped per second */
	TOP_COL_LIVE,		/* bytes mapped and not unmapped since top started */
	TOP_COL_MAP_P50,	/* map latency of the interval, ns */
	TOP_COL_MAP_P99,
	TOP_COL_UNMAP_P50,
	TOP_COL_UNMAP_P99,
	TOP_COL_RCACHE,		/* IOVA rcache hit % of the interval */
	TOP_COL_INV,		/* IOTLB invalidations (strict syncs + lazy flushes) per second */
	TOP_COL_FAULTS,		/* faults since top started */
	/* hardware counters (src/pmu.c): shown only when some are open */
	TOP_COL_IOTLB,		/* IOTLB hit % of the interval */
	TOP_COL_WALKS,		/* IOTLB misses = page walks started, per second */
	/* --leaks: shown only when outstanding mappings are tracked */
	TOP_COL_HELD,		/* DMA mappings outstanding now */
	TOP_COL_OLDEST,		/* age of the oldest one, seconds */
	TOP_COL_MAX,
};

struct top_col_info {
	const char *title;
	char key;		/* sort key in the curses view */
	int width;
	bool text;		/* sorted by string, A-Z */
	bool desc;		/* sorted largest first (rates, latency) */
	int drop;		/* narrow terminal: higher drops first, 0 never */
	bool pmu;		/* a hardware counter column: hidden without counters */
	bool leaks;		/* an outstanding-mappings column: hidden without --leaks */
};

extern const struct top_col_info top_cols[TOP_COL_MAX];

struct top_row {
	const struct it_dev *dev;	/* of the delta snapshot: name and metadata */
	double v[TOP_COL_MAX];		/* numeric columns; NaN: no data */
	__u32 untraced;			/* 1 << col: no hook counts it here ("n/a") */
};

struct top_totals {
	double secs;
	double maps, unmaps, mbs, inv;	/* per second; inv NaN when untraced */
	__s64 live;
	__u64 faults;
	__u64 lost, lost_total;		/* in the interval / since start */
	double bpf_ns_per_sec;		/* NaN without bpf_stats */
	double bpf_runs_per_sec;
	double bpf_cpu_pct;		/* of one CPU */
	bool have_pmu;			/* the hardware figures below are set */
	struct pmu_figures pmu;		/* every counted unit, NaN without counters */
};

/* @delta: the interval; @cum: the same device since start (may be NULL) */
void top_row_fill(struct top_row *r, const struct it_dev *delta, const struct it_dev *cum,
		  double secs);
/*
 * Rows for the devices of @delta that match @filter (dev_matches) and have
 * been active since start (or all, with @all). Returns the number filled.
 */
int top_rows_build(struct top_row *rows, int max, const struct it_snapshot *delta,
		   const struct it_snapshot *cum, const char *filter, bool all);
/* @col is shown: hardware columns with counters, leak columns with --leaks */
bool top_col_shown(int col, bool have_pmu, bool have_leaks);
/* @filter: exact name/driver as -d, or a substring of either */
/*
 * Order by @col (top_cols[col].desc: largest first, else smallest or A-Z);
 * @reverse flips it; NaN always last; ties by device name.
 */
void top_rows_sort(struct top_row *rows, int n, int col, bool reverse);
int top_col_by_key(int key);	/* -1 if no column has that key */
/*
 * @v with @decimals in at most @width characters: "1234567" if it fits, else
 * scaled with k M G T ("1.00G"), never cut. "-" for NaN.
 */
const char *top_fmt_number(double v, int decimals, int width, char *buf, size_t size);
void top_totals_fill(struct top_totals *t, const struct it_snapshot *delta,
		     const struct it_snapshot *cum);

#endif
