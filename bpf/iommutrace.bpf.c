// SPDX-License-Identifier: GPL-2.0
/*
 * iommutrace kernel side: counts and times every IOMMU operation per device.
 *
 * Device attribution: the DMA-API entry points (iommu_dma_map_page,
 * __iommu_dma_map, ...) know the struct device; they push a "device scope"
 * onto a small per-task stack, and everything underneath (iommu:map events,
 * IOVA allocation, strict invalidation) is charged to the device on top.
 * Maps made directly on a domain (VFIO) are charged through a domain->device
 * table learnt from DMA-API traffic and from __iommu_attach_device(). Lazy
 * flushes run from a timer with no device around: they are charged through
 * the flush queue's cookie->fq_domain.
 *
 * Scopes are kept per execution context (task, softirq, hardirq): a DMA-API
 * call in an interrupt that lands on a task inside its own DMA-API call opens
 * a scope of its own instead of nesting into the task's.
 *
 * Every function hook of include/it_hooks.h comes as fentry/fexit and as
 * kprobe/kretprobe; userspace loads the best one the running kernel allows,
 * for the hooks of the chosen mode (src/probes.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "iommutrace.h"
#include "it_hooks.h"
#include "bits.bpf.h"
#include "vendor.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Tunables, set by userspace before load */
const volatile __u32 lat_sample_every = 1;	/* time 1 in N operations */
const volatile __u32 iommu_vendor = IT_VENDOR_GENERIC;
const volatile bool walk_maps = true;		/* page-size walk on every map */
const volatile bool deep = false;		/* --deep: every layer timed, IOVA hooks */
/* off for BPF_PROG_TEST_RUN: each test call is its own syscall, at a random stack offset */
const volatile bool prune_scopes = true;
const volatile bool faults_from_console = false; /* no register-level fault hook */

__u32 next_slot = 1;	/* slot 0 is "unattributed" */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IT_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct it_dev_stats);
} dev_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IT_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct it_dev_info);
} dev_info SEC(".maps");

/* struct device * -> slot; written once per device */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IT_MAX_DEVS * 2);
	__type(key, __u64);
	__type(value, __u32);
} dev_slots SEC(".maps");

/*
 * PCI segment << 16 | requester id -> slot. Intel fault records name only the
 * requester: a device seen first in a fault gets its slot here, and keeps it
 * when its struct device shows up on the DMA path later.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, IT_MAX_DEVS * 2);
	__type(key, __u32);
	__type(value, __u32);
} rid_slots SEC(".maps");

/* struct iommu_domain * -> slot; written when a domain changes hands */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} domain_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IT_LOST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} fault_events SEC(".maps");

/* Userspace only: what a daemon sharing these maps says of itself (src/pin.c) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct it_shared_meta);
} shared_meta SEC(".maps");

struct it_scope {
	__u64 key;	/* device, domain, iovad or cookie: matches exit to entry */
	__u64 t0;	/* 0: not timed (sampled out, or nested) */
	__u64 sp;	/* kernel stack pointer at entry: live while deeper calls run */
	__u32 slot;
	__u32 op;	/* enum it_op; device scopes add IT_SCOPE_* bits */
};

/*
 * Scope stacks of one execution context: a task, or a CPU's softirq or
 * hardirq context. Each context nests only into itself, so its stacks are
 * strictly LIFO whatever the other contexts do.
 */
struct it_scope_ctx {
	__u32 dev_depth;
	__u32 op_depth;
	struct it_scope dev[IT_SCOPE_DEPTH];
	struct it_scope op[IT_SCOPE_DEPTH];
	/*
	 * lean mode: the domain of the last iommu_map() or iommu_unmap() outside
	 * the DMA API (VFIO). Unmaps through iommu_unmap_fast(), not hooked in
	 * lean, are charged to the domain this context mapped last.
	 */
	__u64 direct_key;
	__u32 direct_slot;
	__u64 sp_scratch;	/* it_stack_pointer() */
	/* the device this context mapped last and its slot: skips the hash lookup */
	__u64 last_dev;
	__u32 last_slot;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct it_scope_ctx);
} task_ctx SEC(".maps");

/* [0] softirq, [1] hardirq and NMI: neither migrates nor nests into itself */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct it_scope_ctx);
} irq_ctx SEC(".maps");

/* Timer and flush-queue context: softirq or irqs off, never preempted: per CPU */
struct it_cpu_ctx {
	__u32 in_fq_timeout;
	__u32 fq_slot1;		/* slot + 1 of the flush or ring free running */
	__u32 sample_ctr;
	__u32 fq_head0;		/* fq->head when fq_ring_free() began */
	__u64 fq;		/* the struct iova_fq * being freed */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct it_cpu_ctx);
} cpu_ctx SEC(".maps");

/*
 * phys_to_virt() needs the direct-map base, randomized under KASLR: where the
 * kernel keeps it (userspace reads kallsyms once); 0: the 4-level default
 */
const volatile __u64 page_offset_base_addr = 0;

static __always_inline void lost_add(__u32 why, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&lost, &why);

	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline void lost_inc(__u32 why)
{
	lost_add(why, 1);
}

static __always_inline struct it_cpu_ctx *cpu_ctx_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_ctx, &zero);
}

#define IT_SOFTIRQ_OFFSET	0x100		/* serving a softirq (not just bh off) */
#define IT_HARDIRQ_MASK		0x0f0000
#define IT_NMI_MASK		0xf00000
#define IT_HARDIRQ_NMI_MASK	(IT_HARDIRQ_MASK | IT_NMI_MASK)

#ifndef IT_NO_PERCPU_KSYM
/*
 * The preempt count says which context runs: 6.1 and 6.15+ keep it in the
 * per-CPU __preempt_count, 6.2 to 6.14 in pcpu_hot (x86). Typed weak ksyms:
 * libbpf finds them in the kernel's BTF, the verifier drops the branch of the
 * one this kernel lacks, and bpf_this_cpu_ptr() is one cheap helper (inlined
 * on newer kernels), not a probe read. The kernel resolves them through
 * kallsyms, which lists per-CPU variables only with CONFIG_KALLSYMS_ALL:
 * without it no program would load, so this file is built a second time
 * with IT_NO_PERCPU_KSYM (src/collector.c picks the object).
 */
extern int __preempt_count __ksym __weak;
extern struct pcpu_hot___it pcpu_hot __ksym __weak;

static __always_inline __u32 it_preempt_count(void)
{
	if (bpf_core_type_exists(struct pcpu_hot___it) && &pcpu_hot) {
		struct pcpu_hot___it *hot = bpf_this_cpu_ptr(&pcpu_hot);

		return hot->preempt_count;
	}
	if (&__preempt_count)
		return *(int *)bpf_this_cpu_ptr(&__preempt_count);
	return 0;
}
#else
/* No per-CPU symbols: every hook runs in its task's context, no better can be told */
static __always_inline __u32 it_preempt_count(void)
{
	return 0;
}
#endif

static __always_inline struct it_scope_ctx *scope_ctx_get(void)
{
	struct it_scope_ctx *sc;
	__u32 pc = it_preempt_count(), idx;

	if (pc & (IT_HARDIRQ_NMI_MASK | IT_SOFTIRQ_OFFSET)) {
		idx = pc & IT_HARDIRQ_NMI_MASK ? 1 : 0;
		return bpf_map_lookup_elem(&irq_ctx, &idx);
	}
	sc = bpf_task_storage_get(&task_ctx, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!sc)
		lost_inc(IT_LOST_TASK_CTX);
	return sc;
}

static __always_inline __u64 it_now_sampled(void)
{
	struct it_cpu_ctx *cc;

	if (lat_sample_every <= 1)
		return bpf_ktime_get_ns();
	cc = cpu_ctx_get();
	if (!cc || cc->sample_ctr++ % lat_sample_every)
		return 0;
	return bpf_ktime_get_ns();
}

/* ---- aggregation ---- */

static __always_inline struct it_dev_stats *dev_stats_get(__u32 slot)
{
	return bpf_map_lookup_elem(&dev_stats, &slot);
}

