#include "transport.h"

#include <PCSC/winscard.h>
#include <PCSC/reader.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cardio.h" /* TR_MAX_RAPDU */
#include "util.h"

/* GET RESPONSE rounds before we call the token broken: 256 rounds of 256
 * bytes already exceed the largest response REF-1 can produce. */
#define MAX_GET_RESPONSE_ROUNDS 256
#define MAX_LE_RETRIES 2
/* pcscd polls card presence every 400 ms */
#define REMOVAL_GRACE_MS 1500
#define ATR_SETTLE_MS 1000     /* connected card, ATR not shown yet (card_refresh_atr) */
#define ATR_SETTLE_ROUNDS 100

struct tr_pcsc {
    SCARDCONTEXT ctx;
    unsigned gen;              /* tr_pcsc_service_generation when opened */
};

/* Bumped by whoever restarts pcscd: a context from before is dead. */
static atomic_uint g_service_gen;

void tr_pcsc_service_restarted(void)
{
    atomic_fetch_add(&g_service_gen, 1);
}

struct tr_card {
    tr_pcsc *p;
    SCARDHANDLE h;
    DWORD proto;
    char reader[256];
    uint8_t atr[MAX_ATR_SIZE];
    size_t atr_len;
    _Atomic uint64_t *busy_ns; /* the watcher's word (tr_card_publish_busy), or NULL */
};

const char *tr_pcsc_explain(long rv)
{
    switch ((LONG)rv) {
    case SCARD_S_SUCCESS: return "success";
    case SCARD_E_NO_SERVICE:
        return "pcscd is not running (or PCSCLITE_CSOCK_NAME points to a socket no daemon serves)";
    case SCARD_E_SERVICE_STOPPED: return "pcscd stopped";
    case SCARD_E_NO_READERS_AVAILABLE: return "no smart-card reader is connected";
    case SCARD_E_UNKNOWN_READER: return "the reader is not known to pcscd (unplugged or renamed)";
    case SCARD_E_READER_UNAVAILABLE: return "the reader is unavailable (unplugged or powered off)";
    case SCARD_E_NO_SMARTCARD: return "no token in the reader";
    case SCARD_W_REMOVED_CARD: return "the token was removed";
    case SCARD_W_RESET_CARD: return "the token was reset by another program";
    case SCARD_W_UNRESPONSIVE_CARD: return "the token does not answer the reset (no ATR)";
    case SCARD_W_UNPOWERED_CARD: return "the token is not powered";
    case SCARD_E_SHARING_VIOLATION:
        return "the reader is in use by another program (exclusive access refused): close pcsc_scan, browsers' PKCS#11 modules, vendor tools";
    case SCARD_E_TIMEOUT: return "timed out";
    case SCARD_E_CANCELLED: return "cancelled";
    case SCARD_E_PROTO_MISMATCH: return "the token speaks neither T=0 nor T=1 as requested";
    case SCARD_E_NOT_TRANSACTED: return "the APDU exchange failed (reader or token stopped answering)";
    case SCARD_F_COMM_ERROR: return "communication error with the reader driver";
    case SCARD_E_INSUFFICIENT_BUFFER: return "response larger than the buffer";
    case SCARD_E_INVALID_PARAMETER: return "invalid parameter (APDU too long or malformed?)";
    case SCARD_E_INVALID_HANDLE: return "the connection is no longer valid";
    case SCARD_E_NO_MEMORY: return "out of memory in PC/SC";
    case SCARD_E_UNSUPPORTED_FEATURE: return "the reader driver does not support this";
    default: return pcsc_stringify_error((LONG)rv);
    }
}

/* The pcscd this process talks to. libpcsclite reads PCSCLITE_CSOCK_NAME
 * once, at its first context, and keeps one reader-state cache for the
 * whole process: a process talks to one pcscd. g_bound says that moment has
 * come, g_socket which daemon it was ("" the default one). */
static pthread_mutex_t g_socket_mu = PTHREAD_MUTEX_INITIALIZER;
static bool g_bound;
static char g_socket[256];

static void bind_socket(void)
{
    pthread_mutex_lock(&g_socket_mu);
    if (!g_bound) {
        const char *env = getenv("PCSCLITE_CSOCK_NAME");
        tr_strlcpy(g_socket, env ? env : "", sizeof g_socket);
        g_bound = true;
    }
    pthread_mutex_unlock(&g_socket_mu);
}

