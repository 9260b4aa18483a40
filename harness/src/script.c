/* script.c — suite lexer and parser. See script.h and suites/README.md.
 *
 * Shape: the file is read one *logical* line at a time (physical lines
 * joined by a trailing `\`, comments cut off, each character's line:column
 * kept in a segment table). Each logical line is one statement, parsed with
 * a cursor by small recursive-descent functions; blocks are `{` at the end
 * of a header line and `}` at the start of a line, handled by recursion on
 * parse_block() (bounded by TR_SCRIPT_MAX_DEPTH).
 */
#include "script.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cardio.h"
#include "libcall.h"
#include "skfstmt.h"
#include "util.h"

#define MAX_SEGMENTS 1024
#define MAX_REQUIRES 8

typedef struct {
    size_t start; /* offset in the logical line */
    int line;     /* physical line number */
    int col0;     /* column of that offset */
} segment;

typedef struct test_node {
    tr_test t;
    struct test_node *next;
} test_node;

typedef struct {
    const char *file;
    tr_arena *ar;
    tr_err *e;
    /* source */
    const char *src;
    size_t srclen, off;
    int next_line;        /* number of the next physical line */
    /* current logical line */
    char *buf;
    size_t n, i;
    segment seg[MAX_SEGMENTS];
    int nseg;
    int line_no;          /* first physical line of the logical line */
    int expr_depth;
    /* what the file declared */
    tr_suite *suite;
    tr_pos suite_pos;
    bool have_suite_header;
    test_node *tests, **tests_tail;
    size_t ntests;
    struct op_node *ops, **ops_tail;
    size_t nops;
} parser;

typedef struct op_node {
    tr_suite_op op;
    struct op_node *next;
} op_node;

typedef enum { CTX_TOP, CTX_TEST, CTX_NESTED } block_ctx;

typedef struct {
    block_ctx ctx;
    bool in_measure;
    bool in_test;         /* inside a test (or the implicit scriptor test) */
    tr_test *test;        /* the test whose body this is (CTX_TEST) */
    bool test_started;    /* a statement other than requires/destructive seen */
} block_info;

/* ---- errors and positions ----------------------------------------------- */

static tr_pos pos_at(const parser *p, size_t i)
{
    if (p->nseg == 0)
        return (tr_pos){p->next_line, 1};
    int k = 0;
    for (int j = 1; j < p->nseg; j++)
        if (p->seg[j].start <= i)
            k = j;
    tr_pos pos = {p->seg[k].line, p->seg[k].col0 + (int)(i - p->seg[k].start)};
    return pos;
}

static int perr_pos(parser *p, tr_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr_pos(parser *p, tr_pos pos, const char *fmt, ...)
{
    char msg[TR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tr_fail_at(p->e, TR_E_PARSE, p->file, pos.line, pos.col, "%s", msg);
}

#define perr(p, i, ...) perr_pos((p), pos_at((p), (i)), __VA_ARGS__)

static bool is_ident_start(int c) { return isalpha(c) || c == '_'; }
static bool is_ident_char(int c) { return isalnum(c) || c == '_'; }
static bool is_word_char(int c) { return isalnum(c) || c == '_' || c == '-' || c == '.'; }
static bool is_hex(int c) { return isxdigit(c) != 0; }

/* A short description of what is at i, for "found X". */
static const char *found_at(const parser *p, size_t i, char *out, size_t cap)
{
    const char *s = p->buf;
    if (i >= p->n)
        return "end of line";
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
        snprintf(out, cap, "byte 0x%02X", c);
        return out;
    }
    size_t j = i + 1;
    if (is_word_char(c) || c == '$') {
        while (j < p->n && j - i < 24 && is_word_char((unsigned char)s[j]))
            j++;
    } else if (c == '"') {
        while (j < p->n && j - i < 24 && s[j] != '"')
            j++;
        if (j < p->n && s[j] == '"')
            j++;
    } else if (j < p->n && strchr("=!<>&|", c) && strchr("=<>&|", s[j])) {
        j++;
    }
    snprintf(out, cap, "'%.*s'", (int)(j - i), s + i);
    return out;
}
#define FOUND(p, i) found_at((p), (i), (char[64]){0}, 64)

/* ---- the line reader ------------------------------------------------------ */

/* Where the comment starts in [s, s+n) (n when none), honouring strings;
 * *open_string tells whether a string is still open at the end. */
static size_t comment_start(const char *s, size_t n, bool *open_string)
{
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                in_str = false;
        } else if (s[i] == '"') {
            in_str = true;
        } else if (s[i] == '#') {
            *open_string = false;
            return i;
        }
    }
    *open_string = in_str;
    return n;
}

static int check_physical(parser *p, const char *s, size_t n, int line)
{
    if (n > TR_SCRIPT_MAX_LINE)
        return tr_fail_at(p->e, TR_E_PARSE, p->file, line, TR_SCRIPT_MAX_LINE + 1,
                          "expected at most %d characters on a line, found %zu",
                          TR_SCRIPT_MAX_LINE, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0)
            return tr_fail_at(p->e, TR_E_PARSE, p->file, line, (int)i + 1,
                              "expected text, found a NUL byte");
        if (c < 0x20 && c != '\t')
            return tr_fail_at(p->e, TR_E_PARSE, p->file, line, (int)i + 1,
                              "expected text, found control character 0x%02X", c);
        if (c == 0x7F)
            return tr_fail_at(p->e, TR_E_PARSE, p->file, line, (int)i + 1,
                              "expected text, found control character 0x7F");
    }
    return 0;
}

/* Read the next logical line into p->buf. Returns 1 when a line was read,
 * 0 at end of file, -1 on error. Blank and comment-only lines are returned
 * too (empty), so line numbers stay simple. */
