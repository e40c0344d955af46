/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hardware IOMMU performance counters through perf_event_open().
 *
 * Intel VT-d units with the perfmon capability (Linux 6.3+) register one
 * perf PMU per remapping unit, "dmar<N>"; AMD IOMMUs with performance
 * counters register "amd_iommu_<N>". Both describe themselves in
 * /sys/bus/event_source/devices/<pmu>/: "type" (the perf_event_attr.type),
 * "cpumask" (the CPU the counters must be opened on), "format/<field>" (which
 * bits of config/config1/config2 a field occupies) and "events/<alias>" (named
 * events as field assignments). Everything here is built from those files,
 * so a kernel that moves a field moves our encoding with it.
 *
 * Nothing in this file is fatal: an absent PMU, a refused perf_event_open or a
 * malformed description ends in a status and one plain sentence for the user
 * (pmu_status_str), and the rest of iommutrace carries on without counters.
 */
#ifndef IT_PMU_H
#define IT_PMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/perf_event.h>

#define PMU_NAME_LEN	32
#define PMU_SPEC_LEN	128
#define PMU_MSG_LEN	320
#define PMU_MAX_FIELDS	32
#define PMU_MAX_EVENTS	96
#define PMU_CONFIG_WORDS 3	/* config, config1, config2 */
#define PMU_NO_DEVICE	(-1)	/* pmu_request.rid: count every requester */

enum pmu_vendor {
	PMU_VENDOR_INTEL,	/* dmar<N> */
	PMU_VENDOR_AMD,		/* amd_iommu_<N> */
};

enum pmu_status {
	PMU_OK = 0,
	PMU_NO_PMU,		/* no dmar* / amd_iommu_* event source */
	PMU_MALFORMED,		/* every IOMMU PMU had an unusable description */
	PMU_DENIED,		/* EACCES/EPERM: perf_event_paranoid, capabilities */
	PMU_GONE,		/* ENOENT/ENODEV: the PMU vanished or the type is stale */
	PMU_BUSY,		/* ENOSPC/EBUSY: no free hardware counter */
	PMU_REFUSED,		/* EINVAL/EOPNOTSUPP: the PMU rejected the attr */
	PMU_BAD_EVENT,		/* the requested event spec cannot be encoded */
	PMU_SYS_ERROR,		/* anything else (EMFILE, ENOMEM, ...) */
};

/* One format/<name> file: which bits of which config word it occupies. */
struct pmu_field {
	char name[PMU_NAME_LEN];
	char spec[PMU_SPEC_LEN];	/* as read, e.g. "config1:16-31" */
	int word;			/* 0 config, 1 config1, 2 config2 */
	uint64_t mask;
};

/* One events/<name> file: a named list of field assignments. */
struct pmu_alias {
	char name[PMU_NAME_LEN];
	char terms[PMU_SPEC_LEN];	/* e.g. "event_group=0x3,event=0x002" */
};

struct pmu_desc {
	char name[PMU_NAME_LEN];
	enum pmu_vendor vendor;
	int unit;			/* N of dmar<N> / amd_iommu_<N> */
	uint32_t type;
	int cpu;			/* first CPU of cpumask */
	bool cpumask_missing;		/* no cpumask file: cpu 0 assumed */
	int nr_fields;
	struct pmu_field fields[PMU_MAX_FIELDS];
	int nr_aliases;
	struct pmu_alias aliases[PMU_MAX_EVENTS];
};

/* What a curated counter contributes to the derived figures. */
enum pmu_role {
	PMU_ROLE_NONE,		/* user-requested event: shown, not derived */
	PMU_ROLE_CLOCKS,	/* Intel iommu_clocks */
	PMU_ROLE_REQUESTS,	/* translation requests */
	PMU_ROLE_LOOKUPS,	/* IOTLB lookups (Intel) */
	PMU_ROLE_HITS,		/* IOTLB hits */
	PMU_ROLE_MISSES,	/* IOTLB misses (AMD counts them directly) */
	PMU_ROLE_PDE_HITS,	/* AMD page-directory cache */
	PMU_ROLE_PDE_MISSES,
	PMU_ROLE_WALK_OCC,	/* Intel pw_occupancy: walks in flight per clock */
	PMU_ROLE_PT_READS,	/* AMD page_tbl_read_tot */
	PMU_ROLE_INVAL,		/* AMD tlb_inv */
	PMU_ROLE_MAX,
};

/* A curated event: the perf alias and what it means for the figures. */
struct pmu_curated {
	enum pmu_vendor vendor;
	const char *alias;
	enum pmu_role role;
};

/*
 * What to count. pmu NULL means every IOMMU PMU that knows the event; event is
 * in perf syntax ("iotlb_hit", "event=0x2,event_group=0x0", or an alias plus
 * terms: "iotlb_hit,filter_requester_id=0x18"). rid, unless PMU_NO_DEVICE,
 * adds the PMU's own device filter (Intel filter_requester_id, AMD devid).
 */
