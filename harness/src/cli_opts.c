/* cli_opts.c — options are spelled out; what several commands share.
 *
 * Owns: refusing abbreviated long options before getopt_long sees them;
 * the command line as a run records it; the results database's options
 * (--db, --no-db, --batch) and which database they choose.
 * getopt_long takes any unique prefix ("--allow" for --allow-destructive),
 * so a typo or a half-remembered option can switch on the destructive tests
 * or change what a run does without anyone having written the option's name.
 * Every command calls tr_cli_spelled_out() with the same short and long
 * option tables it gives getopt_long.
 * Must not: parse option values (the commands do).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "util.h"
#include "db.h"

/* Does optstring give short option c an argument? */
static bool short_takes_arg(const char *shortopts, char c)
{
    const char *p = c != ':' ? strchr(shortopts, c) : NULL;
    return p && p[1] == ':';
}

/* The long options name is a prefix of, as "--a or --b" into out. */
static size_t prefix_of(const struct option *longopts, const char *name, size_t n, char *out, size_t cap)
{
    size_t found = 0, used = 0;
    out[0] = '\0';
    for (const struct option *o = longopts; o->name; o++) {
        if (strncmp(o->name, name, n) != 0)
            continue;
        int w = snprintf(out + used, cap - used, "%s--%s", found ? " or " : "", o->name);
        if (w > 0 && (size_t)w < cap - used)
            used += (size_t)w;
        found++;
    }
    return found;
}

/* One "--name[=value]" argument: 1 spelled out and takes the next argument
 * as its value, 0 spelled out (or unknown: getopt_long says so), -1 an
 * abbreviation (said on stderr). */
static int check_long(const char *cmd, const char *arg, const struct option *longopts)
{
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    for (const struct option *o = longopts; o->name; o++)
        if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
            return o->has_arg == required_argument && !eq ? 1 : 0;
    char candidates[512];
    if (n == 0 || prefix_of(longopts, name, n, candidates, sizeof candidates) == 0)
        return 0;
    fprintf(stderr, "%s: option '--%.*s' must be spelled out (%s)\n", cmd, (int)n, name, candidates);
    return -1;
}

int tr_cli_spelled_out(const char *cmd, int argc, char **argv, const char *shortopts,
                       const struct option *longopts)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            break; /* the rest are operands */
        if (a[0] != '-' || a[1] == '\0')
            continue; /* an operand (getopt_long permutes them) */
        if (a[1] == '-') {
            int r = check_long(cmd, a, longopts);
            if (r < 0)
                return -1;
            i += r;
            continue;
        }
        /* a cluster of short options: one that takes an argument ends it,
         * and takes the next argument when nothing follows it */
        for (const char *c = a + 1; *c; c++) {
            if (!short_takes_arg(shortopts, *c))
                continue;
            if (c[1] == '\0')
                i++;
            break;
        }
    }
    return 0;
}

