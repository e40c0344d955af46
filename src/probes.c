// SPDX-License-Identifier: GPL-2.0
/*
 * Resolve every hook against the running kernel. A function can be missing
 * (older or newer kernel), renamed (iommu_dma_map_page -> iommu_dma_map_phys),
 * inlined (in BTF but not in kallsyms), cloned (.isra/.constprop: kprobe only),
 * or untraceable (notrace). One missing function only disables its own hook.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "iommutrace.h"
#include "json.h"
#include "probes.h"

struct it_hook {
	const char *name;
	int role;			/* enum it_role */
	unsigned int flags;		/* IT_HF_* */
	int vendor;			/* IT_VENDOR_GENERIC: any IOMMU */
	const char *targets[3];		/* candidates, newest name first */
};

struct it_tp {
	const char *name;
	int role;
	unsigned int flags;
	const char *category;
	bool has_classic;		/* a tracepoint/ twin exists */
};

#define IT_HOOK_ROW(name, role, handler, arg, flags, vendor, ...)		\
	{ #name, IT_ROLE_##role, flags, IT_VENDOR_##vendor, { __VA_ARGS__ } },
static const struct it_hook it_hooks[] = { IT_FUNC_HOOKS(IT_HOOK_ROW) };
#undef IT_HOOK_ROW

#define IT_TP_ROW(name, role, flags, category, classic)			\
	{ #name, IT_ROLE_##role, flags, category, classic },
static const struct it_tp it_tps[] = { IT_TP_HOOKS(IT_TP_ROW) };
#undef IT_TP_ROW

/* a daemon publishes every hook it attached (include/iommutrace.h) */
_Static_assert(sizeof(it_hooks) / sizeof(it_hooks[0]) + sizeof(it_tps) / sizeof(it_tps[0]) <=
	       IT_SHARED_HOOKS, "IT_SHARED_HOOKS holds every hook");

static const char *const kind_names[] = {
	[IT_KIND_NONE] = "none",
	[IT_KIND_FENTRY] = "fentry",
	[IT_KIND_KPROBE] = "kprobe",
	[IT_KIND_TP_BTF] = "tp_btf",
	[IT_KIND_RAW_TP] = "raw_tp",
	[IT_KIND_TRACEPOINT] = "tracepoint",
};

const char *probe_kind_str(enum it_kind kind)
{
	return kind_names[kind];
}

/* ---- kernel facts ---- */

struct sym_state {
	bool in_kallsyms;		/* exact name */
	char clone[64];			/* name.isra.0 and friends, if only a clone exists */
	bool in_ftrace;			/* in available_filter_functions */
	bool in_btf;			/* FUNC (hooks), VAR (data_syms), btf_trace_ TYPEDEF (tps) */
	unsigned long long addr;	/* kallsyms address of the exact name */
};

/*
 * The candidate names in a small open-addressing table: kallsyms has some
 * 200 000 lines and every session scans it (and ftrace's list) once, so each
 * line costs one hash of its base name, not a compare with every candidate.
 */
#define IT_SYM_TABLE	512	/* power of two, > 2 * candidates */

struct sym_table {
	short idx[IT_SYM_TABLE];	/* candidate index + 1; 0: empty */
};

static __u32 sym_hash(const char *s, size_t len)
{
	__u32 h = 2166136261u;	/* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static void sym_table_init(struct sym_table *t, const char **names, int nr)
{
	int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < nr; i++) {
		__u32 h = sym_hash(names[i], strlen(names[i])) & (IT_SYM_TABLE - 1);

		while (t->idx[h])
			h = (h + 1) & (IT_SYM_TABLE - 1);
		t->idx[h] = i + 1;
	}
}

/* Marks every candidate named @base (one name can stand in several hooks) */
static void sym_table_each(const struct sym_table *t, const char **names, const char *base,
			   size_t len, const char *sym, const char *line, struct sym_state *st,
			   bool ftrace)
{
	__u32 h = sym_hash(base, len) & (IT_SYM_TABLE - 1);

	for (; t->idx[h]; h = (h + 1) & (IT_SYM_TABLE - 1)) {
		int i = t->idx[h] - 1;

		if (strlen(names[i]) != len || strncmp(names[i], base, len))
			continue;
		if (ftrace)
			st[i].in_ftrace = true;
		else if (sym[len] == '\0') {
			st[i].in_kallsyms = true;
			st[i].addr = strtoull(line, NULL, 16);
		}
		else if (!st[i].clone[0])
			snprintf(st[i].clone, sizeof(st[i].clone), "%s", sym);
	}
}

/* One pass over a symbol list file for all candidate names. */
static void scan_symbols(const char *path, int field, const char **names, int nr,
			 struct sym_state *st, bool ftrace)
{
	size_t bufsize = 1 << 16;
	FILE *f = fopen(path, "re");
	char line[512], *buf;
	struct sym_table t;

	if (!f)
		return;
	/* 64 KiB reads, not 4 KiB (glibc ignores the size unless given the buffer) */
	buf = malloc(bufsize);
	if (buf)
		setvbuf(f, buf, _IOFBF, bufsize);
	sym_table_init(&t, names, nr);
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *sym;
		size_t len;
		int i;

		for (i = 0; i < field && *p; i++) {
			p += strcspn(p, " \t\n");
			p += strspn(p, " \t");
		}
		sym = p;
		len = strcspn(sym, " \t\n");
		sym[len] = '\0';
		if (!len)
			continue;
		/* .isra.0, .constprop.0, .cold: a clone of the base name */
		sym_table_each(&t, names, sym, strcspn(sym, "."), sym, line, st, ftrace);
	}
	fclose(f);
	free(buf);
}

static const char *tracefs_file(const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "/sys/kernel/tracing/%s", name);
	if (access(buf, R_OK) == 0)
		return buf;
	snprintf(buf, size, "/sys/kernel/debug/tracing/%s", name);
	return buf;
}

static void caps_detect(struct it_kernel_caps *caps, int vendor)
{
	struct utsname u;
	char buf[128];

	caps->fentry = true;
	caps->kprobes = access("/sys/bus/event_source/devices/kprobe/type", R_OK) == 0 ||
			access(tracefs_file("kprobe_events", buf, sizeof(buf)), R_OK) == 0;
	caps->vendor = vendor;
	if (uname(&u) == 0)
		snprintf(caps->release, sizeof(caps->release), "%s", u.release);
}

static bool tracefs_has_event(const char *category, const char *event)
{
	char rel[128], buf[192];

	snprintf(rel, sizeof(rel), "events/%s/%s", category, event);
	return access(tracefs_file(rel, buf, sizeof(buf)), F_OK) == 0;
}

static bool probe_in_mode(const struct it_probes *p, unsigned int flags)
{
	return p->deep || (flags & IT_HF_LEAN);
}

/* Pick the best kind a function hook can have, given what failed before. */
static void hook_choose(struct it_probes *p, struct it_probe *pr, const struct sym_state *st)
{
	const struct it_hook *h = pr->hook;
	const struct sym_state *s = NULL;
	const char *name = NULL;
	int i;

	pr->kind = IT_KIND_NONE;
	pr->target[0] = '\0';
	pr->state = IT_PROBE_WRONG_DRIVER;
	if (h->vendor != IT_VENDOR_GENERIC && h->vendor != p->caps.vendor) {
		snprintf(pr->why, sizeof(pr->why), "not the active IOMMU's driver");
		return;
	}
	pr->state = IT_PROBE_OFF;
	if (!probe_in_mode(p, pr->flags)) {
		snprintf(pr->why, sizeof(pr->why), "--deep only");
		return;
	}
	if (!p->deep && (pr->flags & IT_HF_DIRECT) && !p->caps.direct_users) {
		snprintf(pr->why, sizeof(pr->why), "no VFIO or iommufd loaded: no maps outside the "
			 "DMA API to attribute (--deep attaches it anyway)");
		return;
	}
	pr->state = IT_PROBE_MISSING;
	for (i = 0; i < 3 && h->targets[i]; i++) {
		if (st[i].in_kallsyms || st[i].clone[0]) {
			s = &st[i];
			name = h->targets[i];
			break;
		}
	}
	if (!s) {
		for (i = 0; i < 3 && h->targets[i]; i++) {
			if (st[i].in_btf) {
				snprintf(pr->why, sizeof(pr->why),
					 "%s is inlined (in BTF, not in kallsyms)", h->targets[i]);
				return;
			}
		}
		snprintf(pr->why, sizeof(pr->why), "%s%s%s not in this kernel",
			 h->targets[0], h->targets[1] ? "/" : "", h->targets[1] ? h->targets[1] : "");
		return;
	}
	pr->state = IT_PROBE_UNTRACEABLE;
	if (s->in_kallsyms && p->caps.fentry && !pr->kind_failed[IT_KIND_FENTRY] &&
	    s->in_btf && (!p->caps.ftrace_list || s->in_ftrace)) {
		pr->kind = IT_KIND_FENTRY;
		snprintf(pr->target, sizeof(pr->target), "%s", name);
		return;
	}
	if (p->caps.kprobes && !pr->kind_failed[IT_KIND_KPROBE]) {
		pr->kind = IT_KIND_KPROBE;
		snprintf(pr->target, sizeof(pr->target), "%s", s->in_kallsyms ? name : s->clone);
		if (!s->in_kallsyms)
			snprintf(pr->why, sizeof(pr->why), "only the clone %s exists", s->clone);
		return;
	}
	if (!s->in_kallsyms)
		snprintf(pr->why, sizeof(pr->why), "only the clone %s exists and kprobes are unavailable",
			 s->clone);
	else if (!p->caps.kprobes)
		snprintf(pr->why, sizeof(pr->why), "%s; no kprobes in this kernel",
			 pr->kind_failed[IT_KIND_FENTRY] || !p->caps.fentry ?
			 "fentry refused" : "not traceable by fentry");
	else
		snprintf(pr->why, sizeof(pr->why), "fentry and kprobe both failed");
}

static void tp_choose(struct it_probes *p, struct it_probe *pr, const struct sym_state *st)
{
	const struct it_tp *t = pr->tp;
	bool exists = st->in_btf || tracefs_has_event(t->category, t->name);

	pr->kind = IT_KIND_NONE;
	snprintf(pr->target, sizeof(pr->target), "%s:%s", t->category, t->name);
	pr->state = IT_PROBE_OFF;
	if (!probe_in_mode(p, pr->flags)) {
		snprintf(pr->why, sizeof(pr->why), "--deep only");
		return;
	}
	pr->state = IT_PROBE_MISSING;
	if (!exists) {
		snprintf(pr->why, sizeof(pr->why), "tracepoint %s not in this kernel", pr->target);
		return;
	}
	pr->state = IT_PROBE_UNTRACEABLE;
	if (!pr->kind_failed[IT_KIND_TP_BTF] && st->in_btf)
		pr->kind = IT_KIND_TP_BTF;
	else if (!pr->kind_failed[IT_KIND_RAW_TP])
		pr->kind = IT_KIND_RAW_TP;
	else if (t->has_classic && !pr->kind_failed[IT_KIND_TRACEPOINT])
		pr->kind = IT_KIND_TRACEPOINT;
	else
		snprintf(pr->why, sizeof(pr->why), "every tracepoint kind failed to load");
}

/* per probe: its candidates' facts (a tracepoint: [0] only) */
static struct sym_state (*hook_syms)[3];

/* A primary hook of @role that will attach (as far as can be known before load) */
static const struct it_probe *role_primary(const struct it_probes *p, int role)
{
	int i;

	for (i = 0; i < p->nr; i++) {
		const struct it_probe *pr = &p->probes[i];

		if (pr->role == role && !(pr->flags & IT_HF_FALLBACK) && pr->kind != IT_KIND_NONE)
			return pr;
	}
	return NULL;
}

/*
 * Primary hooks first; a fallback only stands in for a role that no primary
 * hook can serve on this kernel (fq_flush_iotlb inlined: the domain's
 * flush-all callback instead).
 */
static void probes_choose_all(struct it_probes *p)
{
	const struct it_probe *primary;
	int i, pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < p->nr; i++) {
			struct it_probe *pr = &p->probes[i];

			if (!!(pr->flags & IT_HF_FALLBACK) != pass)
				continue;
			pr->why[0] = '\0';
			primary = pass ? role_primary(p, pr->role) : NULL;
			if (primary) {
				pr->kind = IT_KIND_NONE;
				pr->state = IT_PROBE_OFF;
				snprintf(pr->why, sizeof(pr->why), "fallback: %s serves %s",
					 primary->target, it_role_name(pr->role));
			} else if (pr->hook) {
				hook_choose(p, pr, hook_syms[i]);
			} else {
				tp_choose(p, pr, hook_syms[i]);
			}
		}
	}
}

