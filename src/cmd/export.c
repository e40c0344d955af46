// SPDX-License-Identifier: GPL-2.0
/*
 * iommutrace export: a Prometheus exporter. The BPF programs stay attached;
 * a collector thread reads the model every interval into a snapshot buffer
 * and publishes it; each scrape renders the last published snapshot.
 *
 * Snapshots are reference counted so neither side waits on the other: the
 * collector fills a buffer no scrape can see, then swaps the published
 * pointer under a mutex held for a few instructions; a scrape takes a
 * reference under the same mutex and renders without it. A buffer goes back
 * to the collector when its last scrape drops it. A scrape never touches a
 * BPF map.
 *
 * The HTTP side follows node_exporter: gzip when the client accepts it,
 * --web.config.file for TLS and basic auth (src/webconfig.c).
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <zlib.h>

#include "collector.h"
#include "common.h"
#include "devfilter.h"
#include "pin.h"
#include "prom.h"
#include "session.h"
#include "subcommands.h"
#include "webconfig.h"

#define EXPORT_DEFAULT_ADDR	"127.0.0.1:19120"
#define EXPORT_DEFAULT_PATH	"/metrics"
#define EXPORT_DEFAULT_INTERVAL	5.0
#define EXPORT_MAX_CONNECTIONS	128	/* beyond this, accept() waits */
#define EXPORT_CONN_TIMEOUT	10	/* seconds idle before a client is dropped */
#define EXPORT_THREADS		2
/*
 * zlib's default level, as Prometheus's own Go client compresses: a
 * 256-device scrape, 2.6 MB, takes ~12 ms to 128 kB (level 1: 5 ms to
 * 149 kB; test_prom prints both). Against a scrape every 15 s either is
 * noise, and the smaller body is what crosses the network.
 */
#define EXPORT_GZIP_LEVEL	Z_DEFAULT_COMPRESSION
#define EXPORT_REALM		"iommutrace"

/* Long-only options; past session.h's IT_OPT_* */
enum { EXPORT_OPT_LISTEN = 0x200, EXPORT_OPT_PATH, EXPORT_OPT_WEB_CONFIG, EXPORT_OPT_MAX_DEVICES,
       EXPORT_OPT_NO_SHARE };

struct snapbuf {
	struct it_snapshot s;
	struct prom_state st;		/* what the scrapes of @s serve beyond it */
	int refs;
};

struct exporter {
	struct it_collector col;
	struct it_session_opts opts;	/* -f, -S, -W, PMU options; no -d */
	double interval;
	const char *listen;
	const char *path;
	char index_html[1024];
	pthread_mutex_t lock;		/* guards pub, spare and refs */
	struct snapbuf *pub;		/* last complete snapshot; NULL before the first */
	struct snapbuf *spare;		/* a released buffer for the next read */
	atomic_bool stop;
	pthread_t thread;
	int read_err;
	struct prom_state pstate;	/* collector side only */
	bool pmu_noted;			/* why there are no counters: said */
	const char *web_config;		/* --web.config.file */
	struct webconfig wc;		/* TLS and users; empty without the flag */
	/* the HTTP threads' figures (iommutrace_exporter_*) */
	atomic_uint_least64_t scrapes[PROM_ENC_MAX], bytes[PROM_ENC_MAX], gzip_saved;
	atomic_uint_least64_t unauth_missing, unauth_wrong;
};

static void snap_put(struct exporter *ex, struct snapbuf *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&ex->lock);
	if (--b->refs == 0) {
		if (!ex->spare) {
			ex->spare = b;
			b = NULL;
		}
	} else {
		b = NULL;
	}
	pthread_mutex_unlock(&ex->lock);
	free(b);
}

static struct snapbuf *snap_get(struct exporter *ex)
{
	struct snapbuf *b;

	pthread_mutex_lock(&ex->lock);
	b = ex->pub;
	if (b)
		b->refs++;
	pthread_mutex_unlock(&ex->lock);
	return b;
}

