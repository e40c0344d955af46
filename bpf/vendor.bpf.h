/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CO-RE views of structures that the build machine's vmlinux.h may lack
 * (a host without the Intel/AMD drivers has no struct dmar_domain) or that
 * changed between kernels. The ___it suffix keeps them apart from vmlinux.h;
 * libbpf matches them to the running kernel's types by name and field.
 * Every use is guarded by bpf_core_field_exists(), so a kernel without the
 * field loads the program and just reports the walker as unavailable.
 */
#ifndef IT_VENDOR_BPF_H
#define IT_VENDOR_BPF_H

/*
 * drivers/iommu/generic_pt (6.18+ x86): Intel and AMD domains embed a
 * struct pt_iommu_<format> at offset 0, the struct iommu_domain first, then
 * the format's struct whose first member is the pt_common. top_of_table is
 * the top table's kernel address with its level (0: 4 KiB leaves) in the low
 * PT_TOP_LEVEL_BITS. Second-stage VT-d (vtdss) and first-stage (x86_64)
 * tables sit at the same place: the walker reads both the same way.
 */
#define IT_PT_TOP_LEVEL_MASK	7ULL

struct pt_common___it {
	unsigned long top_of_table;
} __attribute__((preserve_access_index));

struct pt_vtdss___it {
	struct pt_common___it common;
} __attribute__((preserve_access_index));

struct pt_iommu_vtdss___it {
	struct pt_vtdss___it vtdss_pt;
} __attribute__((preserve_access_index));

struct pt_amdv1___it {
	struct pt_common___it common;
} __attribute__((preserve_access_index));

struct pt_iommu_amdv1___it {
	struct pt_amdv1___it amdpt;
} __attribute__((preserve_access_index));

/* drivers/iommu/intel/iommu.h */
struct dmar_domain___it {
	void *pgd;			/* top-level struct dma_pte page */
	int agaw;			/* levels = agaw + 2 */
	struct iommu_domain domain;
} __attribute__((preserve_access_index));

struct intel_iommu___it {
	void *reg;			/* MMIO registers */
	__u64 cap;
	__u16 segment;
	void *root_entry;		/* struct root_entry[256] */
} __attribute__((preserve_access_index));

/* drivers/iommu/amd/amd_iommu_types.h, v1 page table (until the generic pt code) */
struct amd_io_pgtable___it {
	int mode;			/* levels, 0 = no translation */
	__u64 *root;
} __attribute__((preserve_access_index));

struct protection_domain___it {
	struct iommu_domain domain;
	struct amd_io_pgtable___it iop;
} __attribute__((preserve_access_index));

/* drivers/iommu/dma-iommu.c: the flush-queue owner, 5.17+ */
struct iommu_dma_cookie___it {
	struct iommu_domain *fq_domain;
} __attribute__((preserve_access_index));

/* drivers/iommu/dma-iommu.c: the flush-queue ring (5.17+; mod_mask 6.6+) */
struct iova_fq___it {
	unsigned int head;
	unsigned int mod_mask;
} __attribute__((preserve_access_index));

#define IT_IOVA_FQ_SIZE_OLD	256	/* fixed ring size before mod_mask */

/* arch/x86: the per-CPU preempt count, 6.2 to 6.14 (anonymous struct member) */
struct pcpu_hot___it {
	int preempt_count;
} __attribute__((preserve_access_index));

/* VT-d register layout (spec 11.4) */
#define IT_DMAR_RTADDR_REG	0x20
#define IT_DMAR_FSTS_REG	0x34
#define IT_DMA_FSTS_PPF		(1U << 1)
#define IT_DMA_FRCD_F		(1U << 31)
#define IT_RTADDR_TTM_MASK	(3ULL << 10)	/* 0: legacy root/context tables */
#define IT_MAX_FAULT_RECORDS	8

#endif
