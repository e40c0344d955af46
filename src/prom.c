// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus exposition of the model, following ebpf_exporter and
 * node_exporter conventions: base units (seconds, bytes), _total counters,
 * log2 histograms as cumulative `le` buckets, bounded labels (device, driver,
 * group, domain_type; unit and status for the hardware counters: never a pid
 * or an address).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "common.h"
#include "devfilter.h"
#include "prom.h"
#include "render.h"

#define PROM_LABELS_LEN 512	/* four escaped labels: each at most 2x its field */

struct prom_dev_labels {
	char text[PROM_LABELS_LEN];
};

/*
 * The devices a rendering serves, in slot order, each with its label set
 * escaped once; and how many the exporter's -d and --max-devices left out.
 */
struct prom_devs {
	int nr;
	int dropped[PROM_DROP_MAX];
	const struct it_dev *dev[IT_MAX_DEVS];
	struct prom_dev_labels labels[IT_MAX_DEVS];
};

void prom_escape(char *out, size_t size, const char *in)
{
	size_t o = 0;

	if (!size)
		return;
	for (; *in; in++) {
		const char *rep = NULL;
		char c = *in;

		if (c == '\\')
			rep = "\\\\";
		else if (c == '"')
			rep = "\\\"";
		else if (c == '\n')
			rep = "\\n";
		if (rep) {
			if (o + 2 >= size)
				break;
			out[o++] = rep[0];
			out[o++] = rep[1];
		} else {
			if (o + 1 >= size)
				break;
			out[o++] = c;
		}
	}
	out[o] = '\0';
}

void prom_le(char *buf, size_t size, int k)
{
	unsigned long long ns = 2ULL << k;
	unsigned long long sec = ns / 1000000000ULL, frac = ns % 1000000000ULL;
	char digits[16];
	int n;

	if (k < 0 || k >= IT_LAT_SLOTS) {
		snprintf(buf, size, "+Inf");
		return;
	}
	if (!frac) {
		snprintf(buf, size, "%llu", sec);
		return;
	}
	snprintf(digits, sizeof(digits), "%09llu", frac);
	for (n = 9; n > 0 && digits[n - 1] == '0'; n--)
		digits[n - 1] = '\0';
	snprintf(buf, size, "%llu.%s", sec, digits);
}

/* nanoseconds as exact decimal seconds */
static void fput_ns_as_seconds(FILE *f, __u64 ns)
{
	fprintf(f, "%llu.%09llu", (unsigned long long)(ns / 1000000000ULL),
		(unsigned long long)(ns % 1000000000ULL));
}

