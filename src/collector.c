// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common.h"
#include "collector.h"
#include "iommutrace.skel.h"
#include "iommutrace_nopcpu.skel.h"
#include "leaks.h"
#include "pin.h"

#define IT_LOAD_ATTEMPTS 48

/* libbpf names the program whose load failed only in its log: catch it. */
static char failed_prog[64];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[256];
	const char *p;
	va_list aq;

	va_copy(aq, ap);
	if (it_verbose && (level != LIBBPF_DEBUG || it_verbose > 1))
		vfprintf(stderr, fmt, aq);
	va_end(aq);
	vsnprintf(line, sizeof(line), fmt, ap);
	p = strstr(line, "prog '");
	if (p && !failed_prog[0] && (strstr(line, "load failed") || strstr(line, "failed to load"))) {
		const char *end = strchr(p + 6, '\'');

		if (end && end - (p + 6) < (long)sizeof(failed_prog))
			snprintf(failed_prog, end - (p + 6) + 1, "%s", p + 6);
	}
	return 0;
}

/*
 * bpf/iommutrace.bpf.c is built twice: the hooks tell task, softirq and
 * hardirq context apart by the per-CPU preempt count, a typed ksym the kernel
 * resolves through kallsyms; where kallsyms lists no per-CPU variables (no
 * CONFIG_KALLSYMS_ALL) it would refuse every program, and the build without
 * it is opened instead (every hook in its task's context). Same programs,
 * maps and globals: one skeleton type serves both.
 */
static const void *skel_bytes(bool percpu_ksyms, size_t *size)
{
	return percpu_ksyms ? iommutrace_bpf__elf_bytes(size) : iommutrace_nopcpu__elf_bytes(size);
}

struct iommutrace_bpf *collector_skel_open(bool percpu_ksyms)
{
	struct iommutrace_bpf *obj;
	int err;

	obj = calloc(1, sizeof(*obj));
	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	err = iommutrace_bpf__create_skeleton(obj);
	if (!err) {
		obj->skeleton->data = skel_bytes(percpu_ksyms, &obj->skeleton->data_sz);
		err = bpf_object__open_skeleton(obj->skeleton, NULL);
	}
	if (err) {
		iommutrace_bpf__destroy(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}

static bool has_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {};
	__u64 eff;

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &hdr, data))
		return false;
	eff = data[0].effective | ((__u64)data[1].effective << 32);
	if (eff & (1ULL << CAP_SYS_ADMIN))
		return true;
	return (eff & (1ULL << 39)) && (eff & (1ULL << 38));	/* CAP_BPF, CAP_PERFMON */
}

int collector_preflight(char *msg, size_t size)
{
	if (!has_caps()) {
		snprintf(msg, size, "not privileged: run as root, or with CAP_BPF and CAP_PERFMON");
		return IT_EXIT_PRIV;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(msg, size, "the running kernel has no BTF (/sys/kernel/btf/vmlinux): "
			 "CO-RE needs CONFIG_DEBUG_INFO_BTF=y");
		return IT_EXIT_NO_BTF;
	}
	return IT_EXIT_OK;
}

static void rodata_set(struct it_collector *c, const struct it_collector_opts *o)
{
	struct iommutrace_bpf *skel = c->skel;
	bool dmar_hooked = false;
	int i;

	for (i = 0; i < c->probes.nr; i++) {
		const struct it_probe *pr = &c->probes.probes[i];

		if (!strcmp(pr->name, "dmar_fault") && pr->kind != IT_KIND_NONE)
			dmar_hooked = true;
	}
	skel->rodata->lat_sample_every = o->sample_every > 1 ? o->sample_every : 1;
	skel->rodata->iommu_vendor = c->sys.vendor;
	skel->rodata->deep = o->deep;
	skel->rodata->twin_nr_cpus = c->nr_cpus;
	skel->rodata->page_offset_base_addr = c->probes.caps.page_offset_base;
	/* the walk needs iommu_map()'s domain: only --deep hooks it on every map */
	skel->rodata->walk_maps = o->deep && !o->no_walk;
	skel->rodata->faults_from_console = c->sys.vendor == IT_VENDOR_INTEL && !dmar_hooked;
	/* the leak tables cost memory only where leaks are tracked */
	skel->rodata->track_leaks = o->leaks;
	if (!o->leaks) {
		bpf_map__set_max_entries(skel->maps.leak_table, 1);
		bpf_map__set_max_entries(skel->maps.leak_stacks, 1);
	}
}

