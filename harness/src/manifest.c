#include "manifest.h"

#include <csv.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { COL_SERIAL, COL_ROLE, COL_ORG, COL_NOT_AFTER, COL_SLOT, NCOLS };
static const char *const col_names[NCOLS] = {"serial", "role", "org", "not_after", "slot"};

typedef struct {
    tr_manifest *m;
    tr_err *e;
    bool failed;
    int line;             /* current record's line */
    int field;            /* index within the record */
    int col_of_field[16]; /* header: which column each field is */
    bool header_done;
    tr_manifest_entry cur;
} mparse;

static void bad(mparse *p, const char *fmt, const char *arg)
{
    if (p->failed)
        return;
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    tr_fail_at(p->e, TR_E_CONFIG, p->m->path, p->line, 0, "%s", msg);
    p->failed = true;
}

static void on_field(void *s, size_t len, void *data)
{
    mparse *p = data;
    char v[256];
    if (len >= sizeof v) {
        bad(p, "a field is longer than %s characters", "255");
        len = sizeof v - 1;
    }
    memcpy(v, s, len);
    v[len] = '\0';
    tr_trim(v);
    int f = p->field++;
    if (f >= 16) {
        bad(p, "too many columns (at most %s)", "16");
        return;
    }
    if (!p->header_done) {
        p->col_of_field[f] = -1;
        for (int c = 0; c < NCOLS; c++)
            if (!strcasecmp(v, col_names[c]))
                p->col_of_field[f] = c;
        if (p->col_of_field[f] < 0)
            bad(p, "unknown column '%s' in the header (expected serial, role, org, not_after, slot)", v);
        return;
    }
    switch (p->col_of_field[f]) {
    case COL_SERIAL: tr_strlcpy(p->cur.serial, v, sizeof p->cur.serial); break;
    case COL_ROLE:
        if (*v && strcmp(v, "main") && strcmp(v, "secondary"))
            bad(p, "role '%s': expected main or secondary", v);
        tr_strlcpy(p->cur.role, v, sizeof p->cur.role);
        break;
    case COL_ORG: tr_strlcpy(p->cur.org, v, sizeof p->cur.org); break;
    case COL_NOT_AFTER:
        if (*v && (strlen(v) != 10 || v[4] != '-' || v[7] != '-'))
            bad(p, "not_after '%s': expected a date YYYY-MM-DD", v);
        tr_strlcpy(p->cur.not_after, v, sizeof p->cur.not_after);
        break;
    case COL_SLOT: tr_strlcpy(p->cur.slot, v, sizeof p->cur.slot); break;
    default: break;
    }
}

static void on_record(int c, void *data)
{
    (void)c;
    mparse *p = data;
    if (!p->header_done) {
        bool has_serial = false;
        for (int f = 0; f < p->field && f < 16; f++)
            has_serial |= p->col_of_field[f] == COL_SERIAL;
        if (!has_serial)
            bad(p, "the header row must name a %s column", "serial");
        p->header_done = true;
    } else if (!p->failed) {
        if (!p->cur.serial[0] && !p->cur.slot[0]) {
            bad(p, "row has no %s", "serial");
        } else {
            tr_manifest_entry *ne = realloc(p->m->entries, (p->m->n + 1) * sizeof *ne);
            if (!ne) {
                bad(p, "out of %s", "memory");
            } else {
                p->m->entries = ne;
                p->cur.line = p->line;
                for (size_t i = 0; i < p->m->n; i++)
                    if (p->cur.serial[0] && !strcmp(ne[i].serial, p->cur.serial))
                        bad(p, "serial %s appears twice", p->cur.serial);
                ne[p->m->n++] = p->cur;
            }
        }
    }
    memset(&p->cur, 0, sizeof p->cur);
    p->field = 0;
}

