/* rig.h — a slot at run time: its reader, its token connection, its power.
 *
 * Owns: the one slot interface over the kinds of slot — virtual (the
 * vtoken leaves and comes back through its control socket), usb-hub (port
 * power through usbhub.h, reader found by SCARD_ATTR_CHANNEL_ID), command
 * (the rig file's power_off / power_on command lines, rigcmd.h; reader by
 * pattern), pcsc-only (a cold reset is all the power it has), none (no
 * power at all: TR_E_NOPOWER) — and the power cycle with its
 * stage timings (off, device, reader, ATR), waited for by events with a
 * timeout per stage. It fills the tr_cardio the interpreter talks to.
 * Must not: parse suites or decide verdicts (it reports the stage reached;
 * the caller classifies).
 */
#ifndef TR_RIG_H
#define TR_RIG_H

#include <stdbool.h>

#include "cardio.h"
#include "config.h"
#include "error.h"
#include "transport.h"
#include "vrig.h"

typedef struct tr_slot tr_slot;

/* No PC/SC yet: call tr_slot_connect from the thread that will use the slot. */
int tr_slot_open(const tr_rig_cfg *rig, const tr_slot_cfg *cfg, const tr_vrig *vrig, tr_slot **out, tr_err *e);
/* Own PC/SC context and the reader's name, without waiting for a card (the
 * recognition loop starts from whatever state the token is in). */
int tr_slot_prepare(tr_slot *s, tr_err *e);
/* Own PC/SC context, find the reader, wait for the card, connect exclusively. */
int tr_slot_connect(tr_slot *s, tr_err *e);
void tr_slot_close(tr_slot *s);
/* pcscd went away: forget the card and the PC/SC context; the next
 * tr_slot_connect opens fresh ones (on the restarted daemon). */
void tr_slot_drop_service(tr_slot *s);

const char *tr_slot_name(const tr_slot *s);
const char *tr_slot_reader(const tr_slot *s);  /* "" before connect */
tr_card *tr_slot_card(tr_slot *s);             /* NULL before connect */
/* Where every card connection of the slot (the first one and those after a
 * power cycle) publishes when its current APDU started (see
 * tr_card_publish_busy): a word its watcher owns, so the watcher never
 * reads the card a power cycle may free. Set it before the slot's thread
 * starts, or from that thread. */
void tr_slot_publish_busy(tr_slot *s, _Atomic uint64_t *busy_ns);
const tr_slot_cfg *tr_slot_cfg_of(const tr_slot *s);
/* Where the slot's power is: "virtual", "hub 1-1.4 port 2", "reader <name>". */
void tr_slot_power_desc(const tr_slot *s, char *out, size_t cap);

/* Power on/off (virtual, usb-hub, command). pcsc-only slots have no power
 * switch (TR_E_RIG), none slots none at all (TR_E_NOPOWER). usb-hub:
 * verified (off: status bits and the device gone; on: the power bit read
 * back); command: the command exited 0 (a failure or a timeout is TR_E_RIG
 * naming it); detail (may be NULL) says how, and whether the device is on
 * the bus. */
int tr_slot_power_detail(tr_slot *s, bool on, char *detail, size_t cap, tr_err *e);
int tr_slot_power(tr_slot *s, bool on, tr_err *e);
/* off, wait until the token is gone, keep it off for the rig's off_ms, on,
 * wait for reader and card, reconnect. rep gets the stage timings and the
 * stage reached even on failure. A none slot: TR_E_NOPOWER at once,
 * nothing done (the interpreter skips the test: not-run.no-power). */
int tr_slot_power_cycle(tr_slot *s, tr_cycle_report *rep, tr_err *e);
/* A token that does not come back in PC/SC after a power-on (no reader,
 * or its reader without the card, within the rig's ready_timeout_ms) on a
 * bench whose PC/SC service must be restarted for that (the rig's
 * pcscd_restart: after a hub power cycle some kernels need exactly that
 * before the reader comes back): fn restarts the service and returns 0
 * once it answers again (-1 with e: the command failed, hung, or the
 * service did not come back); the power cycle then opens a fresh PC/SC
 * context and waits once more, its times counted from the restart, and
 * rep->note says so. At most once per power cycle, from the slot's thread;
 * since_ns is when the cycle's power-on began, why the wait's error.
 * Command and usb-hub slots (a virtual slot's reader never leaves). */
typedef int (*tr_slot_restart_fn)(void *ud, uint64_t since_ns, const char *why, tr_err *e);
void tr_slot_on_not_back(tr_slot *s, tr_slot_restart_fn fn, void *ud);
/* The defect class of a cycle that failed at the stage it reached:
 * none -> rig.port-not-switched (power-off never seen), off -> enum.no-device,
 * device -> enum.no-reader, reader -> enum.no-card, atr -> enum.no-answer. */
const char *tr_cycle_classify(const tr_cycle_report *rep);
/* The class of a power cycle that failed with e, shared by the run and
 * `tokenrig cycle`: what kept the cycle from being judged keeps its own
 * class (tr_code_name: the rig failing once power-off was seen, the host,
 * the configuration, and a vendor library that hung, io.mute, died,
 * lib.crash, or broke its process's protocol, io, as in any other call:
 * a library stuck listing devices says nothing of whether the token came
 * back); otherwise the stage the token reached (tr_cycle_classify).
 * error.h tr_cycle_verdict_judged tells the two apart. */
const char *tr_cycle_failure_class(const tr_err *e, const tr_cycle_report *rep);
/* The callbacks the interpreter uses (ctx = the slot). */
void tr_slot_cardio(tr_slot *s, tr_cardio *io);

#endif