static int next_line(parser *p)
{
    p->n = p->i = 0;
    p->nseg = 0;
    if (p->off >= p->srclen)
        return 0;
    p->line_no = p->next_line;
    for (;;) {
        const char *s = p->src + p->off;
        size_t rest = p->srclen - p->off;
        const char *nl = memchr(s, '\n', rest);
        size_t len = nl ? (size_t)(nl - s) : rest;
        p->off += nl ? len + 1 : len;
        int line = p->next_line++;
        if (len && s[len - 1] == '\r')
            len--;
        if (check_physical(p, s, len, line) < 0)
            return -1;
        bool open_string = false;
        size_t content = comment_start(s, len, &open_string);
        size_t end = content;
        while (end && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        bool cont = !open_string && end && s[end - 1] == '\\';
        if (cont)
            end--;
        if (p->nseg == MAX_SEGMENTS)
            return tr_fail_at(p->e, TR_E_PARSE, p->file, line, 1,
                              "expected at most %d continued lines, found more",
                              MAX_SEGMENTS);
        if (p->n + end + 1 > TR_SCRIPT_MAX_LOGICAL)
            return tr_fail_at(p->e, TR_E_PARSE, p->file, line, 1,
                              "expected at most %d characters in a continued line",
                              TR_SCRIPT_MAX_LOGICAL);
        p->seg[p->nseg++] = (segment){p->n, line, 1};
        memcpy(p->buf + p->n, s, end);
        p->n += end;
        if (!cont || p->off >= p->srclen)
            break;
        p->buf[p->n++] = ' '; /* the `\` becomes a separator */
    }
    p->buf[p->n] = '\0';
    return 1;
}

/* ---- cursor helpers ------------------------------------------------------- */

static void skip_ws(parser *p)
{
    while (p->i < p->n && (p->buf[p->i] == ' ' || p->buf[p->i] == '\t'))
        p->i++;
}

static bool at_end(parser *p)
{
    skip_ws(p);
    return p->i >= p->n;
}

/* Case-insensitive keyword at the cursor, followed by a non-word char. */
static bool peek_word(parser *p, const char *kw)
{
    size_t k = strlen(kw);
    if (p->n - p->i < k || strncasecmp(p->buf + p->i, kw, k) != 0)
        return false;
    return p->i + k >= p->n || !is_word_char((unsigned char)p->buf[p->i + k]);
}

static bool accept_word(parser *p, const char *kw)
{
    skip_ws(p);
    if (!peek_word(p, kw))
        return false;
    p->i += strlen(kw);
    return true;
}

static bool accept_char(parser *p, char c)
{
    skip_ws(p);
    if (p->i < p->n && p->buf[p->i] == c) {
        p->i++;
        return true;
    }
    return false;
}

static int expect_eol(parser *p, const char *after)
{
    if (at_end(p))
        return 0;
    return perr(p, p->i, "expected end of line after %s, found %s", after, FOUND(p, p->i));
}

static int expect_open_brace(parser *p, const char *what)
{
    skip_ws(p);
    if (p->i < p->n && p->buf[p->i] == '{') {
        p->i++;
        return expect_eol(p, "'{'");
    }
    if (p->i < p->n && p->buf[p->i] == '=' && (p->i + 1 >= p->n || p->buf[p->i + 1] != '='))
        return perr(p, p->i, "expected '{' at the end of the %s line, found '=' (compare with ==)", what);
    return perr(p, p->i, "expected '{' at the end of the %s line, found %s", what, FOUND(p, p->i));
}

static char *dup_range(parser *p, size_t a, size_t b)
{
    while (a < b && (p->buf[a] == ' ' || p->buf[a] == '\t'))
        a++;
    while (b > a && (p->buf[b - 1] == ' ' || p->buf[b - 1] == '\t'))
        b--;
    char *s = tr_arena_strndup(p->ar, p->buf + a, b - a);
    if (!s)
        tr_fail(p->e, TR_E_NOMEM, "out of memory parsing %s", p->file);
    return s;
}

static void *palloc(parser *p, size_t n)
{
    void *x = tr_arena_calloc(p->ar, n);
    if (!x)
        tr_fail(p->e, TR_E_NOMEM, "out of memory parsing %s", p->file);
    return x;
}

/* An identifier ([A-Za-z_][A-Za-z0-9_]*), copied; NULL with error. */
static const char *parse_ident(parser *p, const char *what)
{
    skip_ws(p);
    size_t a = p->i;
    if (a >= p->n || !is_ident_start((unsigned char)p->buf[a])) {
        perr(p, a, "expected %s, found %s", what, FOUND(p, a));
        return NULL;
    }
    while (p->i < p->n && is_ident_char((unsigned char)p->buf[p->i]))
        p->i++;
    if (p->i < p->n && (p->buf[p->i] == '-' || p->buf[p->i] == '.')) {
        perr(p, a, "expected %s (letters, digits, _), found %s", what, FOUND(p, a));
        return NULL;
    }
    if (p->i - a > TR_SCRIPT_MAX_NAME) {
        perr(p, a, "expected %s of at most %d characters, found %zu", what,
             TR_SCRIPT_MAX_NAME, p->i - a);
        return NULL;
    }
    return dup_range(p, a, p->i);
}

/* A variable the suite may set (not SW, DATA...). */
static const char *parse_settable(parser *p, const char *what)
{
    size_t a = (skip_ws(p), p->i);
    const char *name = parse_ident(p, what);
    if (name && tr_script_builtin_var(name)) {
        perr(p, a, "expected %s, found built-in '%s' (set by the interpreter)", what, name);
        return NULL;
    }
    return name;
}

/* A metric / classification word: [A-Za-z][A-Za-z0-9_.-]* or a string. */
static const char *parse_code(parser *p, const char *what)
{
    skip_ws(p);
    size_t a = p->i;
    if (a < p->n && p->buf[a] == '"') {
        size_t b = a + 1;
        while (b < p->n && p->buf[b] != '"' && p->buf[b] != '\\' && p->buf[b] != '$')
            b++;
        if (b >= p->n || p->buf[b] != '"' || b == a + 1) {
            perr(p, a, "expected %s as a word or a plain non-empty \"string\", found %s",
                 what, FOUND(p, a));
            return NULL;
        }
        p->i = b + 1;
        return dup_range(p, a + 1, b);
    }
    if (a >= p->n || !isalpha((unsigned char)p->buf[a])) {
        perr(p, a, "expected %s, found %s", what, FOUND(p, a));
        return NULL;
    }
    while (p->i < p->n && is_word_char((unsigned char)p->buf[p->i]))
        p->i++;
    if (p->i - a > 2 * TR_SCRIPT_MAX_NAME) {
        perr(p, a, "expected %s of at most %d characters", what, 2 * TR_SCRIPT_MAX_NAME);
        return NULL;
    }
    return dup_range(p, a, p->i);
}

/* ---- templates ------------------------------------------------------------ */

static tr_expr *parse_expr(parser *p);

typedef struct {
    tr_piece *head, **tail;
    bool constant;
    /* literal being accumulated */
    char *lit;
    size_t litn, litcap;
    tr_pos litpos;
} tpl_builder;

static int tb_init(parser *p, tpl_builder *tb, size_t cap)
{
    tb->head = NULL;
    tb->tail = &tb->head;
    tb->constant = true;
    tb->litn = 0;
    tb->litcap = cap + 1;
    tb->lit = tr_arena_alloc(p->ar, tb->litcap);
    if (!tb->lit)
        return tr_fail(p->e, TR_E_NOMEM, "out of memory parsing %s", p->file);
    return 0;
}

static void tb_char(tpl_builder *tb, char c, tr_pos pos)
{
    if (tb->litn == 0)
        tb->litpos = pos;
    if (tb->litn + 1 < tb->litcap)
        tb->lit[tb->litn++] = c;
}

static int tb_flush(parser *p, tpl_builder *tb)
{
    if (tb->litn == 0)
        return 0;
    tr_piece *pc = palloc(p, sizeof *pc);
    char *t = pc ? tr_arena_strndup(p->ar, tb->lit, tb->litn) : NULL;
    if (!t)
        return tr_fail(p->e, TR_E_NOMEM, "out of memory parsing %s", p->file);
    pc->text = t;
    pc->len = tb->litn;
    pc->pos = tb->litpos;
    *tb->tail = pc;
    tb->tail = &pc->next;
    tb->litn = 0;
    return 0;
}

static void tb_finish(tpl_builder *tb, tr_template *out)
{
    out->pieces = tb->head;
    out->constant = tb->constant;
    if (tb->constant) {
        out->text = tb->head ? tb->head->text : "";
        out->len = tb->head ? tb->head->len : 0;
    } else {
        out->text = NULL;
        out->len = 0;
    }
}

static const struct {
    const char *name;
    tr_sub_kind kind;
} sub_fns[] = {
    {"pin", TR_SUB_PIN},     {"hex", TR_SUB_HEX},     {"hex2", TR_SUB_HEX2},
    {"nib", TR_SUB_NIB},     {"ascii", TR_SUB_ASCII}, {"len", TR_SUB_LEN},
};

/* At "${": parse the substitution up to and including "}". */
static tr_piece *parse_subst(parser *p)
{
    size_t start = p->i;
    tr_pos pos = pos_at(p, start);
    p->i += 2;
    tr_piece *pc = palloc(p, sizeof *pc);
    if (!pc)
        return NULL;
    pc->pos = pos;
    skip_ws(p);
    if (p->i < p->n && p->buf[p->i] == '=') {
        p->i++;
        pc->sub = TR_SUB_EXPR;
        pc->expr = parse_expr(p);
    } else {
        size_t a = p->i;
        while (p->i < p->n && is_ident_char((unsigned char)p->buf[p->i]))
            p->i++;
        if (a == p->i || !is_ident_start((unsigned char)p->buf[a])) {
            perr(p, a, "expected a variable name, '=' or a function after '${', found %s",
                 FOUND(p, a));
            return NULL;
        }
        size_t nlen = p->i - a;
        skip_ws(p);
        if (p->i < p->n && p->buf[p->i] == ':') {
            p->i++;
            size_t k, nfn = sizeof sub_fns / sizeof sub_fns[0];
            for (k = 0; k < nfn; k++)
                if (strlen(sub_fns[k].name) == nlen && strncmp(sub_fns[k].name, p->buf + a, nlen) == 0)
                    break;
            if (k == nfn) {
                perr(p, a, "expected a function (pin, hex, hex2, nib, ascii, len) before ':', found '%.*s'",
                     (int)nlen, p->buf + a);
                return NULL;
            }
            pc->sub = sub_fns[k].kind;
            pc->expr = parse_expr(p);
        } else {
            if (nlen > TR_SCRIPT_MAX_NAME) {
                perr(p, a, "expected a variable name of at most %d characters, found %zu",
                     TR_SCRIPT_MAX_NAME, nlen);
                return NULL;
            }
            tr_expr *v = palloc(p, sizeof *v);
            if (!v)
                return NULL;
            v->kind = TR_EX_VAR;
            v->pos = pos_at(p, a);
            v->name = dup_range(p, a, a + nlen);
            v->src = v->name;
            pc->sub = TR_SUB_VAR;
            pc->expr = v;
        }
    }
    if (!pc->expr)
        return NULL;
    skip_ws(p);
    if (p->i >= p->n || p->buf[p->i] != '}') {
        perr(p, p->i, "expected '}' to close '${' at column %d, found %s", pos.col, FOUND(p, p->i));
        return NULL;
    }
    p->i++;
    return pc;
}

static int tb_subst(parser *p, tpl_builder *tb)
{
    if (tb_flush(p, tb) < 0)
        return -1;
    tr_piece *pc = parse_subst(p);
    if (!pc)
        return -1;
    *tb->tail = pc;
    tb->tail = &pc->next;
    tb->constant = false;
    return 0;
}

static bool at_subst(const parser *p)
{
    return p->i + 1 < p->n && p->buf[p->i] == '$' && p->buf[p->i + 1] == '{';
}

/* At '"': a string with escapes and ${...}. */
static int parse_string(parser *p, tr_template *out)
{
    size_t open = p->i++;
    tpl_builder tb;
    if (tb_init(p, &tb, p->n - p->i) < 0)
        return -1;
    for (;;) {
        if (p->i >= p->n)
            return perr(p, p->i, "expected '\"' to close the string opened at column %d, found end of line",
                        pos_at(p, open).col);
        char c = p->buf[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (at_subst(p)) {
            if (tb_subst(p, &tb) < 0)
                return -1;
            continue;
        }
        tr_pos pos = pos_at(p, p->i);
        if (c == '\\') {
            char d = p->i + 1 < p->n ? p->buf[p->i + 1] : '\0';
            const char *from = "\"\\nt$", *to = "\"\\\n\t$";
            const char *k = d ? strchr(from, d) : NULL;
            if (!k) {
                if (!d)
                    return perr(p, p->i, "expected one of \\\" \\\\ \\n \\t \\$ after '\\', found end of line");
                return perr(p, p->i, "expected one of \\\" \\\\ \\n \\t \\$ after '\\', found '\\%c'", d);
            }
            tb_char(&tb, to[k - from], pos);
            p->i += 2;
            continue;
        }
        tb_char(&tb, c, pos);
        p->i++;
    }
    if (tb_flush(p, &tb) < 0)
        return -1;
    tb_finish(&tb, out);
    return 0;
}

/* Is word at i, at a word boundary? ("expect" ends an APDU, "classify" a
 * pattern; neither can be hex.) */
static bool word_at(const parser *p, size_t i, const char *word)
{
    size_t k = strlen(word);
    if (p->n - i < k || strncasecmp(p->buf + i, word, k) != 0)
        return false;
    if (i > 0 && p->buf[i - 1] != ' ' && p->buf[i - 1] != '\t')
        return false;
    return i + k >= p->n || p->buf[i + k] == ' ' || p->buf[i + k] == '\t';
}

/* Hex template: APDU (pattern=false, stops at "expect") or a pattern
 * (pattern=true: also x X ? * | allowed, stops at "classify"). Whitespace
 * is dropped. In APDUs every literal word must have an even digit count. */
static int parse_hex_template(parser *p, bool pattern, tr_template *out, const char *what)
{
    tpl_builder tb;
    if (tb_init(p, &tb, p->n - p->i) < 0)
        return -1;
    size_t word_start = p->i, word_digits = 0;
    bool word_sub = false, in_word = false;
    for (;;) {
        bool end = p->i >= p->n || word_at(p, p->i, pattern ? "classify" : "expect");
        char c = end ? ' ' : p->buf[p->i];
        if (c == ' ' || c == '\t') {
            if (in_word && !pattern && !word_sub && (word_digits & 1))
                return perr(p, word_start, "expected two hex digits per byte, found an odd number "
                            "(%zu) in %s", word_digits, FOUND(p, word_start));
            in_word = false;
            if (end)
                break;
            p->i++;
            continue;
        }
        if (!in_word) {
            in_word = true;
            word_start = p->i;
            word_digits = 0;
            word_sub = false;
        }
        if (at_subst(p)) {
            word_sub = true;
            if (tb_subst(p, &tb) < 0)
                return -1;
            continue;
        }
        bool ok = is_hex((unsigned char)c) || (pattern && strchr("xX?*|", c));
        if (!ok)
            return perr(p, p->i, "expected %s, found %s", what, FOUND(p, p->i));
        tb_char(&tb, c, pos_at(p, p->i));
        word_digits++;
        p->i++;
    }
    if (tb_flush(p, &tb) < 0)
        return -1;
    tb_finish(&tb, out);
    return 0;
}

/* ---- patterns (also used by the interpreter at run time) ------------------ */

/* a hex digit's value, -1 for a wildcard (x ?) */
static int nibble(int c) { return tr_hex_digit(c); }

int tr_sw_pattern_compile(const char *text, size_t n, tr_sw_pattern *out,
                          char *why, size_t whycap)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    for (;;) {
        unsigned nib = 0;
        uint16_t v = 0, m = 0;
        size_t alt_start = i;
        while (i < n && text[i] != '|') {
            char c = text[i++];
            if (c == ' ' || c == '\t')
                continue;
            if (!is_hex((unsigned char)c) && !strchr("xX?", c)) {
                snprintf(why, whycap, "'%c' is not a hex digit or a wildcard (x ?)", c);
                return -1;
            }
            if (++nib > 4)
                break;
            int d = nibble((unsigned char)c);
            v = (uint16_t)(v << 4 | (d < 0 ? 0 : d));
            m = (uint16_t)(m << 4 | (d < 0 ? 0 : 0xF));
        }
        if (nib != 4) {
            snprintf(why, whycap, "'%.*s' is not 4 digits", (int)(i - alt_start > 20 ? 20 : i - alt_start),
                     text + alt_start);
            return -1;
        }
        if (out->n == TR_SCRIPT_MAX_ALTS) {
            snprintf(why, whycap, "more than %d alternatives", TR_SCRIPT_MAX_ALTS);
            return -1;
        }
        out->value[out->n] = v;
        out->mask[out->n] = m;
        out->n++;
        if (i >= n)
            return 0;
        i++; /* '|' */
    }
}

int tr_data_pattern_compile(const char *text, size_t n, uint8_t *value, uint8_t *mask,
                            size_t cap, tr_data_pattern *out, char *why, size_t whycap)
{
    memset(out, 0, sizeof *out);
    size_t nib = 0;
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (c == ' ' || c == '\t')
            continue;
        if (c == '*') {
            size_t j = i + 1;
            while (j < n && (text[j] == ' ' || text[j] == '\t'))
                j++;
            if (j < n) {
                snprintf(why, whycap, "'*' may only end a data pattern");
                return -1;
            }
            out->prefix = true;
            break;
        }
        if (!is_hex((unsigned char)c) && !strchr("xX?", c)) {
            snprintf(why, whycap, "'%c' is not a hex digit, a wildcard (? x) or a final '*'", c);
            return -1;
        }
        if (nib / 2 >= cap) {
            snprintf(why, whycap, "longer than %zu bytes", cap);
            return -1;
        }
        int d = nibble((unsigned char)c);
        uint8_t dv = (uint8_t)(d < 0 ? 0 : d), dm = (uint8_t)(d < 0 ? 0 : 0xF);
        if ((nib & 1) == 0) {
            value[nib / 2] = (uint8_t)(dv << 4);
            mask[nib / 2] = (uint8_t)(dm << 4);
        } else {
            value[nib / 2] |= dv;
            mask[nib / 2] |= dm;
        }
        nib++;
    }
    if (nib & 1) {
        snprintf(why, whycap, "odd number of hex digits (%zu)", nib);
        return -1;
    }
    out->value = value;
    out->mask = mask;
    out->nbytes = nib / 2;
    return 0;
}

