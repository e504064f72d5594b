/*
 * Worker names.
 *
 * A worker name is a DNS label in lower case: ^[a-z0-9][a-z0-9-]{0,62}$.
 * It appears in URLs (/api/workers/NAME/...), in nginx config, in file
 * names (conf/workers.d/NAME.conf) and in every stored row, so the rule is
 * strict and lives here once, shared by the nginx module, the daemons and
 * the CLI. This file must stay free of nginx and of any library.
 */
#ifndef WHARF_NAME_H
#define WHARF_NAME_H

#include <stddef.h>

/* Longest valid worker name, in bytes (a DNS label's limit). */
#define WHARF_NAME_MAX 63

/* Returns 1 when the len bytes at s form a valid worker name, else 0.
 * s need not be NUL-terminated; a NUL byte inside is simply invalid. */
int wharf_name_valid(const char *s, size_t len);

#endif
