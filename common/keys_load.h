/*
 * Reading verification keys from the file system, for wharfd and the
 * agent (the nginx module reads its files with nginx's own functions).
 *
 * A path is a PEM public key file, or a folder: then every "*.pem" file
 * in it (not those whose name starts with a dot, which are files being
 * written), in name order. Each file must hold an EC P-256 public key; a
 * private key or anything else is an error naming the file, so that a
 * folder of keys cannot quietly verify nothing or ship a private key.
 * A folder without any key is an error too.
 */
#ifndef WHARF_KEYS_LOAD_H
#define WHARF_KEYS_LOAD_H

#include <stddef.h>

#include "keys.h"

/* Adds the keys of path to ks. 0, or -1 with a message (naming the file)
 * in err. */
int wharf_keys_load(struct wharf_keys *ks, const char *path, char *err,
                    size_t errlen);

/* Reads a whole file of at most max bytes into a malloc'd, NUL-terminated
 * buffer. NULL with errno set (EFBIG when larger). */
unsigned char *wharf_read_small_file(const char *path, size_t max, size_t *len);

#endif