/* ---- expressions ------------------------------------------------------------ */

static const struct {
    const char *name;
    tr_fn fn;
    int min, max;
} fn_table[] = {
    {"byte", TR_FN_BYTE, 2, 2},        {"sub", TR_FN_SUB, 2, 3},
    {"tlv", TR_FN_TLV, 2, 2},          {"int", TR_FN_INT, 1, 1},
    {"concat", TR_FN_CONCAT, 1, TR_SCRIPT_MAX_ARGS},
    {"ascii", TR_FN_ASCII, 1, 1},      {"asciihex", TR_FN_ASCIIHEX, 1, 1},
    {"len", TR_FN_LEN, 1, 1},          {"hex", TR_FN_HEX, 1, 2},
    {"random", TR_FN_RANDOM, 1, 1},    {"sign_input", TR_FN_SIGN_INPUT, 3, 3},
    {"sig_ok", TR_FN_SIG_OK, 4, 4},    {"defined", TR_FN_DEFINED, 1, 1},
    {"min", TR_FN_MIN, 2, TR_SCRIPT_MAX_ARGS},
    {"max", TR_FN_MAX, 2, TR_SCRIPT_MAX_ARGS},
    {"upper", TR_FN_UPPER, 1, 1},      {"tlv_trailing", TR_FN_TLV_TRAILING, 1, 1},
    {"envelope", TR_FN_ENVELOPE, 3, 3},
    {"sm4_encrypt", TR_FN_SM4_ENCRYPT, 3, 3},
    {"sm4_decrypt", TR_FN_SM4_DECRYPT, 3, 3},
    {"list_item", TR_FN_LIST_ITEM, 2, 2},   {"list_len", TR_FN_LIST_LEN, 1, 1},
    {"seal_like", TR_FN_SEAL_LIKE, 1, 1},   {"skf_pubkey", TR_FN_SKF_PUBKEY, 1, 1},
    {"skf_ecc_sig", TR_FN_SKF_ECC_SIG, 1, 1},
    {"may_be", TR_FN_MAY_BE, 2, 2},         {"at_most", TR_FN_AT_MOST, 1, 1},
    {"skf_cipher_blob", TR_FN_SKF_CIPHER_BLOB, 1, 1},
};
#define N_FNS (sizeof fn_table / sizeof fn_table[0])

const char *tr_fn_name(tr_fn fn)
{
    for (size_t k = 0; k < N_FNS; k++)
        if (fn_table[k].fn == fn)
            return fn_table[k].name;
    return "?";
}

static tr_expr *new_expr(parser *p, tr_expr_kind kind, size_t at)
{
    tr_expr *x = palloc(p, sizeof *x);
    if (x) {
        x->kind = kind;
        x->pos = pos_at(p, at);
    }
    return x;
}

static bool set_src(parser *p, tr_expr *x, size_t a, size_t b)
{
    x->src = dup_range(p, a, b);
    return x->src != NULL;
}

/* The end of the number at a: 0x and hex digits, or decimal digits with an
 * optional fraction (*decimal). */
static size_t scan_number(const parser *p, size_t a, bool *hex, bool *decimal)
{
    const char *s = p->buf;
    size_t j = a;
    *hex = s[j] == '0' && j + 1 < p->n && (s[j + 1] == 'x' || s[j + 1] == 'X');
    if (*hex) {
        j += 2;
        while (j < p->n && is_hex((unsigned char)s[j]))
            j++;
    } else {
        while (j < p->n && isdigit((unsigned char)s[j]))
            j++;
    }
    *decimal = !*hex && j + 1 < p->n && s[j] == '.' && isdigit((unsigned char)s[j + 1]);
    if (*decimal) {
        j++;
        while (j < p->n && isdigit((unsigned char)s[j]))
            j++;
    }
    return j;
}

/* Decimals are text: they feed thresholds and metrics, not arithmetic. */
static tr_expr *decimal_text(parser *p, size_t a, size_t j)
{
    tr_expr *x = new_expr(p, TR_EX_STR, a);
    if (!x)
        return NULL;
    const char *t = dup_range(p, a, j);
    if (!t)
        return NULL;
    x->str.constant = true;
    x->str.text = t;
    x->str.len = j - a;
    return x;
}

static tr_expr *integer_literal(parser *p, size_t a, size_t j, bool hex)
{
    char tmp[32];
    if (j - a >= sizeof tmp) {
        perr(p, a, "expected an integer that fits in 63 bits, found %zu digits", j - a);
        return NULL;
    }
    memcpy(tmp, p->buf + a, j - a);
    tmp[j - a] = '\0';
    errno = 0;
    char *end;
    unsigned long long v = hex ? strtoull(tmp + 2, &end, 16) : strtoull(tmp, &end, 10);
    if (errno || *end || v > INT64_MAX) {
        perr(p, a, "expected an integer that fits in 63 bits, found '%s'", tmp);
        return NULL;
    }
    tr_expr *x = new_expr(p, TR_EX_INT, a);
    if (x)
        x->ival = (int64_t)v;
    return x;
}

