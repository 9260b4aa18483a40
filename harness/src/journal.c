#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define LINE_MAX_LEN 512

struct tr_journal {
    char path[1024];
    int fd;
    pthread_mutex_t lock;
    tr_journal_entry *open;     /* open sequences (loaded + appended) */
    size_t nopen, capopen;
    struct {                    /* the crash test hooks, [tr_journal_by] */
        unsigned at;            /* TOKENRIG_CRASH_AT / _IN_RECOVERY, 0 = none */
        bool after;
        unsigned appended;      /* records counted so far */
    } crash[2];
    char crash_slot[64];        /* ":after": the slot whose next answer kills */
};

/* ---- the in-memory view of open sequences ------------------------------------------- */

static tr_journal_entry *find_open(tr_journal *j, const char *slot)
{
    for (size_t i = 0; i < j->nopen; i++)
        if (!strcmp(j->open[i].slot, slot))
            return &j->open[i];
    return NULL;
}

static tr_journal_entry *add_open(tr_journal *j, const char *slot)
{
    tr_journal_entry *x = find_open(j, slot);
    if (x)
        return x;
    if (j->nopen == j->capopen) {
        size_t cap = j->capopen ? j->capopen * 2 : 8;
        tr_journal_entry *n = realloc(j->open, cap * sizeof *n);
        if (!n)
            return NULL;
        j->open = n;
        j->capopen = cap;
    }
    x = &j->open[j->nopen++];
    memset(x, 0, sizeof *x);
    tr_strlcpy(x->slot, slot, sizeof x->slot);
    return x;
}

static void drop_open(tr_journal *j, const char *slot)
{
    tr_journal_entry *x = find_open(j, slot);
    if (!x)
        return;
    size_t i = (size_t)(x - j->open);
    memmove(&j->open[i], &j->open[i + 1], (j->nopen - i - 1) * sizeof *x);
    j->nopen--;
}

/* PINs travel hex-encoded: no spaces or newlines can break a record. */
static bool pin_from_hex(const char *hex, char *out, size_t cap)
{
    uint8_t buf[TR_JOURNAL_PIN_MAX];
    long n = tr_hex_decode(hex, buf, sizeof buf);
    if (n < 0 || (size_t)n >= cap)
        return false;
    memcpy(out, buf, (size_t)n);
    out[n] = '\0';
    return memchr(out, '\0', (size_t)n) == NULL;
}

static void pin_to_hex(const char *pin, char *out, size_t cap)
{
    size_t n = strnlen(pin, TR_JOURNAL_PIN_MAX);
    tr_hex_encode((const uint8_t *)pin, n, out, cap, 0);
}

static int ref_of(const char *word)
{
    return !strcmp(word, "user") ? TR_PIN_USER : !strcmp(word, "so") ? TR_PIN_SO : -1;
}

static bool apply_open(tr_journal *j, char **f)
{
    if (strncmp(f[4], "user=", 5) || strncmp(f[5], "so=", 3))
        return false;
    tr_journal_entry *x = add_open(j, f[1]);
    if (!x)
        return false;
    tr_strlcpy(x->serial, f[2], sizeof x->serial);
    tr_strlcpy(x->run_id, f[3], sizeof x->run_id);
    if (!pin_from_hex(f[4] + 5, x->factory[TR_PIN_USER], sizeof x->factory[0]) ||
        !pin_from_hex(f[5] + 3, x->factory[TR_PIN_SO], sizeof x->factory[0]))
        return false;
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 2; k++)
            tr_strlcpy(x->cand[r][k], x->factory[r], sizeof x->cand[r][k]);
    return true;
}

/* New candidates: what recovery learnt of the old ones no longer holds. */
static bool apply_pin(tr_journal *j, char **f)
{
    tr_journal_entry *x = find_open(j, f[1]);
    int ref = ref_of(f[3]);
    if (!x || ref < 0)
        return false;
    memset(x->tried[ref], 0, sizeof x->tried[ref]);
    memset(x->refused[ref], 0, sizeof x->refused[ref]);
    return pin_from_hex(f[4], x->cand[ref][0], sizeof x->cand[ref][0]) &&
           pin_from_hex(f[5], x->cand[ref][1], sizeof x->cand[ref][1]);
}

/* try / refused: the candidate equal to the PIN (both when they are the
 * same value) marked. A mark on anything else is not a record of ours. */
