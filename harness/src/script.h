/* script.h — the suite language: lexer and parser, text -> tr_suite (AST).
 *
 * Owns: reading a suite file (bounded: file size, line length, nesting,
 * expression depth), the grammar of suites/README.md, every parse error
 * (tr_err with file:line:column and "expected X, found Y"), and the AST the
 * interpreter walks. Constant APDU lines and status-word / data patterns are
 * compiled at parse time (bytes, masks) so the interpreter's hot path does
 * no text work for them.
 * Must not: talk to tokens, read variables, evaluate anything, write
 * reports. The AST below is read-only for interp.c; it lives in one arena
 * owned by the tr_suite.
 *
 * A file with no `test` block is a scriptor script: every statement belongs
 * to one implicit test named after the file.
 */
#ifndef TR_SCRIPT_H
#define TR_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Bounds: a suite that breaks one gets a parse error, never a crash. */
#define TR_SCRIPT_MAX_FILE   (1u << 20) /* bytes in a suite file */
#define TR_SCRIPT_MAX_LINE   4096       /* characters in one physical line */
#define TR_SCRIPT_MAX_LOGICAL 65536     /* characters in a `\`-continued line */
#define TR_SCRIPT_MAX_DEPTH  32         /* nested blocks */
#define TR_SCRIPT_MAX_EXPR_DEPTH 64     /* nested (sub)expressions */
#define TR_SCRIPT_MAX_ARGS   8          /* function arguments */
#define TR_SCRIPT_MAX_ALTS   16         /* alternatives in an SW pattern */
#define TR_SCRIPT_MAX_NAME   64         /* variable / metric name length */

typedef struct {
    int line, col; /* 1-based */
} tr_pos;

/* ---- templates: text with ${...} substitutions ------------------------- */

typedef enum {
    TR_SUB_VAR,   /* ${NAME}: the value as is */
    TR_SUB_EXPR,  /* ${= EXPR}: value (integers in decimal) */
    TR_SUB_PIN,   /* ${pin:EXPR}: ASCII right-padded with FF to 16 bytes, secret */
    TR_SUB_HEX,   /* ${hex:EXPR}: integer 0..255 as 2 hex digits */
    TR_SUB_HEX2,  /* ${hex2:EXPR}: integer 0..65535 as 4 hex digits */
    TR_SUB_NIB,   /* ${nib:EXPR}: integer 0..15 as 1 hex digit */
    TR_SUB_ASCII, /* ${ascii:EXPR}: hex of the text's bytes */
    TR_SUB_LEN    /* ${len:EXPR}: byte length of a hex value, 2 hex digits */
} tr_sub_kind;

struct tr_expr;

typedef struct tr_piece {
    struct tr_piece *next;
    const char *text;       /* literal text (NULL for a substitution) */
    size_t len;
    tr_sub_kind sub;
    struct tr_expr *expr;   /* the substitution's argument */
    tr_pos pos;             /* of the literal or of the `$` */
} tr_piece;

/* In hex templates (APDUs, patterns) the literal pieces hold the digits and
 * pattern characters with the whitespace already removed. */
typedef struct {
    tr_piece *pieces;
    bool constant;          /* no substitution: text/len is the whole value */
    const char *text;
    size_t len;
} tr_template;

/* ---- expressions -------------------------------------------------------- */

typedef enum {
    TR_EX_INT,    /* ival */
    TR_EX_STR,    /* str (may interpolate) */
    TR_EX_VAR,    /* name */
    TR_EX_UNARY,  /* op a */
    TR_EX_BINARY, /* a op b (&& || short-circuit) */
    TR_EX_CALL    /* fn(args) */
} tr_expr_kind;

typedef enum {
    TR_OP_NEG = 1, TR_OP_NOT, TR_OP_BNOT,
    TR_OP_MUL, TR_OP_DIV, TR_OP_MOD, TR_OP_ADD, TR_OP_SUB, TR_OP_SHL, TR_OP_SHR,
    TR_OP_BAND, TR_OP_BXOR, TR_OP_BOR,
    TR_OP_EQ, TR_OP_NE, TR_OP_LT, TR_OP_LE, TR_OP_GT, TR_OP_GE,
    TR_OP_AND, TR_OP_OR
} tr_op;

