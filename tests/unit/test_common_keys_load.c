/* Unit tests for reading verification keys from files and folders
 * (common/keys_load.c), in a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keys_load.h"

static char dir[64];

static void
write_key(const char *name, int private_key)
{
    char path[256];
    EVP_PKEY *k = EVP_EC_gen("P-256");
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    if (private_key) {
        PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    } else {
        PEM_write_PUBKEY(f, k);
    }
    fclose(f);
    EVP_PKEY_free(k);
}

static void
remove_file(const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

static void
test_file_and_folder(void **state)
{
    struct wharf_keys ks = { .n = 0 };
    char err[512], path[256];

    (void) state;
    snprintf(dir, sizeof(dir), "/tmp/wharf-keys-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_key("a.pem", 0);
    write_key("b.pem", 0);
    write_key(".c.pem", 1);    /* being written: skipped */
    write_key("notes.txt", 1); /* not *.pem: skipped */
    snprintf(path, sizeof(path), "%s/a.pem", dir);
    assert_int_equal(wharf_keys_load(&ks, path, err, sizeof(err)), 0);
    assert_int_equal(ks.n, 1);
    assert_int_equal(wharf_keys_load(&ks, dir, err, sizeof(err)), 0);
    assert_int_equal(ks.n, 2); /* a.pem again is kept once */
    wharf_keys_free(&ks);

    /* a private key in the folder: an error naming the file */
    write_key("z.pem", 1);
    assert_int_equal(wharf_keys_load(&ks, dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "z.pem"));
    assert_non_null(strstr(err, "private key"));
    wharf_keys_free(&ks);

    /* missing, and a folder without keys */
    remove_file("a.pem");
    remove_file("b.pem");
    remove_file(".c.pem");
    remove_file("z.pem");
    remove_file("notes.txt");
    assert_int_equal(wharf_keys_load(&ks, dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no *.pem"));
    assert_int_equal(wharf_keys_load(&ks, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "a.pem"));
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_and_folder),
    };
    return cmocka_run_group_tests_name("common_keys_load", tests, NULL, NULL);
}
