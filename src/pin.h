/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One attach per host. The exporter (the host's daemon) pins its BPF maps
 * under IT_PIN_DIR; stat, top and record started beside it read those maps
 * instead of loading a second set of programs on the same hot path. Only
 * maps are pinned, not links: a daemon that dies takes its hooks with it, and
 * the next session finds its pins stale (its pid gone) and removes them.
 */
#ifndef IT_PIN_H
#define IT_PIN_H

#include <stdbool.h>
#include <stddef.h>

#include "iommutrace.h"

#define IT_PIN_DIR	"/sys/fs/bpf/iommutrace"

struct it_collector;
struct bpf_object;

/* The daemon: pin the shared maps and describe itself; 0 or -errno (msg says why) */
int pin_share(struct it_collector *c, char *msg, size_t size);
/* The daemon, on exit: remove what pin_share() made */
void pin_unshare(struct it_collector *c);

enum pin_state {
	PIN_NONE,
	PIN_DAEMON,		/* a live daemon shares its maps: @meta filled */
	PIN_FOREIGN,		/* ... but another version's: only @meta->pid read */
};

/*
 * A session: is a live daemon sharing its maps? Removes stale pins (their
 * daemon's pid is gone) and says so on stderr.
 */
enum pin_state pin_find(struct it_shared_meta *meta);
/* Point @obj's shared maps at the pinned ones (before load); 0 or -errno */
int pin_reuse(struct bpf_object *obj, int *data_fd);

#endif
