/* provenance.c — the rows of a run's provenance (provenance.h). */
#include "provenance.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "version.h" /* TR_VERSION, made by the Makefile at build time */

const char *tr_version(void)
{
    return TR_VERSION;
}

void tr_prov_abs(const char *path, char *out, size_t cap)
{
    char *real = realpath(path, NULL);
    tr_strlcpy(out, real ? real : path, cap);
    free(real);
}

int tr_prov_sha256_file(const char *path, char hex[65], tr_err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tr_fail(e, TR_E_IO, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : tr_fail(e, TR_E_CRYPTO, "SHA-256: no context");
    uint8_t buf[65536];
    ssize_t got;
    while (rc == 0 && (got = read(fd, buf, sizeof buf)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = tr_fail(e, TR_E_IO, "reading %s: %s", path, strerror(errno));
        else if (EVP_DigestUpdate(ctx, buf, (size_t)got) != 1)
            rc = tr_fail(e, TR_E_CRYPTO, "SHA-256 of %s failed", path);
    }
    uint8_t md[32];
    unsigned len = 0;
    if (rc == 0 && (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != sizeof md))
        rc = tr_fail(e, TR_E_CRYPTO, "SHA-256 of %s failed", path);
    if (rc == 0)
        for (unsigned i = 0; i < len; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
    close(fd);
    return rc;
}

int tr_prov_row(tr_reports *r, const tr_slot_id *who, const char *name, const char *value, const char *source,
                tr_err *e)
{
    return tr_reports_provenance(r, who, name, value, source, e);
}

int tr_prov_file(tr_reports *r, const tr_slot_id *who, const char *what, const char *path, tr_err *e)
{
    char name[160], hex[65], value[TR_ERR_MSG_MAX + 16], abs[4096];
    tr_err he;
    snprintf(name, sizeof name, "%s.sha256", what);
    if (tr_prov_sha256_file(path, hex, &he) == 0)
        tr_strlcpy(value, hex, sizeof value);
    else
        snprintf(value, sizeof value, "unreadable: %s", he.msg);
    tr_prov_abs(path, abs, sizeof abs);
    return tr_reports_provenance(r, who, name, value, abs, e);
}

int tr_prov_run_facts(tr_reports *r, const char *command, const char *run_id, const char *rig_name,
                      const char *rig_path, tr_err *e)
{
    char host[256] = "", abs[4096];
    if (gethostname(host, sizeof host - 1) < 0)
        snprintf(host, sizeof host, "unknown (%s)", strerror(errno));
    tr_prov_abs(rig_path, abs, sizeof abs);
    const char *rows[][3] = {
        {"tool.version", tr_version(), "tokenrig, git describe at build time"},
        {"command", command ? command : "", "the command line (PINs masked)"},
        {"host", host, "gethostname"},
        {"run_id", run_id, ""},
        {"rig", rig_name, abs},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (tr_reports_provenance(r, NULL, rows[i][0], rows[i][1], rows[i][2], e) < 0)
            return -1;
    return rig_path[0] ? tr_prov_file(r, NULL, "rig", rig_path, e) : 0;
}

int tr_prov_vars(tr_reports *r, const tr_slot_id *who, const tr_vars *vars, tr_err *e)
{
    const char **names = tr_vars_names(vars);
    if (!names)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; names[i] && rc == 0; i++) {
        char name[200];
        snprintf(name, sizeof name, "var.%s", names[i]);
        const char *value = tr_var_is_pin(names[i]) ? "<pin>" : tr_vars_get(vars, names[i]);
        const char *source = tr_vars_source(vars, names[i]);
        rc = tr_reports_provenance(r, who, name, value, source ? source : "", e);
    }
    free(names);
    return rc;
}