int tr_pcsc_use_socket(const char *path, tr_err *e)
{
    int rc = 0;
    pthread_mutex_lock(&g_socket_mu);
    if (!g_bound) {
        if (setenv("PCSCLITE_CSOCK_NAME", path, 1) < 0)
            rc = tr_fail(e, TR_E_NOMEM, "setenv PCSCLITE_CSOCK_NAME: out of memory");
    } else if (strcmp(g_socket, path)) {
        rc = tr_fail(e, TR_E_RIG, "this process already talks to the pcscd at %s: it cannot reach the one at %s "
                     "too (libpcsclite serves one pcscd per process)", g_socket[0] ? g_socket : "(default)", path);
    }
    pthread_mutex_unlock(&g_socket_mu);
    return rc;
}

/* Is pcscd still there? A fresh context answers that without touching the
 * caller's (which a dead daemon leaves invalid). */
static bool service_alive(void)
{
    bind_socket();
    SCARDCONTEXT ctx;
    /* any failure counts: a daemon that is dying may still accept the
     * connection and then fail the request (SCARD_F_COMM_ERROR) */
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
    if (rv != SCARD_S_SUCCESS)
        return false;
    SCardReleaseContext(ctx);
    return true;
}

bool tr_pcsc_service_alive(void)
{
    return service_alive();
}

static int pcsc_fail(tr_err *e, LONG rv, const char *what)
{
    tr_code code = TR_E_PCSC;
    if (rv == SCARD_W_REMOVED_CARD || rv == SCARD_E_NO_SMARTCARD)
        code = TR_E_REMOVED;
    else if (rv == SCARD_E_TIMEOUT)
        code = TR_E_TIMEOUT;
    else if (rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED ||
             /* the daemon does not take this connection as ours: seen right
              * after a pcscd restart (1 resumed suite in ~24) */
             rv == SCARD_W_SECURITY_VIOLATION ||
             ((rv == SCARD_F_COMM_ERROR || rv == SCARD_E_INVALID_HANDLE || rv == SCARD_E_READER_UNAVAILABLE ||
               rv == SCARD_E_UNKNOWN_READER) && !service_alive()))
        code = TR_E_SERVICE; /* not the token's doing: the daemon went away */
    return tr_fail(e, code, "%s: %s (0x%08lX)", what, tr_pcsc_explain(rv), (unsigned long)rv);
}

/* A call on a context opened before pcscd was restarted fails because the
 * daemon it belonged to is gone, whatever the error code says. */
static int pcsc_fail_on(const tr_pcsc *p, tr_err *e, LONG rv, const char *what)
{
    if (p && p->gen != atomic_load(&g_service_gen))
        return tr_fail(e, TR_E_SERVICE, "%s: the pcscd this connection belonged to was restarted (%s)", what,
                       tr_pcsc_explain(rv));
    return pcsc_fail(e, rv, what);
}

int tr_pcsc_open(tr_pcsc **out, tr_err *e)
{
    tr_pcsc *p = calloc(1, sizeof *p);
    if (!p)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    p->gen = atomic_load(&g_service_gen);
    bind_socket();
    LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->ctx);
    if (rv != SCARD_S_SUCCESS) {
        free(p);
        return pcsc_fail(e, rv, "cannot reach pcscd");
    }
    *out = p;
    return 0;
}

void tr_pcsc_close(tr_pcsc *p)
{
    if (!p)
        return;
    SCardReleaseContext(p->ctx);
    free(p);
}

void tr_pcsc_cancel(tr_pcsc *p)
{
    if (p)
        SCardCancel(p->ctx);
}

