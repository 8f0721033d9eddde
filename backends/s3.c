// SPDX-License-Identifier: GPL-2.0-or-later
/* The S3 backend: extent copies as objects of an S3-compatible store.
 *
 * Layers, top down:
 *   - extent operations (ext_read/ext_write/...): object naming, the
 *     checksum trailer (backends/s3.h), the trailer and block caches, the
 *     sequential-read detector and its readahead workers;
 *   - s3_call(): one logical request with retries (exponential backoff
 *     with jitter, bounded in count and time), the in-flight bound
 *     (s3_parallel slots), health (BE_DOWN after a request fails for
 *     good with a transient error; a background thread probes until the
 *     store answers again) and the mapping of results to errno;
 *   - a transport that sends one HTTP request: libs3 (signature v2) or
 *     libcurl with CURLOPT_AWS_SIGV4 (signature v4).
 * No lock is held while a request is in flight. */
#include "backends/s3.h"

#include "common/clock.h"
#include "common/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <libs3.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define FOOTER_MAGIC      "DFS3EXT1"
#define SEED_K1           0x9E3779B97F4A7C15ull
#define SEED_K2           0xC2B2AE3D27D4EB4Full
#define NBUCKETS          4096          /* block cache hash buckets */
#define META_MAX          512           /* cached trailers */
#define CACHE_MAX_DEFAULT (64u << 20)   /* block cache bytes */
#define RUN_MAX_BLOCKS    64            /* blocks per foreground GET */
#define RA_CHUNK_BLOCKS   64            /* blocks per readahead GET (4 MiB) */
#define RA_WINDOW_BLOCKS  128           /* readahead distance (8 MiB) */
#define SEQ_SLACK         (256u << 10)  /* reordering a sequential reader may show */
#define RA_WORKERS_MAX    8
#define PF_RECENT         16            /* prefetch hints remembered (dedup) */
#define FORGOT_MAX        256           /* forgets remembered (forgot_since) */
#define BACKOFF_BASE_MS   100
#define BACKOFF_MAX_MS    5000
#define PROBE_MIN_MS      500           /* health probe interval while down */
#define PROBE_MAX_MS      5000
#define LIST_BODY_MAX     (16u << 20)   /* largest listing page we accept */
#define ERR_BODY_MAX      4096
#define PROBE_PREFIX      ".probe-"
#define PROBE_BYTES       4096

enum s3_op {
	OP_GET,
	OP_PUT,
	OP_HEAD,
	OP_DELETE,
	OP_LIST,
};

static const char *const op_names[] = { "GET", "PUT", "HEAD", "DELETE", "LIST" };

enum s3_net {
	NET_NONE = 0,          /* a response arrived (see http) */
	NET_CONN,              /* could not connect or resolve */
	NET_TIMEOUT,           /* connect or request timeout */
	NET_TLS,               /* TLS handshake or verification */
	NET_OTHER,             /* connection broken mid-request */
	NET_LOCAL,             /* a local failure (memory, our callback) */
};

/* One HTTP request as the layers above the transport describe it. */
struct s3_req {
	enum s3_op op;                 /* what to do */
	const char *key;               /* object key; NULL for OP_LIST */
	uint64_t roff;                 /* OP_GET: first byte */
	uint64_t rlen;                 /* OP_GET: bytes; 0 = the whole object */
	const char *body;              /* OP_PUT: data */
	size_t blen;                   /* its length */
	const char *tail;              /* OP_PUT: then these bytes */
	size_t tlen;                   /* their length */
	char *out;                     /* OP_GET: destination */
	size_t outcap;                 /* its size */
	const char *lprefix;           /* OP_LIST: key prefix */
	const char *marker;            /* OP_LIST: start after this key, or NULL */
	int maxkeys;                   /* OP_LIST: page size */
	/* OP_LIST: called per key; nonzero stops the listing */
	int (*lkey)(const char *key, uint64_t size, void *arg);
	void *larg;                    /* its argument */
	bool probe;                    /* health probe: no fail-fast, no retries */
};

/* What came back. */
struct s3_res {
	int http;                      /* HTTP status, 0 when none */
	int net;                       /* enum s3_net */
	char code[48];                 /* S3 error code, "" if none */
	char detail[200];              /* transport's message */
	uint64_t size;                 /* OP_HEAD: object size */
	size_t got;                    /* OP_GET: bytes received */
	bool overflow;                 /* OP_GET: more bytes than asked */
	int lstop;                     /* OP_LIST: lkey's nonzero return */
	bool truncated;                /* OP_LIST: more pages follow */
	char next_marker[BE_S3_KEY_MAX]; /* OP_LIST: where the next page starts */
};

/* One in-flight request's resources; s3_parallel of them. */
struct s3_slot {
	CURL *curl;                    /* curl transport: reused easy handle */
	S3RequestContext *ctx;         /* libs3 transport: request context */
	struct s3_slot *next;          /* free list */
};

struct s3;

struct s3_transport {
	const char *name;              /* for messages */
	int (*slot_init)(struct s3 *s, struct s3_slot *sl);
	void (*slot_fini)(struct s3_slot *sl);
	/* Sends rq once, within timeout_ms, filling rs. */
	void (*run)(struct s3 *s, struct s3_slot *sl, const struct s3_req *rq,
		    struct s3_res *rs, int64_t timeout_ms);
};

/* A copy's parsed trailer, shared by readers through a reference. */
struct meta_ent {
	uint64_t ino, off, ver;        /* the copy */
	uint64_t n;                    /* data bytes */
	uint32_t bsize;                /* block size */
	uint32_t nblk;                 /* blocks */
	uint64_t *sums;                /* nblk checksums */
	uint64_t seed;                 /* checksum seed of block 0 */
	int refs;                      /* list's + readers' + jobs' */
	bool dead;                     /* dropped from the list */
	uint64_t last_end;             /* end of the last read (relative) */
	int seq;                       /* consecutive sequential reads */
	uint32_t ra_next;              /* first block not yet read ahead */
	bool pf;                       /* fetched whole on a prefetch hint */
	uint64_t used;                 /* LRU tick */
	struct meta_ent *next;         /* list */
};

enum blk_state {
	BLK_PENDING = 0,               /* a fetch will fill it */
	BLK_READY = 1,                 /* verified data */
};

/* One block of one copy in the block cache. */
struct blk_ent {
	uint64_t ino, off, ver;        /* the copy */
	uint32_t blk;                  /* block index */
	int state;                     /* enum blk_state */
	uint64_t token;                /* the fetch that fills a pending entry */
	char *data;                    /* BLK_READY: the block's bytes */
	uint32_t len;                  /* their count */
	struct blk_ent *hnext;         /* hash chain */
	struct blk_ent *lprev, *lnext; /* LRU list (BLK_READY only) */
};

/* A readahead fetch for a worker, or (m NULL) a prefetch of copy px:
 * fetch its trailer, then read ahead its first blocks. */
struct ra_job {
	struct meta_ent *m;            /* the copy (a reference), or NULL */
	struct be_ext px;              /* m NULL: the copy to prefetch */
	uint32_t blk0, nblk;           /* blocks to fetch */
	uint64_t token;                /* of their pending entries */
	struct ra_job *next;           /* queue */
};

struct s3 {
	struct cfg_tier cfg;           /* the tier's configuration */
	const struct s3_transport *tp; /* libs3 or curl */
	char ak[CFG_S3_SECRET_MAX];    /* access key (never logged) */
	char sk[CFG_S3_SECRET_MAX];    /* secret key (never logged) */
	char sigv4[96];                /* "aws:amz:REGION:s3" */
	char base_url[CFG_S3_ENDPOINT_MAX + CFG_S3_BUCKET_MAX + 16]; /* curl */

	pthread_mutex_t slot_lock;     /* guards free_slots */
	pthread_cond_t slot_cond;      /* a slot was returned */
	struct s3_slot *slots;         /* s3_parallel slots */
	struct s3_slot *free_slots;    /* the unused ones */
	int nslots;                    /* count */

	int health;                    /* enum be_health (atomic) */
	pthread_mutex_t hlock;         /* guards hstop, wakes the prober */
	pthread_cond_t hcond;          /* health went down or stop */
	bool hstop;                    /* the prober must exit */
	bool hthread_ok;               /* hthread was started */
	pthread_t hthread;             /* the prober */

	pthread_mutex_t lock;          /* caches and readahead queue */
	pthread_cond_t ccond;          /* a pending block was settled */
	pthread_cond_t qcond;          /* a job was queued or stop */
	struct meta_ent *metas;        /* cached trailers */
	int nmeta;                     /* their count */
	uint64_t tick;                 /* LRU clock of metas */
	struct blk_ent *hash[NBUCKETS]; /* block cache */
	struct blk_ent *lru_head;      /* most recently used ready block */
	struct blk_ent *lru_tail;      /* least recently used */
	size_t cache_bytes;            /* bytes of ready blocks */
	size_t cache_max;              /* limit */
	uint64_t next_token;           /* fetch tokens */
	uint64_t forget_gen;           /* bumped by every forget: a trailer
					* or prefetch fetched across a forget
					* of its copy is not cached */
	uint64_t drop_gen;             /* forget_gen of the last forget of
					* everything (be_s3_drop_caches) */
	struct {
		uint64_t ino, off, ver, gen;
	} forgot[FORGOT_MAX];          /* the last forgets, by gen % max */
	struct ra_job *qhead, *qtail;  /* readahead queue */
	struct ra_job *pqhead, *pqtail; /* prefetch queue, served first */
	struct be_ext pf_busy[RA_WORKERS_MAX]; /* copies being prefetched */
	bool qstop;                    /* workers must exit */
	int nworkers;                  /* started workers */
	pthread_t workers[RA_WORKERS_MAX]; /* readahead workers */
	struct be_ext pf_recent[PF_RECENT]; /* last prefetch hints taken */
	unsigned pf_next;              /* next slot of pf_recent to reuse */

	struct be_s3_stats st;         /* counters (atomic adds) */
};

#define STAT_ADD(s, f, v) __atomic_add_fetch(&(s)->st.f, (uint64_t)(v), __ATOMIC_RELAXED)

static struct s3 *s3_of(struct backend *be)
{
	return be->priv;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t get_le32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t copy_seed(uint64_t ino, uint64_t off, uint64_t ver)
{
	return ino ^ (off * SEED_K1) ^ (ver * SEED_K2);
}

static int make_key(const struct s3 *s, uint64_t ino, uint64_t off,
		    uint64_t ver, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%016" PRIx64 "/%016" PRIx64 ".%016" PRIx64,
			 s->cfg.prefix, ino, off, ver);

	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : n;
}

/* ---- transport: libcurl, signature v4 --------------------------------- */

/* State of one curl request, for its callbacks. */
struct curl_io {
	const struct s3_req *rq;       /* the request */
	struct s3_res *rs;             /* its result */
	CURL *c;                       /* the handle */
	size_t sent;                   /* PUT: bytes handed to curl */
	char *body;                    /* LIST or error: collected body */
	size_t blen, bcap;             /* its length and size */
};

static int body_append(struct curl_io *io, const char *p, size_t n, size_t max)
{
	if (io->blen + n + 1 > io->bcap) {
		size_t cap = io->bcap ? io->bcap : 4096;
		char *nb;

		while (cap < io->blen + n + 1)
			cap *= 2;
		if (cap > max + 1)
			return -1;
		nb = realloc(io->body, cap);
		if (!nb)
			return -1;
		io->body = nb;
		io->bcap = cap;
	}
	memcpy(io->body + io->blen, p, n);
	io->blen += n;
	io->body[io->blen] = '\0';
	return 0;
}

