/*
 * wharfctl keys init [--dir DIR] [--force]: the orchestrator's ES256 key
 * pair, made with OpenSSL's EVP API.
 *
 *   DIR/private.pem   PKCS#8, mode 0600: signs tokens (nginx's module,
 *                     wharfctl token issue); stays on the orchestrator
 *   DIR/public.pem    SubjectPublicKeyInfo, mode 0644: verifies them
 *                     (nginx, wharfd, every agent)
 *
 * Neither file is ever half-written: each is written to a temporary file
 * in DIR, synced, then linked into place. Without --force, link(2) fails if
 * the name exists, so a key is never overwritten, even by a race; both
 * names are checked first, and if the second cannot be placed the first is
 * taken back, so it is both files or neither.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "output.h"

#define CTL_KEY_PRIVATE "private.pem"
#define CTL_KEY_PUBLIC  "public.pem"

static const char keys_usage[] =
    "usage: wharfctl keys init [--dir DIR] [--force]\n"
    "\n"
    "Makes the orchestrator's ES256 (EC P-256) key pair: DIR/private.pem\n"
    "(mode 0600; signs tokens) and DIR/public.pem (mode 0644; verifies them).\n"
    "DIR defaults to the current folder and is made (mode 0700) if missing.\n"
    "Refuses to replace an existing key unless --force is given: every token\n"
    "signed with the old key stops working when it is replaced.\n"
    "\n"
    "Next: point nginx at both files (wharf_auth_public_key,\n"
    "wharf_auth_private_key) and mint tokens with `wharfctl token issue --key\n"
    "DIR/private.pem`.\n";

/* Writes PEM text to a temporary file in dir with the given mode; its name
 * goes to tmp. 0 or -1 (errno). */
static int
write_temp(const char *dir, const char *pem, size_t len, mode_t mode, char *tmp,
           size_t tmpsize)
{
    size_t off = 0;
    ssize_t n;
    int fd;

    if ((size_t) snprintf(tmp, tmpsize, "%s/.wharf-key-XXXXXX", dir)
        >= tmpsize) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = mkstemp(tmp); /* 0600 already */
    if (fd < 0) {
        return -1;
    }
    while (off < len) {
        n = write(fd, pem + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            goto fail;
        }
        off += (size_t) n;
    }
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    return 0;
fail:
    n = errno;
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    errno = (int) n;
    return -1;
}

/* Puts tmp at path: over an existing file with force, else only if path
 * does not exist. */
static int
place(const char *tmp, const char *path, int force)
{
    int rc, saved;

    if (force) {
        return rename(tmp, path);
    }
    rc = link(tmp, path);
    saved = errno;
    unlink(tmp);
    errno = saved;
    return rc;
}

/* PEM text of the key's private (PKCS#8) or public part, malloc'd. */
static char *
pem_of(EVP_PKEY *key, int private_part, size_t *len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long n;
    int ok;

    if (bio == NULL) {
        return NULL;
    }
    ok = private_part
        ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
        : PEM_write_bio_PUBKEY(bio, key);
    n = BIO_get_mem_data(bio, &data);
    if (ok && n > 0 && (out = malloc((size_t) n + 1)) != NULL) {
        memcpy(out, data, (size_t) n);
        out[n] = '\0';
        *len = (size_t) n;
    }
    BIO_free(bio);
    return out;
}

