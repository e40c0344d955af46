// SPDX-License-Identifier: GPL-2.0
/*
 * iommutrace pmu: list the IOMMU PMUs, show the perf_event_attr we would
 * open, and count for a while. The library is in pmu.c; this file only
 * parses options and renders (text or -j JSON).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "json.h"
#include "pmu.h"
#include "render.h"

#define PMU_CMD_MAX_EVENTS 16

struct pmu_opts {
	const char *root;
	bool verbose;
	bool json;
	double interval;	/* 0: list only */
	long count;		/* intervals; 0 = until SIGINT */
	int rid;
	const char *bdf;
	const char *unit;	/* -u: one PMU only */
	int nr_events;
	const char *events[PMU_CMD_MAX_EVENTS];		/* as given */
	char ev_unit[PMU_CMD_MAX_EVENTS][PMU_NAME_LEN];	/* "" = every unit */
	char ev_terms[PMU_CMD_MAX_EVENTS][PMU_SPEC_LEN];
};

static volatile sig_atomic_t pmu_cmd_stop;

static void pmu_cmd_usage(FILE *f)
{
	fprintf(f,
"Usage: iommutrace pmu [-v] [-j] [-i SECS [-c COUNT]] [-e EVENT]... [-d BDF] [-u PMU] [--sysfs ROOT]\n"
"\n"
"Hardware IOMMU counters (Intel VT-d perfmon dmar<N>, AMD amd_iommu_<N>) through\n"
"perf_event_open. Without -i: list the PMUs, their filters and events.\n"
"\n"
"  -i SECS      count for SECS seconds, print IOTLB hit %%, misses/s, ...\n"
"  -c COUNT     number of intervals (default 1; 0 = until Ctrl-C)\n"
"  -e EVENT     count EVENT instead of the default set, in perf syntax:\n"
"               iotlb_hit, event=0x2,event_group=0x0, or dmar0/iotlb_hit,filter_domain=0x3/\n"
"  -d BDF       count only DMA from this PCI device (0000:03:00.0), on its unit\n"
"  -u PMU       use only this PMU (dmar0, amd_iommu_1)\n"
"  -v           show format fields and the perf_event_attr of every counter\n"
"  -j           JSON output\n"
"  --sysfs ROOT read ROOT/sys/bus/event_source/devices instead of /sys\n"
"  -h           this help\n"
"\n"
"Exit status: 0 also when no IOMMU PMU exists (the reason is printed once),\n"
"1 malformed PMU description or counters not opened, 2 bad option or event,\n"
"3 not permitted (perf_event_paranoid; needs root or CAP_PERFMON).\n"
"\n"
"Examples:\n"
"  iommutrace pmu                      list IOMMU PMUs or say why there are none\n"
"  iommutrace pmu -i 1 -c 10           IOTLB hit %% per unit, every second, 10 times\n"
"  iommutrace pmu -i 5 -d 0000:3b:00.0 only the NIC at 3b:00.0\n"
"  iommutrace pmu -v -u dmar0          what would be opened on dmar0\n");
}

static int pmu_cmd_parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno || *end || end == s || !(*out > 0) || *out > 86400 ? -EINVAL : 0;
}

static int pmu_cmd_parse_long(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || *end || end == s || *out < 0 ? -EINVAL : 0;
}

/* "dmar0/iotlb_hit,filter_domain=3/" selects a unit; plain specs go to all */
static int pmu_cmd_split_event(const char *spec, char *unit, size_t ulen,
			       char *terms, size_t tlen)
{
	const char *slash = strchr(spec, '/');
	size_t n;

	unit[0] = '\0';
	if (!slash) {
		snprintf(terms, tlen, "%s", spec);
		return 0;
	}
	n = strlen(slash + 1);
	if ((size_t)(slash - spec) >= ulen || !n || slash[n] != '/' || n - 1 >= tlen)
		return -EINVAL;
	snprintf(unit, ulen, "%.*s", (int)(slash - spec), spec);
	snprintf(terms, tlen, "%.*s", (int)(n - 1), slash + 1);
	return 0;
}