/* One collection: read the maps into a private buffer, then publish it. */
static int export_collect(struct exporter *ex)
{
	struct snapbuf *b, *old;
	int err;

	pthread_mutex_lock(&ex->lock);
	b = ex->spare;
	ex->spare = NULL;
	pthread_mutex_unlock(&ex->lock);
	if (!b) {
		b = malloc(sizeof(*b));
		if (!b)
			return -ENOMEM;
	}
	err = collector_read(&ex->col, &b->s);
	if (err) {
		b->refs = 1;
		snap_put(ex, b);
		return err;
	}
	prom_state_update(&ex->pstate, &b->s);
	b->st = ex->pstate;
	b->refs = 1;			/* the publication's reference */
	pthread_mutex_lock(&ex->lock);
	old = ex->pub;
	ex->pub = b;
	pthread_mutex_unlock(&ex->lock);
	snap_put(ex, old);
	return 0;
}

/*
 * Hardware counters are a bonus: why there are none (or why a device has
 * none) is said once per run, when first known, and never again.
 */
static void export_pmu_note(struct exporter *ex, const struct it_pmu_view *v)
{
	if (ex->pmu_noted || ex->opts.copts.no_pmu || !v->msg[0])
		return;
	ex->pmu_noted = true;
	if (v->nr_rows)
		it_warn("export: %s", v->msg);
	else
		it_warn("export: %s; serving iommutrace_pmu_up 0 and no IOTLB metrics", v->msg);
}

static void *export_collector_thread(void *arg)
{
	struct exporter *ex = arg;

	while (!atomic_load(&ex->stop)) {
		double deadline = it_now() + ex->interval;

		/* drain fault events meanwhile, so the ring buffer never fills */
		while (!atomic_load(&ex->stop)) {
			double left = deadline - it_now();

			if (left <= 0)
				break;
			collector_poll_faults(&ex->col, left > 0.1 ? 100 : (int)(left * 1000) + 1);
			/* a device's own counters start soon after its first DMA */
			collector_pmu_watch(&ex->col);
		}
		if (atomic_load(&ex->stop))
			break;
		ex->read_err = export_collect(ex);
		if (ex->read_err)
			it_warn("export: reading the BPF maps failed: %s", strerror(-ex->read_err));
		export_pmu_note(ex, &ex->col.pmu_view);
	}
	return NULL;
}

static struct MHD_Response *export_response(unsigned int status, const char *type, void *body,
					     size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return NULL;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	return r;
}

