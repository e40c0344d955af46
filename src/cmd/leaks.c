// SPDX-License-Identifier: GPL-2.0
/*
 * iommutrace leaks: the DMA mappings outstanding right now, per device and
 * per mapper stack, with their age. Tracking starts when the command does:
 * what was mapped before is older than the trace and cannot be listed (its
 * unmaps are counted, so the reader knows it exists).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "json.h"
#include "leaks.h"
#include "render.h"
#include "session.h"
#include "subcommands.h"

#define LEAKS_FRAMES_SHOWN	6	/* text: frames from the mapper on */

enum { LEAKS_OPT_MIN_AGE = 0x200, LEAKS_OPT_KALLSYMS };

struct leaks_ctx {
	double min_age_s;
	int stacks;			/* stacks shown per device (text) */
	const char *kallsyms;		/* another kallsyms file (tests) */
	struct it_ksyms *ks;
	bool header_done;
};

static const char leaks_usage[] =
"Usage: iommutrace leaks [-d DEV] [--min-age SEC] [-j] [interval [count]] [-- COMMAND [ARGS]]\n"
"DMA mappings outstanding now, per device and per mapper stack: count, bytes,\n"
"oldest age, age histogram. Tracks from its start: mappings made before are\n"
"\"older than the trace\" and not listed (their unmaps are counted).\n"
"Prints the table every INTERVAL seconds (COUNT times), and at the end (Ctrl-C,\n"
"or when COMMAND exits).\n\n"
"  -d, --device DEV     only this device (0000:00:04.0, 00:04.0) or driver (nvme)\n"
"      --min-age SEC    only mappings at least SEC seconds old\n"
"  -s, --stacks N       stacks shown per device (default 3; JSON: all)\n"
"  -j, --json           one JSON document per interval and at the end\n"
"  -f, --force          trace even if no IOMMU translates (VFIO, unmanaged domains)\n"
"  -B, --bpf-stats      enable kernel.bpf_stats while tracing\n"
SESSION_PMU_HELP
"  -- COMMAND [ARGS]    track while COMMAND runs; exit with its status\n\n"
"Examples:\n"
"  iommutrace leaks --min-age 60 10     every 10 s: mappings older than a minute\n"
"  iommutrace leaks -d nvme -j 1 5      five JSON documents, nvme devices only\n";

static const char *const leak_stat_names[IT_LEAK_STAT_MAX] = {
	[IT_LEAK_TABLE_FULL] = "table_full",
	[IT_LEAK_NO_STACK] = "no_stack",
	[IT_LEAK_UNTRACKED] = "older_unmaps",
	[IT_LEAK_UNTRACKED_BYTES] = "older_unmap_bytes",
	[IT_LEAK_WALK_LIMIT] = "unmap_walk_limit",
	[IT_LEAK_SPLIT] = "partial_unmaps",
};

static const struct it_dev *snap_dev(const struct it_snapshot *s, __u32 slot)
{
	return (int)slot < s->nr_devs ? &s->devs[slot] : NULL;
}

static void dev_cols(const struct it_snapshot *s, __u32 slot, const char **name,
		     const char **driver, const char **type)
{
	const struct it_dev *d = snap_dev(s, slot);

	*name = d && d->name[0] ? d->name : "?";
	*driver = d && d->meta.driver[0] ? d->meta.driver : "-";
	*type = d && d->meta.domain_type[0] ? d->meta.domain_type : "-";
}

static void ages_text(FILE *f, const __u64 *hist)
{
	char label[16];
	int i;

	for (i = 0; i < IT_LEAK_AGE_SLOTS; i++)
		if (hist[i])
			fprintf(f, " %s:%llu", leak_age_label(i, label, sizeof(label)),
				(unsigned long long)hist[i]);
}

