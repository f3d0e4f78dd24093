/*
 * axon-worker: the configuration printed: the effective values with where
 * each came from (--print-config, the log at start and reload), a sample
 * file with every key's help (--sample-config), and what a reload changed.
 * Secrets are never printed.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"


static const char *aw_conf_value(const aw_conf_t *conf,
    const aw_conf_option_t *opt, char *buf, size_t size);
static void aw_conf_quote(const char *s, char *buf, size_t size);
static void aw_conf_hide_password(const char *s, char *buf, size_t size);
static void aw_conf_print_help(FILE *f, const char *text);


const char *
aw_conf_format_msec(char *buf, size_t size, aw_msec_t ms)
{
    if (ms == 0) {
        snprintf(buf, size, "0");

    } else if (ms % (60 * 60 * 1000) == 0) {
        snprintf(buf, size, "%lldh", (long long) (ms / (60 * 60 * 1000)));

    } else if (ms % (60 * 1000) == 0) {
        snprintf(buf, size, "%lldm", (long long) (ms / (60 * 1000)));

    } else if (ms % 1000 == 0) {
        snprintf(buf, size, "%llds", (long long) (ms / 1000));

    } else {
        snprintf(buf, size, "%lldms", (long long) ms);
    }

    return buf;
}
const char *
aw_conf_range(const aw_conf_option_t *opt, char *buf, size_t size)
{
    char                   a[32], b[32];
    size_t                 len;
    const aw_conf_enum_t  *e;

    switch (opt->type) {

    case AW_CONF_INT:
        snprintf(buf, size, "%lld .. %lld",
                 (long long) opt->min, (long long) opt->max);
        break;

    case AW_CONF_MSEC:
        snprintf(buf, size, "%s .. %s",
                 aw_conf_format_msec(a, sizeof(a), opt->min),
                 aw_conf_format_msec(b, sizeof(b), opt->max));
        break;

    case AW_CONF_STRING:
        if (opt->max) {
            snprintf(buf, size, "%lld .. %lld",
                     (long long) opt->min, (long long) opt->max);
        } else {
            snprintf(buf, size, "at least %lld", (long long) opt->min);
        }
        break;

    case AW_CONF_BOOL:
        snprintf(buf, size, "yes or no");
        break;

    case AW_CONF_ENUM:
        buf[0] = '\0';
        len = 0;

        for (e = opt->values; e->name && len < size; e++) {
            len += snprintf(buf + len, size - len, "%s%s",
                            e == opt->values ? "" :
                                (e[1].name ? ", " : " or "), e->name);
        }
        break;
    }

    return buf;
}


/*
 * The value of opt in conf as it would be written in the file.
 */

static const char *
aw_conf_value(const aw_conf_t *conf, const aw_conf_option_t *opt, char *buf,
    size_t size)
{
    char                   conninfo[1024];
    const char            *s;
    const aw_conf_enum_t  *e;

    switch (opt->type) {

    case AW_CONF_STRING:
        s = *(char **) aw_conf_field(conf, opt);

        if ((opt->flags & AW_CONF_SECRET) && s[0]) {
            s = "********";
        }

        if (opt->flags & AW_CONF_CONNINFO) {
            aw_conf_hide_password(s, conninfo, sizeof(conninfo));
            s = conninfo;
        }

        aw_conf_quote(s, buf, size);
        break;

    case AW_CONF_INT:
        snprintf(buf, size, "%d", *(int *) aw_conf_field(conf, opt));
        break;

    case AW_CONF_MSEC:
        aw_conf_format_msec(buf, size,
                            *(aw_msec_t *) aw_conf_field(conf, opt));
        break;

    case AW_CONF_BOOL:
        snprintf(buf, size, "%s",
                 *(int *) aw_conf_field(conf, opt) ? "yes" : "no");
        break;

    case AW_CONF_ENUM:
        snprintf(buf, size, "?");

        for (e = opt->values; e->name; e++) {
            if (e->value == *(int *) aw_conf_field(conf, opt)) {
                snprintf(buf, size, "%s", e->name);
                break;
            }
        }
        break;
    }

    return buf;
}


static void
aw_conf_quote(const char *s, char *buf, size_t size)
{
    size_t  len;

    aw_assert(size > 8);

    len = 0;
    buf[len++] = '"';

    for ( /* void */ ; *s && len < size - 6; s++) {
        switch (*s) {
        case '"':   len += sprintf(buf + len, "\\\""); break;
        case '\\':  len += sprintf(buf + len, "\\\\"); break;
        case '\n':  len += sprintf(buf + len, "\\n"); break;
        case '\r':  len += sprintf(buf + len, "\\r"); break;
        case '\t':  len += sprintf(buf + len, "\\t"); break;

        default:
            if ((unsigned char) *s < 0x20 || *s == 0x7f) {
                len += sprintf(buf + len, "\\x%02x", (unsigned char) *s);
            } else {
                buf[len++] = *s;
            }
        }
    }

    buf[len++] = '"';
    buf[len] = '\0';
}


