// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus exposition of the model, following ebpf_exporter and
 * node_exporter conventions: base units (seconds, bytes), _total counters,
 * log2 histograms as cumulative `le` buckets, bounded labels (device, driver,
 * group, domain_type: never a pid or an address).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "prom.h"
#include "render.h"

#define PROM_LABELS_LEN 512	/* four escaped labels: each at most 2x its field */

struct prom_dev_labels {
	char text[PROM_LABELS_LEN];
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

static const struct prom_counter {
	const char *name, *help;
	dev_value_fn value;
} dev_counters[] = {
	{ "iommutrace_map_total", "IOMMU map operations (iommu:map events).", v_map },
	{ "iommutrace_mapped_bytes_total", "Bytes mapped into IOMMU page tables.", v_map_bytes },
	{ "iommutrace_unmap_total", "IOMMU unmap operations (iommu:unmap events).", v_unmap },
	{ "iommutrace_unmapped_bytes_total", "Bytes unmapped from IOMMU page tables.",
	  v_unmap_bytes },
	{ "iommutrace_iova_alloc_total", "IOVA allocations (alloc_iova_fast).", v_iova_alloc },
	{ "iommutrace_iova_rcache_miss_total",
	  "IOVA allocations that missed the per-CPU rcache and searched the rbtree (alloc_iova).",
	  v_iova_slow },
	{ "iommutrace_iova_freed_by_flush_total",
	  "IOVAs freed from the lazy flush queue after an IOTLB flush.", v_fq_freed },
	{ "iommutrace_faults_total", "I/O page faults reported by the IOMMU.", v_faults },
};

static void render_counter(FILE *f, const struct prom_counter *c, const struct it_snapshot *s,
			   const struct prom_dev_labels *labels)
{
	int i;

	family(f, c->name, "counter", c->help);
	for (i = 0; i < prom_nr_devs(s); i++)
		fprintf(f, "%s{%s} %llu\n", c->name, labels[i].text,
			(unsigned long long)c->value(&s->devs[i]));
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

static void render_invalidations(FILE *f, const struct it_snapshot *s,
				 const struct prom_dev_labels *labels)
{
	static const char name[] = "iommutrace_iotlb_invalidations_total";
	int i;

	family(f, name, "counter",
	       "IOTLB invalidations by cause: strict_sync (one per unmap in strict mode), "
	       "lazy_timer (flush-queue timeout), lazy_queue_full (flush queue full).");
	for (i = 0; i < prom_nr_devs(s); i++) {
		const struct it_dev *d = &s->devs[i];

		fprintf(f, "%s{%s,cause=\"strict_sync\"} %llu\n", name, labels[i].text,
			(unsigned long long)d->ops[IT_OP_IOTLB_SYNC].count);
		fprintf(f, "%s{%s,cause=\"lazy_timer\"} %llu\n", name, labels[i].text,
			(unsigned long long)d->ops[IT_OP_FQ_TIMEOUT].count);
		fprintf(f, "%s{%s,cause=\"lazy_queue_full\"} %llu\n", name, labels[i].text,
			(unsigned long long)dev_queue_full_flushes(d));
	}
}

static void render_histogram(FILE *f, const char *name, const char *help,
			     const struct it_snapshot *s, const struct prom_dev_labels *labels,
			     const struct it_op_stats *(*pick)(const struct it_dev *),
			     char le[][24])
{
	int i, k;

	family(f, name, "histogram", help);
	for (i = 0; i < prom_nr_devs(s); i++) {
		const struct it_op_stats *op = pick(&s->devs[i]);
		__u64 cum = 0;

		for (k = 0; k < IT_LAT_SLOTS; k++) {
			cum += op->lat_hist[k];
			fprintf(f, "%s_bucket{%s,le=\"%s\"} %llu\n", name, labels[i].text, le[k],
				(unsigned long long)cum);
		}
		/* +Inf, _count: the histogram's own total, so the three always agree */
		fprintf(f, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels[i].text,
			(unsigned long long)cum);
		fprintf(f, "%s_sum{%s} ", name, labels[i].text);
		fput_ns_as_seconds(f, op->lat_sum_ns);
		fprintf(f, "\n%s_count{%s} %llu\n", name, labels[i].text,
			(unsigned long long)cum);
	}
}

static void render_live(FILE *f, const struct it_snapshot *s, const struct prom_dev_labels *labels)
{
	static const char name[] = "iommutrace_live_mapped_bytes";
	int i;

	family(f, name, "gauge",
	       "Bytes mapped minus bytes unmapped since the exporter attached (negative: "
	       "unmaps of mappings made before it).");
	for (i = 0; i < prom_nr_devs(s); i++)
		fprintf(f, "%s{%s} %lld\n", name, labels[i].text,
			(long long)dev_live_bytes(&s->devs[i]));
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

/* Scrapes render concurrently: nothing here is static. */
void prom_render(FILE *f, const struct it_snapshot *s)
{
	struct prom_dev_labels *labels;
	char le[IT_LAT_SLOTS][24];
	unsigned int i;
	int d;

	/* each device's label set is escaped once, not once per sample */
	labels = calloc(IT_MAX_DEVS, sizeof(*labels));
	if (!labels) {
		fprintf(f, "# iommutrace: out of memory\n");
		return;
	}
	for (d = 0; d < prom_nr_devs(s); d++)
		dev_labels(&labels[d], &s->devs[d]);
	for (i = 0; i < IT_LAT_SLOTS; i++)
		prom_le(le[i], sizeof(le[i]), i);

	for (i = 0; i < ARRAY_SIZE(dev_counters); i++)
		render_counter(f, &dev_counters[i], s, labels);
	render_histogram(f, "iommutrace_map_latency_seconds",
			 "Latency of a DMA-API map call (iommu_map() where the DMA API is not "
			 "timed).", s, labels, dev_map_latency, le);
	render_histogram(f, "iommutrace_unmap_latency_seconds",
			 "Latency of a DMA-API unmap call, strict IOTLB invalidation included "
			 "(iommu_unmap() where the DMA API is not timed).", s, labels,
			 dev_unmap_latency, le);
	render_invalidations(f, s, labels);
	render_live(f, s, labels);
	render_self(f, s);
	free(labels);
}
