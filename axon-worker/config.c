/*
 * axon-worker: the redis.conf-like parser of the configuration file.
 *
 *   # comment
 *   key value
 *   postgres "host=127.0.0.1 dbname=axon"     # quotes for spaces
 *
 * One key per line, one value per key, each key at most once.  The keys
 * are the table of config_options.c; the checks that involve several keys
 * or a list are config_check.c's; the printers config_print.c's.
 */


#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"


#define AW_CONF_MAX_ARGS  8


static void aw_conf_defaults(aw_conf_t *conf);
static int aw_conf_read(aw_conf_t *conf, const char *path, char *err,
    size_t errlen);
static int aw_conf_line(aw_conf_t *conf, char *line, const char *path,
    unsigned lineno, char *err, size_t errlen);
static int aw_conf_split(const char *line, char **argv, int *argc,
    char *err, size_t errlen);
static int aw_conf_quoted(const char **pp, char *word, size_t *lenp,
    char *err, size_t errlen);
static void aw_conf_free_args(char **argv, int argc);
static int aw_conf_set(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen);
static int aw_conf_set_string(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen);
static int aw_conf_set_int(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen);
static int aw_conf_set_msec(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen);
static int aw_conf_set_bool(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen);
static int aw_conf_set_enum(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen);
static int aw_conf_parse_msec(const char *s, aw_msec_t *ms);


/*
 * Reads path (NULL: defaults only) into a new configuration.  On error
 * returns NULL with a message naming the file, line and key in err.
 */

aw_conf_t *
aw_conf_load(const char *path, char *err, size_t errlen)
{
    aw_conf_t  *conf;

    conf = calloc(1, sizeof(aw_conf_t));
    if (conf == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    aw_conf_defaults(conf);

    if (path != NULL) {
        conf->path = strdup(path);
        if (conf->path == NULL) {
            snprintf(err, errlen, "out of memory");
            goto failed;
        }

        if (aw_conf_read(conf, path, err, errlen) != AW_OK) {
            goto failed;
        }
    }

    if (aw_conf_check(conf, err, errlen) != AW_OK) {
        goto failed;
    }

    return conf;

failed:

    aw_conf_free(conf);

    return NULL;
}


static void
aw_conf_defaults(aw_conf_t *conf)
{
    char                     msg[512];
    const aw_conf_option_t  *opt;

    for (opt = aw_conf_options; opt->name; opt++) {
        aw_assert(opt - aw_conf_options < AW_CONF_MAX_OPTIONS);

        if (aw_conf_set(conf, opt, opt->def, msg, sizeof(msg)) != AW_OK) {
            /* a bad default is a bug in the table */
            aw_log(AW_LOG_EMERG, "config: default of %s: %s", opt->name, msg);
            aw_assert(0);
        }
    }
}


static int
aw_conf_read(aw_conf_t *conf, const char *path, char *err, size_t errlen)
{
    int        rc;
    FILE      *f;
    char      *line;
    size_t     size, len;
    ssize_t    nread;
    unsigned   lineno;

    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open configuration file \"%s\": %s",
                 path, strerror(errno));
        return AW_ERROR;
    }

    rc = AW_ERROR;
    line = NULL;
    size = 0;
    lineno = 0;

    while ((nread = getline(&line, &size, f)) != -1) {
        lineno++;

        len = nread;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }

        if (strlen(line) != len) {
            snprintf(err, errlen, "%s:%u: NUL byte in line", path, lineno);
            goto done;
        }

        if (aw_conf_line(conf, line, path, lineno, err, errlen) != AW_OK) {
            goto done;
        }
    }

    if (ferror(f)) {
        snprintf(err, errlen, "cannot read configuration file \"%s\": %s",
                 path, strerror(errno));
        goto done;
    }

    rc = AW_OK;

done:

    free(line);
    fclose(f);

    return rc;
}


/* one line of the file: "key value", a comment or nothing */

