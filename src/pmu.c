// SPDX-License-Identifier: GPL-2.0
/*
 * IOMMU PMUs: discovery from sysfs, perf_event_attr encoding from the
 * format/ and events/ descriptions, system-wide counting, derived figures.
 * See pmu.h for the model and docs/pmu.md for what the numbers mean.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "pmu.h"

#define PMU_SOURCES	"sys/bus/event_source/devices"
#define PMU_WORD_NAMES	{ "config", "config1", "config2" }

static void pmu_err(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pmu_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* "" and "/" both mean the running system */
static void pmu_path(char *buf, size_t len, const char *root, const char *rel)
{
	if (!root || !*root || !strcmp(root, "/"))
		snprintf(buf, len, "/%s", rel);
	else
		snprintf(buf, len, "%s/%s", root, rel);
}

/* dir/name, refusing to truncate: a cut path would read the wrong file */
static int pmu_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* perf's own number syntax: 0x... is hex, anything else decimal */
static int pmu_parse_u64(const char *s, size_t len, uint64_t *val)
{
	char tmp[32], *end;
	int base = 10;

	if (!len || len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (len > 2 && tmp[0] == '0' && (tmp[1] == 'x' || tmp[1] == 'X'))
		base = 16;
	else if (tmp[0] < '0' || tmp[0] > '9')
		return -EINVAL;
	errno = 0;
	*val = strtoull(tmp, &end, base);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

/* format bit numbers are plain decimal */
static int pmu_parse_dec(const char *s, size_t len, uint64_t *val)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	return pmu_parse_u64(s, len, val);
}

static int pmu_word_index(const char *s, size_t len)
{
	static const char *const words[] = PMU_WORD_NAMES;
	int i;

	for (i = 0; i < PMU_CONFIG_WORDS; i++)
		if (strlen(words[i]) == len && !strncmp(s, words[i], len))
			return i;
	return -1;
}

static uint64_t pmu_bit_range(unsigned int lo, unsigned int hi)
{
	uint64_t top = hi == 63 ? ~0ULL : (1ULL << (hi + 1)) - 1;

	return top & ~((1ULL << lo) - 1);
}

/* one "lo" or "lo-hi" of a format bit list */
static int pmu_format_range(const char *s, size_t len, uint64_t *mask)
{
	const char *dash = memchr(s, '-', len);
	uint64_t lo, hi;

	if (dash) {
		if (pmu_parse_dec(s, dash - s, &lo) ||
		    pmu_parse_dec(dash + 1, len - (dash - s) - 1, &hi))
			return -EINVAL;
	} else {
		if (pmu_parse_dec(s, len, &lo))
			return -EINVAL;
		hi = lo;
	}
	if (lo > 63 || hi > 63 || lo > hi)
		return -ERANGE;
	*mask = pmu_bit_range(lo, hi);
	return 0;
}

/*
 * "config:0-27", "config1:0", "config:0-7,32-35": the word, then a comma list
 * of bits or ranges. The ranges of one field must not overlap each other.
 */
int pmu_format_parse(const char *spec, struct pmu_field *out,
		     char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':'), *p, *end;
	uint64_t mask = 0, r;
	int word;

	if (!colon || (word = pmu_word_index(spec, colon - spec)) < 0) {
		pmu_err(err, errlen, "'%s' is not <config|config1|config2>:<bits>",
			spec);
		return -EINVAL;
	}
	for (p = colon + 1; ; p = end + 1) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		if (pmu_format_range(p, end - p, &r)) {
			pmu_err(err, errlen, "'%s' has a bad bit range '%.*s' (want N or N-M, 0..63)",
				spec, (int)(end - p), p);
			return -EINVAL;
		}
		if (mask & r) {
			pmu_err(err, errlen, "'%s' lists a bit twice", spec);
			return -EINVAL;
		}
		mask |= r;
		if (!*end)
			break;
	}
	out->word = word;
	out->mask = mask;
	snprintf(out->spec, sizeof(out->spec), "%s", spec);
	return 0;
}

static bool pmu_is_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* dmar<N> (drivers/iommu/intel/perfmon.c), amd_iommu_<N> (arch/x86/events/amd/iommu.c) */
bool pmu_name_match(const char *name, enum pmu_vendor *vendor, int *unit)
{
	static const struct {
		const char *prefix;
		enum pmu_vendor vendor;
	} kinds[] = {
		{ "dmar", PMU_VENDOR_INTEL },
		{ "amd_iommu_", PMU_VENDOR_AMD },
	};
	size_t i, n;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		n = strlen(kinds[i].prefix);
		if (strncmp(name, kinds[i].prefix, n) || !pmu_is_digits(name + n) ||
		    strlen(name + n) > 6)
			continue;
		if (vendor)
			*vendor = kinds[i].vendor;
		if (unit)
			*unit = atoi(name + n);
		return true;
	}
	return false;
}

/* a cpulist as the kernel prints it ("0", "0-3", "0,8-9"); we need its first CPU */
static int pmu_cpulist_first(const char *s, int *cpu)
{
	const char *p;
	uint64_t v;
	bool first = true;

	if (!*s)
		return -EINVAL;
	for (p = s; *p; ) {
		size_t n = strspn(p, "0123456789");

		if (!n || pmu_parse_u64(p, n, &v) || v > INT_MAX)
			return -EINVAL;
		if (first)
			*cpu = (int)v;
		first = false;
		p += n;
		if (*p && *p != ',' && *p != '-')
			return -EINVAL;
		if (*p && !p[1])
			return -EINVAL;
		if (*p)
			p++;
	}
	return 0;
}

static int pmu_load_type(const char *dir, struct pmu_desc *out,
			 char *err, size_t errlen)
{
	char path[PATH_MAX], buf[64];
	uint64_t v;
	int ret;

	snprintf(path, sizeof(path), "%s/type", dir);
	ret = it_read_attr(path, buf, sizeof(buf));
	if (ret < 0) {
		pmu_err(err, errlen, "%s: cannot read type (%s)", out->name,
			strerror(-ret));
		return ret;
	}
	if (!pmu_is_digits(buf) || pmu_parse_u64(buf, strlen(buf), &v) ||
	    v > UINT32_MAX) {
		pmu_err(err, errlen, "%s: type '%s' is not a number", out->name, buf);
		return -EINVAL;
	}
	out->type = (uint32_t)v;
	return 0;
}

/* Both drivers provide cpumask; without one, CPU 0 is what perf itself uses. */
static int pmu_load_cpumask(const char *dir, struct pmu_desc *out,
			    char *err, size_t errlen)
{
	char path[PATH_MAX], buf[256];
	int ret;

	snprintf(path, sizeof(path), "%s/cpumask", dir);
	ret = it_read_attr(path, buf, sizeof(buf));
	if (ret == -ENOENT) {
		out->cpu = 0;
		out->cpumask_missing = true;
		return 0;
	}
	if (ret < 0 || pmu_cpulist_first(buf, &out->cpu)) {
		pmu_err(err, errlen, "%s: cpumask '%s' is not a CPU list", out->name,
			ret < 0 ? strerror(-ret) : buf);
		return -EINVAL;
	}
	return 0;
}

