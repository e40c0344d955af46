// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus exposition: bucket conversion, escaping, every family typed,
 * and `promtool check metrics` on a 256-device rendering.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "model.h"
#include "prom.h"
#include "unit.h"

static char *render(const struct it_snapshot *s, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	prom_render(f, s);
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

/* The value of the sample line that starts with @prefix ("name{labels} "), or -1. */
static double sample(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while (p && *p) {
		if (!strncmp(p, prefix, n))
			return strtod(p + n, NULL);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

/* The rest of the line that starts with @prefix (never the first line) */
static const char *sample_str(const char *text, const char *prefix, char *out, size_t size)
{
	char anchored[256];
	const char *p;
	size_t i = 0;

	snprintf(anchored, sizeof(anchored), "\n%s", prefix);
	p = strstr(text, anchored);
	out[0] = '\0';
	if (!p)
		return out;
	for (p += strlen(anchored); *p && *p != '\n' && i + 1 < size; p++)
		out[i++] = *p;
	out[i] = '\0';
	return out;
}

static void test_le(void)
{
	char b[24];

	prom_le(b, sizeof(b), 0);
	CHECK_STR(b, "0.000000002", "bucket 0 ([0, 2) ns) ends at 2 ns");
	prom_le(b, sizeof(b), 9);
	CHECK_STR(b, "0.000001024", "bucket 9 ends at 1024 ns");
	prom_le(b, sizeof(b), 29);
	CHECK_STR(b, "1.073741824", "bucket 29 ends at 2^30 ns");
	prom_le(b, sizeof(b), 31);
	CHECK_STR(b, "4.294967296", "the last bucket ends at 2^32 ns");
	prom_le(b, sizeof(b), IT_LAT_SLOTS);
	CHECK_STR(b, "+Inf", "past the last bucket: +Inf");
}

static void test_escape(void)
{
	char b[64];

	prom_escape(b, sizeof(b), "plain-0000:00:04.0");
	CHECK_STR(b, "plain-0000:00:04.0", "nothing to escape");
	prom_escape(b, sizeof(b), "a\"b\\c\nd");
	CHECK_STR(b, "a\\\"b\\\\c\\nd", "quote, backslash and newline escaped");
	prom_escape(b, 4, "\\\\\\");
	CHECK_STR(b, "\\\\", "truncation never splits an escape");
	prom_escape(b, 1, "x");
	CHECK_STR(b, "", "room for the terminator only");
}

static void dev_fill(struct it_dev *d, int slot)
{
	memset(d, 0, sizeof(*d));
	d->slot = slot;
	snprintf(d->name, sizeof(d->name), "0000:%02x:%02x.%d", slot / 32, slot % 32, slot % 8);
	snprintf(d->meta.driver, sizeof(d->meta.driver), "drv%d", slot % 7);
	snprintf(d->meta.domain_type, sizeof(d->meta.domain_type), slot % 2 ? "DMA-FQ" : "DMA");
	d->meta.group = slot;
}

static struct it_snapshot *snap_small(void)
{
	struct it_snapshot *s = calloc(1, sizeof(*s));
	struct it_dev *d;

	s->nr_devs = 2;
	dev_fill(&s->devs[0], 0);
	snprintf(s->devs[0].name, sizeof(s->devs[0].name), "unknown");
	s->devs[0].meta.group = -1;
	d = &s->devs[1];
	dev_fill(d, 1);
	snprintf(d->meta.driver, sizeof(d->meta.driver), "we\"ird\\drv\n");
	d->ops[IT_OP_MAP].count = 5001;
	d->ops[IT_OP_MAP].bytes = 5001 * 4096ULL;
	d->ops[IT_OP_UNMAP].count = 5000;
	d->ops[IT_OP_UNMAP].bytes = 5002 * 4096ULL;
	/* DMA-API timing present: it, not iommu_map(), is the latency shown */
	d->ops[IT_OP_MAP].lat_hist[5] = 99;
	d->ops[IT_OP_DMA_MAP].lat_count = 10;
	d->ops[IT_OP_DMA_MAP].lat_sum_ns = 1234567890123ULL;
	d->ops[IT_OP_DMA_MAP].lat_hist[3] = 4;	/* [8, 16) ns */
	d->ops[IT_OP_DMA_MAP].lat_hist[10] = 6;	/* [1024, 2048) ns */
	d->ops[IT_OP_UNMAP].lat_hist[12] = 3;	/* no DMA-API unmap timing: iommu_unmap() */
	d->ops[IT_OP_UNMAP].lat_count = 3;
	d->ops[IT_OP_UNMAP].lat_sum_ns = 15000;
	d->ops[IT_OP_IOTLB_SYNC].count = 7;
	d->ops[IT_OP_FQ_FLUSH].count = 120;
	d->ops[IT_OP_FQ_TIMEOUT].count = 100;
	d->ops[IT_OP_FQ_FREED].count = 4990;
	d->ops[IT_OP_IOVA_ALLOC].count = 5001;
	d->ops[IT_OP_IOVA_SLOW].count = 12;
	d->ops[IT_OP_FAULT].count = 2;
	s->lost[IT_LOST_UNPAIRED] = 3;
	s->lost_recursion = 4;
	s->nr_probes = 17;
	snprintf(s->mode, sizeof(s->mode), "lazy");
	return s;
}

#define L1 "{device=\"0000:00:01.1\",driver=\"we\\\"ird\\\\drv\\n\",group=\"1\",domain_type=\"DMA-FQ\""

static void test_render(void)
{
	struct it_snapshot *s = snap_small();
	char *t = render(s, NULL), v[64];

	CHECK(sample(t, "iommutrace_map_total" L1 "} ") == 5001, "map_total with escaped labels");
	CHECK(sample(t, "iommutrace_mapped_bytes_total" L1 "} ") == 5001 * 4096.0, "mapped bytes");
	CHECK(sample(t, "iommutrace_unmap_total" L1 "} ") == 5000, "unmap_total");
	CHECK(sample(t, "iommutrace_live_mapped_bytes" L1 "} ") == -4096,
	      "live bytes is a signed gauge");
	CHECK(strstr(t, "iommutrace_map_total{device=\"unknown\",driver=\"drv0\",group=\"\","
		     "domain_type=\"DMA\"} 0\n") != NULL, "slot 0 with no group: group=\"\"");
	/* histogram: DMA-API map, cumulative */
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"0.000000008\"} ") == 0,
	      "below bucket 3: 0");
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"0.000000016\"} ") == 4,
	      "bucket 3 ([8,16) ns) counted under le=16ns");
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"0.000001024\"} ") == 4,
	      "cumulative stays until the next bucket");
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"0.000002048\"} ") == 10,
	      "bucket 10 adds up: 10");
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"4.294967296\"} ") == 10,
	      "last finite bucket holds everything");
	CHECK(sample(t, "iommutrace_map_latency_seconds_bucket" L1 ",le=\"+Inf\"} ") == 10,
	      "+Inf == total");
	CHECK(sample(t, "iommutrace_map_latency_seconds_count" L1 "} ") == 10, "_count == +Inf");
	CHECK_STR(sample_str(t, "iommutrace_map_latency_seconds_sum" L1 "} ", v, sizeof(v)),
		  "1234.567890123", "_sum in exact seconds");
	CHECK(sample(t, "iommutrace_unmap_latency_seconds_count" L1 "} ") == 3,
	      "unmap falls back to iommu_unmap() timing");
	CHECK(sample(t, "iommutrace_unmap_latency_seconds_bucket" L1 ",le=\"0.000008192\"} ") == 3,
	      "unmap bucket 12 under le=8192ns");
	/* invalidations by cause */
	CHECK(sample(t, "iommutrace_iotlb_invalidations_total" L1 ",cause=\"strict_sync\"} ") == 7,
	      "strict syncs");
	CHECK(sample(t, "iommutrace_iotlb_invalidations_total" L1 ",cause=\"lazy_timer\"} ") == 100,
	      "lazy timer flushes");
	CHECK(sample(t, "iommutrace_iotlb_invalidations_total" L1
		     ",cause=\"lazy_queue_full\"} ") == 20, "queue-full = flushes - timer");
	CHECK(sample(t, "iommutrace_iova_rcache_miss_total" L1 "} ") == 12, "rcache misses");
	CHECK(sample(t, "iommutrace_iova_freed_by_flush_total" L1 "} ") == 4990, "freed by flush");
	CHECK(sample(t, "iommutrace_faults_total" L1 "} ") == 2, "faults");
	CHECK(sample(t, "iommutrace_lost_events_total{reason=\"unpaired\"} ") == 3, "lost unpaired");
	CHECK(sample(t, "iommutrace_lost_events_total{reason=\"recursion\"} ") == 4,
	      "lost recursion");
	CHECK(sample(t, "iommutrace_probes_attached ") == 17, "probes attached");
	CHECK(sample(t, "iommutrace_info{mode=\"lazy\"} ") == 1, "info carries the mode");
	CHECK(!strstr(t, "bpf_run"), "no bpf_stats: no run-time families at all");
	free(t);

	s->bpf_stats = true;
	s->bpf_run_ns = 2500000001ULL;
	s->bpf_run_cnt = 42;
	t = render(s, NULL);
	CHECK_STR(sample_str(t, "iommutrace_bpf_run_time_seconds_total ", v, sizeof(v)),
		  "2.500000001", "bpf run time in seconds");
	CHECK(sample(t, "iommutrace_bpf_runs_total ") == 42, "bpf runs");
	free(t);
	free(s);
}