/* Maps outside the DMA API come from VFIO (type1) or iommufd users */
static bool direct_users_loaded(void)
{
	return access("/sys/module/vfio_iommu_type1", F_OK) == 0 ||
	       access("/sys/module/iommufd", F_OK) == 0;
}

/* The structs the page-table walker reads, newest layout first (probes_walker_status) */
static const char *const walker_structs[] = {
	"pt_iommu_vtdss", "dmar_domain", "pt_iommu_amdv1", "amd_io_pgtable",
};
enum { IT_WS_VTDSS, IT_WS_DMAR_DOMAIN, IT_WS_AMDV1, IT_WS_AMD_IO_PGTABLE };

/*
 * Kernel variables the BPF side reads (bpf/iommutrace.bpf.c): the per-CPU
 * preempt count (typed ksyms), and the direct map's base, whose address is
 * passed in rodata so that libbpf need not read kallsyms a second time.
 */
static const char *const data_syms[] = { "__preempt_count", "pcpu_hot", "page_offset_base" };
enum { IT_SYM_PREEMPT_COUNT, IT_SYM_PCPU_HOT, IT_SYM_PAGE_OFFSET_BASE };
#define IT_NR_DATA	((int)ARRAY_SIZE(data_syms))

#define IT_BTF_NAMES	(ARRAY_SIZE(it_hooks) * 3 + IT_NR_DATA + ARRAY_SIZE(it_tps) + \
			 ARRAY_SIZE(walker_structs))
