/* The token subprotocol: see bearer.h. */
#include "bearer.h"

#include <string.h>

static int
list_space(char c)
{
    return c == ' ' || c == '\t';
}

int
wharf_bearer_protocols(const char *list, size_t len, const char **tok,
                       size_t *tok_len, char *rest, size_t rest_size)
{
    size_t i = 0, start, end, used = 0;
    int found = 0;

    *tok = NULL;
    *tok_len = 0;
    if (rest != NULL && rest_size > 0) {
        rest[0] = '\0';
    }
    while (i < len) {
        while (i < len && (list_space(list[i]) || list[i] == ',')) {
            i++;
        }
        start = i;
        while (i < len && list[i] != ',') {
            i++;
        }
        end = i;
        while (end > start && list_space(list[end - 1])) {
            end--;
        }
        if (end == start) {
            continue;
        }
        if (end - start >= WHARF_BEARER_PROTOCOL_LEN
            && memcmp(list + start, WHARF_BEARER_PROTOCOL,
                      WHARF_BEARER_PROTOCOL_LEN)
                == 0) {
            if (found++ == 0) {
                *tok = list + start + WHARF_BEARER_PROTOCOL_LEN;
                *tok_len = end - start - WHARF_BEARER_PROTOCOL_LEN;
            }
            continue;
        }
        if (rest != NULL && used + (used ? 2 : 0) + (end - start) < rest_size) {
            if (used) {
                memcpy(rest + used, ", ", 2);
                used += 2;
            }
            memcpy(rest + used, list + start, end - start);
            used += end - start;
            rest[used] = '\0';
        }
    }
    return found;
}
