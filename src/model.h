/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one aggregation model: per-device, per-op counters and histograms as
 * read from the BPF maps (summed over CPUs), plus derived figures. Every
 * subcommand renders snapshots of this model; none reads the maps itself.
 */
#ifndef IT_MODEL_H
#define IT_MODEL_H

#include <stdbool.h>
#include <linux/types.h>

#include "iommutrace.h"
#include "it_hooks.h"
#include "pmu.h"
#include "sysinfo.h"

/*
 * Whether the tracer answers a role's question on this kernel, in this mode.
 * Renderers show an op whose role is not TRACED as "n/a", never as 0.
 */
enum it_role_state {
	IT_ROLE_TRACED,
	IT_ROLE_LEAN_OFF,		/* not in the lean default: --deep */
	IT_ROLE_NOT_TRACEABLE,		/* no hook can serve it on this kernel */
	IT_ROLE_NO_DRIVER,		/* only another IOMMU driver has it */
};

struct it_role_view {
	__u8 state;			/* enum it_role_state */
	char served_by[96];		/* "fq_flush_iotlb (fentry)", when traced */
	char why[160];			/* why not, when not */
};

struct it_dev {
	__u32 slot;
	char name[IT_NAME_LEN];		/* "unknown" for slot 0 */
	struct it_devmeta meta;		/* driver, group, domain_type */
	__u32 flags;
	__u32 owner_pid;
	char owner_comm[IT_COMM_LEN];
	__u32 untraced;			/* 1 << op: no hook counts it here (n/a, not 0) */
	/* outstanding mappings now (--leaks: snapshot.have_leaks) */
	__u64 leak_count, leak_bytes;
	double leak_oldest_s;
	struct it_op_stats ops[IT_OP_MAX];
	struct it_dev_hists hists;
};

#define IT_MAX_HOOKS 48

/* An attached hook and what the kernel says it cost (bpf_stats) */
struct it_hook_stat {
	char name[24];
	char kind[12];
	__u64 runs, run_ns, misses;
};

#define IT_PMU_MAX_ROWS	24
#define IT_PMU_DEV_ROWS	8	/* devices given their own filtered counters */
#define IT_PMU_UNIT_LEN	16

/*
 * Hardware IOMMU counters (src/pmu.c) of one unit: all its requesters, or
 * one device through the PMU's requester filter. Counts are cumulative since
 * t_open, like the BPF counters, so snapshot_delta() treats them alike.
 */
struct it_pmu_row {
	char unit[IT_PMU_UNIT_LEN];	/* dmar0, amd_iommu_1 */
	char device[IT_NAME_LEN];	/* "": every requester of the unit */
	double t_open;			/* CLOCK_MONOTONIC the counters started */
	uint64_t count[PMU_ROLE_MAX];	/* scaled up where multiplexed */
	__u32 have;			/* 1 << role, for each role counted */
	bool multiplexed;		/* part of some count is an estimate */
};

struct it_pmu_view {
	int status;			/* enum pmu_status of the unit counters */
	char msg[PMU_MSG_LEN];		/* why there are none, or what failed */
	int nr_rows;
	struct it_pmu_row rows[IT_PMU_MAX_ROWS];
};

struct it_snapshot {
	double t_start, t_end;		/* CLOCK_MONOTONIC seconds covered */
	int nr_devs;			/* devs[0] is the unattributed slot */
	struct it_dev devs[IT_MAX_DEVS];
	struct it_dev total;
	__u64 lost[IT_LOST_MAX];
	__u64 lost_recursion;		/* programs skipped by the kernel (nesting) */
	__u64 twin_served;		/* --lossless: of those, runs twins made up */
	bool twins;			/* --lossless: hot hooks with spare copies */
	__u64 bpf_run_ns, bpf_run_cnt;	/* from bpf_stats, when enabled */
	int nr_probes;			/* hooks attached */
	bool bpf_stats;			/* runs/run_ns below are meaningful */
	int nr_hooks;
	struct it_hook_stat hooks[IT_MAX_HOOKS];
	char mode[32];			/* IOMMU mode when taken */
	bool have_roles;		/* roles[] filled (live; not in old recordings) */
	__u32 shared_pid;		/* read from this daemon's maps; 0: own hooks */
	bool have_leaks;		/* --leaks: devs[].leak_* are set */
	struct it_role_view roles[IT_ROLE_MAX];
	struct it_pmu_view pmu;		/* nr_rows 0: no hardware counters */
};

