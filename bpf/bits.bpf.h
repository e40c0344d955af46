/* SPDX-License-Identifier: GPL-2.0 */
#ifndef IT_BITS_BPF_H
#define IT_BITS_BPF_H

/* floor(log2(v)), 0 for v <= 1; branch-free so the verifier sees no loop */
static __always_inline __u32 it_log2(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 it_hist_slot(__u64 v, __u32 nr_slots)
{
	__u32 slot = it_log2(v);

	return slot < nr_slots ? slot : nr_slots - 1;
}

#endif
