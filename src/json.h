/* SPDX-License-Identifier: GPL-2.0 */
/* A small streaming JSON writer: every -j output goes through it. */
#ifndef IT_JSON_H
#define IT_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 32

struct json_writer {
	FILE *f;
	int depth;
	bool has_items[JW_MAX_DEPTH];
};

void jw_init(struct json_writer *jw, FILE *f);
/* key is NULL for array elements and the top-level value */
void jw_begin_object(struct json_writer *jw, const char *key);
void jw_end_object(struct json_writer *jw);
void jw_begin_array(struct json_writer *jw, const char *key);
void jw_end_array(struct json_writer *jw);
void jw_string(struct json_writer *jw, const char *key, const char *val);
void jw_u64(struct json_writer *jw, const char *key, uint64_t val);
void jw_i64(struct json_writer *jw, const char *key, int64_t val);
/* NaN and infinities become null: JSON has no spelling for them */
void jw_double(struct json_writer *jw, const char *key, double val);
void jw_bool(struct json_writer *jw, const char *key, bool val);
void jw_null(struct json_writer *jw, const char *key);
/* ends the document with a newline and flushes */
void jw_finish(struct json_writer *jw);

#endif
