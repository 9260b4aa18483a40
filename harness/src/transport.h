/* transport.h — PC/SC: contexts, readers, card connections, APDU exchange.
 *
 * Owns: one SCARDCONTEXT per caller (each slot thread opens its own),
 * reader lookup by name pattern, event-driven waits for readers and cards
 * (SCardGetStatusChange, never fixed sleeps), exclusive connections (T=0 or
 * T=1), warm/cold reset, and the APDU exchange with automatic GET RESPONSE
 * (61xx) and Le correction (6Cxx), bounded so a token that answers 61xx
 * or 6Cxx forever is reported as the token's protocol defect, not a hang.
 * Every PC/SC error becomes a sentence a person understands.
 * Must not: parse suites, power tokens (the rig does), write reports.
 */
#ifndef TR_TRANSPORT_H
#define TR_TRANSPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct tr_pcsc tr_pcsc;
typedef struct tr_card tr_card;

int tr_pcsc_open(tr_pcsc **out, tr_err *e);
/* Talk to the pcscd at path (PCSCLITE_CSOCK_NAME). libpcsclite reads that
 * once per process, at the first context, and keeps one reader cache per
 * process: a process talks to one pcscd. Before the first context this
 * sets it (children exec'd later inherit it too); after, it is 0 for the
 * same socket and -1 (TR_E_RIG) for another one. */
int tr_pcsc_use_socket(const char *path, tr_err *e);
/* pcscd was restarted: contexts opened before fail from now on with
 * TR_E_SERVICE (their daemon is gone), whatever code the call returns. */
void tr_pcsc_service_restarted(void);
/* Does pcscd answer a new context now? */
bool tr_pcsc_service_alive(void);
void tr_pcsc_close(tr_pcsc *p);
/* Wake a tr_pcsc_wait_* in another thread (it returns TR_E_TIMEOUT). */
void tr_pcsc_cancel(tr_pcsc *p);

/* Reader names, NUL-separated, double-NUL-terminated (free() it). An empty
 * list is not an error: *names is "\0\0". */
int tr_pcsc_readers(tr_pcsc *p, char **names, tr_err *e);
/* First reader whose name matches pattern (fnmatch, or exact). 0 found,
 * -1 with TR_E_RIG when none. */
int tr_pcsc_find_reader(tr_pcsc *p, const char *pattern, char *out, size_t cap, tr_err *e);
/* Wait until a reader matching pattern exists (present=true) or none does. */
int tr_pcsc_wait_reader(tr_pcsc *p, const char *pattern, bool present, unsigned timeout_ms,
                        char *found, size_t cap, tr_err *e);
/* Wait until reader has a card (present=true) or has none / is gone. */
int tr_pcsc_wait_card(tr_pcsc *p, const char *reader, bool present, unsigned timeout_ms, tr_err *e);

/* Wait until the reader list changes (a reader arrives or leaves), or
 * timeout (then 0 too: the caller re-checks what it waits for). */
int tr_pcsc_wait_readers_change(tr_pcsc *p, unsigned timeout_ms, tr_err *e);
/* SCARD_ATTR_CHANNEL_ID of a reader through a direct connection (no card
 * needed). -1 when the driver does not answer it. */
int tr_pcsc_reader_channel_id(tr_pcsc *p, const char *reader, uint32_t *out, tr_err *e);

/* Wait until the reader's state (card present, powered, ...) changes from
 * what it is now, or timeout_ms pass; 0 either way, -1 on a PC/SC error. */
int tr_pcsc_wait_reader_state_change(tr_pcsc *p, const char *reader, unsigned timeout_ms, tr_err *e);

/* Connect exclusively (T=0 or T=1). */
int tr_card_connect(tr_pcsc *p, const char *reader, tr_card **out, tr_err *e);
/* Re-establish the connection after the card left and came back. */
int tr_card_reconnect(tr_card *c, tr_err *e);
void tr_card_disconnect(tr_card *c, bool unpower);

/* One command APDU; rsp gets data + SW1 SW2. 61xx and 6Cxx are resolved here.
 * Errors: TR_E_REMOVED (card gone); the token's protocol defects
 * TR_E_PROTO_61XX (a GET RESPONSE chain that never ends) and TR_E_PROTO_6CXX
 * (6Cxx again after a resend with the Le it asked for, or to an extended
 * APDU); TR_E_TOKEN (no status word, a response past a caller's buffer
 * smaller than TR_MAX_RAPDU); TR_E_PCSC. */
int tr_card_transmit(tr_card *c, const uint8_t *apdu, size_t n,
                     uint8_t *rsp, size_t cap, size_t *rlen, tr_err *e);
/* Warm reset, or cold reset (SCARD_UNPOWER_CARD). Refreshes the ATR. */
int tr_card_reset(tr_card *c, bool cold, tr_err *e);
size_t tr_card_atr(const tr_card *c, uint8_t *out, size_t cap);
const char *tr_card_reader(const tr_card *c);
/* SCARD_ATTR_CHANNEL_ID (CCID: 0x0020 << 16 | bus << 8 | address). */
int tr_card_channel_id(tr_card *c, uint32_t *out, tr_err *e);
/* Publish into *busy_ns the monotonic ns at which each exchange (one
 * SCardTransmit) starts, and 0 when it returns, for a watchdog in another
 * thread that declares the token mute. The word belongs to the watcher and
 * must outlive the card: the watcher reads only the word, never the card,
 * which a power cycle may free or replace meanwhile. NULL (the default)
 * publishes nowhere. Call from the thread that uses the card. */
void tr_card_publish_busy(tr_card *c, _Atomic uint64_t *busy_ns);

/* Human explanation of a PC/SC return code. */
const char *tr_pcsc_explain(long rv);

#endif
