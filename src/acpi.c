// SPDX-License-Identifier: GPL-2.0
/*
 * DMAR and IVRS decoding. Rule of the file: no byte is read before the
 * bounds that contain it have been checked against the enclosing length
 * (table, then sub-table, then entry), and every length is checked to make
 * progress, so a hostile table can neither read out of bounds nor loop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"

#define DMAR_HEADER_LEN		48	/* ACPI header + width, flags, 10 reserved */
#define IVRS_HEADER_LEN		48	/* ACPI header + IVinfo, 8 reserved */
#define DMAR_SCOPE_HDR_LEN	6
#define IVHD_10_HDR_LEN		24
#define IVHD_11_HDR_LEN		40	/* 0x11 and 0x40: + EFR image, EFR2 */
#define IVMD_LEN		32
#define IVHD_HID_HDR_LEN	22

struct parser {
	const uint8_t *buf;
	uint32_t len;			/* the table's own length, <= buffer */
	const char *sig;
	struct acpi_error *err;
	struct acpi_note **notes;
	size_t *nnotes;
};

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/*
 * Grow an array whose capacity is implicitly the next power of two >= n:
 * reallocate only when n is 0 or a power of two (the array is full).
 */
static void *array_grow(void *arr, size_t n, size_t elem)
{
	if (n && (n & (n - 1)))
		return arr;
	return realloc(arr, (n ? 2 * n : 1) * elem);
}

/*
 * A zeroed new last element of the growing array @arr of @n elements, or
 * NULL with @arr and @n untouched when memory runs out.
 */
#define ARRAY_PUSH(arr, n) ({						\
	__typeof__(arr) a_ = array_grow((arr), (n), sizeof(*(arr)));	\
	__typeof__(arr) e_ = NULL;					\
									\
	if (a_) {							\
		(arr) = a_;						\
		e_ = &a_[(n)++];					\
		memset(e_, 0, sizeof(*e_));				\
	}								\
	e_;								\
})

