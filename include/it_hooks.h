/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one hook table, read by both sides: bpf/iommutrace.bpf.c expands it into
 * programs, src/probes.c into the list it resolves against the running kernel.
 *
 * A ROLE is a question the tracer answers (how many lazy flushes, which device
 * mapped). A role is served by one or more hooks: several at once where they
 * cover different callers (map_page and map_sg), and FALLBACK hooks that are
 * used only when no primary hook of the role can attach on this kernel (the
 * flush queue's own function inlined: count at the domain's flush-all). A
 * role no hook can serve is reported as "not traceable", never as 0.
 *
 * Modes: the lean default attaches IT_HF_LEAN hooks, as few programs per DMA
 * map+unmap pair as answer the common questions (6 in lazy mode: the DMA-API
 * call's entry and exit, the map/unmap tracepoints; strict adds the sync's
 * entry); --deep attaches them all. Left out of lean: fq_ring_free (the flush
 * queue calls it on every unmap), iommu_unmap_fast (every DMA-API unmap).
 */
#ifndef IT_HOOKS_H
#define IT_HOOKS_H

/* X(id, name, description) */
#define IT_ROLES(X)								\
	X(MAP_EVENTS, "map events", "iommu:map: map count, bytes, sizes")	\
	X(UNMAP_EVENTS, "unmap events", "iommu:unmap: unmap count, bytes")	\
	X(DMA_MAP, "DMA-API maps", "which device maps, DMA-API map latency")	\
	X(DMA_UNMAP, "DMA-API unmaps", "which device unmaps, DMA-API unmap latency") \
	X(IOMMU_MAP, "iommu_map", "domain of maps outside the DMA API (VFIO); iommu_map latency") \
	X(IOMMU_UNMAP, "iommu_unmap", "domain of unmaps outside the DMA API; iommu_unmap latency") \
	X(IOVA_ALLOC, "IOVA allocations", "IOVA ranges allocated")		\
	X(IOVA_SLOW, "IOVA slow path", "rcache misses: allocations from the global rbtree") \
	X(IOVA_FREE, "IOVA frees", "IOVA ranges freed")				\
	X(STRICT_SYNC, "strict IOTLB syncs", "strict mode: one IOTLB invalidation per unmap") \
	X(LAZY_FLUSH, "lazy flushes", "lazy mode: flush-queue domain flushes")	\
	X(LAZY_TIMER, "lazy flush timer", "lazy mode: flushes started by the flush-queue timer") \
	X(LAZY_FREED, "lazy freed entries", "lazy mode: IOVAs released after a flush") \
	X(INV_CMD, "invalidation commands", "commands submitted to the IOMMU's invalidation queue") \
	X(ATTACH, "domain attach", "domain -> device, for maps outside the DMA API") \
	X(FAULTS, "faults", "I/O page faults, decoded")

#define IT_ROLE_ENUM(id, name, desc) IT_ROLE_##id,
enum it_role {
	IT_ROLES(IT_ROLE_ENUM)
	IT_ROLE_MAX,
};
#undef IT_ROLE_ENUM

/* Hook flags */
#define IT_HF_LEAN	(1U << 0)	/* attached in the lean default (else --deep only) */
#define IT_HF_EXIT	(1U << 1)	/* has an exit program (fexit/kretprobe) */
#define IT_HF_EXIT_DEEP	(1U << 2)	/* exit program only in --deep (timed there) */
#define IT_HF_FALLBACK	(1U << 3)	/* only when no primary hook of its role attached */
#define IT_HF_DIRECT	(1U << 4)	/* lean: only where VFIO or iommufd is loaded */

/* Scope argument: the op, and what the outermost call of a device scope means */
#define IT_SCOPE_OP_MASK	0xff
#define IT_SCOPE_IOVA		(1U << 8)	/* allocates (maps) or frees one IOVA range */
#define IT_SCOPE_NOCOUNT	(1U << 9)	/* a scope for attribution only: not a DMA-API op */

