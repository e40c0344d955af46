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
/* why a device seen has no series: iommutrace_exporter_devices_dropped{reason} */
enum { PROM_DROP_FILTER, PROM_DROP_MAX_DEVICES, PROM_DROP_MAX };
enum { PROM_ENC_IDENTITY, PROM_ENC_GZIP, PROM_ENC_MAX };

/* The HTTP side's figures, as a scrape renders them (a copy: no locking here). */
struct prom_http_stats {
	uint64_t scrapes[PROM_ENC_MAX];
	uint64_t bytes[PROM_ENC_MAX];		/* body bytes sent */
	uint64_t gzip_saved;			/* uncompressed - sent, gzip responses */
	uint64_t unauthorized_missing, unauthorized_wrong;
};

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
	const char *device;		/* -d: serve only matching devices; NULL: all */
	int max_devices;		/* --max-devices: serve at most this many; 0: all */
	int nr_rows;
	struct {
		char unit[IT_PMU_UNIT_LEN];
		char device[IT_NAME_LEN];
		uint64_t iotlb[PROM_IOTLB_MAX];
	} rows[IT_PMU_MAX_ROWS];
};

void prom_render(FILE *f, const struct it_snapshot *s);
/*
 * @st NULL: the snapshot's values as they are, every device (a single
 * rendering); else the exporter's: high-water marks, its -d and
 * --max-devices selection and the iommutrace_exporter_devices* gauges.
 */
void prom_render_state(FILE *f, const struct it_snapshot *s, const struct prom_state *st);
/* The iommutrace_exporter_* HTTP families */
void prom_render_exporter(FILE *f, const struct prom_http_stats *h);
/* Raise @st's high-water marks to @s's values; call once per snapshot read. */
void prom_state_update(struct prom_state *st, const struct it_snapshot *s);

/* Label value escaping: \ " and newline, as the format requires. */
void prom_escape(char *out, size_t size, const char *in);
/*
 * The `le` bound of log2 bucket k in seconds: bucket k holds [2^k, 2^(k+1)) ns,
 * so its upper bound is 2^(k+1) ns, written exactly ("0.000000002").
 */
void prom_le(char *buf, size_t size, int k);

/* Whether an Accept-Encoding header value admits gzip (q > 0); NULL: no. */
bool prom_accepts_gzip(const char *accept_encoding);
/* @in as one gzip member into a malloc'd *out; 0, or -1 (no memory). */
int prom_gzip(const void *in, size_t len, int level, void **out, size_t *out_len);

#endif
