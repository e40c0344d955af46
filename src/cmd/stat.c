// SPDX-License-Identifier: GPL-2.0
/* iommutrace stat / hist / probes */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "json.h"
#include "render.h"
#include "session.h"
#include "subcommands.h"

#define SESSION_SHORTOPTS "d:ji:c:fS:WBh"
#define SESSION_LONGOPTS						\
	{ "device", required_argument, NULL, 'd' },			\
	{ "json", no_argument, NULL, 'j' },				\
	{ "interval", required_argument, NULL, 'i' },			\
	{ "count", required_argument, NULL, 'c' },			\
	{ "force", no_argument, NULL, 'f' },				\
	{ "sample", required_argument, NULL, 'S' },			\
	{ "no-walk", no_argument, NULL, 'W' },				\
	{ "bpf-stats", no_argument, NULL, 'B' },			\
	SESSION_PMU_LONGOPTS,						\
	{ "help", no_argument, NULL, 'h' }

static const char session_opts_help[] =
"  -d, --device DEV     only this device (0000:00:04.0, 00:04.0) or driver (nvme)\n"
"  -j, --json           one JSON document per interval and at the end\n"
"  -i, --interval SECS  print every SECS seconds (per-second rates)\n"
"  -c, --count N        stop after N intervals\n"
"  -f, --force          trace even if no IOMMU translates (VFIO, unmanaged domains)\n"
"  -S, --sample N       time 1 in N operations (counts stay exact)\n"
"  -W, --no-walk        skip the page-table walk on each map\n"
"  -B, --bpf-stats      enable kernel.bpf_stats: per-hook runs and run time (JSON)\n"
SESSION_PMU_HELP
"  -- COMMAND [ARGS]    trace while COMMAND runs; exit with its status\n";

struct stat_ctx {
	int hist_kind;		/* -1: table */
};

static void stat_tick(void *ctx, struct it_session *ss, const struct it_snapshot *s, bool final)
{
	struct stat_ctx *sc = ctx;
	struct it_render_opts ro = {
		.device = ss->opts->device,
		.rates = !final,
		.header = ss->opts->json ? NULL : ss->header,
	};

	if (!ss->opts->json && final && ss->opts->interval)
		printf("--- summary ---\n");
	if (sc->hist_kind < 0) {
		if (ss->opts->json)
			render_json(stdout, s, &ro);
		else
			render_table(stdout, s, &ro);
	} else {
		if (ss->opts->json)
			render_hists_json(stdout, s, sc->hist_kind, &ro);
		else
			render_hists(stdout, s, sc->hist_kind, &ro);
	}
}

static int session_cmd(int argc, char **argv, const char *name, const char *usage,
		       bool with_hist)
{
	static const struct option longopts[] = {
		SESSION_LONGOPTS,
		{ "op", required_argument, NULL, 'o' },
		{},
	};
	struct it_session_opts o = { .cmd_name = name };
	struct stat_ctx sc = { .hist_kind = with_hist ? IT_HIST_DMA_MAP : -1 };
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, with_hist ? "+" SESSION_SHORTOPTS "o:" :
				  "+" SESSION_SHORTOPTS, longopts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s%s", usage, session_opts_help);
			return IT_EXIT_OK;
		}
		if (opt == 'o' && with_hist) {
			sc.hist_kind = hist_kind_by_name(optarg);
			if (sc.hist_kind < 0) {
				it_warn("%s: unknown histogram '%s' (map, unmap, dma_map, dma_unmap, "
					"iova, iova_slow, flush, inv, size, pagesize)", name, optarg);
				return IT_EXIT_USAGE;
			}
			continue;
		}
		ret = session_parse_opt(&o, opt, optarg, name);
		if (ret < 0) {
			fprintf(stderr, "%s%s", usage, session_opts_help);
			return IT_EXIT_USAGE;
		}
		if (ret)
			return ret;
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--")) {
			it_warn("%s: unexpected argument '%s' (a command goes after --)", name,
				argv[optind]);
			return IT_EXIT_USAGE;
		}
		o.cmd = &argv[optind];
	}
	/* histograms of the layers below the DMA API exist in --deep only */
	if (sc.hist_kind >= 0 && hist_kind_deep(sc.hist_kind) && !o.copts.deep) {
		it_warn("%s: the %s histogram needs --deep: tracing with it", name,
			hist_kind_name(sc.hist_kind));
		o.copts.deep = true;
	}
	return session_run(&o, stat_tick, &sc);
}

