/*
 * PostgreSQL: the live feed across every wharfd on one database.
 *
 * A wharfd's writer publishes its own rows to its own feed after each
 * commit (store.c), as on SQLite. For the rows of the others, the
 * writer's transaction carries a NOTIFY on channel wharf_feed, delivered
 * by PostgreSQL to every listening session once (and only if) the
 * transaction commits, in commit order. The payload names the rows, not
 * their text: NOTIFY payloads are limited to 8000 bytes, a log line alone
 * may be 64 KiB, and a group commit holds thousands. So it says
 *
 *     <origin> L <first> <last> <xid>     log rows: the ids of one commit
 *                                         are in [first, last], among
 *                                         other writers' (built by the
 *                                         server, store_pg.c); xid tells
 *                                         the commit's own
 *     <origin> E <id> <id> ...            error rows it changed
 *     <origin> V <id> <id> ...            events
 *     <origin> P <worker>/<instance> ...  process rows
 *
 * each list cut into payloads of at most WHARFD_PG_NOTIFY_MAX bytes, and
 * every wharfd's listener thread (LISTEN wharf_feed on a connection of
 * its own) reads those rows back and hands them to its feed, unless the
 * origin is its own or nobody subscribes to its feed (then it reads
 * nothing). An error comes once per row the commit changed, with the
 * row's count, where the local feed sends one message per counted
 * occurrence.
 *
 * Why NOTIFY and not logical decoding: it needs no replication slot (a
 * slot left behind by a dead wharfd holds WAL on the server until someone
 * drops it; a NOTIFY queue only holds what live listeners have not yet
 * read), no wal_level=logical and no replication privilege, works through
 * any pooler in session mode, and the read-back is an index lookup by id.
 * What it costs: a NOTIFY takes a database-wide lock at commit, which the
 * log commit lock already serialises (store_pg.h); a listener that
 * reconnects after losing its connection misses what was announced
 * meanwhile (its feed's subscribers see the rows of other wharfds again
 * from then on; their own wharfd's rows never pass here).
 *
 * The same thread makes the log partitions ahead, every hour.
 */
#include "store_pg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Partitions are checked this often (and at start). */
#define MAINTENANCE_S 3600
/* A lost listener connection is opened again after this long. */
#define RETRY_MS 1000

/* --- the writer's side: news of a group ------------------------------------------ */

void
wharfd_pg_news_reset(struct wharfd_pg *st)
{
    st->news.logs = 0;
    st->news.errors_len = st->news.events_len = st->news.processes_len = 0;
    st->news.oom = 0;
}

void
wharfd_pg_news_add(struct wharfd_pg *st, char **list, size_t *len,
                   const char *item)
{
    size_t n = strlen(item);
    char *p = realloc(*list, *len + n + 2);

    if (p == NULL) {
        st->news.oom = 1; /* nothing more is announced of this group */
        return;
    }
    *list = p;
    p[(*len)++] = ' ';
    memcpy(p + *len, item, n + 1);
    *len += n;
}

/* Sends list (" a b c") as NOTIFYs of kind, cut at item boundaries. */
static int
news_send_list(struct wharfd_pg *st, char kind, const char *list, size_t len)
{
    char payload[WHARFD_PG_NOTIFY_MAX + 1];
    struct wharfd_pgp p;
    size_t head, at = 0, n, end;
    int sent = 0;

    head =
        (size_t) snprintf(payload, sizeof(payload), "%s %c", st->origin, kind);
    while (at < len) {
        /* as many whole items as fit */
        end = at;
        while (end < len) {
            const char *next = memchr(list + end + 1, ' ', len - end - 1);
            size_t item_end = next ? (size_t) (next - list) : len;

            if (head + (item_end - at) > WHARFD_PG_NOTIFY_MAX) {
                break;
            }
            end = item_end;
        }
        if (end == at) {
            break; /* an item longer than a payload: cannot be */
        }
        n = end - at;
        memcpy(payload + head, list + at, n);
        payload[head + n] = '\0';
        wharfd_pgp_reset(&p);
        wharfd_pgp_textn(&p, payload, head + n);
        wharfd_pgw_send(st, WHARFD_PGW_NOTIFY, &p);
        sent++;
        at = end;
    }
    return sent;
}

