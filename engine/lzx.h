/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lzx: CRIU's lazy-pages pull protocol (post-copy), validated both ways,
 * and its relay between a local CRIU socket and the peer.
 *
 *   source: criu dump --lazy-pages (page server on a unix socketpair,
 *           "ps-socket" through the RPC config file) [sk] lzx_relay
 *   dest:   lzx_relay [sk] criu lazy-pages --page-server --ps-socket FD
 *
 * The destination's relay fetches every lazy page itself (background
 * push, engine/README.md) and answers the daemon from its store; the
 * source's sees only more GETs.
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

#include "engine/psx.h"

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
/* The same for [start, end) (page-aligned, inside PH_PS_VADDR_END). */
int lzx_set_add_range(struct lzx_set *s, uint64_t id, uint64_t start, uint64_t end);
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

/* Read image name of dfd (a regular file, at most PH_LAZY_PAGEMAP_MAX) into *buf (malloc'ed). */
int lzx_image_read(int dfd, const char *name, uint8_t **buf, size_t *len);
/* Is name "pagemap-<pid>.img"? Then its pid in *id. */
bool lzx_pagemap_name(const char *name, uint64_t *id);
/* criu/include/magic.h (3.17): a pagemap image starts with both */
#define LZX_IMG_COMMON_MAGIC 0x54564319
#define LZX_PAGEMAP_MAGIC    0x56084025
/*
 * The magics and PagemapHead of a pagemap image: *off gets where the
 * entries start, *pages_id (may be NULL) the head's pages_id.
 */
int lzx_pm_head(const uint8_t *buf, size_t len, size_t *off, uint32_t *pages_id);
/* One u32-length-prefixed message of a pagemap image at *off (advanced). */
int lzx_pm_next(const uint8_t *buf, size_t len, size_t *off, const uint8_t **msg, size_t *mlen);

/*
 * Hybrid (engine/README.md "Hybrid"): the pre-copy pages a final
 * --lazy-pages dump left in its parent (PE_PARENT), which the
 * destination's flat store holds: runs of a task's pages that lie back to
 * back at byte off of fd (the caller's descriptor).
 */
struct lzx_local {
	struct lzx_lrun {
		uint64_t id, start, end; /* task pid, [start, end) */
		int fd;
		uint64_t off;
	} * r;
	size_t n, cap;
	uint64_t pages;
	size_t page_size;
};

void lzx_local_init(struct lzx_local *l, size_t page_size);
void lzx_local_free(struct lzx_local *l);
/* PH_ETOOBIG past PH_LAZY_RUNS_MAX runs or PH_LAZY_PAGES_MAX pages, PH_EPROTO bad run. */
int lzx_local_add(struct lzx_local *l, uint64_t id, uint64_t vaddr, uint64_t npages, int fd,
		  uint64_t off);
/* Sort; PH_EPROTO if two runs of one task overlap. */
int lzx_local_seal(struct lzx_local *l);
/*
 * The sealed run holding vaddr (page-aligned) of id: where vaddr lies,
 * pages to the run's end. false: none; *npages then counts the pages to
 * the next run of id (UINT64_MAX: none follows).
 */
bool lzx_local_find(const struct lzx_local *l, uint64_t id, uint64_t vaddr, int *fd, uint64_t *off,
		    uint64_t *npages);
/* full (initialised, empty) = src's runs and loc's, sealed; PH_EPROTO if they overlap. */
int lzx_set_union(struct lzx_set *full, const struct lzx_set *src, const struct lzx_local *loc);

/*
 * Where the flat store holds page vaddr of task id: its file, the byte
 * offset, how many pages follow there back to back (>= 1). PH_EPROTO
 * when it does not hold that page.
 */
typedef int (*lzx_locate_fn)(void *arg, uint64_t id, uint64_t vaddr, int *fd, uint64_t *off,
			     uint64_t *npages);

/* A task's VMAs (its mm-<pid>.img), sorted: which CRIU restores lazily. */
struct lzx_vmas {
	struct lzx_vma {
		uint64_t start, end;
		bool lazy; /* anonymous private, not locked, vDSO, vsyscall or [stack] */
	} * v;
	size_t n;
};

/* Parse an mm image (len bytes); PH_EPROTO malformed or overlapping, PH_ETOOBIG. */
int lzx_vmas_load(const uint8_t *buf, size_t len, struct lzx_vmas *out);
void lzx_vmas_free(struct lzx_vmas *vm);

/*
 * The pages file of a rewritten pagemap, in entry order: npages from fd at
 * byte off, fd -1 meaning the dump's own pages file. pages_id: its name.
 */
