// SPDX-License-Identifier: GPL-2.0
/*
 * --web.config.file: parsed with libyaml's document API, TLS material checked
 * with GnuTLS (the library libmicrohttpd serves TLS with, so what loads here
 * loads there), passwords checked with libcrypt's bcrypt (libxcrypt).
 */
#include <crypt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <yaml.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "webconfig.h"

#define WEBCONFIG_MAX_FILE	(1 << 20)

struct wc_parse {
	struct webconfig *wc;
	const char *path;
	char *dir;			/* the config file's directory, for relative paths */
	yaml_document_t doc;
};

static int wc_fail(struct webconfig *wc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(wc->err, sizeof(wc->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* A whole file, NUL-terminated; NULL with errno set (EFBIG: over the limit). */
static char *file_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(WEBCONFIG_MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	errno = 0;
	n = fread(buf, 1, WEBCONFIG_MAX_FILE + 1, f);
	if (ferror(f) || n > WEBCONFIG_MAX_FILE) {
		/* fread's errno: EISDIR for a directory given as a file */
		int err = ferror(f) ? (errno ? errno : EIO) : EFBIG;

		fclose(f);
		free(buf);
		errno = err;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static yaml_node_t *wc_node(struct wc_parse *p, int id)
{
	return yaml_document_get_node(&p->doc, id);
}

static unsigned long wc_line(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

static const char *wc_scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* YAML's null: an empty plain scalar, ~ or null (what "key:" alone gives) */
static bool wc_is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = wc_scalar(n);
	return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* A path from the file: relative ones are relative to the file's directory. */
static char *wc_resolve(struct wc_parse *p, const char *file)
{
	char *out;

	if (file[0] == '/' || !p->dir)
		return strdup(file);
	if (asprintf(&out, "%s/%s", p->dir, file) < 0)
		return NULL;
	return out;
}

/* Keys exporter-toolkit knows and iommutrace refuses, with why. */
static const struct {
	const char *section, *key, *why;
} wc_unsupported[] = {
	{ "tls_server_config", "cert", "inline PEM: use cert_file" },
	{ "tls_server_config", "key", "inline PEM: use key_file" },
	{ "tls_server_config", "client_auth_type", "client certificates are not supported" },
	{ "tls_server_config", "client_ca_file", "client certificates are not supported" },
	{ "tls_server_config", "client_allowed_sans", "client certificates are not supported" },
	{ "tls_server_config", "min_version", "GnuTLS's defaults (TLS 1.2+) apply" },
	{ "tls_server_config", "max_version", "GnuTLS's defaults (TLS 1.2+) apply" },
	{ "tls_server_config", "cipher_suites", "GnuTLS's default priorities apply" },
	{ "tls_server_config", "curve_preferences", "GnuTLS's default priorities apply" },
	{ "tls_server_config", "prefer_server_cipher_suites", "GnuTLS's default priorities apply" },
	{ NULL, "http_server_config", "HTTP/2 and extra headers are not supported" },
	{ NULL, "rate_limit", "rate limiting is not supported" },
};

static int wc_unknown(struct wc_parse *p, const yaml_node_t *key, const char *section,
		      const char *known)
{
	const char *k = wc_scalar(key);
	unsigned int i;

	for (i = 0; i < sizeof(wc_unsupported) / sizeof(wc_unsupported[0]); i++) {
		bool same_section = section ? wc_unsupported[i].section &&
					      !strcmp(section, wc_unsupported[i].section) :
					      !wc_unsupported[i].section;

		if (same_section && !strcmp(k, wc_unsupported[i].key))
			return wc_fail(p->wc, "%s: line %lu: %s%s%s: not supported by iommutrace (%s)",
				       p->path, wc_line(key), section ? section : "",
				       section ? "." : "", k, wc_unsupported[i].why);
	}
	return wc_fail(p->wc, "%s: line %lu: unknown key '%s%s%s' (known: %s)", p->path,
		       wc_line(key), section ? section : "", section ? "." : "", k, known);
}

/*
 * Pairs of a mapping node, keys checked to be unique scalars. Returns the
 * number of pairs, or -1 (wc->err set).
 */
static int wc_pairs(struct wc_parse *p, const yaml_node_t *map, const char *what,
		    yaml_node_pair_t **pairs)
{
	yaml_node_pair_t *a, *b;

	if (map->type != YAML_MAPPING_NODE)
		return wc_fail(p->wc, "%s: line %lu: %s must be a mapping (key: value lines)",
			       p->path, wc_line(map), what);
	for (a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++) {
		yaml_node_t *ka = wc_node(p, a->key);

		if (ka->type != YAML_SCALAR_NODE)
			return wc_fail(p->wc, "%s: line %lu: %s: keys must be plain strings",
				       p->path, wc_line(ka), what);
		for (b = map->data.mapping.pairs.start; b < a; b++)
			if (!strcmp(wc_scalar(wc_node(p, b->key)), wc_scalar(ka)))
				return wc_fail(p->wc, "%s: line %lu: %s: '%s' given twice",
					       p->path, wc_line(ka), what, wc_scalar(ka));
	}
	*pairs = map->data.mapping.pairs.start;
	return map->data.mapping.pairs.top - map->data.mapping.pairs.start;
}

/* A value that must be a non-empty string; NULL with wc->err set otherwise. */
static const char *wc_string(struct wc_parse *p, const yaml_node_t *v, const char *what)
{
	if (v->type != YAML_SCALAR_NODE || wc_is_null(v) || !wc_scalar(v)[0]) {
		wc_fail(p->wc, "%s: line %lu: %s: expected a non-empty string", p->path,
			wc_line(v), what);
		return NULL;
	}
	return wc_scalar(v);
}

static int wc_read_pem(struct wc_parse *p, const char *what, const char *file, char **path,
		       char **pem)
{
	*path = wc_resolve(p, file);
	if (!*path)
		return wc_fail(p->wc, "out of memory");
	*pem = file_slurp(*path, NULL);
	if (!*pem)
		return wc_fail(p->wc, "%s: tls_server_config.%s '%s': cannot read: %s", p->path,
			       what, *path, strerror(errno));
	return 0;
}

/*
 * The certificate chain and key through GnuTLS, as libmicrohttpd will load
 * them: a wrong format, an encrypted key or a key of another certificate is
 * named here instead of a bare "cannot start the daemon" later.
 */
static int wc_check_tls(struct webconfig *wc, const char *path)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert = { (unsigned char *)wc->cert_pem, strlen(wc->cert_pem) };
	gnutls_datum_t key = { (unsigned char *)wc->key_pem, strlen(wc->key_pem) };
	int ret;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return wc_fail(wc, "out of memory");
	ret = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (ret >= 0)
		return 0;
	if (ret == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
		return wc_fail(wc, "%s: key_file '%s' is not the key of cert_file '%s'", path,
			       wc->key_file, wc->cert_file);
	return wc_fail(wc, "%s: cannot load cert_file '%s' with key_file '%s' (a PEM "
		       "certificate and an unencrypted PEM key): %s", path, wc->cert_file,
		       wc->key_file, gnutls_strerror(ret));
}

static int wc_parse_tls(struct wc_parse *p, const yaml_node_t *map)
{
	struct webconfig *wc = p->wc;
	const char *cert = NULL, *key = NULL;
	yaml_node_pair_t *pairs;
	int n, i;

	if (wc_is_null(map))
		return 0;
	n = wc_pairs(p, map, "tls_server_config", &pairs);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		yaml_node_t *k = wc_node(p, pairs[i].key), *v = wc_node(p, pairs[i].value);

		if (!strcmp(wc_scalar(k), "cert_file")) {
			cert = wc_string(p, v, "tls_server_config.cert_file");
			if (!cert)
				return -1;
		} else if (!strcmp(wc_scalar(k), "key_file")) {
			key = wc_string(p, v, "tls_server_config.key_file");
			if (!key)
				return -1;
		} else {
			return wc_unknown(p, k, "tls_server_config", "cert_file, key_file");
		}
	}
	if (!cert || !key)
		return wc_fail(wc, "%s: line %lu: tls_server_config needs both cert_file and "
			       "key_file (%s missing)", p->path, wc_line(map),
			       cert ? "key_file" : "cert_file");
	if (wc_read_pem(p, "cert_file", cert, &wc->cert_file, &wc->cert_pem) ||
	    wc_read_pem(p, "key_file", key, &wc->key_file, &wc->key_pem))
		return -1;
	return wc_check_tls(wc, p->path);
}

/*
 * What libxcrypt calls bcrypt: $2a$, $2b$ or $2y$, a two-digit cost, then 22
 * characters of salt and 31 of hash in bcrypt's base64. bcrypt allows costs
 * up to 31; above WEBCONFIG_MAX_COST one check takes over a second of CPU
 * (cost 12: 0.2 s, each step doubles it), and every wrong password would
 * hold one of the two HTTP threads that long.
 */
#define WEBCONFIG_MAX_COST	14

static bool wc_is_bcrypt(const char *h)
{
	static const char b64[] =
		"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	int cost;

	if (strlen(h) != 60 || h[0] != '$' || h[1] != '2' || !strchr("aby", h[2]) ||
	    h[3] != '$' || h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' || h[6] != '$')
		return false;
	cost = (h[4] - '0') * 10 + (h[5] - '0');
	if (cost < 4 || cost > WEBCONFIG_MAX_COST)
		return false;
	return strspn(h + 7, b64) == 53;
}

/* crypt_rn(@pass, @hash) == @hash; false also when libcrypt refuses @hash */
static bool wc_bcrypt_matches(const char *pass, const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *out;
	bool ok = false;

	if (!cd)
		return false;
	out = crypt_rn(pass, hash, cd, sizeof(*cd));
	if (out && strlen(out) == strlen(hash)) {
		unsigned char diff = 0;
		size_t i;

		for (i = 0; hash[i]; i++)
			diff |= (unsigned char)out[i] ^ (unsigned char)hash[i];
		ok = !diff;
	}
	free(cd);
	return ok;
}

/*
 * libcrypt takes @hash as a bcrypt setting: hashing with its salt keeps the
 * salt. Checked at cost 04, so that loading costs a millisecond per user.
 */
static bool wc_bcrypt_accepts(const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char setting[61];
	const char *out;
	bool ok;

	if (!cd)
		return false;
	snprintf(setting, sizeof(setting), "%s", hash);
	setting[4] = '0';
	setting[5] = '4';
	out = crypt_rn("", setting, cd, sizeof(*cd));
	ok = out && strlen(out) == 60 && !strncmp(out + 7, hash + 7, 22);
	free(cd);
	return ok;
}

static int wc_parse_users(struct wc_parse *p, const yaml_node_t *map)
{
	struct webconfig *wc = p->wc;
	yaml_node_pair_t *pairs;
	int n, i;

	if (wc_is_null(map))
		return 0;
	n = wc_pairs(p, map, "basic_auth_users", &pairs);
	if (n < 0)
		return -1;
	if (n > WEBCONFIG_MAX_USERS)
		return wc_fail(wc, "%s: basic_auth_users: %d users, at most %d", p->path, n,
			       WEBCONFIG_MAX_USERS);
	for (i = 0; i < n; i++) {
		yaml_node_t *k = wc_node(p, pairs[i].key), *v = wc_node(p, pairs[i].value);
		struct webconfig_user *u = &wc->users[wc->nr_users];
		const char *hash;

		if (!wc_scalar(k)[0] || strchr(wc_scalar(k), ':'))
			return wc_fail(wc, "%s: line %lu: basic_auth_users: a user name must be "
				       "non-empty and without ':' (HTTP basic auth)", p->path,
				       wc_line(k));
		if (v->type != YAML_SCALAR_NODE || wc_is_null(v))
			return wc_fail(wc, "%s: line %lu: basic_auth_users.%s: expected a bcrypt "
				       "hash", p->path, wc_line(v), wc_scalar(k));
		hash = wc_scalar(v);
		if (!wc_is_bcrypt(hash) || !wc_bcrypt_accepts(hash))
			return wc_fail(wc, "%s: line %lu: basic_auth_users.%s: not a bcrypt hash "
				       "($2a$, $2b$ or $2y$, cost 04-14, 60 characters; make one "
				       "with: htpasswd -nbBC 10 USER PASSWORD | cut -d: -f2)", p->path,
				       wc_line(v), wc_scalar(k));
		u->name = strdup(wc_scalar(k));
		u->hash = strdup(hash);
		if (!u->name || !u->hash)
			return wc_fail(wc, "out of memory");
		wc->nr_users++;
	}
	return 0;
}

static int wc_parse_root(struct wc_parse *p)
{
	yaml_node_t *root = yaml_document_get_root_node(&p->doc);
	yaml_node_pair_t *pairs;
	int n, i;

	/* an empty file (or only comments): plain HTTP, no auth, like the toolkit */
	if (!root || wc_is_null(root))
		return 0;
	n = wc_pairs(p, root, "the file", &pairs);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		yaml_node_t *k = wc_node(p, pairs[i].key), *v = wc_node(p, pairs[i].value);
		int err;

		if (!strcmp(wc_scalar(k), "tls_server_config"))
			err = wc_parse_tls(p, v);
		else if (!strcmp(wc_scalar(k), "basic_auth_users"))
			err = wc_parse_users(p, v);
		else
			err = wc_unknown(p, k, NULL, "tls_server_config, basic_auth_users");
		if (err)
			return -1;
	}
	return 0;
}

static int wc_parse_text(struct wc_parse *p, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int err = 0;

	if (!yaml_parser_initialize(&parser))
		return wc_fail(p->wc, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &p->doc)) {
		err = wc_fail(p->wc, "%s: line %lu column %lu: bad YAML: %s%s%s", p->path,
			      (unsigned long)parser.problem_mark.line + 1,
			      (unsigned long)parser.problem_mark.column + 1,
			      parser.problem ? parser.problem : "parse error",
			      parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return err;
	}
	/* a second document ("---") would be ignored silently: refuse it */
	if (yaml_document_get_root_node(&p->doc)) {
		if (!yaml_parser_load(&parser, &extra)) {
			err = wc_fail(p->wc, "%s: line %lu: bad YAML: %s", p->path,
				      (unsigned long)parser.problem_mark.line + 1,
				      parser.problem ? parser.problem : "parse error");
		} else {
			if (yaml_document_get_root_node(&extra))
				err = wc_fail(p->wc, "%s: more than one YAML document", p->path);
			yaml_document_delete(&extra);
		}
	}
	yaml_parser_delete(&parser);
	if (!err)
		err = wc_parse_root(p);
	yaml_document_delete(&p->doc);
	return err;
}

int webconfig_load(struct webconfig *wc, const char *path)
{
	size_t len;
	char *text;
	int err;

	text = file_slurp(path, &len);
	if (!text) {
		memset(wc, 0, sizeof(*wc));
		pthread_mutex_init(&wc->lock, NULL);
		return wc_fail(wc, "%s: cannot read: %s", path,
			       errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
	}
	err = webconfig_parse(wc, text, len, path);
	free(text);
	return err;
}

int webconfig_parse(struct webconfig *wc, const char *text, size_t len, const char *path)
{
	struct wc_parse p = { .wc = wc, .path = path };
	const char *slash;
	int err;

	memset(wc, 0, sizeof(*wc));
	pthread_mutex_init(&wc->lock, NULL);
	if (memchr(text, '\0', len))
		return wc_fail(wc, "%s: not a text file (NUL byte)", path);
	slash = strrchr(path, '/');
	if (slash)
		p.dir = strndup(path, slash == path ? 1 : slash - path);
	err = wc_parse_text(&p, text, len);
	free(p.dir);
	if (!err && getrandom(wc->cache_key, sizeof(wc->cache_key), 0) != sizeof(wc->cache_key))
		err = wc_fail(wc, "getrandom: %s", strerror(errno));
	if (err) {
		char msg[sizeof(wc->err)];

		memcpy(msg, wc->err, sizeof(msg));
		webconfig_free(wc);
		memcpy(wc->err, msg, sizeof(msg));
		return -1;
	}
	return 0;
}

void webconfig_free(struct webconfig *wc)
{
	int i;

	free(wc->cert_file);
	free(wc->key_file);
	free(wc->cert_pem);
	if (wc->key_pem) {
		explicit_bzero(wc->key_pem, strlen(wc->key_pem));
		free(wc->key_pem);
	}
	for (i = 0; i < wc->nr_users; i++) {
		free(wc->users[i].name);
		free(wc->users[i].hash);
	}
	pthread_mutex_destroy(&wc->lock);
	memset(wc, 0, sizeof(*wc));
}

static int wc_digest(const struct webconfig *wc, const char *pass,
		     unsigned char out[WEBCONFIG_DIGEST_LEN])
{
	size_t n = strlen(pass);
	unsigned char *buf = malloc(sizeof(wc->cache_key) + n);
	int ret;

	if (!buf)
		return -1;
	memcpy(buf, wc->cache_key, sizeof(wc->cache_key));
	memcpy(buf + sizeof(wc->cache_key), pass, n);
	ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, buf, sizeof(wc->cache_key) + n, out);
	explicit_bzero(buf, sizeof(wc->cache_key) + n);
	free(buf);
	return ret < 0 ? -1 : 0;
}

enum webconfig_auth webconfig_check(struct webconfig *wc, const char *user, const char *pass)
{
	unsigned char d[WEBCONFIG_DIGEST_LEN];
	struct webconfig_user *u = NULL;
	bool have_digest, hit = false;
	int i;

	if (!user || !pass)
		return WEBCONFIG_AUTH_MISSING;
	for (i = 0; i < wc->nr_users; i++)
		if (!strcmp(wc->users[i].name, user))
			u = &wc->users[i];
	if (!u) {
		/* as slow as a known user's check: no user-name probing by timing */
		wc_bcrypt_matches(pass, wc->users[0].hash);
		return WEBCONFIG_AUTH_WRONG;
	}
	have_digest = !wc_digest(wc, pass, d);
	if (have_digest) {
		unsigned char diff = 0;

		pthread_mutex_lock(&wc->lock);
		if (u->cached) {
			for (i = 0; i < WEBCONFIG_DIGEST_LEN; i++)
				diff |= u->digest[i] ^ d[i];
			hit = !diff;
		}
		pthread_mutex_unlock(&wc->lock);
	}
	if (hit)
		return WEBCONFIG_AUTH_OK;
	if (!wc_bcrypt_matches(pass, u->hash))
		return WEBCONFIG_AUTH_WRONG;
	if (have_digest) {
		pthread_mutex_lock(&wc->lock);
		memcpy(u->digest, d, sizeof(d));
		u->cached = true;
		pthread_mutex_unlock(&wc->lock);
	}
	return WEBCONFIG_AUTH_OK;
}