/* @op's counters in a device's stats (NULL: none, or no such op) */
static __always_inline struct it_op_stats *stats_op(struct it_dev_stats *d, __u32 op)
{
	return d && op < IT_OP_MAX ? &d->ops[op] : NULL;
}

static __always_inline struct it_op_stats *op_stats_get(__u32 slot, __u32 op)
{
	return stats_op(dev_stats_get(slot), op);
}

/* @n operations, @bytes in all */
static __always_inline void stats_add(struct it_op_stats *s, __u64 n, __u64 bytes)
{
	if (!s)
		return;
	/* atomics: a program in an interrupt may update the same per-CPU cell */
	__sync_fetch_and_add(&s->count, n);
	if (bytes)
		__sync_fetch_and_add(&s->bytes, bytes);
}

static __always_inline void op_add(__u32 slot, __u32 op, __u64 n, __u64 bytes)
{
	stats_add(op_stats_get(slot, op), n, bytes);
}

static __always_inline void op_count(__u32 slot, __u32 op, __u64 bytes)
{
	op_add(slot, op, 1, bytes);
}

static __always_inline void stats_latency(struct it_op_stats *s, __u64 t0)
{
	__u64 delta;

	if (!t0 || !s)
		return;
	delta = bpf_ktime_get_ns() - t0;
	__sync_fetch_and_add(&s->lat_count, 1);
	__sync_fetch_and_add(&s->lat_sum_ns, delta);
	__sync_fetch_and_add(&s->lat_hist[it_hist_slot(delta, IT_LAT_SLOTS)], 1);
}

static __always_inline void op_latency(__u32 slot, __u32 op, __u64 t0)
{
	if (t0)
		stats_latency(op_stats_get(slot, op), t0);
}

static __always_inline void size_hist_add(struct it_dev_stats *d, bool unmap, __u64 bytes)
{
	__u64 b = it_hist_slot(bytes, IT_SIZE_SLOTS);

	if (!d)
		return;
	if (unmap)
		__sync_fetch_and_add(&d->hists.unmap_size[b], 1);
	else
		__sync_fetch_and_add(&d->hists.map_size[b], 1);
}

/* ---- device slots ---- */

static __always_inline void dev_info_fill(__u32 slot, struct device *dev)
{
	struct it_dev_info *info = bpf_map_lookup_elem(&dev_info, &slot);
	const char *name;

	if (!info)
		return;
	name = BPF_CORE_READ(dev, kobj.name);
	if (name)
		bpf_probe_read_kernel_str(info->name, sizeof(info->name), name);
	info->group = -1;
	if (bpf_core_field_exists(dev->iommu_group)) {
		struct iommu_group *grp = BPF_CORE_READ(dev, iommu_group);

		if (grp)
			info->group = BPF_CORE_READ(grp, id);
	}
}

static __always_inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "SSSS:BB:DD.F" -> segment << 16 | bus << 8 | dev << 3 | fn; -1 if not PCI */
static __always_inline long pci_name_rid(const char *n)
{
	int s0 = hex_digit(n[0]), s1 = hex_digit(n[1]), s2 = hex_digit(n[2]), s3 = hex_digit(n[3]);
	int b0 = hex_digit(n[5]), b1 = hex_digit(n[6]), d0 = hex_digit(n[8]), d1 = hex_digit(n[9]);
	int fn = hex_digit(n[11]);

	if (n[4] != ':' || n[7] != ':' || n[10] != '.' || n[12] != '\0')
		return -1;
	if ((s0 | s1 | s2 | s3 | b0 | b1 | d0 | d1 | fn) < 0 || d0 > 1 || fn > 7)
		return -1;
	return (long)((__u32)(s0 << 12 | s1 << 8 | s2 << 4 | s3) << 16 |
		      (b0 << 4 | b1) << 8 | (d0 << 4 | d1) << 3 | fn);
}

static __always_inline void domain_learn(__u32 slot, __u64 domain);

/*
 * The domain a device translates through now: in the lean mode no iommu_map()
 * scope names it, and lazy flushes are charged by domain. Later changes of
 * domain (VFIO taking the device) come through the attach hook.
 */
static __always_inline void dev_domain_learn(__u32 slot, struct device *dev)
{
	struct iommu_group *grp;

	if (!bpf_core_field_exists(dev->iommu_group))
		return;
	grp = BPF_CORE_READ(dev, iommu_group);
	if (grp)
		domain_learn(slot, (__u64)BPF_CORE_READ(grp, domain));
}

/* A new slot, or -1 when all are taken. */
static __always_inline long slot_alloc(void)
{
	__u32 slot = __sync_fetch_and_add(&next_slot, 1);

	if (slot >= IT_MAX_DEVS) {
		lost_inc(IT_LOST_SLOTS_FULL);
		return -1;
	}
	return slot;
}

/* Slot of a device; allocated on first sight. Hot path: one hash lookup. */
static __always_inline __u32 dev_slot(struct device *dev)
{
	__u64 key = (__u64)dev;
	char name[IT_NAME_LEN] = {};
	__u32 *found, rid = 0;
	long slot, r = -1;

	if (!dev)
		return IT_SLOT_UNKNOWN;
	found = bpf_map_lookup_elem(&dev_slots, &key);
	if (found)
		return *found;

	/* first sight: a fault may have given this requester a slot already */
	if (bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dev, kobj.name)) > 0)
		r = pci_name_rid(name);
	if (r >= 0) {
		rid = r;
		found = bpf_map_lookup_elem(&rid_slots, &rid);
	}
	slot = found ? *found : slot_alloc();
	if (slot < 0)
		return IT_SLOT_UNKNOWN;
	if (bpf_map_update_elem(&dev_slots, &key, &slot, BPF_NOEXIST)) {
		/* another CPU won the race: use its slot, ours stays empty */
		found = bpf_map_lookup_elem(&dev_slots, &key);
		return found ? *found : IT_SLOT_UNKNOWN;
	}
	if (r >= 0)
		bpf_map_update_elem(&rid_slots, &rid, &slot, BPF_NOEXIST);
	dev_info_fill(slot, dev);
	dev_domain_learn(slot, dev);
	return slot;
}

/* Slot of a requester known only by its id (Intel fault records). */
static __always_inline __u32 rid_slot(__u16 segment, __u16 source_id)
{
	__u32 key = (__u32)segment << 16 | source_id, *found;
	struct it_dev_info *info;
	__u64 args[4];
	long slot;

	found = bpf_map_lookup_elem(&rid_slots, &key);
	if (found)
		return *found;
	slot = slot_alloc();
	if (slot < 0)
		return IT_SLOT_UNKNOWN;
	if (bpf_map_update_elem(&rid_slots, &key, &slot, BPF_NOEXIST)) {
		found = bpf_map_lookup_elem(&rid_slots, &key);
		return found ? *found : IT_SLOT_UNKNOWN;
	}
	info = bpf_map_lookup_elem(&dev_info, &slot);
	if (info) {
		args[0] = segment;
		args[1] = source_id >> 8;
		args[2] = (source_id >> 3) & 0x1f;
		args[3] = source_id & 7;
		info->group = -1;
		bpf_snprintf(info->name, sizeof(info->name), "%04x:%02x:%02x.%x", args,
			     sizeof(args));
	}
	return slot;
}

static __always_inline __u32 domain_slot(__u64 domain)
{
	__u32 *found = bpf_map_lookup_elem(&domain_slots, &domain);

	return found ? *found : IT_SLOT_UNKNOWN;
}

/* Remember which device a domain belongs to; rare: only when it changes. */
static __always_inline void domain_learn(__u32 slot, __u64 domain)
{
	struct it_dev_info *info;

	if (slot == IT_SLOT_UNKNOWN || !domain)
		return;
	info = bpf_map_lookup_elem(&dev_info, &slot);
	if (!info || info->domain == domain)
		return;
	info->domain = domain;
	info->domain_type = BPF_CORE_READ((struct iommu_domain *)domain, type);
	bpf_map_update_elem(&domain_slots, &domain, &slot, BPF_ANY);
}

