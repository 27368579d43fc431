/* SPDX-License-Identifier: GPL-2.0 */
/*
 * psx: validation of CRIU's page-server stream, for the relay that sits
 * between a CRIU and its page-server socket (engine/relay.h).
 *
 * Wire (CRIU 3.17 criu/page-xfer.c; both hosts must run the same CRIU):
 * the dumping CRIU ("push" direction) writes 24-byte headers, raw and
 * host-endian,
 *     struct page_server_iov { u32 cmd; u32 nr_pages; u64 vaddr; u64 dst_id; }
 * where cmd = flags << 16 | command, each optionally followed by
 * nr_pages * PAGE_SIZE bytes of page data:
 *
 *   command            payload                    reply (page server -> dumper)
 *   ADD         1      nr_pages pages             -
 *   HOLE        2      -                          -
 *   OPEN        3      -                          -        (legacy, no answer)
 *   OPEN2       4      -                          1 byte: has_parent 0/1
 *   PARENT      5      -                          int32: parent has image 0/1
 *   ADD_F       6      pages iff flags&PE_PRESENT -
 *   GET         7      (lazy-pages pull; refused here: not a push command)
 *   CLOSE       0x1023 -                          int32: status 0; session ends
 *   FORCE_CLOSE 0x1024 -                          int32: status 0; session ends
 *
 * ADD_F flags: PE_PARENT 1, PE_LAZY 2, PE_PRESENT 4. Only ADD_F carries
 * flags. dst_id = image id << 8 | type (1: pid pagemap, 2: shmem pagemap).
 *
 * The header is unbounded in CRIU; here every field is checked against the
 * 3.17 rules before any byte is forwarded: known command, known flags,
 * nr_pages >= 1 and, for entries with data, <= PH_PS_PAGES_MAX; a
 * page-aligned run ending within PH_PS_VADDR_END - page size (entries
 * without data, such as one unchanged 1 TiB region, are bounded only by
 * that: see phaul/caps.h),
 * zero fields where CRIU sends zeros, ADD/HOLE only for the dst_id opened
 * last, at most PSX_REPLIES_MAX answers owed. Violations are PH_EPROTO
 * naming the field, its value and the limit; the parser then stays failed.
 *
 * One session runs from the first header to CLOSE/FORCE_CLOSE. A dumper
 * given a ps.fd socket sends FORCE_CLOSE and may reuse that socket for
 * the next pre-dump, so one parser can walk several sessions: psx_feed()
 * stops right after the closing header and returns PSX_SESSION_END; the
 * caller forwards the bytes so far, then calls psx_next_session().
 *
 * A parser is plain memory (no allocation, no fds): embed it, psx_init()
 * it. It is not thread-safe; a relay feeding both directions from two
 * threads must serialise psx_feed()/psx_reply_feed() itself.
 */
#ifndef ENGINE_PSX_H
#define ENGINE_PSX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PSX_HDR_SIZE 24

#define PS_IOV_ADD	   1
#define PS_IOV_HOLE	   2
#define PS_IOV_OPEN	   3
#define PS_IOV_OPEN2	   4
#define PS_IOV_PARENT	   5
#define PS_IOV_ADD_F	   6
#define PS_IOV_GET	   7
#define PS_IOV_CLOSE	   0x1023
#define PS_IOV_FORCE_CLOSE 0x1024

#define PS_CMD_BITS 16
#define PS_CMD_MASK ((1u << PS_CMD_BITS) - 1)

#define PSX_PE_PARENT  (1u << 0)
#define PSX_PE_LAZY    (1u << 1)
#define PSX_PE_PRESENT (1u << 2)
#define PSX_PE_ALL     (PSX_PE_PARENT | PSX_PE_LAZY | PSX_PE_PRESENT)

#define PS_TYPE_BITS  8
#define PS_TYPE_MASK  ((1u << PS_TYPE_BITS) - 1)
#define PS_TYPE_PID   1
#define PS_TYPE_SHMEM 2

/*
 * Answers owed at once. CRIU 3.17 reads each answer right after its
 * request (page-xfer.c open_page_server_xfer() for OPEN2,
 * check_parent_server_xfer() for PARENT, disconnect_from_page_server() for
 * CLOSE), so 1 in practice; 16 is margin.
 */
#define PSX_REPLIES_MAX 16

/* psx_feed() return value when a CLOSE/FORCE_CLOSE header completed. */
#define PSX_SESSION_END 1

struct psx_counts {
	uint64_t headers;      /* page_server_iov headers */
	uint64_t pages;	       /* pages carried as payload (ADD, ADD_F|PE_PRESENT) */
	uint64_t pages_nodata; /* pages announced without data (holes, parent, lazy) */
	uint64_t payload_bytes;
	uint64_t stream_bytes; /* everything CRIU wrote: headers + payload */
	uint64_t opens;	       /* OPEN/OPEN2: pagemaps (processes, shmem) */
};

