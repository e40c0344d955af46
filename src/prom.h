/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus text exposition (format 0.0.4) of a snapshot: what
 * `iommutrace export` serves on /metrics. Counters are cumulative since the
 * exporter attached; latencies are histograms in seconds converted from the
 * in-kernel log2(ns) buckets.
 */
#ifndef IT_PROM_H
#define IT_PROM_H

#include <stdio.h>

#include "model.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void prom_render(FILE *f, const struct it_snapshot *s);

/* Label value escaping: \ " and newline, as the format requires. */
void prom_escape(char *out, size_t size, const char *in);
/*
 * The `le` bound of log2 bucket k in seconds: bucket k holds [2^k, 2^(k+1)) ns,
 * so its upper bound is 2^(k+1) ns, written exactly ("0.000000002").
 */
void prom_le(char *buf, size_t size, int k);

#endif
