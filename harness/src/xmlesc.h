/* xmlesc.h — turning arbitrary bytes into text that reports can carry.
 *
 * Owns: strict UTF-8 decoding, XML 1.0 escaping of any byte string for
 * element text and attribute values, and the "visible escape" used for
 * bytes that cannot be carried as they are (C0 controls XML forbids,
 * invalid UTF-8, U+FFFE/U+FFFF): each such byte becomes the four ASCII
 * characters \xNN, so a report shows what the token really sent instead of
 * silently dropping it. A literal backslash in the input is kept as it is
 * (reports are for people; the ambiguity is accepted).
 * Must not: allocate, know about JUnit or CSV layouts, or do I/O.
 */
#ifndef TR_XMLESC_H
#define TR_XMLESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..n), storing its
 * code point in *cp; 0 when s does not start with one (overlong forms,
 * surrogates, values above U+10FFFF and truncated sequences are all
 * rejected). n must be > 0. */
size_t tr_utf8_next(const uint8_t *s, size_t n, uint32_t *cp);

/* XML 1.0 Char production: #x9 | #xA | #xD | [#x20-#xD7FF] |
 * [#xE000-#xFFFD] | [#x10000-#x10FFFF]. */
bool tr_xml_is_char(uint32_t cp);

typedef enum {
    TR_XML_TEXT, /* element content: escapes & < > and CR (as &#13;) */
    TR_XML_ATTR  /* attribute value in double quotes: also " ' TAB LF CR,
                  * as character references so that attribute-value
                  * normalisation does not turn them into spaces */
} tr_xml_mode;

/* Worst-case output size for n input bytes, including the NUL. */
size_t tr_xml_escape_bound(size_t n);

/* Escape n bytes (NULs included) into out. Always NUL-terminates when
 * cap > 0 and never cuts an escape in half. Returns the length the full
 * output needs (without the NUL), like snprintf: the output is complete
 * iff the return value < cap. The output is well-formed UTF-8 made only of
 * XML Chars, with no markup character left unescaped. */
size_t tr_xml_escape(const void *in, size_t n, tr_xml_mode mode,
                     char *out, size_t cap);

/* Same visible-escape rules for plain text (CSV cells, terminal tables):
 * invalid UTF-8 and C0 controls other than those listed in keep (e.g.
 * "\t\n\r" for CSV, "" for a terminal) become \xNN, and so do DEL and the
 * C1 controls U+0080..U+009F (terminal escape sequences), so the result is
 * valid UTF-8 safe to print. Same return convention as tr_xml_escape;
 * worst case 4 bytes out per byte in, plus the NUL. */
size_t tr_text_sanitize(const void *in, size_t n, const char *keep,
                        char *out, size_t cap);
size_t tr_text_sanitize_bound(size_t n);

#endif