/*
 * A map on a domain outside the DMA API: remember who did it (VFIO user) and
 * the domain's type, which the group's sysfs type (its default domain) hides.
 */
static __always_inline void direct_map_note(__u32 slot, __u64 domain)
{
	struct it_dev_info *info = bpf_map_lookup_elem(&dev_info, &slot);
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (!info || (info->owner_pid == pid && (info->flags & IT_DEVF_DIRECT_MAPS)))
		return;
	info->owner_pid = pid;
	info->flags |= IT_DEVF_DIRECT_MAPS;
	info->direct_domain_type = BPF_CORE_READ((struct iommu_domain *)domain, type);
	bpf_get_current_comm(info->owner_comm, sizeof(info->owner_comm));
}

static __always_inline __u64 cookie_domain(__u64 cookie)
{
	struct iommu_dma_cookie___it *c = (void *)cookie;

	if (!bpf_core_field_exists(c->fq_domain))
		return 0;
	return (__u64)BPF_CORE_READ(c, fq_domain);
}

/* ---- scopes ---- */

static __always_inline struct it_scope *scope_top(struct it_scope *stack, __u32 depth)
{
	__u32 i = depth - 1;

	if (depth == 0 || i >= IT_SCOPE_DEPTH)
		return NULL;
	return &stack[it_bounded(i, IT_SCOPE_DEPTH)];
}

/*
 * The entry an exit closes: the innermost one with the same key (and op).
 * Usually the top; deeper when an exit was skipped (the kernel skips a
 * program that would nest into itself on this CPU, e.g. an interrupt during
 * an fexit), so leaked entries above it are dropped here instead of piling
 * up. key 0 (kretprobe: no arguments) takes the top. -1: no such entry.
 */
static __always_inline int scope_find(struct it_scope *stack, __u32 depth, __u64 key, __u32 op,
				      bool match_op)
{
	int i;

	if (!key)
		return depth && depth <= IT_SCOPE_DEPTH ? (int)depth - 1 : -1;
#pragma unroll
	for (i = IT_SCOPE_DEPTH - 1; i >= 0; i--) {
		if ((__u32)i >= depth)
			continue;
		if (stack[i].key == key && (!match_op || stack[i].op == op))
			return i;
	}
	return -1;
}

static __always_inline __u32 current_dev_slot(struct it_scope_ctx *tc, bool *found)
{
	struct it_scope *top = tc ? scope_top(tc->dev, tc->dev_depth) : NULL;

	*found = top != NULL;
	return top ? top->slot : IT_SLOT_UNKNOWN;
}

/*
 * Where the hooked call stands on the kernel stack: the program's context,
 * which the fentry trampoline (or kprobe's pt_regs) keeps on the traced
 * call's stack. Not the BPF frame pointer: since 6.13 a tracing program
 * may run on a private per-CPU stack. Passed through memory: the verifier
 * then lets it be compared as a number. 0 (no frame given): no pruning.
 */
static __always_inline __u64 it_stack_pointer(struct it_scope_ctx *tc, void *frame)
{
	tc->sp_scratch = (__u64)frame;
	return *(volatile __u64 *)&tc->sp_scratch;
}

#define IT_STACK_REGION(sp)	((sp) >> 14)	/* THREAD_SIZE (16 KiB) aligned stacks */

/*
 * When the last hook was attached (userspace sets it; 0 until then). A call
 * already running then has an exit without its entry, or an entry whose
 * exit was not yet attached: it began before the trace, nothing is lost.
 */
__u64 armed_ns = 0;
#define IT_ARM_GRACE_NS	1000000ULL

static __always_inline bool before_armed(__u64 t)
{
	return !armed_ns || t < armed_ns + IT_ARM_GRACE_NS;
}

/* An exit found no entry: lost, unless its call began before the trace */
static __always_inline void unpaired_exit(void)
{
	if (!before_armed(bpf_ktime_get_ns()))
		lost_inc(IT_LOST_UNPAIRED);
}

/*
 * Drops the entries of calls that have returned: their exit program was
 * skipped (the kernel skips a program that would run nested into itself on
 * one CPU, e.g. an interrupt during it), which leaked them onto the stack.
 * A call still running encloses ours: its entry sits higher on the same
 * kernel stack. Each dropped entry is counted as unpaired.
 */
static __always_inline void scope_prune(struct it_scope *stack, __u32 *depth, __u64 sp)
{
	int i;

	if (!prune_scopes || !sp || !*depth)
		return;
	/* unrolled: 6.1's verifier refuses a loop whose back edge is a fall-through */
#pragma unroll
	for (i = IT_SCOPE_DEPTH - 1; i >= 0; i--) {
		struct it_scope *top;

		if ((__u32)i != *depth - 1 || !*depth)
			continue;
		top = &stack[i];
		if (IT_STACK_REGION(top->sp) != IT_STACK_REGION(sp) || top->sp > sp)
			return;
		*depth = i;
		if (!top->t0 || !before_armed(top->t0))
			lost_inc(IT_LOST_UNPAIRED);
	}
}

/* Claims the next entry of a scope stack; -1 when it is full. */
static __always_inline int scope_claim(__u32 *depth)
{
	__u32 d = *depth;

	if (d >= IT_SCOPE_DEPTH) {
		lost_inc(IT_LOST_SCOPE_DEPTH);
		return -1;
	}
	*depth = d + 1;
	return d;
}

/* DMA-API entry: the device is known from here down. @arg: op | IT_SCOPE_* */
static __always_inline int dev_scope_enter(struct device *dev, __u32 arg, void *frame)
{
	struct it_scope_ctx *tc = scope_ctx_get();
	struct it_scope *sc;
	__u64 sp;
	int d;

	if (!tc)
		return 0;
	sp = it_stack_pointer(tc, frame);
	scope_prune(tc->dev, &tc->dev_depth, sp);
	d = scope_claim(&tc->dev_depth);
	if (d < 0)
		return 0;
	sc = &tc->dev[it_bounded(d, IT_SCOPE_DEPTH)];
	sc->sp = sp;
	sc->key = (__u64)dev;
	if (tc->last_dev != (__u64)dev || !dev) {
		tc->last_slot = dev_slot(dev);
		tc->last_dev = (__u64)dev;
	}
	sc->slot = tc->last_slot;
	sc->op = arg;
	/* nested DMA-API calls (map_page -> __iommu_dma_map): time the outer */
	sc->t0 = d == 0 && !(arg & IT_SCOPE_NOCOUNT) ? it_now_sampled() : 0;
	return 0;
}

/*
 * The outermost DMA-API call of a context is one op. In the lean mode no
 * allocator hook runs: each DMA-API call that allocates an IOVA range
 * (map_page, map_sg, dma_iova_try_alloc...) counts as one allocation.
 */
static __always_inline void dev_scope_account(const struct it_scope *sc)
{
	struct it_dev_stats *d = dev_stats_get(sc->slot);
	__u32 op = sc->op & IT_SCOPE_OP_MASK;

	if (!(sc->op & IT_SCOPE_NOCOUNT)) {
		struct it_op_stats *s = stats_op(d, op);

		stats_add(s, 1, 0);
		stats_latency(s, sc->t0);
	}
	if (!deep && (sc->op & IT_SCOPE_IOVA) && op == IT_OP_DMA_MAP)
		stats_add(stats_op(d, IT_OP_IOVA_ALLOC), 1, 0);
}

static __always_inline int dev_scope_exit(struct device *dev, __u32 arg)
{
	struct it_scope_ctx *tc = scope_ctx_get();
	int idx;

	if (!tc)
		return 0;
	idx = scope_find(tc->dev, tc->dev_depth, (__u64)dev, arg, false);
	if (idx < 0) {
		unpaired_exit();
		return 0;
	}
	if (tc->dev_depth - 1 > (__u32)idx)
		lost_add(IT_LOST_UNPAIRED, tc->dev_depth - 1 - idx);
	if (idx == 0)
		dev_scope_account(&tc->dev[0]);
	tc->dev_depth = idx;
	return 0;
}