int
wharfd_pg_news_send(struct wharfd_pg *st)
{
    struct wharfd_pgp p;
    int sent = 0;

    if (st->news.logs) {
        /* the ids are the server's to know: it builds the payload */
        wharfd_pgp_reset(&p);
        wharfd_pgp_text(&p, st->origin);
        wharfd_pgw_send(st, WHARFD_PGW_LOG_NOTIFY, &p);
        sent++;
    }
    if (st->news.oom) {
        return sent;
    }
    sent += news_send_list(st, 'E', st->news.errors, st->news.errors_len);
    sent += news_send_list(st, 'V', st->news.events, st->news.events_len);
    sent += news_send_list(st, 'P', st->news.processes, st->news.processes_len);
    return sent;
}

/* --- the listener's side: rows of another wharfd ---------------------------------- */

/* Log rows first..last, published in batches of consecutive rows of one
 * (worker, container, instance). */
static void
read_logs(struct wharfd_pg *st, struct wharfd_pgconn *c, long long first,
          long long last, const char *xid)
{
    struct wharfd_log_in *logs;
    struct wharfd_log_batch b;
    struct wharfd_pgp p;
    char **bufs;
    PGresult *r;
    int n, i, from;

    wharfd_pgp_reset(&p);
    wharfd_pgp_int8(&p, first);
    wharfd_pgp_int8(&p, last);
    wharfd_pgp_text(&p, xid);
    r = wharfd_pg_exec(st, c,
                       "SELECT worker_name, container_name, instance_id,"
                       " process_id, sequence, timestamp, level, message,"
                       " message_nuls, stream, source, metadata"
                       " FROM container_logs WHERE id BETWEEN $1 AND $2"
                       " AND ($3::xid IS NULL OR xmin = $3::xid)"
                       " ORDER BY id",
                       &p, PGRES_TUPLES_OK);
    if (r == NULL) {
        return;
    }
    n = PQntuples(r);
    logs = calloc((size_t) (n ? n : 1), sizeof(*logs));
    bufs = calloc((size_t) (n ? n : 1), sizeof(*bufs));
    if (logs == NULL || bufs == NULL) {
        n = 0;
    }
#define TXT(row, col) \
    (PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col))
    for (i = 0; i < n; i++) {
        struct wharfd_log_in *l = &logs[i];
        size_t len = (size_t) PQgetlength(r, i, 7);

        l->sequence = wharfd_pg_int8(r, i, 4);
        snprintf(l->timestamp, sizeof(l->timestamp), "%s", PQgetvalue(r, i, 5));
        l->level = PQgetvalue(r, i, 6);
        l->message = PQgetvalue(r, i, 7);
        l->message_len = len;
        if (!PQgetisnull(r, i, 8)
            && wharfd_pg_nul_decode(l->message, len, PQgetvalue(r, i, 8),
                                    (size_t) PQgetlength(r, i, 8), &bufs[i],
                                    &l->message_len)
                == 0) {
            l->message = bufs[i];
        }
        l->stream = TXT(i, 9);
        l->source = TXT(i, 10);
        l->metadata = TXT(i, 11);
        l->process_id = TXT(i, 3);
        l->stored = 1;
    }
    for (from = 0; from < n; from = i) {
        for (i = from + 1; i < n; i++) {
            if (strcmp(PQgetvalue(r, i, 0), PQgetvalue(r, from, 0)) != 0
                || strcmp(PQgetvalue(r, i, 2), PQgetvalue(r, from, 2)) != 0
                || PQgetisnull(r, i, 1) != PQgetisnull(r, from, 1)
                || strcmp(PQgetvalue(r, i, 1), PQgetvalue(r, from, 1)) != 0) {
                break;
            }
        }
        memset(&b, 0, sizeof(b));
        b.worker = PQgetvalue(r, from, 0);
        b.container = TXT(from, 1);
        b.instance = PQgetvalue(r, from, 2);
        b.logs = &logs[from];
        b.n = (size_t) (i - from);
        b.stored = (long long) b.n;
        wharfd_store_publish_remote(&st->base, WHARFD_KIND_LOGS, &b, b.n);
    }
    for (i = 0; i < n; i++) {
        free(bufs[i]);
    }
    free(bufs);
    free(logs);
    PQclear(r);
}