static it_fault_cb fault_cb;
static void *fault_cb_ctx;

static int ring_dispatch(void *ctx, void *data, size_t size)
{
	if (size < sizeof(struct it_fault_event) || !fault_cb)
		return 0;
	return fault_cb(fault_cb_ctx, data);
}

/*
 * Opens the skeleton into c->skel. Its embedded object (~1.2 MB of .rodata) is
 * read only here: libbpf copies what it keeps (programs, BTF, map data). Its
 * pages are dropped from the resident set before libbpf parses the kernel's
 * BTF, which makes the session's peak. They are clean pages of the binary: if
 * read again (another load attempt) they fault back in from the page cache.
 */
static int skel_open(struct it_collector *c)
{
	uintptr_t pg = sysconf(_SC_PAGESIZE), start, end;
	const void *bytes;
	size_t size;

	c->skel = collector_skel_open(c->probes.caps.percpu_ksyms);
	if (!c->skel) {
		snprintf(c->fail_msg, sizeof(c->fail_msg), "cannot open BPF object: %s",
			 strerror(errno));
		return IT_EXIT_ERROR;
	}
	bytes = skel_bytes(c->probes.caps.percpu_ksyms, &size);
	start = ((uintptr_t)bytes + pg - 1) & ~(pg - 1);	/* whole pages only */
	end = ((uintptr_t)bytes + size) & ~(pg - 1);
	if (end > start)
		madvise((void *)start, end - start, MADV_DONTNEED);
	return IT_EXIT_OK;
}

/* @pr runs without its twins (not attached), and its failure says why */
static void probe_twins_drop(struct it_probe *pr, const char *why)
{
	/* a twin that failed to load already says so */
	if (!pr->twin_failed && (pr->kind == IT_KIND_FENTRY || pr->kind == IT_KIND_TP_BTF))
		snprintf(pr->failure, sizeof(pr->failure), "no twin: %s", why);
	pr->progs[IT_PROG_ENTRY_TWIN] = pr->progs[IT_PROG_EXIT_TWIN] = NULL;
}

/* --lossless cannot work here: the hooks run without twins, and say why */
static void twins_off(struct it_collector *c, const char *why)
{
	int i;

	it_warn("--lossless unavailable: %s; runs the kernel skips stay counted as lost", why);
	c->probes.twins = false;
	for (i = 0; i < c->probes.nr; i++)
		probe_twins_drop(&c->probes.probes[i], why);
}

/* Reads the twin_find_mains iterator's "fd address" lines into @addr[fd] */
static int twin_counters_read(struct it_collector *c, __u64 *addr, int max_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info info = { .task.pid = getpid() };
	struct bpf_link *link;
	char buf[8192], *line, *save;
	size_t len = 0;
	ssize_t n;
	int fd, err = 0;

	/* our own files only (6.1+); else every task's, which the program filters */
	opts.link_info = &info;
	opts.link_info_len = sizeof(info);
	link = bpf_program__attach_iter(c->skel->progs.twin_find_mains, &opts);
	if (!link)
		link = bpf_program__attach_iter(c->skel->progs.twin_find_mains, NULL);
	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* lines never straddle a read: parse whole lines, keep the tail */
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		char *last;

		len += n;
		buf[len] = '\0';
		last = strrchr(buf, '\n');
		if (!last)
			break;
		*last = '\0';
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			int f;
			unsigned long long a;

			if (sscanf(line, "%d %llx", &f, &a) == 2 && f >= 0 && f < max_fd)
				addr[f] = a;
		}
		len = buf + len - (last + 1);
		memmove(buf, last + 1, len);
	}
	if (n < 0)
		err = -errno;
	close(fd);
out:
	bpf_link__destroy(link);
	return err;
}

/*
 * Tells each twin where its main copy's recursion counter is: a twin that
 * cannot know is not attached (its hook runs alone, skips counted as lost).
 */
