// SPDX-License-Identifier: GPL-2.0
/* The one -d rule (src/devfilter.c), as stat, top, faults, report and export apply it. */
#include <stdlib.h>
#include <unistd.h>

#include "devfilter.h"
#include "unit.h"

static void test_match(void)
{
	CHECK(devfilter_match(NULL, "0000:00:04.0", "nvme"), "no filter matches");
	CHECK(devfilter_match("", "0000:00:04.0", "nvme"), "empty filter matches");
	CHECK(devfilter_match("0000:00:04.0", "0000:00:04.0", NULL), "full address");
	CHECK(devfilter_match("00:04.0", "0000:00:04.0", NULL), "address without domain");
	CHECK(devfilter_match("00:1F.3", "0000:00:1f.3", NULL), "upper-case hex");
	CHECK(devfilter_match("00:04", "0000:00:04.1", NULL), "slot prefix: every function");
	CHECK(devfilter_match("0000:00", "0000:00:1f.2", NULL), "bus prefix");
	CHECK(devfilter_match("0000:00:", "0000:00:1f.2", NULL), "bus prefix ending in ':'");
	CHECK(!devfilter_match("00:0", "0000:00:04.0", NULL), "a prefix ends where a field does");
	CHECK(!devfilter_match("00:04.0", "0000:00:04.1", NULL), "other function");
	CHECK(!devfilter_match("00:05.0", "0000:00:04.0", "nvme"), "other address");
	CHECK(!devfilter_match("0001:00:04.0", "0000:00:04.0", NULL), "other domain");
	CHECK(devfilter_match("nvme", "0000:00:04.0", "nvme"), "driver name");
	CHECK(devfilter_match("virtio", "0000:00:05.0", "virtio-pci"), "driver's first word");
	CHECK(!devfilter_match("nv", "0000:00:04.0", "nvme"), "not any prefix of a driver");
	CHECK(!devfilter_match("nvme", "0000:00:04.0", ""), "unbound device, driver filter");
	CHECK(!devfilter_match("nvme", "0000:00:04.0", NULL), "unknown driver, driver filter");
	CHECK(devfilter_match("soc-iommu-client", "soc-iommu-client", NULL), "non-PCI name");
	CHECK(!devfilter_match("00:04.0", "", NULL), "unknown device matches no address");
	CHECK(!devfilter_match("00:04.0", NULL, NULL), "NULL device matches no address");
}

static void test_normalize(void)
{
	char out[64];

	devfilter_normalize("00:04.0", out, sizeof(out));
	CHECK_STR(out, "0000:00:04.0", "short address gets domain 0000");
	devfilter_normalize("0001:00:04.0", out, sizeof(out));
	CHECK_STR(out, "0001:00:04.0", "a domain is kept");
	devfilter_normalize("nvme", out, sizeof(out));
	CHECK_STR(out, "nvme", "driver names unchanged");
}

static void touch_dir(const char *root, const char *rel)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", root, rel);
	if (system(cmd))
		exit(2);
}

static void test_exists(void)
{
	char root[] = "/tmp/it-devfilter.XXXXXX", cmd[64];

	if (!mkdtemp(root))
		exit(2);
	touch_dir(root, "sys/bus/pci/devices/0000:00:04.0");
	touch_dir(root, "sys/bus/pci/devices/0000:00:05.0");
	touch_dir(root, "sys/bus/pci/drivers/nvme/0000:00:04.0");
	touch_dir(root, "sys/bus/pci/drivers/virtio-pci/0000:00:05.0");
	touch_dir(root, "sys/bus/pci/drivers/e1000e/module");
	touch_dir(root, "sys/bus/platform/devices/soc-iommu-client");
	CHECK(devfilter_exists(root, "00:04.0"), "exists: short address");
	CHECK(devfilter_exists(root, "00:05"), "exists: slot prefix");
	CHECK(!devfilter_exists(root, "00:06.0"), "exists: absent address");
	CHECK(devfilter_exists(root, "nvme"), "exists: driver with a device");
	CHECK(devfilter_exists(root, "virtio"), "exists: driver's first word");
	CHECK(!devfilter_exists(root, "e1000e"), "exists: a driver without devices is none");
	CHECK(!devfilter_exists(root, "nosuch"), "exists: unknown name");
	CHECK(devfilter_exists(root, "soc-iommu-client"), "exists: platform device");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		exit(2);
}

int main(void)
{
	test_match();
	test_normalize();
	test_exists();
	UNIT_EXIT();
}