/* The ids of list (" 12 15 ...") as a binary bigint[] into a. */
static void
ids_array(const char *list, struct wharfd_pgarr *a)
{
    const char *s = list;
    char *end;
    long long id;

    wharfd_pgarr_start(a, WHARFD_PG_INT8);
    for (;;) {
        id = strtoll(s, &end, 10);
        if (end == s) {
            break;
        }
        wharfd_pgarr_int8(a, id);
        s = end;
    }
    wharfd_pgarr_end(a);
}

/* The rows of one table whose ids are in list, in id order: select is the
 * statement up to its WHERE, which this adds. NULL when it failed. */
static PGresult *
read_by_ids(struct wharfd_pg *st, struct wharfd_pgconn *c, const char *list,
            const char *select)
{
    struct wharfd_pgarr a = { 0 };
    struct wharfd_pgp p;
    char sql[512];
    PGresult *r;

    snprintf(sql, sizeof(sql), "%s WHERE id = ANY($1) ORDER BY id", select);
    ids_array(list, &a);
    wharfd_pgp_reset(&p);
    wharfd_pgp_bytes(&p, WHARFD_PG_INT8ARR, a.p, a.len);
    r = wharfd_pg_exec(st, c, sql, &p, PGRES_TUPLES_OK);
    wharfd_pgarr_free(&a);
    return r;
}

static void
read_errors(struct wharfd_pg *st, struct wharfd_pgconn *c, const char *list)
{
    struct wharfd_error_batch b;
    struct wharfd_error_in e;
    PGresult *r;
    char *buf;
    int i;

    r = read_by_ids(st, c, list,
                    "SELECT worker_name, container_name, instance_id,"
                    " process_id, error_hash, timestamp, level, message,"
                    " message_nuls, raw_output, occurrence_count"
                    " FROM container_errors");
    if (r == NULL) {
        return;
    }
    for (i = 0; i < PQntuples(r); i++) {
        memset(&e, 0, sizeof(e));
        memset(&b, 0, sizeof(b));
        buf = NULL;
        e.level = wharfd_pg_float8(r, i, 6);
        snprintf(e.timestamp, sizeof(e.timestamp), "%s", PQgetvalue(r, i, 5));
        e.message = PQgetvalue(r, i, 7);
        e.message_len = (size_t) PQgetlength(r, i, 7);
        if (!PQgetisnull(r, i, 8)
            && wharfd_pg_nul_decode(
                   e.message, e.message_len, PQgetvalue(r, i, 8),
                   (size_t) PQgetlength(r, i, 8), &buf, &e.message_len)
                == 0) {
            e.message = buf;
        }
        e.raw_output = TXT(i, 9);
        e.process_id = TXT(i, 3);
        snprintf(e.hash, sizeof(e.hash), "%s", PQgetvalue(r, i, 4));
        e.occurrence_count = wharfd_pg_int8(r, i, 10);
        b.worker = PQgetvalue(r, i, 0);
        b.container = TXT(i, 1);
        b.instance = PQgetvalue(r, i, 2);
        b.errors = &e;
        b.n = 1;
        wharfd_store_publish_remote(&st->base, WHARFD_KIND_ERRORS, &b, 1);
        free(buf);
    }
    PQclear(r);
}