int tr_pcsc_readers(tr_pcsc *p, char **names, tr_err *e)
{
    DWORD len = 0;
    LONG rv = SCardListReaders(p->ctx, NULL, NULL, &len);
    if (rv == SCARD_E_NO_READERS_AVAILABLE || (rv == SCARD_S_SUCCESS && len <= 1)) {
        *names = calloc(1, 2);
        return *names ? 0 : tr_fail(e, TR_E_NOMEM, "out of memory");
    }
    if (rv != SCARD_S_SUCCESS)
        return pcsc_fail(e, rv, "cannot list readers");
    char *buf = calloc(1, (size_t)len + 2);
    if (!buf)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    rv = SCardListReaders(p->ctx, NULL, buf, &len);
    if (rv == SCARD_E_NO_READERS_AVAILABLE) {
        buf[0] = buf[1] = '\0';
    } else if (rv != SCARD_S_SUCCESS) {
        free(buf);
        return pcsc_fail(e, rv, "cannot list readers");
    }
    *names = buf;
    return 0;
}

static bool reader_matches(const char *pattern, const char *name)
{
    return !strcmp(pattern, name) || fnmatch(pattern, name, 0) == 0;
}

/* 1 found, 0 not found, -1 error */
static int find_reader(tr_pcsc *p, const char *pattern, char *out, size_t cap, tr_err *e)
{
    char *names;
    if (tr_pcsc_readers(p, &names, e) < 0)
        return -1;
    int found = 0;
    for (const char *n = names; *n; n += strlen(n) + 1)
        if (reader_matches(pattern, n)) {
            if (out)
                tr_strlcpy(out, n, cap);
            found = 1;
            break;
        }
    free(names);
    return found;
}

int tr_pcsc_find_reader(tr_pcsc *p, const char *pattern, char *out, size_t cap, tr_err *e)
{
    int r = find_reader(p, pattern, out, cap, e);
    if (r < 0)
        return -1;
    if (r == 0)
        return tr_fail(e, TR_E_RIG, "no reader matches '%s' (see `tokenrig list`)", pattern);
    return 0;
}

static unsigned remaining_ms(uint64_t deadline)
{
    uint64_t now = tr_now_ns();
    return now >= deadline ? 0 : (unsigned)((deadline - now) / 1000000u);
}

int tr_pcsc_wait_reader(tr_pcsc *p, const char *pattern, bool present, unsigned timeout_ms,
                        char *found, size_t cap, tr_err *e)
{
    uint64_t deadline = tr_now_ns() + (uint64_t)timeout_ms * 1000000u;
    SCARD_READERSTATE pnp = {.szReader = "\\\\?PnP?\\Notification", .dwCurrentState = SCARD_STATE_UNAWARE};
    for (;;) {
        /* Arm the PnP state before listing, so a change between the list and
         * the wait is not missed. */
        SCardGetStatusChange(p->ctx, 0, &pnp, 1);
        pnp.dwCurrentState = pnp.dwEventState & ~SCARD_STATE_CHANGED;
        int r = find_reader(p, pattern, found, cap, e);
        if (r < 0)
            return -1;
        if ((r == 1) == present)
            return 0;
        unsigned left = remaining_ms(deadline);
        if (left == 0)
            return tr_fail(e, TR_E_TIMEOUT, "reader '%s' %s after %u ms", pattern,
                           present ? "did not appear" : "did not go away", timeout_ms);
        LONG rv = SCardGetStatusChange(p->ctx, left, &pnp, 1);
        if (rv == SCARD_E_TIMEOUT || rv == SCARD_E_CANCELLED)
            continue; /* loop re-checks and reports the timeout */
        if (rv != SCARD_S_SUCCESS)
            return pcsc_fail_on(p, e, rv, "waiting for readers");
        pnp.dwCurrentState = pnp.dwEventState & ~SCARD_STATE_CHANGED;
    }
}

int tr_pcsc_wait_readers_change(tr_pcsc *p, unsigned timeout_ms, tr_err *e)
{
    SCARD_READERSTATE pnp = {.szReader = "\\\\?PnP?\\Notification", .dwCurrentState = SCARD_STATE_UNAWARE};
    SCardGetStatusChange(p->ctx, 0, &pnp, 1);
    pnp.dwCurrentState = pnp.dwEventState & ~SCARD_STATE_CHANGED;
    LONG rv = SCardGetStatusChange(p->ctx, timeout_ms, &pnp, 1);
    if (rv == SCARD_S_SUCCESS || rv == SCARD_E_TIMEOUT || rv == SCARD_E_CANCELLED)
        return 0;
    return pcsc_fail_on(p, e, rv, "waiting for readers");
}