static int prom_nr_devs(const struct it_snapshot *s)
{
	return s->nr_devs < IT_MAX_DEVS ? s->nr_devs : IT_MAX_DEVS;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void dev_labels(struct prom_dev_labels *l, const struct it_dev *d)
{
	char dev[2 * IT_NAME_LEN], drv[2 * sizeof(d->meta.driver)];
	char type[2 * sizeof(d->meta.domain_type)], group[16] = "";

	prom_escape(dev, sizeof(dev), d->name);
	prom_escape(drv, sizeof(drv), d->meta.driver);
	prom_escape(type, sizeof(type), d->meta.domain_type);
	/* no group: the empty value, which Prometheus treats as an absent label */
	if (d->meta.group >= 0)
		snprintf(group, sizeof(group), "%d", d->meta.group);
	snprintf(l->text, sizeof(l->text), "device=\"%s\",driver=\"%s\",group=\"%s\","
		 "domain_type=\"%s\"", dev, drv, group, type);
}

typedef __u64 (*dev_value_fn)(const struct it_dev *d);

static __u64 v_map(const struct it_dev *d) { return d->ops[IT_OP_MAP].count; }
static __u64 v_map_bytes(const struct it_dev *d) { return d->ops[IT_OP_MAP].bytes; }
static __u64 v_unmap(const struct it_dev *d) { return d->ops[IT_OP_UNMAP].count; }
static __u64 v_unmap_bytes(const struct it_dev *d) { return d->ops[IT_OP_UNMAP].bytes; }
static __u64 v_iova_alloc(const struct it_dev *d) { return d->ops[IT_OP_IOVA_ALLOC].count; }
static __u64 v_iova_slow(const struct it_dev *d) { return d->ops[IT_OP_IOVA_SLOW].count; }
static __u64 v_fq_freed(const struct it_dev *d) { return d->ops[IT_OP_FQ_FREED].count; }
static __u64 v_faults(const struct it_dev *d) { return d->ops[IT_OP_FAULT].count; }

/*
 * @op: the op whose hooks count it. A series no hook can count on this kernel
 * (or in this mode) is left out, not exported as 0: iommutrace_role_traced
 * says which and why.
 */
static const struct prom_counter {
	const char *name, *help;
	dev_value_fn value;
	int op;
} dev_counters[] = {
	{ "iommutrace_map_total", "IOMMU map operations (iommu:map events).", v_map, IT_OP_MAP },
	{ "iommutrace_mapped_bytes_total", "Bytes mapped into IOMMU page tables.", v_map_bytes,
	  IT_OP_MAP },
	{ "iommutrace_unmap_total", "IOMMU unmap operations (iommu:unmap events).", v_unmap,
	  IT_OP_UNMAP },
	{ "iommutrace_unmapped_bytes_total", "Bytes unmapped from IOMMU page tables.",
	  v_unmap_bytes, IT_OP_UNMAP },
	{ "iommutrace_iova_alloc_total", "IOVA allocations (alloc_iova_fast).", v_iova_alloc,
	  IT_OP_IOVA_ALLOC },
	{ "iommutrace_iova_rcache_miss_total",
	  "IOVA allocations that missed the per-CPU rcache and searched the rbtree (alloc_iova).",
	  v_iova_slow, IT_OP_IOVA_SLOW },
	{ "iommutrace_iova_freed_by_flush_total",
	  "IOVAs freed from the lazy flush queue after an IOTLB flush.", v_fq_freed,
	  IT_OP_FQ_FREED },
	{ "iommutrace_faults_total", "I/O page faults reported by the IOMMU.", v_faults,
	  IT_OP_FAULT },
};

static void render_counter(FILE *f, const struct prom_counter *c, const struct prom_devs *sel)
{
	int i;

	family(f, c->name, "counter", c->help);
	for (i = 0; i < sel->nr; i++)
		if (dev_op_traced(sel->dev[i], c->op))
			fprintf(f, "%s{%s} %llu\n", c->name, sel->labels[i].text,
				(unsigned long long)c->value(sel->dev[i]));
}

/* --leaks: what each device holds mapped now (gauges, not rates) */
static void render_leaks(FILE *f, const struct it_snapshot *s, const struct prom_devs *sel)
{
	int i;

	if (!s->have_leaks)
		return;
	family(f, "iommutrace_dma_outstanding_mappings", "gauge",
	       "DMA mappings made since tracking began and not unmapped yet (--leaks).");
	for (i = 0; i < sel->nr; i++)
		fprintf(f, "iommutrace_dma_outstanding_mappings{%s} %llu\n", sel->labels[i].text,
			(unsigned long long)sel->dev[i]->leak_count);
	family(f, "iommutrace_dma_outstanding_bytes", "gauge",
	       "Bytes of the outstanding DMA mappings (--leaks).");
	for (i = 0; i < sel->nr; i++)
		fprintf(f, "iommutrace_dma_outstanding_bytes{%s} %llu\n", sel->labels[i].text,
			(unsigned long long)sel->dev[i]->leak_bytes);
	family(f, "iommutrace_dma_oldest_mapping_age_seconds", "gauge",
	       "Age of the device's oldest outstanding DMA mapping (--leaks); 0 if none.");
	for (i = 0; i < sel->nr; i++)
		fprintf(f, "iommutrace_dma_oldest_mapping_age_seconds{%s} %.3f\n",
			sel->labels[i].text, sel->dev[i]->leak_oldest_s);
}

/* Whether each role is traced here: the series a dashboard finds missing, and why */
static void render_roles(FILE *f, const struct it_snapshot *s)
{
	static const char name[] = "iommutrace_role_traced";
	char role[64], state[32];
	int i;

	if (!s->have_roles)
		return;
	family(f, name, "gauge",
	       "1 if the tracer counts this role on this kernel and in this mode; 0 if not "
	       "(state: not traceable, lean-off (--deep), no driver): its series are absent.");
	for (i = 0; i < IT_ROLE_MAX; i++) {
		prom_escape(role, sizeof(role), it_role_name(i));
		prom_escape(state, sizeof(state), it_role_state_name(s->roles[i].state));
		fprintf(f, "%s{role=\"%s\",state=\"%s\"} %d\n", name, role, state,
			s->roles[i].state == IT_ROLE_TRACED);
	}
}

/*
 * Lazy flushes either come from the flush-queue timer or from a full queue;
 * the kernel counts only the first separately, so the second is the rest.
 */
static __u64 dev_queue_full_flushes(const struct it_dev *d)
{
	__u64 all = d->ops[IT_OP_FQ_FLUSH].count, timer = d->ops[IT_OP_FQ_TIMEOUT].count;

	return all > timer ? all - timer : 0;
}

static void render_invalidations(FILE *f, const struct prom_devs *sel)
{
	static const char name[] = "iommutrace_iotlb_invalidations_total";
	int i;

	family(f, name, "counter",
	       "IOTLB invalidations by cause: strict_sync (one per unmap in strict mode), "
	       "lazy_timer (flush-queue timeout), lazy_queue_full (flush queue full).");
	for (i = 0; i < sel->nr; i++) {
		const struct it_dev *d = sel->dev[i];
		const char *labels = sel->labels[i].text;

		if (dev_op_traced(d, IT_OP_IOTLB_SYNC))
			fprintf(f, "%s{%s,cause=\"strict_sync\"} %llu\n", name, labels,
				(unsigned long long)d->ops[IT_OP_IOTLB_SYNC].count);
		if (!dev_op_traced(d, IT_OP_FQ_FLUSH))
			continue;
		fprintf(f, "%s{%s,cause=\"lazy_timer\"} %llu\n", name, labels,
			(unsigned long long)d->ops[IT_OP_FQ_TIMEOUT].count);
		fprintf(f, "%s{%s,cause=\"lazy_queue_full\"} %llu\n", name, labels,
			(unsigned long long)dev_queue_full_flushes(d));
	}
}

static void render_histogram(FILE *f, const char *name, const char *help,
			     const struct prom_devs *sel,
			     const struct it_op_stats *(*pick)(const struct it_dev *),
			     char le[][24])
{
	int i, k;

	family(f, name, "histogram", help);
	for (i = 0; i < sel->nr; i++) {
		const struct it_op_stats *op = pick(sel->dev[i]);
		const struct prom_dev_labels *l = &sel->labels[i];
		__u64 cum = 0;

		for (k = 0; k < IT_LAT_SLOTS; k++) {
			cum += op->lat_hist[k];
			fprintf(f, "%s_bucket{%s,le=\"%s\"} %llu\n", name, l->text, le[k],
				(unsigned long long)cum);
		}
		/* +Inf, _count: the histogram's own total, so the three always agree */
		fprintf(f, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, l->text,
			(unsigned long long)cum);
		fprintf(f, "%s_sum{%s} ", name, l->text);
		fput_ns_as_seconds(f, op->lat_sum_ns);
		fprintf(f, "\n%s_count{%s} %llu\n", name, l->text,
			(unsigned long long)cum);
	}
}

static void render_live(FILE *f, const struct prom_devs *sel)
{
	static const char name[] = "iommutrace_live_mapped_bytes";
	int i;

	family(f, name, "gauge",
	       "Bytes mapped minus bytes unmapped since the exporter attached (negative: "
	       "unmaps of mappings made before it).");
	for (i = 0; i < sel->nr; i++)
		fprintf(f, "%s{%s} %lld\n", name, sel->labels[i].text,
			(long long)dev_live_bytes(sel->dev[i]));
}

static void render_self(FILE *f, const struct it_snapshot *s)
{
	char mode[2 * sizeof(s->mode)];
	int i;

	family(f, "iommutrace_lost_events_total", "counter",
	       "Operations not counted or not timed, by reason (recursion: BPF programs the "
	       "kernel skipped).");
	for (i = 0; i < IT_LOST_MAX; i++)
		fprintf(f, "iommutrace_lost_events_total{reason=\"%s\"} %llu\n", it_lost_name(i),
			(unsigned long long)s->lost[i]);
	fprintf(f, "iommutrace_lost_events_total{reason=\"recursion\"} %llu\n",
		(unsigned long long)s->lost_recursion);
	if (s->twins) {
		family(f, "iommutrace_twin_runs_total", "counter",
		       "--lossless: program runs the kernel skipped that a twin made up.");
		fprintf(f, "iommutrace_twin_runs_total %llu\n",
			(unsigned long long)s->twin_served);
	}

	family(f, "iommutrace_probes_attached", "gauge", "Hooks attached to the kernel.");
	fprintf(f, "iommutrace_probes_attached %d\n", s->nr_probes);

	/* without kernel.bpf_stats_enabled the kernel keeps no figures: say nothing */
	if (s->bpf_stats) {
		family(f, "iommutrace_bpf_run_time_seconds_total", "counter",
		       "Time spent in iommutrace's BPF programs (kernel.bpf_stats_enabled).");
		fprintf(f, "iommutrace_bpf_run_time_seconds_total ");
		fput_ns_as_seconds(f, s->bpf_run_ns);
		fputc('\n', f);
		family(f, "iommutrace_bpf_runs_total", "counter",
		       "Runs of iommutrace's BPF programs (kernel.bpf_stats_enabled).");
		fprintf(f, "iommutrace_bpf_runs_total %llu\n",
			(unsigned long long)s->bpf_run_cnt);
	}

	prom_escape(mode, sizeof(mode), s->mode);
	family(f, "iommutrace_info", "gauge", "Always 1; the IOMMU mode (lazy, strict, ...) "
	       "when the snapshot was taken.");
	fprintf(f, "iommutrace_info{mode=\"%s\"} 1\n", mode);
}

/*
 * Hardware counters (src/pmu.c, through the model): one series per PMU row,
 * labelled with its unit and device ("" when it counts every requester of
 * the unit). A family appears only when some row counts its event: a role
 * no unit counts would otherwise read as an idle IOMMU.
 */
struct prom_pmu_labels {
	char text[2 * IT_PMU_UNIT_LEN + 2 * IT_NAME_LEN + 32];
	bool served;		/* a unit's row, or a device row the exporter serves */
};

static int prom_nr_pmu_rows(const struct it_snapshot *s)
{
	if (s->pmu.nr_rows < 0)
		return 0;
	return s->pmu.nr_rows < IT_PMU_MAX_ROWS ? s->pmu.nr_rows : IT_PMU_MAX_ROWS;
}

static void pmu_labels(struct prom_pmu_labels *l, const struct it_pmu_row *r)
{
	char unit[2 * IT_PMU_UNIT_LEN], dev[2 * IT_NAME_LEN];

	prom_escape(unit, sizeof(unit), r->unit);
	prom_escape(dev, sizeof(dev), r->device);
	snprintf(l->text, sizeof(l->text), "unit=\"%s\",device=\"%s\"", unit, dev);
}

static bool state_row_is(const struct prom_state *st, int i, const struct it_pmu_row *r)
{
	return i < st->nr_rows && !strncmp(st->rows[i].unit, r->unit, sizeof(r->unit)) &&
	       !strncmp(st->rows[i].device, r->device, sizeof(r->device));
}

/*
 * IOTLB lookups, hits and misses of row @i as served: bit k of the result
 * set for each PROM_IOTLB_k the row yields. Where the hardware counts two of
 * the three, pmu_row_iotlb() derives the third; a figure it cannot derive
 * (hits of a unit that hides iotlb_hit) is left out, not served as 0.
 */
static unsigned int pmu_iotlb_values(const struct it_pmu_row *r, int i,
				     const struct prom_state *st, uint64_t v[PROM_IOTLB_MAX])
{
	unsigned int have;
	int k;

	memset(v, 0, PROM_IOTLB_MAX * sizeof(*v));
	if (!pmu_row_iotlb(r, &v[PROM_IOTLB_LOOKUPS], &v[PROM_IOTLB_HITS],
			   &v[PROM_IOTLB_MISSES]))
		return 0;
	have = 1u << PROM_IOTLB_LOOKUPS;
	if (r->have & 1u << PMU_ROLE_HITS)
		have |= 1u << PROM_IOTLB_HITS;
	if (r->have & (1u << PMU_ROLE_HITS | 1u << PMU_ROLE_MISSES))
		have |= 1u << PROM_IOTLB_MISSES;
	if (st && state_row_is(st, i, r))
		for (k = 0; k < PROM_IOTLB_MAX; k++)
			if (v[k] < st->rows[i].iotlb[k])
				v[k] = st->rows[i].iotlb[k];
	return have;
}

void prom_state_update(struct prom_state *st, const struct it_snapshot *s)
{
	int i, k, n = prom_nr_pmu_rows(s);

	for (i = 0; i < n; i++) {
		const struct it_pmu_row *r = &s->pmu.rows[i];
		uint64_t v[PROM_IOTLB_MAX];

		if (!state_row_is(st, i, r)) {
			memset(&st->rows[i], 0, sizeof(st->rows[i]));
			snprintf(st->rows[i].unit, sizeof(st->rows[i].unit), "%s", r->unit);
			snprintf(st->rows[i].device, sizeof(st->rows[i].device), "%s", r->device);
		}
		if (!pmu_iotlb_values(r, i, NULL, v))
			continue;
		for (k = 0; k < PROM_IOTLB_MAX; k++)
			if (v[k] > st->rows[i].iotlb[k])
				st->rows[i].iotlb[k] = v[k];
	}
	if (n > st->nr_rows)
		st->nr_rows = n;
}

static void render_pmu_iotlb(FILE *f, const struct it_snapshot *s, const struct prom_state *st,
			     const struct prom_pmu_labels *labels)
{
	static const struct {
		const char *name, *help;
	} fams[PROM_IOTLB_MAX] = {
		[PROM_IOTLB_LOOKUPS] = { "iommutrace_pmu_iotlb_lookups_total",
			"IOTLB lookups counted by the IOMMU hardware (Intel iotlb_lookup; AMD "
			"PTE hits + misses)." },
		[PROM_IOTLB_HITS] = { "iommutrace_pmu_iotlb_hits_total",
			"IOTLB lookups that hit (Intel iotlb_hit; AMD mem_iommu_tlb_pte_hit)." },
		[PROM_IOTLB_MISSES] = { "iommutrace_pmu_iotlb_misses_total",
			"IOTLB lookups that missed, each starting a page walk (AMD "
			"mem_iommu_tlb_pte_mis; Intel lookups - hits, never served lower than "
			"before)." },
	};
	uint64_t v[IT_PMU_MAX_ROWS][PROM_IOTLB_MAX];
	unsigned int have[IT_PMU_MAX_ROWS], any = 0;
	int n = prom_nr_pmu_rows(s), i, k;

	for (i = 0; i < n; i++) {
		have[i] = labels[i].served ? pmu_iotlb_values(&s->pmu.rows[i], i, st, v[i]) : 0;
		any |= have[i];
	}
	for (k = 0; k < PROM_IOTLB_MAX; k++) {
		if (!(any & 1u << k))
			continue;
		family(f, fams[k].name, "counter", fams[k].help);
		for (i = 0; i < n; i++)
			if (have[i] & 1u << k)
				fprintf(f, "%s{%s} %llu\n", fams[k].name, labels[i].text,
					(unsigned long long)v[i][k]);
	}
}

static const struct prom_pmu_counter {
	const char *name, *help;
	enum pmu_role role;
} pmu_counters[] = {
	{ "iommutrace_pmu_requests_total",
	  "Translation requests seen by the IOMMU hardware (Intel iommu_requests; AMD "
	  "mem_trans_total).", PMU_ROLE_REQUESTS },
	{ "iommutrace_pmu_pde_hits_total",
	  "Page-directory cache hits (AMD mem_iommu_tlb_pde_hit).", PMU_ROLE_PDE_HITS },
	{ "iommutrace_pmu_pde_misses_total",
	  "Page-directory cache misses (AMD mem_iommu_tlb_pde_mis).", PMU_ROLE_PDE_MISSES },
	{ "iommutrace_pmu_page_table_reads_total",
	  "Page-table reads by the IOMMU's walker (AMD page_tbl_read_tot).", PMU_ROLE_PT_READS },
	{ "iommutrace_pmu_iotlb_invalidations_total",
	  "IOTLB invalidations performed by the IOMMU hardware (AMD tlb_inv).", PMU_ROLE_INVAL },
	{ "iommutrace_pmu_walk_occupancy_total",
	  "Page walks in flight, summed every IOMMU clock cycle (Intel pw_occupancy): its "
	  "rate over the clock_cycles rate is the mean number of walks in flight.",
	  PMU_ROLE_WALK_OCC },
	{ "iommutrace_pmu_clock_cycles_total", "IOMMU clock cycles (Intel iommu_clocks).",
	  PMU_ROLE_CLOCKS },
};

static void render_pmu_counter(FILE *f, const struct prom_pmu_counter *c,
			       const struct it_snapshot *s, const struct prom_pmu_labels *labels)
{
	unsigned int bit = 1u << c->role;
	int n = prom_nr_pmu_rows(s), i;
	bool any = false;

	for (i = 0; i < n; i++)
		any |= labels[i].served && (s->pmu.rows[i].have & bit);
	if (!any)
		return;
	family(f, c->name, "counter", c->help);
	for (i = 0; i < n; i++)
		if (labels[i].served && (s->pmu.rows[i].have & bit))
			fprintf(f, "%s{%s} %llu\n", c->name, labels[i].text,
				(unsigned long long)s->pmu.rows[i].count[c->role]);
}

/*
 * A device's own hardware counters follow its BPF-side series: served when
 * the device is, or, for one the BPF side has not named, when -d matches it.
 */
static bool pmu_row_served(const struct it_pmu_row *r, const struct it_snapshot *s,
			   const struct prom_state *st, const struct prom_devs *sel)
{
	int i;

	if (!r->device[0])
		return true;
	for (i = 0; i < prom_nr_devs(s); i++)
		if (!strcmp(s->devs[i].name, r->device))
			break;
	if (i == prom_nr_devs(s))
		return !st || devfilter_match(st->device, r->device, "");
	for (i = 0; i < sel->nr; i++)
		if (!strcmp(sel->dev[i]->name, r->device))
			return true;
	return false;
}

/* Always served, so a dashboard can say "no IOMMU PMU" rather than nothing. */
static void render_pmu(FILE *f, const struct it_snapshot *s, const struct prom_state *st,
		       const struct prom_devs *sel)
{
	struct prom_pmu_labels labels[IT_PMU_MAX_ROWS];
	int n = prom_nr_pmu_rows(s), i;
	unsigned int c;

	family(f, "iommutrace_pmu_up", "gauge",
	       "1 when IOMMU hardware counters (perf PMU) are open; status: ok, or why not "
	       "(no_pmu, denied, busy, ..., disabled by --no-pmu).");
	fprintf(f, "iommutrace_pmu_up{status=\"%s\"} %d\n",
		st && st->pmu_disabled ? "disabled" : pmu_status_name(s->pmu.status), n > 0);
	if (!n)
		return;
	for (i = 0; i < n; i++) {
		pmu_labels(&labels[i], &s->pmu.rows[i]);
		labels[i].served = pmu_row_served(&s->pmu.rows[i], s, st, sel);
	}
	render_pmu_iotlb(f, s, st, labels);
	for (c = 0; c < ARRAY_SIZE(pmu_counters); c++)
		render_pmu_counter(f, &pmu_counters[c], s, labels);
	family(f, "iommutrace_pmu_multiplexed", "gauge",
	       "1 when some count of the row is an estimate: the kernel time-shared more "
	       "events than the unit has counters.");
	for (i = 0; i < n; i++)
		if (labels[i].served)
			fprintf(f, "iommutrace_pmu_multiplexed{%s} %d\n", labels[i].text,
				s->pmu.rows[i].multiplexed ? 1 : 0);
}

/*
 * Which devices a rendering serves: every one that -d matches, in slot order
 * (the order the BPF side first saw them, so a device once served stays
 * served), up to --max-devices. The rest are counted, not rendered.
 */
static void prom_devs_select(struct prom_devs *sel, const struct it_snapshot *s,
			     const struct prom_state *st)
{
	int i;

	for (i = 0; i < prom_nr_devs(s); i++) {
		const struct it_dev *d = &s->devs[i];

		if (st && st->device && !dev_matches(d, st->device)) {
			sel->dropped[PROM_DROP_FILTER]++;
			continue;
		}
		if (st && st->max_devices && sel->nr >= st->max_devices) {
			sel->dropped[PROM_DROP_MAX_DEVICES]++;
			continue;
		}
		sel->dev[sel->nr] = d;
		dev_labels(&sel->labels[sel->nr], d);
		sel->nr++;
	}
}

static void render_selection(FILE *f, const struct prom_devs *sel)
{
	family(f, "iommutrace_exporter_devices", "gauge",
	       "Devices whose series this scrape serves.");
	fprintf(f, "iommutrace_exporter_devices %d\n", sel->nr);
	family(f, "iommutrace_exporter_devices_dropped", "gauge",
	       "Devices seen but not served, by reason: filter (-d), max_devices "
	       "(--max-devices reached).");
	fprintf(f, "iommutrace_exporter_devices_dropped{reason=\"filter\"} %d\n",
		sel->dropped[PROM_DROP_FILTER]);
	fprintf(f, "iommutrace_exporter_devices_dropped{reason=\"max_devices\"} %d\n",
		sel->dropped[PROM_DROP_MAX_DEVICES]);
}

void prom_render(FILE *f, const struct it_snapshot *s)
{
	prom_render_state(f, s, NULL);
}

/* Scrapes render concurrently: nothing here is static. */
void prom_render_state(FILE *f, const struct it_snapshot *s, const struct prom_state *st)
{
	struct prom_devs *sel;
	char le[IT_LAT_SLOTS][24];
	unsigned int i;

	/* each device's label set is escaped once, not once per sample */
	sel = calloc(1, sizeof(*sel));
	if (!sel) {
		fprintf(f, "# iommutrace: out of memory\n");
		return;
	}
	prom_devs_select(sel, s, st);
	for (i = 0; i < IT_LAT_SLOTS; i++)
		prom_le(le[i], sizeof(le[i]), i);

	for (i = 0; i < ARRAY_SIZE(dev_counters); i++)
		render_counter(f, &dev_counters[i], sel);
	render_histogram(f, "iommutrace_map_latency_seconds",
			 "Latency of a DMA-API map call (iommu_map() where the DMA API is not "
			 "timed).", sel, dev_map_latency, le);
	render_histogram(f, "iommutrace_unmap_latency_seconds",
			 "Latency of a DMA-API unmap call, strict IOTLB invalidation included "
			 "(iommu_unmap() where the DMA API is not timed).", sel,
			 dev_unmap_latency, le);
	render_invalidations(f, sel);
	render_live(f, sel);
	render_leaks(f, s, sel);
	render_pmu(f, s, st, sel);
	render_self(f, s);
	render_roles(f, s);
	/* the exporter's own selection: a single rendering (stat, bench) has none */
	if (st)
		render_selection(f, sel);
	free(sel);
}

/* ------------------------------------------------ transport: gzip */

/* One Accept-Encoding element's q value: 1 without q=, 0 for a malformed one. */
static double coding_q(const char *params, size_t len)
{
	const char *p = params, *end = params + len;

	while (p < end) {
		const char *semi = memchr(p, ';', end - p);
		const char *stop = semi ? semi : end;

		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		if (stop - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			char num[8];
			size_t n = stop - p - 2;
			char *e;
			double q;

			while (n && (p[2 + n - 1] == ' ' || p[2 + n - 1] == '\t'))
				n--;
			if (!n || n >= sizeof(num))
				return 0;
			memcpy(num, p + 2, n);
			num[n] = '\0';
			q = strtod(num, &e);
			return *e || q < 0 || q > 1 ? 0 : q;
		}
		p = stop + 1;
	}
	return 1;
}

/*
 * RFC 9110 12.5.3: gzip is acceptable when listed (or x-gzip, or *) with a
 * q above 0; an explicit "gzip;q=0" refuses it whatever * says.
 */
bool prom_accepts_gzip(const char *accept_encoding)
{
	const char *p = accept_encoding;
	double gzip_q = -1, star_q = -1;

	if (!p)
		return false;
	while (*p) {
		const char *comma = strchr(p, ','), *stop = comma ? comma : p + strlen(p);
		const char *tok, *semi;
		size_t n;
		double q;

		while (p < stop && (*p == ' ' || *p == '\t'))
			p++;
		tok = p;
		semi = memchr(tok, ';', stop - tok);
		n = (semi ? semi : stop) - tok;
		while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
			n--;
		q = semi ? coding_q(semi + 1, stop - semi - 1) : 1;
		if ((n == 4 && !strncasecmp(tok, "gzip", 4)) ||
		    (n == 6 && !strncasecmp(tok, "x-gzip", 6)))
			gzip_q = q > gzip_q ? q : gzip_q;
		else if (n == 1 && *tok == '*')
			star_q = q;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (gzip_q >= 0)
		return gzip_q > 0;
	return star_q > 0;
}

int prom_gzip(const void *in, size_t len, int level, void **out, size_t *out_len)
{
	z_stream z = {};
	uLong bound;
	void *buf;
	int ret;

	/* 15 + 16: a gzip header and trailer around the deflate stream */
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	bound = deflateBound(&z, len);
	buf = malloc(bound);
	if (!buf) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = len;
	z.next_out = buf;
	z.avail_out = bound;
	/* the bound holds the whole stream: one call finishes it */
	ret = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (ret != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

/* ------------------------------------------------ the exporter's own figures */

static const char *const prom_enc_names[PROM_ENC_MAX] = {
	[PROM_ENC_IDENTITY] = "identity",
	[PROM_ENC_GZIP] = "gzip",
};

void prom_render_exporter(FILE *f, const struct prom_http_stats *h)
{
	int e;

	family(f, "iommutrace_exporter_scrapes_total", "counter",
	       "Metrics responses sent before this one, by content encoding.");
	for (e = 0; e < PROM_ENC_MAX; e++)
		fprintf(f, "iommutrace_exporter_scrapes_total{encoding=\"%s\"} %llu\n",
			prom_enc_names[e], (unsigned long long)h->scrapes[e]);
	family(f, "iommutrace_exporter_response_bytes_total", "counter",
	       "Body bytes of those responses as sent, by content encoding.");
	for (e = 0; e < PROM_ENC_MAX; e++)
		fprintf(f, "iommutrace_exporter_response_bytes_total{encoding=\"%s\"} %llu\n",
			prom_enc_names[e], (unsigned long long)h->bytes[e]);
	family(f, "iommutrace_exporter_gzip_saved_bytes_total", "counter",
	       "Bytes gzip saved: uncompressed minus sent, over the gzip responses.");
	fprintf(f, "iommutrace_exporter_gzip_saved_bytes_total %llu\n",
		(unsigned long long)h->gzip_saved);
	family(f, "iommutrace_exporter_unauthorized_total", "counter",
	       "Requests refused with 401 (basic_auth_users of --web.config.file), by "
	       "reason: missing (no credentials) or wrong (unknown user or password).");
	fprintf(f, "iommutrace_exporter_unauthorized_total{reason=\"missing\"} %llu\n",
		(unsigned long long)h->unauthorized_missing);
	fprintf(f, "iommutrace_exporter_unauthorized_total{reason=\"wrong\"} %llu\n",
		(unsigned long long)h->unauthorized_wrong);
}