static bool apply_mark(tr_journal *j, char **f, tr_journal_mark_kind m)
{
    tr_journal_entry *x = find_open(j, f[1]);
    int ref = ref_of(f[3]);
    char pin[TR_JOURNAL_PIN_MAX + 1];
    if (!x || ref < 0 || !pin_from_hex(f[4], pin, sizeof pin))
        return false;
    unsigned order = 1 + (x->tried[ref][0] > x->tried[ref][1] ? x->tried[ref][0] : x->tried[ref][1]);
    bool found = false;
    for (int k = 0; k < 2; k++) {
        if (strcmp(x->cand[ref][k], pin))
            continue;
        found = true;
        if (m == TR_JOURNAL_TRY)
            x->tried[ref][k] = order;
        else
            x->refused[ref][k] = true;
    }
    return found;
}

/* One record applied to the view. Returns false for a malformed line. */
static bool apply_record(tr_journal *j, char *line)
{
    char *save = NULL, *f[8];
    int n = 0;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 8; t = strtok_r(NULL, " \t\r\n", &save))
        f[n++] = t;
    if (n == 0)
        return true;
    if (!strcmp(f[0], "open") && n == 6)
        return apply_open(j, f);
    if (!strcmp(f[0], "pin") && n == 6)
        return apply_pin(j, f);
    if (!strcmp(f[0], "try") && n == 5)
        return apply_mark(j, f, TR_JOURNAL_TRY);
    if (!strcmp(f[0], "refused") && n == 5)
        return apply_mark(j, f, TR_JOURNAL_REFUSED);
    if (!strcmp(f[0], "close") && n == 3) {
        drop_open(j, f[1]);
        return true;
    }
    return false;
}

/* Read what earlier processes left. A torn last line (a crash in the middle
 * of a write that was never fsync'ed) is ignored; any other malformed line
 * is an error: the journal is the only record of those tokens' PINs. */
static int load(tr_journal *j, tr_err *e)
{
    FILE *f = fopen(j->path, "r");
    if (!f)
        return errno == ENOENT ? 0 : tr_fail(e, TR_E_IO, "%s: %m", j->path);
    char line[LINE_MAX_LEN];
    int lineno = 0, rc = 0;
    long good_end = 0;
    bool torn = false;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        bool complete = strchr(line, '\n') != NULL;
        if (!complete) {
            torn = true;
            break;
        }
        if (!apply_record(j, line))
            rc = tr_fail_at(e, TR_E_CONFIG, j->path, lineno, 0,
                            "malformed journal record (the file is tokenrig's own: do not edit it)");
        good_end = ftell(f);
    }
    if (ferror(f) && rc == 0)
        rc = tr_fail(e, TR_E_IO, "reading %s: %m", j->path);
    fclose(f);
    /* cut the torn tail, or the next record would be glued to it */
    if (rc == 0 && torn && truncate(j->path, good_end) < 0)
        rc = tr_fail(e, TR_E_IO, "%s: cutting a torn record: %m", j->path);
    return rc;
}

static int mkdir_parents(const char *path, tr_err *e)
{
    char tmp[1024];
    if (!tr_strlcpy(tmp, path, sizeof tmp))
        return tr_fail(e, TR_E_CONFIG, "journal path too long: %s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
                return tr_fail(e, TR_E_IO, "mkdir %s: %m", tmp);
            *p = '/';
        }
    return 0;
}

int tr_journal_open(const char *path, tr_journal **out, tr_err *e)
{
    tr_journal *j = calloc(1, sizeof *j);
    if (!j)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    j->fd = -1;
    pthread_mutex_init(&j->lock, NULL);
    if (!tr_strlcpy(j->path, path, sizeof j->path) || mkdir_parents(path, e) < 0 || load(j, e) < 0) {
        if (!e || e->code == TR_OK)
            tr_fail(e, TR_E_CONFIG, "journal path too long: %s", path);
        tr_journal_close(j);
        return -1;
    }
    j->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0 || fchmod(j->fd, 0600) < 0) {
        tr_fail(e, TR_E_IO, "%s: %m", path);
        tr_journal_close(j);
        return -1;
    }
    static const char *hooks[2] = {"TOKENRIG_CRASH_AT", "TOKENRIG_CRASH_IN_RECOVERY"};
    for (int by = 0; by < 2; by++) {
        const char *crash = getenv(hooks[by]);
        if (crash && *crash) {
            char *end;
            unsigned long n = strtoul(crash, &end, 10);
            j->crash[by].at = n > 1000000 ? 0 : (unsigned)n;
            j->crash[by].after = !strcmp(end, ":after");
        }
    }
    *out = j;
    return 0;
}

