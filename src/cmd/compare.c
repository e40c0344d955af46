// SPDX-License-Identifier: GPL-2.0
/*
 * iommutrace compare: the same workload under strict and lazy invalidation,
 * side by side, from two recordings or (--live) from one group switched
 * between DMA and DMA-FQ on the running kernel.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "devfilter.h"
#include "json.h"
#include "recfile.h"
#include "render.h"
#include "session.h"
#include "subcommands.h"
#include "topology.h"

struct cmp_side {
	const char *label;		/* the file, or "live DMA" */
	struct it_recording rec;
	bool has_fig;
	double fig;
};

struct cmp_metrics {
	double ops_s, map_p50, map_p99, unmap_p50, unmap_p99, rc_hit;
	double inv_per_unmap, inv_s, freed_per_flush;
	/* the IOMMU's hardware counters (NaN without them) */
	double iotlb_hit, iotlb_miss_s, walks_busy, pt_reads_s;
	__u64 maps;
};

enum cmp_fmt { FMT_RATE, FMT_NS, FMT_PCT, FMT_RATIO, FMT_FIG };

/* text rows: CMP_PMU only when a recording has counters, CMP_VENDOR not
 * when neither side counts it (walks in flight are Intel's, page-table
 * reads AMD's); JSON always has every key, null where not counted */
enum { CMP_PMU = 1, CMP_VENDOR = 2 };

static const struct cmp_row {
	const char *name, *json;
	size_t off;
	enum cmp_fmt fmt;
	unsigned int flags;
} cmp_rows[] = {
	{ "maps/s", "maps_per_sec", offsetof(struct cmp_metrics, ops_s), FMT_RATE },
	{ "map p50", "map_p50_ns", offsetof(struct cmp_metrics, map_p50), FMT_NS },
	{ "map p99", "map_p99_ns", offsetof(struct cmp_metrics, map_p99), FMT_NS },
	{ "unmap p50", "unmap_p50_ns", offsetof(struct cmp_metrics, unmap_p50), FMT_NS },
	{ "unmap p99", "unmap_p99_ns", offsetof(struct cmp_metrics, unmap_p99), FMT_NS },
	{ "IOVA rcache hit %", "iova_rcache_hit_pct", offsetof(struct cmp_metrics, rc_hit), FMT_PCT },
	{ "invalidations/unmap", "invalidations_per_unmap",
	  offsetof(struct cmp_metrics, inv_per_unmap), FMT_RATIO },
	{ "invalidations/s", "invalidations_per_sec", offsetof(struct cmp_metrics, inv_s), FMT_RATE },
	{ "IOVAs freed/flush", "iovas_freed_per_flush",
	  offsetof(struct cmp_metrics, freed_per_flush), FMT_RATIO },
	{ "IOTLB hit %", "iotlb_hit_pct", offsetof(struct cmp_metrics, iotlb_hit), FMT_PCT,
	  CMP_PMU },
	/* every IOTLB miss starts a page walk */
	{ "IOTLB misses/s (walks)", "iotlb_misses_per_sec",
	  offsetof(struct cmp_metrics, iotlb_miss_s), FMT_RATE, CMP_PMU },
	{ "walks in flight", "walks_in_flight", offsetof(struct cmp_metrics, walks_busy),
	  FMT_RATIO, CMP_PMU | CMP_VENDOR },
	{ "page-table reads/s", "pt_reads_per_sec", offsetof(struct cmp_metrics, pt_reads_s),
	  FMT_RATE, CMP_PMU | CMP_VENDOR },
};

static double row_val(const struct cmp_metrics *m, const struct cmp_row *r)
{
	return *(const double *)((const char *)m + r->off);
}

/* no device: every figure NaN ("-", null) */
static void metrics_none(struct cmp_metrics *m)
{
	unsigned int r;

	memset(m, 0, sizeof(*m));
	for (r = 0; r < ARRAY_SIZE(cmp_rows); r++)
		*(double *)((char *)m + cmp_rows[r].off) = NAN;
}