static void stack_text(FILE *f, struct it_session *ss, struct leaks_ctx *lc,
		       const struct it_leak_group *g)
{
	__u64 ips[IT_LEAK_STACK_DEPTH];
	char sym[160], bytes[16];
	int n, first, i;

	fmt_bytes(g->bytes, bytes, sizeof(bytes));
	n = leaks_stack(&ss->col, g->stack_id, ips);
	first = n > 0 ? leak_mapper_frame(lc->ks, ips, n) : -1;
	fprintf(f, "  %8llu %8s  oldest %.1fs  %s (pid %u %s)\n", (unsigned long long)g->count,
		bytes, g->oldest_s,
		first >= 0 ? ksyms_format(lc->ks, ips[first], sym, sizeof(sym)) :
		n > 0 ? "(inside the DMA/IOMMU core only)" : "(no stack)",
		g->pid, g->comm);
	if (first < 0)
		first = 0;
	for (i = first + 1; i < n && i < first + LEAKS_FRAMES_SHOWN; i++)
		fprintf(f, "%29s%s\n", "", ksyms_format(lc->ks, ips[i], sym, sizeof(sym)));
}

static void leaks_text(FILE *f, struct it_session *ss, struct leaks_ctx *lc,
		       const struct it_snapshot *s, const struct it_leak_table *t,
		       const struct it_leak_report *r, bool final)
{
	char bytes[16], older[16];
	size_t i, j;
	int shown;

	if (!lc->header_done) {
		fprintf(f, "%s\n", ss->header);
		lc->header_done = true;
	}
	fmt_bytes(t->stats[IT_LEAK_UNTRACKED_BYTES], older, sizeof(older));
	if (final && ss->opts->interval)
		fprintf(f, "--- at exit ---\n");
	fprintf(f, "tracking for %.1fs: mappings made before are older than the trace and not "
		"listed (unmaps of such mappings since: %llu, %s)\n", it_now() - ss->col.t_open,
		(unsigned long long)t->stats[IT_LEAK_UNTRACKED], older);
	if (lc->min_age_s > 0)
		fprintf(f, "only mappings at least %.1fs old (%llu younger or filtered out)\n",
			lc->min_age_s, (unsigned long long)r->hidden);
	fprintf(f, "%-14s %-10s %-10s %9s %9s %8s  %s\n", "DEVICE", "DRIVER", "TYPE", "MAPPINGS",
		"BYTES", "OLDEST", "AGES");
	for (i = 0; i < r->nr_devs; i++) {
		const struct it_leak_group *d = &r->devs[i];
		const char *name, *driver, *type;

		dev_cols(s, d->slot, &name, &driver, &type);
		fmt_bytes(d->bytes, bytes, sizeof(bytes));
		fprintf(f, "%-14s %-10s %-10s %9llu %9s %7.1fs ", name, driver, type,
			(unsigned long long)d->count, bytes, d->oldest_s);
		ages_text(f, d->age_hist);
		fputc('\n', f);
		for (j = 0, shown = 0; j < r->nr_stacks && shown < lc->stacks; j++) {
			if (r->stacks[j].slot != d->slot)
				continue;
			stack_text(f, ss, lc, &r->stacks[j]);
			shown++;
		}
	}
	fmt_bytes(r->bytes, bytes, sizeof(bytes));
	fprintf(f, "total: %llu mappings, %s; lost: table full %llu, no stack %llu, "
		"unmaps past the walk limit %llu\n", (unsigned long long)r->count, bytes,
		(unsigned long long)t->stats[IT_LEAK_TABLE_FULL],
		(unsigned long long)t->stats[IT_LEAK_NO_STACK],
		(unsigned long long)t->stats[IT_LEAK_WALK_LIMIT]);
	fflush(f);
}

static void ages_json(struct json_writer *jw, const __u64 *hist)
{
	char label[16];
	int i;

	jw_begin_array(jw, "age_hist");
	for (i = 0; i < IT_LEAK_AGE_SLOTS; i++) {
		jw_begin_object(jw, NULL);
		jw_string(jw, "age", leak_age_label(i, label, sizeof(label)));
		jw_u64(jw, "count", hist[i]);
		jw_end_object(jw);
	}
	jw_end_array(jw);
}

static void group_json(struct json_writer *jw, const struct it_leak_group *g)
{
	jw_u64(jw, "count", g->count);
	jw_u64(jw, "bytes", g->bytes);
	jw_double(jw, "oldest_age_s", g->oldest_s);
	ages_json(jw, g->age_hist);
}

