/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tests: CRIU page-server streams built byte for byte as CRIU 3.17's
 * dumper writes them (send_psi(): struct page_server_iov, raw host-endian).
 * Include after cmocka.h and engine/psx.h.
 */
#ifndef TESTS_PS_STREAM_H
#define TESTS_PS_STREAM_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PGSZ	    4096u
#define PID_DST(id) (((uint64_t)(id) << PS_TYPE_BITS) | PS_TYPE_PID)
#define SHM_DST(id) (((uint64_t)(id) << PS_TYPE_BITS) | PS_TYPE_SHMEM)

struct stream {
	uint8_t *buf;
	size_t len, cap;
};

static inline void put(struct stream *s, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->buf = realloc(s->buf, s->cap);
		assert_non_null(s->buf);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

/* The header exactly as CRIU's send_psi() writes struct page_server_iov. */
static inline void hdr(struct stream *s, uint32_t cmd, uint32_t nr, uint64_t vaddr, uint64_t dst)
{
	uint8_t h[PSX_HDR_SIZE];

	memcpy(h, &cmd, 4);
	memcpy(h + 4, &nr, 4);
	memcpy(h + 8, &vaddr, 8);
	memcpy(h + 16, &dst, 8);
	put(s, h, sizeof(h));
}

/* One such header written whole to fd (a fake CRIU's end). */
static inline void put_hdr(int fd, uint32_t cmd, uint32_t nr, uint64_t va, uint64_t dst)
{
	struct stream s = { 0 };

	hdr(&s, cmd, nr, va, dst);
	assert_int_equal(write(fd, s.buf, s.len), (ssize_t)s.len);
	free(s.buf);
}

#endif