/* the device's filtered counters, or every unit's for the total */
static void metrics_pmu(const struct it_snapshot *snap, const struct it_dev *d,
			struct cmp_metrics *m)
{
	struct pmu_figures f;

	if (d == &snap->total)
		snapshot_pmu_total(snap, &f);
	else
		snapshot_pmu_dev_figures(snap, d->name, &f);
	m->iotlb_hit = f.hit_pct;
	m->iotlb_miss_s = f.misses_per_s;
	m->walks_busy = f.walks_in_flight;
	m->pt_reads_s = f.pt_reads_per_s;
}

/* "invalidations" are IOTLB flushes: one per unmap when strict, one per
 * flush-queue drain when lazy (dev_flushes counts both kinds); @d is NULL
 * when the device is absent from @snap */
static void metrics_of(const struct it_snapshot *snap, const struct it_dev *d,
		       struct cmp_metrics *m)
{
	const struct it_op_stats *ml, *ul;
	double secs = snapshot_seconds(snap);

	metrics_none(m);
	if (!d)
		return;
	ml = dev_map_latency(d);
	ul = dev_unmap_latency(d);

	m->maps = d->ops[IT_OP_MAP].count;
	m->ops_s = rate_per_sec(m->maps, secs);
	m->map_p50 = hist_percentile(ml->lat_hist, IT_LAT_SLOTS, 50);
	m->map_p99 = hist_percentile(ml->lat_hist, IT_LAT_SLOTS, 99);
	m->unmap_p50 = hist_percentile(ul->lat_hist, IT_LAT_SLOTS, 50);
	m->unmap_p99 = hist_percentile(ul->lat_hist, IT_LAT_SLOTS, 99);
	m->rc_hit = dev_rcache_hit_pct(d);
	m->inv_per_unmap = dev_flushes_per_unmap(d);
	m->inv_s = rate_per_sec(dev_flushes(d), secs);
	m->freed_per_flush = dev_freed_per_flush(d);
	metrics_pmu(snap, d, m);
}

/* the hardware-counter rows are shown when either recording has counters */
static bool cmp_has_pmu(const struct cmp_side *s)
{
	return s[0].rec.summary->pmu.nr_rows > 0 || s[1].rec.summary->pmu.nr_rows > 0;
}

/* why a recording has no counters: its sentence, else its status */
static const char *pmu_why(const struct it_pmu_view *v)
{
	if (v->msg[0])
		return v->msg;
	return v->status != PMU_OK ? pmu_status_name(v->status) : "none recorded";
}

/* why neither has counters, said once: A's reason, else B's */
static const char *cmp_pmu_why(const struct cmp_side *s)
{
	const struct it_pmu_view *a = &s[0].rec.summary->pmu, *b = &s[1].rec.summary->pmu;

	return !a->msg[0] && b->msg[0] ? b->msg : pmu_why(a);
}

static const struct it_dev *side_dev(const struct cmp_side *s, const char *name)
{
	const struct it_snapshot *snap = s->rec.summary;
	int i;

	if (!strcmp(name, "total"))
		return &snap->total;
	for (i = 0; i < snap->nr_devs; i++)
		if (!strcmp(snap->devs[i].name, name))
			return &snap->devs[i];
	return NULL;
}

/* strict or lazy, from the device's domain type, else the recording's mode */
static const char *side_mode(const struct cmp_side *s, const struct it_dev *d)
{
	if (d && !strcmp(d->meta.domain_type, "DMA"))
		return "strict";
	if (d && !strcmp(d->meta.domain_type, "DMA-FQ"))
		return "lazy";
	return s->rec.meta.mode[0] ? s->rec.meta.mode : "?";
}

static void fmt_val(char *buf, size_t size, double v, enum cmp_fmt fmt)
{
	if (isnan(v)) {
		snprintf(buf, size, "-");
		return;
	}
	switch (fmt) {
	case FMT_NS: fmt_ns(v, buf, size); break;
	case FMT_RATE: snprintf(buf, size, "%.0f", v); break;
	case FMT_PCT: snprintf(buf, size, "%.1f", v); break;
	case FMT_RATIO: snprintf(buf, size, "%.3f", v); break;
	case FMT_FIG: snprintf(buf, size, "%.6g", v); break;
	}
}

