// SPDX-License-Identifier: GPL-2.0
/*
 * `iommutrace info` and the library under it (src/sysfs_topo.c,
 * src/topology.c) against sysfs/proc trees captured from QEMU guests
 * (tests/fixtures/sysfs-NAME: intel-lazy, amd-strict, intel-pt,
 * intel-strict-noir, intel-off, none; each with the guest's own kernel log
 * as dev/kmsg, which the checks use as ground truth), against small trees
 * built here for the corners the captures do not have, and end to end
 * through cmd_info in a child process: output, JSON validity, warnings and
 * exit codes.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "sysfs_topo.h"

int cmd_info(int argc, char **argv);

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t cap = 0, len = 0, n;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = 2 * cap + 8192);

			if (!nb)
				break;
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0;

	while (hay && (hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* ------------------------------------------------------------ JSON check */

/* A strict JSON syntax check: one value, nothing after it. */
static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (; *p && *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				int i;

				for (i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
				return NULL;
			}
		}
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *json_number(const char *p)
{
	const char *s = p;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return NULL;
	if (*p == '0' && isdigit((unsigned char)p[1]))
		return NULL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p > s ? p : NULL;
}

static const char *json_container(const char *p, int depth, char close, bool keys)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (keys) {
			p = json_string(p);
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		p = json_value(p, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = json_ws(p);
	}
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 64)
		return NULL;
	p = json_ws(p);
	switch (*p) {
	case '{': return json_container(p, depth, '}', true);
	case '[': return json_container(p, depth, ']', false);
	case '"': return json_string(p);
	case 't': return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f': return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n': return strncmp(p, "null", 4) ? NULL : p + 4;
	default: return json_number(p);
	}
}

static bool json_valid(const char *doc)
{
	const char *end = doc ? json_value(doc, 0) : NULL;

	return end && *json_ws(end) == '\0';
}

/* ------------------------------------------------------------ cmd_info */

struct run {
	int rc;
	char *out;
	char *err;
};

/* cmd_info in a child (getopt state, exit paths), stdout/stderr captured */
static struct run info_run(const char *a1, const char *a2, const char *a3,
			   const char *a4, const char *a5, const char *a6)
{
	char outp[] = "/tmp/it-info-out.XXXXXX", errp[] = "/tmp/it-info-err.XXXXXX";
	struct run r = { .rc = -1 };
	int fo = mkstemp(outp), fe = mkstemp(errp), status;
	pid_t pid;

	if (fo < 0 || fe < 0)
		return r;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *argv[8] = { "info" };
		int argc = 1, rc;

		if (a1) argv[argc++] = (char *)a1;
		if (a2) argv[argc++] = (char *)a2;
		if (a3) argv[argc++] = (char *)a3;
		if (a4) argv[argc++] = (char *)a4;
		if (a5) argv[argc++] = (char *)a5;
		if (a6) argv[argc++] = (char *)a6;
		dup2(fo, 1);
		dup2(fe, 2);
		rc = cmd_info(argc, argv);
		fflush(NULL);
		_exit(rc);
	}
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		r.rc = WEXITSTATUS(status);
	close(fo);
	close(fe);
	r.out = slurp(outp);
	r.err = slurp(errp);
	unlink(outp);
	unlink(errp);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* ------------------------------------------------------------ topology */

/* every "pci X: Adding to iommu group N" of the guest's log matches sysfs */
static void check_groups_vs_log(const struct topo *t, const char *tree)
{
	char path[700], *log, *p, dev[64];
	size_t lines = 0, match = 0;
	int group;

	snprintf(path, sizeof(path), "%s/dev/kmsg", unit_fixture(tree));
	log = slurp(path);
	for (p = log; p && (p = strstr(p, ";pci ")); p++) {
		/* "6,476,1490364,-;pci 0000:00:01.0: Adding to iommu group 1" */
		if (sscanf(p, ";pci %63s Adding to iommu group %d", dev, &group) == 2) {
			const struct topo_dev *d;

			dev[strlen(dev) - 1] = '\0';	/* the trailing ':' */
			d = topo_find_dev(t, dev);
			lines++;
			match += d && d->group == group;
		}
	}
	CHECK(lines > 0 && lines == match && lines == (size_t)count_str(log, "Adding to iommu group"),
	      "%s: all %zu 'Adding to iommu group' lines of the kernel log match sysfs",
	      tree, lines);
	free(log);
}

