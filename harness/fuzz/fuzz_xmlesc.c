/* fuzz_xmlesc.c — libFuzzer target for the XML escaper and the text
 * sanitiser (xmlesc.h).
 *
 * Input: byte 0 picks the mode (bit 0: attribute or text) and how short a
 * second, truncated output buffer is (the rest of byte 0); the remaining
 * bytes are the string. Checked on every input, aborting on violation:
 * - the output is well-formed UTF-8 made only of XML 1.0 Chars;
 * - no markup is left: no '<' or '>', every '&' starts one of the
 *   references the escaper writes, and in attribute mode no '"', TAB, LF
 *   or CR appears raw (they would be normalised away); no raw CR in text;
 * - the returned length matches what was written and stays in the bound;
 * - a too-small buffer gets a prefix of the full output cut between whole
 *   pieces (so it is itself well-formed);
 * - input that XML can carry as it is comes back unchanged after undoing
 *   the references (no information lost when none had to be);
 * - tr_text_sanitize leaves valid UTF-8 with no control characters but the
 *   ones asked to be kept.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmlesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_xmlesc: check failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                 \
            abort();                                                           \
        }                                                                      \
    } while (0)

static const char *const REFS[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;",
                                   "&#9;", "&#10;", "&#13;"};
static const char REF_CHARS[] = {'&', '<', '>', '"', '\'', '\t', '\n', '\r'};

/* The reference starting at s (which is at '&'), or -1. */
static int ref_at(const char *s, size_t n)
{
    for (int i = 0; i < 8; i++) {
        size_t len = strlen(REFS[i]);
        if (len <= n && memcmp(s, REFS[i], len) == 0)
            return i;
    }
    return -1;
}

static void check_xml_text(const char *out, size_t n, tr_xml_mode mode)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = tr_utf8_next((const uint8_t *)out + i, n - i, &cp);
        CHECK(k > 0);
        CHECK(tr_xml_is_char(cp));
        CHECK(cp != '<' && cp != '>');
        CHECK(cp != '\r');
        if (mode == TR_XML_ATTR)
            CHECK(cp != '"' && cp != '\t' && cp != '\n');
        if (cp == '&')
            CHECK(ref_at(out + i, n - i) >= 0);
        i += k;
    }
}

/* Undo the references; returns the decoded length. */
static size_t unescape(const char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int r = in[i] == '&' ? ref_at(in + i, n - i) : -1;
        if (r >= 0) {
            out[o++] = REF_CHARS[r];
            i += strlen(REFS[r]);
        } else {
            out[o++] = in[i++];
        }
    }
    return o;
}

/* True when XML can carry the input unchanged: valid UTF-8, XML Chars, no
 * controls but TAB/LF/CR, no DEL or C1 controls. */
static bool carried_as_is(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = tr_utf8_next(s + i, n - i, &cp);
        if (k == 0 || !tr_xml_is_char(cp))
            return false;
        if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F ||
            (cp >= 0x80 && cp <= 0x9F))
            return false;
        i += k;
    }
    return true;
}

static void fuzz_escape(const uint8_t *s, size_t n, tr_xml_mode mode, size_t short_cap)
{
    size_t bound = tr_xml_escape_bound(n);
    char *out = malloc(bound);
    CHECK(out);
    size_t len = tr_xml_escape(s, n, mode, out, bound);
    CHECK(len < bound);
    CHECK(strlen(out) == len);
    check_xml_text(out, len, mode);

    if (carried_as_is(s, n)) {
        char *back = malloc(len + 1);
        CHECK(back);
        size_t bn = unescape(out, len, back);
        CHECK(bn == n && memcmp(back, s, n) == 0);
        free(back);
    }

    /* truncated: a prefix of whole pieces, NUL-terminated */
    char *cut = malloc(short_cap + 1);
    CHECK(cut);
    size_t need = tr_xml_escape(s, n, mode, cut, short_cap + 1);
    CHECK(need == len);
    size_t cl = strlen(cut);
    CHECK(cl <= short_cap && cl <= len);
    CHECK(memcmp(cut, out, cl) == 0);
    check_xml_text(cut, cl, mode);
    free(cut);
    free(out);
}

static void fuzz_sanitize(const uint8_t *s, size_t n, const char *keep)
{
    size_t bound = tr_text_sanitize_bound(n);
    char *out = malloc(bound);
    CHECK(out);
    size_t len = tr_text_sanitize(s, n, keep, out, bound);
    CHECK(len < bound && strlen(out) == len);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = tr_utf8_next((const uint8_t *)out + i, len - i, &cp);
        CHECK(k > 0);
        CHECK(cp != 0x7F && !(cp >= 0x80 && cp <= 0x9F));
        CHECK(cp >= 0x20 || (cp != 0 && strchr(keep, (int)cp)));
        i += k;
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    tr_xml_mode mode = data[0] & 1 ? TR_XML_ATTR : TR_XML_TEXT;
    size_t short_cap = data[0] >> 1;
    fuzz_escape(data + 1, size - 1, mode, short_cap);
    fuzz_sanitize(data + 1, size - 1, data[0] & 2 ? "\t\n\r" : "");
    return 0;
}
