// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

int it_verbose;

double it_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* @whole: -EOVERFLOW when the file does not fit, rather than its first bytes */
static int read_trimmed(const char *path, char *buf, size_t size, bool whole)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	if (whole && (size_t)n == size - 1)
		return -EOVERFLOW;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n;
}

int it_read_file(const char *path, char *buf, size_t size)
{
	return read_trimmed(path, buf, size, false);
}

int it_read_attr(const char *path, char *buf, size_t size)
{
	return read_trimmed(path, buf, size, true);
}

int it_parse_double(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return (errno || end == s || *end) ? -EINVAL : 0;
}

int it_parse_uint(const char *s, unsigned long *out)
{
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 0);
	return (errno || *end) ? -EINVAL : 0;
}

int it_parse_pci_addr(const char *s, struct it_pci_addr *a)
{
	char tail;

	if (sscanf(s, "%x:%x:%x.%x%c", &a->seg, &a->bus, &a->dev, &a->fn, &tail) != 4) {
		a->seg = 0;
		if (sscanf(s, "%x:%x.%x%c", &a->bus, &a->dev, &a->fn, &tail) != 3)
			return -EINVAL;
	}
	if (a->seg > 0xffff || a->bus > 0xff || a->dev > 0x1f || a->fn > 7)
		return -ERANGE;
	return 0;
}
