/* util.h — small helpers every stage uses: hex, clocks, bounded strings.
 *
 * Owns: hex encode/decode, monotonic and wall clocks, string copy helpers.
 * Must not: know anything about tokens, suites or reports.
 */
#ifndef TR_UTIL_H
#define TR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Value of one hex digit (either case), -1 for anything else. */
int tr_hex_digit(int c);

/* Decode hex digits, ignoring spaces/tabs. Returns bytes written, or -1 on a
 * non-hex character, an odd digit count, or more than cap bytes. */
long tr_hex_decode(const char *hex, uint8_t *out, size_t cap);

/* Encode n bytes as uppercase hex. sep != 0 puts that char between bytes.
 * Always NUL-terminates (truncates if cap is too small). Returns out. */
char *tr_hex_encode(const uint8_t *in, size_t n, char *out, size_t cap, char sep);

/* Bytes needed to hex-encode n bytes (with separators) plus the NUL. */
size_t tr_hex_encoded_size(size_t n, bool with_sep);

/* Monotonic clock in nanoseconds. */
uint64_t tr_now_ns(void);

/* Wall clock as ISO 8601 UTC with milliseconds ("2026-11-30T12:00:00.123Z"). */
void tr_wall_iso(char *out, size_t cap);

/* Sleep for ms milliseconds (only for pacing in fixtures; waits in the
 * harness are event-driven). */
void tr_sleep_ms(unsigned ms);

/* Milliseconds since t0_ns (a tr_now_ns() reading). */
double tr_ms_since(uint64_t t0_ns);

/* snprintf-like bounded copy; returns false when truncated. */
bool tr_strlcpy(char *dst, const char *src, size_t cap);

/* Parse an unsigned decimal or 0x-hex integer fully; false on junk/overflow. */
bool tr_parse_u64(const char *s, uint64_t *out);
bool tr_parse_double(const char *s, double *out);

/* A count as a token operation reports it (suites/README.md, "Token
 * operations"): a whole number (negative ones too: -1 is "not given"); a
 * range "LO..HI" where the interface tells no more (PKCS#11's
 * CKF_USER_PIN_COUNT_LOW: somewhere between); or "n/a" (it tells nothing).
 * tr_count_parse: true when s is one (known false for n/a; lo = hi for a
 * number). tr_count_may_be: whether the count admits n (n/a admits all). */
typedef struct {
    bool known;
    long long lo, hi;
} tr_count;
bool tr_count_parse(const char *s, tr_count *c);
bool tr_count_may_be(const tr_count *c, long long n);

/* Trim leading/trailing whitespace in place; returns s. */
char *tr_trim(char *s);

/* arg as a POSIX shell reads it back: bare when it holds only characters
 * no shell treats specially, else in single quotes. out always terminated. */
void tr_shell_quote(const char *arg, char *out, size_t cap);

/* Does a variable of this name hold a PIN (its name ends in PIN, any case:
 * DEFAULT_PIN, SO_PIN, OP_NEW_PIN, WRONG_SO_PIN)? Its value is never shown:
 * trace rows and messages (interp.c), provenance and the command line
 * recorded in it (provenance.c) say <pin>. Names that merely describe a PIN
 * (PIN_MAX_TRIES, USER_PIN_REF) are not secrets. */
bool tr_var_is_pin(const char *name);

#endif