static int
aw_conf_line(aw_conf_t *conf, char *line, const char *path, unsigned lineno,
    char *err, size_t errlen)
{
    int                      argc, n;
    char                    *p, *argv[AW_CONF_MAX_ARGS], msg[512];
    const aw_conf_option_t  *opt;

    argc = 0;

    if (aw_conf_split(line, argv, &argc, msg, sizeof(msg)) != AW_OK) {
        p = line + strspn(line, " \t");
        snprintf(err, errlen, "%s:%u: %.*s: %s", path, lineno,
                 (int) aw_min(strcspn(p, " \t"), 64), p, msg);
        return AW_ERROR;
    }

    if (argc == 0) {
        return AW_OK;
    }

    opt = aw_conf_find(argv[0]);

    if (opt == NULL) {
        snprintf(err, errlen, "%s:%u: unknown key \"%.64s\"",
                 path, lineno, argv[0]);
        goto failed;
    }

    if (argc != 2) {
        snprintf(err, errlen, "%s:%u: %s takes one value, not %d "
                 "(quote a value that contains spaces)",
                 path, lineno, opt->name, argc - 1);
        goto failed;
    }

    n = opt - aw_conf_options;

    if (conf->line[n]) {
        snprintf(err, errlen, "%s:%u: %s is already set on line %u",
                 path, lineno, opt->name, conf->line[n]);
        goto failed;
    }

    if (aw_conf_set(conf, opt, argv[1], msg, sizeof(msg)) != AW_OK) {
        snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
        goto failed;
    }

    conf->line[n] = lineno;

    aw_conf_free_args(argv, argc);

    return AW_OK;

failed:

    aw_conf_free_args(argv, argc);

    return AW_ERROR;
}


void
aw_conf_free(aw_conf_t *conf)
{
    const aw_conf_option_t  *opt;

    if (conf == NULL) {
        return;
    }

    for (opt = aw_conf_options; opt->name; opt++) {
        if (opt->type == AW_CONF_STRING) {
            free(*(char **) aw_conf_field(conf, opt));
        }
    }

    explicit_bzero(conf->x402_gas_key, sizeof(conf->x402_gas_key));

    free(conf->path);
    free(conf);
}


int
aw_conf_list_next(const char **p, int blanks_only, const char **item,
    size_t *len)
{
    const char  *s;

    s = *p + strspn(*p, " \t");

    if (*s == '\0') {
        *p = s;
        return 0;
    }

    *item = s;
    *len = strcspn(s, blanks_only ? " \t" : ", \t");

    s += *len;
    s += strspn(s, " \t");

    if (!blanks_only && *s == ',') {
        s++;
    }

    *p = s;

    return 1;
}


const aw_conf_profile_t *
aw_conf_profile(const aw_conf_t *conf, const char *name)
{
    int  i;

    for (i = 0; i < conf->nprofiles; i++) {
        if (strcmp(conf->profile[i].name, name) == 0) {
            return &conf->profile[i];
        }
    }

    return NULL;
}


int
aw_conf_gpu_names(const aw_conf_t *conf, const char *host,
    const char *slots, char *buf, size_t size)
{
    int                        i;
    long                       slot;
    char                      *end;
    size_t                     len;
    const char                *p;
    const aw_conf_gpu_host_t  *h;

    h = NULL;

    for (i = 0; i < conf->nhosts; i++) {
        if (strcmp(conf->host[i].name, host) == 0) {
            h = &conf->host[i];
        }
    }

    if (h == NULL || !h->uuids) {
        return (size_t) snprintf(buf, size, "%s", slots) < size
               ? AW_OK : AW_ERROR;
    }

    len = 0;
    buf[0] = '\0';

    for (p = slots; *p != '\0'; p = end + (*end == ',')) {
        slot = strtol(p, &end, 10);

        if (end == p || slot < 0 || slot >= h->ngpus) {
            return AW_ERROR;
        }

        len += snprintf(buf + len, size - len, "%s%s", len ? "," : "",
                        h->uuid[slot]);
        if (len >= size) {
            return AW_ERROR;
        }
    }

    return AW_OK;
}


/*
 * Splits a line into words: blanks separate them; "..." may hold blanks
 * and the escapes \" \\ \n \r \t \xHH; '...' is taken as is but for \';
 * a word that starts with # begins a comment.
 */

