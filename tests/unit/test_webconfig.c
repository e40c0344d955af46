// SPDX-License-Identifier: GPL-2.0
/*
 * --web.config.file (src/webconfig.c) over tests/fixtures/webconfig: files that
 * must load, files that must fail and the message each gets (the file, the
 * line, what is wrong), with a certificate and keys made by openssl for the
 * run; then bcrypt checks through libcrypt: right and wrong passwords,
 * unknown users, no credentials, $2a$/$2b$/$2y$, and the cache that spares
 * Prometheus a bcrypt per scrape but never a wrong password.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "unit.h"
#include "webconfig.h"

static char fixtures[512], dir[] = "/tmp/it-webconfig-XXXXXX";

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* the fixtures and fresh TLS material in one temporary directory */
static bool setup(void)
{
	if (!mkdtemp(dir))
		return false;
	return !sh("cp %s/*.yml %s/ && cd %s && "
		   "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		   "-keyout key.pem -out cert.pem -days 2 -subj /CN=localhost "
		   "-addext subjectAltName=IP:127.0.0.1 2>/dev/null && "
		   "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 "
		   "-out other-key.pem 2>/dev/null && "
		   "printf 'not a certificate\\n' > garbage.pem", fixtures, dir, dir);
}

static int load(struct webconfig *wc, const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return webconfig_load(wc, path);
}

static void test_good(void)
{
	struct webconfig wc;

	CHECK(!load(&wc, "ok-tls-auth.yml") && webconfig_tls(&wc) && wc.nr_users == 3,
	      "TLS and 3 users load (%s)", wc.err);
	CHECK(wc.cert_pem && strstr(wc.cert_pem, "BEGIN CERTIFICATE") &&
	      wc.key_pem && strstr(wc.key_pem, "PRIVATE KEY"),
	      "certificate and key read, relative to the config's directory");
	CHECK(wc.cert_file && !strncmp(wc.cert_file, dir, strlen(dir)),
	      "cert_file resolved under the config's directory (%s)", wc.cert_file);
	webconfig_free(&wc);

	CHECK(!load(&wc, "ok-empty.yml") && !webconfig_tls(&wc) && !webconfig_auth(&wc),
	      "comments only: plain HTTP, no auth (%s)", wc.err);
	webconfig_free(&wc);
	CHECK(!load(&wc, "ok-null-sections.yml") && !webconfig_tls(&wc) && !webconfig_auth(&wc),
	      "empty sections: plain HTTP, no auth (%s)", wc.err);
	webconfig_free(&wc);
	CHECK(!load(&wc, "ok-auth-only.yml") && !webconfig_tls(&wc) && wc.nr_users == 1,
	      "basic auth without TLS loads (%s)", wc.err);
	webconfig_free(&wc);
	CHECK(!load(&wc, "ok-tls-only.yml") && webconfig_tls(&wc) && !webconfig_auth(&wc),
	      "TLS without users loads, keys in any order (%s)", wc.err);
	webconfig_free(&wc);
}

static void test_bad(void)
{
	static const struct {
		const char *file, *want;
	} cases[] = {
		{ "nosuch.yml", "nosuch.yml: cannot read: No such file or directory" },
		{ "bad-yaml.yml", "bad-yaml.yml: line 3 column " },
		{ "bad-unknown-key.yml", "line 4: unknown key 'basic_auth_user' (known: "
					 "tls_server_config, basic_auth_users)" },
		{ "bad-unknown-tls-key.yml", "line 2: unknown key 'tls_server_config.certfile'" },
		{ "bad-unsupported.yml", "line 4: tls_server_config.client_auth_type: not "
					 "supported by iommutrace" },
		{ "bad-http-server-config.yml", "http_server_config: not supported by iommutrace" },
		{ "bad-hash-plain.yml", "line 2: basic_auth_users.alice: not a bcrypt hash" },
		{ "bad-hash-md5.yml", "basic_auth_users.alice: not a bcrypt hash" },
		{ "bad-hash-sha512.yml", "basic_auth_users.alice: not a bcrypt hash" },
		{ "bad-hash-cost.yml", "basic_auth_users.alice: not a bcrypt hash ($2a$, $2b$ or "
				       "$2y$, cost 04-14" },
		{ "bad-hash-short.yml", "basic_auth_users.alice: not a bcrypt hash" },
		{ "bad-hash-null.yml", "basic_auth_users.alice: expected a bcrypt hash" },
		{ "bad-missing-key-file.yml", "tls_server_config needs both cert_file and key_file "
					      "(key_file missing)" },
		{ "bad-cert-missing.yml", "tls_server_config.cert_file '" },
		{ "bad-cert-garbage.yml", "garbage.pem' with key_file '" },
		{ "bad-key-mismatch.yml", "other-key.pem' is not the key of cert_file '" },
		{ "bad-dup-user.yml", "line 3: basic_auth_users: 'alice' given twice" },
		{ "bad-two-docs.yml", "more than one YAML document" },
		{ "bad-users-list.yml", "line 2: basic_auth_users must be a mapping" },
		{ "bad-root-list.yml", "line 1: the file must be a mapping" },
		{ "bad-user-colon.yml", "a user name must be non-empty and without ':'" },
	};
	struct webconfig wc;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret = load(&wc, cases[i].file);

		CHECK(ret == -1 && strstr(wc.err, cases[i].want) && strstr(wc.err, cases[i].file),
		      "%s refused: %s", cases[i].file, wc.err);
		if (ret != -1 || !strstr(wc.err, cases[i].want))
			printf("#   want '%s'\n", cases[i].want);
		webconfig_free(&wc);
	}
	/* a directory where a file should be: fread's reason */
	load(&wc, "bad-cert-dir.yml");
	CHECK(strstr(wc.err, "cannot read: Is a directory") != NULL,
	      "cert_file a directory: said so (%s)", wc.err);
	webconfig_free(&wc);
	/* the cert that does not exist is named with the errno */
	load(&wc, "bad-cert-missing.yml");
	CHECK(strstr(wc.err, "nosuch.pem': cannot read: No such file or directory") != NULL,
	      "unreadable cert_file: path and reason (%s)", wc.err);
	webconfig_free(&wc);
}