typedef enum {
    TR_FN_BYTE = 1, TR_FN_SUB, TR_FN_TLV, TR_FN_INT, TR_FN_CONCAT, TR_FN_ASCII,
    TR_FN_ASCIIHEX, TR_FN_LEN, TR_FN_HEX, TR_FN_RANDOM, TR_FN_SIGN_INPUT,
    TR_FN_SIG_OK, TR_FN_DEFINED, TR_FN_MIN, TR_FN_MAX, TR_FN_UPPER,
    TR_FN_TLV_TRAILING, TR_FN_ENVELOPE, TR_FN_SM4_ENCRYPT, TR_FN_SM4_DECRYPT,
    TR_FN_LIST_ITEM, TR_FN_LIST_LEN, TR_FN_SEAL_LIKE, TR_FN_SKF_PUBKEY, TR_FN_SKF_ECC_SIG,
    TR_FN_MAY_BE, TR_FN_AT_MOST, TR_FN_SKF_CIPHER_BLOB
} tr_fn;

typedef struct tr_expr {
    tr_expr_kind kind;
    tr_pos pos;
    int op;                 /* tr_op or tr_fn */
    int64_t ival;
    const char *name;       /* TR_EX_VAR */
    tr_template str;        /* TR_EX_STR */
    struct tr_expr *a, *b;  /* operands */
    struct tr_expr *args[TR_SCRIPT_MAX_ARGS];
    int nargs;
    const char *src;        /* source text of this expression (messages) */
} tr_expr;

/* Name of a function id ("sub"), for messages. */
const char *tr_fn_name(tr_fn fn);

/* ---- patterns ------------------------------------------------------------ */

/* A compiled status-word pattern: sw matches alternative i when
 * (sw & mask[i]) == value[i]. */
typedef struct {
    int n;
    uint16_t value[TR_SCRIPT_MAX_ALTS], mask[TR_SCRIPT_MAX_ALTS];
} tr_sw_pattern;

/* A compiled data pattern: nibbles with masks, optional trailing `*`. */
typedef struct {
    const uint8_t *value, *mask; /* nbytes each */
    size_t nbytes;
    bool prefix;            /* `*` at the end: more bytes may follow */
} tr_data_pattern;

/* ---- statements ---------------------------------------------------------- */

typedef enum {
    TR_ST_APDU,        /* tpl (bytes/nbytes when constant) */
    TR_ST_EXPECT_SW,   /* tpl or sw */
    TR_ST_EXPECT_DATA, /* tpl or data */
    TR_ST_EXPECT_LEN,  /* e[0] */
    TR_ST_RESET,       /* flag = cold */
    TR_ST_POWER_CYCLE,
    TR_ST_EXIT,
    TR_ST_LET,         /* name = e[0] */
    TR_ST_CAPTURE,     /* name */
    TR_ST_IF,          /* e[0] body else_body */
    TR_ST_REPEAT,      /* e[0] body */
    TR_ST_FOR,         /* name = e[0] to/downto (flag = down) e[1] body */
    TR_ST_ASSERT,      /* e[0] [message] [classify] */
    TR_ST_FAIL,        /* [message] [classify] */
    TR_ST_SKIP,        /* [message] [classify not-run.*] */
    TR_ST_CLASSIFY,    /* classify */
    TR_ST_METRIC,      /* name = e[0] [unit] */
    TR_ST_LOG,         /* message */
    TR_ST_MEASURE,     /* name count e[0] thresholds body */
    TR_ST_READ_BINARY, /* name [chunk e[0]] [max e[1]] */
    TR_ST_CERT_INFO,   /* e[0] [window e[1]] [trust e[2]] */
    TR_ST_SEAL_INFO,   /* e[0] [cert e[1]] [trust e[2]] */
    TR_ST_JOURNAL,     /* flag = so; mark 0: e[0] if the next command lands, e[1] if not (NULL:
                          same); mark TR_JOURNAL_STMT_TRY / _REFUSED: e[0] the candidate */
    TR_ST_CALL,        /* name: an `op` of the suite */
    TR_ST_PIN_MODEL,   /* walk the token through the PIN state model (pinmodel.h) */
    TR_ST_LIBCALL,     /* iface, name (a function of its library) e[0] (TR_EX_CALL: its arguments) */
    TR_ST_SUITE,       /* header: name (top level only, consumed by the parser) */
    TR_ST_DESTRUCTIVE, /* attribute (consumed by the parser) */
    TR_ST_REQUIRES,    /* attribute e[0] (consumed by the parser) */
    TR_ST_TEST         /* (consumed by the parser) */
} tr_stmt_kind;