static void twins_locate(struct it_collector *c)
{
	enum { MAX_FD = 65536 };
	__u64 *addr;
	int i, k, err;

	if (!c->probes.twins)
		return;
	addr = calloc(MAX_FD, sizeof(*addr));
	err = addr ? twin_counters_read(c, addr, MAX_FD) : -ENOMEM;
	if (err || !c->skel->bss->twin_cpu_off[0]) {
		twins_off(c, err ? strerror(-err) : "per-CPU offsets not found");
		free(addr);
		return;
	}
	for (i = 0; i < c->probes.nr; i++) {
		struct it_probe *pr = &c->probes.probes[i];
		__u32 slots[2];
		int ns = probes_twin_slots(&c->probes, i, slots);

		for (k = 0; k < 2 && k < ns; k++) {
			struct bpf_program *main = pr->progs[IT_PROG_ENTRY + k];
			int fd = main && pr->progs[IT_PROG_ENTRY_TWIN + k] ? bpf_program__fd(main) : -1;

			if (fd < 0)
				continue;
			if (fd < MAX_FD && addr[fd]) {
				c->skel->bss->twin_main_active[slots[k]] = addr[fd];
				continue;
			}
			probe_twins_drop(pr, "main copy's recursion counter not found");
		}
	}
	free(addr);
}

static int skel_load(struct it_collector *c, const struct it_collector_opts *o)
{
	int attempt, err = 0;

	for (attempt = 0; attempt < IT_LOAD_ATTEMPTS; attempt++) {
		if (skel_open(c))
			return IT_EXIT_ERROR;
		rodata_set(c, o);
		err = probes_configure(&c->probes, c->skel->obj);
		if (!err && o->test_progs)
			bpf_program__set_autoload(c->skel->progs.it_test, true);
		if (!err && c->probes.twins)
			bpf_program__set_autoload(c->skel->progs.twin_find_mains, true);
		failed_prog[0] = '\0';
		if (!err)
			err = iommutrace_bpf__load(c->skel);
		if (!err)
			return IT_EXIT_OK;
		it_debug("load attempt %d failed (%s) at program '%s'", attempt, strerror(-err),
			 failed_prog);
		iommutrace_bpf__destroy(c->skel);
		c->skel = NULL;
		if (c->probes.twins && !strcmp(failed_prog, "twin_find_mains")) {
			twins_off(c, "cannot load the iterator that finds the main copies");
			continue;
		}
		if (!probes_demote(&c->probes, failed_prog[0] ? failed_prog : NULL, err))
			break;
	}
	snprintf(c->fail_msg, sizeof(c->fail_msg), "cannot load BPF programs: %s%s%s "
		 "(run with -v for the verifier log)", strerror(-err),
		 failed_prog[0] ? " in " : "", failed_prog);
	return err == -EPERM ? IT_EXIT_PRIV : IT_EXIT_ERROR;
}

static void dev_describe(struct it_collector *c, struct it_dev *d, const struct it_dev_info *info,
			 double now);
static int collector_read_raw(struct it_collector *c, struct it_snapshot *s);
static __u32 collector_nr_slots(const struct it_collector *c);
static void collector_pmu_open(struct it_collector *c, const struct it_collector_opts *o);

static int pmu_row_add(struct it_collector *c, int pmu, int rid, const char *device)
{
	struct it_pmu_view *v = &c->pmu_view;
	struct it_pmu_row *r;

	if (v->nr_rows >= IT_PMU_MAX_ROWS)
		return -ENOSPC;
	r = &v->rows[v->nr_rows];
	memset(r, 0, sizeof(*r));
	snprintf(r->unit, sizeof(r->unit), "%s", c->pmu.pmus[pmu].name);
	snprintf(r->device, sizeof(r->device), "%s", device);
	r->t_open = it_now();
	c->pmu_keys[v->nr_rows].pmu = pmu;
	c->pmu_keys[v->nr_rows].rid = rid;
	v->nr_rows++;
	return 0;
}

/*
 * One counter set per unit, counting every requester. A system without an
 * IOMMU PMU (most, and every VM) only gets the one sentence why.
 */
static void collector_pmu_open(struct it_collector *c, const struct it_collector_opts *o)
{
	struct it_pmu_view *v = &c->pmu_view;
	int i, j;

	v->status = PMU_NO_PMU;
	if (o->no_pmu) {
		snprintf(v->msg, sizeof(v->msg), "IOMMU hardware counters not opened (--no-pmu)");
		return;
	}
	c->pmu_device = o->pmu_device;
	pmu_discover(o->pmu_root ? o->pmu_root : "", &c->pmu);
	if (c->pmu.nr_pmus)
		pmu_open_curated(&c->pmu, NULL, PMU_NO_DEVICE);
	v->status = c->pmu.status;
	snprintf(v->msg, sizeof(v->msg), "%s", pmu_status_str(&c->pmu));
	for (i = 0; i < c->pmu.nr_pmus; i++)
		for (j = 0; j < c->pmu.nr_counters; j++)
			if (c->pmu.counters[j].pmu == i) {
				pmu_row_add(c, i, PMU_NO_DEVICE, "");
				break;
			}
}