static enum MHD_Result export_reply(struct MHD_Connection *conn, unsigned int status,
				    const char *type, void *body, size_t len,
				    enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = export_response(status, type, body, len, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result export_text(struct MHD_Connection *conn, unsigned int status,
				   const char *text)
{
	return export_reply(conn, status, "text/plain; charset=utf-8", (void *)text,
			    strlen(text), MHD_RESPMEM_PERSISTENT);
}

static void export_http_stats(struct exporter *ex, struct prom_http_stats *h)
{
	int e;

	for (e = 0; e < PROM_ENC_MAX; e++) {
		h->scrapes[e] = atomic_load(&ex->scrapes[e]);
		h->bytes[e] = atomic_load(&ex->bytes[e]);
	}
	h->gzip_saved = atomic_load(&ex->gzip_saved);
	h->unauthorized_missing = atomic_load(&ex->unauth_missing);
	h->unauthorized_wrong = atomic_load(&ex->unauth_wrong);
}

/*
 * The rendered exposition as sent: gzip when the client accepts it (as
 * Prometheus does), plain otherwise or if compressing fails. Either way
 * Vary tells caches the body depends on Accept-Encoding.
 */
static enum MHD_Result export_send_metrics(struct exporter *ex, struct MHD_Connection *conn,
					   char *body, size_t len, bool head)
{
	const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_ACCEPT_ENCODING);
	int enc = PROM_ENC_IDENTITY;
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t plain = len;
	void *gz;
	size_t gzlen;

	if (prom_accepts_gzip(ae) && !prom_gzip(body, len, EXPORT_GZIP_LEVEL, &gz, &gzlen)) {
		free(body);
		body = gz;
		len = gzlen;
		enc = PROM_ENC_GZIP;
	}
	r = export_response(MHD_HTTP_OK, PROM_CONTENT_TYPE, body, len, MHD_RESPMEM_MUST_FREE);
	if (!r)
		return MHD_NO;
	if (enc == PROM_ENC_GZIP)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	/* HEAD sends no body: not a scrape */
	if (ret == MHD_YES && !head) {
		atomic_fetch_add(&ex->scrapes[enc], 1);
		atomic_fetch_add(&ex->bytes[enc], len);
		if (enc == PROM_ENC_GZIP && plain > len)
			atomic_fetch_add(&ex->gzip_saved, plain - len);
	}
	return ret;
}

static enum MHD_Result export_metrics(struct exporter *ex, struct MHD_Connection *conn,
				      bool head)
{
	struct snapbuf *b = snap_get(ex);
	struct prom_http_stats h;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	if (!b)
		return export_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no snapshot yet\n");
	f = open_memstream(&body, &len);
	if (!f) {
		snap_put(ex, b);
		return export_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	prom_render_state(f, &b->s, &b->st);
	snap_put(ex, b);
	export_http_stats(ex, &h);
	prom_render_exporter(f, &h);
	if (fclose(f)) {
		free(body);
		return export_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	return export_send_metrics(ex, conn, body, len, head);
}

/*
 * basic_auth_users: every path needs a user and its password; anything else
 * is a 401 with WWW-Authenticate, so a browser asks and Prometheus says why.
 * Returns true when the request may go on; else a 401 has been queued.
 */
static bool export_authorized(struct exporter *ex, struct MHD_Connection *conn,
			      enum MHD_Result *ret)
{
	static const char denied[] = "401 Unauthorized\n";
	enum webconfig_auth a;
	struct MHD_Response *r;
	char *user, *pass = NULL;

	if (!webconfig_auth(&ex->wc))
		return true;
	user = MHD_basic_auth_get_username_password(conn, &pass);
	a = webconfig_check(&ex->wc, user, pass);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	if (a == WEBCONFIG_AUTH_OK)
		return true;
	atomic_fetch_add(a == WEBCONFIG_AUTH_MISSING ? &ex->unauth_missing : &ex->unauth_wrong, 1);
	r = export_response(MHD_HTTP_UNAUTHORIZED, "text/plain; charset=utf-8", (void *)denied,
			    strlen(denied), MHD_RESPMEM_PERSISTENT);
	*ret = r ? MHD_queue_basic_auth_fail_response(conn, EXPORT_REALM, r) : MHD_NO;
	if (r)
		MHD_destroy_response(r);
	return false;
}

static enum MHD_Result export_handle(void *cls, struct MHD_Connection *conn, const char *url,
				     const char *method, const char *version,
				     const char *upload_data, size_t *upload_data_size,
				     void **req_ctx)
{
	static int request_seen;
	struct exporter *ex = cls;
	enum MHD_Result ret;

	/* GET and HEAD only; a body is never read: answer before it, then close */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return export_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	/*
	 * The first call comes with the headers; answering then would make MHD
	 * close the connection (the body is unread). Answer on the second call,
	 * once the request is complete, and keep-alive works.
	 */
	if (!*req_ctx) {
		*req_ctx = &request_seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;	/* a body on GET: ignored */
		return MHD_YES;
	}
	if (!export_authorized(ex, conn, &ret))
		return ret;
	if (!strcmp(url, ex->path))
		return export_metrics(ex, conn, !strcmp(method, MHD_HTTP_METHOD_HEAD));
	if (!strcmp(url, "/"))
		return export_reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8",
				    ex->index_html, strlen(ex->index_html),
				    MHD_RESPMEM_PERSISTENT);
	return export_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void export_mhd_log(void *cls, const char *fmt, va_list ap)
{
	if (!it_verbose)
		return;
	fprintf(stderr, "iommutrace: export: ");
	vfprintf(stderr, fmt, ap);
}

/*
 * HOST:PORT, [IPV6]:PORT or :PORT (every address), as node_exporter takes
 * --web.listen-address. Returns 0 and fills @ss, or IT_EXIT_USAGE.
 */
static int export_parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	char host[256];
	const char *colon, *port;
	unsigned long p;
	int err;

	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');

		if (!end || end[1] != ':' || end - arg - 1 >= (long)sizeof(host))
			goto bad;
		memcpy(host, arg + 1, end - arg - 1);
		host[end - arg - 1] = '\0';
		port = end + 2;
		hints.ai_family = AF_INET6;
	} else {
		colon = strrchr(arg, ':');
		if (!colon || colon - arg >= (long)sizeof(host) || strchr(arg, ':') != colon)
			goto bad;
		memcpy(host, arg, colon - arg);
		host[colon - arg] = '\0';
		port = colon + 1;
	}
	if (it_parse_uint(port, &p) || p == 0 || p > 65535)
		goto bad;
	err = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (err) {
		it_warn("export: --web.listen-address '%s': %s", arg, gai_strerror(err));
		return IT_EXIT_USAGE;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	it_warn("export: --web.listen-address '%s': expected HOST:PORT, [IPV6]:PORT or :PORT "
		"(port 1-65535)", arg);
	return IT_EXIT_USAGE;
}

static struct MHD_Daemon *export_http_start(struct exporter *ex, struct sockaddr_storage *ss)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, ex->wc.key_pem },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, ex->wc.cert_pem },
		{ MHD_OPTION_END, 0, NULL },
	};

	if (ss->ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (webconfig_tls(&ex->wc))
		flags |= MHD_USE_TLS;
	else
		tls[0].option = MHD_OPTION_END;
	return MHD_start_daemon(flags, 0, NULL, NULL, export_handle, ex,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)EXPORT_THREADS,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)EXPORT_MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)EXPORT_CONN_TIMEOUT,
				/* reject what RFC 7230 calls malformed (no Host: in HTTP/1.1, ...) */
				MHD_OPTION_STRICT_FOR_CLIENT, 1,
				MHD_OPTION_EXTERNAL_LOGGER, export_mhd_log, NULL,
				MHD_OPTION_ARRAY, tls,
				MHD_OPTION_END);
}