/*
 * A libpq conninfo with its passwords replaced by ********: the value of
 * password= (as a keyword, or in the query of a URI), and the password of
 * a postgresql://user:password@host URI.
 */

static void
aw_conf_hide_password(const char *s, char *buf, size_t size)
{
    char         tmp[1024];
    size_t       len;
    const char  *p, *at, *colon, *end;

    p = strstr(s, "://");

    if (p) {
        p += 3;
        at = p + strcspn(p, "/@?");
        colon = memchr(p, ':', at - p);

        if (*at == '@' && colon) {
            snprintf(tmp, sizeof(tmp), "%.*s********%s",
                     (int) (colon + 1 - s), s, at);
            s = tmp;
        }
    }

    len = 0;

    for (p = s; *p && len < size - 1; /* void */ ) {

        if (strncmp(p, "password", 8) == 0
            && (p == s || strchr(" \t?&", p[-1]) != NULL))
        {
            end = p + 8 + strspn(p + 8, " \t");

            if (*end == '=') {
                end++;
                end += strspn(end, " \t");

                if (*end == '\'') {
                    for (end++; *end && *end != '\''; end++) {
                        if (*end == '\\' && end[1]) {
                            end++;
                        }
                    }

                    if (*end) {
                        end++;
                    }

                } else {
                    end += strcspn(end, " \t&");
                }

                len += snprintf(buf + len, size - len, "password=********");
                len = aw_min(len, size - 1);
                p = end;
                continue;
            }
        }

        buf[len++] = *p++;
    }

    buf[len] = '\0';
}


const char *
aw_conf_location(const aw_conf_t *conf, const aw_conf_option_t *opt,
    char *buf, size_t size)
{
    unsigned  line;

    line = conf->line[opt - aw_conf_options];

    if (line == 0) {
        snprintf(buf, size, "default");
    } else {
        snprintf(buf, size, "%.255s:%u", conf->path, line);
    }

    return buf;
}


/*
 * Logs each key whose value differs between old and conf, and returns the
 * flags of those keys (what the change requires: AW_CONF_PG, ...).
 */

unsigned
aw_conf_changes(const aw_conf_t *old, aw_conf_t *conf)
{
    char                    *s, **f;
    char                     a[512], b[512];
    unsigned                 flags;
    const aw_conf_option_t  *opt;

    flags = 0;

    for (opt = aw_conf_options; opt->name; opt++) {

        if (opt->type == AW_CONF_STRING) {
            if (strcmp(*(char **) aw_conf_field(old, opt),
                       *(char **) aw_conf_field(conf, opt)) == 0)
            {
                continue;
            }

        } else if (opt->type == AW_CONF_MSEC) {
            if (*(aw_msec_t *) aw_conf_field(old, opt)
                == *(aw_msec_t *) aw_conf_field(conf, opt))
            {
                continue;
            }

        } else if (*(int *) aw_conf_field(old, opt)
                   == *(int *) aw_conf_field(conf, opt))
        {
            continue;
        }

        if (opt->flags & AW_CONF_START) {
            /* the new value into the log, the old one back into conf */
            aw_log(AW_LOG_WARN, "config: %s changed from %s to %s: it "
                   "takes effect at the next start; %s kept until then",
                   opt->name, aw_conf_value(old, opt, a, sizeof(a)),
                   aw_conf_value(conf, opt, b, sizeof(b)), a);

            if (opt->type == AW_CONF_STRING) {
                s = strdup(*(char **) aw_conf_field(old, opt));

                if (s != NULL) {
                    f = (char **) aw_conf_field(conf, opt);
                    free(*f);
                    *f = s;
                }

            } else if (opt->type == AW_CONF_MSEC) {
                *(aw_msec_t *) aw_conf_field(conf, opt) =
                    *(aw_msec_t *) aw_conf_field(old, opt);

            } else {
                *(int *) aw_conf_field(conf, opt) =
                    *(int *) aw_conf_field(old, opt);
            }

            continue;
        }

        if (opt->flags & AW_CONF_SECRET) {
            aw_log(AW_LOG_NOTICE, "config: %s changed", opt->name);

        } else {
            aw_log(AW_LOG_NOTICE, "config: %s changed from %s to %s",
                   opt->name, aw_conf_value(old, opt, a, sizeof(a)),
                   aw_conf_value(conf, opt, b, sizeof(b)));
        }

        flags |= opt->flags;
    }

    return flags;
}


