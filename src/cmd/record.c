// SPDX-License-Identifier: GPL-2.0
/* iommutrace record / report: a session into a recording file, and back. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common.h"
#include "devfilter.h"
#include "recfile.h"
#include "render.h"
#include "session.h"
#include "subcommands.h"


static void meta_groups(struct it_rec_meta *m)
{
	struct dirent *de;
	DIR *d = opendir("/sys/kernel/iommu_groups");

	if (!d)
		return;
	while ((de = readdir(d)) && m->nr_groups < IT_REC_MAX_GROUPS) {
		char path[300];
		unsigned long id;

		if (it_parse_uint(de->d_name, &id))
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%s/type", de->d_name);
		if (it_read_file(path, m->groups[m->nr_groups].type,
				 sizeof(m->groups[0].type)) < 0)
			continue;
		m->groups[m->nr_groups++].id = id;
	}
	closedir(d);
}

void record_meta_fill(struct it_rec_meta *m, struct it_session *ss, char **cmd, double interval)
{
	const struct it_sysinfo *si = &ss->col.sys;
	struct it_shared_hook hooks[IT_SHARED_HOOKS];
	struct utsname u;
	struct timeval tv;
	int i, n = 0, nr_hooks;

	memset(m, 0, sizeof(*m));
	snprintf(m->tool, sizeof(m->tool), "iommutrace %d", IT_REC_VERSION);
	if (!uname(&u)) {
		snprintf(m->host, sizeof(m->host), "%s", u.nodename);
		snprintf(m->kernel, sizeof(m->kernel), "%s", u.release);
	}
	snprintf(m->vendor, sizeof(m->vendor), "%s",
		 it_vendor_name(si->vendor));
	snprintf(m->units, sizeof(m->units), "%s", si->units);
	snprintf(m->mode, sizeof(m->mode), "%s", si->mode);
	snprintf(m->cmdline, sizeof(m->cmdline), "%s", si->cmdline);
	for (i = 0; cmd && cmd[i]; i++)
		n += snprintf(m->command + n, n < (int)sizeof(m->command) ? sizeof(m->command) - n : 0,
			      "%s%s", i ? " " : "", cmd[i]);
	gettimeofday(&tv, NULL);
	m->wall_start = tv.tv_sec + tv.tv_usec / 1e6;
	m->interval = interval;
	snprintf(m->pmu_status, sizeof(m->pmu_status), "%s",
		 pmu_status_name(ss->col.pmu_view.status));
	snprintf(m->pmu_msg, sizeof(m->pmu_msg), "%s", ss->col.pmu_view.msg);
	meta_groups(m);
	/* the hooks that count: ours, or those of the daemon whose maps we read */
	nr_hooks = collector_hooks(&ss->col, hooks, IT_SHARED_HOOKS);
	for (i = 0; i < nr_hooks && m->nr_probes < IT_REC_MAX_PROBES; i++) {
		snprintf(m->probes[m->nr_probes].name, sizeof(m->probes[0].name), "%s",
			 hooks[i].name);
		snprintf(m->probes[m->nr_probes].kind, sizeof(m->probes[0].kind), "%s",
			 hooks[i].kind);
		m->nr_probes++;
	}
	memcpy(m->roles, ss->col.roles, sizeof(m->roles));
	m->have_roles = true;
}