/* sysfs lists in hash order: sort names so output and errors are stable */
static int pmu_scan_names(const char *dir, struct dirent ***names)
{
	int n = scandir(dir, names, NULL, alphasort);

	return n < 0 ? -errno : n;
}

static void pmu_free_names(struct dirent **names, int n)
{
	while (n-- > 0)
		free(names[n]);
	free(names);
}

static int pmu_field_overlap(const struct pmu_desc *pmu,
			     const struct pmu_field *f, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < pmu->nr_fields; i++) {
		const struct pmu_field *o = &pmu->fields[i];

		if (o->word == f->word && (o->mask & f->mask)) {
			pmu_err(err, errlen, "%s: format fields '%s' (%s) and '%s' (%s) overlap",
				pmu->name, o->name, o->spec, f->name, f->spec);
			return -EINVAL;
		}
	}
	return 0;
}

static int pmu_load_field(const char *path, const char *name,
			  struct pmu_desc *out, char *err, size_t errlen)
{
	struct pmu_field *f = &out->fields[out->nr_fields];
	char buf[PMU_SPEC_LEN], why[PMU_MSG_LEN];
	int ret;

	if (out->nr_fields >= PMU_MAX_FIELDS) {
		pmu_err(err, errlen, "%s: more than %d format fields", out->name,
			PMU_MAX_FIELDS);
		return -E2BIG;
	}
	if (strlen(name) >= sizeof(f->name)) {
		pmu_err(err, errlen, "%s: format name '%s' too long", out->name, name);
		return -ENAMETOOLONG;
	}
	ret = it_read_attr(path, buf, sizeof(buf));
	if (ret < 0) {
		pmu_err(err, errlen, "%s: cannot read format/%s (%s)", out->name,
			name, strerror(-ret));
		return ret;
	}
	if (pmu_format_parse(buf, f, why, sizeof(why))) {
		pmu_err(err, errlen, "%s: format/%s: %s", out->name, name, why);
		return -EINVAL;
	}
	snprintf(f->name, sizeof(f->name), "%s", name);
	ret = pmu_field_overlap(out, f, err, errlen);
	if (ret)
		return ret;
	out->nr_fields++;
	return 0;
}

static int pmu_load_formats(const char *dir, struct pmu_desc *out,
			    char *err, size_t errlen)
{
	char fdir[PATH_MAX], path[PATH_MAX];
	struct dirent **names;
	int i, n, ret = 0;

	snprintf(fdir, sizeof(fdir), "%s/format", dir);
	n = pmu_scan_names(fdir, &names);
	if (n < 0) {
		pmu_err(err, errlen, "%s: no format/ directory (%s)", out->name,
			strerror(-n));
		return n;
	}
	for (i = 0; i < n && !ret; i++) {
		if (names[i]->d_name[0] == '.')
			continue;
		ret = pmu_join(path, sizeof(path), fdir, names[i]->d_name);
		if (!ret)
			ret = pmu_load_field(path, names[i]->d_name, out, err, errlen);
	}
	pmu_free_names(names, n);
	if (!ret && !out->nr_fields) {
		pmu_err(err, errlen, "%s: format/ is empty", out->name);
		ret = -EINVAL;
	}
	return ret;
}

/*
 * Terms are "name=value" or a bare "name" (value 1), comma separated, as in
 * perf's pmu/term,term/ syntax. "?" as a value marks a parameter the user
 * must supply (perf prints such events as "alias,param=?").
 */
struct pmu_term {
	char name[PMU_NAME_LEN];
	uint64_t val;
	bool has_val;
	bool is_param;
};

static int pmu_term_next(const char **pos, struct pmu_term *t,
			 char *err, size_t errlen)
{
	const char *s = *pos, *end = strchr(s, ','), *eq;
	size_t nlen;

	if (!end)
		end = s + strlen(s);
	eq = memchr(s, '=', end - s);
	nlen = (eq ? eq : end) - s;
	if (!nlen || nlen >= sizeof(t->name)) {
		pmu_err(err, errlen, "bad term '%.*s'", (int)(end - s), s);
		return -EINVAL;
	}
	memcpy(t->name, s, nlen);
	t->name[nlen] = '\0';
	t->has_val = eq != NULL;
	t->is_param = eq && end - eq == 2 && eq[1] == '?';
	t->val = 1;
	if (eq && !t->is_param && pmu_parse_u64(eq + 1, end - eq - 1, &t->val)) {
		pmu_err(err, errlen, "term '%.*s': value is not a number",
			(int)(end - s), s);
		return -EINVAL;
	}
	*pos = *end ? end + 1 : end;
	if (*end && !**pos) {
		pmu_err(err, errlen, "trailing comma");
		return -EINVAL;
	}
	return 0;
}

static int pmu_field_index(const struct pmu_desc *pmu, const char *name)
{
	int i;

	for (i = 0; i < pmu->nr_fields; i++)
		if (!strcmp(pmu->fields[i].name, name))
			return i;
	return -1;
}

const struct pmu_field *pmu_field_find(const struct pmu_desc *pmu,
				       const char *name)
{
	int i = pmu_field_index(pmu, name);

	return i < 0 ? NULL : &pmu->fields[i];
}

const struct pmu_alias *pmu_alias_find(const struct pmu_desc *pmu,
				       const char *name)
{
	int i;

	for (i = 0; i < pmu->nr_aliases; i++)
		if (!strcmp(pmu->aliases[i].name, name))
			return &pmu->aliases[i];
	return NULL;
}

static int pmu_popcount(uint64_t v)
{
	return __builtin_popcountll(v);
}

/* perf's rule: value bit i lands on the i-th lowest set bit of the field */
static int pmu_field_encode(const struct pmu_field *f, uint64_t val,
			    uint64_t *bits)
{
	int width = pmu_popcount(f->mask), i = 0, b;

	if (width < 64 && val >> width)
		return -ERANGE;
	*bits = 0;
	for (b = 0; b < 64; b++) {
		if (!(f->mask & (1ULL << b)))
			continue;
		if (val & (1ULL << i))
			*bits |= 1ULL << b;
		i++;
	}
	return 0;
}

