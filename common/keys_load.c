/* Key files and folders: see keys_load.h. */
#include "keys_load.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "errbuf.h"

unsigned char *
wharf_read_small_file(const char *path, size_t max, size_t *len)
{
    unsigned char *buf;
    size_t n;
    FILE *f;
    int saved;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    buf = malloc(max + 2);
    if (buf == NULL) {
        fclose(f);
        errno = ENOMEM;
        return NULL;
    }
    n = fread(buf, 1, max + 1, f);
    saved = ferror(f) ? EIO : 0;
    fclose(f);
    if (saved == 0 && n > max) {
        saved = EFBIG;
    }
    if (saved != 0) {
        free(buf);
        errno = saved;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int
keys_load_file(struct wharf_keys *ks, const char *path, char *err,
               size_t errlen)
{
    unsigned char *pem;
    const char *why;
    size_t len;
    int rc;

    pem = wharf_read_small_file(path, WHARF_KEY_PEM_MAX, &len);
    if (pem == NULL) {
        return wharf_fail(err, errlen, "%s: %s", path,
                          errno == EFBIG ? "larger than 16 KiB: not a key"
                                         : strerror(errno));
    }
    rc = wharf_keys_add_pem(ks, pem, len, &why);
    free(pem);
    if (rc < 0) {
        return wharf_fail(err, errlen, "%s: %s", path, why);
    }
    return 0;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
keys_load_dir(struct wharf_keys *ks, const char *dir, char *err, size_t errlen)
{
    char *names[WHARF_KEYS_MAX + 1], path[4096];
    struct dirent *e;
    size_t n = 0, i, len;
    DIR *d;
    int rc = 0;

    d = opendir(dir);
    if (d == NULL) {
        return wharf_fail(err, errlen, "%s: %s", dir, strerror(errno));
    }
    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 5
            || strcmp(e->d_name + len - 4, ".pem") != 0) {
            continue;
        }
        if (n == WHARF_KEYS_MAX + 1) {
            rc = wharf_fail(err, errlen,
                            "%s: more than %d key files; retire the old keys",
                            dir, WHARF_KEYS_MAX);
            break;
        }
        names[n] = strdup(e->d_name);
        if (names[n] == NULL) {
            rc = wharf_fail(err, errlen, "%s: out of memory", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > WHARF_KEYS_MAX) {
        rc = wharf_fail(err, errlen,
                        "%s: more than %d key files; retire the old keys", dir,
                        WHARF_KEYS_MAX);
    }
    if (rc == 0 && n == 0) {
        rc = wharf_fail(err, errlen, "%s: no *.pem key in this folder", dir);
    }
    /* name order: the same set and the same order on every start */
    qsort(names, n, sizeof(names[0]), name_cmp);
    for (i = 0; i < n; i++) {
        if (rc == 0) {
            if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, names[i])
                >= sizeof(path)) {
                rc = wharf_fail(err, errlen, "%s/%s: path too long", dir,
                                names[i]);
            } else {
                rc = keys_load_file(ks, path, err, errlen);
            }
        }
        free(names[i]);
    }
    return rc;
}

int
wharf_keys_load(struct wharf_keys *ks, const char *path, char *err,
                size_t errlen)
{
    struct stat st;

    if (path == NULL || path[0] == '\0') {
        return wharf_fail(err, errlen, "empty key path");
    }
    if (stat(path, &st) != 0) {
        return wharf_fail(err, errlen, "%s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return keys_load_dir(ks, path, err, errlen);
    }
    return keys_load_file(ks, path, err, errlen);
}