/*
 * A validated header, for a consumer that terminates the stream itself
 * (engine/pstore.h). flags: the PE_* of ADD_F; ADD gets PSX_PE_PRESENT and
 * HOLE gets PSX_PE_PARENT, as CRIU's page server reads them.
 */
struct psx_ev {
	uint32_t cmd; /* PS_IOV_*, flags stripped */
	uint32_t flags;
	uint32_t nr_pages;
	uint64_t vaddr;
	uint64_t dst_id;
};

/*
 * Optional consumer: hdr() for each header once it passed every check,
 * data() for the payload bytes of the last ADD/ADD_F, in order, as they
 * are fed. A negative return fails the parser with that error.
 */
struct psx_sink {
	int (*hdr)(void *arg, const struct psx_ev *ev);
	int (*data)(void *arg, const uint8_t *buf, size_t len);
	void *arg;
};

/* Reply kinds owed by the page server, in order. */
enum psx_reply { PSX_R_OPEN2 = 1, PSX_R_PARENT = 2, PSX_R_CLOSE = 3 };

struct psx_parser {
	/* everything below is private to psx.c */
	size_t page_size;
	int err;	 /* sticky PH_E* once failed, else 0 */
	bool in_session; /* a header was seen since the last close */
	bool closed;	 /* CLOSE seen, psx_next_session() not yet called */
	bool have_dst;
	uint8_t hdr[PSX_HDR_SIZE];
	size_t hdr_have;
	uint64_t payload_left;
	uint64_t dst_id; /* last OPEN/OPEN2 */
	uint8_t rq[PSX_REPLIES_MAX];
	unsigned int rq_head, rq_len;
	uint8_t rbuf[4];
	size_t rhave;
	struct psx_counts session; /* the current (or just closed) session */
	struct psx_counts total;   /* all sessions */
	uint64_t sessions;	   /* sessions closed */
	struct psx_sink sink;	   /* zero: none */
};

/* page_size: this host's (both hosts must match; compat checks that). */
void psx_init(struct psx_parser *p, size_t page_size);

/*
 * Walk len bytes of the dumper -> page-server stream. *consumed gets the
 * number of bytes validated (all of them, unless a session ended or an
 * error occurred). Returns 0 (need more input), PSX_SESSION_END (stopped
 * right after a closing header; feed the rest after psx_next_session()),
 * or PH_EPROTO / PH_ETOOBIG with the detail in ph_errmsg(). Bytes after
 * *consumed must not be forwarded on error.
 */
int psx_feed(struct psx_parser *p, const uint8_t *buf, size_t len, size_t *consumed);

/*
 * Walk len bytes of the page-server -> dumper answers. Each must be owed
 * by a header already fed and carry a value CRIU 3.17 sends. Returns 0 or
 * PH_EPROTO (unsolicited bytes, bad value).
 */
int psx_reply_feed(struct psx_parser *p, const uint8_t *buf, size_t len);

/* A CLOSE/FORCE_CLOSE ended the session (until psx_next_session()). */
bool psx_session_closed(const struct psx_parser *p);
/*
 * CRIU's CLOSE header as a dump writes it (host-endian), for a dump that
 * sends no pages through the page server: a session of CLOSE alone, which
 * the page server answers with a 4-byte status.
 */
void psx_close_hdr(uint8_t out[PSX_HDR_SIZE]);

/* Bytes of answer still owed (the relay reads exactly this many). */
size_t psx_reply_pending(const struct psx_parser *p);

/*
 * After PSX_SESSION_END and the final answer: start counting a new
 * session. PH_EPROTO if the closing answer is still owed.
 */
int psx_next_session(struct psx_parser *p);

/*
 * The stream ended (socket EOF). 0 if it ended between sessions or
 * right after a close; PH_ETRUNC naming what was cut (header bytes,
 * payload bytes, answers owed) otherwise.
 */
int psx_finish(const struct psx_parser *p);

/* Counters of the current/last session and of all sessions. */
const struct psx_counts *psx_session_counts(const struct psx_parser *p);
const struct psx_counts *psx_total_counts(const struct psx_parser *p);

/* Hand every validated header and payload byte to sink (NULL: none). */
void psx_set_sink(struct psx_parser *p, const struct psx_sink *sink);

/*
 * The checks of one run [vaddr, vaddr + nr_pages pages) that every header
 * gets (page-aligned, 1 <= nr_pages, within PH_PS_VADDR_END, no wrap, and
 * with data at most PH_PS_PAGES_MAX), for other parsers of the same
 * header (engine/lzx.h). what names it in the error. 0 or PH_E*.
 */
int psx_run_check(size_t page_size, uint64_t vaddr, uint32_t nr_pages, const char *what,
		  bool data);

/* Name of a command for messages ("ADD_F", "CLOSE", ...; "unknown"). */
const char *psx_cmd_name(uint32_t cmd);

#endif