static double ratio(double a, double b)
{
	return isnan(a) || isnan(b) || a == 0 ? NAN : b / a;
}

/* names of devices active in either side, "total" last */
static int cmp_devices(const struct cmp_side *s, const char *filter, const char **names, int max)
{
	int n = 0, k, i, j;

	for (k = 0; k < 2; k++) {
		const struct it_snapshot *snap = s[k].rec.summary;

		for (i = 0; i < snap->nr_devs && n < max - 1; i++) {
			const struct it_dev *d = &snap->devs[i];

			if (!dev_has_activity(d) || !dev_matches(d, filter))
				continue;
			for (j = 0; j < n && strcmp(names[j], d->name); j++)
				;
			if (j == n)
				names[n++] = d->name;
		}
	}
	names[n++] = "total";
	return n;
}

/* the device the verdict is about: the preferred one, else the busiest */
static const char *cmp_focus(const struct cmp_side *s, const char **names, int n,
			     const char *prefer)
{
	const char *best = NULL;
	__u64 best_maps = 0;
	int i, k;

	for (i = 0; i < n - 1; i++) {
		__u64 maps = 0;

		if (prefer && !strcmp(names[i], prefer))
			return names[i];
		for (k = 0; k < 2; k++) {
			const struct it_dev *d = side_dev(&s[k], names[i]);

			maps += d ? d->ops[IT_OP_MAP].count : 0;
		}
		/* "unknown" only when nothing is attributed */
		if (!strcmp(names[i], "unknown"))
			maps /= 1000;
		if (!best || maps > best_maps) {
			best = names[i];
			best_maps = maps;
		}
	}
	return best ? best : "total";
}

static void cmp_verdict(const struct cmp_side *s, const char *dev, const char *fig_name,
			char *buf, size_t size)
{
	const struct it_dev *d[2] = { side_dev(&s[0], dev), side_dev(&s[1], dev) };
	struct cmp_metrics m[2] = {};
	const char *mode[2];
	const char *driver = "";
	double v[2], cost;
	const char *what;
	int st, lz, k;

	for (k = 0; k < 2; k++) {
		metrics_of(s[k].rec.summary, d[k], &m[k]);
		if (d[k] && d[k]->meta.driver[0])
			driver = d[k]->meta.driver;
		mode[k] = side_mode(&s[k], d[k]);
		v[k] = fig_name && s[k].has_fig ? s[k].fig : m[k].ops_s;
	}
	what = fig_name && s[0].has_fig && s[1].has_fig ? fig_name : "maps/s";
	if (!d[0] || !d[1]) {
		snprintf(buf, size, "%s was active in only one recording: no verdict", dev);
		return;
	}
	if (!dev_has_activity(d[0]) && !dev_has_activity(d[1])) {
		snprintf(buf, size, "no IOMMU activity in either recording: no verdict");
		return;
	}
	if (isnan(v[0]) || isnan(v[1]) || v[0] <= 0 || v[1] <= 0) {
		snprintf(buf, size, "%s: no %s in one of the recordings: no verdict", dev, what);
		return;
	}
	if (!strcmp(mode[0], mode[1]) || (strcmp(mode[0], "strict") && strcmp(mode[1], "strict"))) {
		snprintf(buf, size, "both recordings run %s in %s/%s mode: B/A = %.2fx in %s; "
			 "%.0f invalidations/s vs %.0f/s", dev, mode[0], mode[1],
			 ratio(v[0], v[1]), what, m[0].inv_s, m[1].inv_s);
		return;
	}
	st = !strcmp(mode[0], "strict") ? 0 : 1;
	lz = !st;
	/* figures and rates are "more is better": strict's cost is lazy/strict */
	cost = v[st] > 0 ? v[lz] / v[st] : NAN;
	snprintf(buf, size, "strict costs %.2fx in %s on %s%s%s%s: %.0f invalidations/s vs %.0f/s",
		 cost, what, dev, driver[0] ? " (" : "", driver, driver[0] ? ")" : "",
		 m[st].inv_s, m[lz].inv_s);
}