struct pmu_request {
	const char *pmu;
	const char *event;
	int rid;
	enum pmu_role role;
};

struct pmu_counter {
	int pmu;			/* index into pmu_set.pmus */
	char event[PMU_SPEC_LEN];
	int rid;
	enum pmu_role role;
	struct perf_event_attr attr;
	int fd;
	uint64_t raw, enabled, running;	/* last read() */
	uint64_t delta;			/* scaled for multiplexing, last interval */
	uint64_t total;			/* sum of deltas since opened */
	bool multiplexed;		/* running < enabled in the last interval */
	bool ever_multiplexed;		/* ... in any interval since opened */
};

struct pmu_rejected {
	char name[PMU_NAME_LEN];
	char why[PMU_MSG_LEN];
};

struct pmu_set {
	char root[256];
	int nr_pmus;
	struct pmu_desc *pmus;
	int nr_rejected;
	struct pmu_rejected *rejected;
	int nr_counters;
	struct pmu_counter *counters;
	uint64_t last_ns;		/* CLOCK_MONOTONIC of the last read */
	double interval_s;		/* between the last two reads */
	enum pmu_status status;
	char msg[PMU_MSG_LEN];
};

/*
 * Derived figures for one unit (or all units summed). NaN where the hardware
 * does not count the input. IOTLB misses start page walks one for one, so
 * misses_per_s is also the page-walk rate; the walk *cost* shows as
 * walks_in_flight (Intel) or pt_reads_per_s (AMD).
 */
struct pmu_figures {
	double seconds;
	double requests_per_s;
	double lookups_per_s;
	double hit_pct;			/* IOTLB hit % */
	double misses_per_s;		/* IOTLB misses = page walks started */
	double pde_hit_pct;		/* AMD page-directory cache hit % */
	double walks_in_flight;		/* Intel: pw_occupancy / iommu_clocks */
	double pt_reads_per_s;		/* AMD: page-table reads */
	double inval_per_s;		/* AMD: IOTLB invalidations */
	bool multiplexed;		/* some input was sampled, not counted */
};

/* sysfs parsing (pure; exposed for tests and fuzzing) */
int pmu_format_parse(const char *spec, struct pmu_field *out,
		     char *err, size_t errlen);
bool pmu_name_match(const char *name, enum pmu_vendor *vendor, int *unit);
const struct pmu_field *pmu_field_find(const struct pmu_desc *pmu,
				       const char *name);
const struct pmu_alias *pmu_alias_find(const struct pmu_desc *pmu,
				       const char *name);

/* discovery: <root>/sys/bus/event_source/devices; root "" or "/" is live */
int pmu_discover(const char *root, struct pmu_set *out);
int pmu_find(const struct pmu_set *set, const char *name);

/* encoding */
int pmu_attr_from_event(const struct pmu_desc *pmu, const char *event_spec,
			struct perf_event_attr *attr, char *err, size_t errlen);
int pmu_attr_add_device(const struct pmu_desc *pmu, int rid,
			struct perf_event_attr *attr, char *err, size_t errlen);
int pmu_parse_bdf(const char *s, int *rid);
int pmu_device_unit(const char *root, const char *bdf, char *pmu_name,
		    size_t len);

/* counting */
int pmu_open_counters(struct pmu_set *set, const struct pmu_request *reqs,
		      int nr_reqs);
int pmu_open_curated(struct pmu_set *set, const char *pmu_name, int rid);
int pmu_open_device(struct pmu_set *set, const char *bdf, char *why, size_t len);
int pmu_read_counters(struct pmu_set *set);
void pmu_close(struct pmu_set *set);
void pmu_set_free(struct pmu_set *set);

/* figures */
const struct pmu_curated *pmu_curated_list(int *nr);
const struct pmu_curated *pmu_curated_find(enum pmu_vendor vendor,
					   const char *alias);
bool pmu_iotlb_counts(const uint64_t d[PMU_ROLE_MAX], const bool have[PMU_ROLE_MAX],
		      uint64_t *lookups, uint64_t *hits, uint64_t *misses);
void pmu_figures_compute(const uint64_t delta[PMU_ROLE_MAX],
			 const bool have[PMU_ROLE_MAX], double seconds,
			 struct pmu_figures *out);
void pmu_figures_get(const struct pmu_set *set, int pmu, int rid,
		     struct pmu_figures *out);

/* status */
const char *pmu_status_str(const struct pmu_set *set);
const char *pmu_status_name(enum pmu_status status);
enum pmu_status pmu_status_from_errno(int err);
const char *pmu_vendor_name(enum pmu_vendor vendor);
const char *pmu_role_name(enum pmu_role role);

/* the "iommutrace pmu" subcommand (src/pmu_cmd.c) */
int cmd_pmu(int argc, char **argv);

#endif
