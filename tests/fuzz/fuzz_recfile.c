// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the recording reader (src/recfile.c) and what report
 * renders from it. Seed corpus: tests/fuzz/corpus/recfile (files written by
 * tests/unit/test_recfile and by `record` in the guest: format version 1; and
 * version 2 with IOMMU PMU rows: synth-strict-pmu-v2.itr from test_recfile,
 * host-swdev-pmu-v2.itr from `record --pmu-sysfs tests/fixtures/pmu/swdev`).
 *
 * Every section carries a CRC, so blind mutations die at the first check.
 * A second pass therefore repairs the input before parsing it: each section's
 * CRC and the trailer's file CRC are recomputed, which lets mutations reach
 * zlib, the record decoders and the metadata parser. The reader must accept
 * or reject with a message and an offset inside the input; an accepted file
 * is rendered (table, JSON, a histogram) to /dev/null.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "recfile.h"
#include "render.h"

#define FUZZ_MAX_LEN	(1u << 18)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!freopen("/dev/null", "w", stdout))
		abort();
	return 0;
}

static uint32_t le32(const uint8_t *b)
{
	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put_le32(uint8_t *b, uint32_t v)
{
	b[0] = v;
	b[1] = v >> 8;
	b[2] = v >> 16;
	b[3] = v >> 24;
}

/* recompute every CRC so the decoders see the mutation */
static void crc_repair(uint8_t *b, size_t len)
{
	size_t off = IT_REC_FILE_HDR_LEN;
	unsigned long crc;

	if (len < off)
		return;
	crc = crc32(crc32(0, NULL, 0), b, off);
	while (len - off >= IT_REC_SECT_HDR_LEN) {
		uint32_t type = le32(b + off), zlen = le32(b + off + 8);
		uint8_t *p = b + off + IT_REC_SECT_HDR_LEN;

		if (zlen > len - off - IT_REC_SECT_HDR_LEN)
			return;
		if (type == IT_REC_TRAILER && zlen >= 28)
			put_le32(p + 24, crc);
		put_le32(b + off + 12, crc32(0, p, zlen));
		crc = crc32(crc, b + off, IT_REC_SECT_HDR_LEN + zlen);
		off += IT_REC_SECT_HDR_LEN + zlen;
	}
}

static void parse_one(const uint8_t *buf, size_t len)
{
	struct it_render_opts ro = { .source = "fuzz" };
	struct it_rec_error err;
	struct it_recording r;
	int ret, i;

	ret = rec_parse(buf, len, &r, NULL, NULL, &err);
	if (ret) {
		if (!err.msg[0] || err.offset > len)
			abort();
	} else {
		if (!r.summary || r.summary->nr_devs > IT_MAX_DEVS ||
		    r.nr_faults_kept > IT_REC_MAX_FAULTS || r.nr_figures > IT_REC_MAX_FIGURES ||
		    r.summary->pmu.nr_rows < 0 || r.summary->pmu.nr_rows > IT_PMU_MAX_ROWS)
			abort();
		for (i = 0; i < r.summary->pmu.nr_rows; i++)
			if (!r.summary->pmu.rows[i].unit[0] ||
			    r.summary->pmu.rows[i].have >> PMU_ROLE_MAX)
				abort();
		render_table(stdout, r.summary, &ro);
		render_json(stdout, r.summary, &ro);
		render_hists(stdout, r.summary, IT_HIST_DMA_UNMAP, &ro);
		for (i = 0; i < r.nr_faults_kept; i++)
			printf("%s %s\n", r.faults[i].device, r.faults[i].text);
	}
	rec_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size > FUZZ_MAX_LEN)
		return 0;
	parse_one(data, size);
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	crc_repair(copy, size);
	parse_one(copy, size);
	free(copy);
	return 0;
}
