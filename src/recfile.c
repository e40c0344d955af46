// SPDX-License-Identifier: GPL-2.0
/* Recording files: writer and untrusting reader. Layout: docs/record.md. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common.h"
#include "probes.h"
#include "recfile.h"

/* Counts the reader accepts per record: generous, but bounded. */
#define REC_MAX_OPS	64
#define REC_MAX_SLOTS	64
#define REC_MAX_LOST	64

/* ------------------------------------------------------------ encoding */

static void buf_reserve(struct it_rec_writer *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 4096;
	unsigned char *p;

	if (w->failed || w->len + n <= w->cap)
		return;
	while (cap < w->len + n)
		cap *= 2;
	p = realloc(w->buf, cap);
	if (!p) {
		w->failed = true;
		return;
	}
	w->buf = p;
	w->cap = cap;
}

static void put_bytes(struct it_rec_writer *w, const void *p, size_t n)
{
	buf_reserve(w, n);
	if (w->failed)
		return;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

/* little-endian on disk, whatever the host */
static void put_u64(struct it_rec_writer *w, __u64 v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = v >> (8 * i);
	put_bytes(w, b, 8);
}

static void put_u32(struct it_rec_writer *w, __u32 v)
{
	unsigned char b[4] = { v, v >> 8, v >> 16, v >> 24 };

	put_bytes(w, b, 4);
}

static void put_f64(struct it_rec_writer *w, double d)
{
	__u64 v;

	memcpy(&v, &d, 8);
	put_u64(w, v);
}

static void put_str(struct it_rec_writer *w, const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	put_u32(w, n);
	put_bytes(w, s, n);
}

static void put_kv(struct it_rec_writer *w, const char *key, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "%s=", key);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	/* values never span lines: a newline would start a bogus key */
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = ' ';
	put_bytes(w, line, strlen(line));
	put_bytes(w, "\n", 1);
}

static void le32_store(unsigned char *b, __u32 v)
{
	b[0] = v;
	b[1] = v >> 8;
	b[2] = v >> 16;
	b[3] = v >> 24;
}

static int raw_write(struct it_rec_writer *w, const void *p, size_t n)
{
	if (fwrite(p, 1, n, w->f) != n)
		return -EIO;
	w->crc = crc32(w->crc, p, n);
	w->off += n;
	return 0;
}

/* Compresses w->buf[0..len) into one section and appends it. */
static int section_flush(struct it_rec_writer *w, __u32 type)
{
	unsigned char hdr[IT_REC_SECT_HDR_LEN];
	uLongf zlen;
	Bytef *z;
	int ret;

	if (w->failed || w->len > IT_REC_MAX_SECTION)
		return -ENOMEM;
	zlen = compressBound(w->len);
	z = malloc(zlen);
	if (!z)
		return -ENOMEM;
	if (compress2(z, &zlen, w->buf, w->len, 6) != Z_OK) {
		free(z);
		return -EIO;
	}
	le32_store(hdr, type);
	le32_store(hdr + 4, w->len);
	le32_store(hdr + 8, zlen);
	le32_store(hdr + 12, crc32(0, z, zlen));
	ret = raw_write(w, hdr, sizeof(hdr));
	if (!ret)
		ret = raw_write(w, z, zlen);
	free(z);
	w->len = 0;
	if (!ret && fflush(w->f))
		ret = -errno;
	return ret;
}

/*
 * The metadata's scalar keys, in the order they are written: the writer and
 * the reader both go by this table. 's': a string field; 'f': a double
 * written "%.3f"; 'g': a double written "%g".
 */
#define META_FIELD(k, f, kind) { k, offsetof(struct it_rec_meta, f), sizeof(((struct it_rec_meta *)0)->f), kind }
static const struct {
	const char *key;
	size_t off, size;
	char kind;
} meta_fields[] = {
	META_FIELD("tool", tool, 's'),
	META_FIELD("host", host, 's'),
	META_FIELD("kernel", kernel, 's'),
	META_FIELD("vendor", vendor, 's'),
	META_FIELD("units", units, 's'),
	META_FIELD("mode", mode, 's'),
	META_FIELD("cmdline", cmdline, 's'),
	META_FIELD("command", command, 's'),
	META_FIELD("wall_start", wall_start, 'f'),
	META_FIELD("interval", interval, 'g'),
	META_FIELD("pmu_status", pmu_status, 's'),
	META_FIELD("pmu_message", pmu_msg, 's'),
};
#undef META_FIELD