static void test_auth(void)
{
	struct webconfig wc;
	double t0, first, again, wrong;

	if (load(&wc, "ok-tls-auth.yml")) {
		CHECK(0, "load ok-tls-auth.yml: %s", wc.err);
		return;
	}
	CHECK(webconfig_check(&wc, "alice", "wonderland") == WEBCONFIG_AUTH_OK,
	      "alice, right password ($2b$)");
	CHECK(webconfig_check(&wc, "alice", "Wonderland") == WEBCONFIG_AUTH_WRONG,
	      "alice, wrong password: refused");
	CHECK(webconfig_check(&wc, "carol", "c:o\"l 🙂") == WEBCONFIG_AUTH_OK,
	      "carol: a password with ':', a quote and UTF-8 ($2a$)");
	CHECK(webconfig_check(&wc, "carol", "c:o\"l ") == WEBCONFIG_AUTH_WRONG,
	      "carol, a prefix of the password: refused");
	CHECK(webconfig_check(&wc, "mallory", "wonderland") == WEBCONFIG_AUTH_WRONG,
	      "unknown user with another user's password: refused");
	CHECK(webconfig_check(&wc, "Alice", "wonderland") == WEBCONFIG_AUTH_WRONG,
	      "user names are case-sensitive");
	CHECK(webconfig_check(&wc, NULL, NULL) == WEBCONFIG_AUTH_MISSING,
	      "no credentials: missing");
	CHECK(webconfig_check(&wc, "alice", "") == WEBCONFIG_AUTH_WRONG,
	      "empty password: refused");

	/* bob is cost 10 (~50 ms here): the second right check comes from the cache */
	t0 = it_now();
	CHECK(webconfig_check(&wc, "bob", "builder") == WEBCONFIG_AUTH_OK, "bob, right ($2y$)");
	first = it_now() - t0;
	t0 = it_now();
	CHECK(webconfig_check(&wc, "bob", "builder") == WEBCONFIG_AUTH_OK, "bob again: ok");
	again = it_now() - t0;
	t0 = it_now();
	CHECK(webconfig_check(&wc, "bob", "builder2") == WEBCONFIG_AUTH_WRONG,
	      "bob, wrong after a cached right one: still refused");
	wrong = it_now() - t0;
	printf("# bcrypt cost 10: first check %.1f ms, cached %.3f ms, wrong %.1f ms\n",
	       first * 1e3, again * 1e3, wrong * 1e3);
	CHECK(again < first / 10, "a repeated right password skips bcrypt");
	CHECK(wrong > first / 3, "a wrong password pays for bcrypt");
	CHECK(webconfig_check(&wc, "alice", "builder") == WEBCONFIG_AUTH_WRONG,
	      "bob's cached password is not alice's");
	webconfig_free(&wc);
}

int main(int argc, char **argv)
{
	unit_fixtures_find(fixtures, sizeof(fixtures), argv[0], "tests/fixtures/webconfig",
			     "IT_WEBCONFIG_FIXTURES");
	if (!setup()) {
		CHECK(0, "fixtures copied and TLS material made with openssl in %s", dir);
		UNIT_EXIT();
	}
	test_good();
	test_bad();
	test_auth();
	sh("rm -rf %s", dir);
	UNIT_EXIT();
}
