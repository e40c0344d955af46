// SPDX-License-Identifier: GPL-2.0
/*
 * iommutrace top: a live per-device view of IOMMU cost. Full screen with
 * curses on a terminal; a plain periodic table (render_table, as stat -i)
 * with -b or when stdout is not a terminal. Every figure comes from the model
 * (collector_read + snapshot_delta) through topcalc.
 */
#include <curses.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "leaks.h"
#include "render.h"
#include "session.h"
#include "subcommands.h"
#include "topcalc.h"

#define TOP_HEADER_LINES 6	/* lines above the column titles */
#define TOP_KEY_POLL_MS 100	/* key latency; faults are drained as often */

struct top {
	struct it_collector col;
	/*
	 * cum: cumulative at the end of the interval on screen, delta: that
	 * interval, base: where the next interval starts (cum, or the resume
	 * after a pause), cur: scratch.
	 */
	struct it_snapshot *cur, *cum, *base, *delta;
	struct top_row rows[IT_MAX_DEVS];
	int nr_rows;
	bool have_data;
	double interval;
	long iterations;
	long ticks;
	bool batch, all, paused, reverse, help;
	int sort_col;
	char filter[64];
	char system[160];	/* "intel IOMMU (dmar0), mode lazy, 14 hooks" */
	char status[128];	/* a one-off message under the header */
};

static volatile sig_atomic_t top_exiting;
static bool top_curses_on;

static void top_on_signal(int sig)
{
	top_exiting = 1;
}

/* every exit path comes through here (and atexit): never leave a raw tty */
static void top_curses_end(void)
{
	if (!top_curses_on)
		return;
	top_curses_on = false;
	endwin();
}

static const char top_usage[] =
"Usage: iommutrace top [-b] [-i SECS] [-n N] [-d DEV] [-a] [-f] [-S N] [-W] [--no-pmu]\n"
"Live per-device IOMMU cost: map/unmap rates, MB/s, live mapped bytes, interval\n"
"p50/p99 map and unmap latency, IOVA rcache hit %, IOTLB invalidations/s, faults,\n"
"and with IOMMU hardware counters IOTLB hit % and page walks/s; system totals,\n"
"lost events and the tracer's own BPF run time in the header.\n"
"  -i, --interval SECS  refresh every SECS seconds (default 1)\n"
"  -n, --iterations N   stop after N refreshes\n"
"  -d, --device DEV     only this device (0000:00:04.0, 00:04.0) or driver (nvme)\n"
"  -a, --all            also devices with no IOMMU activity since start\n"
"  -b, --batch          plain periodic table (also when stdout is not a terminal)\n"
"  -f, --force          trace even if no IOMMU translates\n"
"  -S, --sample N       time 1 in N operations (counts stay exact)\n"
"  -W, --no-walk        skip the page-table walk on each map\n"
SESSION_PMU_HELP
"Keys: column letter or </> sort, s next column, r reverse, d filter, a all,\n"
"      p pause, h or ? help, q quit.\n";

static void top_describe_system(struct top *t)
{
	const struct it_sysinfo *si = &t->col.sys;

	char hooks[48];

	if (t->col.shared)
		snprintf(hooks, sizeof(hooks), "the exporter's %u hooks (pid %u)",
			 t->col.shared_meta.nr_hooks, t->col.shared_meta.pid);
	else
		snprintf(hooks, sizeof(hooks), "%d hooks", probes_nr_attached(&t->col.probes));
	snprintf(t->system, sizeof(t->system), "%s IOMMU%s%s%s, mode %s, %s",
		 it_vendor_name(si->vendor), si->nr_units ? " (" : "", si->units,
		 si->nr_units ? ")" : "", si->mode, hooks);
}

/* One refresh: the interval since the previous tick. */
static int top_tick(struct top *t)
{
	struct it_snapshot *tmp;
	int err;

	err = collector_read(&t->col, t->cur);
	if (err)
		return err;
	snapshot_delta(t->cur, t->base, t->delta);
	memcpy(t->base, t->cur, sizeof(*t->base));
	tmp = t->cum;
	t->cum = t->cur;
	t->cur = tmp;
	t->have_data = true;
	t->ticks++;
	return 0;
}