static void test_intel_lazy(void)
{
	const char *names[64];
	struct topo t;
	char msg[256], line[256], *log, *p;
	const struct topo_dev *d;
	const struct topo_group *g;
	unsigned long long cap = 0, ecap = 0;
	size_t n, i;
	bool all_fq = true;

	CHECK(topo_read(&t, unit_fixture("sysfs-intel-lazy"), msg, sizeof(msg)) == 0,
	      "intel-lazy tree reads (%s)", msg);
	CHECK(t.nunits == 1 && !strcmp(t.units[0].name, "dmar0") &&
	      t.units[0].kind == TOPO_UNIT_INTEL && t.units[0].address == 0xfed90000,
	      "one Intel unit dmar0 at 0xfed90000");
	log = slurp(unit_fixture("sysfs-intel-lazy/dev/kmsg"));
	p = log ? strstr(log, "dmar0: reg_base_addr") : NULL;
	if (p)
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
	CHECK(p && sscanf(line, "dmar0: reg_base_addr %*x ver %*s cap %llx ecap %llx", &cap, &ecap) == 2 &&
	      t.nunits && cap == t.units[0].cap && ecap == t.units[0].ecap,
	      "cap/ecap from sysfs = the kernel's 'cap %llx ecap %llx'", cap, ecap);
	free(log);
	if (!t.nunits)
		goto out;
	CHECK_STR(t.units[0].version, "1:0", "VT-d version 1:0");
	CHECK(t.units[0].domains_supported == (long)intel_cap_ndoms(t.units[0].cap) &&
	      t.units[0].domains_supported == 65536,
	      "domains_supported 65536 = 2^(4+2*ND) from cap");
	CHECK(t.units[0].ndevices == 12, "dmar0 translates 12 devices");
	n = intel_ecap_features(t.units[0].ecap, names, 64);
	CHECK(n == 3 && !strcmp(names[0], "QI") && !strcmp(names[1], "IR") &&
	      !strcmp(names[2], "PT"), "ecap features: QI IR PT");
	CHECK(t.ngroups == 8, "8 groups");
	for (i = 0; i < t.ngroups; i++)
		all_fq &= !strcmp(t.groups[i].type, "DMA-FQ") && t.groups[i].id == (int)i;
	CHECK(all_fq, "groups 0-7 in order, all DMA-FQ (lazy)");
	check_groups_vs_log(&t, "sysfs-intel-lazy");
	d = topo_find_dev(&t, "0000:00:01.0");
	CHECK(d && d->is_pci && d->vendor == 0x1b36 && d->device == 0x0010 &&
	      d->class == 0x010802 && !strcmp(d->driver, "nvme") && !strcmp(d->unit, "dmar0") &&
	      d->group == 1, "nvme 0000:00:01.0: 1b36:0010, class 010802, driver nvme, dmar0");
	d = topo_find_dev(&t, "0000:02:01.0");
	CHECK(d && d->vendor == 0x1234 && d->device == 0x11e8 && !d->driver[0] && d->group == 7,
	      "edu behind the PCI bridge: 1234:11e8, no driver, group 7");
	g = topo_find_group(&t, 6);
	CHECK(g && g->ndevs == 3 && g->nregions == 2 && g->regions[0].start == 0 &&
	      g->regions[0].end == 0xffffff && !strcmp(g->regions[0].type, "direct-relaxable") &&
	      !strcmp(g->regions[1].type, "msi"),
	      "group 6: LPC/SATA/SMBus, 0-16 MiB direct-relaxable (floppy quirk) and msi");
	CHECK(t.cmd.nargs == 1 && !strcmp(t.cmd.args[0], "intel_iommu=on") &&
	      t.cmd.dma_remap == TOPO_ON, "command line: intel_iommu=on");
	CHECK(t.ir == TOPO_ON && !strcmp(t.ir_source, "/proc/interrupts") && t.log.ir == TOPO_ON,
	      "interrupt remapping on: /proc/interrupts and the kernel log agree");
	CHECK(t.log.readable && t.log.faults == 1 && t.log.dmar_faults == 1 && t.log.nfault == 1,
	      "one DMAR fault in the log");
	CHECK(t.log.nfault == 1 && !strcmp(t.log.fault[0].device, "02:00.0") &&
	      !strcmp(t.log.fault[0].kind, "DMA Read NO_PASID"),
	      "fault from 02:00.0 (the bridge alias of edu), DMA Read");
	CHECK_STR(t.log.tlb_policy, "DMA domain TLB invalidation policy: lazy mode",
		  "kernel's TLB policy line, trailing space trimmed");
	CHECK_STR(t.kernel, "6.1.0-56-amd64", "kernel release");
out:
	topo_free(&t);
	CHECK(t.units == NULL && t.groups == NULL, "topo_free resets");
}