/*
 * Devices get their own counters once the BPF side has seen them: sessions
 * call this between reads too, so that a device first seen during a
 * `stat -- COMMAND` run is counted for most of it, not from its end.
 */
void collector_pmu_watch(struct it_collector *c)
{
	__u32 nr = collector_nr_slots(c), i;
	double now = it_now();
	char why[PMU_MSG_LEN];
	int pmu, rid;

	if (!c->pmu_view.nr_rows || now - c->pmu_watch_time < 0.25)
		return;
	c->pmu_watch_time = now;
	if (nr > IT_MAX_DEVS)
		nr = IT_MAX_DEVS;
	for (i = 1; i < nr && c->pmu_dev_rows < IT_PMU_DEV_ROWS; i++) {
		struct it_dev_info info = {};
		struct it_dev *d = &c->pmu_scratch;

		if (c->pmu_tried[i])
			continue;
		memset(d, 0, sizeof(*d));
		d->slot = i;
		if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.dev_info), &i, &info) ||
		    !info.name[0])
			continue;	/* not described yet: next time */
		dev_describe(c, d, &info, now);
		c->pmu_tried[i] = true;
		if (!dev_matches(d, c->pmu_device) || pmu_parse_bdf(d->name, &rid))
			continue;
		pmu = pmu_open_device(&c->pmu, d->name, why, sizeof(why));
		if (pmu < 0 || why[0]) {
			it_debug("PMU counters for %s: %s", d->name, why);
			/* the first such reason is worth a line; the rest are alike */
			if (!c->pmu_view.msg[0])
				snprintf(c->pmu_view.msg, sizeof(c->pmu_view.msg),
					 "no per-device IOMMU counters for %s: %s", d->name, why);
		}
		if (pmu >= 0 && !pmu_row_add(c, pmu, rid, d->name))
			c->pmu_dev_rows++;
	}
}

static void collector_pmu_read(struct it_collector *c, struct it_snapshot *s)
{
	struct it_pmu_view *v = &c->pmu_view;
	int i, j;

	if (!v->nr_rows) {
		memcpy(&s->pmu, v, sizeof(*v));
		return;
	}
	c->pmu_watch_time = 0;
	collector_pmu_watch(c);
	if (pmu_read_counters(&c->pmu))
		it_debug("reading IOMMU counters: %s", strerror(errno));
	for (i = 0; i < v->nr_rows; i++) {
		struct it_pmu_row *r = &v->rows[i];

		memset(r->count, 0, sizeof(r->count));
		r->have = 0;
		r->multiplexed = false;
		for (j = 0; j < c->pmu.nr_counters; j++) {
			const struct pmu_counter *pc = &c->pmu.counters[j];

			if (pc->pmu != c->pmu_keys[i].pmu || pc->rid != c->pmu_keys[i].rid ||
			    pc->role == PMU_ROLE_NONE)
				continue;
			r->count[pc->role] += pc->total;
			r->have |= 1u << pc->role;
			r->multiplexed |= pc->ever_multiplexed;
		}
	}
	memcpy(&s->pmu, v, sizeof(*v));
}

/* kernel.bpf_stats while we run: the hooks' run counts and time, ours or the daemon's */
static void collector_stats_enable(struct it_collector *c, const struct it_collector_opts *o)
{
	if (!o->bpf_stats)
		return;
	c->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (c->stats_fd < 0)
		it_warn("bpf_stats unavailable (%s): BPF run time not shown", strerror(errno));
}

/*
 * A daemon already hooks this kernel: load no programs, read its pinned maps,
 * and count from now (a baseline read subtracted from every later read).
 */
