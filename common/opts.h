/*
 * Options from one table: the command line, a "key = value" config file,
 * environment variables, --help and the documentation's options table all
 * read the same rows.
 *
 * The shape is nginx's ngx_command_t (src/core/ngx_conf_file.h): a row
 * names the option, a setter (a *_slot function, or the option's own)
 * and the offset of its field in the part's configuration struct, so
 * adding an option is one row and one field. The common setters below
 * parse a number within bounds, a string that fits its field, a switch,
 * on/off and a log level; anything else (an address, a list) has a setter
 * of its own beside its table.
 *
 * Sources, later winning: the row's default (parsed by its own setter, so
 * the default --help shows is the one in force), the config file (a row
 * flagged WHARF_OPT_CONFIG names it), the environment, the command line.
 * A value refused by its setter is a one-line message naming the flag (or
 * the variable, or FILE:LINE before it); the caller exits 2 with it.
 */
#ifndef WHARF_OPTS_H
#define WHARF_OPTS_H

#include <stddef.h>
#include <stdio.h>

/* Rows of a table at most (a table ends with a row whose name is NULL). */
#define WHARF_OPTS_MAX 64

/* A row's offset, checked at compile time against the type its setter
 * writes: CONF_FIELD(struct cfg, unsigned, threads). */
#define WHARF_OPT_FIELD(s, type, field)                                     \
    (offsetof(s, field) + 0 * sizeof(struct {                               \
                              int wrong_type                                \
                                  : __builtin_types_compatible_p(           \
                                        __typeof__(((s *) 0)->field), type) \
                                    ? 1                                     \
                                    : -1;                                   \
                          }))

/* The column --help's texts start at. */
#define WHARF_OPTS_HELP_COL 30

/* For a row's default: WHARF_OPT_STR(WHARFD_THREADS_DEFAULT) is "4". */
#define WHARF_OPT_STR_(x) #x
#define WHARF_OPT_STR(x)  WHARF_OPT_STR_(x)

enum wharf_opt_flags {
    WHARF_OPT_REQUIRED = 1 << 0, /* "--NAME is required" when not given */
    WHARF_OPT_REPEAT = 1 << 1,   /* each use adds (its setter keeps a list) */
    WHARF_OPT_SWITCH = 1 << 2,   /* takes no value (--help) */
    WHARF_OPT_STOP = 1 << 3,     /* a switch that ends parsing (--help) */
    WHARF_OPT_CLI = 1 << 4,      /* the command line only, not a file key */
    WHARF_OPT_CONFIG = 1 << 5,   /* names the config file (--config) */
};

/* Where a value comes from. */
enum wharf_opt_source {
    WHARF_OPT_FROM_DEFAULT,
    WHARF_OPT_FROM_FILE,
    WHARF_OPT_FROM_ENV,
    WHARF_OPT_FROM_CLI
};

struct wharf_opt;

/* One value for a setter. */
struct wharf_opt_arg {
    const char *val; /* NULL for a switch */
    const char *src; /* "--NAME" or the variable, for messages */
    enum wharf_opt_source from;
    char *err; /* the message on failure */
    size_t errlen;
};

/* Sets the row's field in conf from a->val; 0, or -1 with a->err set. */
typedef int (*wharf_opt_set_pt)(const struct wharf_opt *opt, void *conf,
                                const struct wharf_opt_arg *a);

struct wharf_opt {
    const char *name; /* --NAME on the command line, NAME in a file */
    const char *env;  /* the environment variable, or NULL */
    const char *arg;  /* the value in --help ("N", "BYTES"); NULL: none */
    wharf_opt_set_pt set;
    size_t offset;               /* of its field in the configuration */
    unsigned long long min, max; /* a number's bounds; a string's field
                                     size is max, its least length min */
    const char *bad;             /* the message for a value out of bounds, with
                         {flag} {val} {min} {max} replaced; NULL: the
                         setter's own */
    const char *dflt;            /* the default, parsed by set; NULL: none */
    const char *help; /* --help's text (bounds and default are added) */
    const void *post; /* the setter's own data (wharf_opt_set_enum) */
    unsigned flags;   /* enum wharf_opt_flags */
};

/* What wharf_opt_set_enum reads from post: names and their values,
 * ending with a NULL name. */
struct wharf_opt_enum {
    const char *name;
    int value;
};

/* The setters every table may use (nginx's *_slot functions). */
int wharf_opt_set_unsigned(const struct wharf_opt *opt, void *conf,
                           const struct wharf_opt_arg *a); /* unsigned */
int wharf_opt_set_ulong(const struct wharf_opt *opt, void *conf,
                        const struct wharf_opt_arg *a); /* unsigned long */
int wharf_opt_set_size(const struct wharf_opt *opt, void *conf,
                       const struct wharf_opt_arg *a); /* size_t */
/* unsigned, in octal: permission bits ("0660") */
int wharf_opt_set_octal(const struct wharf_opt *opt, void *conf,
                        const struct wharf_opt_arg *a);
/* char[max], at least min bytes long */
int wharf_opt_set_string(const struct wharf_opt *opt, void *conf,
                         const struct wharf_opt_arg *a);
/* int, one of post's names (struct wharf_opt_enum) */
int wharf_opt_set_enum(const struct wharf_opt *opt, void *conf,
                       const struct wharf_opt_arg *a);
/* int, the log level (log.h) */
int wharf_opt_set_log_level(const struct wharf_opt *opt, void *conf,
                            const struct wharf_opt_arg *a);
/* int, 1 when given (a switch: --help, --version); max is the value set */
int wharf_opt_set_flag(const struct wharf_opt *opt, void *conf,
                       const struct wharf_opt_arg *a);

/* The row's "bad" message with its fields replaced; returns -1. */
int wharf_opt_fail(const struct wharf_opt *opt, const struct wharf_opt_arg *a,
                   const char *bad);

/* Strict unsigned parse: digits of the base only (no sign, no space), no
 * overflow. 0, or -1. */
int wharf_opt_parse_ulong(const char *s, int base, unsigned long *out);

/*
 * Fills conf: defaults, then the config file, the environment (envp, may
 * be NULL) and argv. Stops at a WHARF_OPT_STOP switch (returns 0 with
 * *stopped = 1) and at "--" or at the first argument that is not an
 * option when rest is not NULL (*rest = its index; else it is an error).
 * On failure: -1 and a one-line message in err.
 */
int wharf_opts_load(const struct wharf_opt *table, void *conf, int argc,
                    char *const argv[], char *const envp[], int *rest,
                    int *stopped, char *err, size_t errlen);

/* Reads a "key = value" file ('#' starts a comment line) into conf. */
int wharf_opts_file(const struct wharf_opt *table, void *conf, const char *path,
                    char *err, size_t errlen);

/* NAME's value in envp ("NAME=value" strings, NULL-terminated; may be
 * NULL), or NULL. */
const char *wharf_opts_env(char *const envp[], const char *name);

/* The row named name, or NULL. */
const struct wharf_opt *wharf_opts_find(const struct wharf_opt *table,
                                        const char *name, size_t len);

/* --help's option lines, one option a line (wrapped to 79 columns):
 * "  --NAME ARG  help (MIN..MAX; default D; env VAR)". */
void wharf_opts_help(const struct wharf_opt *table, FILE *out);

/* The default as the docs show it: "required", "none" or the value. */
const char *wharf_opt_default_text(const struct wharf_opt *opt);

#endif