static void test_amd_strict(void)
{
	const char *names[64];
	char msg[256], want[128], got[128] = "", *log, *p;
	struct topo t;
	size_t n, i, off = 0;
	bool all_dma = true;

	CHECK(topo_read(&t, unit_fixture("sysfs-amd-strict"), msg, sizeof(msg)) == 0,
	      "amd-strict tree reads (%s)", msg);
	CHECK(t.nunits == 1 && t.units[0].kind == TOPO_UNIT_AMD &&
	      !strcmp(t.units[0].pci_dev, "0000:00:01.0"),
	      "one AMD unit, the PCI function 0000:00:01.0");
	if (!t.nunits)
		goto out;
	CHECK(t.units[0].amd_efr == 0x29d3 && t.units[0].amd_efr2 == 0 &&
	      t.units[0].amd_cap == 0x1f03000f, "EFR 0x29d3, EFR2 0, cap 0x1f03000f");
	/* "AMD-Vi: Extended features (0x29d3, 0x0): PreF PPR GT IA GA HE" */
	log = slurp(unit_fixture("sysfs-amd-strict/dev/kmsg"));
	p = log ? strstr(log, "AMD-Vi: Extended features (") : NULL;
	if (p && (p = strstr(p, "): ")))
		snprintf(want, sizeof(want), "%.*s", (int)strcspn(p + 3, "\n"), p + 3);
	n = amd_efr_features(t.units[0].amd_efr, names, 64);
	for (i = 0; i < n && off < sizeof(got); i++)
		off += snprintf(got + off, sizeof(got) - off, "%s%s", i ? " " : "", names[i]);
	CHECK(p && !strcmp(got, want), "EFR features '%s' = the kernel's '%s'", got, want);
	free(log);
	for (i = 0; i < t.ngroups; i++)
		all_dma &= !strcmp(t.groups[i].type, "DMA");
	CHECK(t.ngroups == 8 && all_dma, "8 groups, all DMA (strict forced under QEMU)");
	check_groups_vs_log(&t, "sysfs-amd-strict");
	CHECK(strstr(t.log.strict_forced, "Using strict mode due to virtualization") != NULL,
	      "the kernel's 'strict mode due to virtualization' line kept");
	CHECK(t.ir == TOPO_ON && t.log.ir == TOPO_ON, "interrupt remapping on");
	CHECK(t.log.readable && t.log.faults == 0, "no fault logged (QEMU's amd-iommu logs none)");
	CHECK(t.cmd.nargs == 0, "no IOMMU words on the command line");
	CHECK(topo_find_dev(&t, "0000:00:01.0") == NULL,
	      "the IOMMU's own function is in no group");
out:
	topo_free(&t);
}

static void test_other_trees(void)
{
	struct topo t;
	char msg[256];
	size_t i;
	bool ok;

	CHECK(topo_read(&t, unit_fixture("sysfs-intel-pt"), msg, sizeof(msg)) == 0, "intel-pt reads");
	for (i = 0, ok = t.ngroups == 8; i < t.ngroups; i++)
		ok &= !strcmp(t.groups[i].type, "identity");
	CHECK(ok && t.cmd.passthrough == TOPO_ON &&
	      strstr(t.log.domain_type, "Passthrough (set via kernel command line)"),
	      "intel-pt: all groups identity, iommu=pt, the kernel says Passthrough");
	topo_free(&t);

	CHECK(topo_read(&t, unit_fixture("sysfs-intel-strict-noir"), msg, sizeof(msg)) == 0,
	      "intel-strict-noir reads");
	for (i = 0, ok = t.ngroups == 8; i < t.ngroups; i++)
		ok &= !strcmp(t.groups[i].type, "DMA");
	CHECK(ok && t.cmd.strict == TOPO_ON && t.cmd.intremap == TOPO_OFF,
	      "strict-noir: all groups DMA, iommu.strict=1, intremap=off");
	CHECK(t.ir == TOPO_OFF && t.log.ir == TOPO_UNKNOWN,
	      "interrupt remapping off per /proc/interrupts (the log says nothing)");
	CHECK(t.nunits == 1 && (t.units[0].ecap >> 2 & 1),
	      "device-iotlb=on shows as ecap DT");
	topo_free(&t);

	CHECK(topo_read(&t, unit_fixture("sysfs-intel-off"), msg, sizeof(msg)) == 0 &&
	      t.nunits == 0 && t.ngroups == 0 && t.cmd.dma_remap == TOPO_OFF && t.ir == TOPO_ON,
	      "intel-off: no unit, no group, intel_iommu=off wins over =on, IR still on");
	topo_free(&t);

	CHECK(topo_read(&t, unit_fixture("sysfs-none"), msg, sizeof(msg)) == 0 &&
	      t.nunits == 0 && t.ngroups == 0 && t.ir == TOPO_OFF,
	      "none: no IOMMU, plain IO-APIC/PCI-MSI interrupts");
	topo_free(&t);

	CHECK(topo_read(&t, "/nonexistent-it-root", msg, sizeof(msg)) == -1 &&
	      strstr(msg, "/nonexistent-it-root/sys") && strstr(msg, "No such file"),
	      "a missing root is an error naming the path (%s)", msg);
	CHECK(topo_read(&t, unit_fixture("acpi/qemu-amd-iommu.ivrs"), msg, sizeof(msg)) == -1,
	      "a file as root is an error (%s)", msg);
}

