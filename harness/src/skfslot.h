/* skfslot.h — an SKF slot at run time: a token reached through its
 * vendor's GM/T 0016 library rather than by APDUs.
 *
 * Owns: the slot's library session (skf.h: the library runs in a child
 * process of its own), finding the slot's token among the library's
 * devices (skf_serial: DEVINFO's SerialNumber; skf_device: fnmatch on the
 * device name; neither: the slot's serial, else the only device), opening
 * its application and container (skf_app / skf_container, else the only
 * one), and the power cycle as SKF sees it: power off through the slot's
 * switch (rig.h), the device gone from SKF_EnumDev(TRUE), kept off for
 * off_ms, power on, listed again (cycles.csv "reader"), connected with its
 * application and container open ("atr"): each stage timed; the first call
 * after it is the interpreter's ("apdu"). It fills the tr_cardio the
 * interpreter uses for power-cycle (transmit NULL: an SKF slot has no
 * APDUs; the suites reach it with `skf` calls through their ops).
 * Must not: decide verdicts or parse suites; call the library in this
 * process.
 */
#ifndef TR_SKFSLOT_H
#define TR_SKFSLOT_H

#include "cardio.h"
#include "config.h"
#include "error.h"
#include "rig.h"
#include "skf.h"

typedef struct tr_skfslot tr_skfslot;

/* Start the library's child for slot cfg; power (may be NULL: no power
 * cycle) is the slot's switch. Nothing is called in the library yet. */
int tr_skfslot_open(const tr_rig_cfg *rig, const tr_slot_cfg *cfg, tr_slot *power, tr_skfslot **out, tr_err *e);

/* Find the token, connect, open its application and container. A token
 * not listed within the rig's ready_timeout_ms is TR_E_TIMEOUT (enum.no-card);
 * several that match, or none named when the library lists several, are
 * TR_E_CONFIG naming what was found. */
int tr_skfslot_connect(tr_skfslot *s, tr_err *e);

/* Close the handles (ignoring what a removed device answers) and end the
 * library's child. NULL is a no-op. */
void tr_skfslot_close(tr_skfslot *s);

tr_skf *tr_skfslot_lib(tr_skfslot *s);
/* The device's name in the library ("" before connect). */
const char *tr_skfslot_device(const tr_skfslot *s);
/* The device's serial from DEVINFO ("" before connect). */
const char *tr_skfslot_serial(const tr_skfslot *s);

/* The interpreter's callbacks: power_cycle (NULL when the slot has no
 * switch), no transmit, no reset, no ATR. */
void tr_skfslot_cardio(tr_skfslot *s, tr_cardio *io);

#endif