struct lzx_copies {
	struct lzx_copy {
		int fd;
		uint64_t off, npages;
	} * c;
	size_t n, cap;
	bool from_store; /* some pages come from the store: the file must be rebuilt */
	uint32_t pages_id;
};

void lzx_copies_free(struct lzx_copies *cp);

/*
 * Rewrite one pagemap image of task id (in, len) for a restore without a
 * parent. Each PE_PARENT entry is split at the task's VMAs (vm): in a VMA
 * CRIU restores lazily it becomes PE_LAZY (no data, as the dump's own
 * lazy entries), its pages added to loc where locate() finds them; in any
 * other VMA (file-backed, locked, the stack) it becomes PE_PRESENT, its
 * pages copied from the store into the pages file (cp). Other entries are
 * copied as they are (present data: from the dump's pages file). *out is
 * malloc'ed. PH_EPROTO: a malformed image, PE_PARENT with other flags, a
 * parent page outside every VMA or not in the store.
 */
int lzx_pagemap_rewrite(const uint8_t *in, size_t len, uint64_t id, const struct lzx_vmas *vm,
			lzx_locate_fn locate, void *arg, struct lzx_local *loc,
			struct lzx_copies *cp, uint8_t **out, size_t *olen);
/*
 * Every pagemap-<pid>.img of dir rewritten (with mm-<pid>.img's VMAs) and,
 * where pages come from the store, its pages file rebuilt (new files,
 * renamed over the old ones); loc then sealed.
 */
int lzx_pagemap_rewrite_dir(const char *dir, lzx_locate_fn locate, void *arg,
			    struct lzx_local *loc);

/*
 * Source: the task pagemap entries (pid, run) of one pre-dump session as
 * psx validated them (lzx_rec_hdr as the psx_sink's hdr, arg: a struct
 * lzx_set), and the parent pagemaps written from them. CRIU's local
 * xfer of a --lazy-pages dump finds its parent by the parent directory's
 * pagemap-<pid>.img, which a pre-dump to a page server never writes;
 * without it every page would be lazy (criu/page-xfer.c
 * open_page_local_xfer(), mem.c has_parent).
 */
int lzx_rec_hdr(void *arg, const struct psx_ev *ev);
/*
 * Write into dir, for each task of runs (sealed), pagemap-<pid>.img
 * (every run PE_PRESENT) and an empty pages-<k>.img: enough for CRIU to
 * check holes against; no page is ever read from them.
 */
int lzx_parent_write(const struct lzx_set *runs, const char *dir);

struct lzx_counts {
	uint64_t gets;	       /* GETs walked */
	uint64_t pages_asked;  /* pages they asked for */
	uint64_t pages_served; /* pages answered */
	uint64_t answer_bytes; /* headers + pages answered */
	/* destination with a push store (lzx_relay_start_push) */
	uint64_t pages_pushed; /* arrived from the source, asked ahead of any GET */
	uint64_t pages_fault;  /* arrived, asked for a daemon's GET that found them missing */
	uint64_t pages_local;  /* answered to the daemon from the store, no round trip */
};

/*
 * Where the payload of validated answers goes (lzx_set_sink): answer()
 * once per answer header (nr pages at vaddr of task id, asked: the GET's
 * count), then data() for its page bytes in order, last on the final
 * chunk. A negative return fails the parser.
 */
struct lzx_sink {
	int (*answer)(void *arg, uint64_t id, uint64_t vaddr, uint32_t nr, uint32_t asked);
	int (*data)(void *arg, const uint8_t *buf, size_t len, bool last);
	void *arg;
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
		uint32_t cmd;
	} rq[LZX_REQS_MAX];
	unsigned int head, len;
	uint8_t ah[24]; /* answer header (or status) being read */
	size_t ahave;
	uint64_t apayload; /* page bytes of the current answer still due */
	bool done;	   /* the closing answer was walked */
	struct lzx_counts c;
	const struct lzx_sink *sink; /* NULL: answers are only walked */
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
/*
 * The i-th answer owed (0: the next), false past lzx_owed(). cmd: PS_IOV_GET,
 * or the closing PS_IOV_CLOSE / PS_IOV_FORCE_CLOSE (then id, vaddr, nr are 0).
 */
bool lzx_owed_req(const struct lzx_parser *p, unsigned int i, uint64_t *id, uint64_t *vaddr,
		  uint32_t *nr, uint32_t *cmd);
/* Hand the payload of answers to sink (must outlive p); NULL: walk only. */
void lzx_set_sink(struct lzx_parser *p, const struct lzx_sink *sink);

