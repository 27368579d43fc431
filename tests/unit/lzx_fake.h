/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the lzx relay tests share: the content of each fake page, the
 * link's abort hook, CRIU's lazy page server, and a rig of two relays'
 * surroundings. Include after cmocka.h,
 * caps.h and engine/lzx.h.
 */
#ifndef TESTS_LZX_FAKE_H
#define TESTS_LZX_FAKE_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ps_stream.h"
#include "rec_link.h"

#define ANS_CMD ((PSX_PE_PRESENT << PS_CMD_BITS) | PS_IOV_ADD_F)
#define BASE	0x7f0000000000ull

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

/* A relay's io over e: any failure of the link fails the relay (no relink). */
static inline struct lzx_io end_io(struct end *e)
{
	return (struct lzx_io){ io_send, io_eof, io_recv, io_abort, e, NULL, NULL, NULL };
}

/*
 * Two relays' surroundings: the link between them, a socketpair to each
 * fake CRIU (ssk: the source's page server, dsk: the lazy-pages daemon;
 * [0] the fake's end, [1] the relay's) and an empty, unlinked store file
 * for a destination that keeps pages (push, hybrid). rig_free(), once
 * the relays are joined, closes the fds and frees what the link holds.
 */
struct rig {
	struct queue fwd, back;
	struct end se, de;
	int ssk[2], dsk[2], store;
};

static inline void rig_init(struct rig *r)
{
	char path[] = "/tmp/lzx-store-XXXXXX";

	link_init(&r->fwd, &r->back, &r->se, &r->de);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, r->ssk), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, r->dsk), 0);
	r->store = mkstemp(path);
	assert_true(r->store >= 0);
	unlink(path);
}

static inline void rig_free(struct rig *r)
{
	for (int i = 0; i < 2; i++) {
		close(r->ssk[i]);
		close(r->dsk[i]);
	}
	close(r->store);
	q_drain(&r->fwd);
	q_drain(&r->back);
}

/*
 * The fake CRIUs, once both relays run: daemon(d) in *td (d talks on
 * dsk[0]), the page server sv on ssk[0] in *ts.
 */
static inline void rig_fakes_start(struct rig *r, void *(*daemon)(void *), void *d,
				   struct server *sv, pthread_t *td, pthread_t *ts)
{
	sv->fd = r->ssk[0];
	pthread_create(td, NULL, daemon, d);
	pthread_create(ts, NULL, server_count_run, sv);
}

#endif
