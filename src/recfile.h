/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Recording files (`record`, `report`, `compare`): a versioned, self-describing
 * container of zlib-compressed sections. Layout: docs/record.md.
 *
 * The writer appends as the session runs, so a recording cut short has no
 * trailer and is rejected as truncated. The reader treats its input as
 * untrusted: every length is checked against what is left, every section
 * carries a CRC, and the trailer's CRC covers the whole file.
 */
#ifndef IT_RECFILE_H
#define IT_RECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>

#include "iommutrace.h"
#include "model.h"

#define IT_REC_MAGIC		"ITRACE\r\n"	/* \r\n: text-mode mangling shows */
#define IT_REC_MAGIC_LEN	8
#define IT_REC_VERSION		3		/* 2: IOMMU PMU rows in snapshots;
						 * 3: --lossless and its twins' runs */
#define IT_REC_SNAP_LOSSLESS	(1U << 0)	/* snapshot flags (version 3) */
#define IT_REC_FILE_HDR_LEN	16		/* magic, u32 version, u32 flags */
#define IT_REC_SECT_HDR_LEN	16		/* type, raw len, stored len, crc */
#define IT_REC_MAX_SECTION	(64u << 20)	/* uncompressed bytes per section */

enum it_rec_section {
	IT_REC_META = 1,	/* key=value text: host, kernel, IOMMU, probes */
	IT_REC_INTERVAL = 2,	/* one interval's delta snapshot */
	IT_REC_SUMMARY = 3,	/* the whole run, cumulative */
	IT_REC_FAULT = 4,	/* one fault event */
	IT_REC_FIGURES = 5,	/* workload figures (known once the command ended) */
	IT_REC_TRAILER = 6,	/* totals and the CRC of everything before it */
};

#define IT_REC_MAX_GROUPS	128
#define IT_REC_MAX_PROBES	64
#define IT_REC_MAX_FIGURES	8
#define IT_REC_MAX_FAULTS	1024	/* kept in memory by the reader; all are counted */
#define IT_REC_MAX_PMU_ROLES	32	/* counts per PMU row: `have` is a u32 bitmask */
#define IT_REC_MAX_PMU_STATUS	255	/* beyond enum pmu_status: "unknown", still read */

/* what a version-1 file (no PMU fields) reads as */
#define IT_REC_V1_PMU_MSG \
	"recorded before iommutrace stored IOMMU hardware counters (format version 1)"

struct it_rec_figure {
	char name[32];
	double value;
};

struct it_rec_meta {
	char tool[32];			/* "iommutrace 1" */
	char host[64];
	char kernel[64];
	char vendor[16];		/* generic, intel, amd */
	char units[128];
	char mode[32];			/* lazy, strict, mixed, ... */
	char cmdline[160];		/* IOMMU options from /proc/cmdline */
	char command[256];		/* -- COMMAND, "" if none */
	char pmu_status[16];		/* pmu_status_name() when recording began */
	char pmu_msg[PMU_MSG_LEN];	/* why no counters, or what failed; "" if fine */
	double wall_start;		/* Unix time the recording began */
	double interval;		/* seconds per interval record */
	int nr_groups;
	struct {
		int id;
		char type[16];
	} groups[IT_REC_MAX_GROUPS];
	int nr_probes;
	struct {
		char name[24];
		char kind[12];
	} probes[IT_REC_MAX_PROBES];
	/* what each role's figures mean: "n/a" in report, not 0 (not in older files) */
	bool have_roles;
	struct it_role_view roles[IT_ROLE_MAX];
};

struct it_rec_fault {
	double t;			/* seconds since the session opened */
	__u64 iova;
	char device[IT_NAME_LEN];
	__u16 source_id;
	__u8 vendor, reason, is_write;
	__u32 flags, pasid;
	char text[IT_FAULT_TEXT_LEN];
};

