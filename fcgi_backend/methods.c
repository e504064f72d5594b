/*
 * Method registry and params helpers shared by the methods_*.c files.
 */
#include "methods.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"

/* Every method table; the lookup walks them in order. */
static const struct wharfd_rpc_method *const method_tables[] = {
    wharfd_methods_workers,
    wharfd_methods_ingest,
    wharfd_methods_read,
    wharfd_methods_admin,
};

const struct wharfd_rpc_method *
wharfd_methods_lookup(const char *name)
{
    const struct wharfd_rpc_method *m;
    size_t i, plen = sizeof(WHARFD_RPC_PREFIX) - 1;

    if (strncmp(name, WHARFD_RPC_PREFIX, plen) != 0) {
        return NULL;
    }
    name += plen;
    /* Some twenty methods: a linear walk is cheaper than anything that
     * needs setting up. */
    for (i = 0; i < sizeof(method_tables) / sizeof(method_tables[0]); i++) {
        for (m = method_tables[i]; m->name != NULL; m++) {
            if (strcmp(m->name, name) == 0) {
                return m;
            }
        }
    }
    return NULL;
}

int
wharfd_internal(struct wharfd_rpc_error *err, const char *what)
{
    return wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL, "%s",
                                what);
}

int
wharfd_store_failed(struct wharfd_rpc_error *err, int rc, const char *what)
{
    if (rc == WHARFD_STORE_FULL) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INTERNAL_ERROR, NULL,
                                    "%s: database or disk is full", what);
    }
    return wharfd_internal(err, what);
}

int
wharfd_params_object(json_t *params, json_t **obj, struct wharfd_rpc_error *err)
{
    *obj = NULL;
    if (params == NULL
        || (json_is_array(params) && json_array_size(params) == 0)) {
        return 0;
    }
    if (!json_is_object(params)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, "params",
                                    "params must be an object of named "
                                    "members");
    }
    *obj = params;
    return 0;
}

int
wharfd_params_known(json_t *obj, const char *const *names, const char *where,
                    struct wharfd_rpc_error *err)
{
    const char *key;
    json_t *v;
    char field[sizeof(err->field)];
    size_t i, n, w;

    if (!json_is_object(obj)) {
        return 0;
    }
    json_object_foreach (obj, key, v) {
        for (i = 0; names[i] != NULL && strcmp(names[i], key) != 0; i++) {
        }
        if (names[i] != NULL) {
            continue;
        }
        w = (size_t) snprintf(field, sizeof(field), "%s%s", where ? where : "",
                              where ? "." : "");
        /* a long key is cut, never inside a UTF-8 character: the field
         * travels as a JSON string */
        n = strlen(key);
        if (w + n >= sizeof(field)) {
            n = sizeof(field) - 1 - w;
            while (n > 0 && ((unsigned char) key[n] & 0xC0) == 0x80) {
                n--;
            }
        }
        memcpy(field + w, key, n);
        field[w + n] = '\0';
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "unknown parameter '%s'", field);
    }
    return 0;
}

static json_t *
member(json_t *obj, const char *field)
{
    json_t *v = obj ? json_object_get(obj, field) : NULL;

    return (v == NULL || json_is_null(v)) ? NULL : v;
}

int
wharfd_param_string(json_t *obj, const char *field, int required, size_t max,
                    const char **out, struct wharfd_rpc_error *err)
{
    json_t *v = member(obj, field);
    size_t len;

    *out = NULL;
    if (v == NULL) {
        if (required) {
            return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                        "'%s' is required", field);
        }
        return 0;
    }
    if (!json_is_string(v)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be a string", field);
    }
    len = json_string_length(v);
    if (len == 0) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must not be empty", field);
    }
    if (len > max) {
        err->max = max;
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be at most %zu bytes long",
                                    field, max);
    }
    if (strlen(json_string_value(v)) != len) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must not contain NUL", field);
    }
    *out = json_string_value(v);
    return 0;
}

