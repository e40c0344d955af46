// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <inttypes.h>

#include "json.h"

void jw_init(struct json_writer *jw, FILE *f)
{
	jw->f = f;
	jw->depth = 0;
	jw->has_items[0] = false;
}

static void jw_write_escaped(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 0x20)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

/* comma and key before every value */
static void jw_begin_value(struct json_writer *jw, const char *key)
{
	if (jw->has_items[jw->depth])
		fputc(',', jw->f);
	jw->has_items[jw->depth] = true;
	if (key) {
		jw_write_escaped(jw->f, key);
		fputc(':', jw->f);
	}
}

static void jw_open(struct json_writer *jw, const char *key, char c)
{
	jw_begin_value(jw, key);
	fputc(c, jw->f);
	if (jw->depth < JW_MAX_DEPTH - 1)
		jw->depth++;
	jw->has_items[jw->depth] = false;
}

static void jw_close(struct json_writer *jw, char c)
{
	if (jw->depth > 0)
		jw->depth--;
	fputc(c, jw->f);
}

void jw_begin_object(struct json_writer *jw, const char *key) { jw_open(jw, key, '{'); }
void jw_end_object(struct json_writer *jw) { jw_close(jw, '}'); }
void jw_begin_array(struct json_writer *jw, const char *key) { jw_open(jw, key, '['); }
void jw_end_array(struct json_writer *jw) { jw_close(jw, ']'); }

void jw_string(struct json_writer *jw, const char *key, const char *val)
{
	jw_begin_value(jw, key);
	if (val)
		jw_write_escaped(jw->f, val);
	else
		fputs("null", jw->f);
}

void jw_u64(struct json_writer *jw, const char *key, uint64_t val)
{
	jw_begin_value(jw, key);
	fprintf(jw->f, "%" PRIu64, val);
}

void jw_i64(struct json_writer *jw, const char *key, int64_t val)
{
	jw_begin_value(jw, key);
	fprintf(jw->f, "%" PRId64, val);
}

void jw_double(struct json_writer *jw, const char *key, double val)
{
	jw_begin_value(jw, key);
	if (isfinite(val))
		fprintf(jw->f, "%.15g", val);
	else
		fputs("null", jw->f);
}

void jw_bool(struct json_writer *jw, const char *key, bool val)
{
	jw_begin_value(jw, key);
	fputs(val ? "true" : "false", jw->f);
}

void jw_null(struct json_writer *jw, const char *key)
{
	jw_begin_value(jw, key);
	fputs("null", jw->f);
}

void jw_finish(struct json_writer *jw)
{
	fputc('\n', jw->f);
	fflush(jw->f);
}
