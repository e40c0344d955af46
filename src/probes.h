/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Probe selection: which kernel function or tracepoint each hook attaches to on
 * the running kernel, and as what (fentry > kprobe > tracepoint kinds).
 * All per-kernel differences live here.
 */
#ifndef IT_PROBES_H
#define IT_PROBES_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

#include "it_hooks.h"
#include "model.h"

struct bpf_object;
struct bpf_program;
struct bpf_link;
struct json_writer;

enum it_kind {
	IT_KIND_NONE,
	IT_KIND_FENTRY,		/* fentry/fexit */
	IT_KIND_KPROBE,		/* kprobe/kretprobe */
	IT_KIND_TP_BTF,
	IT_KIND_RAW_TP,
	IT_KIND_TRACEPOINT,
};

struct it_hook;
struct it_tp;

/* Why a hook is (not) attached, from the best case down */
enum it_probe_state {
	IT_PROBE_UNTRACEABLE,		/* exists here; attached unless every kind failed */
	IT_PROBE_MISSING,		/* no candidate function in this kernel */
	IT_PROBE_OFF,			/* not in this mode, or a fallback not needed */
	IT_PROBE_WRONG_DRIVER,		/* belongs to another IOMMU's driver */
};

/* A hook's programs: entry, exit, then the twins of each (bpf/iommutrace.bpf.c) */
enum { IT_PROG_ENTRY, IT_PROG_EXIT, IT_PROG_ENTRY_TWIN, IT_PROG_EXIT_TWIN, IT_PROBE_PROGS };

struct it_probe {
	const char *name;		/* hook name, suffix of the program names */
	int role;			/* enum it_role */
	unsigned int flags;		/* IT_HF_* */
	const struct it_hook *hook;	/* function hook, or */
	const struct it_tp *tp;		/* tracepoint */
	enum it_probe_state state;
	enum it_kind kind;		/* chosen, then attached (NONE if not) */
	char target[64];		/* resolved symbol: may be a .isra clone */
	char why[160];			/* why not attached, or a note */
	char failure[96];		/* last load or attach failure */
	bool kind_failed[IT_KIND_TRACEPOINT + 1];
	bool twin_failed;		/* its twins did not load: attached without */
	/* entry, exit, and their twins (spare copies): valid while the object lives */
	struct bpf_program *progs[IT_PROBE_PROGS];
	char prog_names[IT_PROBE_PROGS][48];
	struct bpf_link *links[IT_PROBE_PROGS];
	unsigned int prog_ids[IT_PROBE_PROGS];	/* of the attached programs, else 0 */
};

/* What the running kernel offers, gathered once. */
struct it_kernel_caps {
	bool fentry;			/* false once the kernel refused one */
	bool kprobes;
	bool ftrace_list;		/* available_filter_functions was readable */
	bool direct_users;		/* VFIO type1 or iommufd loaded: maps outside the DMA API */
	bool percpu_ksyms;		/* kallsyms lists the per-CPU preempt count */
	unsigned long long page_offset_base;	/* address of the variable; 0: not listed */
	int vendor;			/* enum it_vendor of the active IOMMU */
	char release[64];
};

struct it_probes {
	struct it_probe *probes;
	int nr;
	bool deep;			/* --deep: every hook, every layer timed */
	bool twins;			/* attach the hot hooks' spare copies */
	bool attached;			/* probes_attach() ran (else: what would attach) */
	struct it_kernel_caps caps;
	unsigned int walker_structs;	/* 1 << IT_WS_*: the walker's structs in BTF */
};

int probes_init(struct it_probes *p, int vendor, bool deep);
void probes_free(struct it_probes *p);
/* autoload and attach targets for one load attempt */
int probes_configure(struct it_probes *p, struct bpf_object *obj);
/* a load failed: demote the program named @prog (or fentry as a whole) */
bool probes_demote(struct it_probes *p, const char *prog, int err);
int probes_attach(struct it_probes *p);
/* The twin slots of probe @i (bpf/iommutrace.bpf.c IT_TWIN_*): how many */
int probes_twin_slots(const struct it_probes *p, int i, __u32 slots[2]);
int probes_nr_attached(const struct it_probes *p);
const char *probe_kind_str(enum it_kind kind);
void probes_print(const struct it_probes *p, FILE *f);
void probes_json(const struct it_probes *p, struct json_writer *jw);
/* walker support of the running kernel, from its BTF */
const char *probes_walker_status(const struct it_probes *p);
/* every role's state once attached (or loaded, for a dry run) */
void probes_roles(const struct it_probes *p, struct it_role_view roles[IT_ROLE_MAX]);
/* the "roles" array of every JSON output */
void roles_json(const struct it_role_view *roles, struct json_writer *jw);

#endif