static void print_row(const char *name, double a, double b, enum cmp_fmt fmt)
{
	char va[24], vb[24], r[24];
	double x = ratio(a, b);

	fmt_val(va, sizeof(va), a, fmt);
	fmt_val(vb, sizeof(vb), b, fmt);
	if (isnan(x))
		snprintf(r, sizeof(r), "-");
	else
		snprintf(r, sizeof(r), "%.2fx", x);
	printf("  %-22s %12s %12s %8s\n", name, va, vb, r);
}

/* a row of the text table, unless it is about counters nobody has */
static bool row_shown(const struct cmp_row *row, const struct cmp_metrics *m, bool pmu)
{
	if ((row->flags & CMP_PMU) && !pmu)
		return false;
	return !(row->flags & CMP_VENDOR) || !isnan(row_val(&m[0], row)) ||
	       !isnan(row_val(&m[1], row));
}

static void cmp_text(const struct cmp_side *s, const char **names, int n, const char *fig_name,
		     const char *verdict)
{
	const struct it_dev *d[2];
	struct cmp_metrics m[2];
	bool pmu = cmp_has_pmu(s);
	unsigned int r;
	int i, k;

	for (k = 0; k < 2; k++)
		printf("%c: %s: %s IOMMU, mode %s, kernel %s, %.1fs%s%s\n", 'A' + k, s[k].label,
		       s[k].rec.meta.vendor, s[k].rec.meta.mode, s[k].rec.meta.kernel,
		       snapshot_seconds(s[k].rec.summary), s[k].rec.meta.command[0] ? ": " : "",
		       s[k].rec.meta.command);
	if (!pmu)
		printf("IOMMU hardware counters: in neither recording (%s)\n", cmp_pmu_why(s));
	for (k = 0; pmu && k < 2; k++)
		if (!s[k].rec.summary->pmu.nr_rows)
			printf("IOMMU hardware counters: none in %c (%s)\n", 'A' + k,
			       pmu_why(&s[k].rec.summary->pmu));
	for (i = 0; i < n; i++) {
		for (k = 0; k < 2; k++) {
			d[k] = side_dev(&s[k], names[i]);
			metrics_of(s[k].rec.summary, d[k], &m[k]);
		}
		if (strcmp(names[i], "total")) {
			const struct it_dev *any = d[0] ? d[0] : d[1];

			printf("\n%s (%s, %s: %s, %s: %s)\n", names[i],
			       any->meta.driver[0] ? any->meta.driver : "-",
			       "A", d[0] ? (d[0]->meta.domain_type[0] ? d[0]->meta.domain_type : "-")
			       : "absent", "B", d[1] ? (d[1]->meta.domain_type[0] ?
			       d[1]->meta.domain_type : "-") : "absent");
		} else {
			printf("\ntotal\n");
		}
		printf("  %-22s %12s %12s %8s\n", "", "A", "B", "B/A");
		for (r = 0; r < ARRAY_SIZE(cmp_rows); r++)
			if (row_shown(&cmp_rows[r], m, pmu))
				print_row(cmp_rows[r].name, row_val(&m[0], &cmp_rows[r]),
					  row_val(&m[1], &cmp_rows[r]), cmp_rows[r].fmt);
		if (!strcmp(names[i], "total") && fig_name)
			print_row(fig_name, s[0].has_fig ? s[0].fig : NAN,
				  s[1].has_fig ? s[1].fig : NAN, FMT_FIG);
	}
	printf("\nverdict: %s\n", verdict);
}

static void json_metrics(struct json_writer *jw, const char *key, const struct it_dev *d,
			 const struct cmp_metrics *m)
{
	unsigned int r;

	if (!d) {
		jw_null(jw, key);
		return;
	}
	jw_begin_object(jw, key);
	jw_string(jw, "domain_type", d->meta.domain_type);
	for (r = 0; r < ARRAY_SIZE(cmp_rows); r++)
		jw_double(jw, cmp_rows[r].json, row_val(m, &cmp_rows[r]));
	jw_end_object(jw);
}

