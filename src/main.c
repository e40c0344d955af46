// SPDX-License-Identifier: GPL-2.0
/* iommutrace: what the Linux IOMMU costs and where it faults. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "common.h"
#include "subcommands.h"

struct it_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct it_command commands[] = {
	{ "stat", cmd_stat, "per-device map/unmap counts, bytes, latency, rcache hits, flushes" },
	{ "top", cmd_top, "live per-device view: map rates, MB/s, p99 latency, invalidations/s, faults" },
	{ "hist", cmd_hist, "log2 histograms per device (latency, sizes, page sizes)" },
	{ "info", cmd_info, "IOMMU topology: units, groups, reserved regions, faults (ACPI DMAR/IVRS + sysfs)" },
	{ "faults", cmd_faults, "every IOMMU fault, decoded, with the page-table walk; summary" },
	{ "probes", cmd_probes, "which hook attaches as what on this kernel, and why not" },
	{ "pmu", cmd_pmu, "hardware IOMMU counters via perf: IOTLB hit %, misses/s (where the IOMMU has a PMU)" },
	{ "record", cmd_record, "record per-interval aggregates, faults and IOMMU setup to a file" },
	{ "report", cmd_report, "stat/hist tables and histograms from a recording" },
	{ "compare", cmd_compare, "two recordings (or --live: one group in both modes) side by side" },
	{ "leaks", cmd_leaks, "DMA mappings outstanding now, per device and mapper stack, with age" },
	{ "export", cmd_export, "Prometheus exporter: per-device metrics on http://127.0.0.1:19120/metrics" },
};

static void usage(FILE *f)
{
	unsigned int i;

	fprintf(f, "Usage: iommutrace [-v] COMMAND [OPTIONS]\n\nCommands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n`iommutrace COMMAND -h` shows a command's options.\n"
		"  -v   libbpf messages on stderr (-vv: debug)\n\n"
		"Exit codes:\n"
		"  0 ok   1 runtime error   2 usage error (option, argument, unknown device)\n"
		"  3 not privileged (root or CAP_BPF+CAP_PERFMON)   4 kernel without BTF\n"
		"  5 no IOMMU translating (none present or disabled)   6 passthrough (iommu=pt)\n"
		"  7 no probe could attach   8 malformed ACPI table   9 bad recording file\n"
		"  10 bad --web.config.file (export)\n"
		"  With -- COMMAND: the command's exit status.\n\n"
		"Examples:\n"
		"  iommutrace stat -- fio job.fio     trace while fio runs\n"
		"  iommutrace stat -i 1 -d nvme       per-second table for nvme devices\n"
		"  iommutrace top -d nvme             live per-device view (q quits)\n"
		"  iommutrace hist -o dma_unmap       unmap latency per device (Ctrl-C to print)\n"
		"  iommutrace probes                  what attaches on this kernel\n"
		"  iommutrace info                    IOMMU units, groups and warnings\n"
		"  iommutrace faults --walk           every fault, decoded, with its page-table walk\n"
		"  iommutrace leaks --min-age 60      DMA mappings held for over a minute, with stacks\n");
}

int main(int argc, char **argv)
{
	unsigned int i;

	/*
	 * Huge pages would round the start-up's short-lived blocks (two copies of
	 * the kernel's BTF while libbpf parses it) up to 2 MiB steps of resident
	 * memory where THP is "always" (Debian's kernels): +2 to +3 MiB of peak in
	 * one session of three. A traced command gets them back (session.c).
	 */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	/*
	 * A fixed mmap threshold: glibc raises it to the size of each large block
	 * freed, so the exporter's 2.5 MB expositions (256 devices) and the
	 * snapshots would then stay resident in each HTTP thread's arena. Fixed,
	 * blocks over 256 KiB are mapped and go back to the kernel when freed.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	while (argc > 1 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "-v")) {
			it_verbose = 1;
		} else if (!strcmp(argv[1], "-vv")) {
			it_verbose = 2;
		} else if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			usage(stdout);
			return IT_EXIT_OK;
		} else {
			it_warn("unknown option '%s'", argv[1]);
			usage(stderr);
			return IT_EXIT_USAGE;
		}
		argc--;
		argv++;
	}
	if (argc < 2) {
		usage(stderr);
		return IT_EXIT_USAGE;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	it_warn("unknown command '%s'", argv[1]);
	usage(stderr);
	return IT_EXIT_USAGE;
}
