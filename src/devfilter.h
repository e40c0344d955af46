/* SPDX-License-Identifier: GPL-2.0 */
/*
 * -d DEV, one rule for every command: a PCI address in full (0000:00:04.0),
 * without its domain (00:04.0), or cut short at a ':' or '.' (00:04 is every
 * function of slot 4, 0000:00 the whole bus); or a driver name (nvme), or
 * its first word (virtio for virtio-pci), which matches every device bound
 * to it.
 */
#ifndef IT_DEVFILTER_H
#define IT_DEVFILTER_H

#include <stdbool.h>
#include <stddef.h>

/* The filter with a short PCI address given its domain: "00:04.0" -> "0000:00:04.0" */
void devfilter_normalize(const char *filter, char *out, size_t size);
/* NULL or "" matches everything; @driver may be NULL or "" (unbound, unknown) */
bool devfilter_match(const char *filter, const char *name, const char *driver);
/* Whether some device under ROOT/sys matches: an unknown -d is a usage error */
bool devfilter_exists(const char *root, const char *filter);

#endif