/*
 * --web.config.file, read before anything attaches: a bad file is exit
 * IT_EXIT_BAD_CONFIG with the file, line and reason.
 */
static int export_load_web_config(struct exporter *ex)
{
	if (!ex->web_config)
		return 0;
	if (webconfig_load(&ex->wc, ex->web_config)) {
		it_warn("export: --web.config.file %s", ex->wc.err);
		return IT_EXIT_BAD_CONFIG;
	}
	if (webconfig_tls(&ex->wc) && !MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		it_warn("export: --web.config.file %s: tls_server_config, but this "
			"libmicrohttpd was built without TLS", ex->web_config);
		return IT_EXIT_BAD_CONFIG;
	}
	if (webconfig_auth(&ex->wc) && !webconfig_tls(&ex->wc))
		it_warn("export: --web.config.file %s: basic_auth_users without "
			"tls_server_config: passwords cross the network in clear text",
			ex->web_config);
	return 0;
}

static const char export_usage[] =
"Usage: iommutrace export [--web.listen-address ADDR] [--web.telemetry-path PATH]\n"
"                         [--web.config.file FILE] [-d DEV] [--max-devices N]\n"
"                         [-i SECS] [-f] [-S N] [-W] [--deep] [--no-share]\n"
"                         [--no-pmu] [--pmu-sysfs ROOT]\n"
"Prometheus exporter: keeps the probes attached and serves per-device counters\n"
"and latency histograms on http://ADDR/PATH, and the IOMMU's hardware counters\n"
"(IOTLB lookups, hits, misses) where it has a PMU. SIGTERM or SIGINT detach and\n"
"exit 0; SIGHUP is ignored (nothing to reload: restart to change options).\n"
"It shares its BPF maps (pinned in " IT_PIN_DIR "): stat, top and record\n"
"started beside it read them instead of attaching a second set of hooks.\n"
"      --web.listen-address ADDR  HOST:PORT, [IPV6]:PORT or :PORT (all addresses)\n"
"                                 (default " EXPORT_DEFAULT_ADDR ")\n"
"      --web.telemetry-path PATH  where the metrics are (default " EXPORT_DEFAULT_PATH ")\n"
"      --web.config.file FILE     TLS and basic auth, node_exporter's format:\n"
"                                 tls_server_config: {cert_file, key_file},\n"
"                                 basic_auth_users: {USER: BCRYPT-HASH}\n"
"                                 (a bad file: exit 10)\n"
"  -d, --device DEV               serve only devices DEV matches (PCI address,\n"
"                                 prefix, or driver), as -d of stat\n"
"      --max-devices N            serve at most N devices, the first seen;\n"
"                                 the rest are counted as dropped\n"
"  -i, --interval SECS            read the BPF maps every SECS seconds (default 5)\n"
"  -f, --force                    run even if no IOMMU translates\n"
"  -S, --sample N                 time 1 in N operations (counts stay exact)\n"
"  -W, --no-walk                  skip the page-table walk on each map (--deep)\n"
"      --no-share                 do not pin the maps for other sessions\n"
SESSION_PMU_HELP
"Examples:\n"
"  iommutrace export -i 1 &  curl -s 127.0.0.1:19120/metrics | grep map_total\n"
"  iommutrace export --web.config.file /etc/iommutrace/web.yml -d nvme --max-devices 64\n";

