/* Options from one table: see opts.h. */
#include "opts.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "log.h"

int
wharf_opt_parse_ulong(const char *s, int base, unsigned long *out)
{
    char *end;

    /* a digit first: strtoul() would skip any leading white space (a
     * tab, a newline) and take a sign */
    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    *out = strtoul(s, &end, base);
    return (errno != 0 || *end != '\0') ? -1 : 0;
}

/* Appends s to the message at *o (room left in *left, always >= 1). */
static void
fail_put(char **o, size_t *left, const char *s, size_t n)
{
    if (n >= *left) {
        n = *left - 1;
    }
    memcpy(*o, s, n);
    *o += n;
    *left -= n;
    **o = '\0';
}

int
wharf_opt_fail(const struct wharf_opt *opt, const struct wharf_opt_arg *a,
               const char *bad)
{
    char num[24], *o = a->err;
    size_t left = a->errlen;
    const char *p;

    if (o == NULL || left == 0) {
        return -1;
    }
    *o = '\0';
    for (p = bad; *p != '\0'; p++) {
        if (strncmp(p, "{flag}", 6) == 0) {
            fail_put(&o, &left, a->src, strlen(a->src));
            p += 5;
        } else if (strncmp(p, "{val}", 5) == 0) {
            fail_put(&o, &left, a->val ? a->val : "",
                     a->val ? strlen(a->val) : 0);
            p += 4;
        } else if (strncmp(p, "{min}", 5) == 0 || strncmp(p, "{max}", 5) == 0) {
            snprintf(num, sizeof(num), "%llu",
                     p[2] == 'i' ? opt->min : opt->max);
            fail_put(&o, &left, num, strlen(num));
            p += 4;
        } else {
            fail_put(&o, &left, p, 1);
        }
    }
    return -1;
}

/* The C types a number's field may have. */
enum opt_type {
    OPT_UNSIGNED,
    OPT_ULONG,
    OPT_SIZE
};

/* A number of the given base within the row's bounds into its field of
 * the given type, or the row's message. */
static int
opt_number(const struct wharf_opt *opt, void *conf,
           const struct wharf_opt_arg *a, int base, enum opt_type type)
{
    char *field = (char *) conf + opt->offset;
    unsigned long n;

    if (wharf_opt_parse_ulong(a->val, base, &n) != 0 || n < opt->min
        || n > opt->max) {
        return wharf_opt_fail(
            opt, a, opt->bad ? opt->bad : "{flag} {val}: must be {min}..{max}");
    }
    switch (type) {
    case OPT_UNSIGNED:
        *(unsigned *) field = (unsigned) n;
        break;
    case OPT_ULONG:
        *(unsigned long *) field = n;
        break;
    case OPT_SIZE:
        *(size_t *) field = n;
        break;
    }
    return 0;
}

int
wharf_opt_set_unsigned(const struct wharf_opt *opt, void *conf,
                       const struct wharf_opt_arg *a)
{
    return opt_number(opt, conf, a, 10, OPT_UNSIGNED);
}

int
wharf_opt_set_ulong(const struct wharf_opt *opt, void *conf,
                    const struct wharf_opt_arg *a)
{
    return opt_number(opt, conf, a, 10, OPT_ULONG);
}

int
wharf_opt_set_size(const struct wharf_opt *opt, void *conf,
                   const struct wharf_opt_arg *a)
{
    return opt_number(opt, conf, a, 10, OPT_SIZE);
}

int
wharf_opt_set_octal(const struct wharf_opt *opt, void *conf,
                    const struct wharf_opt_arg *a)
{
    return opt_number(opt, conf, a, 8, OPT_UNSIGNED);
}

int
wharf_opt_set_string(const struct wharf_opt *opt, void *conf,
                     const struct wharf_opt_arg *a)
{
    size_t n = strlen(a->val);

    if (n < opt->min || n >= opt->max) {
        return wharf_opt_fail(
            opt, a, opt->bad ? opt->bad : "{flag} '{val}': empty or too long");
    }
    memcpy((char *) conf + opt->offset, a->val, n + 1);
    return 0;
}

