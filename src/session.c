// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "common.h"
#include "devfilter.h"
#include "session.h"

static volatile sig_atomic_t exiting;
static volatile pid_t child_pid;

static void on_signal(int sig)
{
	exiting = 1;
	if (child_pid > 0 && sig == SIGTERM)
		kill(child_pid, SIGTERM);
}

int session_parse_opt(struct it_session_opts *o, int opt, const char *arg, const char *cmd)
{
	unsigned long n;

	switch (opt) {
	case 'd':
		o->device = arg;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'i':
		if (it_parse_double(arg, &o->interval) || o->interval <= 0 || o->interval > 86400) {
			it_warn("%s: invalid interval '%s' (seconds, > 0)", cmd, arg);
			return IT_EXIT_USAGE;
		}
		return 0;
	case 'c':
		if (it_parse_uint(arg, &n) || n == 0) {
			it_warn("%s: invalid count '%s' (a positive number)", cmd, arg);
			return IT_EXIT_USAGE;
		}
		o->count = n;
		return 0;
	case 'f':
		o->force = true;
		return 0;
	case 'S':
		if (it_parse_uint(arg, &n) || n == 0 || n > 1000000) {
			it_warn("%s: invalid sample rate '%s' (1..1000000)", cmd, arg);
			return IT_EXIT_USAGE;
		}
		o->copts.sample_every = n;
		return 0;
	case 'W':
		o->copts.no_walk = true;
		return 0;
	case 'B':
		o->copts.bpf_stats = true;
		return 0;
	case IT_OPT_PMU_SYSFS:
		o->copts.pmu_root = arg;
		return 0;
	case IT_OPT_NO_PMU:
		o->copts.no_pmu = true;
		return 0;
	case IT_OPT_DEEP:
		o->copts.deep = true;
		return 0;
	case IT_OPT_OWN:
		o->copts.own = true;
		return 0;
	case IT_OPT_LEAKS:
		o->copts.leaks = true;
		return 0;
	case IT_OPT_LOSSLESS:
		o->copts.twins = true;
		return 0;
	}
	return -1;
}

static int session_check_device(const char *device)
{
	if (!device || devfilter_exists("", device))
		return 0;
	it_warn("unknown device '%s': not a device name (e.g. 0000:00:04.0 or 00:04.0) "
		"nor a driver with bound devices", device);
	return IT_EXIT_USAGE;
}

static pid_t child_start(char **cmd, int *ready_pipe)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(fds[1]);
		/* wait until the probes are attached */
		if (read(fds[0], &c, 1) != 1)
			_exit(127);
		close(fds[0]);
		prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);	/* ours (main.c), not the command's */
		execvp(cmd[0], cmd);
		fprintf(stderr, "iommutrace: cannot run '%s': %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	*ready_pipe = fds[1];
	return pid;
}

static int wait_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return IT_EXIT_ERROR;
}

static void session_header(struct it_session *ss)
{
	const struct it_sysinfo *si = &ss->col.sys;

	char hooks[96];

	if (ss->col.shared)
		snprintf(hooks, sizeof(hooks), "reading the maps of iommutrace pid %u (its %u hooks; "
			 "--own for hooks of our own)", ss->col.shared_meta.pid,
			 ss->col.shared_meta.nr_hooks);
	else
		snprintf(hooks, sizeof(hooks), "%d hooks attached", probes_nr_attached(&ss->col.probes));
	snprintf(ss->header, sizeof(ss->header),
		 "iommutrace: %s IOMMU%s%s%s, mode %s (groups: %d DMA, %d DMA-FQ, %d identity, "
		 "%d unmanaged), %s",
		 it_vendor_name(si->vendor), si->nr_units ? " (" : "", si->units,
		 si->nr_units ? ")" : "", si->mode, si->nr_dma, si->nr_dma_fq, si->nr_identity,
		 si->nr_unmanaged, hooks);
}

/* Hardware counters are a bonus: why there are none is said once, here. */
void session_pmu_note(const struct it_collector *col, const struct it_session_opts *o)
{
	const struct it_pmu_view *v = &col->pmu_view;

	if (o->copts.no_pmu || !v->msg[0])
		return;
	if (v->nr_rows)
		it_warn("%s", v->msg);
	else
		it_warn("%s; IOTLB hit/miss figures left out", v->msg);
}