static void test_path_resolve(void)
{
	static const uint8_t edu[] = { 5, 0, 0, 0, 1, 0 }, sata[] = { 0x1f, 2 },
			     gone[] = { 5, 0, 0, 0, 9, 0 }, e1000[] = { 6, 0, 0, 0, 2, 0 };
	char name[64] = "";
	struct topo t;
	char msg[256];

	if (topo_read(&t, unit_fixture("sysfs-intel-lazy"), msg, sizeof(msg)))
		return;
	CHECK(topo_pci_path_resolve(&t, 0, 0, edu, 3, name, sizeof(name)) == 0 &&
	      !strcmp(name, "0000:02:01.0"),
	      "path 00:05.0/00.0/01.0 crosses two bridges to 0000:02:01.0 (%s)", name);
	CHECK(topo_pci_path_resolve(&t, 0, 0, sata, 1, name, sizeof(name)) == 0 &&
	      !strcmp(name, "0000:00:1f.2"), "one-hop path 00:1f.2");
	CHECK(topo_pci_path_resolve(&t, 0, 0, gone, 3, name, sizeof(name)) == -1,
	      "a hop with no device fails");
	CHECK(topo_pci_path_resolve(&t, 1, 0, sata, 1, name, sizeof(name)) == -1,
	      "another segment fails");
	topo_free(&t);
	if (topo_read(&t, unit_fixture("sysfs-amd-strict"), msg, sizeof(msg)))
		return;
	CHECK(topo_pci_path_resolve(&t, 0, 0, e1000, 3, name, sizeof(name)) == 0 &&
	      !strcmp(name, "0000:02:02.0"), "AMD tree: 00:06.0/00.0/02.0 is 0000:02:02.0");
	topo_free(&t);
}

/* ------------------------------------------------------------ pieces */

static void test_cmdline(void)
{
	static const struct {
		const char *line;
		int pt, strict, ir, dma;
		size_t nargs;
	} cases[] = {
		{ "quiet intel_iommu=on iommu=pt root=/dev/sda1", TOPO_ON, -1, -1, TOPO_ON, 2 },
		{ "iommu.passthrough=0 iommu.strict=0", TOPO_OFF, TOPO_OFF, -1, -1, 2 },
		{ "iommu=pt iommu=nopt", TOPO_OFF, -1, -1, -1, 2 },
		{ "intel_iommu=on,strict,sm_on", -1, TOPO_ON, -1, TOPO_ON, 1 },
		{ "amd_iommu=off", -1, -1, -1, TOPO_OFF, 1 },
		{ "amd_iommu=fullflush amd_iommu_intr=legacy", -1, TOPO_ON, -1, -1, 2 },
		{ "nointremap", -1, -1, TOPO_OFF, -1, 1 },
		{ "intremap=no_x2apic_optout", -1, -1, -1, -1, 1 },
		{ "iommu=off,nopt", TOPO_OFF, -1, -1, TOPO_OFF, 1 },
		{ "", -1, -1, -1, -1, 0 },
		{ "console=ttyS0 myiommu=1 xintel_iommu=on", -1, -1, -1, -1, 0 },
	};
	struct topo_cmdline c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(topo_cmdline_parse(&c, cases[i].line) == 0 &&
		      c.passthrough == cases[i].pt && c.strict == cases[i].strict &&
		      c.intremap == cases[i].ir && c.dma_remap == cases[i].dma &&
		      c.nargs == cases[i].nargs,
		      "cmdline '%s': pt %d strict %d intremap %d dma %d, %zu words",
		      cases[i].line, c.passthrough, c.strict, c.intremap, c.dma_remap, c.nargs);
		free(c.raw);
		while (c.nargs)
			free(c.args[--c.nargs]);
		free(c.args);
	}
}

/* the pci_err form as the kernel prints it: "<driver> <device>: AMD-Vi: Event logged" */
static void test_log_amd_prefix(void)
{
	struct topo_log log = { .ir = TOPO_UNKNOWN };

	topo_log_line(&log, "xhci_hcd 0000:47:00.1: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x0032 address=0xfffffff00000 flags=0x0000]");
	CHECK(log.faults == 1 && log.amdvi_events == 1 && log.nby_dev == 1 &&
	      !strcmp(log.by_dev[0].device, "0000:47:00.1") && !strcmp(log.fault[0].device, "0000:47:00.1"),
	      "AMD pci_err line counted under its device, not under 'AMD-Vi'");
	free(log.fault);
	free(log.by_dev);
}