static size_t curl_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct curl_io *io = arg;
	size_t n = size * nmemb;
	long code = 0;

	curl_easy_getinfo(io->c, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 300 || io->rq->op == OP_LIST) {
		if (body_append(io, p, n, code >= 300 ? ERR_BODY_MAX : LIST_BODY_MAX) < 0) {
			if (code >= 300)
				return n;  /* keep what we have of an error body */
			return 0;
		}
		return n;
	}
	if (io->rq->op != OP_GET)
		return n;
	if (io->rs->got + n > io->rq->outcap) {
		io->rs->overflow = true;
		return 0;
	}
	memcpy(io->rq->out + io->rs->got, p, n);
	io->rs->got += n;
	return n;
}

static size_t curl_read_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct curl_io *io = arg;
	size_t want = size * nmemb, done = 0;
	const struct s3_req *rq = io->rq;

	while (done < want && io->sent < rq->blen + rq->tlen) {
		size_t k;

		if (io->sent < rq->blen) {
			k = rq->blen - io->sent;
			if (k > want - done)
				k = want - done;
			memcpy(p + done, rq->body + io->sent, k);
		} else {
			size_t t = io->sent - rq->blen;

			k = rq->tlen - t;
			if (k > want - done)
				k = want - done;
			memcpy(p + done, rq->tail + t, k);
		}
		done += k;
		io->sent += k;
	}
	return done;
}

/* The text of <tag>...</tag> at or after *pos, entities decoded, into buf;
 * *pos moves past it. Returns false when there is none before `end`. */
static bool xml_tag(const char **pos, const char *end, const char *tag,
		    char *buf, size_t len)
{
	char open[48], close[48];
	const char *b, *e;
	size_t o = 0;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	b = strstr(*pos, open);
	if (!b || (end && b >= end))
		return false;
	b += strlen(open);
	e = strstr(b, close);
	if (!e || (end && e > end))
		return false;
	*pos = e + strlen(close);
	while (b < e && o + 1 < len) {
		static const struct { const char *ent; char c; } ents[] = {
			{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
			{ "&quot;", '"' }, { "&apos;", '\'' },
		};
		bool hit = false;

		for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
			size_t el = strlen(ents[i].ent);

			if ((size_t)(e - b) >= el && strncmp(b, ents[i].ent, el) == 0) {
				buf[o++] = ents[i].c;
				b += el;
				hit = true;
				break;
			}
		}
		if (!hit)
			buf[o++] = *b++;
	}
	buf[o] = '\0';
	return true;
}

/* Feeds the keys of a ListBucketResult body to rq->lkey. */
static void list_parse(const struct s3_req *rq, struct s3_res *rs,
		       const char *body)
{
	const char *pos = body, *c;
	char key[BE_S3_KEY_MAX * 2], size[32], trunc[16];
	const char *q = body;

	rs->truncated = xml_tag(&q, NULL, "IsTruncated", trunc, sizeof(trunc)) &&
			strcmp(trunc, "true") == 0;
	q = body;
	if (!xml_tag(&q, NULL, "NextMarker", rs->next_marker, sizeof(rs->next_marker)))
		rs->next_marker[0] = '\0';
	while ((c = strstr(pos, "<Contents>")) != NULL) {
		const char *cend = strstr(c, "</Contents>"), *k = c;

		if (!cend)
			break;
		pos = cend + 1;
		if (!xml_tag(&k, cend, "Key", key, sizeof(key)))
			continue;
		k = c;
		if (!xml_tag(&k, cend, "Size", size, sizeof(size)))
			size[0] = '\0';
		if ((!rs->next_marker[0] || rs->truncated) &&
		    strlen(key) < sizeof(rs->next_marker))
			memcpy(rs->next_marker, key, strlen(key) + 1);
		if (!rs->lstop && rq->lkey)
			rs->lstop = rq->lkey(key, strtoull(size, NULL, 10), rq->larg);
		if (rs->lstop)
			break;
	}
}

static int curl_slot_init(struct s3 *s, struct s3_slot *sl)
{
	sl->curl = curl_easy_init();
	return sl->curl ? 0 : -ENOMEM;
}

static void curl_slot_fini(struct s3_slot *sl)
{
	if (sl->curl)
		curl_easy_cleanup(sl->curl);
	sl->curl = NULL;
}

static const struct s3_transport libs3_transport;

/* The "Date" and "Authorization" headers of a signature v2 listing (the
 * libs3 transport sends its listings through curl: libs3 takes a reply
 * cut short for a complete one). */
static struct curl_slist *v2_list_headers(const struct s3 *s,
					  struct curl_slist *hdrs)
{
	char date[64], sts[128 + CFG_S3_BUCKET_MAX], hdr[128 + CFG_S3_SECRET_MAX];
	unsigned char mac[EVP_MAX_MD_SIZE], b64[4 * EVP_MAX_MD_SIZE / 3 + 4];
	unsigned int mlen = 0;
	struct curl_slist *h;
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(sts, sizeof(sts), "GET\n\n\n%s\n/%s/", date, s->cfg.bucket);
	if (!HMAC(EVP_sha1(), s->sk, (int)strlen(s->sk), (const unsigned char *)sts,
		  strlen(sts), mac, &mlen))
		return hdrs;
	EVP_EncodeBlock(b64, mac, (int)mlen);
	snprintf(hdr, sizeof(hdr), "Date: %s", date);
	if ((h = curl_slist_append(hdrs, hdr)))
		hdrs = h;
	snprintf(hdr, sizeof(hdr), "Authorization: AWS %s:%s", s->ak, b64);
	if ((h = curl_slist_append(hdrs, hdr)))
		hdrs = h;
	explicit_bzero(hdr, sizeof(hdr));
	return hdrs;
}

static void curl_run(struct s3 *s, struct s3_slot *sl, const struct s3_req *rq,
		     struct s3_res *rs, int64_t timeout_ms)
{
	bool v2 = s->tp == &libs3_transport;
	struct curl_io io = { .rq = rq, .rs = rs, .c = sl->curl };
	struct curl_slist *hdrs = NULL, *h;
	char url[sizeof(s->base_url) + 3 * BE_S3_KEY_MAX + 64], range[64];
	CURL *c = sl->curl;
	CURLcode cc;
	long code = 0;

	curl_easy_reset(c);
	if (rq->op == OP_LIST) {
		char *p = curl_easy_escape(c, rq->lprefix, 0);
		char *m = rq->marker ? curl_easy_escape(c, rq->marker, 0) : NULL;

		/* query parameters sorted, as the v4 canonical request wants */
		snprintf(url, sizeof(url), "%s%s?%s%s%smax-keys=%d&prefix=%s",
			 s->base_url, s->cfg.addressing == CFG_S3_VIRTUAL || v2 ? "/" : "",
			 m ? "marker=" : "", m ? m : "", m ? "&" : "", rq->maxkeys,
			 p ? p : "");
		curl_free(p);
		curl_free(m);
	} else {
		snprintf(url, sizeof(url), "%s/%s", s->base_url, rq->key);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(s->cfg.connect_timeout * 1000));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 1));
	if (v2) {
		hdrs = v2_list_headers(s, hdrs);
	} else {
		curl_easy_setopt(c, CURLOPT_USERNAME, s->ak);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s->sk);
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &io);
	/* v4 signs it; a v2 signature would have to cover it (x-amz-) */
	if (!v2 && (h = curl_slist_append(hdrs,
				  "x-amz-content-sha256: UNSIGNED-PAYLOAD")))
		hdrs = h;
	h = curl_slist_append(hdrs, "Expect:");
	if (h)
		hdrs = h;
	switch (rq->op) {
	case OP_GET:
		if (rq->rlen) {
			snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, rq->roff,
				 rq->roff + rq->rlen - 1);
			curl_easy_setopt(c, CURLOPT_RANGE, range);
		}
		break;
	case OP_PUT:
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, curl_read_cb);
		curl_easy_setopt(c, CURLOPT_READDATA, &io);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(rq->blen + rq->tlen));
		break;
	case OP_HEAD:
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		break;
	case OP_DELETE:
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	case OP_LIST:
		break;
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && code >= 300)) {
		switch (cc) {
		case CURLE_COULDNT_CONNECT:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
			rs->net = NET_CONN;
			break;
		case CURLE_OPERATION_TIMEDOUT:
			rs->net = NET_TIMEOUT;
			break;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_ISSUER_ERROR:
			rs->net = NET_TLS;
			break;
		case CURLE_WRITE_ERROR:
		case CURLE_OUT_OF_MEMORY:
		case CURLE_ABORTED_BY_CALLBACK:
			rs->net = NET_LOCAL;
			break;
		default:
			rs->net = NET_OTHER;
			break;
		}
		snprintf(rs->detail, sizeof(rs->detail), "curl: %s", curl_easy_strerror(cc));
		goto out;
	}
	rs->http = (int)code;
	if (code >= 300) {
		const char *q = io.body ? io.body : "";
		char msg[160];

		if (!xml_tag(&q, NULL, "Code", rs->code, sizeof(rs->code)))
			rs->code[0] = '\0';
		q = io.body ? io.body : "";
		if (xml_tag(&q, NULL, "Message", msg, sizeof(msg)))
			snprintf(rs->detail, sizeof(rs->detail), "%s", msg);
		goto out;
	}
	if (rq->op == OP_HEAD) {
		curl_off_t len = -1;

		curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
		rs->size = len < 0 ? 0 : (uint64_t)len;
	}
	if (rq->op == OP_GET && rq->rlen && code != 206 &&
	    !(rq->roff == 0 && rs->got == rq->rlen)) {
		rs->overflow = true;  /* the range was ignored */
	}
	if (rq->op == OP_LIST) {
		if (!io.body || !strstr(io.body, "</ListBucketResult>")) {
			rs->net = NET_OTHER;
			snprintf(rs->detail, sizeof(rs->detail), "listing cut short");
			goto out;
		}
		list_parse(rq, rs, io.body);
	}
out:
	curl_slist_free_all(hdrs);
	free(io.body);
}

static const struct s3_transport curl_transport = {
	.name = "curl (signature v4)",
	.slot_init = curl_slot_init,
	.slot_fini = curl_slot_fini,
	.run = curl_run,
};

/* ---- transport: libs3, signature v2 ------------------------------------ */

/* State of one libs3 request, for its callbacks. */
struct l3_io {
	const struct s3_req *rq;       /* the request */
	struct s3_res *rs;             /* its result */
	size_t sent;                   /* PUT: bytes handed over */
	bool done;                     /* the complete callback ran */
	bool connected;                /* a byte went or came: past connecting */
	S3Status status;               /* its status */
};

static S3Status l3_props_cb(const S3ResponseProperties *p, void *arg)
{
	struct l3_io *io = arg;

	io->connected = true;
	io->rs->size = p->contentLength;
	return S3StatusOK;
}

static void l3_complete_cb(S3Status st, const S3ErrorDetails *d, void *arg)
{
	struct l3_io *io = arg;

	io->done = true;
	io->status = st;
	if (st != S3StatusOK && d && d->message)
		snprintf(io->rs->detail, sizeof(io->rs->detail), "%s", d->message);
}

static S3Status l3_get_cb(int size, const char *buf, void *arg)
{
	struct l3_io *io = arg;

	if (io->rs->got + (size_t)size > io->rq->outcap) {
		io->rs->overflow = true;
		return S3StatusAbortedByCallback;
	}
	memcpy(io->rq->out + io->rs->got, buf, (size_t)size);
	io->rs->got += (size_t)size;
	return S3StatusOK;
}