static void top_rows_update(struct top *t)
{
	if (!t->have_data) {
		t->nr_rows = 0;
		return;
	}
	t->nr_rows = top_rows_build(t->rows, IT_MAX_DEVS, t->delta, t->cum, t->filter,
				    t->all);
	top_rows_sort(t->rows, t->nr_rows, t->sort_col, t->reverse);
}

static const char *top_clock(char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(buf, size, "%H:%M:%S", &tm);
	return buf;
}

static void top_overhead(const struct top_totals *tt, char *buf, size_t size)
{
	char ns[16];

	if (isnan(tt->bpf_ns_per_sec))
		snprintf(buf, size, "n/a (no bpf_stats)");
	else
		snprintf(buf, size, "BPF %s/s = %.2f%% of a CPU, %.0f runs/s",
			 fmt_ns(tt->bpf_ns_per_sec, ns, sizeof(ns)), tt->bpf_cpu_pct,
			 tt->bpf_runs_per_sec);
}

/* ---- batch: the stat table, with rates ---- */

static void top_batch_print(struct top *t)
{
	struct top_totals tt;
	char hdr[384], clk[16], over[96];
	struct it_render_opts ro = {
		.device = t->filter[0] ? t->filter : NULL,
		.all_devices = t->all,
		.rates = true,
		.header = hdr,
	};

	top_totals_fill(&tt, t->delta, t->cum);
	top_overhead(&tt, over, sizeof(over));
	snprintf(hdr, sizeof(hdr), "top - %s, %s, lost %llu, overhead %s",
		 top_clock(clk, sizeof(clk)), t->system, (unsigned long long)tt.lost, over);
	render_table(stdout, t->delta, &ro);
	putchar('\n');
	fflush(stdout);
}

static int top_batch_run(struct top *t)
{
	double deadline = it_now() + t->interval;

	while (!top_exiting) {
		double left = deadline - it_now();

		if (left > 0) {
			collector_poll_faults(&t->col, left > 0.1 ? 100 : (int)(left * 1000) + 1);
			collector_pmu_watch(&t->col);
			continue;
		}
		if (top_tick(t)) {
			it_warn("top: cannot read the BPF maps");
			return IT_EXIT_ERROR;
		}
		top_batch_print(t);
		if (t->iterations && t->ticks >= t->iterations)
			break;
		deadline += t->interval;
	}
	return IT_EXIT_OK;
}

/* ---- curses ---- */

/* the hardware columns are there from start to end when any counter opened */
static bool top_have_pmu(const struct top *t)
{
	return t->col.pmu_view.nr_rows > 0;
}

static bool top_col_visible(const struct top *t, int col)
{
	return top_col_shown(col, top_have_pmu(t), leaks_tracking(&t->col));
}

/*
 * Columns that fit @width: drop the highest top_cols[].drop first. The
 * hardware counter columns only when there are counters.
 */
static void top_visible_cols(const struct top *t, bool *vis, int width)
{
	int i, used = 0, worst;

	for (i = 0; i < TOP_COL_MAX; i++) {
		vis[i] = top_col_visible(t, i);
		if (vis[i])
			used += top_cols[i].width + 1;
	}
	while (used > width) {
		worst = -1;
		for (i = 0; i < TOP_COL_MAX; i++)
			if (vis[i] && top_cols[i].drop &&
			    (worst < 0 || top_cols[i].drop > top_cols[worst].drop))
				worst = i;
		if (worst < 0)
			break;
		vis[worst] = false;
		used -= top_cols[worst].width + 1;
	}
}

static void top_cell(const struct top_row *r, int col, char *buf, size_t size)
{
	const struct it_dev *d = r->dev;
	double v = r->v[col];

	if (r->untraced & (1u << col)) {
		snprintf(buf, size, "n/a");
		return;
	}
	switch (col) {
	case TOP_COL_DEVICE:
		snprintf(buf, size, "%s", d->name);
		return;
	case TOP_COL_DRIVER:
		snprintf(buf, size, "%s", d->meta.driver[0] ? d->meta.driver : "-");
		return;
	case TOP_COL_TYPE:
		snprintf(buf, size, "%s", d->meta.domain_type[0] ? d->meta.domain_type : "-");
		return;
	case TOP_COL_LIVE:
		fmt_bytes(v, buf, size);
		return;
	case TOP_COL_OLDEST:
		if (isnan(v))
			snprintf(buf, size, "-");
		else
			snprintf(buf, size, "%.0fs", v);
		return;
	case TOP_COL_MAP_P50: case TOP_COL_MAP_P99:
	case TOP_COL_UNMAP_P50: case TOP_COL_UNMAP_P99:
		fmt_ns(v, buf, size);
		return;
	}
	/* never cut a figure to the column: 1.00G walks/s, not 10001564 */
	top_fmt_number(v, col == TOP_COL_MBS || col == TOP_COL_RCACHE || col == TOP_COL_IOTLB,
		       top_cols[col].width, buf, size);
}

