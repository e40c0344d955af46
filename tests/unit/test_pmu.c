// SPDX-License-Identifier: GPL-2.0
/*
 * IOMMU PMU discovery and perf_event_attr encoding against fixture sysfs
 * trees (tests/fixtures/pmu/<tree>/sys/...; see the README there), the
 * absent-PMU and refused-open paths, derived figures, and the real
 * perf_event_open/read path through a stand-in PMU description that points
 * at the software PMU (works on any kernel, no IOMMU needed).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "pmu.h"

static void test_format_parse(void)
{
	struct pmu_field f;
	char err[PMU_MSG_LEN];
	static const char *const bad[] = {
		"config:0-", "cfg:0-27", "config:28-24", "config:64", "config3:0-3",
		"config:0-7,4-9", "config:", "config:0-3,", "", "config:0x3",
		"config1", "config:-3", "config:3--4", "config:0-64",
	};
	size_t i;

	CHECK(!pmu_format_parse("config:0-27", &f, err, sizeof(err)) &&
	      f.word == 0 && f.mask == 0x0fffffffULL, "format config:0-27");
	CHECK(!pmu_format_parse("config1:16-31", &f, err, sizeof(err)) &&
	      f.word == 1 && f.mask == 0xffff0000ULL, "format config1:16-31");
	CHECK(!pmu_format_parse("config2:32-36", &f, err, sizeof(err)) &&
	      f.word == 2 && f.mask == 0x1f00000000ULL, "format config2:32-36");
	CHECK(!pmu_format_parse("config:32", &f, err, sizeof(err)) &&
	      f.word == 0 && f.mask == 1ULL << 32, "format single bit config:32");
	CHECK(!pmu_format_parse("config1:0", &f, err, sizeof(err)) &&
	      f.word == 1 && f.mask == 1, "format single bit config1:0");
	CHECK(!pmu_format_parse("config:0-7,32-35", &f, err, sizeof(err)) &&
	      f.mask == 0xf000000ffULL, "format list config:0-7,32-35");
	CHECK(!pmu_format_parse("config:0-63", &f, err, sizeof(err)) &&
	      f.mask == ~0ULL, "format whole word config:0-63");
	CHECK(!pmu_format_parse("config:63", &f, err, sizeof(err)) &&
	      f.mask == 1ULL << 63, "format top bit config:63");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK(pmu_format_parse(bad[i], &f, err, sizeof(err)) == -EINVAL &&
		      err[0], "format '%s' rejected (%s)", bad[i], err);
	}
}

static void test_name_match(void)
{
	enum pmu_vendor v;
	int unit;

	CHECK(pmu_name_match("dmar0", &v, &unit) && v == PMU_VENDOR_INTEL && unit == 0,
	      "name dmar0 is Intel unit 0");
	CHECK(pmu_name_match("dmar12", &v, &unit) && unit == 12, "name dmar12");
	CHECK(pmu_name_match("amd_iommu_3", &v, &unit) && v == PMU_VENDOR_AMD &&
	      unit == 3, "name amd_iommu_3 is AMD unit 3");
	CHECK(!pmu_name_match("dmar", NULL, NULL), "name dmar (no unit) ignored");
	CHECK(!pmu_name_match("dmar0a", NULL, NULL), "name dmar0a ignored");
	CHECK(!pmu_name_match("amd_iommu_", NULL, NULL), "name amd_iommu_ ignored");
	CHECK(!pmu_name_match("amd_iommu", NULL, NULL), "name amd_iommu ignored");
	CHECK(!pmu_name_match("uncore_iio_0", NULL, NULL), "name uncore_iio_0 ignored");
	CHECK(!pmu_name_match("cpu", NULL, NULL), "name cpu ignored");
}

static void test_discover_intel(void)
{
	struct pmu_set set;
	int n = pmu_discover(unit_fixture("intel"), &set);
	const struct pmu_desc *d0 = &set.pmus[0], *d1 = &set.pmus[1];

	CHECK(n == 2 && set.nr_pmus == 2 && set.nr_rejected == 0,
	      "intel: 2 PMUs found, cpu/msr/software/tracepoint skipped (got %d)", n);
	CHECK(set.status == PMU_OK && !pmu_status_str(&set)[0], "intel: status ok, no message");
	if (n != 2)
		goto out;
	CHECK_STR(d0->name, "dmar0", "intel: sorted, first dmar0");
	CHECK_STR(d1->name, "dmar1", "intel: second dmar1");
	CHECK(d0->vendor == PMU_VENDOR_INTEL && d0->type == 14 && d0->cpu == 0 &&
	      !d0->cpumask_missing, "intel: dmar0 type 14 on cpu 0");
	CHECK(d1->type == 15, "intel: dmar1 type 15");
	CHECK(d0->nr_fields == 12 && d0->nr_aliases == 24,
	      "intel: dmar0 12 fields 24 events (got %d %d)", d0->nr_fields, d0->nr_aliases);
	CHECK(d1->nr_fields == 6 && d1->nr_aliases == 17,
	      "intel: dmar1 6 fields 17 events (got %d %d)", d1->nr_fields, d1->nr_aliases);
	CHECK(pmu_field_find(d0, "filter_pasid") && !pmu_field_find(d1, "filter_pasid"),
	      "intel: dmar1 lacks the pasid filter its hardware lacks");
	CHECK(pmu_find(&set, "dmar1") == 1 && pmu_find(&set, "dmar7") == -1, "pmu_find");
	CHECK_STR(pmu_alias_find(d0, "iotlb_hit")->terms, "event_group=0x3,event=0x002",
		  "intel: iotlb_hit alias read verbatim");
out:
	pmu_set_free(&set);
}

static int encode(const struct pmu_desc *pmu, const char *spec,
		  struct perf_event_attr *a, char *err)
{
	err[0] = '\0';
	return pmu_attr_from_event(pmu, spec, a, err, PMU_MSG_LEN);
}

#define CHECK_ATTR(pmu, spec, c0, c1, c2)                                     \
	do {                                                                  \
		struct perf_event_attr a_;                                    \
		char e_[PMU_MSG_LEN];                                         \
		int r_ = encode(pmu, spec, &a_, e_);                          \
		CHECK(!r_ && a_.type == (pmu)->type && a_.config == (c0) &&   \
		      a_.config1 == (c1) && a_.config2 == (c2),               \
		      "%s/%s/ -> config 0x%llx config1 0x%llx config2 0x%llx", \
		      (pmu)->name, spec, (unsigned long long)(c0),            \
		      (unsigned long long)(c1), (unsigned long long)(c2));    \
		if (r_ || a_.config != (c0) || a_.config1 != (c1) || a_.config2 != (c2)) \
			printf("#   ret %d '%s' got 0x%llx 0x%llx 0x%llx\n", r_, e_, \
			       (unsigned long long)a_.config,                 \
			       (unsigned long long)a_.config1,                \
			       (unsigned long long)a_.config2);               \
	} while (0)

#define CHECK_REJECT(pmu, spec, want_err, needle)                             \
	do {                                                                  \
		struct perf_event_attr a_;                                    \
		char e_[PMU_MSG_LEN];                                         \
		int r_ = encode(pmu, spec, &a_, e_);                          \
		CHECK(r_ == (want_err) && strstr(e_, needle),                 \
		      "%s/%s/ rejected: %s", (pmu)->name, spec, e_);          \
	} while (0)

static void test_encode_intel(void)
{
	struct perf_event_attr a;
	struct pmu_set set;
	const struct pmu_desc *d0, *d1;
	char err[PMU_MSG_LEN];

	if (pmu_discover(unit_fixture("intel"), &set) != 2) {
		CHECK(0, "intel fixture loads for encoding");
		return;
	}
	d0 = &set.pmus[0];
	d1 = &set.pmus[1];
	CHECK_ATTR(d0, "iotlb_hit", 0x30000002ULL, 0, 0);
	CHECK_ATTR(d0, "iotlb_lookup", 0x30000001ULL, 0, 0);
	CHECK_ATTR(d0, "iommu_requests", 0x2ULL, 0, 0);
	CHECK_ATTR(d0, "int_cache_hit_posted", 0x40000004ULL, 0, 0);
	CHECK_ATTR(d0, "event=0x2,event_group=0", 0x2ULL, 0, 0);
	CHECK_ATTR(d0, "event_group=0x3,event=0x002", 0x30000002ULL, 0, 0);
	CHECK_ATTR(d0, "iotlb_hit,event=0x1", 0x30000001ULL, 0, 0);
	CHECK_ATTR(d0, "config=0x1234,config1=5", 0x1234ULL, 5, 0);
	/* a filter value sets its enable bit (config1:0..4) unless given */
	CHECK_ATTR(d0, "iotlb_lookup,filter_requester_id=0x10", 0x30000001ULL, 0x100001ULL, 0);
	CHECK_ATTR(d0, "iotlb_hit,filter_domain=0x5", 0x30000002ULL, 0x500000002ULL, 0);
	CHECK_ATTR(d0, "iotlb_hit,filter_pasid=0x3fffff", 0x30000002ULL, 0x4ULL, 0x3fffffULL);
	CHECK_ATTR(d0, "iotlb_hit,filter_ats=1", 0x30000002ULL, 0x8ULL, 0x1000000ULL);
	CHECK_ATTR(d0, "iotlb_hit,filter_page_table=0x1f", 0x30000002ULL, 0x10ULL, 0x1f00000000ULL);
	CHECK_ATTR(d0, "iotlb_hit,filter_requester_id=0x10,filter_requester_id_en=0",
		   0x30000002ULL, 0x100000ULL, 0);
	CHECK_ATTR(d0, "iotlb_hit,filter_requester_id=0xffff,filter_domain=0xffff",
		   0x30000002ULL, 0xffffffff0003ULL, 0);
	CHECK_ATTR(d1, "iotlb_hit,filter_domain=0x1", 0x30000002ULL, 0x100000002ULL, 0);

	CHECK_REJECT(d0, "iotlb_miss", -ENOENT, "dmar0 has no event or format field 'iotlb_miss'");
	CHECK_REJECT(d1, "iotlb_hit,filter_pasid=1", -ENOENT, "'filter_pasid'");
	CHECK_REJECT(d1, "hpt_leaf_hit", -ENOENT, "'hpt_leaf_hit'");
	CHECK_REJECT(d0, "event=0x10000000", -ERANGE, "does not fit config:0-27 (28 bits)");
	CHECK_REJECT(d0, "iotlb_hit,event_group=0x10", -ERANGE, "event_group=0x10");
	CHECK_REJECT(d0, "iotlb_hit,filter_requester_id=0x10000", -ERANGE, "16 bits");
	CHECK_REJECT(d0, "iotlb_hit,", -EINVAL, "trailing comma");
	CHECK_REJECT(d0, "", -EINVAL, "empty event");
	CHECK_REJECT(d0, "event=zz", -EINVAL, "not a number");
	CHECK_REJECT(d0, "iotlb_hit,filter_requester_id=?", -EINVAL, "needs a value");
	CHECK_REJECT(d0, "iotlb_hit=1", -ENOENT, "'iotlb_hit'");

	CHECK(!encode(d0, "iotlb_hit", &a, err) && a.size == sizeof(a) &&
	      a.read_format == (PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING) &&
	      a.disabled && !a.exclude_kernel && !a.exclude_user && !a.exclude_hv &&
	      !a.sample_period && !a.inherit, "attr: counting, no exclude bits, times for scaling");

	CHECK(!encode(d0, "iotlb_hit", &a, err) &&
	      !pmu_attr_add_device(d0, 0x18, &a, err, sizeof(err)) &&
	      a.config == 0x30000002ULL && a.config1 == 0x180001ULL && a.config2 == 0,
	      "intel device filter 00:03.0 -> config1 0x180001 (got 0x%llx)",
	      (unsigned long long)a.config1);
	CHECK(!encode(d0, "iotlb_hit,filter_domain=2", &a, err) &&
	      !pmu_attr_add_device(d0, 0x6a00, &a, err, sizeof(err)) &&
	      a.config1 == ((2ULL << 32) | (0x6a00ULL << 16) | 0x3),
	      "intel device filter keeps other filters (config1 0x%llx)",
	      (unsigned long long)a.config1);
	CHECK(pmu_attr_add_device(d0, 0x10000, &a, err, sizeof(err)) == -EINVAL,
	      "device filter: rid > 0xffff rejected");
	pmu_set_free(&set);
}

