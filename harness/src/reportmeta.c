/* reportmeta.c — the part of reportdir.h about what a run recorded about
 * itself: provenance.csv (slot,name,value,source: tool version, command
 * line, effective variables and where each came from, hashes, ...) and
 * junit.xml's <property> elements; and the PIN masking every text read
 * goes through.
 *
 * PINs: provenance.csv lists the effective variables, and a variable named
 * *PIN holds a PIN (DEFAULT_PIN, SO_PIN, USER_PIN: the interpreter's rule,
 * interp.c name_is_pin). Its value is shown as <pin>, and so is that value
 * wherever else it appears (as text, as hex, as spaced hex like trace.csv),
 * and any NAME=VALUE with NAME ending in PIN (a -D on a recorded command
 * line). The run already masks what it writes; this is the second lock.
 *
 * junit.xml is read line by line as reports.c writes it (one <testsuite>
 * or <property> element per line, attribute values escaped): not a general
 * XML parser, and it needs none.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csvread.h"
#include "reportdir_int.h"
#include "util.h"

#define PROV_COLS_MAX 16
#define META_CELL_MAX 4096
#define MASK "<pin>"

bool rd_name_is_pin(const char *name)
{
    size_t n = strlen(name);
    return n >= 3 && !strcasecmp(name + n - 3, "PIN");
}

void *rd_grow(rd_loader *L, void *arr, size_t n, size_t size)
{
    if (n & (n - 1))
        return arr; /* not a power of two: below the capacity */
    size_t cap = n ? 2 * n : 1;
    void *p = cap <= SIZE_MAX / size ? realloc(arr, cap * size) : NULL;
    if (!p)
        L->oom = true;
    return p;
}

int rd_oom(rd_loader *L)
{
    L->oom = true;
    return -1;
}

char *rd_dup(rd_loader *L, const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        L->oom = true;
    return p;
}

/* s with MASK for every needle in it (any case) — or, value_only, for the
 * value after each (up to a blank, comma, semicolon, quote or bracket);
 * s is freed. */
static char *mask_each(rd_loader *L, char *s, const char *needle, bool value_only)
{
    char *(*find)(const char *, const char *) = value_only ? strstr : strcasestr;
    size_t nl = strlen(needle), count = 0;
    for (const char *p = s; (p = find(p, needle)); p += nl)
        count++;
    char *out = malloc(strlen(s) + count * sizeof MASK + 1);
    if (!out) {
        free(s);
        L->oom = true;
        return NULL;
    }
    char *o = out;
    const char *p = s, *hit;
    while ((hit = find(p, needle))) {
        size_t keep = (size_t)(hit - p) + (value_only ? nl : 0);
        memcpy(o, p, keep);
        o += keep;
        p = hit + nl + (value_only ? strcspn(hit + nl, " \t\r\n,;'\")") : 0);
        memcpy(o, MASK, sizeof MASK - 1);
        o += sizeof MASK - 1;
    }
    strcpy(o, p);
    free(s);
    return out;
}

char *rd_dup_masked(rd_loader *L, const char *s)
{
    char *out = rd_dup(L, s);
    for (size_t k = 0; out && k < L->nsecrets; k++) {
        const char *v = L->secrets[k];
        size_t n = strlen(v);
        char hex[2 * 64 + 1], spaced[3 * 64 + 1];
        tr_hex_encode((const uint8_t *)v, n, hex, sizeof hex, 0);
        tr_hex_encode((const uint8_t *)v, n, spaced, sizeof spaced, ' ');
        const char *forms[] = {v, hex, spaced};
        for (size_t f = 0; out && f < sizeof forms / sizeof forms[0]; f++)
            if (strcasestr(out, forms[f]))
                out = mask_each(L, out, forms[f], false);
    }
    if (out && strstr(out, "PIN="))
        out = mask_each(L, out, "PIN=", true);
    return out;
}

double rd_limit_in_text(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && (p = strstr(p, name)); p += n) {
        bool word = (p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) && p[n] == ' ';
        if (!word)
            continue;
        char *end;
        errno = 0;
        double v = strtod(p + n + 1, &end);
        if (end != p + n + 1 && !errno && v > 0)
            return v;
    }
    return -1;
}

/* ---- provenance.csv ------------------------------------------------------------------------ */