/*
 * Background push (engine/README.md "Background push"), the destination's
 * bookkeeping: which lazy pages were asked from the source (fault first,
 * then in order of the set), for what, and which arrived, so that each is fetched
 * once and the daemon's GETs are answered locally. Page k of the set (in
 * set order) is at byte k * page_size of the caller's store.
 */
#define LZX_PUSH_GET	64u  /* pages per background GET */
#define LZX_PUSH_WINDOW 512u /* pages in flight before a background GET waits */

struct lzx_push {
	const struct lzx_set *set;
	uint64_t *base; /* set->n: index of the first page of each run */
	uint8_t *asked; /* bitmaps over set->pages */
	uint8_t *have;
	uint8_t *faulted; /* asked for a daemon's GET, not by the cursor */
	size_t cur;	  /* background cursor: run, page within it */
	uint64_t cur_pg;
	uint64_t inflight;	/* pages asked, not arrived */
	uint64_t pushed, fault; /* pages arrived, asked by the cursor / for a fault */
	uint64_t left;
};

/* PH_ETOOBIG past PH_LAZY_PAGES_MAX pages. set must be sealed and outlive pu. */
int lzx_push_init(struct lzx_push *pu, const struct lzx_set *set);
void lzx_push_free(struct lzx_push *pu);
/* Byte offset of (id, vaddr) in the store; false outside the set. */
bool lzx_push_off(const struct lzx_push *pu, uint64_t id, uint64_t vaddr, uint64_t *off);
/*
 * Of the n pages at vaddr of id (inside the set), the first run not yet
 * asked: marked asked and returned in *gva, *gnr (a fault GET). false:
 * every page is asked already.
 */
bool lzx_push_fault(struct lzx_push *pu, uint64_t id, uint64_t vaddr, uint32_t n, uint64_t *gva,
		    uint32_t *gnr);
/* The next background GET (in set order, skipping asked pages) if the window allows. */
bool lzx_push_next(struct lzx_push *pu, uint64_t *id, uint64_t *gva, uint32_t *gnr);
/*
 * An answer's pages arrived (nr of the asked): marked had; the rest of a
 * short answer (asked - nr) is asked again later. PH_EPROTO for a page
 * not asked or already had (a duplicate).
 */
int lzx_push_got(struct lzx_push *pu, uint64_t id, uint64_t vaddr, uint32_t nr, uint32_t asked);
/* Are all n pages at vaddr of id here? */
bool lzx_push_has(const struct lzx_push *pu, uint64_t id, uint64_t vaddr, uint32_t n);
/* Hybrid: the pages of loc (inside the set) are here already: asked and had. */
int lzx_push_local(struct lzx_push *pu, const struct lzx_local *loc);
/* Pages not yet arrived. */
uint64_t lzx_push_left(const struct lzx_push *pu);
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
	void *arg; /* the link: passed to the four above */
	/*
	 * Optional (NULL: any failure of the link fails the relay): a link
	 * that another may replace (post-copy recovery, engine/README.md
	 * "Link recovery"). lost(): did link fail (or time out a receive) in
	 * a way a new link may repair: cut or silent, not the peer's
	 * decision? Then relink() waits for the next link: 0 and *next, or
	 * the error that ends the wait (its bound, a stop, a refusal), which
	 * fails the relay. On a new link the destination asks again for every
	 * answer it still owes (a partial one included), the source having
	 * dropped its CRIU's answers to everything asked on the old one:
	 * nothing is answered twice or lost.
	 */
	bool (*lost)(void *ctx, void *link);
	int (*relink)(void *ctx, void *link, void **next);
	void *ctx;
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
/*
 * The destination with background push: the same, but the daemon's GETs
 * never cross the link. The relay asks the source itself for every lazy
 * page (a daemon's GET for missing pages first, then the set in order,
 * LZX_PUSH_WINDOW pages in flight), writes the answers into store_fd (a
 * file of set->pages pages, the caller's) and answers the daemon from it.
 * set must not be NULL.
 */
int lzx_relay_start_push(int sk, const struct lzx_set *set, int store_fd, const struct lzx_io *io,
			 int timeout_ms, struct lzx_relay **out);
/*
 * Hybrid: as lzx_relay_start_push over full (src's lazy runs and loc's),
 * but the pages of loc are answered from their files, never asked of the
 * source; GETs to the source and its answers are checked against src.
 * full, src and loc must outlive the relay.
 */
int lzx_relay_start_hybrid(int sk, const struct lzx_set *full, const struct lzx_set *src,
			   const struct lzx_local *loc, int store_fd, const struct lzx_io *io,
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
