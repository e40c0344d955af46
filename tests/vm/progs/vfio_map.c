// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_map: the classic VFIO type1 flow on a PCI device (the harness uses
 * QEMU's edu device), producing IOMMU maps owned by a user process:
 * bind the device to vfio-pci through driver_override, open the container
 * and the group, VFIO_SET_IOMMU type1, open the device, then map one
 * buffer COUNT times at consecutive IOVAs with VFIO_IOMMU_MAP_DMA and
 * unmap each mapping with VFIO_IOMMU_UNMAP_DMA. Afterwards the device goes
 * back to its previous driver (none, for edu).
 *
 *   vfio_map [-s SIZE] [-w SECS] [-H SECS] DEV COUNT
 *
 * SIZE (default 4096, a multiple of 4096) is the buffer; one 4 KiB mapping
 * is one iommu_map() and one iommu:map event, a larger buffer may take one
 * per physically contiguous run of pages. -w waits SECS seconds after
 * printing the pid and before mapping, so that a tracer can be started.
 * -H holds the mappings SECS seconds and then exits without unmapping them:
 * closing the container unmaps them (iommutrace leaks: listed while held).
 * The last line is "maps=N unmaps=N size=SIZE iova=BASE group=G pid=P".
 *
 * Exit status: 0 all maps and unmaps succeeded, 1 a VFIO call failed,
 * 2 bad arguments, 3 the device cannot be given to vfio-pci (no IOMMU
 * group: no IOMMU; group not viable; vfio-pci not loaded).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Far above the x86 MSI window (0xfee00000) and within 39-bit widths. */
#define IOVA_BASE	0x100000000ULL

enum { EX_OK, EX_VFIO, EX_USAGE, EX_SETUP };

struct dev {
	char path[PATH_MAX];	/* /sys/bus/pci/devices/DEV */
	const char *name;	/* DEV with its domain */
	char old_driver[64];	/* "" when none was bound */
	int group;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: vfio_map [-s SIZE] [-w SECS] [-H SECS] DEV COUNT\n"
		"  DEV    PCI address, e.g. 0000:00:08.0 (its group must hold only it)\n"
		"  COUNT  mappings of the buffer (1..1000000), each unmapped after\n"
		"  -s     buffer size in bytes, a multiple of 4096 (default 4096)\n"
		"  -w     seconds to wait after printing the pid, before mapping\n"
		"  -H     seconds to hold the mappings, then exit without unmapping\n"
		"example: vfio_map 0000:00:08.0 100\n");
	exit(EX_USAGE);
}

static int path_write(const char *path, const char *val)
{
	int fd, ret;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return ret;
}

/* The driver bound to the device, "" for none. */
static void dev_driver(struct dev *d, char *buf, size_t len)
{
	char link[PATH_MAX + 16], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "%s/driver", d->path);
	n = readlink(link, target, sizeof(target) - 1);
	buf[0] = '\0';
	if (n > 0) {
		target[n] = '\0';
		snprintf(buf, len, "%s", strrchr(target, '/') + 1);
	}
}

static int dev_group(struct dev *d)
{
	char link[PATH_MAX + 16], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "%s/iommu_group", d->path);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0) {
		fprintf(stderr, "vfio_map: %s has no IOMMU group (no IOMMU?)\n", d->name);
		return -1;
	}
	target[n] = '\0';
	d->group = atoi(strrchr(target, '/') + 1);
	return 0;
}

static int dev_rebind(struct dev *d, const char *override)
{
	char p[PATH_MAX + 32], drv[64];

	dev_driver(d, drv, sizeof(drv));
	snprintf(p, sizeof(p), "%s/driver_override", d->path);
	if (path_write(p, override[0] ? override : "\n") < 0) {
		perror("vfio_map: driver_override");
		return -1;
	}
	if (drv[0]) {
		snprintf(p, sizeof(p), "%s/driver/unbind", d->path);
		if (path_write(p, d->name) < 0) {
			perror("vfio_map: unbind");
			return -1;
		}
	}
	/* Without an override this re-probes the device's own driver, if any. */
	if (override[0] || d->old_driver[0])
		path_write("/sys/bus/pci/drivers_probe", d->name);
	return 0;
}

