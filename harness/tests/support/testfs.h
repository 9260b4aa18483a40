/* testfs.h — files for the unit tests: a fresh temporary directory, its
 * removal, a whole file read or written. Each fails the running Check test
 * (ck_assert) when the file system says no.
 * Must not: be linked into the harness proper (tests only).
 */
#ifndef TR_TESTFS_H
#define TR_TESTFS_H

/* A new directory /tmp/<prefix>.XXXXXX (free the name). */
char *testfs_tmpdir(const char *prefix);
/* rm -rf dir. */
void testfs_rm_rf(const char *dir);
/* dir/name with text in it. */
void testfs_write(const char *dir, const char *name, const char *text);
/* The whole file, NUL-terminated (free it). */
char *testfs_slurp(const char *path);

#endif