static void test_log_lines(void)
{
	struct topo_log log = { .ir = TOPO_UNKNOWN };
	int i;

	topo_log_line(&log, "DMAR: DRHD: handling fault status reg 2");
	CHECK(log.faults == 0, "'handling fault status' is not a fault");
	topo_log_line(&log, "DMAR:[DMA Write] Request device [00:02.0] fault addr 7f000 ");
	CHECK(log.faults == 1 && log.nfault == 1 && !strcmp(log.fault[0].kind, "DMA Write") &&
	      !strcmp(log.fault[0].device, "00:02.0"), "old-style 'DMAR:[DMA Write]' fault");
	topo_log_line(&log, "DMAR: [INTR-REMAP] Request device [00:1f.0] fault index 0x10 [fault reason 0x25] Blocked a compatibility format interrupt request");
	CHECK(log.dmar_faults == 2 && log.nfault == 2 && !strcmp(log.fault[1].kind, "INTR-REMAP") &&
	      !strcmp(log.fault[1].device, "00:1f.0"), "interrupt-remapping fault");
	topo_log_line(&log, "AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:00:04.0 domain=0x0007 address=0x12345000 flags=0x0000]");
	CHECK(log.amdvi_events == 1 && log.nfault == 3 && !strcmp(log.fault[2].kind, "IO_PAGE_FAULT") &&
	      !strcmp(log.fault[2].device, "0000:00:04.0"), "AMD pr_err form: device= field");
	topo_log_line(&log, "nvme 0000:00:04.0: Event logged [IO_PAGE_FAULT domain=0x000d address=0xfffff000 flags=0x0020]");
	CHECK(log.amdvi_events == 2 && log.nfault == 4 && !strcmp(log.fault[3].device, "0000:00:04.0"),
	      "AMD pci_err form: device from the prefix");
	topo_log_line(&log, "AMD-Vi: Event logged [ILLEGAL_DEV_TABLE_ENTRY device=00:14.0 pasid=0x00000 address=0x0 flags=0x0000]");
	CHECK(log.faults == 5 && !strcmp(log.fault[4].kind, "ILLEGAL_DEV_TABLE_ENTRY") &&
	      !strcmp(log.fault[4].device, "00:14.0"), "other AMD events count too");
	for (i = 0; i < 40; i++)
		topo_log_line(&log, "DMAR: [DMA Read NO_PASID] Request device [00:03.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set");
	CHECK(log.faults == 45 && log.nfault == TOPO_MAX_FAULT_LINES,
	      "45 faults counted, the first %d kept", TOPO_MAX_FAULT_LINES);
	CHECK(log.nby_dev == 5 && !strcmp(log.by_dev[4].device, "00:03.0") &&
	      log.by_dev[4].count == 40 && !strcmp(log.by_dev[2].device, "0000:00:04.0") &&
	      log.by_dev[2].count == 2 && log.by_dev[0].count == 1,
	      "faults counted by device: 0000:00:04.0 x2 (both AMD forms), 00:03.0 x40");
	for (i = 0; i < 70; i++) {
		char line[160];

		snprintf(line, sizeof(line), "AMD-Vi: Event logged [IO_PAGE_FAULT device=0000:05:%02x.%x domain=0x0001 address=0x0 flags=0x0]",
			 i / 8, i % 8);
		topo_log_line(&log, line);
	}
	CHECK(log.nby_dev == TOPO_MAX_FAULT_DEVS + 1 &&
	      !log.by_dev[TOPO_MAX_FAULT_DEVS].device[0] &&
	      log.by_dev[TOPO_MAX_FAULT_DEVS].count == 70 + 5 - TOPO_MAX_FAULT_DEVS,
	      "past %d devices the rest are counted together (%zu)", TOPO_MAX_FAULT_DEVS,
	      log.nby_dev);
	topo_log_line(&log, "DMAR-IR: Enabled IRQ remapping in x2apic mode");
	CHECK(log.ir == TOPO_ON && strstr(log.ir_line, "x2apic"), "'Enabled IRQ remapping' = on");
	free(log.fault);
	free(log.by_dev);

	CHECK(topo_ir_from_interrupts(" 25:  0  0  IR-PCI-MSI 81920-edge  PCIe PME") == TOPO_ON &&
	      topo_ir_from_interrupts("  0:  119  0   IO-APIC   2-edge  timer\n 26: 1 0 PCI-MSI 1-edge nvme") == TOPO_OFF &&
	      topo_ir_from_interrupts(" 24: 1 0 DMAR-MSI 0-edge dmar0") == TOPO_UNKNOWN &&
	      topo_ir_from_interrupts("") == TOPO_UNKNOWN,
	      "interrupt remapping from /proc/interrupts chip names");
}

static void test_features(void)
{
	const char *names[64];
	char buf[80];
	size_t n;

	n = intel_cap_features(0xd2008c22260206ull, names, 64);
	CHECK(n == 5 && !strcmp(names[0], "SLLPS-2M") && !strcmp(names[1], "SLLPS-1G") &&
	      !strcmp(names[2], "PSI") && !strcmp(names[3], "DWD") && !strcmp(names[4], "DRD"),
	      "QEMU cap d2008c22260206: SLLPS-2M SLLPS-1G PSI DWD DRD");
	CHECK(intel_cap_mgaw(0xd2008c22260206ull) == 39 &&
	      intel_cap_ndoms(0xd2008c22260206ull) == 65536 &&
	      intel_cap_nfr(0xd2008c22260206ull) == 1 &&
	      !strcmp(intel_cap_sagaw_str(0xd2008c22260206ull, buf, sizeof(buf)), "39-bit/3-level"),
	      "MGAW 39, 65536 domains, 1 fault register, SAGAW 39-bit/3-level");
	CHECK(!strcmp(intel_cap_sagaw_str(0x1f00, buf, sizeof(buf)),
		      "30-bit/2-level 39-bit/3-level 48-bit/4-level 57-bit/5-level 64-bit/6-level"),
	      "all five SAGAW bits fit the buffer");
	n = intel_cap_features(0xc0000000000000c0ull | 1ull << 59, names, 2);
	CHECK(n == 5 && !strcmp(names[0], "PHMR") && !strcmp(names[1], "CM"),
	      "feature count is returned even past max (%zu), names up to max", n);
	n = amd_efr_features(0x29d3, names, 64);
	CHECK(n == 6, "AMD EFR 0x29d3: 6 named features");
	n = amd_cap_features(0x1f03000f, names, 64);
	CHECK(n == 5 && !strcmp(names[3], "EFRSup"), "AMD cap 0x1f03000f: IotlbSup..CapExt");
}