/* printf to line @y, cut at the screen's edge: a wrapped line would garble the next */
static void top_line(int y, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mvaddnstr(y, 0, buf, COLS);
}

static void top_draw_titles(struct top *t, int y, const bool *vis)
{
	int i, x = 0;

	attron(A_REVERSE);
	mvhline(y, 0, ' ', COLS);
	for (i = 0; i < TOP_COL_MAX; i++) {
		const struct top_col_info *c = &top_cols[i];

		if (!vis[i])
			continue;
		if (x + c->width > COLS)
			break;
		if (i == t->sort_col)
			attron(A_BOLD | A_UNDERLINE);
		if (c->text)
			mvprintw(y, x, "%-*.*s", c->width, c->width, c->title);
		else
			mvprintw(y, x, "%*.*s", c->width, c->width, c->title);
		if (i == t->sort_col)
			attroff(A_BOLD | A_UNDERLINE);
		x += c->width + 1;
	}
	attroff(A_REVERSE);
}

static void top_draw_row(const struct top_row *r, int y, const bool *vis)
{
	char line[512], cell[32];
	int i, len = 0;

	line[0] = '\0';
	for (i = 0; i < TOP_COL_MAX; i++) {
		const struct top_col_info *c = &top_cols[i];

		if (!vis[i])
			continue;
		top_cell(r, i, cell, sizeof(cell));
		len += snprintf(line + len, sizeof(line) - len, c->text ? "%-*.*s " : "%*.*s ",
				c->width, c->width, cell);
	}
	mvaddnstr(y, 0, line, COLS);
}

/* appends to @buf at *@len, never past @size */
static void top_append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len + 1 >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n < size - *len ? (size_t)n : size - *len - 1;
}

/*
 * The hardware counters: each unit's IOTLB hit % and page walks/s over the
 * interval, or why there are none. Said here, not on stderr: curses hides it.
 */
static void top_pmu_line(struct top *t, int y)
{
	const struct it_pmu_view *v = &t->col.pmu_view;
	struct pmu_figures pf;
	char buf[512];
	size_t len = 0;
	int i, units = 0;

	if (!top_have_pmu(t)) {
		top_line(y, "PMU: %s", v->msg[0] ? v->msg : "no IOMMU hardware counters");
		return;
	}
	top_append(buf, sizeof(buf), &len, "PMU:");
	for (i = 0; i < v->nr_rows; i++) {
		const struct it_pmu_row *r = &t->delta->pmu.rows[i];
		const char *sep;

		if (v->rows[i].device[0])
			continue;	/* device rows are the table's IOTLB% and WALKS/s */
		sep = units++ ? ";" : "";
		if (!t->have_data || i >= t->delta->pmu.nr_rows) {
			top_append(buf, sizeof(buf), &len, "%s %s counting", sep, v->rows[i].unit);
			continue;
		}
		pmu_row_figures(t->delta, r, &pf);
		if (isnan(pf.hit_pct))
			top_append(buf, sizeof(buf), &len, "%s %s IOTLB hit -", sep, r->unit);
		else
			top_append(buf, sizeof(buf), &len, "%s %s IOTLB hit %.1f%%", sep, r->unit,
				   pf.hit_pct);
		top_append(buf, sizeof(buf), &len, ", %.0f walks/s%s",
			   isnan(pf.misses_per_s) ? 0 : pf.misses_per_s,
			   pf.multiplexed ? " (multiplexed)" : "");
	}
	if (v->msg[0])
		top_append(buf, sizeof(buf), &len, "  note: %s", v->msg);
	top_line(y, "%s", buf);
}

/* the roles no hook serves on this kernel: why some cells read n/a */
static void top_roles_untraceable(const struct it_snapshot *s, char *buf, size_t size)
{
	size_t len = 0;
	int role;

	buf[0] = '\0';
	for (role = 0; s->have_roles && role < IT_ROLE_MAX; role++)
		if (s->roles[role].state == IT_ROLE_NOT_TRACEABLE)
			top_append(buf, size, &len, "%s%s", len ? ", " : "", it_role_name(role));
}

