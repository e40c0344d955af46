/* SPDX-License-Identifier: GPL-2.0 */
/* Loads and attaches the BPF side, and reads its maps into snapshots. */
#ifndef IT_COLLECTOR_H
#define IT_COLLECTOR_H

#include "iommutrace.h"
#include "model.h"
#include "pmu.h"
#include "probes.h"
#include "sysinfo.h"

struct iommutrace_bpf;
struct ring_buffer;

typedef int (*it_fault_cb)(void *ctx, const struct it_fault_event *e);

struct it_collector_opts {
	unsigned int sample_every;	/* time 1 in N ops; 0 or 1: all */
	bool bpf_stats;			/* kernel.bpf_stats_enabled while open */
	bool no_walk;			/* skip the page-size walk on maps (--deep) */
	bool deep;			/* every hook, every layer timed, walker on maps */
	bool twins;			/* --lossless: spare copies of the hot hooks */
	bool leaks;			/* track outstanding mappings (src/leaks.c) */
	bool test_progs;		/* load the it_test program (tests/bpf) */
	bool no_attach;			/* load only */
	bool no_pmu;			/* leave the hardware counters closed */
	bool share;			/* the daemon: pin the maps for other sessions */
	bool own;			/* never read a daemon's maps: attach our own */
	const char *pmu_root;		/* sysfs root of the PMU descriptions; NULL live */
	const char *pmu_device;		/* per-device counters only for these (-d) */
	it_fault_cb on_fault;
	void *fault_ctx;
};

struct it_collector {
	struct iommutrace_bpf *skel;
	struct it_probes probes;
	struct it_sysinfo sys;
	struct ring_buffer *faults;
	int nr_cpus;
	int stats_fd;
	double t_open;
	void *percpu_buf;
	size_t percpu_buf_size;
	struct it_role_view roles[IT_ROLE_MAX];	/* once attached */
	/* reading a daemon's pinned maps (src/pin.c) instead of our own hooks */
	bool shared;
	bool shared_pinned;		/* we are the daemon and pinned them */
	struct it_shared_meta shared_meta;
	int data_fd;			/* shared: the daemon's .data (next_slot) */
	struct it_snapshot *base, *raw;	/* shared: counts when we opened, scratch */
	struct it_devmeta meta[IT_MAX_DEVS];
	double meta_time[IT_MAX_DEVS];
	char fail_msg[256];
	/* hardware counters: model rows and the counters they sum */
	struct pmu_set pmu;
	const char *pmu_device;
	struct {
		int pmu;		/* index into pmu.pmus */
		int rid;		/* PMU_NO_DEVICE: the whole unit */
	} pmu_keys[IT_PMU_MAX_ROWS];
	struct it_pmu_view pmu_view;	/* rows without counts */
	bool pmu_tried[IT_MAX_DEVS];	/* device counters attempted for a slot */
	int pmu_dev_rows;
	double pmu_watch_time;
	struct it_dev pmu_scratch;
};

/* Returns an IT_EXIT_* code; on failure c->fail_msg says why. */
int collector_open(struct it_collector *c, const struct it_collector_opts *o);
/* The attached hooks and their programs, ours or the daemon's (src/pin.c publishes ours) */
int collector_hooks(const struct it_collector *c, struct it_shared_hook *out, int max);
int collector_read(struct it_collector *c, struct it_snapshot *s);
/* Waits up to timeout_ms for fault events; calls opts.on_fault for each. */
int collector_poll_faults(struct it_collector *c, int timeout_ms);
void collector_close(struct it_collector *c);
/* Opens hardware counters for devices seen since the last call (rate-limited). */
void collector_pmu_watch(struct it_collector *c);
/* Checks done before loading anything: privileges and BTF. */
int collector_preflight(char *msg, size_t size);
/* The BPF object for this kernel (probes' caps.percpu_ksyms), opened */
struct iommutrace_bpf *collector_skel_open(bool percpu_ksyms);

#endif
