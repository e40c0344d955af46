// SPDX-License-Identifier: GPL-2.0
/*
 * btfext_nolines OBJECT: drop the line info from a BPF object's .BTF.ext, in
 * place. A build tool (Makefile), run on the linked object before the
 * skeleton embeds it.
 *
 * Why: line info maps each BPF instruction to its source line, for verifier
 * logs. In our object it is 97 % of .BTF.ext (~580 KB of ~600 KB), which
 * libbpf copies into its heap at open and keeps through load, the tracer's
 * peak memory. The verifier needs none of it; func info and CO-RE
 * relocations (the rest of the section) stay.
 *
 * .BTF.ext: a header (struct btf_ext_header, linux/btf.h's layout: magic,
 * version, flags, hdr_len, then offset/length pairs of func info, line info
 * and, from hdr_len 32, CO-RE relocations), the offsets counted from the end
 * of the header.
 */
#include <fcntl.h>
#include <stddef.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ext_hdr {
	uint16_t magic;
	uint8_t version;
	uint8_t flags;
	uint32_t hdr_len;
	uint32_t func_info_off, func_info_len;
	uint32_t line_info_off, line_info_len;
	uint32_t core_relo_off, core_relo_len;	/* hdr_len >= 32 only */
};

#define BTF_MAGIC	0xeB9F
#define HDR_CORE	sizeof(struct ext_hdr)

static Elf_Scn *scn_by_name(Elf *e, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(e, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(e, scn))) {
		const char *n = gelf_getshdr(scn, &sh) ? elf_strptr(e, shstrndx, sh.sh_name) : NULL;

		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

/* Whether [off, off + len) lies within the @size bytes after the header */
static int in_bounds(uint32_t off, uint32_t len, size_t size)
{
	return (uint64_t)off + len <= size;
}

/* The section without its line info: header, func info, CO-RE relocations */
static void *ext_without_lines(const void *buf, size_t size, size_t *new_size)
{
	struct ext_hdr h = {};
	const char *body;
	size_t body_size, hl;
	char *out;

	if (size < offsetof(struct ext_hdr, core_relo_off))
		return NULL;
	memcpy(&h, buf, size < HDR_CORE ? size : HDR_CORE);
	hl = h.hdr_len;
	if (h.magic != BTF_MAGIC || hl < offsetof(struct ext_hdr, core_relo_off) || hl > size)
		return NULL;
	if (hl < HDR_CORE)
		h.core_relo_off = h.core_relo_len = 0;
	body = (const char *)buf + hl;
	body_size = size - hl;
	if (!in_bounds(h.func_info_off, h.func_info_len, body_size) ||
	    !in_bounds(h.core_relo_off, h.core_relo_len, body_size))
		return NULL;
	*new_size = hl + h.func_info_len + h.core_relo_len;
	out = malloc(*new_size);
	if (!out)
		return NULL;
	memcpy(out + hl, body + h.func_info_off, h.func_info_len);
	memcpy(out + hl + h.func_info_len, body + h.core_relo_off, h.core_relo_len);
	h.func_info_off = 0;
	h.line_info_off = h.func_info_len;
	h.line_info_len = 0;
	if (hl >= HDR_CORE)
		h.core_relo_off = h.func_info_len;
	memcpy(out, buf, hl);
	memcpy(out, &h, hl < HDR_CORE ? hl : HDR_CORE);
	return out;
}

int main(int argc, char **argv)
{
	Elf_Data *data;
	Elf_Scn *scn;
	size_t new_size;
	void *buf;
	Elf *e;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: btfext_nolines OBJECT\n");
		return 2;
	}
	if (elf_version(EV_CURRENT) == EV_NONE)
		return 1;
	fd = open(argv[1], O_RDWR);
	e = fd >= 0 ? elf_begin(fd, ELF_C_RDWR, NULL) : NULL;
	if (!e) {
		fprintf(stderr, "btfext_nolines: %s: cannot open as ELF\n", argv[1]);
		return 1;
	}
	scn = scn_by_name(e, ".BTF.ext");
	data = scn ? elf_getdata(scn, NULL) : NULL;
	if (!data) {
		/* no BTF.ext: nothing to drop */
		elf_end(e);
		close(fd);
		return 0;
	}
	buf = ext_without_lines(data->d_buf, data->d_size, &new_size);
	if (!buf) {
		fprintf(stderr, "btfext_nolines: %s: .BTF.ext not understood\n", argv[1]);
		return 1;
	}
	data->d_buf = buf;
	data->d_size = new_size;
	elf_flagdata(data, ELF_C_SET, ELF_F_DIRTY);
	if (elf_update(e, ELF_C_WRITE) < 0) {
		fprintf(stderr, "btfext_nolines: %s: %s\n", argv[1], elf_errmsg(-1));
		return 1;
	}
	elf_end(e);
	close(fd);
	free(buf);
	return 0;
}