int tr_pcsc_reader_channel_id(tr_pcsc *p, const char *reader, uint32_t *out, tr_err *e)
{
    SCARDHANDLE h;
    DWORD proto = 0;
    LONG rv = SCardConnect(p->ctx, reader, SCARD_SHARE_DIRECT, 0, &h, &proto);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_fail_on(p, e, rv, reader);
    uint8_t buf[8];
    DWORD len = sizeof buf;
    rv = SCardGetAttrib(h, SCARD_ATTR_CHANNEL_ID, buf, &len);
    SCardDisconnect(h, SCARD_LEAVE_CARD);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_fail_on(p, e, rv, "reading SCARD_ATTR_CHANNEL_ID");
    if (len != 4)
        return tr_fail(e, TR_E_PCSC, "SCARD_ATTR_CHANNEL_ID has %lu bytes, expected 4", (unsigned long)len);
    memcpy(out, buf, 4);
    return 0;
}

int tr_pcsc_wait_card(tr_pcsc *p, const char *reader, bool present, unsigned timeout_ms, tr_err *e)
{
    uint64_t deadline = tr_now_ns() + (uint64_t)timeout_ms * 1000000u;
    SCARD_READERSTATE st = {.szReader = reader};
    for (;;) {
        /* fresh state first (UNAWARE returns at once), then sleep on changes */
        st.dwCurrentState = SCARD_STATE_UNAWARE;
        LONG rv = SCardGetStatusChange(p->ctx, 0, &st, 1);
        bool gone = rv == SCARD_E_UNKNOWN_READER || rv == SCARD_E_READER_UNAVAILABLE ||
                    (rv == SCARD_S_SUCCESS && (st.dwEventState & (SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE)));
        if (rv != SCARD_S_SUCCESS && !gone)
            return pcsc_fail_on(p, e, rv, "waiting for the token");
        bool has_card = !gone && (st.dwEventState & SCARD_STATE_PRESENT) && !(st.dwEventState & SCARD_STATE_MUTE);
        if (has_card == present)
            return 0;
        unsigned left = remaining_ms(deadline);
        if (left == 0)
            return tr_fail(e, TR_E_TIMEOUT, "%s: token %s after %u ms", reader,
                           present ? "did not arrive" : "did not leave", timeout_ms);
        if (gone) {
            /* the reader itself is missing: wait for the reader list to change */
            char tmp[256];
            tr_err sub;
            if (tr_pcsc_wait_reader(p, reader, true, left, tmp, sizeof tmp, &sub) < 0 && sub.code != TR_E_TIMEOUT) {
                *e = sub;
                return -1;
            }
            continue;
        }
        st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
        rv = SCardGetStatusChange(p->ctx, left, &st, 1);
        if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT && rv != SCARD_E_CANCELLED &&
            rv != SCARD_E_UNKNOWN_READER && rv != SCARD_E_READER_UNAVAILABLE)
            return pcsc_fail_on(p, e, rv, "waiting for the token");
    }
}

/* Read the connected card's ATR and protocol. A card that answered
 * SCardConnect always has an ATR, but right after a power cycle pcscd may
 * still hand out the reader's previous state for a moment (seen on a loaded
 * machine, about once in 1500 virtual cycles: SCARD_S_SUCCESS, state
 * SCARD_ABSENT, no ATR; 10 ms later PRESENT|POWERED with the ATR). An empty
 * ATR therefore waits for pcscd's next state change of this reader and reads
 * again, for at most ATR_SETTLE_MS. */
int tr_pcsc_wait_reader_state_change(tr_pcsc *p, const char *reader, unsigned timeout_ms, tr_err *e)
{
    SCARD_READERSTATE st = {.szReader = reader, .dwCurrentState = SCARD_STATE_UNAWARE};
    LONG rv = SCardGetStatusChange(p->ctx, 0, &st, 1);
    if (rv != SCARD_S_SUCCESS)
        return rv == SCARD_E_UNKNOWN_READER || rv == SCARD_E_READER_UNAVAILABLE ? 0 : pcsc_fail(e, rv, reader);
    st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
    rv = SCardGetStatusChange(p->ctx, timeout_ms, &st, 1);
    if (rv == SCARD_S_SUCCESS || rv == SCARD_E_TIMEOUT || rv == SCARD_E_CANCELLED || rv == SCARD_E_UNKNOWN_READER ||
        rv == SCARD_E_READER_UNAVAILABLE)
        return 0;
    return pcsc_fail_on(p, e, rv, reader);
}