static tr_expr *parse_number(parser *p)
{
    size_t a = p->i;
    bool hex, decimal;
    size_t j = scan_number(p, a, &hex, &decimal);
    if ((hex && j == a + 2) || (j < p->n && is_ident_char((unsigned char)p->buf[j]))) {
        size_t k = j;
        while (k < p->n && is_word_char((unsigned char)p->buf[k]))
            k++;
        perr(p, a, "expected a number (decimal or 0x hex), found '%.*s' (hex data goes in \"quotes\")",
             (int)(k - a > 24 ? 24 : k - a), p->buf + a);
        return NULL;
    }
    tr_expr *x = decimal ? decimal_text(p, a, j) : integer_literal(p, a, j, hex);
    if (!x)
        return NULL;
    p->i = j;
    return set_src(p, x, a, j) ? x : NULL;
}

static tr_expr *parse_call(parser *p, size_t a, size_t nlen)
{
    size_t k;
    for (k = 0; k < N_FNS; k++)
        if (strlen(fn_table[k].name) == nlen && strncmp(fn_table[k].name, p->buf + a, nlen) == 0)
            break;
    if (k == N_FNS) {
        perr(p, a, "expected a function (byte sub tlv int concat ascii asciihex len hex random "
                   "sign_input sig_ok defined min max upper envelope sm4_encrypt sm4_decrypt list_item list_len "
                   "seal_like skf_pubkey skf_ecc_sig), found '%.*s'",
             (int)(nlen > 32 ? 32 : nlen), p->buf + a);
        return NULL;
    }
    tr_expr *x = new_expr(p, TR_EX_CALL, a);
    if (!x)
        return NULL;
    x->op = fn_table[k].fn;
    p->i++; /* '(' */
    skip_ws(p);
    if (p->i < p->n && p->buf[p->i] == ')') {
        p->i++;
    } else {
        for (;;) {
            if (x->nargs == TR_SCRIPT_MAX_ARGS) {
                perr(p, p->i, "expected at most %d arguments to %s(), found more",
                     TR_SCRIPT_MAX_ARGS, fn_table[k].name);
                return NULL;
            }
            tr_expr *arg = parse_expr(p);
            if (!arg)
                return NULL;
            x->args[x->nargs++] = arg;
            if (accept_char(p, ','))
                continue;
            if (accept_char(p, ')'))
                break;
            perr(p, p->i, "expected ',' or ')' in the arguments of %s(), found %s",
                 fn_table[k].name, FOUND(p, p->i));
            return NULL;
        }
    }
    if (x->nargs < fn_table[k].min || x->nargs > fn_table[k].max) {
        if (fn_table[k].min == fn_table[k].max)
            perr(p, a, "expected %d argument%s to %s(), found %d", fn_table[k].min,
                 fn_table[k].min == 1 ? "" : "s", fn_table[k].name, x->nargs);
        else
            perr(p, a, "expected %d to %d arguments to %s(), found %d", fn_table[k].min,
                 fn_table[k].max, fn_table[k].name, x->nargs);
        return NULL;
    }
    return set_src(p, x, a, p->i) ? x : NULL;
}

static tr_expr *parse_unary(parser *p);

static tr_expr *parse_primary(parser *p)
{
    skip_ws(p);
    size_t a = p->i;
    if (a >= p->n) {
        perr(p, a, "expected an expression, found end of line");
        return NULL;
    }
    char c = p->buf[a];
    if (isdigit((unsigned char)c))
        return parse_number(p);
    if (c == '"' || at_subst(p)) {
        tr_expr *x = new_expr(p, TR_EX_STR, a);
        if (!x)
            return NULL;
        if (c == '"') {
            if (parse_string(p, &x->str) < 0)
                return NULL;
        } else {
            tr_piece *pc = parse_subst(p);
            if (!pc)
                return NULL;
            x->str.pieces = pc;
        }
        return set_src(p, x, a, p->i) ? x : NULL;
    }
    if (c == '(') {
        p->i++;
        tr_expr *x = parse_expr(p);
        if (!x)
            return NULL;
        if (!accept_char(p, ')')) {
            perr(p, p->i, "expected ')' to close '(' at column %d, found %s", pos_at(p, a).col,
                 FOUND(p, p->i));
            return NULL;
        }
        return x;
    }
    if (is_ident_start((unsigned char)c)) {
        while (p->i < p->n && is_ident_char((unsigned char)p->buf[p->i]))
            p->i++;
        size_t nlen = p->i - a;
        size_t save = p->i;
        skip_ws(p);
        if (p->i < p->n && p->buf[p->i] == '(')
            return parse_call(p, a, nlen);
        p->i = save;
        if (nlen > TR_SCRIPT_MAX_NAME) {
            perr(p, a, "expected a variable name of at most %d characters, found %zu",
                 TR_SCRIPT_MAX_NAME, nlen);
            return NULL;
        }
        tr_expr *x = new_expr(p, TR_EX_VAR, a);
        if (!x || !(x->name = dup_range(p, a, p->i)))
            return NULL;
        x->src = x->name;
        return x;
    }
    perr(p, a, "expected an expression, found %s", FOUND(p, a));
    return NULL;
}

static tr_expr *parse_unary(parser *p)
{
    skip_ws(p);
    size_t a = p->i;
    int op = 0;
    if (a < p->n) {
        if (p->buf[a] == '-')
            op = TR_OP_NEG;
        else if (p->buf[a] == '!' && (a + 1 >= p->n || p->buf[a + 1] != '='))
            op = TR_OP_NOT;
        else if (p->buf[a] == '~')
            op = TR_OP_BNOT;
    }
    if (!op)
        return parse_primary(p);
    if (++p->expr_depth > TR_SCRIPT_MAX_EXPR_DEPTH) {
        perr(p, a, "expected an expression nested at most %d deep", TR_SCRIPT_MAX_EXPR_DEPTH);
        return NULL;
    }
    p->i++;
    tr_expr *operand = parse_unary(p);
    p->expr_depth--;
    if (!operand)
        return NULL;
    tr_expr *x = new_expr(p, TR_EX_UNARY, a);
    if (!x)
        return NULL;
    x->op = op;
    x->a = operand;
    return set_src(p, x, a, p->i) ? x : NULL;
}

/* Binary operator at the cursor: its op and precedence (0 = none). */
static int peek_binop(parser *p, int *op, size_t *len)
{
    skip_ws(p);
    if (p->i >= p->n)
        return 0;
    const char *s = p->buf + p->i;
    char c1 = p->i + 1 < p->n ? s[1] : '\0';
    static const struct {
        const char *t;
        int op, prec;
    } ops[] = {
        {"||", TR_OP_OR, 1},  {"&&", TR_OP_AND, 2}, {"==", TR_OP_EQ, 3},
        {"!=", TR_OP_NE, 3},  {"<=", TR_OP_LE, 3},  {">=", TR_OP_GE, 3},
        {"<<", TR_OP_SHL, 7}, {">>", TR_OP_SHR, 7}, {"<", TR_OP_LT, 3},
        {">", TR_OP_GT, 3},   {"|", TR_OP_BOR, 4},  {"^", TR_OP_BXOR, 5},
        {"&", TR_OP_BAND, 6}, {"+", TR_OP_ADD, 8},  {"-", TR_OP_SUB, 8},
        {"*", TR_OP_MUL, 9},  {"/", TR_OP_DIV, 9},  {"%", TR_OP_MOD, 9},
    };
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        size_t l = strlen(ops[k].t);
        if (s[0] == ops[k].t[0] && (l == 1 || c1 == ops[k].t[1])) {
            *op = ops[k].op;
            *len = l;
            return ops[k].prec;
        }
    }
    return 0;
}

static tr_expr *parse_binary(parser *p, int min_prec)
{
    size_t a = (skip_ws(p), p->i);
    tr_expr *lhs = parse_unary(p);
    while (lhs) {
        int op;
        size_t len;
        int prec = peek_binop(p, &op, &len);
        if (prec == 0 || prec < min_prec)
            break;
        size_t at = p->i;
        p->i += len;
        if (++p->expr_depth > TR_SCRIPT_MAX_EXPR_DEPTH) {
            perr(p, at, "expected an expression nested at most %d deep", TR_SCRIPT_MAX_EXPR_DEPTH);
            return NULL;
        }
        tr_expr *rhs = parse_binary(p, prec + 1);
        p->expr_depth--;
        if (!rhs)
            return NULL;
        tr_expr *x = new_expr(p, TR_EX_BINARY, at);
        if (!x)
            return NULL;
        x->op = op;
        x->a = lhs;
        x->b = rhs;
        if (!set_src(p, x, a, p->i))
            return NULL;
        lhs = x;
    }
    return lhs;
}

static tr_expr *parse_expr(parser *p)
{
    if (++p->expr_depth > TR_SCRIPT_MAX_EXPR_DEPTH) {
        perr(p, p->i, "expected an expression nested at most %d deep", TR_SCRIPT_MAX_EXPR_DEPTH);
        return NULL;
    }
    tr_expr *x = parse_binary(p, 1);
    p->expr_depth--;
    return x;
}

/* A message argument: a string or any expression. */
static tr_expr *parse_opt_message(parser *p)
{
    skip_ws(p);
    if (p->i < p->n && (p->buf[p->i] == '"' || at_subst(p)))
        return parse_expr(p);
    return NULL;
}

/* ---- statements ------------------------------------------------------------- */

static tr_stmt *new_stmt(parser *p, tr_stmt_kind kind, size_t at)
{
    tr_stmt *s = palloc(p, sizeof *s);
    if (s) {
        s->kind = kind;
        s->pos = pos_at(p, at);
    }
    return s;
}

