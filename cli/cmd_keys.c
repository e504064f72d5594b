/*
 * wharfctl keys: the orchestrator's ES256 key pairs, made with OpenSSL's
 * EVP API, and their rotation (docs/SECURITY.md, "Key rotation").
 *
 *   DIR/private.pem        PKCS#8, mode 0600: the signing key (nginx's
 *                          module, wharfctl token issue); stays on the
 *                          orchestrator
 *   DIR/public.pem         its public key, mode 0644
 *   DIR/public/KID.pem     every public key the verifiers trust (nginx,
 *                          wharfd, every agent: point them at the folder),
 *                          the signing key's and, during a rotation, the
 *                          one being retired; KID is the key's RFC 7638
 *                          thumbprint (common/keys.h)
 *
 *   keys init [--dir DIR] [--force]   a first key pair
 *   keys rotate [--dir DIR]           a new pair becomes the signing key;
 *                                     the old public key stays trusted
 *   keys retire KID [--dir DIR]       the old public key goes, once every
 *                                     token it signed has expired
 *   keys list [--dir DIR]             the trusted keys, and which signs
 *
 * No file is ever half-written: each is written to a temporary file in
 * its folder, synced, then linked or renamed into place. Without --force,
 * link(2) fails if the name exists, so init never overwrites a key, even
 * in a race; both names are checked first, and if the second cannot be
 * placed the first is taken back, so it is both files or neither.
 */
#include "ctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "b64url.h"
#include "keys.h"
#include "keys_load.h"
#include "output.h"

#define CTL_KEY_PRIVATE    "private.pem"
#define CTL_KEY_PUBLIC     "public.pem"
#define CTL_KEY_PUBLIC_DIR "public"

static const char keys_usage[] =
    "usage: wharfctl keys init [--dir DIR] [--force]\n"
    "       wharfctl keys rotate [--dir DIR]\n"
    "       wharfctl keys retire KID [--dir DIR]\n"
    "       wharfctl keys list [--dir DIR]\n"
    "\n"
    "init makes the orchestrator's ES256 (EC P-256) key pair: DIR/private.pem\n"
    "(mode 0600; signs tokens), DIR/public.pem (mode 0644; verifies them) and\n"
    "DIR/public/KID.pem, the folder of every trusted public key, named by key\n"
    "id (KID: the key's RFC 7638 thumbprint, carried by every token it "
    "signs).\n"
    "DIR defaults to the current folder and is made (mode 0700) if missing.\n"
    "init refuses to replace an existing key unless --force is given: every\n"
    "token signed with the old key stops working when it is replaced.\n"
    "\n"
    "rotate makes a new pair the signing key; the old public key stays in\n"
    "DIR/public, so tokens of both keys verify. retire KID removes an old\n"
    "public key once every token it signed has expired (never the signing\n"
    "key's). list shows the trusted keys and which one signs.\n"
    "\n"
    "Order of a rotation: rotate; copy DIR/public to wharfd and every agent\n"
    "and restart them; reload nginx (it signs with the new key from then on);\n"
    "wait out the longest token of the old key; retire KID; copy and restart\n"
    "again; reload nginx. docs/SECURITY.md, \"Key rotation\".\n"
    "\n"
    "Point nginx at DIR/public (wharf_auth_public_key) and DIR/private.pem\n"
    "(wharf_auth_private_key), wharfd and agents at DIR/public\n"
    "(--public-key), and mint tokens with `wharfctl token issue --key\n"
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

/* DIR/name into buf; -1 (usage error printed) when too long. */
static int
key_path(struct ctl *c, const char *cmd, char *buf, size_t size,
         const char *dir, const char *name)
{
    if ((size_t) snprintf(buf, size, "%s/%s", dir, name) >= size - 32) {
        return ctl_error(c, CTL_USAGE, "keys %s: --dir %s: too long", cmd, dir);
    }
    return 0;
}

/* Writes pem at path: by link (refusing an existing name) or, with
 * replace, by rename. 0 or -1 (errno). */
static int
write_key_file(const char *dir, const char *path, const char *pem, size_t len,
               mode_t mode, int replace)
{
    char tmp[PATH_MAX];

    if (write_temp(dir, pem, len, mode, tmp, sizeof(tmp)) != 0) {
        return -1;
    }
    if (place(tmp, path, replace) != 0) {
        int saved = errno;

        unlink(tmp);
        errno = saved;
        return -1;
    }
    return 0;
}