/* Which device an operation on @key belongs to when no device scope is open. */
static __always_inline __u32 op_slot_fallback(__u32 op, __u64 key)
{
	struct it_cpu_ctx *cc;
	__u32 slot;

	switch (op) {
	case IT_OP_MAP:
	case IT_OP_UNMAP:
		slot = domain_slot(key);
		if (slot != IT_SLOT_UNKNOWN && op == IT_OP_MAP)
			direct_map_note(slot, key);
		return slot;
	case IT_OP_IOTLB_SYNC:
		return domain_slot(key);
	default:
		/* IOVA frees and invalidation commands inside a lazy flush */
		cc = cpu_ctx_get();
		if (cc && cc->fq_slot1)
			return cc->fq_slot1 - 1;
		return IT_SLOT_UNKNOWN;
	}
}

static __always_inline bool op_is_map_event(__u32 op)
{
	/* map/unmap are counted by their tracepoints, per event */
	return op == IT_OP_MAP || op == IT_OP_UNMAP;
}

/*
 * Lean entry of a hook whose exit is attached only in --deep: count, and for
 * iommu_map/unmap outside the DMA API (VFIO) leave the domain's device for
 * the tracepoint event that follows. Inside a DMA-API scope it costs one
 * lookup: the device is known already.
 */
static __always_inline int op_note(struct it_scope_ctx *tc, __u64 key, __u32 op)
{
	bool in_dev;
	__u32 slot = current_dev_slot(tc, &in_dev);

	if (!in_dev)
		slot = op_slot_fallback(op, key);
	if (!op_is_map_event(op)) {
		op_count(slot, op, 0);
		return 0;
	}
	if (in_dev || !tc)
		return 0;
	tc->direct_key = key;
	tc->direct_slot = slot;
	return 0;
}

/* Counts @op on @slot (map events: their tracepoint does) and opens its scope. */
static __always_inline int op_begin(struct it_scope_ctx *tc, __u64 key, __u32 op, __u32 slot,
				    void *frame)
{
	struct it_scope *sc;
	__u64 sp;
	int d;

	if (!op_is_map_event(op))
		op_count(slot, op, 0);
	if (!tc)
		return 0;
	sp = it_stack_pointer(tc, frame);
	scope_prune(tc->op, &tc->op_depth, sp);
	d = scope_claim(&tc->op_depth);
	if (d < 0)
		return 0;
	sc = &tc->op[it_bounded(d, IT_SCOPE_DEPTH)];
	sc->sp = sp;
	sc->key = key;
	sc->slot = slot;
	sc->op = op;
	sc->t0 = it_now_sampled();
	return 0;
}

/* @exit_deep: the hook's exit runs only in --deep (IT_HF_EXIT_DEEP) */
static __always_inline int op_enter(__u64 key, __u32 op, bool exit_deep, void *frame)
{
	struct it_scope_ctx *tc = scope_ctx_get();
	bool in_dev;
	__u32 slot;

	if (exit_deep && !deep)
		return op_note(tc, key, op);
	slot = current_dev_slot(tc, &in_dev);
	if (in_dev) {
		if (op_is_map_event(op))
			domain_learn(slot, key);
	} else {
		slot = op_slot_fallback(op, key);
	}
	return op_begin(tc, key, op, slot, frame);
}

static __always_inline int op_exit(__u64 key, __u32 op)
{
	struct it_scope_ctx *tc = scope_ctx_get();
	struct it_scope *sc;
	int idx;

	if (!tc)
		return 0;
	idx = scope_find(tc->op, tc->op_depth, key, op, true);
	if (idx < 0) {
		unpaired_exit();
		return 0;
	}
	sc = &tc->op[it_bounded(idx, IT_SCOPE_DEPTH)];
	if (!key && sc->op != op) {
		lost_inc(IT_LOST_UNPAIRED);
		return 0;
	}
	if (tc->op_depth - 1 > (__u32)idx)
		lost_add(IT_LOST_UNPAIRED, tc->op_depth - 1 - idx);
	op_latency(sc->slot, op, sc->t0);
	tc->op_depth = idx;
	return 0;
}

/* ---- page-table walker ---- */

static __always_inline __u64 it_phys_to_virt(__u64 phys)
{
	__u64 base = 0;

	if (page_offset_base_addr)
		bpf_probe_read_kernel(&base, sizeof(base), (const void *)page_offset_base_addr);
	if (!base)
		base = 0xffff888000000000ULL;	/* 4-level default */
	return phys + base;
}

#define IT_WALK_READ_U64(dst, addr) \
	bpf_probe_read_kernel(&(dst), sizeof(__u64), (const void *)(addr))
#define IT_PHYS_TO_VIRT(phys) it_phys_to_virt(phys)
#include "walk.h"

/* The generic page table (pt_iommu) of a domain: its top table and levels */
static __always_inline int pt_walk(__u64 top_of_table, __u64 iova, int amd, struct it_walk *w)
{
	__u64 table = top_of_table & ~IT_PT_TOP_LEVEL_MASK;

	if (!table) {
		w->status = IT_WALK_NOT_PRESENT;	/* empty domain: no table yet */
		return 0;
	}
	return it_walk_table(table, (top_of_table & IT_PT_TOP_LEVEL_MASK) + 1, iova, amd, w);
}

/*
 * Walk a domain's table (map path): Intel dmar_domain or AMD
 * protection_domain, their own tables before 6.18, the generic page table
 * after (the domain is the pt_iommu_<format>: same address).
 */
static __always_inline int domain_walk(__u64 domain, __u64 iova, struct it_walk *w)
{
	if (iommu_vendor == IT_VENDOR_INTEL &&
	    bpf_core_field_exists(struct pt_iommu_vtdss___it, vtdss_pt)) {
		struct pt_iommu_vtdss___it *pt = (void *)domain;

		return pt_walk(BPF_CORE_READ(pt, vtdss_pt.common.top_of_table), iova, 0, w);
	}
	if (iommu_vendor == IT_VENDOR_AMD &&
	    bpf_core_field_exists(struct pt_iommu_amdv1___it, amdpt)) {
		struct pt_iommu_amdv1___it *pt = (void *)domain;

		return pt_walk(BPF_CORE_READ(pt, amdpt.common.top_of_table), iova, 1, w);
	}
	if (iommu_vendor == IT_VENDOR_INTEL) {
		struct dmar_domain___it *dd = (void *)(domain -
			bpf_core_field_offset(struct dmar_domain___it, domain));

		if (!bpf_core_field_exists(dd->pgd) || !bpf_core_field_exists(dd->agaw))
			goto unavailable;
		return it_walk_table((__u64)BPF_CORE_READ(dd, pgd),
				     BPF_CORE_READ(dd, agaw) + 2, iova, 0, w);
	}
	if (iommu_vendor == IT_VENDOR_AMD) {
		struct protection_domain___it *pd = (void *)(domain -
			bpf_core_field_offset(struct protection_domain___it, domain));

		if (!bpf_core_field_exists(pd->iop.root) || !bpf_core_field_exists(pd->iop.mode))
			goto unavailable;
		return it_walk_table((__u64)BPF_CORE_READ(pd, iop.root),
				     BPF_CORE_READ(pd, iop.mode), iova, 1, w);
	}
unavailable:
	w->status = IT_WALK_UNAVAILABLE;
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct it_walk);
} walk_scratch SEC(".maps");

static __always_inline void pgsize_account(struct it_dev_stats *d, __u64 domain, __u64 iova)
{
	struct it_dev_hists *h;
	struct it_walk *w;
	__u32 zero = 0;
	int level;

	if (!walk_maps || !domain || !d)
		return;
	w = bpf_map_lookup_elem(&walk_scratch, &zero);
	if (!w)
		return;
	h = &d->hists;
	level = domain_walk(domain, iova, w);
	if (w->status == IT_WALK_UNAVAILABLE)
		return;
	switch (it_pgsize_of_level(level)) {
	case IT_PGSIZE_4K: __sync_fetch_and_add(&h->pgsize[IT_PGSIZE_4K], 1); break;
	case IT_PGSIZE_2M: __sync_fetch_and_add(&h->pgsize[IT_PGSIZE_2M], 1); break;
	case IT_PGSIZE_1G: __sync_fetch_and_add(&h->pgsize[IT_PGSIZE_1G], 1); break;
	case IT_PGSIZE_NOLEAF: __sync_fetch_and_add(&h->pgsize[IT_PGSIZE_NOLEAF], 1); break;
	default: __sync_fetch_and_add(&h->pgsize[IT_PGSIZE_OTHER], 1); break;
	}
}

