/* html.h — writing HTML (and inline SVG) text safely.
 *
 * Owns: the output stream of a page with its first error kept (every
 * function is a no-op after one, the caller checks once at the end), the
 * escaping of any byte string into element text or a double-quoted
 * attribute value (through xmlesc: & < > " ' escaped, control characters
 * and invalid UTF-8 shown as \xNN, so nothing a token or a file holds can
 * open a tag, end an attribute or a script), numbers in the C locale, and
 * writing a whole file atomically (temporary file, fsync, rename).
 * Must not: know what a page shows.
 */
#ifndef TR_HTML_H
#define TR_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"

typedef struct {
    FILE *f;
    int err; /* errno of the first failure (ENOMEM for no memory), 0 none */
} tr_html;

void tr_html_init(tr_html *h, FILE *f);
/* Markup written as it is: only ever constant text of the program. */
void tr_html_raw(tr_html *h, const char *s);
void tr_html_fmt(tr_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text from anywhere (a token, a file, a command line), escaped for
 * element content. NULL writes nothing. */
void tr_html_text(tr_html *h, const char *s);
/* The same with at most max bytes of s (cut on a character boundary, "…"
 * appended when cut). */
void tr_html_text_max(tr_html *h, const char *s, size_t max);
/* ` name="value"`, the value escaped; NULL writes nothing. */
void tr_html_attr(tr_html *h, const char *name, const char *value);
/* A number as %.*f in the C locale whatever the process's locale; non-finite
 * numbers as "0" (never NaN in an SVG coordinate). */
void tr_html_num(tr_html *h, double v, int decimals);

/* Escape into a new string (free it); NULL on no memory. */
char *tr_html_escape(const char *s, bool attr);

/* Write the file path through fill (which writes to h and returns its
 * first error as h->err does): into a temporary file beside it, fsync'ed,
 * renamed over path. On failure path is unchanged and e says why. */
typedef void (*tr_html_fill_fn)(tr_html *h, const void *ctx);
__attribute__((warn_unused_result))
int tr_html_write_file(const char *path, tr_html_fill_fn fill, const void *ctx, tr_err *e);

#endif
