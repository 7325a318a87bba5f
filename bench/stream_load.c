/* Broadcast bench, the load client: many listeners of the broadcast tier in one epoll loop.
 *
 * Compiled at run time by bench/stream_load.py (never committed as a binary). One process opens --count HTTP/1.1
 * connections to --host:--port, sends `GET <path>?ticket=<ticket>` on each (tickets --start .. --start+count-1 of
 * --tickets, one per line: each is single-use), checks the 200 and its chunked transfer encoding, de-chunks the body
 * and parses the spec's records (10-byte header `!BBHHI` kind, 0, length, seq, timestamp; then the payload).
 *
 * Each audio record's payload starts with the bench sender's send time: 8 bytes big-endian whose top byte is an
 * Opus TOC (0xF8) and whose low 56 bits are CLOCK_MONOTONIC ns (same machine, same clock as Python's
 * time.monotonic_ns()). Latency = the time read() returned the bytes - that send time, binned by 0.1 ms.
 *
 * --seq-log FILE (bench/broadcast_stage.py, real Opus from Janus: no send time in the payload): the window is on the
 * read time instead, CLOCK_REALTIME ns (the clock of the kernel's packet timestamps), and every audio record read in
 * it is logged to FILE in binary, 16 bytes per run of consecutive sequence numbers completed by one read():
 * u32 listener index (--start + connection), u16 first RTP seq, u16 count, i64 read time; native byte order. The
 * bench joins them with the forward times it captured. The histogram stays empty in this mode.
 *
 * Orders on stdin, one JSON object per line (only the key is looked at):
 *   {"window": [FROM_NS, TO_NS]}  count audio records whose send time (--seq-log: read time) is in [FROM, TO)
 *   {"report": true}               print the report line
 *   {"exit": true} or EOF          exit at once (the kernel closes the sockets)
 * Lines on stdout, JSON: {"ready": ...} once every connection was accepted or refused, {"window": ...}, {"report": ...}.
 * The process kills itself after 30 minutes whatever happens (alarm), and dies with its parent (PR_SET_PDEATHSIG).
 *
 * TLS (bench/broadcast_tls.py): built with -DSTREAM_TLS and -lssl -lcrypto (the plain build links neither), `--tls 1`
 * wraps each connection in TLS 1.3 (OpenSSL's default suites): after the TCP connect, a non-blocking SSL_connect
 * driven by the same epoll loop, then the request with SSL_write and every read with SSL_read (drained until
 * WANT_READ). The server's certificate is NOT verified (SSL_VERIFY_NONE): the bench measures cost, not trust.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef STREAM_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif

#define PMAX 256            /* payload bytes kept per record: the timestamp, or a notice's / hello's JSON */
#define HMAX 4096           /* response head (and a refusal's body) kept per connection while it is read */
#define NBINS 200000        /* latency histogram: 0.1 ms bins up to 20 s, the last one holds everything above */
#define READ_BUF (256 * 1024)
#define MAX_REASONS 64
#define STAMP_MASK 0x00FFFFFFFFFFFFFFull

enum { ST_IDLE, ST_CONNECTING, ST_HEAD, ST_BODY, ST_REFUSED, ST_DONE };
enum { CH_SIZE, CH_EXT, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_END };

struct conn {
    int fd;
    uint8_t state, cstate, rhlen, have_seq, hello, connected, cdigits;
    uint16_t last_seq, rlen, rgot;
    uint16_t req_len, req_off;
    uint32_t csize;
    uint32_t in_window;
    uint8_t rhdr[10];
    uint8_t pbuf[PMAX];
    void *ssl;              /* the SSL object in --tls mode, else NULL */
    uint8_t tls_phase;      /* ST_CONNECTING in --tls mode: 0 TCP connect, 1 handshake, 2 request */
    char *head;             /* ST_CONNECTING: the request; ST_HEAD / ST_REFUSED: what was read so far */
    uint16_t head_len;
    int status;
};