static void meta_encode(struct it_rec_writer *w, const struct it_rec_meta *m)
{
	size_t k;
	int i;

	for (k = 0; k < ARRAY_SIZE(meta_fields); k++) {
		const char *field = (const char *)m + meta_fields[k].off;

		if (meta_fields[k].kind == 's')
			put_kv(w, meta_fields[k].key, "%s", field);
		else
			put_kv(w, meta_fields[k].key, meta_fields[k].kind == 'f' ? "%.3f" : "%g",
			       *(const double *)field);
	}
	for (i = 0; i < IT_OP_MAX; i++)
		put_kv(w, "op", "%d %s", i, it_op_name(i));
	for (i = 1; i < PMU_ROLE_MAX; i++)
		put_kv(w, "pmu_role", "%d %s", i, pmu_role_name(i));
	for (i = 0; i < m->nr_groups && i < IT_REC_MAX_GROUPS; i++)
		put_kv(w, "group", "%d %s", m->groups[i].id, m->groups[i].type);
	for (i = 0; i < m->nr_probes && i < IT_REC_MAX_PROBES; i++)
		put_kv(w, "probe", "%s %s", m->probes[i].name, m->probes[i].kind);
	/* by name: a reader with other roles still knows the ones it shares */
	for (i = 0; m->have_roles && i < IT_ROLE_MAX; i++)
		put_kv(w, "role", "%s|%s|%s", it_role_state_name(m->roles[i].state),
		       it_role_name(i), m->roles[i].state == IT_ROLE_TRACED ?
		       m->roles[i].served_by : m->roles[i].why);
}

/* "state|name|text": one role's view, if this reader knows the role and state */
static void meta_role(struct it_rec_meta *m, const char *val)
{
	const char *name = strchr(val, '|'), *text;
	int role, state;

	if (!name || !(text = strchr(name + 1, '|')))
		return;
	for (state = IT_ROLE_TRACED; state <= IT_ROLE_NO_DRIVER; state++)
		if (!strncmp(val, it_role_state_name(state), name - val) &&
		    strlen(it_role_state_name(state)) == (size_t)(name - val))
			break;
	for (role = 0; role < IT_ROLE_MAX; role++)
		if (!strncmp(name + 1, it_role_name(role), text - name - 1) &&
		    strlen(it_role_name(role)) == (size_t)(text - name - 1))
			break;
	if (state > IT_ROLE_NO_DRIVER || role == IT_ROLE_MAX)
		return;
	/* roles a file does not name stay traced: the figures are as recorded */
	m->have_roles = true;
	m->roles[role].state = state;
	snprintf(state == IT_ROLE_TRACED ? m->roles[role].served_by : m->roles[role].why,
		 sizeof(m->roles[role].why), "%s", text + 1);
}

int recw_open(struct it_rec_writer *w, const char *path, const struct it_rec_meta *m)
{
	unsigned char hdr[IT_REC_FILE_HDR_LEN] = IT_REC_MAGIC;
	const char *device = w->device;
	int ret;

	memset(w, 0, sizeof(*w));
	w->device = device;
	w->summary_start = 0;
	w->f = fopen(path, "wb");
	if (!w->f)
		return -errno;
	w->crc = crc32(0, NULL, 0);
	le32_store(hdr + 8, IT_REC_VERSION);
	le32_store(hdr + 12, 0);
	ret = raw_write(w, hdr, sizeof(hdr));
	if (!ret) {
		meta_encode(w, m);
		ret = section_flush(w, IT_REC_META);
	}
	if (ret)
		recw_abort(w);
	return ret;
}

static void op_encode(struct it_rec_writer *w, const struct it_op_stats *op)
{
	int i;

	put_u64(w, op->count);
	put_u64(w, op->bytes);
	put_u64(w, op->lat_count);
	put_u64(w, op->lat_sum_ns);
	put_u32(w, IT_LAT_SLOTS);
	for (i = 0; i < IT_LAT_SLOTS; i++)
		put_u64(w, op->lat_hist[i]);
}

static void dev_encode(struct it_rec_writer *w, const struct it_dev *d)
{
	int i;

	put_u32(w, d->slot);
	put_str(w, d->name, sizeof(d->name));
	put_str(w, d->meta.driver, sizeof(d->meta.driver));
	put_u32(w, (__u32)d->meta.group);
	put_str(w, d->meta.domain_type, sizeof(d->meta.domain_type));
	put_str(w, d->meta.vendor_device, sizeof(d->meta.vendor_device));
	put_u32(w, d->flags);
	put_u32(w, d->owner_pid);
	put_str(w, d->owner_comm, sizeof(d->owner_comm));
	put_u32(w, IT_OP_MAX);
	for (i = 0; i < IT_OP_MAX; i++)
		op_encode(w, &d->ops[i]);
	put_u32(w, IT_SIZE_SLOTS);
	for (i = 0; i < IT_SIZE_SLOTS; i++)
		put_u64(w, d->hists.map_size[i]);
	for (i = 0; i < IT_SIZE_SLOTS; i++)
		put_u64(w, d->hists.unmap_size[i]);
	put_u32(w, IT_PGSIZE_MAX);
	for (i = 0; i < IT_PGSIZE_MAX; i++)
		put_u64(w, d->hists.pgsize[i]);
}

static __u64 count_since(__u64 now, __u64 then)
{
	return now > then ? now - then : 0;
}

/* a row of @base is the same counters only at the same index (rows are appended) */
static const struct it_pmu_row *pmu_base_row(const struct it_pmu_view *base, int i,
					     const struct it_pmu_row *r)
{
	const struct it_pmu_row *b;

	if (!base || i >= base->nr_rows)
		return NULL;
	b = &base->rows[i];
	return strcmp(b->unit, r->unit) || strcmp(b->device, r->device) ? NULL : b;
}