/*
 * Function hooks. X(name, role, handler, arg, flags, vendor, targets...)
 *   handler: how bpf/iommutrace.bpf.c builds the programs (DEV_SCOPE: a
 *            DMA-API call, arg0 is the struct device; OP_SCOPE: an IOMMU
 *            operation on arg0, timed; HOT_OP_SCOPE: one the lean mode
 *            hooks, with twins for --lossless; CUSTOM: written out by hand
 *            there)
 *   arg:     the op (enum it_op) and IT_SCOPE_* bits
 *   vendor:  IT_VENDOR_* of the driver the function belongs to, or GENERIC
 *   targets: candidate kernel functions, newest name first; the first one
 *            the kernel has is used (renames: iommu_dma_map_page -> _phys)
 */
#define IT_FUNC_HOOKS(X)								\
	X(dma_map_page, DMA_MAP, DEV_SCOPE, IT_OP_DMA_MAP | IT_SCOPE_IOVA,		\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "iommu_dma_map_phys", "iommu_dma_map_page") \
	X(dma_map_sg, DMA_MAP, DEV_SCOPE, IT_OP_DMA_MAP | IT_SCOPE_IOVA,		\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "iommu_dma_map_sg")			\
	X(dma_map_resource, DMA_MAP, DEV_SCOPE, IT_OP_DMA_MAP | IT_SCOPE_IOVA,	\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "iommu_dma_map_resource")		\
	X(dma_alloc, DMA_MAP, DEV_SCOPE, IT_OP_DMA_MAP | IT_SCOPE_IOVA,		\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "iommu_dma_alloc")			\
	X(dma_iova_alloc, DMA_MAP, DEV_SCOPE,						\
	  IT_OP_DMA_MAP | IT_SCOPE_IOVA | IT_SCOPE_NOCOUNT,				\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "dma_iova_try_alloc")			\
	X(dma_iova_link, DMA_MAP, DEV_SCOPE, IT_OP_DMA_MAP,				\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "dma_iova_link")				\
	X(dma_map_core, DMA_MAP, DEV_SCOPE, IT_OP_DMA_MAP, IT_HF_EXIT, GENERIC,	\
	  "__iommu_dma_map")								\
	X(dma_unmap_page, DMA_UNMAP, DEV_SCOPE, IT_OP_DMA_UNMAP | IT_SCOPE_IOVA,	\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "iommu_dma_unmap_phys", "iommu_dma_unmap_page") \
	X(dma_unmap_sg, DMA_UNMAP, DEV_SCOPE, IT_OP_DMA_UNMAP | IT_SCOPE_IOVA,	\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "iommu_dma_unmap_sg")			\
	X(dma_unmap_resource, DMA_UNMAP, DEV_SCOPE, IT_OP_DMA_UNMAP | IT_SCOPE_IOVA,	\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "iommu_dma_unmap_resource")		\
	X(dma_free, DMA_UNMAP, DEV_SCOPE, IT_OP_DMA_UNMAP | IT_SCOPE_IOVA,		\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "iommu_dma_free")				\
	X(dma_iova_destroy, DMA_UNMAP, DEV_SCOPE, IT_OP_DMA_UNMAP | IT_SCOPE_IOVA,	\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "dma_iova_destroy")			\
	X(dma_iova_unlink, DMA_UNMAP, DEV_SCOPE, IT_OP_DMA_UNMAP,			\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "dma_iova_unlink")			\
	X(dma_iova_free, DMA_UNMAP, DEV_SCOPE,						\
	  IT_OP_DMA_UNMAP | IT_SCOPE_IOVA | IT_SCOPE_NOCOUNT,				\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "dma_iova_free")				\
	X(dma_unmap_core, DMA_UNMAP, DEV_SCOPE, IT_OP_DMA_UNMAP, IT_HF_EXIT, GENERIC,	\
	  "__iommu_dma_unmap")								\
	X(iommu_map, IOMMU_MAP, HOT_OP_SCOPE, IT_OP_MAP,					\
	  IT_HF_LEAN | IT_HF_DIRECT | IT_HF_EXIT | IT_HF_EXIT_DEEP, GENERIC, "iommu_map") \
	X(iommu_map_nosync, IOMMU_MAP, OP_SCOPE, IT_OP_MAP, IT_HF_EXIT, GENERIC,	\
	  "iommu_map_nosync")								\
	X(iommu_map_atomic, IOMMU_MAP, OP_SCOPE, IT_OP_MAP, IT_HF_EXIT, GENERIC,	\
	  "iommu_map_atomic")								\
	X(iommu_map_sg, IOMMU_MAP, OP_SCOPE, IT_OP_MAP, IT_HF_EXIT, GENERIC,		\
	  "iommu_map_sg")								\
	X(iommu_map_sg_atomic, IOMMU_MAP, OP_SCOPE, IT_OP_MAP, IT_HF_EXIT, GENERIC,	\
	  "iommu_map_sg_atomic")							\
	X(iommu_unmap, IOMMU_UNMAP, HOT_OP_SCOPE, IT_OP_UNMAP,				\
	  IT_HF_LEAN | IT_HF_DIRECT | IT_HF_EXIT | IT_HF_EXIT_DEEP, GENERIC, "iommu_unmap") \
	X(iommu_unmap_fast, IOMMU_UNMAP, OP_SCOPE, IT_OP_UNMAP, IT_HF_EXIT, GENERIC,	\
	  "iommu_unmap_fast")								\
	X(alloc_iova_fast, IOVA_ALLOC, OP_SCOPE, IT_OP_IOVA_ALLOC, IT_HF_EXIT,	\
	  GENERIC, "alloc_iova_fast")							\
	X(alloc_iova, IOVA_SLOW, HOT_OP_SCOPE, IT_OP_IOVA_SLOW,				\
	  IT_HF_LEAN | IT_HF_EXIT | IT_HF_EXIT_DEEP, GENERIC, "alloc_iova")		\
	X(free_iova_fast, IOVA_FREE, CUSTOM, IT_OP_IOVA_FREE, 0, GENERIC,		\
	  "free_iova_fast")								\
	X(iotlb_sync_intel, STRICT_SYNC, HOT_OP_SCOPE, IT_OP_IOTLB_SYNC,			\
	  IT_HF_LEAN | IT_HF_EXIT | IT_HF_EXIT_DEEP, INTEL, "intel_iommu_tlb_sync")	\
	X(iotlb_sync_amd, STRICT_SYNC, HOT_OP_SCOPE, IT_OP_IOTLB_SYNC,			\
	  IT_HF_LEAN | IT_HF_EXIT | IT_HF_EXIT_DEEP, AMD, "amd_iommu_iotlb_sync")	\
	X(iotlb_sync_virtio, STRICT_SYNC, HOT_OP_SCOPE, IT_OP_IOTLB_SYNC,			\
	  IT_HF_LEAN | IT_HF_EXIT | IT_HF_EXIT_DEEP, VIRTIO, "viommu_iotlb_sync")	\
	X(fq_flush_iotlb, LAZY_FLUSH, CUSTOM, IT_OP_FQ_FLUSH,				\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "fq_flush_iotlb")				\
	X(flush_all_intel, LAZY_FLUSH, CUSTOM, IT_OP_FQ_FLUSH,				\
	  IT_HF_LEAN | IT_HF_EXIT | IT_HF_FALLBACK, INTEL, "intel_flush_iotlb_all")	\
	X(flush_all_amd, LAZY_FLUSH, CUSTOM, IT_OP_FQ_FLUSH,				\
	  IT_HF_LEAN | IT_HF_EXIT | IT_HF_FALLBACK, AMD, "amd_iommu_flush_iotlb_all") \
	X(flush_all_virtio, LAZY_FLUSH, CUSTOM, IT_OP_FQ_FLUSH,			\
	  IT_HF_LEAN | IT_HF_EXIT | IT_HF_FALLBACK, VIRTIO, "viommu_flush_iotlb_all") \
	X(fq_flush_timeout, LAZY_TIMER, CUSTOM, IT_OP_FQ_TIMEOUT,			\
	  IT_HF_LEAN | IT_HF_EXIT, GENERIC, "fq_flush_timeout")			\
	X(fq_ring_free, LAZY_FREED, CUSTOM, IT_OP_FQ_FREED, IT_HF_EXIT, GENERIC,	\
	  "fq_ring_free_locked", "fq_ring_free")					\
	X(inv_cmd_intel, INV_CMD, OP_SCOPE, IT_OP_INV_CMD, IT_HF_EXIT, INTEL,		\
	  "qi_submit_sync")								\
	X(inv_cmd_amd, INV_CMD, OP_SCOPE, IT_OP_INV_CMD, IT_HF_EXIT, AMD,		\
	  "__iommu_queue_command_sync")						\
	X(attach_device, ATTACH, CUSTOM, 0, IT_HF_LEAN, GENERIC,			\
	  "__iommu_attach_device")							\
	X(dmar_fault, FAULTS, CUSTOM, IT_OP_FAULT, IT_HF_LEAN, INTEL, "dmar_fault")