_Static_assert(IT_SYM_TABLE > 2 * IT_BTF_NAMES, "IT_SYM_TABLE too small for the names");

/*
 * Every fact the kernel's BTF holds for us, in one pass over its types: the
 * candidate functions ([0, nf): FUNC), the data_syms (VAR), the tracepoints'
 * btf_trace_ typedefs (TYPEDEF) and the walker's structs (the rest). The
 * BTF (megabytes) is freed here, before libbpf loads its own copy: the two
 * never take memory at once.
 */
static int btf_scan(struct it_probes *p, const char **names, int nf, int nr,
		    struct sym_state *st)
{
	int nt = ARRAY_SIZE(it_tps);
	struct sym_table tab;
	struct btf *btf;
	__u32 id, cnt;
	int i;

	btf = btf__load_vmlinux_btf();
	if (!btf)
		return -errno ? -errno : -ENOENT;
	sym_table_init(&tab, names, nr);
	cnt = btf__type_cnt(btf);
	for (id = 1; id < cnt; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		int kind = btf_kind(t);
		const char *name;
		__u32 h;

		if (kind != BTF_KIND_FUNC && kind != BTF_KIND_VAR && kind != BTF_KIND_TYPEDEF &&
		    kind != BTF_KIND_STRUCT)
			continue;
		name = btf__name_by_offset(btf, t->name_off);
		if (!name || !name[0])
			continue;
		for (h = sym_hash(name, strlen(name)) & (IT_SYM_TABLE - 1); tab.idx[h];
		     h = (h + 1) & (IT_SYM_TABLE - 1)) {
			i = tab.idx[h] - 1;
			if (strcmp(names[i], name))
				continue;
			if (kind == (i < nf ? BTF_KIND_FUNC : i < nf + IT_NR_DATA ? BTF_KIND_VAR :
				     i < nf + IT_NR_DATA + nt ? BTF_KIND_TYPEDEF : BTF_KIND_STRUCT))
				st[i].in_btf = true;
		}
	}
	btf__free(btf);
	for (i = 0; i < (int)ARRAY_SIZE(walker_structs); i++)
		if (st[nf + IT_NR_DATA + nt + i].in_btf)
			p->walker_structs |= 1u << i;
	return 0;
}

