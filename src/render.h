/* SPDX-License-Identifier: GPL-2.0 */
/* Text and JSON renderings of a snapshot: shared by stat, hist, report, top -b. */
#ifndef IT_RENDER_H
#define IT_RENDER_H

#include <stdio.h>

#include "model.h"

struct json_writer;

enum it_hist_kind {
	IT_HIST_MAP, IT_HIST_UNMAP, IT_HIST_DMA_MAP, IT_HIST_DMA_UNMAP, IT_HIST_IOVA,
	IT_HIST_IOVA_SLOW, IT_HIST_FLUSH, IT_HIST_INV, IT_HIST_SIZE, IT_HIST_PAGESIZE,
	IT_HIST_MAX,
};

struct it_render_opts {
	const char *device;		/* filter: name or driver, NULL for all */
	bool all_devices;		/* include devices with no activity */
	bool rates;			/* interval output: per-second rates */
	const char *header;		/* first line of text output, may be NULL */
	const char *source;		/* JSON "source": "live" or a recording path */
};

int hist_kind_by_name(const char *name);
const char *hist_kind_name(int kind);
/* the histogram is filled by --deep hooks only */
bool hist_kind_deep(int kind);	/* -1 if unknown */
const char *it_lost_name(int why);

void render_table(FILE *f, const struct it_snapshot *s, const struct it_render_opts *o);
void render_json(FILE *f, const struct it_snapshot *s, const struct it_render_opts *o);
void render_hists(FILE *f, const struct it_snapshot *s, int kind, const struct it_render_opts *o);
void render_hists_json(FILE *f, const struct it_snapshot *s, int kind,
		       const struct it_render_opts *o);
/* "1.2us", "350ns", "-" for NaN */
const char *fmt_ns(double ns, char *buf, size_t size);
const char *fmt_bytes(double bytes, char *buf, size_t size);
/* lines saying which roles read "n/a" on this kernel or mode, and why */
void roles_lines(FILE *f, const struct it_snapshot *s);
void json_pmu_figures(struct json_writer *jw, const char *key, const struct pmu_figures *f);
/* hardware counter figures: a header, and one row per unit or device */
void render_pmu_header(FILE *f, const char *first);
void render_pmu_row(FILE *f, const char *name, const struct pmu_figures *pf);

#endif
