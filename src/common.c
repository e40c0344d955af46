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

int it_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n;
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