int
wharf_opt_set_enum(const struct wharf_opt *opt, void *conf,
                   const struct wharf_opt_arg *a)
{
    const struct wharf_opt_enum *e;

    for (e = opt->post; e->name != NULL; e++) {
        if (strcmp(a->val, e->name) == 0) {
            *(int *) ((char *) conf + opt->offset) = e->value;
            return 0;
        }
    }
    return wharf_opt_fail(opt, a, opt->bad);
}

int
wharf_opt_set_log_level(const struct wharf_opt *opt, void *conf,
                        const struct wharf_opt_arg *a)
{
    int level = wharf_log_level_parse(a->val);

    if (level < 0) {
        return wharf_opt_fail(
            opt, a,
            opt->bad ? opt->bad
                     : "{flag} {val}: must be debug, info, warn or error");
    }
    *(int *) ((char *) conf + opt->offset) = level;
    return 0;
}

int
wharf_opt_set_flag(const struct wharf_opt *opt, void *conf,
                   const struct wharf_opt_arg *a)
{
    (void) a;
    *(int *) ((char *) conf + opt->offset) = opt->max ? (int) opt->max : 1;
    return 0;
}

const struct wharf_opt *
wharf_opts_find(const struct wharf_opt *table, const char *name, size_t len)
{
    for (; table->name != NULL; table++) {
        if (strlen(table->name) == len
            && strncmp(table->name, name, len) == 0) {
            return table;
        }
    }
    return NULL;
}

/*
 * The command line's row for "--NAME": the row of that name, else the one
 * row whose name NAME begins (getopt_long's abbreviations, which wharfd's
 * flags have always accepted); NULL when none or several.
 */
static const struct wharf_opt *
opts_find_flag(const struct wharf_opt *table, const char *name, size_t len)
{
    const struct wharf_opt *exact = wharf_opts_find(table, name, len), *found;

    if (exact != NULL || len == 0) {
        return exact;
    }
    found = NULL;
    for (; table->name != NULL; table++) {
        if (strncmp(table->name, name, len) == 0) {
            if (found != NULL) {
                return NULL; /* ambiguous */
            }
            found = table;
        }
    }
    return found;
}

/* Runs the row's setter; remembers that it was given. */
static int
opts_set(const struct wharf_opt *table, const struct wharf_opt *opt, void *conf,
         const char *val, const char *src, enum wharf_opt_source from,
         unsigned char *seen, char *err, size_t errlen)
{
    struct wharf_opt_arg a = { val, src, from, err, errlen };
    char flag[80];

    if (src == NULL) {
        snprintf(flag, sizeof(flag), "--%s", opt->name);
        a.src = flag;
    }
    if (opt->set != NULL && opt->set(opt, conf, &a) != 0) {
        return -1;
    }
    if (from != WHARF_OPT_FROM_DEFAULT && seen != NULL) {
        seen[opt - table] = 1;
    }
    return 0;
}

static char *
trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    end = s + strlen(s);
    while (end > s
           && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'
               || end[-1] == '\r')) {
        *--end = '\0';
    }
    return s;
}

