// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <string.h>

#include "common.h"
#include "devfilter.h"
#include "model.h"

static const char *const op_names[IT_OP_MAX] = {
	[IT_OP_MAP] = "map",
	[IT_OP_UNMAP] = "unmap",
	[IT_OP_DMA_MAP] = "dma_map",
	[IT_OP_DMA_UNMAP] = "dma_unmap",
	[IT_OP_IOVA_ALLOC] = "iova_alloc",
	[IT_OP_IOVA_SLOW] = "iova_slow",
	[IT_OP_IOVA_FREE] = "iova_free",
	[IT_OP_IOTLB_SYNC] = "iotlb_sync",
	[IT_OP_FQ_FLUSH] = "fq_flush",
	[IT_OP_FQ_TIMEOUT] = "fq_timeout",
	[IT_OP_FQ_FREED] = "fq_freed",
	[IT_OP_INV_CMD] = "inv_cmd",
	[IT_OP_FAULT] = "fault",
};

const char *it_op_name(int op)
{
	return op >= 0 && op < IT_OP_MAX ? op_names[op] : "?";
}

int it_op_by_name(const char *name)
{
	int i;

	for (i = 0; i < IT_OP_MAX; i++)
		if (!strcmp(op_names[i], name))
			return i;
	return -1;
}

static void op_add(struct it_op_stats *dst, const struct it_op_stats *src)
{
	int i;

	dst->count += src->count;
	dst->bytes += src->bytes;
	dst->lat_count += src->lat_count;
	dst->lat_sum_ns += src->lat_sum_ns;
	for (i = 0; i < IT_LAT_SLOTS; i++)
		dst->lat_hist[i] += src->lat_hist[i];
}

/* counters only go up; a smaller value means the slot was reset: take cur */
static __u64 sub_u64(__u64 a, __u64 b)
{
	return a >= b ? a - b : a;
}

static void op_sub(struct it_op_stats *out, const struct it_op_stats *a,
		   const struct it_op_stats *b)
{
	int i;

	out->count = sub_u64(a->count, b->count);
	out->bytes = sub_u64(a->bytes, b->bytes);
	out->lat_count = sub_u64(a->lat_count, b->lat_count);
	out->lat_sum_ns = sub_u64(a->lat_sum_ns, b->lat_sum_ns);
	for (i = 0; i < IT_LAT_SLOTS; i++)
		out->lat_hist[i] = sub_u64(a->lat_hist[i], b->lat_hist[i]);
}

static void hists_add(struct it_dev_hists *dst, const struct it_dev_hists *src)
{
	int i;

	for (i = 0; i < IT_SIZE_SLOTS; i++) {
		dst->map_size[i] += src->map_size[i];
		dst->unmap_size[i] += src->unmap_size[i];
	}
	for (i = 0; i < IT_PGSIZE_MAX; i++)
		dst->pgsize[i] += src->pgsize[i];
}

static void hists_sub(struct it_dev_hists *out, const struct it_dev_hists *a,
		      const struct it_dev_hists *b)
{
	int i;

	for (i = 0; i < IT_SIZE_SLOTS; i++) {
		out->map_size[i] = sub_u64(a->map_size[i], b->map_size[i]);
		out->unmap_size[i] = sub_u64(a->unmap_size[i], b->unmap_size[i]);
	}
	for (i = 0; i < IT_PGSIZE_MAX; i++)
		out->pgsize[i] = sub_u64(a->pgsize[i], b->pgsize[i]);
}

/* The role whose hooks count each op (include/it_hooks.h) */
static const __u8 op_roles[IT_OP_MAX] = {
	[IT_OP_MAP] = IT_ROLE_MAP_EVENTS,
	[IT_OP_UNMAP] = IT_ROLE_UNMAP_EVENTS,
	[IT_OP_DMA_MAP] = IT_ROLE_DMA_MAP,
	[IT_OP_DMA_UNMAP] = IT_ROLE_DMA_UNMAP,
	[IT_OP_IOVA_ALLOC] = IT_ROLE_IOVA_ALLOC,
	[IT_OP_IOVA_SLOW] = IT_ROLE_IOVA_SLOW,
	[IT_OP_IOVA_FREE] = IT_ROLE_IOVA_FREE,
	[IT_OP_IOTLB_SYNC] = IT_ROLE_STRICT_SYNC,
	[IT_OP_FQ_FLUSH] = IT_ROLE_LAZY_FLUSH,
	[IT_OP_FQ_TIMEOUT] = IT_ROLE_LAZY_TIMER,
	[IT_OP_FQ_FREED] = IT_ROLE_LAZY_FREED,
	[IT_OP_INV_CMD] = IT_ROLE_INV_CMD,
	[IT_OP_FAULT] = IT_ROLE_FAULTS,
};

