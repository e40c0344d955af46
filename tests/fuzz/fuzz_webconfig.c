// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for --web.config.file (src/webconfig.c): libyaml's
 * document tree walked for tls_server_config and basic_auth_users, every
 * error path included. Seed corpus: tests/fixtures/webconfig. The parser
 * must load or fail with a message; ASan/UBSan catch the rest. Paths are
 * relative to a directory that does not exist, so a cert_file is never
 * read from the fuzzing host. Loaded users get one password check (bcrypt
 * at the hash's cost: costs above 04 are cut to keep the runs fast).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webconfig.h"

#define FUZZ_MAX_LEN	(1u << 14)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webconfig wc;
	int i;

	if (size > FUZZ_MAX_LEN)
		return 0;
	if (webconfig_parse(&wc, (const char *)data, size, "/nonexistent-fuzz-dir/web.yml")) {
		if (!wc.err[0])
			abort();	/* every failure says why */
		webconfig_free(&wc);
		return 0;
	}
	for (i = 0; i < wc.nr_users; i++) {
		char *h = wc.users[i].hash;

		if (strlen(h) != 60)
			abort();	/* only well-formed bcrypt hashes load */
		h[4] = '0';
		h[5] = '4';
	}
	if (wc.nr_users)
		webconfig_check(&wc, wc.users[0].name, "fuzz");
	webconfig_free(&wc);
	return 0;
}