static int export_parse(struct exporter *ex, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "web.listen-address", required_argument, NULL, EXPORT_OPT_LISTEN },
		{ "web.telemetry-path", required_argument, NULL, EXPORT_OPT_PATH },
		{ "web.config.file", required_argument, NULL, EXPORT_OPT_WEB_CONFIG },
		{ "max-devices", required_argument, NULL, EXPORT_OPT_MAX_DEVICES },
		{ "no-share", no_argument, NULL, EXPORT_OPT_NO_SHARE },
		{ "device", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "force", no_argument, NULL, 'f' },
		{ "sample", required_argument, NULL, 'S' },
		{ "no-walk", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		SESSION_PMU_LONGOPTS,
		{},
	};
	struct it_session_opts so = {};
	bool share = true;
	unsigned long n;
	int opt, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:fS:Wd:h", longopts, NULL)) != -1) {
		switch (opt) {
		case EXPORT_OPT_NO_SHARE:
			share = false;
			continue;
		case EXPORT_OPT_LISTEN:
			ex->listen = optarg;
			continue;
		case EXPORT_OPT_WEB_CONFIG:
			ex->web_config = optarg;
			continue;
		case EXPORT_OPT_MAX_DEVICES:
			if (it_parse_uint(optarg, &n) || n == 0 || n > IT_MAX_DEVS) {
				it_warn("export: --max-devices '%s': expected 1..%d", optarg,
					IT_MAX_DEVS);
				return IT_EXIT_USAGE;
			}
			ex->pstate.max_devices = n;
			continue;
		case 'd':
			if (!optarg[0]) {
				it_warn("export: -d: empty device");
				return IT_EXIT_USAGE;
			}
			ex->pstate.device = optarg;
			continue;
		case EXPORT_OPT_PATH:
			if (optarg[0] != '/' || !strcmp(optarg, "/") || strpbrk(optarg, "?#<>\"")) {
				it_warn("export: --web.telemetry-path '%s': must start with / "
					"and not be / itself", optarg);
				return IT_EXIT_USAGE;
			}
			ex->path = optarg;
			continue;
		case 'h':
			printf("%s", export_usage);
			return -1;
		}
		ret = session_parse_opt(&so, opt, optarg, "export");
		if (ret < 0) {
			fprintf(stderr, "%s", export_usage);
			return IT_EXIT_USAGE;
		}
		if (ret)
			return ret;
	}
	if (optind < argc) {
		it_warn("export: unexpected argument '%s'", argv[optind]);
		return IT_EXIT_USAGE;
	}
	if (so.interval)
		ex->interval = so.interval;
	ex->opts = so;
	ex->opts.copts.bpf_stats = true;	/* iommutrace_bpf_run_time_seconds_total */
	/* the host's daemon: its own hooks, its maps for stat, top and record */
	ex->opts.copts.own = true;
	ex->opts.copts.share = share;
	/*
	 * -d selects what is served, not what is traced: the BPF side counts
	 * every device (up to IT_MAX_DEVS), and hardware counters open for
	 * every device that maps, up to IT_PMU_DEV_ROWS.
	 */
	ex->pstate.pmu_disabled = ex->opts.copts.no_pmu;
	return 0;
}