/*
 * ---- twins ----
 * The kernel skips a tracing program that would run nested into itself on
 * one CPU (its per-program recursion guard): a NIC's DMA map in a softirq
 * that interrupts the same hook's program in a task is not seen. With
 * --lossless each hot hook program (the main copy) has a twin on the same
 * function or event, with a guard of its own. The twin works only when the
 * kernel skips the main copy for this call, which is exactly when the main
 * copy's recursion counter on this CPU is non-zero as the twin runs: the
 * kernel decides by that counter, and nothing at our level changes it
 * between the two copies' runs (whichever order the kernel runs them in).
 * So the main copies carry no extra code, a twin's usual run is one read,
 * and a call is lost only if the twin too was interrupted while serving:
 * lost = main copy's skips - calls its twin served, exactly.
 *
 * Where the counters are: twin_find_mains (an iterator over our own files,
 * run once after load) reads each main program's per-CPU counter address
 * and each CPU's per-CPU offset; userspace fills twin_main_active.
 */
#define IT_HOOK_ID(name, ...) IT_HOOK_ID_##name,
enum { IT_FUNC_HOOKS(IT_HOOK_ID) IT_NR_FUNC_HOOKS };
#define IT_TP_ID(name, ...) IT_TP_ID_##name,
enum { IT_TP_HOOKS(IT_TP_ID) IT_NR_TP_HOOKS };

#define IT_TWIN_ENTRY(name)	IT_TWIN_SLOT_ENTRY(IT_HOOK_ID_##name)
#define IT_TWIN_EXIT(name)	IT_TWIN_SLOT_EXIT(IT_HOOK_ID_##name)
#define IT_TWIN_TP(name)	IT_TWIN_SLOT_TP(IT_NR_FUNC_HOOKS, IT_TP_ID_##name)
#define IT_TWIN_SLOTS		IT_TWIN_SLOT_TP(IT_NR_FUNC_HOOKS, IT_NR_TP_HOOKS)

/* calls each twin served (its main copy skipped) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IT_TWIN_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} twin_served SEC(".maps");

/* per-CPU address of each main copy's recursion counter (0: not known) */
__u64 twin_main_active[IT_TWIN_SLOTS] = {};
/* each CPU's per-CPU offset, and twin_cpu_probe's per-CPU base, by twin_find_mains */
__u64 twin_cpu_off[IT_TWIN_MAX_CPUS] = {};
__u64 twin_cpu_base = 0;

/* The main copy of hook program @slot is running below us on this CPU */
static __always_inline bool twin_main_running(__u32 slot)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 base, off;
	int active = 0;

	if (slot >= IT_TWIN_SLOTS || cpu >= IT_TWIN_MAX_CPUS)
		return false;
	base = twin_main_active[slot];
	off = twin_cpu_off[cpu];
	if (!base || !off)
		return false;
	/* x86 counts in the first int, whatever type newer kernels give it */
	bpf_probe_read_kernel(&active, sizeof(active), (void *)(base + off));
	return active != 0;
}

/* A twin's run: @work only if the kernel skips (or skipped) the main copy */
#define TWIN_RUN(slot, work) ({						\
	__u32 s_ = (slot);							\
	__u64 *n_;								\
	int ret_ = 0;								\
										\
	if (twin_main_running(s_)) {						\
		n_ = bpf_map_lookup_elem(&twin_served, &s_);			\
		if (n_)								\
			(*n_)++;	/* per CPU; a twin never nests in itself */	\
		ret_ = (work);							\
	}									\
	ret_;									\
})

/* One per-CPU array for twin_find_mains to learn the per-CPU offsets from */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} twin_cpu_probe SEC(".maps");

const volatile __u32 twin_nr_cpus = 1;

/* @p as a number: through the stack, as the verifier lets a pointer become one */
static __always_inline __u64 ptr_number(const void *p)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &p);
	return v;
}

/*
 * Iterator over the files of every task, run by userspace once after load: for
 * its own files, prints "fd address" with the address a main program's
 * recursion counter would have if the file is a BPF program (userspace keeps
 * the ones it knows for its own), and learns each CPU's per-CPU offset: a
 * per-CPU map's element on CPU n minus the element's per-CPU base.
 */
SEC("iter/task_file")
int twin_find_mains(struct bpf_iter__task_file *ctx)
{
	struct file *file = ctx->file;
	struct task_struct *task = ctx->task;
	struct bpf_prog *prog;
	__u64 active = 0, base = 0;
	__u32 zero = 0, cpu;

	if (!file || !task || task->tgid != bpf_get_current_pid_tgid() >> 32)
		return 0;
	if (!twin_cpu_off[0]) {
		struct bpf_array *arr = (void *)&twin_cpu_probe;

		bpf_probe_read_kernel(&base, sizeof(base), (void *)ptr_number(arr) +
				      bpf_core_field_offset(struct bpf_array, pptrs));
		twin_cpu_base = base;
		for (cpu = 0; base && cpu < IT_TWIN_MAX_CPUS && cpu < twin_nr_cpus; cpu++) {
			void *v = bpf_map_lookup_percpu_elem(&twin_cpu_probe, &zero, cpu);

			if (v)
				twin_cpu_off[cpu] = ptr_number(v) - base;
		}
	}
	prog = BPF_CORE_READ(file, private_data);
	bpf_core_read(&active, sizeof(active), &prog->active);
	BPF_SEQ_PRINTF(ctx->meta->seq, "%d %llx\n", ctx->fd, active);
	return 0;
}

/* ---- map / unmap events ---- */

#include "leaks.bpf.h"

/* The innermost map/unmap call in flight gives the slot (and the domain). */
static __always_inline __u32 event_slot(__u32 op, __u64 *domain)
{
	struct it_scope_ctx *tc = scope_ctx_get();
	struct it_scope *sc;
	bool in_dev;
	__u32 slot;

	*domain = 0;
	sc = tc ? scope_top(tc->op, tc->op_depth) : NULL;
	if (sc && sc->op == op) {
		*domain = sc->key;
		return sc->slot;
	}
	slot = current_dev_slot(tc, &in_dev);
	if (!in_dev && tc && tc->direct_key) {
		/* lean: iommu_map() outside the DMA API just said whose domain */
		*domain = tc->direct_key;
		slot = tc->direct_slot;
	}
	return slot;
}

static __always_inline int on_map(void *ctx, __u64 iova, __u64 size)
{
	__u64 domain;
	__u32 slot = event_slot(IT_OP_MAP, &domain);

	struct it_dev_stats *d = dev_stats_get(slot);

	stats_add(stats_op(d, IT_OP_MAP), 1, size);
	size_hist_add(d, false, size);
	pgsize_account(d, domain, iova);
	leak_map(ctx, slot, domain, iova, size);
	return 0;
}

static __always_inline int on_unmap(__u64 iova, __u64 size, __u64 unmapped)
{
	__u64 domain;
	__u32 slot = event_slot(IT_OP_UNMAP, &domain);

	struct it_dev_stats *d = dev_stats_get(slot);

	stats_add(stats_op(d, IT_OP_UNMAP), 1, unmapped);
	size_hist_add(d, true, unmapped);
	leak_unmap(slot, domain, iova, unmapped);
	return 0;
}

SEC("tp_btf/map")
int BPF_PROG(tp_btf__map, unsigned long iova, phys_addr_t paddr, size_t size)
{
	return on_map(ctx, iova, size);
}

SEC("tp_btf/map")
int BPF_PROG(tp_btf_twin__map, unsigned long iova, phys_addr_t paddr, size_t size)
{
	return TWIN_RUN(IT_TWIN_TP(map), on_map(ctx, iova, size));
}

