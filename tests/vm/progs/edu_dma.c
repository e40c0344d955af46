// SPDX-License-Identifier: GPL-2.0
/*
 * edu_dma: make QEMU's edu device (1234:11e8) DMA to an IOVA, from guest
 * userspace and without a kernel driver. The unbound device sits in its
 * group's default domain, where nothing is mapped for it, so under a
 * translating IOMMU every DMA faults: on Intel one
 * "DMAR: [DMA Read NO_PASID] Request device [..] fault addr .." line each.
 * With iommu=pt or no IOMMU the IOVA is a physical address and the DMA
 * reaches RAM: use "read" there, "write" would corrupt guest memory.
 *
 *   edu_dma DEV read|write IOVA COUNT [LEN]
 *
 * DEV: PCI address (0000:00:08.0). read: the device copies LEN bytes from
 * IOVA into its buffer; write: from its buffer to IOVA. LEN is 64 by
 * default and at most 2048: QEMU 7.2 aborts the whole VM ("DMA range ..
 * out of bounds") on a 4096-byte transfer at the buffer's start.
 *
 * Exit status: 0 when the device completed every DMA (a faulting DMA still
 * completes: the device does not see the fault), 1 when one did not
 * complete, 2 on bad arguments, 3 when the device cannot be set up.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_REG_ID		0x00
#define EDU_REG_LIVENESS	0x04
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_RUN		0x1
#define EDU_DMA_TO_RAM		0x2
#define EDU_BUF_ADDR		0x40000
#define EDU_MMIO_MAP		4096
#define EDU_LEN_MAX		2048
/* edu completes a DMA 100 ms of virtual time after it starts. */
#define EDU_DMA_TIMEOUT_MS	5000

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4

enum { EX_OK, EX_INCOMPLETE, EX_USAGE, EX_SETUP };

struct edu {
	char path[PATH_MAX];	/* /sys/bus/pci/devices/DEV */
	const char *name;
	volatile uint8_t *mmio;
	int config_fd;
	uint16_t command_saved;
	int enabled_by_us;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: edu_dma DEV read|write IOVA COUNT [LEN]\n"
		"  DEV    PCI address of the edu device, e.g. 0000:00:08.0\n"
		"  read   the device reads LEN bytes at IOVA; write: it writes them\n"
		"  IOVA   bus address (hex with 0x, or decimal)\n"
		"  COUNT  number of DMAs (each waits for completion)\n"
		"  LEN    bytes per DMA, 1..%d (default 64)\n"
		"example: edu_dma 0000:00:08.0 read 0x12345000 3\n",
		EDU_LEN_MAX);
	exit(EX_USAGE);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

static uint32_t mmio_read32(struct edu *e, unsigned int off)
{
	return *(volatile uint32_t *)(e->mmio + off);
}

static void mmio_write32(struct edu *e, unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(e->mmio + off) = v;
}

static void mmio_write64(struct edu *e, unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(e->mmio + off) = v;
}

static int sysfs_read(struct edu *e, const char *attr, char *buf, size_t len)
{
	char p[PATH_MAX + 32];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", e->path, attr);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int sysfs_write(struct edu *e, const char *attr, const char *val)
{
	char p[PATH_MAX + 32];
	int fd, ret;

	snprintf(p, sizeof(p), "%s/%s", e->path, attr);
	fd = open(p, O_WRONLY);
	if (fd < 0)
		return -1;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return ret;
}

static int edu_identify(struct edu *e)
{
	char buf[64], link[PATH_MAX + 16], target[PATH_MAX];
	unsigned long vendor, device;

	if (sysfs_read(e, "vendor", buf, sizeof(buf)) < 0) {
		fprintf(stderr, "edu_dma: %s: no such PCI device\n", e->name);
		return -1;
	}
	vendor = strtoul(buf, NULL, 16);
	if (sysfs_read(e, "device", buf, sizeof(buf)) < 0)
		return -1;
	device = strtoul(buf, NULL, 16);
	if (vendor != EDU_VENDOR || device != EDU_DEVICE) {
		fprintf(stderr, "edu_dma: %s is %04lx:%04lx, not edu (%04x:%04x)\n",
			e->name, vendor, device, EDU_VENDOR, EDU_DEVICE);
		return -1;
	}
	/* A bound driver (vfio-pci after vfio_map) owns the device. */
	snprintf(link, sizeof(link), "%s/driver", e->path);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		fprintf(stderr, "edu_dma: %s is bound to %s: unbind it first\n",
			e->name, strrchr(target, '/') + 1);
		return -1;
	}
	return 0;
}

/* Memory decoding for the BAR, bus mastering for the DMA. */
static int edu_enable(struct edu *e)
{
	char buf[16], p[PATH_MAX + 16];
	uint16_t cmd;

	if (sysfs_read(e, "enable", buf, sizeof(buf)) < 0)
		return -1;
	if (buf[0] == '0') {
		if (sysfs_write(e, "enable", "1") < 0) {
			perror("edu_dma: enable");
			return -1;
		}
		e->enabled_by_us = 1;
	}
	snprintf(p, sizeof(p), "%s/config", e->path);
	e->config_fd = open(p, O_RDWR);
	if (e->config_fd < 0 ||
	    pread(e->config_fd, &cmd, 2, PCI_COMMAND) != 2) {
		perror("edu_dma: config");
		return -1;
	}
	e->command_saved = cmd;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(e->config_fd, &cmd, 2, PCI_COMMAND) != 2) {
		perror("edu_dma: config write");
		return -1;
	}
	return 0;
}