static int card_refresh_atr(tr_card *c, tr_err *e)
{
    uint64_t deadline = tr_now_ns() + (uint64_t)ATR_SETTLE_MS * 1000000u;
    for (unsigned round = 0;; round++) {
        char name[256];
        DWORD nlen = sizeof name, state = 0, proto = 0, alen = sizeof c->atr;
        LONG rv = SCardStatus(c->h, name, &nlen, &state, &proto, c->atr, &alen);
        if (rv != SCARD_S_SUCCESS)
            return pcsc_fail_on(c->p, e, rv, c->reader);
        c->atr_len = alen;
        c->proto = proto;
        if (alen > 0)
            return 0;
        unsigned left = remaining_ms(deadline);
        if (left == 0 || round == ATR_SETTLE_ROUNDS)
            return tr_fail(e, TR_E_TIMEOUT, "%s: connected, but PC/SC shows no ATR after %u ms", c->reader,
                           ATR_SETTLE_MS);
        SCARD_READERSTATE st = {.szReader = c->reader, .dwCurrentState = SCARD_STATE_UNAWARE};
        if (SCardGetStatusChange(c->p->ctx, 0, &st, 1) != SCARD_S_SUCCESS || st.cbAtr > 0)
            continue; /* pcscd already knows better: read the status again */
        st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
        SCardGetStatusChange(c->p->ctx, left, &st, 1);
    }
}

/* The exclusive connection a slot holds. Another program may hold the
 * token for a moment (a vendor's SKF library listing its devices probes
 * every reader, so do pcsc_scan and browsers' modules): a refused exclusive
 * connect is asked again for SHARING_GRACE_MS before it is an error. */
#define SHARING_GRACE_MS 3000
static LONG connect_exclusive(SCARDCONTEXT ctx, const char *reader, SCARDHANDLE *h, DWORD *proto)
{
    uint64_t end = tr_now_ns() + (uint64_t)SHARING_GRACE_MS * 1000000ull;
    for (;;) {
        LONG rv = SCardConnect(ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, h, proto);
        if (rv != SCARD_E_SHARING_VIOLATION || tr_now_ns() >= end)
            return rv;
        tr_sleep_ms(20);
    }
}

