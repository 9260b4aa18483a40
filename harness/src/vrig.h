/* vrig.h — the hermetic virtual rig: a private pcscd + one vtoken per slot.
 *
 * Owns: bringing a virtual rig up (a pcscd in its own mount namespace with a
 * private socket and reader.conf directory — one per 16 slots: a pcscd
 * serves at most 16 readers, so slots 17-32 have a second one, and so on;
 * one vpcd reader.conf entry per pair of slots, each loading its own copy of the vpcd driver because vpcd
 * keeps per-slot state in statics; a test PKI, certificate and seal per
 * token made by mkpki, and the PKI faults (expired or renewal-due
 * certificate, a certificate of another CA, a seal of a rogue maker)
 * realized by what it issues; one vtoken per slot), waiting until every card is
 * present, recording PIDs in a state file, virtual power (the vtoken's
 * control socket: off = the token leaves, on = it comes back), and tearing
 * down exactly the processes it started, by PID.
 * Must not: touch /etc, /run outside its namespace, the system pcscd, or any
 * process it did not start.
 */
#ifndef TR_VRIG_H
#define TR_VRIG_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "error.h"
#include "vars.h"

typedef struct tr_vrig tr_vrig;

/* A pcscd serves at most 16 readers (PCSCLITE_MAX_READERS_CONTEXTS): a rig
 * of more slots has one pcscd per 16 (its groups), at most 16 of them. */
#define TR_VRIG_GROUP_SLOTS 16
#define TR_VRIG_MAX_GROUPS 16

/* Default instance directory of a rig: $TOKENRIG_VRIG_DIR, else
 * /tmp/tokenrig-<uid>/vrig-<rig name>. */
void tr_vrig_default_dir(const tr_rig_cfg *rig, char *out, size_t cap);

/* Bring the rig up in dir (created; must not hold a running rig). Returns
 * when every slot's card is present, or -1 (TR_E_RIG) with what is missing,
 * after tearing down what it started. A rig of one pcscd: this process
 * talks to it from now on (tr_pcsc_use_socket). A rig of several: each
 * group's readers are waited for in a child process of its own, and this
 * process talks to none yet (tr_vrig_use_group / tr_vrig_use_slot). */
int tr_vrig_up(const tr_rig_cfg *rig, const char *dir, unsigned timeout_ms, tr_vrig **out, tr_err *e);
/* Attach to a rig brought up earlier (reads dir/state.ini). -1 (TR_E_RIG)
 * when none runs there. A rig of one pcscd: this process talks to it. */
int tr_vrig_attach(const char *dir, tr_vrig **out, tr_err *e);
/* Stop every process of the rig by PID and remove its directory. */
int tr_vrig_down(tr_vrig *v, tr_err *e);
/* tr_vrig_down without freeing the handle (others may still read it). */
int tr_vrig_stop(const tr_vrig *v, tr_err *e);
/* Forget the handle without stopping anything. */
void tr_vrig_free(tr_vrig *v);

const char *tr_vrig_dir(const tr_vrig *v);
/* The first pcscd's socket (the only one of a rig of up to 16 slots). */
const char *tr_vrig_socket(const tr_vrig *v);
/* The rig's pcscds (groups of 16 slots), each one's socket and PID (NULL /
 * -1 past the last), the group serving a slot (-1 unknown slot). */
size_t tr_vrig_groups(const tr_vrig *v);
const char *tr_vrig_group_socket(const tr_vrig *v, size_t g);
pid_t tr_vrig_group_pcscd(const tr_vrig *v, size_t g);
int tr_vrig_slot_group(const tr_vrig *v, const char *slot);
/* From now on this process talks to group g's pcscd (tr_pcsc_use_socket;
 * -1 when it already talks to another one): its readers, and the pcscd
 * tr_vrig_restart_pcscd restarts. */
int tr_vrig_use_group(tr_vrig *v, size_t g, tr_err *e);
/* The same for the pcscd serving slot (the handle is not changed). */
int tr_vrig_use_slot(const tr_vrig *v, const char *slot, tr_err *e);
/* Reader name / vtoken PID of a slot; NULL / -1 when the slot is unknown. */
const char *tr_vrig_reader(const tr_vrig *v, const char *slot);
pid_t tr_vrig_token_pid(const tr_vrig *v, const char *slot);
/* Whose rig it is: pid > 0 = that process's (a run that brought it up: a
 * rig whose owner is gone is stale), 0 = brought up by `tokenrig rig up`
 * (stays until `rig down`). tr_vrig_save writes it to the state file. */
void tr_vrig_set_owner(tr_vrig *v, pid_t pid);
bool tr_vrig_owned(const tr_vrig *v);
__attribute__((warn_unused_result))
int tr_vrig_save(const tr_vrig *v, tr_err *e);
/* A rig left by a dead process: its owner is gone, or its pcscd or a
 * token's process died. why gets the reason. */
bool tr_vrig_stale(const tr_vrig *v, char *why, size_t cap);
/* Stop whatever the state file in dir recorded (by PID, checked against
 * /proc/PID/cmdline) and remove dir. NV memory outside dir is kept. */
void tr_vrig_reap(const char *dir);
/* The rig's pcscd died (the one this process talks to: tr_vrig_use_group
 * for a rig of several): start a new one on the same socket and
 * reader.conf, and wait until every one of its slots' readers and tokens
 * are back. */
int tr_vrig_restart_pcscd(tr_vrig *v, const tr_rig_cfg *rig, unsigned timeout_ms, tr_err *e);
/* The rig's nv_dir ("" when its tokens are fresh each bring-up). */
const char *tr_vrig_nv_dir(const tr_vrig *v);

/* The rig's trust anchors, what its slots' suites check against: CA_ROOT
 * (the root its tokens' certificates are issued under) and SEAL_MAKER_ROOT
 * (the seal maker's root), files of the PKI it made (under its nv_dir when
 * it has one). Sets both in vars; v NULL sets nothing. */
int tr_vrig_trust_vars(const tr_vrig *v, tr_vars *vars, tr_err *e);

/* Virtual power through the token's control socket. */
int tr_vrig_power(const tr_vrig *v, const char *slot, bool on, tr_err *e);
/* Restart a slot's vtoken with the same options and state file (after a
 * crash, or kill -9 in a test): PIN state must have survived. */
int tr_vrig_respawn(tr_vrig *v, const tr_rig_cfg *rig, const char *slot, tr_err *e);
/* One line of the token's status ("powered=1 connected=1 ..."). */
int tr_vrig_token_status(const tr_vrig *v, const char *slot, char *out, size_t cap, tr_err *e);

#endif