struct reason { char name[96]; uint64_t count; };

static struct conn *conns;
static int nconns;
static char **tickets;
static const char *host = "127.0.0.1", *path = "/", *tickets_file = NULL;
static int port = 0, start_index = 0, concurrency = 256;
static double connect_timeout_s = 120.0;
static int epfd;
static int use_tls;
static FILE *seq_log;
struct seq_run { uint32_t listener; uint16_t first, count; int64_t read_ns; };
static struct seq_run seq_pending;
static uint64_t seq_runs;
#ifdef STREAM_TLS
static SSL_CTX *tls_ctx;
#endif

static struct reason failures[MAX_REASONS], notices[MAX_REASONS], closes[MAX_REASONS];
static uint64_t hist[NBINS];
static int64_t window_from = INT64_MAX, window_to = INT64_MAX;
static uint64_t records_total, records_in_window, hellos, bytes_read, reads, dups, reorders, gaps, bad_records,
    audio_before_hello, negative_latency, protocol_errors;
static int64_t latency_max_ns;
static int chunk_ms_min = -1, chunk_ms_max = -1;
static int connected_count, resolved_count, in_flight, next_to_start, ready_printed;
static int64_t started_ns;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t real_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void seq_flush(void) {
    if (!seq_pending.count) return;
    fwrite(&seq_pending, sizeof seq_pending, 1, seq_log);
    seq_runs++;
    seq_pending.count = 0;
}

/* One audio record read at `now`: extends the pending run when it is the same read's next seq, else starts one. */
static void seq_note(struct conn *c, uint16_t seq, int64_t now) {
    uint32_t listener = (uint32_t)(start_index + (c - conns));
    struct seq_run *r = &seq_pending;
    if (r->count && r->count < UINT16_MAX && r->listener == listener && r->read_ns == now &&
        (uint16_t)(r->first + r->count) == seq) {
        r->count++;
        return;
    }
    seq_flush();
    *r = (struct seq_run){.listener = listener, .first = seq, .count = 1, .read_ns = now};
}

static void bump(struct reason *table, const char *name) {
    for (int i = 0; i < MAX_REASONS; i++) {
        if (table[i].count && strcmp(table[i].name, name) == 0) { table[i].count++; return; }
        if (!table[i].count) {
            snprintf(table[i].name, sizeof table[i].name, "%s", name);
            table[i].count = 1;
            return;
        }
    }
}

static void print_reasons(const char *key, struct reason *table) {
    printf("\"%s\": {", key);
    for (int i = 0, first = 1; i < MAX_REASONS && table[i].count; i++, first = 0)
        printf("%s\"%s\": %llu", first ? "" : ", ", table[i].name, (unsigned long long)table[i].count);
    printf("}");
}

/* The string value of "key" in a small JSON text (no escapes expected: codes are identifiers); "" if absent. */
static void json_string(const char *text, size_t len, const char *key, char *out, size_t out_size) {
    out[0] = 0;
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\"", key);
    const char *at = memmem(text, len, needle, strlen(needle));
    if (!at) return;
    const char *end = text + len, *p = at + strlen(needle);
    while (p < end && (*p == ' ' || *p == ':')) p++;
    if (p >= end || *p != '"') return;
    p++;
    size_t n = 0;
    while (p < end && *p != '"' && n + 1 < out_size) {
        char c = *p++;
        out[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ? c : '?';
    }
    out[n] = 0;
}

static long json_int(const char *text, size_t len, const char *key) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\"", key);
    const char *at = memmem(text, len, needle, strlen(needle));
    if (!at) return -1;
    const char *end = text + len, *p = at + strlen(needle);
    while (p < end && (*p == ' ' || *p == ':')) p++;
    long value = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9') { value = value * 10 + (*p++ - '0'); digits++; }
    return digits ? value : -1;
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint64_t be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static void finish(struct conn *c, const char *why);