static void cmp_json(const struct cmp_side *s, const char **names, int n, const char *fig_name,
		     const char *verdict)
{
	struct json_writer jw;
	int i, k;

	jw_init(&jw, stdout);
	jw_begin_object(&jw, NULL);
	for (k = 0; k < 2; k++) {
		jw_begin_object(&jw, k ? "b" : "a");
		jw_string(&jw, "source", s[k].label);
		jw_string(&jw, "vendor", s[k].rec.meta.vendor);
		jw_string(&jw, "mode", s[k].rec.meta.mode);
		jw_string(&jw, "kernel", s[k].rec.meta.kernel);
		jw_string(&jw, "command", s[k].rec.meta.command);
		jw_double(&jw, "seconds", snapshot_seconds(s[k].rec.summary));
		jw_string(&jw, "pmu_status", pmu_status_name(s[k].rec.summary->pmu.status));
		jw_string(&jw, "pmu_message", s[k].rec.summary->pmu.msg);
		jw_end_object(&jw);
	}
	jw_bool(&jw, "pmu", cmp_has_pmu(s));
	jw_begin_array(&jw, "devices");
	for (i = 0; i < n; i++) {
		const struct it_dev *a = side_dev(&s[0], names[i]), *b = side_dev(&s[1], names[i]);
		struct cmp_metrics ma, mb;
		unsigned int r;

		metrics_of(s[0].rec.summary, a, &ma);
		metrics_of(s[1].rec.summary, b, &mb);
		jw_begin_object(&jw, NULL);
		jw_string(&jw, "device", names[i]);
		jw_string(&jw, "driver", a ? a->meta.driver : b->meta.driver);
		json_metrics(&jw, "a", a, &ma);
		json_metrics(&jw, "b", b, &mb);
		jw_begin_object(&jw, "ratio_b_a");
		for (r = 0; r < ARRAY_SIZE(cmp_rows); r++)
			jw_double(&jw, cmp_rows[r].json, a && b ?
				  ratio(row_val(&ma, &cmp_rows[r]), row_val(&mb, &cmp_rows[r])) :
				  NAN);
		jw_end_object(&jw);
		jw_end_object(&jw);
	}
	jw_end_array(&jw);
	if (fig_name) {
		jw_begin_object(&jw, "workload_figure");
		jw_string(&jw, "name", fig_name);
		jw_double(&jw, "a", s[0].has_fig ? s[0].fig : NAN);
		jw_double(&jw, "b", s[1].has_fig ? s[1].fig : NAN);
		jw_double(&jw, "ratio_b_a", s[0].has_fig && s[1].has_fig ?
			  ratio(s[0].fig, s[1].fig) : NAN);
		jw_end_object(&jw);
	} else {
		jw_null(&jw, "workload_figure");
	}
	jw_string(&jw, "verdict", verdict);
	jw_end_object(&jw);
	jw_finish(&jw);
}

/* The figure to compare: given on the command line (NAME=A,B), or the first
 * name both recordings carry. Returns its name or NULL. */
static const char *cmp_pick_figure(struct cmp_side *s, const struct it_rec_figure *given,
				   int nr_given)
{
	const struct it_rec_figure *fa, *fb;
	int i, k;

	if (nr_given) {
		for (k = 0; k < 2; k++) {
			s[k].has_fig = true;
			s[k].fig = given[k].value;
		}
		return given[0].name;
	}
	for (i = 0; i < s[0].rec.nr_figures; i++) {
		fa = &s[0].rec.figures[i];
		fb = rec_figure_find(&s[1].rec, fa->name);
		if (fb) {
			s[0].has_fig = s[1].has_fig = true;
			s[0].fig = fa->value;
			s[1].fig = fb->value;
			return fa->name;
		}
	}
	/* only one side has it: still shown */
	for (k = 0; k < 2; k++) {
		if (s[k].rec.nr_figures) {
			s[k].has_fig = true;
			s[k].fig = s[k].rec.figures[0].value;
			return s[k].rec.figures[0].name;
		}
	}
	return NULL;
}

