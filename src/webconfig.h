/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --web.config.file, node_exporter's convention (prometheus/exporter-toolkit),
 * so one file format serves every exporter of a host:
 *
 *   tls_server_config:
 *     cert_file: server.crt        # PEM; relative to the config file's directory
 *     key_file: server.key         # PEM, unencrypted
 *   basic_auth_users:
 *     prometheus: $2y$10$...       # bcrypt hashes only
 *
 * Either part may be left out; an empty file changes nothing. Every other
 * key of the toolkit (client_auth_type, min_version, http_server_config,
 * ...) is refused by name rather than ignored: a setting that silently does
 * nothing is worse than a clear error.
 */
#ifndef IT_WEBCONFIG_H
#define IT_WEBCONFIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define WEBCONFIG_MAX_USERS	64
#define WEBCONFIG_DIGEST_LEN	32	/* SHA-256 */

struct webconfig_user {
	char *name;
	char *hash;			/* bcrypt: $2a$, $2b$ or $2y$ */
	/*
	 * A password bcrypt accepted, as SHA-256 of a per-process key and the
	 * password: Prometheus sends the same one every scrape, and a bcrypt
	 * check costs tens of milliseconds by design (exporter-toolkit caches
	 * the same way). A wrong password always pays for bcrypt.
	 */
	bool cached;
	unsigned char digest[WEBCONFIG_DIGEST_LEN];
};

struct webconfig {
	char *cert_file, *key_file;	/* as resolved */
	char *cert_pem, *key_pem;	/* their contents; NULL: plain HTTP */
	int nr_users;			/* 0: no authentication */
	struct webconfig_user users[WEBCONFIG_MAX_USERS];
	char *dummy_hash;		/* checked for unknown users: same cost */
	unsigned char cache_key[16];
	pthread_mutex_t lock;		/* guards the users' cache entries */
	char err[512];			/* why webconfig_load() failed */
};

enum webconfig_auth {
	WEBCONFIG_AUTH_OK,
	WEBCONFIG_AUTH_MISSING,		/* no (or unparsable) credentials */
	WEBCONFIG_AUTH_WRONG,		/* unknown user or wrong password */
};

/* 0, or -1 with @wc->err set (file, line and what is wrong). */
int webconfig_load(struct webconfig *wc, const char *path);
/* The same from @len bytes of @text; @path names it and anchors relative paths. */
int webconfig_parse(struct webconfig *wc, const char *text, size_t len, const char *path);
void webconfig_free(struct webconfig *wc);
static inline bool webconfig_tls(const struct webconfig *wc) { return wc->cert_pem; }
static inline bool webconfig_auth(const struct webconfig *wc) { return wc->nr_users > 0; }
/* @user/@pass NULL: the request carried no credentials. Thread-safe. */
enum webconfig_auth webconfig_check(struct webconfig *wc, const char *user, const char *pass);

#endif