static void test_encode_amd(void)
{
	struct perf_event_attr a;
	struct pmu_set set;
	const struct pmu_desc *d;
	char err[PMU_MSG_LEN];
	int n = pmu_discover(unit_fixture("amd"), &set);

	CHECK(n == 2 && set.status == PMU_OK, "amd: 2 PMUs found");
	if (n != 2)
		goto out;
	d = &set.pmus[0];
	CHECK(!strcmp(d->name, "amd_iommu_0") && d->vendor == PMU_VENDOR_AMD &&
	      d->type == 11 && set.pmus[1].type == 12 && d->nr_fields == 7 &&
	      d->nr_aliases == 24, "amd: amd_iommu_0 type 11, 7 fields, 24 events");
	CHECK_ATTR(d, "mem_iommu_tlb_pte_hit", 0x06ULL, 0, 0);
	CHECK_ATTR(d, "mem_iommu_tlb_pde_mis", 0x09ULL, 0, 0);
	CHECK_ATTR(d, "page_tbl_read_tot", 0x0cULL, 0, 0);
	CHECK_ATTR(d, "tlb_inv", 0x13ULL, 0, 0);
	CHECK_ATTR(d, "smi_blk", 0x18ULL, 0, 0);
	CHECK_ATTR(d, "csource=0x6,domid=0x7,domid_mask=0xffff", 0x07000006ULL, 0xffff0000ULL, 0);
	CHECK_ATTR(d, "csource=0x6,pasid=0xfffff,pasid_mask=0xfffff",
		   0x0fffff0000000006ULL, 0xfffff00000000ULL, 0);
	CHECK_ATTR(d, "mem_iommu_tlb_pte_mis,devid=0x100,devid_mask=0xff00",
		   0x10007ULL, 0xff00ULL, 0);
	CHECK_REJECT(d, "csource=0x6,pasid=0x100000", -ERANGE, "20 bits");
	CHECK_REJECT(d, "csource=0x100", -ERANGE, "csource");
	CHECK_REJECT(d, "iotlb_hit", -ENOENT, "amd_iommu_0 has no event or format field");
	CHECK(!encode(d, "mem_iommu_tlb_pte_mis", &a, err) &&
	      !pmu_attr_add_device(d, 0x0100, &a, err, sizeof(err)) &&
	      a.config == 0x10007ULL && a.config1 == 0xffffULL,
	      "amd device filter 01:00.0 -> devid in config:8-23, devid_mask 0xffff");
out:
	pmu_set_free(&set);
}