#define IT_ROLE_ROW(id, name, desc) { name, desc },
static const struct {
	const char *name;
	const char *desc;
} it_roles[IT_ROLE_MAX] = { IT_ROLES(IT_ROLE_ROW) };
#undef IT_ROLE_ROW

const char *it_role_name(int role)
{
	return role >= 0 && role < IT_ROLE_MAX ? it_roles[role].name : "?";
}

const char *it_role_desc(int role)
{
	return role >= 0 && role < IT_ROLE_MAX ? it_roles[role].desc : "?";
}

static const char *const role_state_names[] = {
	[IT_ROLE_TRACED] = "traced",
	[IT_ROLE_LEAN_OFF] = "lean-off",
	[IT_ROLE_NOT_TRACEABLE] = "not traceable",
	[IT_ROLE_NO_DRIVER] = "no driver",
};

const char *it_role_state_name(int state)
{
	return state >= 0 && state <= IT_ROLE_NO_DRIVER ? role_state_names[state] : "?";
}

int it_op_role(int op)
{
	return op >= 0 && op < IT_OP_MAX ? op_roles[op] : -1;
}

void snapshot_set_roles(struct it_snapshot *s, const struct it_role_view *roles)
{
	__u32 untraced = 0;
	int op, i;

	memcpy(s->roles, roles, sizeof(s->roles));
	s->have_roles = true;
	for (op = 0; op < IT_OP_MAX; op++)
		if (roles[op_roles[op]].state != IT_ROLE_TRACED)
			untraced |= 1u << op;
	/* a timer flush is only seen inside a lazy flush */
	if (untraced & (1u << IT_OP_FQ_FLUSH))
		untraced |= 1u << IT_OP_FQ_TIMEOUT;
	for (i = 0; i < s->nr_devs; i++)
		s->devs[i].untraced = untraced;
	s->total.untraced = untraced;
}

bool dev_op_traced(const struct it_dev *d, int op)
{
	return !(d->untraced & (1u << op));
}

/* strict domains flush per unmap, DMA-FQ ones through the queue; unknown: both */
bool dev_flushes_traced(const struct it_dev *d)
{
	const char *type = d->meta.domain_type;

	if (!strcmp(type, "DMA"))
		return dev_op_traced(d, IT_OP_IOTLB_SYNC);
	if (!strcmp(type, "DMA-FQ"))
		return dev_op_traced(d, IT_OP_FQ_FLUSH);
	return dev_op_traced(d, IT_OP_IOTLB_SYNC) && dev_op_traced(d, IT_OP_FQ_FLUSH);
}

void snapshot_totals(struct it_snapshot *s)
{
	__u32 untraced = s->total.untraced;
	int i, op;

	memset(&s->total, 0, sizeof(s->total));
	snprintf(s->total.name, sizeof(s->total.name), "total");
	s->total.meta.group = -1;
	s->total.untraced = untraced;
	/* the total's flushes are of the system's mode */
	if (!strcmp(s->mode, "lazy"))
		snprintf(s->total.meta.domain_type, sizeof(s->total.meta.domain_type), "DMA-FQ");
	else if (!strcmp(s->mode, "strict"))
		snprintf(s->total.meta.domain_type, sizeof(s->total.meta.domain_type), "DMA");
	for (i = 0; i < s->nr_devs; i++) {
		for (op = 0; op < IT_OP_MAX; op++)
			op_add(&s->total.ops[op], &s->devs[i].ops[op]);
		hists_add(&s->total.hists, &s->devs[i].hists);
	}
}

/* rows are only ever appended, so index i is the same counters in both */
static void pmu_row_sub(struct it_pmu_row *out, const struct it_pmu_row *a,
			const struct it_pmu_row *b)
{
	int r;

	if (strcmp(a->unit, b->unit) || strcmp(a->device, b->device))
		return;
	for (r = 0; r < PMU_ROLE_MAX; r++)
		out->count[r] = sub_u64(a->count[r], b->count[r]);
}

void snapshot_delta(const struct it_snapshot *cur, const struct it_snapshot *prev,
		    struct it_snapshot *out)
{
	int i, op;