static int
aw_conf_split(const char *line, char **argv, int *argc, char *err,
    size_t errlen)
{
    char        *word;
    size_t       len;
    const char  *p;

    *argc = 0;
    p = line;

    for ( ;; ) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }

        if (*p == '\0' || *p == '#') {
            return AW_OK;
        }

        if (*argc == AW_CONF_MAX_ARGS) {
            snprintf(err, errlen, "too many words in line");
            goto failed;
        }

        word = malloc(strlen(p) + 1);
        if (word == NULL) {
            snprintf(err, errlen, "out of memory");
            goto failed;
        }

        argv[(*argc)++] = word;
        len = 0;

        if (*p != '"' && *p != '\'') {
            while (*p && *p != ' ' && *p != '\t') {
                word[len++] = *p++;
            }

            word[len] = '\0';
            continue;
        }

        if (aw_conf_quoted(&p, word, &len, err, errlen) != AW_OK) {
            goto failed;
        }

        word[len] = '\0';

        if (*p != '\0' && *p != ' ' && *p != '\t') {
            snprintf(err, errlen, "a closing quote must be followed by "
                     "a blank");
            goto failed;
        }

        if (memchr(word, '\0', len) != NULL) {
            snprintf(err, errlen, "NUL byte in quotes");
            goto failed;
        }
    }

failed:

    aw_conf_free_args(argv, *argc);
    *argc = 0;

    return AW_ERROR;
}


/*
 * The quoted word at *p into word, its length in *len; *p is moved past
 * the closing quote.
 */

static int
aw_conf_quoted(const char **pp, char *word, size_t *lenp, char *err,
    size_t errlen)
{
    int          n, hex;
    char         quote;
    size_t       len;
    const char  *p;

    p = *pp;
    len = 0;

    quote = *p++;

    for ( ;; ) {
        if (*p == '\0') {
            snprintf(err, errlen, "unbalanced quotes");
            return AW_ERROR;
        }

        if (*p == quote) {
            p++;
            break;
        }

        if (*p != '\\' || p[1] == '\0') {
            word[len++] = *p++;
            continue;
        }

        if (quote == '\'') {
            if (p[1] == '\'') {
                p++;
            }

            word[len++] = *p++;
            continue;
        }

        p++;

        switch (*p) {
        case 'n':  word[len++] = '\n'; p++; break;
        case 'r':  word[len++] = '\r'; p++; break;
        case 't':  word[len++] = '\t'; p++; break;

        case 'x':
            if (sscanf(p + 1, "%2x%n", &hex, &n) == 1 && n == 2) {
                word[len++] = (char) hex;
                p += 3;
                break;
            }

            snprintf(err, errlen, "bad \\x escape in quotes");
            return AW_ERROR;

        default:
            word[len++] = *p++;
        }
    }

    *pp = p;
    *lenp = len;

    return AW_OK;
}


static void
aw_conf_free_args(char **argv, int argc)
{
    int  i;

    for (i = 0; i < argc; i++) {
        free(argv[i]);
    }
}


const aw_conf_option_t *
aw_conf_find(const char *name)
{
    const aw_conf_option_t  *opt;

    for (opt = aw_conf_options; opt->name; opt++) {
        if (strcmp(opt->name, name) == 0) {
            return opt;
        }
    }

    return NULL;
}


/*
 * Parses value for opt into conf; on error err reads
 * "KEY: \"VALUE\" is ... (RANGE)".
 */

static int
aw_conf_set(aw_conf_t *conf, const aw_conf_option_t *opt, const char *value,
    char *err, size_t errlen)
{
    switch (opt->type) {

    case AW_CONF_STRING:
        return aw_conf_set_string(conf, opt, value, err, errlen);

    case AW_CONF_INT:
        return aw_conf_set_int(conf, opt, value, err, errlen);

    case AW_CONF_MSEC:
        return aw_conf_set_msec(conf, opt, value, err, errlen);

    case AW_CONF_BOOL:
        return aw_conf_set_bool(conf, opt, value, err, errlen);

    case AW_CONF_ENUM:
        return aw_conf_set_enum(conf, opt, value, err, errlen);
    }

    snprintf(err, errlen, "%s: unknown type", opt->name);

    return AW_ERROR;
}


static int
aw_conf_set_string(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen)
{
    char    *copy, range[128];
    size_t   len;

    len = strlen(value);

    if ((int64_t) len < opt->min || (opt->max && (int64_t) len > opt->max))
    {
        snprintf(err, errlen, "%s: \"%.64s\" must be %s characters long",
                 opt->name, value, aw_conf_range(opt, range,
                                                 sizeof(range)));
        return AW_ERROR;
    }

    copy = strdup(value);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return AW_ERROR;
    }

    free(*(char **) aw_conf_field(conf, opt));
    *(char **) aw_conf_field(conf, opt) = copy;

    return AW_OK;
}