static void test_encode_scattered(void)
{
	struct pmu_desc d;
	struct perf_event_attr a;
	char err[PMU_MSG_LEN];

	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "dmar9");
	d.type = 99;
	d.nr_fields = 2;
	snprintf(d.fields[0].name, sizeof(d.fields[0].name), "event");
	pmu_format_parse("config:0-7,32-35", &d.fields[0], err, sizeof(err));
	snprintf(d.fields[1].name, sizeof(d.fields[1].name), "flag");
	pmu_format_parse("config2:63", &d.fields[1], err, sizeof(err));
	CHECK(!encode(&d, "event=0xabc", &a, err) && a.config == 0xa000000bcULL,
	      "split field: 0xabc -> low byte at 0-7, next nibble at 32-35 (0x%llx)",
	      (unsigned long long)a.config);
	CHECK(encode(&d, "event=0x1000", &a, err) == -ERANGE, "split field: 13-bit value rejected");
	CHECK(!encode(&d, "event=0xff,flag", &a, err) && a.config == 0xff &&
	      a.config2 == 1ULL << 63, "bare term means 1 (config2:63)");
	CHECK(pmu_attr_add_device(&d, 1, &a, err, sizeof(err)) == -EOPNOTSUPP &&
	      strstr(err, "cannot filter by device"), "device filter on a PMU without one: %s", err);
}