/*
 * A typed ksym the kernel's BTF has must be in kallsyms too, or the verifier
 * refuses the program: per-CPU variables are there only with
 * CONFIG_KALLSYMS_ALL. @st: the scans of data_syms.
 */
static bool percpu_ksyms_resolvable(const struct sym_state *st)
{
	return (!st[IT_SYM_PREEMPT_COUNT].in_btf || st[IT_SYM_PREEMPT_COUNT].in_kallsyms) &&
	       (!st[IT_SYM_PCPU_HOT].in_btf || st[IT_SYM_PCPU_HOT].in_kallsyms);
}

struct kallsyms_scan {
	const char **names;
	int nr;
	struct sym_state *st;
};

static void *kallsyms_thread(void *arg)
{
	struct kallsyms_scan *ks = arg;

	scan_symbols("/proc/kallsyms", 2, ks->names, ks->nr, ks->st, false);
	return NULL;
}

int probes_init(struct it_probes *p, int vendor, bool deep)
{
	int nh = ARRAY_SIZE(it_hooks), nt = ARRAY_SIZE(it_tps), i, j, n = 0, nf, err;
	const char *names[IT_BTF_NAMES];
	char tp_names[ARRAY_SIZE(it_tps)][96];
	struct kallsyms_scan ks;
	struct sym_state *flat;
	pthread_t thread;
	bool threaded;
	char buf[128];

	memset(p, 0, sizeof(*p));
	p->nr = nh + nt;
	p->probes = calloc(p->nr, sizeof(*p->probes));
	hook_syms = calloc(p->nr, sizeof(*hook_syms));
	flat = calloc(ARRAY_SIZE(names), sizeof(*flat));
	if (!p->probes || !hook_syms || !flat) {
		free(flat);
		return -ENOMEM;
	}
	p->deep = deep;
	caps_detect(&p->caps, vendor);
	p->caps.direct_users = direct_users_loaded();

	for (i = 0; i < nh; i++)
		for (j = 0; j < 3 && it_hooks[i].targets[j]; j++)
			names[n++] = it_hooks[i].targets[j];
	nf = n;
	for (i = 0; i < IT_NR_DATA; i++)
		names[n++] = data_syms[i];
	for (i = 0; i < nt; i++) {
		snprintf(tp_names[i], sizeof(tp_names[i]), "btf_trace_%s", it_tps[i].name);
		names[n++] = tp_names[i];
	}
	for (i = 0; i < (int)ARRAY_SIZE(walker_structs); i++)
		names[n++] = walker_structs[i];

	/*
	 * /proc/kallsyms is the slowest of the three sources (the kernel formats
	 * ~100 000 lines): read it beside the BTF and ftrace's list. Each source
	 * sets its own fields of flat[].
	 */
	ks = (struct kallsyms_scan){ names, nf + IT_NR_DATA, flat };
	threaded = pthread_create(&thread, NULL, kallsyms_thread, &ks) == 0;
	if (!threaded)
		kallsyms_thread(&ks);
	err = btf_scan(p, names, nf, n, flat);
	p->caps.ftrace_list = access(tracefs_file("available_filter_functions", buf,
						  sizeof(buf)), R_OK) == 0;
	if (!err && p->caps.ftrace_list)
		scan_symbols(buf, 0, names, nf, flat, true);
	if (threaded)
		pthread_join(thread, NULL);
	if (err) {
		free(flat);
		return err;
	}

	for (i = 0, n = 0; i < nh; i++) {
		struct it_probe *pr = &p->probes[i];

		pr->hook = &it_hooks[i];
		pr->name = it_hooks[i].name;
		pr->role = it_hooks[i].role;
		pr->flags = it_hooks[i].flags;
		for (j = 0; j < 3 && it_hooks[i].targets[j]; j++)
			hook_syms[i][j] = flat[n++];
	}
	for (i = 0; i < nt; i++) {
		struct it_probe *pr = &p->probes[nh + i];

		pr->tp = &it_tps[i];
		pr->name = it_tps[i].name;
		pr->role = it_tps[i].role;
		pr->flags = it_tps[i].flags;
		hook_syms[nh + i][0] = flat[nf + IT_NR_DATA + i];
	}
	p->caps.percpu_ksyms = percpu_ksyms_resolvable(&flat[nf]);
	p->caps.page_offset_base = flat[nf + IT_SYM_PAGE_OFFSET_BASE].addr;
	free(flat);
	probes_choose_all(p);
	return 0;
}

