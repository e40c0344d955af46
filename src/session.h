/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tracing session: open the collector, optionally run a command, and hand
 * snapshots to a renderer every interval and once at the end. stat, hist,
 * faults and record are all sessions with different renderers.
 */
#ifndef IT_SESSION_H
#define IT_SESSION_H

#include "collector.h"

struct it_session_opts {
	const char *device;		/* -d filter */
	bool json;			/* -j */
	double interval;		/* -i, 0: only the final summary */
	long count;			/* -c, 0: unlimited */
	char **cmd;			/* -- COMMAND ARGS */
	bool force;			/* run even if no IOMMU translates */
	bool quiet_header;
	const char *cmd_name;		/* for messages: "stat", "top", ... */
	struct it_collector_opts copts;
};

struct it_session;
/* @delta: the interval just ended (final: the whole run, delta == cumulative) */
typedef void (*it_tick_fn)(void *ctx, struct it_session *ss, const struct it_snapshot *delta,
			   bool final);

struct it_session {
	struct it_collector col;
	struct it_session_opts *opts;
	struct it_snapshot *cur, *prev, *delta;
	char header[256];
};

/* Long-only options of every tracing subcommand: the mode, the hardware counters */
enum { IT_OPT_PMU_SYSFS = 0x100, IT_OPT_NO_PMU, IT_OPT_DEEP, IT_OPT_OWN, IT_OPT_LEAKS,
       IT_OPT_LOSSLESS };
#define SESSION_PMU_LONGOPTS						\
	{ "pmu-sysfs", required_argument, NULL, IT_OPT_PMU_SYSFS },	\
	{ "no-pmu", no_argument, NULL, IT_OPT_NO_PMU },			\
	{ "deep", no_argument, NULL, IT_OPT_DEEP },			\
	{ "own", no_argument, NULL, IT_OPT_OWN },			\
	{ "leaks", no_argument, NULL, IT_OPT_LEAKS },			\
	{ "lossless", no_argument, NULL, IT_OPT_LOSSLESS }
#define SESSION_PMU_HELP							\
"      --deep           every layer hooked and timed (iommu_map, IOVA allocator,\n"	\
"                       invalidation queue), page sizes walked; costs more per DMA\n"	\
"      --lossless       a twin beside each hot hook program that makes up the runs\n"	\
"                       the kernel skips (a hook nesting into itself on one CPU\n"	\
"                       under interrupt traffic): lost 0; a second short run per run\n"	\
"      --own            attach our own hooks even when `iommutrace export` runs\n"	\
"                       (by default a session reads the exporter's maps)\n"	\
"      --leaks          also track outstanding mappings (iommutrace leaks; off by\n"	\
"                       default: a stack walk per map, see docs/leaks.md)\n"		\
"      --no-pmu         leave the IOMMU's hardware counters (IOTLB hit %) closed\n"	\
"      --pmu-sysfs ROOT PMU descriptions from ROOT/sys (tests/fixtures/pmu/*)\n"

/* Common options of every tracing subcommand; returns 0, or an exit code. */
int session_parse_opt(struct it_session_opts *o, int opt, const char *arg, const char *cmd);
int session_open(struct it_collector *col, struct it_session_opts *o, const char *cmd);
int session_run(struct it_session_opts *o, it_tick_fn tick, void *ctx);
/* On stderr, once: why there are no hardware counters, or what failed */
void session_pmu_note(const struct it_collector *col, const struct it_session_opts *o);

#endif
