// SPDX-License-Identifier: GPL-2.0
/*
 * iommutrace leaks: the outstanding-mappings table, grouped per device and
 * per mapper stack. The BPF side (bpf/leaks.bpf.h) only records; ages,
 * groups and symbols are worked out here, at read time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector.h"
#include "common.h"
#include "leaks.h"
#include "iommutrace.skel.h"

int leak_age_slot(double age_s)
{
	int i;

	if (age_s < 1)
		return 0;
	for (i = 1; i < IT_LEAK_AGE_SLOTS - 1; i++)
		if (age_s < (double)(1ULL << i))
			return i;
	return IT_LEAK_AGE_SLOTS - 1;
}

const char *leak_age_label(int slot, char *buf, size_t size)
{
	if (slot <= 0)
		snprintf(buf, size, "<1s");
	else if (slot >= IT_LEAK_AGE_SLOTS - 1)
		snprintf(buf, size, ">=%llus", 1ULL << (IT_LEAK_AGE_SLOTS - 2));
	else
		snprintf(buf, size, "%llu-%llus", 1ULL << (slot - 1), 1ULL << slot);
	return buf;
}

void leak_table_free(struct it_leak_table *t)
{
	free(t->e);
	memset(t, 0, sizeof(*t));
}

static int leak_table_grow(struct it_leak_table *t, size_t want)
{
	struct it_leak_entry *e;
	size_t cap = t->cap ? t->cap : 1024;

	while (cap < want)
		cap *= 2;
	if (cap == t->cap)
		return 0;
	e = realloc(t->e, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	t->e = e;
	t->cap = cap;
	return 0;
}

/* Entry by entry: kernels or maps where the batch call is refused */
static int leaks_read_each(int fd, struct it_leak_table *t)
{
	struct it_leak_key key, next;
	void *prev = NULL;
	int err;

	t->nr = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		err = leak_table_grow(t, t->nr + 1);
		if (err)
			return err;
		if (bpf_map_lookup_elem(fd, &key, &t->e[t->nr].val))
			continue;	/* unmapped meanwhile */
		t->e[t->nr].key = key;
		t->nr++;
	}
	return 0;
}

static int leaks_read_batch(int fd, struct it_leak_table *t)
{
	struct it_leak_key *keys = NULL;
	struct it_leak_val *vals = NULL;
	__u64 in = 0, out = 0;
	bool first = true;
	size_t chunk = 4096, i;
	__u32 count;
	int err = 0;

	keys = malloc(chunk * sizeof(*keys));
	vals = malloc(chunk * sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	t->nr = 0;
	for (;;) {
		count = chunk;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &count, NULL);
		if (err && errno != ENOENT) {
			err = -errno;
			goto out;
		}
		if (leak_table_grow(t, t->nr + count)) {
			err = -ENOMEM;
			goto out;
		}
		for (i = 0; i < count; i++) {
			t->e[t->nr].key = keys[i];
			t->e[t->nr].val = vals[i];
			t->nr++;
		}
		if (err)	/* ENOENT: that was the last batch */
			break;
		in = out;
		first = false;
	}
	err = 0;
out:
	free(keys);
	free(vals);
	return err;
}

static int leak_stats_read(struct it_collector *c, struct it_leak_table *t)
{
	int fd = bpf_map__fd(c->skel->maps.leak_stats), cpu;
	__u64 *v = calloc(c->nr_cpus, sizeof(*v));
	__u32 k;

	if (!v)
		return -ENOMEM;
	memset(t->stats, 0, sizeof(t->stats));
	for (k = 0; k < IT_LEAK_STAT_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (cpu = 0; cpu < c->nr_cpus; cpu++)
			t->stats[k] += v[cpu];
	}
	free(v);
	return 0;
}

int leaks_read(struct it_collector *c, struct it_leak_table *t)
{
	int fd = bpf_map__fd(c->skel->maps.leak_table), err;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t->now_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	err = leaks_read_batch(fd, t);
	if (err && err != -ENOMEM)
		err = leaks_read_each(fd, t);
	if (!err)
		err = leak_stats_read(c, t);
	return err;
}

static void group_add(struct it_leak_group *g, const struct it_leak_val *v, double age)
{
	g->count++;
	g->bytes += v->size;
	g->age_hist[leak_age_slot(age)]++;
	if (g->count == 1 || age > g->oldest_s) {
		g->oldest_s = age;
		g->pid = v->pid;
		memcpy(g->comm, v->comm, sizeof(g->comm));
	}
}

