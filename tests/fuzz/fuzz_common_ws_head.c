/* libFuzzer target: the request head the live feed reads itself before
 * its WebSocket handshake (common/http_head.c), and the token subprotocol
 * list (common/bearer.c): outside bytes, from any client of the feed.
 *
 * Oracle: a head that parses is all of its bytes up to the empty line;
 * every field lies inside it, its name is a token followed by ':', its
 * value holds no CR, LF or NUL and no white space at either end; the
 * token of a bearer entry lies inside the list and holds no comma; what
 * is left of the list holds no bearer entry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bearer.h"
#include "http_head.h"

static void
check_list(const char *list, size_t len)
{
    char rest[512], again[512];
    const char *tok, *tok2;
    size_t tok_len, tok_len2;
    int n;

    n = wharf_bearer_protocols(list, len, &tok, &tok_len, rest, sizeof(rest));
    if (n > 0
        && (tok < list || tok + tok_len > list + len
            || memchr(tok, ',', tok_len) != NULL)) {
        abort();
    }
    if (n == 0 && tok != NULL) {
        abort();
    }
    if (wharf_bearer_protocols(rest, strlen(rest), &tok2, &tok_len2, again,
                               sizeof(again))
        != 0) {
        abort(); /* the rest must hold no token */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct wharf_http_head h;
    const char *buf = (const char *) data;
    size_t len, i, k;

    check_list(buf, size);
    len = wharf_http_head_len(buf, size);
    if (len == 0 || wharf_http_head_parse(buf, len, &h) != 0) {
        return 0;
    }
    if (len < 4 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0
        || h.method != buf) {
        abort();
    }
    for (i = 0; i < h.nfields; i++) {
        const struct wharf_http_field *f = &h.field[i];

        if (f->name < buf || f->value < buf || f->name + f->name_len > buf + len
            || f->value + f->value_len > buf + len || f->name_len == 0
            || f->name[f->name_len] != ':') {
            abort();
        }
        for (k = 0; k < f->value_len; k++) {
            if (f->value[k] == '\r' || f->value[k] == '\n'
                || f->value[k] == '\0') {
                abort();
            }
        }
        if (f->value_len > 0
            && (f->value[0] == ' ' || f->value[f->value_len - 1] == ' '
                || f->value[0] == '\t' || f->value[f->value_len - 1] == '\t')) {
            abort();
        }
        check_list(f->value, f->value_len);
    }
    return 0;
}
