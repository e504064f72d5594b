/*
 * bench/agent: a chatty app printing realistic pino-style JSON log lines as
 * fast as it can for SECONDS, then exiting 0. Unlike `yes`, the fields vary
 * from line to line as a web server's do: the time, an incrementing request
 * id, the route (from a small set) with an item id, the status code, a
 * duration, the message (from a small set), now and then a warning or an
 * error. Built by bench/agent/run.mjs (LINES=pino).
 *
 *   pino_lines SECONDS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint32_t rng = 2463534242u;

static uint32_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
main(int argc, char **argv)
{
    static const char *const routes[] = {
        "GET /api/items/%u",       "GET /api/users/%u",
        "POST /api/orders",        "GET /health",
        "PUT /api/items/%u",       "GET /api/search?q=term%u",
        "DELETE /api/sessions/%u", "GET /static/app.%u.js",
    };
    static const char *const msgs[] = {
        "request completed", "request completed", "request completed",
        "cache miss",        "db query",          "session refreshed",
    };
    static const int codes[] = { 200, 200, 200, 200, 201, 204, 304, 404 };
    char buf[1 << 16], url[96];
    double seconds = argc > 1 ? atof(argv[1]) : 10;
    int64_t end = now_ms() + (int64_t) (seconds * 1000), t = now_ms();
    uint64_t req = 0x1a3f00;
    size_t len = 0;
    unsigned i = 0;

    for (;;) {
        uint32_t r = next();
        int level = r % 2000 == 0 ? 50 : r % 97 == 0 ? 40 : 30;
        const char *route = routes[(r >> 3) % 8];
        int n;

        if ((++i & 1023) == 0) {
            t = now_ms();
            if (t >= end) {
                break;
            }
        }
        snprintf(url, sizeof(url), route, (next() % 5000) + 1);
        if (level == 50) {
            n = snprintf(buf + len, sizeof(buf) - len,
                         "{\"level\":50,\"time\":%lld,\"pid\":4242,"
                         "\"hostname\":\"worker-7f9c\",\"reqId\":\"req-%llx\","
                         "\"err\":{\"type\":\"Error\",\"message\":\"upstream "
                         "timeout after %u ms\",\"stack\":\"Error: upstream "
                         "timeout\\n    at fetchItem (/app/src/items.js:%u:11)"
                         "\"},\"msg\":\"request failed\"}\n",
                         (long long) t, (unsigned long long) req++,
                         1000 + next() % 4000, 10 + next() % 90);
        } else {
            n = snprintf(buf + len, sizeof(buf) - len,
                         "{\"level\":%d,\"time\":%lld,\"pid\":4242,"
                         "\"hostname\":\"worker-7f9c\",\"reqId\":\"req-%llx\","
                         "\"req\":{\"method\":\"%.*s\",\"url\":\"%s\"},"
                         "\"res\":{\"statusCode\":%d},\"responseTime\":%u.%u,"
                         "\"msg\":\"%s\"}\n",
                         level, (long long) t, (unsigned long long) req++,
                         (int) strcspn(url, " "), url, strchr(url, ' ') + 1,
                         codes[(r >> 7) % 8], next() % 300, next() % 10,
                         msgs[(r >> 11) % 6]);
        }
        if (n < 0 || (size_t) n >= sizeof(buf) - len) {
            /* did not fit: write what is there, print this line again */
            ssize_t w = write(1, buf, len);

            if (w < 0 || (size_t) w != len) {
                return 1;
            }
            len = 0;
            req--;
            continue;
        }
        len += (size_t) n;
    }
    if (len > 0 && write(1, buf, len) < 0) {
        return 1;
    }
    return 0;
}