const char *it_op_name(int op);
int it_op_by_name(const char *name);	/* -1 if unknown */
int it_op_role(int op);			/* enum it_role whose hooks count it */
const char *it_role_name(int role);	/* "lazy flushes" */
const char *it_role_desc(int role);
const char *it_role_state_name(int state);	/* "traced", "not traceable", ... */

void snapshot_totals(struct it_snapshot *s);
/* the ops no hook traces, from the roles: into every device and the total */
void snapshot_set_roles(struct it_snapshot *s, const struct it_role_view *roles);
bool dev_op_traced(const struct it_dev *d, int op);
/* strict syncs and lazy flushes both counted, where the device's domain needs them */
bool dev_flushes_traced(const struct it_dev *d);
/* out = cur - prev, counters only; metadata from cur. out may not alias. */
void snapshot_delta(const struct it_snapshot *cur, const struct it_snapshot *prev,
		    struct it_snapshot *out);
double snapshot_seconds(const struct it_snapshot *s);
__u64 snapshot_lost_total(const struct it_snapshot *s);

/* log2-bucket histogram: value below which pct % of samples fall (ns or bytes) */
double hist_percentile(const __u64 *hist, int nr, double pct);
__u64 hist_total(const __u64 *hist, int nr);

/*
 * Derived figures, computed here only. One rule for empty input: a figure
 * with nothing to derive it from (no time, no unmaps, no allocations) is NaN,
 * which every renderer shows as "-" (JSON null), never as 0.
 */
double rate_per_sec(double n, double secs);
double op_avg_ns(const struct it_op_stats *op);
/* latency shown for map/unmap: the DMA-API call when timed, else iommu_map() */
const struct it_op_stats *dev_map_latency(const struct it_dev *d);
const struct it_op_stats *dev_unmap_latency(const struct it_dev *d);
double dev_rcache_hit_pct(const struct it_dev *d);	/* NaN if no allocations or untraced */
__u64 dev_flushes(const struct it_dev *d);		/* strict syncs + lazy flushes */
double dev_flushes_per_unmap(const struct it_dev *d);	/* NaN if no unmap */
__s64 dev_live_bytes(const struct it_dev *d);		/* mapped - unmapped */
double dev_freed_per_flush(const struct it_dev *d);	/* NaN if no lazy flush or untraced */
bool dev_has_activity(const struct it_dev *d);
/* -d DEV (src/devfilter.h) */
bool dev_matches(const struct it_dev *d, const char *filter);
/* the bound driver of a device of @s by name; "" if none or unknown */
const char *snapshot_dev_driver(const struct it_snapshot *s, const char *name);

/* hardware counter figures (NaN where not counted); false if no such row */
bool pmu_row_figures(const struct it_snapshot *s, const struct it_pmu_row *r,
		     struct pmu_figures *f);
bool snapshot_pmu_dev_figures(const struct it_snapshot *s, const char *device,
			      struct pmu_figures *f);
/* IOTLB lookups/hits/misses of a row, derived where the hardware counts two */
bool pmu_row_iotlb(const struct it_pmu_row *r, uint64_t *lookups, uint64_t *hits,
		   uint64_t *misses);
/* every unit's unfiltered counters summed */
bool snapshot_pmu_total(const struct it_snapshot *s, struct pmu_figures *f);

#endif