int tr_card_connect(tr_pcsc *p, const char *reader, tr_card **out, tr_err *e)
{
    tr_card *c = calloc(1, sizeof *c);
    if (!c)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    c->p = p;
    tr_strlcpy(c->reader, reader, sizeof c->reader);
    LONG rv = connect_exclusive(p->ctx, reader, &c->h, &c->proto);
    if (rv != SCARD_S_SUCCESS) {
        free(c);
        char what[300];
        snprintf(what, sizeof what, "cannot connect to %s", reader);
        return pcsc_fail_on(p, e, rv, what);
    }
    if (card_refresh_atr(c, e) < 0) {
        SCardDisconnect(c->h, SCARD_LEAVE_CARD);
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int tr_card_reconnect(tr_card *c, tr_err *e)
{
    SCardDisconnect(c->h, SCARD_LEAVE_CARD);
    LONG rv = connect_exclusive(c->p->ctx, c->reader, &c->h, &c->proto);
    if (rv != SCARD_S_SUCCESS) {
        c->h = 0;
        char what[300];
        snprintf(what, sizeof what, "cannot reconnect to %s", c->reader);
        return pcsc_fail_on(c->p, e, rv, what);
    }
    return card_refresh_atr(c, e);
}

void tr_card_disconnect(tr_card *c, bool unpower)
{
    if (!c)
        return;
    if (c->h)
        SCardDisconnect(c->h, unpower ? SCARD_UNPOWER_CARD : SCARD_LEAVE_CARD);
    free(c);
}

size_t tr_card_atr(const tr_card *c, uint8_t *out, size_t cap)
{
    size_t n = c->atr_len < cap ? c->atr_len : cap;
    memcpy(out, c->atr, n);
    return n;
}

const char *tr_card_reader(const tr_card *c) { return c->reader; }

void tr_card_publish_busy(tr_card *c, _Atomic uint64_t *busy_ns)
{
    c->busy_ns = busy_ns;
}

int tr_card_reset(tr_card *c, bool cold, tr_err *e)
{
    LONG rv = SCardReconnect(c->h, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                             cold ? SCARD_UNPOWER_CARD : SCARD_RESET_CARD, &c->proto);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_fail_on(c->p, e, rv, cold ? "cold reset" : "warm reset");
    return card_refresh_atr(c, e);
}

int tr_card_channel_id(tr_card *c, uint32_t *out, tr_err *e)
{
    uint8_t buf[8];
    DWORD len = sizeof buf;
    LONG rv = SCardGetAttrib(c->h, SCARD_ATTR_CHANNEL_ID, buf, &len);
    if (rv != SCARD_S_SUCCESS)
        return pcsc_fail_on(c->p, e, rv, "reading SCARD_ATTR_CHANNEL_ID");
    if (len != 4)
        return tr_fail(e, TR_E_PCSC, "SCARD_ATTR_CHANNEL_ID has %lu bytes, expected 4", (unsigned long)len);
    uint32_t v;
    memcpy(&v, buf, 4); /* a DWORD in host order */
    *out = v;
    return 0;
}

/* After a failed exchange, tell "the token left" apart from other faults. */
static int exchange_fail(tr_card *c, LONG rv, tr_err *e)
{
    if (rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED || c->p->gen != atomic_load(&g_service_gen) ||
        !service_alive())
        return tr_fail(e, TR_E_SERVICE, "%s: pcscd went away during the exchange (%s)", c->reader,
                       tr_pcsc_explain(rv));
    DWORD state = 0, proto = 0, alen = 0, nlen = 0;
    LONG st = SCardStatus(c->h, NULL, &nlen, &state, &proto, NULL, &alen);
    if (rv == SCARD_W_REMOVED_CARD || rv == SCARD_E_NO_SMARTCARD || st == SCARD_W_REMOVED_CARD ||
        st == SCARD_E_NO_SMARTCARD || st == SCARD_E_READER_UNAVAILABLE ||
        (st == SCARD_S_SUCCESS && (state & SCARD_ABSENT)))
        return tr_fail(e, TR_E_REMOVED, "%s: the token was removed during the exchange (%s)", c->reader,
                       tr_pcsc_explain(rv));
    /* A token that vanished mid-exchange shows as absent only at pcscd's next
     * presence poll (every 400 ms): wait for that event, briefly. */
    if (rv == SCARD_E_NOT_TRANSACTED || rv == SCARD_F_COMM_ERROR || rv == SCARD_W_UNRESPONSIVE_CARD) {
        tr_err sub;
        if (tr_pcsc_wait_card(c->p, c->reader, false, REMOVAL_GRACE_MS, &sub) == 0)
            return tr_fail(e, TR_E_REMOVED, "%s: the token disappeared during the exchange (%s)", c->reader,
                           tr_pcsc_explain(rv));
    }
    return pcsc_fail_on(c->p, e, rv, c->reader);
}

static int raw_transmit(tr_card *c, const uint8_t *apdu, size_t n, uint8_t *rsp, size_t cap,
                        size_t *rlen, tr_err *e)
{
    const SCARD_IO_REQUEST *pci = c->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    DWORD len = (DWORD)cap;
    if (c->busy_ns)
        atomic_store(c->busy_ns, tr_now_ns());
    LONG rv = SCardTransmit(c->h, pci, apdu, (DWORD)n, NULL, rsp, &len);
    if (c->busy_ns)
        atomic_store(c->busy_ns, 0);
    if (rv != SCARD_S_SUCCESS)
        return exchange_fail(c, rv, e);
    if (len < 2)
        return tr_fail(e, TR_E_TOKEN, "%s: response of %lu bytes has no status word", c->reader,
                       (unsigned long)len);
    *rlen = len;
    return 0;
}

/* The same command with Le set to le (short APDUs only). */
static size_t with_le(const uint8_t *apdu, size_t n, uint8_t le, uint8_t *out)
{
    size_t body = n;
    if (n == 5)
        body = 4; /* case 2: replace Le */
    else if (n > 5 && apdu[4] != 0 && n == (size_t)apdu[4] + 6)
        body = n - 1; /* case 4: replace Le */
    memcpy(out, apdu, body);
    out[body] = le;
    return body + 1;
}

/* 6Cxx: the token says Le was wrong and which one it wants; resend with
 * that Le, at most MAX_LE_RETRIES times. A token that keeps answering 6Cxx
 * to the Le it asked for breaks the protocol: that is the token's defect
 * (TR_E_PROTO_6CXX), not a transport error. */
static int resolve_6cxx(tr_card *c, const uint8_t *apdu, size_t n, uint8_t *rsp, size_t cap, size_t *len,
                        tr_err *e)
{
    for (int tries = 0; rsp[*len - 2] == 0x6C; tries++) {
        uint8_t asked = rsp[*len - 1];
        if (n >= 7 && apdu[4] == 0)
            return tr_fail(e, TR_E_PROTO_6CXX, "%s: the token answered 6C%02X to an extended APDU (6Cxx "
                           "names a short Le: it cannot be resent)", c->reader, asked);
        if (tries == MAX_LE_RETRIES)
            return tr_fail(e, TR_E_PROTO_6CXX, "%s: the token answered 6C%02X again after %d resends with "
                           "the Le it asked for: a 6Cxx loop", c->reader, asked, MAX_LE_RETRIES);
        uint8_t again[261]; /* the longest short APDU: 4 + Lc + 255 data + Le */
        if (n > sizeof again)
            return tr_fail(e, TR_E_PROTO_6CXX, "%s: the token answered 6C%02X to a %zu-byte command, "
                           "longer than any short APDU", c->reader, asked, n);
        size_t m = with_le(apdu, n, asked, again);
        if (raw_transmit(c, again, m, rsp, cap, len, e) < 0)
            return -1;
    }
    return 0;
}

/* 61xx: more data waiting; fetch it with GET RESPONSE and append. Bounded:
 * a token whose chain never ends (more rounds than the largest REF-1
 * response needs, or more bytes than any response APDU can carry) breaks
 * the protocol (TR_E_PROTO_61XX). */
static int resolve_61xx(tr_card *c, const uint8_t *apdu, uint8_t *rsp, size_t cap, size_t *have, tr_err *e)
{
    for (int round = 0; rsp[*have] == 0x61; round++) {
        if (round >= MAX_GET_RESPONSE_ROUNDS)
            return tr_fail(e, TR_E_PROTO_61XX, "%s: the token answered 61xx %d times in a row (%zu bytes so "
                           "far): a GET RESPONSE chain that never ends", c->reader, round, *have);
        uint8_t gr[5] = {(uint8_t)(apdu[0] & 0x03), 0xC0, 0x00, 0x00, rsp[*have + 1]};
        size_t want = gr[4] ? gr[4] : 256;
        if (*have + want + 2 > cap) {
            if (cap >= TR_MAX_RAPDU)
                return tr_fail(e, TR_E_PROTO_61XX, "%s: the response grows past %d bytes through GET "
                               "RESPONSE (61xx after 61xx): no response APDU is that long", c->reader,
                               TR_MAX_RAPDU - 2);
            return tr_fail(e, TR_E_TOKEN, "%s: the response grows past the %zu-byte buffer through GET "
                           "RESPONSE", c->reader, cap);
        }
        size_t got;
        if (raw_transmit(c, gr, sizeof gr, rsp + *have, cap - *have, &got, e) < 0)
            return -1;
        *have += got - 2;
    }
    return 0;
}

int tr_card_transmit(tr_card *c, const uint8_t *apdu, size_t n, uint8_t *rsp, size_t cap,
                     size_t *rlen, tr_err *e)
{
    if (n < 4)
        return tr_fail(e, TR_E_TOKEN, "APDU of %zu bytes: a command needs at least CLA INS P1 P2", n);
    if (cap < 2)
        return tr_fail(e, TR_E_INTERNAL, "response buffer too small");
    size_t len;
    if (raw_transmit(c, apdu, n, rsp, cap, &len, e) < 0 || resolve_6cxx(c, apdu, n, rsp, cap, &len, e) < 0)
        return -1;
    size_t have = len - 2;
    if (resolve_61xx(c, apdu, rsp, cap, &have, e) < 0)
        return -1;
    *rlen = have + 2;
    return 0;
}