SEC("raw_tp/map")
int BPF_PROG(raw_tp__map, unsigned long iova, phys_addr_t paddr, size_t size)
{
	return on_map(ctx, iova, size);
}

SEC("tracepoint/iommu/map")
int tp__map(struct trace_event_raw_map *ctx)
{
	return on_map(ctx, ctx->iova, ctx->size);
}

SEC("tp_btf/unmap")
int BPF_PROG(tp_btf__unmap, unsigned long iova, size_t size, size_t unmapped)
{
	return on_unmap(iova, size, unmapped);
}

SEC("tp_btf/unmap")
int BPF_PROG(tp_btf_twin__unmap, unsigned long iova, size_t size, size_t unmapped)
{
	return TWIN_RUN(IT_TWIN_TP(unmap), on_unmap(iova, size, unmapped));
}

SEC("raw_tp/unmap")
int BPF_PROG(raw_tp__unmap, unsigned long iova, size_t size, size_t unmapped)
{
	return on_unmap(iova, size, unmapped);
}

SEC("tracepoint/iommu/unmap")
int tp__unmap(struct trace_event_raw_unmap *ctx)
{
	return on_unmap(ctx->iova, ctx->size, ctx->unmapped_size);
}

/* ---- function hooks: fentry/fexit, else kprobe/kretprobe ---- */

/*
 * Sections carry no target: userspace sets it from include/it_hooks.h for the
 * name this kernel has (bpf_program__set_attach_target, attach_kprobe).
 */