void rec_pmu_rebase(struct it_pmu_view *v, const struct it_pmu_view *base)
{
	int i, role;

	for (i = 0; i < v->nr_rows && i < IT_PMU_MAX_ROWS; i++) {
		struct it_pmu_row *r = &v->rows[i];
		const struct it_pmu_row *b = pmu_base_row(base, i, r);

		for (role = 0; b && role < PMU_ROLE_MAX; role++)
			r->count[role] = count_since(r->count[role], b->count[role]);
	}
}

/*
 * The hardware counters: status, message, then each row. t_open is
 * CLOCK_MONOTONIC like t_start/t_end, so pmu_row_figures() finds the same
 * seconds when the row opened during the record. Counts since @base where
 * a row is in it (the summary, whose t_start is moved to when tracing began).
 */
static void pmu_encode(struct it_rec_writer *w, const struct it_pmu_view *v,
		       const struct it_pmu_view *base)
{
	int n = v->nr_rows < IT_PMU_MAX_ROWS ? v->nr_rows : IT_PMU_MAX_ROWS;
	int i, role;

	put_u32(w, (__u32)v->status);
	put_str(w, v->msg, sizeof(v->msg));
	put_u32(w, n > 0 ? n : 0);
	for (i = 0; i < n; i++) {
		const struct it_pmu_row *r = &v->rows[i], *b = pmu_base_row(base, i, r);

		put_str(w, r->unit, sizeof(r->unit));
		put_str(w, r->device, sizeof(r->device));
		put_f64(w, r->t_open);
		put_u32(w, PMU_ROLE_MAX);
		for (role = 0; role < PMU_ROLE_MAX; role++)
			put_u64(w, b ? count_since(r->count[role], b->count[role]) :
				   r->count[role]);
		put_u32(w, r->have);
		put_u32(w, r->multiplexed ? 1 : 0);
	}
}

/* only devices that did something and pass -d: most slots are idle */
static bool rec_dev_kept(const struct it_rec_writer *w, const struct it_dev *d)
{
	return dev_has_activity(d) && dev_matches(d, w->device);
}

int recw_interval(struct it_rec_writer *w, const struct it_snapshot *s, bool summary)
{
	__u64 maps = 0, unmaps = 0;
	__u32 n = 0;
	int i;

	put_f64(w, summary && w->summary_start > 0 ? w->summary_start : s->t_start);
	put_f64(w, s->t_end);
	put_u32(w, IT_LOST_MAX);
	for (i = 0; i < IT_LOST_MAX; i++)
		put_u64(w, s->lost[i]);
	put_u64(w, s->lost_recursion);
	put_u64(w, s->bpf_run_ns);
	put_u64(w, s->bpf_run_cnt);
	for (i = 0; i < s->nr_devs; i++)
		n += rec_dev_kept(w, &s->devs[i]);
	put_u32(w, n);
	for (i = 0; i < s->nr_devs; i++) {
		if (!rec_dev_kept(w, &s->devs[i]))
			continue;
		dev_encode(w, &s->devs[i]);
		maps += s->devs[i].ops[IT_OP_MAP].count;
		unmaps += s->devs[i].ops[IT_OP_UNMAP].count;
	}
	pmu_encode(w, &s->pmu, summary && w->summary_start > 0 ? w->summary_pmu_base : NULL);
	put_u32(w, s->twins ? IT_REC_SNAP_LOSSLESS : 0);
	put_u64(w, s->twin_served);
	if (summary) {
		w->has_summary = true;
		w->maps = maps;
		w->unmaps = unmaps;
	} else {
		w->nr_intervals++;
	}
	return section_flush(w, summary ? IT_REC_SUMMARY : IT_REC_INTERVAL);
}

void rec_fault_from_event(struct it_rec_fault *f, const struct it_fault_event *e, double t)
{
	memset(f, 0, sizeof(*f));
	f->t = t;
	f->iova = e->iova;
	snprintf(f->device, sizeof(f->device), "%.*s", IT_NAME_LEN - 1, e->device);
	f->source_id = e->source_id;
	f->vendor = e->vendor;
	f->reason = e->reason;
	f->is_write = e->is_write;
	f->flags = e->flags;
	f->pasid = e->pasid;
	if (e->has_text)
		snprintf(f->text, sizeof(f->text), "%.*s", IT_FAULT_TEXT_LEN - 1, e->text);
}

int recw_fault(struct it_rec_writer *w, const struct it_rec_fault *f)
{
	put_f64(w, f->t);
	put_u64(w, f->iova);
	put_str(w, f->device, sizeof(f->device));
	put_u32(w, f->source_id);
	put_u32(w, f->vendor);
	put_u32(w, f->reason);
	put_u32(w, f->is_write);
	put_u32(w, f->flags);
	put_u32(w, f->pasid);
	put_str(w, f->text, sizeof(f->text));
	w->nr_faults++;
	return section_flush(w, IT_REC_FAULT);
}

int recw_figures(struct it_rec_writer *w, const struct it_rec_figure *fig, int nr)
{
	int i;

	for (i = 0; i < nr; i++)
		put_kv(w, "figure", "%s %.17g", fig[i].name, fig[i].value);
	return section_flush(w, IT_REC_FIGURES);
}