static struct pmu_rejected *rejected_find(struct pmu_set *set, const char *name)
{
	int i;

	for (i = 0; i < set->nr_rejected; i++)
		if (!strcmp(set->rejected[i].name, name))
			return &set->rejected[i];
	return NULL;
}

static void check_rejected(struct pmu_set *set, const char *name, const char *needle)
{
	struct pmu_rejected *r = rejected_find(set, name);

	CHECK(r && strstr(r->why, needle), "malformed %s rejected: %s", name,
	      r ? r->why : "(accepted!)");
}

static void test_malformed(void)
{
	struct pmu_set set;
	int n = pmu_discover(unit_fixture("malformed"), &set);

	CHECK(n == 0 && set.nr_pmus == 0 && set.nr_rejected == 11,
	      "malformed: all 11 descriptions rejected (%d usable, %d rejected)", n,
	      set.nr_rejected);
	CHECK(set.status == PMU_MALFORMED && strstr(pmu_status_str(&set), "all 11 IOMMU PMUs unusable"),
	      "malformed: one summary message: %s", pmu_status_str(&set));
	check_rejected(&set, "dmar0", "format/event: 'config:0-' has a bad bit range");
	check_rejected(&set, "dmar1", "cannot read type (No such file or directory)");
	check_rejected(&set, "dmar2", "event iotlb_hit uses 'evsel', which format/ does not define");
	check_rejected(&set, "dmar3", "format fields 'event' (config:0-27) and 'event_group' (config:24-31) overlap");
	check_rejected(&set, "dmar4", "'cfg:0-27' is not <config|config1|config2>:<bits>");
	check_rejected(&set, "dmar5", "event bad_group: event_group=0x1f does not fit");
	check_rejected(&set, "dmar6", "'config:0-7,4-9' lists a bit twice");
	check_rejected(&set, "amd_iommu_0", "type 'eleven' is not a number");
	check_rejected(&set, "amd_iommu_1", "cpumask 'zero' is not a CPU list");
	check_rejected(&set, "amd_iommu_2", "bad bit range '23-8'");
	check_rejected(&set, "amd_iommu_3", "'config3:0-19' is not");
	CHECK(pmu_open_curated(&set, NULL, PMU_NO_DEVICE) == -ENODEV &&
	      set.status == PMU_MALFORMED, "malformed: opening is refused, status kept");
	pmu_set_free(&set);

	n = pmu_discover(unit_fixture("partial"), &set);
	CHECK(n == 1 && set.nr_rejected == 1 && set.status == PMU_OK &&
	      !strcmp(set.pmus[0].name, "dmar0"),
	      "partial: the good dmar0 is kept, the broken dmar1 skipped");
	pmu_set_free(&set);
}

