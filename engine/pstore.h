/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pstore: the destination's flat page store. It terminates CRIU's
 * page-server protocol itself (no `criu page-server`): every session
 * (pre-dump 1..N-1, then the dump) is validated by psx (engine/psx.h)
 * and applied in place, so that after any session the store holds ONE
 * image per pagemap, as if that session had been dumped without a
 * parent. pstore_write_images() then writes the CRIU-format
 * pagemap-*.img files beside the pages-*.img files the store keeps, in
 * the store's directory: `criu restore` (eager or --lazy-pages) and
 * `criu lazy-pages` read them unchanged. Design: engine/README.md.
 *
 * Per pagemap (dst_id: pid or shmem id) the store keeps pages-<k>.img,
 * exactly the pages image CRIU would read: the pages of the current
 * layout (runs of {vaddr, nr_pages}, sorted) back to back. A session
 * that sends the same set of pages (the usual pre-copy case) overwrites
 * dirty pages where they lie and leaves the rest ("in parent") alone:
 * only the delta is written. A session whose set of pages differs
 * (memory mapped or unmapped meanwhile) moves the pages after the first
 * difference once, at its CLOSE.
 *
 * Answers: OPEN2/PARENT say "has parent" iff the map was in the
 * previous session (then the dumper sends only dirty pages plus
 * in-parent entries, which the store resolves from its own layout).
 * CLOSE is answered 0 only after the session is applied and flushed.
 *
 * Bounds: maps per store, runs and pages per map (phaul/caps.h); entries
 * of a map must come in increasing vaddr order without overlap (as CRIU
 * sends them); an in-parent page the store does not hold, an entry
 * neither present nor in parent (a --lazy-pages dump), or a dst_id
 * opened twice in a session are PH_EPROTO.
 *
 * Threads: one thread per store.
 */
#ifndef ENGINE_PSTORE_H
#define ENGINE_PSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/pio.h"
#include "engine/psx.h"
#include "engine/relay.h"

struct pstore;

struct pstore_stats {
	uint64_t sessions;	/* sessions applied */
	uint64_t maps;		/* pagemaps known */
	uint64_t pages;		/* pages in the maps of the last session */
	uint64_t pages_written; /* page data received and written, all sessions */
	uint64_t pages_parent;	/* in-parent pages resolved, all sessions */
	uint64_t pages_moved;	/* pages moved by a layout change, all sessions */
	uint64_t last_apply_us; /* time spent at the last CLOSE (flush + moves) */
	uint64_t last_moved;	/* pages moved at the last CLOSE */
};

/*
 * Open a store in dir (created 0700 if missing; must be empty of
 * pages-*.img / pagemap-*.img). io: the I/O backend wanted (pio.h).
 */
int pstore_open(struct pstore **out, const char *dir, enum pio_backend io);
/* Frees; the files stay. NULL ok. */
void pstore_close(struct pstore *s);

/*
 * One page-server session from the peer (relay_io as in relay.h), the
 * answers back, then the end-of-session marker: the counterpart of
 * relay_src_session() on the source. p persists across sessions like on
 * the source; its sink is set here. 0 once CLOSE was applied, answered
 * and the peer's end marker arrived; PH_EPROTO/PH_ETOOBIG (stream or
 * store rule), PH_ENOSPC/PH_ESYS (disk), PH_ETRUNC, PH_ETIMEDOUT, or the
 * io callbacks' errors.
 */
int pstore_session(struct pstore *s, struct psx_parser *p, const struct relay_io *io,
		   int timeout_ms);

/*
 * After the final session: write pagemap-<id>.img / pagemap-shmem-<id>.img
 * for every map of that session (pages-<k>.img are already in place) and
 * remove the pages files of maps the final session did not name.
 */
int pstore_write_images(struct pstore *s);

/*
 * Hybrid (engine/README.md): where the store holds page vaddr of task pid
 * after the last session, as lzx_locate_fn: its pages file (the store's
 * descriptor, valid until pstore_close), the byte offset, pages back to
 * back from there. PH_EPROTO when it does not hold the page.
 */
int pstore_locate(void *store, uint64_t pid, uint64_t vaddr, int *fd, uint64_t *off,
		  uint64_t *npages);

const struct pstore_stats *pstore_stats(const struct pstore *s);
const struct pio *pstore_io(const struct pstore *s);

/* Low level (used by pstore_session and the tests): one validated header / payload. */
int pstore_on_hdr(void *store, const struct psx_ev *ev);
int pstore_on_data(void *store, const uint8_t *buf, size_t len);
/* Answer bytes owed after the last header (OPEN2: 1, PARENT/CLOSE: 4). */
size_t pstore_answer(struct pstore *s, uint8_t *out, size_t cap);

#endif