/* The number in FILE: the whole content, or the value of a NAME=value line. */
static int figure_from_file(const char *path, const char *name, double *out)
{
	char line[256];
	FILE *f = fopen(path, "r");
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '='), *val = line;

		line[strcspn(line, "\n")] = 0;
		if (eq) {
			*eq = 0;
			if (strcasecmp(line, name))
				continue;
			val = eq + 1;
		}
		if (!it_parse_double(val, out) && isfinite(*out)) {
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int record_figure_resolve(const char *arg, struct it_rec_figure *fig)
{
	const char *eq = strchr(arg, '=');
	char tmp[64];

	if (eq && eq[1] == '@') {
		snprintf(tmp, sizeof(tmp), "%.*s=0", (int)(eq - arg), arg);
		if (rec_figure_parse(tmp, fig))
			goto bad;
		if (figure_from_file(eq + 2, fig->name, &fig->value)) {
			it_warn("workload figure %s: no number (nor %s=NUMBER line) in '%s'",
				fig->name, fig->name, eq + 2);
			return IT_EXIT_ERROR;
		}
		return 0;
	}
	if (!rec_figure_parse(arg, fig))
		return 0;
bad:
	it_warn("invalid workload figure '%s' (NAME=NUMBER or NAME=@FILE, e.g. IOPS=3225)", arg);
	return IT_EXIT_USAGE;
}

/* ------------------------------------------------------------ record */

#define RECORD_PENDING_FAULTS 256

struct record_ctx {
	const char *path;
	struct it_rec_writer w;
	bool opened, failed;
	double interval;
	char **cmd;
	struct it_pmu_view pmu_base;	/* counters when tracing began */
	/* faults seen before the first tick, when the file is not open yet */
	int nr_pending;
	struct it_rec_fault pending[RECORD_PENDING_FAULTS];
};

static void record_fail(struct record_ctx *rc, int err)
{
	if (!rc->failed)
		it_warn("record: cannot write %s: %s", rc->path, strerror(-err));
	rc->failed = true;
}

static int record_fault(void *ctx, const struct it_fault_event *e)
{
	struct record_ctx *rc = ctx;
	struct it_rec_fault f;
	int err;

	rec_fault_from_event(&f, e, e->ts_ns / 1e9);
	if (!rc->opened) {
		if (rc->nr_pending < RECORD_PENDING_FAULTS)
			rc->pending[rc->nr_pending++] = f;
		return 0;
	}
	if (!rc->failed && (err = recw_fault(&rc->w, &f)))
		record_fail(rc, err);
	return 0;
}

static void record_tick(void *ctx, struct it_session *ss, const struct it_snapshot *s, bool final)
{
	struct record_ctx *rc = ctx;
	struct it_rec_meta m;
	int err, i;

	if (rc->failed)
		return;
	if (!rc->opened) {
		record_meta_fill(&m, ss, rc->cmd, rc->interval);
		rc->w.device = ss->opts->device;
		err = recw_open(&rc->w, rc->path, &m);
		if (err) {
			record_fail(rc, err);
			return;
		}
		rc->opened = true;
		if (!ss->opts->json)
			fprintf(stderr, "%s\nrecording to %s\n", ss->header, rc->path);
		for (i = 0; i < rc->nr_pending && !rc->failed; i++)
			if ((err = recw_fault(&rc->w, &rc->pending[i])))
				record_fail(rc, err);
	}
	/* the cumulative snapshot starts when the collector opened, seconds
	 * before the probes were attached; rates in the summary count from
	 * the first interval's start, when tracing (and COMMAND) began */
	if (!final && rc->w.summary_start <= 0) {
		rc->w.summary_start = s->t_start;
		/* the hardware counters too: the summary counts them from there */
		memcpy(&rc->pmu_base, &ss->prev->pmu, sizeof(rc->pmu_base));
		rc->w.summary_pmu_base = &rc->pmu_base;
	}
	err = recw_interval(&rc->w, s, final);
	if (err)
		record_fail(rc, err);
}

int cmd_record(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "workload-figure", required_argument, NULL, 'F' },
		{ "device", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ "sample", required_argument, NULL, 'S' },
		{ "no-walk", no_argument, NULL, 'W' },
		{ "bpf-stats", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		SESSION_PMU_LONGOPTS,
		{},
	};
	static const char usage[] =
"Usage: iommutrace record -o FILE [-i SECS] [-d DEV] [--workload-figure NAME=VALUE]...\n"
"                         [-- COMMAND [ARGS]]\n"
"Record per-interval IOMMU aggregates, the IOMMU's hardware counters (where it\n"
"has a PMU), fault events and the system's IOMMU setup into a compressed,\n"
"versioned file for `report` and `compare`.\n"
"  -o, --output FILE    the recording (overwritten)\n"
"  -i, --interval SECS  one record per SECS seconds (default 1)\n"
"  -d, --device DEV     only this device or driver\n"
"  -c, --count N        stop after N intervals\n"
"  -F, --workload-figure NAME=VALUE  the workload's own figure (IOPS=3225);\n"
"                       NAME=@FILE reads it from FILE once COMMAND ended (the\n"
"                       file's number, or its NAME=value line). Repeatable.\n"
"  -f, -S N, -W, -B     as for stat\n"
SESSION_PMU_HELP
"  -- COMMAND [ARGS]    record while COMMAND runs; exit with its status\n"
"Example:\n"
"  iommutrace record -o lazy.itr -F IOPS=@fio.kv -- sh -c 'fio ... > fio.kv'\n";
	struct it_session_opts o = { .cmd_name = "record", .interval = 1 };
	const char *figure_args[IT_REC_MAX_FIGURES];
	struct it_rec_figure figs[IT_REC_MAX_FIGURES];
	struct record_ctx *rc;
	int opt, ret, nr_figs = 0, i;
	bool existed;
	FILE *probe;

	optind = 0;	/* GNU: also resets the permutation state */
	rc = calloc(1, sizeof(*rc));
	if (!rc)
		return IT_EXIT_ERROR;
	while ((opt = getopt_long(argc, argv, "+o:F:d:i:c:fS:WBh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("%s", usage);
			free(rc);
			return IT_EXIT_OK;
		case 'o':
			rc->path = optarg;
			continue;
		case 'F':
			if (nr_figs == IT_REC_MAX_FIGURES) {
				it_warn("record: at most %d workload figures", IT_REC_MAX_FIGURES);
				free(rc);
				return IT_EXIT_USAGE;
			}
			/* validate the syntax now, read @FILE at the end */
			ret = strstr(optarg, "=@") ? 0 : record_figure_resolve(optarg, &figs[0]);
			if (ret || strchr(optarg, '=') == optarg || !strchr(optarg, '=')) {
				if (!ret)
					it_warn("invalid workload figure '%s' (NAME=NUMBER or "
						"NAME=@FILE)", optarg);
				free(rc);
				return IT_EXIT_USAGE;
			}
			figure_args[nr_figs++] = optarg;
			continue;
		}
		ret = session_parse_opt(&o, opt, optarg, "record");
		if (ret) {
			if (ret < 0)
				fprintf(stderr, "%s", usage);
			free(rc);
			return ret < 0 ? IT_EXIT_USAGE : ret;
		}
	}
	if (!rc->path) {
		it_warn("record: -o FILE is required");
		fprintf(stderr, "%s", usage);
		free(rc);
		return IT_EXIT_USAGE;
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--")) {
			it_warn("record: unexpected argument '%s' (a command goes after --)",
				argv[optind]);
			free(rc);
			return IT_EXIT_USAGE;
		}
		o.cmd = &argv[optind];
	}
	/* fail before tracing, not after the workload ran */
	existed = !access(rc->path, F_OK);
	probe = fopen(rc->path, "ab");
	if (!probe) {
		it_warn("record: cannot write %s: %s", rc->path, strerror(errno));
		free(rc);
		return IT_EXIT_USAGE;
	}
	fclose(probe);
	rc->interval = o.interval;
	rc->cmd = o.cmd;
	o.copts.on_fault = record_fault;
	o.copts.fault_ctx = rc;
	ret = session_run(&o, record_tick, rc);
	if (!rc->opened) {
		/* no session, no file: leave no empty one behind */
		if (!existed)
			unlink(rc->path);
		free(rc);
		return ret ? ret : IT_EXIT_ERROR;
	}
	for (i = 0; i < nr_figs; i++) {
		int r = record_figure_resolve(figure_args[i], &figs[i]);

		if (r) {
			/* keep the recording: compare --workload-figure can supply it */
			memmove(&figure_args[i], &figure_args[i + 1],
				(nr_figs - i - 1) * sizeof(figure_args[0]));
			nr_figs--;
			i--;
		}
	}
	if (!rc->failed && nr_figs && (i = recw_figures(&rc->w, figs, nr_figs)))
		record_fail(rc, i);
	if (!rc->failed && (i = recw_close(&rc->w)))
		record_fail(rc, i);
	else if (rc->failed)
		recw_abort(&rc->w);
	if (rc->failed && !ret)
		ret = IT_EXIT_ERROR;
	free(rc);
	return ret;
}