static void probes_detach(struct it_probes *p)
{
	int i, j;

	for (i = 0; i < p->nr; i++) {
		for (j = 0; j < IT_PROBE_PROGS; j++) {
			bpf_link__destroy(p->probes[i].links[j]);
			p->probes[i].links[j] = NULL;
		}
	}
}

void probes_free(struct it_probes *p)
{
	probes_detach(p);
	free(p->probes);
	free(hook_syms);
	hook_syms = NULL;
	memset(p, 0, sizeof(*p));
}

/* ---- programs ---- */

static struct bpf_program *prog_find(struct bpf_object *obj, const char *prefix,
				     const char *name)
{
	char full[96];

	snprintf(full, sizeof(full), "%s__%s", prefix, name);
	return bpf_object__find_program_by_name(obj, full);
}

/* Lean mode times only the DMA API: other hooks there count at entry */
static bool probe_has_exit(const struct it_probes *p, const struct it_probe *pr)
{
	return (pr->flags & IT_HF_EXIT) && (p->deep || !(pr->flags & IT_HF_EXIT_DEEP));
}

static void probe_programs(const struct it_probes *p, struct it_probe *pr,
			   struct bpf_object *obj)
{
	const char *entry = NULL, *exit = NULL;
	int i;

	switch (pr->kind) {
	case IT_KIND_FENTRY: entry = "fentry"; exit = "fexit"; break;
	case IT_KIND_KPROBE: entry = "kprobe"; exit = "kretprobe"; break;
	case IT_KIND_TP_BTF: entry = "tp_btf"; break;
	case IT_KIND_RAW_TP: entry = "raw_tp"; break;
	case IT_KIND_TRACEPOINT: entry = "tp"; break;
	case IT_KIND_NONE: break;
	}
	memset(pr->progs, 0, sizeof(pr->progs));
	pr->progs[IT_PROG_ENTRY] = entry ? prog_find(obj, entry, pr->name) : NULL;
	if (exit && probe_has_exit(p, pr))
		pr->progs[IT_PROG_EXIT] = prog_find(obj, exit, pr->name);
	/* twins guard against the per-program recursion guard of fentry and tp_btf only */
	if (p->twins && !pr->twin_failed &&
	    (pr->kind == IT_KIND_FENTRY || pr->kind == IT_KIND_TP_BTF)) {
		pr->progs[IT_PROG_ENTRY_TWIN] = prog_find(obj, pr->kind == IT_KIND_FENTRY ?
							  "fentry_twin" : "tp_btf_twin", pr->name);
		if (pr->progs[IT_PROG_EXIT])
			pr->progs[IT_PROG_EXIT_TWIN] = prog_find(obj, "fexit_twin", pr->name);
	}
	for (i = 0; i < IT_PROBE_PROGS; i++)
		snprintf(pr->prog_names[i], sizeof(pr->prog_names[i]), "%s",
			 pr->progs[i] ? bpf_program__name(pr->progs[i]) : "");
}