int cmd_stat(int argc, char **argv)
{
	return session_cmd(argc, argv, "stat",
		"Usage: iommutrace stat [-d DEV] [-j] [-i SECS] [-c N] [-- COMMAND [ARGS]]\n"
		"Per-device IOMMU map/unmap counts, bytes, latency, IOVA rcache hits, flushes.\n",
		false);
}

int cmd_hist(int argc, char **argv)
{
	return session_cmd(argc, argv, "hist",
		"Usage: iommutrace hist [-o OP] [-d DEV] [-j] [-i SECS] [-c N] [-- COMMAND]\n"
		"Log2 histograms per device. OP: dma_map (default), dma_unmap, map, unmap,\n"
		"iova, iova_slow, flush, inv (latency, ns); size (bytes per map); pagesize\n"
		"(leaf page size of each map, from the page-table walker).\n"
		"  -o, --op OP          which histogram\n",
		true);
}

int cmd_probes(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "deep", no_argument, NULL, IT_OPT_DEEP },
		{ "lossless", no_argument, NULL, IT_OPT_LOSSLESS },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct it_collector_opts co = {};
	struct it_collector col;
	bool json = false;
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jnh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'n': co.no_attach = true; break;
		case IT_OPT_DEEP: co.deep = true; break;
		case IT_OPT_LOSSLESS: co.twins = true; break;
		case 'h':
			printf("Usage: iommutrace probes [-j] [-n] [--deep] [--lossless]\n"
			       "Every role (a question the tracer answers: lazy flushes, DMA-API\n"
			       "maps...) and which hooks serve it on this kernel, or why none can;\n"
			       "then every hook, the kind it attaches as (fentry, kprobe, tp_btf,\n"
			       "raw_tp, tracepoint), or why it cannot.\n"
			       "  -j, --json     JSON\n"
			       "  -n, --dry-run  load but do not attach\n"
			       "      --deep     the hooks of --deep instead of the lean default\n"
			       "      --lossless with the hot hooks' twins (see stat --help)\n");
			return IT_EXIT_OK;
		default:
			return IT_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		it_warn("probes: unexpected argument '%s'", argv[optind]);
		return IT_EXIT_USAGE;
	}
	co.no_pmu = true;	/* listing hooks: no counters wanted */
	ret = collector_open(&col, &co);
	if (ret && ret != IT_EXIT_NO_PROBES) {
		it_warn("%s", col.fail_msg);
		collector_close(&col);
		return ret;
	}
	if (json) {
		struct json_writer jw;

		jw_init(&jw, stdout);
		jw_begin_object(&jw, NULL);
		jw_string(&jw, "kernel", col.probes.caps.release);
		jw_bool(&jw, "fentry", col.probes.caps.fentry);
		jw_bool(&jw, "kprobes", col.probes.caps.kprobes);
		jw_string(&jw, "iommu", sysinfo_xlate_message(&col.sys));
		jw_string(&jw, "walker", probes_walker_status(&col.probes));
		jw_i64(&jw, "attached", probes_nr_attached(&col.probes));
		probes_json(&col.probes, &jw);
		jw_end_object(&jw);
		jw_finish(&jw);
	} else {
		printf("%s\n", sysinfo_xlate_message(&col.sys));
		probes_print(&col.probes, stdout);
		if (ret)
			it_warn("%s", col.fail_msg);
	}
	collector_close(&col);
	return ret;
}
