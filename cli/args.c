/*
 * Argument parsing: global options (anywhere on the line) and each
 * command's own flags.
 */
#include "ctl.h"
#include "duration.h"

#include <stdarg.h>
#include <string.h>

int
ctl_error(struct ctl *c, int status, const char *fmt, ...)
{
    va_list ap;

    fputs("wharfctl: ", c->err);
    va_start(ap, fmt);
    vfprintf(c->err, fmt, ap);
    va_end(ap);
    fputc('\n', c->err);
    return status;
}

static int
usage_error(FILE *err, const char *what, const char *value, const char *why)
{
    fprintf(err, "wharfctl: %s %s: %s (see wharfctl --help)\n", what, value,
            why);
    return CTL_USAGE;
}

static int
url_valid(const char *url)
{
    return (strncmp(url, "http://", 7) == 0 && url[7] != '\0')
        || (strncmp(url, "https://", 8) == 0 && url[8] != '\0');
}

/* A token goes into a header line: no control characters, no spaces. */
static int
token_valid(const char *t)
{
    for (; *t; t++) {
        if ((unsigned char) *t <= 0x20 || (unsigned char) *t == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/*
 * If arg is the global option name, as "--name VALUE" or "--name=VALUE",
 * stores the value and returns how many arguments it took (1 or 2); 0 if
 * arg is not this option; -1 if the value is missing.
 */
static int
global_option(const char *name, int argc, char **argv, int i,
              const char **value)
{
    size_t n = strlen(name);

    if (strncmp(argv[i], name, n) != 0) {
        return 0;
    }
    if (argv[i][n] == '=') {
        *value = argv[i] + n + 1;
        return 1;
    }
    if (argv[i][n] != '\0') {
        return 0; /* --urlx: not ours */
    }
    if (i + 1 >= argc) {
        return -1;
    }
    *value = argv[i + 1];
    return 2;
}

int
ctl_args_parse(struct ctl_args *a, int argc, char **argv, const char *env_url,
               const char *env_token, FILE *err)
{
    static const char *const names[] = { "--url", "--token", "--format" };
    const char *values[3] = { NULL, NULL, NULL };
    int i, j, k, took, kept = 0, rest_only = 0;

    for (i = 1; i < argc; i += took) {
        took = 1;
        if (!rest_only && strcmp(argv[i], "--") == 0) {
            /* The rest is the command's. After the command's name the
             * "--" stays, for the command's own flag parsing. */
            rest_only = 1;
            if (kept == 0) {
                continue;
            }
        }
        if (!rest_only) {
            for (k = 0; k < 3; k++) {
                took = global_option(names[k], argc, argv, i, &values[k]);
                if (took < 0) {
                    fprintf(err,
                            "wharfctl: %s: missing value (see "
                            "wharfctl --help)\n",
                            names[k]);
                    return CTL_USAGE;
                }
                if (took > 0) {
                    break;
                }
            }
            if (took > 0) {
                continue;
            }
            took = 1;
        }
        argv[1 + kept++] = argv[i]; /* kept <= i - 1: safe in place */
    }
    for (j = 1 + kept; j < argc; j++) {
        argv[j] = NULL;
    }

    a->url = values[0] ? values[0]
                       : (env_url && *env_url ? env_url : CTL_DEFAULT_URL);
    if (!url_valid(a->url)) {
        return usage_error(err, values[0] ? "--url" : "WHARF_URL", a->url,
                           "must be an http:// or https:// URL");
    }

    a->token = values[1] ? values[1] : env_token;
    if (a->token != NULL && *a->token == '\0') {
        a->token = NULL;
    }
    if (a->token != NULL && !token_valid(a->token)) {
        fprintf(err,
                "wharfctl: %s: a token cannot contain spaces or control "
                "characters\n",
                values[1] ? "--token" : "WHARF_TOKEN");
        return CTL_USAGE;
    }

    a->format = CTL_FORMAT_JSON;
    if (values[2] != NULL) {
        if (strcmp(values[2], "table") == 0) {
            a->format = CTL_FORMAT_TABLE;
        } else if (strcmp(values[2], "raw") == 0) {
            a->format = CTL_FORMAT_RAW;
        } else if (strcmp(values[2], "json") != 0) {
            return usage_error(err, "--format", values[2],
                               "must be json, table or raw");
        }
    }

    a->argc = kept;
    a->argv = argv + 1;
    return CTL_OK;
}

int
ctl_flags_parse(struct ctl *c, const char *cmd, int argc, char **argv,
                const struct ctl_flag *flags, const char **pos, int *npos,
                int max_pos)
{
    const struct ctl_flag *f;
    const char *arg, *eq;
    size_t n;
    int i, only_pos = 0;

    *npos = 0;
    for (i = 1; i < argc; i++) {
        arg = argv[i];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && arg[0] == '-' && arg[1] != '\0') {
            if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
                return CTL_HELP;
            }
            eq = strchr(arg, '=');
            n = eq ? (size_t) (eq - arg) : strlen(arg);
            for (f = flags; f && f->name; f++) {
                if (strlen(f->name) == n && strncmp(f->name, arg, n) == 0) {
                    break;
                }
            }
            if (f == NULL || f->name == NULL) {
                return ctl_error(c, CTL_USAGE,
                                 "%s: unknown flag '%.*s' (see "
                                 "wharfctl %s --help)",
                                 cmd, (int) n, arg, cmd);
            }
            if (!f->takes_value) {
                if (eq) {
                    return ctl_error(c, CTL_USAGE, "%s: %s takes no value", cmd,
                                     f->name);
                }
                *f->set = 1;
            } else if (eq) {
                *f->value = eq + 1;
            } else if (i + 1 < argc) {
                *f->value = argv[++i];
            } else {
                return ctl_error(c, CTL_USAGE, "%s: %s: missing value", cmd,
                                 f->name);
            }
            continue;
        }
        if (*npos >= max_pos) {
            return ctl_error(c, CTL_USAGE,
                             "%s: unexpected argument '%s' (see "
                             "wharfctl %s --help)",
                             cmd, arg, cmd);
        }
        pos[(*npos)++] = arg;
    }
    return CTL_OK;
}

int
ctl_parse_duration(const char *s, long long max, long long *secs)
{
    long long v;

    /* a duration of nothing is no --since or TTL */
    if (wharf_duration_parse(s, max, &v) != 0 || v == 0) {
        return -1;
    }
    *secs = v;
    return 0;
}
