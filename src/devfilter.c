// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "devfilter.h"

/* "bb:" — a PCI address that starts at the bus, with no domain */
static bool starts_at_bus(const char *s)
{
	return isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]) && s[2] == ':';
}

void devfilter_normalize(const char *filter, char *out, size_t size)
{
	char lower[64];
	size_t i;

	for (i = 0; filter[i] && i < sizeof(lower) - 1; i++)
		lower[i] = tolower((unsigned char)filter[i]);
	lower[i] = '\0';
	/* "bb:dd.f" but not "dddd:bb:..." (a domain is four digits) */
	if (starts_at_bus(lower) && !(isxdigit((unsigned char)lower[3]) &&
				      isxdigit((unsigned char)lower[4]) && lower[5] == ':' &&
				      strlen(lower) > 8 && lower[8] == ':'))
		snprintf(out, size, "0000:%s", lower);
	else
		snprintf(out, size, "%s", lower);
}

/* @prefix names @name, or a whole part of it: it ends where a field does */
static bool name_prefix(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	if (!n || strncmp(name, prefix, n))
		return false;
	return name[n] == '\0' || name[n] == ':' || name[n] == '.' || prefix[n - 1] == ':' ||
	       prefix[n - 1] == '.';
}

/* "virtio" names virtio-pci and virtio_blk, "nv" names nothing */
static bool driver_prefix(const char *driver, const char *filter)
{
	size_t n = strlen(filter);

	return !strncmp(driver, filter, n) &&
	       (driver[n] == '\0' || driver[n] == '-' || driver[n] == '_');
}

bool devfilter_match(const char *filter, const char *name, const char *driver)
{
	char norm[64];

	if (!filter || !*filter)
		return true;
	if (driver && *driver && driver_prefix(driver, filter))
		return true;
	if (!name || !*name)
		return false;
	if (!strcmp(name, filter))
		return true;		/* a non-PCI name (platform, virtio) */
	devfilter_normalize(filter, norm, sizeof(norm));
	return strchr(norm, ':') && name_prefix(name, norm);
}

/* Any entry of DIR (a bus's devices/ or a driver's directory) that matches */
static bool dir_has_match(const char *dir, const char *filter, const char *driver)
{
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* a driver's directory also holds bind, unbind, module... */
		if (driver && strchr(de->d_name, ':'))
			found = true;
		else if (!driver)
			found = devfilter_match(filter, de->d_name, NULL);
	}
	closedir(d);
	return found;
}

bool devfilter_exists(const char *root, const char *filter)
{
	static const char *const buses[] = { "pci", "platform", "amba", "virtio" };
	struct dirent *de;
	bool found = false;
	char path[300];
	size_t i;
	DIR *d;

	for (i = 0; i < sizeof(buses) / sizeof(buses[0]); i++) {
		snprintf(path, sizeof(path), "%s/sys/bus/%s/devices", root, buses[i]);
		if (dir_has_match(path, filter, NULL))
			return true;
	}
	/* a driver (or its first word): some PCI device is bound to it */
	snprintf(path, sizeof(path), "%s/sys/bus/pci/drivers", root);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.' || !driver_prefix(de->d_name, filter))
			continue;
		snprintf(path, sizeof(path), "%s/sys/bus/pci/drivers/%s", root, de->d_name);
		found = dir_has_match(path, filter, de->d_name);
	}
	closedir(d);
	return found;
}