static void test_absent(void)
{
	struct pmu_set set;
	char msg[PMU_MSG_LEN];

	CHECK(pmu_discover(unit_fixture("none-intel"), &set) == 0 && set.status == PMU_NO_PMU &&
	      strstr(pmu_status_str(&set), "no IOMMU PMU on this system (Intel IOMMU dmar0 has no perf counters: they need VT-d 4.0"),
	      "absent: Intel IOMMU without perfmon: %s", pmu_status_str(&set));
	snprintf(msg, sizeof(msg), "%s", pmu_status_str(&set));
	CHECK(pmu_open_curated(&set, NULL, PMU_NO_DEVICE) == -ENODEV &&
	      set.nr_counters == 0 && !strcmp(msg, pmu_status_str(&set)),
	      "absent: opening fails quietly, the one message is unchanged");
	CHECK(pmu_read_counters(&set) == 0, "absent: reading with no counters is harmless");
	pmu_set_free(&set);

	pmu_discover(unit_fixture("none-amd"), &set);
	CHECK(set.status == PMU_NO_PMU && strstr(pmu_status_str(&set), "(AMD IOMMU ivhd0 has no perf counters"),
	      "absent: AMD IOMMU without counters: %s", pmu_status_str(&set));
	pmu_set_free(&set);

	pmu_discover(unit_fixture("none"), &set);
	CHECK(set.status == PMU_NO_PMU && strstr(pmu_status_str(&set), "no IOMMU is enabled"),
	      "absent: no IOMMU at all: %s", pmu_status_str(&set));
	pmu_set_free(&set);

	pmu_discover(unit_fixture("does-not-exist"), &set);
	CHECK(set.status == PMU_NO_PMU && strstr(pmu_status_str(&set), "no IOMMU PMU on this system") &&
	      strstr(pmu_status_str(&set), "No such file or directory"),
	      "absent: no event_source directory: %s", pmu_status_str(&set));
	pmu_set_free(&set);
}

static void test_device_unit(void)
{
	char name[PMU_NAME_LEN];
	int rid = -1;

	CHECK(!pmu_device_unit(unit_fixture("intel"), "0000:00:03.0", name, sizeof(name)) &&
	      !strcmp(name, "dmar0"), "device 0000:00:03.0 is behind dmar0");
	CHECK(!pmu_device_unit(unit_fixture("intel"), "6a:00.0", name, sizeof(name)) &&
	      !strcmp(name, "dmar1"), "device 6a:00.0 (short form) is behind dmar1");
	CHECK(!pmu_device_unit(unit_fixture("amd"), "0000:c1:00.0", name, sizeof(name)) &&
	      !strcmp(name, "amd_iommu_1"), "device c1:00.0 is behind ivhd1 = amd_iommu_1");
	CHECK(pmu_device_unit(unit_fixture("intel"), "0000:00:1f.0", name, sizeof(name)) == -ENOENT,
	      "device without an iommu link: -ENOENT");
	CHECK(!pmu_parse_bdf("00:03.0", &rid) && rid == 0x18, "bdf 00:03.0 = rid 0x18");
	CHECK(!pmu_parse_bdf("0000:6a:00.0", &rid) && rid == 0x6a00, "bdf 0000:6a:00.0 = 0x6a00");
	CHECK(!pmu_parse_bdf("0000:ff:1f.7", &rid) && rid == 0xffff, "bdf ff:1f.7 = 0xffff");
	CHECK(pmu_parse_bdf("00:20.0", &rid) == -ERANGE, "bdf device 0x20 out of range");
	CHECK(pmu_parse_bdf("00:03.8", &rid) == -ERANGE, "bdf function 8 out of range");
	CHECK(pmu_parse_bdf("0:3.0", &rid) == -EINVAL, "bdf 0:3.0 malformed");
	CHECK(pmu_parse_bdf("0000:00:03.0x", &rid) == -EINVAL, "bdf trailing junk");
}