/* The signals a daemon gets, waited for synchronously by the main thread. */
static void export_block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	/* blocked before any thread starts, so every thread inherits the mask */
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

static void export_wait_signals(const sigset_t *set)
{
	int sig;

	for (;;) {
		if (sigwait(set, &sig))
			continue;
		if (sig != SIGHUP)
			return;
		it_warn("export: SIGHUP ignored: no configuration to reload");
	}
}

static int export_run(struct exporter *ex)
{
	struct sockaddr_storage ss;
	struct MHD_Daemon *http;
	socklen_t sslen;
	sigset_t sigs;
	int ret;

	ret = export_parse_listen(ex->listen, &ss, &sslen);
	if (ret)
		return ret;
	ret = export_load_web_config(ex);
	if (ret)
		return ret;
	/*
	 * A daemon outlives today's devices (hotplug, vfio binds): a -d that
	 * matches nothing yet is said, not refused like stat's.
	 */
	if (ex->pstate.device && !devfilter_exists("", ex->pstate.device) &&
	    strcmp(ex->pstate.device, "unknown"))
		it_warn("export: -d %s matches no device now; its series appear when one does",
			ex->pstate.device);
	ret = session_open(&ex->col, &ex->opts, "export");
	if (ret)
		return ret;
	export_pmu_note(ex, &ex->col.pmu_view);
	/* the first snapshot exists before the first scrape can arrive */
	ret = export_collect(ex);
	if (ret) {
		it_warn("export: reading the BPF maps failed: %s", strerror(-ret));
		collector_close(&ex->col);
		return IT_EXIT_ERROR;
	}

	export_block_signals(&sigs);
	http = export_http_start(ex, &ss);
	if (!http) {
		it_warn("export: cannot listen on %s (address in use or not local?)", ex->listen);
		collector_close(&ex->col);
		return IT_EXIT_ERROR;
	}
	if (pthread_create(&ex->thread, NULL, export_collector_thread, ex)) {
		it_warn("export: cannot start the collector thread");
		MHD_stop_daemon(http);
		collector_close(&ex->col);
		return IT_EXIT_ERROR;
	}
	it_warn("export: serving %s://%s%s (%d hooks attached, reading every %gs%s)",
		webconfig_tls(&ex->wc) ? "https" : "http", ex->listen, ex->path,
		probes_nr_attached(&ex->col.probes), ex->interval,
		webconfig_auth(&ex->wc) ? ", basic auth" : "");

	export_wait_signals(&sigs);

	/* stop answering first, then stop reading, then detach */
	MHD_stop_daemon(http);
	atomic_store(&ex->stop, true);
	pthread_join(ex->thread, NULL);
	collector_close(&ex->col);
	return IT_EXIT_OK;
}

int cmd_export(int argc, char **argv)
{
	struct exporter *ex = calloc(1, sizeof(*ex));
	int ret;

	if (!ex)
		return IT_EXIT_ERROR;
	ex->listen = EXPORT_DEFAULT_ADDR;
	ex->path = EXPORT_DEFAULT_PATH;
	ex->interval = EXPORT_DEFAULT_INTERVAL;
	pthread_mutex_init(&ex->lock, NULL);
	ret = export_parse(ex, argc, argv);
	if (ret) {
		free(ex);
		return ret < 0 ? IT_EXIT_OK : ret;
	}
	snprintf(ex->index_html, sizeof(ex->index_html),
		 "<!DOCTYPE html>\n<html><head><title>iommutrace exporter</title></head>\n"
		 "<body><h1>iommutrace exporter</h1>\n"
		 "<p>What the Linux IOMMU costs, per device.</p>\n"
		 "<p><a href=\"%s\">Metrics</a></p>\n</body></html>\n", ex->path);
	ret = export_run(ex);
	webconfig_free(&ex->wc);
	free(ex->pub);
	free(ex->spare);
	free(ex);
	return ret;
}