static void record_done(struct conn *c, int64_t now) {
    uint8_t kind = c->rhdr[0];
    uint16_t seq = be16(c->rhdr + 4);
    size_t kept = c->rlen < PMAX ? c->rlen : PMAX;
    c->rhlen = 0;
    if (c->rhdr[1] != 0) bad_records++;
    if (kind == 0) {
        if (!c->hello) audio_before_hello++;
        if (c->rlen < 8 && !seq_log) { bad_records++; return; }
        records_total++;
        if (c->have_seq) {
            uint16_t d = (uint16_t)(seq - c->last_seq);
            if (d == 0) { dups++; return; }
            if (d > 32768) { reorders++; return; }
            gaps += d - 1u;
        }
        c->have_seq = 1;
        c->last_seq = seq;
        if (seq_log) {
            if (now < window_from || now >= window_to) return;
            c->in_window++;
            records_in_window++;
            seq_note(c, seq, now);
            return;
        }
        int64_t sent = (int64_t)(be64(c->pbuf) & STAMP_MASK);
        if (sent < window_from || sent >= window_to) return;
        c->in_window++;
        records_in_window++;
        int64_t latency = now - sent;
        if (latency < 0) { negative_latency++; latency = 0; }
        if (latency > latency_max_ns) latency_max_ns = latency;
        int64_t bin = latency / 100000;
        hist[bin < NBINS ? bin : NBINS - 1]++;
    } else if (kind == 1) {
        char code[64];
        json_string((const char *)c->pbuf, kept, "code", code, sizeof code);
        bump(notices, code[0] ? code : "unparsed");
    } else if (kind == 2) {
        if (c->hello) bad_records++;
        c->hello = 1;
        hellos++;
        long chunk = json_int((const char *)c->pbuf, kept, "chunk_ms");
        if (chunk >= 0) {
            if (chunk_ms_min < 0 || chunk < chunk_ms_min) chunk_ms_min = (int)chunk;
            if (chunk > chunk_ms_max) chunk_ms_max = (int)chunk;
        }
    } else {
        bad_records++;
    }
}

static void feed_records(struct conn *c, const uint8_t *p, size_t n, int64_t now) {
    while (n) {
        if (c->rhlen < 10) {
            size_t take = 10u - c->rhlen < n ? 10u - c->rhlen : n;
            memcpy(c->rhdr + c->rhlen, p, take);
            c->rhlen += (uint8_t)take;
            p += take;
            n -= take;
            if (c->rhlen == 10) {
                c->rlen = be16(c->rhdr + 2);
                c->rgot = 0;
                if (c->rlen == 0) record_done(c, now);
            }
            continue;
        }
        size_t want = (size_t)(c->rlen - c->rgot), take = want < n ? want : n;
        if (c->rgot < PMAX) {
            size_t room = (size_t)(PMAX - c->rgot), keep = room < take ? room : take;
            memcpy(c->pbuf + c->rgot, p, keep);
        }
        c->rgot += (uint16_t)take;
        p += take;
        n -= take;
        if (c->rgot == c->rlen) record_done(c, now);
    }
}

