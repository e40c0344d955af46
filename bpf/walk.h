/* SPDX-License-Identifier: GPL-2.0 */
/*
 * I/O page-table walker shared by the BPF programs and the unit tests.
 *
 * Intel second-level tables (VT-d legacy mode) and AMD v1 tables are both
 * radix trees of 512 64-bit entries per 4 KiB page, indexed by 9 IOVA bits per
 * level. The includer defines IT_WALK_READ_U64(dst, addr) -> 0 on success and
 * IT_PHYS_TO_VIRT(phys) before including this file.
 */
#ifndef IT_WALK_H
#define IT_WALK_H

#define IT_PTE_ADDR_MASK	0x000ffffffffff000ULL

/* Intel: bit 0 read, bit 1 write, bit 7 superpage (levels 2 and 3) */
#define IT_VTD_PTE_R		(1ULL << 0)
#define IT_VTD_PTE_W		(1ULL << 1)
#define IT_VTD_PTE_SP		(1ULL << 7)

/* AMD: bit 0 present, bits 9-11 next level (0 or 7: this is a leaf) */
#define IT_AMD_PTE_PR		(1ULL << 0)
#define IT_AMD_PTE_NEXT(pte)	(((pte) >> 9) & 7)

static __always_inline __u32 it_walk_index(__u64 iova, __u32 level)
{
	return (iova >> (12 + 9 * (level - 1))) & 0x1ff;
}

/*
 * Walks from the top-level table at virtual address @table down to the leaf
 * for @iova. @levels is 2..6. Fills @w; returns the leaf level (1 = 4 KiB,
 * 2 = 2 MiB, 3 = 1 GiB) or 0 when translation stops early.
 */
static __always_inline int it_walk_table(__u64 table, __u32 levels, __u64 iova,
					 int amd, struct it_walk *w)
{
	__u32 i;

	w->levels = levels;
	w->nr_ptes = 0;
	if (levels < 1 || levels > IT_WALK_MAX_LEVELS) {
		w->status = IT_WALK_UNAVAILABLE;
		return 0;
	}
	for (i = 0; i < IT_WALK_MAX_LEVELS; i++) {
		__u32 level = levels - i;
		__u64 pte = 0;
		int leaf;

		if (level < 1)
			break;
		if (IT_WALK_READ_U64(pte, table + 8ULL * it_walk_index(iova, level))) {
			w->status = IT_WALK_READ_ERROR;
			w->stop_level = level;
			return 0;
		}
		w->pte[i] = pte;
		w->nr_ptes = i + 1;
		w->stop_level = level;
		if (amd) {
			if (!(pte & IT_AMD_PTE_PR)) {
				w->status = IT_WALK_NOT_PRESENT;
				return 0;
			}
			leaf = level == 1 || IT_AMD_PTE_NEXT(pte) == 0 ||
			       IT_AMD_PTE_NEXT(pte) == 7;
		} else {
			if (!(pte & (IT_VTD_PTE_R | IT_VTD_PTE_W))) {
				w->status = IT_WALK_NOT_PRESENT;
				return 0;
			}
			leaf = level == 1 || (pte & IT_VTD_PTE_SP);
		}
		if (leaf) {
			w->status = IT_WALK_LEAF;
			return level;
		}
		table = IT_PHYS_TO_VIRT(pte & IT_PTE_ADDR_MASK);
	}
	w->status = IT_WALK_NOT_PRESENT;
	return 0;
}

static __always_inline __u32 it_pgsize_of_level(int level)
{
	switch (level) {
	case 1: return IT_PGSIZE_4K;
	case 2: return IT_PGSIZE_2M;
	case 3: return IT_PGSIZE_1G;
	case 0: return IT_PGSIZE_NOLEAF;
	default: return IT_PGSIZE_OTHER;
	}
}

#endif
