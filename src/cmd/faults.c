// SPDX-License-Identifier: GPL-2.0
/* iommutrace faults: every IOMMU fault as it happens, decoded, and a summary. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"
#include "devfilter.h"
#include "faultdecode.h"
#include "faultline.h"
#include "json.h"
#include "session.h"
#include "subcommands.h"

#define MAX_SUMMARY 64

struct fault_row {
	char device[IT_NAME_LEN];
	int vendor;
	unsigned int reason;	/* Intel reason, or AMD flags */
	unsigned long long count;
};

struct faults_ctx {
	struct it_session_opts *o;
	bool walk;
	unsigned long long seen, filtered, text_only;
	struct fault_row rows[MAX_SUMMARY];
	int nr_rows;
	/* AMD: the io_page_fault event waits for its log line to add the flags */
	struct it_fault_event pending;
	bool has_pending;
};

static void summary_add(struct faults_ctx *fc, const char *dev, const struct it_fault_event *e)
{
	unsigned int key = e->vendor == IT_VENDOR_INTEL ? e->reason : e->flags;
	int i;

	for (i = 0; i < fc->nr_rows; i++) {
		struct fault_row *r = &fc->rows[i];

		if (!strcmp(r->device, dev) && r->vendor == e->vendor && r->reason == key) {
			r->count++;
			return;
		}
	}
	if (fc->nr_rows == MAX_SUMMARY)
		return;
	snprintf(fc->rows[i].device, sizeof(fc->rows[i].device), "%s", dev);
	fc->rows[i].vendor = e->vendor;
	fc->rows[i].reason = key;
	fc->rows[i].count = 1;
	fc->nr_rows++;
}


static void reason_text(const struct it_fault_event *e, char *buf, size_t size)
{
	char flags[128];

	if (e->vendor == IT_VENDOR_INTEL) {
		snprintf(buf, size, "reason 0x%02x %s", e->reason, intel_fault_reason_str(e->reason));
	} else if (e->vendor == IT_VENDOR_AMD || e->flags & ~1U) {
		amd_fault_flags_str(e->flags, flags, sizeof(flags));
		snprintf(buf, size, "flags 0x%04x %s", e->flags, flags);
	} else {
		snprintf(buf, size, "reported by the driver");
	}
}

static void fault_print_json(struct faults_ctx *fc, const struct it_fault_event *e,
			     const char *dev, const struct it_devmeta *m)
{
	struct json_writer jw;
	char reason[256], why[256];
	int i;

	reason_text(e, reason, sizeof(reason));
	jw_init(&jw, stdout);
	jw_begin_object(&jw, NULL);
	jw_string(&jw, "event", "fault");
	jw_double(&jw, "ts", e->ts_ns / 1e9);
	jw_string(&jw, "device", dev);
	jw_string(&jw, "driver", m->driver);
	jw_string(&jw, "domain_type", m->domain_type);
	jw_string(&jw, "vendor", it_vendor_name(e->vendor));
	jw_u64(&jw, "iova", e->iova);
	jw_string(&jw, "direction", e->is_write ? "write" : "read");
	if (e->vendor == IT_VENDOR_INTEL) {
		jw_u64(&jw, "reason", e->reason);
		jw_bool(&jw, "interrupt_remapping", intel_fault_is_ir(e->reason));
	}
	jw_u64(&jw, "flags", e->flags);
	jw_string(&jw, "text", reason);
	if (e->pasid_present)
		jw_u64(&jw, "pasid", e->pasid);
	if (e->has_text)
		jw_string(&jw, "log_line", e->text);
	if (fc->walk) {
		fault_explain(e, why, sizeof(why));
		jw_begin_object(&jw, "walk");
		jw_string(&jw, "status", walk_status_str(e->walk.status));
		jw_u64(&jw, "levels", e->walk.levels);
		jw_u64(&jw, "stop_level", e->walk.stop_level);
		jw_begin_array(&jw, "ptes");
		for (i = 0; i < e->walk.nr_ptes && i < IT_WALK_MAX_LEVELS; i++)
			jw_u64(&jw, NULL, e->walk.pte[i]);
		jw_end_array(&jw);
		jw_string(&jw, "explanation", why);
		jw_end_object(&jw);
	}
	jw_end_object(&jw);
	jw_finish(&jw);
}

static void fault_print_text(struct faults_ctx *fc, const struct it_fault_event *e,
			     const char *dev, const struct it_devmeta *m)
{
	char reason[256], why[256];
	struct timespec ts;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	reason_text(e, reason, sizeof(reason));
	printf("%02ld:%02ld:%02ld %-13s %-9s %-9s iova 0x%-12llx %-5s %s\n",
	       (ts.tv_sec / 3600) % 24, (ts.tv_sec / 60) % 60, ts.tv_sec % 60, dev,
	       m->driver[0] ? m->driver : "-", m->domain_type[0] ? m->domain_type : "-",
	       (unsigned long long)e->iova, e->is_write ? "write" : "read", reason);
	if (!fc->walk)
		return;
	fault_explain(e, why, sizeof(why));
	printf("         walk: %s;", why);
	for (i = 0; i < e->walk.nr_ptes && i < IT_WALK_MAX_LEVELS; i++)
		printf(" L%d=0x%llx", e->walk.levels - i, (unsigned long long)e->walk.pte[i]);
	printf("\n");
}

static void fault_emit(struct faults_ctx *fc, const struct it_fault_event *e)
{
	struct it_devmeta m;
	char dev[IT_NAME_LEN];

	fault_device_name(e, dev, sizeof(dev));
	devmeta_read("", dev, &m);
	if (!devfilter_match(fc->o->device, dev, m.driver)) {
		fc->filtered++;
		return;
	}
	fc->seen++;
	summary_add(fc, dev, e);
	if (fc->o->json)
		fault_print_json(fc, e, dev, &m);
	else
		fault_print_text(fc, e, dev, &m);
	fflush(stdout);
}