static int pmu_cmd_opt(struct pmu_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'v':
		o->verbose = true;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'i':
		return pmu_cmd_parse_double(arg, &o->interval);
	case 'c':
		return pmu_cmd_parse_long(arg, &o->count);
	case 'e':
		if (o->nr_events >= PMU_CMD_MAX_EVENTS)
			return -E2BIG;
		if (pmu_cmd_split_event(arg, o->ev_unit[o->nr_events], PMU_NAME_LEN,
					o->ev_terms[o->nr_events], PMU_SPEC_LEN))
			return -EINVAL;
		o->events[o->nr_events++] = arg;
		return 0;
	case 'd':
		o->bdf = arg;
		return pmu_parse_bdf(arg, &o->rid);
	case 'u':
		o->unit = arg;
		return 0;
	case 'S':
		o->root = arg;
		return 0;
	default:
		return -EINVAL;
	}
}

static const char *pmu_cmd_optname(int c)
{
	switch (c) {
	case 'i': return "-i (seconds > 0)";
	case 'c': return "-c (a count >= 0)";
	case 'e': return "-e (EVENT or PMU/EVENT/; at most 16)";
	case 'd': return "-d (a PCI address such as 0000:03:00.0)";
	default: return "an option";
	}
}

static int pmu_cmd_parse(int argc, char **argv, struct pmu_opts *o)
{
	static const struct option longopts[] = {
		{ "sysfs", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->root = "/";
	o->rid = PMU_NO_DEVICE;
	o->count = 1;
	optind = 1;
	opterr = 0;	/* our own messages, with the command's name */
	while ((c = getopt_long(argc, argv, "vji:c:e:d:u:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			pmu_cmd_usage(stdout);
			return 1;
		}
		if (c == '?') {
			if (optopt == 'S')
				fprintf(stderr, "iommutrace: pmu: --sysfs needs a directory\n");
			else if (optopt)
				fprintf(stderr, "iommutrace: pmu: option -%c needs a value or is unknown\n",
					optopt);
			else
				fprintf(stderr, "iommutrace: pmu: unknown option '%s'\n",
					argv[optind - 1]);
		} else if (pmu_cmd_opt(o, c, optarg)) {
			fprintf(stderr, "iommutrace: pmu: bad value '%s' for %s\n",
				optarg ? optarg : "", pmu_cmd_optname(c));
		} else {
			continue;
		}
		fprintf(stderr, "Try 'iommutrace pmu -h'.\n");
		return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr, "iommutrace: pmu: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static bool pmu_is_live(const char *root)
{
	return !root[0] || !strcmp(root, "/");
}

/* a field the user can filter on: Intel filter_<x> (not its _en bit), AMD <x> with <x>_mask */
static bool pmu_field_is_filter(const struct pmu_desc *pmu, const char *name)
{
	char mask[PMU_NAME_LEN + 8];
	size_t n = strlen(name);

	if (!strncmp(name, "filter_", 7))
		return n < 3 || strcmp(name + n - 3, "_en");
	snprintf(mask, sizeof(mask), "%s_mask", name);
	return pmu_field_find(pmu, mask) != NULL;
}

static void pmu_cmd_print_filters(const struct pmu_desc *pmu)
{
	int i, n = 0;

	printf("  filters:");
	for (i = 0; i < pmu->nr_fields; i++) {
		const char *name = pmu->fields[i].name;

		if (!pmu_field_is_filter(pmu, name))
			continue;
		printf(" %s", !strncmp(name, "filter_", 7) ? name + 7 : name);
		n++;
	}
	printf("%s\n", n ? "" : " none");
}

static void pmu_cmd_print_events(const struct pmu_desc *pmu)
{
	int i, col = 10;

	printf("  events: ");
	for (i = 0; i < pmu->nr_aliases; i++) {
		const char *name = pmu->aliases[i].name;
		bool cur = pmu_curated_find(pmu->vendor, name) != NULL;
		int w = (int)strlen(name) + (cur ? 2 : 1);

		if (col + w > 100) {
			printf("\n          ");
			col = 10;
		}
		printf(" %s%s", name, cur ? "*" : "");
		col += w;
	}
	printf("%s\n", pmu->nr_aliases ? "" : " none");
}

static void pmu_cmd_print_attr(const struct perf_event_attr *a, int cpu)
{
	printf("type %u config 0x%llx config1 0x%llx config2 0x%llx cpu %d\n",
	       a->type, (unsigned long long)a->config,
	       (unsigned long long)a->config1, (unsigned long long)a->config2, cpu);
}

static int pmu_cmd_attr(const struct pmu_desc *pmu, const char *event, int rid,
			struct perf_event_attr *attr, char *err, size_t len)
{
	int ret = pmu_attr_from_event(pmu, event, attr, err, len);

	if (!ret && rid != PMU_NO_DEVICE)
		ret = pmu_attr_add_device(pmu, rid, attr, err, len);
	return ret;
}

/* the events -i would open on this unit: -e ones, else the curated set */
static int pmu_cmd_planned(const struct pmu_opts *o, const struct pmu_desc *pmu,
			   const char **out, int max)
{
	const struct pmu_curated *cur;
	int i, nr, n = 0;

	if (o->nr_events) {
		for (i = 0; i < o->nr_events && n < max; i++)
			if (!o->ev_unit[i][0] || !strcmp(o->ev_unit[i], pmu->name))
				out[n++] = o->ev_terms[i];
		return n;
	}
	cur = pmu_curated_list(&nr);
	for (i = 0; i < nr && n < max; i++)
		if (cur[i].vendor == pmu->vendor && pmu_alias_find(pmu, cur[i].alias))
			out[n++] = cur[i].alias;
	return n;
}

static void pmu_cmd_print_verbose(const struct pmu_opts *o,
				  const struct pmu_desc *pmu)
{
	const char *ev[PMU_CMD_MAX_EVENTS + PMU_ROLE_MAX];
	struct perf_event_attr attr;
	char err[PMU_MSG_LEN];
	int i, n;

	printf("  format:\n");
	for (i = 0; i < pmu->nr_fields; i++)
		printf("    %-24s %s\n", pmu->fields[i].name, pmu->fields[i].spec);
	printf("  counters%s%s:\n", o->bdf ? " for " : "", o->bdf ? o->bdf : "");
	n = pmu_cmd_planned(o, pmu, ev, PMU_CMD_MAX_EVENTS + PMU_ROLE_MAX);
	for (i = 0; i < n; i++) {
		printf("    %-24s ", ev[i]);
		if (pmu_cmd_attr(pmu, ev[i], o->rid, &attr, err, sizeof(err)))
			printf("cannot encode: %s\n", err);
		else
			pmu_cmd_print_attr(&attr, pmu->cpu);
	}
}

static bool pmu_cmd_unit_selected(const struct pmu_opts *o, const char *name)
{
	return !o->unit || !strcmp(o->unit, name);
}

static void pmu_cmd_print_list(const struct pmu_opts *o, const struct pmu_set *set)
{
	int i;

	for (i = 0; i < set->nr_pmus; i++) {
		const struct pmu_desc *pmu = &set->pmus[i];

		if (!pmu_cmd_unit_selected(o, pmu->name))
			continue;
		printf("%-12s %-5s type %-4u cpu %d%s  %d format fields, %d events\n",
		       pmu->name, pmu_vendor_name(pmu->vendor), pmu->type, pmu->cpu,
		       pmu->cpumask_missing ? " (no cpumask)" : "",
		       pmu->nr_fields, pmu->nr_aliases);
		pmu_cmd_print_filters(pmu);
		pmu_cmd_print_events(pmu);
		if (o->verbose)
			pmu_cmd_print_verbose(o, pmu);
	}
	if (set->nr_pmus && !o->nr_events)
		printf("(* counted by default with -i)\n");
}

static void pmu_cmd_print_rejected(const struct pmu_set *set)
{
	int i;

	for (i = 0; i < set->nr_rejected; i++)
		fprintf(stderr, "iommutrace: pmu: skipped %s\n", set->rejected[i].why);
}

static void pmu_cmd_json_pmu(struct json_writer *jw, const struct pmu_opts *o,
			     const struct pmu_desc *pmu)
{
	const char *ev[PMU_CMD_MAX_EVENTS + PMU_ROLE_MAX];
	struct perf_event_attr attr;
	char err[PMU_MSG_LEN];
	int i, n;

	jw_begin_object(jw, NULL);
	jw_string(jw, "name", pmu->name);
	jw_string(jw, "vendor", pmu_vendor_name(pmu->vendor));
	jw_i64(jw, "unit", pmu->unit);
	jw_u64(jw, "type", pmu->type);
	jw_i64(jw, "cpu", pmu->cpu);
	jw_begin_object(jw, "formats");
	for (i = 0; i < pmu->nr_fields; i++)
		jw_string(jw, pmu->fields[i].name, pmu->fields[i].spec);
	jw_end_object(jw);
	jw_begin_object(jw, "events");
	for (i = 0; i < pmu->nr_aliases; i++)
		jw_string(jw, pmu->aliases[i].name, pmu->aliases[i].terms);
	jw_end_object(jw);
	jw_begin_array(jw, "counters");
	n = pmu_cmd_planned(o, pmu, ev, PMU_CMD_MAX_EVENTS + PMU_ROLE_MAX);
	for (i = 0; i < n; i++) {
		jw_begin_object(jw, NULL);
		jw_string(jw, "event", ev[i]);
		if (pmu_cmd_attr(pmu, ev[i], o->rid, &attr, err, sizeof(err))) {
			jw_string(jw, "error", err);
		} else {
			jw_u64(jw, "type", attr.type);
			jw_u64(jw, "config", attr.config);
			jw_u64(jw, "config1", attr.config1);
			jw_u64(jw, "config2", attr.config2);
		}
		jw_end_object(jw);
	}
	jw_end_array(jw);
	jw_end_object(jw);
}

static void pmu_cmd_json_head(struct json_writer *jw, const struct pmu_opts *o,
			      const struct pmu_set *set)
{
	int i;

	jw_string(jw, "status", pmu_status_name(set->status));
	jw_string(jw, "message", pmu_status_str(set));
	jw_string(jw, "sysfs", o->root);
	jw_begin_array(jw, "pmus");
	for (i = 0; i < set->nr_pmus; i++)
		if (pmu_cmd_unit_selected(o, set->pmus[i].name))
			pmu_cmd_json_pmu(jw, o, &set->pmus[i]);
	jw_end_array(jw);
	jw_begin_array(jw, "rejected");
	for (i = 0; i < set->nr_rejected; i++) {
		jw_begin_object(jw, NULL);
		jw_string(jw, "name", set->rejected[i].name);
		jw_string(jw, "error", set->rejected[i].why);
		jw_end_object(jw);
	}
	jw_end_array(jw);
}

static int pmu_cmd_exit_code(enum pmu_status st)
{
	switch (st) {
	case PMU_OK:
	case PMU_NO_PMU:
		return IT_EXIT_OK;
	case PMU_MALFORMED:
		return IT_EXIT_ERROR;
	case PMU_DENIED:
		return IT_EXIT_PRIV;
	case PMU_BAD_EVENT:
		return IT_EXIT_USAGE;
	default:
		return IT_EXIT_ERROR;
	}
}

/* counting device-filtered: only on the unit that translates the device */
static const char *pmu_cmd_target_unit(const struct pmu_opts *o, char *buf,
				       size_t len)
{
	if (o->unit)
		return o->unit;
	if (o->bdf && !pmu_device_unit(o->root, o->bdf, buf, len))
		return buf;
	return NULL;
}

static enum pmu_role pmu_cmd_role(const char *terms)
{
	const struct pmu_curated *c;

	c = pmu_curated_find(PMU_VENDOR_INTEL, terms);
	if (!c)
		c = pmu_curated_find(PMU_VENDOR_AMD, terms);
	return c ? c->role : PMU_ROLE_NONE;
}

static int pmu_cmd_open(const struct pmu_opts *o, struct pmu_set *set)
{
	struct pmu_request reqs[PMU_CMD_MAX_EVENTS];
	char target[PMU_NAME_LEN];
	const char *unit = pmu_cmd_target_unit(o, target, sizeof(target));
	int i;

	if (!o->nr_events)
		return pmu_open_curated(set, unit, o->rid);
	for (i = 0; i < o->nr_events; i++) {
		reqs[i].pmu = o->ev_unit[i][0] ? o->ev_unit[i] : unit;
		reqs[i].event = o->ev_terms[i];
		reqs[i].rid = o->rid;
		reqs[i].role = pmu_cmd_role(o->ev_terms[i]);
	}
	return pmu_open_counters(set, reqs, o->nr_events);
}

static void pmu_cmd_sleep(double secs)
{
	struct timespec ts = {
		.tv_sec = (time_t)secs,
		.tv_nsec = (long)((secs - (time_t)secs) * 1e9),
	};

	/* Ctrl-C interrupts the sleep; the caller reads what was counted */
	nanosleep(&ts, NULL);
}

static bool pmu_cmd_unit_counted(const struct pmu_set *set, int pmu)
{
	int i;

	for (i = 0; i < set->nr_counters; i++)
		if (set->counters[i].pmu == pmu)
			return true;
	return false;
}

static void pmu_cmd_print_counters(const struct pmu_set *set, int pmu)
{
	int i;

	for (i = 0; i < set->nr_counters; i++) {
		const struct pmu_counter *c = &set->counters[i];

		if (c->pmu != pmu)
			continue;
		printf("    %-40s %16llu %14.0f/s%s\n", c->event,
		       (unsigned long long)c->delta,
		       set->interval_s > 0 ? c->delta / set->interval_s : 0.0,
		       c->multiplexed ? "  (multiplexed)" : "");
	}
}

static void pmu_cmd_print_interval(const struct pmu_opts *o,
				   const struct pmu_set *set)
{
	struct pmu_figures f;
	int i;

	render_pmu_header(stdout, "unit");
	for (i = 0; i < set->nr_pmus; i++) {
		if (!pmu_cmd_unit_counted(set, i))
			continue;
		pmu_figures_get(set, i, o->rid, &f);
		render_pmu_row(stdout, set->pmus[i].name, &f);
		if (o->verbose || o->nr_events)
			pmu_cmd_print_counters(set, i);
	}
}

static void pmu_cmd_json_unit(struct json_writer *jw, const struct pmu_opts *o,
			      const struct pmu_set *set, int pmu)
{
	struct pmu_figures f;
	int i;

	jw_begin_object(jw, NULL);
	jw_string(jw, "pmu", set->pmus[pmu].name);
	pmu_figures_get(set, pmu, o->rid, &f);
	json_pmu_figures(jw, "figures", &f);
	jw_begin_array(jw, "counters");
	for (i = 0; i < set->nr_counters; i++) {
		const struct pmu_counter *c = &set->counters[i];

		if (c->pmu != pmu)
			continue;
		jw_begin_object(jw, NULL);
		jw_string(jw, "event", c->event);
		jw_string(jw, "role", pmu_role_name(c->role));
		jw_u64(jw, "count", c->delta);
		jw_bool(jw, "multiplexed", c->multiplexed);
		jw_end_object(jw);
	}
	jw_end_array(jw);
	jw_end_object(jw);
}

static void pmu_cmd_json_interval(struct json_writer *jw, const struct pmu_opts *o,
				  const struct pmu_set *set)
{
	int i;

	jw_begin_object(jw, NULL);
	jw_double(jw, "seconds", set->interval_s);
	jw_begin_array(jw, "units");
	for (i = 0; i < set->nr_pmus; i++)
		if (pmu_cmd_unit_counted(set, i))
			pmu_cmd_json_unit(jw, o, set, i);
	jw_end_array(jw);
	jw_end_object(jw);
}

static void pmu_cmd_on_sigint(int sig)
{
	pmu_cmd_stop = 1;
}

static void pmu_cmd_loop(const struct pmu_opts *o, struct pmu_set *set,
			 struct json_writer *jw)
{
	struct sigaction sa = { .sa_handler = pmu_cmd_on_sigint };
	long n;

	pmu_cmd_stop = 0;
	sigaction(SIGINT, &sa, NULL);
	if (jw)
		jw_begin_array(jw, "intervals");
	for (n = 0; !pmu_cmd_stop && (!o->count || n < o->count); n++) {
		pmu_cmd_sleep(o->interval);
		if (pmu_read_counters(set))
			fprintf(stderr, "iommutrace: pmu: reading a counter failed\n");
		if (jw)
			pmu_cmd_json_interval(jw, o, set);
		else
			pmu_cmd_print_interval(o, set);
		fflush(stdout);
	}
	if (jw)
		jw_end_array(jw);
	signal(SIGINT, SIG_DFL);
}

/* opens, counts, renders; the message of any failure is printed once */
static int pmu_cmd_count(const struct pmu_opts *o, struct pmu_set *set,
			 struct json_writer *jw)
{
	int ret;

	if (!pmu_is_live(o->root))
		fprintf(stderr, "iommutrace: pmu: note: counting with descriptions from %s; their type numbers only mean something on the kernel that wrote them\n",
			o->root);
	ret = pmu_cmd_open(o, set);
	if (ret < 0)
		return pmu_cmd_exit_code(set->status);
	if (set->msg[0] && !jw)
		fprintf(stderr, "iommutrace: pmu: %s\n", set->msg);
	pmu_cmd_loop(o, set, jw);
	return IT_EXIT_OK;
}

static int pmu_cmd_text(const struct pmu_opts *o, struct pmu_set *set)
{
	int ret = IT_EXIT_OK;

	pmu_cmd_print_rejected(set);
	if (!set->nr_pmus) {
		/* "no PMU" is information (stdout); a broken description is an error */
		if (set->status == PMU_NO_PMU)
			printf("%s\n", pmu_status_str(set));
		else
			fprintf(stderr, "iommutrace: pmu: %s\n", pmu_status_str(set));
		return pmu_cmd_exit_code(set->status);
	}
	if (!o->interval) {
		pmu_cmd_print_list(o, set);
		return IT_EXIT_OK;
	}
	ret = pmu_cmd_count(o, set, NULL);
	if (ret && set->msg[0])
		fprintf(stderr, "iommutrace: pmu: %s\n", pmu_status_str(set));
	return ret;
}

static int pmu_cmd_json(const struct pmu_opts *o, struct pmu_set *set)
{
	struct json_writer jw;
	int ret = pmu_cmd_exit_code(set->status);

	jw_init(&jw, stdout);
	jw_begin_object(&jw, NULL);
	if (set->nr_pmus && o->interval) {
		ret = pmu_cmd_count(o, set, &jw);
		if (ret == IT_EXIT_OK)
			jw_string(&jw, "note", set->msg);
	}
	pmu_cmd_json_head(&jw, o, set);
	jw_end_object(&jw);
	jw_finish(&jw);
	return ret;
}

int cmd_pmu(int argc, char **argv)
{
	struct pmu_opts o;
	struct pmu_set set;
	int ret;

	ret = pmu_cmd_parse(argc, argv, &o);
	if (ret)
		return ret > 0 ? IT_EXIT_OK : IT_EXIT_USAGE;
	if (o.unit && !pmu_name_match(o.unit, NULL, NULL)) {
		fprintf(stderr, "iommutrace: pmu: '%s' is not an IOMMU PMU name (dmar<N>, amd_iommu_<N>)\n",
			o.unit);
		return IT_EXIT_USAGE;
	}
	if (pmu_discover(o.root, &set) < 0) {
		fprintf(stderr, "iommutrace: pmu: %s\n", pmu_status_str(&set));
		pmu_set_free(&set);
		return IT_EXIT_ERROR;
	}
	if (o.unit && set.nr_pmus && pmu_find(&set, o.unit) < 0) {
		fprintf(stderr, "iommutrace: pmu: no IOMMU PMU named %s here\n", o.unit);
		pmu_set_free(&set);
		return IT_EXIT_USAGE;
	}
	ret = o.json ? pmu_cmd_json(&o, &set) : pmu_cmd_text(&o, &set);
	pmu_set_free(&set);
	return ret;
}