static void cmp_print(struct cmp_side *s, const char *filter, const char *prefer, bool json,
		      const struct it_rec_figure *given, int nr_given)
{
	const char *names[2 * IT_MAX_DEVS + 1], *fig_name, *focus;
	char verdict[320];
	int n;

	fig_name = cmp_pick_figure(s, given, nr_given);
	n = cmp_devices(s, filter, names, ARRAY_SIZE(names));
	focus = cmp_focus(s, names, n, prefer);
	cmp_verdict(s, focus, fig_name, verdict, sizeof(verdict));
	if (json)
		cmp_json(s, names, n, fig_name, verdict);
	else
		cmp_text(s, names, n, fig_name, verdict);
}

/* --workload-figure NAME=A,B for two files */
static int figure_pair_parse(const char *arg, struct it_rec_figure *f)
{
	char a[96], b[96];
	const char *eq = strchr(arg, '='), *comma = strchr(arg, ',');

	if (!eq || !comma || comma < eq || (size_t)(comma - arg) >= sizeof(a))
		return -1;
	snprintf(a, sizeof(a), "%.*s", (int)(comma - arg), arg);
	snprintf(b, sizeof(b), "%.*s=%s", (int)(eq - arg), arg, comma + 1);
	return rec_figure_parse(a, &f[0]) || rec_figure_parse(b, &f[1]) ? -1 : 0;
}

/* ---------------------------------------------------------------- live */

static volatile sig_atomic_t live_stop;

static void live_on_signal(int sig)
{
	live_stop = sig;
}