static int collector_open_shared(struct it_collector *c, const struct it_collector_opts *o)
{
	const struct it_shared_meta *m = &c->shared_meta;
	struct bpf_program *prog;
	int i, err;

	if (skel_open(c))
		return IT_EXIT_ERROR;
	bpf_object__for_each_program(prog, c->skel->obj)
		bpf_program__set_autoload(prog, false);
	err = pin_reuse(c->skel->obj, &c->data_fd);
	if (!err)
		err = iommutrace_bpf__load(c->skel);
	if (err) {
		snprintf(c->fail_msg, sizeof(c->fail_msg), "cannot read the maps of iommutrace "
			 "pid %u in " IT_PIN_DIR ": %s (--own attaches our own hooks)", m->pid,
			 strerror(-err));
		return IT_EXIT_ERROR;
	}
	c->shared = true;
	for (i = 0; i < IT_ROLE_MAX && i < (int)m->nr_roles && i < IT_SHARED_ROLES; i++) {
		c->roles[i].state = m->role_state[i];
		snprintf(m->role_state[i] == IT_ROLE_TRACED ? c->roles[i].served_by :
			 c->roles[i].why, sizeof(c->roles[i].why), "%s", m->role_text[i]);
	}
	c->base = calloc(1, sizeof(*c->base));
	c->raw = calloc(1, sizeof(*c->raw));
	if (!c->base || !c->raw)
		return IT_EXIT_ERROR;
	collector_stats_enable(c, o);
	collector_pmu_open(c, o);
	c->t_open = it_now();
	return collector_read_raw(c, c->base) ? IT_EXIT_ERROR : IT_EXIT_OK;
}

int collector_open(struct it_collector *c, const struct it_collector_opts *o)
{
	enum pin_state pin;
	int ret, err;

	memset(c, 0, sizeof(*c));
	c->stats_fd = -1;
	c->data_fd = -1;
	libbpf_set_print(libbpf_print);
	ret = collector_preflight(c->fail_msg, sizeof(c->fail_msg));
	if (ret)
		return ret;
	sysinfo_read("", &c->sys);
	err = probes_init(&c->probes, c->sys.vendor, o->deep);
	c->probes.twins = o->twins;
	if (err) {
		snprintf(c->fail_msg, sizeof(c->fail_msg), "cannot read kernel BTF: %s",
			 strerror(-err));
		return IT_EXIT_NO_BTF;
	}
	c->nr_cpus = libbpf_num_possible_cpus();
	if (c->nr_cpus <= 0) {
		snprintf(c->fail_msg, sizeof(c->fail_msg), "cannot count CPUs");
		return IT_EXIT_ERROR;
	}
	/*
	 * A daemon's maps hold no leak table: --leaks needs hooks of its own; so
	 * do --deep and --lossless beside a daemon that runs without them.
	 */
	pin = !o->own && !o->share && !o->leaks && !o->test_progs && !o->no_attach ?
	      pin_find(&c->shared_meta) : PIN_NONE;
	if (pin == PIN_DAEMON) {
		const char *missing = o->deep && !c->shared_meta.deep ? "--deep" :
				      o->twins && !c->shared_meta.twins ? "--lossless" : NULL;

		if (!missing)
			return collector_open_shared(c, o);
		it_warn("iommutrace pid %u shares its maps but runs without %s: attaching "
			"hooks of our own", c->shared_meta.pid, missing);
	} else if (pin == PIN_FOREIGN) {
		it_warn("iommutrace pid %u, another version, shares its maps in " IT_PIN_DIR
			": not read; attaching hooks of our own", c->shared_meta.pid);
	}
	ret = skel_load(c, o);
	if (ret)
		return ret;
	twins_locate(c);
	/* libbpf's copy of the kernel BTF is freed: give its heap pages back */
	malloc_trim(0);
	collector_stats_enable(c, o);
	fault_cb = o->on_fault;
	fault_cb_ctx = o->fault_ctx;
	c->faults = ring_buffer__new(bpf_map__fd(c->skel->maps.fault_events), ring_dispatch,
				     c, NULL);
	if (!o->no_attach && probes_attach(&c->probes) == 0) {
		snprintf(c->fail_msg, sizeof(c->fail_msg), "no probe could be attached "
			 "(see `iommutrace probes`)");
		return IT_EXIT_NO_PROBES;
	}
	/* calls running before now began before the trace: their halves are not lost */
	c->skel->bss->armed_ns = (__u64)(it_now() * 1e9);
	probes_roles(&c->probes, c->roles);
	collector_pmu_open(c, o);
	c->t_open = it_now();
	if (o->share && !o->no_attach) {
		char msg[256];

		if (pin_share(c, msg, sizeof(msg)))
			it_warn("not sharing the maps with other sessions: %s", msg);
	}
	return IT_EXIT_OK;
}

/* Bytes of per-CPU values one read holds: bounded, whatever the CPU count */
#define IT_PERCPU_READ_BYTES	(512 * 1024)