static int
opts_file(const struct wharf_opt *table, void *conf, const char *path,
          unsigned char *seen, char *err, size_t errlen)
{
    const struct wharf_opt *opt;
    char line[PATH_MAX + 64], why[512], *key, *val, *eq;
    unsigned lineno = 0;
    FILE *f;
    int rc = 0;

    f = fopen(path, "r");
    if (f == NULL) {
        return wharf_fail(err, errlen, "--config %s: %s", path,
                          strerror(errno));
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        key = trim(line);
        if (*key == '\0' || *key == '#') {
            continue;
        }
        eq = strchr(key, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%u: expected 'key = value'", path,
                     lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        val = trim(eq + 1);
        key = trim(key);
        opt = wharf_opts_find(table, key, strlen(key));
        if (opt == NULL || (opt->flags & (WHARF_OPT_CLI | WHARF_OPT_SWITCH))) {
            snprintf(err, errlen, "%s:%u: unknown setting '%s'", path, lineno,
                     key);
            rc = -1;
            break;
        }
        if (opts_set(table, opt, conf, val, NULL, WHARF_OPT_FROM_FILE, seen,
                     why, sizeof(why))
            != 0) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int
wharf_opts_file(const struct wharf_opt *table, void *conf, const char *path,
                char *err, size_t errlen)
{
    return opts_file(table, conf, path, NULL, err, errlen);
}

const char *
wharf_opts_env(char *const envp[], const char *name)
{
    size_t n = strlen(name);

    for (; envp != NULL && *envp != NULL; envp++) {
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') {
            return *envp + n + 1;
        }
    }
    return NULL;
}

/* The config file named on the command line (the last one), or in the
 * environment: read before every other source but the defaults, whatever
 * its place, so that every flag overrides it. */
static const char *
opts_config_path(const struct wharf_opt *table, int argc, char *const argv[],
                 char *const envp[])
{
    const struct wharf_opt *opt;
    const char *path = NULL;
    size_t n;
    int i;

    for (opt = table; opt->name != NULL; opt++) {
        if (opt->flags & WHARF_OPT_CONFIG) {
            break;
        }
    }
    if (opt->name == NULL) {
        return NULL;
    }
    if (opt->env != NULL) {
        path = wharf_opts_env(envp, opt->env);
    }
    n = strlen(opt->name);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
        if (strncmp(argv[i], "--", 2) != 0
            || strncmp(argv[i] + 2, opt->name, n) != 0) {
            continue;
        }
        if (argv[i][2 + n] == '\0' && i + 1 < argc) {
            path = argv[++i];
        } else if (argv[i][2 + n] == '=') {
            path = argv[i] + 3 + n;
        }
    }
    return path;
}

int
wharf_opts_load(const struct wharf_opt *table, void *conf, int argc,
                char *const argv[], char *const envp[], int *rest, int *stopped,
                char *err, size_t errlen)
{
    unsigned char seen[WHARF_OPTS_MAX] = { 0 };
    const struct wharf_opt *opt;
    const char *a, *eq, *val, *path, *stray = NULL;
    size_t n;
    int i;

    if (stopped != NULL) {
        *stopped = 0;
    }
    if (rest != NULL) {
        *rest = argc;
    }
    for (opt = table; opt->name != NULL; opt++) {
        if (opt - table >= WHARF_OPTS_MAX) {
            return wharf_fail(err, errlen, "more than %d options",
                              WHARF_OPTS_MAX);
        }
        if (opt->dflt != NULL
            && opts_set(table, opt, conf, opt->dflt, NULL,
                        WHARF_OPT_FROM_DEFAULT, seen, err, errlen)
                != 0) {
            return -1;
        }
    }

    path = opts_config_path(table, argc, argv, envp);
    if (path != NULL && opts_file(table, conf, path, seen, err, errlen) != 0) {
        return -1;
    }

    for (opt = table; opt->name != NULL; opt++) {
        if (opt->env != NULL && !(opt->flags & WHARF_OPT_CONFIG)
            && (val = wharf_opts_env(envp, opt->env)) != NULL
            && opts_set(table, opt, conf, val, opt->env, WHARF_OPT_FROM_ENV,
                        seen, err, errlen)
                != 0) {
            return -1;
        }
    }

    for (i = 1; i < argc; i++) {
        a = argv[i];
        if (strcmp(a, "--") == 0) {
            if (rest != NULL) {
                *rest = i + 1;
                break;
            }
            if (i + 1 < argc && stray == NULL) {
                stray = argv[i + 1];
            }
            break;
        }
        if (strcmp(a, "-h") == 0) {
            a = "--help";
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (rest != NULL) {
                *rest = i;
                break;
            }
            if (stray == NULL) {
                stray = a; /* reported once every option is read */
            }
            continue;
        }
        eq = strchr(a, '=');
        n = eq != NULL ? (size_t) (eq - a) : strlen(a);
        opt = strncmp(a, "--", 2) == 0 ? opts_find_flag(table, a + 2, n - 2)
                                       : NULL;
        if (opt == NULL || ((opt->flags & WHARF_OPT_SWITCH) && eq != NULL)) {
            return wharf_fail(err, errlen, "unknown option '%s' (see --help)",
                              argv[i]);
        }
        if (opt->flags & WHARF_OPT_SWITCH) {
            val = NULL;
        } else if (eq != NULL) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return wharf_fail(err, errlen, "%s: missing value", argv[i]);
        }
        if (opt->flags & WHARF_OPT_CONFIG) {
            continue; /* read first, above */
        }
        if (opts_set(table, opt, conf, val, NULL, WHARF_OPT_FROM_CLI, seen, err,
                     errlen)
            != 0) {
            return -1;
        }
        if (opt->flags & WHARF_OPT_STOP) {
            if (stopped != NULL) {
                *stopped = 1;
            }
            return 0;
        }
    }
    if (stray != NULL) {
        return wharf_fail(err, errlen, "unexpected argument '%s' (see --help)",
                          stray);
    }
    for (opt = table; opt->name != NULL; opt++) {
        if ((opt->flags & WHARF_OPT_REQUIRED) && !seen[opt - table]) {
            return wharf_fail(err, errlen, "--%s is required (see --help)",
                              opt->name);
        }
    }
    return 0;
}