/* ------------------------------------------------------------ built trees */

static int mkfile(const char *root, const char *rel, const char *text)
{
	char path[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	if (!text)
		return mkdir(path, 0755);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void rm_rf(const char *dir)
{
	char cmd[600];

	if (strncmp(dir, "/tmp/it-info-", 13))
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		return;
}

static void test_built_tree(void)
{
	char root[] = "/tmp/it-info-tree.XXXXXX", msg[256];
	const struct topo_group *g;
	const struct topo_dev *d;
	struct topo t;
	struct run r;

	if (!mkdtemp(root)) {
		CHECK(0, "mkdtemp");
		return;
	}
	mkfile(root, "proc/cmdline", "BOOT_IMAGE=/vmlinuz iommu=pt\n");
	mkfile(root, "proc/interrupts", "  0: 1 IR-IO-APIC 2-edge timer\n");
	mkfile(root, "sys/class/iommu/dmar3/intel-iommu/ecap", "f0\n");
	mkfile(root, "sys/kernel/iommu_groups/10/type", "identity\n");
	mkfile(root, "sys/kernel/iommu_groups/10/reserved_regions",
	       "0x0000000080000000 0x00000000807fffff direct\ngarbage line\n");
	mkfile(root, "sys/kernel/iommu_groups/10/devices/0000:03:00.0/vendor", "0x10de\n");
	mkfile(root, "sys/kernel/iommu_groups/10/devices/0000:03:00.0/device", "0x2204\n");
	mkfile(root, "sys/kernel/iommu_groups/2/type", "DMA\n");
	mkfile(root, "sys/kernel/iommu_groups/2/devices/ACPI0001:00", NULL);
	mkfile(root, "sys/kernel/iommu_groups/notanumber/type", "DMA\n");

	CHECK(topo_read(&t, root, msg, sizeof(msg)) == 0, "hand-built tree reads");
	CHECK(t.ngroups == 2 && t.groups[0].id == 2 && t.groups[1].id == 10,
	      "groups sorted by number (2 before 10), non-numeric names skipped");
	d = topo_find_dev(&t, "ACPI0001:00");
	CHECK(d && !d->is_pci && d->vendor == -1 && d->class == -1 && !d->driver[0],
	      "a non-PCI device: no ids, no driver");
	d = topo_find_bdf(&t, 0, 3, 0, 0);
	CHECK(d && d->vendor == 0x10de && d->class == -1, "PCI device found by bus/dev/fn");
	g = topo_find_group(&t, 10);
	CHECK(g && g->nregions == 1 && !strcmp(g->regions[0].type, "direct"),
	      "reserved_regions: the garbage line is skipped");
	CHECK(t.nunits == 1 && t.units[0].ecap == 0xf0 && t.units[0].cap == 0 &&
	      t.units[0].domains_supported == -1, "a unit with only ecap readable");
	CHECK(!t.log.readable && t.log.err == ENOENT, "no dev/kmsg: log unreadable, ENOENT");
	topo_free(&t);

	r = info_run("--sysfs", root, NULL, NULL, NULL, NULL);
	CHECK(r.rc == 0 && strstr(r.out, "faults logged     unknown (/dev/kmsg: No such file"),
	      "tree says the fault count is unknown without a log");
	CHECK(r.out && strstr(r.out, "group 10 has a direct-mapped firmware region 0x80000000-0x807fffff"),
	      "no ACPI table: the sysfs 'direct' region is the warning");
	CHECK(r.out && strstr(r.out, "1 of 2 groups are identity-mapped (iommu=pt)"),
	      "passthrough warning counts identity groups");
	run_free(&r);
	r = info_run("-j", "--sysfs", root, NULL, NULL, NULL);
	CHECK(r.rc == 0 && json_valid(r.out) && strstr(r.out, "\"faults\":null") &&
	      strstr(r.out, "\"vendor\":null") && strstr(r.out, "\"pci\":false"),
	      "JSON: unknown fault count is null, unknown ids null");
	run_free(&r);
	rm_rf(root);
}

/* ------------------------------------------------------------ end to end */

static void test_cmd_fixtures(void)
{
	static const struct {
		const char *tree;
		const char *summary;
		const char *warn;
	} trees[] = {
		{ "sysfs-intel-lazy", "IOMMU: Intel VT-d, 1 unit, 8 groups, 12 devices",
		  "\"kind\":\"faults\"" },
		{ "sysfs-amd-strict", "IOMMU: AMD-Vi, 1 unit, 8 groups, 12 devices",
		  "\"kind\":\"shared-group\"" },
		{ "sysfs-intel-pt", "8 passthrough (identity)", "\"kind\":\"passthrough\"" },
		{ "sysfs-intel-strict-noir", "interrupt remap   off (from /proc/interrupts)",
		  "\"kind\":\"irq-remap-off\"" },
		{ "sysfs-intel-off", "IOMMU: Intel VT-d (described by the firmware, not in use by the kernel)",
		  "\"kind\":\"iommu-off\"" },
		{ "sysfs-none", "IOMMU: none, 0 units", "\"kind\":\"no-iommu\"" },
	};
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(trees) / sizeof(trees[0]); i++) {
		r = info_run("--sysfs", unit_fixture(trees[i].tree), NULL, NULL, NULL, NULL);
		CHECK(r.rc == 0 && r.out && strstr(r.out, trees[i].summary) && r.err && !r.err[0],
		      "info %s: exit 0, '%s'", trees[i].tree, trees[i].summary);
		run_free(&r);
		r = info_run("-j", "--sysfs", unit_fixture(trees[i].tree), NULL, NULL, NULL);
		CHECK(r.rc == 0 && json_valid(r.out), "info -j %s: one valid JSON document",
		      trees[i].tree);
		CHECK(r.out && strstr(r.out, trees[i].warn), "info -j %s: warning %s",
		      trees[i].tree, trees[i].warn);
		run_free(&r);
	}

	r = info_run("-j", "--sysfs", unit_fixture("sysfs-intel-lazy"), NULL, NULL, NULL);
	CHECK(r.out && strstr(r.out, "\"by_device\":[{\"device\":\"02:00.0\",\"count\":1,\"sysfs_device\":null,\"behind_bridge_group\":7}]"),
	      "intel JSON: the fault's requester 02:00.0 is the bridge alias of group 7");
	CHECK(r.out && strstr(r.out, "\"base\":\"0xfed90000\",\"unit\":\"dmar0\"") &&
	      strstr(r.out, "\"ecap_features\":[\"QI\",\"IR\",\"PT\"]") &&
	      count_str(r.out, "\"kind\":\"shared-group\"") == 2 &&
	      strstr(r.out, "\"bdf\":\"00:05.0\",\"device\":{\"name\":\"0000:00:05.0\",\"group\":5}"),
	      "intel JSON: DRHD joined to dmar0, ecap features, 2 shared groups, scope -> device");
	run_free(&r);
	r = info_run("-j", "--sysfs", unit_fixture("sysfs-amd-strict"), NULL, NULL, NULL);
	CHECK(r.out && strstr(r.out, "\"efr_features\":[\"PreF\",\"PPR\",\"GT\",\"IA\",\"GA\",\"HE\"]") &&
	      strstr(r.out, "\"devid\":\"00:01.0\"") && strstr(r.out, "\"unit\":\"ivhd0\"") &&
	      strstr(r.out, "\"groups_dma\":8"),
	      "amd JSON: EFR features, IVHD joined to ivhd0, 8 strict groups");
	run_free(&r);
	r = info_run("--sysfs", unit_fixture("sysfs-amd-strict"), NULL, NULL, NULL, NULL);
	CHECK(r.out && strstr(r.out, "select      00:01.0  the IOMMU itself") &&
	      strstr(r.out, "alias-range 02:00.0-02:1f.7  (2 present)  requests appear as 02:00.0"),
	      "amd tree: the IOMMU's own entry, alias range with devices present");
	run_free(&r);
}

static void test_cmd_rmrr_join(void)
{
	struct run r = info_run("--acpi", unit_fixture("acpi/hand-rmrr-q35.dmar"), "--sysfs",
				unit_fixture("sysfs-intel-lazy"), NULL, NULL);

	CHECK(r.rc == 0, "--acpi with --sysfs: exit 0");
	CHECK(r.out && strstr(r.out, "RMRR 0x0-0xffffff is identity-mapped for 0000:00:1f.0 (group 6); the kernel marks it relaxable"),
	      "RMRR matching a direct-relaxable region: assignable");
	CHECK(r.out && strstr(r.out, "RMRR 0x7f000000-0x7f0fffff pins 0000:00:01.0:") &&
	      strstr(r.out, "RMRR 0x7f000000-0x7f0fffff pins 0000:02:01.0:"),
	      "RMRR pins nvme and, through two bridges, edu");
	CHECK(r.out && strstr(r.out, "pins 00:1d.0 (not present in sysfs)"),
	      "RMRR scope for a device the system lacks is named by path");
	CHECK(r.out && strstr(r.out, "endpoint 00:05.0/00.0/01.0  0000:02:01.0  1234:11e8"),
	      "multi-hop scope shown with the device it reaches");
	run_free(&r);
}

static void test_cmd_acpi_files(void)
{
	static const char *const bad[] = {
		"acpi/bad-scope-odd.dmar", "acpi/bad-entry-type.ivrs", "acpi/bad-signature.dmar",
		"acpi/bad-short-header.dmar",
	};
	struct run r;
	size_t i;

	r = info_run("--acpi", unit_fixture("acpi/hand-full.dmar"), "--acpi", unit_fixture("acpi/hand-full.ivrs"),
		     NULL, NULL);
	CHECK(r.rc == 0 && r.out && strstr(r.out, "(firmware tables only)") &&
	      strstr(r.out, "ANDD  ACPI device 1 = \\_SB.PCI0.I2C0") &&
	      strstr(r.out, "acpi-hid    AMDI0020 uid \\_SB.FUR0 at 00:14.5") &&
	      !strstr(r.out, "Groups") && !strstr(r.out, "not present in sysfs"),
	      "--acpi alone decodes both tables and reads nothing of the system");
	run_free(&r);
	r = info_run("-j", "--acpi", unit_fixture("acpi/hand-full.ivrs"), NULL, NULL, NULL);
	CHECK(r.rc == 0 && json_valid(r.out) && strstr(r.out, "\"live\":false") &&
	      strstr(r.out, "\"kind\":\"exclusion\"") == NULL &&
	      strstr(r.out, "is an exclusion range for devices 01:00.0-01:1f.7"),
	      "--acpi -j: valid, not live, IVMD exclusion range warned");
	run_free(&r);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = info_run("--acpi", unit_fixture(bad[i]), NULL, NULL, NULL, NULL);
		CHECK(r.rc == 8 && r.err && strstr(r.err, "malformed ACPI table") &&
		      strstr(r.err, "offset 0x") && r.out && strstr(r.out, "malformed"),
		      "%s: exit 8, error names the offset, report still printed", bad[i]);
		run_free(&r);
		r = info_run("-j", "--acpi", unit_fixture(bad[i]), NULL, NULL, NULL);
		CHECK(r.rc == 8 && json_valid(r.out) && strstr(r.out, "\"error\":{\"offset\":"),
		      "%s -j: exit 8, valid JSON with the error offset", bad[i]);
		run_free(&r);
	}
}

