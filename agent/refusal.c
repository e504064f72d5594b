/* Refused calls, the pure parts: see refusal.h. */
#include "refusal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
agent_refusal_field(const char *field, const char *array, size_t *index,
                    const char **member, size_t *member_len)
{
    size_t n = strlen(array), i = 0;
    const char *p;

    if (field == NULL || strncmp(field, array, n) != 0 || field[n] != '[') {
        return -1;
    }
    p = field + n + 1;
    if (*p < '0' || *p > '9') {
        return -1;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (i > (size_t) 1 << 40) {
            return -1;
        }
        i = i * 10 + (size_t) (*p - '0');
    }
    if (*p++ != ']') {
        return -1;
    }
    *index = i;
    if (*p == '\0') {
        *member = NULL;
        *member_len = 0;
        return 0;
    }
    if (*p != '.' || p[1] == '\0') {
        return -1;
    }
    *member = p + 1;
    *member_len = strlen(p + 1);
    return 0;
}

json_t *
agent_truncate_text(const char *s, size_t len, size_t max, size_t *cut)
{
    char marker[80];
    size_t keep;
    int m;
    char *text;
    json_t *j;

    /* the widest marker first (the bytes cut are at most len) */
    m = snprintf(marker, sizeof(marker), AGENT_TRUNCATED_MARKER, len);
    if (len <= max || m < 0 || (size_t) m > max) {
        return NULL;
    }
    keep = max - (size_t) m;
    /* between characters: s[keep] is the first byte cut */
    while (keep > 0 && ((unsigned char) s[keep] & 0xc0) == 0x80) {
        keep--;
    }
    *cut = len - keep;
    m = snprintf(marker, sizeof(marker), AGENT_TRUNCATED_MARKER, *cut);
    text = malloc(keep + (size_t) m);
    if (text == NULL) {
        return NULL;
    }
    memcpy(text, s, keep);
    memcpy(text + keep, marker, (size_t) m);
    j = json_stringn(text, keep + (size_t) m);
    free(text);
    return j;
}