static void stack_json(struct json_writer *jw, struct it_session *ss, struct leaks_ctx *lc,
		       const struct it_leak_group *g)
{
	__u64 ips[IT_LEAK_STACK_DEPTH];
	char sym[160];
	int n, first, i;

	n = leaks_stack(&ss->col, g->stack_id, ips);
	first = n > 0 ? leak_mapper_frame(lc->ks, ips, n) : -1;
	jw_begin_object(jw, NULL);
	jw_i64(jw, "stack_id", g->stack_id);
	group_json(jw, g);
	jw_u64(jw, "pid", g->pid);
	jw_string(jw, "comm", g->comm);
	if (first >= 0)
		jw_string(jw, "mapper", ksyms_format(lc->ks, ips[first], sym, sizeof(sym)));
	else
		jw_null(jw, "mapper");
	jw_begin_array(jw, "frames");
	for (i = 0; i < n; i++)
		jw_string(jw, NULL, ksyms_format(lc->ks, ips[i], sym, sizeof(sym)));
	jw_end_array(jw);
	jw_end_object(jw);
}

static void leaks_json(FILE *f, struct it_session *ss, struct leaks_ctx *lc,
		       const struct it_snapshot *s, const struct it_leak_table *t,
		       const struct it_leak_report *r, bool final)
{
	struct json_writer jw;
	size_t i, j;
	int k;

	jw_init(&jw, f);
	jw_begin_object(&jw, NULL);
	jw_double(&jw, "time", it_now());
	jw_bool(&jw, "final", final);
	jw_double(&jw, "tracking_s", it_now() - ss->col.t_open);
	jw_double(&jw, "min_age_s", lc->min_age_s);
	jw_u64(&jw, "count", r->count);
	jw_u64(&jw, "bytes", r->bytes);
	jw_u64(&jw, "hidden", r->hidden);
	jw_begin_object(&jw, "older_than_trace");
	jw_u64(&jw, "unmaps", t->stats[IT_LEAK_UNTRACKED]);
	jw_u64(&jw, "bytes", t->stats[IT_LEAK_UNTRACKED_BYTES]);
	jw_end_object(&jw);
	jw_begin_object(&jw, "table");
	for (k = 0; k < IT_LEAK_STAT_MAX; k++)
		if (k != IT_LEAK_UNTRACKED && k != IT_LEAK_UNTRACKED_BYTES)
			jw_u64(&jw, leak_stat_names[k], t->stats[k]);
	jw_u64(&jw, "entries", t->nr);
	jw_u64(&jw, "capacity", IT_LEAK_ENTRIES);
	jw_end_object(&jw);
	jw_begin_array(&jw, "devices");
	for (i = 0; i < r->nr_devs; i++) {
		const struct it_leak_group *d = &r->devs[i];
		const char *name, *driver, *type;

		dev_cols(s, d->slot, &name, &driver, &type);
		jw_begin_object(&jw, NULL);
		jw_string(&jw, "device", name);
		jw_string(&jw, "driver", driver);
		jw_string(&jw, "domain_type", type);
		group_json(&jw, d);
		jw_begin_array(&jw, "stacks");
		for (j = 0; j < r->nr_stacks; j++)
			if (r->stacks[j].slot == d->slot)
				stack_json(&jw, ss, lc, &r->stacks[j]);
		jw_end_array(&jw);
		jw_end_object(&jw);
	}
	jw_end_array(&jw);
	jw_end_object(&jw);
	jw_finish(&jw);
}

static void leaks_tick(void *ctx, struct it_session *ss, const struct it_snapshot *s, bool final)
{
	struct leaks_ctx *lc = ctx;
	struct it_leak_table t = {};
	struct it_leak_report r;
	bool slots[IT_MAX_DEVS] = {};
	struct it_leak_filter flt = { .min_age_s = lc->min_age_s, .slots = slots };
	int i, err;

	for (i = 0; i < s->nr_devs && i < IT_MAX_DEVS; i++)
		slots[i] = dev_matches(&s->devs[i], ss->opts->device);
	if (!lc->ks) {
		lc->ks = ksyms_load(lc->kallsyms);
		if (!lc->ks)
			it_warn("leaks: cannot read kernel symbols: stacks as addresses");
	}
	err = leaks_read(&ss->col, &t);
	if (!err)
		err = leaks_aggregate(&t, &flt, &r);
	if (err) {
		it_warn("leaks: cannot read the mapping table: %s", strerror(-err));
		leak_table_free(&t);
		return;
	}
	if (ss->opts->json)
		leaks_json(stdout, ss, lc, s, &t, &r, final);
	else
		leaks_text(stdout, ss, lc, s, &t, &r, final);
	leak_report_free(&r);
	leak_table_free(&t);
}