static void test_cmd_usage(void)
{
	struct run r;

	r = info_run("--bogus", NULL, NULL, NULL, NULL, NULL);
	CHECK(r.rc == 2 && r.err && strstr(r.err, "unknown option '--bogus'"),
	      "unknown long option: exit 2");
	run_free(&r);
	r = info_run("-x", NULL, NULL, NULL, NULL, NULL);
	CHECK(r.rc == 2 && r.err && strstr(r.err, "unknown option '-x'"), "unknown short option: exit 2");
	run_free(&r);
	r = info_run("--acpi", NULL, NULL, NULL, NULL, NULL);
	CHECK(r.rc == 2 && r.err && strstr(r.err, "needs an argument"), "--acpi without file: exit 2");
	run_free(&r);
	r = info_run("extra", NULL, NULL, NULL, NULL, NULL);
	CHECK(r.rc == 2 && r.err && strstr(r.err, "unexpected argument 'extra'"),
	      "positional argument: exit 2");
	run_free(&r);
	r = info_run("--acpi", "", NULL, NULL, NULL, NULL);
	CHECK(r.rc == 2, "--acpi '': exit 2");
	run_free(&r);
	r = info_run("--acpi", "/nonexistent/DMAR", NULL, NULL, NULL, NULL);
	CHECK(r.rc == 1 && r.err && strstr(r.err, "/nonexistent/DMAR: No such file"),
	      "unreadable --acpi file: exit 1 naming it");
	run_free(&r);
	r = info_run("--sysfs", "/nonexistent-it-root", NULL, NULL, NULL, NULL);
	CHECK(r.rc == 1 && r.err && strstr(r.err, "/nonexistent-it-root/sys"),
	      "missing --sysfs root: exit 1");
	run_free(&r);
	r = info_run("-h", NULL, NULL, NULL, NULL, NULL);
	CHECK(r.rc == 0 && r.out && strstr(r.out, "Usage: iommutrace info") &&
	      strstr(r.out, "8 malformed ACPI table"), "-h: usage with exit codes, exit 0");
	run_free(&r);
}

int main(int argc, char **argv)
{
	unit_fixtures_locate(argv[0], "tests/fixtures", "IT_FIXTURES");
	test_features();
	test_cmdline();
	test_log_lines();
	test_log_amd_prefix();
	test_intel_lazy();
	test_amd_strict();
	test_other_trees();
	test_path_resolve();
	test_built_tree();
	test_cmd_fixtures();
	test_cmd_rmrr_join();
	test_cmd_acpi_files();
	test_cmd_usage();
	UNIT_EXIT();
}
