/* atr.h — the structure of an Answer-To-Reset (ISO/IEC 7816-3 §8.2).
 *
 * Owns: deciding whether a byte string is a well-formed ATR — TS, T0, the
 * chain of interface bytes TAi..TDi, K historical bytes and the check byte
 * TCK (present, and XOR-correct, whenever a protocol other than T=0 is
 * indicated) — with a one-line reason when it is not. Used where an ATR
 * is configured (a rig's virtual slot, vtoken --atr), so that a typo is a
 * clear configuration error rather than a token pcscd refuses to power.
 * Must not: interpret the parameters (Fi/Di, guard time, protocols beyond
 * "T=0 only or not") or talk to a reader.
 */
#ifndef TR_ATR_H
#define TR_ATR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TR_ATR_MIN 2  /* TS and T0 */
#define TR_ATR_MAX 33 /* ISO/IEC 7816-3: at most 32 characters after TS */

/* True when atr[0..n) is a well-formed ATR. Otherwise false, with why (a
 * fragment such as "TS is 3A, expected 3B (direct) or 3F (inverse)")
 * written to why[0..cap) when why is not NULL. */
bool tr_atr_check(const uint8_t *atr, size_t n, char *why, size_t cap);

#endif