static int __attribute__((format(printf, 3, 4)))
parser_fail(struct parser *p, uint32_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	p->err->offset = off;
	n = snprintf(p->err->msg, sizeof(p->err->msg), "%s: offset 0x%x: ",
		     p->sig, off);
	if (n < 0 || (size_t)n >= sizeof(p->err->msg))
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err->msg + n, sizeof(p->err->msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}

static int parser_oom(struct parser *p, uint32_t off)
{
	return parser_fail(p, off, "out of memory");
}

/* Notes are advisory: running out of memory for one drops it silently. */
static void __attribute__((format(printf, 3, 4)))
parser_note(struct parser *p, uint32_t off, const char *fmt, ...)
{
	struct acpi_note *n;
	va_list ap;

	n = ARRAY_PUSH(*p->notes, *p->nnotes);
	if (!n)
		return;
	n->offset = off;
	va_start(ap, fmt);
	vsnprintf(n->msg, sizeof(n->msg), fmt, ap);
	va_end(ap);
}

/* Copy a fixed-width ACPI string field, making it printable. */
static void copy_field(char *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	while (i > 0 && dst[i - 1] == ' ')
		i--;
	dst[i] = '\0';
}

enum acpi_kind acpi_kind_detect(const uint8_t *buf, size_t len)
{
	if (len < 4)
		return ACPI_UNKNOWN;
	if (!memcmp(buf, "DMAR", 4))
		return ACPI_DMAR;
	if (!memcmp(buf, "IVRS", 4))
		return ACPI_IVRS;
	return ACPI_UNKNOWN;
}

/*
 * The common 36-byte header. Sets p->len to the table's own length once it
 * is known to fit in the buffer; bytes past it are ignored (with a note).
 */
static int acpi_header_parse(struct parser *p, size_t buflen, size_t min_len,
			     struct acpi_header *h)
{
	const uint8_t *b = p->buf;
	uint8_t sum = 0;
	uint32_t i;

	if (buflen < ACPI_HEADER_LEN)
		return parser_fail(p, (uint32_t)buflen,
				   "only %zu bytes, shorter than the %d-byte ACPI table header",
				   buflen, ACPI_HEADER_LEN);
	if (memcmp(b, p->sig, 4)) {
		char sig[5];

		copy_field(sig, b, 4);
		return parser_fail(p, 0, "signature is '%s', not '%s'", sig, p->sig);
	}
	copy_field(h->signature, b, 4);
	h->length = get_u32(b + 4);
	h->revision = b[8];
	h->checksum = b[9];
	copy_field(h->oem_id, b + 10, 6);
	copy_field(h->oem_table_id, b + 16, 8);
	h->oem_revision = get_u32(b + 24);
	copy_field(h->creator_id, b + 28, 4);
	h->creator_revision = get_u32(b + 32);

	if (h->length < min_len)
		return parser_fail(p, 4, "table length %u is shorter than the %zu-byte %s header",
				   h->length, min_len, p->sig);
	if (h->length > buflen)
		return parser_fail(p, (uint32_t)buflen,
				   "table length %u but only %zu bytes present (truncated)",
				   h->length, buflen);
	p->len = h->length;
	if (buflen > h->length)
		parser_note(p, h->length, "%zu bytes after the table's end ignored",
			    buflen - h->length);
	for (i = 0; i < h->length; i++)
		sum += b[i];
	h->checksum_ok = sum == 0;
	if (!h->checksum_ok)
		parser_note(p, 9, "checksum mismatch (bytes sum to 0x%02x, not 0)", sum);
	return 0;
}

/* ---------------------------------------------------------------- DMAR */

static const char *const dmar_struct_names[] = {
	[DMAR_DRHD] = "DRHD",
	[DMAR_RMRR] = "RMRR",
	[DMAR_ATSR] = "ATSR",
	[DMAR_RHSA] = "RHSA",
	[DMAR_ANDD] = "ANDD",
	[DMAR_SATC] = "SATC",
};

const char *dmar_struct_name(uint16_t type)
{
	if (type < sizeof(dmar_struct_names) / sizeof(dmar_struct_names[0]))
		return dmar_struct_names[type];
	return "unknown";
}

static const char *const dmar_scope_names[] = {
	[DMAR_SCOPE_ENDPOINT] = "endpoint",
	[DMAR_SCOPE_BRIDGE] = "bridge",
	[DMAR_SCOPE_IOAPIC] = "ioapic",
	[DMAR_SCOPE_HPET] = "hpet",
	[DMAR_SCOPE_ACPI] = "acpi",
};

const char *dmar_scope_name(uint8_t type)
{
	if (type && type < sizeof(dmar_scope_names) / sizeof(dmar_scope_names[0]))
		return dmar_scope_names[type];
	return "unknown";
}

/* Fixed part of each structure before its device scopes (or its end). */
static uint16_t dmar_struct_min_len(uint16_t type)
{
	switch (type) {
	case DMAR_DRHD: return 16;
	case DMAR_RMRR: return 24;
	case DMAR_ATSR: return 8;
	case DMAR_RHSA: return 20;
	case DMAR_ANDD: return 9;	/* 8 + at least the name's NUL */
	case DMAR_SATC: return 8;
	default: return 4;
	}
}

static int dmar_scope_parse(struct parser *p, struct dmar_struct *s,
			    uint32_t off, uint32_t end, uint32_t *used)
{
	const uint8_t *b = p->buf + off;
	struct dmar_scope *sc;
	uint32_t left = end - off;
	uint8_t slen;
	unsigned int i;

	if (left < 2)
		return parser_fail(p, off, "%u byte(s) left in %s, too short for a device scope",
				   left, dmar_struct_name(s->type));
	slen = b[1];
	if (slen < DMAR_SCOPE_HDR_LEN)
		return parser_fail(p, off, "device scope length %u is shorter than its %d-byte header",
				   slen, DMAR_SCOPE_HDR_LEN);
	if (slen > left)
		return parser_fail(p, off, "device scope length %u runs past the end of its %s (%u bytes left)",
				   slen, dmar_struct_name(s->type), left);
	if ((slen - DMAR_SCOPE_HDR_LEN) % 2)
		return parser_fail(p, off, "device scope length %u leaves half a path entry",
				   slen);

	sc = ARRAY_PUSH(s->scopes, s->nscopes);
	if (!sc)
		return parser_oom(p, off);
	sc->offset = off;
	sc->type = b[0];
	sc->flags = b[2];
	sc->enum_id = b[4];
	sc->start_bus = b[5];
	sc->path_len = (slen - DMAR_SCOPE_HDR_LEN) / 2;
	for (i = 0; i < sc->path_len; i++) {
		sc->path[i].dev = b[DMAR_SCOPE_HDR_LEN + 2 * i];
		sc->path[i].fn = b[DMAR_SCOPE_HDR_LEN + 2 * i + 1];
		if (sc->path[i].dev > 31 || sc->path[i].fn > 7)
			parser_note(p, off + DMAR_SCOPE_HDR_LEN + 2 * i,
				    "path entry %02x.%x is not a valid device.function",
				    sc->path[i].dev, sc->path[i].fn);
	}
	if (!sc->path_len)
		parser_note(p, off, "%s device scope has an empty path",
			    dmar_scope_name(sc->type));
	if (sc->type < DMAR_SCOPE_ENDPOINT || sc->type > DMAR_SCOPE_ACPI)
		parser_note(p, off, "unknown device scope type %u", sc->type);
	*used = slen;
	return 0;
}

static int dmar_scopes_parse(struct parser *p, struct dmar_struct *s,
			     uint32_t off, uint32_t end)
{
	uint32_t used;

	while (off < end) {
		if (dmar_scope_parse(p, s, off, end, &used))
			return -1;
		off += used;
	}
	return 0;
}

static int dmar_andd_parse(struct parser *p, struct dmar_struct *s)
{
	const uint8_t *name = p->buf + s->offset + 8;
	size_t max = s->length - 8;
	size_t n = strnlen((const char *)name, max);

	/* The kernel rejects an unterminated name (FW_BUG); so do we. */
	if (n == max)
		return parser_fail(p, s->offset + 8, "ANDD object name is not NUL-terminated");
	s->acpi_dev = p->buf[s->offset + 7];
	s->acpi_name = malloc(n + 1);
	if (!s->acpi_name)
		return parser_oom(p, s->offset);
	copy_field(s->acpi_name, name, n);
	return 0;
}

static int dmar_struct_fill(struct parser *p, struct dmar_struct *s)
{
	const uint8_t *b = p->buf + s->offset;
	uint32_t end = s->offset + s->length;

	switch (s->type) {
	case DMAR_DRHD:
		s->flags = b[4];
		s->size = b[5];
		s->segment = get_u16(b + 6);
		s->base = get_u64(b + 8);
		if (s->base & 0xfff)
			parser_note(p, s->offset + 8, "DRHD register base 0x%llx is not page aligned",
				    (unsigned long long)s->base);
		return dmar_scopes_parse(p, s, s->offset + 16, end);
	case DMAR_RMRR:
		s->segment = get_u16(b + 6);
		s->base = get_u64(b + 8);
		s->limit = get_u64(b + 16);
		if (s->base > s->limit)
			parser_note(p, s->offset + 8, "RMRR base 0x%llx is above its limit 0x%llx",
				    (unsigned long long)s->base,
				    (unsigned long long)s->limit);
		else if ((s->base & 0xfff) || ((s->limit + 1) & 0xfff))
			parser_note(p, s->offset + 8, "RMRR 0x%llx-0x%llx is not page aligned",
				    (unsigned long long)s->base,
				    (unsigned long long)s->limit);
		return dmar_scopes_parse(p, s, s->offset + 24, end);
	case DMAR_ATSR:
	case DMAR_SATC:
		s->flags = b[4];
		s->segment = get_u16(b + 6);
		return dmar_scopes_parse(p, s, s->offset + 8, end);
	case DMAR_RHSA:
		s->base = get_u64(b + 8);
		s->proximity = get_u32(b + 16);
		return 0;
	case DMAR_ANDD:
		return dmar_andd_parse(p, s);
	default:
		parser_note(p, s->offset, "unknown remapping structure type %u (%u bytes) skipped",
			    s->type, s->length);
		return 0;
	}
}

static int dmar_struct_parse(struct parser *p, struct dmar_table *t,
			     uint32_t off, uint32_t *used)
{
	struct dmar_struct *s;
	uint32_t left = p->len - off;
	uint16_t type, slen, min;

	if (left < 4)
		return parser_fail(p, off, "%u trailing byte(s), too short for a structure header",
				   left);
	type = get_u16(p->buf + off);
	slen = get_u16(p->buf + off + 2);
	min = dmar_struct_min_len(type);
	if (slen < min)
		return parser_fail(p, off, "%s length %u is shorter than its %u-byte minimum",
				   dmar_struct_name(type), slen, min);
	if (slen > left)
		return parser_fail(p, off, "%s length %u runs past the end of the table (%u bytes left)",
				   dmar_struct_name(type), slen, left);

	s = ARRAY_PUSH(t->structs, t->nstructs);
	if (!s)
		return parser_oom(p, off);
	s->offset = off;
	s->type = type;
	s->length = slen;
	*used = slen;
	return dmar_struct_fill(p, s);
}

/* Sanity rules from the VT-d spec that the kernel also complains about. */
static void dmar_check(struct parser *p, struct dmar_table *t)
{
	size_t i, j;

	if (t->haw + 1 < 12)
		parser_note(p, 36, "host address width %u bits is below a page", t->haw + 1);
	for (i = 0; i < t->nstructs; i++) {
		struct dmar_struct *s = &t->structs[i];

		if (s->type != DMAR_DRHD)
			continue;
		if (!(s->flags & DMAR_DRHD_INCLUDE_PCI_ALL)) {
			if (!s->nscopes)
				parser_note(p, s->offset, "DRHD 0x%llx has no device scope and no INCLUDE_PCI_ALL",
					    (unsigned long long)s->base);
			continue;
		}
		/* INCLUDE_PCI_ALL catches what the other units left: it must be
		 * the last DRHD of its segment, and there can be only one. */
		for (j = i + 1; j < t->nstructs; j++) {
			if (t->structs[j].type == DMAR_DRHD &&
			    t->structs[j].segment == s->segment) {
				parser_note(p, s->offset, "INCLUDE_PCI_ALL DRHD is not the last one of segment %u",
					    s->segment);
				break;
			}
		}
	}
}

int dmar_parse(const uint8_t *buf, size_t len, struct dmar_table *t,
	       struct acpi_error *err)
{
	struct parser p = {
		.buf = buf, .sig = "DMAR", .err = err,
		.notes = &t->notes, .nnotes = &t->nnotes,
	};
	uint32_t off, used = 0;

	memset(t, 0, sizeof(*t));
	memset(err, 0, sizeof(*err));
	if (acpi_header_parse(&p, len, DMAR_HEADER_LEN, &t->hdr))
		return -1;
	t->haw = buf[36];
	t->flags = buf[37];
	for (off = DMAR_HEADER_LEN; off < p.len; off += used) {
		if (dmar_struct_parse(&p, t, off, &used))
			return -1;
	}
	dmar_check(&p, t);
	return 0;
}

void dmar_free(struct dmar_table *t)
{
	size_t i;

	for (i = 0; i < t->nstructs; i++) {
		free(t->structs[i].scopes);
		free(t->structs[i].acpi_name);
	}
	free(t->structs);
	free(t->notes);
	memset(t, 0, sizeof(*t));
}

/* "00:1f.0" or "00:1c.0/00.0" for a multi-hop path. */
char *dmar_scope_path_str(const struct dmar_scope *sc, char *buf, size_t len)
{
	size_t n;
	unsigned int i;

	if (!sc->path_len) {
		snprintf(buf, len, "%02x:(empty path)", sc->start_bus);
		return buf;
	}
	n = snprintf(buf, len, "%02x:%02x.%x", sc->start_bus, sc->path[0].dev,
		     sc->path[0].fn);
	for (i = 1; i < sc->path_len && n < len; i++)
		n += snprintf(buf + n, len - n, "/%02x.%x", sc->path[i].dev,
			      sc->path[i].fn);
	return buf;
}


/* ---------------------------------------------------------------- IVRS */

char *pci_devid_str(uint16_t devid, char *buf)
{
	snprintf(buf, 8, "%02x:%02x.%x", devid >> 8, (devid >> 3) & 0x1f, devid & 7);
	return buf;
}

static const char *ivrs_block_name(uint8_t type)
{
	switch (type) {
	case IVRS_IVHD_10:
	case IVRS_IVHD_11:
	case IVRS_IVHD_40:
		return "IVHD";
	case IVRS_IVMD_ALL:
	case IVRS_IVMD_ONE:
	case IVRS_IVMD_RANGE:
		return "IVMD";
	default:
		return "unknown";
	}
}

static const char *const ivhd_dev_kind_names[] = {
	[IVHD_DEV_ALL] = "all",
	[IVHD_DEV_SELECT] = "select",
	[IVHD_DEV_RANGE] = "range",
	[IVHD_DEV_ALIAS_SELECT] = "alias",
	[IVHD_DEV_ALIAS_RANGE] = "alias-range",
	[IVHD_DEV_EXT_SELECT] = "ext",
	[IVHD_DEV_EXT_RANGE] = "ext-range",
	[IVHD_DEV_SPECIAL] = "special",
	[IVHD_DEV_ACPI_HID] = "acpi-hid",
	[IVHD_DEV_UNKNOWN] = "unknown",
};

const char *ivhd_dev_kind_name(uint8_t kind)
{
	if (kind < sizeof(ivhd_dev_kind_names) / sizeof(ivhd_dev_kind_names[0]))
		return ivhd_dev_kind_names[kind];
	return "unknown";
}

/*
 * Entry length follows from the type (AMD IOMMU spec, "IVHD device
 * entries"): 0x00-0x3f four bytes, 0x40-0x7f eight; 0xf0 is variable, its
 * UID length at byte 21. Other types from 0x80 have no length the spec
 * defines, so the entries after one cannot be framed: 0 tells the caller.
 */
static uint32_t ivhd_entry_len(const uint8_t *e, uint32_t left)
{
	if (e[0] < 0x80)
		return 4u << (e[0] >> 6);
	if (e[0] == 0xf0)
		return left >= IVHD_HID_HDR_LEN ? IVHD_HID_HDR_LEN + e[21] : IVHD_HID_HDR_LEN;
	return 0;
}

static struct ivhd_dev *ivhd_dev_add(struct parser *p, struct ivrs_ivhd *h,
				     uint32_t off, uint8_t type, uint8_t kind)
{
	struct ivhd_dev *d;

	d = ARRAY_PUSH(h->devs, h->ndevs);
	if (!d)
		return NULL;
	d->offset = off;
	d->type = type;
	d->kind = kind;
	d->dte = p->buf[off + 3];
	d->first = d->last = get_u16(p->buf + off + 1);
	return d;
}

/* UID of an ACPI HID entry, as text: integers in decimal, strings as is. */
static int ivhd_uid_decode(struct parser *p, struct ivhd_dev *d,
			   const uint8_t *u, uint8_t ulen)
{
	unsigned long long v = 0;
	unsigned int i;

	d->uid = calloc(1, (size_t)ulen * 2 + 24);
	if (!d->uid)
		return parser_oom(p, d->offset);
	if (d->uid_format == 1 && ulen <= 8) {
		for (i = 0; i < ulen; i++)
			v |= (unsigned long long)u[i] << (8 * i);
		snprintf(d->uid, 24, "%llu", v);
	} else if (d->uid_format == 2) {
		copy_field(d->uid, u, ulen);
	} else {
		for (i = 0; i < ulen; i++)
			sprintf(d->uid + 2 * i, "%02x", u[i]);
		if (ulen)
			parser_note(p, d->offset + 20, "UID format %u with %u bytes shown as hex",
				    d->uid_format, ulen);
	}
	return 0;
}

static int ivhd_hid_parse(struct parser *p, struct ivrs_ivhd *h,
			  uint32_t off, uint32_t elen)
{
	const uint8_t *e = p->buf + off;
	struct ivhd_dev *d;

	d = ivhd_dev_add(p, h, off, e[0], IVHD_DEV_ACPI_HID);
	if (!d)
		return parser_oom(p, off);
	copy_field(d->hid, e + 4, 8);
	copy_field(d->cid, e + 12, 8);
	d->uid_format = e[20];
	if (h->type != IVRS_IVHD_40)
		parser_note(p, off, "ACPI HID entry in an IVHD of type 0x%02x (only 0x40 defines it)",
			    h->type);
	return ivhd_uid_decode(p, d, e + IVHD_HID_HDR_LEN, elen - IVHD_HID_HDR_LEN);
}

static void ivhd_range_unclosed(struct parser *p, struct ivhd_dev *d)
{
	parser_note(p, d->offset, "range start %04x has no range end; taken as one device",
		    d->first);
}

/*
 * Decode one entry. Range starts (0x03, 0x43, 0x47) become a pending entry
 * that the next 0x04 closes; *open tracks it across padding entries.
 */
static int ivhd_entry_decode(struct parser *p, struct ivrs_ivhd *h,
			     uint32_t off, uint32_t elen, long *open)
{
	const uint8_t *e = p->buf + off;
	struct ivhd_dev *d, *start = *open >= 0 ? &h->devs[*open] : NULL;
	uint8_t kind;

	if (e[0] == 0x00)	/* padding */
		return 0;
	if (e[0] == 0x04) {
		if (!start) {
			parser_note(p, off, "range end %04x without a range start ignored",
				    get_u16(e + 1));
			return 0;
		}
		start->last = get_u16(e + 1);
		if (start->last < start->first)
			parser_note(p, off, "range end %04x is below its start %04x",
				    start->last, start->first);
		*open = -1;
		return 0;
	}
	if (start) {
		ivhd_range_unclosed(p, start);
		*open = -1;
	}
	if (e[0] == 0xf0)
		return ivhd_hid_parse(p, h, off, elen);

	switch (e[0]) {
	case 0x01: kind = IVHD_DEV_ALL; break;
	case 0x02: kind = IVHD_DEV_SELECT; break;
	case 0x03: kind = IVHD_DEV_RANGE; break;
	case 0x42: kind = IVHD_DEV_ALIAS_SELECT; break;
	case 0x43: kind = IVHD_DEV_ALIAS_RANGE; break;
	case 0x46: kind = IVHD_DEV_EXT_SELECT; break;
	case 0x47: kind = IVHD_DEV_EXT_RANGE; break;
	case 0x48: kind = IVHD_DEV_SPECIAL; break;
	default:
		parser_note(p, off, "reserved device entry type 0x%02x (%u bytes) skipped",
			    e[0], elen);
		return 0;
	}
	d = ivhd_dev_add(p, h, off, e[0], kind);
	if (!d)
		return parser_oom(p, off);
	switch (kind) {
	case IVHD_DEV_ALL:
		d->first = 0;
		d->last = 0xffff;
		break;
	case IVHD_DEV_RANGE:
		*open = (long)(h->ndevs - 1);
		break;
	case IVHD_DEV_ALIAS_RANGE:
		*open = (long)(h->ndevs - 1);
		/* fall through */
	case IVHD_DEV_ALIAS_SELECT:
		d->alias = get_u16(e + 5);
		break;
	case IVHD_DEV_EXT_RANGE:
		*open = (long)(h->ndevs - 1);
		/* fall through */
	case IVHD_DEV_EXT_SELECT:
		d->ext = get_u32(e + 4);
		break;
	case IVHD_DEV_SPECIAL:
		/* bytes 1-2 are reserved here: the device id is at 5 */
		d->handle = e[4];
		d->first = d->last = get_u16(e + 5);
		d->variety = e[7];
		if (d->variety != IVHD_SPECIAL_IOAPIC && d->variety != IVHD_SPECIAL_HPET)
			parser_note(p, off, "special device variety %u is neither IOAPIC nor HPET",
				    d->variety);
		break;
	}
	return 0;
}

static int ivhd_entries_parse(struct parser *p, struct ivrs_ivhd *h,
			      uint32_t off, uint32_t end)
{
	long open = -1;		/* index, not pointer: h->devs moves */
	uint32_t left, elen;

	for (; off < end; off += elen) {
		left = end - off;
		elen = ivhd_entry_len(p->buf + off, left);
		if (!elen)
			return parser_fail(p, off, "device entry type 0x%02x has no defined length",
					   p->buf[off]);
		if (elen > left)
			return parser_fail(p, off, "device entry type 0x%02x (%u bytes) runs past the end of its IVHD (%u bytes left)",
					   p->buf[off], elen, left);
		if (ivhd_entry_decode(p, h, off, elen, &open))
			return -1;
	}
	if (open >= 0)
		ivhd_range_unclosed(p, &h->devs[open]);
	return 0;
}

static int ivhd_parse(struct parser *p, struct ivrs_table *t, uint32_t off,
		      uint8_t type, uint16_t blen)
{
	const uint8_t *b = p->buf + off;
	uint32_t hlen = type == IVRS_IVHD_10 ? IVHD_10_HDR_LEN : IVHD_11_HDR_LEN;
	struct ivrs_ivhd *h;

	if (blen < hlen)
		return parser_fail(p, off, "IVHD type 0x%02x length %u is shorter than its %u-byte header",
				   type, blen, hlen);
	h = ARRAY_PUSH(t->ivhds, t->nivhds);
	if (!h)
		return parser_oom(p, off);
	h->offset = off;
	h->type = type;
	h->flags = b[1];
	h->length = blen;
	h->devid = get_u16(b + 4);
	h->cap_offset = get_u16(b + 6);
	h->base = get_u64(b + 8);
	h->segment = get_u16(b + 16);
	h->info = get_u16(b + 18);
	h->attr = get_u32(b + 20);
	if (type != IVRS_IVHD_10) {
		h->has_efr = true;
		h->efr = get_u64(b + 24);
		h->efr2 = get_u64(b + 32);
	}
	return ivhd_entries_parse(p, h, off + hlen, off + blen);
}

static int ivmd_parse(struct parser *p, struct ivrs_table *t, uint32_t off,
		      uint8_t type, uint16_t blen)
{
	const uint8_t *b = p->buf + off;
	struct ivrs_ivmd *m;

	if (blen < IVMD_LEN)
		return parser_fail(p, off, "IVMD type 0x%02x length %u is shorter than its %d bytes",
				   type, blen, IVMD_LEN);
	m = ARRAY_PUSH(t->ivmds, t->nivmds);
	if (!m)
		return parser_oom(p, off);
	m->offset = off;
	m->type = type;
	m->flags = b[1];
	m->length = blen;
	m->devid = get_u16(b + 4);
	m->aux = get_u16(b + 6);
	m->start = get_u64(b + 16);
	m->size = get_u64(b + 24);
	if (m->size && m->start + m->size - 1 < m->start)
		parser_note(p, off + 16, "IVMD 0x%llx + 0x%llx wraps around the address space",
			    (unsigned long long)m->start, (unsigned long long)m->size);
	if (type == IVRS_IVMD_RANGE && m->aux < m->devid)
		parser_note(p, off + 6, "IVMD device range end %04x is below its start %04x",
			    m->aux, m->devid);
	return 0;
}

static int ivrs_block_parse(struct parser *p, struct ivrs_table *t,
			    uint32_t off, uint32_t *used)
{
	uint32_t left = p->len - off;
	uint8_t type;
	uint16_t blen;

	if (left < 4)
		return parser_fail(p, off, "%u trailing byte(s), too short for a block header",
				   left);
	type = p->buf[off];
	blen = get_u16(p->buf + off + 2);
	if (blen < 4)
		return parser_fail(p, off, "block type 0x%02x length %u is shorter than its header",
				   type, blen);
	if (blen > left)
		return parser_fail(p, off, "%s type 0x%02x length %u runs past the end of the table (%u bytes left)",
				   ivrs_block_name(type), type, blen, left);
	*used = blen;
	switch (type) {
	case IVRS_IVHD_10:
	case IVRS_IVHD_11:
	case IVRS_IVHD_40:
		return ivhd_parse(p, t, off, type, blen);
	case IVRS_IVMD_ALL:
	case IVRS_IVMD_ONE:
	case IVRS_IVMD_RANGE:
		return ivmd_parse(p, t, off, type, blen);
	default:
		parser_note(p, off, "unknown block type 0x%02x (%u bytes) skipped", type, blen);
		return 0;
	}
}

int ivrs_parse(const uint8_t *buf, size_t len, struct ivrs_table *t,
	       struct acpi_error *err)
{
	struct parser p = {
		.buf = buf, .sig = "IVRS", .err = err,
		.notes = &t->notes, .nnotes = &t->nnotes,
	};
	uint32_t off, used = 0;

	memset(t, 0, sizeof(*t));
	memset(err, 0, sizeof(*err));
	if (acpi_header_parse(&p, len, IVRS_HEADER_LEN, &t->hdr))
		return -1;
	t->ivinfo = get_u32(buf + 36);
	for (off = IVRS_HEADER_LEN; off < p.len; off += used) {
		if (ivrs_block_parse(&p, t, off, &used))
			return -1;
	}
	return 0;
}

void ivrs_free(struct ivrs_table *t)
{
	size_t i, j;

	for (i = 0; i < t->nivhds; i++) {
		for (j = 0; j < t->ivhds[i].ndevs; j++)
			free(t->ivhds[i].devs[j].uid);
		free(t->ivhds[i].devs);
	}
	free(t->ivhds);
	free(t->ivmds);
	free(t->notes);
	memset(t, 0, sizeof(*t));
}