/*
 * --print-config: every key with its effective value and where it came
 * from; the output is itself a valid configuration file.
 */

void
aw_conf_print(FILE *f, const aw_conf_t *conf)
{
    char                     value[1024], loc[300];
    const aw_conf_option_t  *opt;

    fprintf(f, "# axon-worker %s: effective configuration (%s%s)\n",
            AXON_VERSION, conf->path ? "file " : "no file, defaults only",
            conf->path ? conf->path : "");

    for (opt = aw_conf_options; opt->name; opt++) {
        aw_conf_value(conf, opt, value, sizeof(value));
        aw_conf_location(conf, opt, loc, sizeof(loc));

        if (strcmp(opt->name, "worker_id") == 0 && strcmp(loc, "default") == 0)
        {
            snprintf(loc, sizeof(loc), "default (hostname:pid)");
        }

        if (strcmp(opt->name, "queue_consumer") == 0
            && strcmp(loc, "default") == 0)
        {
            snprintf(loc, sizeof(loc), "default (worker_id)");
        }

        fprintf(f, "%-25s %-48s # %s\n", opt->name, value, loc);
    }
}


/*
 * --sample-config: conf/axon-worker.conf, every key commented out with its
 * default and its help.
 */

void
aw_conf_print_sample(FILE *f)
{
    char                     value[1024], range[128], help[1024];
    const aw_conf_option_t  *opt;

    fprintf(f,
"# axon-worker configuration.\n"
"#\n"
"# Generated by `axon-worker --sample-config` from the table in\n"
"# axon-worker/config_options.c: every key, commented out, with its\n"
"# default.\n"
"#\n"
"# One `key value` per line; # starts a comment.  Quote a value that holds\n"
"# blanks: \"...\" (escapes \\\" \\\\ \\n \\t \\xHH) or '...'.\n"
"# Durations take a unit: ms, s, m or h (500ms, 2s, 1m30s).  A list's\n"
"# items are separated by commas or blanks (\"a:1 b:2\", a:1,b:2), an\n"
"# item's fields by colons.  Each key may appear once; an unknown key or a\n"
"# bad value stops the worker (exit 78).\n"
"#\n"
"# kill -HUP re-reads this file (a bad file is logged and the old\n"
"# configuration kept) and reopens log_file.  `axon-worker -c FILE -t`\n"
"# checks it, `--print-config` shows the effective values.\n");

    for (opt = aw_conf_options; opt->name; opt++) {
        value[0] = '\0';

        switch (opt->type) {
        case AW_CONF_STRING:
            aw_conf_quote(opt->def, value, sizeof(value));
            break;

        default:
            snprintf(value, sizeof(value), "%s", opt->def);
        }

        snprintf(help, sizeof(help), "%s", opt->help);

        if (opt->flags & (AW_CONF_PG|AW_CONF_REDIS)) {
            snprintf(help + strlen(help), sizeof(help) - strlen(help),
                     "  A change on reload reconnects%s%s%s.",
                     (opt->flags & AW_CONF_PG) ? " to PostgreSQL" : "",
                     (opt->flags & AW_CONF_PG) && (opt->flags & AW_CONF_REDIS)
                         ? " and" : "",
                     (opt->flags & AW_CONF_REDIS) ? " to Redis" : "");
        }

        if (opt->flags & AW_CONF_ETH) {
            snprintf(help + strlen(help), sizeof(help) - strlen(help),
                     "  A change on reload starts the RPC client over.");
        }

        fprintf(f, "\n");
        aw_conf_print_help(f, help);

        if (opt->type == AW_CONF_INT || opt->type == AW_CONF_MSEC) {
            fprintf(f, "# Range: %s.\n",
                    aw_conf_range(opt, range, sizeof(range)));
        }

        fprintf(f, "#\n# %s %s\n", opt->name, value);
    }
}


static void
aw_conf_print_help(FILE *f, const char *text)
{
    int          space;
    size_t       len, col;
    const char  *p, *word;

    col = 0;
    p = text;

    while (*p) {
        while (*p == ' ') {
            p++;
        }

        word = p;

        while (*p && *p != ' ') {
            p++;
        }

        len = p - word;

        if (len == 0) {
            break;
        }

        /* two spaces after a sentence, as in the rest of the tree */
        space = (col > 1 && word[-1] == ' ' && word[-2] == ' ');

        if (col == 0) {
            fprintf(f, "#");
            col = 1;

        } else if (col + space + 1 + len > 76) {
            fprintf(f, "\n#");
            col = 1;
            space = 0;
        }

        fprintf(f, " %s%.*s", space ? " " : "", (int) len, word);
        col += space + 1 + len;
    }

    if (col) {
        fprintf(f, "\n");
    }
}