/*
 * Sums a per-CPU array's values for keys [0, n) into @out (n * value_size
 * bytes), reading as many keys at a time as fit IT_PERCPU_READ_BYTES: 256
 * devices' counters on a 128-CPU machine would be 140 MB in one read.
 */
static int percpu_read_sum(struct it_collector *c, int fd, __u32 n, size_t value_size,
			   __u64 *out)
{
	size_t stride = (value_size + 7) & ~7UL, words = value_size / 8;
	size_t per_key = (size_t)c->nr_cpus * stride;
	__u32 chunk = per_key < IT_PERCPU_READ_BYTES ? IT_PERCPU_READ_BYTES / per_key : 1;
	__u32 next = 0, done, want, count, i, cpu, w;
	__u32 *keys;
	int err;

	if (chunk > n)
		chunk = n ? n : 1;
	if (c->percpu_buf_size < chunk * per_key) {
		free(c->percpu_buf);
		c->percpu_buf = malloc(chunk * per_key);
		c->percpu_buf_size = c->percpu_buf ? chunk * per_key : 0;
		if (!c->percpu_buf)
			return -ENOMEM;
	}
	keys = calloc(chunk, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	memset(out, 0, (size_t)n * value_size);
	for (done = 0; done < n; done += count) {
		want = count = n - done < chunk ? n - done : chunk;
		/* one syscall a chunk; fall back to one per key */
		err = bpf_map_lookup_batch(fd, done ? &next : NULL, &next, keys, c->percpu_buf,
					   &count, NULL);
		if ((err && errno != ENOENT) || !count) {
			count = want;
			for (i = 0; i < count; i++) {
				__u32 key = done + i;

				if (bpf_map_lookup_elem(fd, &key, (char *)c->percpu_buf +
							(size_t)i * per_key)) {
					free(keys);
					return -errno;
				}
			}
			next = done + count - 1;
		}
		for (i = 0; i < count; i++) {
			for (cpu = 0; cpu < (__u32)c->nr_cpus; cpu++) {
				const __u64 *v = (const void *)((char *)c->percpu_buf +
					(size_t)i * per_key + (size_t)cpu * stride);

				for (w = 0; w < words; w++)
					out[(size_t)(done + i) * words + w] += v[w];
			}
		}
	}
	free(keys);
	return 0;
}

/*
 * Each attached hook with its programs' ids and twins' slots: ours, or those
 * the daemon we read published. The
 * one source of the hooks table, the BPF run time and the recursion losses.
 */
int collector_hooks(const struct it_collector *c, struct it_shared_hook *out, int max)
{
	int i, k, n = 0;

	_Static_assert(IT_SHARED_HOOK_PROGS == IT_PROBE_PROGS, "a hook's programs");
	if (c->shared) {
		n = (int)c->shared_meta.nr_hooks;
		n = n < max ? n : max;
		n = n < IT_SHARED_HOOKS ? n : IT_SHARED_HOOKS;
		memcpy(out, c->shared_meta.hooks, n * sizeof(*out));
		return n;
	}
	for (i = 0; i < c->probes.nr && n < max; i++) {
		const struct it_probe *pr = &c->probes.probes[i];
		struct it_shared_hook *h = &out[n];
		__u32 slots[2];
		int ns;

		if (!pr->links[IT_PROG_ENTRY])
			continue;
		memset(h, 0, sizeof(*h));
		snprintf(h->name, sizeof(h->name), "%s", pr->name);
		snprintf(h->kind, sizeof(h->kind), "%s", probe_kind_str(pr->kind));
		for (k = 0; k < IT_PROBE_PROGS; k++)
			h->prog_ids[k] = pr->prog_ids[k];
		ns = probes_twin_slots(&c->probes, i, slots);
		for (k = 0; k < 2; k++)
			h->twin_slots[k] = k < ns && pr->links[IT_PROG_ENTRY_TWIN + k] ?
					   slots[k] : IT_SHARED_NO_TWIN;
		n++;
	}
	return n;
}

/* What the kernel counts of program @id (zeros if it is gone) */
static void prog_info_by_id(__u32 id, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	int fd;

	memset(info, 0, sizeof(*info));
	if (!id)
		return;
	/* opened for the read only: a reader of a daemon's maps holds no program */
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return;
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		memset(info, 0, sizeof(*info));
	close(fd);
}

/*
 * Runs the kernel skipped that nothing made up for: a twinned program's skips
 * minus the calls its twin served (exactly those it skipped), else all skips.
 * @skips: each hook's main copies' skips (entry, exit).
 */
static __u64 recursion_lost(struct it_collector *c, const struct it_shared_hook *hooks,
			    __u64 (*skips)[2], int n, __u64 *made_up_total)
{
	__u32 nslots = bpf_map__max_entries(c->skel->maps.twin_served);
	__u64 *served = NULL, lost = 0;
	int i, k;

	*made_up_total = 0;
	for (i = 0; i < n * 2 && !served; i++)
		if (hooks[i / 2].twin_slots[i % 2] < nslots)
			served = calloc(nslots, sizeof(*served));
	if (served && percpu_read_sum(c, bpf_map__fd(c->skel->maps.twin_served), nslots,
				      sizeof(*served), served)) {
		free(served);
		served = NULL;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < 2; k++) {
			__u32 slot = hooks[i].twin_slots[k];
			__u64 made_up = served && slot < nslots ? served[slot] : 0;

			*made_up_total += made_up;
			lost += skips[i][k] > made_up ? skips[i][k] - made_up : 0;
		}
	}
	free(served);
	return lost;
}

