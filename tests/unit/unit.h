/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal test helpers. Every test program in this tree prints one line per
 * check, "ok - NAME" or "not ok - NAME", so tests/run.sh can count them across
 * C, BPF and VM suites alike; the exit status is non-zero if any check failed.
 */
#ifndef IT_UNIT_H
#define IT_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int unit_failed;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (cond) {                                                  \
			printf("ok - ");                                     \
		} else {                                                     \
			unit_failed++;                                       \
			printf("not ok - %s:%d (%s) ", __FILE__, __LINE__,   \
			       #cond);                                       \
		}                                                            \
		printf(__VA_ARGS__);                                         \
		putchar('\n');                                               \
	} while (0)

#define CHECK_STR(got, want, ...)                                            \
	do {                                                                 \
		const char *g_ = (got), *w_ = (want);                        \
		CHECK(g_ && strcmp(g_, w_) == 0, __VA_ARGS__);               \
		if (!g_ || strcmp(g_, w_))                                   \
			printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)", w_); \
	} while (0)

#define UNIT_EXIT() return unit_failed ? 1 : 0

/*
 * The fixture directory @sub (e.g. "tests/fixtures"): $@env if set, else
 * relative to the tree root (tests/run.sh runs there), else found in a
 * directory above the test binary.
 */
static inline void unit_fixtures_find(char *out, size_t size, const char *argv0,
				      const char *sub, const char *env)
{
	const char *val = getenv(env);
	char dir[400], *slash;
	struct stat st;
	int up;

	if (val) {
		snprintf(out, size, "%s", val);
		return;
	}
	snprintf(out, size, "%s", sub);
	if (!stat(out, &st))
		return;
	snprintf(dir, sizeof(dir), "%s", argv0);
	for (up = 0; up < 5 && (slash = strrchr(dir, '/')); up++) {
		*slash = '\0';
		snprintf(out, size, "%s/%s", dir, sub);
		if (!stat(out, &st))
			return;
	}
	snprintf(out, size, "%s", sub);
}

/* The fixture directory of this test, set once by unit_fixtures_locate(). */
static inline char *unit_fixtures(void)
{
	static char dir[512];

	return dir;
}

/* $env if set, else @sub found from the cwd or from the test binary upwards. */
static inline void unit_fixtures_locate(const char *argv0, const char *sub, const char *env)
{
	unit_fixtures_find(unit_fixtures(), 512, argv0, sub, env);
}

/* A path below the fixture directory; four stay valid at once (rotating buffers). */
static inline const char *unit_fixture(const char *rel)
{
	static char buf[4][1024];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", unit_fixtures(), rel);
	return buf[i];
}

#endif
