// SPDX-License-Identifier: GPL-2.0
/*
 * The page-table walker of bpf/walk.h, compiled here against a fake physical
 * memory so every branch (leaf, superpage, missing entry, AMD next-level
 * encoding, unreadable page) is checked without a kernel.
 */
#include <stdint.h>
#include <string.h>

#include "iommutrace.h"
#include "unit.h"

#define FAKE_PAGES 16
static uint64_t fake_mem[FAKE_PAGES][512];
#define FAKE_BASE 0x100000ULL	/* "physical" address of page 0 */

/* virtual == physical + offset, as the direct map; unreadable outside fake_mem */
#define VOFF ((uint64_t)(uintptr_t)fake_mem - FAKE_BASE)

static int fake_read(uint64_t *dst, uint64_t va)
{
	uint64_t base = (uint64_t)(uintptr_t)fake_mem;

	if (va < base || va + 8 > base + sizeof(fake_mem))
		return -1;
	memcpy(dst, (void *)(uintptr_t)va, 8);
	return 0;
}

#ifndef __always_inline
#define __always_inline inline
#endif
#define IT_WALK_READ_U64(dst, addr) fake_read((uint64_t *)&(dst), (addr))
#define IT_PHYS_TO_VIRT(phys) ((phys) + VOFF)
#include "../../bpf/walk.h"

static uint64_t page_phys(int i) { return FAKE_BASE + (uint64_t)i * 4096; }
static uint64_t page_virt(int i) { return page_phys(i) + VOFF; }

static void test_intel(void)
{
	uint64_t iova = 0x12345000ULL;	/* idx L4=0 L3=0 L2=0x91 L1=0x145 */
	struct it_walk w = {};
	int level;

	memset(fake_mem, 0, sizeof(fake_mem));
	fake_mem[0][it_walk_index(iova, 4)] = page_phys(1) | 3;
	fake_mem[1][it_walk_index(iova, 3)] = page_phys(2) | 3;
	fake_mem[2][it_walk_index(iova, 2)] = page_phys(3) | 3;
	fake_mem[3][it_walk_index(iova, 1)] = 0xabcd000ULL | 1;	/* read-only leaf */
	level = it_walk_table(page_virt(0), 4, iova, 0, &w);
	CHECK(level == 1 && w.status == IT_WALK_LEAF, "intel 4-level walk finds a 4K leaf");
	CHECK(w.nr_ptes == 4 && (w.pte[3] & IT_PTE_ADDR_MASK) == 0xabcd000ULL,
	      "leaf PTE recorded with its address");
	CHECK(it_pgsize_of_level(level) == IT_PGSIZE_4K, "level 1 is 4K");

	fake_mem[3][it_walk_index(iova, 1)] = 0;
	level = it_walk_table(page_virt(0), 4, iova, 0, &w);
	CHECK(level == 0 && w.status == IT_WALK_NOT_PRESENT && w.stop_level == 1,
	      "missing leaf: translation stops at level 1");

	fake_mem[2][it_walk_index(iova, 2)] = 0x40000000ULL | IT_VTD_PTE_SP | 3;
	level = it_walk_table(page_virt(0), 4, iova, 0, &w);
	CHECK(level == 2 && it_pgsize_of_level(level) == IT_PGSIZE_2M, "superpage bit: 2M leaf");

	fake_mem[0][it_walk_index(iova, 4)] = 0;
	level = it_walk_table(page_virt(0), 4, iova, 0, &w);
	CHECK(level == 0 && w.stop_level == 4 && w.nr_ptes == 1, "empty top level stops at 4");

	fake_mem[0][it_walk_index(iova, 4)] = 0x7fff0000000ULL | 3;	/* outside fake memory */
	level = it_walk_table(page_virt(0), 4, iova, 0, &w);
	CHECK(w.status == IT_WALK_READ_ERROR && w.stop_level == 3, "unreadable table reported");

	level = it_walk_table(page_virt(0), 9, iova, 0, &w);
	CHECK(w.status == IT_WALK_UNAVAILABLE, "impossible level count rejected");
}

static void test_amd(void)
{
	uint64_t iova = 0x7fff2000ULL;
	struct it_walk w = {};
	int level;

	memset(fake_mem, 0, sizeof(fake_mem));
	/* mode 3: next-level field 2 then 1 then a leaf (next level 0) */
	fake_mem[0][it_walk_index(iova, 3)] = page_phys(1) | (2ULL << 9) | 1;
	fake_mem[1][it_walk_index(iova, 2)] = page_phys(2) | (1ULL << 9) | 1;
	fake_mem[2][it_walk_index(iova, 1)] = 0x5000ULL | (3ULL << 61) | 1;
	level = it_walk_table(page_virt(0), 3, iova, 1, &w);
	CHECK(level == 1 && w.status == IT_WALK_LEAF && w.nr_ptes == 3, "amd 3-level walk");

	fake_mem[1][it_walk_index(iova, 2)] = 0x200000ULL | (0ULL << 9) | 1;
	level = it_walk_table(page_virt(0), 3, iova, 1, &w);
	CHECK(level == 2 && it_pgsize_of_level(level) == IT_PGSIZE_2M, "amd next-level 0: 2M leaf");

	fake_mem[1][it_walk_index(iova, 2)] = page_phys(2) | (1ULL << 9);	/* PR clear */
	level = it_walk_table(page_virt(0), 3, iova, 1, &w);
	CHECK(level == 0 && w.status == IT_WALK_NOT_PRESENT && w.stop_level == 2,
	      "amd not-present entry stops the walk");
}

int main(void)
{
	test_intel();
	test_amd();
	UNIT_EXIT();
}