int recw_close(struct it_rec_writer *w)
{
	unsigned char hdr[IT_REC_SECT_HDR_LEN], body[28];
	int ret = 0;

	/* the trailer is stored uncompressed: its CRC covers all before it */
	le32_store(body, w->nr_intervals);
	le32_store(body + 4, w->nr_faults);
	le32_store(body + 8, w->maps);
	le32_store(body + 12, w->maps >> 32);
	le32_store(body + 16, w->unmaps);
	le32_store(body + 20, w->unmaps >> 32);
	le32_store(body + 24, w->crc);
	le32_store(hdr, IT_REC_TRAILER);
	le32_store(hdr + 4, sizeof(body));
	le32_store(hdr + 8, sizeof(body));
	le32_store(hdr + 12, crc32(0, body, sizeof(body)));
	if (!w->has_summary)
		ret = -EINVAL;
	if (!ret)
		ret = raw_write(w, hdr, sizeof(hdr));
	if (!ret)
		ret = raw_write(w, body, sizeof(body));
	if (fclose(w->f) && !ret)
		ret = -errno;
	w->f = NULL;
	free(w->buf);
	w->buf = NULL;
	return ret;
}

void recw_abort(struct it_rec_writer *w)
{
	if (w->f)
		fclose(w->f);
	w->f = NULL;
	free(w->buf);
	w->buf = NULL;
}

/* ------------------------------------------------------------ decoding */

struct rd {
	const unsigned char *p;
	size_t len, off;
	bool bad;
};

static bool rd_need(struct rd *r, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return false;
	}
	return true;
}

static __u64 rd_u64(struct rd *r)
{
	__u64 v = 0;
	int i;

	if (!rd_need(r, 8))
		return 0;
	for (i = 7; i >= 0; i--)
		v = v << 8 | r->p[r->off + i];
	r->off += 8;
	return v;
}

static __u32 rd_u32(struct rd *r)
{
	const unsigned char *b;

	if (!rd_need(r, 4))
		return 0;
	b = r->p + r->off;
	r->off += 4;
	return b[0] | b[1] << 8 | b[2] << 16 | (__u32)b[3] << 24;
}

static double rd_f64(struct rd *r)
{
	__u64 v = rd_u64(r);
	double d;

	memcpy(&d, &v, 8);
	return d;
}

/* copies at most size-1 bytes; longer strings are cut, embedded NULs end them */
static void rd_str(struct rd *r, char *out, size_t size)
{
	__u32 n = rd_u32(r);

	out[0] = 0;
	if (!rd_need(r, n))
		return;
	snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), (const char *)r->p + r->off);
	r->off += n;
}

struct parser {
	struct it_recording *r;
	struct it_rec_error *err;
	it_rec_interval_fn fn;
	void *ctx;
	struct it_snapshot *scratch;
	size_t sect_off;	/* file offset of the section being decoded */
	int index;		/* of that section */
	bool have_summary;
};

static int fail(struct parser *ps, int kind, size_t off, const char *fmt, ...)
{
	va_list ap;

	ps->err->kind = kind;
	ps->err->offset = off;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	return kind;
}

static bool op_decode(struct rd *r, struct it_op_stats *op, bool keep)
{
	struct it_op_stats tmp;
	__u32 n, i;

	if (!keep)
		op = &tmp;
	op->count = rd_u64(r);
	op->bytes = rd_u64(r);
	op->lat_count = rd_u64(r);
	op->lat_sum_ns = rd_u64(r);
	n = rd_u32(r);
	if (n > REC_MAX_SLOTS)
		return false;
	for (i = 0; i < n; i++) {
		__u64 v = rd_u64(r);

		if (i < IT_LAT_SLOTS)
			op->lat_hist[i] = v;
	}
	return !r->bad;
}

static bool u64s_decode(struct rd *r, __u64 *out, __u32 n, __u32 have)
{
	__u32 i;

	for (i = 0; i < n; i++) {
		__u64 v = rd_u64(r);

		if (i < have)
			out[i] = v;
	}
	return !r->bad;
}

static bool dev_decode(struct rd *r, struct it_dev *d)
{
	__u32 n, i;

	memset(d, 0, sizeof(*d));
	d->slot = rd_u32(r);
	rd_str(r, d->name, sizeof(d->name));
	rd_str(r, d->meta.driver, sizeof(d->meta.driver));
	d->meta.group = (__s32)rd_u32(r);
	rd_str(r, d->meta.domain_type, sizeof(d->meta.domain_type));
	rd_str(r, d->meta.vendor_device, sizeof(d->meta.vendor_device));
	d->flags = rd_u32(r);
	d->owner_pid = rd_u32(r);
	rd_str(r, d->owner_comm, sizeof(d->owner_comm));
	n = rd_u32(r);
	if (r->bad || n > REC_MAX_OPS)
		return false;
	/* ops this reader does not know (a later minor addition) are skipped */
	for (i = 0; i < n; i++)
		if (!op_decode(r, &d->ops[i < IT_OP_MAX ? i : 0], i < IT_OP_MAX))
			return false;
	n = rd_u32(r);
	if (n > REC_MAX_SLOTS)
		return false;
	u64s_decode(r, d->hists.map_size, n, IT_SIZE_SLOTS);
	u64s_decode(r, d->hists.unmap_size, n, IT_SIZE_SLOTS);
	n = rd_u32(r);
	if (n > REC_MAX_SLOTS)
		return false;
	return u64s_decode(r, d->hists.pgsize, n, IT_PGSIZE_MAX);
}