static int
aw_conf_set_int(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen)
{
    char     *end, range[128];
    int64_t   n;

    errno = 0;
    n = strtoll(value, &end, 10);

    /* digits, a minus first at most: strtoll takes blanks and a plus too */
    if (errno || end == value || *end != '\0'
        || (value[0] != '-' && (value[0] < '0' || value[0] > '9')))
    {
        snprintf(err, errlen, "%s: \"%.64s\" is not an integer (%s)",
                 opt->name, value, aw_conf_range(opt, range,
                                                 sizeof(range)));
        return AW_ERROR;
    }

    if (n < opt->min || n > opt->max) {
        snprintf(err, errlen, "%s: %.64s is out of range (%s)",
                 opt->name, value, aw_conf_range(opt, range,
                                                 sizeof(range)));
        return AW_ERROR;
    }

    *(int *) aw_conf_field(conf, opt) = (int) n;

    return AW_OK;
}


static int
aw_conf_set_msec(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen)
{
    char       range[128];
    aw_msec_t  ms;

    if (aw_conf_parse_msec(value, &ms) != AW_OK) {
        snprintf(err, errlen, "%s: \"%.64s\" is not a duration "
                 "(a number and a unit: ms, s, m, h or d, as in 500ms, "
                 "2s, 1m30s; %s)", opt->name, value,
                 aw_conf_range(opt, range, sizeof(range)));
        return AW_ERROR;
    }

    if (ms < opt->min || ms > opt->max) {
        snprintf(err, errlen, "%s: %.64s is out of range (%s)",
                 opt->name, value, aw_conf_range(opt, range,
                                                 sizeof(range)));
        return AW_ERROR;
    }

    *(aw_msec_t *) aw_conf_field(conf, opt) = ms;

    return AW_OK;
}


/* yes/no, on/off, true/false */

static int
aw_conf_set_bool(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen)
{
    if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "on") == 0
        || strcasecmp(value, "true") == 0)
    {
        *(int *) aw_conf_field(conf, opt) = 1;
        return AW_OK;
    }

    if (strcasecmp(value, "no") == 0 || strcasecmp(value, "off") == 0
        || strcasecmp(value, "false") == 0)
    {
        *(int *) aw_conf_field(conf, opt) = 0;
        return AW_OK;
    }

    snprintf(err, errlen, "%s: \"%.64s\" is not yes/no, on/off or "
             "true/false", opt->name, value);
    return AW_ERROR;
}


static int
aw_conf_set_enum(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen)
{
    char                   range[128];
    const aw_conf_enum_t  *e;

    for (e = opt->values; e->name; e++) {
        if (strcmp(e->name, value) == 0) {
            *(int *) aw_conf_field(conf, opt) = e->value;
            return AW_OK;
        }
    }

    snprintf(err, errlen, "%s: \"%.64s\" is not one of %s",
             opt->name, value, aw_conf_range(opt, range, sizeof(range)));
    return AW_ERROR;
}


/*
 * "0", or numbers each followed by a unit: "500ms", "2s", "1m30s", "1h",
 * "7d".
 */

static int
aw_conf_parse_msec(const char *s, aw_msec_t *ms)
{
    int64_t      n, unit, total;
    const char  *p;

    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return AW_OK;
    }

    p = s;
    total = 0;

    do {
        if (*p < '0' || *p > '9') {
            return AW_ERROR;
        }

        n = 0;

        while (*p >= '0' && *p <= '9') {
            if (n > (INT64_MAX - 9) / 10) {
                return AW_ERROR;
            }

            n = n * 10 + (*p++ - '0');
        }

        if (p[0] == 'm' && p[1] == 's') {
            unit = 1;
            p += 2;

        } else if (*p == 's') {
            unit = 1000;
            p++;

        } else if (*p == 'm') {
            unit = 60 * 1000;
            p++;

        } else if (*p == 'h') {
            unit = 60 * 60 * 1000;
            p++;

        } else if (*p == 'd') {
            unit = 24 * 60 * 60 * 1000;
            p++;

        } else {
            return AW_ERROR;
        }

        if (n > (INT64_MAX - total) / unit) {
            return AW_ERROR;
        }

        total += n * unit;

    } while (*p);

    *ms = total;

    return AW_OK;
}