	memcpy(out, cur, sizeof(*out));
	out->t_start = prev->t_end;
	for (i = 0; i < cur->nr_devs; i++) {
		const struct it_dev *p = i < prev->nr_devs ? &prev->devs[i] : NULL;

		if (!p)
			continue;
		for (op = 0; op < IT_OP_MAX; op++)
			op_sub(&out->devs[i].ops[op], &cur->devs[i].ops[op], &p->ops[op]);
		hists_sub(&out->devs[i].hists, &cur->devs[i].hists, &p->hists);
	}
	for (i = 0; i < IT_LOST_MAX; i++)
		out->lost[i] = sub_u64(cur->lost[i], prev->lost[i]);
	out->lost_recursion = sub_u64(cur->lost_recursion, prev->lost_recursion);
	out->twin_served = sub_u64(cur->twin_served, prev->twin_served);
	out->bpf_run_ns = sub_u64(cur->bpf_run_ns, prev->bpf_run_ns);
	out->bpf_run_cnt = sub_u64(cur->bpf_run_cnt, prev->bpf_run_cnt);
	for (i = 0; i < cur->pmu.nr_rows && i < prev->pmu.nr_rows; i++)
		pmu_row_sub(&out->pmu.rows[i], &cur->pmu.rows[i], &prev->pmu.rows[i]);
	for (i = 0; i < cur->nr_hooks && i < prev->nr_hooks; i++) {
		out->hooks[i].runs = sub_u64(cur->hooks[i].runs, prev->hooks[i].runs);
		out->hooks[i].run_ns = sub_u64(cur->hooks[i].run_ns, prev->hooks[i].run_ns);
		out->hooks[i].misses = sub_u64(cur->hooks[i].misses, prev->hooks[i].misses);
	}
	snapshot_totals(out);
}

double snapshot_seconds(const struct it_snapshot *s)
{
	double d = s->t_end - s->t_start;

	return d > 0 ? d : 0;
}

__u64 snapshot_lost_total(const struct it_snapshot *s)
{
	__u64 n = s->lost_recursion;
	int i;

	for (i = 0; i < IT_LOST_MAX; i++)
		n += s->lost[i];
	return n;
}

__u64 hist_total(const __u64 *hist, int nr)
{
	__u64 n = 0;
	int i;

	for (i = 0; i < nr; i++)
		n += hist[i];
	return n;
}

double hist_percentile(const __u64 *hist, int nr, double pct)
{
	__u64 total = hist_total(hist, nr), seen = 0;
	double rank;
	int i;

	if (!total)
		return NAN;
	rank = pct / 100.0 * total;
	for (i = 0; i < nr; i++) {
		double lo, hi;

		if (!hist[i] || seen + hist[i] < rank) {
			seen += hist[i];
			continue;
		}
		/* bucket i holds [2^i, 2^(i+1)); bucket 0 also holds 0 */
		lo = i ? ldexp(1.0, i) : 0;
		hi = ldexp(1.0, i + 1);
		return lo + (hi - lo) * ((rank - seen) / hist[i]);
	}
	return ldexp(1.0, nr);
}

double rate_per_sec(double n, double secs)
{
	return secs > 0 ? n / secs : NAN;
}

double op_avg_ns(const struct it_op_stats *op)
{
	return op->lat_count ? (double)op->lat_sum_ns / op->lat_count : NAN;
}

const struct it_op_stats *dev_map_latency(const struct it_dev *d)
{
	return d->ops[IT_OP_DMA_MAP].lat_count ? &d->ops[IT_OP_DMA_MAP] : &d->ops[IT_OP_MAP];
}

const struct it_op_stats *dev_unmap_latency(const struct it_dev *d)
{
	return d->ops[IT_OP_DMA_UNMAP].lat_count ? &d->ops[IT_OP_DMA_UNMAP] :
						    &d->ops[IT_OP_UNMAP];
}

double dev_rcache_hit_pct(const struct it_dev *d)
{
	__u64 alloc = d->ops[IT_OP_IOVA_ALLOC].count, slow = d->ops[IT_OP_IOVA_SLOW].count;

	if (!alloc || !dev_op_traced(d, IT_OP_IOVA_ALLOC) || !dev_op_traced(d, IT_OP_IOVA_SLOW))
		return NAN;
	return slow >= alloc ? 0 : 100.0 * (alloc - slow) / alloc;
}

__u64 dev_flushes(const struct it_dev *d)
{
	return d->ops[IT_OP_IOTLB_SYNC].count + d->ops[IT_OP_FQ_FLUSH].count;
}

__s64 dev_live_bytes(const struct it_dev *d)
{
	return (__s64)d->ops[IT_OP_MAP].bytes - (__s64)d->ops[IT_OP_UNMAP].bytes;
}

double dev_flushes_per_unmap(const struct it_dev *d)
{
	__u64 unmaps = d->ops[IT_OP_UNMAP].count;

	return unmaps && dev_flushes_traced(d) ? (double)dev_flushes(d) / unmaps : NAN;
}

