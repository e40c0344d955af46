// SPDX-License-Identifier: GPL-2.0
/* The outstanding-mappings aggregation and stack symbolization (src/leaks.c) */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leaks.h"
#include "unit.h"

#define NS 1000000000ULL

static void entry_set(struct it_leak_entry *e, __u32 slot, __u64 iova, __u64 size, __u64 t_map,
		      __s32 stack, const char *comm)
{
	memset(e, 0, sizeof(*e));
	e->key.domain = 0xffff888000d10000ULL + slot;
	e->key.iova = iova;
	e->val.slot = slot;
	e->val.size = size;
	e->val.t_map = t_map;
	e->val.stack_id = stack;
	e->val.pid = 100 + slot;
	snprintf(e->val.comm, sizeof(e->val.comm), "%s", comm);
}

static void test_age_slots(void)
{
	char b[16];

	CHECK(leak_age_slot(0) == 0 && leak_age_slot(0.99) == 0, "age < 1 s: first bucket");
	CHECK(leak_age_slot(1) == 1 && leak_age_slot(1.99) == 1, "age [1, 2) s: bucket 1");
	CHECK(leak_age_slot(2) == 2 && leak_age_slot(3.9) == 2, "age [2, 4) s: bucket 2");
	CHECK(leak_age_slot(1e9) == IT_LEAK_AGE_SLOTS - 1, "very old: the open-ended bucket");
	CHECK_STR(leak_age_label(0, b, sizeof(b)), "<1s", "label of bucket 0");
	CHECK_STR(leak_age_label(3, b, sizeof(b)), "4-8s", "label of bucket 3");
	CHECK_STR(leak_age_label(IT_LEAK_AGE_SLOTS - 1, b, sizeof(b)), ">=1024s", "label of the last");
}

static void test_aggregate(void)
{
	struct it_leak_entry e[7];
	struct it_leak_table t = { .e = e, .nr = 7, .now_ns = 100 * NS };
	struct it_leak_report r;
	bool slots[IT_MAX_DEVS] = {};
	struct it_leak_filter f = { .min_age_s = 0 };

	/* device 1: stack 7 three times (ages 10, 50, 0.5 s), stack 9 once */
	entry_set(&e[0], 1, 0x1000, 4096, 90 * NS, 7, "insmod");
	entry_set(&e[1], 1, 0x2000, 4096, 50 * NS, 7, "kworker");
	entry_set(&e[2], 1, 0x3000, 8192, 100 * NS - NS / 2, 7, "insmod");
	entry_set(&e[3], 1, 0x9000, 4096, 99 * NS, 9, "insmod");
	/* device 2: no stack, 2 entries; device 3: one mapped "after" now (clock skew) */
	entry_set(&e[4], 2, 0x1000, 65536, 98 * NS, -14, "vfio_map");
	entry_set(&e[5], 2, 0x11000, 65536, 97 * NS, -14, "vfio_map");
	entry_set(&e[6], 3, 0x1000, 4096, 101 * NS, 3, "fio");

	CHECK(leaks_aggregate(&t, &f, &r) == 0, "aggregates");
	CHECK(r.count == 7 && r.bytes == 4096 * 4 + 8192 + 2 * 65536 && r.hidden == 0,
	      "totals: 7 mappings, every byte");
	CHECK(r.nr_devs == 3 && r.devs[0].slot == 1 && r.devs[0].count == 4,
	      "devices sorted by mappings: device 1 first with 4");
	CHECK(r.devs[0].bytes == 5 * 4096 && r.devs[0].oldest_s == 50.0,
	      "device 1: bytes and its oldest age (50 s)");
	CHECK(r.devs[0].pid == 101 && !strcmp(r.devs[0].comm, "kworker"),
	      "device 1: the oldest mapping's process");
	CHECK(r.devs[0].age_hist[0] == 1 && r.devs[0].age_hist[1] == 1 &&
	      r.devs[0].age_hist[4] == 1 && r.devs[0].age_hist[6] == 1,
	      "device 1: ages 0.5, 1, 10, 50 s in their buckets");
	CHECK(r.devs[1].slot == 2 && r.devs[1].count == 2 && r.devs[1].oldest_s == 3.0,
	      "device 2: 2 mappings, oldest 3 s");
	CHECK(r.devs[2].slot == 3 && r.devs[2].oldest_s == 0.0,
	      "a map time after the read counts as age 0");
	CHECK(r.nr_stacks == 4 && r.stacks[0].slot == 1 && r.stacks[0].stack_id == 7 &&
	      r.stacks[0].count == 3, "stacks: (device 1, stack 7) first with 3");
	CHECK(r.stacks[1].slot == 2 && r.stacks[1].stack_id == -1 && r.stacks[1].count == 2,
	      "mappings without a stack group under -1");
	leak_report_free(&r);

	f.min_age_s = 2.5;
	CHECK(leaks_aggregate(&t, &f, &r) == 0 && r.count == 3 && r.hidden == 4,
	      "--min-age 2.5: 3 listed, 4 younger hidden");
	leak_report_free(&r);

	f.min_age_s = 0;
	f.slots = slots;
	slots[2] = true;
	CHECK(leaks_aggregate(&t, &f, &r) == 0 && r.nr_devs == 1 && r.devs[0].slot == 2 &&
	      r.count == 2 && r.hidden == 5, "-d: only the chosen device's mappings");
	leak_report_free(&r);

	t.nr = 0;
	CHECK(leaks_aggregate(&t, NULL, &r) == 0 && r.nr_devs == 0 && r.count == 0,
	      "an empty table: no rows");
	leak_report_free(&r);
}