static void top_draw_header(struct top *t)
{
	struct top_totals tt;
	char clk[16], live[16], over[96], hw[64] = "", inv[16], untraceable[160];

	top_line(0, "iommutrace top - %s  %s  every %.1fs%s", top_clock(clk, sizeof(clk)),
		 t->system, t->interval, t->paused ? "  [PAUSED]" : "");
	if (!t->have_data) {
		top_line(1, "collecting the first %.1fs interval...", t->interval);
	} else {
		top_totals_fill(&tt, t->delta, t->cum);
		top_overhead(&tt, over, sizeof(over));
		if (tt.have_pmu && !isnan(tt.pmu.hit_pct))
			snprintf(hw, sizeof(hw), ", IOTLB hit %.1f%%, %.0f walks/s",
				 tt.pmu.hit_pct, tt.pmu.misses_per_s);
		if (isnan(tt.inv))
			snprintf(inv, sizeof(inv), "n/a");
		else
			snprintf(inv, sizeof(inv), "%.0f", tt.inv);
		top_line(1, "Total: %.0f maps/s, %.0f unmaps/s, %.1f MB/s, live %s, "
			 "%s inv/s, %llu faults%s", tt.maps, tt.unmaps, tt.mbs,
			 fmt_bytes(tt.live, live, sizeof(live)), inv,
			 (unsigned long long)tt.faults, hw);
		top_roles_untraceable(t->delta, untraceable, sizeof(untraceable));
		top_line(2, "Lost: %llu (since start %llu)   Overhead: %s%s%s",
			 (unsigned long long)tt.lost, (unsigned long long)tt.lost_total, over,
			 untraceable[0] ? "   Not traceable here (n/a): " : "", untraceable);
	}
	top_pmu_line(t, 4);
	top_line(3, "Sort: %s %s   Filter: %s%s   %s", top_cols[t->sort_col].title,
		 top_cols[t->sort_col].desc != t->reverse ? "(largest first)" : "(ascending)",
		 t->filter[0] ? t->filter : "none", t->all ? "   all devices" : "", t->status);
}

static const char *const top_help_text[] = {
	"iommutrace top: keys",
	"",
	"  n v g t m u b l    sort by DEVICE DRIVER GRP TYPE MAPS/s UNMAPS/s MB/s LIVE",
	"  e E x X c i f      sort by MAP50 MAP99 UNMAP50 UNMAP99 RC-HIT% INV/s FAULTS",
	"  o w                sort by IOTLB% WALKS/s (IOMMU hardware counters only)",
	"  k K                sort by HELD OLDEST (outstanding mappings, --leaks only)",
	"  < >                sort by the column left / right of the current one",
	"  s                  sort by the next column",
	"  r                  reverse the order",
	"  d                  filter: device address, driver, or part of one (empty: all)",
	"  a                  show devices without activity too",
	"  p                  pause / resume",
	"  h ?                this help",
	"  q                  quit",
	"",
	"Columns are per second over the last interval, latencies are the interval's",
	"p50/p99 (DMA-API call when timed, else iommu_map/unmap); LIVE is bytes mapped",
	"minus unmapped since top started; FAULTS counts since top started; INV/s is",
	"IOTLB invalidations (strict syncs + lazy flush-queue flushes). IOTLB% and",
	"WALKS/s come from the IOMMU's own counters (perf), for devices the PMU can",
	"filter; the PMU line has each unit's, or why there are none. n/a: no hook",
	"can count it on this kernel (line 3 names the roles; `iommutrace probes`).",
	"",
	"Any key returns.",
};

static void top_draw(struct top *t)
{
	bool vis[TOP_COL_MAX];
	int i, y;

	erase();
	if (t->help) {
		for (i = 0; i < (int)ARRAY_SIZE(top_help_text) && i < LINES; i++)
			mvaddnstr(i, 0, top_help_text[i], COLS);
		refresh();
		return;
	}
	top_draw_header(t);
	top_visible_cols(t, vis, COLS);
	top_draw_titles(t, TOP_HEADER_LINES, vis);
	y = TOP_HEADER_LINES + 1;
	for (i = 0; i < t->nr_rows && y < LINES - 1; i++, y++)
		top_draw_row(&t->rows[i], y, vis);
	if (t->have_data && !t->nr_rows)
		top_line(y, "(no IOMMU activity%s%s)", t->filter[0] ? " for " : "", t->filter);
	attron(A_REVERSE);
	mvhline(LINES - 1, 0, ' ', COLS);
	mvaddnstr(LINES - 1, 0, "q quit  h help  s/</>/letter sort  r reverse  d filter  "
		  "a all  p pause", COLS);
	attroff(A_REVERSE);
	refresh();
}