static int compile_apdu(parser *p, tr_stmt *s, size_t at)
{
    if (!s->tpl.constant)
        return 0;
    size_t digits = s->tpl.len;
    size_t nbytes = digits / 2;
    if (nbytes < 4)
        return perr(p, at, "expected an APDU of at least 4 bytes (CLA INS P1 P2), found %zu", nbytes);
    if (nbytes > TR_MAX_CAPDU)
        return perr(p, at, "expected an APDU of at most %d bytes, found %zu", TR_MAX_CAPDU, nbytes);
    uint8_t *b = tr_arena_alloc(p->ar, nbytes);
    if (!b)
        return tr_fail(p->e, TR_E_NOMEM, "out of memory parsing %s", p->file);
    if (tr_hex_decode(s->tpl.text, b, nbytes) != (long)nbytes)
        return perr(p, at, "expected hex digits in the APDU");
    s->bytes = b;
    s->nbytes = nbytes;
    return 0;
}

/* `expect ...` after the keyword. */
static tr_stmt *parse_expect(parser *p, size_t at)
{
    tr_stmt *s;
    if (accept_word(p, "data-len") || accept_word(p, "len")) {
        s = new_stmt(p, TR_ST_EXPECT_LEN, at);
        if (!s || !(s->e[0] = parse_expr(p)))
            return NULL;
        if (accept_word(p, "classify") &&
            !(s->classify = parse_code(p, "a classification code (like pin.no-lockout)")))
            return NULL;
        if (expect_eol(p, s->classify ? "the classification" : "the expected length") < 0)
            return NULL;
        return s;
    }
    bool data = accept_word(p, "data");
    if (!data)
        accept_word(p, "sw");
    s = new_stmt(p, data ? TR_ST_EXPECT_DATA : TR_ST_EXPECT_SW, at);
    if (!s)
        return NULL;
    skip_ws(p);
    size_t a = p->i;
    const char *what = data ? "a data pattern (hex digits, ?? wildcards, final *)"
                            : "a status word pattern (4 hex digits, x or ? wildcards, | alternatives)";
    if (a >= p->n) {
        perr(p, a, "expected %s, found end of line", what);
        return NULL;
    }
    if (parse_hex_template(p, true, &s->tpl, what) < 0)
        return NULL;
    size_t pend = p->i;
    if (!(s->pattern_src = dup_range(p, a, pend)))
        return NULL;
    if (accept_word(p, "classify") &&
        !(s->classify = parse_code(p, "a classification code (like pin.no-lockout)")))
        return NULL;
    if (expect_eol(p, s->classify ? "the classification" : "the pattern") < 0)
        return NULL;
    if (!s->tpl.constant)
        return s;
    char why[128];
    if (!data) {
        if (tr_sw_pattern_compile(s->tpl.text, s->tpl.len, &s->sw, why, sizeof why) < 0) {
            perr(p, a, "expected %s, found '%s': %s", what, s->pattern_src, why);
            return NULL;
        }
        return s;
    }
    size_t cap = s->tpl.len / 2 + 1;
    uint8_t *v = tr_arena_alloc(p->ar, cap), *m = tr_arena_alloc(p->ar, cap);
    if (!v || !m) {
        tr_fail(p->e, TR_E_NOMEM, "out of memory parsing %s", p->file);
        return NULL;
    }
    if (tr_data_pattern_compile(s->tpl.text, s->tpl.len, v, m, cap, &s->data, why, sizeof why) < 0) {
        perr(p, a, "expected %s, found '%.40s': %s", what, s->pattern_src, why);
        return NULL;
    }
    return s;
}

static tr_stmt *parse_apdu(parser *p)
{
    size_t a = p->i;
    tr_stmt *s = new_stmt(p, TR_ST_APDU, a);
    if (!s)
        return NULL;
    /* A first word that is not hex at all is a misspelt statement. */
    size_t j = a;
    while (j < p->n && is_word_char((unsigned char)p->buf[j]))
        j++;
    bool hexword = j > a;
    for (size_t k = a; k < j; k++)
        if (!is_hex((unsigned char)p->buf[k]))
            hexword = false;
    if (!hexword && !at_subst(p)) {
        perr(p, a, "expected a statement (test, expect, let, if, repeat, ... see suites/README.md) "
                   "or hex APDU bytes, found %s", FOUND(p, a));
        return NULL;
    }
    if (parse_hex_template(p, false, &s->tpl, "hex digits of the APDU (or 'expect')") < 0)
        return NULL;
    if (compile_apdu(p, s, a) < 0)
        return NULL;
    return s;
}

/* `assert EXPR ["msg"] [classify CODE]`, `fail ["msg"] [classify CODE]`. */
static int parse_msg_classify(parser *p, tr_stmt *s)
{
    s->message = parse_opt_message(p);
    if (p->e->code != TR_OK)
        return -1;
    if (accept_word(p, "classify")) {
        if (!(s->classify = parse_code(p, "a classification code (like pin.no-lockout)")))
            return -1;
    }
    return expect_eol(p, s->classify ? "the classification" : s->message ? "the message" : "the statement");
}

static const struct {
    const char *name;
    tr_threshold th;
} th_table[] = {
    {"max_mean_ms", TR_TH_MAX_MEAN_MS}, {"max_p50_ms", TR_TH_MAX_P50_MS},
    {"max_p95_ms", TR_TH_MAX_P95_MS},   {"max_p99_ms", TR_TH_MAX_P99_MS},
    {"max_ms", TR_TH_MAX_MS},           {"min_rate", TR_TH_MIN_RATE},
};

const char *tr_threshold_name(tr_threshold t)
{
    for (size_t k = 0; k < sizeof th_table / sizeof th_table[0]; k++)
        if (th_table[k].th == t)
            return th_table[k].name;
    return "?";
}

static tr_stmt *parse_measure_header(parser *p, size_t at)
{
    tr_stmt *s = new_stmt(p, TR_ST_MEASURE, at);
    if (!s || !(s->name = parse_code(p, "a measure name")))
        return NULL;
    if (!accept_word(p, "count")) {
        perr(p, p->i, "expected 'count' after the measure name, found %s", FOUND(p, p->i));
        return NULL;
    }
    if (!(s->e[0] = parse_expr(p)))
        return NULL;
    for (;;) {
        skip_ws(p);
        if (p->i < p->n && p->buf[p->i] == '{')
            break;
        size_t k, nth = sizeof th_table / sizeof th_table[0];
        for (k = 0; k < nth; k++)
            if (peek_word(p, th_table[k].name))
                break;
        if (k == nth) {
            perr(p, p->i, "expected a threshold (max_mean_ms max_p50_ms max_p95_ms max_p99_ms max_ms "
                          "min_rate) or '{', found %s", FOUND(p, p->i));
            return NULL;
        }
        size_t kat = p->i;
        p->i += strlen(th_table[k].name);
        if (s->threshold[th_table[k].th]) {
            perr(p, kat, "expected each threshold once, found %s twice", th_table[k].name);
            return NULL;
        }
        if (!(s->threshold[th_table[k].th] = parse_expr(p)))
            return NULL;
    }
    return expect_open_brace(p, "measure") < 0 ? NULL : s;
}

static int parse_block(parser *p, tr_stmt **list, int depth, block_info *bi, tr_pos open);

/* After a block's closing '}' (cursor just past it). */
static int parse_block_body(parser *p, tr_stmt **body, int depth, block_info *outer, tr_pos open,
                            bool in_measure)
{
    if (depth + 1 > TR_SCRIPT_MAX_DEPTH)
        return perr_pos(p, open, "expected blocks nested at most %d deep", TR_SCRIPT_MAX_DEPTH);
    block_info bi = {CTX_NESTED, in_measure || outer->in_measure, outer->in_test, outer->test, true};
    return parse_block(p, body, depth + 1, &bi, open);
}

static tr_stmt *parse_if(parser *p, size_t at, int depth, block_info *bi)
{
    tr_stmt *s = new_stmt(p, TR_ST_IF, at);
    if (!s || !(s->e[0] = parse_expr(p)) || expect_open_brace(p, "if") < 0)
        return NULL;
    if (parse_block_body(p, &s->body, depth, bi, s->pos, false) < 0)
        return NULL;
    /* cursor is just after the closing '}' */
    if (at_end(p))
        return s;
    size_t else_at = p->i;
    if (!accept_word(p, "else")) {
        perr(p, p->i, "expected end of line or 'else' after '}', found %s", FOUND(p, p->i));
        return NULL;
    }
    skip_ws(p);
    if (accept_word(p, "if")) {
        if (depth + 1 > TR_SCRIPT_MAX_DEPTH) {
            perr(p, else_at, "expected blocks nested at most %d deep (each else-if counts)",
                 TR_SCRIPT_MAX_DEPTH);
            return NULL;
        }
        s->else_body = parse_if(p, else_at, depth + 1, bi);
        return s->else_body ? s : NULL;
    }
    if (expect_open_brace(p, "else") < 0)
        return NULL;
    if (parse_block_body(p, &s->else_body, depth, bi, pos_at(p, else_at), false) < 0)
        return NULL;
    return expect_eol(p, "'}'") < 0 ? NULL : s;
}

/* Blocks other than if: after the body, the '}' line must end. */
static int close_plain(parser *p)
{
    if (at_end(p))
        return 0;
    if (peek_word(p, "else"))
        return perr(p, p->i, "expected end of line after '}', found 'else' (else follows only an if block)");
    return perr(p, p->i, "expected end of line after '}', found %s", FOUND(p, p->i));
}

static int add_requires(parser *p, tr_expr **arr, int *n, tr_expr *x, size_t at)
{
    if (*n == MAX_REQUIRES)
        return perr(p, at, "expected at most %d requires lines, found more", MAX_REQUIRES);
    arr[(*n)++] = x;
    return 0;
}