int probes_configure(struct it_probes *p, struct bpf_object *obj)
{
	struct bpf_program *prog;
	int i, j, err;

	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, false);

	for (i = 0; i < p->nr; i++) {
		struct it_probe *pr = &p->probes[i];

		probe_programs(p, pr, obj);
		for (j = 0; j < IT_PROBE_PROGS; j++) {
			if (!pr->progs[j])
				continue;
			bpf_program__set_autoload(pr->progs[j], true);
			if (pr->kind != IT_KIND_FENTRY)
				continue;
			err = bpf_program__set_attach_target(pr->progs[j], 0, pr->target);
			if (err)
				return err;
		}
	}
	return 0;
}

bool probes_demote(struct it_probes *p, const char *prog, int err)
{
	bool any_fentry = false;
	int i, j;

	for (i = 0; i < p->nr; i++) {
		struct it_probe *pr = &p->probes[i];

		any_fentry |= pr->kind == IT_KIND_FENTRY;
		for (j = 0; j < IT_PROBE_PROGS; j++) {
			if (!prog || !pr->prog_names[j][0] || strcmp(pr->prog_names[j], prog))
				continue;
			if (j >= IT_PROG_ENTRY_TWIN) {
				/* the hook still works, only without its spare copy */
				pr->twin_failed = true;
				snprintf(pr->failure, sizeof(pr->failure), "twin load failed: %s",
					 strerror(-err));
				return true;
			}
			/* EPERM on fentry: this kernel refuses fentry altogether */
			if (pr->kind == IT_KIND_FENTRY && err == -EPERM)
				p->caps.fentry = false;
			snprintf(pr->failure, sizeof(pr->failure), "%s load failed: %s",
				 probe_kind_str(pr->kind), strerror(-err));
			pr->kind_failed[pr->kind] = true;
			probes_choose_all(p);
			return true;
		}
	}
	if (any_fentry && p->caps.fentry) {
		/* failure we could not pin on one program: try without fentry */
		p->caps.fentry = false;
		probes_choose_all(p);
		return true;
	}
	return false;
}

static struct bpf_link *probe_attach_one(struct it_probe *pr, int idx)
{
	struct bpf_program *prog = pr->progs[idx];

	if (pr->kind == IT_KIND_KPROBE)
		return bpf_program__attach_kprobe(prog, idx == 1, pr->target);
	return bpf_program__attach(prog);
}

/* The kernel's id of @prog: how the collector and a daemon's readers find its counts */
static unsigned int prog_id(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) ? 0 : info.id;
}

int probes_attach(struct it_probes *p)
{
	/* exits first: a call already running then loses no entry, only its exit */
	static const int order[IT_PROBE_PROGS] = {
		IT_PROG_EXIT, IT_PROG_EXIT_TWIN, IT_PROG_ENTRY, IT_PROG_ENTRY_TWIN,
	};
	int i, j, k, attached = 0;

	p->attached = true;
	for (i = 0; i < p->nr; i++) {
		struct it_probe *pr = &p->probes[i];

		if (pr->kind == IT_KIND_NONE)
			continue;
		for (k = 0; k < IT_PROBE_PROGS; k++) {
			j = order[k];
			if (!pr->progs[j])
				continue;
			pr->links[j] = probe_attach_one(pr, j);
			if (!pr->links[j]) {
				int err = -errno;

				snprintf(pr->failure, sizeof(pr->failure), "%s attach failed: %s",
					 probe_kind_str(pr->kind), strerror(-err));
				break;
			}
			pr->prog_ids[j] = prog_id(pr->progs[j]);
		}
		if (k < IT_PROBE_PROGS) {
			/* half a pair is worse than none: entries without exits */
			for (j = 0; j < IT_PROBE_PROGS; j++) {
				bpf_link__destroy(pr->links[j]);
				pr->links[j] = NULL;
				pr->prog_ids[j] = 0;
			}
			pr->kind = IT_KIND_NONE;
			continue;
		}
		attached++;
	}
	return attached;
}