static void test_figures(void)
{
	uint64_t d[PMU_ROLE_MAX] = { 0 };
	bool have[PMU_ROLE_MAX] = { false };
	struct pmu_figures f;

	/* Intel: lookups and hits counted, misses derived */
	d[PMU_ROLE_LOOKUPS] = 1000; have[PMU_ROLE_LOOKUPS] = true;
	d[PMU_ROLE_HITS] = 900; have[PMU_ROLE_HITS] = true;
	d[PMU_ROLE_CLOCKS] = 2000; have[PMU_ROLE_CLOCKS] = true;
	d[PMU_ROLE_WALK_OCC] = 500; have[PMU_ROLE_WALK_OCC] = true;
	d[PMU_ROLE_REQUESTS] = 1200; have[PMU_ROLE_REQUESTS] = true;
	pmu_figures_compute(d, have, 2.0, &f);
	CHECK(f.hit_pct == 90.0 && f.misses_per_s == 50.0 && f.lookups_per_s == 500.0 &&
	      f.requests_per_s == 600.0 && f.walks_in_flight == 0.25,
	      "figures intel: 90%% hits, 50 misses/s, 0.25 walks in flight");
	CHECK(isnan(f.pt_reads_per_s) && isnan(f.inval_per_s) && isnan(f.pde_hit_pct),
	      "figures intel: AMD-only figures are NaN");

	/* multiplexing can scale hits above lookups: clamp, never negative misses */
	d[PMU_ROLE_HITS] = 1100;
	pmu_figures_compute(d, have, 1.0, &f);
	CHECK(f.hit_pct == 100.0 && f.misses_per_s == 0.0, "figures: hits > lookups clamps to 100%%");
	d[PMU_ROLE_LOOKUPS] = 0;
	d[PMU_ROLE_HITS] = 0;
	pmu_figures_compute(d, have, 1.0, &f);
	CHECK(isnan(f.hit_pct) && f.misses_per_s == 0.0, "figures: no lookups -> hit %% unknown");

	/* AMD: hits and misses counted, lookups derived */
	memset(d, 0, sizeof(d));
	memset(have, 0, sizeof(have));
	d[PMU_ROLE_HITS] = 300; have[PMU_ROLE_HITS] = true;
	d[PMU_ROLE_MISSES] = 100; have[PMU_ROLE_MISSES] = true;
	d[PMU_ROLE_PDE_HITS] = 60; have[PMU_ROLE_PDE_HITS] = true;
	d[PMU_ROLE_PDE_MISSES] = 40; have[PMU_ROLE_PDE_MISSES] = true;
	d[PMU_ROLE_PT_READS] = 250; have[PMU_ROLE_PT_READS] = true;
	d[PMU_ROLE_INVAL] = 10; have[PMU_ROLE_INVAL] = true;
	pmu_figures_compute(d, have, 1.0, &f);
	CHECK(f.hit_pct == 75.0 && f.misses_per_s == 100.0 && f.lookups_per_s == 400.0 &&
	      f.pde_hit_pct == 60.0 && f.pt_reads_per_s == 250.0 && f.inval_per_s == 10.0,
	      "figures amd: 75%% hits, 100 misses/s, 60%% PDE hits, 250 pt reads/s");
	CHECK(isnan(f.walks_in_flight) && isnan(f.requests_per_s),
	      "figures amd: uncounted inputs are NaN");

	memset(have, 0, sizeof(have));
	pmu_figures_compute(d, have, 1.0, &f);
	CHECK(isnan(f.hit_pct) && isnan(f.misses_per_s) && isnan(f.lookups_per_s),
	      "figures: nothing counted -> all NaN");
}