static int
keys_init(struct ctl *c, int argc, char **argv)
{
    const char *dir = ".", *pos[1];
    int force = 0, npos, rc = CTL_FAIL;
    const struct ctl_flag flags[] = { { "--dir", 1, &dir, NULL },
                                      { "--force", 0, NULL, &force },
                                      { NULL, 0, NULL, NULL } };
    char priv_path[PATH_MAX], pub_path[PATH_MAX];
    char priv_tmp[PATH_MAX], pub_tmp[PATH_MAX];
    char raw[2 * PATH_MAX + 2];
    char *priv_pem = NULL, *pub_pem = NULL;
    size_t priv_len = 0, pub_len = 0;
    EVP_PKEY *key = NULL;
    struct stat st;
    json_t *v;

    rc = ctl_flags_parse(c, "keys init", argc, argv, flags, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(keys_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (*dir == '\0') {
        return ctl_error(c, CTL_USAGE, "keys init: --dir is empty");
    }
    if ((size_t) snprintf(priv_path, sizeof(priv_path), "%s/%s", dir,
                          CTL_KEY_PRIVATE)
            >= sizeof(priv_path) - 32
        || (size_t) snprintf(pub_path, sizeof(pub_path), "%s/%s", dir,
                             CTL_KEY_PUBLIC)
            >= sizeof(pub_path) - 32) {
        return ctl_error(c, CTL_USAGE, "keys init: --dir %s: too long", dir);
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return ctl_error(c, CTL_FAIL, "keys init: cannot make %s: %s", dir,
                         strerror(errno));
    }
    if (!force) {
        if (lstat(priv_path, &st) == 0 || lstat(pub_path, &st) == 0) {
            return ctl_error(c, CTL_FAIL,
                             "keys init: %s already holds a key "
                             "(%s or %s); keep it, or replace it with --force "
                             "(tokens signed with it then stop working)",
                             dir, CTL_KEY_PRIVATE, CTL_KEY_PUBLIC);
        }
    }

    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (key == NULL) {
        return ctl_error(c, CTL_FAIL,
                         "keys init: OpenSSL could not make an "
                         "EC P-256 key");
    }
    priv_pem = pem_of(key, 1, &priv_len);
    pub_pem = pem_of(key, 0, &pub_len);
    EVP_PKEY_free(key);
    if (priv_pem == NULL || pub_pem == NULL) {
        rc = ctl_error(c, CTL_FAIL, "keys init: cannot encode the key as PEM");
        goto out;
    }

    if (write_temp(dir, priv_pem, priv_len, 0600, priv_tmp, sizeof(priv_tmp))
        != 0) {
        rc = ctl_error(c, CTL_FAIL, "keys init: cannot write in %s: %s", dir,
                       strerror(errno));
        goto out;
    }
    if (write_temp(dir, pub_pem, pub_len, 0644, pub_tmp, sizeof(pub_tmp))
        != 0) {
        rc = ctl_error(c, CTL_FAIL, "keys init: cannot write in %s: %s", dir,
                       strerror(errno));
        unlink(priv_tmp);
        goto out;
    }
    if (place(priv_tmp, priv_path, force) != 0) {
        rc = ctl_error(c, CTL_FAIL, "keys init: cannot write %s: %s", priv_path,
                       strerror(errno));
        unlink(pub_tmp);
        goto out;
    }
    if (place(pub_tmp, pub_path, force) != 0) {
        rc = ctl_error(c, CTL_FAIL, "keys init: cannot write %s: %s", pub_path,
                       strerror(errno));
        if (!force) {
            unlink(priv_path); /* both or neither */
        }
        goto out;
    }

    v = json_pack("{s:s,s:s,s:s}", "privateKey", priv_path, "publicKey",
                  pub_path, "algorithm", "ES256");
    snprintf(raw, sizeof(raw), "%s\n%s\n", priv_path, pub_path);
    ctl_output(c, v, raw, strlen(raw), NULL);
    json_decref(v);
    rc = CTL_OK;
out:
    if (priv_pem != NULL) {
        OPENSSL_cleanse(priv_pem, priv_len);
    }
    free(priv_pem);
    free(pub_pem);
    return rc;
}

int
ctl_cmd_keys(struct ctl *c, int argc, char **argv)
{
    if (argc < 2) {
        return ctl_error(c, CTL_USAGE,
                         "keys: missing subcommand: init (see "
                         "wharfctl keys --help)");
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(keys_usage, c->out);
        return CTL_OK;
    }
    if (strcmp(argv[1], "init") == 0) {
        return keys_init(c, argc - 1, argv + 1);
    }
    return ctl_error(c, CTL_USAGE,
                     "keys: unknown subcommand '%s' (see "
                     "wharfctl keys --help)",
                     argv[1]);
}
