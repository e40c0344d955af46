// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector.h"
#include "common.h"
#include "iommutrace.skel.h"
#include "pin.h"

/* the .data section: next_slot, the number of device slots in use */
static bool map_is_data(const struct bpf_map *map)
{
	const char *name = bpf_map__name(map);

	return strlen(name) > 5 && !strcmp(name + strlen(name) - 5, ".data");
}

/* The maps a reader needs: counters, device table, lost, the slot counter */
static bool map_shared(const struct bpf_map *map)
{
	static const char *const names[] = { "dev_stats", "dev_info", "lost", "shared_meta",
					     "twin_served" };
	const char *name = bpf_map__name(map);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			return true;
	return map_is_data(map);
}

/* bpffs refuses names with a dot: "iommutra.data" is pinned as "iommutra_data" */
static void pin_path(char *buf, size_t size, const struct bpf_map *map)
{
	char *p;

	snprintf(buf, size, IT_PIN_DIR "/%s", bpf_map__name(map));
	for (p = buf + strlen(IT_PIN_DIR "/"); *p; p++)
		if (*p == '.')
			*p = '_';
}

static void pins_remove(void)
{
	char path[300];
	struct dirent *de;
	DIR *d = opendir(IT_PIN_DIR);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.'))
			continue;
		snprintf(path, sizeof(path), IT_PIN_DIR "/%s", de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(IT_PIN_DIR);
}

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void meta_fill(struct it_collector *c, struct it_shared_meta *m)
{
	int i;

	memset(m, 0, sizeof(*m));
	m->pid = getpid();
	m->deep = c->probes.deep;
	m->start_ns = monotonic_ns();
	m->nr_roles = IT_ROLE_MAX;
	for (i = 0; i < IT_ROLE_MAX && i < IT_SHARED_ROLES; i++) {
		const struct it_role_view *v = &c->roles[i];

		m->role_state[i] = v->state;
		snprintf(m->role_text[i], sizeof(m->role_text[i]), "%s",
			 v->state == IT_ROLE_TRACED ? v->served_by : v->why);
	}
	snprintf(m->mode, sizeof(m->mode), "%s", c->sys.mode);
	/* readers read our programs' runs, run time and skips from the kernel, by id */
	m->twins = c->probes.twins;
	m->nr_hooks = collector_hooks(c, m->hooks, IT_SHARED_HOOKS);
}

#define IT_BPF_FS_MAGIC	0xcafe4a11

/* bpffs on /sys/fs/bpf, mounted if it is not (as bpftool does to pin) */
static int bpffs_ensure(void)
{
	struct statfs st;

	if (!statfs("/sys/fs/bpf", &st) && st.f_type == IT_BPF_FS_MAGIC)
		return 0;
	return mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") ? -errno : 0;
}

int pin_share(struct it_collector *c, char *msg, size_t size)
{
	struct it_shared_meta meta, other;
	struct bpf_map *map;
	char path[300];
	__u32 zero = 0;
	int err;

	if (pin_find(&other) != PIN_NONE) {
		snprintf(msg, size, "iommutrace (pid %u) already shares its maps in " IT_PIN_DIR,
			 other.pid);
		return -EEXIST;
	}
	err = bpffs_ensure();
	if (err) {
		snprintf(msg, size, "no bpffs on /sys/fs/bpf and mounting one failed: %s",
			 strerror(-err));
		return err;
	}
	if (mkdir(IT_PIN_DIR, 0700) && errno != EEXIST) {
		err = -errno;
		snprintf(msg, size, "cannot create " IT_PIN_DIR ": %s (is bpffs mounted on "
			 "/sys/fs/bpf?)", strerror(errno));
		return err;
	}
	meta_fill(c, &meta);
	bpf_map_update_elem(bpf_map__fd(c->skel->maps.shared_meta), &zero, &meta, BPF_ANY);
	bpf_object__for_each_map(map, c->skel->obj) {
		if (!map_shared(map))
			continue;
		pin_path(path, sizeof(path), map);
		err = bpf_map__pin(map, path);
		if (err) {
			snprintf(msg, size, "cannot pin %s: %s", path, strerror(-err));
			pins_remove();
			return err;
		}
	}
	c->shared_pinned = true;
	return 0;
}

void pin_unshare(struct it_collector *c)
{
	if (c->shared_pinned)
		pins_remove();
	c->shared_pinned = false;
}

/* the pid is alive and is an iommutrace (not a recycled pid) */
static bool daemon_alive(__u32 pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (!pid || (kill(pid, 0) && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return !strncmp(comm, "iommutrace", 10);
}

/*
 * The daemon's meta; @foreign: another version's layout (another size), of
 * which only the pid (the first field in every version) is read.
 */
static bool meta_read(int fd, struct it_shared_meta *meta, bool *foreign)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	void *buf;
	bool ok;

	memset(meta, 0, sizeof(*meta));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return false;
	*foreign = info.value_size != sizeof(*meta);
	if (!*foreign)
		return !bpf_map_lookup_elem(fd, &zero, meta);
	buf = calloc(1, info.value_size > sizeof(__u32) ? info.value_size : sizeof(__u32));
	ok = buf && !bpf_map_lookup_elem(fd, &zero, buf);
	if (ok)
		memcpy(&meta->pid, buf, sizeof(meta->pid));
	free(buf);
	return ok;
}

enum pin_state pin_find(struct it_shared_meta *meta)
{
	bool ok, foreign = false;
	int fd = bpf_obj_get(IT_PIN_DIR "/shared_meta"), err = errno;

	if (fd < 0) {
		if (err == ENOENT && access(IT_PIN_DIR, F_OK) == 0) {
			it_warn("removing " IT_PIN_DIR ": incomplete pins, no daemon's");
			pins_remove();
		}
		return PIN_NONE;
	}
	ok = meta_read(fd, meta, &foreign);
	close(fd);
	if (ok && daemon_alive(meta->pid))
		return foreign ? PIN_FOREIGN : PIN_DAEMON;
	it_warn("removing stale pins in " IT_PIN_DIR ": their daemon (pid %u) is gone",
		ok ? meta->pid : 0);
	pins_remove();
	return PIN_NONE;
}

/*
 * .data is not reused: libbpf would write our initial values into it. Its
 * fd is returned in @data_fd, to read next_slot from.
 */
int pin_reuse(struct bpf_object *obj, int *data_fd)
{
	struct bpf_map *map;
	char path[300];
	int fd, err;

	*data_fd = -1;
	bpf_object__for_each_map(map, obj) {
		if (!map_shared(map))
			continue;
		pin_path(path, sizeof(path), map);
		fd = bpf_obj_get(path);
		if (fd < 0)
			return -errno;
		if (map_is_data(map)) {
			*data_fd = fd;
			continue;
		}
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err)
			return err;
	}
	return 0;
}