/*
 * A string the writer bounded to @size - 1 bytes, without NULs: anything
 * else is corruption, not something to cut. NULL, or what is wrong.
 */
static const char *rd_name(struct rd *r, char *out, size_t size)
{
	__u32 n = rd_u32(r);

	out[0] = 0;
	if (!rd_need(r, n))
		return "cut short";
	if (n >= size)
		return "too long";
	if (memchr(r->p + r->off, 0, n))
		return "a NUL byte in it";
	memcpy(out, r->p + r->off, n);
	out[n] = 0;
	r->off += n;
	return NULL;
}

/* one PMU row; NULL, or what is wrong with it (in @buf when about a name) */
static const char *pmu_row_decode(struct rd *r, struct it_pmu_row *row, char *buf,
				  size_t size)
{
	const char *why;
	__u32 n, i, have, flags;

	memset(row, 0, sizeof(*row));
	if ((why = rd_name(r, row->unit, sizeof(row->unit)))) {
		snprintf(buf, size, "unit name: %s", why);
		return buf;
	}
	if (!row->unit[0])
		return "no unit name";
	if ((why = rd_name(r, row->device, sizeof(row->device)))) {
		snprintf(buf, size, "device name: %s", why);
		return buf;
	}
	row->t_open = rd_f64(r);
	n = rd_u32(r);
	if (r->bad)
		return "cut short";
	if (!isfinite(row->t_open))
		return "open time is not a number";
	if (n > IT_REC_MAX_PMU_ROLES)
		return "more than 32 counts";
	/* counts of roles this reader does not know (a later addition) are skipped */
	for (i = 0; i < n; i++) {
		__u64 v = rd_u64(r);

		if (i < PMU_ROLE_MAX)
			row->count[i] = v;
	}
	have = rd_u32(r);
	flags = rd_u32(r);
	if (r->bad)
		return "cut short";
	if (n < 32 && have >> n)
		return "counted roles beyond its counts";
	row->have = have & ((1u << PMU_ROLE_MAX) - 1);
	row->multiplexed = flags & 1;
	return NULL;
}

/* status, message, rows: a version-2 snapshot's hardware counters */
static int pmu_decode(struct parser *ps, struct rd *r, struct it_pmu_view *v)
{
	const char *why;
	__u32 status, n, i;
	char buf[64];

	status = rd_u32(r);
	why = rd_name(r, v->msg, sizeof(v->msg));
	if (why)
		return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
			    "corrupt: record %d: PMU message: %s", ps->index, why);
	if (status > IT_REC_MAX_PMU_STATUS)
		return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
			    "corrupt: record %d: PMU status %u", ps->index, status);
	v->status = status;
	n = rd_u32(r);
	if (r->bad)
		return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
			    "corrupt: record %d: PMU block cut short", ps->index);
	if (n > IT_PMU_MAX_ROWS)
		return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
			    "corrupt: record %d: %u PMU rows (at most %d)", ps->index, n,
			    IT_PMU_MAX_ROWS);
	for (i = 0; i < n; i++) {
		why = pmu_row_decode(r, &v->rows[i], buf, sizeof(buf));
		if (why)
			return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
				    "corrupt: record %d: PMU row %u: %s", ps->index, i, why);
	}
	v->nr_rows = n;
	return 0;
}

static int snapshot_decode(struct parser *ps, struct rd *r, struct it_snapshot *s)
{
	__u32 n, i;
	int ret;

	memset(s, 0, sizeof(*s));
	s->t_start = rd_f64(r);
	s->t_end = rd_f64(r);
	if (!r->bad && (!isfinite(s->t_start) || !isfinite(s->t_end)))
		return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
			    "corrupt: record %d: time is not a number", ps->index);
	n = rd_u32(r);
	if (n > REC_MAX_LOST)
		return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
			    "corrupt: record %d: %u loss counters", ps->index, n);
	u64s_decode(r, s->lost, n, IT_LOST_MAX);
	s->lost_recursion = rd_u64(r);
	s->bpf_run_ns = rd_u64(r);
	s->bpf_run_cnt = rd_u64(r);
	n = rd_u32(r);
	if (n > IT_MAX_DEVS)
		return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
			    "corrupt: record %d: %u devices (at most %d)", ps->index, n,
			    IT_MAX_DEVS);
	for (i = 0; i < n; i++)
		if (!dev_decode(r, &s->devs[i]))
			return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
				    "corrupt: record %d: device %u does not decode", ps->index, i);
	if (ps->r->version >= 2) {
		ret = pmu_decode(ps, r, &s->pmu);
		if (ret)
			return ret;
	} else {
		s->pmu.status = PMU_NO_PMU;
		snprintf(s->pmu.msg, sizeof(s->pmu.msg), "%s", IT_REC_V1_PMU_MSG);
	}
	/* before version 3 no twins ran: lost_recursion is all the kernel skipped */
	if (ps->r->version >= 3) {
		s->twins = rd_u32(r) & IT_REC_SNAP_LOSSLESS;
		s->twin_served = rd_u64(r);
	}
	if (r->bad || r->off != r->len)
		return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
			    "corrupt: record %d: %s", ps->index,
			    r->bad ? "shorter than its content" : "trailing bytes");
	s->nr_devs = n;
	s->nr_probes = ps->r->meta.nr_probes;
	snprintf(s->mode, sizeof(s->mode), "%s", ps->r->meta.mode);
	if (ps->r->meta.have_roles)
		snapshot_set_roles(s, ps->r->meta.roles);
	snapshot_totals(s);
	return 0;
}