int
wharfd_param_worker(json_t *obj, const char *field, const char **out,
                    struct wharfd_rpc_error *err)
{
    /* Any length passes here so that the message below names the rule. */
    if (wharfd_param_string(obj, field, 1, SIZE_MAX, out, err) != 0) {
        return -1;
    }
    if (!wharf_name_valid(*out, strlen(*out))) {
        *out = NULL;
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be a worker name "
                                    "(^[a-z0-9][a-z0-9-]{0,62}$)",
                                    field);
    }
    return 0;
}

int
wharfd_param_instance(json_t *obj, const char *field, int required,
                      const char **out, struct wharfd_rpc_error *err)
{
    const char *s;
    size_t i;

    if (wharfd_param_string(obj, field, required, SIZE_MAX, out, err) != 0) {
        return -1;
    }
    s = *out;
    if (s == NULL) {
        return 0;
    }
    for (i = 0; s[i]; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9');

        if (!alnum && (i == 0 || (c != '_' && c != '-'))) {
            break;
        }
    }
    if (s[i] != '\0' || i > WHARFD_INSTANCE_MAX) {
        *out = NULL;
        return wharfd_rpc_set_error(
            err, WHARFD_RPC_INVALID_PARAMS, field,
            "'%s' must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*$"
            " and be at most %d bytes",
            field, WHARFD_INSTANCE_MAX);
    }
    return 0;
}

int
wharfd_param_int(json_t *obj, const char *field, long long min, long long max,
                 long long *out, int *present, struct wharfd_rpc_error *err)
{
    json_t *v = member(obj, field);

    *present = 0;
    if (v == NULL) {
        return 0;
    }
    if (!json_is_integer(v)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be an integer", field);
    }
    if (json_integer_value(v) < min || json_integer_value(v) > max) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be from %lld to %lld", field,
                                    min, max);
    }
    *out = json_integer_value(v);
    *present = 1;
    return 0;
}

int
wharfd_param_number(json_t *obj, const char *field, double *out, int *present,
                    struct wharfd_rpc_error *err)
{
    json_t *v = member(obj, field);

    *present = 0;
    if (v == NULL) {
        return 0;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be a number", field);
    }
    *out = json_number_value(v);
    *present = 1;
    return 0;
}

int
wharfd_param_bool(json_t *obj, const char *field, int dflt, int *out,
                  struct wharfd_rpc_error *err)
{
    json_t *v = member(obj, field);

    *out = dflt;
    if (v == NULL) {
        return 0;
    }
    if (!json_is_boolean(v)) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be true or false", field);
    }
    *out = json_is_true(v);
    return 0;
}

static int
digits(const char *s, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

int
wharfd_time_normalize(const char *s, size_t len, char *out)
{
    size_t frac;

    /* YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z */
    frac = 0;
    if (len >= 20 && s[19] == '.') {
        frac = len - 21;
    }
    if (len < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2)
        || s[7] != '-' || !digits(s + 8, 2) || s[10] != 'T'
        || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2)
        || s[16] != ':' || !digits(s + 17, 2) || s[len - 1] != 'Z'
        || (len > 20
            && (s[19] != '.' || frac < 1 || frac > 9
                || !digits(s + 20, (int) frac)))
        || atoi(s + 5) < 1 || atoi(s + 5) > 12 || atoi(s + 8) < 1
        || atoi(s + 8) > 31 || atoi(s + 11) > 23 || atoi(s + 14) > 59
        || atoi(s + 17) > 60) {
        return -1;
    }
    memcpy(out, s, 19);
    out[19] = '.';
    out[20] = frac >= 1 ? s[20] : '0';
    out[21] = frac >= 2 ? s[21] : '0';
    out[22] = frac >= 3 ? s[22] : '0';
    out[23] = 'Z';
    out[24] = '\0';
    return 0;
}

int
wharfd_param_time(json_t *obj, const char *field, char *out, int *present,
                  struct wharfd_rpc_error *err)
{
    const char *s;

    *present = 0;
    if (wharfd_param_string(obj, field, 0, 64, &s, err) != 0) {
        return -1;
    }
    if (s == NULL) {
        return 0;
    }
    if (wharfd_time_normalize(s, strlen(s), out) != 0) {
        return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                    "'%s' must be an ISO-8601 UTC time "
                                    "(YYYY-MM-DDTHH:MM:SS[.fff]Z)",
                                    field);
    }
    *present = 1;
    return 0;
}