/* Every sample's family has HELP and TYPE lines before it. */
static void test_families(void)
{
	struct it_snapshot *s = snap_small();
	char *t, *line, *save = NULL, typed[64][96];
	int nr_typed = 0, nr_help = 0, untyped = 0, i;

	s->bpf_stats = true;
	t = render(s, NULL);
	for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[96];
		size_t n;

		if (!strncmp(line, "# HELP ", 7)) {
			nr_help++;
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			if (nr_typed < 64)
				sscanf(line + 7, "%95s", typed[nr_typed++]);
			continue;
		}
		n = strcspn(line, "{ ");
		snprintf(name, sizeof(name), "%.*s", (int)n, line);
		for (i = 0; i < nr_typed; i++) {
			size_t l = strlen(typed[i]);

			if (!strncmp(name, typed[i], l) &&
			    (!name[l] || !strcmp(name + l, "_bucket") || !strcmp(name + l, "_sum") ||
			     !strcmp(name + l, "_count")))
				break;
		}
		if (i == nr_typed)
			untyped++;
	}
	CHECK(untyped == 0, "every sample belongs to a TYPEd family (%d not)", untyped);
	CHECK(nr_help == nr_typed && nr_typed == 17, "17 families, each with HELP (%d/%d)",
	      nr_help, nr_typed);
	free(t);
	free(s);
}