int tr_manifest_load(const char *path, tr_manifest *m, tr_err *e)
{
    memset(m, 0, sizeof *m);
    tr_strlcpy(m->path, path, sizeof m->path);
    FILE *f = fopen(path, "r");
    if (!f)
        return tr_fail(e, TR_E_CONFIG, "%s: cannot open the manifest: %m", path);
    struct csv_parser csv;
    csv_init(&csv, CSV_APPEND_NULL | CSV_EMPTY_IS_NULL);
    mparse p = {.m = m, .e = e};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    /* feed line by line so errors carry the line the record started on */
    while (!p.failed && (n = getline(&line, &cap, f)) > 0) {
        if (p.field == 0)
            p.line++;
        else
            p.line++;
        if (n > 4096) {
            bad(&p, "line longer than %s characters", "4096");
            break;
        }
        if ((size_t)csv_parse(&csv, line, (size_t)n, on_field, on_record, &p) != (size_t)n)
            bad(&p, "CSV: %s", csv_strerror(csv_error(&csv)));
    }
    if (!p.failed)
        csv_fini(&csv, on_field, on_record, &p);
    csv_free(&csv);
    free(line);
    fclose(f);
    if (!p.failed && !p.header_done)
        tr_fail_at(e, TR_E_CONFIG, path, 1, 0, "empty manifest: the first row must name the columns");
    if (p.failed || !p.header_done) {
        tr_manifest_free(m);
        return -1;
    }
    return 0;
}

void tr_manifest_free(tr_manifest *m)
{
    free(m->entries);
    m->entries = NULL;
    m->n = 0;
}

const tr_manifest_entry *tr_manifest_find(const tr_manifest *m, const char *serial, const char *slot)
{
    for (size_t i = 0; i < m->n; i++)
        if (serial && *serial && !strcmp(m->entries[i].serial, serial))
            return &m->entries[i];
    for (size_t i = 0; i < m->n; i++)
        if (slot && *slot && !strcmp(m->entries[i].slot, slot))
            return &m->entries[i];
    return NULL;
}

int tr_manifest_apply(tr_manifest *m, const char *serial, const char *slot, tr_vars *vars, tr_err *e)
{
    tr_manifest_entry *me = (tr_manifest_entry *)tr_manifest_find(m, serial, slot);
    int rc = tr_vars_set(vars, "IN_MANIFEST", me ? "1" : "0");
    if (me) {
        me->matched = 1;
        if (me->serial[0])
            rc |= tr_vars_set(vars, "EXPECTED_SERIAL", me->serial);
        if (me->role[0])
            rc |= tr_vars_set(vars, "EXPECTED_ROLE", me->role);
        if (me->org[0])
            rc |= tr_vars_set(vars, "EXPECTED_ORG", me->org);
        if (me->not_after[0])
            rc |= tr_vars_set(vars, "EXPECTED_NOT_AFTER", me->not_after);
    }
    return rc ? tr_fail(e, TR_E_NOMEM, "out of memory") : 0;
}

int tr_manifest_report_unmatched(const tr_manifest *m, tr_reports *rep, const char *run_id, const char *rig,
                                 tr_err *e)
{
    int rc = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->entries[i].matched)
            continue;
        char msg[512];
        snprintf(msg, sizeof msg, "%s:%d: manifest entry %s (%s) has no token in the rig", m->path,
                 m->entries[i].line, m->entries[i].serial, m->entries[i].role);
        tr_slot_id who = {.run_id = run_id, .rig = rig, .slot = "(manifest)", .serial = m->entries[i].serial,
                          .role = m->entries[i].role};
        tr_result_row row = {.who = &who, .suite = "manifest", .test = "token present", .verdict = TR_ERROR,
                             .classification = "manifest.no-token", .message = msg, .file = m->path,
                             .line = m->entries[i].line};
        fprintf(stderr, "tokenrig: %s\n", msg);
        if (rc == 0 && tr_reports_result(rep, &row, e) < 0)
            rc = -1;
    }
    return rc;
}