/* measure thresholds; NULL = not set. */
typedef enum {
    TR_TH_MAX_MEAN_MS, TR_TH_MAX_P50_MS, TR_TH_MAX_P95_MS, TR_TH_MAX_P99_MS,
    TR_TH_MAX_MS, TR_TH_MIN_RATE, TR_TH_COUNT
} tr_threshold;
const char *tr_threshold_name(tr_threshold t); /* "max_p95_ms" ... */

/* The forms of `journal`: a record of what a command leaves, or
 * recovery's mark on a journaled candidate (suites/lib/recover.tsuite). */
enum { TR_JOURNAL_STMT_RECORD = 0, TR_JOURNAL_STMT_TRY = 1, TR_JOURNAL_STMT_REFUSED = 2 };

typedef struct tr_stmt {
    tr_stmt_kind kind;
    tr_pos pos;
    struct tr_stmt *next;
    const char *name;           /* let/capture/for/metric/measure/read-binary */
    tr_expr *e[3];
    bool flag;                  /* reset: cold; for: downto */
    int mark;                   /* journal: TR_JOURNAL_STMT_* */
    tr_template tpl;            /* APDU or pattern source */
    const uint8_t *bytes;       /* constant APDU */
    size_t nbytes;
    tr_sw_pattern sw;           /* constant SW pattern */
    tr_data_pattern data;       /* constant data pattern */
    const char *pattern_src;    /* pattern as written (messages) */
    tr_expr *message;           /* assert/fail/skip/log text; NULL = none */
    const char *classify;       /* assert/fail/expect/classify code; NULL = none */
    const char *unit;           /* metric unit; NULL = none */
    tr_expr *threshold[TR_TH_COUNT];
    const struct tr_libcall_iface *iface; /* libcall: the library interface (libcall.h) */
    struct tr_stmt *body, *else_body;
} tr_stmt;

typedef struct tr_test {
    const char *name;
    tr_pos pos;
    bool destructive;
    tr_expr *requires[8];       /* all must hold */
    int nrequires;
    tr_stmt *body;
    tr_stmt *cleanup;           /* `cleanup { }`: runs after the body, always */
    bool has_cleanup;
} tr_test;

/* `op NAME { ... }`: a named operation of the suite (run by `call NAME`
 * and by the PIN model), at the top level of a file. */
typedef struct {
    const char *name;
    tr_pos pos;
    tr_stmt *body;
} tr_suite_op;

typedef struct tr_suite {
    const char *file;           /* as given to the parser */
    const char *name;           /* `suite "name"` or the file's base name */
    bool scriptor;              /* no test blocks: one implicit test */
    bool destructive;
    tr_expr *requires[8];
    int nrequires;
    tr_stmt *prelude;           /* top-level let/classify, run before the tests */
    tr_test *tests;
    size_t ntests;
    tr_suite_op *ops;
    size_t nops;
    void *arena;                /* owns every node and string above */
} tr_suite;

/* Compile a status-word pattern ("63Cx", "9000|6282"; spaces ignored) or a
 * data pattern ("30 82 ?? ?? *": nibble wildcards ? x, final * = prefix
 * match; value/mask get cap bytes each). The interpreter calls these for
 * patterns built with ${...}. Return 0, or -1 with the reason in why. */
int tr_sw_pattern_compile(const char *text, size_t n, tr_sw_pattern *out,
                          char *why, size_t whycap);
int tr_data_pattern_compile(const char *text, size_t n, uint8_t *value, uint8_t *mask,
                            size_t cap, tr_data_pattern *out, char *why, size_t whycap);

/* Parse len bytes of suite text. file names the source in messages. On
 * error returns -1 with e = TR_E_PARSE at file:line:col ("expected X,
 * found Y"); *out is NULL. Never reads past len; text need not be
 * NUL-terminated. */
int tr_suite_parse(const char *text, size_t len, const char *file,
                   tr_suite **out, tr_err *e);
/* Read (bounded by TR_SCRIPT_MAX_FILE) and parse a file. */
int tr_suite_load(const char *path, tr_suite **out, tr_err *e);
void tr_suite_free(tr_suite *s);

/* Is name one of the variables every APDU sets (SW SW1 SW2 DATA DATALEN TOKEN_ATR)
 * or the interpreter provides (TEST SUITE)? Such names cannot be assigned. */
bool tr_script_builtin_var(const char *name);

#endif
