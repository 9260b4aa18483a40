/* csvread.h — reading a report CSV back, row by row, by column name.
 *
 * Owns: parsing a CSV file whose first row names the columns (libcsv,
 * RFC 4180 quoting, a UTF-8 byte order mark before the header dropped) and
 * handing each later row to a callback, its cells found by column name, so
 * that a reader does not depend on column order or on columns added later.
 * Bounded and flat: one row in memory at a time; a cell longer than
 * TR_CSV_CELL_MAX bytes is cut (the row says so), columns past
 * TR_CSV_COLS_MAX are dropped.
 * Reverses one thing the writer (reports.c) does: a text cell starting
 * with ' followed by = + - @ TAB or CR (the spreadsheet formula guard) is
 * handed over without the '.
 * Must not: interpret the columns, or write anything.
 */
#ifndef TR_CSVREAD_H
#define TR_CSVREAD_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define TR_CSV_CELL_MAX (1u << 20)
#define TR_CSV_COLS_MAX 64

typedef struct tr_csv_row tr_csv_row;

/* Called once per data row (not for the header): 0 to go on, 1 to stop
 * reading (not an error), -1 to stop with e set. */
typedef int (*tr_csv_row_fn)(void *ud, const tr_csv_row *row, tr_err *e);

/* tr_csv_read's result when the file does not exist (not an error: a
 * report directory may lack a file). */
#define TR_CSV_ABSENT 1

/* Read path: 0 read (or stopped by fn), TR_CSV_ABSENT no such file, -1
 * with e set (cannot read, no header row, fn failed). */
int tr_csv_read(const char *path, tr_csv_row_fn fn, void *ud, tr_err *e);

/* The column named name in the header, or -1. */
int tr_csv_col(const tr_csv_row *row, const char *name);
/* Cell col of the row; "" for col < 0 or a row shorter than the header. */
const char *tr_csv_cell(const tr_csv_row *row, int col);
/* Cell of the column named name; "" when there is none. */
const char *tr_csv_get(const tr_csv_row *row, const char *name);
/* The header's columns: how many, and the name of column i ("" past
 * the last). */
size_t tr_csv_ncols(const tr_csv_row *row);
const char *tr_csv_colname(const tr_csv_row *row, size_t i);
/* Number of the row (1 = the first after the header). */
size_t tr_csv_rowno(const tr_csv_row *row);
/* A cell of the row was longer than TR_CSV_CELL_MAX and is cut. */
bool tr_csv_row_cut(const tr_csv_row *row);

#endif