/*
 * The hooks table, the BPF run time and the recursion losses, from what the
 * kernel counts of each attached hook's programs, ours or the daemon's.
 */
static void collector_read_hooks(struct it_collector *c, struct it_snapshot *s)
{
	struct it_shared_hook hooks[IT_SHARED_HOOKS];
	__u64 skips[IT_SHARED_HOOKS][2];
	int n, i, k;

	n = collector_hooks(c, hooks, IT_SHARED_HOOKS);
	s->bpf_run_ns = s->bpf_run_cnt = 0;
	s->nr_hooks = 0;
	for (i = 0; i < n; i++) {
		struct it_hook_stat *h = &s->hooks[s->nr_hooks];
		__u64 runs = 0, run_ns = 0, misses = 0;

		for (k = 0; k < IT_SHARED_HOOK_PROGS; k++) {
			struct bpf_prog_info info;

			prog_info_by_id(hooks[i].prog_ids[k], &info);
			runs += info.run_cnt;
			run_ns += info.run_time_ns;
			misses += info.recursion_misses;
			if (k < 2)
				skips[i][k] = info.recursion_misses;
		}
		s->bpf_run_ns += run_ns;
		s->bpf_run_cnt += runs;
		if (s->nr_hooks >= IT_MAX_HOOKS)
			continue;
		snprintf(h->name, sizeof(h->name), "%s", hooks[i].name);
		snprintf(h->kind, sizeof(h->kind), "%s", hooks[i].kind);
		h->runs = runs;
		h->run_ns = run_ns;
		h->misses = misses;
		s->nr_hooks++;
	}
	s->lost_recursion = recursion_lost(c, hooks, skips, n, &s->twin_served);
}

static void dev_describe(struct it_collector *c, struct it_dev *d, const struct it_dev_info *info,
			 double now)
{
	__u32 slot = d->slot;

	if (slot == IT_SLOT_UNKNOWN) {
		snprintf(d->name, sizeof(d->name), "unknown");
		d->meta.group = -1;
		snprintf(d->meta.domain_type, sizeof(d->meta.domain_type), "-");
		return;
	}
	snprintf(d->name, sizeof(d->name), "%s", info->name[0] ? info->name : "?");
	/* drivers bind and unbind (vfio-pci): refresh sysfs facts now and then */
	if (now - c->meta_time[slot] > 2.0) {
		devmeta_read("", d->name, &c->meta[slot]);
		c->meta_time[slot] = now;
	}
	d->meta = c->meta[slot];
	if (d->meta.group < 0)
		d->meta.group = info->group;
	d->flags = info->flags;
	d->owner_pid = info->owner_pid;
	memcpy(d->owner_comm, info->owner_comm, sizeof(d->owner_comm));
	/* sysfs shows the default domain; a VFIO user maps on an unmanaged one */
	if (info->flags & IT_DEVF_DIRECT_MAPS)
		snprintf(d->meta.domain_type, sizeof(d->meta.domain_type), "%s",
			 domain_type_from_bits(info->direct_domain_type));
	else if (info->domain_type && !d->meta.domain_type[0])
		snprintf(d->meta.domain_type, sizeof(d->meta.domain_type), "%s",
			 domain_type_from_bits(info->domain_type));
}