/* Sleeps until @deadline, draining fault events meanwhile. */
static void session_wait(struct it_session *ss, double deadline)
{
	while (!exiting) {
		double left = deadline - it_now();
		int status;

		if (left <= 0)
			return;
		if (child_pid > 0 && waitpid(child_pid, &status, WNOHANG) == child_pid) {
			child_pid = -status - 1;	/* encode: finished */
			return;
		}
		collector_poll_faults(&ss->col, left > 0.1 ? 100 : (int)(left * 1000) + 1);
		collector_pmu_watch(&ss->col);
	}
}

/*
 * What every tracing command does before its first read: -d checked, the BPF
 * side loaded and attached, and a system where no IOMMU translates said so
 * plainly (and left, unless -f). Returns 0 or an exit code; on failure the
 * collector is closed.
 */
int session_open(struct it_collector *col, struct it_session_opts *o, const char *cmd)
{
	int ret;

	ret = session_check_device(o->device);
	if (ret)
		return ret;
	if (!o->copts.pmu_device)
		o->copts.pmu_device = o->device;
	ret = collector_open(col, &o->copts);
	if (ret) {
		it_warn("%s", col->fail_msg);
		collector_close(col);
		return ret;
	}
	if (col->shared)
		it_warn("%s: reading the maps of iommutrace pid %u (the exporter's %u hooks): no "
			"hooks of our own; counts from now (--own: a private session)", cmd,
			col->shared_meta.pid, col->shared_meta.nr_hooks);
	if (col->sys.xlate != IT_XLATE_ACTIVE) {
		it_warn("%s", sysinfo_xlate_message(&col->sys));
		if (!o->force) {
			it_warn("%s: nothing to trace; use -f to trace anyway (VFIO or unmanaged "
				"domains may still appear)", cmd);
			ret = sysinfo_exit_code(&col->sys);
			collector_close(col);
			return ret;
		}
	}
	return 0;
}

int session_run(struct it_session_opts *o, it_tick_fn tick, void *ctx)
{
	struct it_session *ss = calloc(1, sizeof(*ss));
	struct sigaction sa = { .sa_handler = on_signal };
	int ret, ready = -1, status = 0;
	long ticks = 0;

	if (!ss)
		return IT_EXIT_ERROR;
	ss->opts = o;
	ss->cur = calloc(1, sizeof(*ss->cur));
	ss->prev = calloc(1, sizeof(*ss->prev));
	ss->delta = calloc(1, sizeof(*ss->delta));
	ret = IT_EXIT_ERROR;
	if (!ss->cur || !ss->prev || !ss->delta)
		goto out;
	ret = session_open(&ss->col, o, o->cmd_name);
	if (ret)
		goto out;
	session_header(ss);
	session_pmu_note(&ss->col, o);

	exiting = 0;
	child_pid = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (o->cmd) {
		child_pid = child_start(o->cmd, &ready);
		if (child_pid < 0) {
			it_warn("cannot start command: %s", strerror(errno));
			ret = IT_EXIT_ERROR;
			goto out;
		}
	}
	collector_read(&ss->col, ss->prev);
	if (ready >= 0) {
		if (write(ready, "g", 1) != 1)
			it_warn("cannot start command");
		close(ready);
	}

	while (!exiting && child_pid >= 0) {
		double deadline = it_now() + (o->interval > 0 ? o->interval : 3600);

		session_wait(ss, deadline);
		if (exiting || child_pid < 0)
			break;
		if (!o->interval)
			continue;
		collector_read(&ss->col, ss->cur);
		snapshot_delta(ss->cur, ss->prev, ss->delta);
		tick(ctx, ss, ss->delta, false);
		memcpy(ss->prev, ss->cur, sizeof(*ss->cur));
		if (o->count && ++ticks >= o->count)
			break;
	}
	if (child_pid > 0) {
		/* stopped by signal or count: the command is ours to end */
		kill(child_pid, SIGTERM);
		waitpid(child_pid, &status, 0);
		child_pid = -status - 1;
	}
	collector_poll_faults(&ss->col, 0);
	collector_read(&ss->col, ss->cur);
	tick(ctx, ss, ss->cur, true);
	ret = IT_EXIT_OK;
	if (o->cmd)
		ret = wait_status(-(child_pid + 1));
out:
	collector_close(&ss->col);
	free(ss->cur);
	free(ss->prev);
	free(ss->delta);
	free(ss);
	return ret;
}