int probes_twin_slots(const struct it_probes *p, int i, __u32 slots[2])
{
	__u32 nh = ARRAY_SIZE(it_hooks);

	if ((__u32)i < nh) {
		slots[0] = IT_TWIN_SLOT_ENTRY(i);
		slots[1] = IT_TWIN_SLOT_EXIT(i);
		return 2;
	}
	slots[0] = IT_TWIN_SLOT_TP(nh, i - nh);
	return 1;
}

int probes_nr_attached(const struct it_probes *p)
{
	int i, n = 0;

	for (i = 0; i < p->nr; i++)
		n += p->attached ? p->probes[i].links[0] != NULL :
				   p->probes[i].kind != IT_KIND_NONE;
	return n;
}

const char *probes_walker_status(const struct it_probes *p)
{
	unsigned int ws = p->walker_structs;

	if (p->caps.vendor == IT_VENDOR_INTEL) {
		if (ws & 1u << IT_WS_VTDSS)
			return "intel, generic page table (pt_iommu_vtdss top_of_table; faults: "
			       "root/context tables, scalable mode: the device's domain)";
		return ws & 1u << IT_WS_DMAR_DOMAIN ?
		       "intel (dmar_domain pgd/agaw; faults: root/context tables, scalable mode: "
		       "the device's domain)" :
		       "unavailable on this kernel (no struct dmar_domain in BTF)";
	}
	if (p->caps.vendor == IT_VENDOR_AMD) {
		if (ws & 1u << IT_WS_AMDV1)
			return "amd, generic page table (pt_iommu_amdv1 top_of_table)";
		return ws & 1u << IT_WS_AMD_IO_PGTABLE ?
		       "amd (protection_domain iop.root/mode, v1 table)" :
		       "unavailable on this kernel (no AMD v1 page table in BTF)";
	}
	return "unavailable (no Intel or AMD IOMMU active: virtio-iommu keeps its "
	       "mappings in the host, not in guest page tables)";
}

static bool probe_serves(const struct it_probes *p, const struct it_probe *pr)
{
	return p->attached ? pr->links[0] != NULL : pr->kind != IT_KIND_NONE;
}

static void str_append(char *buf, size_t size, const char *sep, const char *text)
{
	size_t len = strlen(buf);

	if (len + strlen(sep) + strlen(text) + 1 < size)
		snprintf(buf + len, size - len, "%s%s", len ? sep : "", text);
}

/* One role from its hooks: served by the attached ones, else the best reason why not. */
static void role_view(const struct it_probes *p, int role, struct it_role_view *v)
{
	enum it_probe_state best = IT_PROBE_WRONG_DRIVER;
	char item[160];
	int i;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < p->nr; i++) {
		const struct it_probe *pr = &p->probes[i];

		if (pr->role != role)
			continue;
		if (probe_serves(p, pr)) {
			snprintf(item, sizeof(item), "%s (%s)", pr->target, probe_kind_str(pr->kind));
			str_append(v->served_by, sizeof(v->served_by), ", ", item);
			continue;
		}
		if (pr->state < best)
			best = pr->state;
	}
	if (v->served_by[0]) {
		v->state = IT_ROLE_TRACED;
		return;
	}
	for (i = 0; i < p->nr; i++) {
		const struct it_probe *pr = &p->probes[i];

		if (pr->role != role || pr->state != best)
			continue;
		snprintf(item, sizeof(item), "%s%s%s%s%s", pr->hook ? pr->hook->targets[0] : pr->target,
			 pr->why[0] ? ": " : "", pr->why, pr->failure[0] ? "; " : "", pr->failure);
		str_append(v->why, sizeof(v->why), "; ", item);
	}
	switch (best) {
	case IT_PROBE_WRONG_DRIVER:
		v->state = IT_ROLE_NO_DRIVER;
		snprintf(v->why, sizeof(v->why), "no hook for the active IOMMU driver");
		break;
	case IT_PROBE_OFF:
		v->state = IT_ROLE_LEAN_OFF;
		break;
	default:
		v->state = IT_ROLE_NOT_TRACEABLE;
		break;
	}
}

void probes_roles(const struct it_probes *p, struct it_role_view roles[IT_ROLE_MAX])
{
	int role;

	for (role = 0; role < IT_ROLE_MAX; role++)
		role_view(p, role, &roles[role]);
	/* lean: each DMA-API map that allocates counts as one IOVA allocation */
	if (roles[IT_ROLE_IOVA_ALLOC].state == IT_ROLE_LEAN_OFF &&
	    roles[IT_ROLE_DMA_MAP].state == IT_ROLE_TRACED) {
		roles[IT_ROLE_IOVA_ALLOC].state = IT_ROLE_TRACED;
		snprintf(roles[IT_ROLE_IOVA_ALLOC].served_by, sizeof(roles[0].served_by),
			 "DMA-API map calls, one IOVA range each (--deep: alloc_iova_fast)");
	}
}