static int l3_put_cb(int size, char *buf, void *arg)
{
	struct l3_io *io = arg;
	const struct s3_req *rq = io->rq;
	size_t want = (size_t)size, done = 0;

	io->connected = true;
	while (done < want && io->sent < rq->blen + rq->tlen) {
		size_t k;

		if (io->sent < rq->blen) {
			k = rq->blen - io->sent;
			if (k > want - done)
				k = want - done;
			memcpy(buf + done, rq->body + io->sent, k);
		} else {
			size_t t = io->sent - rq->blen;

			k = rq->tlen - t;
			if (k > want - done)
				k = want - done;
			memcpy(buf + done, rq->tail + t, k);
		}
		done += k;
		io->sent += k;
	}
	return (int)done;
}

static S3Status l3_list_cb(int truncated, const char *next_marker, int count,
			   const S3ListBucketContent *contents, int nprefixes,
			   const char **prefixes, void *arg)
{
	struct l3_io *io = arg;
	struct s3_res *rs = io->rs;

	rs->truncated = truncated;
	for (int i = 0; i < count && !rs->lstop; i++) {
		snprintf(rs->next_marker, sizeof(rs->next_marker), "%s", contents[i].key);
		if (io->rq->lkey)
			rs->lstop = io->rq->lkey(contents[i].key, contents[i].size,
						 io->rq->larg);
	}
	if (next_marker && next_marker[0])
		snprintf(rs->next_marker, sizeof(rs->next_marker), "%s", next_marker);
	return rs->lstop ? S3StatusAbortedByCallback : S3StatusOK;
}

/* libs3's status as an HTTP status, an S3 code or a network class. */
static void l3_map(S3Status st, struct s3_res *rs)
{
	int http = 0;
	const char *code = "";

	switch (st) {
	case S3StatusOK:
		http = 200;
		break;
	case S3StatusErrorNoSuchKey:
		http = 404;
		code = "NoSuchKey";
		break;
	case S3StatusHttpErrorNotFound:
		http = 404;
		break;
	case S3StatusErrorNoSuchBucket:
		http = 404;
		code = "NoSuchBucket";
		break;
	case S3StatusErrorAccessDenied:
	case S3StatusErrorInvalidAccessKeyId:
	case S3StatusErrorSignatureDoesNotMatch:
	case S3StatusErrorAccountProblem:
	case S3StatusErrorExpiredToken:
	case S3StatusErrorInvalidToken:
	case S3StatusErrorNotSignedUp:
	case S3StatusErrorRequestTimeTooSkewed:
	case S3StatusHttpErrorForbidden:
		http = 403;
		code = S3_get_status_name(st);
		break;
	case S3StatusErrorEntityTooLarge:
		http = 400;
		code = "EntityTooLarge";
		break;
	case S3StatusErrorInvalidRange:
		http = 416;
		code = "InvalidRange";
		break;
	case S3StatusErrorSlowDown:
		http = 503;
		code = "SlowDown";
		break;
	case S3StatusErrorInternalError:
	case S3StatusErrorUnknown:
	case S3StatusHttpErrorUnknown:
	case S3StatusErrorOperationAborted:
	case S3StatusErrorRequestTimeout:
	case S3StatusErrorIncompleteBody:
		http = 500;
		code = S3_get_status_name(st);
		break;
	case S3StatusNameLookupError:
	case S3StatusFailedToConnect:
		rs->net = NET_CONN;
		break;
	case S3StatusServerFailedVerification:
		rs->net = NET_TLS;
		break;
	case S3StatusConnectionFailed:
		rs->net = NET_OTHER;
		break;
	case S3StatusInterrupted:
		if (!rs->net)
			rs->net = NET_TIMEOUT;
		break;
	case S3StatusInternalError:
		/* libs3 2.0's answer to most libcurl failures: a connection
		 * reset, a server that closed without a reply. */
		rs->net = NET_OTHER;
		break;
	case S3StatusAbortedByCallback:
	case S3StatusOutOfMemory:
		if (!rs->lstop)
			rs->net = NET_LOCAL;
		break;
	default:
		http = 400;
		code = S3_get_status_name(st);
		break;
	}
	rs->http = http;
	snprintf(rs->code, sizeof(rs->code), "%s", code);
	if (st != S3StatusOK && !rs->detail[0])
		snprintf(rs->detail, sizeof(rs->detail), "libs3: %s", S3_get_status_name(st));
}

/* A libs3 request context, and a curl handle for the listings. */
static int l3_slot_init(struct s3 *s, struct s3_slot *sl)
{
	if (curl_slot_init(s, sl) < 0)
		return -ENOMEM;
	if (S3_create_request_context(&sl->ctx) == S3StatusOK)
		return 0;
	curl_slot_fini(sl);
	return -ENOMEM;
}

static void l3_slot_fini(struct s3_slot *sl)
{
	curl_slot_fini(sl);
	if (sl->ctx)
		S3_destroy_request_context(sl->ctx);
	sl->ctx = NULL;
}

/* Runs the requests of ctx until io->done or the deadline; then aborts
 * them (their complete callback reports S3StatusInterrupted). */
static void l3_drive(struct s3_slot *sl, struct l3_io *io, int64_t deadline,
		     int64_t conn_deadline)
{
	while (!io->done) {
		fd_set r, w, x;
		int maxfd = -1, remaining = 0;
		int64_t now = mono_ms(), left = deadline - now, t;

		/* libs3 has no connect timeout: until the connection carries
		 * a byte (a descriptor waits to read, or a callback ran), the
		 * request is connecting, bounded by connect_timeout */
		if (!io->connected && now >= conn_deadline && left > 0)
			left = 0;
		if (left <= 0) {
			io->rs->net = NET_TIMEOUT;
			snprintf(io->rs->detail, sizeof(io->rs->detail), "request timed out");
			S3_destroy_request_context(sl->ctx);
			sl->ctx = NULL;
			if (S3_create_request_context(&sl->ctx) != S3StatusOK)
				sl->ctx = NULL;
			break;
		}
		if (S3_runonce_request_context(sl->ctx, &remaining) != S3StatusOK &&
		    !io->done) {
			/* libs3 failed to drive curl: end like a broken connection */
			io->rs->net = NET_OTHER;
			snprintf(io->rs->detail, sizeof(io->rs->detail),
				 "libs3 could not run the request");
			S3_destroy_request_context(sl->ctx);
			if (S3_create_request_context(&sl->ctx) != S3StatusOK)
				sl->ctx = NULL;
			break;
		}
		if (io->done || remaining == 0)
			break;
		FD_ZERO(&r);
		FD_ZERO(&w);
		FD_ZERO(&x);
		S3_get_request_context_fdsets(sl->ctx, &r, &w, &x, &maxfd);
		for (int fd = 0; fd <= maxfd && !io->connected; fd++)
			if (FD_ISSET(fd, &r))
				io->connected = true;
		t = S3_get_request_context_timeout(sl->ctx);
		if (t < 0 || t > 50)
			t = 50;
		if (t > left)
			t = left;
		if (!io->connected && t > conn_deadline - now)
			t = conn_deadline - now > 0 ? conn_deadline - now : 0;
		if (maxfd >= 0) {
			struct timeval tv = { .tv_sec = 0, .tv_usec = (suseconds_t)(t * 1000) };

			select(maxfd + 1, &r, &w, &x, &tv);
		} else {
			/* no descriptor (or one beyond FD_SETSIZE): poll briefly */
			poll(NULL, 0, t > 5 ? 5 : (int)t);
		}
	}
}

static void l3_run(struct s3 *s, struct s3_slot *sl, const struct s3_req *rq,
		   struct s3_res *rs, int64_t timeout_ms)
{
	struct l3_io io = { .rq = rq, .rs = rs };
	S3BucketContext bc = {
		.hostName = s->cfg.endpoint,
		.bucketName = s->cfg.bucket,
		.protocol = s->cfg.tls ? S3ProtocolHTTPS : S3ProtocolHTTP,
		.uriStyle = s->cfg.addressing == CFG_S3_VIRTUAL ?
			    S3UriStyleVirtualHost : S3UriStylePath,
		.accessKeyId = s->ak,
		.secretAccessKey = s->sk,
	};
	S3ResponseHandler rh = { l3_props_cb, l3_complete_cb };
	S3GetObjectHandler gh = { rh, l3_get_cb };
	S3PutObjectHandler ph = { rh, l3_put_cb };
	S3ListBucketHandler lh = { rh, l3_list_cb };
	S3RequestContext *ctx = sl->ctx;

	if (rq->op == OP_LIST) {
		curl_run(s, sl, rq, rs, timeout_ms);
		return;
	}
	if (!ctx && S3_create_request_context(&sl->ctx) == S3StatusOK)
		ctx = sl->ctx;
	if (!ctx) {
		rs->net = NET_LOCAL;
		snprintf(rs->detail, sizeof(rs->detail), "libs3: no request context");
		return;
	}
	switch (rq->op) {
	case OP_GET:
		S3_get_object(&bc, rq->key, NULL, rq->roff, rq->rlen, ctx, &gh, &io);
		break;
	case OP_PUT:
		S3_put_object(&bc, rq->key, rq->blen + rq->tlen, NULL, ctx, &ph, &io);
		break;
	case OP_HEAD:
		S3_head_object(&bc, rq->key, ctx, &rh, &io);
		break;
	case OP_DELETE:
		S3_delete_object(&bc, rq->key, ctx, &rh, &io);
		break;
	case OP_LIST:
		S3_list_bucket(&bc, rq->lprefix, rq->marker, NULL, rq->maxkeys, ctx,
			       &lh, &io);
		break;
	}
	{
		int64_t t0 = mono_ms();

		l3_drive(sl, &io, t0 + (timeout_ms > 0 ? timeout_ms : 1),
			 t0 + (int64_t)s->cfg.connect_timeout * 1000);
	}
	if (!io.done) {
		if (!rs->net)
			rs->net = NET_TIMEOUT;
		return;
	}
	if (io.status == S3StatusAbortedByCallback && rs->overflow) {
		rs->net = NET_LOCAL;
		snprintf(rs->detail, sizeof(rs->detail), "more bytes than asked for");
		return;
	}
	if (rs->net == NET_TIMEOUT)
		return;
	l3_map(io.status, rs);
	/* libs3 takes a body cut short (CURLE_PARTIAL_FILE) for a success. */
	if (rq->op == OP_GET && io.status == S3StatusOK && rs->got < rs->size) {
		rs->net = NET_OTHER;
		snprintf(rs->detail, sizeof(rs->detail),
			 "body cut short: %zu of %" PRIu64 " bytes", rs->got, rs->size);
		return;
	}
	if (rq->op == OP_LIST && io.status == S3StatusAbortedByCallback && rs->lstop) {
		rs->http = 200;
		rs->net = NET_NONE;
	}
}

static const struct s3_transport libs3_transport = {
	.name = "libs3 (signature v2)",
	.slot_init = l3_slot_init,
	.slot_fini = l3_slot_fini,
	.run = l3_run,
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_status;          /* 0, or -EIO when libs3/curl failed */

static void global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		global_status = -EIO;
	else if (S3_initialize("dfabric", S3_INIT_ALL, NULL) != S3StatusOK)
		global_status = -EIO;
}

/* ---- requests: slots, retries, health, errno -------------------------- */

static struct s3_slot *slot_get(struct s3 *s)
{
	struct s3_slot *sl;

	pthread_mutex_lock(&s->slot_lock);
	while (!s->free_slots)
		pthread_cond_wait(&s->slot_cond, &s->slot_lock);
	sl = s->free_slots;
	s->free_slots = sl->next;
	pthread_mutex_unlock(&s->slot_lock);
	return sl;
}