/* an alias term must name a format field (or a raw config word) and fit it */
static int pmu_alias_check(const struct pmu_desc *pmu, const struct pmu_alias *a,
			   char *err, size_t errlen)
{
	const char *pos = a->terms;
	struct pmu_term t;
	char why[PMU_MSG_LEN];
	uint64_t bits;
	int idx;

	while (*pos) {
		if (pmu_term_next(&pos, &t, why, sizeof(why))) {
			pmu_err(err, errlen, "%s: event %s: %s", pmu->name, a->name, why);
			return -EINVAL;
		}
		if (pmu_word_index(t.name, strlen(t.name)) >= 0)
			continue;
		idx = pmu_field_index(pmu, t.name);
		if (idx < 0) {
			pmu_err(err, errlen, "%s: event %s uses '%s', which format/ does not define",
				pmu->name, a->name, t.name);
			return -EINVAL;
		}
		if (!t.is_param && pmu_field_encode(&pmu->fields[idx], t.val, &bits)) {
			pmu_err(err, errlen, "%s: event %s: %s=0x%llx does not fit %s (%s)",
				pmu->name, a->name, t.name, (unsigned long long)t.val,
				t.name, pmu->fields[idx].spec);
			return -ERANGE;
		}
	}
	return 0;
}

static int pmu_load_alias(const char *path, const char *name,
			  struct pmu_desc *out, char *err, size_t errlen)
{
	struct pmu_alias *a = &out->aliases[out->nr_aliases];
	int ret;

	if (out->nr_aliases >= PMU_MAX_EVENTS) {
		pmu_err(err, errlen, "%s: more than %d events", out->name,
			PMU_MAX_EVENTS);
		return -E2BIG;
	}
	if (strlen(name) >= sizeof(a->name)) {
		pmu_err(err, errlen, "%s: event name '%s' too long", out->name, name);
		return -ENAMETOOLONG;
	}
	snprintf(a->name, sizeof(a->name), "%s", name);
	ret = it_read_attr(path, a->terms, sizeof(a->terms));
	if (ret <= 0) {
		pmu_err(err, errlen, "%s: cannot read events/%s (%s)", out->name,
			name, ret ? strerror(-ret) : "empty");
		return ret ? ret : -EINVAL;
	}
	ret = pmu_alias_check(out, a, err, errlen);
	if (!ret)
		out->nr_aliases++;
	return ret;
}

/* events/ is optional (raw terms still work); "x.scale"/"x.unit" are metadata */
static int pmu_load_aliases(const char *dir, struct pmu_desc *out,
			    char *err, size_t errlen)
{
	char edir[PATH_MAX], path[PATH_MAX];
	struct dirent **names;
	int i, n, ret = 0;

	snprintf(edir, sizeof(edir), "%s/events", dir);
	n = pmu_scan_names(edir, &names);
	if (n == -ENOENT)
		return 0;
	if (n < 0) {
		pmu_err(err, errlen, "%s: cannot list events/ (%s)", out->name,
			strerror(-n));
		return n;
	}
	for (i = 0; i < n && !ret; i++) {
		if (names[i]->d_name[0] == '.' || strchr(names[i]->d_name, '.'))
			continue;
		ret = pmu_join(path, sizeof(path), edir, names[i]->d_name);
		if (!ret)
			ret = pmu_load_alias(path, names[i]->d_name, out, err, errlen);
	}
	pmu_free_names(names, n);
	return ret;
}

static int pmu_desc_load(const char *dir, const char *name, struct pmu_desc *out,
		  char *err, size_t errlen)
{
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	if (!pmu_name_match(name, &out->vendor, &out->unit)) {
		pmu_err(err, errlen, "%s: not an IOMMU PMU name", name);
		return -EINVAL;
	}
	ret = pmu_load_type(dir, out, err, errlen);
	if (!ret)
		ret = pmu_load_cpumask(dir, out, err, errlen);
	if (!ret)
		ret = pmu_load_formats(dir, out, err, errlen);
	if (!ret)
		ret = pmu_load_aliases(dir, out, err, errlen);
	return ret;
}