static int edu_map(struct edu *e)
{
	char p[PATH_MAX + 16];
	uint32_t id, live;
	int fd;

	snprintf(p, sizeof(p), "%s/resource0", e->path);
	fd = open(p, O_RDWR | O_SYNC);
	if (fd < 0) {
		perror("edu_dma: resource0");
		return -1;
	}
	e->mmio = mmap(NULL, EDU_MMIO_MAP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (e->mmio == MAP_FAILED) {
		perror("edu_dma: mmap resource0");
		return -1;
	}
	id = mmio_read32(e, EDU_REG_ID);
	mmio_write32(e, EDU_REG_LIVENESS, 0x5a5a1234);
	live = mmio_read32(e, EDU_REG_LIVENESS);
	if ((id & 0xffff) != 0xed || live != ~0x5a5a1234u) {
		fprintf(stderr, "edu_dma: %s does not answer like edu (id %#x, liveness %#x)\n",
			e->name, id, live);
		return -1;
	}
	return 0;
}

static void edu_restore(struct edu *e)
{
	if (e->config_fd >= 0) {
		pwrite(e->config_fd, &e->command_saved, 2, PCI_COMMAND);
		close(e->config_fd);
	}
	if (e->enabled_by_us)
		sysfs_write(e, "enable", "0");
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* One DMA; returns its duration in ms, or -1 if it did not complete. */
static long edu_dma_one(struct edu *e, int write, uint64_t iova, uint32_t len)
{
	const struct timespec nap = { 0, 1000000 };
	struct timespec t0;

	mmio_write64(e, EDU_REG_DMA_SRC, write ? EDU_BUF_ADDR : iova);
	mmio_write64(e, EDU_REG_DMA_DST, write ? iova : EDU_BUF_ADDR);
	mmio_write64(e, EDU_REG_DMA_COUNT, len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	mmio_write32(e, EDU_REG_DMA_CMD, EDU_DMA_RUN | (write ? EDU_DMA_TO_RAM : 0));
	while (mmio_read32(e, EDU_REG_DMA_CMD) & EDU_DMA_RUN) {
		if (ms_since(&t0) > EDU_DMA_TIMEOUT_MS)
			return -1;
		nanosleep(&nap, NULL);
	}
	return ms_since(&t0);
}

int main(int argc, char **argv)
{
	struct edu e = { .config_fd = -1 };
	uint64_t iova, count, len = 64, done = 0;
	int write;

	if (argc < 5 || argc > 6)
		usage();
	if (!strcmp(argv[2], "read"))
		write = 0;
	else if (!strcmp(argv[2], "write"))
		write = 1;
	else
		usage();
	if (parse_u64(argv[3], &iova) < 0) {
		fprintf(stderr, "edu_dma: bad IOVA '%s'\n", argv[3]);
		return EX_USAGE;
	}
	if (parse_u64(argv[4], &count) < 0 || count == 0 || count > 100000) {
		fprintf(stderr, "edu_dma: bad COUNT '%s' (1..100000)\n", argv[4]);
		return EX_USAGE;
	}
	if (argc == 6 && (parse_u64(argv[5], &len) < 0 || len == 0 || len > EDU_LEN_MAX)) {
		fprintf(stderr, "edu_dma: bad LEN '%s' (1..%d)\n", argv[5], EDU_LEN_MAX);
		return EX_USAGE;
	}
	e.name = argv[1];
	snprintf(e.path, sizeof(e.path), "/sys/bus/pci/devices/%s%s",
		 strchr(argv[1], ':') == strrchr(argv[1], ':') ? "0000:" : "", argv[1]);

	if (edu_identify(&e) < 0)
		return EX_SETUP;
	if (edu_enable(&e) < 0 || edu_map(&e) < 0) {
		edu_restore(&e);
		return EX_SETUP;
	}
	printf("edu_dma: %s: pid %d, %" PRIu64 " DMA %s of %" PRIu64 " bytes at IOVA %#" PRIx64 "\n",
	       e.name, getpid(), count, write ? "write" : "read", len, iova);
	for (uint64_t i = 0; i < count; i++) {
		long ms = edu_dma_one(&e, write, iova, len);

		if (ms < 0) {
			printf("edu_dma: DMA %" PRIu64 " did not complete within %d ms\n",
			       i + 1, EDU_DMA_TIMEOUT_MS);
			break;
		}
		printf("edu_dma: DMA %" PRIu64 "/%" PRIu64 " done in %ld ms\n", i + 1, count, ms);
		done++;
	}
	edu_restore(&e);
	printf("edu_dma: dmas=%" PRIu64 " completed=%" PRIu64 " dir=%s iova=%#" PRIx64 " len=%" PRIu64 " pid=%d\n",
	       count, done, write ? "write" : "read", iova, len, getpid());
	return done == count ? EX_OK : EX_INCOMPLETE;
}