const char *
wharf_opt_default_text(const struct wharf_opt *opt)
{
    if (opt->flags & WHARF_OPT_REQUIRED) {
        return "required";
    }
    return opt->dflt != NULL ? opt->dflt : "none";
}

/* Writes words of text after the column at *col, wrapping at 79. */
static void
help_words(FILE *out, const char *text, int *col)
{
    const char *p = text, *end;
    int n;

    while (*p != '\0') {
        while (*p == ' ') {
            p++;
        }
        end = p;
        while (*end != '\0' && *end != ' ') {
            end++;
        }
        n = (int) (end - p);
        if (n == 0) {
            break;
        }
        if (*col > WHARF_OPTS_HELP_COL && *col + 1 + n > 79) {
            fprintf(out, "\n%*s", WHARF_OPTS_HELP_COL, "");
            *col = WHARF_OPTS_HELP_COL;
        } else if (*col > WHARF_OPTS_HELP_COL) {
            fputc(' ', out);
            (*col)++;
        }
        fwrite(p, 1, (size_t) n, out);
        *col += n;
        p = end;
    }
}

/* Whether --help shows the row's bounds: a decimal number's, when it has
 * an upper one. */
static int
help_has_bounds(const struct wharf_opt *opt)
{
    return opt->max != 0 && opt->max != ULONG_MAX && opt->max != ULLONG_MAX
        && opt->set != wharf_opt_set_octal && opt->set != wharf_opt_set_string
        && opt->set != wharf_opt_set_flag && opt->set != wharf_opt_set_enum;
}

void
wharf_opts_help(const struct wharf_opt *table, FILE *out)
{
    const struct wharf_opt *opt;
    char left[96], extra[160];
    size_t k;
    int col;

    for (opt = table; opt->name != NULL; opt++) {
        col = snprintf(left, sizeof(left), "  --%s%s%s", opt->name,
                       opt->arg ? " " : "", opt->arg ? opt->arg : "");
        fputs(left, out);
        if (col + 2 > WHARF_OPTS_HELP_COL) {
            fprintf(out, "\n%*s", WHARF_OPTS_HELP_COL, "");
        } else {
            fprintf(out, "%*s", WHARF_OPTS_HELP_COL - col, "");
        }
        col = WHARF_OPTS_HELP_COL;
        help_words(out, opt->help, &col);
        extra[0] = '\0';
        k = 0;
        if (help_has_bounds(opt)) {
            k += (size_t) snprintf(extra + k, sizeof(extra) - k, "%llu..%llu",
                                   opt->min, opt->max);
        }
        if (opt->flags & WHARF_OPT_REQUIRED) {
            k += (size_t) snprintf(extra + k, sizeof(extra) - k, "%srequired",
                                   k ? "; " : "");
        } else if (opt->dflt != NULL) {
            k += (size_t) snprintf(extra + k, sizeof(extra) - k, "%sdefault %s",
                                   k ? "; " : "", opt->dflt);
        }
        if (opt->env != NULL && k < sizeof(extra)) {
            k += (size_t) snprintf(extra + k, sizeof(extra) - k, "%s%s",
                                   k ? "; " : "", opt->env);
        }
        if (opt->flags & WHARF_OPT_REPEAT && k < sizeof(extra)) {
            k += (size_t) snprintf(extra + k, sizeof(extra) - k, "%srepeatable",
                                   k ? "; " : "");
        }
        if (k > 0 && k < sizeof(extra)) {
            char paren[sizeof(extra) + 2];

            snprintf(paren, sizeof(paren), "(%s)", extra);
            help_words(out, paren, &col);
        }
        fputc('\n', out);
    }
}