static void live_signals(void)
{
	struct sigaction sa = { .sa_handler = live_on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

struct live_ctx {
	struct cmp_side *side;
	char **cmd;
	double start;		/* when tracing began: the first interval's start */
	struct it_pmu_view pmu_base;	/* the hardware counters then */
};

static void live_tick(void *ctx, struct it_session *ss, const struct it_snapshot *s, bool final)
{
	struct live_ctx *lc = ctx;
	struct it_snapshot *sum = lc->side->rec.summary;

	if (!final) {
		if (lc->start <= 0) {
			lc->start = s->t_start;
			memcpy(&lc->pmu_base, &ss->prev->pmu, sizeof(lc->pmu_base));
		}
		return;
	}
	memcpy(sum, s, sizeof(*s));
	/* rates from when the probes were attached, not from the BPF load;
	 * the hardware counters' too, as record does for its summary */
	if (lc->start > 0) {
		sum->t_start = lc->start;
		rec_pmu_rebase(&sum->pmu, &lc->pmu_base);
	}
	record_meta_fill(&lc->side->rec.meta, ss, lc->cmd, 0);
}

/*
 * @copts: --no-pmu / --pmu-sysfs. A run that found no counters settles it for
 * the next (the same system, seconds later): that one leaves them closed and
 * keeps the first reason, so "no IOMMU PMU" is said once, not per run.
 */
static int live_run(struct live_group *g, struct cmp_side *side, char **cmd,
		    const char *fig_arg, const struct it_collector_opts *copts,
		    const struct cmp_side *before)
{
	/* ticks only to learn when tracing began (see live_tick) */
	struct it_session_opts o = { .cmd_name = "compare", .cmd = cmd, .interval = 0.5, .copts = *copts,
				     .device = g->dev };	/* its own counters: this one */
	struct live_ctx lc = { .side = side, .cmd = cmd };
	const struct it_pmu_view *prev_pmu = before ? &before->rec.summary->pmu : NULL;
	struct it_rec_figure fig;
	int ret;

	side->rec.summary = calloc(1, sizeof(*side->rec.summary));
	if (!side->rec.summary)
		return IT_EXIT_ERROR;
	fprintf(stderr, "iommutrace: compare: group %d (%s) is %s: running the command\n", g->id,
		g->dev, g->cur);
	if (prev_pmu && !prev_pmu->nr_rows)
		o.copts.no_pmu = true;
	ret = session_run(&o, live_tick, &lc);
	live_signals();
	if (!ret && prev_pmu && !prev_pmu->nr_rows) {
		side->rec.summary->pmu.status = prev_pmu->status;
		snprintf(side->rec.summary->pmu.msg, sizeof(side->rec.summary->pmu.msg), "%s",
			 prev_pmu->msg);
	}
	/* the group's real type, whatever the global mode says */
	snprintf(side->rec.meta.mode, sizeof(side->rec.meta.mode), "%s",
		 !strcmp(g->cur, "DMA") ? "strict" : "lazy");
	if (!ret && fig_arg && !record_figure_resolve(fig_arg, &fig)) {
		side->rec.figures[0] = fig;
		side->rec.nr_figures = 1;
	}
	return ret;
}

static int compare_live(const char *group, bool rebind, char **cmd, const char *fig_arg,
			bool json, const struct it_collector_opts *copts)
{
	struct cmp_side s[2] = {};
	struct live_group g;
	char why[512];
	const char *other;
	int ret, rret = 0, k;

	ret = live_group_open(&g, group, why, sizeof(why));
	if (ret) {
		it_warn("compare --live: %s", why);
		it_warn("compare --live is impossible here: compare two recordings instead "
			"(`record` in a boot with iommu.strict=1 and one with iommu.strict=0, "
			"then `compare A B`)");
		return ret;
	}
	other = !strcmp(g.orig, "DMA") ? "DMA-FQ" : "DMA";
	if (g.drvdir[0] && !rebind) {
		it_warn("compare --live: %s in group %d is bound to %s, and the kernel changes "
			"DMA-FQ -> DMA only for an unbound device (EBUSY otherwise); pass --rebind "
			"to unbind and rebind it around each switch (its users must be idle), or "
			"compare recordings from two boots (iommu.strict=1 / iommu.strict=0)",
			g.dev, g.id, g.driver);
		return IT_EXIT_USAGE;
	}
	live_stop = 0;
	live_signals();
	s[0].label = !strcmp(g.orig, "DMA") ? "live DMA (strict)" : "live DMA-FQ (lazy)";
	s[1].label = !strcmp(other, "DMA") ? "live DMA (strict)" : "live DMA-FQ (lazy)";
	ret = live_run(&g, &s[0], cmd, fig_arg, copts, NULL);
	/* 130/143: the command (and we) got Ctrl-C or SIGTERM */
	if (!ret && !live_stop) {
		if (live_group_switch(&g, other, rebind, why, sizeof(why))) {
			it_warn("compare --live: cannot switch: %s", why);
			ret = IT_EXIT_ERROR;
		} else if (!live_stop) {
			ret = live_run(&g, &s[1], cmd, fig_arg, copts, &s[0]);
		}
	}
	if (strcmp(g.cur, g.orig) || g.unbound) {
		if (live_group_switch(&g, g.orig, rebind, why, sizeof(why)) || strcmp(g.cur, g.orig)) {
			it_warn("compare --live: RESTORE FAILED: group %d is %s, was %s: %s", g.id,
				g.cur, g.orig, why);
			rret = IT_EXIT_ERROR;
		} else {
			fprintf(stderr, "iommutrace: compare: group %d restored to %s\n", g.id,
				g.orig);
		}
	}
	if (live_stop && !ret)
		ret = 128 + live_stop;
	if (!ret && !rret)
		cmp_print(s, NULL, g.dev, json, NULL, 0);
	else if (ret)
		it_warn("compare --live: stopped (%d) in %s mode; no comparison", ret, g.cur);
	for (k = 0; k < 2; k++)
		rec_free(&s[k].rec);
	return ret ? ret : rret;
}

int cmd_compare(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "device", required_argument, NULL, 'd' },
		{ "workload-figure", required_argument, NULL, 'F' },
		{ "live", no_argument, NULL, 'L' },
		{ "group", required_argument, NULL, 'g' },
		{ "rebind", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		SESSION_PMU_LONGOPTS,
		{},
	};
	static const char usage[] =
"Usage: iommutrace compare A B [-j] [-d DEV] [--workload-figure NAME=A_VALUE,B_VALUE]\n"
"       iommutrace compare --live -g GROUP [--rebind] [--workload-figure NAME=@FILE]\n"
"                          [--no-pmu | --pmu-sysfs ROOT] [-j] -- COMMAND [ARGS]\n"
"Two recordings side by side, per device and in total: maps/s, map and unmap\n"
"latency p50/p99, IOVA rcache hit %, invalidations per unmap and per second,\n"
"IOVAs freed per flush, the workload's own figure, B/A ratios and a verdict.\n"
"Where a recording has the IOMMU's hardware counters: IOTLB hit %, IOTLB\n"
"misses (= page walks) per second, walks in flight (Intel) or page-table\n"
"reads per second (AMD).\n"
"  -j, --json           JSON\n"
"  -d, --device DEV     only this device or driver\n"
"  -F, --workload-figure  NAME=A,B: the figure of each run (overrides the\n"
"                       recordings'); with --live NAME=VALUE or NAME=@FILE, read\n"
"                       after each run of COMMAND\n"
"  --live               run COMMAND once per mode on this boot, switching\n"
"                       /sys/kernel/iommu_groups/GROUP/type between DMA and DMA-FQ\n"
"  -g, --group GROUP    the group (number, or a PCI device in it)\n"
"  --rebind             unbind and rebind the group's driver where the kernel\n"
"                       needs it (DMA-FQ -> DMA); the original type is restored,\n"
"                       also on error or Ctrl-C\n"
SESSION_PMU_HELP
"Example:\n"
"  iommutrace compare lazy.itr strict.itr\n";
	struct it_rec_figure given[2];
	const char *group = NULL, *device = NULL, *fig_arg = NULL;
	bool json = false, live = false, rebind = false, pmu_opt = false;
	struct it_collector_opts copts = {};
	struct cmp_side s[2] = {};
	int opt, ret, k;

	optind = 0;	/* GNU: also resets the permutation state */
	while ((opt = getopt_long(argc, argv, "jd:F:g:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'd': device = optarg; break;
		case 'F': fig_arg = optarg; break;
		case 'L': live = true; break;
		case 'g': group = optarg; break;
		case 'R': rebind = true; break;
		case IT_OPT_PMU_SYSFS: copts.pmu_root = optarg; pmu_opt = true; break;
		case IT_OPT_NO_PMU: copts.no_pmu = true; pmu_opt = true; break;
		case 'h':
			printf("%s", usage);
			return IT_EXIT_OK;
		default:
			fprintf(stderr, "%s", usage);
			return IT_EXIT_USAGE;
		}
	}
	if (live) {
		struct it_rec_figure f;

		if (!group || optind >= argc || strcmp(argv[optind - 1], "--")) {
			it_warn("compare --live needs -g GROUP and -- COMMAND");
			return IT_EXIT_USAGE;
		}
		if (fig_arg && !strstr(fig_arg, "=@") && record_figure_resolve(fig_arg, &f))
			return IT_EXIT_USAGE;
		return compare_live(group, rebind, &argv[optind], fig_arg, json, &copts);
	}
	if (group || rebind || pmu_opt) {
		it_warn("compare: -g, --rebind, --no-pmu and --pmu-sysfs go with --live");
		return IT_EXIT_USAGE;
	}
	if (argc - optind != 2) {
		it_warn("compare: two recordings, please (compare A B)");
		return IT_EXIT_USAGE;
	}
	if (fig_arg && figure_pair_parse(fig_arg, given)) {
		it_warn("compare: invalid workload figure '%s' (NAME=A_VALUE,B_VALUE, e.g. "
			"IOPS=4795,3225)", fig_arg);
		return IT_EXIT_USAGE;
	}
	for (k = 0; k < 2; k++) {
		s[k].label = argv[optind + k];
		ret = record_load_or_warn(s[k].label, &s[k].rec, NULL, NULL);
		if (ret) {
			if (k)
				rec_free(&s[0].rec);
			return ret;
		}
	}
	cmp_print(s, device, NULL, json, given, fig_arg ? 1 : 0);
	for (k = 0; k < 2; k++)
		rec_free(&s[k].rec);
	return IT_EXIT_OK;
}