static int take_prov_header(rd_loader *L, const tr_csv_row *row)
{
    rd_run *r = L->run;
    size_t n = tr_csv_ncols(row) < PROV_COLS_MAX ? tr_csv_ncols(row) : PROV_COLS_MAX;
    r->prov_cols = calloc(n ? n : 1, sizeof *r->prov_cols);
    if (!r->prov_cols)
        return rd_oom(L);
    for (size_t c = 0; c < n; c++)
        r->prov_cols[c] = rd_dup(L, tr_csv_colname(row, c));
    r->nprov_cols = n;
    return L->oom ? -1 : 0;
}

static int prov_row(void *ud, const tr_csv_row *row, tr_err *e)
{
    (void)e;
    rd_loader *L = ud;
    rd_run *r = L->run;
    if (!r->prov_cols && take_prov_header(L, row) < 0)
        return -1;
    if (r->nprov_rows >= RD_MAX_PROPS)
        return 1;
    char ***nr = rd_grow(L, r->prov_rows, r->nprov_rows, sizeof *nr);
    if (!nr)
        return -1;
    r->prov_rows = nr;
    char **cells = calloc(r->nprov_cols ? r->nprov_cols : 1, sizeof *cells);
    if (!cells)
        return rd_oom(L);
    nr[r->nprov_rows++] = cells;
    for (size_t c = 0; c < r->nprov_cols; c++) {
        const char *v = tr_csv_cell(row, (int)c);
        cells[c] = strndup(v, META_CELL_MAX); /* masked once every PIN is known */
        if (!cells[c])
            return rd_oom(L);
    }
    return 0;
}

static int prov_col(const rd_run *r, const char *name)
{
    for (size_t c = 0; c < r->nprov_cols; c++)
        if (!strcmp(r->prov_cols[c], name))
            return (int)c;
    return -1;
}

/* The PIN variables' values become the secrets (and are shown masked),
 * then every cell is masked with them. */
static void mask_provenance(rd_loader *L)
{
    rd_run *r = L->run;
    int ni = prov_col(r, "name"), vi = prov_col(r, "value");
    for (size_t i = 0; ni >= 0 && vi >= 0 && i < r->nprov_rows; i++) {
        char **cells = r->prov_rows[i];
        size_t n = strlen(cells[vi]);
        if (!rd_name_is_pin(cells[ni]) || !n)
            continue;
        if (n >= 4 && n <= 64 && L->nsecrets < RD_MAX_SECRETS && strcmp(cells[vi], MASK))
            L->secrets[L->nsecrets++] = cells[vi];
        else
            free(cells[vi]);
        cells[vi] = rd_dup(L, MASK);
    }
    for (size_t i = 0; i < r->nprov_rows; i++)
        for (size_t c = 0; c < r->nprov_cols; c++) {
            char *m = rd_dup_masked(L, r->prov_rows[i][c]);
            free(r->prov_rows[i][c]);
            r->prov_rows[i][c] = m;
        }
}

int rd_read_provenance(rd_loader *L)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/provenance.csv", L->run->dir);
    int rc = tr_csv_read(path, prov_row, L, L->e);
    if (rc < 0 || L->oom)
        return L->oom ? tr_fail(L->e, TR_E_NOMEM, "%s: out of memory", path) : -1;
    L->run->has_provenance = rc == 0;
    mask_provenance(L);
    return L->oom ? tr_fail(L->e, TR_E_NOMEM, "%s: out of memory", path) : 0;
}

/* FIRST_APDU_MAX_MS rows (var.FIRST_APDU_MAX_MS as provenance.c names the
 * effective variables): a run-wide one (slot empty) first, then the slot's
 * own, over what the other files said (provenance is what the run used). */
void rd_apply_provenance_limits(rd_loader *L)
{
    rd_run *r = L->run;
    int si = prov_col(r, "slot"), ni = prov_col(r, "name"), vi = prov_col(r, "value"), oi = prov_col(r, "source");
    if (ni < 0 || vi < 0)
        return;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < r->nprov_rows; i++) {
            char **cells = r->prov_rows[i];
            const char *slot = si >= 0 ? cells[si] : "";
            double v;
            const char *name = !strncmp(cells[ni], "var.", 4) ? cells[ni] + 4 : cells[ni];
            if (strcmp(name, "FIRST_APDU_MAX_MS") || (pass == 0) != !*slot || !tr_parse_double(cells[vi], &v) ||
                v <= 0)
                continue;
            for (size_t k = 0; k < r->ntokens; k++) {
                rd_token *t = &r->tokens[k];
                if (*slot && strcmp(slot, t->slot))
                    continue;
                char from[512];
                snprintf(from, sizeof from, "provenance.csv (source: %s)", oi >= 0 ? cells[oi] : "not said");
                t->first_apdu_limit = v;
                free(t->first_apdu_limit_from);
                t->first_apdu_limit_from = rd_dup(L, from);
            }
        }
}

