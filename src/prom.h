/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus text exposition (format 0.0.4) of a snapshot: what
 * `iommutrace export` serves on /metrics. Counters are cumulative since the
 * exporter attached; latencies are histograms in seconds converted from the
 * in-kernel log2(ns) buckets.
 */
#ifndef IT_PROM_H
#define IT_PROM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum { PROM_IOTLB_LOOKUPS, PROM_IOTLB_HITS, PROM_IOTLB_MISSES, PROM_IOTLB_MAX };

/*
 * What the exporter carries from one snapshot to the next. Intel counts IOTLB
 * lookups and hits; misses are their difference, and when multiplexing
 * scales the two inputs by different factors that difference can step back.
 * Prometheus would read the step as a counter reset (and rate() as a burst),
 * so the exporter serves the highest value seen so far for each row. Rows
 * keep their index for the collector's life; a row whose unit or device
 * changes anyway starts afresh.
 */
struct prom_state {
	bool pmu_disabled;		/* --no-pmu: pmu_up says status="disabled" */
	int nr_rows;
	struct {
		char unit[IT_PMU_UNIT_LEN];
		char device[IT_NAME_LEN];
		uint64_t iotlb[PROM_IOTLB_MAX];
	} rows[IT_PMU_MAX_ROWS];
};

void prom_render(FILE *f, const struct it_snapshot *s);
/* @st NULL: the snapshot's values as they are (a single rendering) */
void prom_render_state(FILE *f, const struct it_snapshot *s, const struct prom_state *st);
/* Raise @st's high-water marks to @s's values; call once per snapshot read. */
void prom_state_update(struct prom_state *st, const struct it_snapshot *s);

/* Label value escaping: \ " and newline, as the format requires. */
void prom_escape(char *out, size_t size, const char *in);
/*
 * The `le` bound of log2 bucket k in seconds: bucket k holds [2^k, 2^(k+1)) ns,
 * so its upper bound is 2^(k+1) ns, written exactly ("0.000000002").
 */
void prom_le(char *buf, size_t size, int k);

#endif