static void test_status(void)
{
	CHECK(pmu_status_from_errno(EACCES) == PMU_DENIED &&
	      pmu_status_from_errno(-EPERM) == PMU_DENIED, "errno EACCES/EPERM -> denied");
	CHECK(pmu_status_from_errno(ENOENT) == PMU_GONE &&
	      pmu_status_from_errno(ENODEV) == PMU_GONE, "errno ENOENT/ENODEV -> gone");
	CHECK(pmu_status_from_errno(ENOSPC) == PMU_BUSY, "errno ENOSPC -> busy");
	CHECK(pmu_status_from_errno(EINVAL) == PMU_REFUSED &&
	      pmu_status_from_errno(EOPNOTSUPP) == PMU_REFUSED, "errno EINVAL -> refused");
	CHECK(pmu_status_from_errno(EMFILE) == PMU_SYS_ERROR, "errno EMFILE -> error");
	CHECK(!strcmp(pmu_status_name(PMU_NO_PMU), "no_pmu") &&
	      !strcmp(pmu_status_name(PMU_DENIED), "denied"), "status names");
}

static void test_curated(void)
{
	struct pmu_set intel, amd;
	const struct pmu_curated *c;
	int i, nr, ni = 0, na = 0, missing = 0;

	pmu_discover(unit_fixture("intel"), &intel);
	pmu_discover(unit_fixture("amd"), &amd);
	c = pmu_curated_list(&nr);
	for (i = 0; i < nr; i++) {
		struct pmu_set *s = c[i].vendor == PMU_VENDOR_INTEL ? &intel : &amd;

		if (c[i].vendor == PMU_VENDOR_INTEL)
			ni++;
		else
			na++;
		if (!s->nr_pmus || !pmu_alias_find(&s->pmus[0], c[i].alias)) {
			missing++;
			printf("#   curated %s missing from the fixture\n", c[i].alias);
		}
	}
	CHECK(ni == 5 && na == 7 && !missing,
	      "curated: 5 Intel + 7 AMD events, all named as the kernel names them");
	CHECK(pmu_curated_find(PMU_VENDOR_AMD, "tlb_inv")->role == PMU_ROLE_INVAL &&
	      !pmu_curated_find(PMU_VENDOR_INTEL, "tlb_inv"), "curated: lookup by vendor");
	pmu_set_free(&intel);
	pmu_set_free(&amd);
}

static double elapsed_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * The swclock tree describes "dmar0" as the software PMU (type 1): the
 * curated Intel aliases map to cpu-clock (ns) except iotlb_hit (dummy, 0).
 * System-wide cpu-clock on one CPU advances by wall time, which gives exact
 * expectations: 0 % hits, ~1e9 misses/s, 1.0 walks in flight.
 */
static void test_live_swclock(void)
{
	struct timespec t0, pause = { 0, 200 * 1000 * 1000 };
	struct pmu_figures f;
	struct pmu_set set;
	int n;

	if (pmu_discover(unit_fixture("swclock"), &set) != 1) {
		CHECK(0, "swclock fixture loads");
		return;
	}
	n = pmu_open_curated(&set, NULL, PMU_NO_DEVICE);
	if (n < 0 && set.status == PMU_DENIED) {
		printf("ok - # SKIP live counting: %s\n", pmu_status_str(&set));
		pmu_set_free(&set);
		return;
	}
	CHECK(n == 5 && set.nr_counters == 5 && set.status == PMU_OK,
	      "live: 5 counters opened system-wide on cpu 0 (%d; %s)", n, pmu_status_str(&set));
	CHECK(set.nr_counters && set.counters[0].attr.type == 1 &&
	      set.counters[0].fd >= 0, "live: attr type from the description");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	nanosleep(&pause, NULL);
	CHECK(!pmu_read_counters(&set), "live: counters read");
	pmu_figures_get(&set, 0, PMU_NO_DEVICE, &f);
	CHECK(fabs(set.interval_s - elapsed_since(&t0)) < 0.05 && set.interval_s >= 0.19,
	      "live: interval %.3f s", set.interval_s);
	CHECK(f.hit_pct == 0.0, "live: hit %% %.2f (iotlb_hit is the dummy event)", f.hit_pct);
	CHECK(f.misses_per_s > 0.85e9 && f.misses_per_s < 1.15e9,
	      "live: misses/s %.3g ~ 1e9 (cpu-clock ns per second)", f.misses_per_s);
	CHECK(fabs(f.walks_in_flight - 1.0) < 0.05, "live: walks in flight %.3f ~ 1",
	      f.walks_in_flight);
	CHECK(!f.multiplexed, "live: no multiplexing on a software PMU");
	nanosleep(&pause, NULL);
	pmu_read_counters(&set);
	pmu_figures_get(&set, -1, PMU_NO_DEVICE, &f);
	CHECK(f.lookups_per_s > 0.85e9 && f.lookups_per_s < 1.15e9,
	      "live: second interval is a delta, not a running total (%.3g/s)", f.lookups_per_s);
	pmu_close(&set);
	CHECK(set.nr_counters == 0, "live: closed");

	{
		struct pmu_request req = { "dmar0", "iotlb_hit", 0x18, PMU_ROLE_HITS };

		CHECK(pmu_open_counters(&set, &req, 1) < 0 && set.status == PMU_BAD_EVENT &&
		      strstr(pmu_status_str(&set), "cannot filter by device"),
		      "live: device filter on a unit without one: %s", pmu_status_str(&set));
	}
	{
		struct pmu_request req = { "dmar7", "iotlb_hit", PMU_NO_DEVICE, PMU_ROLE_HITS };

		CHECK(pmu_open_counters(&set, &req, 1) < 0 && set.status == PMU_BAD_EVENT &&
		      strstr(pmu_status_str(&set), "no IOMMU PMU named dmar7"),
		      "live: unknown unit: %s", pmu_status_str(&set));
	}
	pmu_set_free(&set);
}