int tr_cli_rig_and(const char *cmd, int argc, char **argv, void (*usage)(FILE *), const char **rig_arg,
                   const char *extra, const char **extra_val)
{
    /* the extra option has no short form ('x' is not in shortopts); with
     * none, its NULL name ends the table */
    const struct option opts[] = {{"rig", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'},
                                  {extra, required_argument, 0, 'x'}, {0, 0, 0, 0}};
    *rig_arg = NULL;
    if (extra_val)
        *extra_val = NULL;
    if (tr_cli_spelled_out(cmd, argc, argv, "r:h", opts) < 0)
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': *rig_arg = optarg; break;
        case 'x':
            if (*extra_val) {
                fprintf(stderr, "%s: --%s is given twice (one list, comma-separated)\n", cmd, extra);
                return 2;
            }
            *extra_val = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

int tr_cli_rig_only(const char *cmd, int argc, char **argv, void (*usage)(FILE *), const char **rig_arg)
{
    return tr_cli_rig_and(cmd, argc, argv, usage, rig_arg, NULL, NULL);
}

/* An argument as the shell takes it back: bare when it only has safe
 * characters, else in single quotes ('\'' for a quote). */
static size_t shell_word(const char *a, char *out)
{
    bool bare = *a && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@%+=:,./_-") ==
                          strlen(a);
    size_t n = 0;
    if (bare) {
        n = strlen(a);
        if (out)
            memcpy(out, a, n);
        return n;
    }
    if (out)
        out[n] = '\'';
    n++;
    for (const char *p = a; *p; p++) {
        if (*p == '\'') {
            if (out)
                memcpy(out + n, "'\\''", 4);
            n += 4;
        } else {
            if (out)
                out[n] = *p;
            n++;
        }
    }
    if (out)
        out[n] = '\'';
    return n + 1;
}

/* -D NAME=VALUE of a PIN variable (NAME ends in PIN, any case: DEFAULT_PIN,
 * SO_PIN): the record says NAME=<pin>. def is "NAME=VALUE" (or the "-D"
 * cluster's tail); masked gets the text to record. */
static const char *mask_pin_def(const char *def, char *masked, size_t cap)
{
    const char *eq = strchr(def, '=');
    char name[128];
    if (!eq || (size_t)(eq - def) >= sizeof name)
        return def;
    snprintf(name, sizeof name, "%.*s", (int)(eq - def), def);
    if (!tr_var_is_pin(name)) /* the rule the interpreter and the provenance use */
        return def;
    snprintf(masked, cap, "%.*s=<pin>", (int)(eq - def), def);
    return masked;
}

/* Argument i as the record shows it. */
static const char *recorded(char **argv, int i, char *masked, size_t cap)
{
    if ((i > 0 && !strcmp(argv[i - 1], "-D")) || (!strncmp(argv[i], "-D", 2) && argv[i][2]))
        return mask_pin_def(argv[i], masked, cap); /* "-DNAME=..." keeps its "-D" */
    return argv[i];
}

char *tr_cli_command_line(int argc, char **argv)
{
    char masked[256];
    size_t len = strlen("tokenrig") + 1;
    for (int i = 0; i < argc; i++)
        len += 1 + shell_word(recorded(argv, i, masked, sizeof masked), NULL);
    char *out = malloc(len);
    if (!out)
        return NULL;
    size_t n = (size_t)snprintf(out, len, "tokenrig");
    for (int i = 0; i < argc; i++) {
        out[n++] = ' ';
        n += shell_word(recorded(argv, i, masked, sizeof masked), out + n);
    }
    out[n] = '\0';
    return out;
}

bool tr_cli_db_option(int c, const char *arg, tr_cli_db_opts *o)
{
    switch (c) {
    case TR_OPT_DB: o->db_arg = arg; return true;
    case TR_OPT_NO_DB: o->no_db = true; return true;
    case TR_OPT_BATCH: o->batch_arg = arg; return true;
    default: return false;
    }
}

int tr_cli_db_where(const tr_cli_db_opts *o, const char *rig_db, const char **where, tr_err *e)
{
    *where = NULL;
    if (o->batch_arg && tr_db_check_name("--batch", o->batch_arg, e) < 0)
        return -1;
    if (o->no_db && o->db_arg)
        return tr_fail(e, TR_E_USAGE, "--db and --no-db: give one");
    if (o->no_db)
        return 0;
    const char *env = getenv("TOKENRIG_DB");
    *where = tr_db_choose(o->db_arg, rig_db);
    if (tr_db_check_where(*where, e) == 0)
        return 0;
    /* tr_db_choose gives back the pointer it chose: which one says where from */
    e->code = TR_E_USAGE;
    tr_err_prefix(e, "%s", *where == o->db_arg ? "--db" : *where == env ? "$TOKENRIG_DB" : "db");
    *where = NULL;
    return -1;
}
