#include "error.h"

#include <stdio.h>
#include <string.h>

void tr_err_clear(tr_err *e)
{
    if (!e)
        return;
    e->code = TR_OK;
    e->msg[0] = '\0';
    e->file[0] = '\0';
    e->line = e->col = 0;
}

int tr_vfail(tr_err *e, tr_code code, const char *fmt, va_list ap)
{
    if (!e)
        return -1;
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return -1;
}

int tr_fail(tr_err *e, tr_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tr_vfail(e, code, fmt, ap);
    va_end(ap);
    if (e) {
        e->file[0] = '\0';
        e->line = e->col = 0;
    }
    return -1;
}

int tr_fail_at(tr_err *e, tr_code code, const char *file, int line, int col,
               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tr_vfail(e, code, fmt, ap);
    va_end(ap);
    if (e) {
        snprintf(e->file, sizeof e->file, "%s", file ? file : "");
        e->line = line;
        e->col = col;
    }
    return -1;
}

void tr_err_prefix(tr_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    char head[TR_ERR_MSG_MAX], old[TR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    snprintf(e->msg, sizeof e->msg, "%s: %s", head, old);
}

const char *tr_err_format(const tr_err *e, char *buf, size_t cap)
{
    if (!e->file[0])
        snprintf(buf, cap, "%s", e->msg);
    else if (e->col > 0)
        snprintf(buf, cap, "%s:%d:%d: %s", e->file, e->line, e->col, e->msg);
    else if (e->line > 0)
        snprintf(buf, cap, "%s:%d: %s", e->file, e->line, e->msg);
    else
        snprintf(buf, cap, "%s: %s", e->file, e->msg);
    return buf;
}

const char *tr_code_name(tr_code code)
{
    static const char *names[] = {
        [TR_OK] = "ok",           [TR_E_USAGE] = "usage",
        [TR_E_CONFIG] = "config", [TR_E_PARSE] = "parse",
        [TR_E_RIG] = "rig",       [TR_E_PERM] = "permission",
        [TR_E_PCSC] = "pcsc",     [TR_E_TIMEOUT] = "timeout",
        [TR_E_MUTE] = "io.mute",  [TR_E_REMOVED] = "io.removed",
        [TR_E_SERVICE] = "rig.pcsc-lost",
        [TR_E_IO] = "io",         [TR_E_TOKEN] = "token",
        [TR_E_PROTO_61XX] = "proto.endless-61xx",
        [TR_E_PROTO_6CXX] = "proto.6cxx-loop",
        [TR_E_CRYPTO] = "crypto", [TR_E_NOMEM] = "nomem",
        [TR_E_LIBRARY] = "lib.crash",
        [TR_E_NOPOWER] = "not-run.no-power",
        [TR_E_INTERNAL] = "internal",
    };
    if ((unsigned)code < sizeof names / sizeof names[0] && names[code])
        return names[code];
    return "unknown";
}

bool tr_code_is_token_defect(tr_code code)
{
    return code == TR_E_PROTO_61XX || code == TR_E_PROTO_6CXX;
}

bool tr_cycle_verdict_judged(const char *verdict)
{
    static const char *const judged[] = {"pass", "rig.port-not-switched", "io.first-apdu-failed", "time.slow-start"};
    if (!strncmp(verdict, "enum.", 5))
        return true;
    for (size_t i = 0; i < sizeof judged / sizeof judged[0]; i++)
        if (!strcmp(verdict, judged[i]))
            return true;
    return false;
}

int tr_code_exit_status(tr_code code)
{
    return code == TR_OK ? 0 : 2;
}
