/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by every module. */
#ifndef PHAUL_UTIL_H
#define PHAUL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Remove path and everything under it (no symlinks followed). 0 or PH_ESYS. */
int rm_tree(const char *path);
/* mkdir -p with mode for the components it creates. */
int mkdir_p(const char *path, unsigned mode);
/* CLOCK_MONOTONIC in microseconds. */
uint64_t now_us(void);
/* One number kept in a file (a measured figure): 0 when absent or unreadable. */
uint64_t u64_file_load(const char *path);
/* Replace it atomically (path.tmp, rename); v = 0 or any failure keeps the old one. */
void u64_file_save(const char *path, uint64_t v);
/*
 * Save v blended into the figure path holds, (3 * old + v) / 4, or v alone
 * when there is none: one slow run moves a prediction's input a quarter of
 * the way instead of all of it.
 */
void u64_file_blend(const char *path, uint64_t v);
/*
 * Find an executable: $env if set and non-empty, else name on $PATH, else
 * fallback_dir/name. Resolved before fork: the child must stay
 * async-signal-safe. 0, or -1 when not found (the caller words the error).
 */
int find_exe(const char *name, const char *env, const char *fallback_dir, char *path, size_t len);
/* "Field: N kB" from a /proc file (meminfo, PID/status), in KiB; 0 if absent. */
uint64_t proc_kb(const char *path, const char *field);
/* Read a whole small file (at most max bytes) into *buf, malloc'ed (the caller frees). */
int read_file(const char *path, size_t max, uint8_t **buf, size_t *len);
/* A small text file that stat cannot size (/proc, cgroupfs), NUL-terminated. */
int read_text(const char *path, char *buf, size_t len);

/*
 * Full I/O on a file descriptor, EINTR retried; the caller keeps fd and buf.
 * write_full: all len bytes, or -1 with errno (a write that made no
 * progress is -1 too). On a socket it uses send(MSG_NOSIGNAL), so a closed
 * reader is EPIPE, never SIGPIPE. read_full: up to len bytes, fewer only
 * at end of file; the count, or -1 with errno.
 */
int write_full(int fd, const void *buf, size_t len);
ssize_t read_full(int fd, void *buf, size_t len);

/*
 * Peer strings are data. Copy src into dst (len bytes, NUL included) so it
 * can be shown on one terminal line: printable ASCII is kept, \n \r \t
 * become those two characters, every other byte (ESC, other controls,
 * bytes >= 0x7f) becomes \xNN. A longer result is cut and ends in "...".
 * Backslashes are kept, so visifying twice changes nothing. Returns dst.
 */
char *ph_strvis(char *dst, size_t len, const char *src);
/* id is [A-Za-z0-9-]{1,max}: safe in a line and in a file name (a migration's id). */
bool ph_id_valid(const char *id, size_t max);
/* The same in place, without growing: each such byte becomes '?'; cut at cap bytes. */
void ph_strvis_inplace(char *s, size_t cap);

#endif