double dev_freed_per_flush(const struct it_dev *d)
{
	__u64 flushes = d->ops[IT_OP_FQ_FLUSH].count;

	if (!flushes || !dev_op_traced(d, IT_OP_FQ_FREED))
		return NAN;
	return (double)d->ops[IT_OP_FQ_FREED].count / flushes;
}

bool dev_has_activity(const struct it_dev *d)
{
	int op;

	for (op = 0; op < IT_OP_MAX; op++)
		if (d->ops[op].count || d->ops[op].lat_count)
			return true;
	return false;
}

bool dev_matches(const struct it_dev *d, const char *filter)
{
	return devfilter_match(filter, d->name, d->meta.driver);
}

const char *snapshot_dev_driver(const struct it_snapshot *s, const char *name)
{
	int i;

	for (i = 0; s && i < s->nr_devs; i++)
		if (!strcmp(s->devs[i].name, name))
			return s->devs[i].meta.driver;
	return "";
}

static void pmu_row_have(const struct it_pmu_row *r, bool have[PMU_ROLE_MAX])
{
	int role;

	for (role = 0; role < PMU_ROLE_MAX; role++)
		have[role] = r->have & (1u << role);
}

bool pmu_row_iotlb(const struct it_pmu_row *r, uint64_t *lookups, uint64_t *hits,
		   uint64_t *misses)
{
	bool have[PMU_ROLE_MAX];

	pmu_row_have(r, have);
	return pmu_iotlb_counts(r->count, have, lookups, hits, misses);
}

/* a row opened during the snapshot counted only from then on */
bool pmu_row_figures(const struct it_snapshot *s, const struct it_pmu_row *r,
		     struct pmu_figures *f)
{
	bool have[PMU_ROLE_MAX] = { false };
	double from;

	if (!r) {
		static const uint64_t none[PMU_ROLE_MAX];

		pmu_figures_compute(none, have, 0, f);
		return false;
	}
	from = r->t_open > s->t_start ? r->t_open : s->t_start;
	pmu_row_have(r, have);
	pmu_figures_compute(r->count, have, s->t_end > from ? s->t_end - from : 0, f);
	f->multiplexed = r->multiplexed;
	return true;
}

static const struct it_pmu_row *snapshot_pmu_device(const struct it_snapshot *s, const char *device)
{
	int i;

	for (i = 0; i < s->pmu.nr_rows; i++)
		if (s->pmu.rows[i].device[0] && !strcmp(s->pmu.rows[i].device, device))
			return &s->pmu.rows[i];
	return NULL;
}

bool snapshot_pmu_dev_figures(const struct it_snapshot *s, const char *device,
			      struct pmu_figures *f)
{
	return pmu_row_figures(s, snapshot_pmu_device(s, device), f);
}

/*
 * Units of different vendors count different IOTLB events (Intel lookups and
 * hits, AMD hits and misses): sum each row's derived three, the rest as is.
 */
static void pmu_row_accumulate(struct it_pmu_row *sum, const struct it_pmu_row *r)
{
	const __u32 iotlb = 1u << PMU_ROLE_LOOKUPS | 1u << PMU_ROLE_HITS | 1u << PMU_ROLE_MISSES;
	uint64_t look, hit, miss;
	int role;

	for (role = 0; role < PMU_ROLE_MAX; role++)
		if (!(iotlb & (1u << role)))
			sum->count[role] += r->count[role];
	sum->have |= r->have & ~iotlb;
	if (pmu_row_iotlb(r, &look, &hit, &miss) &&
	    (r->have & (1u << PMU_ROLE_HITS | 1u << PMU_ROLE_MISSES))) {
		sum->count[PMU_ROLE_LOOKUPS] += look;
		sum->count[PMU_ROLE_HITS] += hit;
		sum->have |= 1u << PMU_ROLE_LOOKUPS | 1u << PMU_ROLE_HITS;
	}
	sum->multiplexed |= r->multiplexed;
	if (r->t_open < sum->t_open)
		sum->t_open = r->t_open;
}

bool snapshot_pmu_total(const struct it_snapshot *s, struct pmu_figures *f)
{
	struct it_pmu_row sum = { .t_open = s->t_end };
	int i, n = 0;

	for (i = 0; i < s->pmu.nr_rows; i++) {
		if (s->pmu.rows[i].device[0])
			continue;
		pmu_row_accumulate(&sum, &s->pmu.rows[i]);
		n++;
	}
	return pmu_row_figures(s, n ? &sum : NULL, f);
}