static int dev_bind_vfio(struct dev *d)
{
	char drv[64];

	dev_driver(d, d->old_driver, sizeof(d->old_driver));
	if (!strcmp(d->old_driver, "vfio-pci"))
		return 0;
	if (dev_rebind(d, "vfio-pci") < 0)
		return -1;
	dev_driver(d, drv, sizeof(drv));
	if (strcmp(drv, "vfio-pci")) {
		fprintf(stderr, "vfio_map: %s did not bind to vfio-pci (is vfio_pci loaded?)\n",
			d->name);
		dev_rebind(d, "");
		return -1;
	}
	return 0;
}

static void dev_restore(struct dev *d)
{
	if (strcmp(d->old_driver, "vfio-pci"))
		dev_rebind(d, "");
}

/* devtmpfs creates /dev/vfio/N when vfio-pci binds; give it a moment. */
static int group_open(struct dev *d)
{
	const struct timespec nap = { 0, 10000000 };
	char p[64];
	int fd = -1;

	snprintf(p, sizeof(p), "/dev/vfio/%d", d->group);
	for (int i = 0; i < 300 && fd < 0; i++) {
		fd = open(p, O_RDWR);
		if (fd < 0 && errno == ENOENT)
			nanosleep(&nap, NULL);
		else
			break;
	}
	if (fd < 0)
		fprintf(stderr, "vfio_map: open %s: %s\n", p, strerror(errno));
	return fd;
}

static int container_setup(struct dev *d, int *container, int *group, int *device)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_device_info info = { .argsz = sizeof(info) };
	unsigned long type;

	*container = open("/dev/vfio/vfio", O_RDWR);
	if (*container < 0) {
		perror("vfio_map: /dev/vfio/vfio");
		return EX_SETUP;
	}
	if (ioctl(*container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		fprintf(stderr, "vfio_map: unknown VFIO API version\n");
		return EX_VFIO;
	}
	if (ioctl(*container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1)
		type = VFIO_TYPE1v2_IOMMU;
	else if (ioctl(*container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) == 1)
		type = VFIO_TYPE1_IOMMU;
	else {
		fprintf(stderr, "vfio_map: no type1 IOMMU backend (vfio_iommu_type1 not loaded?)\n");
		return EX_SETUP;
	}
	*group = group_open(d);
	if (*group < 0)
		return EX_SETUP;
	if (ioctl(*group, VFIO_GROUP_GET_STATUS, &status) < 0) {
		perror("vfio_map: VFIO_GROUP_GET_STATUS");
		return EX_VFIO;
	}
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		fprintf(stderr, "vfio_map: group %d is not viable: bind all its devices to vfio-pci\n",
			d->group);
		return EX_SETUP;
	}
	if (ioctl(*group, VFIO_GROUP_SET_CONTAINER, container) < 0) {
		perror("vfio_map: VFIO_GROUP_SET_CONTAINER");
		return EX_VFIO;
	}
	if (ioctl(*container, VFIO_SET_IOMMU, type) < 0) {
		perror("vfio_map: VFIO_SET_IOMMU");
		return EX_VFIO;
	}
	*device = ioctl(*group, VFIO_GROUP_GET_DEVICE_FD, d->name);
	if (*device < 0) {
		perror("vfio_map: VFIO_GROUP_GET_DEVICE_FD");
		return EX_VFIO;
	}
	if (ioctl(*device, VFIO_DEVICE_GET_INFO, &info) < 0) {
		perror("vfio_map: VFIO_DEVICE_GET_INFO");
		return EX_VFIO;
	}
	printf("vfio_map: %s: group %d, %s, %u regions, %u irqs\n", d->name, d->group,
	       type == VFIO_TYPE1v2_IOMMU ? "type1v2" : "type1", info.num_regions,
	       info.num_irqs);
	return EX_OK;
}