/* ---- junit.xml ------------------------------------------------------------------------------ */

/* Code point cp as UTF-8 at o (XML Chars only; anything else as '?'):
 * the bytes written. */
static size_t put_utf8(char *o, unsigned long cp)
{
    static const unsigned char lead[] = {0, 0, 0xC0, 0xE0, 0xF0};
    if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        cp = '?';
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    size_t n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (size_t i = n - 1; i > 0; i--) {
        o[i] = (char)(0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    o[0] = (char)(lead[n] | cp);
    return n;
}

/* s[0..n) with XML's five entities and character references decoded. */
static char *xml_unescape(const char *s, size_t n)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char *out = malloc(n + 1), *o = out;
    for (size_t i = 0; out && i < n;) {
        size_t k = 0;
        while (k < sizeof ents / sizeof ents[0] && strncmp(s + i, ents[k].ent, strlen(ents[k].ent)))
            k++;
        if (k < sizeof ents / sizeof ents[0]) {
            *o++ = ents[k].c;
            i += strlen(ents[k].ent);
        } else if (!strncmp(s + i, "&#", 2)) {
            char *end;
            bool x = s[i + 2] == 'x';
            unsigned long cp = strtoul(s + i + 2 + x, &end, x ? 16 : 10);
            if (*end == ';' && end - (s + i) < 12 && end < s + n) {
                o += put_utf8(o, cp); /* never longer than the reference's text */
                i = (size_t)(end - s) + 1;
            } else {
                *o++ = s[i++];
            }
        } else {
            *o++ = s[i++];
        }
    }
    if (out)
        *o = '\0';
    return out;
}

/* The value of attribute name in the element text p, decoded; NULL when
 * it has none. */
static char *attr_of(const char *p, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, " %s=\"", name);
    const char *v = strstr(p, key);
    if (!v)
        return NULL;
    v += strlen(key);
    const char *end = strchr(v, '"');
    return end ? xml_unescape(v, (size_t)(end - v)) : NULL;
}

static void add_junit_prop(rd_loader *L, const char *group, const char *line)
{
    rd_run *r = L->run;
    char *name = attr_of(line, "name"), *value = attr_of(line, "value");
    rd_prop *np = r->njunit < RD_MAX_PROPS && name && value ? rd_grow(L, r->junit, r->njunit, sizeof *np) : NULL;
    if (np) {
        r->junit = np;
        np += r->njunit++;
        np->group = rd_dup_masked(L, group);
        np->name = rd_dup_masked(L, name);
        np->value = rd_name_is_pin(name) ? rd_dup(L, MASK) : rd_dup_masked(L, value);
        np->source = NULL;
    }
    free(name);
    free(value);
}

int rd_read_junit(rd_loader *L)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/junit.xml", L->run->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : tr_fail(L->e, TR_E_IO, "%s: %s", path, strerror(errno));
    L->run->has_junit = true;
    char *line = NULL, *group = rd_dup(L, "run");
    size_t cap = 0;
    ssize_t n;
    while (!L->oom && (n = getline(&line, &cap, f)) > 0) {
        const char *p = line + strspn(line, " \t");
        if (n > META_CELL_MAX * 4)
            continue; /* not one of the lines reports.c writes */
        if (!strncmp(p, "<testsuite ", 11)) {
            char *g = attr_of(p, "name");
            free(group);
            group = g ? g : rd_dup(L, "");
        } else if (!strncmp(p, "</testsuite>", 12)) {
            free(group);
            group = rd_dup(L, "run");
        } else if (!strncmp(p, "<property ", 10) && group) {
            add_junit_prop(L, group, p);
        }
    }
    free(line);
    free(group);
    fclose(f);
    return L->oom ? tr_fail(L->e, TR_E_NOMEM, "%s: out of memory", path) : 0;
}