static int parse_test(parser *p, size_t at, int depth, block_info *bi)
{
    if (depth != 0 || bi->ctx != CTX_TOP)
        return perr(p, at, "expected a statement, found 'test' (a test cannot be inside a block)");
    skip_ws(p);
    size_t nat = p->i;
    if (nat >= p->n || p->buf[nat] != '"')
        return perr(p, nat, "expected the test name as a \"string\" after 'test', found %s",
                    FOUND(p, nat));
    tr_template name;
    if (parse_string(p, &name) < 0)
        return -1;
    if (!name.constant)
        return perr(p, nat, "expected a plain test name without ${...}");
    if (name.len == 0)
        return perr(p, nat, "expected a non-empty test name");
    for (test_node *t = p->tests; t; t = t->next)
        if (strcmp(t->t.name, name.text) == 0)
            return perr(p, nat, "expected a unique test name, found \"%s\" again (first at line %d)",
                        name.text, t->t.pos.line);
    if (expect_open_brace(p, "test") < 0)
        return -1;
    test_node *tn = palloc(p, sizeof *tn);
    if (!tn)
        return -1;
    tn->t.name = name.text;
    tn->t.pos = pos_at(p, at);
    block_info tbi = {CTX_TEST, false, true, &tn->t, false};
    if (parse_block(p, &tn->t.body, 1, &tbi, tn->t.pos) < 0)
        return -1;
    if (close_plain(p) < 0)
        return -1;
    *p->tests_tail = tn;
    p->tests_tail = &tn->next;
    p->ntests++;
    return 0;
}

/* op NAME { ... }: a named operation, at the top level. */
static int parse_op(parser *p, size_t at, int depth, block_info *bi)
{
    if (depth != 0 || bi->ctx != CTX_TOP)
        return perr(p, at, "expected a statement, found 'op' (an op is defined at the top of the file)");
    const char *name = parse_code(p, "an op name (letters, digits, _)");
    if (!name)
        return -1;
    for (op_node *o = p->ops; o; o = o->next)
        if (!strcmp(o->op.name, name))
            return perr(p, at, "expected a unique op name, found '%s' again (first at line %d)", name,
                        o->op.pos.line);
    if (expect_open_brace(p, "op") < 0)
        return -1;
    op_node *on = palloc(p, sizeof *on);
    if (!on)
        return -1;
    on->op.name = name;
    on->op.pos = pos_at(p, at);
    block_info obi = {CTX_NESTED, false, true, NULL, true};
    if (parse_block(p, &on->op.body, 1, &obi, on->op.pos) < 0 || close_plain(p) < 0)
        return -1;
    *p->ops_tail = on;
    p->ops_tail = &on->next;
    p->nops++;
    return 0;
}

/* Attributes (`destructive`, `requires`) of a test or of the suite. */
static int parse_attribute(parser *p, bool destructive, size_t at, int depth, block_info *bi,
                           tr_stmt **out)
{
    const char *kw = destructive ? "destructive" : "requires";
    if (bi->ctx == CTX_NESTED)
        return perr(p, at, "expected '%s' at the start of a test or at the top of the file, "
                           "found it inside a block", kw);
    if (bi->ctx == CTX_TEST && bi->test_started)
        return perr(p, at, "expected '%s' at the start of the test, before its first statement", kw);
    (void)depth;
    if (destructive) {
        if (expect_eol(p, "'destructive'") < 0)
            return -1;
        if (bi->ctx == CTX_TEST) {
            bi->test->destructive = true;
        } else {
            *out = new_stmt(p, TR_ST_DESTRUCTIVE, at);
            return *out ? 0 : -1;
        }
        return 0;
    }
    tr_expr *x = parse_expr(p);
    if (!x || expect_eol(p, "the requirement") < 0)
        return -1;
    if (bi->ctx == CTX_TEST)
        return add_requires(p, bi->test->requires, &bi->test->nrequires, x, at);
    *out = new_stmt(p, TR_ST_REQUIRES, at);
    if (!*out)
        return -1;
    (*out)->e[0] = x;
    return 0;
}

static int parse_suite_header(parser *p, size_t at, block_info *bi)
{
    if (bi->ctx != CTX_TOP)
        return perr(p, at, "expected 'suite' at the top of the file, found it inside a block");
    if (p->have_suite_header)
        return perr(p, at, "expected one suite header, found a second (first at line %d)",
                    p->suite_pos.line);
    if (p->ntests)
        return perr(p, at, "expected the suite header before the first test");
    skip_ws(p);
    if (p->i >= p->n || p->buf[p->i] != '"')
        return perr(p, p->i, "expected the suite name as a \"string\", found %s", FOUND(p, p->i));
    size_t nat = p->i;
    tr_template name;
    if (parse_string(p, &name) < 0)
        return -1;
    if (!name.constant || name.len == 0)
        return perr(p, nat, "expected a plain non-empty suite name without ${...}");
    if (expect_eol(p, "the suite name") < 0)
        return -1;
    p->suite->name = name.text;
    p->suite_pos = pos_at(p, at);
    p->have_suite_header = true;
    return 0;
}

static tr_stmt *parse_loop(parser *p, bool is_for, size_t at, int depth, block_info *bi)
{
    tr_stmt *s = new_stmt(p, is_for ? TR_ST_FOR : TR_ST_REPEAT, at);
    if (!s)
        return NULL;
    if (is_for) {
        if (!(s->name = parse_settable(p, "a loop variable name")))
            return NULL;
        if (!accept_char(p, '=')) {
            perr(p, p->i, "expected '=' after the loop variable, found %s", FOUND(p, p->i));
            return NULL;
        }
        if (!(s->e[0] = parse_expr(p)))
            return NULL;
        if (accept_word(p, "downto")) {
            s->flag = true;
        } else if (!accept_word(p, "to")) {
            perr(p, p->i, "expected 'to' or 'downto' after the start value, found %s", FOUND(p, p->i));
            return NULL;
        }
        if (!(s->e[1] = parse_expr(p)))
            return NULL;
    } else if (!(s->e[0] = parse_expr(p))) {
        return NULL;
    }
    if (expect_open_brace(p, is_for ? "for" : "repeat") < 0)
        return NULL;
    if (parse_block_body(p, &s->body, depth, bi, s->pos, false) < 0 || close_plain(p) < 0)
        return NULL;
    return s;
}

static tr_stmt *parse_simple_name_stmt(parser *p, tr_stmt_kind kind, size_t at, const char *what)
{
    tr_stmt *s = new_stmt(p, kind, at);
    if (!s || !(s->name = parse_settable(p, what)))
        return NULL;
    return s;
}

/* journal user|so LANDS [else NOT]: before a command that changes a PIN;
 * journal user|so try|refused PIN: recovery's marks on a candidate. */
static tr_stmt *parse_journal(parser *p, size_t at)
{
    tr_stmt *s = new_stmt(p, TR_ST_JOURNAL, at);
    if (!s)
        return NULL;
    if (accept_word(p, "so"))
        s->flag = true;
    else if (!accept_word(p, "user")) {
        perr(p, p->i, "expected 'user' or 'so' after journal, found %s", FOUND(p, p->i));
        return NULL;
    }
    s->mark = accept_word(p, "try") ? TR_JOURNAL_STMT_TRY
              : accept_word(p, "refused") ? TR_JOURNAL_STMT_REFUSED : TR_JOURNAL_STMT_RECORD;
    if (!(s->e[0] = parse_expr(p)))
        return NULL;
    if (!s->mark && accept_word(p, "else") && !(s->e[1] = parse_expr(p)))
        return NULL;
    if (expect_eol(p, "the journal record") < 0)
        return NULL;
    return s;
}

/* ---- keywords: one row each ------------------------------------------------------ */

/* Where a keyword's statement is being parsed: the keyword (lowercase, from
 * its row) was consumed at `at`. A keyword parser returns 0 with stmt set
 * (it stays NULL for suite, test, cleanup and a test's attributes), or -1
 * with the error in p->e. */
typedef struct {
    const char *kw;
    size_t at;
    int depth;
    block_info *bi;
    tr_stmt *stmt;
} kw_ctx;

/* s, or the error its parser (or the allocation) left in p->e. */
static int made(kw_ctx *c, tr_stmt *s)
{
    c->stmt = s;
    return s ? 0 : -1;
}

static int kw_suite(parser *p, kw_ctx *c)
{
    return parse_suite_header(p, c->at, c->bi);
}

static int kw_test(parser *p, kw_ctx *c)
{
    return parse_test(p, c->at, c->depth, c->bi);
}

static int kw_destructive(parser *p, kw_ctx *c)
{
    return parse_attribute(p, true, c->at, c->depth, c->bi, &c->stmt);
}

static int kw_requires(parser *p, kw_ctx *c)
{
    return parse_attribute(p, false, c->at, c->depth, c->bi, &c->stmt);
}

static int kw_cleanup(parser *p, kw_ctx *c)
{
    block_info *bi = c->bi;
    if (bi->ctx != CTX_TEST)
        return perr(p, c->at, "expected 'cleanup' directly inside a test block");
    if (bi->test->has_cleanup)
        return perr(p, c->at, "expected one cleanup block per test, found a second");
    if (expect_open_brace(p, "cleanup") < 0)
        return -1;
    bi->test->has_cleanup = true;
    if (parse_block_body(p, &bi->test->cleanup, c->depth, bi, pos_at(p, c->at), false) < 0)
        return -1;
    return close_plain(p);
}

static int kw_expect(parser *p, kw_ctx *c)
{
    return made(c, parse_expect(p, c->at));
}

static int kw_reset(parser *p, kw_ctx *c)
{
    tr_stmt *s = new_stmt(p, TR_ST_RESET, c->at);
    if (!s)
        return -1;
    if (!at_end(p)) {
        if (accept_word(p, "cold"))
            s->flag = true;
        else if (!accept_word(p, "warm"))
            return perr(p, p->i, "expected 'cold' or 'warm' after reset, found %s", FOUND(p, p->i));
    }
    return expect_eol(p, "reset") < 0 ? -1 : made(c, s);
}

/* A statement that is its keyword alone: power-cycle, exit, quit. */
static int bare_stmt(parser *p, kw_ctx *c, tr_stmt_kind kind)
{
    tr_stmt *s = new_stmt(p, kind, c->at);
    if (!s || expect_eol(p, c->kw) < 0)
        return -1;
    return made(c, s);
}

