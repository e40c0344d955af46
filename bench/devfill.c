// SPDX-License-Identifier: GPL-2.0
/*
 * devfill: makes a running `iommutrace export` hold N busy slots, for
 * bench/export-rss.sh and tests/export/test_devices.sh. It writes the maps
 * the exporter pinned in /sys/fs/bpf/iommutrace (src/pin.c) as its BPF
 * programs would once N slots (slot 0 is the unattributed one, then N - 1
 * devices) did DMA: a PCI name and every counter and histogram bucket
 * non-zero (Prometheus's worst case: every series present), and
 * next_slot = N. The exporter's own code then reads and renders them.
 *
 *   devfill N	(1 <= N <= IT_MAX_DEVS; root)
 *
 * Prints each slot's name and the map count it wrote ("NAME MAPS"). It writes
 * whichever daemon pinned the maps: run it only beside one started for it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "iommutrace.h"
#include "pin.h"

#define PIN IT_PIN_DIR "/"

static int pinned(const char *name)
{
	int fd = bpf_obj_get(name);

	if (fd < 0)
		fprintf(stderr, "devfill: %s: %s (is `iommutrace export` running?)\n", name,
			strerror(errno));
	return fd;
}

static int value_size(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? -1 : (int)info.value_size;
}

int main(int argc, char **argv)
{
	int stats_fd, info_fd, data_fd, ncpus, dsize;
	size_t stride = (sizeof(struct it_dev_stats) + 7) & ~7UL;
	__u32 n, slot, zero = 0;
	char *percpu, *data;
	__u64 *w;
	size_t i;

	if (argc != 2 || !(n = strtoul(argv[1], NULL, 10)) || n > IT_MAX_DEVS) {
		fprintf(stderr, "usage: devfill N (1..%d)\n", IT_MAX_DEVS);
		return 2;
	}
	stats_fd = pinned(PIN "dev_stats");
	info_fd = pinned(PIN "dev_info");
	data_fd = pinned(PIN "iommutra_data");
	ncpus = libbpf_num_possible_cpus();
	if (stats_fd < 0 || info_fd < 0 || data_fd < 0 || ncpus <= 0)
		return 1;
	dsize = value_size(data_fd);
	percpu = calloc(ncpus, stride);
	data = dsize >= (int)sizeof(__u32) ? calloc(1, dsize) : NULL;
	if (!percpu || !data) {
		fprintf(stderr, "devfill: no memory, or .data of %d bytes\n", dsize);
		return 1;
	}
	for (slot = 0; slot < n; slot++) {
		struct it_dev_info info = { .group = (int)slot, .domain_type = IT_DOMAIN_PAGING };

		/* slot 0 holds what no device could be found for: "unknown" */
		if (slot == IT_SLOT_UNKNOWN)
			snprintf(info.name, sizeof(info.name), "unknown");
		else
			snprintf(info.name, sizeof(info.name), "0000:%02x:%02x.%x",
				 1 + slot / 32, slot / 8 % 4, slot % 8);
		/* CPU 0's copy: every word a different non-zero count */
		w = (__u64 *)percpu;
		for (i = 0; i < sizeof(struct it_dev_stats) / 8; i++)
			w[i] = 1000003ULL * (slot + 1) + 7 * i + 1;
		printf("%s %llu\n", info.name, (unsigned long long)
		       w[offsetof(struct it_dev_stats, ops[IT_OP_MAP].count) / 8]);
		if (bpf_map_update_elem(info_fd, &slot, &info, BPF_ANY) ||
		    bpf_map_update_elem(stats_fd, &slot, percpu, BPF_ANY)) {
			fprintf(stderr, "devfill: slot %u: %s\n", slot, strerror(errno));
			return 1;
		}
	}
	/* next_slot, .data's only variable: the exporter reads that many slots */
	if (bpf_map_lookup_elem(data_fd, &zero, data))
		return 1;
	memcpy(data, &n, sizeof(n));
	if (bpf_map_update_elem(data_fd, &zero, data, BPF_ANY)) {
		fprintf(stderr, "devfill: next_slot: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
