/* p11slot.h — a pkcs11 slot at run time: a token reached through a PKCS#11
 * module rather than by APDUs.
 *
 * Owns: the slot's module session (p11.h: the module runs in a child
 * process of its own), finding the slot's token among the module's slots
 * with a token present (pkcs11_token: fnmatch on the token's label or
 * serial; neither: the slot's serial, else the only token), one read-write
 * session on it; a reset (all sessions closed and one opened again: PKCS#11
 * ends a login with the last session, so unlike SKF a reset is expressible)
 * and the power cycle as PKCS#11 sees it: the module unloaded (C_Finalize,
 * its child ended), off through the slot's switch when it has one (type
 * reload: none, the restart is a software token's power cycle), on, the
 * module loaded again, the same token listed by C_GetSlotList(CK_TRUE), a
 * session open. It fills the tr_cardio the interpreter uses.
 * Must not: decide verdicts or parse suites; call the module in this
 * process.
 */
#ifndef TR_P11SLOT_H
#define TR_P11SLOT_H

#include "cardio.h"
#include "config.h"
#include "error.h"
#include "p11.h"
#include "rig.h"

typedef struct tr_p11slot tr_p11slot;

int tr_p11slot_open(const tr_rig_cfg *rig, const tr_slot_cfg *cfg, tr_slot *power, tr_p11slot **out, tr_err *e);
/* Find the token and open a read-write session on it. */
int tr_p11slot_connect(tr_p11slot *s, tr_err *e);
void tr_p11slot_close(tr_p11slot *s);
tr_p11 *tr_p11slot_lib(tr_p11slot *s);
/* The token's label and serial (CK_TOKEN_INFO), "" before connect. */
const char *tr_p11slot_label(const tr_p11slot *s);
const char *tr_p11slot_serial(const tr_p11slot *s);
void tr_p11slot_cardio(tr_p11slot *s, tr_cardio *io);

#endif