static struct it_snapshot *snap_256(void)
{
	struct it_snapshot *s = calloc(1, sizeof(*s));
	int i, op, k;

	s->nr_devs = IT_MAX_DEVS;
	for (i = 0; i < IT_MAX_DEVS; i++) {
		dev_fill(&s->devs[i], i);
		for (op = 0; op < IT_OP_MAX; op++) {
			s->devs[i].ops[op].count = 1000003ULL * (i + 1) + op;
			s->devs[i].ops[op].bytes = 4096ULL * s->devs[i].ops[op].count;
			for (k = 8; k < 20; k++)
				s->devs[i].ops[op].lat_hist[k] = i + k;
			s->devs[i].ops[op].lat_count = hist_total(s->devs[i].ops[op].lat_hist,
								  IT_LAT_SLOTS);
			s->devs[i].ops[op].lat_sum_ns = 3000 * s->devs[i].ops[op].lat_count;
		}
	}
	s->bpf_stats = true;
	s->nr_probes = 20;
	snprintf(s->mode, sizeof(s->mode), "strict");
	return s;
}

static void test_promtool_and_time(void)
{
	struct it_snapshot *s = snap_256();
	char path[] = "/tmp/it-prom-XXXXXX", cmd[256];
	double t0, best = 1e9;
	size_t len;
	char *t;
	int fd, i, rc;
	FILE *f;

	for (i = 0; i < 5; i++) {
		t0 = it_now();
		t = render(s, &len);
		if (it_now() - t0 < best)
			best = it_now() - t0;
		if (i < 4)
			free(t);
	}
	printf("# 256 devices: %zu bytes, rendered in %.2f ms (best of 5)\n", len, best * 1e3);
	CHECK(best < 0.5, "256 devices render in under 500 ms (%.1f ms)", best * 1e3);

	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	CHECK(f && fwrite(t, 1, len, f) == len, "write the 256-device exposition");
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	rc = system(cmd);
	CHECK(rc == 0, "promtool check metrics accepts the 256-device exposition (status %d)", rc);
	unlink(path);
	free(t);
	free(s);
}

int main(void)
{
	test_le();
	test_escape();
	test_render();
	test_families();
	test_promtool_and_time();
	UNIT_EXIT();
}