/* Everything a reader gathered from one file. */
struct it_recording {
	int version;			/* the file's format version */
	struct it_rec_meta meta;
	int nr_figures;
	struct it_rec_figure figures[IT_REC_MAX_FIGURES];
	int nr_intervals;
	struct it_snapshot *summary;	/* malloc'd; NULL until read */
	int nr_faults;			/* in the file */
	int nr_faults_kept;
	struct it_rec_fault *faults;	/* malloc'd, nr_faults_kept */
};

enum it_rec_err {
	IT_REC_OK,
	IT_REC_EIO,		/* cannot open or read */
	IT_REC_EFOREIGN,	/* not a recording: magic */
	IT_REC_EVERSION,	/* newer format than this reader */
	IT_REC_ETRUNCATED,	/* ends early or has no trailer */
	IT_REC_ECORRUPT,	/* CRC mismatch or inconsistent content */
};

struct it_rec_error {
	enum it_rec_err kind;
	size_t offset;		/* where in the file */
	char msg[256];		/* "what" and "where", without the file name */
};

/* Called for each interval record, in file order; @s is valid only during the call. */
typedef void (*it_rec_interval_fn)(void *ctx, const struct it_snapshot *s, int index);

/* ---- writer ---- */

struct it_rec_writer {
	const char *device;		/* -d filter, set before recw_open; NULL: all */
	double summary_start;		/* > 0: the summary's t_start (tracing began) */
	/* with summary_start: the cumulative PMU view read at that moment; the
	 * summary's PMU counts are written since then, to match its t_start */
	const struct it_pmu_view *summary_pmu_base;
	FILE *f;
	unsigned long crc;		/* zlib crc32 of every byte written */
	size_t off;
	int nr_intervals, nr_faults;
	bool has_summary;
	__u64 maps, unmaps;		/* of the summary, for the trailer */
	unsigned char *buf;		/* encoding scratch */
	size_t len, cap;
	bool failed;
};

/* Returns 0, or -errno. */
int recw_open(struct it_rec_writer *w, const char *path, const struct it_rec_meta *m);
int recw_interval(struct it_rec_writer *w, const struct it_snapshot *s, bool summary);
int recw_fault(struct it_rec_writer *w, const struct it_rec_fault *f);
int recw_figures(struct it_rec_writer *w, const struct it_rec_figure *fig, int nr);
/* Writes the trailer and closes; returns 0 or -errno (the file is then unusable). */
int recw_close(struct it_rec_writer *w);
/* Closes without a trailer (the file reads as truncated). */
void recw_abort(struct it_rec_writer *w);

/* ---- reader ---- */

/* Parse a whole file image. Returns IT_REC_OK or the error kind (err says more). */
int rec_parse(const void *buf, size_t len, struct it_recording *r, it_rec_interval_fn fn,
	      void *ctx, struct it_rec_error *err);
int rec_load(const char *path, struct it_recording *r, it_rec_interval_fn fn, void *ctx,
	     struct it_rec_error *err);
void rec_free(struct it_recording *r);

/* ---- helpers shared by record and compare ---- */

/* "NAME=VALUE": VALUE is a number; 0 or -1 */
int rec_figure_parse(const char *arg, struct it_rec_figure *fig);
const struct it_rec_figure *rec_figure_find(const struct it_recording *r, const char *name);
void rec_fault_from_event(struct it_rec_fault *f, const struct it_fault_event *e, double t);
/* PMU counts of @v since @base was read (rows are matched by index, unit and device) */
void rec_pmu_rebase(struct it_pmu_view *v, const struct it_pmu_view *base);

/* src/record.c: metadata of a live session, for record and compare --live */
struct it_session;
void record_meta_fill(struct it_rec_meta *m, struct it_session *ss, char **cmd, double interval);
/* NAME=VALUE or NAME=@FILE (read once the command ended); 0 or an IT_EXIT_* code */
int record_figure_resolve(const char *arg, struct it_rec_figure *fig);
/* rec_load() that warns "PATH: what (offset N)"; 0 or an IT_EXIT_* code */
int record_load_or_warn(const char *path, struct it_recording *r, it_rec_interval_fn fn,
			void *ctx);

#endif
