// SPDX-License-Identifier: GPL-2.0
/*
 * pio: io_uring or plain file I/O for the page store; contract in pio.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "engine/pio.h"

struct pio_op {
	int fd;
	int buf; /* index of the buffer the data lies in */
	const uint8_t *data;
	size_t len;
	uint64_t off;
	struct pio_op *next_free;
};

struct pio {
	enum pio_backend backend;
	struct io_uring ring;
	bool ring_up;
	uint8_t *mem;		     /* PIO_BUFS * PIO_BUF_SIZE */
	unsigned int refs[PIO_BUFS]; /* writes in flight from each buffer */
	bool held[PIO_BUFS];	     /* between pio_buf_get and pio_buf_put */
	struct pio_op ops[PIO_RING];
	struct pio_op *free_ops;
	unsigned int inflight; /* submitted or queued, not completed */
	unsigned int queued;   /* SQEs not yet submitted */
	int err;	       /* sticky PH_E*, 0 */
	char errmsg[512];
	char why[256]; /* fallback reason */
	struct pio_stats st;
};

static int pio_fail(struct pio *io, int err, int e, const struct pio_op *op)
{
	if (!io->err) {
		io->err = err;
		snprintf(io->errmsg, sizeof(io->errmsg),
			 "page store: writing %zu bytes at offset %" PRIu64 " (fd %d): %s", op->len,
			 op->off, op->fd, strerror(e));
	}
	return ph_seterr(io->err, "%s", io->errmsg);
}

static int pio_sticky(const struct pio *io)
{
	return io->err ? ph_seterr(io->err, "%s", io->errmsg) : 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off, struct pio_stats *st)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		st->syscalls++;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int pio_open(struct pio **out, enum pio_backend want)
{
	struct pio *io;
	const char *no = getenv("PHAUL_FAULT_NO_URING");
	int r;

	*out = NULL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return ph_seterr(PH_ENOMEM, "page store: I/O state");
	io->mem = aligned_alloc(4096, (size_t)PIO_BUFS * PIO_BUF_SIZE);
	if (!io->mem) {
		free(io);
		return ph_seterr(PH_ENOMEM, "page store: I/O buffers");
	}
	for (unsigned int i = 0; i < PIO_RING; i++) {
		io->ops[i].next_free = io->free_ops;
		io->free_ops = &io->ops[i];
	}
	io->backend = PIO_PLAIN;
	if (want != PIO_PLAIN) {
		if (no && no[0] == '1')
			r = -ENOSYS;
		else
			r = io_uring_queue_init(PIO_RING, &io->ring, 0);
		if (r == 0) {
			io->ring_up = true;
			io->backend = PIO_URING;
		} else {
			snprintf(io->why, sizeof(io->why), "io_uring_queue_init: %s%s",
				 strerror(-r), no && no[0] == '1' ? " (PHAUL_FAULT_NO_URING)" : "");
			if (want == PIO_URING) {
				r = ph_seterr(PH_ENOTSUP, "page store: io_uring unavailable: %s",
					      io->why);
				pio_close(io);
				return r;
			}
		}
	}
	*out = io;
	return 0;
}

enum pio_backend pio_backend(const struct pio *io)
{
	return io->backend;
}

const char *pio_name(const struct pio *io)
{
	return io->backend == PIO_URING ? "io_uring" : "pwrite";
}

const char *pio_fallback(const struct pio *io)
{
	return io->why;
}

const struct pio_stats *pio_stats(const struct pio *io)
{
	return &io->st;
}

/* One completion: release its buffer; finish a short write synchronously. */
static void pio_complete(struct pio *io, struct io_uring_cqe *cqe)
{
	struct pio_op *op = io_uring_cqe_get_data(cqe);
	int res = cqe->res, r = 0;

	if (res < 0)
		pio_fail(io, res == -ENOSPC ? PH_ENOSPC : PH_ESYS, -res, op);
	else if ((size_t)res < op->len) {
		/* rare (a nearly full disk): the rest, the plain way, data still ours */
		r = pwrite_all(op->fd, op->data + res, op->len - (size_t)res,
			       op->off + (uint64_t)res, &io->st);
		if (r < 0)
			pio_fail(io, r == -ENOSPC ? PH_ENOSPC : PH_ESYS, -r, op);
	}
	io->refs[op->buf]--;
	op->next_free = io->free_ops;
	io->free_ops = op;
	io->inflight--;
	io_uring_cqe_seen(&io->ring, cqe);
}

/* Submit what is queued and reap completions; wait for at least min of them. */
static int pio_reap(struct pio *io, unsigned int min)
{
	struct io_uring_cqe *cqe;
	int r;

	if (io->queued || min) {
		do
			r = io_uring_submit_and_wait(&io->ring, min);
		while (r == -EINTR);
		io->st.syscalls++;
		if (r < 0) {
			io->err = PH_ESYS;
			snprintf(io->errmsg, sizeof(io->errmsg), "page store: io_uring_submit: %s",
				 strerror(-r));
			return pio_sticky(io);
		}
		io->queued = 0;
	}
	while (io_uring_peek_cqe(&io->ring, &cqe) == 0)
		pio_complete(io, cqe);
	return pio_sticky(io);
}

