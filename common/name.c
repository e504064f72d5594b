#include "name.h"

static int
wharf_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

int
wharf_name_valid(const char *s, size_t len)
{
    size_t i;

    if (s == NULL || len == 0 || len > WHARF_NAME_MAX || s[0] == '-') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!wharf_name_char((unsigned char) s[i])) {
            return 0;
        }
    }

    return 1;
}