static void slot_put(struct s3 *s, struct s3_slot *sl)
{
	pthread_mutex_lock(&s->slot_lock);
	sl->next = s->free_slots;
	s->free_slots = sl;
	pthread_cond_signal(&s->slot_cond);
	pthread_mutex_unlock(&s->slot_lock);
}

enum { CL_OK, CL_RETRY, CL_FAIL };

static int classify(const struct s3_res *rs)
{
	if (rs->net == NET_TLS || rs->net == NET_LOCAL || rs->overflow)
		return CL_FAIL;
	if (rs->net)
		return CL_RETRY;
	if (rs->http >= 200 && rs->http < 300)
		return CL_OK;
	if (rs->http >= 500 || rs->http == 429 || strcmp(rs->code, "SlowDown") == 0 ||
	    strcmp(rs->code, "RequestTimeout") == 0 ||
	    strcmp(rs->code, "ServiceUnavailable") == 0 ||
	    strcmp(rs->code, "InternalError") == 0)
		return CL_RETRY;
	return CL_FAIL;
}

/* The errno nearest to a failed result. */
static int res_errno(const struct s3_res *rs)
{
	switch (rs->net) {
	case NET_CONN:
		return -ECONNREFUSED;
	case NET_TIMEOUT:
		return -ETIMEDOUT;
	case NET_TLS:
		return -EPROTO;
	case NET_OTHER:
		return -ECONNRESET;
	case NET_LOCAL:
		return rs->overflow ? -EIO : -ENOMEM;
	}
	if (strcmp(rs->code, "EntityTooLarge") == 0 || rs->http == 413)
		return -EFBIG;
	if (strcmp(rs->code, "RequestTimeout") == 0)
		return -ETIMEDOUT;
	switch (rs->http) {
	case 400:
		return -EINVAL;
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 409:
		return -EBUSY;
	case 416:
		return -EIO;
	case 429:
	case 503:
		return -EAGAIN;
	case 507:
		return -ENOSPC;
	}
	return -EIO;
}

static void describe(const struct s3_res *rs, char *buf, size_t len)
{
	static const char *const nets[] = { "", "cannot connect", "timed out",
					    "TLS error", "connection failed",
					    "local failure" };

	if (rs->net)
		snprintf(buf, len, "%s (%s)", nets[rs->net], rs->detail);
	else if (rs->overflow)
		snprintf(buf, len, "HTTP %d: more bytes than the range asked for",
			 rs->http);
	else
		snprintf(buf, len, "HTTP %d%s%s%s%s", rs->http, rs->code[0] ? " " : "",
			 rs->code, rs->detail[0] ? ": " : "", rs->detail);
}

