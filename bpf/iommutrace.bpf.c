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
 * Every hook comes as fentry/fexit and kprobe/kretprobe twins; userspace
 * loads the best one the running kernel allows (src/probes.c).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "iommutrace.h"
#include "bits.bpf.h"
#include "vendor.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Tunables, set by userspace before load */
const volatile __u32 lat_sample_every = 1;	/* time 1 in N operations */
const volatile __u32 iommu_vendor = IT_VENDOR_GENERIC;
const volatile bool walk_maps = true;		/* page-size walk on every map */
const volatile bool faults_from_console = false; /* no register-level fault hook */

__u32 next_slot = 1;	/* slot 0 is "unattributed" */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IT_MAX_DEVS * IT_OP_MAX);
	__type(key, __u32);
	__type(value, struct it_op_stats);
} op_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IT_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct it_dev_hists);
} dev_hists SEC(".maps");

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

struct it_scope {
	__u64 key;	/* device, domain, iovad or cookie: matches exit to entry */
	__u64 t0;	/* 0: not timed (sampled out) */
	__u32 slot;
	__u32 op;
};

struct it_task_ctx {
	__u32 dev_depth;
	__u32 op_depth;
	struct it_scope dev[IT_SCOPE_DEPTH];
	struct it_scope op[IT_SCOPE_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct it_task_ctx);
} task_ctx SEC(".maps");

/* Timer and flush-queue context: softirq, never preempted, so per CPU */
struct it_cpu_ctx {
	__u32 in_fq_timeout;
	__u32 fq_slot1;		/* slot + 1 of the flush or ring free running */
	__u32 sample_ctr;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct it_cpu_ctx);
} cpu_ctx SEC(".maps");

/* phys_to_virt() needs the direct-map base, randomized under KASLR */
extern const void page_offset_base __ksym __weak;

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

static __always_inline struct it_task_ctx *task_ctx_get(void)
{
	struct it_task_ctx *tc;

	tc = bpf_task_storage_get(&task_ctx, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tc)
		lost_inc(IT_LOST_TASK_CTX);
	return tc;
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

static __always_inline struct it_op_stats *op_stats_get(__u32 slot, __u32 op)
{
	__u32 key = slot * IT_OP_MAX + op;

	return bpf_map_lookup_elem(&op_stats, &key);
}

static __always_inline void op_count(__u32 slot, __u32 op, __u64 bytes)
{
	struct it_op_stats *s = op_stats_get(slot, op);

	if (!s)
		return;
	/* atomics: a nested program (irq) may update the same per-CPU cell */
	__sync_fetch_and_add(&s->count, 1);
	if (bytes)
		__sync_fetch_and_add(&s->bytes, bytes);
}

static __always_inline void op_latency(__u32 slot, __u32 op, __u64 t0)
{
	struct it_op_stats *s;
	__u64 delta;

	if (!t0)
		return;
	s = op_stats_get(slot, op);
	if (!s)
		return;
	delta = bpf_ktime_get_ns() - t0;
	__sync_fetch_and_add(&s->lat_count, 1);
	__sync_fetch_and_add(&s->lat_sum_ns, delta);
	__sync_fetch_and_add(&s->lat_hist[it_hist_slot(delta, IT_LAT_SLOTS)], 1);
}

static __always_inline void size_hist_add(__u32 slot, bool unmap, __u64 bytes)
{
	struct it_dev_hists *h = bpf_map_lookup_elem(&dev_hists, &slot);
	__u64 b = it_hist_slot(bytes, IT_SIZE_SLOTS);

	if (!h)
		return;
	if (unmap)
		__sync_fetch_and_add(&h->unmap_size[b], 1);
	else
		__sync_fetch_and_add(&h->map_size[b], 1);
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
	for (i = IT_SCOPE_DEPTH - 1; i >= 0; i--) {
		if ((__u32)i >= depth)
			continue;
		if (stack[i].key == key && (!match_op || stack[i].op == op))
			return i;
	}
	return -1;
}

static __always_inline __u32 current_dev_slot(struct it_task_ctx *tc, bool *found)
{
	struct it_scope *top = tc ? scope_top(tc->dev, tc->dev_depth) : NULL;

	*found = top != NULL;
	return top ? top->slot : IT_SLOT_UNKNOWN;
}

/*
 * Claims the next entry of a scope stack. Interrupts stay enabled while a
 * BPF program runs, and a hook in an interrupt pushes onto the interrupted
 * task's stack: so the entry is claimed in one atomic step before it is
 * written. Reading the depth and storing depth + 1 after filling the entry
 * let an interrupt's push land on the same entry, and the outer exit then
 * found no entry of its own (counted as unpaired). -1: the stack is full.
 */
static __always_inline int scope_claim(__u32 *depth)
{
	__u32 d;

	if (*depth >= IT_SCOPE_DEPTH) {
		lost_inc(IT_LOST_SCOPE_DEPTH);
		return -1;
	}
	d = __sync_fetch_and_add(depth, 1);
	if (d >= IT_SCOPE_DEPTH) {
		__sync_fetch_and_sub(depth, 1);
		lost_inc(IT_LOST_SCOPE_DEPTH);
		return -1;
	}
	return d;
}

/* DMA-API entry: the device is known from here down. */
static __always_inline int dev_scope_enter(struct device *dev, __u32 op)
{
	struct it_task_ctx *tc = task_ctx_get();
	struct it_scope *sc;
	int d;

	if (!tc)
		return 0;
	d = scope_claim(&tc->dev_depth);
	if (d < 0)
		return 0;
	sc = &tc->dev[it_bounded(d, IT_SCOPE_DEPTH)];
	sc->key = (__u64)dev;
	sc->slot = dev_slot(dev);
	sc->op = op;
	/* nested DMA-API calls (map_page -> __iommu_dma_map): time the outer */
	sc->t0 = d == 0 ? it_now_sampled() : 0;
	return 0;
}

static __always_inline int dev_scope_exit(struct device *dev, __u32 op)
{
	struct it_task_ctx *tc = task_ctx_get();
	struct it_scope *sc;
	int idx;

	if (!tc)
		return 0;
	idx = scope_find(tc->dev, tc->dev_depth, (__u64)dev, op, false);
	if (idx < 0) {
		lost_inc(IT_LOST_UNPAIRED);
		return 0;
	}
	if (tc->dev_depth - 1 > (__u32)idx)
		lost_add(IT_LOST_UNPAIRED, tc->dev_depth - 1 - idx);
	sc = &tc->dev[it_bounded(idx, IT_SCOPE_DEPTH)];
	if (idx == 0) {
		op_count(sc->slot, sc->op, 0);
		op_latency(sc->slot, sc->op, sc->t0);
	}
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
	case IT_OP_FQ_FLUSH:
		return domain_slot(cookie_domain(key));
	default:
		/* IOVA frees and invalidation commands inside a lazy flush */
		cc = cpu_ctx_get();
		if (cc && cc->fq_slot1)
			return cc->fq_slot1 - 1;
		return IT_SLOT_UNKNOWN;
	}
}