#define IT_FUNC_PROGS(name, enter, exit)					\
SEC("fentry")									\
int BPF_PROG(fentry__##name, void *arg0) { return enter; }			\
SEC("fexit")									\
int BPF_PROG(fexit__##name, void *arg0) { return exit; }			\
SEC("kprobe")									\
int BPF_KPROBE(kprobe__##name, void *arg0) { return enter; }			\
SEC("kretprobe")								\
int BPF_KRETPROBE(kretprobe__##name) { void *arg0 = NULL; (void)arg0; return exit; }

/* The twins of a lean hook (fentry/fexit only: kprobes share one guard per CPU) */
#define IT_TWIN_PROGS(name, enter, exit)					\
SEC("fentry")									\
int BPF_PROG(fentry_twin__##name, void *arg0)					\
{ return TWIN_RUN(IT_TWIN_ENTRY(name), enter); }				\
SEC("fexit")									\
int BPF_PROG(fexit_twin__##name, void *arg0)					\
{ return TWIN_RUN(IT_TWIN_EXIT(name), exit); }

/* DMA-API calls run in tasks and in interrupts alike: they have twins */
#define DEV_SCOPE(name, arg, flags)						\
	IT_FUNC_PROGS(name, dev_scope_enter(arg0, arg, ctx), dev_scope_exit(arg0, arg)) \
	IT_TWIN_PROGS(name, dev_scope_enter(arg0, arg, ctx), dev_scope_exit(arg0, arg))
#define OP_SCOPE(name, arg, flags)						\
	IT_FUNC_PROGS(name, op_enter((__u64)arg0, arg, (flags) & IT_HF_EXIT_DEEP, ctx),	\
		      op_exit((__u64)arg0, arg))
#define HOT_OP_SCOPE(name, arg, flags)						\
	OP_SCOPE(name, arg, flags)						\
	IT_TWIN_PROGS(name, op_enter((__u64)arg0, arg, (flags) & IT_HF_EXIT_DEEP, ctx),	\
		      op_exit((__u64)arg0, arg))
#define CUSTOM(name, arg, flags)	/* written out below */
#define IT_HOOK_PROGS(name, role, handler, arg, flags, vendor, ...) handler(name, arg, flags)

IT_FUNC_HOOKS(IT_HOOK_PROGS)

static __always_inline int iova_free_count(void)
{
	struct it_scope_ctx *tc = scope_ctx_get();
	struct it_cpu_ctx *cc = cpu_ctx_get();
	bool in_dev;
	__u32 slot;

	/* a free inside fq_ring_free() is a lazy free: charge the queue's domain */
	if (cc && cc->fq_slot1) {
		op_count(cc->fq_slot1 - 1, IT_OP_IOVA_FREE, 0);
		return 0;
	}
	slot = current_dev_slot(tc, &in_dev);
	op_count(slot, IT_OP_IOVA_FREE, 0);
	return 0;
}

SEC("fentry")
int BPF_PROG(fentry__free_iova_fast) { return iova_free_count(); }
SEC("kprobe")
int BPF_KPROBE(kprobe__free_iova_fast) { return iova_free_count(); }

/* Lazy mode: the flush queue's flush, timed, charged to the queue's domain */
static __always_inline int fq_flush_begin(__u64 domain, __u64 key)
{
	struct it_cpu_ctx *cc = cpu_ctx_get();
	__u32 slot = domain_slot(domain);

	if (cc) {
		cc->fq_slot1 = slot + 1;
		if (cc->in_fq_timeout)
			op_count(slot, IT_OP_FQ_TIMEOUT, 0);
	}
	return op_begin(scope_ctx_get(), key, IT_OP_FQ_FLUSH, slot, NULL);
}

static __always_inline int fq_flush_end(__u64 key)
{
	struct it_cpu_ctx *cc = cpu_ctx_get();

	if (cc)
		cc->fq_slot1 = 0;
	return op_exit(key, IT_OP_FQ_FLUSH);
}

static __always_inline int fq_flush_enter(__u64 cookie)
{
	return fq_flush_begin(cookie_domain(cookie), cookie);
}

SEC("fentry")
int BPF_PROG(fentry__fq_flush_iotlb, void *cookie) { return fq_flush_enter((__u64)cookie); }
SEC("fexit")
int BPF_PROG(fexit__fq_flush_iotlb, void *cookie) { return fq_flush_end((__u64)cookie); }
IT_TWIN_PROGS(fq_flush_iotlb, fq_flush_enter((__u64)arg0), fq_flush_end((__u64)arg0))
SEC("kprobe")
int BPF_KPROBE(kprobe__fq_flush_iotlb, void *cookie) { return fq_flush_enter((__u64)cookie); }
SEC("kretprobe")
int BPF_KRETPROBE(kretprobe__fq_flush_iotlb) { return fq_flush_end(0); }

/*
 * Where fq_flush_iotlb() is inlined (6.16+), the flush queue's flush is the
 * domain's flush_iotlb_all callback. Other callers flush domains that have no
 * flush queue (attach, VFIO): only DMA-FQ domains count as lazy flushes.
 */
static __always_inline bool domain_is_fq(__u64 domain)
{
	return domain && (BPF_CORE_READ((struct iommu_domain *)domain, type) & IT_DOMAIN_DMA_FQ);
}

static __always_inline int flush_all_enter(__u64 domain)
{
	return domain_is_fq(domain) ? fq_flush_begin(domain, domain) : 0;
}

static __always_inline int flush_all_exit(__u64 domain)
{
	return domain_is_fq(domain) ? fq_flush_end(domain) : 0;
}

#define FLUSH_ALL_PROGS(name)								\
SEC("fentry")										\
int BPF_PROG(fentry__##name, void *domain) { return flush_all_enter((__u64)domain); }	\
SEC("fexit")										\
int BPF_PROG(fexit__##name, void *domain) { return flush_all_exit((__u64)domain); }	\
SEC("kprobe")										\
int BPF_KPROBE(kprobe__##name, void *domain) { return flush_all_enter((__u64)domain); }	\
SEC("kretprobe")									\
int BPF_KRETPROBE(kretprobe__##name) { return fq_flush_end(0); }			\
IT_TWIN_PROGS(name, flush_all_enter((__u64)arg0), flush_all_exit((__u64)arg0))

FLUSH_ALL_PROGS(flush_all_intel)
FLUSH_ALL_PROGS(flush_all_amd)
FLUSH_ALL_PROGS(flush_all_virtio)

static __always_inline int fq_timeout_mark(int delta)
{
	struct it_cpu_ctx *cc = cpu_ctx_get();

	if (cc)
		cc->in_fq_timeout += delta;
	return 0;
}

SEC("fentry")
int BPF_PROG(fentry__fq_flush_timeout) { return fq_timeout_mark(1); }
SEC("fexit")
int BPF_PROG(fexit__fq_flush_timeout) { return fq_timeout_mark(-1); }
IT_TWIN_PROGS(fq_flush_timeout, fq_timeout_mark(1), fq_timeout_mark(-1))
SEC("kprobe")
int BPF_KPROBE(kprobe__fq_flush_timeout) { return fq_timeout_mark(1); }
SEC("kretprobe")
int BPF_KRETPROBE(kretprobe__fq_flush_timeout) { return fq_timeout_mark(-1); }

/*
 * fq_ring_free(cookie, fq) releases the entries whose flush completed by
 * moving fq->head: entries freed = how far head moved (the ring never holds
 * more than size - 1 entries, so the distance is unambiguous). It runs with
 * the queue's lock held, irqs off: the per-CPU context holds until its exit.
 */
static __always_inline __u32 fq_ring_mask(struct iova_fq___it *fq)
{
	if (bpf_core_field_exists(fq->mod_mask))
		return BPF_CORE_READ(fq, mod_mask);
	return IT_IOVA_FQ_SIZE_OLD - 1;
}

static __always_inline int fq_ring_free_enter(__u64 cookie, __u64 fq)
{
	struct it_cpu_ctx *cc = cpu_ctx_get();

	if (!cc)
		return 0;
	cc->fq_slot1 = domain_slot(cookie_domain(cookie)) + 1;
	cc->fq = fq;
	cc->fq_head0 = fq ? BPF_CORE_READ((struct iova_fq___it *)fq, head) : 0;
	return 0;
}

static __always_inline int fq_ring_free_exit(void)
{
	struct it_cpu_ctx *cc = cpu_ctx_get();
	struct iova_fq___it *fq;
	__u32 freed;

	if (!cc || !cc->fq_slot1)
		return 0;
	fq = (void *)cc->fq;
	if (fq) {
		freed = (BPF_CORE_READ(fq, head) - cc->fq_head0) & fq_ring_mask(fq);
		if (freed)
			op_add(cc->fq_slot1 - 1, IT_OP_FQ_FREED, freed, 0);
	}
	cc->fq_slot1 = 0;
	cc->fq = 0;
	return 0;
}

SEC("fentry")
int BPF_PROG(fentry__fq_ring_free, void *cookie, void *fq)
{
	return fq_ring_free_enter((__u64)cookie, (__u64)fq);
}
SEC("fexit")
int BPF_PROG(fexit__fq_ring_free) { return fq_ring_free_exit(); }
SEC("kprobe")
int BPF_KPROBE(kprobe__fq_ring_free, void *cookie, void *fq)
{
	return fq_ring_free_enter((__u64)cookie, (__u64)fq);
}
SEC("kretprobe")
int BPF_KRETPROBE(kretprobe__fq_ring_free) { return fq_ring_free_exit(); }

/* Attach: learn domain -> device for maps made outside the DMA API */
static __always_inline int attach_learn(__u64 domain, struct device *dev)
{
	domain_learn(dev_slot(dev), domain);
	return 0;
}

SEC("fentry")
int BPF_PROG(fentry__attach_device, void *domain, void *dev)
{
	return attach_learn((__u64)domain, dev);
}

SEC("kprobe")
int BPF_KPROBE(kprobe__attach_device, void *domain, void *dev)
{
	return attach_learn((__u64)domain, dev);
}

/* ---- faults ---- */

static __always_inline struct it_fault_event *fault_reserve(__u32 slot)
{
	struct it_fault_event *e;

	op_count(slot, IT_OP_FAULT, 0);
	e = bpf_ringbuf_reserve(&fault_events, sizeof(*e), 0);
	if (!e) {
		lost_inc(IT_LOST_RINGBUF);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->slot = slot;
	return e;
}

/* Generic: report_iommu_fault() (AMD, ARM); the device is known */
static __always_inline int on_io_page_fault(struct device *dev, __u64 iova, int flags)
{
	__u32 slot = dev_slot(dev);
	struct it_fault_event *e = fault_reserve(slot);
	const char *name;

	if (!e)
		return 0;
	e->vendor = IT_VENDOR_GENERIC;
	e->iova = iova;
	e->flags = flags;
	e->is_write = flags & 1;	/* IOMMU_FAULT_WRITE */
	name = BPF_CORE_READ(dev, kobj.name);
	if (name)
		bpf_probe_read_kernel_str(e->device, sizeof(e->device), name);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/io_page_fault")
int BPF_PROG(tp_btf__io_page_fault, struct device *dev, unsigned long iova, int flags)
{
	return on_io_page_fault(dev, iova, flags);
}

SEC("raw_tp/io_page_fault")
int BPF_PROG(raw_tp__io_page_fault, struct device *dev, unsigned long iova, int flags)
{
	return on_io_page_fault(dev, iova, flags);
}

static __always_inline __u32 mmio_read32(__u64 addr)
{
	__u32 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), (const void *)addr);
	return v;
}

static __always_inline __u64 mmio_read64(__u64 addr)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), (const void *)addr);
	return v;
}

/*
 * Intel fault walk: the context the hardware used for this requester —
 * root table[bus] -> context table[devfn] -> second-level table (legacy mode).
 */
static __always_inline void intel_fault_walk(struct intel_iommu___it *iommu, __u64 reg,
					     struct it_fault_event *e)
{
	__u64 root_va = (__u64)BPF_CORE_READ(iommu, root_entry);
	__u64 rte = 0, ce_lo = 0, ce_hi = 0, ctx_va;
	__u8 bus = e->source_id >> 8, devfn = e->source_id & 0xff;

	if (mmio_read64(reg + IT_DMAR_RTADDR_REG) & IT_RTADDR_TTM_MASK) {
		/*
		 * Scalable mode: the context names a PASID table, not a page
		 * table. Walk the table of the device's domain instead.
		 */
		__u32 slot = e->slot;
		struct it_dev_info *info = bpf_map_lookup_elem(&dev_info, &slot);

		if (info && info->domain)
			domain_walk(info->domain, e->iova, &e->walk);
		else
			e->walk.status = IT_WALK_UNAVAILABLE;
		return;
	}
	if (!root_va || bpf_probe_read_kernel(&rte, 8, (void *)(root_va + 16ULL * bus)) ||
	    !(rte & 1)) {
		e->walk.status = IT_WALK_NO_CONTEXT;
		return;
	}
	ctx_va = it_phys_to_virt(rte & IT_PTE_ADDR_MASK) + 16ULL * devfn;
	if (bpf_probe_read_kernel(&ce_lo, 8, (void *)ctx_va) ||
	    bpf_probe_read_kernel(&ce_hi, 8, (void *)(ctx_va + 8)) || !(ce_lo & 1)) {
		e->walk.status = IT_WALK_NO_CONTEXT;
		return;
	}
	if (((ce_lo >> 2) & 3) == 2) {		/* pass-through context */
		e->walk.status = IT_WALK_LEAF;
		return;
	}
	it_walk_table(it_phys_to_virt(ce_lo & IT_PTE_ADDR_MASK), (ce_hi & 7) + 2,
		      e->iova, 0, &e->walk);
}

/* One pass over the fault-recording registers, for bpf_loop() */
struct it_frcd_walk {
	struct intel_iommu___it *iommu;
	__u64 reg, frcd;
	__u32 index, nr_regs;
	__u16 segment;
};

/*
 * One recording register. Called through bpf_loop() so the verifier checks
 * the record and its page-table walk once, not once per register: unrolled,
 * this program alone took seconds to load.
 */
static int dmar_fault_record(__u32 i, void *ctx)
{
	struct it_frcd_walk *w = ctx;
	__u64 rec = w->frcd + ((w->index + i) % (w->nr_regs ? w->nr_regs : 1)) * 16;
	__u32 hi = mmio_read32(rec + 12), mid;
	struct it_fault_event *e;

	if (!(hi & IT_DMA_FRCD_F))
		return 1;		/* no more pending records */
	mid = mmio_read32(rec + 8);
	e = fault_reserve(rid_slot(w->segment, mid & 0xffff));
	if (!e)
		return 0;
	e->vendor = IT_VENDOR_INTEL;
	e->reason = hi & 0xff;
	e->is_write = !((hi >> 30) & 1);	/* T bit: 1 = read */
	e->pasid = (hi >> 8) & 0xfffff;
	e->source_id = mid & 0xffff;
	e->pasid_present = (mid >> 31) & 1;
	e->segment = w->segment;
	e->iova = mmio_read64(rec) & ~0xfffULL;
	if (e->reason < 0x20)		/* 0x20+: interrupt remapping */
		intel_fault_walk(w->iommu, w->reg, e);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* dmar_fault(irq, iommu): read the pending fault records before it clears them */
static __always_inline int on_dmar_fault(struct intel_iommu___it *iommu)
{
	struct it_frcd_walk w = { .iommu = iommu };
	__u64 cap;
	__u32 fsts;

	if (!iommu)
		return 0;
	w.reg = (__u64)BPF_CORE_READ(iommu, reg);
	cap = BPF_CORE_READ(iommu, cap);
	w.segment = BPF_CORE_READ(iommu, segment);
	fsts = mmio_read32(w.reg + IT_DMAR_FSTS_REG);
	if (!(fsts & IT_DMA_FSTS_PPF))
		return 0;
	w.index = (fsts >> 8) & 0xff;
	w.nr_regs = ((cap >> 40) & 0xff) + 1;
	w.frcd = w.reg + ((cap >> 24) & 0x3ff) * 16;
	/* QEMU has one recording register: never revisit one in a pass */
	bpf_loop(w.nr_regs < IT_MAX_FAULT_RECORDS ? w.nr_regs : IT_MAX_FAULT_RECORDS,
		 dmar_fault_record, &w, 0);
	return 0;
}

SEC("fentry")
int BPF_PROG(fentry__dmar_fault, int irq, void *dev_id)
{
	return on_dmar_fault(dev_id);
}

SEC("kprobe")
int BPF_KPROBE(kprobe__dmar_fault, int irq, void *dev_id)
{
	return on_dmar_fault(dev_id);
}

/*
 * Last resort: the kernel's own fault line through printk. Used for Intel
 * when dmar_fault cannot be hooked, and for AMD to recover the event flags
 * that the generic tracepoint does not carry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[IT_FAULT_TEXT_LEN]);
} text_scratch SEC(".maps");

static __always_inline bool text_is_fault(const char *s)
{
	__u32 i;

	if (s[0] == 'D' && s[1] == 'M' && s[2] == 'A' && s[3] == 'R' && s[4] == ':' &&
	    s[5] == ' ' && s[6] == '[')
		return true;
	for (i = 0; i < 100; i++) {
		if (s[i] == 'I' && s[i + 1] == 'O' && s[i + 2] == '_' && s[i + 3] == 'P' &&
		    s[i + 4] == 'A' && s[i + 5] == 'G' && s[i + 6] == 'E')
			return true;
	}
	return false;
}

static __always_inline int on_console(const char *text, __u64 len)
{
	struct it_fault_event *e;
	__u32 zero = 0;
	char *buf = bpf_map_lookup_elem(&text_scratch, &zero);
	bool intel_line;

	if (!buf)
		return 0;
	if (bpf_probe_read_kernel_str(buf, IT_FAULT_TEXT_LEN, text) <= 0)
		return 0;
	if (!text_is_fault(buf))
		return 0;
	intel_line = buf[0] == 'D';
	if (intel_line && !faults_from_console)
		return 0;	/* already captured from the fault registers */
	if (intel_line) {
		e = fault_reserve(IT_SLOT_UNKNOWN);
	} else {
		/* AMD text only enriches the io_page_fault event: not a new fault */
		e = bpf_ringbuf_reserve(&fault_events, sizeof(*e), 0);
		if (!e) {
			lost_inc(IT_LOST_RINGBUF);
			return 0;
		}
		__builtin_memset(e, 0, sizeof(*e));
		e->ts_ns = bpf_ktime_get_ns();
	}
	if (!e)
		return 0;
	e->vendor = intel_line ? IT_VENDOR_INTEL : IT_VENDOR_AMD;
	e->has_text = 1;
	__builtin_memcpy(e->text, buf, IT_FAULT_TEXT_LEN);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/console")
int BPF_PROG(tp_btf__console, const char *text, size_t len)
{
	return on_console(text, len);
}

SEC("raw_tp/console")
int BPF_PROG(raw_tp__console, const char *text, size_t len)
{
	return on_console(text, len);
}

/*
 * Test entry points for BPF_PROG_TEST_RUN on hosts where no IOMMU function
 * ever runs: they drive the same inline helpers as the real hooks.
 * Never attached; autoload is off outside tests/bpf.
 */
/* Kernel memory the tests can shape: a flush queue ring, an iommu_domain */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, char[512]);
} test_objs SEC(".maps");

/* @ptr, or the address of test object 0 (fq) / 1 (domain) for IT_TEST_OBJ_* */
static __always_inline __u64 test_ptr(__u64 ptr)
{
	__u32 idx = ptr == IT_TEST_OBJ_DOMAIN;
	void *obj;

	if (ptr != IT_TEST_OBJ_FQ && ptr != IT_TEST_OBJ_DOMAIN)
		return ptr;
	obj = bpf_map_lookup_elem(&test_objs, &idx);
	return (__u64)obj;
}

static __always_inline int test_objs_set(__u64 fq_head, __u64 domain_type)
{
	__u32 zero = 0, one = 1;
	struct iova_fq___it *fq = bpf_map_lookup_elem(&test_objs, &zero);
	struct iommu_domain *dom = bpf_map_lookup_elem(&test_objs, &one);

	if (!fq || !dom)
		return 0;
	fq->head = fq_head;
	if (bpf_core_field_exists(fq->mod_mask))
		fq->mod_mask = IT_IOVA_FQ_SIZE_OLD - 1;
	dom->type = domain_type;
	return 0;
}

SEC("raw_tp/it_test")
int BPF_PROG(it_test, __u64 action, __u64 key, __u64 arg)
{
	if (action == IT_TEST_OBJS_SET)
		return test_objs_set(key, arg);
	switch (action) {
	case IT_TEST_DEV_ENTER: return dev_scope_enter((void *)key, arg, NULL);
	case IT_TEST_DEV_EXIT: return dev_scope_exit((void *)key, arg);
	case IT_TEST_OP_ENTER:
		if (arg == IT_OP_FQ_FLUSH)
			return fq_flush_enter(key);
		return op_enter(key, arg & IT_SCOPE_OP_MASK, arg & IT_TEST_EXIT_DEEP, NULL);
	case IT_TEST_OP_EXIT:
		if (arg == IT_OP_FQ_FLUSH)
			return fq_flush_end(key);
		return op_exit(key, arg);
	case IT_TEST_ATTACH: return attach_learn(test_ptr(key), (void *)arg);
	case IT_TEST_IOVA_FREE: return iova_free_count();
	case IT_TEST_FQ_TIMEOUT_ENTER: return fq_timeout_mark(1);
	case IT_TEST_FQ_TIMEOUT_EXIT: return fq_timeout_mark(-1);
	case IT_TEST_FQ_RING_FREE_ENTER: return fq_ring_free_enter(key, test_ptr(arg));
	case IT_TEST_FQ_RING_FREE_EXIT: return fq_ring_free_exit();
	case IT_TEST_FLUSH_ALL_ENTER: return flush_all_enter(test_ptr(key));
	case IT_TEST_FLUSH_ALL_EXIT: return flush_all_exit(test_ptr(key));
	case IT_TEST_RID_SLOT: return rid_slot(key >> 16, key & 0xffff);
	case IT_TEST_TWIN_RUNNING: return twin_main_running(arg);
	case IT_TEST_PCI_NAME: {
		__u64 name[3] = { key, arg, 0 };

		return pci_name_rid((const char *)name);
	}
	}
	return 0;
}