/* The group of (slot, stack) in @arr, added if new; NULL on ENOMEM */
static struct it_leak_group *group_get(struct it_leak_group **arr, size_t *nr, size_t *cap,
				       __u32 slot, __s32 stack_id)
{
	struct it_leak_group *g;
	size_t i;

	for (i = 0; i < *nr; i++)
		if ((*arr)[i].slot == slot && (*arr)[i].stack_id == stack_id)
			return &(*arr)[i];
	if (*nr == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;

		g = realloc(*arr, ncap * sizeof(*g));
		if (!g)
			return NULL;
		*arr = g;
		*cap = ncap;
	}
	g = &(*arr)[(*nr)++];
	memset(g, 0, sizeof(*g));
	g->slot = slot;
	g->stack_id = stack_id;
	return g;
}

/* Most mappings first; then most bytes, then oldest */
static int group_cmp(const void *a, const void *b)
{
	const struct it_leak_group *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->oldest_s != y->oldest_s)
		return x->oldest_s < y->oldest_s ? 1 : -1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

int leaks_aggregate(const struct it_leak_table *t, const struct it_leak_filter *f,
		    struct it_leak_report *r)
{
	size_t i, cap_d = 0, cap_s = 0;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < t->nr; i++) {
		const struct it_leak_val *v = &t->e[i].val;
		struct it_leak_group *d, *s;
		double age = v->t_map < t->now_ns ? (t->now_ns - v->t_map) / 1e9 : 0;

		if ((f && age < f->min_age_s) ||
		    (f && f->slots && (v->slot >= IT_MAX_DEVS || !f->slots[v->slot]))) {
			r->hidden++;
			continue;
		}
		d = group_get(&r->devs, &r->nr_devs, &cap_d, v->slot, -1);
		s = group_get(&r->stacks, &r->nr_stacks, &cap_s, v->slot,
			      v->stack_id < 0 ? -1 : v->stack_id);
		if (!d || !s) {
			leak_report_free(r);
			return -ENOMEM;
		}
		group_add(d, v, age);
		group_add(s, v, age);
		r->count++;
		r->bytes += v->size;
	}
	if (r->nr_devs)
		qsort(r->devs, r->nr_devs, sizeof(*r->devs), group_cmp);
	if (r->nr_stacks)
		qsort(r->stacks, r->nr_stacks, sizeof(*r->stacks), group_cmp);
	return 0;
}

void leak_report_free(struct it_leak_report *r)
{
	free(r->devs);
	free(r->stacks);
	memset(r, 0, sizeof(*r));
}

bool leaks_tracking(const struct it_collector *c)
{
	return c->skel && c->skel->rodata->track_leaks;
}

int leaks_gauges(struct it_collector *c, struct it_leak_gauge *g, __u64 *stats)
{
	struct it_leak_table t = {};
	size_t i;
	int err;

	memset(g, 0, IT_MAX_DEVS * sizeof(*g));
	err = leaks_read(c, &t);
	if (err)
		return err;
	for (i = 0; i < t.nr; i++) {
		const struct it_leak_val *v = &t.e[i].val;
		double age = v->t_map < t.now_ns ? (t.now_ns - v->t_map) / 1e9 : 0;
		struct it_leak_gauge *d;

		if (v->slot >= IT_MAX_DEVS)
			continue;
		d = &g[v->slot];
		d->count++;
		d->bytes += v->size;
		if (age > d->oldest_s)
			d->oldest_s = age;
	}
	if (stats)
		memcpy(stats, t.stats, sizeof(t.stats));
	leak_table_free(&t);
	return 0;
}

int leaks_stack(struct it_collector *c, __s32 stack_id, __u64 *ips)
{
	int n;

	memset(ips, 0, IT_LEAK_STACK_DEPTH * sizeof(*ips));
	if (stack_id < 0)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.leak_stacks), &stack_id, ips))
		return -errno;
	for (n = 0; n < IT_LEAK_STACK_DEPTH && ips[n]; n++)
		;
	return n;
}

/* ---- kernel symbols ---- */

struct it_ksym {
	__u64 addr;
	const char *name;
	const char *module;	/* NULL: vmlinux */
};

struct it_ksyms {
	struct it_ksym *syms;
	size_t nr;
	char *strs;
	size_t strs_len, strs_cap;
};

static const char *ksyms_intern(struct it_ksyms *ks, const char *s)
{
	size_t n = strlen(s) + 1;

	if (ks->strs_len + n > ks->strs_cap)
		return NULL;	/* sized from the file: cannot happen */
	memcpy(ks->strs + ks->strs_len, s, n);
	ks->strs_len += n;
	return (const char *)(uintptr_t)(ks->strs_len - n);	/* offset until done */
}