/* key=value lines; unknown keys are ignored so minor additions stay readable */
static void meta_line(struct it_recording *rec, const char *key, const char *val)
{
	struct it_rec_meta *m = &rec->meta;
	size_t k;

	for (k = 0; k < ARRAY_SIZE(meta_fields); k++) {
		char *field = (char *)m + meta_fields[k].off;

		if (strcmp(key, meta_fields[k].key))
			continue;
		if (meta_fields[k].kind == 's')
			snprintf(field, meta_fields[k].size, "%s", val);
		else
			*(double *)field = strtod(val, NULL);
		return;
	}
	if (!strcmp(key, "group") && m->nr_groups < IT_REC_MAX_GROUPS) {
		if (sscanf(val, "%d %15s", &m->groups[m->nr_groups].id,
			   m->groups[m->nr_groups].type) == 2)
			m->nr_groups++;
	} else if (!strcmp(key, "probe") && m->nr_probes < IT_REC_MAX_PROBES) {
		if (sscanf(val, "%23s %11s", m->probes[m->nr_probes].name,
			   m->probes[m->nr_probes].kind) == 2)
			m->nr_probes++;
	} else if (!strcmp(key, "role")) {
		meta_role(m, val);
	} else if (!strcmp(key, "figure") && rec->nr_figures < IT_REC_MAX_FIGURES) {
		struct it_rec_figure *f = &rec->figures[rec->nr_figures];

		if (sscanf(val, "%31s %lf", f->name, &f->value) == 2 && isfinite(f->value))
			rec->nr_figures++;
	}
}

static void kv_decode(struct it_recording *rec, const unsigned char *p, size_t len)
{
	char line[512];
	size_t i = 0;

	while (i < len) {
		size_t n = 0;
		char *eq;

		while (i < len && p[i] != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = p[i] ? p[i] : ' ';
			i++;
		}
		i++;
		line[n] = 0;
		eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = 0;
		meta_line(rec, line, eq + 1);
	}
}

static int fault_decode(struct parser *ps, struct rd *r)
{
	struct it_rec_fault f = {};

	f.t = rd_f64(r);
	f.iova = rd_u64(r);
	rd_str(r, f.device, sizeof(f.device));
	f.source_id = rd_u32(r);
	f.vendor = rd_u32(r);
	f.reason = rd_u32(r);
	f.is_write = rd_u32(r);
	f.flags = rd_u32(r);
	f.pasid = rd_u32(r);
	rd_str(r, f.text, sizeof(f.text));
	if (r->bad || r->off != r->len)
		return fail(ps, IT_REC_ECORRUPT, ps->sect_off, "corrupt: fault record %d: %s",
			    ps->r->nr_faults, r->bad ? "shorter than its content" : "trailing bytes");
	if (ps->r->nr_faults_kept < IT_REC_MAX_FAULTS) {
		if (!ps->r->faults) {
			ps->r->faults = calloc(IT_REC_MAX_FAULTS, sizeof(f));
			if (!ps->r->faults)
				return fail(ps, IT_REC_EIO, ps->sect_off, "out of memory");
		}
		ps->r->faults[ps->r->nr_faults_kept++] = f;
	}
	ps->r->nr_faults++;
	return 0;
}

static const char *const section_names[] = {
	[IT_REC_META] = "metadata", [IT_REC_INTERVAL] = "interval", [IT_REC_SUMMARY] = "summary",
	[IT_REC_FAULT] = "fault", [IT_REC_FIGURES] = "figures", [IT_REC_TRAILER] = "trailer",
};

static int section_decode(struct parser *ps, __u32 type, const unsigned char *p, size_t len)
{
	struct rd r = { .p = p, .len = len };
	int ret;

	switch (type) {
	case IT_REC_META:
	case IT_REC_FIGURES:
		kv_decode(ps->r, p, len);
		return 0;
	case IT_REC_INTERVAL:
		ret = snapshot_decode(ps, &r, ps->scratch);
		if (ret)
			return ret;
		if (ps->fn)
			ps->fn(ps->ctx, ps->scratch, ps->r->nr_intervals);
		ps->r->nr_intervals++;
		return 0;
	case IT_REC_SUMMARY:
		if (ps->have_summary)
			return fail(ps, IT_REC_ECORRUPT, ps->sect_off,
				    "corrupt: a second summary record");
		ps->have_summary = true;
		return snapshot_decode(ps, &r, ps->r->summary);
	case IT_REC_FAULT:
		return fault_decode(ps, &r);
	}
	/* sections of a later minor revision: skipped, the CRC held */
	return 0;
}