/* a stale type (a PMU since unregistered): ENOENT, said once */
static void test_open_stale(void)
{
	struct pmu_set set;
	int n;

	pmu_discover(unit_fixture("partial"), &set);
	/* idr-allocated perf types are small: this one names no PMU anywhere */
	if (set.nr_pmus)
		set.pmus[0].type = 0x7ffffff0;
	n = pmu_open_curated(&set, NULL, PMU_NO_DEVICE);
	if (n < 0 && set.status == PMU_DENIED) {
		printf("ok - # SKIP stale type: %s\n", pmu_status_str(&set));
	} else {
		CHECK(n == -ENOENT && set.status == PMU_GONE && set.nr_counters == 0 &&
		      strstr(pmu_status_str(&set), "dmar0 is not available to perf_event_open"),
		      "stale type: %s", pmu_status_str(&set));
	}
	pmu_set_free(&set);
}

static int paranoid_level(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/perf_event_paranoid", O_RDONLY);

	if (fd < 0)
		return -100;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return atoi(buf);
}

/* unprivileged child: perf_event_paranoid > 0 refuses system-wide counters */
static int child_open_unprivileged(void)
{
	struct pmu_set set;
	int n;

	if (setgid(65534) || setuid(65534))
		return 10;
	if (pmu_discover(unit_fixture("swclock"), &set) != 1)
		return 11;
	n = pmu_open_curated(&set, NULL, PMU_NO_DEVICE);
	if (n != -EACCES || set.status != PMU_DENIED)
		return 12;
	if (!strstr(pmu_status_str(&set), "perf_event_paranoid is") ||
	    !strstr(pmu_status_str(&set), "CAP_PERFMON"))
		return 13;
	printf("#   %s\n", pmu_status_str(&set));
	fflush(stdout);
	return 0;
}

static void test_denied(void)
{
	int status = -1, level = paranoid_level();
	pid_t pid;

	if (geteuid() != 0 || level <= 0) {
		printf("ok - # SKIP denied path needs root to drop and paranoid > 0 (is %d)\n",
		       level);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(child_open_unprivileged());
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "denied: unprivileged open -> PMU_DENIED with the paranoid level (child %d)",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char **argv)
{
	struct stat st;

	unit_fixtures_locate(argv[0], "tests/fixtures/pmu", "IT_PMU_FIXTURES");
	CHECK(!stat(unit_fixtures(), &st), "fixtures at %s (else set IT_PMU_FIXTURES)",
	      unit_fixtures());
	if (stat(unit_fixtures(), &st))
		UNIT_EXIT();
	test_format_parse();
	test_name_match();
	test_discover_intel();
	test_encode_intel();
	test_encode_amd();
	test_encode_scattered();
	test_malformed();
	test_absent();
	test_device_unit();
	test_figures();
	test_status();
	test_curated();
	test_live_swclock();
	test_open_stale();
	test_denied();
	UNIT_EXIT();
}