/*
 * Tracepoints. X(name, role, flags, category, has_classic)
 * Programs tp_btf__NAME, raw_tp__NAME and, with has_classic, tp__NAME.
 */
#define IT_TP_HOOKS(X)								\
	X(map, MAP_EVENTS, IT_HF_LEAN, "iommu", 1)				\
	X(unmap, UNMAP_EVENTS, IT_HF_LEAN, "iommu", 1)				\
	X(io_page_fault, FAULTS, IT_HF_LEAN, "iommu", 0)			\
	X(console, FAULTS, IT_HF_LEAN, "printk", 0)

/*
 * --lossless: the twin slot (twin_served, twin_main_active) of each twinned
 * program: function hook @i's (its row in IT_FUNC_HOOKS) entry and exit, then
 * tracepoint @t (its row in IT_TP_HOOKS) after all @nf function hooks.
 */
#define IT_TWIN_SLOT_ENTRY(i)	(2 * (i))
#define IT_TWIN_SLOT_EXIT(i)	(2 * (i) + 1)
#define IT_TWIN_SLOT_TP(nf, t)	(2 * (nf) + (t))

/* Actions of the raw_tp/it_test program (tests/bpf, BPF_PROG_TEST_RUN) */
enum it_test_action {
	IT_TEST_DEV_ENTER,		/* key: device, arg: scope argument */
	IT_TEST_DEV_EXIT,
	IT_TEST_OP_ENTER,		/* key: domain/cookie..., arg: op [| IT_TEST_EXIT_DEEP] */
	IT_TEST_OP_EXIT,
	IT_TEST_ATTACH,			/* key: domain, arg: device */
	IT_TEST_IOVA_FREE,
	IT_TEST_FQ_TIMEOUT_ENTER,
	IT_TEST_FQ_TIMEOUT_EXIT,
	IT_TEST_FQ_RING_FREE_ENTER,	/* key: cookie, arg: struct iova_fq * */
	IT_TEST_FQ_RING_FREE_EXIT,
	IT_TEST_RID_SLOT,		/* key: segment << 16 | requester id */
	IT_TEST_PCI_NAME,		/* key, arg: the name's 16 bytes */
	IT_TEST_FLUSH_ALL_ENTER,	/* key: domain */
	IT_TEST_FLUSH_ALL_EXIT,
	IT_TEST_OBJS_SET,		/* key: fq->head, arg: domain->type of the test objects */
	IT_TEST_TWIN_RUNNING,		/* arg: slot: is its main copy running on this CPU */
};
/* key or arg naming the test objects: a flush-queue ring, an iommu_domain */
#define IT_TEST_OBJ_FQ		1
#define IT_TEST_OBJ_DOMAIN	2
#define IT_TEST_EXIT_DEEP	(1U << 16)	/* op_enter of a hook whose exit is --deep only */

#endif /* IT_HOOKS_H */