/* The signing key of dir: its kid, and its public PEM (malloc'd, may be
 * NULL). 0, or -1 with a message printed. */
static int
signing_kid(struct ctl *c, const char *cmd, const char *dir, char *kid,
            char **pub_pem, size_t *pub_len)
{
    char path[PATH_MAX];
    unsigned char *pem;
    const char *why;
    EVP_PKEY *key;
    size_t len;

    if (key_path(c, cmd, path, sizeof(path), dir, CTL_KEY_PRIVATE) != 0) {
        return -1;
    }
    pem = wharf_read_small_file(path, WHARF_KEY_PEM_MAX, &len);
    if (pem == NULL) {
        ctl_error(c, CTL_FAIL,
                  "keys %s: cannot read the signing key %s: %s (wharfctl "
                  "keys init makes one)",
                  cmd, path, strerror(errno));
        return -1;
    }
    key = wharf_pkey_parse(pem, len, 1, &why);
    OPENSSL_cleanse(pem, len);
    free(pem);
    if (key == NULL || wharf_pkey_kid(key, kid) != 0) {
        EVP_PKEY_free(key);
        ctl_error(c, CTL_FAIL, "keys %s: %s: %s", cmd, path,
                  key ? "cannot read the key's point" : why);
        return -1;
    }
    if (pub_pem != NULL) {
        *pub_pem = pem_of(key, 0, pub_len);
    }
    EVP_PKEY_free(key);
    return 0;
}

/* DIR/public/KID.pem holds pem (made when missing). 0, or -1 printed. */
static int
trust_key(struct ctl *c, const char *cmd, const char *dir, const char *kid,
          const char *pem, size_t len)
{
    char pubdir[PATH_MAX], path[PATH_MAX + 64];
    struct stat st;

    if (key_path(c, cmd, pubdir, sizeof(pubdir), dir, CTL_KEY_PUBLIC_DIR)
        != 0) {
        return -1;
    }
    if (mkdir(pubdir, 0755) != 0 && errno != EEXIST) {
        return ctl_error(c, CTL_FAIL, "keys %s: cannot make %s: %s", cmd,
                         pubdir, strerror(errno)),
               -1;
    }
    snprintf(path, sizeof(path), "%s/%s.pem", pubdir, kid);
    if (lstat(path, &st) == 0) {
        return 0; /* trusted already: the same kid is the same key */
    }
    if (write_key_file(pubdir, path, pem, len, 0644, 0) != 0) {
        return ctl_error(c, CTL_FAIL, "keys %s: cannot write %s: %s", cmd, path,
                         strerror(errno)),
               -1;
    }
    return 0;
}

/* A new EC P-256 pair: its private and public PEM (malloc'd) and kid. */
static int
new_pair(struct ctl *c, const char *cmd, char **priv, size_t *priv_len,
         char **pub, size_t *pub_len, char *kid)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    *priv = *pub = NULL;
    if (key == NULL) {
        return ctl_error(c, CTL_FAIL,
                         "keys %s: OpenSSL could not make an EC P-256 key",
                         cmd),
               -1;
    }
    *priv = pem_of(key, 1, priv_len);
    *pub = pem_of(key, 0, pub_len);
    if (*priv == NULL || *pub == NULL || wharf_pkey_kid(key, kid) != 0) {
        EVP_PKEY_free(key);
        if (*priv != NULL) {
            OPENSSL_cleanse(*priv, *priv_len);
        }
        free(*priv);
        free(*pub);
        *priv = *pub = NULL;
        return ctl_error(c, CTL_FAIL, "keys %s: cannot encode the key as PEM",
                         cmd),
               -1;
    }
    EVP_PKEY_free(key);
    return 0;
}

static void
free_private(char *pem, size_t len)
{
    if (pem != NULL) {
        OPENSSL_cleanse(pem, len);
    }
    free(pem);
}