static int trailer_check(struct parser *ps, const unsigned char *body, __u32 len, size_t off,
			 size_t file_len, unsigned long crc)
{
	struct rd r = { .p = body, .len = len };
	__u32 nr_int, nr_faults, want_crc;
	__u64 maps, unmaps;

	nr_int = rd_u32(&r);
	nr_faults = rd_u32(&r);
	maps = rd_u64(&r);
	unmaps = rd_u64(&r);
	want_crc = rd_u32(&r);
	if (r.bad)
		return fail(ps, IT_REC_ECORRUPT, off, "corrupt: trailer too short (%u bytes)", len);
	if (want_crc != (__u32)crc)
		return fail(ps, IT_REC_ECORRUPT, off,
			    "corrupt: file CRC %08x, the trailer says %08x", (__u32)crc, want_crc);
	if (off + IT_REC_SECT_HDR_LEN + len != file_len)
		return fail(ps, IT_REC_ECORRUPT, off + IT_REC_SECT_HDR_LEN + len,
			    "corrupt: %zu bytes after the trailer",
			    file_len - (off + IT_REC_SECT_HDR_LEN + len));
	if (!ps->have_summary)
		return fail(ps, IT_REC_ECORRUPT, off, "corrupt: no summary record");
	if (nr_int != (__u32)ps->r->nr_intervals || nr_faults != (__u32)ps->r->nr_faults ||
	    maps != ps->r->summary->total.ops[IT_OP_MAP].count ||
	    unmaps != ps->r->summary->total.ops[IT_OP_UNMAP].count)
		return fail(ps, IT_REC_ECORRUPT, off,
			    "corrupt: trailer totals (%u intervals, %u faults) do not match the "
			    "records (%d, %d)", nr_int, nr_faults, ps->r->nr_intervals,
			    ps->r->nr_faults);
	return 0;
}

static int file_header_check(struct parser *ps, const unsigned char *b, size_t len)
{
	__u32 version;

	if (len < IT_REC_MAGIC_LEN || memcmp(b, IT_REC_MAGIC, IT_REC_MAGIC_LEN)) {
		if (len < IT_REC_MAGIC_LEN && !memcmp(b, IT_REC_MAGIC, len))
			return fail(ps, IT_REC_ETRUNCATED, len,
				    "truncated: %zu bytes, shorter than the file header", len);
		return fail(ps, IT_REC_EFOREIGN, 0,
			    "not an iommutrace recording (no \"ITRACE\" magic at offset 0)");
	}
	if (len < IT_REC_FILE_HDR_LEN)
		return fail(ps, IT_REC_ETRUNCATED, len,
			    "truncated: %zu bytes, shorter than the file header", len);
	version = b[8] | b[9] << 8 | b[10] << 16 | (__u32)b[11] << 24;
	if (version > IT_REC_VERSION)
		return fail(ps, IT_REC_EVERSION, 8,
			    "format version %u is newer than this iommutrace reads (%d): upgrade "
			    "iommutrace", version, IT_REC_VERSION);
	if (version == 0)
		return fail(ps, IT_REC_ECORRUPT, 8, "corrupt: format version 0");
	ps->r->version = version;
	return 0;
}

static int sections_walk(struct parser *ps, const unsigned char *b, size_t len)
{
	size_t off = IT_REC_FILE_HDR_LEN;
	unsigned long crc = crc32(crc32(0, NULL, 0), b, off);
	unsigned char *raw = NULL;
	int ret = 0;

	for (ps->index = 0;; ps->index++) {
		struct rd h = { .p = b, .len = len, .off = off };
		__u32 type, rawlen, zlen, zcrc;
		uLongf got;
		const char *tname;

		if (off == len) {
			ret = fail(ps, IT_REC_ETRUNCATED, off,
				   "truncated: ends at offset %zu after %d intervals without a "
				   "trailer (recording interrupted?)", off, ps->r->nr_intervals);
			break;
		}
		type = rd_u32(&h);
		rawlen = rd_u32(&h);
		zlen = rd_u32(&h);
		zcrc = rd_u32(&h);
		if (h.bad) {
			ret = fail(ps, IT_REC_ETRUNCATED, off,
				   "truncated: section %d header at offset %zu cut short",
				   ps->index, off);
			break;
		}
		tname = type < ARRAY_SIZE(section_names) && section_names[type] ?
			section_names[type] : "unknown";
		if (zlen > len - h.off) {
			ret = fail(ps, IT_REC_ETRUNCATED, off,
				   "truncated: %s section %d at offset %zu needs %u bytes, %zu left",
				   tname, ps->index, off, zlen, len - h.off);
			break;
		}
		if (crc32(0, b + h.off, zlen) != zcrc) {
			ret = fail(ps, IT_REC_ECORRUPT, off,
				   "corrupt: %s section %d at offset %zu: CRC mismatch", tname,
				   ps->index, off);
			break;
		}
		if (ps->index == 0 && type != IT_REC_META) {
			ret = fail(ps, IT_REC_ECORRUPT, off,
				   "corrupt: first section is %s, not metadata", tname);
			break;
		}
		ps->sect_off = off;
		if (type == IT_REC_TRAILER) {
			/* stored as is: both lengths must agree */
			if (rawlen != zlen) {
				ret = fail(ps, IT_REC_ECORRUPT, off,
					   "corrupt: trailer at offset %zu: lengths %u and %u",
					   off, rawlen, zlen);
				break;
			}
			ret = trailer_check(ps, b + h.off, zlen, off, len, crc);
			break;
		}
		if (rawlen > IT_REC_MAX_SECTION) {
			ret = fail(ps, IT_REC_ECORRUPT, off,
				   "corrupt: %s section %d at offset %zu claims %u bytes", tname,
				   ps->index, off, rawlen);
			break;
		}
		free(raw);
		raw = malloc(rawlen ? rawlen : 1);
		if (!raw) {
			ret = fail(ps, IT_REC_EIO, off, "out of memory");
			break;
		}
		got = rawlen;
		if (uncompress(raw, &got, b + h.off, zlen) != Z_OK || got != rawlen) {
			ret = fail(ps, IT_REC_ECORRUPT, off,
				   "corrupt: %s section %d at offset %zu does not decompress",
				   tname, ps->index, off);
			break;
		}
		ret = section_decode(ps, type, raw, rawlen);
		if (ret)
			break;
		crc = crc32(crc, b + off, IT_REC_SECT_HDR_LEN + zlen);
		off = h.off + zlen;
	}
	free(raw);
	return ret;
}