static int hexval(uint8_t ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* De-chunks; returns 0, or -1 on a protocol error (the connection is then finished). */
static int feed_body(struct conn *c, const uint8_t *p, size_t n, int64_t now) {
    while (n) {
        switch (c->cstate) {
        case CH_SIZE:
        case CH_EXT: {
            uint8_t ch = *p++;
            n--;
            int v = c->cstate == CH_SIZE ? hexval(ch) : -1;
            if (v >= 0) {
                if (c->cdigits++ >= 7) return -1;
                c->csize = c->csize * 16 + (uint32_t)v;
            } else if (ch == '\n') {
                if (!c->cdigits) return -1;
                c->cstate = c->csize ? CH_DATA : CH_END;
            } else if (ch == ';') {
                c->cstate = CH_EXT;
            } else if (ch != '\r' && c->cstate == CH_SIZE) {
                return -1;
            }
            break;
        }
        case CH_DATA: {
            size_t take = c->csize < n ? c->csize : n;
            feed_records(c, p, take, now);
            p += take;
            n -= take;
            c->csize -= (uint32_t)take;
            if (!c->csize) c->cstate = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (*p != '\r') return -1;
            p++, n--;
            c->cstate = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (*p != '\n') return -1;
            p++, n--;
            c->cstate = CH_SIZE;
            c->csize = 0;
            c->cdigits = 0;
            break;
        default: /* CH_END: the last chunk came; trailers are ignored */
            return 0;
        }
    }
    return 0;
}

static void maybe_ready(void);
static void start_more(void);

static void watch(struct conn *c, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - conns)};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* read() or SSL_read(): > 0 bytes, 0 at the end of the stream, -1 with errno (EAGAIN: nothing to read now). */
static ssize_t conn_read(struct conn *c, void *buf, size_t len) {
#ifdef STREAM_TLS
    if (c->ssl) {
        int n = SSL_read(c->ssl, buf, (int)len);
        if (n > 0) return n;
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) { errno = EAGAIN; return -1; }
        if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) return 0;
        ERR_clear_error();
        errno = ECONNRESET;
        return -1;
    }
#endif
    return read(c->fd, buf, len);
}

static ssize_t conn_write(struct conn *c, const void *buf, size_t len) {
#ifdef STREAM_TLS
    if (c->ssl) {
        int n = SSL_write(c->ssl, buf, (int)len);
        if (n > 0) return n;
        int e = SSL_get_error(c->ssl, n);
        ERR_clear_error();
        errno = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? EAGAIN : EPIPE;
        return -1;
    }
#endif
    return write(c->fd, buf, len);
}

static void finish(struct conn *c, const char *why) {
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
#ifdef STREAM_TLS
    if (c->ssl) { SSL_free(c->ssl); c->ssl = NULL; }
#endif
    int was_pending = c->state == ST_CONNECTING || c->state == ST_HEAD || c->state == ST_REFUSED;
    if (c->state == ST_BODY) {
        bump(closes, why);
    } else if (was_pending) {
        bump(failures, why);
        resolved_count++;
        in_flight--;
    }
    c->state = ST_DONE;
    free(c->head);
    c->head = NULL;
    if (was_pending) {
        start_more();
        maybe_ready();
    }
}

static void refused(struct conn *c) {
    char code[64], why[96];
    const char *body = memmem(c->head, c->head_len, "\r\n\r\n", 4);
    size_t off = body ? (size_t)(body - c->head) + 4 : c->head_len;
    json_string(c->head + off, c->head_len - off, "code", code, sizeof code);
    snprintf(why, sizeof why, "http_%d:%s", c->status, code[0] ? code : "?");
    finish(c, why);
}

static void on_head(struct conn *c, int64_t now) {
    char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->head_len >= HMAX) finish(c, "head_too_long");
        return;
    }
    int status = 0;
    if (sscanf(c->head, "HTTP/1.%*d %d", &status) != 1) { finish(c, "bad_status_line"); return; }
    c->status = status;
    if (status != 200) { c->state = ST_REFUSED; return; }
    size_t head_len = (size_t)(end - c->head) + 4;
    c->head[head_len - 2] = 0;
    if (!strcasestr(c->head, "\r\ntransfer-encoding: chunked")) { finish(c, "not_chunked"); return; }
    if (!strcasestr(c->head, "\r\ncontent-type: application/vnd.salon.opus-stream")) {
        finish(c, "wrong_content_type");
        return;
    }
    uint8_t rest[HMAX];
    size_t rest_len = c->head_len - head_len;
    memcpy(rest, c->head + head_len, rest_len);
    free(c->head);
    c->head = NULL;
    c->state = ST_BODY;
    c->connected = 1;
    connected_count++;
    resolved_count++;
    in_flight--;
    start_more();
    maybe_ready();
    if (rest_len && feed_body(c, rest, rest_len, now) < 0) { protocol_errors++; finish(c, "protocol_error"); }
}