/* device slots in use: ours, or the daemon's next_slot */
static __u32 collector_nr_slots(const struct it_collector *c)
{
	__u32 zero = 0, nr = 0;
	char data[64] = "";

	if (!c->skel)
		return 0;
	if (!c->shared)
		nr = c->skel->data->next_slot;
	else if (c->data_fd >= 0 && !bpf_map_lookup_elem(c->data_fd, &zero, data))
		memcpy(&nr, data, sizeof(nr));	/* next_slot is .data's only variable */
	return nr > IT_MAX_DEVS ? IT_MAX_DEVS : nr;
}

/* --leaks: outstanding mappings per device, gauges of the moment */
static void collector_read_leaks(struct it_collector *c, struct it_snapshot *s)
{
	struct it_leak_gauge *g;
	int i;

	s->have_leaks = false;
	if (c->shared || !leaks_tracking(c))
		return;
	g = calloc(IT_MAX_DEVS, sizeof(*g));
	if (!g || leaks_gauges(c, g, NULL)) {
		free(g);
		return;
	}
	for (i = 0; i < s->nr_devs; i++) {
		s->devs[i].leak_count = g[i].count;
		s->devs[i].leak_bytes = g[i].bytes;
		s->devs[i].leak_oldest_s = g[i].oldest_s;
	}
	s->have_leaks = true;
	free(g);
}

int collector_read(struct it_collector *c, struct it_snapshot *s)
{
	int err;

	if (!c->shared)
		return collector_read_raw(c, s);
	err = collector_read_raw(c, c->raw);
	if (err)
		return err;
	snapshot_delta(c->raw, c->base, s);
	s->t_start = c->t_open;
	return 0;
}

static int collector_read_raw(struct it_collector *c, struct it_snapshot *s)
{
	struct iommutrace_bpf *skel = c->skel;
	__u32 nr = collector_nr_slots(c), i;
	struct it_dev_stats *stats;
	double now = it_now();
	int err;

	if (nr > IT_MAX_DEVS)
		nr = IT_MAX_DEVS;
	stats = calloc(nr, sizeof(*stats));
	if (!stats)
		return -ENOMEM;
	err = percpu_read_sum(c, bpf_map__fd(skel->maps.dev_stats), nr, sizeof(*stats),
			      (__u64 *)stats);
	if (!err)
		err = percpu_read_sum(c, bpf_map__fd(skel->maps.lost), IT_LOST_MAX,
				      sizeof(__u64), s->lost);
	if (err)
		goto out;

	s->t_start = c->t_open;
	s->t_end = now;
	s->nr_devs = nr;
	for (i = 0; i < nr; i++) {
		struct it_dev *d = &s->devs[i];
		struct it_dev_info info = {};

		memset(d, 0, sizeof(*d));
		d->slot = i;
		bpf_map_lookup_elem(bpf_map__fd(skel->maps.dev_info), &i, &info);
		dev_describe(c, d, &info, now);
		memcpy(d->ops, stats[i].ops, sizeof(d->ops));
		d->hists = stats[i].hists;
	}
	collector_read_hooks(c, s);
	s->twins = c->shared ? c->shared_meta.twins : c->probes.twins;
	s->bpf_stats = c->stats_fd >= 0;
	s->nr_probes = c->shared ? (int)c->shared_meta.nr_hooks : probes_nr_attached(&c->probes);
	s->shared_pid = c->shared ? c->shared_meta.pid : 0;
	snprintf(s->mode, sizeof(s->mode), "%s", c->sys.mode);
	collector_read_leaks(c, s);
	snapshot_set_roles(s, c->roles);
	collector_pmu_read(c, s);
	snapshot_totals(s);
out:
	free(stats);
	return err;
}

int collector_poll_faults(struct it_collector *c, int timeout_ms)
{
	if (!c->faults) {
		if (timeout_ms > 0)
			usleep(timeout_ms * 1000);
		return 0;
	}
	return ring_buffer__poll(c->faults, timeout_ms);
}

void collector_close(struct it_collector *c)
{
	pin_unshare(c);
	if (c->data_fd > 0)
		close(c->data_fd);
	free(c->base);
	free(c->raw);
	ring_buffer__free(c->faults);
	probes_free(&c->probes);
	if (c->skel)
		iommutrace_bpf__destroy(c->skel);
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	free(c->percpu_buf);
	pmu_set_free(&c->pmu);
	memset(c, 0, sizeof(*c));
	c->stats_fd = -1;
}
