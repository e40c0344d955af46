/* SPDX-License-Identifier: GPL-2.0 */
#ifndef IT_COMMON_H
#define IT_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes: documented in `iommutrace --help` and README. */
enum it_exit {
	IT_EXIT_OK = 0,
	IT_EXIT_ERROR = 1,	/* runtime failure */
	IT_EXIT_USAGE = 2,	/* unknown option, bad argument, unknown device */
	IT_EXIT_PRIV = 3,	/* not privileged (needs root or CAP_BPF+CAP_PERFMON) */
	IT_EXIT_NO_BTF = 4,	/* running kernel has no BTF */
	IT_EXIT_NO_IOMMU = 5,	/* no IOMMU translating: none present or disabled */
	IT_EXIT_PASSTHROUGH = 6, /* IOMMU present, every group identity (iommu=pt) */
	IT_EXIT_NO_PROBES = 7,	/* no probe could be attached */
	IT_EXIT_BAD_TABLE = 8,	/* malformed ACPI table (info --acpi) */
	IT_EXIT_BAD_FILE = 9,	/* recording truncated, corrupt, foreign or newer */
	IT_EXIT_BAD_CONFIG = 10, /* bad --web.config.file (export) */
};

extern int it_verbose;

#define it_warn(fmt, ...) fprintf(stderr, "iommutrace: " fmt "\n", ##__VA_ARGS__)
#define it_debug(fmt, ...)						\
	do {								\
		if (it_verbose)						\
			fprintf(stderr, "iommutrace: " fmt "\n", ##__VA_ARGS__); \
	} while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

double it_now(void);			/* CLOCK_MONOTONIC seconds */
/* A short file (a sysfs attribute), its trailing newline and spaces trimmed: the length, or -errno */
int it_read_file(const char *path, char *buf, size_t size);	/* keeps what fits */
int it_read_attr(const char *path, char *buf, size_t size);	/* -EOVERFLOW if it does not fit */
int it_parse_double(const char *s, double *out);
int it_parse_uint(const char *s, unsigned long *out);

struct it_pci_addr {
	unsigned int seg, bus, dev, fn;
};

/*
 * The whole of @s as a PCI address: "0000:00:08.0", or "00:08.0" (segment 0).
 * 0, -EINVAL when it is not that shape, -ERANGE when a field is too large.
 */
int it_parse_pci_addr(const char *s, struct it_pci_addr *a);

#endif