int
wharfd_param_enum(json_t *obj, const char *field, int required,
                  const char *const *words, const char **out,
                  struct wharfd_rpc_error *err)
{
    char list[160] = "";
    size_t i, n = 0;

    if (wharfd_param_string(obj, field, required, 64, out, err) != 0) {
        return -1;
    }
    if (*out == NULL) {
        return 0;
    }
    for (i = 0; words[i]; i++) {
        if (strcmp(words[i], *out) == 0) {
            *out = words[i]; /* a static string from here on */
            return 0;
        }
        n += (size_t) snprintf(list + n, sizeof(list) - n, "%s%s",
                               i ? ", " : "", words[i]);
        if (n >= sizeof(list)) {
            n = sizeof(list) - 1;
        }
    }
    *out = NULL;
    return wharfd_rpc_set_error(err, WHARFD_RPC_INVALID_PARAMS, field,
                                "'%s' must be one of: %s", field, list);
}

int
wharfd_param_json_text(json_t *obj, const char *field, char **out,
                       struct wharfd_rpc_error *err)
{
    json_t *v = member(obj, field);

    *out = NULL;
    if (v == NULL) {
        return 0;
    }
    *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (*out == NULL) {
        return wharfd_internal(err, "out of memory");
    }
    return 0;
}

int
wharfd_params_page(json_t *obj, struct wharfd_query *q,
                   struct wharfd_rpc_error *err)
{
    static const char *const orders[] = { "desc", "asc", NULL };
    const char *order;
    int present;

    q->limit = WHARFD_LIMIT_DEFAULT;
    q->offset = 0;
    if (wharfd_param_int(obj, "limit", 1, WHARFD_LIMIT_MAX, &q->limit, &present,
                         err)
            != 0
        || wharfd_param_int(obj, "offset", 0, INT64_MAX / 2, &q->offset,
                            &present, err)
            != 0
        || wharfd_param_enum(obj, "order", 0, orders, &order, err) != 0
        || wharfd_param_bool(obj, "total", 0, &q->want_total, err) != 0) {
        return -1;
    }
    q->asc = order != NULL && strcmp(order, "asc") == 0;
    return 0;
}

json_t *
wharfd_row_json(const struct wharfd_col *cols, int n)
{
    json_t *o = json_object(), *v;
    int i;

    for (i = 0; o != NULL && i < n; i++) {
        switch (cols[i].type) {
        case WHARFD_COL_INT:
            v = json_integer(cols[i].i);
            break;
        case WHARFD_COL_REAL:
            /* Levels are stored REAL: 50.0 reads back as 50. */
            v = cols[i].d == floor(cols[i].d) && fabs(cols[i].d) < 1e15
                ? json_integer((json_int_t) cols[i].d)
                : json_real(cols[i].d);
            break;
        case WHARFD_COL_JSON:
            v = json_loadb(cols[i].s, cols[i].len,
                           JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            if (v == NULL) {
                v = json_stringn(cols[i].s, cols[i].len);
            }
            break;
        case WHARFD_COL_TEXT:
            v = json_stringn(cols[i].s, cols[i].len);
            break;
        default:
            v = json_null();
        }
        if (v == NULL || json_object_set_new(o, cols[i].name, v) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

json_t *
wharfd_page_json(json_t *data, const struct wharfd_query *q, long long total,
                 int has_more)
{
    return json_pack(
        "{s:o,s:{s:I,s:I,s:o,s:b}}", "data", data, "pagination", "limit",
        (json_int_t) q->limit, "offset", (json_int_t) q->offset, "total",
        total >= 0 ? json_integer(total) : json_null(), "hasMore", has_more);
}

const char *const wharfd_log_levels[] = { "debug", "info",   "warn",
                                          "error", "output", NULL };
const char *const wharfd_log_streams[] = { "stdout", "stderr", NULL };
const char *const wharfd_process_states[] = { "starting", "running", "stopping",
                                              "stopped",  "crashed", NULL };