/* Reads a line on the last screen line; false if cancelled (Esc, signal). */
static bool top_prompt(const char *prompt, char *buf, size_t size)
{
	size_t len = strlen(buf);
	int ch;

	curs_set(1);
	for (;;) {
		move(LINES - 1, 0);
		clrtoeol();
		top_line(LINES - 1, "%s%s", prompt, buf);
		refresh();
		ch = getch();
		if (top_exiting || ch == 27) {
			curs_set(0);
			return false;
		}
		if (ch == '\n' || ch == '\r' || ch == KEY_ENTER)
			break;
		if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && len)
			buf[--len] = '\0';
		else if (ch == 21)	/* ^U: clear, as in a shell */
			buf[len = 0] = '\0';
		else if (ch >= 0x20 && ch < 0x7f && len + 1 < size) {
			buf[len++] = ch;
			buf[len] = '\0';
		}
	}
	curs_set(0);
	return true;
}

/* @step: the direction to go on past hidden columns (< > s) */
static void top_sort_by(struct top *t, int col, int step)
{
	int i;

	for (i = 0; i < TOP_COL_MAX; i++, col += step) {
		col = (col + TOP_COL_MAX) % TOP_COL_MAX;
		if (top_col_visible(t, col))
			break;
	}
	t->sort_col = col;
	t->reverse = false;
}

/* Returns true when the user quits. */
static bool top_key(struct top *t, int ch)
{
	char buf[sizeof(t->filter)];
	int col;

	t->status[0] = '\0';
	if (t->help) {
		t->help = false;
		return ch == 'q';
	}
	switch (ch) {
	case 'q': case 'Q':
		return true;
	case 'h': case '?':
		t->help = true;
		break;
	case 'p':
		t->paused = !t->paused;
		break;
	case 's': case '>': case KEY_RIGHT:
		top_sort_by(t, t->sort_col + 1, 1);
		break;
	case '<': case KEY_LEFT:
		top_sort_by(t, t->sort_col - 1, -1);
		break;
	case 'r':
		t->reverse = !t->reverse;
		break;
	case 'a':
		t->all = !t->all;
		break;
	case 'd':
		snprintf(buf, sizeof(buf), "%s", t->filter);
		if (top_prompt("Filter (device, driver or part of one; empty: all): ", buf,
			       sizeof(buf)))
			snprintf(t->filter, sizeof(t->filter), "%s", buf);
		break;
	case KEY_RESIZE:
		break;
	default:
		col = top_col_by_key(ch);
		if (col >= 0 && !top_col_visible(t, col))
			snprintf(t->status, sizeof(t->status),
				 "no IOMMU hardware counters: %s is not shown", top_cols[col].title);
		else if (col >= 0)
			top_sort_by(t, col, 1);
		else if (ch > 0x20 && ch < 0x7f)
			snprintf(t->status, sizeof(t->status), "unknown key '%c' (h: help)", ch);
		break;
	}
	return false;
}

static int top_curses_start(void)
{
	if (!newterm(NULL, stdout, stdin))
		return -1;
	top_curses_on = true;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout(TOP_KEY_POLL_MS);
	return 0;
}

static int top_curses_run(struct top *t)
{
	double deadline = it_now() + t->interval;
	int ch;

	top_draw(t);
	while (!top_exiting) {
		ch = getch();
		if (ch != ERR) {
			bool was_paused = t->paused;

			if (top_key(t, ch))
				break;
			if (was_paused && !t->paused) {
				/* the interval after a pause starts at resume, not before it */
				if (collector_read(&t->col, t->base))
					goto fail;
				deadline = it_now() + t->interval;
			}
			top_rows_update(t);
			top_draw(t);
		}
		collector_poll_faults(&t->col, 0);
		collector_pmu_watch(&t->col);
		if (t->paused || it_now() < deadline)
			continue;
		if (top_tick(t))
			goto fail;
		top_rows_update(t);
		top_draw(t);
		if (t->iterations && t->ticks >= t->iterations)
			break;
		deadline += t->interval;
		if (deadline < it_now())
			deadline = it_now() + t->interval;
	}
	top_curses_end();
	return IT_EXIT_OK;
fail:
	top_curses_end();
	it_warn("top: cannot read the BPF maps");
	return IT_EXIT_ERROR;
}