static void on_readable(struct conn *c) {
    static uint8_t buf[READ_BUF];
    for (;;) {
        ssize_t n;
        if (c->state == ST_HEAD || c->state == ST_REFUSED) {
            if (c->head_len >= HMAX) { c->state == ST_REFUSED ? refused(c) : finish(c, "head_too_long"); return; }
            n = conn_read(c, c->head + c->head_len, HMAX - c->head_len);
        } else {
            n = conn_read(c, buf, sizeof buf);
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            c->state == ST_REFUSED ? refused(c) : finish(c, c->state == ST_BODY ? "reset" : "reset_before_head");
            return;
        }
        if (n == 0) {
            c->state == ST_REFUSED ? refused(c) : finish(c, c->state == ST_BODY ? "eof" : "eof_before_head");
            return;
        }
        int64_t now = seq_log ? real_ns() : now_ns();
        bytes_read += (uint64_t)n;
        reads++;
        if (c->state == ST_HEAD) {
            c->head_len += (uint16_t)n;
            on_head(c, now);
            if (!c->ssl || c->state == ST_DONE) return;
            continue; /* TLS: the next record may already be in OpenSSL's buffer, which epoll cannot see */
        }
        if (c->state == ST_REFUSED) {
            c->head_len += (uint16_t)n;
            continue;
        }
        if (feed_body(c, buf, (size_t)n, now) < 0) { protocol_errors++; finish(c, "protocol_error"); return; }
        if (c->cstate == CH_END) { finish(c, "last_chunk"); return; }
        if (n < READ_BUF && !c->ssl) return; /* SSL_read returns one record at a time: drain to WANT_READ */
    }
}

static void on_writable(struct conn *c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (c->req_off == 0 && c->tls_phase == 0) {
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            char why[64];
            snprintf(why, sizeof why, "connect_%s", err == ECONNREFUSED ? "refused" : "error");
            finish(c, why);
            return;
        }
#ifdef STREAM_TLS
        if (use_tls) {
            c->ssl = SSL_new(tls_ctx);
            if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) { finish(c, "tls_setup_error"); return; }
            c->tls_phase = 1;
        }
#endif
    }
#ifdef STREAM_TLS
    if (c->tls_phase == 1) {
        int r = SSL_connect(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) { watch(c, EPOLLIN); return; }
            if (e == SSL_ERROR_WANT_WRITE) { watch(c, EPOLLOUT); return; }
            ERR_clear_error();
            finish(c, "tls_handshake_error");
            return;
        }
        c->tls_phase = 2;
    }
#endif
    ssize_t n = conn_write(c, c->head + c->req_off, c->req_len - c->req_off);
    if (n < 0) {
        if (errno != EAGAIN) finish(c, "write_error");
        else if (c->ssl) watch(c, EPOLLOUT);
        return;
    }
    c->req_off += (uint16_t)n;
    if (c->req_off < c->req_len) return;
    free(c->head);
    c->head = malloc(HMAX + 1);
    c->head_len = 0;
    c->state = ST_HEAD;
    watch(c, EPOLLIN | EPOLLRDHUP);
}

static void start_one(int i) {
    struct conn *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->state = ST_CONNECTING;
        in_flight++;
        finish(c, errno == EMFILE ? "emfile" : "socket_error");
        return;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    c->head = malloc(HMAX);
    int len = snprintf(c->head, HMAX, "GET %s?ticket=%s HTTP/1.1\r\nHost: %s:%d\r\nOrigin: http://bench.invalid\r\n"
                       "Accept: */*\r\nUser-Agent: salon-stream-load\r\n\r\n", path, tickets[i], host, port);
    c->req_len = (uint16_t)len;
    c->req_off = 0;
    c->state = ST_CONNECTING;
    in_flight++;
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        finish(c, errno == EADDRNOTAVAIL ? "no_ephemeral_port" : "connect_error");
    }
}

