/* html.c — see html.h. Escaping goes through xmlesc (the same rules as
 * junit.xml): HTML5 reads those entities and character references alike. */
#include "html.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmlesc.h"

void tr_html_init(tr_html *h, FILE *f)
{
    h->f = f;
    h->err = 0;
}

static void put(tr_html *h, const char *s, size_t n)
{
    if (h->err || !n)
        return;
    if (fwrite(s, 1, n, h->f) != n)
        h->err = errno ? errno : EIO;
}

void tr_html_raw(tr_html *h, const char *s)
{
    if (s)
        put(h, s, strlen(s));
}

void tr_html_fmt(tr_html *h, const char *fmt, ...)
{
    if (h->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(h->f, fmt, ap) < 0)
        h->err = errno ? errno : EIO;
    va_end(ap);
}

/* Escaped bytes of s[0..n) into the stream; short texts need no malloc. */
static void put_escaped(tr_html *h, const char *s, size_t n, tr_xml_mode mode)
{
    if (h->err)
        return;
    char small[1024];
    size_t need = tr_xml_escape(s, n, mode, small, sizeof small);
    if (need < sizeof small) {
        put(h, small, need);
        return;
    }
    char *big = malloc(need + 1);
    if (!big) {
        h->err = ENOMEM;
        return;
    }
    tr_xml_escape(s, n, mode, big, need + 1);
    put(h, big, need);
    free(big);
}

void tr_html_text(tr_html *h, const char *s)
{
    if (s)
        put_escaped(h, s, strlen(s), TR_XML_TEXT);
}

void tr_html_text_max(tr_html *h, const char *s, size_t max)
{
    if (!s)
        return;
    size_t n = strlen(s);
    if (n <= max) {
        put_escaped(h, s, n, TR_XML_TEXT);
        return;
    }
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--; /* not inside a UTF-8 sequence */
    put_escaped(h, s, max, TR_XML_TEXT);
    tr_html_raw(h, "\xE2\x80\xA6");
}

void tr_html_attr(tr_html *h, const char *name, const char *value)
{
    if (!value)
        return;
    tr_html_fmt(h, " %s=\"", name);
    put_escaped(h, value, strlen(value), TR_XML_ATTR);
    tr_html_raw(h, "\"");
}

void tr_html_num(tr_html *h, double v, int decimals)
{
    if (!isfinite(v))
        v = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", decimals < 0 ? 0 : decimals > 6 ? 6 : decimals, v);
    /* %f without the ' flag groups nothing: the decimal point is the only
     * character a locale changes */
    for (char *p = buf; *p; p++)
        if (*p == ',')
            *p = '.';
    if (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1))
        memmove(buf, buf + 1, strlen(buf)); /* "-0.0" is 0 */
    tr_html_raw(h, buf);
}

char *tr_html_escape(const char *s, bool attr)
{
    size_t n = strlen(s);
    tr_xml_mode mode = attr ? TR_XML_ATTR : TR_XML_TEXT;
    size_t need = tr_xml_escape(s, n, mode, NULL, 0);
    char *out = malloc(need + 1);
    if (out)
        tr_xml_escape(s, n, mode, out, need + 1);
    return out;
}

/* dir of path (".") and the temporary name beside it. */
static char *tmp_path_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t cap = strlen(path) + 48;
    char *tmp = malloc(cap);
    if (tmp)
        snprintf(tmp, cap, "%.*s.%s.tmp.%ld", (int)dlen, path, base, (long)getpid());
    return tmp;
}

int tr_html_write_file(const char *path, tr_html_fill_fn fill, const void *ctx, tr_err *e)
{
    char *tmp = tmp_path_for(path);
    if (!tmp)
        return tr_fail(e, TR_E_NOMEM, "%s: out of memory", path);
    FILE *f = fopen(tmp, "we");
    if (!f) {
        int rc = tr_fail(e, TR_E_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    tr_html h;
    tr_html_init(&h, f);
    fill(&h, ctx);
    errno = 0;
    int err = h.err;
    if (!err && (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0))
        err = errno ? errno : EIO;
    if (fclose(f) != 0 && !err)
        err = errno ? errno : EIO;
    if (!err && rename(tmp, path) != 0)
        err = errno ? errno : EIO;
    int rc = 0;
    if (err) {
        rc = tr_fail(e, err == ENOMEM ? TR_E_NOMEM : TR_E_IO, "%s: %s", path, strerror(err));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}