static void test_ksyms(void)
{
	char path[] = "/tmp/it-kallsyms-XXXXXX", buf[128];
	struct it_ksyms *ks;
	__u64 ips[5];
	FILE *f;
	int fd = mkstemp(path);

	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	CHECK(f != NULL, "fixture kallsyms written");
	if (!f)
		return;
	fprintf(f,
		"ffffffff81000000 T _stext\n"
		"ffffffff81500000 T __iommu_map\n"
		"ffffffff81500400 t iommu_dma_map_page\n"
		"ffffffff81500800 D some_data\n"
		"ffffffff81600000 T dma_map_page_attrs\n"
		"ffffffff81700000 T bpf_trace_run3\n"
		"ffffffffc0001000 t dmaleak_map_one\t[dmaleak]\n"
		"ffffffffc0001100 t dmaleak_probe\t[dmaleak]\n");
	fclose(f);
	ks = ksyms_load(path);
	unlink(path);
	CHECK(ks != NULL, "kallsyms loads");
	if (!ks)
		return;
	CHECK_STR(ksyms_format(ks, 0xffffffff81500010ULL, buf, sizeof(buf)), "__iommu_map+0x10",
		  "a vmlinux address: symbol+offset");
	CHECK_STR(ksyms_format(ks, 0xffffffffc000102aULL, buf, sizeof(buf)),
		  "dmaleak_map_one+0x2a [dmaleak]", "a module address names its module");
	CHECK_STR(ksyms_format(ks, 0xffffffff81500900ULL, buf, sizeof(buf)),
		  "iommu_dma_map_page+0x500", "data symbols are skipped");
	CHECK_STR(ksyms_format(ks, 0x1000, buf, sizeof(buf)), "0x1000",
		  "below every symbol: the address");
	ips[0] = 0xffffffff81700010ULL;
	ips[1] = 0xffffffff81500010ULL;
	ips[2] = 0xffffffff81600020ULL;
	ips[3] = 0xffffffffc000102aULL;
	ips[4] = 0xffffffffc0001150ULL;
	CHECK(leak_mapper_frame(ks, ips, 5) == 3, "the mapper: the first frame outside the core");
	CHECK(leak_mapper_frame(ks, ips, 3) == -1, "a stack inside the core only: none");
	CHECK(leak_frame_is_core("iommu_dma_map_sg") && leak_frame_is_core("intel_iommu_map_pages") &&
	      !leak_frame_is_core("nvme_queue_rq") && !leak_frame_is_core("vfio_pin_map_dma"),
	      "the core: DMA API and IOMMU; drivers and VFIO are mappers");
	ksyms_free(ks);
	CHECK(ksyms_load("/nonexistent/kallsyms") == NULL, "a missing kallsyms file: NULL");
}

int main(void)
{
	test_age_slots();
	test_aggregate();
	test_ksyms();
	UNIT_EXIT();
}