/* [interval [count]]: positive numbers, as the bcc tools take them */
static int leaks_positional(struct it_session_opts *o, char **argv, int argc, int *idx)
{
	unsigned long n;

	if (*idx < argc && strcmp(argv[*idx], "--")) {
		if (it_parse_double(argv[*idx], &o->interval) || o->interval <= 0 ||
		    o->interval > 86400) {
			it_warn("leaks: invalid interval '%s' (seconds, > 0)", argv[*idx]);
			return IT_EXIT_USAGE;
		}
		(*idx)++;
	}
	if (*idx < argc && strcmp(argv[*idx], "--")) {
		if (it_parse_uint(argv[*idx], &n) || n == 0) {
			it_warn("leaks: invalid count '%s' (a positive number)", argv[*idx]);
			return IT_EXIT_USAGE;
		}
		o->count = n;
		(*idx)++;
	}
	if (*idx < argc && strcmp(argv[*idx], "--")) {
		it_warn("leaks: unexpected argument '%s' (a command goes after --)", argv[*idx]);
		return IT_EXIT_USAGE;
	}
	if (*idx < argc) {
		(*idx)++;
		if (*idx >= argc) {
			it_warn("leaks: no command after --");
			return IT_EXIT_USAGE;
		}
		o->cmd = &argv[*idx];
	}
	return 0;
}

int cmd_leaks(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "bpf-stats", no_argument, NULL, 'B' },
		{ "stacks", required_argument, NULL, 's' },
		{ "min-age", required_argument, NULL, LEAKS_OPT_MIN_AGE },
		{ "kallsyms", required_argument, NULL, LEAKS_OPT_KALLSYMS },
		SESSION_PMU_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct it_session_opts o = { .cmd_name = "leaks" };
	struct leaks_ctx lc = { .stacks = 3 };
	unsigned long n;
	int opt, ret, idx;

	o.copts.leaks = true;
	o.copts.no_pmu = true;		/* nothing here reads the hardware counters */
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+d:jfBs:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("%s", leaks_usage);
			return IT_EXIT_OK;
		case 's':
			if (it_parse_uint(optarg, &n) || n > 1000) {
				it_warn("leaks: invalid stack count '%s' (0..1000)", optarg);
				return IT_EXIT_USAGE;
			}
			lc.stacks = n;
			continue;
		case LEAKS_OPT_MIN_AGE:
			if (it_parse_double(optarg, &lc.min_age_s) || lc.min_age_s < 0) {
				it_warn("leaks: invalid --min-age '%s' (seconds, >= 0)", optarg);
				return IT_EXIT_USAGE;
			}
			continue;
		case LEAKS_OPT_KALLSYMS:
			lc.kallsyms = optarg;
			continue;
		}
		ret = session_parse_opt(&o, opt, optarg, "leaks");
		if (ret < 0) {
			fprintf(stderr, "%s", leaks_usage);
			return IT_EXIT_USAGE;
		}
		if (ret)
			return ret;
	}
	idx = optind;
	/* getopt stops at "--" and skips it: a command follows */
	if (idx > 1 && idx <= argc && !strcmp(argv[idx - 1], "--")) {
		if (idx >= argc) {
			it_warn("leaks: no command after --");
			return IT_EXIT_USAGE;
		}
		o.cmd = &argv[idx];
	} else {
		ret = leaks_positional(&o, argv, argc, &idx);
		if (ret)
			return ret;
	}
	ret = session_run(&o, leaks_tick, &lc);
	ksyms_free(lc.ks);
	return ret;
}
