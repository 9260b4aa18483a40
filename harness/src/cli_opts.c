/* cli_opts.c — options are spelled out.
 *
 * Owns: refusing abbreviated long options before getopt_long sees them.
 * getopt_long takes any unique prefix ("--allow" for --allow-destructive),
 * so a typo or a half-remembered option can switch on the destructive tests
 * or change what a run does without anyone having written the option's name.
 * Every command calls tr_cli_spelled_out() with the same short and long
 * option tables it gives getopt_long.
 * Must not: parse option values (the commands do).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

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

int tr_cli_rig_only(const char *cmd, int argc, char **argv, void (*usage)(FILE *), const char **rig_arg)
{
    static const struct option opts[] = {{"rig", required_argument, 0, 'r'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    *rig_arg = NULL;
    if (tr_cli_spelled_out(cmd, argc, argv, "r:h", opts) < 0)
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r': *rig_arg = optarg; break;
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
