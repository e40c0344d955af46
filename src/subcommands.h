/* SPDX-License-Identifier: GPL-2.0 */
#ifndef IT_SUBCOMMANDS_H
#define IT_SUBCOMMANDS_H

int cmd_stat(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_hist(int argc, char **argv);
int cmd_probes(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_faults(int argc, char **argv);
int cmd_pmu(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_leaks(int argc, char **argv);

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One ACPI table held in memory, printed as `info --acpi` would without
 * reading the system (tests/fuzz drives the renderers through it). Exit code.
 */
int info_print_table(const uint8_t *buf, size_t len, bool json);

#endif
