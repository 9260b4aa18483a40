/* skfstmt.h — the suite language's `skf` statement: how an SKF call's
 * arguments and results meet suite variables.
 *
 * Owns: the symbolic constants a suite may name in an skf call (USER_TYPE,
 * ADMIN_TYPE, TRUE, FALSE, SGD_*: skf_abi.h), the names of the variables a
 * call sets, and turning a reply into them:
 *   SAR        the return code's name ("SAR_OK", "SAR_PIN_INCORRECT", or
 *              "0x0A0000F3" for a code the standard does not name)
 *   SAR_CODE   the return code as a number
 *   SKF_<OUT>  each number output of the function's shape (skf.h), named
 *              in capitals: SKF_MAX SKF_REMAIN SKF_DEFAULT (GetPINInfo),
 *              SKF_RETRY, SKF_STATE, SKF_TYPE, SKF_SIZE SKF_READ SKF_WRITE,
 *              SKF_EVENT
 *   SKF_OUT    the byte output, hex ("" when the call failed), SKF_OUTLEN
 *              its length; a name list also as SKF_LIST (names joined by
 *              ",") and SKF_COUNT; a device name (WaitForDevEvent) SKF_NAME;
 *              DEVINFO also as SKF_SERIAL SKF_LABEL SKF_MANUFACTURER
 *              SKF_ISSUER SKF_ASYM_CAP
 * Must not: call the library (skf.c) or evaluate expressions (interp.c).
 */
#ifndef TR_SKFSTMT_H
#define TR_SKFSTMT_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "skf.h"

/* The value of a constant a suite may name in an skf call's arguments. */
bool tr_skf_constant(const char *name, int64_t *value);

/* Every variable an skf statement may set, NULL-terminated (the pre-run
 * variable check and "one root cause, one failure" read it). */
extern const char *const TR_SKF_STMT_OUTPUTS[];

/* Set the variables of a reply through set (0, or -1 to stop). */
typedef int (*tr_skf_setter)(void *ud, const char *name, const char *value);
int tr_skf_stmt_results(const tr_skf_fn_info *fi, const tr_skf_reply *r, tr_skf_setter set, void *ud);

#endif