static __always_inline bool op_counted_at_entry(__u32 op)
{
	/* map/unmap are counted by their tracepoints, per event */
	return op != IT_OP_MAP && op != IT_OP_UNMAP;
}

static __always_inline int op_enter(__u64 key, __u32 op)
{
	struct it_task_ctx *tc = task_ctx_get();
	struct it_scope *sc;
	bool in_dev;
	__u32 slot;
	int d;

	slot = current_dev_slot(tc, &in_dev);
	if (in_dev) {
		if (op == IT_OP_MAP || op == IT_OP_UNMAP)
			domain_learn(slot, key);
	} else {
		slot = op_slot_fallback(op, key);
	}
	if (op_counted_at_entry(op))
		op_count(slot, op, 0);
	if (!tc)
		return 0;
	d = scope_claim(&tc->op_depth);
	if (d < 0)
		return 0;
	sc = &tc->op[it_bounded(d, IT_SCOPE_DEPTH)];
	sc->key = key;
	sc->slot = slot;
	sc->op = op;
	sc->t0 = it_now_sampled();
	return 0;
}

static __always_inline int op_exit(__u64 key, __u32 op)
{
	struct it_task_ctx *tc = task_ctx_get();
	struct it_scope *sc;
	int idx;

	if (!tc)
		return 0;
	idx = scope_find(tc->op, tc->op_depth, key, op, true);
	if (idx < 0) {
		lost_inc(IT_LOST_UNPAIRED);
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

	if (&page_offset_base)
		bpf_probe_read_kernel(&base, sizeof(base), &page_offset_base);
	if (!base)
		base = 0xffff888000000000ULL;	/* 4-level default */
	return phys + base;
}

#define IT_WALK_READ_U64(dst, addr) \
	bpf_probe_read_kernel(&(dst), sizeof(__u64), (const void *)(addr))
#define IT_PHYS_TO_VIRT(phys) it_phys_to_virt(phys)
#include "walk.h"

/* Walk a domain's table (map path): Intel dmar_domain or AMD protection_domain. */
static __always_inline int domain_walk(__u64 domain, __u64 iova, struct it_walk *w)
{
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

static __always_inline void pgsize_account(__u32 slot, __u64 domain, __u64 iova)
{
	struct it_dev_hists *h;
	struct it_walk *w;
	__u32 zero = 0;
	int level;

	if (!walk_maps || !domain)
		return;
	w = bpf_map_lookup_elem(&walk_scratch, &zero);
	h = bpf_map_lookup_elem(&dev_hists, &slot);
	if (!w || !h)
		return;
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

/* ---- map / unmap events ---- */

/* The innermost map/unmap call in flight gives the slot (and the domain). */
static __always_inline __u32 event_slot(__u32 op, __u64 *domain)
{
	struct it_task_ctx *tc = task_ctx_get();
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
	return slot;
}

static __always_inline int on_map(__u64 iova, __u64 size)
{
	__u64 domain;
	__u32 slot = event_slot(IT_OP_MAP, &domain);

	op_count(slot, IT_OP_MAP, size);
	size_hist_add(slot, false, size);
	pgsize_account(slot, domain, iova);
	return 0;
}

static __always_inline int on_unmap(__u64 iova, __u64 size, __u64 unmapped)
{
	__u64 domain;
	__u32 slot = event_slot(IT_OP_UNMAP, &domain);

	op_count(slot, IT_OP_UNMAP, unmapped);
	size_hist_add(slot, true, unmapped);
	return 0;
}

SEC("tp_btf/map")
int BPF_PROG(tp_btf__map, unsigned long iova, phys_addr_t paddr, size_t size)
{
	return on_map(iova, size);
}

SEC("raw_tp/map")
int BPF_PROG(raw_tp__map, unsigned long iova, phys_addr_t paddr, size_t size)
{
	return on_map(iova, size);
}

SEC("tracepoint/iommu/map")
int tp__map(struct trace_event_raw_map *ctx)
{
	return on_map(ctx->iova, ctx->size);
}

SEC("tp_btf/unmap")
int BPF_PROG(tp_btf__unmap, unsigned long iova, size_t size, size_t unmapped)
{
	return on_unmap(iova, size, unmapped);
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

/* ---- function hooks: fentry/fexit and kprobe/kretprobe twins ---- */

#define IT_HOOK(name, fn, enter, exit)					\
SEC("fentry/" #fn)							\
int BPF_PROG(fentry__##name, void *arg0) { return enter; }		\
SEC("fexit/" #fn)							\
int BPF_PROG(fexit__##name, void *arg0) { return exit; }		\
SEC("kprobe/" #fn)							\
int BPF_KPROBE(kprobe__##name, void *arg0) { return enter; }		\
SEC("kretprobe/" #fn)							\
int BPF_KRETPROBE(kretprobe__##name) { void *arg0 = NULL; (void)arg0; return exit; }

#define IT_HOOK_ENTRY(name, fn, enter)					\
SEC("fentry/" #fn)							\
int BPF_PROG(fentry__##name, void *arg0) { return enter; }		\
SEC("kprobe/" #fn)							\
int BPF_KPROBE(kprobe__##name, void *arg0) { return enter; }

#define DEV_SCOPE(name, fn, op) \
	IT_HOOK(name, fn, dev_scope_enter(arg0, op), dev_scope_exit(arg0, op))
#define OP_SCOPE(name, fn, op) \
	IT_HOOK(name, fn, op_enter((__u64)arg0, op), op_exit((__u64)arg0, op))

/* DMA API (device known). Renamed targets are set by userspace at load. */
DEV_SCOPE(dma_map_page, iommu_dma_map_page, IT_OP_DMA_MAP)
DEV_SCOPE(dma_map_core, __iommu_dma_map, IT_OP_DMA_MAP)
DEV_SCOPE(dma_map_sg, iommu_dma_map_sg, IT_OP_DMA_MAP)
DEV_SCOPE(dma_map_resource, iommu_dma_map_resource, IT_OP_DMA_MAP)
DEV_SCOPE(dma_alloc, iommu_dma_alloc, IT_OP_DMA_MAP)
DEV_SCOPE(dma_unmap_page, iommu_dma_unmap_page, IT_OP_DMA_UNMAP)
DEV_SCOPE(dma_unmap_core, __iommu_dma_unmap, IT_OP_DMA_UNMAP)
DEV_SCOPE(dma_unmap_sg, iommu_dma_unmap_sg, IT_OP_DMA_UNMAP)
DEV_SCOPE(dma_unmap_resource, iommu_dma_unmap_resource, IT_OP_DMA_UNMAP)
DEV_SCOPE(dma_free, iommu_dma_free, IT_OP_DMA_UNMAP)

/* IOMMU core (domain known) */
OP_SCOPE(iommu_map, iommu_map, IT_OP_MAP)
OP_SCOPE(iommu_map_atomic, iommu_map_atomic, IT_OP_MAP)
OP_SCOPE(iommu_map_sg, iommu_map_sg, IT_OP_MAP)
OP_SCOPE(iommu_map_sg_atomic, iommu_map_sg_atomic, IT_OP_MAP)
OP_SCOPE(iommu_unmap, iommu_unmap, IT_OP_UNMAP)
OP_SCOPE(iommu_unmap_fast, iommu_unmap_fast, IT_OP_UNMAP)

/* IOVA allocator */
OP_SCOPE(alloc_iova_fast, alloc_iova_fast, IT_OP_IOVA_ALLOC)
OP_SCOPE(alloc_iova, alloc_iova, IT_OP_IOVA_SLOW)

static __always_inline int iova_free_count(void)
{
	struct it_task_ctx *tc = task_ctx_get();
	struct it_cpu_ctx *cc = cpu_ctx_get();
	bool in_dev;
	__u32 slot;

	/* a free inside fq_ring_free() is a lazy free: charge the queue's domain */
	if (cc && cc->fq_slot1) {
		op_count(cc->fq_slot1 - 1, IT_OP_IOVA_FREE, 0);
		op_count(cc->fq_slot1 - 1, IT_OP_FQ_FREED, 0);
		return 0;
	}
	slot = current_dev_slot(tc, &in_dev);
	op_count(slot, IT_OP_IOVA_FREE, 0);
	return 0;
}

IT_HOOK_ENTRY(free_iova_fast, free_iova_fast, iova_free_count())

/* Strict invalidation: one vendor iotlb_sync per unmap */
OP_SCOPE(iotlb_sync_intel, intel_iommu_tlb_sync, IT_OP_IOTLB_SYNC)
OP_SCOPE(iotlb_sync_amd, amd_iommu_iotlb_sync, IT_OP_IOTLB_SYNC)

/* Hardware invalidation submission (waits for completion on Intel) */
OP_SCOPE(inv_cmd_intel, qi_submit_sync, IT_OP_INV_CMD)
OP_SCOPE(inv_cmd_amd, __iommu_queue_command_sync, IT_OP_INV_CMD)

/* Lazy mode: the flush queue */
static __always_inline int fq_flush_enter(__u64 cookie)
{
	struct it_cpu_ctx *cc = cpu_ctx_get();
	__u32 slot = domain_slot(cookie_domain(cookie));

	if (cc) {
		cc->fq_slot1 = slot + 1;
		if (cc->in_fq_timeout)
			op_count(slot, IT_OP_FQ_TIMEOUT, 0);
	}
	return op_enter(cookie, IT_OP_FQ_FLUSH);
}

static __always_inline int fq_flush_exit(__u64 cookie)
{
	struct it_cpu_ctx *cc = cpu_ctx_get();

	if (cc)
		cc->fq_slot1 = 0;
	return op_exit(cookie, IT_OP_FQ_FLUSH);
}

IT_HOOK(fq_flush_iotlb, fq_flush_iotlb, fq_flush_enter((__u64)arg0), fq_flush_exit((__u64)arg0))

static __always_inline int fq_timeout_mark(int delta)
{
	struct it_cpu_ctx *cc = cpu_ctx_get();

	if (cc)
		cc->in_fq_timeout += delta;
	return 0;
}

IT_HOOK(fq_flush_timeout, fq_flush_timeout, fq_timeout_mark(1), fq_timeout_mark(-1))

static __always_inline int fq_ring_free_mark(__u64 cookie)
{
	struct it_cpu_ctx *cc = cpu_ctx_get();

	if (cc)
		cc->fq_slot1 = cookie ? domain_slot(cookie_domain(cookie)) + 1 : 0;
	return 0;
}

IT_HOOK(fq_ring_free, fq_ring_free, fq_ring_free_mark((__u64)arg0), fq_ring_free_mark(0))

/* Attach: learn domain -> device for maps made outside the DMA API */
static __always_inline int attach_learn(__u64 domain, struct device *dev)
{
	domain_learn(dev_slot(dev), domain);
	return 0;
}

SEC("fentry/__iommu_attach_device")
int BPF_PROG(fentry__attach_device, void *domain, void *dev)
{
	return attach_learn((__u64)domain, dev);
}

SEC("kprobe/__iommu_attach_device")
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
		e->walk.status = IT_WALK_UNAVAILABLE;	/* scalable mode */
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

/* dmar_fault(irq, iommu): read the pending fault records before it clears them */
static __always_inline int on_dmar_fault(struct intel_iommu___it *iommu)
{
	__u64 reg, cap, frcd;
	__u32 fsts, index, nr_regs, i;
	__u16 segment;

	if (!iommu)
		return 0;
	reg = (__u64)BPF_CORE_READ(iommu, reg);
	cap = BPF_CORE_READ(iommu, cap);
	segment = BPF_CORE_READ(iommu, segment);
	fsts = mmio_read32(reg + IT_DMAR_FSTS_REG);
	if (!(fsts & IT_DMA_FSTS_PPF))
		return 0;
	index = (fsts >> 8) & 0xff;
	nr_regs = ((cap >> 40) & 0xff) + 1;
	frcd = reg + ((cap >> 24) & 0x3ff) * 16;

	/* QEMU has one recording register: never revisit one in a pass */
	for (i = 0; i < IT_MAX_FAULT_RECORDS && i < nr_regs; i++) {
		__u64 rec = frcd + ((index + i) % nr_regs) * 16;
		__u32 hi = mmio_read32(rec + 12), mid;
		struct it_fault_event *e;

		if (!(hi & IT_DMA_FRCD_F))
			break;
		mid = mmio_read32(rec + 8);
		e = fault_reserve(rid_slot(segment, mid & 0xffff));
		if (!e)
			continue;
		e->vendor = IT_VENDOR_INTEL;
		e->reason = hi & 0xff;
		e->is_write = !((hi >> 30) & 1);	/* T bit: 1 = read */
		e->pasid = (hi >> 8) & 0xfffff;
		e->source_id = mid & 0xffff;
		e->pasid_present = (mid >> 31) & 1;
		e->segment = segment;
		e->iova = mmio_read64(rec) & ~0xfffULL;
		if (e->reason < 0x20)		/* 0x20+: interrupt remapping */
			intel_fault_walk(iommu, reg, e);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}

SEC("fentry/dmar_fault")
int BPF_PROG(fentry__dmar_fault, int irq, void *dev_id)
{
	return on_dmar_fault(dev_id);
}

SEC("kprobe/dmar_fault")
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
enum it_test_action {
	IT_TEST_DEV_ENTER,
	IT_TEST_DEV_EXIT,
	IT_TEST_OP_ENTER,
	IT_TEST_OP_EXIT,
	IT_TEST_ATTACH,
	IT_TEST_IOVA_FREE,
	IT_TEST_FQ_TIMEOUT_ENTER,
	IT_TEST_FQ_TIMEOUT_EXIT,
	IT_TEST_FQ_RING_FREE_ENTER,
	IT_TEST_FQ_RING_FREE_EXIT,
	IT_TEST_RID_SLOT,		/* key: segment << 16 | requester id */
	IT_TEST_PCI_NAME,		/* key, arg: the name's 16 bytes */
};

SEC("raw_tp/it_test")
int BPF_PROG(it_test, __u64 action, __u64 key, __u64 arg)
{
	switch (action) {
	case IT_TEST_DEV_ENTER: return dev_scope_enter((void *)key, arg);
	case IT_TEST_DEV_EXIT: return dev_scope_exit((void *)key, arg);
	case IT_TEST_OP_ENTER:
		if (arg == IT_OP_FQ_FLUSH)
			return fq_flush_enter(key);
		return op_enter(key, arg);
	case IT_TEST_OP_EXIT:
		if (arg == IT_OP_FQ_FLUSH)
			return fq_flush_exit(key);
		return op_exit(key, arg);
	case IT_TEST_ATTACH: return attach_learn(key, (void *)arg);
	case IT_TEST_IOVA_FREE: return iova_free_count();
	case IT_TEST_FQ_TIMEOUT_ENTER: return fq_timeout_mark(1);
	case IT_TEST_FQ_TIMEOUT_EXIT: return fq_timeout_mark(-1);
	case IT_TEST_FQ_RING_FREE_ENTER: return fq_ring_free_mark(key);
	case IT_TEST_FQ_RING_FREE_EXIT: return fq_ring_free_mark(0);
	case IT_TEST_RID_SLOT: return rid_slot(key >> 16, key & 0xffff);
	case IT_TEST_PCI_NAME: {
		__u64 name[3] = { key, arg, 0 };

		return pci_name_rid((const char *)name);
	}
	}
	return 0;
}