/* ------------------------------------------------------------ report */

struct report_ctx {
	const char *path;
	const char *device;
	bool json, intervals;
	int hist_kind;
};

static void report_render(const struct report_ctx *rp, const struct it_snapshot *s,
			  const char *header, bool rates)
{
	struct it_render_opts ro = {
		.device = rp->device, .rates = rates, .header = header, .source = rp->path,
	};

	if (rp->hist_kind < 0) {
		if (rp->json)
			render_json(stdout, s, &ro);
		else
			render_table(stdout, s, &ro);
	} else {
		if (rp->json)
			render_hists_json(stdout, s, rp->hist_kind, &ro);
		else
			render_hists(stdout, s, rp->hist_kind, &ro);
	}
}

static void report_interval(void *ctx, const struct it_snapshot *s, int index)
{
	const struct report_ctx *rp = ctx;
	char hdr[64];

	if (!rp->intervals)
		return;
	snprintf(hdr, sizeof(hdr), "--- interval %d ---", index + 1);
	report_render(rp, s, rp->json ? NULL : hdr, true);
}

static void report_header(const struct it_recording *r, const char *path, char *buf, size_t size)
{
	char when[32] = "?";
	time_t t = (time_t)r->meta.wall_start;
	struct tm tm;
	int n;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	n = snprintf(buf, size,
		 "recording %s: %s, kernel %s, %s IOMMU%s%s%s, mode %s, %d hooks, %.1fs in %d "
		 "intervals, recorded %s%s%s", path, r->meta.host, r->meta.kernel, r->meta.vendor,
		 r->meta.units[0] ? " (" : "", r->meta.units, r->meta.units[0] ? ")" : "",
		 r->meta.mode, r->meta.nr_probes, snapshot_seconds(r->summary), r->nr_intervals,
		 when, r->meta.command[0] ? "\ncommand: " : "", r->meta.command);
	/* with counters the table's IOMMU-PMU block speaks; without, say why once */
	if (!r->summary->pmu.nr_rows && n >= 0 && (size_t)n < size) {
		const char *msg = r->summary->pmu.msg[0] ? r->summary->pmu.msg : r->meta.pmu_msg;

		snprintf(buf + n, size - n, "\ncounters: %s", msg[0] ? msg :
			 r->summary->pmu.status != PMU_OK ?
			 pmu_status_name(r->summary->pmu.status) : "none recorded");
	}
}