static int starting, deadline_passed;

static void start_more(void) {
    if (starting || deadline_passed) return; /* a failure inside start_one() must not recurse */
    starting = 1;
    while (in_flight < concurrency && next_to_start < nconns) start_one(next_to_start++);
    starting = 0;
}

static void maybe_ready(void) {
    if (ready_printed || resolved_count < nconns) return;
    ready_printed = 1;
    printf("{\"ready\": %d, \"connections\": %d, \"connect_s\": %.3f, \"pid\": %d, ", connected_count, nconns,
           (double)(now_ns() - started_ns) / 1e9, (int)getpid());
    print_reasons("failures", failures);
    printf("}\n");
    fflush(stdout);
}

static void connect_deadline(void) {
    deadline_passed = 1;
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        if (c->state == ST_IDLE) { c->state = ST_CONNECTING; in_flight++; }
        if (c->state == ST_CONNECTING || c->state == ST_HEAD || c->state == ST_REFUSED) finish(c, "connect_timeout");
    }
}

static void report(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (seq_log) { seq_flush(); fflush(seq_log); }
    int open = 0;
    for (int i = 0; i < nconns; i++) open += conns[i].state == ST_BODY;
    printf("{\"report\": true, \"connections\": %d, \"connected\": %d, \"open\": %d, \"hellos\": %llu, "
           "\"records\": %llu, \"in_window\": %llu, \"dups\": %llu, \"reorders\": %llu, \"gaps\": %llu, "
           "\"bad_records\": %llu, \"audio_before_hello\": %llu, \"protocol_errors\": %llu, "
           "\"negative_latency\": %llu, \"latency_max_ns\": %lld, \"bytes\": %llu, \"reads\": %llu, "
           "\"seq_runs\": %llu, \"chunk_ms\": [%d, %d], \"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f, \"maxrss_kb\": %ld, ",
           nconns, connected_count, open, (unsigned long long)hellos, (unsigned long long)records_total,
           (unsigned long long)records_in_window, (unsigned long long)dups, (unsigned long long)reorders,
           (unsigned long long)gaps, (unsigned long long)bad_records, (unsigned long long)audio_before_hello,
           (unsigned long long)protocol_errors, (unsigned long long)negative_latency, (long long)latency_max_ns,
           (unsigned long long)bytes_read, (unsigned long long)reads, (unsigned long long)seq_runs, chunk_ms_min, chunk_ms_max,
           (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
    print_reasons("failures", failures);
    printf(", ");
    print_reasons("notices", notices);
    printf(", ");
    print_reasons("closed", closes);
    printf(", \"per_listener\": [");
    for (int i = 0; i < nconns; i++) printf("%s%u", i ? "," : "", conns[i].in_window);
    printf("], \"latency_hist_100us\": [");
    for (int i = 0, first = 1; i < NBINS; i++)
        if (hist[i]) { printf("%s[%d,%llu]", first ? "" : ",", i, (unsigned long long)hist[i]); first = 0; }
    printf("]}\n");
    fflush(stdout);
}

static int on_stdin(void) {
    static char line[4096];
    static size_t len;
    ssize_t n = read(0, line + len, sizeof line - 1 - len);
    if (n <= 0) return -1;
    len += (size_t)n;
    char *nl;
    while ((nl = memchr(line, '\n', len))) {
        *nl = 0;
        if (strstr(line, "\"window\"")) {
            long long from, to;
            const char *bracket = strchr(line, '[');
            if (bracket && sscanf(bracket, "[%lld , %lld", &from, &to) == 2) {
                window_from = from;
                window_to = to;
                printf("{\"window\": [%lld, %lld]}\n", from, to);
            } else {
                printf("{\"error\": \"bad window order\"}\n");
            }
            fflush(stdout);
        } else if (strstr(line, "\"report\"")) {
            report();
        } else if (strstr(line, "\"exit\"")) {
            return -1;
        }
        size_t used = (size_t)(nl - line) + 1;
        memmove(line, line + used, len - used);
        len -= used;
    }
    if (len == sizeof line - 1) len = 0; /* an absurd line: forget it */
    return 0;
}

static void load_tickets(void) {
    FILE *f = fopen(tickets_file, "r");
    if (!f) { perror("tickets"); exit(2); }
    tickets = calloc((size_t)nconns, sizeof *tickets);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int index = 0, kept = 0;
    while ((n = getline(&line, &cap, f)) >= 0 && kept < nconns) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (!n) continue;
        if (index++ < start_index) continue;
        if (n > 2000) { fprintf(stderr, "ticket %d too long\n", index - 1); exit(2); }
        tickets[kept++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (kept < nconns) { fprintf(stderr, "only %d tickets from index %d\n", kept, start_index); exit(2); }
}

static void usage(void) {
    fprintf(stderr, "stream_load --port P --path /v1/stream/ROOM --tickets FILE --count N [--host 127.0.0.1] "
                    "[--start 0] [--concurrency 256] [--connect-timeout 120] [--tls 0|1] [--seq-log FILE]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--path")) path = v;
        else if (!strcmp(a, "--tickets")) tickets_file = v;
        else if (!strcmp(a, "--start")) start_index = atoi(v);
        else if (!strcmp(a, "--count")) nconns = atoi(v);
        else if (!strcmp(a, "--concurrency")) concurrency = atoi(v);
        else if (!strcmp(a, "--connect-timeout")) connect_timeout_s = atof(v);
        else if (!strcmp(a, "--tls")) use_tls = atoi(v);
        else if (!strcmp(a, "--seq-log")) {
            seq_log = fopen(v, "wb");
            if (!seq_log) { perror("--seq-log"); return 2; }
            setvbuf(seq_log, NULL, _IOFBF, 1 << 20);
        }
        else usage();
        i++;
    }
    if (!port || !tickets_file || nconns <= 0 || concurrency <= 0) usage();
#ifdef STREAM_TLS
    if (use_tls) {
        tls_ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(tls_ctx, TLS1_3_VERSION);
        SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_options(tls_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF); /* a peer that just closes: EOF, not an error */
        SSL_CTX_set_mode(tls_ctx, SSL_MODE_RELEASE_BUFFERS);        /* thousands of idle connections per process */
    }
#else
    if (use_tls) { fprintf(stderr, "--tls 1: this build has no TLS (compile with -DSTREAM_TLS -lssl -lcrypto)\n"); return 2; }
#endif
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(1800);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)nconns + 16 > rl.rlim_cur) {
        fprintf(stderr, "open-file limit %llu too low for %d connections\n", (unsigned long long)rl.rlim_cur, nconns);
        return 2;
    }
    load_tickets();
    conns = calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) conns[i].fd = -1;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
    started_ns = now_ns();
    start_more();
    struct epoll_event events[1024];
    for (;;) {
        int n = epoll_wait(epfd, events, 1024, ready_printed ? -1 : 100);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int k = 0; k < n; k++) {
            uint32_t i = events[k].data.u32;
            if (i == UINT32_MAX) {
                if (on_stdin() < 0) return 0;
                continue;
            }
            struct conn *c = &conns[i];
            if (c->state == ST_CONNECTING) {
                if (events[k].events & (EPOLLOUT | EPOLLIN | EPOLLERR | EPOLLHUP)) on_writable(c);
            } else if (c->state == ST_HEAD || c->state == ST_REFUSED || c->state == ST_BODY) {
                on_readable(c);
            }
        }
        if (!ready_printed && (double)(now_ns() - started_ns) / 1e9 > connect_timeout_s) connect_deadline();
    }
}