/* ---- setup ---- */

static int top_parse(struct top *t, struct it_session_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "device", required_argument, NULL, 'd' },
		{ "all", no_argument, NULL, 'a' },
		{ "batch", no_argument, NULL, 'b' },
		{ "force", no_argument, NULL, 'f' },
		{ "sample", required_argument, NULL, 'S' },
		{ "no-walk", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		SESSION_PMU_LONGOPTS,
		{},
	};
	unsigned long n;
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:n:d:abfS:Wh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("%s", top_usage);
			return -1;
		case 'n':
			if (it_parse_uint(optarg, &n) || n == 0) {
				it_warn("top: invalid iteration count '%s' (a positive number)",
					optarg);
				return IT_EXIT_USAGE;
			}
			t->iterations = n;
			continue;
		case 'a':
			t->all = true;
			continue;
		case 'b':
			t->batch = true;
			continue;
		}
		/* -i -d -f -S -W --no-pmu --pmu-sysfs: the same meaning and checks as in stat */
		ret = session_parse_opt(o, opt, optarg, "top");
		if (ret < 0) {
			fprintf(stderr, "%s", top_usage);
			return IT_EXIT_USAGE;
		}
		if (ret)
			return ret;
	}
	if (optind < argc) {
		it_warn("top: unexpected argument '%s'", argv[optind]);
		return IT_EXIT_USAGE;
	}
	if (o->interval)
		t->interval = o->interval;
	if (o->device)
		snprintf(t->filter, sizeof(t->filter), "%s", o->device);
	return 0;
}

/* Load and attach; the no-IOMMU and passthrough cases behave as in stat. */
static int top_open(struct top *t, struct it_session_opts *o)
{
	int ret;

	/* bpf_stats costs a little on every BPF program: only while top runs */
	o->copts.bpf_stats = true;
	ret = session_open(&t->col, o, "top");
	if (ret)
		return ret;
	top_describe_system(t);
	/* the curses view says it on its PMU line instead */
	if (t->batch)
		session_pmu_note(&t->col, o);
	if (collector_read(&t->col, t->base)) {
		it_warn("top: cannot read the BPF maps");
		return IT_EXIT_ERROR;
	}
	return 0;
}

static void top_free(struct top *t)
{
	collector_close(&t->col);
	free(t->cur);
	free(t->cum);
	free(t->base);
	free(t->delta);
	free(t);
}

static struct top *top_alloc(void)
{
	struct top *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->col.stats_fd = -1;
	t->cur = calloc(1, sizeof(*t->cur));
	t->cum = calloc(1, sizeof(*t->cum));
	t->base = calloc(1, sizeof(*t->base));
	t->delta = calloc(1, sizeof(*t->delta));
	t->interval = 1;
	t->sort_col = TOP_COL_MAPS;
	if (!t->cur || !t->cum || !t->base || !t->delta) {
		top_free(t);
		return NULL;
	}
	return t;
}

int cmd_top(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = top_on_signal };	/* no SA_RESTART: wake getch */
	struct it_session_opts o = {};
	struct top *t = top_alloc();
	int ret;

	if (!t) {
		it_warn("top: out of memory");
		return IT_EXIT_ERROR;
	}
	ret = top_parse(t, &o, argc, argv);
	if (ret) {
		top_free(t);
		return ret < 0 ? IT_EXIT_OK : ret;
	}
	if (!t->batch && !isatty(STDOUT_FILENO))
		t->batch = true;

	top_exiting = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = top_open(t, &o);
	if (ret)
		goto out;
	if (!t->batch) {
		atexit(top_curses_end);
		if (top_curses_start()) {
			it_warn("top: cannot drive terminal '%s'; printing tables instead (-b)",
				getenv("TERM") ? getenv("TERM") : "(TERM unset)");
			t->batch = true;
			session_pmu_note(&t->col, &o);
		}
	}
	ret = t->batch ? top_batch_run(t) : top_curses_run(t);
out:
	top_curses_end();
	top_free(t);
	return ret;
}