uint8_t *pio_buf_get(struct pio *io)
{
	for (;;) {
		for (unsigned int i = 0; i < PIO_BUFS; i++)
			if (!io->held[i] && !io->refs[i]) {
				io->held[i] = true;
				return io->mem + (size_t)i * PIO_BUF_SIZE;
			}
		if (!io->ring_up || !io->inflight) {
			ph_seterr(PH_EPROTO, "page store: every I/O buffer is held");
			return NULL;
		}
		if (pio_reap(io, 1) < 0)
			return NULL;
	}
}

static int pio_buf_index(const struct pio *io, const uint8_t *p, size_t len)
{
	size_t off;

	if (p < io->mem || p >= io->mem + (size_t)PIO_BUFS * PIO_BUF_SIZE)
		return -1;
	off = (size_t)(p - io->mem);
	if (off % PIO_BUF_SIZE + len > PIO_BUF_SIZE)
		return -1;
	return (int)(off / PIO_BUF_SIZE);
}

int pio_buf_put(struct pio *io, uint8_t *buf)
{
	int i = pio_buf_index(io, buf, 0);

	if (i >= 0)
		io->held[i] = false;
	return io->ring_up ? pio_reap(io, 0) : pio_sticky(io);
}

int pio_write(struct pio *io, int fd, const uint8_t *data, size_t len, uint64_t off)
{
	struct io_uring_sqe *sqe;
	struct pio_op *op;
	int b, r;

	if ((r = pio_sticky(io)) < 0)
		return r;
	b = pio_buf_index(io, data, len);
	if (b < 0 || !io->held[b])
		return ph_seterr(PH_EPROTO, "page store: write from memory pio does not hold");
	io->st.writes++;
	io->st.bytes_written += len;
	if (!io->ring_up) {
		struct pio_op tmp = { .fd = fd, .len = len, .off = off };

		r = pwrite_all(fd, data, len, off, &io->st);
		return r < 0 ? pio_fail(io, r == -ENOSPC ? PH_ENOSPC : PH_ESYS, -r, &tmp) : 0;
	}
	while (!io->free_ops || !(sqe = io_uring_get_sqe(&io->ring)))
		if ((r = pio_reap(io, io->free_ops ? 0 : 1)) < 0)
			return r;
	op = io->free_ops;
	io->free_ops = op->next_free;
	*op = (struct pio_op){ .fd = fd, .buf = b, .data = data, .len = len, .off = off };
	io_uring_prep_write(sqe, fd, data, (unsigned int)len, off);
	io_uring_sqe_set_data(sqe, op);
	io->refs[b]++;
	io->inflight++;
	io->queued++;
	return 0;
}

int pio_flush(struct pio *io)
{
	int r;

	if (!io->ring_up)
		return pio_sticky(io);
	while (io->inflight)
		if ((r = pio_reap(io, 1)) < 0)
			return r;
	return pio_sticky(io);
}

/* One read through the ring (nothing else in flight: pio_read flushed). */
static ssize_t pio_uring_read(struct pio *io, int fd, uint8_t *p, size_t len, uint64_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
	struct io_uring_cqe *cqe;
	int r;

	if (!sqe) {
		errno = EBUSY;
		return -1;
	}
	io_uring_prep_read(sqe, fd, p, len > INT32_MAX ? INT32_MAX : (unsigned int)len, off);
	io_uring_sqe_set_data(sqe, NULL);
	do
		r = io_uring_submit_and_wait(&io->ring, 1);
	while (r == -EINTR);
	if (r >= 0)
		r = io_uring_wait_cqe(&io->ring, &cqe);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	r = cqe->res;
	io_uring_cqe_seen(&io->ring, cqe);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

int pio_read(struct pio *io, int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	int r;

	if ((r = pio_flush(io)) < 0)
		return r;
	io->st.reads++;
	io->st.bytes_read += len;
	while (len) {
		ssize_t n = io->ring_up ? pio_uring_read(io, fd, p, len, off)
					: pread(fd, p, len, (off_t)off);

		io->st.syscalls++;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ph_seterr_errno(PH_ESYS, "page store: reading %zu bytes at %" PRIu64,
					       len, off);
		if (n == 0)
			return ph_seterr(PH_ETRUNC,
					 "page store: %zu bytes missing at offset %" PRIu64, len,
					 off);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

void pio_close(struct pio *io)
{
	if (!io)
		return;
	if (io->ring_up) {
		pio_flush(io);
		io_uring_queue_exit(&io->ring);
	}
	free(io->mem);
	free(io);
}