static void
read_events(struct wharfd_pg *st, struct wharfd_pgconn *c, const char *list)
{
    struct wharfd_event_in e;
    PGresult *r;
    int i;

    r = read_by_ids(st, c, list,
                    "SELECT worker_name, container_name, instance_id,"
                    " process_id, type, payload, timestamp"
                    " FROM container_events");
    if (r == NULL) {
        return;
    }
    for (i = 0; i < PQntuples(r); i++) {
        memset(&e, 0, sizeof(e));
        e.worker = PQgetvalue(r, i, 0);
        e.container = TXT(i, 1);
        e.instance = TXT(i, 2);
        e.process_id = TXT(i, 3);
        e.type = PQgetvalue(r, i, 4);
        e.payload = TXT(i, 5);
        snprintf(e.timestamp, sizeof(e.timestamp), "%s", PQgetvalue(r, i, 6));
        wharfd_store_publish_remote(&st->base, WHARFD_KIND_EVENTS, &e, 1);
    }
    PQclear(r);
}

static void
read_process(struct wharfd_pg *st, struct wharfd_pgconn *c, const char *key,
             size_t len)
{
    struct wharfd_process_in pr;
    const char *slash = memchr(key, '/', len);
    char worker[128], instance[128];
    struct wharfd_pgp p;
    PGresult *r;

    if (slash == NULL || (size_t) (slash - key) >= sizeof(worker)
        || len - (size_t) (slash - key) - 1 >= sizeof(instance)) {
        return;
    }
    snprintf(worker, sizeof(worker), "%.*s", (int) (slash - key), key);
    snprintf(instance, sizeof(instance), "%.*s",
             (int) (len - (size_t) (slash - key) - 1), slash + 1);
    wharfd_pgp_reset(&p);
    wharfd_pgp_text(&p, worker);
    wharfd_pgp_text(&p, instance);
    r = wharfd_pg_exec(st, c,
                       "SELECT worker_name, container_name, instance_id,"
                       " process_id, command, args, cwd, status, pid,"
                       " restart_count, start_time, end_time, exit_code,"
                       " last_error, env, updated_at FROM container_processes"
                       " WHERE worker_name = $1 AND instance_id = $2",
                       &p, PGRES_TUPLES_OK);
    if (r == NULL) {
        return;
    }
    if (PQntuples(r) == 1) {
        memset(&pr, 0, sizeof(pr));
        pr.worker = PQgetvalue(r, 0, 0);
        pr.container = TXT(0, 1);
        pr.instance = PQgetvalue(r, 0, 2);
        pr.process_id = TXT(0, 3);
        pr.command = PQgetvalue(r, 0, 4);
        pr.args = TXT(0, 5);
        pr.cwd = TXT(0, 6);
        pr.status = PQgetvalue(r, 0, 7);
        pr.has_pid = !PQgetisnull(r, 0, 8);
        pr.pid = wharfd_pg_int8(r, 0, 8);
        pr.restart_count = wharfd_pg_int8(r, 0, 9);
        pr.start_time = TXT(0, 10);
        pr.end_time = TXT(0, 11);
        pr.has_exit_code = !PQgetisnull(r, 0, 12);
        pr.exit_code = wharfd_pg_int8(r, 0, 12);
        pr.last_error = TXT(0, 13);
        pr.env = TXT(0, 14);
        pr.now = PQgetvalue(r, 0, 15);
        wharfd_store_publish_remote(&st->base, WHARFD_KIND_PROCESSES, &pr, 1);
    }
    PQclear(r);
}
#undef TXT