static int
keys_init(struct ctl *c, int argc, char **argv)
{
    const char *dir = ".", *pos[1];
    int force = 0, npos, rc = CTL_FAIL;
    const struct ctl_flag flags[] = { { "--dir", 1, &dir, NULL },
                                      { "--force", 0, NULL, &force },
                                      { NULL, 0, NULL, NULL } };
    char priv_path[PATH_MAX], pub_path[PATH_MAX], pubdir[PATH_MAX];
    char kid[WHARF_KID_LEN + 1], raw[2 * PATH_MAX + 64];
    char *priv_pem = NULL, *pub_pem = NULL;
    size_t priv_len = 0, pub_len = 0;
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
    if (key_path(c, "init", priv_path, sizeof(priv_path), dir, CTL_KEY_PRIVATE)
            != 0
        || key_path(c, "init", pub_path, sizeof(pub_path), dir, CTL_KEY_PUBLIC)
            != 0
        || key_path(c, "init", pubdir, sizeof(pubdir), dir, CTL_KEY_PUBLIC_DIR)
            != 0) {
        return CTL_USAGE;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return ctl_error(c, CTL_FAIL, "keys init: cannot make %s: %s", dir,
                         strerror(errno));
    }
    if (!force) {
        if (lstat(priv_path, &st) == 0 || lstat(pub_path, &st) == 0) {
            return ctl_error(c, CTL_FAIL,
                             "keys init: %s already holds a key "
                             "(%s or %s); keep it, rotate it (wharfctl keys "
                             "rotate), or replace it with --force (tokens "
                             "signed with it then stop working)",
                             dir, CTL_KEY_PRIVATE, CTL_KEY_PUBLIC);
        }
    }
    if (new_pair(c, "init", &priv_pem, &priv_len, &pub_pem, &pub_len, kid)
        != 0) {
        return CTL_FAIL;
    }
    if (write_key_file(dir, priv_path, priv_pem, priv_len, 0600, force) != 0) {
        rc = ctl_error(c, CTL_FAIL, "keys init: cannot write %s: %s", priv_path,
                       strerror(errno));
        goto out;
    }
    if (write_key_file(dir, pub_path, pub_pem, pub_len, 0644, force) != 0) {
        rc = ctl_error(c, CTL_FAIL, "keys init: cannot write %s: %s", pub_path,
                       strerror(errno));
        if (!force) {
            unlink(priv_path); /* both or neither */
        }
        goto out;
    }
    if (trust_key(c, "init", dir, kid, pub_pem, pub_len) != 0) {
        goto out;
    }

    v = json_pack("{s:s,s:s,s:s,s:s,s:s}", "privateKey", priv_path, "publicKey",
                  pub_path, "publicDir", pubdir, "kid", kid, "algorithm",
                  "ES256");
    snprintf(raw, sizeof(raw), "%s\n%s\n", priv_path, pub_path);
    ctl_output(c, v, raw, strlen(raw), NULL);
    json_decref(v);
    rc = CTL_OK;
out:
    free_private(priv_pem, priv_len);
    free(pub_pem);
    return rc;
}

/*
 * The new pair's public key is trusted first (DIR/public/NEW.pem), the old
 * one stays (DIR/public/OLD.pem, written now if the folder predates it);
 * then private.pem and public.pem are replaced, each by one rename. A
 * verifier reading DIR/public at any moment trusts both.
 */
