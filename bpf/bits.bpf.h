/* SPDX-License-Identifier: GPL-2.0 */
#ifndef IT_BITS_BPF_H
#define IT_BITS_BPF_H

/* floor(log2(v)), 0 for v <= 1; branch-free so the verifier sees no loop */
static __always_inline __u64 it_log2(__u64 v)
{
	__u64 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

/*
 * Histogram index, clamped. nr_slots must be a power of two: the mask after
 * the barrier survives optimisation and keeps the index provably in bounds
 * for verifiers (6.1) that lose track of it through 32-bit subregister ops.
 */
static __always_inline __u64 it_hist_slot(__u64 v, __u64 nr_slots)
{
	__u64 slot = it_log2(v);

	if (slot > nr_slots - 1)
		slot = nr_slots - 1;
	asm volatile("" : "+r"(slot));
	return slot & (nr_slots - 1);
}

/* an index already checked against n (a power of two), made visible to the verifier */
static __always_inline __u64 it_bounded(__u64 i, __u64 n)
{
	asm volatile("" : "+r"(i));
	return i & (n - 1);
}

#endif
