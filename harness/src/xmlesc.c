#include "xmlesc.h"

#include <string.h>

size_t tr_utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2, v = b0 & 0x1F, min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3, v = b0 & 0x0F, min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4, v = b0 & 0x07, min = 0x10000;
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

bool tr_xml_is_char(uint32_t cp)
{
    if (cp == 0x9 || cp == 0xA || cp == 0xD)
        return true;
    if (cp >= 0x20 && cp <= 0xD7FF)
        return true;
    if (cp >= 0xE000 && cp <= 0xFFFD)
        return true;
    return cp >= 0x10000 && cp <= 0x10FFFF;
}

/* Controls a reader cannot see, or that a terminal would act on. */
static bool is_invisible_control(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F);
}

/* Appends to out[0..cap) without ever writing a partial piece; *len counts
 * what the complete output needs, so the caller learns the full size. */
typedef struct {
    char *out;
    size_t cap, len;
    size_t written; /* bytes really in out: a prefix made of whole pieces */
    bool full;      /* once a piece did not fit, nothing more is written */
} sink;

static void put(sink *k, const char *p, size_t n)
{
    if (!k->full && k->len + n < k->cap) {
        memcpy(k->out + k->len, p, n);
        k->written = k->len + n;
    } else {
        k->full = true;
    }
    k->len += n;
}

static void put_hex_bytes(sink *k, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        char esc[4] = {'\\', 'x', digits[p[i] >> 4], digits[p[i] & 15]};
        put(k, esc, 4);
    }
}

static void finish(sink *k)
{
    if (k->cap > 0)
        k->out[k->written] = '\0';
}

typedef enum { RUN_PLAIN, RUN_XML_TEXT, RUN_XML_ATTR } run_kind;

/* Length of the leading run of printable ASCII (0x20..0x7E) bytes that
 * need no escape in this kind of output: the common case, copied in one
 * piece instead of character by character. */
static size_t printable_ascii_run(const uint8_t *s, size_t n, run_kind kind)
{
    size_t i = 0;
    for (; i < n; i++) {
        uint8_t c = s[i];
        if (c < 0x20 || c >= 0x7F)
            break;
        if (kind != RUN_PLAIN && (c == '&' || c == '<' || c == '>'))
            break;
        if (kind == RUN_XML_ATTR && (c == '"' || c == '\''))
            break;
    }
    return i;
}

/* The entity or character reference for cp in this mode, or NULL. */
static const char *xml_reference(uint32_t cp, tr_xml_mode mode)
{
    switch (cp) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;"; /* also keeps "]]>" out of content */
    case '\r': return "&#13;";
    default: break;
    }
    if (mode != TR_XML_ATTR)
        return NULL;
    switch (cp) {
    case '"': return "&quot;";
    case '\'': return "&apos;";
    case '\t': return "&#9;";
    case '\n': return "&#10;";
    default: return NULL;
    }
}

size_t tr_xml_escape_bound(size_t n)
{
    return n * 6 + 1; /* "&quot;" and "&apos;" are the longest pieces */
}

size_t tr_xml_escape(const void *in, size_t n, tr_xml_mode mode,
                     char *out, size_t cap)
{
    const uint8_t *s = in;
    sink k = {out, cap, 0, 0, false};
    size_t i = 0;
    run_kind kind = mode == TR_XML_ATTR ? RUN_XML_ATTR : RUN_XML_TEXT;
    while (i < n) {
        size_t run = printable_ascii_run(s + i, n - i, kind);
        if (run) {
            put(&k, (const char *)s + i, run);
            i += run;
            continue;
        }
        uint32_t cp;
        size_t len = tr_utf8_next(s + i, n - i, &cp);
        if (len == 0) {
            put_hex_bytes(&k, s + i, 1); /* resynchronise on the next byte */
            i++;
            continue;
        }
        const char *ref = xml_reference(cp, mode);
        if (ref)
            put(&k, ref, strlen(ref));
        else if (!tr_xml_is_char(cp) ||
                 (is_invisible_control(cp) && cp != '\t' && cp != '\n'))
            put_hex_bytes(&k, s + i, len);
        else
            put(&k, (const char *)s + i, len);
        i += len;
    }
    finish(&k);
    return k.len;
}

size_t tr_text_sanitize_bound(size_t n)
{
    return n * 4 + 1;
}

size_t tr_text_sanitize(const void *in, size_t n, const char *keep,
                        char *out, size_t cap)
{
    const uint8_t *s = in;
    sink k = {out, cap, 0, 0, false};
    size_t i = 0;
    while (i < n) {
        size_t run = printable_ascii_run(s + i, n - i, RUN_PLAIN);
        if (run) {
            put(&k, (const char *)s + i, run);
            i += run;
            continue;
        }
        uint32_t cp;
        size_t len = tr_utf8_next(s + i, n - i, &cp);
        if (len == 0) {
            put_hex_bytes(&k, s + i, 1);
            i++;
            continue;
        }
        bool kept = cp != 0 && cp < 0x20 && keep && strchr(keep, (int)cp);
        if (is_invisible_control(cp) && !kept)
            put_hex_bytes(&k, s + i, len);
        else
            put(&k, (const char *)s + i, len);
        i += len;
    }
    finish(&k);
    return k.len;
}