static void roles_print(const struct it_probes *p, FILE *f)
{
	struct it_role_view roles[IT_ROLE_MAX];
	int role;

	probes_roles(p, roles);
	fprintf(f, "%-22s %-14s %s\n", "ROLE", "STATE", "SERVED BY / WHY NOT");
	for (role = 0; role < IT_ROLE_MAX; role++) {
		const struct it_role_view *v = &roles[role];

		fprintf(f, "%-22s %-14s %s\n", it_role_name(role), it_role_state_name(v->state),
			v->state == IT_ROLE_TRACED ? v->served_by : v->why);
	}
}

/* What an attached hook runs: twins make up for runs the kernel skips */
static const char *probe_note(const struct it_probe *pr, bool on)
{
	bool twins = pr->progs[IT_PROG_ENTRY_TWIN] != NULL;

	if (!on)
		return "";
	if (pr->progs[IT_PROG_EXIT])
		return twins ? "entry and exit, with twins" : "entry and exit";
	return twins ? "entry, with a twin" : "entry only";
}

void probes_print(const struct it_probes *p, FILE *f)
{
	int i;

	fprintf(f, "kernel %s: fentry %s, kprobes %s; %s mode\n", p->caps.release,
		p->caps.fentry ? "allowed" : "refused",
		p->caps.kprobes ? "available" : "unavailable", p->deep ? "deep" : "lean");
	roles_print(p, f);
	fprintf(f, "\n%-20s %-18s %-10s %-30s %s\n", "HOOK", "ROLE", "KIND", "TARGET", "NOTE");
	for (i = 0; i < p->nr; i++) {
		const struct it_probe *pr = &p->probes[i];
		bool on = probe_serves(p, pr);

		fprintf(f, "%-20s %-18s %-10s %-30s %s%s%s%s\n", pr->name, it_role_name(pr->role),
			on ? probe_kind_str(pr->kind) : "-",
			pr->target[0] ? pr->target : "-",
			pr->why[0] ? pr->why : probe_note(pr, on),
			pr->failure[0] && (pr->why[0] || on) ? "; " : "", pr->failure,
			!on && !pr->why[0] && !pr->failure[0] ? "not attached" : "");
	}
	fprintf(f, "page-table walker: %s\n", probes_walker_status(p));
	fprintf(f, "%d of %d hooks %s\n", probes_nr_attached(p), p->nr,
		p->attached ? "attached" : "would attach (dry run)");
}

void probes_json(const struct it_probes *p, struct json_writer *jw)
{
	struct it_role_view roles[IT_ROLE_MAX];
	int i;

	probes_roles(p, roles);
	jw_string(jw, "mode", p->deep ? "deep" : "lean");
	roles_json(roles, jw);
	jw_begin_array(jw, "probes");
	for (i = 0; i < p->nr; i++) {
		const struct it_probe *pr = &p->probes[i];
		bool on = probe_serves(p, pr);

		jw_begin_object(jw, NULL);
		jw_string(jw, "hook", pr->name);
		jw_string(jw, "role", it_role_name(pr->role));
		jw_string(jw, "kind", on ? probe_kind_str(pr->kind) : "none");
		jw_string(jw, "target", pr->target);
		jw_bool(jw, "attached", on);
		jw_bool(jw, "exit", on && pr->progs[IT_PROG_EXIT]);
		jw_bool(jw, "twins", on && pr->progs[IT_PROG_ENTRY_TWIN]);
		jw_string(jw, "reason", pr->why);
		jw_string(jw, "failure", pr->failure);
		jw_end_object(jw);
	}
	jw_end_array(jw);
}

void roles_json(const struct it_role_view *roles, struct json_writer *jw)
{
	int role;

	jw_begin_array(jw, "roles");
	for (role = 0; role < IT_ROLE_MAX; role++) {
		const struct it_role_view *v = &roles[role];

		jw_begin_object(jw, NULL);
		jw_string(jw, "role", it_role_name(role));
		jw_string(jw, "description", it_role_desc(role));
		jw_string(jw, "state", it_role_state_name(v->state));
		jw_bool(jw, "traceable", v->state == IT_ROLE_TRACED);
		if (v->state == IT_ROLE_TRACED)
			jw_string(jw, "served_by", v->served_by);
		else
			jw_string(jw, "why", v->why);
		jw_end_object(jw);
	}
	jw_end_array(jw);
}
