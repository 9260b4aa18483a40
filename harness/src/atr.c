/* atr.c — see atr.h. */
#include "atr.h"

#include <stdarg.h>
#include <stdio.h>

static bool say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool say(char *why, size_t cap, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return false;
}

bool tr_atr_check(const uint8_t *atr, size_t n, char *why, size_t cap)
{
    if (n < TR_ATR_MIN || n > TR_ATR_MAX)
        return say(why, cap, "%zu bytes, an ATR has %d to %d", n, TR_ATR_MIN, TR_ATR_MAX);
    if (atr[0] != 0x3B && atr[0] != 0x3F)
        return say(why, cap, "TS is %02X, expected 3B (direct) or 3F (inverse convention)", atr[0]);
    /* T0 and every TDi: high nibble = which of TA/TB/TC/TD follow */
    size_t at = 1;
    unsigned y = atr[1] >> 4;
    bool tck = false;
    for (unsigned i = 1; y; i++) {
        size_t td = 0;
        for (unsigned bit = 0; bit < 4; bit++)
            if (y & (1u << bit))
                td = ++at; /* the last one counted is TDi when bit 3 is set */
        if (at >= n)
            return say(why, cap, "its interface bytes (TA%u..TD%u) run past its %zu bytes", i, i, n);
        if (!(y & 0x8))
            break;
        tck = tck || (atr[td] & 0x0F) != 0; /* a protocol other than T=0 */
        y = atr[td] >> 4;
    }
    size_t k = atr[1] & 0x0F;
    size_t want = at + 1 + k + (tck ? 1 : 0);
    if (want != n)
        return say(why, cap, "T0 and the interface bytes announce %zu historical bytes%s, "
                   "that is %zu bytes in all, not %zu", k, tck ? " and a TCK" : "", want, n);
    if (tck) {
        uint8_t x = 0;
        for (size_t i = 1; i < n; i++)
            x ^= atr[i];
        if (x)
            return say(why, cap, "TCK is %02X, expected %02X (XOR of T0..TCK must be 0)",
                       atr[n - 1], (uint8_t)(atr[n - 1] ^ x));
    }
    return true;
}
