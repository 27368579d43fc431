/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the lzx relay tests share: a header written to a fake CRIU, the
 * content of each fake page, the link's abort hook.
 */
#ifndef TESTS_LZX_FAKE_H
#define TESTS_LZX_FAKE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ps_stream.h"
#include "rec_link.h"

#define ANS_CMD ((PSX_PE_PRESENT << PS_CMD_BITS) | PS_IOV_ADD_F)
#define BASE	0x7f0000000000ull

static inline void put_hdr(int fd, uint32_t cmd, uint32_t nr, uint64_t va, uint64_t id)
{
	struct stream s = { 0 };

	hdr(&s, cmd, nr, va, id);
	xwrite(fd, s.buf, s.len);
	free(s.buf);
}

static inline uint8_t page_fill(uint64_t va, uint64_t id)
{
	return (uint8_t)((va / PGSZ) * 7 + id);
}

static inline void io_abort(void *arg, int err, const char *msg)
{
	struct end *e = arg;

	(void)msg;
	e->aborted = err;
}

/*
 * CRIU's lazy page server: answers each GET whole, the close with 0;
 * counts the pages it serves and those served twice (of pids 7 and
 * others, up to 128 pages from BASE).
 */
struct server {
	int fd;
	uint8_t seen[2][128];
	int dups;
	uint64_t served;
	int delay_us; /* before each answer: requests pile up, owed when a link is cut */
};

static inline void *server_count_run(void *arg)
{
	struct server *sv = arg;
	uint8_t h[PSX_HDR_SIZE], pg[PGSZ];
	int32_t zero = 0;

	while (read_all(sv->fd, h, sizeof(h))) {
		uint32_t cmd, nr;
		uint64_t va, id;

		memcpy(&cmd, h, 4);
		memcpy(&nr, h + 4, 4);
		memcpy(&va, h + 8, 8);
		memcpy(&id, h + 16, 8);
		if (cmd == PS_IOV_FORCE_CLOSE || cmd == PS_IOV_CLOSE) {
			xwrite(sv->fd, &zero, 4);
			break;
		}
		if (sv->delay_us)
			usleep((useconds_t)sv->delay_us);
		put_hdr(sv->fd, ANS_CMD, nr, va, id);
		for (uint32_t i = 0; i < nr; i++) {
			uint64_t k = (va - BASE) / PGSZ + i;

			if (k < sizeof(sv->seen[0]) && sv->seen[id == 7][k]++)
				sv->dups++;
			memset(pg, page_fill(va + i * PGSZ, id), sizeof(pg));
			xwrite(sv->fd, pg, sizeof(pg));
			sv->served++;
		}
	}
	return NULL;
}

#endif
