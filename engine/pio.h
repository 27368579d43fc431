/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pio: the page store's file I/O (engine/pstore.h). Two backends behind
 * one interface, chosen at run time:
 *
 *   io_uring  liburing: writes are queued as SQEs and submitted in
 *             batches (one io_uring_enter per record, or when the ring
 *             is full); completions are reaped lazily.
 *   plain     pwrite/pread, one syscall per piece; used when io_uring
 *             is unavailable (io_uring_queue_init fails: an old kernel,
 *             seccomp, io_uring_disabled) or when asked for.
 *
 * Zero copy: data written goes straight from buffers pio owns
 * (PIO_BUFS of PIO_BUF_SIZE bytes): take one with pio_buf_get(), fill
 * it, queue writes of any slices of it, give it back with pio_buf_put().
 * A buffer is reused only once every write queued from it completed.
 *
 * Ordering: queued writes complete in any order; a read first waits for
 * every queued write (pio_read() flushes), so a read always sees the
 * writes queued before it. Writes to overlapping ranges must be
 * separated by pio_flush() (the store never queues such).
 *
 * Errors are sticky: the first failed write (ENOSPC: PH_ENOSPC, else
 * PH_ESYS, text naming the offset) is returned by every later call.
 * Not thread-safe: one thread per struct pio.
 */
#ifndef ENGINE_PIO_H
#define ENGINE_PIO_H

#include <stddef.h>
#include <stdint.h>

#include "caps.h"

enum pio_backend { PIO_AUTO = 0, PIO_URING = 1, PIO_PLAIN = 2 };

#define PIO_BUFS     16
#define PIO_BUF_SIZE PH_FRAME_MAX
#define PIO_RING     64 /* SQ entries = writes in flight at most */

struct pio;

struct pio_stats {
	uint64_t writes, bytes_written; /* pieces queued */
	uint64_t reads, bytes_read;
	uint64_t syscalls; /* io_uring_enter or pwrite/pread calls */
};

/*
 * want: PIO_AUTO tries io_uring and falls back to plain, keeping the
 * reason (pio_fallback()); PIO_URING fails (PH_ENOTSUP) without it;
 * PIO_PLAIN never tries it. PHAUL_FAULT_NO_URING=1 in the environment
 * makes io_uring "unavailable" (fault injection for the fallback).
 */
int pio_open(struct pio **out, enum pio_backend want);
/* Flushes (errors are dropped: call pio_flush() first), frees. NULL ok. */
void pio_close(struct pio *io);

enum pio_backend pio_backend(const struct pio *io);
const char *pio_name(const struct pio *io); /* "io_uring" or "pwrite" */
/* Why AUTO chose plain ("io_uring_queue_init: Operation not permitted"), "" otherwise. */
const char *pio_fallback(const struct pio *io);
const struct pio_stats *pio_stats(const struct pio *io);

/* A free buffer of PIO_BUF_SIZE bytes (waits for completions); NULL on error. */
uint8_t *pio_buf_get(struct pio *io);
/* Done filling buf; submits what was queued. */
int pio_buf_put(struct pio *io, uint8_t *buf);

/*
 * Queue a write of len bytes at data (inside a buffer from pio_buf_get()
 * not yet put back) to fd at off. The plain backend writes at once.
 */
int pio_write(struct pio *io, int fd, const uint8_t *data, size_t len, uint64_t off);
/* Wait for every queued write. 0 or the first error. */
int pio_flush(struct pio *io);
/* Read exactly len bytes at off (after a flush). PH_ETRUNC at EOF. */
int pio_read(struct pio *io, int fd, void *buf, size_t len, uint64_t off);

#endif
