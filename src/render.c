// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "json.h"
#include "devfilter.h"
#include "probes.h"
#include "render.h"

static const char *const hist_names[IT_HIST_MAX] = {
	[IT_HIST_MAP] = "map",
	[IT_HIST_UNMAP] = "unmap",
	[IT_HIST_DMA_MAP] = "dma_map",
	[IT_HIST_DMA_UNMAP] = "dma_unmap",
	[IT_HIST_IOVA] = "iova",
	[IT_HIST_IOVA_SLOW] = "iova_slow",
	[IT_HIST_FLUSH] = "flush",
	[IT_HIST_INV] = "inv",
	[IT_HIST_SIZE] = "size",
	[IT_HIST_PAGESIZE] = "pagesize",
};

static const char *const lost_names[IT_LOST_MAX] = {
	[IT_LOST_SLOTS_FULL] = "slots_full",
	[IT_LOST_TASK_CTX] = "task_ctx",
	[IT_LOST_SCOPE_DEPTH] = "scope_depth",
	[IT_LOST_UNPAIRED] = "unpaired",
	[IT_LOST_RINGBUF] = "ringbuf",
};

static const char *const pgsize_names[IT_PGSIZE_MAX] = {
	[IT_PGSIZE_4K] = "4K", [IT_PGSIZE_2M] = "2M", [IT_PGSIZE_1G] = "1G",
	[IT_PGSIZE_OTHER] = "other", [IT_PGSIZE_NOLEAF] = "noleaf",
};

bool hist_kind_deep(int kind)
{
	/* iommu_map/unmap latency, the allocator, the queue, the walker: --deep hooks */
	return kind == IT_HIST_MAP || kind == IT_HIST_UNMAP || kind == IT_HIST_IOVA ||
	       kind == IT_HIST_IOVA_SLOW || kind == IT_HIST_INV || kind == IT_HIST_PAGESIZE;
}

const char *hist_kind_name(int kind)
{
	return kind >= 0 && kind < IT_HIST_MAX ? hist_names[kind] : "?";
}

int hist_kind_by_name(const char *name)
{
	int i;

	for (i = 0; i < IT_HIST_MAX; i++)
		if (!strcmp(hist_names[i], name))
			return i;
	return -1;
}

const char *it_lost_name(int why)
{
	return why >= 0 && why < IT_LOST_MAX ? lost_names[why] : "?";
}

