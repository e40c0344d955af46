/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The BPF object for BPF_PROG_TEST_RUN on the host (tests/bpf, bench/micro):
 * only raw_tp/it_test and the raw_tp twins of the tracepoint hooks load, with
 * the tunables a caller sets between open and load.
 */
#ifndef IT_TESTSKEL_H
#define IT_TESTSKEL_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector.h"
#include "probes.h"
#include "iommutrace.skel.h"

/* Opened, every program but the test-run ones switched off; NULL: errno says why */
static inline struct iommutrace_bpf *testskel_open(void)
{
	struct iommutrace_bpf *skel;
	struct bpf_program *prog;
	struct it_probes p;
	bool percpu_ksyms = false;

	/* the object this kernel can load, as the collector picks it */
	if (!probes_init(&p, IT_VENDOR_GENERIC, false))
		percpu_ksyms = p.caps.percpu_ksyms;
	probes_free(&p);
	skel = collector_skel_open(percpu_ksyms);
	if (!skel)
		return NULL;
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	bpf_program__set_autoload(skel->progs.it_test, true);
	bpf_program__set_autoload(skel->progs.raw_tp__map, true);
	bpf_program__set_autoload(skel->progs.raw_tp__unmap, true);
	bpf_program__set_autoload(skel->progs.raw_tp__io_page_fault, true);
	/* each test call is a syscall of its own: no stack to tell returned calls by */
	skel->rodata->prune_scopes = false;
	return skel;
}

/* Loads @*skel (destroyed and NULL on failure) and points @col at it, to read the maps */
static inline int testskel_load(struct iommutrace_bpf **skel, struct it_collector *col)
{
	int err = iommutrace_bpf__load(*skel);

	if (err) {
		iommutrace_bpf__destroy(*skel);
		*skel = NULL;
		return err;
	}
	/* armed long ago: every unpaired half counts */
	(*skel)->bss->armed_ns = 1;
	if (col) {
		memset(col, 0, sizeof(*col));
		col->skel = *skel;
		col->nr_cpus = libbpf_num_possible_cpus();
		col->stats_fd = -1;
		col->data_fd = -1;
	}
	return 0;
}

/* One test run of @prog with three u64 arguments; its return value in @ret */
static inline int testskel_run(struct bpf_program *prog, __u64 a0, __u64 a1, __u64 a2,
			       long *ret)
{
	__u64 args[3] = { a0, a1, a2 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = sizeof(args));
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	if (err)
		printf("# test_run %s: %s\n", bpf_program__name(prog), strerror(errno));
	if (ret)
		*ret = err ? -1000 - errno : (int)opts.retval;
	return err;
}

#endif