/* Map the buffer COUNT times, then unmap every mapping; counts in *maps. */
static int dma_map_unmap(int container, void *buf, uint64_t size, uint64_t count,
			 uint64_t hold_s, uint64_t *maps, uint64_t *unmaps)
{
	for (uint64_t i = 0; i < count; i++) {
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map),
			.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)buf,
			.iova = IOVA_BASE + i * size,
			.size = size,
		};

		if (ioctl(container, VFIO_IOMMU_MAP_DMA, &map) < 0) {
			fprintf(stderr, "vfio_map: VFIO_IOMMU_MAP_DMA at %#llx: %s\n",
				(unsigned long long)map.iova, strerror(errno));
			break;
		}
		(*maps)++;
	}
	if (hold_s) {
		/* the container's release unmaps what is left */
		printf("vfio_map: holding %" PRIu64 " mappings for %" PRIu64 " s\n", *maps, hold_s);
		fflush(stdout);
		sleep(hold_s);
		return *maps == count ? EX_OK : EX_VFIO;
	}
	for (uint64_t i = 0; i < *maps; i++) {
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap),
			.iova = IOVA_BASE + i * size,
			.size = size,
		};

		if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0 || unmap.size != size) {
			fprintf(stderr, "vfio_map: VFIO_IOMMU_UNMAP_DMA at %#llx: %s\n",
				(unsigned long long)unmap.iova, strerror(errno));
			continue;
		}
		(*unmaps)++;
	}
	return *maps == count && *unmaps == count ? EX_OK : EX_VFIO;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

int main(int argc, char **argv)
{
	int container = -1, group = -1, device = -1, opt, ret;
	uint64_t size = 4096, count, wait_s = 0, hold_s = 0, maps = 0, unmaps = 0;
	struct dev d = { 0 };
	void *buf;

	while ((opt = getopt(argc, argv, "s:w:H:h")) != -1) {
		switch (opt) {
		case 's':
			if (parse_u64(optarg, &size) < 0 || !size || size % 4096) {
				fprintf(stderr, "vfio_map: bad SIZE '%s' (a multiple of 4096)\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'w':
			if (parse_u64(optarg, &wait_s) < 0 || wait_s > 3600) {
				fprintf(stderr, "vfio_map: bad SECS '%s' (0..3600)\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'H':
			if (parse_u64(optarg, &hold_s) < 0 || hold_s > 3600) {
				fprintf(stderr, "vfio_map: bad SECS '%s' (0..3600)\n", optarg);
				return EX_USAGE;
			}
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();
	if (parse_u64(argv[optind + 1], &count) < 0 || !count || count > 1000000) {
		fprintf(stderr, "vfio_map: bad COUNT '%s' (1..1000000)\n", argv[optind + 1]);
		return EX_USAGE;
	}
	if (strchr(argv[optind], ':') == strrchr(argv[optind], ':')) {
		static char full[64];

		snprintf(full, sizeof(full), "0000:%s", argv[optind]);
		d.name = full;
	} else {
		d.name = argv[optind];
	}
	snprintf(d.path, sizeof(d.path), "/sys/bus/pci/devices/%s", d.name);
	if (access(d.path, F_OK) < 0) {
		fprintf(stderr, "vfio_map: %s: no such PCI device\n", d.name);
		return EX_SETUP;
	}
	buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("vfio_map: mmap");
		return EX_SETUP;
	}
	memset(buf, 0xa5, size);

	printf("vfio_map: pid %d\n", getpid());
	fflush(stdout);
	if (dev_group(&d) < 0 || dev_bind_vfio(&d) < 0)
		return EX_SETUP;
	ret = container_setup(&d, &container, &group, &device);
	if (ret == EX_OK) {
		if (wait_s) {
			printf("vfio_map: waiting %" PRIu64 " s\n", wait_s);
			fflush(stdout);
			sleep(wait_s);
		}
		ret = dma_map_unmap(container, buf, size, count, hold_s, &maps, &unmaps);
		printf("vfio_map: mapped %" PRIu64 " x %" PRIu64 " bytes from IOVA %#llx, unmapped %" PRIu64 "\n",
		       maps, size, IOVA_BASE, unmaps);
	}
	if (device >= 0)
		close(device);
	if (group >= 0)
		close(group);
	if (container >= 0)
		close(container);
	dev_restore(&d);
	printf("maps=%" PRIu64 " unmaps=%" PRIu64 " size=%" PRIu64 " iova=%#llx group=%d pid=%d\n",
	       maps, unmaps, size, IOVA_BASE, d.group, getpid());
	return ret;
}