static int kw_power_cycle(parser *p, kw_ctx *c)
{
    return bare_stmt(p, c, TR_ST_POWER_CYCLE);
}

static int kw_exit(parser *p, kw_ctx *c)
{
    return bare_stmt(p, c, TR_ST_EXIT);
}

static int kw_let(parser *p, kw_ctx *c)
{
    tr_stmt *s = parse_simple_name_stmt(p, TR_ST_LET, c->at, "a variable name");
    if (!s)
        return -1;
    if (!accept_char(p, '='))
        return perr(p, p->i, "expected '=' after the variable name, found %s", FOUND(p, p->i));
    if (!(s->e[0] = parse_expr(p)) || expect_eol(p, "the value") < 0)
        return -1;
    return made(c, s);
}

static int kw_capture(parser *p, kw_ctx *c)
{
    tr_stmt *s = parse_simple_name_stmt(p, TR_ST_CAPTURE, c->at, "a variable name");
    if (!s || expect_eol(p, "the variable name") < 0)
        return -1;
    return made(c, s);
}

static int kw_if(parser *p, kw_ctx *c)
{
    return made(c, parse_if(p, c->at, c->depth, c->bi));
}

static int kw_else(parser *p, kw_ctx *c)
{
    return perr(p, c->at, "expected a statement, found 'else' (write '} else {' after an if block)");
}

static int kw_repeat(parser *p, kw_ctx *c)
{
    return made(c, parse_loop(p, false, c->at, c->depth, c->bi));
}

static int kw_for(parser *p, kw_ctx *c)
{
    return made(c, parse_loop(p, true, c->at, c->depth, c->bi));
}

static int kw_assert(parser *p, kw_ctx *c)
{
    tr_stmt *s = new_stmt(p, TR_ST_ASSERT, c->at);
    if (!s || !(s->e[0] = parse_expr(p)) || parse_msg_classify(p, s) < 0)
        return -1;
    return made(c, s);
}

static int kw_fail(parser *p, kw_ctx *c)
{
    tr_stmt *s = new_stmt(p, TR_ST_FAIL, c->at);
    if (!s || parse_msg_classify(p, s) < 0)
        return -1;
    return made(c, s);
}

/* `skip ["reason"] [classify not-run.CODE]`: with the code, the run did not
 * give what the test needs (the token is INCOMPLETE, not PASS); a defect
 * code on a skip would say nothing, so only not-run.* is taken. */
static int kw_skip(parser *p, kw_ctx *c)
{
    tr_stmt *s = new_stmt(p, TR_ST_SKIP, c->at);
    if (!s)
        return -1;
    s->message = parse_opt_message(p);
    if (p->e->code != TR_OK)
        return -1;
    if (accept_word(p, "classify")) {
        skip_ws(p);
        size_t at = p->i;
        if (!(s->classify = parse_code(p, "a not-run.* code (like not-run.no-expected-serial)")))
            return -1;
        if (strncmp(s->classify, "not-run.", 8) != 0 || !s->classify[8])
            return perr(p, at, "expected a not-run.* code after a skip's classify (the run did not give what "
                               "the test needs), found '%s'", s->classify);
    }
    if (expect_eol(p, s->classify ? "the classification" : "the reason") < 0)
        return -1;
    return made(c, s);
}

static int kw_log(parser *p, kw_ctx *c)
{
    tr_stmt *s = new_stmt(p, TR_ST_LOG, c->at);
    if (!s || !(s->message = parse_expr(p)) || expect_eol(p, "the log text") < 0)
        return -1;
    return made(c, s);
}

static int kw_op(parser *p, kw_ctx *c)
{
    return parse_op(p, c->at, c->depth, c->bi);
}

static int kw_call(parser *p, kw_ctx *c)
{
    tr_stmt *s = new_stmt(p, TR_ST_CALL, c->at);
    if (!s || !(s->name = parse_code(p, "the name of an op")) || expect_eol(p, "the op name") < 0)
        return -1;
    return made(c, s);
}

static int kw_pin_model(parser *p, kw_ctx *c)
{
    tr_stmt *s = new_stmt(p, TR_ST_PIN_MODEL, c->at);
    if (!s || expect_eol(p, "'pin-model'") < 0)
        return -1;
    return made(c, s);
}

/* An skf call's argument that names an SKF constant (USER_TYPE, SGD_SM3,
 * skfstmt.h) is that number; any other name is a variable as usual. */
static void skf_constant_arg(tr_expr *x)
{
    int64_t v;
    if (x->kind == TR_EX_VAR && tr_skf_constant(x->name, &v)) {
        x->kind = TR_EX_INT;
        x->ival = v;
    }
}

/* skf SKF_Function(ARG, ...) / p11 C_Function(ARG, ...): the function must
 * be one the keyword's library interface calls (libcall.h) and get as many
 * arguments as its shape says. */
static int kw_libcall(parser *p, kw_ctx *c)
{
    tr_stmt *s = new_stmt(p, TR_ST_LIBCALL, c->at);
    if (!s)
        return -1;
    s->iface = tr_libcall_by_keyword(c->kw);
    skip_ws(p);
    size_t at = p->i;
    if (!s->iface || !(s->name = parse_code(p, "the function to call")))
        return s->iface ? -1 : perr(p, c->at, "internal: no library interface for '%s'", c->kw);
    const char *shape = s->iface->shape(s->name);
    if (!shape)
        return perr(p, at, "expected %s, found '%s'", s->iface->what, s->name);
    tr_expr *call = s->e[0] = new_expr(p, TR_EX_CALL, at);
    if (!call || !accept_char(p, '('))
        return call ? perr(p, p->i, "expected '(' after %s, found %s", s->name, FOUND(p, p->i)) : -1;
    while (!accept_char(p, ')')) {
        if (call->nargs && !accept_char(p, ','))
            return perr(p, p->i, "expected ',' or ')' in the arguments of %s, found %s", s->name, FOUND(p, p->i));
        if (call->nargs == TR_SCRIPT_MAX_ARGS || !(call->args[call->nargs] = parse_expr(p)))
            return call->nargs == TR_SCRIPT_MAX_ARGS ? perr(p, p->i, "expected at most %d arguments", TR_SCRIPT_MAX_ARGS) : -1;
        skf_constant_arg(call->args[call->nargs++]);
    }
    if ((size_t)call->nargs != strlen(shape))
        return perr(p, at, "expected %zu argument%s for %s, found %d", strlen(shape), strlen(shape) == 1 ? "" : "s",
                    s->name, call->nargs);
    if (expect_eol(p, "the call") < 0)
        return -1;
    return made(c, s);
}

static int kw_journal(parser *p, kw_ctx *c)
{
    return made(c, parse_journal(p, c->at));
}

static int kw_classify(parser *p, kw_ctx *c)
{
    tr_stmt *s = new_stmt(p, TR_ST_CLASSIFY, c->at);
    if (!s || !(s->classify = parse_code(p, "a classification code (like pin.no-lockout)")) ||
        expect_eol(p, "the classification") < 0)
        return -1;
    return made(c, s);
}

static int kw_metric(parser *p, kw_ctx *c)
{
    tr_stmt *s = new_stmt(p, TR_ST_METRIC, c->at);
    if (!s || !(s->name = parse_code(p, "a metric name")))
        return -1;
    if (!accept_char(p, '='))
        return perr(p, p->i, "expected '=' after the metric name, found %s", FOUND(p, p->i));
    if (!(s->e[0] = parse_expr(p)))
        return -1;
    if (accept_word(p, "unit") && !(s->unit = parse_code(p, "a unit (\"ms\", days, ...)")))
        return -1;
    if (expect_eol(p, s->unit ? "the unit" : "the metric value") < 0)
        return -1;
    return made(c, s);
}

static int kw_measure(parser *p, kw_ctx *c)
{
    if (c->bi->in_measure)
        return perr(p, c->at, "expected a statement, found 'measure' (measure blocks cannot be nested)");
    tr_stmt *s = parse_measure_header(p, c->at);
    if (!s || parse_block_body(p, &s->body, c->depth, c->bi, s->pos, true) < 0 || close_plain(p) < 0)
        return -1;
    return made(c, s);
}

static int kw_read_binary(parser *p, kw_ctx *c)
{
    tr_stmt *s = parse_simple_name_stmt(p, TR_ST_READ_BINARY, c->at, "a variable name for the file's bytes");
    if (!s)
        return -1;
    while (!at_end(p)) {
        int k = accept_word(p, "chunk") ? 0 : accept_word(p, "max") ? 1 : -1;
        if (k < 0)
            return perr(p, p->i, "expected 'chunk', 'max' or end of line, found %s", FOUND(p, p->i));
        if (s->e[k])
            return perr(p, p->i, "expected each option once, found '%s' twice", k ? "max" : "chunk");
        if (!(s->e[k] = parse_expr(p)))
            return -1;
    }
    return made(c, s);
}

/* cert-info EXPR [window EXPR] [trust EXPR] / seal-info EXPR [cert EXPR]
 * [trust EXPR]: options in any order, each once; option goes to e[1],
 * trust to e[2]. */
static int info_stmt(parser *p, kw_ctx *c, tr_stmt_kind kind, const char *option)
{
    tr_stmt *s = new_stmt(p, kind, c->at);
    if (!s || !(s->e[0] = parse_expr(p)))
        return -1;
    while (!at_end(p)) {
        int k = accept_word(p, option) ? 1 : accept_word(p, "trust") ? 2 : 0;
        if (!k)
            return perr(p, p->i, "expected '%s', 'trust' or end of line, found %s", option, FOUND(p, p->i));
        if (s->e[k])
            return perr(p, p->i, "expected each option once, found '%s' twice", k == 1 ? option : "trust");
        if (!(s->e[k] = parse_expr(p)))
            return -1;
    }
    return made(c, s);
}

static int kw_cert_info(parser *p, kw_ctx *c)
{
    return info_stmt(p, c, TR_ST_CERT_INFO, "window");
}