static int ksym_cmp(const void *a, const void *b)
{
	const struct it_ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

struct it_ksyms *ksyms_load(const char *path)
{
	struct it_ksyms *ks = calloc(1, sizeof(*ks));
	char line[512], name[256], mod[128], type;
	size_t cap = 0, i;
	unsigned long long addr;
	FILE *f;
	long size;

	if (!ks)
		return NULL;
	f = fopen(path && path[0] ? path : "/proc/kallsyms", "re");
	if (!f)
		goto fail;
	/* /proc/kallsyms has no size: the strings fit in what the lines take */
	size = 0;
	while (fgets(line, sizeof(line), f))
		size += strlen(line);
	rewind(f);
	ks->strs_cap = size + 1;
	ks->strs = malloc(ks->strs_cap);
	if (!ks->strs)
		goto fail_close;
	while (fgets(line, sizeof(line), f)) {
		const char *n, *m = NULL;

		mod[0] = '\0';
		if (sscanf(line, "%llx %c %255s [%127[^]]]", &addr, &type, name, mod) < 3)
			continue;
		if (!addr || (type != 't' && type != 'T' && type != 'w' && type != 'W'))
			continue;
		if (ks->nr == cap) {
			struct it_ksym *s;

			cap = cap ? cap * 2 : 65536;
			s = realloc(ks->syms, cap * sizeof(*s));
			if (!s)
				goto fail_close;
			ks->syms = s;
		}
		n = ksyms_intern(ks, name);
		if (mod[0])
			m = ksyms_intern(ks, mod);
		if (!n)
			continue;
		ks->syms[ks->nr].addr = addr;
		ks->syms[ks->nr].name = n;
		ks->syms[ks->nr].module = m;
		ks->nr++;
	}
	fclose(f);
	for (i = 0; i < ks->nr; i++) {
		ks->syms[i].name = ks->strs + (uintptr_t)ks->syms[i].name;
		if (ks->syms[i].module)
			ks->syms[i].module = ks->strs + (uintptr_t)ks->syms[i].module;
	}
	qsort(ks->syms, ks->nr, sizeof(*ks->syms), ksym_cmp);
	return ks;
fail_close:
	fclose(f);
fail:
	ksyms_free(ks);
	return NULL;
}

void ksyms_free(struct it_ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->strs);
	free(ks);
}

static const struct it_ksym *ksyms_find(const struct it_ksyms *ks, __u64 addr)
{
	size_t lo = 0, hi;

	if (!ks || !ks->nr || addr < ks->syms[0].addr)
		return NULL;
	hi = ks->nr;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return &ks->syms[lo];
}

const char *ksyms_name(const struct it_ksyms *ks, __u64 addr)
{
	const struct it_ksym *s = ksyms_find(ks, addr);

	return s ? s->name : NULL;
}

const char *ksyms_format(const struct it_ksyms *ks, __u64 addr, char *buf, size_t size)
{
	const struct it_ksym *s = ksyms_find(ks, addr);

	if (!s)
		snprintf(buf, size, "0x%llx", (unsigned long long)addr);
	else if (s->module)
		snprintf(buf, size, "%s+0x%llx [%s]", s->name,
			 (unsigned long long)(addr - s->addr), s->module);
	else
		snprintf(buf, size, "%s+0x%llx", s->name, (unsigned long long)(addr - s->addr));
	return buf;
}

/*
 * The DMA API, the IOMMU core and drivers, the page-table code and the
 * tracing machinery the stack was taken from: the mapper is the first frame
 * below them (a driver, VFIO, the block layer).
 */
bool leak_frame_is_core(const char *sym)
{
	static const char *const prefixes[] = {
		"bpf_", "__bpf", "trace_", "__trace", "perf_", "kprobe", "__kprobe",
		"kretprobe", "rethook", "ftrace", "iommu_", "__iommu_", "_iommu_",
		"dma_", "__dma_", "debug_dma_", "intel_iommu", "amd_iommu", "viommu_",
		"__domain_mapping", "domain_mapping", "pt_iommu", "alloc_iova", "iova_",
	};
	size_t i;

	if (!sym)
		return false;
	for (i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (!strncmp(sym, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

int leak_mapper_frame(const struct it_ksyms *ks, const __u64 *ips, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		const char *name = ksyms_name(ks, ips[i]);

		if (name && !leak_frame_is_core(name))
			return i;
	}
	return -1;
}