static int pmu_set_grow(void **arr, int nr, size_t size)
{
	void *p;

	/* grow in chunks of 8: a big server has a few dozen units at most */
	if (nr % 8)
		return 0;
	p = realloc(*arr, (nr + 8) * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

static void pmu_set_msg(struct pmu_set *set, enum pmu_status st,
			const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void pmu_set_msg(struct pmu_set *set, enum pmu_status st,
			const char *fmt, ...)
{
	va_list ap;

	set->status = st;
	va_start(ap, fmt);
	vsnprintf(set->msg, sizeof(set->msg), fmt, ap);
	va_end(ap);
}

static int pmu_add_rejected(struct pmu_set *set, const char *name,
			    const char *why)
{
	struct pmu_rejected *r;

	if (pmu_set_grow((void **)&set->rejected, set->nr_rejected, sizeof(*r)))
		return -ENOMEM;
	r = &set->rejected[set->nr_rejected++];
	snprintf(r->name, sizeof(r->name), "%.*s", (int)sizeof(r->name) - 1, name);
	snprintf(r->why, sizeof(r->why), "%s", why);
	return 0;
}

static int pmu_add_one(struct pmu_set *set, const char *dir, const char *name)
{
	char path[PATH_MAX], why[PMU_MSG_LEN];
	struct pmu_desc *d;

	if (pmu_set_grow((void **)&set->pmus, set->nr_pmus, sizeof(*d)))
		return -ENOMEM;
	d = &set->pmus[set->nr_pmus];
	if (pmu_join(path, sizeof(path), dir, name))
		return pmu_add_rejected(set, name, "path too long");
	if (pmu_desc_load(path, name, d, why, sizeof(why)))
		return pmu_add_rejected(set, name, why);
	set->nr_pmus++;
	return 0;
}

/* Intel perfmon PMUs arrived in 6.3; older running kernels cannot have them */
static bool pmu_kernel_predates(const char *root, int major, int minor,
				char *release, size_t len)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if ((root[0] && strcmp(root, "/")) || uname(&u) ||
	    sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	snprintf(release, len, "%s", u.release);
	return ma < major || (ma == major && mi < minor);
}

static void pmu_explain_intel(struct pmu_set *set, const char *unit)
{
	char rel[65];

	if (pmu_kernel_predates(set->root, 6, 3, rel, sizeof(rel)))
		pmu_set_msg(set, PMU_NO_PMU,
			    "no IOMMU PMU on this system (Intel IOMMU %s has no perf counters: Linux %s predates VT-d perfmon support, added in 6.3)",
			    unit, rel);
	else
		pmu_set_msg(set, PMU_NO_PMU,
			    "no IOMMU PMU on this system (Intel IOMMU %s has no perf counters: they need VT-d 4.0 perfmon hardware, Linux 6.3+ and CONFIG_INTEL_IOMMU_PERF_EVENTS)",
			    unit);
}

/* the first IOMMU in <root>/sys/class/iommu, "" if none */
static void pmu_first_iommu(const struct pmu_set *set, char *first, size_t len)
{
	char path[PATH_MAX];
	struct dirent **names;
	int i, n;

	first[0] = '\0';
	pmu_path(path, sizeof(path), set->root, "sys/class/iommu");
	n = pmu_scan_names(path, &names);
	for (i = 0; i < n; i++)
		if (names[i]->d_name[0] != '.' && !first[0])
			snprintf(first, len, "%.*s", (int)len - 1, names[i]->d_name);
	if (n > 0)
		pmu_free_names(names, n);
}

/*
 * Which IOMMUs exist at all (/sys/class/iommu: dmar<N> on Intel, ivhd<N> on
 * AMD) turns "no PMU" into the precise reason: no IOMMU, or one without
 * counters.
 */
static void pmu_explain_absent(struct pmu_set *set)
{
	char first[PMU_NAME_LEN];

	pmu_first_iommu(set, first, sizeof(first));
	if (!first[0])
		pmu_set_msg(set, PMU_NO_PMU,
			    "no IOMMU PMU on this system (no IOMMU is enabled; hardware counters need Intel VT-d with perfmon on Linux 6.3+ or an AMD IOMMU with performance counters)");
	else if (!strncmp(first, "dmar", 4))
		pmu_explain_intel(set, first);
	else if (!strncmp(first, "ivhd", 4))
		pmu_set_msg(set, PMU_NO_PMU,
			    "no IOMMU PMU on this system (AMD IOMMU %s has no perf counters: the unit lacks the performance-counter feature or firmware hides it; QEMU does not emulate it)",
			    first);
	else
		pmu_set_msg(set, PMU_NO_PMU,
			    "no IOMMU PMU on this system (IOMMU %s has no PMU that iommutrace knows: dmar<N>, amd_iommu_<N>)",
			    first);
}

static int pmu_desc_cmp(const void *a, const void *b)
{
	const struct pmu_desc *x = a, *y = b;

	if (x->vendor != y->vendor)
		return x->vendor < y->vendor ? -1 : 1;
	return x->unit - y->unit;
}

static void pmu_discover_status(struct pmu_set *set, const char *dir)
{
	if (set->nr_pmus) {
		qsort(set->pmus, set->nr_pmus, sizeof(*set->pmus), pmu_desc_cmp);
		set->status = PMU_OK;
		set->msg[0] = '\0';
	} else if (set->nr_rejected == 1) {
		pmu_set_msg(set, PMU_MALFORMED,
			    "IOMMU PMU unusable: %s", set->rejected[0].why);
	} else if (set->nr_rejected) {
		pmu_set_msg(set, PMU_MALFORMED,
			    "all %d IOMMU PMUs unusable; first: %s",
			    set->nr_rejected, set->rejected[0].why);
	} else {
		pmu_explain_absent(set);
	}
}

/*
 * Returns how many IOMMU PMUs are usable; 0 with status and msg saying why
 * when there are none (absent, or every description malformed). Negative
 * only when we could not even look (no memory, a root path too long).
 * Always release with pmu_set_free().
 */
int pmu_discover(const char *root, struct pmu_set *out)
{
	char dir[PATH_MAX];
	struct dirent **names;
	int i, n, ret = 0;

	memset(out, 0, sizeof(*out));
	if (snprintf(out->root, sizeof(out->root), "%s", root ? root : "") >=
	    (int)sizeof(out->root)) {
		pmu_set_msg(out, PMU_SYS_ERROR, "sysfs root path too long: %.64s...", root);
		return -ENAMETOOLONG;
	}
	pmu_path(dir, sizeof(dir), out->root, PMU_SOURCES);
	n = pmu_scan_names(dir, &names);
	if (n < 0) {
		pmu_set_msg(out, PMU_NO_PMU,
			    "no IOMMU PMU on this system (%s: %s)", dir, strerror(-n));
		return 0;
	}
	for (i = 0; i < n && !ret; i++)
		if (pmu_name_match(names[i]->d_name, NULL, NULL))
			ret = pmu_add_one(out, dir, names[i]->d_name);
	pmu_free_names(names, n);
	if (ret) {
		pmu_set_msg(out, PMU_SYS_ERROR, "IOMMU PMU discovery: %s",
			    strerror(-ret));
		return ret;
	}
	pmu_discover_status(out, dir);
	return out->nr_pmus;
}

int pmu_find(const struct pmu_set *set, const char *name)
{
	int i;

	for (i = 0; i < set->nr_pmus; i++)
		if (!strcmp(set->pmus[i].name, name))
			return i;
	return -1;
}

/* encoding state: the three words plus which fields the user set */
struct pmu_enc {
	uint64_t word[PMU_CONFIG_WORDS];
	uint64_t set_fields;	/* bit i: fields[i] assigned explicitly */
};

static int pmu_enc_field(const struct pmu_desc *pmu, struct pmu_enc *e,
			 int idx, uint64_t val, char *err, size_t errlen)
{
	const struct pmu_field *f = &pmu->fields[idx];
	uint64_t bits;

	if (pmu_field_encode(f, val, &bits)) {
		pmu_err(err, errlen, "%s: %s=0x%llx does not fit %s (%d bits)",
			pmu->name, f->name, (unsigned long long)val, f->spec,
			pmu_popcount(f->mask));
		return -ERANGE;
	}
	/* later terms override earlier ones, as in perf */
	e->word[f->word] = (e->word[f->word] & ~f->mask) | bits;
	e->set_fields |= 1ULL << idx;
	return 0;
}

static int pmu_enc_terms(const struct pmu_desc *pmu, struct pmu_enc *e,
			 const char *terms, bool from_alias,
			 char *err, size_t errlen);

static int pmu_enc_term(const struct pmu_desc *pmu, struct pmu_enc *e,
			const struct pmu_term *t, bool from_alias,
			char *err, size_t errlen)
{
	const struct pmu_alias *a;
	int idx, word;

	if (t->is_param) {
		pmu_err(err, errlen, "%s: '%s' needs a value (%s=N)", pmu->name,
			t->name, t->name);
		return -EINVAL;
	}
	word = pmu_word_index(t->name, strlen(t->name));
	if (word >= 0) {
		e->word[word] = t->val;
		return 0;
	}
	idx = pmu_field_index(pmu, t->name);
	if (idx >= 0)
		return pmu_enc_field(pmu, e, idx, t->val, err, errlen);
	a = from_alias || t->has_val ? NULL : pmu_alias_find(pmu, t->name);
	if (a)
		return pmu_enc_terms(pmu, e, a->terms, true, err, errlen);
	pmu_err(err, errlen, "%s has no event or format field '%s'", pmu->name,
		t->name);
	return -ENOENT;
}

static int pmu_enc_terms(const struct pmu_desc *pmu, struct pmu_enc *e,
			 const char *terms, bool from_alias,
			 char *err, size_t errlen)
{
	char why[PMU_MSG_LEN];
	struct pmu_term t;
	int ret;

	if (!*terms) {
		pmu_err(err, errlen, "%s: empty event", pmu->name);
		return -EINVAL;
	}
	while (*terms) {
		if (pmu_term_next(&terms, &t, why, sizeof(why))) {
			pmu_err(err, errlen, "%s: %s", pmu->name, why);
			return -EINVAL;
		}
		ret = pmu_enc_term(pmu, e, &t, from_alias, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A filter value is ignored by the hardware unless its enable bit is set
 * (Intel: filter_requester_id needs filter_requester_id_en). Set "<f>_en" for
 * every field the user gave, unless the user set it too. The ABI document
 * spells the requester one "filter_requester_en", so try that form as well.
 */
static int pmu_enc_enables(const struct pmu_desc *pmu, struct pmu_enc *e,
			   char *err, size_t errlen)
{
	uint64_t given = e->set_fields;
	char en[PMU_NAME_LEN + 4];
	size_t n;
	int i, idx, ret;

	for (i = 0; i < pmu->nr_fields; i++) {
		if (!(given & (1ULL << i)))
			continue;
		snprintf(en, sizeof(en), "%s_en", pmu->fields[i].name);
		idx = pmu_field_index(pmu, en);
		n = strlen(pmu->fields[i].name);
		if (idx < 0 && n > 3 && !strcmp(pmu->fields[i].name + n - 3, "_id")) {
			snprintf(en, sizeof(en), "%.*s_en", (int)(n - 3),
				 pmu->fields[i].name);
			idx = pmu_field_index(pmu, en);
		}
		if (idx < 0 || (given & (1ULL << idx)))
			continue;
		ret = pmu_enc_field(pmu, e, idx, 1, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static void pmu_attr_init(const struct pmu_desc *pmu, struct perf_event_attr *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->type = pmu->type;
	/*
	 * Counting only (both drivers refuse sampling) and no exclude_* bits
	 * (both PMUs are PERF_PMU_CAP_NO_EXCLUDE). The times let us scale a
	 * count the kernel had to multiplex onto fewer hardware counters.
	 */
	attr->read_format = PERF_FORMAT_TOTAL_TIME_ENABLED |
			    PERF_FORMAT_TOTAL_TIME_RUNNING;
	attr->disabled = 1;
}

static void pmu_attr_store(const struct pmu_enc *e, struct perf_event_attr *attr)
{
	attr->config = e->word[0];
	attr->config1 = e->word[1];
	attr->config2 = e->word[2];
}

static void pmu_enc_from_attr(const struct perf_event_attr *attr,
			      struct pmu_enc *e)
{
	e->word[0] = attr->config;
	e->word[1] = attr->config1;
	e->word[2] = attr->config2;
	e->set_fields = 0;
}

int pmu_attr_from_event(const struct pmu_desc *pmu, const char *event_spec,
			struct perf_event_attr *attr, char *err, size_t errlen)
{
	struct pmu_enc e = { 0 };
	int ret;

	if (!event_spec) {
		pmu_err(err, errlen, "%s: no event given", pmu->name);
		return -EINVAL;
	}
	ret = pmu_enc_terms(pmu, &e, event_spec, false, err, errlen);
	if (!ret)
		ret = pmu_enc_enables(pmu, &e, err, errlen);
	if (ret)
		return ret;
	pmu_attr_init(pmu, attr);
	pmu_attr_store(&e, attr);
	return 0;
}

/*
 * Count only DMA from one PCI requester (bus << 8 | devfn). The field names
 * are the drivers': Intel "filter_requester_id" (+ its enable bit), AMD
 * "devid" with "devid_mask" all ones so that every bit of the id must match.
 */
int pmu_attr_add_device(const struct pmu_desc *pmu, int rid,
			struct perf_event_attr *attr, char *err, size_t errlen)
{
	char terms[PMU_SPEC_LEN];
	struct pmu_enc e;
	int ret;

	if (rid < 0 || rid > 0xffff) {
		pmu_err(err, errlen, "requester id %d out of range", rid);
		return -EINVAL;
	}
	if (pmu_field_find(pmu, "filter_requester_id"))
		snprintf(terms, sizeof(terms), "filter_requester_id=0x%x", rid);
	else if (pmu_field_find(pmu, "devid") && pmu_field_find(pmu, "devid_mask"))
		snprintf(terms, sizeof(terms), "devid=0x%x,devid_mask=0xffff", rid);
	else {
		pmu_err(err, errlen, "%s cannot filter by device (format/ has neither filter_requester_id nor devid+devid_mask)",
			pmu->name);
		return -EOPNOTSUPP;
	}
	pmu_enc_from_attr(attr, &e);
	ret = pmu_enc_terms(pmu, &e, terms, true, err, errlen);
	if (!ret)
		ret = pmu_enc_enables(pmu, &e, err, errlen);
	if (!ret)
		pmu_attr_store(&e, attr);
	return ret;
}

/* "0000:00:03.0" or "00:03.0" -> bus << 8 | dev << 3 | fn */
int pmu_parse_bdf(const char *s, int *rid)
{
	struct it_pci_addr a;
	size_t len = strlen(s);
	int ret;

	/* the full width only: "0000:6a:00.0" or "6a:00.0" */
	if (len != 12 && len != 7)
		return -EINVAL;
	ret = it_parse_pci_addr(s, &a);
	if (ret)
		return ret;
	*rid = (int)(a.bus << 8 | a.dev << 3 | a.fn);
	return 0;
}

/*
 * The unit that translates a device's DMA: /sys/bus/pci/devices/<bdf>/iommu
 * links to the IOMMU's class device, "dmar<N>" (same name as its PMU) or
 * "ivhd<N>" (AMD; the PMU of IOMMU index N is amd_iommu_<N>).
 */
int pmu_device_unit(const char *root, const char *bdf, char *pmu_name,
		    size_t len)
{
	char rel[PATH_MAX], path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s%s/iommu",
		 strlen(bdf) == 7 ? "0000:" : "", bdf);
	pmu_path(path, sizeof(path), root, rel);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (!strncmp(base, "ivhd", 4) && pmu_is_digits(base + 4))
		snprintf(pmu_name, len, "amd_iommu_%s", base + 4);
	else
		snprintf(pmu_name, len, "%s", base);
	return 0;
}

enum pmu_status pmu_status_from_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return PMU_OK;
	case EACCES:
	case EPERM:
		return PMU_DENIED;
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return PMU_GONE;
	case ENOSPC:
	case EBUSY:
		return PMU_BUSY;
	case EINVAL:
	case EOPNOTSUPP:
	case E2BIG:
		return PMU_REFUSED;
	default:
		return PMU_SYS_ERROR;
	}
}

static int pmu_paranoid_level(void)
{
	char buf[16];

	if (it_read_attr("/proc/sys/kernel/perf_event_paranoid", buf, sizeof(buf)) < 0)
		return INT_MIN;
	return atoi(buf);
}

/* one sentence a user can act on, for the first counter that failed */
static void pmu_open_explain(struct pmu_set *set, const struct pmu_desc *pmu,
			     const char *event, int err)
{
	enum pmu_status st = pmu_status_from_errno(err);
	int paranoid;

	switch (st) {
	case PMU_DENIED:
		paranoid = pmu_paranoid_level();
		pmu_set_msg(set, st,
			    "IOMMU counters not permitted (%s): kernel.perf_event_paranoid is %d; system-wide counters need root, CAP_PERFMON, or perf_event_paranoid <= 0",
			    strerror(err), paranoid);
		break;
	case PMU_GONE:
		pmu_set_msg(set, st,
			    "IOMMU PMU %s is not available to perf_event_open (%s): the description under %s is stale or not this kernel's",
			    pmu->name, strerror(err), set->root[0] ? set->root : "/sys");
		break;
	case PMU_BUSY:
		pmu_set_msg(set, st, "%s/%s/: no free hardware counter (%s); another perf user holds them",
			    pmu->name, event, strerror(err));
		break;
	case PMU_REFUSED:
		pmu_set_msg(set, st, "%s refused %s/%s/ (%s): the unit does not support this event or filter",
			    pmu->name, pmu->name, event, strerror(err));
		break;
	default:
		pmu_set_msg(set, st, "%s/%s/: perf_event_open failed (%s)",
			    pmu->name, event, strerror(err));
	}
}

static int pmu_perf_open(struct perf_event_attr *attr, int cpu)
{
	long fd = syscall(SYS_perf_event_open, attr, -1, cpu, -1,
			  PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : (int)fd;
}

static int pmu_counter_add(struct pmu_set *set, int pmu,
			   const struct pmu_request *req,
			   const struct perf_event_attr *attr)
{
	struct pmu_counter *c;
	int fd;

	fd = pmu_perf_open((struct perf_event_attr *)attr, set->pmus[pmu].cpu);
	if (fd < 0)
		return fd;
	if (pmu_set_grow((void **)&set->counters, set->nr_counters, sizeof(*c))) {
		close(fd);
		return -ENOMEM;
	}
	c = &set->counters[set->nr_counters++];
	memset(c, 0, sizeof(*c));
	c->pmu = pmu;
	snprintf(c->event, sizeof(c->event), "%s", req->event);
	c->rid = req->rid;
	c->role = req->role;
	c->attr = *attr;
	c->fd = fd;
	return 0;
}

/*
 * With no unit named, a request goes to every unit whose description has all
 * of its term names: "iotlb_hit" goes to the Intel units only, without error.
 */
static bool pmu_knows_terms(const struct pmu_desc *pmu, const char *event)
{
	const char *pos = event;
	struct pmu_term t;

	while (*pos) {
		if (pmu_term_next(&pos, &t, NULL, 0))
			return true;	/* let the encoder report the syntax */
		if (!pmu_field_find(pmu, t.name) && !pmu_alias_find(pmu, t.name) &&
		    pmu_word_index(t.name, strlen(t.name)) < 0)
			return false;
	}
	return true;
}

static int pmu_request_attr(struct pmu_set *set, const struct pmu_desc *pmu,
			    const struct pmu_request *req,
			    struct perf_event_attr *attr)
{
	char why[PMU_MSG_LEN];
	int ret;

	ret = pmu_attr_from_event(pmu, req->event, attr, why, sizeof(why));
	if (!ret && req->rid != PMU_NO_DEVICE)
		ret = pmu_attr_add_device(pmu, req->rid, attr, why, sizeof(why));
	if (ret)
		pmu_set_msg(set, PMU_BAD_EVENT, "%s", why);
	return ret;
}

/* what one pmu_open_counters call achieved, for the summary message */
struct pmu_tally {
	int opened;
	int failed;
	int first_err;		/* errno of the first failure, 0 if none */
};

static void pmu_tally_fail(struct pmu_tally *t, int err)
{
	if (!t->failed++)
		t->first_err = err;
}

static int pmu_open_on(struct pmu_set *set, int i,
		       const struct pmu_request *req, struct pmu_tally *t)
{
	const struct pmu_desc *pmu = &set->pmus[i];
	struct perf_event_attr attr;
	int ret;

	if (pmu_request_attr(set, pmu, req, &attr)) {
		pmu_tally_fail(t, EINVAL);
		return 0;
	}
	ret = pmu_counter_add(set, i, req, &attr);
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		if (!t->failed)
			pmu_open_explain(set, pmu, req->event, -ret);
		pmu_tally_fail(t, -ret);
		return 0;
	}
	t->opened++;
	return 0;
}

static int pmu_open_request(struct pmu_set *set, const struct pmu_request *req,
			    struct pmu_tally *t)
{
	int i, ret, before = t->opened + t->failed;

	for (i = 0; i < set->nr_pmus; i++) {
		const struct pmu_desc *pmu = &set->pmus[i];

		if (req->pmu ? strcmp(req->pmu, pmu->name) != 0 :
			       !pmu_knows_terms(pmu, req->event))
			continue;
		ret = pmu_open_on(set, i, req, t);
		if (ret)
			return ret;
	}
	if (t->opened + t->failed == before) {
		if (req->pmu && pmu_find(set, req->pmu) < 0)
			pmu_set_msg(set, PMU_BAD_EVENT, "no IOMMU PMU named %s",
				    req->pmu);
		else
			pmu_set_msg(set, PMU_BAD_EVENT,
				    "no IOMMU PMU here knows the event '%s'",
				    req->event);
		pmu_tally_fail(t, ENOENT);
	}
	return 0;
}

static uint64_t pmu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* start the new counters together so that their first interval matches */
static void pmu_enable_from(struct pmu_set *set, int first)
{
	int i;

	for (i = first; i < set->nr_counters; i++)
		ioctl(set->counters[i].fd, PERF_EVENT_IOC_ENABLE, 0);
	pmu_read_counters(set);
}

static void pmu_open_summary(struct pmu_set *set, const struct pmu_tally *t)
{
	char first[PMU_MSG_LEN];

	if (!t->failed) {
		set->status = PMU_OK;
		set->msg[0] = '\0';
		return;
	}
	if (!t->opened)
		return;	/* status and msg of the first failure stand */
	snprintf(first, sizeof(first), "%s", set->msg);
	set->status = PMU_OK;
	/* the cause may be cut short here; it was set whole by pmu_open_explain */
	if (snprintf(set->msg, sizeof(set->msg), "%d of %d IOMMU counters not opened; first: %s",
		     t->failed, t->failed + t->opened, first) >= (int)sizeof(set->msg))
		set->msg[sizeof(set->msg) - 2] = '.';
}

/*
 * Opens every request on every matching unit, system-wide (pid -1) on the
 * unit's cpumask CPU. Returns how many counters were opened; with none, a
 * negative errno and status/msg say why. Failures of some counters leave
 * the rest counting, with a note in msg.
 */
int pmu_open_counters(struct pmu_set *set, const struct pmu_request *reqs,
		      int nr_reqs)
{
	struct pmu_tally t = { 0 };
	int i, ret, first = set->nr_counters;

	if (!set->nr_pmus)
		return -ENODEV;	/* status and msg from pmu_discover stand */
	for (i = 0; i < nr_reqs; i++) {
		ret = pmu_open_request(set, &reqs[i], &t);
		if (ret) {
			pmu_set_msg(set, PMU_SYS_ERROR, "IOMMU counters: %s",
				    strerror(-ret));
			return ret;
		}
	}
	pmu_open_summary(set, &t);
	if (!t.opened)
		return -(t.first_err ? t.first_err : EINVAL);
	pmu_enable_from(set, first);
	return t.opened;
}

/*
 * The curated counters of each unit's vendor that the unit lists (the Intel
 * driver hides events a unit's hardware lacks): those missing only leave
 * their figure empty. pmu_name NULL means every unit.
 */
int pmu_open_curated(struct pmu_set *set, const char *pmu_name, int rid)
{
	struct pmu_request *reqs;
	const struct pmu_curated *cur;
	int i, j, nr, n = 0, ret;

	if (!set->nr_pmus)
		return -ENODEV;	/* status and msg from pmu_discover stand */
	cur = pmu_curated_list(&nr);
	reqs = calloc((size_t)set->nr_pmus * nr, sizeof(*reqs));
	if (!reqs)
		return -ENOMEM;
	for (i = 0; i < set->nr_pmus; i++) {
		const struct pmu_desc *pmu = &set->pmus[i];

		if (pmu_name && strcmp(pmu_name, pmu->name))
			continue;
		for (j = 0; j < nr; j++) {
			if (cur[j].vendor != pmu->vendor ||
			    !pmu_alias_find(pmu, cur[j].alias))
				continue;
			reqs[n++] = (struct pmu_request){ pmu->name, cur[j].alias,
							  rid, cur[j].role };
		}
	}
	if (!n) {
		pmu_set_msg(set, PMU_BAD_EVENT, pmu_name && pmu_find(set, pmu_name) < 0 ?
			    "no IOMMU PMU named %s" : "%s lists none of the usual IOMMU events",
			    pmu_name ? pmu_name : "no IOMMU PMU");
		free(reqs);
		return -ENOENT;
	}
	ret = pmu_open_counters(set, reqs, n);
	free(reqs);
	return ret;
}

/*
 * The curated counters of the unit translating @bdf, filtered to that device
 * (Intel filter_requester_id, AMD devid). The unit-wide status and message
 * stay as they were: a device the unit cannot filter on is the caller's
 * note, not the session's. Returns the unit's index, or a negative errno
 * with @why filled.
 */
int pmu_open_device(struct pmu_set *set, const char *bdf, char *why, size_t len)
{
	struct perf_event_attr probe = { 0 };
	enum pmu_status status = set->status;
	char unit[PMU_NAME_LEN], msg[PMU_MSG_LEN];
	int rid, idx, ret;

	if (pmu_parse_bdf(bdf, &rid)) {
		pmu_err(why, len, "%s is not a PCI address", bdf);
		return -EINVAL;
	}
	ret = pmu_device_unit(set->root, bdf, unit, sizeof(unit));
	if (ret) {
		pmu_err(why, len, "%s: no IOMMU unit link (%s)", bdf, strerror(-ret));
		return ret;
	}
	idx = pmu_find(set, unit);
	if (idx < 0) {
		pmu_err(why, len, "%s: its unit %s has no PMU", bdf, unit);
		return -ENOENT;
	}
	if (pmu_attr_add_device(&set->pmus[idx], rid, &probe, why, len))
		return -EOPNOTSUPP;
	memcpy(msg, set->msg, sizeof(msg));
	ret = pmu_open_curated(set, unit, rid);
	if (ret < 0)
		snprintf(why, len, "%s", set->msg);
	else if (set->msg[0])
		snprintf(why, len, "%s", set->msg);	/* some opened, some not */
	else if (len)
		why[0] = '\0';
	set->status = status;
	memcpy(set->msg, msg, sizeof(msg));
	return ret < 0 ? ret : idx;
}

/* read_format TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING: value, enabled, running */
static int pmu_counter_read(struct pmu_counter *c)
{
	uint64_t v[3], draw, den, drun;
	ssize_t n;

	n = read(c->fd, v, sizeof(v));
	if (n != (ssize_t)sizeof(v))
		return n < 0 ? -errno : -EIO;
	draw = v[0] - c->raw;
	den = v[1] - c->enabled;
	drun = v[2] - c->running;
	c->raw = v[0];
	c->enabled = v[1];
	c->running = v[2];
	c->multiplexed = drun < den;
	/* a counter that never ran this interval has no estimate: report 0 */
	if (!drun)
		c->delta = 0;
	else if (drun < den)
		c->delta = (uint64_t)((double)draw * den / drun + 0.5);
	else
		c->delta = draw;
	c->total += c->delta;
	c->ever_multiplexed |= c->multiplexed;
	return 0;
}

int pmu_read_counters(struct pmu_set *set)
{
	uint64_t now = pmu_now_ns();
	int i, ret, err = 0;

	for (i = 0; i < set->nr_counters; i++) {
		ret = pmu_counter_read(&set->counters[i]);
		if (ret && !err)
			err = ret;
	}
	set->interval_s = set->last_ns ? (now - set->last_ns) / 1e9 : 0;
	set->last_ns = now;
	return err;
}

void pmu_close(struct pmu_set *set)
{
	int i;

	for (i = 0; i < set->nr_counters; i++)
		if (set->counters[i].fd >= 0)
			close(set->counters[i].fd);
	free(set->counters);
	set->counters = NULL;
	set->nr_counters = 0;
	set->last_ns = 0;
	set->interval_s = 0;
}

void pmu_set_free(struct pmu_set *set)
{
	pmu_close(set);
	free(set->pmus);
	free(set->rejected);
	set->pmus = NULL;
	set->rejected = NULL;
	set->nr_pmus = 0;
	set->nr_rejected = 0;
}

/*
 * What users ask for, per vendor. Intel (VT-d 4.0 perfmon): IOTLB lookups and
 * hits, translation requests, and page-walk occupancy over clocks. AMD: IOTLB
 * PTE hits/misses, the page-directory cache, page-table reads, invalidations.
 */
static const struct pmu_curated pmu_curated_events[] = {
	{ PMU_VENDOR_INTEL, "iommu_clocks", PMU_ROLE_CLOCKS },
	{ PMU_VENDOR_INTEL, "iommu_requests", PMU_ROLE_REQUESTS },
	{ PMU_VENDOR_INTEL, "iotlb_lookup", PMU_ROLE_LOOKUPS },
	{ PMU_VENDOR_INTEL, "iotlb_hit", PMU_ROLE_HITS },
	{ PMU_VENDOR_INTEL, "pw_occupancy", PMU_ROLE_WALK_OCC },
	{ PMU_VENDOR_AMD, "mem_trans_total", PMU_ROLE_REQUESTS },
	{ PMU_VENDOR_AMD, "mem_iommu_tlb_pte_hit", PMU_ROLE_HITS },
	{ PMU_VENDOR_AMD, "mem_iommu_tlb_pte_mis", PMU_ROLE_MISSES },
	{ PMU_VENDOR_AMD, "mem_iommu_tlb_pde_hit", PMU_ROLE_PDE_HITS },
	{ PMU_VENDOR_AMD, "mem_iommu_tlb_pde_mis", PMU_ROLE_PDE_MISSES },
	{ PMU_VENDOR_AMD, "page_tbl_read_tot", PMU_ROLE_PT_READS },
	{ PMU_VENDOR_AMD, "tlb_inv", PMU_ROLE_INVAL },
};

const struct pmu_curated *pmu_curated_list(int *nr)
{
	*nr = sizeof(pmu_curated_events) / sizeof(pmu_curated_events[0]);
	return pmu_curated_events;
}

const struct pmu_curated *pmu_curated_find(enum pmu_vendor vendor,
					   const char *alias)
{
	int i, nr;
	const struct pmu_curated *c = pmu_curated_list(&nr);

	for (i = 0; i < nr; i++)
		if (c[i].vendor == vendor && !strcmp(c[i].alias, alias))
			return &c[i];
	return NULL;
}

static double pmu_ratio(uint64_t num, uint64_t den, double scale)
{
	return den ? scale * (double)num / (double)den : NAN;
}

static double pmu_rate(const uint64_t *d, const bool *have, int role, double s)
{
	return have[role] && s > 0 ? d[role] / s : NAN;
}

/*
 * IOTLB lookups, hits and misses from whichever two the hardware counts:
 * Intel counts lookups and hits, AMD hits and misses. Multiplexing can make
 * a scaled hit count exceed the lookups: hits then clamp at the lookups and
 * misses at 0. Returns false if lookups cannot be known.
 */
bool pmu_iotlb_counts(const uint64_t d[PMU_ROLE_MAX], const bool have[PMU_ROLE_MAX],
		      uint64_t *lookups, uint64_t *hits, uint64_t *misses)
{
	uint64_t nlook, nhit = 0, nmiss = 0;

	if (have[PMU_ROLE_LOOKUPS])
		nlook = d[PMU_ROLE_LOOKUPS];
	else if (have[PMU_ROLE_HITS] && have[PMU_ROLE_MISSES])
		nlook = d[PMU_ROLE_HITS] + d[PMU_ROLE_MISSES];
	else
		return false;
	if (have[PMU_ROLE_HITS])
		nhit = d[PMU_ROLE_HITS] < nlook ? d[PMU_ROLE_HITS] : nlook;
	if (have[PMU_ROLE_MISSES])
		nmiss = d[PMU_ROLE_MISSES];
	else if (have[PMU_ROLE_HITS])
		nmiss = nlook - nhit;
	*lookups = nlook;
	*hits = nhit;
	*misses = nmiss;
	return true;
}

/* From per-role deltas over 'seconds'; NaN for what the hardware does not count. */
void pmu_figures_compute(const uint64_t d[PMU_ROLE_MAX],
			 const bool have[PMU_ROLE_MAX], double seconds,
			 struct pmu_figures *out)
{
	uint64_t nlook = 0, nhit = 0, nmiss = 0;
	bool lookups = pmu_iotlb_counts(d, have, &nlook, &nhit, &nmiss);

	memset(out, 0, sizeof(*out));
	out->seconds = seconds;
	out->requests_per_s = pmu_rate(d, have, PMU_ROLE_REQUESTS, seconds);
	out->lookups_per_s = lookups && seconds > 0 ? nlook / seconds : NAN;
	out->hit_pct = lookups && have[PMU_ROLE_HITS] ? pmu_ratio(nhit, nlook, 100.0) : NAN;
	out->misses_per_s = lookups && (have[PMU_ROLE_MISSES] || have[PMU_ROLE_HITS]) &&
			    seconds > 0 ? nmiss / seconds : NAN;
	out->pde_hit_pct = have[PMU_ROLE_PDE_HITS] && have[PMU_ROLE_PDE_MISSES] ?
		pmu_ratio(d[PMU_ROLE_PDE_HITS],
			  d[PMU_ROLE_PDE_HITS] + d[PMU_ROLE_PDE_MISSES], 100.0) : NAN;
	out->walks_in_flight = have[PMU_ROLE_WALK_OCC] && have[PMU_ROLE_CLOCKS] ?
		pmu_ratio(d[PMU_ROLE_WALK_OCC], d[PMU_ROLE_CLOCKS], 1.0) : NAN;
	out->pt_reads_per_s = pmu_rate(d, have, PMU_ROLE_PT_READS, seconds);
	out->inval_per_s = pmu_rate(d, have, PMU_ROLE_INVAL, seconds);
}

/* pmu -1 sums all units; rid must match the counters' device filter */
void pmu_figures_get(const struct pmu_set *set, int pmu, int rid,
		     struct pmu_figures *out)
{
	uint64_t d[PMU_ROLE_MAX] = { 0 };
	bool have[PMU_ROLE_MAX] = { false };
	bool mux = false;
	int i;

	for (i = 0; i < set->nr_counters; i++) {
		const struct pmu_counter *c = &set->counters[i];

		if ((pmu >= 0 && c->pmu != pmu) || c->rid != rid ||
		    c->role == PMU_ROLE_NONE)
			continue;
		d[c->role] += c->delta;
		have[c->role] = true;
		mux |= c->multiplexed;
	}
	pmu_figures_compute(d, have, set->interval_s, out);
	out->multiplexed = mux;
}

const char *pmu_status_name(enum pmu_status status)
{
	static const char *const names[] = {
		[PMU_OK] = "ok",
		[PMU_NO_PMU] = "no_pmu",
		[PMU_MALFORMED] = "malformed",
		[PMU_DENIED] = "denied",
		[PMU_GONE] = "gone",
		[PMU_BUSY] = "busy",
		[PMU_REFUSED] = "refused",
		[PMU_BAD_EVENT] = "bad_event",
		[PMU_SYS_ERROR] = "error",
	};

	if ((unsigned int)status >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[status];
}

/* the one sentence to show the user; "" when all went well */
const char *pmu_status_str(const struct pmu_set *set)
{
	return set->msg;
}

const char *pmu_vendor_name(enum pmu_vendor vendor)
{
	return vendor == PMU_VENDOR_AMD ? "amd" : "intel";
}

const char *pmu_role_name(enum pmu_role role)
{
	static const char *const names[] = {
		[PMU_ROLE_NONE] = "",
		[PMU_ROLE_CLOCKS] = "clocks",
		[PMU_ROLE_REQUESTS] = "requests",
		[PMU_ROLE_LOOKUPS] = "iotlb_lookups",
		[PMU_ROLE_HITS] = "iotlb_hits",
		[PMU_ROLE_MISSES] = "iotlb_misses",
		[PMU_ROLE_PDE_HITS] = "pde_hits",
		[PMU_ROLE_PDE_MISSES] = "pde_misses",
		[PMU_ROLE_WALK_OCC] = "walk_occupancy",
		[PMU_ROLE_PT_READS] = "pt_reads",
		[PMU_ROLE_INVAL] = "invalidations",
	};

	if ((unsigned int)role >= PMU_ROLE_MAX)
		return "?";
	return names[role];
}
