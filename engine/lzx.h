/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lzx: CRIU's lazy-pages pull protocol (post-copy), validated both ways,
 * and its relay between a local CRIU socket and the peer.
 *
 *   source: criu dump --lazy-pages (page server on a unix socketpair,
 *           "ps-socket" through the RPC config file) [sk] lzx_relay
 *   dest:   lzx_relay [sk] criu lazy-pages --page-server --ps-socket FD
 *
 * Wire (CRIU 3.17 criu/page-xfer.c, criu/uffd.c; the 24-byte host-endian
 * header of engine/psx.h):
 *
 *   lazy-pages daemon -> page server       page server -> daemon
 *   GET {nr_pages, vaddr, dst_id = pid}    ADD_F|PE_PRESENT {n, vaddr, dst_id}
 *                                          + n pages, 1 <= n <= nr_pages
 *                                          (one GET, one answer, in order)
 *   CLOSE or FORCE_CLOSE {0, 0, 0}         int32 status 0; nothing follows
 *
 * The daemon sends GETs without waiting (one per task in the background,
 * one per fault), so several answers may be owed: at most LZX_REQS_MAX.
 * A GET is checked against the set of lazy runs the dump announced (its
 * pagemap images: entries with PE_LAZY): a known pid, a run inside the
 * union of its lazy runs. CRIU's page server would dereference NULL for an
 * unknown pid and fail (resuming a tree it still holds) for a run it does
 * not hold, so nothing unchecked reaches it. An answer must match the GET
 * it answers (vaddr, dst_id, count) and carry exactly its pages.
 *
 * The parser is plain memory but for the range set, which the caller owns.
 * Not thread-safe: the relay serialises the two directions itself.
 */
#ifndef ENGINE_LZX_H
#define ENGINE_LZX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LZX_REQS_MAX 1024

/* lzx_req_feed(): the closing request was walked; lzx_ans_feed(): its answer. */
#define LZX_END 1

/* The lazy runs a dump announced: sorted by (pid, start), adjacent merged. */
struct lzx_set {
	struct lzx_run {
		uint64_t id;	/* the task's pid in its namespace (pagemap-<id>.img) */
		uint64_t start; /* [start, end) */
		uint64_t end;
	} * r;
	size_t n, cap;
	uint64_t pages;
	size_t page_size;
};

void lzx_set_init(struct lzx_set *s, size_t page_size);
void lzx_set_free(struct lzx_set *s);
/* Add one run (unsorted); PH_ETOOBIG past PH_LAZY_RUNS_MAX, PH_EPROTO bad run. */
int lzx_set_add(struct lzx_set *s, uint64_t id, uint64_t vaddr, uint32_t nr_pages);
/* Sort and merge; PH_EPROTO if two runs of one pid overlap. */
int lzx_set_seal(struct lzx_set *s);
bool lzx_set_covers(const struct lzx_set *s, uint64_t id, uint64_t start, uint64_t end);
/*
 * Add the lazy entries of one pagemap image (len bytes: magics, then
 * u32-length-prefixed PagemapHead and PagemapEntry messages) of task id.
 */
int lzx_set_load_pagemap(struct lzx_set *s, uint64_t id, const uint8_t *buf, size_t len);
/* Every pagemap-<pid>.img of dir (each at most PH_LAZY_PAGEMAP_MAX), then sealed. */
int lzx_set_load_dir(struct lzx_set *s, const char *dir);

struct lzx_counts {
	uint64_t gets;	       /* GETs walked */
	uint64_t pages_asked;  /* pages they asked for */
	uint64_t pages_served; /* pages answered */
	uint64_t answer_bytes; /* headers + pages answered */
};

struct lzx_parser {
	/* private to lzx.c */
	size_t page_size;
	const struct lzx_set *set; /* NULL: GETs are checked for form only */
	int err;		   /* sticky once failed */
	uint8_t qh[24];		   /* request header being read */
	size_t qhave;
	bool q_closed; /* the closing request was walked */
	struct lzx_req {
		uint64_t vaddr, id;
		uint32_t nr;
		bool close;
	} rq[LZX_REQS_MAX];
	unsigned int head, len;
	uint8_t ah[24]; /* answer header (or status) being read */
	size_t ahave;
	uint64_t apayload; /* page bytes of the current answer still due */
	bool done;	   /* the closing answer was walked */
	struct lzx_counts c;
};

/* set may be NULL (then only the form of a GET is checked); it must outlive p. */
void lzx_init(struct lzx_parser *p, size_t page_size, const struct lzx_set *set);
/*
 * Walk daemon -> page-server bytes. 0: all of them valid, need more;
 * LZX_END: the closing request ended exactly at the end of buf; PH_EPROTO /
 * PH_ETOOBIG (detail in ph_errmsg()) otherwise, bytes after the close
 * included. Then nothing of buf may be forwarded; p stays failed.
 */
int lzx_req_feed(struct lzx_parser *p, const uint8_t *buf, size_t len);
/* Walk page-server -> daemon bytes. 0, LZX_END (close answered), or PH_E*. */
int lzx_ans_feed(struct lzx_parser *p, const uint8_t *buf, size_t len);
/* Answers owed now. */
unsigned int lzx_owed(const struct lzx_parser *p);
const struct lzx_counts *lzx_counts(const struct lzx_parser *p);

/*
 * The peer link of the relay (records on one stream, both directions), as
 * engine/relay.h's, plus abort: fail the link so that the peer's relay and
 * our other direction stop at once.
 */
struct lzx_io {
	int (*send_rec)(void *arg, const void *buf, size_t len);
	int (*send_eof)(void *arg);
	long (*recv_rec)(void *arg, void *buf, size_t cap, int timeout_ms);
	void (*abort)(void *arg, int err, const char *msg);
	void *arg;
};

struct lzx_relay;

/*
 * Relay one post-copy session on sk (a connected unix socket to the local
 * CRIU: its page server on the source, its lazy-pages daemon on the
 * destination) in two threads, validated with a parser over set (may be
 * NULL). source: requests come from the peer. Each wait is bounded by
 * timeout_ms. sk and set stay the caller's. A relay that fails or is
 * stopped before the close ends sk so that CRIU sees a failure (the
 * source's page server then resumes the tree it holds, see poison() in
 * lzx_relay.c); after a clean close sk is left alone.
 */
int lzx_relay_start(int sk, const struct lzx_set *set, bool source, const struct lzx_io *io,
		    int timeout_ms, struct lzx_relay **out);
/* Counts so far (any thread). */
void lzx_relay_counts(struct lzx_relay *r, struct lzx_counts *c);
/* Has it ended? Its result then by lzx_relay_join(). */
bool lzx_relay_done(struct lzx_relay *r);
/* Stop (within 200 ms, or once a write to sk ends), ending sk as a failure. */
void lzx_relay_stop(struct lzx_relay *r);
/*
 * Wait for both directions and free; c (may be NULL) gets the final
 * counts. 0 after the close was answered, else the first failure (PH_E*,
 * its text in ph_errmsg() of this thread). NULL: 0.
 */
int lzx_relay_join(struct lzx_relay *r, struct lzx_counts *c);

#endif