/* One notification's payload. */
static void
on_news(struct wharfd_pg *st, struct wharfd_pgconn *c, const char *payload)
{
    size_t olen = strlen(st->origin);
    const char *items, *s, *e;
    long long first, last;
    char kind, xid[16];

    if (strlen(payload) < olen + 2 || payload[olen] != ' ') {
        return; /* not ours to read */
    }
    if (memcmp(payload, st->origin, olen) == 0) {
        return; /* our own rows: the writer published them */
    }
    if (!wharfd_store_feed_listening(&st->base)) {
        return; /* nobody subscribes here: nothing to read back */
    }
    kind = payload[olen + 1];
    items = payload + olen + 2;
    switch (kind) {
    case 'L':
        /* the transaction's id: the range holds other writers' ids too
         * (absent from an older wharfd's payloads, whose ranges held its
         * own ids only) */
        xid[0] = '\0';
        if (sscanf(items, " %lld %lld %15[0-9]", &first, &last, xid) >= 2) {
            read_logs(st, c, first, last, xid[0] ? xid : NULL);
        }
        break;
    case 'E':
        read_errors(st, c, items);
        break;
    case 'V':
        read_events(st, c, items);
        break;
    case 'P':
        for (s = items; *s;) {
            while (*s == ' ') {
                s++;
            }
            e = s + strcspn(s, " ");
            if (e > s) {
                read_process(st, c, s, (size_t) (e - s));
            }
            s = e;
        }
        break;
    default:
        break;
    }
}

static struct wharfd_pgconn *
listen_connect(struct wharfd_pg *st)
{
    struct wharfd_pgconn *c = wharfd_pg_connect(st, 0);

    if (c != NULL
        && wharfd_pg_simple(st, c->c, "LISTEN " WHARFD_PG_CHANNEL) != 0) {
        wharfd_pg_disconnect(c);
        c = NULL;
    }
    return c;
}

static void *
listener(void *arg)
{
    struct wharfd_pg *st = arg;
    struct wharfd_pgconn *c = NULL;
    struct pollfd fds[2];
    time_t next_maintenance = time(NULL) + MAINTENANCE_S;
    PGnotify *n;
    char byte;
    int lost = 0;

    while (!atomic_load(&st->stop)) {
        if (c == NULL) {
            c = listen_connect(st);
            if (c != NULL && lost) {
                atomic_fetch_add(&st->base.m.reconnects, 1);
                wharf_info("database %s: listening again", st->safe);
            }
        }
        fds[0].fd = st->wake[0];
        fds[0].events = POLLIN;
        fds[1].fd = c ? PQsocket(c->c) : -1;
        fds[1].events = POLLIN;
        if (poll(fds, 2, c ? 60000 : RETRY_MS) < 0 && errno != EINTR) {
            break;
        }
        if (fds[0].revents & POLLIN) {
            while (read(st->wake[0], &byte, 1) == 1) {
            }
            continue; /* stop is set */
        }
        if (c != NULL && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
            if (PQconsumeInput(c->c) != 1) {
                wharfd_pg_log_error(st, c->c, NULL, "listening");
                wharfd_pg_disconnect(c);
                c = NULL;
                lost = 1;
                continue;
            }
            while ((n = PQnotifies(c->c)) != NULL) {
                on_news(st, c, n->extra);
                PQfreemem(n);
            }
        }
        if (c != NULL && time(NULL) >= next_maintenance) {
            wharfd_pg_partitions_ensure(st, c->c);
            next_maintenance = time(NULL) + MAINTENANCE_S;
        }
    }
    wharfd_pg_disconnect(c);
    return NULL;
}

int
wharfd_pg_listen_start(struct wharfd_pg *st)
{
    if (pipe2(st->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        wharf_error("database %s: pipe: %s", st->safe, strerror(errno));
        st->wake[0] = st->wake[1] = -1;
        return -1;
    }
    if (pthread_create(&st->listener, NULL, listener, st) != 0) {
        wharf_error("database %s: cannot start the listener thread", st->safe);
        return -1;
    }
    pthread_setname_np(st->listener, "wharfd-listen");
    st->listener_started = 1;
    return 0;
}

void
wharfd_pg_listen_stop(struct wharfd_pg *st)
{
    if (st->listener_started) {
        atomic_store(&st->stop, 1);
        if (write(st->wake[1], "x", 1) != 1) {
            /* the pipe is full: a byte is there already */
        }
        pthread_join(st->listener, NULL);
        st->listener_started = 0;
    }
    if (st->wake[0] >= 0) {
        close(st->wake[0]);
        close(st->wake[1]);
        st->wake[0] = st->wake[1] = -1;
    }
}