static void pending_flush(struct faults_ctx *fc)
{
	if (fc->has_pending)
		fault_emit(fc, &fc->pending);
	fc->has_pending = false;
}

static int on_fault(void *ctx, const struct it_fault_event *ev)
{
	struct faults_ctx *fc = ctx;
	struct it_fault_event e = *ev;

	if (e.has_text) {
		struct it_fault_event parsed = {};

		e.text[IT_FAULT_TEXT_LEN - 1] = '\0';
		if (fault_parse_line(e.text, &parsed))
			return 0;
		if (e.vendor == IT_VENDOR_AMD) {
			/* the AMD line enriches the io_page_fault event it follows */
			if (fc->has_pending && fc->pending.iova == parsed.iova) {
				fc->pending.flags = parsed.flags;
				fc->pending.vendor = IT_VENDOR_AMD;
				fc->pending.is_write = parsed.is_write;
				memcpy(fc->pending.text, e.text, sizeof(e.text));
				fc->pending.has_text = 1;
				pending_flush(fc);
			}
			return 0;
		}
		/* Intel from the log line only: no register-level hook here */
		parsed.ts_ns = e.ts_ns;
		parsed.has_text = 1;
		memcpy(parsed.text, e.text, sizeof(e.text));
		fc->text_only++;
		pending_flush(fc);
		fault_emit(fc, &parsed);
		return 0;
	}
	pending_flush(fc);
	if (e.vendor == IT_VENDOR_GENERIC) {
		fc->pending = e;
		fc->has_pending = true;
		return 0;
	}
	fault_emit(fc, &e);
	return 0;
}

static void faults_tick(void *ctx, struct it_session *ss, const struct it_snapshot *s, bool final)
{
	struct faults_ctx *fc = ctx;
	struct json_writer jw;
	char reason[256];
	int i;

	if (!final)
		return;
	pending_flush(fc);
	if (fc->o->json) {
		jw_init(&jw, stdout);
		jw_begin_object(&jw, NULL);
		jw_string(&jw, "event", "summary");
		jw_u64(&jw, "faults", fc->seen);
		jw_u64(&jw, "faults_counted_in_kernel", s->total.ops[IT_OP_FAULT].count);
		jw_u64(&jw, "filtered_out", fc->filtered);
		jw_u64(&jw, "from_log_lines", fc->text_only);
		jw_u64(&jw, "lost", s->lost[IT_LOST_RINGBUF]);
		jw_begin_array(&jw, "by_device_reason");
		for (i = 0; i < fc->nr_rows; i++) {
			const struct fault_row *r = &fc->rows[i];

			jw_begin_object(&jw, NULL);
			jw_string(&jw, "device", r->device);
			jw_string(&jw, "vendor", it_vendor_name(r->vendor));
			jw_u64(&jw, r->vendor == IT_VENDOR_INTEL ? "reason" : "flags", r->reason);
			jw_u64(&jw, "count", r->count);
			jw_end_object(&jw);
		}
		jw_end_array(&jw);
		jw_end_object(&jw);
		jw_finish(&jw);
		return;
	}
	printf("--- %llu fault(s)", fc->seen);
	if (s->lost[IT_LOST_RINGBUF])
		printf(", %llu lost (ring buffer full; counted in the kernel: %llu)",
		       (unsigned long long)s->lost[IT_LOST_RINGBUF],
		       (unsigned long long)s->total.ops[IT_OP_FAULT].count);
	printf("\n");
	for (i = 0; i < fc->nr_rows; i++) {
		const struct fault_row *r = &fc->rows[i];
		struct it_fault_event e = { .vendor = r->vendor, .reason = r->reason,
					    .flags = r->reason };

		reason_text(&e, reason, sizeof(reason));
		printf("%8llu  %-13s %s\n", r->count, r->device, reason);
	}
}

int cmd_faults(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "walk", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct it_session_opts o = { .cmd_name = "faults" };
	struct faults_ctx fc = { .o = &o };
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "+d:jfwh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			fc.walk = true;
			continue;
		case 'h':
			printf("Usage: iommutrace faults [-d DEV] [-j] [--walk] [-f] [-- COMMAND]\n"
			       "Every IOMMU fault as it happens: device, driver, domain type, IOVA,\n"
			       "direction, reason (Intel) or flags (AMD); a summary per device and\n"
			       "reason at the end (Ctrl-C, or when COMMAND exits).\n"
			       "  -d, --device DEV  only faults of this device or driver\n"
			       "  -j, --json        one JSON object per fault, then a summary object\n"
			       "  -w, --walk        show the I/O page-table walk: each level's entry and\n"
			       "                    where translation stops\n"
			       "  -f, --force       run even if no IOMMU translates\n");
			return IT_EXIT_OK;
		}
		ret = session_parse_opt(&o, opt, optarg, "faults");
		if (ret < 0)
			return IT_EXIT_USAGE;
		if (ret)
			return ret;
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--")) {
			it_warn("faults: unexpected argument '%s'", argv[optind]);
			return IT_EXIT_USAGE;
		}
		o.cmd = &argv[optind];
	}
	o.copts.on_fault = on_fault;
	o.copts.fault_ctx = &fc;
	o.copts.no_walk = true;	/* maps need no walk here; faults are always walked */
	o.copts.no_pmu = true;	/* IOTLB counters say nothing about faults */
	if (!o.json)
		printf("%-8s %-13s %-9s %-9s %-17s %-5s %s\n", "TIME", "DEVICE", "DRIVER", "TYPE",
		       "IOVA", "DIR", "REASON");
	return session_run(&o, faults_tick, &fc);
}