static int kw_seal_info(parser *p, kw_ctx *c)
{
    return info_stmt(p, c, TR_ST_SEAL_INFO, "cert");
}

/* Every keyword that starts a statement. A line whose first word is none of
 * these is an APDU. `header` rows may stand before a test's first statement
 * (they do not start its body, so `requires` may still follow). */
static const struct kw_row {
    const char *name;
    int (*parse)(parser *p, kw_ctx *c);
    bool header;
} keywords[] = {
    {"suite", kw_suite, true},          {"test", kw_test, true},
    {"cleanup", kw_cleanup, false},     {"destructive", kw_destructive, true},
    {"requires", kw_requires, true},    {"expect", kw_expect, false},
    {"reset", kw_reset, false},         {"power-cycle", kw_power_cycle, false},
    {"exit", kw_exit, false},           {"quit", kw_exit, false},
    {"let", kw_let, false},             {"capture", kw_capture, false},
    {"if", kw_if, false},               {"else", kw_else, false},
    {"repeat", kw_repeat, false},       {"for", kw_for, false},
    {"assert", kw_assert, false},       {"fail", kw_fail, false},
    {"skip", kw_skip, false},           {"log", kw_log, false},
    {"classify", kw_classify, false},   {"journal", kw_journal, false},
    {"op", kw_op, true},                {"call", kw_call, false},
    {"pin-model", kw_pin_model, false}, {"skf", kw_libcall, false},
    {"p11", kw_libcall, false},
    {"metric", kw_metric, false},
    {"measure", kw_measure, false},     {"read-binary", kw_read_binary, false},
    {"cert-info", kw_cert_info, false}, {"seal-info", kw_seal_info, false},
};

/* The keyword at the cursor (matched without regard to case), or NULL. */
static const struct kw_row *peek_keyword(parser *p)
{
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
        if (peek_word(p, keywords[k].name))
            return &keywords[k];
    return NULL;
}

/* One statement starting with keyword kw (consumed at `at`). Returns 1 with
 * *out set (may stay NULL for attributes), -1 on error. Statements at the top
 * level are validated by finish_suite(), once it is known whether the file
 * has tests. */
static int parse_keyword(parser *p, const struct kw_row *kw, size_t at, int depth, block_info *bi,
                         tr_stmt **out)
{
    if (!kw->header)
        bi->test_started = true;
    kw_ctx c = {kw->name, at, depth, bi, NULL};
    if (kw->parse(p, &c) < 0)
        return -1;
    *out = c.stmt;
    return 1;
}

/* One non-empty line that is not a '}'. */
static int parse_statement(parser *p, int depth, block_info *bi, tr_stmt **out)
{
    *out = NULL;
    size_t at = p->i;
    const struct kw_row *kw = peek_keyword(p);
    if (kw) {
        p->i += strlen(kw->name);
        return parse_keyword(p, kw, at, depth, bi, out);
    }
    bi->test_started = true;
    tr_stmt *s = parse_apdu(p);
    if (!s)
        return -1;
    if (p->i < p->n) { /* stopped at "expect" on the same line */
        size_t eat = p->i;
        p->i += 6;
        tr_stmt *x = parse_expect(p, eat);
        if (!x)
            return -1;
        s->next = x;
    }
    *out = s;
    return 1;
}

/* Parse lines until the '}' that closes this block (cursor left just after
 * it) or, at depth 0, end of file. */
static int parse_block(parser *p, tr_stmt **list, int depth, block_info *bi, tr_pos open)
{
    tr_stmt **tail = list;
    while (*tail)
        tail = &(*tail)->next;
    for (;;) {
        int r = next_line(p);
        if (r < 0)
            return -1;
        if (r == 0) {
            if (depth == 0)
                return 0;
            return tr_fail_at(p->e, TR_E_PARSE, p->file, open.line, open.col,
                              "expected '}' to close the block opened here, found end of file");
        }
        if (at_end(p))
            continue;
        if (p->buf[p->i] == '}') {
            if (depth == 0)
                return perr(p, p->i, "expected a statement, found '}' (no block is open)");
            p->i++;
            return 0;
        }
        tr_stmt *s;
        if (parse_statement(p, depth, bi, &s) < 0)
            return -1;
        while (s) {
            *tail = s;
            tail = &s->next;
            s = s->next;
        }
    }
}

/* ---- the file ---------------------------------------------------------------- */

bool tr_script_builtin_var(const char *name)
{
    static const char *const b[] = {"SW", "SW1", "SW2", "DATA", "DATALEN", "TOKEN_ATR", "TEST", "SUITE"};
    for (size_t k = 0; k < sizeof b / sizeof b[0]; k++)
        if (!strcmp(name, b[k]))
            return true;
    return false;
}

/* "suites/pin.tsuite" -> "pin" (the name of a scriptor file's one test). */
static const char *base_name(parser *p, const char *file)
{
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    const char *dot = strrchr(b, '.');
    size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    if (n == 0)
        return "suite";
    char *s = tr_arena_strndup(p->ar, b, n);
    if (!s)
        tr_fail(p->e, TR_E_NOMEM, "out of memory parsing %s", p->file);
    return s;
}

/* Split the top-level list into suite attributes, prelude and tests. */
static int finish_suite(parser *p, tr_stmt *top)
{
    tr_suite *su = p->suite;
    tr_stmt **prelude_tail = &su->prelude;
    tr_stmt *body = NULL, **body_tail = &body;
    for (tr_stmt *s = top, *next; s; s = next) {
        next = s->next;
        s->next = NULL;
        if (s->kind == TR_ST_DESTRUCTIVE) {
            su->destructive = true;
            continue;
        }
        if (s->kind == TR_ST_REQUIRES) {
            if (su->nrequires == MAX_REQUIRES)
                return perr_pos(p, s->pos, "expected at most %d requires lines, found more", MAX_REQUIRES);
            su->requires[su->nrequires++] = s->e[0];
            continue;
        }
        if (p->ntests && (s->kind == TR_ST_LET || s->kind == TR_ST_CLASSIFY)) {
            *prelude_tail = s;
            prelude_tail = &s->next;
            continue;
        }
        if (p->ntests)
            return perr_pos(p, s->pos, "expected a test block, found a statement outside any test "
                                       "(a file with tests allows only suite, destructive, requires, "
                                       "let and classify outside them)");
        *body_tail = s;
        body_tail = &s->next;
    }
    if (!su->name && !(su->name = base_name(p, p->file)))
        return -1;
    if (p->nops) {
        su->ops = palloc(p, p->nops * sizeof *su->ops);
        if (!su->ops)
            return -1;
        for (op_node *o = p->ops; o; o = o->next)
            su->ops[su->nops++] = o->op;
    }
    if (p->ntests == 0) {
        su->scriptor = true;
        su->ntests = 1;
        su->tests = palloc(p, sizeof *su->tests);
        if (!su->tests)
            return -1;
        su->tests[0].name = base_name(p, p->file);
        su->tests[0].pos = (tr_pos){1, 1};
        su->tests[0].body = body;
        return su->tests[0].name ? 0 : -1;
    }
    su->ntests = p->ntests;
    su->tests = palloc(p, p->ntests * sizeof *su->tests);
    if (!su->tests)
        return -1;
    size_t k = 0;
    for (test_node *t = p->tests; t; t = t->next)
        su->tests[k++] = t->t;
    return 0;
}

int tr_suite_parse(const char *text, size_t len, const char *file, tr_suite **out, tr_err *e)
{
    *out = NULL;
    tr_err_clear(e);
    if (!file)
        file = "<suite>";
    if (len > TR_SCRIPT_MAX_FILE)
        return tr_fail_at(e, TR_E_PARSE, file, 1, 1, "expected a suite of at most %u bytes, found %zu",
                          TR_SCRIPT_MAX_FILE, len);
    /* Editors on Windows often save UTF-8 with a byte order mark: it is
     * not text, skip it (columns on line 1 count from after it). */
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
        text += 3;
        len -= 3;
    }
    parser p = {0};
    tr_err scratch;
    p.e = e ? e : &scratch;
    tr_err_clear(p.e);
    p.file = file;
    p.src = text;
    p.srclen = len;
    p.next_line = 1;
    p.tests_tail = &p.tests;
    p.ops_tail = &p.ops;
    p.ar = tr_arena_new((size_t)256 << 20);
    p.buf = malloc(TR_SCRIPT_MAX_LOGICAL + 1);
    if (!p.ar || !p.buf)
        goto nomem;
    p.suite = tr_arena_calloc(p.ar, sizeof *p.suite);
    if (!p.suite || !(p.suite->file = tr_arena_strndup(p.ar, file, strlen(file))))
        goto nomem;
    p.file = p.suite->file;
    p.suite->arena = p.ar;
    tr_stmt *top = NULL;
    block_info bi = {CTX_TOP, false, false, NULL, false};
    if (parse_block(&p, &top, 0, &bi, (tr_pos){1, 1}) < 0 || finish_suite(&p, top) < 0)
        goto fail;
    free(p.buf);
    *out = p.suite;
    return 0;
nomem:
    tr_fail(p.e, TR_E_NOMEM, "out of memory parsing %s", file);
fail:
    free(p.buf);
    tr_arena_free(p.ar);
    return -1;
}

int tr_suite_load(const char *path, tr_suite **out, tr_err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tr_fail(e, TR_E_IO, "cannot open suite %s: %s", path, strerror(errno));
    char *buf = malloc(TR_SCRIPT_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        return tr_fail(e, TR_E_NOMEM, "out of memory reading %s", path);
    }
    size_t n = fread(buf, 1, TR_SCRIPT_MAX_FILE + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        return tr_fail(e, TR_E_IO, "cannot read suite %s", path);
    }
    int r = tr_suite_parse(buf, n, path, out, e);
    free(buf);
    return r;
}

void tr_suite_free(tr_suite *s)
{
    if (s)
        tr_arena_free(s->arena);
}
