#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int tr_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long tr_hex_decode(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (*p == ' ' || *p == '\t')
            continue;
        int v = tr_hex_digit((unsigned char)*p);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n >= cap)
            return -1;
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    return hi < 0 ? (long)n : -1;
}

size_t tr_hex_encoded_size(size_t n, bool with_sep)
{
    return n * (with_sep ? 3 : 2) + 1;
}

char *tr_hex_encode(const uint8_t *in, size_t n, char *out, size_t cap, char sep)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    if (cap == 0)
        return out;
    for (size_t i = 0; i < n; i++) {
        size_t need = (sep && i) ? 3 : 2;
        if (o + need + 1 > cap)
            break;
        if (sep && i)
            out[o++] = sep;
        out[o++] = digits[in[i] >> 4];
        out[o++] = digits[in[i] & 15];
    }
    out[o] = '\0';
    return out;
}

uint64_t tr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tr_wall_iso(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

void tr_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

bool tr_strlcpy(char *dst, const char *src, size_t cap)
{
    if (cap == 0)
        return false;
    size_t n = strlen(src);
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

bool tr_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* One signed decimal; *end at what follows it. */
static bool parse_ll(const char *s, long long *v, const char **end)
{
    if (!s || !(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
        return false;
    char *e;
    errno = 0;
    *v = strtoll(s, &e, 10);
    *end = e;
    return errno == 0;
}

bool tr_count_parse(const char *s, tr_count *c)
{
    const char *end;
    memset(c, 0, sizeof *c);
    if (s && !strcmp(s, "n/a"))
        return true;
    if (!parse_ll(s, &c->lo, &end))
        return false;
    c->known = true;
    c->hi = c->lo;
    if (!*end)
        return true;
    return end[0] == '.' && end[1] == '.' && parse_ll(end + 2, &c->hi, &end) && !*end && c->lo <= c->hi;
}

bool tr_count_may_be(const tr_count *c, long long n)
{
    return !c->known || (c->lo <= n && n <= c->hi);
}

bool tr_parse_double(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

char *tr_trim(char *s)
{
    char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    size_t n = strlen(p);
    while (n && isspace((unsigned char)p[n - 1]))
        p[--n] = '\0';
    if (p != s)
        memmove(s, p, n + 1);
    return s;
}

double tr_ms_since(uint64_t t0_ns)
{
    return (double)(tr_now_ns() - t0_ns) / 1e6;
}

bool tr_var_is_pin(const char *name)
{
    size_t n = strlen(name);
    return n >= 3 && strcasecmp(name + n - 3, "PIN") == 0;
}

void tr_shell_quote(const char *a, char *out, size_t cap)
{
    static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=.,/:@%";
    if (*a && strspn(a, plain) == strlen(a)) {
        snprintf(out, cap, "%s", a);
        return;
    }
    size_t n = (size_t)snprintf(out, cap, "'");
    for (const char *p = a; *p && n < cap; p++)
        n += *p == '\'' ? (size_t)snprintf(out + n, cap - n, "'\\''") : (size_t)snprintf(out + n, cap - n, "%c", *p);
    if (n < cap)
        snprintf(out + n, cap - n, "'");
}