const char *fmt_ns(double ns, char *buf, size_t size)
{
	if (isnan(ns))
		snprintf(buf, size, "-");
	else if (ns < 1e3)
		snprintf(buf, size, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(buf, size, "%.1fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, size, "%.1fms", ns / 1e6);
	else
		snprintf(buf, size, "%.2fs", ns / 1e9);
	return buf;
}

const char *fmt_bytes(double b, char *buf, size_t size)
{
	static const char *const units[] = { "B", "K", "M", "G", "T" };
	int u = 0;

	while (fabs(b) >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f%s" : "%.0f%s", b, units[u]);
	return buf;
}

static bool dev_visible(const struct it_dev *d, const struct it_render_opts *o)
{
	if (!dev_matches(d, o->device))
		return false;
	return o->all_devices || dev_has_activity(d);
}

/* count, or count per second in interval mode; "n/a" when no hook counts it */
static void fmt_count(char *buf, size_t size, __u64 n, double secs, bool rates, bool traced)
{
	if (!traced)
		snprintf(buf, size, "n/a");
	else if (rates && secs > 0)
		snprintf(buf, size, "%.0f/s", rate_per_sec(n, secs));
	else
		snprintf(buf, size, "%llu", (unsigned long long)n);
}

/* "-" for NaN, else the value: the PMU figures of rows that have none */
static const char *fmt_fig(double v, const char *fmt, char *buf, size_t size)
{
	if (isnan(v))
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, fmt, v);
	return buf;
}

void render_pmu_header(FILE *f, const char *first)
{
	fprintf(f, "%-14s %10s %10s %10s %10s %10s %10s %10s\n", first, "req/s",
		"lookup/s", "IOTLB-hit%", "miss/s", "walks-busy", "ptread/s", "inval/s");
}

void render_pmu_row(FILE *f, const char *name, const struct pmu_figures *pf)
{
	char b[7][24];

	fprintf(f, "%-14s %10s %10s %10s %10s %10s %10s %10s%s\n", name,
		fmt_fig(pf->requests_per_s, "%.0f", b[0], sizeof(b[0])),
		fmt_fig(pf->lookups_per_s, "%.0f", b[1], sizeof(b[1])),
		fmt_fig(pf->hit_pct, "%.2f", b[2], sizeof(b[2])),
		fmt_fig(pf->misses_per_s, "%.0f", b[3], sizeof(b[3])),
		fmt_fig(pf->walks_in_flight, "%.3f", b[4], sizeof(b[4])),
		fmt_fig(pf->pt_reads_per_s, "%.0f", b[5], sizeof(b[5])),
		fmt_fig(pf->inval_per_s, "%.0f", b[6], sizeof(b[6])),
		pf->multiplexed ? "  (multiplexed)" : "");
}

/* the device table's hardware columns: IOTLB hit %, and misses = page walks/s */
static void table_pmu_cells(FILE *f, bool have, const struct pmu_figures *pf)
{
	char hit[16], walks[24];

	if (!have) {
		fprintf(f, " %7s %10s", "-", "-");
		return;
	}
	fprintf(f, " %7s %10s", fmt_fig(pf->hit_pct, "%.1f", hit, sizeof(hit)),
		fmt_fig(pf->misses_per_s, "%.0f", walks, sizeof(walks)));
}

static void table_row(FILE *f, const struct it_dev *d, double secs, bool rates)
{
	const struct it_op_stats *ml = dev_map_latency(d), *ul = dev_unmap_latency(d);
	char maps[24], unmaps[24], bytes[16], live[16], p50m[16], p99m[16], p50u[16], p99u[16];
	char flush[24], grp[12], rc[12];
	double hit = dev_rcache_hit_pct(d);

	fmt_count(maps, sizeof(maps), d->ops[IT_OP_MAP].count, secs, rates,
		  dev_op_traced(d, IT_OP_MAP));
	fmt_count(unmaps, sizeof(unmaps), d->ops[IT_OP_UNMAP].count, secs, rates,
		  dev_op_traced(d, IT_OP_UNMAP));
	fmt_count(flush, sizeof(flush), dev_flushes(d), secs, rates, dev_flushes_traced(d));
	fmt_bytes(d->ops[IT_OP_MAP].bytes, bytes, sizeof(bytes));
	fmt_bytes(dev_live_bytes(d), live, sizeof(live));
	fmt_ns(hist_percentile(ml->lat_hist, IT_LAT_SLOTS, 50), p50m, sizeof(p50m));
	fmt_ns(hist_percentile(ml->lat_hist, IT_LAT_SLOTS, 99), p99m, sizeof(p99m));
	fmt_ns(hist_percentile(ul->lat_hist, IT_LAT_SLOTS, 50), p50u, sizeof(p50u));
	fmt_ns(hist_percentile(ul->lat_hist, IT_LAT_SLOTS, 99), p99u, sizeof(p99u));
	if (d->meta.group >= 0)
		snprintf(grp, sizeof(grp), "%d", d->meta.group);
	else
		snprintf(grp, sizeof(grp), "-");
	if (!dev_op_traced(d, IT_OP_IOVA_ALLOC) || !dev_op_traced(d, IT_OP_IOVA_SLOW))
		snprintf(rc, sizeof(rc), "n/a");
	else if (isnan(hit))
		snprintf(rc, sizeof(rc), "-");
	else
		snprintf(rc, sizeof(rc), "%.1f", hit);
	fprintf(f, "%-14s %-10s %5s %-9s %9s %9s %8s %8s %7s/%-7s %7s/%-7s %6s %8s %6llu",
		d->name, d->meta.driver[0] ? d->meta.driver : "-", grp,
		d->meta.domain_type[0] ? d->meta.domain_type : "-",
		maps, unmaps, bytes, live, p50m, p99m, p50u, p99u, rc, flush,
		(unsigned long long)d->ops[IT_OP_FAULT].count);
}

static void lost_line(FILE *f, const struct it_snapshot *s)
{
	__u64 total = snapshot_lost_total(s);
	int i;

	fprintf(f, "lost: %llu", (unsigned long long)total);
	if (total) {
		fprintf(f, " (");
		for (i = 0; i < IT_LOST_MAX; i++)
			if (s->lost[i])
				fprintf(f, "%s %llu ", lost_names[i], (unsigned long long)s->lost[i]);
		if (s->lost_recursion)
			fprintf(f, "bpf_recursion %llu ", (unsigned long long)s->lost_recursion);
		fprintf(f, ")");
		if (s->lost_recursion && !s->twins)
			fprintf(f, "; --lossless makes up the runs the kernel skipped");
	}
	if (s->twin_served)
		fprintf(f, "; %llu runs the kernel skipped made up by twins",
			(unsigned long long)s->twin_served);
	fputc('\n', f);
}

/*
 * What reads "n/a" above, and why: roles no hook can serve on this kernel,
 * then those the lean default leaves to --deep. Other drivers' roles are
 * for `probes`.
 */
void roles_lines(FILE *f, const struct it_snapshot *s)
{
	char off[160] = "";
	int role, n = 0;

	if (!s->have_roles)
		return;
	for (role = 0; role < IT_ROLE_MAX; role++) {
		const struct it_role_view *v = &s->roles[role];

		if (v->state == IT_ROLE_NOT_TRACEABLE)
			fprintf(f, "%s: not traceable on this kernel (%s)\n", it_role_name(role),
				v->why);
		else if (v->state == IT_ROLE_LEAN_OFF)
			n += snprintf(off + n, n < (int)sizeof(off) ? sizeof(off) - n : 0, "%s%s",
				      n ? ", " : "", it_role_name(role));
	}
	if (off[0])
		fprintf(f, "not traced in the lean default (--deep traces them): %s\n", off);
}

/* a device row, with the hardware columns when there are counters */
static void table_dev(FILE *f, const struct it_snapshot *s, const struct it_dev *d,
		      bool total, bool rates)
{
	struct pmu_figures pf;
	bool have;

	table_row(f, d, snapshot_seconds(s), rates);
	if (s->pmu.nr_rows) {
		have = total ? snapshot_pmu_total(s, &pf) :
			       snapshot_pmu_dev_figures(s, d->name, &pf);
		table_pmu_cells(f, have, &pf);
	}
	fputc('\n', f);
}

/* one line per counted unit and device, all figures; then what went wrong */
static void table_pmu(FILE *f, const struct it_snapshot *s, const struct it_render_opts *o)
{
	struct pmu_figures pf;
	char name[IT_PMU_UNIT_LEN + IT_NAME_LEN + 4];
	int i;

	if (!s->pmu.nr_rows)
		return;
	render_pmu_header(f, "IOMMU-PMU");
	for (i = 0; i < s->pmu.nr_rows; i++) {
		const struct it_pmu_row *r = &s->pmu.rows[i];

		if (r->device[0] && !devfilter_match(o->device, r->device, snapshot_dev_driver(s, r->device)))
			continue;
		if (r->device[0])
			snprintf(name, sizeof(name), " %s", r->device);
		else
			snprintf(name, sizeof(name), "%s", r->unit);
		pmu_row_figures(s, r, &pf);
		render_pmu_row(f, name, &pf);
	}
	if (s->pmu.msg[0])
		fprintf(f, "note: %s\n", s->pmu.msg);
}

void render_table(FILE *f, const struct it_snapshot *s, const struct it_render_opts *o)
{
	double secs = snapshot_seconds(s);
	const struct it_dev *t = &s->total;
	char inv[32], freed[32], sync[24], lazy[24], timer[24], cmds[24];
	int i, shown = 0;

	if (o->header)
		fprintf(f, "%s\n", o->header);
	fprintf(f, "%-14s %-10s %5s %-9s %9s %9s %8s %8s %15s %15s %6s %8s %6s",
		"DEVICE", "DRIVER", "GROUP", "TYPE", "MAPS", "UNMAPS", "MAPPED", "LIVE",
		"MAP p50/p99", "UNMAP p50/p99", "RC-HIT", "FLUSHES", "FAULTS");
	if (s->pmu.nr_rows)
		fprintf(f, " %7s %10s", "IOTLB%", "WALKS/s");
	fputc('\n', f);
	for (i = 0; i < s->nr_devs; i++) {
		if (!dev_visible(&s->devs[i], o))
			continue;
		table_dev(f, s, &s->devs[i], false, o->rates);
		shown++;
	}
	if (!shown)
		fprintf(f, "(no IOMMU activity%s%s)\n", o->device ? " for " : "",
			o->device ? o->device : "");
	table_dev(f, s, t, true, o->rates);
	fmt_fig(dev_flushes_per_unmap(t), "%.3f", inv, sizeof(inv));
	fmt_fig(dev_freed_per_flush(t), "%.1f", freed, sizeof(freed));
	fmt_count(sync, sizeof(sync), t->ops[IT_OP_IOTLB_SYNC].count, 0, false,
		  dev_op_traced(t, IT_OP_IOTLB_SYNC));
	fmt_count(lazy, sizeof(lazy), t->ops[IT_OP_FQ_FLUSH].count, 0, false,
		  dev_op_traced(t, IT_OP_FQ_FLUSH));
	fmt_count(timer, sizeof(timer), t->ops[IT_OP_FQ_TIMEOUT].count, 0, false,
		  dev_op_traced(t, IT_OP_FQ_TIMEOUT));
	fmt_count(cmds, sizeof(cmds), t->ops[IT_OP_INV_CMD].count, 0, false,
		  dev_op_traced(t, IT_OP_INV_CMD));
	fprintf(f, "%.1fs: flushes/unmap %s (strict syncs %s, lazy flushes %s of which timer %s), "
		"IOVAs freed/flush %s, invalidation cmds %s\n", secs,
		dev_flushes_traced(t) ? inv : "n/a", sync, lazy, timer,
		dev_op_traced(t, IT_OP_FQ_FREED) ? freed : "n/a", cmds);
	roles_lines(f, s);
	table_pmu(f, s, o);
	lost_line(f, s);
	fflush(f);
}

/* ---- JSON ---- */

/* an op no hook counts: every figure null, "traced": false */
static void json_op_untraced(struct json_writer *jw, const char *key)
{
	static const char *const keys[] = { "count", "bytes", "per_sec", "lat_count",
		"lat_sum_ns", "lat_avg_ns", "lat_p50_ns", "lat_p99_ns" };
	size_t i;

	jw_begin_object(jw, key);
	jw_bool(jw, "traced", false);
	for (i = 0; i < ARRAY_SIZE(keys); i++)
		jw_null(jw, keys[i]);
	jw_end_object(jw);
}

static void json_op(struct json_writer *jw, const char *key, const struct it_op_stats *op, double secs)
{
	jw_begin_object(jw, key);
	jw_bool(jw, "traced", true);
	jw_u64(jw, "count", op->count);
	jw_u64(jw, "bytes", op->bytes);
	jw_double(jw, "per_sec", rate_per_sec(op->count, secs));
	jw_u64(jw, "lat_count", op->lat_count);
	jw_u64(jw, "lat_sum_ns", op->lat_sum_ns);
	jw_double(jw, "lat_avg_ns", op_avg_ns(op));
	jw_double(jw, "lat_p50_ns", hist_percentile(op->lat_hist, IT_LAT_SLOTS, 50));
	jw_double(jw, "lat_p99_ns", hist_percentile(op->lat_hist, IT_LAT_SLOTS, 99));
	jw_end_object(jw);
}

static void json_dev_body(struct json_writer *jw, const struct it_dev *d, double secs)
{
	int op, i;

	for (op = 0; op < IT_OP_MAX; op++) {
		if (dev_op_traced(d, op))
			json_op(jw, it_op_name(op), &d->ops[op], secs);
		else
			json_op_untraced(jw, it_op_name(op));
	}
	jw_begin_object(jw, "flush");
	if (dev_flushes_traced(d)) {
		jw_u64(jw, "count", dev_flushes(d));
		jw_double(jw, "per_sec", rate_per_sec(dev_flushes(d), secs));
	} else {
		jw_null(jw, "count");
		jw_null(jw, "per_sec");
	}
	jw_double(jw, "per_unmap", dev_flushes_per_unmap(d));
	jw_double(jw, "iovas_freed_per_flush", dev_freed_per_flush(d));
	jw_end_object(jw);
	jw_double(jw, "iova_rcache_hit_pct", dev_rcache_hit_pct(d));
	jw_i64(jw, "live_bytes", dev_live_bytes(d));
	jw_begin_object(jw, "pgsize");
	for (i = 0; i < IT_PGSIZE_MAX; i++)
		jw_u64(jw, pgsize_names[i], d->hists.pgsize[i]);
	jw_end_object(jw);
}

void json_pmu_figures(struct json_writer *jw, const char *key, const struct pmu_figures *f)
{
	jw_begin_object(jw, key);
	jw_double(jw, "requests_per_s", f->requests_per_s);
	jw_double(jw, "lookups_per_s", f->lookups_per_s);
	jw_double(jw, "iotlb_hit_pct", f->hit_pct);
	jw_double(jw, "iotlb_misses_per_s", f->misses_per_s);
	jw_double(jw, "pde_hit_pct", f->pde_hit_pct);
	jw_double(jw, "walks_in_flight", f->walks_in_flight);
	jw_double(jw, "pt_reads_per_s", f->pt_reads_per_s);
	jw_double(jw, "invalidations_per_s", f->inval_per_s);
	jw_bool(jw, "multiplexed", f->multiplexed);
	jw_end_object(jw);
}

/* the hardware counters' status, and every row with its counts and figures */
static void json_pmu(struct json_writer *jw, const struct it_snapshot *s)
{
	struct pmu_figures f;
	int i, role;

	jw_begin_object(jw, "pmu");
	jw_string(jw, "status", pmu_status_name(s->pmu.status));
	jw_string(jw, "message", s->pmu.msg);
	jw_begin_array(jw, "units");
	for (i = 0; i < s->pmu.nr_rows; i++) {
		const struct it_pmu_row *r = &s->pmu.rows[i];

		jw_begin_object(jw, NULL);
		jw_string(jw, "unit", r->unit);
		if (r->device[0])
			jw_string(jw, "device", r->device);
		else
			jw_null(jw, "device");
		jw_begin_object(jw, "counts");
		for (role = 1; role < PMU_ROLE_MAX; role++)
			if (r->have & (1u << role))
				jw_u64(jw, pmu_role_name(role), r->count[role]);
		jw_end_object(jw);
		pmu_row_figures(s, r, &f);
		json_pmu_figures(jw, "figures", &f);
		jw_end_object(jw);
	}
	jw_end_array(jw);
	jw_end_object(jw);
}

static void json_device(struct json_writer *jw, const struct it_snapshot *s, const struct it_dev *d,
		 double secs)
{
	struct pmu_figures pf;

	jw_begin_object(jw, NULL);
	jw_string(jw, "device", d->name);
	jw_string(jw, "driver", d->meta.driver);
	if (d->meta.group >= 0)
		jw_i64(jw, "group", d->meta.group);
	else
		jw_null(jw, "group");
	jw_string(jw, "domain_type", d->meta.domain_type);
	jw_string(jw, "vendor_device", d->meta.vendor_device);
	if (d->owner_pid) {
		jw_u64(jw, "owner_pid", d->owner_pid);
		jw_string(jw, "owner_comm", d->owner_comm);
	}
	json_dev_body(jw, d, secs);
	if (snapshot_pmu_dev_figures(s, d->name, &pf))
		json_pmu_figures(jw, "pmu", &pf);
	else
		jw_null(jw, "pmu");
	jw_end_object(jw);
}

static void json_head(struct json_writer *jw, const struct it_snapshot *s,
		      const struct it_render_opts *o)
{
	int i;

	jw_double(jw, "time", (double)time(NULL));
	jw_double(jw, "interval_s", snapshot_seconds(s));
	jw_string(jw, "source", o->source ? o->source : "live");
	jw_string(jw, "mode", s->mode);
	jw_i64(jw, "probes_attached", s->nr_probes);
	if (s->shared_pid)
		jw_u64(jw, "shared_from_pid", s->shared_pid);
	else
		jw_null(jw, "shared_from_pid");
	jw_bool(jw, "lossless", s->twins);
	jw_u64(jw, "lost", snapshot_lost_total(s));
	jw_begin_object(jw, "lost_detail");
	for (i = 0; i < IT_LOST_MAX; i++)
		jw_u64(jw, lost_names[i], s->lost[i]);
	jw_u64(jw, "bpf_recursion", s->lost_recursion);
	jw_end_object(jw);
	jw_u64(jw, "twin_served", s->twin_served);
	if (s->have_roles)
		roles_json(s->roles, jw);
	jw_u64(jw, "bpf_run_ns", s->bpf_run_ns);
	jw_u64(jw, "bpf_run_cnt", s->bpf_run_cnt);
	jw_bool(jw, "bpf_stats", s->bpf_stats);
	jw_begin_array(jw, "hooks");
	for (i = 0; i < s->nr_hooks; i++) {
		const struct it_hook_stat *h = &s->hooks[i];

		jw_begin_object(jw, NULL);
		jw_string(jw, "hook", h->name);
		jw_string(jw, "kind", h->kind);
		jw_u64(jw, "runs", h->runs);
		jw_u64(jw, "run_ns", h->run_ns);
		jw_u64(jw, "misses", h->misses);
		jw_end_object(jw);
	}
	jw_end_array(jw);
}

void render_json(FILE *f, const struct it_snapshot *s, const struct it_render_opts *o)
{
	double secs = snapshot_seconds(s);
	struct pmu_figures pf;
	struct json_writer jw;
	int i;

	jw_init(&jw, f);
	jw_begin_object(&jw, NULL);
	json_head(&jw, s, o);
	json_pmu(&jw, s);
	jw_begin_object(&jw, "totals");
	json_dev_body(&jw, &s->total, secs);
	if (snapshot_pmu_total(s, &pf))
		json_pmu_figures(&jw, "pmu", &pf);
	else
		jw_null(&jw, "pmu");
	jw_end_object(&jw);
	jw_begin_array(&jw, "devices");
	for (i = 0; i < s->nr_devs; i++)
		if (dev_visible(&s->devs[i], o))
			json_device(&jw, s, &s->devs[i], secs);
	jw_end_array(&jw);
	jw_end_object(&jw);
	jw_finish(&jw);
}

/* ---- histograms ---- */

static void print_stars(FILE *f, __u64 val, __u64 max, int width)
{
	int n = max ? (int)((double)val * width / max) : 0, i;

	for (i = 0; i < width; i++)
		fputc(i < n ? '*' : ' ', f);
}

static void print_log2_hist(FILE *f, const __u64 *vals, int nr, const char *unit)
{
	__u64 max = 0;
	int i, last = -1;

	for (i = 0; i < nr; i++) {
		if (vals[i] > max)
			max = vals[i];
		if (vals[i])
			last = i;
	}
	if (last < 0) {
		fprintf(f, "     (no samples)\n");
		return;
	}
	fprintf(f, "%*s%-8s : count    distribution\n", 10, "", unit);
	for (i = 0; i <= last; i++) {
		unsigned long long lo = i ? 1ULL << i : 0, hi = (1ULL << (i + 1)) - 1;

		fprintf(f, "%10llu -> %-10llu : %-8llu |", lo, hi, (unsigned long long)vals[i]);
		print_stars(f, vals[i], max, 40);
		fprintf(f, "|\n");
	}
}

static void hist_of(const struct it_dev *d, int kind, const __u64 **vals, int *nr,
		    const char **unit, __u64 *tmp)
{
	const struct it_op_stats *a = NULL, *b = NULL;
	int i;

	*unit = "nsecs";
	*nr = IT_LAT_SLOTS;
	switch (kind) {
	case IT_HIST_MAP: a = &d->ops[IT_OP_MAP]; break;
	case IT_HIST_UNMAP: a = &d->ops[IT_OP_UNMAP]; break;
	case IT_HIST_DMA_MAP: a = &d->ops[IT_OP_DMA_MAP]; break;
	case IT_HIST_DMA_UNMAP: a = &d->ops[IT_OP_DMA_UNMAP]; break;
	case IT_HIST_IOVA: a = &d->ops[IT_OP_IOVA_ALLOC]; break;
	case IT_HIST_IOVA_SLOW: a = &d->ops[IT_OP_IOVA_SLOW]; break;
	case IT_HIST_FLUSH: a = &d->ops[IT_OP_IOTLB_SYNC]; b = &d->ops[IT_OP_FQ_FLUSH]; break;
	case IT_HIST_INV: a = &d->ops[IT_OP_INV_CMD]; break;
	case IT_HIST_SIZE:
		*vals = d->hists.map_size;
		*nr = IT_SIZE_SLOTS;
		*unit = "bytes";
		return;
	case IT_HIST_PAGESIZE:
		*vals = d->hists.pgsize;
		*nr = IT_PGSIZE_MAX;
		*unit = "pages";
		return;
	}
	for (i = 0; i < IT_LAT_SLOTS; i++)
		tmp[i] = (a ? a->lat_hist[i] : 0) + (b ? b->lat_hist[i] : 0);
	*vals = tmp;
}

static void print_pgsize(FILE *f, const __u64 *pg)
{
	__u64 max = 0;
	int i;

	for (i = 0; i < IT_PGSIZE_MAX; i++)
		if (pg[i] > max)
			max = pg[i];
	fprintf(f, "%12s : count    distribution\n", "page size");
	for (i = 0; i < IT_PGSIZE_MAX; i++) {
		fprintf(f, "%12s : %-8llu |", pgsize_names[i], (unsigned long long)pg[i]);
		print_stars(f, pg[i], max, 40);
		fprintf(f, "|\n");
	}
}

void render_hists(FILE *f, const struct it_snapshot *s, int kind, const struct it_render_opts *o)
{
	__u64 tmp[IT_LAT_SLOTS];
	int i, shown = 0;

	if (o->header)
		fprintf(f, "%s\n", o->header);
	for (i = 0; i < s->nr_devs; i++) {
		const struct it_dev *d = &s->devs[i];
		const __u64 *vals;
		const char *unit;
		int nr;

		if (!dev_visible(d, o))
			continue;
		hist_of(d, kind, &vals, &nr, &unit, tmp);
		if (!hist_total(vals, nr) && !o->all_devices)
			continue;
		fprintf(f, "\ndevice = %s  driver = %s  type = %s  (%s)\n", d->name,
			d->meta.driver[0] ? d->meta.driver : "-",
			d->meta.domain_type[0] ? d->meta.domain_type : "-", hist_kind_name(kind));
		if (kind == IT_HIST_PAGESIZE)
			print_pgsize(f, vals);
		else
			print_log2_hist(f, vals, nr, unit);
		shown++;
	}
	if (!shown)
		fprintf(f, "(no %s samples%s%s)\n", hist_kind_name(kind), o->device ? " for " : "",
			o->device ? o->device : "");
	lost_line(f, s);
	fflush(f);
}

void render_hists_json(FILE *f, const struct it_snapshot *s, int kind,
		       const struct it_render_opts *o)
{
	struct json_writer jw;
	__u64 tmp[IT_LAT_SLOTS];
	int i, b;

	jw_init(&jw, f);
	jw_begin_object(&jw, NULL);
	json_head(&jw, s, o);
	jw_string(&jw, "hist", hist_kind_name(kind));
	jw_begin_array(&jw, "devices");
	for (i = 0; i < s->nr_devs; i++) {
		const struct it_dev *d = &s->devs[i];
		const __u64 *vals;
		const char *unit;
		int nr;

		if (!dev_visible(d, o))
			continue;
		hist_of(d, kind, &vals, &nr, &unit, tmp);
		jw_begin_object(&jw, NULL);
		jw_string(&jw, "device", d->name);
		jw_string(&jw, "driver", d->meta.driver);
		jw_string(&jw, "domain_type", d->meta.domain_type);
		jw_string(&jw, "unit", unit);
		jw_u64(&jw, "total", hist_total(vals, nr));
		jw_begin_array(&jw, "buckets");
		for (b = 0; b < nr; b++) {
			if (!vals[b])
				continue;
			jw_begin_object(&jw, NULL);
			if (kind == IT_HIST_PAGESIZE) {
				jw_string(&jw, "size", pgsize_names[b]);
			} else {
				jw_u64(&jw, "lo", b ? 1ULL << b : 0);
				jw_u64(&jw, "hi", (1ULL << (b + 1)) - 1);
			}
			jw_u64(&jw, "count", vals[b]);
			jw_end_object(&jw);
		}
		jw_end_array(&jw);
		jw_end_object(&jw);
	}
	jw_end_array(&jw);
	jw_end_object(&jw);
	jw_finish(&jw);
}
