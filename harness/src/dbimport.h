/* dbimport.h — a report directory made without the database, into it.
 *
 * Owns: reading a run's report directory (reports.h: results.csv,
 * summary.csv, cycles.csv; provenance.csv when there, columns slot, name,
 * value, source) with libcsv, header by header (columns found by name, so
 * older and newer directories both load), every cell bounded
 * (TR_DB_TEXT_MAX) and every row checked, with file:row in the error; and
 * loading it in one transaction: the run's row, every results.csv and
 * cycles.csv row, a run_slots row per summary.csv row (per slot of
 * cycles.csv for a `tokenrig cycle` directory), the provenance. The run id
 * is results.csv's (else cycles.csv's run_id column, else the directory's
 * name); a run id the database has is not loaded again (idempotent).
 * What the files do not say is not made up: host, tool version, command
 * line and whether destructive tests ran come from provenance.csv's rows
 * of slot "" when it has them, else stay empty or unknown (NULL); the exit
 * status stays unknown.
 * Must not: write into the directory.
 */
#ifndef TR_DBIMPORT_H
#define TR_DBIMPORT_H

#include <stddef.h>

#include "db.h"
#include "error.h"

typedef struct {
    char run_id[TR_DB_ID_MAX];
    char batch[TR_DB_ID_MAX];
    size_t results, cycles, slots, provenance; /* rows loaded */
} tr_import_result;

/* Load dir. batch: the batch to file the run under (NULL: provenance.csv's
 * "batch", else the run id). 1 loaded, 0 the run id was already in the
 * database (nothing added), -1 error (nothing added). */
int tr_db_import(tr_db *db, const char *dir, const char *batch, tr_import_result *out, tr_err *e);

#endif