int rec_parse(const void *buf, size_t len, struct it_recording *r, it_rec_interval_fn fn,
	      void *ctx, struct it_rec_error *err)
{
	struct parser ps = { .r = r, .err = err, .fn = fn, .ctx = ctx };
	int ret;

	memset(r, 0, sizeof(*r));
	memset(err, 0, sizeof(*err));
	ret = file_header_check(&ps, buf, len);
	if (ret)
		return ret;
	r->summary = calloc(1, sizeof(*r->summary));
	ps.scratch = malloc(sizeof(*ps.scratch));
	if (!r->summary || !ps.scratch) {
		free(ps.scratch);
		return fail(&ps, IT_REC_EIO, 0, "out of memory");
	}
	ret = sections_walk(&ps, buf, len);
	free(ps.scratch);
	if (!ret) {
		snprintf(r->summary->mode, sizeof(r->summary->mode), "%s", r->meta.mode);
		r->summary->nr_probes = r->meta.nr_probes;
	}
	if (!ret && r->version < 2) {
		snprintf(r->meta.pmu_status, sizeof(r->meta.pmu_status), "%s",
			 pmu_status_name(PMU_NO_PMU));
		snprintf(r->meta.pmu_msg, sizeof(r->meta.pmu_msg), "%s", IT_REC_V1_PMU_MSG);
	}
	return ret;
}

int rec_load(const char *path, struct it_recording *r, it_rec_interval_fn fn, void *ctx,
	     struct it_rec_error *err)
{
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int ret;

	memset(r, 0, sizeof(*r));
	memset(err, 0, sizeof(*err));
	f = fopen(path, "rb");
	if (!f) {
		err->kind = IT_REC_EIO;
		snprintf(err->msg, sizeof(err->msg), "cannot open: %s", strerror(errno));
		return IT_REC_EIO;
	}
	do {
		if (len == cap) {
			unsigned char *p;

			cap = cap ? cap * 2 : 1 << 16;
			p = cap <= (1ul << 32) ? realloc(buf, cap) : NULL;
			if (!p) {
				free(buf);
				fclose(f);
				err->kind = IT_REC_EIO;
				snprintf(err->msg, sizeof(err->msg), "too large to read");
				return IT_REC_EIO;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		err->kind = IT_REC_EIO;
		snprintf(err->msg, sizeof(err->msg), "read error at offset %zu", len);
		return IT_REC_EIO;
	}
	fclose(f);
	ret = rec_parse(buf, len, r, fn, ctx, err);
	free(buf);
	return ret;
}

void rec_free(struct it_recording *r)
{
	free(r->summary);
	free(r->faults);
	r->summary = NULL;
	r->faults = NULL;
}

int rec_figure_parse(const char *arg, struct it_rec_figure *fig)
{
	const char *eq = strchr(arg, '=');
	size_t n;

	if (!eq || eq == arg)
		return -1;
	n = eq - arg;
	/* the name is one word in the file's key=value text */
	if (n >= sizeof(fig->name) || strcspn(arg, " \t\n") < n)
		return -1;
	memcpy(fig->name, arg, n);
	fig->name[n] = 0;
	if (it_parse_double(eq + 1, &fig->value) || !isfinite(fig->value))
		return -1;
	return 0;
}

const struct it_rec_figure *rec_figure_find(const struct it_recording *r, const char *name)
{
	int i;

	for (i = 0; i < r->nr_figures; i++)
		if (!strcasecmp(r->figures[i].name, name))
			return &r->figures[i];
	return NULL;
}