static int
keys_rotate(struct ctl *c, int argc, char **argv)
{
    const char *dir = ".", *pos[1];
    const struct ctl_flag flags[] = { { "--dir", 1, &dir, NULL },
                                      { NULL, 0, NULL, NULL } };
    char priv_path[PATH_MAX], pub_path[PATH_MAX];
    char old_kid[WHARF_KID_LEN + 1], kid[WHARF_KID_LEN + 1], raw[64];
    char *old_pub = NULL, *priv_pem = NULL, *pub_pem = NULL;
    size_t old_len = 0, priv_len = 0, pub_len = 0;
    int npos, rc;
    json_t *v;

    rc = ctl_flags_parse(c, "keys rotate", argc, argv, flags, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(keys_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (key_path(c, "rotate", priv_path, sizeof(priv_path), dir,
                 CTL_KEY_PRIVATE)
            != 0
        || key_path(c, "rotate", pub_path, sizeof(pub_path), dir,
                    CTL_KEY_PUBLIC)
            != 0) {
        return CTL_USAGE;
    }
    if (signing_kid(c, "rotate", dir, old_kid, &old_pub, &old_len) != 0) {
        return CTL_FAIL;
    }
    rc = CTL_FAIL;
    if (old_pub == NULL
        || trust_key(c, "rotate", dir, old_kid, old_pub, old_len) != 0
        || new_pair(c, "rotate", &priv_pem, &priv_len, &pub_pem, &pub_len, kid)
            != 0
        || trust_key(c, "rotate", dir, kid, pub_pem, pub_len) != 0) {
        goto out;
    }
    if (write_key_file(dir, priv_path, priv_pem, priv_len, 0600, 1) != 0
        || write_key_file(dir, pub_path, pub_pem, pub_len, 0644, 1) != 0) {
        rc = ctl_error(c, CTL_FAIL, "keys rotate: cannot replace %s: %s",
                       priv_path, strerror(errno));
        goto out;
    }
    v = json_pack("{s:s,s:s,s:s,s:s}", "kid", kid, "retiring", old_kid,
                  "privateKey", priv_path, "next",
                  "copy the public folder to wharfd and the agents and "
                  "restart them, then reload nginx; retire the old key "
                  "once its tokens have expired");
    snprintf(raw, sizeof(raw), "%s\n", kid);
    ctl_output(c, v, raw, strlen(raw), NULL);
    json_decref(v);
    rc = CTL_OK;
out:
    free_private(priv_pem, priv_len);
    free(pub_pem);
    free(old_pub);
    return rc;
}

/* A kid as written by wharfctl: 43 base64url characters (so it can name
 * a file without any path in it). */
static int
kid_valid(const char *kid)
{
    size_t i;

    for (i = 0; kid[i] != '\0'; i++) {
        if (!wharf_b64url_char((unsigned char) kid[i])) {
            return 0;
        }
    }
    return i == WHARF_KID_LEN;
}

/* argv into out (argc + 2 slots) with every argument that is a key id
 * and begins with '-' moved after a "--" at the end, so the flag parser
 * takes it as a positional; the new argc. */
static int
kid_args(int argc, char **argv, char **out)
{
    int i, n = 0, k;

    for (i = 0; i < argc; i++) {
        if (i == 0 || argv[i][0] != '-' || !kid_valid(argv[i])) {
            out[n++] = argv[i];
        }
    }
    for (i = 1, k = 0; i < argc; i++) {
        if (argv[i][0] == '-' && kid_valid(argv[i])) {
            if (k++ == 0) {
                out[n++] = "--";
            }
            out[n++] = argv[i];
        }
    }
    out[n] = NULL;
    return n;
}

static int
keys_retire(struct ctl *c, int argc, char **argv)
{
    const char *dir = ".", *pos[1];
    const struct ctl_flag flags[] = { { "--dir", 1, &dir, NULL },
                                      { NULL, 0, NULL, NULL } };
    char signing[WHARF_KID_LEN + 1], path[PATH_MAX + 64], raw[64];
    char **moved;
    int npos, rc;
    json_t *v;

    /* A key id is 43 base64url characters and may begin with '-' (1 in
     * 64 does): such an argument is the KID, never a flag, so it is
     * parsed as if after "--" (kid_args). */
    moved = calloc((size_t) argc + 2, sizeof(*moved));
    if (moved == NULL) {
        return ctl_error(c, CTL_FAIL, "keys retire: out of memory");
    }
    argc = kid_args(argc, argv, moved);
    rc = ctl_flags_parse(c, "keys retire", argc, moved, flags, pos, &npos, 1);
    free(moved); /* pos[] points at argv's strings, not into moved */
    if (rc == CTL_HELP) {
        fputs(keys_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (npos != 1) {
        return ctl_error(c, CTL_USAGE,
                         "keys retire: which key? wharfctl keys retire KID "
                         "(wharfctl keys list shows them)");
    }
    if (!kid_valid(pos[0])) {
        return ctl_error(c, CTL_USAGE,
                         "keys retire: '%s' is not a key id (43 base64url "
                         "characters; wharfctl keys list shows them)",
                         pos[0]);
    }
    if (signing_kid(c, "retire", dir, signing, NULL, NULL) != 0) {
        return CTL_FAIL;
    }
    if (strcmp(signing, pos[0]) == 0) {
        return ctl_error(c, CTL_FAIL,
                         "keys retire: %s is the signing key; rotate first "
                         "(wharfctl keys rotate), then retire it once its "
                         "tokens have expired",
                         pos[0]);
    }
    if ((size_t) snprintf(path, sizeof(path), "%s/%s/%s.pem", dir,
                          CTL_KEY_PUBLIC_DIR, pos[0])
        >= sizeof(path)) {
        return ctl_error(c, CTL_USAGE, "keys retire: --dir %s: too long", dir);
    }
    if (unlink(path) != 0) {
        return ctl_error(c, CTL_FAIL,
                         "keys retire: %s: %s (wharfctl keys list shows the "
                         "trusted keys)",
                         path, strerror(errno));
    }
    v = json_pack("{s:s,s:s}", "retired", pos[0], "signing", signing);
    snprintf(raw, sizeof(raw), "%s\n", pos[0]);
    ctl_output(c, v, raw, strlen(raw), NULL);
    json_decref(v);
    return CTL_OK;
}

static int
keys_list(struct ctl *c, int argc, char **argv)
{
    static const char *const cols[] = { "kid", "signing", "created", "file",
                                        NULL };
    const char *dir = ".", *pos[1];
    const struct ctl_flag flags[] = { { "--dir", 1, &dir, NULL },
                                      { NULL, 0, NULL, NULL } };
    char signing[WHARF_KID_LEN + 1], pubdir[PATH_MAX], path[PATH_MAX + 300];
    char kid[WHARF_KID_LEN + 1], created[32];
    unsigned char *pem;
    const char *why;
    struct dirent *e;
    struct stat st;
    struct tm tm;
    json_t *rows;
    size_t len, n, i;
    char *raw;
    DIR *d;
    int npos, rc;

    rc = ctl_flags_parse(c, "keys list", argc, argv, flags, pos, &npos, 0);
    if (rc == CTL_HELP) {
        fputs(keys_usage, c->out);
        return CTL_OK;
    }
    if (rc != CTL_OK) {
        return rc;
    }
    if (signing_kid(c, "list", dir, signing, NULL, NULL) != 0) {
        return CTL_FAIL;
    }
    if (key_path(c, "list", pubdir, sizeof(pubdir), dir, CTL_KEY_PUBLIC_DIR)
        != 0) {
        return CTL_USAGE;
    }
    d = opendir(pubdir);
    if (d == NULL) {
        return ctl_error(c, CTL_FAIL,
                         "keys list: %s: %s (made by wharfctl keys init or "
                         "rotate)",
                         pubdir, strerror(errno));
    }
    rows = json_array();
    while ((e = readdir(d)) != NULL) {
        n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n < 5 || strcmp(e->d_name + n - 4, ".pem")) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", pubdir, e->d_name);
        pem = wharf_read_small_file(path, WHARF_KEY_PEM_MAX, &len);
        if (pem == NULL || stat(path, &st) != 0
            || wharf_key_kid(pem, len, 0, kid, &why) != 0) {
            snprintf(kid, sizeof(kid), "?");
        }
        free(pem);
        gmtime_r(&st.st_mtime, &tm);
        strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_array_append_new(rows,
                              json_pack("{s:s,s:b,s:s,s:s}", "kid", kid,
                                        "signing", strcmp(kid, signing) == 0,
                                        "created", created, "file", path));
    }
    closedir(d);
    /* raw: the key ids, one a line */
    n = json_array_size(rows);
    raw = malloc(n * (WHARF_KID_LEN + 1) + 1);
    len = 0;
    for (i = 0; raw != NULL && i < n; i++) {
        len += (size_t) sprintf(
            raw + len, "%.43s\n",
            json_string_value(json_object_get(json_array_get(rows, i), "kid")));
    }
    ctl_output(c, rows, raw ? raw : "", len, cols);
    free(raw);
    json_decref(rows);
    return CTL_OK;
}

int
ctl_cmd_keys(struct ctl *c, int argc, char **argv)
{
    if (argc < 2) {
        return ctl_error(c, CTL_USAGE,
                         "keys: missing subcommand: init, rotate, retire or "
                         "list (see wharfctl keys --help)");
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(keys_usage, c->out);
        return CTL_OK;
    }
    if (strcmp(argv[1], "init") == 0) {
        return keys_init(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "rotate") == 0) {
        return keys_rotate(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "retire") == 0) {
        return keys_retire(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "list") == 0) {
        return keys_list(c, argc - 1, argv + 1);
    }
    return ctl_error(c, CTL_USAGE,
                     "keys: unknown subcommand '%s' (see "
                     "wharfctl keys --help)",
                     argv[1]);
}