static void report_faults(const struct it_recording *r, const char *device)
{
	int i;

	if (!r->nr_faults)
		return;
	printf("faults: %d recorded%s\n", r->nr_faults,
	       r->nr_faults > r->nr_faults_kept ? " (first ones listed)" : "");
	for (i = 0; i < r->nr_faults_kept; i++) {
		const struct it_rec_fault *f = &r->faults[i];

		if (!devfilter_match(device, f->device, snapshot_dev_driver(r->summary, f->device)))
			continue;
		printf("  %.6f %-14s %s iova 0x%llx reason 0x%02x%s%s\n", f->t,
		       f->device[0] ? f->device : "unknown", f->is_write ? "write" : "read",
		       (unsigned long long)f->iova, f->reason, f->text[0] ? ": " : "", f->text);
	}
}

/* a reader failure, said once, with the exit code for it */
int record_load_or_warn(const char *path, struct it_recording *r, it_rec_interval_fn fn,
			void *ctx)
{
	struct it_rec_error err;
	int kind = rec_load(path, r, fn, ctx, &err);

	if (!kind)
		return 0;
	if (kind == IT_REC_EIO || strstr(err.msg, "offset"))
		it_warn("%s: %s", path, err.msg);
	else
		it_warn("%s: %s (at offset %zu)", path, err.msg, err.offset);
	rec_free(r);
	return kind == IT_REC_EIO && !strncmp(err.msg, "cannot open", 11) ? IT_EXIT_USAGE :
		IT_EXIT_BAD_FILE;
}

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "op", required_argument, NULL, 'o' },
		{ "device", required_argument, NULL, 'd' },
		{ "intervals", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct report_ctx rp = { .hist_kind = -1 };
	struct it_recording r;
	char header[1280];
	int opt, ret;

	optind = 0;	/* GNU: also resets the permutation state */
	while ((opt = getopt_long(argc, argv, "jo:d:ah", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j': rp.json = true; break;
		case 'a': rp.intervals = true; break;
		case 'd': rp.device = optarg; break;
		case 'o':
			rp.hist_kind = hist_kind_by_name(optarg);
			if (rp.hist_kind < 0) {
				it_warn("report: unknown histogram '%s' (map, unmap, dma_map, "
					"dma_unmap, iova, iova_slow, flush, inv, size, pagesize)",
					optarg);
				return IT_EXIT_USAGE;
			}
			break;
		case 'h':
			printf("Usage: iommutrace report FILE [-j] [-o OP] [-d DEV] [-a]\n"
			       "The tables and histograms of stat/hist, from a recording.\n"
			       "  -j, --json       JSON (\"source\" is FILE)\n"
			       "  -o, --op OP      a histogram instead of the table (as hist -o)\n"
			       "  -d, --device DEV only this device or driver\n"
			       "  -a, --intervals  every interval (per-second rates), then the whole run\n"
			       "Exit code 9: FILE is truncated, corrupt, not a recording or newer.\n");
			return IT_EXIT_OK;
		default:
			return IT_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		it_warn("report: %s", optind < argc ? "one recording file, please" :
			"which recording? (report FILE)");
		return IT_EXIT_USAGE;
	}
	rp.path = argv[optind];
	/* validate the whole file before printing any interval of it */
	ret = record_load_or_warn(rp.path, &r, NULL, NULL);
	if (ret)
		return ret;
	if (rp.intervals) {
		rec_free(&r);
		ret = record_load_or_warn(rp.path, &r, report_interval, &rp);
		if (ret)
			return ret;
	}
	report_header(&r, rp.path, header, sizeof(header));
	if (rp.intervals && !rp.json)
		printf("--- whole run ---\n");
	report_render(&rp, r.summary, rp.json ? NULL : header, false);
	if (!rp.json)
		report_faults(&r, rp.device);
	rec_free(&r);
	return IT_EXIT_OK;
}