static void set_down(struct s3 *s, const char *op, const char *what,
		     const char *why)
{
	int up = BE_UP;

	if (__atomic_compare_exchange_n(&s->health, &up, BE_DOWN, false,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		log_err("tier %s: S3 endpoint %s not answering (%s %s: %s); marked "
			"down, requests fail fast until it answers again",
			s->cfg.name, s->cfg.endpoint, op, what, why);
		pthread_mutex_lock(&s->hlock);
		pthread_cond_broadcast(&s->hcond);
		pthread_mutex_unlock(&s->hlock);
	}
}

static void set_up(struct s3 *s)
{
	int down = BE_DOWN;

	if (__atomic_compare_exchange_n(&s->health, &down, BE_UP, false,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		log_notice("tier %s: S3 endpoint %s answers again; marked up",
			   s->cfg.name, s->cfg.endpoint);
}

/* One logical request: retries, backoff, the overall time bound, health.
 * Returns 0 or -errno; logs a final failure once, except a missing
 * object (-ENOENT), which the caller judges. *rs holds the last result. */
static int s3_call(struct s3 *s, const struct s3_req *rq, struct s3_res *rs)
{
	int64_t start = mono_ms(), budget = (int64_t)s->cfg.request_timeout * 2000;
	int retries = rq->probe ? 0 : (int)s->cfg.retries;
	char why[300];
	int cls = CL_FAIL, rc;

	for (int attempt = 0;; attempt++) {
		struct s3_slot *sl;
		int64_t left = budget - (mono_ms() - start), t;

		if (!rq->probe && __atomic_load_n(&s->health, __ATOMIC_SEQ_CST) == BE_DOWN)
			return -EIO;  /* fail fast; the state change was logged */
		t = (int64_t)s->cfg.request_timeout * 1000;
		if (t > left)
			t = left;
		memset(rs, 0, sizeof(*rs));
		sl = slot_get(s);
		s->tp->run(s, sl, rq, rs, t);
		slot_put(s, sl);
		STAT_ADD(s, requests, 1);
		if (attempt)
			STAT_ADD(s, retries, 1);
		switch (rq->op) {
		case OP_GET: STAT_ADD(s, gets, 1); STAT_ADD(s, rx_bytes, rs->got); break;
		case OP_PUT: STAT_ADD(s, puts, 1); break;
		case OP_HEAD: STAT_ADD(s, heads, 1); break;
		case OP_DELETE: STAT_ADD(s, deletes, 1); break;
		case OP_LIST: STAT_ADD(s, lists, 1); break;
		}
		cls = classify(rs);
		if (cls == CL_OK) {
			if (rq->op == OP_PUT)
				STAT_ADD(s, tx_bytes, rq->blen + rq->tlen);
			set_up(s);
			return 0;
		}
		if (cls == CL_FAIL || attempt >= retries)
			break;
		{
			int64_t b = BACKOFF_BASE_MS << (attempt < 10 ? attempt : 10);

			if (b > BACKOFF_MAX_MS)
				b = BACKOFF_MAX_MS;
			b = b / 2 + (int64_t)(random() % (b / 2 + 1));  /* jitter */
			if (mono_ms() - start + b >= budget)
				break;
			describe(rs, why, sizeof(why));
			log_debug("tier %s: %s %s: %s; retry %d in %" PRId64 " ms",
				  s->cfg.name, op_names[rq->op], rq->key ? rq->key : "(list)",
				  why, attempt + 1, b);
			sleep_ms(b);
		}
	}
	rc = res_errno(rs);
	describe(rs, why, sizeof(why));
	if (cls == CL_RETRY && !rq->probe) {
		set_down(s, op_names[rq->op], rq->key ? rq->key : "(list)", why);
		return rc;
	}
	if (rc != -ENOENT && !rq->probe)
		log_err("tier %s: %s %s: %s", s->cfg.name, op_names[rq->op],
			rq->key ? rq->key : "(list)", why);
	return rc;
}

/* ---- caches ------------------------------------------------------------ */

static size_t blk_hash(uint64_t ino, uint64_t off, uint64_t ver, uint32_t blk)
{
	uint64_t h = ino * 0x9E3779B97F4A7C15ull ^ off * 0xBF58476D1CE4E5B9ull ^
		     ver * 0x94D049BB133111EBull ^ blk;

	h ^= h >> 29;
	return (size_t)(h % NBUCKETS);
}

static struct blk_ent *blk_find_id(struct s3 *s, uint64_t ino, uint64_t off,
				   uint64_t ver, uint32_t blk)
{
	struct blk_ent *e = s->hash[blk_hash(ino, off, ver, blk)];

	for (; e; e = e->hnext)
		if (e->blk == blk && e->ino == ino && e->off == off && e->ver == ver)
			return e;
	return NULL;
}

static struct blk_ent *blk_find(struct s3 *s, const struct meta_ent *m,
				uint32_t blk)
{
	return blk_find_id(s, m->ino, m->off, m->ver, blk);
}

static void lru_unlink(struct s3 *s, struct blk_ent *e)
{
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		s->lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		s->lru_tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void lru_front(struct s3 *s, struct blk_ent *e)
{
	e->lprev = NULL;
	e->lnext = s->lru_head;
	if (s->lru_head)
		s->lru_head->lprev = e;
	s->lru_head = e;
	if (!s->lru_tail)
		s->lru_tail = e;
}

/* Removes e from the cache and frees it. */
static void blk_remove(struct s3 *s, struct blk_ent *e)
{
	struct blk_ent **pp = &s->hash[blk_hash(e->ino, e->off, e->ver, e->blk)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->state == BLK_READY) {
		lru_unlink(s, e);
		s->cache_bytes -= e->len;
	}
	free(e->data);
	free(e);
}

/* A pending entry for block blk of m with `token`, or NULL (no memory). */
static struct blk_ent *blk_add_pending(struct s3 *s, const struct meta_ent *m,
				       uint32_t blk, uint64_t token)
{
	struct blk_ent *e = calloc(1, sizeof(*e));
	size_t h;

	if (!e)
		return NULL;
	e->ino = m->ino;
	e->off = m->off;
	e->ver = m->ver;
	e->blk = blk;
	e->state = BLK_PENDING;
	e->token = token;
	h = blk_hash(m->ino, m->off, m->ver, blk);
	e->hnext = s->hash[h];
	s->hash[h] = e;
	return e;
}

static void cache_trim(struct s3 *s)
{
	while (s->cache_bytes > s->cache_max && s->lru_tail)
		blk_remove(s, s->lru_tail);
}

/* Settles the pending entries of `token` for blocks [b0, b0+k) of m: with
 * the verified bytes in buf when ok, else removes them. Wakes waiters. */
static void blk_settle(struct s3 *s, const struct meta_ent *m, uint32_t b0,
		       uint32_t k, uint64_t token, const char *buf, bool ok)
{
	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < k; i++) {
		struct blk_ent *e = blk_find(s, m, b0 + i);
		uint64_t boff = (uint64_t)(b0 + i) * m->bsize;
		uint32_t len = (uint32_t)(m->n - boff < m->bsize ? m->n - boff : m->bsize);

		if (!e || e->state != BLK_PENDING || e->token != token)
			continue;
		if (ok)
			e->data = malloc(len);
		if (!ok || !e->data) {
			blk_remove(s, e);
			continue;
		}
		memcpy(e->data, buf + (size_t)i * m->bsize, len);
		e->len = len;
		e->state = BLK_READY;
		s->cache_bytes += len;
		lru_front(s, e);
	}
	cache_trim(s);
	pthread_cond_broadcast(&s->ccond);
	pthread_mutex_unlock(&s->lock);
}

static void meta_unref_locked(struct s3 *s, struct meta_ent *m)
{
	if (--m->refs == 0) {
		free(m->sums);
		free(m);
	}
}

static void meta_unref(struct s3 *s, struct meta_ent *m)
{
	pthread_mutex_lock(&s->lock);
	meta_unref_locked(s, m);
	pthread_mutex_unlock(&s->lock);
}

static void meta_unlink_locked(struct s3 *s, struct meta_ent *m)
{
	struct meta_ent **pp = &s->metas;

	while (*pp && *pp != m)
		pp = &(*pp)->next;
	if (!*pp)
		return;
	*pp = m->next;
	m->dead = true;
	s->nmeta--;
	meta_unref_locked(s, m);
}

/* Forgets the cached trailer and blocks of one copy. */
static void cache_forget(struct s3 *s, uint64_t ino, uint64_t off, uint64_t ver)
{
	struct meta_ent *m;

	pthread_mutex_lock(&s->lock);
	for (m = s->metas; m; m = m->next) {
		if (m->ino == ino && m->off == off && m->ver == ver) {
			meta_unlink_locked(s, m);
			break;
		}
	}
	s->forget_gen++;
	{
		unsigned i = (unsigned)(s->forget_gen % FORGOT_MAX);

		s->forgot[i].ino = ino;
		s->forgot[i].off = off;
		s->forgot[i].ver = ver;
		s->forgot[i].gen = s->forget_gen;
	}
	/* pending blocks too: their fetches then fill nothing */
	for (uint32_t b = 0; b < BE_S3_MAX_EXTENT / BE_S3_BLOCK; b++) {
		struct blk_ent *e = blk_find_id(s, ino, off, ver, b);

		if (e)
			blk_remove(s, e);
	}
	pthread_cond_broadcast(&s->ccond);
	pthread_mutex_unlock(&s->lock);
}

/* The cached trailer of x with a reference, or NULL. */
static struct meta_ent *meta_lookup(struct s3 *s, const struct be_ext *x)
{
	struct meta_ent *m;

	pthread_mutex_lock(&s->lock);
	for (m = s->metas; m; m = m->next) {
		if (m->ino == x->ino && m->off == x->off && m->ver == x->version) {
			m->refs++;
			m->used = ++s->tick;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return m;
}

/* Whether copy x may have been forgotten (freed or written again) since
 * forget_gen was gen: a forget of it, or of everything, came since, or
 * more forgets than are remembered. Forgets of other copies do not
 * count: with automatic placement, promotions free copies all the time,
 * and a trailer or prefetch fetched across one of them was thrown away
 * (the readers of a sequential file fetched each of its objects twice).
 * Caller holds s->lock. */
static bool forgot_since_locked(const struct s3 *s, const struct be_ext *x,
				uint64_t gen)
{
	if (s->forget_gen == gen)
		return false;
	if (s->drop_gen > gen || s->forget_gen - gen > FORGOT_MAX)
		return true;
	for (unsigned i = 0; i < FORGOT_MAX; i++)
		if (s->forgot[i].gen > gen && s->forgot[i].ino == x->ino &&
		    s->forgot[i].off == x->off && s->forgot[i].ver == x->version)
			return true;
	return false;
}

/* Parses and verifies the trailer of copy x (object `key`, `size` bytes)
 * from buf, its last w bytes, and caches it unless a forget of x came
 * since forget_gen was gen (then the entry serves the caller alone). Returns a
 * referenced entry in *out, or -errno (-EIO for a bad object, logged). */
static int meta_install(struct s3 *s, const struct be_ext *x, const char *key,
			const unsigned char *buf, uint64_t w, uint64_t size,
			uint64_t gen, struct meta_ent **out)
{
	struct meta_ent *m = NULL, *old;
	const unsigned char *f;
	uint64_t n, tlen;
	uint32_t bsize, nblk;
	const char *bad = NULL;
	int rc = 0;

	if (size < BE_S3_FOOTER || w < BE_S3_FOOTER) {
		bad = "shorter than its footer";
		goto out;
	}
	f = buf + w - BE_S3_FOOTER;
	n = get_le64(f + 8);
	bsize = get_le32(f + 16);
	nblk = get_le32(f + 20);
	if (memcmp(f, FOOTER_MAGIC, 8) != 0) {
		bad = "no footer (bad magic)";
		goto out;
	}
	if (bsize < BE_S3_BLOCK || bsize > BE_S3_MAX_EXTENT || (bsize & (bsize - 1)) ||
	    n > BE_S3_MAX_EXTENT || nblk != (n + bsize - 1) / bsize) {
		bad = "inconsistent footer";
		goto out;
	}
	tlen = 8 * (uint64_t)nblk;
	if (n + tlen + BE_S3_FOOTER != size || tlen + BE_S3_FOOTER > w) {
		bad = "size does not match its footer (truncated?)";
		goto out;
	}
	if (XXH3_64bits(f - tlen, tlen + 48) != get_le64(f + 48)) {
		bad = "trailer checksum mismatch";
		goto out;
	}
	if (get_le64(f + 24) != x->ino || get_le64(f + 32) != x->off ||
	    get_le64(f + 40) != x->version) {
		bad = "holds another extent copy";
		goto out;
	}
	if (n > x->len) {
		bad = "holds more bytes than the extent covers";
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->sums = malloc(tlen ? tlen : 1))) {
		free(m);
		m = NULL;
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < nblk; i++)
		m->sums[i] = get_le64(f - tlen + 8 * (uint64_t)i);
	m->ino = x->ino;
	m->off = x->off;
	m->ver = x->version;
	m->n = n;
	m->bsize = bsize;
	m->nblk = nblk;
	m->seed = copy_seed(x->ino, x->off, x->version);
	m->last_end = UINT64_MAX;
	m->refs = 2;  /* the list's and the caller's */

	pthread_mutex_lock(&s->lock);
	if (forgot_since_locked(s, x, gen)) {
		/* fetched across a forget: maybe what the copy held before */
		m->refs = 1;
		m->dead = true;
		pthread_mutex_unlock(&s->lock);
		*out = m;
		return 0;
	}
	/* another reader may have fetched it meanwhile: keep the first */
	for (old = s->metas; old; old = old->next)
		if (old->ino == m->ino && old->off == m->off && old->ver == m->ver)
			break;
	if (old) {
		old->refs++;
		pthread_mutex_unlock(&s->lock);
		free(m->sums);
		free(m);
		m = old;
	} else {
		if (s->nmeta >= META_MAX) {
			struct meta_ent *lru = s->metas;

			for (old = s->metas; old; old = old->next)
				if (old->used < lru->used)
					lru = old;
			meta_unlink_locked(s, lru);
		}
		m->used = ++s->tick;
		m->next = s->metas;
		s->metas = m;
		s->nmeta++;
		pthread_mutex_unlock(&s->lock);
	}
	*out = m;
	rc = 0;
out:
	if (bad) {
		log_err("tier %s: object %s: %s; reads of it fail with EIO",
			s->cfg.name, key, bad);
		rc = -EIO;
	}
	return rc;
}

/* Reads and verifies the trailer of copy x (HEAD for its size, one ranged
 * GET of its end). Returns a referenced entry in *out, or -errno (-EIO for
 * a bad object, logged; -ENOENT for a missing one, not logged). */
static int meta_fetch(struct s3 *s, const struct be_ext *x, const char *key,
		      struct meta_ent **out)
{
	struct s3_req rq = { .op = OP_HEAD, .key = key };
	struct s3_res *rs;
	unsigned char *buf = NULL;
	uint64_t size, w, gen;
	int rc;

	rs = malloc(sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	gen = s->forget_gen;
	pthread_mutex_unlock(&s->lock);
	rc = s3_call(s, &rq, rs);
	if (rc < 0)
		goto out;
	size = rs->size;
	w = BE_S3_FOOTER + 8 * ((size + BE_S3_BLOCK - 1) / BE_S3_BLOCK);
	/* no copy has a longer trailer: an object larger than any copy is
	 * refused by meta_install, after reading no more than that */
	if (w > BE_S3_FOOTER + 8 * (BE_S3_MAX_EXTENT / BE_S3_BLOCK))
		w = BE_S3_FOOTER + 8 * (BE_S3_MAX_EXTENT / BE_S3_BLOCK);
	if (w > size)
		w = size;
	buf = malloc(w ? w : 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	if (w) {
		rq = (struct s3_req){ .op = OP_GET, .key = key, .roff = size - w,
				      .rlen = w, .out = (char *)buf, .outcap = w };
		rc = s3_call(s, &rq, rs);
		if (rc < 0)
			goto out;
		if (rs->got != w) {
			log_err("tier %s: object %s: short read of its trailer; reads "
				"of it fail with EIO", s->cfg.name, key);
			rc = -EIO;
			goto out;
		}
	}
	rc = meta_install(s, x, key, buf, w, size, gen, out);
out:
	free(buf);
	free(rs);
	return rc;
}

/* Fetches blocks [b0, b0+k) of m into buf (k * bsize bytes) and verifies
 * them. 0, or -errno (-EIO for bad data, logged). */
static int fetch_blocks(struct s3 *s, const struct meta_ent *m, uint32_t b0,
			uint32_t k, char *buf)
{
	uint64_t roff = (uint64_t)b0 * m->bsize;
	uint64_t end = (uint64_t)(b0 + k) * m->bsize;
	struct s3_req rq = { .op = OP_GET, .roff = roff, .out = buf };
	char key[BE_S3_KEY_MAX];
	struct s3_res *rs;
	int rc;

	if (end > m->n)
		end = m->n;
	rq.rlen = end - roff;
	/* "bytes=0-0" is answered with the whole object by some servers
	 * (s3rver): ask for two bytes, the object always has them */
	if (rq.rlen == 1 && roff == 0)
		rq.rlen = 2;
	rq.outcap = rq.rlen;
	if (make_key(s, m->ino, m->off, m->ver, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	rq.key = key;
	rs = malloc(sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rc = s3_call(s, &rq, rs);
	if (rc == -ENOENT || rc == -EINVAL) {
		log_err("tier %s: object %s: %s; reads of it fail with EIO",
			s->cfg.name, key, rc == -ENOENT ? "missing" : "range refused");
		rc = -EIO;
	}
	if (rc < 0)
		goto out;
	if (rs->got != rq.rlen) {
		log_err("tier %s: object %s: %zu bytes instead of %" PRIu64 " at %"
			PRIu64 " (truncated?); reads of it fail with EIO",
			s->cfg.name, key, rs->got, rq.rlen, roff);
		rc = -EIO;
		goto out;
	}
	for (uint32_t i = 0; i < k; i++) {
		uint64_t bo = (uint64_t)i * m->bsize;
		uint64_t len = end - roff - bo < m->bsize ? end - roff - bo : m->bsize;

		if (XXH3_64bits_withSeed(buf + bo, len, m->seed + b0 + i) !=
		    m->sums[b0 + i]) {
			log_err("tier %s: object %s: block %u fails its checksum; "
				"reads of it fail with EIO", s->cfg.name, key, b0 + i);
			rc = -EIO;
			goto out;
		}
	}
	rc = 0;
out:
	free(rs);
	return rc;
}

/* Copies the part of block b (starting at relative offset `bstart`) that
 * lies in [rel, end) into dst (which stands for relative offset rel). */
static void copy_part(char *dst, uint64_t rel, uint64_t end, const char *blk,
		      uint64_t bstart, uint64_t blen)
{
	uint64_t a = rel > bstart ? rel : bstart;
	uint64_t b = end < bstart + blen ? end : bstart + blen;

	if (a < b)
		memcpy(dst + (a - rel), blk + (a - bstart), b - a);
}

/* Reads data bytes [rel, end) of m (end <= m->n) into dst. */
static int read_range(struct s3 *s, struct meta_ent *m, uint64_t rel,
		      uint64_t end, char *dst)
{
	uint32_t b = (uint32_t)(rel / m->bsize), b1 = (uint32_t)((end - 1) / m->bsize);
	int64_t wait_until = mono_ms() + (int64_t)s->cfg.request_timeout * 2000 + 1000;
	char *tmp = NULL;
	int rc = 0;

	while (b <= b1) {
		struct blk_ent *e;
		uint64_t token;
		uint32_t k = 0;

		pthread_mutex_lock(&s->lock);
		e = blk_find(s, m, b);
		if (e && e->state == BLK_READY) {
			copy_part(dst, rel, end, e->data, (uint64_t)b * m->bsize, e->len);
			lru_unlink(s, e);
			lru_front(s, e);
			pthread_mutex_unlock(&s->lock);
			STAT_ADD(s, cache_hits, 1);
			b++;
			continue;
		}
		if (e && mono_ms() < wait_until) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&s->ccond, &s->lock, &ts);
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		/* a run of missing blocks: ours to fetch */
		token = ++s->next_token;
		while (b + k <= b1 && k < RUN_MAX_BLOCKS) {
			struct blk_ent *f = blk_find(s, m, b + k);

			if (f && (k > 0 || f->state == BLK_READY))
				break;
			if (!f && !blk_add_pending(s, m, b + k, token))
				break;
			k++;
		}
		pthread_mutex_unlock(&s->lock);
		if (k == 0)
			k = 1;  /* a stuck pending block: fetch it without the cache */
		free(tmp);
		tmp = malloc((size_t)k * m->bsize);
		if (!tmp) {
			blk_settle(s, m, b, k, token, NULL, false);
			rc = -ENOMEM;
			goto out;
		}
		rc = fetch_blocks(s, m, b, k, tmp);
		blk_settle(s, m, b, k, token, tmp, rc == 0);
		if (rc < 0)
			goto out;
		for (uint32_t i = 0; i < k; i++) {
			uint64_t bs = (uint64_t)(b + i) * m->bsize;
			uint64_t bl = m->n - bs < m->bsize ? m->n - bs : m->bsize;

			copy_part(dst, rel, end, tmp + (size_t)i * m->bsize, bs, bl);
		}
		b += k;
	}
out:
	free(tmp);
	return rc;
}

/* ---- readahead ----------------------------------------------------------- */

/* Queues fetches of the blocks of m in [from, to) not cached or pending
 * yet, RA_CHUNK_BLOCKS per job; notes `to` as read ahead. Called and
 * returns with s->lock held (drops it briefly on an allocation
 * failure). */
static void ra_queue_locked(struct s3 *s, struct meta_ent *m, uint32_t from,
			    uint32_t to)
{
	m->ra_next = to;
	for (uint32_t b = from; b < to;) {
		struct ra_job *j;
		uint64_t token;
		uint32_t k = 0;

		while (b < to && blk_find(s, m, b))
			b++;
		if (b >= to)
			break;
		token = ++s->next_token;
		while (b + k < to && k < RA_CHUNK_BLOCKS && !blk_find(s, m, b + k)) {
			if (!blk_add_pending(s, m, b + k, token))
				break;
			k++;
		}
		if (!k)
			break;
		j = calloc(1, sizeof(*j));
		if (!j) {
			pthread_mutex_unlock(&s->lock);
			blk_settle(s, m, b, k, token, NULL, false);
			pthread_mutex_lock(&s->lock);
			break;
		}
		j->m = m;
		m->refs++;
		j->blk0 = b;
		j->nblk = k;
		j->token = token;
		if (s->qtail)
			s->qtail->next = j;
		else
			s->qhead = j;
		s->qtail = j;
		pthread_cond_signal(&s->qcond);
		b += k;
	}
}

/* Whether the cached copy of inode ino nearest before logical offset off
 * has a sequential reader in its second half (who may go on at off). */
static bool seq_before_locked(struct s3 *s, uint64_t ino, uint64_t off)
{
	struct meta_ent *m, *prev = NULL;

	for (m = s->metas; m; m = m->next)
		if (m->ino == ino && m->off < off && (!prev || m->off > prev->off))
			prev = m;
	return prev && (prev->pf || (prev->seq >= 1 && prev->last_end != UINT64_MAX &&
				     prev->last_end >= prev->n / 2));
}

/* After a read of [rel, end) of m: notes the pattern and, for a
 * sequential reader, queues fetches of the next blocks. The first read
 * of a copy, at its start, is sequential when a sequential reader was
 * near the end of the copy before (the prefetch hint lost the race).
 * A read is sequential when it starts near where the last one ended, or
 * when the block before its first one is cached or on its way: the
 * kernel's readahead sends several requests at once, which threads hand
 * over in any order, further apart than SEQ_SLACK. */
static void readahead(struct s3 *s, struct meta_ent *m, uint64_t rel,
		      uint64_t end)
{
	uint32_t from, to, endblk, first = (uint32_t)(rel / m->bsize);

	pthread_mutex_lock(&s->lock);
	if (m->last_end == UINT64_MAX && rel == 0 &&
	    seq_before_locked(s, m->ino, m->off)) {
		m->seq = 1;
	} else if ((m->last_end != UINT64_MAX && rel + SEQ_SLACK >= m->last_end &&
		    rel <= m->last_end + SEQ_SLACK) ||
		   (first > 0 && blk_find(s, m, first - 1))) {
		m->seq++;
	} else {
		m->seq = 0;
		m->ra_next = 0;
	}
	if (m->last_end == UINT64_MAX || end > m->last_end || m->seq == 0)
		m->last_end = end;
	if (m->seq < 1 || end >= m->n || s->qstop || !s->nworkers || m->dead)
		goto out;
	endblk = (uint32_t)((end + m->bsize - 1) / m->bsize);
	from = m->ra_next > endblk ? m->ra_next : endblk;
	to = endblk + RA_WINDOW_BLOCKS;
	if (to > m->nblk)
		to = m->nblk;
	if (from >= to || (from - endblk) > RA_WINDOW_BLOCKS / 2)
		goto out;
	ra_queue_locked(s, m, from, to);
out:
	pthread_mutex_unlock(&s->lock);
}

static bool pf_busy_locked(struct s3 *s, const struct be_ext *x)
{
	for (int i = 0; i < RA_WORKERS_MAX; i++)
		if (s->pf_busy[i].len && s->pf_busy[i].ino == x->ino &&
		    s->pf_busy[i].off == x->off && s->pf_busy[i].version == x->version)
			return true;
	return false;
}

/* A worker's part of a prefetch hint: unless a reader got there first,
 * the whole object of copy x in one GET (data, checksums and footer: one
 * request instead of a HEAD, a trailer GET and data GETs), its trailer and
 * verified blocks into the caches. Readers of x wait for it meanwhile
 * (pf_busy). Errors are dropped: the read reports them. */
static void prefetch_run(struct s3 *s, const struct be_ext *x)
{
	uint64_t cap = x->len + 8 * ((x->len + BE_S3_BLOCK - 1) / BE_S3_BLOCK) + BE_S3_FOOTER;
	struct s3_req rq = { .op = OP_GET };
	char key[BE_S3_KEY_MAX];
	struct s3_res *rs = NULL;
	struct meta_ent *m = NULL;
	char *buf = NULL;
	uint64_t token = 0, gen;
	bool ok = true;
	int slot = -1;

	pthread_mutex_lock(&s->lock);
	gen = s->forget_gen;
	for (m = s->metas; m; m = m->next)
		if (m->ino == x->ino && m->off == x->off && m->ver == x->version)
			break;
	for (int i = 0; i < RA_WORKERS_MAX && slot < 0; i++)
		if (!s->pf_busy[i].len)
			slot = i;
	if (m || slot < 0 || s->qstop || pf_busy_locked(s, x)) {
		pthread_mutex_unlock(&s->lock);
		return;  /* being read or fetched already */
	}
	s->pf_busy[slot] = *x;
	pthread_mutex_unlock(&s->lock);

	if (make_key(s, x->ino, x->off, x->version, key, sizeof(key)) < 0 ||
	    !(rs = malloc(sizeof(*rs))) || !(buf = malloc(cap)))
		goto out;
	rq.key = key;
	rq.out = buf;
	rq.outcap = cap;
	if (s3_call(s, &rq, rs) < 0)
		goto out;
	{
		uint64_t size = rs->got;
		uint64_t w = BE_S3_FOOTER + 8 * ((size + BE_S3_BLOCK - 1) / BE_S3_BLOCK);

		if (w > size)
			w = size;
		if (meta_install(s, x, key, (unsigned char *)buf + size - w, w, size,
				 gen, &m) < 0) {
			m = NULL;
			goto out;
		}
	}
	pthread_mutex_lock(&s->lock);
	if (m->dead || forgot_since_locked(s, x, gen)) {
		pthread_mutex_unlock(&s->lock);
		goto out;  /* a forget */
	}
	/* A reader that came first (a migration's copy, which installed
	 * the trailer while this GET was on its way) keeps its readahead;
	 * the blocks it has not got yet come from here all the same. */
	if (m->last_end == UINT64_MAX && !m->ra_next) {
		m->pf = true;
		m->ra_next = m->nblk;
	}
	token = ++s->next_token;
	for (uint32_t b = 0; b < m->nblk; b++)
		if (!blk_find(s, m, b) && !blk_add_pending(s, m, b, token))
			break;
	pthread_mutex_unlock(&s->lock);
	for (uint32_t b = 0; b < m->nblk && ok; b++) {
		uint64_t bo = (uint64_t)b * m->bsize;
		uint64_t len = m->n - bo < m->bsize ? m->n - bo : m->bsize;

		if (XXH3_64bits_withSeed(buf + bo, len, m->seed + b) != m->sums[b])
			ok = false;
	}
	/* a bad block is logged by the read that meets it */
	blk_settle(s, m, 0, m->nblk, token, buf, ok);
	if (ok) {
		STAT_ADD(s, prefetches, 1);
		STAT_ADD(s, readahead, m->nblk);
	}
out:
	pthread_mutex_lock(&s->lock);
	if (m)
		meta_unref_locked(s, m);
	memset(&s->pf_busy[slot], 0, sizeof(s->pf_busy[slot]));
	pthread_cond_broadcast(&s->ccond);
	pthread_mutex_unlock(&s->lock);
	free(buf);
	free(rs);
}

static void *ra_worker(void *arg)
{
	struct s3 *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct ra_job *j;
		char *buf;
		int rc = -ENOMEM;

		while (!s->qhead && !s->pqhead && !s->qstop)
			pthread_cond_wait(&s->qcond, &s->lock);
		if (s->qstop)
			break;
		if (s->pqhead) {
			j = s->pqhead;
			s->pqhead = j->next;
			if (!s->pqhead)
				s->pqtail = NULL;
		} else {
			j = s->qhead;
			s->qhead = j->next;
			if (!s->qhead)
				s->qtail = NULL;
		}
		pthread_mutex_unlock(&s->lock);
		if (!j->m) {
			prefetch_run(s, &j->px);
			free(j);
			pthread_mutex_lock(&s->lock);
			continue;
		}
		buf = malloc((size_t)j->nblk * j->m->bsize);
		if (buf)
			rc = fetch_blocks(s, j->m, j->blk0, j->nblk, buf);
		if (rc == 0)
			STAT_ADD(s, readahead, j->nblk);
		blk_settle(s, j->m, j->blk0, j->nblk, j->token, buf, rc == 0);
		free(buf);
		pthread_mutex_lock(&s->lock);
		meta_unref_locked(s, j->m);
		free(j);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- health prober ------------------------------------------------------- */

static int list_none(const char *key, uint64_t size, void *arg)
{
	return 0;
}

/* One listing of at most one key: does the bucket answer? */
static int bucket_check(struct s3 *s, bool probe, struct s3_res *rs)
{
	struct s3_req rq = { .op = OP_LIST, .lprefix = s->cfg.prefix, .maxkeys = 1,
			     .lkey = list_none, .probe = probe };

	return s3_call(s, &rq, rs);
}

static void *health_thread(void *arg)
{
	struct s3 *s = arg;
	int64_t interval = PROBE_MIN_MS;
	struct s3_res *rs = malloc(sizeof(*rs));

	pthread_mutex_lock(&s->hlock);
	while (!s->hstop) {
		struct timespec ts;

		if (__atomic_load_n(&s->health, __ATOMIC_SEQ_CST) == BE_UP) {
			interval = PROBE_MIN_MS;
			pthread_cond_wait(&s->hcond, &s->hlock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += interval / 1000;
		ts.tv_nsec += (interval % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->hcond, &s->hlock, &ts);
		if (s->hstop)
			break;
		pthread_mutex_unlock(&s->hlock);
		if (rs && bucket_check(s, true, rs) == 0)
			set_up(s);
		else if (interval * 2 <= PROBE_MAX_MS)
			interval *= 2;
		pthread_mutex_lock(&s->hlock);
	}
	pthread_mutex_unlock(&s->hlock);
	free(rs);
	return NULL;
}

/* ---- extent operations ------------------------------------------------- */

static ssize_t s3_ext_read(struct backend *be, const struct be_ext *x,
			   void *buf, size_t len, uint64_t off)
{
	struct s3 *s = s3_of(be);
	struct meta_ent *m;
	char key[BE_S3_KEY_MAX];
	uint64_t rel, end, dend;
	int rc;

	if (off < x->off || off - x->off > x->len || len > x->len - (off - x->off))
		return -EINVAL;
	if (len == 0)
		return 0;
	if (make_key(s, x->ino, x->off, x->version, key, sizeof(key)) < 0)
		return -EIO;
	rel = off - x->off;
	end = rel + len;
	{
		/* A prefetch of this copy in flight: wait for it (bounded),
		 * its one GET brings every block. Its trailer may be here
		 * already, from a reader that came while the GET was on
		 * its way. */
		int64_t until = mono_ms() + (int64_t)s->cfg.request_timeout * 2000 + 1000;

		pthread_mutex_lock(&s->lock);
		while (pf_busy_locked(s, x) && mono_ms() < until) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&s->ccond, &s->lock, &ts);
		}
		pthread_mutex_unlock(&s->lock);
		m = meta_lookup(s, x);
	}
	if (!m) {
		rc = meta_fetch(s, x, key, &m);
		if (rc == -ENOENT)
			log_err("tier %s: object %s is missing; reads of it fail with "
				"EIO", s->cfg.name, key);
		if (rc < 0)
			return rc == -ENOMEM ? rc : -EIO;
	}
	dend = end < m->n ? end : m->n;
	rc = 0;
	if (rel < dend)
		rc = read_range(s, m, rel, dend, buf);
	if (rc == 0) {
		uint64_t z = rel > m->n ? rel : m->n;

		if (z < end)
			memset((char *)buf + (z - rel), 0, end - z);
		readahead(s, m, rel, end);
	}
	meta_unref(s, m);
	if (rc < 0)
		return rc == -ENOMEM ? rc : -EIO;
	return (ssize_t)len;
}

/* The hint that a sequential reader will soon reach copy x: taken when
 * this backend sees a sequential reader on an earlier extent of the same
 * inode (random readers near an extent's end get nothing) and x was not
 * hinted or read lately; a worker does the rest. Never blocks on I/O. */
static void s3_ext_prefetch(struct backend *be, const struct be_ext *x)
{
	struct s3 *s = s3_of(be);
	struct meta_ent *m;
	struct ra_job *j;

	if (__atomic_load_n(&s->health, __ATOMIC_SEQ_CST) != BE_UP)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->qstop || !s->nworkers)
		goto out;
	for (unsigned i = 0; i < PF_RECENT; i++) {
		const struct be_ext *r = &s->pf_recent[i];

		if (r->ino == x->ino && r->off == x->off && r->version == x->version &&
		    r->len)
			goto out;
	}
	for (m = s->metas; m; m = m->next)
		if (m->ino == x->ino && m->off == x->off && m->ver == x->version &&
		    (m->last_end != UINT64_MAX || m->ra_next))
			goto out;  /* already being read */
	if (!seq_before_locked(s, x->ino, x->off))
		goto out;
	j = calloc(1, sizeof(*j));
	if (!j)
		goto out;
	j->px = *x;
	s->pf_recent[s->pf_next++ % PF_RECENT] = *x;
	if (s->pqtail)
		s->pqtail->next = j;
	else
		s->pqhead = j;
	s->pqtail = j;
	pthread_cond_signal(&s->qcond);
out:
	pthread_mutex_unlock(&s->lock);
}

static int s3_ext_write(struct backend *be, const struct be_ext *x,
			const void *buf, size_t n)
{
	struct s3 *s = s3_of(be);
	uint32_t nblk = (uint32_t)((n + BE_S3_BLOCK - 1) / BE_S3_BLOCK);
	uint64_t seed = copy_seed(x->ino, x->off, x->version);
	size_t tlen = 8 * (size_t)nblk + BE_S3_FOOTER;
	struct s3_req rq = { .op = OP_PUT, .body = buf, .blen = n };
	char key[BE_S3_KEY_MAX];
	unsigned char *tail, *f;
	struct s3_res *rs = NULL;
	int rc;

	if (n > x->len)
		return -EINVAL;
	if (n > BE_S3_MAX_EXTENT)
		return -EFBIG;
	if (make_key(s, x->ino, x->off, x->version, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	tail = malloc(tlen);
	rs = malloc(sizeof(*rs));
	if (!tail || !rs) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < nblk; i++) {
		size_t bo = (size_t)i * BE_S3_BLOCK;
		size_t bl = n - bo < BE_S3_BLOCK ? n - bo : BE_S3_BLOCK;

		put_le64(tail + 8 * (size_t)i,
			 XXH3_64bits_withSeed((const char *)buf + bo, bl, seed + i));
	}
	f = tail + 8 * (size_t)nblk;
	memcpy(f, FOOTER_MAGIC, 8);
	put_le64(f + 8, n);
	put_le32(f + 16, BE_S3_BLOCK);
	put_le32(f + 20, nblk);
	put_le64(f + 24, x->ino);
	put_le64(f + 32, x->off);
	put_le64(f + 40, x->version);
	put_le64(f + 48, XXH3_64bits(tail, tlen - 8));
	rq.key = key;
	rq.tail = (const char *)tail;
	rq.tlen = tlen;
	cache_forget(s, x->ino, x->off, x->version);
	rc = s3_call(s, &rq, rs);
	cache_forget(s, x->ino, x->off, x->version);
	if (rc == -ENOENT) {
		log_err("tier %s: PUT %s: the bucket is gone", s->cfg.name, key);
		rc = -EIO;
	}
	if (rc < 0 && rc != -ENOSPC && rc != -EFBIG && rc != -EACCES && rc != -ENOMEM)
		rc = -EIO;
out:
	free(tail);
	free(rs);
	return rc;
}

static int s3_ext_sync(struct backend *be, const struct be_ext *x)
{
	return 0;  /* a completed PUT is durable */
}

static int s3_ext_free(struct backend *be, const struct be_ext *x)
{
	struct s3 *s = s3_of(be);
	char key[BE_S3_KEY_MAX];
	struct s3_req rq = { .op = OP_DELETE, .key = key };
	struct s3_res *rs;
	int rc;

	if (make_key(s, x->ino, x->off, x->version, key, sizeof(key)) < 0)
		return -ENAMETOOLONG;
	cache_forget(s, x->ino, x->off, x->version);
	rs = malloc(sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	rc = s3_call(s, &rq, rs);
	/* and after: a read while the DELETE was under way (or waited to
	 * be sent again) may have cached the copy it removes */
	cache_forget(s, x->ino, x->off, x->version);
	free(rs);
	if (rc == -ENOENT)
		rc = 0;
	if (rc < 0 && rc != -EACCES && rc != -ENOMEM)
		rc = -EIO;
	return rc;
}

static int parse_hex16(const char *p, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < 16; i++) {
		int c = p[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -1;
		v = (v << 4) | (uint64_t)d;
	}
	*out = v;
	return 0;
}

/* State of one ext_list. */
struct list_walk {
	struct s3 *s;                  /* the backend */
	int (*cb)(const struct be_ext *x, void *arg); /* the caller's */
	void *arg;                     /* its argument */
	int foreign;                   /* foreign keys seen */
};

static int list_key(const char *key, uint64_t size, void *arg)
{
	struct list_walk *w = arg;
	size_t pl = strlen(w->s->cfg.prefix);
	const char *k = key + pl;
	struct be_ext x;
	uint64_t nb, m;

	if (strncmp(key, w->s->cfg.prefix, pl) != 0)
		goto foreign;
	if (strncmp(k, PROBE_PREFIX, strlen(PROBE_PREFIX)) == 0)
		return 0;
	if (strlen(k) != 50 || k[16] != '/' || k[33] != '.' ||
	    parse_hex16(k, &x.ino) < 0 || parse_hex16(k + 17, &x.off) < 0 ||
	    parse_hex16(k + 34, &x.version) < 0 || size < BE_S3_FOOTER)
		goto foreign;
	/* data bytes from the object size: size = n + 8 * ceil(n / B) + footer */
	m = size - BE_S3_FOOTER;
	nb = (m + BE_S3_BLOCK + 8 - 1) / (BE_S3_BLOCK + 8);
	x.len = m >= 8 * nb ? m - 8 * nb : 0;
	/* a size no copy has (a damaged object): ours by name, length unknown */
	if (x.len + 8 * ((x.len + BE_S3_BLOCK - 1) / BE_S3_BLOCK) != m)
		x.len = 0;
	return w->cb(&x, w->arg);
foreign:
	if (w->foreign++ < 10)
		log_warn("tier %s: skipping foreign object '%s' in the bucket listing",
			 w->s->cfg.name, key);
	return 0;
}

static int s3_ext_list(struct backend *be,
		       int (*cb)(const struct be_ext *x, void *arg), void *arg)
{
	struct s3 *s = s3_of(be);
	struct list_walk w = { .s = s, .cb = cb, .arg = arg };
	struct s3_req rq = { .op = OP_LIST, .lprefix = s->cfg.prefix,
			     .maxkeys = 1000, .lkey = list_key, .larg = &w };
	struct s3_res *rs = malloc(sizeof(*rs));
	char *marker = NULL;
	int rc;

	if (!rs)
		return -ENOMEM;
	for (;;) {
		rq.marker = marker;
		rc = s3_call(s, &rq, rs);
		if (rc < 0) {
			rc = rc == -ENOMEM || rc == -EACCES ? rc : -EIO;
			break;
		}
		if (rs->lstop) {
			rc = rs->lstop;
			break;
		}
		if (!rs->truncated || !rs->next_marker[0] ||
		    (marker && strcmp(marker, rs->next_marker) == 0))
			break;
		free(marker);
		marker = strdup(rs->next_marker);
		if (!marker) {
			rc = -ENOMEM;
			break;
		}
	}
	if (w.foreign > 10)
		log_warn("tier %s: %d foreign objects in the bucket listing in all",
			 s->cfg.name, w.foreign);
	free(marker);
	free(rs);
	return rc;
}

static int s3_probe(struct backend *be, char *msg, size_t msglen)
{
	struct s3 *s = s3_of(be);
	char key[BE_S3_KEY_MAX], why[300];
	char *data = NULL, *back = NULL;
	struct s3_res *rs = NULL;
	struct s3_req rq;
	double t0, tput, tget, tdel;
	int rc;

	snprintf(key, sizeof(key), "%s" PROBE_PREFIX "%ld-%lx", s->cfg.prefix,
		 (long)getpid(), (unsigned long)random());
	data = malloc(PROBE_BYTES);
	back = malloc(PROBE_BYTES);
	rs = malloc(sizeof(*rs));
	if (!data || !back || !rs) {
		rc = -ENOMEM;
		snprintf(msg, msglen, "out of memory");
		goto out;
	}
	for (int i = 0; i < PROBE_BYTES; i++)
		data[i] = (char)(random() & 0xff);
	rq = (struct s3_req){ .op = OP_PUT, .key = key, .body = data,
			      .blen = PROBE_BYTES, .probe = true };
	t0 = mono_s();
	rc = s3_call(s, &rq, rs);
	tput = mono_s() - t0;
	if (rc < 0) {
		describe(rs, why, sizeof(why));
		snprintf(msg, msglen, "put %s failed: %s", key, why);
		goto out;
	}
	rq = (struct s3_req){ .op = OP_GET, .key = key, .out = back,
			      .outcap = PROBE_BYTES, .probe = true };
	t0 = mono_s();
	rc = s3_call(s, &rq, rs);
	tget = mono_s() - t0;
	if (rc == 0 && (rs->got != PROBE_BYTES || memcmp(data, back, PROBE_BYTES)))
		rc = -EIO;
	if (rc < 0) {
		describe(rs, why, sizeof(why));
		snprintf(msg, msglen, "get %s failed: %s", key,
			 rc == -EIO ? "the bytes read back differ" : why);
	}
	rq = (struct s3_req){ .op = OP_DELETE, .key = key, .probe = true };
	t0 = mono_s();
	{
		int drc = s3_call(s, &rq, rs);

		tdel = mono_s() - t0;
		if (drc < 0 && rc == 0) {
			rc = drc;
			describe(rs, why, sizeof(why));
			snprintf(msg, msglen, "delete %s failed: %s", key, why);
		}
	}
	if (rc == 0) {
		set_up(s);
		snprintf(msg, msglen, "ok: %s %s/%s, put %.1f ms, get %.1f ms, delete "
			 "%.1f ms (%d bytes)", s->tp->name, s->cfg.endpoint,
			 s->cfg.bucket, tput * 1e3, tget * 1e3, tdel * 1e3, PROBE_BYTES);
	}
out:
	free(data);
	free(back);
	free(rs);
	return rc;
}

static int s3_health(struct backend *be)
{
	return __atomic_load_n(&s3_of(be)->health, __ATOMIC_SEQ_CST);
}

static int s3_space(struct backend *be, struct be_space *out)
{
	struct s3 *s = s3_of(be);

	out->fs_total = s->cfg.capacity;
	out->fs_avail = s->cfg.capacity;
	return 0;
}

/* Frees everything of s; threads must be stopped. */
static void s3_free(struct s3 *s)
{
	for (int i = 0; i < s->nslots; i++)
		s->tp->slot_fini(&s->slots[i]);
	free(s->slots);
	while (s->metas)
		meta_unlink_locked(s, s->metas);
	for (int i = 0; i < NBUCKETS; i++)
		while (s->hash[i])
			blk_remove(s, s->hash[i]);
	explicit_bzero(s->ak, sizeof(s->ak));
	explicit_bzero(s->sk, sizeof(s->sk));
	pthread_mutex_destroy(&s->slot_lock);
	pthread_cond_destroy(&s->slot_cond);
	pthread_mutex_destroy(&s->hlock);
	pthread_cond_destroy(&s->hcond);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->ccond);
	pthread_cond_destroy(&s->qcond);
	free(s);
}

static void s3_stop_threads(struct s3 *s)
{
	pthread_mutex_lock(&s->hlock);
	s->hstop = true;
	pthread_cond_broadcast(&s->hcond);
	pthread_mutex_unlock(&s->hlock);
	if (s->hthread_ok)
		pthread_join(s->hthread, NULL);
	s->hthread_ok = false;

	pthread_mutex_lock(&s->lock);
	s->qstop = true;
	pthread_cond_broadcast(&s->qcond);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	s->nworkers = 0;
	pthread_mutex_lock(&s->lock);
	while (s->qhead) {
		struct ra_job *j = s->qhead;

		s->qhead = j->next;
		meta_unref_locked(s, j->m);
		free(j);
	}
	s->qtail = NULL;
	while (s->pqhead) {
		struct ra_job *j = s->pqhead;

		s->pqhead = j->next;
		free(j);
	}
	s->pqtail = NULL;
	pthread_mutex_unlock(&s->lock);
}

static void s3_destroy(struct backend *be)
{
	struct s3 *s = s3_of(be);

	s3_stop_threads(s);
	s3_free(s);
	free(be);
}

static const struct be_ops s3_ops = {
	.kind = "s3",
	.caps = 0,
	.ext_read = s3_ext_read,
	.ext_write = s3_ext_write,
	.ext_sync = s3_ext_sync,
	.ext_free = s3_ext_free,
	.ext_list = s3_ext_list,
	.ext_prefetch = s3_ext_prefetch,
	.probe = s3_probe,
	.health = s3_health,
	.space = s3_space,
	.destroy = s3_destroy,
};

/* The message of a failed bucket check at open. */
static int open_error(const struct s3 *s, int rc, const struct s3_res *rs,
		      char *err, size_t errlen)
{
	const char *t = s->cfg.name, *ep = s->cfg.endpoint, *b = s->cfg.bucket;
	char why[300];

	describe(rs, why, sizeof(why));
	if (rs->net == NET_TLS)
		snprintf(err, errlen, "tier %s: TLS error talking to %s: %s (is the "
			 "endpoint plain HTTP? then set tls = no)", t, ep, rs->detail);
	else if (rs->net == NET_CONN || rs->net == NET_OTHER)
		snprintf(err, errlen, "tier %s: cannot reach the S3 endpoint %s: %s",
			 t, ep, why);
	else if (rs->net == NET_TIMEOUT)
		snprintf(err, errlen, "tier %s: the S3 endpoint %s did not answer in "
			 "time: %s", t, ep, why);
	else if (rc == -EACCES)
		snprintf(err, errlen, "tier %s: access to bucket '%s' at %s denied "
			 "(wrong credentials?): %s", t, b, ep, why);
	else if (rc == -ENOENT)
		snprintf(err, errlen, "tier %s: bucket '%s' does not exist at %s: %s",
			 t, b, ep, why);
	else
		snprintf(err, errlen, "tier %s: bucket '%s' at %s: %s", t, b, ep, why);
	if (rs->net == NET_CONN || rs->net == NET_OTHER)
		return -EHOSTUNREACH;
	return rc < 0 ? rc : -EIO;
}

int be_s3_open(const struct cfg_tier *t, int index, struct backend **out,
	       char *err, size_t errlen)
{
	struct backend *be = NULL;
	struct s3_res *rs = NULL;
	struct s3 *s = NULL;
	int rc, nw;

	*out = NULL;
	if (t->kind != CFG_TIER_S3 || !t->endpoint[0] || !t->bucket[0] ||
	    t->s3_parallel < 1 || t->s3_parallel > 64) {
		snprintf(err, errlen, "tier %s: not a complete s3 tier", t->name);
		return -EINVAL;
	}
	pthread_once(&global_once, global_init);
	if (global_status < 0) {
		snprintf(err, errlen, "tier %s: cannot initialise libs3/libcurl", t->name);
		return global_status;
	}
	be = calloc(1, sizeof(*be));
	s = calloc(1, sizeof(*s));
	rs = malloc(sizeof(*rs));
	if (!be || !s || !rs) {
		snprintf(err, errlen, "tier %s: out of memory", t->name);
		free(be);
		free(s);
		free(rs);
		return -ENOMEM;
	}
	s->cfg = *t;
	pthread_mutex_init(&s->slot_lock, NULL);
	pthread_cond_init(&s->slot_cond, NULL);
	pthread_mutex_init(&s->hlock, NULL);
	pthread_cond_init(&s->hcond, NULL);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->ccond, NULL);
	pthread_cond_init(&s->qcond, NULL);
	s->cache_max = CACHE_MAX_DEFAULT;
	s->health = BE_UP;
	rc = cfg_s3_credentials(t, s->ak, sizeof(s->ak), s->sk, sizeof(s->sk), err,
				errlen);
	if (rc < 0)
		goto fail;
	s->tp = t->signature == CFG_S3_SIG_V4 ? &curl_transport : &libs3_transport;
	snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", t->region);
	if (t->addressing == CFG_S3_VIRTUAL)
		snprintf(s->base_url, sizeof(s->base_url), "%s://%s.%s",
			 t->tls ? "https" : "http", t->bucket, t->endpoint);
	else
		snprintf(s->base_url, sizeof(s->base_url), "%s://%s/%s",
			 t->tls ? "https" : "http", t->endpoint, t->bucket);
	s->slots = calloc(t->s3_parallel, sizeof(*s->slots));
	if (!s->slots) {
		rc = -ENOMEM;
		snprintf(err, errlen, "tier %s: out of memory", t->name);
		goto fail;
	}
	for (uint64_t i = 0; i < t->s3_parallel; i++) {
		rc = s->tp->slot_init(s, &s->slots[i]);
		if (rc < 0) {
			snprintf(err, errlen, "tier %s: cannot set up %s", t->name,
				 s->tp->name);
			goto fail;
		}
		s->nslots++;
		s->slots[i].next = s->free_slots;
		s->free_slots = &s->slots[i];
	}
	/* one attempt, no health change: the message goes to err */
	rc = bucket_check(s, true, rs);
	if (rc < 0) {
		rc = open_error(s, rc, rs, err, errlen);
		goto fail;
	}
	if (pthread_create(&s->hthread, NULL, health_thread, s) != 0) {
		rc = -EAGAIN;
		snprintf(err, errlen, "tier %s: cannot start a thread", t->name);
		goto fail;
	}
	s->hthread_ok = true;
	nw = (int)(t->s3_parallel < RA_WORKERS_MAX ? t->s3_parallel : RA_WORKERS_MAX);
	for (int i = 0; i < nw; i++) {
		if (pthread_create(&s->workers[i], NULL, ra_worker, s) != 0)
			break;
		s->nworkers++;
	}
	snprintf(be->name, sizeof(be->name), "%s", t->name);
	be->ops = &s3_ops;
	be->index = index;
	be->priv = s;
	free(rs);
	log_info("tier %s: s3 bucket %s at %s%s, prefix '%s', via %s", t->name,
		 t->bucket, t->tls ? "https://" : "http://", t->endpoint, t->prefix,
		 s->tp->name);
	*out = be;
	return 0;
fail:
	s3_stop_threads(s);
	s3_free(s);
	free(be);
	free(rs);
	return rc;
}

void be_s3_get_stats(struct backend *be, struct be_s3_stats *out)
{
	struct s3 *s;
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)out;

	if (be->ops != &s3_ops) {
		/* another backend in front of one (the tests' fault
		 * injector): nothing counted here */
		memset(out, 0, sizeof(*out));
		return;
	}
	s = s3_of(be);
	src = (const uint64_t *)&s->st;
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void be_s3_drop_caches(struct backend *be)
{
	struct s3 *s = s3_of(be);

	pthread_mutex_lock(&s->lock);
	while (s->metas)
		meta_unlink_locked(s, s->metas);
	memset(s->pf_recent, 0, sizeof(s->pf_recent));
	s->forget_gen++;
	s->drop_gen = s->forget_gen;
	/* pending blocks too, as cache_forget: their fetches fill nothing
	 * and their waiters fetch for themselves */
	for (int i = 0; i < NBUCKETS; i++)
		while (s->hash[i])
			blk_remove(s, s->hash[i]);
	pthread_cond_broadcast(&s->ccond);
	pthread_mutex_unlock(&s->lock);
}

int be_s3_key(struct backend *be, const struct be_ext *x, char *buf, size_t len)
{
	return make_key(s3_of(be), x->ino, x->off, x->version, buf, len);
}

void be_s3_set_cache_max(struct backend *be, size_t bytes)
{
	struct s3 *s = s3_of(be);

	pthread_mutex_lock(&s->lock);
	s->cache_max = bytes < BE_S3_BLOCK ? BE_S3_BLOCK : bytes;
	cache_trim(s);
	pthread_mutex_unlock(&s->lock);
}