void tr_journal_close(tr_journal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    pthread_mutex_destroy(&j->lock);
    free(j->open);
    free(j);
}

const char *tr_journal_path(const tr_journal *j) { return j->path; }

/* Append one line and make it durable; the view is updated only then. */
static int append(tr_journal *j, const char *line, tr_err *e)
{
    size_t len = strlen(line);
    ssize_t w = write(j->fd, line, len);
    if (w != (ssize_t)len) {
        if (w >= 0)
            errno = ENOSPC;
        return tr_fail(e, TR_E_IO, "journal %s: %m (the destructive step is not sent)", j->path);
    }
    if (fdatasync(j->fd) < 0)
        return tr_fail(e, TR_E_IO, "journal %s: fsync: %m (the destructive step is not sent)", j->path);
    char copy[LINE_MAX_LEN];
    tr_strlcpy(copy, line, sizeof copy);
    if (!apply_record(j, copy))
        return tr_fail(e, TR_E_INTERNAL, "journal %s: record not understood: %s", j->path, line);
    return 0;
}

/* Slot names and serials are written as one word. */
static bool word_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

int tr_journal_begin(tr_journal *j, const char *slot, const char *serial, const char *run_id,
                     const char *factory_user, const char *factory_so, tr_err *e)
{
    char line[LINE_MAX_LEN], hu[2 * TR_JOURNAL_PIN_MAX + 1], hs[2 * TR_JOURNAL_PIN_MAX + 1];
    const char *ser = serial && *serial ? serial : "-";
    if (!word_ok(slot) || !word_ok(ser) || !word_ok(run_id))
        return tr_fail(e, TR_E_CONFIG, "journal: slot '%s', serial '%s' and run id must be single printable words",
                       slot, ser);
    pin_to_hex(factory_user ? factory_user : "", hu, sizeof hu);
    pin_to_hex(factory_so ? factory_so : "", hs, sizeof hs);
    snprintf(line, sizeof line, "open %s %s %s user=%s so=%s\n", slot, ser, run_id, hu, hs);
    pthread_mutex_lock(&j->lock);
    /* an earlier sequence that was never closed holds the only record of
     * that token's PINs: it must be recovered first, never overwritten */
    int rc = find_open(j, slot) ? tr_fail(e, TR_E_RIG,
                                          "the journal %s has an unrecovered sequence for slot %s: "
                                          "run tokenrig recover first (recover --forget %s once a token "
                                          "it cannot restore is put right by hand)", j->path, slot, slot)
                                : append(j, line, e);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

/* The crash test hooks: one more record of `by` for slot is durable;
 * true when the process is to die now. Called with the lock held. */
static bool count_for_crash(tr_journal *j, tr_journal_by by, const char *slot)
{
    if (!j->crash[by].at || ++j->crash[by].appended != j->crash[by].at)
        return false;
    if (!j->crash[by].after)
        return true;
    tr_strlcpy(j->crash_slot, slot, sizeof j->crash_slot);
    return false;
}

/* Recovery records only what the journal holds: a value of ref that is
 * neither a candidate nor the factory PIN would be a guess. */
static bool journaled_value(const tr_journal_entry *x, tr_pin_ref ref, const char *pin)
{
    return !strcmp(pin, x->cand[ref][0]) || !strcmp(pin, x->cand[ref][1]) || !strcmp(pin, x->factory[ref]);
}

/* Append a record for slot's open sequence; *crash says whether the
 * crash test hook fires. */
static int append_for(tr_journal *j, const char *slot, const char *line, tr_journal_by by, bool *crash, tr_err *e)
{
    pthread_mutex_lock(&j->lock);
    int rc = find_open(j, slot) ? append(j, line, e)
                                : tr_fail(e, TR_E_INTERNAL, "journal: no open sequence for slot %s", slot);
    *crash = rc == 0 && count_for_crash(j, by, slot);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

int tr_journal_pin(tr_journal *j, const char *slot, const char *serial, tr_pin_ref ref, const char *if_lands,
                   const char *if_not, tr_journal_by by, tr_err *e)
{
    if (strlen(if_lands) > TR_JOURNAL_PIN_MAX || strlen(if_not) > TR_JOURNAL_PIN_MAX)
        return tr_fail(e, TR_E_CONFIG, "journal: a PIN longer than %d bytes", TR_JOURNAL_PIN_MAX);
    tr_journal_entry x;
    if (by == TR_JOURNAL_BY_RECOVERY && tr_journal_is_open(j, slot, &x) &&
        (!journaled_value(&x, ref, if_lands) || !journaled_value(&x, ref, if_not)))
        return tr_fail(e, TR_E_INTERNAL, "journal: recovery of slot %s records a PIN that is neither journaled "
                       "nor the factory one: the command is not sent", slot);
    char line[LINE_MAX_LEN], hl[2 * TR_JOURNAL_PIN_MAX + 1], hn[2 * TR_JOURNAL_PIN_MAX + 1];
    pin_to_hex(if_lands, hl, sizeof hl);
    pin_to_hex(if_not, hn, sizeof hn);
    snprintf(line, sizeof line, "pin %s %s %s %s %s\n", slot, serial && *serial ? serial : "-",
             ref == TR_PIN_SO ? "so" : "user", hl, hn);
    bool crash;
    int rc = append_for(j, slot, line, by, &crash, e);
    if (crash)
        raise(SIGKILL);
    return rc;
}

int tr_journal_mark(tr_journal *j, const char *slot, const char *serial, tr_pin_ref ref, tr_journal_mark_kind m,
                    const char *pin, tr_err *e)
{
    tr_journal_entry x;
    if (!tr_journal_is_open(j, slot, &x))
        return tr_fail(e, TR_E_INTERNAL, "journal: no open sequence for slot %s", slot);
    bool held = false, was_refused = false;
    for (int k = 0; k < 2; k++)
        if (!strcmp(pin, x.cand[ref][k])) {
            held = true;
            was_refused |= x.refused[ref][k];
        }
    if (!held)
        return tr_fail(e, TR_E_INTERNAL, "journal: slot %s: recovery presents a PIN that is not a journaled "
                       "candidate: not sent", slot);
    if (m == TR_JOURNAL_TRY && was_refused)
        return tr_fail(e, TR_E_INTERNAL, "journal: slot %s: the token refused that candidate before: it is "
                       "not presented again", slot);
    char line[LINE_MAX_LEN], h[2 * TR_JOURNAL_PIN_MAX + 1];
    pin_to_hex(pin, h, sizeof h);
    snprintf(line, sizeof line, "%s %s %s %s %s\n", m == TR_JOURNAL_TRY ? "try" : "refused", slot,
             serial && *serial ? serial : "-", ref == TR_PIN_SO ? "so" : "user", h);
    bool crash;
    int rc = append_for(j, slot, line, TR_JOURNAL_BY_RECOVERY, &crash, e);
    if (crash)
        raise(SIGKILL);
    return rc;
}

size_t tr_journal_candidates(const tr_journal_entry *x, tr_pin_ref ref, const char *pin[2], bool tried[2])
{
    size_t n = 0;
    unsigned order[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (x->refused[ref][k] || (k == 1 && !strcmp(x->cand[ref][1], x->cand[ref][0])))
            continue;
        pin[n] = x->cand[ref][k];
        order[n++] = x->tried[ref][k];
    }
    /* never presented first (in record order), then the latest presented */
    if (n == 2 && order[0] && (!order[1] || order[1] > order[0])) {
        const char *p = pin[0];
        pin[0] = pin[1];
        pin[1] = p;
        unsigned o = order[0];
        order[0] = order[1];
        order[1] = o;
    }
    for (size_t k = 0; k < n; k++)
        tried[k] = order[k] != 0;
    return n;
}

void tr_journal_crash_point(tr_journal *j, const char *slot)
{
    if (!j || !(j->crash[0].after || j->crash[1].after))
        return;
    pthread_mutex_lock(&j->lock);
    bool now = j->crash_slot[0] && !strcmp(j->crash_slot, slot);
    pthread_mutex_unlock(&j->lock);
    if (now)
        raise(SIGKILL);
}

int tr_journal_end(tr_journal *j, const char *slot, const char *serial, tr_err *e)
{
    char line[LINE_MAX_LEN];
    snprintf(line, sizeof line, "close %s %s\n", slot, serial && *serial ? serial : "-");
    pthread_mutex_lock(&j->lock);
    int rc = find_open(j, slot) ? append(j, line, e) : 0;
    pthread_mutex_unlock(&j->lock);
    return rc;
}

bool tr_journal_is_open(tr_journal *j, const char *slot, tr_journal_entry *out)
{
    pthread_mutex_lock(&j->lock);
    tr_journal_entry *x = find_open(j, slot);
    if (x && out)
        *out = *x;
    pthread_mutex_unlock(&j->lock);
    return x != NULL;
}

tr_journal_entry *tr_journal_open_entries(tr_journal *j, size_t *n, tr_err *e)
{
    pthread_mutex_lock(&j->lock);
    tr_journal_entry *copy = malloc((j->nopen ? j->nopen : 1) * sizeof *copy);
    if (copy) {
        if (j->nopen) /* j->open is NULL while nothing was ever open */
            memcpy(copy, j->open, j->nopen * sizeof *copy);
        *n = j->nopen;
    }
    pthread_mutex_unlock(&j->lock);
    if (!copy)
        tr_fail(e, TR_E_NOMEM, "out of memory");
    return copy;
}

/* The marks of ref's candidates, presentations in their order. */
static int write_marks(FILE *f, const tr_journal_entry *x, int ref)
{
    static const char *names[2] = {"user", "so"};
    char h[2 * TR_JOURNAL_PIN_MAX + 1];
    int first = x->tried[ref][0] <= x->tried[ref][1] ? 0 : 1;
    for (int i = 0; i < 2; i++) {
        int k = i == 0 ? first : 1 - first;
        pin_to_hex(x->cand[ref][k], h, sizeof h);
        if (x->tried[ref][k] && fprintf(f, "try %s %s %s %s\n", x->slot, x->serial, names[ref], h) < 0)
            return -1;
    }
    for (int k = 0; k < 2; k++) {
        pin_to_hex(x->cand[ref][k], h, sizeof h);
        if (x->refused[ref][k] && fprintf(f, "refused %s %s %s %s\n", x->slot, x->serial, names[ref], h) < 0)
            return -1;
    }
    return 0;
}

static int write_entry(FILE *f, const tr_journal_entry *x)
{
    char h[4][2 * TR_JOURNAL_PIN_MAX + 1];
    pin_to_hex(x->factory[TR_PIN_USER], h[0], sizeof h[0]);
    pin_to_hex(x->factory[TR_PIN_SO], h[1], sizeof h[1]);
    if (fprintf(f, "open %s %s %s user=%s so=%s\n", x->slot, x->serial, x->run_id, h[0], h[1]) < 0)
        return -1;
    static const char *names[2] = {"user", "so"};
    for (int r = 0; r < 2; r++) {
        pin_to_hex(x->cand[r][0], h[2], sizeof h[2]);
        pin_to_hex(x->cand[r][1], h[3], sizeof h[3]);
        if (fprintf(f, "pin %s %s %s %s %s\n", x->slot, x->serial, names[r], h[2], h[3]) < 0 ||
            write_marks(f, x, r) < 0)
            return -1;
    }
    return 0;
}

int tr_journal_compact(tr_journal *j, tr_err *e)
{
    pthread_mutex_lock(&j->lock);
    int rc = 0;
    if (j->nopen == 0) {
        if (ftruncate(j->fd, 0) < 0 || fsync(j->fd) < 0)
            rc = tr_fail(e, TR_E_IO, "clearing the journal %s: %m", j->path);
        pthread_mutex_unlock(&j->lock);
        return rc;
    }
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", j->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        rc = tr_fail(e, TR_E_IO, "%s: %m", tmp);
        if (fd >= 0)
            close(fd);
    } else {
        for (size_t i = 0; i < j->nopen && rc == 0; i++)
            if (write_entry(f, &j->open[i]) < 0)
                rc = tr_fail(e, TR_E_IO, "writing %s: %m", tmp);
        if (fflush(f) != 0 || fsync(fileno(f)) != 0)
            rc = rc ? rc : tr_fail(e, TR_E_IO, "writing %s: %m", tmp);
        if (fclose(f) != 0 && rc == 0)
            rc = tr_fail(e, TR_E_IO, "writing %s: %m", tmp);
        if (rc == 0 && rename(tmp, j->path) < 0)
            rc = tr_fail(e, TR_E_IO, "renaming %s: %m", tmp);
    }
    if (rc == 0) { /* keep appending to the new file */
        int nfd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (nfd < 0)
            rc = tr_fail(e, TR_E_IO, "%s: %m", j->path);
        else {
            close(j->fd);
            j->fd = nfd;
        }
    }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

void tr_journal_default_path(const char *rig_name, char *out, size_t cap)
{
    const char *d = getenv("TOKENRIG_STATE_DIR"), *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
    if (d && *d)
        snprintf(out, cap, "%s/journal-%s", d, rig_name);
    else if (x && *x)
        snprintf(out, cap, "%s/tokenrig/journal-%s", x, rig_name);
    else
        snprintf(out, cap, "%s/.local/state/tokenrig/journal-%s", h && *h ? h : "/tmp", rig_name);
}
