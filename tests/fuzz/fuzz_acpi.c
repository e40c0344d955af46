// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the DMAR and IVRS parsers (src/acpi.c) and the
 * `info` renderers over what they decode. Seed corpus: tests/fixtures/acpi
 * (real QEMU tables and hand-built ones).
 *
 * Every input is tried as a DMAR and as an IVRS: the signature is forced so
 * the fuzzer need not find it, and a second pass also forces the header's
 * length to the input size so mutations reach the sub-tables instead of
 * dying at the length check. The parser must either succeed or fail with
 * an offset inside the input; ASan/UBSan catch the rest. One input in four
 * also goes through the tree/JSON printers (stdout goes to /dev/null).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "subcommands.h"	/* info_print_table */

#define FUZZ_MAX_LEN	(1u << 16)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* libFuzzer reports on stderr; the printers write to stdout */
	if (!freopen("/dev/null", "w", stdout))
		abort();
	return 0;
}

static void parse_dmar(const uint8_t *buf, size_t len)
{
	struct dmar_table t;
	struct acpi_error err;
	size_t i, j;

	if (dmar_parse(buf, len, &t, &err)) {
		/* an error names an offset within the input, never beyond */
		if (err.offset > len || !err.msg[0])
			abort();
	} else {
		if (t.hdr.length > len || t.hdr.length < 48)
			abort();
		for (i = 0; i < t.nstructs; i++) {
			const struct dmar_struct *s = &t.structs[i];

			if (s->offset + s->length > t.hdr.length)
				abort();
			for (j = 0; j < s->nscopes; j++) {
				if (s->scopes[j].offset < s->offset ||
				    s->scopes[j].offset >= s->offset + s->length ||
				    s->scopes[j].path_len > DMAR_PATH_MAX)
					abort();
			}
		}
	}
	dmar_free(&t);
}

static void parse_ivrs(const uint8_t *buf, size_t len)
{
	struct ivrs_table t;
	struct acpi_error err;
	size_t i, j;

	if (ivrs_parse(buf, len, &t, &err)) {
		if (err.offset > len || !err.msg[0])
			abort();
	} else {
		if (t.hdr.length > len || t.hdr.length < 48)
			abort();
		for (i = 0; i < t.nivhds; i++) {
			const struct ivrs_ivhd *h = &t.ivhds[i];

			if (h->offset + h->length > t.hdr.length)
				abort();
			for (j = 0; j < h->ndevs; j++) {
				if (h->devs[j].offset < h->offset ||
				    h->devs[j].offset >= h->offset + h->length)
					abort();
			}
		}
		for (i = 0; i < t.nivmds; i++) {
			if (t.ivmds[i].offset + t.ivmds[i].length > t.hdr.length)
				abort();
		}
	}
	ivrs_free(&t);
}

static void parse_as(const uint8_t *data, size_t size, const char *sig,
		     uint8_t *copy)
{
	uint32_t len = (uint32_t)size;

	memcpy(copy, data, size);
	memcpy(copy, sig, 4);
	if (sig[0] == 'D')
		parse_dmar(copy, size);
	else
		parse_ivrs(copy, size);
	if (size < 8)
		return;
	memcpy(copy + 4, &len, 4);	/* little-endian host */
	if (sig[0] == 'D')
		parse_dmar(copy, size);
	else
		parse_ivrs(copy, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size > FUZZ_MAX_LEN)
		return 0;
	/* the input as it is: signature detection, either parser */
	parse_dmar(data, size);
	parse_ivrs(data, size);
	if (size < 4)
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	parse_as(data, size, "DMAR", copy);
	parse_as(data, size, "IVRS", copy);
	/* the printers: bit 0 of the first byte picks JSON, bit 1 forcing the
	 * header (bit 2: which signature), on one input in four */
	if ((data[size - 1] & 3) == 0) {
		uint32_t len = (uint32_t)size;

		memcpy(copy, data, size);
		if (data[0] & 2) {
			memcpy(copy, data[0] & 4 ? "DMAR" : "IVRS", 4);
			if (size >= 8)
				memcpy(copy + 4, &len, 4);
		}
		info_print_table(copy, size, data[0] & 1);
	}
	free(copy);
	return 0;
}
