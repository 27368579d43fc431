// SPDX-License-Identifier: GPL-2.0
/*
 * psx: CRIU page-server stream validation; the wire is in engine/psx.h.
 */
#include <inttypes.h>
#include <string.h>

#include "caps.h"
#include "err.h"
#include "engine/psx.h"

struct psx_hdr {
	uint32_t cmd;
	uint32_t nr_pages;
	uint64_t vaddr;
	uint64_t dst_id;
};

void psx_init(struct psx_parser *p, size_t page_size)
{
	memset(p, 0, sizeof(*p));
	p->page_size = page_size;
}

const char *psx_cmd_name(uint32_t cmd)
{
	switch (cmd & PS_CMD_MASK) {
	case PS_IOV_ADD: return "ADD";
	case PS_IOV_HOLE: return "HOLE";
	case PS_IOV_OPEN: return "OPEN";
	case PS_IOV_OPEN2: return "OPEN2";
	case PS_IOV_PARENT: return "PARENT";
	case PS_IOV_ADD_F: return "ADD_F";
	case PS_IOV_GET: return "GET";
	case PS_IOV_CLOSE: return "CLOSE";
	case PS_IOV_FORCE_CLOSE: return "FORCE_CLOSE";
	}
	return "unknown";
}

/* Fail and stay failed: a stream that broke once is not resynchronised. */
static int psx_fail(struct psx_parser *p, int r)
{
	p->err = r;
	return r;
}

static size_t reply_size(uint8_t kind)
{
	return kind == PSX_R_OPEN2 ? 1 : 4;
}

static int psx_owe(struct psx_parser *p, enum psx_reply kind)
{
	if (p->rq_len >= PSX_REPLIES_MAX)
		return ph_seterr(PH_EPROTO, "page-server stream: %u answers owed already, limit %u",
				 p->rq_len, PSX_REPLIES_MAX);
	p->rq[(p->rq_head + p->rq_len) % PSX_REPLIES_MAX] = kind;
	p->rq_len++;
	return 0;
}

/* CRIU 3.17 encodes only pid and shmem pagemaps (legacy numbers are older CRIUs). */
static int psx_check_dst(const struct psx_hdr *h)
{
	uint64_t type = h->dst_id & PS_TYPE_MASK;

	if (type != PS_TYPE_PID && type != PS_TYPE_SHMEM)
		return ph_seterr(PH_EPROTO,
				 "page-server %s: dst_id 0x%" PRIx64 " has type %" PRIu64
				 ", expected %u (pid) or %u (shmem)",
				 psx_cmd_name(h->cmd), h->dst_id, type, PS_TYPE_PID, PS_TYPE_SHMEM);
	return 0;
}

static int psx_check_zero(const struct psx_hdr *h, bool dst_too)
{
	if (h->nr_pages)
		return ph_seterr(PH_EPROTO, "page-server %s: nr_pages %u, expected 0",
				 psx_cmd_name(h->cmd), h->nr_pages);
	if (h->vaddr)
		return ph_seterr(PH_EPROTO, "page-server %s: vaddr 0x%" PRIx64 ", expected 0",
				 psx_cmd_name(h->cmd), h->vaddr);
	if (dst_too && h->dst_id)
		return ph_seterr(PH_EPROTO, "page-server %s: dst_id 0x%" PRIx64 ", expected 0",
				 psx_cmd_name(h->cmd), h->dst_id);
	return 0;
}

/* OPEN, OPEN2, PARENT: name a pagemap, carry nothing else. */
static int psx_do_open(struct psx_parser *p, const struct psx_hdr *h, uint32_t cmd)
{
	int r;

	if ((r = psx_check_zero(h, false)) < 0 || (r = psx_check_dst(h)) < 0)
		return r;
	if (cmd == PS_IOV_PARENT)
		return psx_owe(p, PSX_R_PARENT);
	p->dst_id = h->dst_id;
	p->have_dst = true;
	p->session.opens++;
	p->total.opens++;
	return cmd == PS_IOV_OPEN2 ? psx_owe(p, PSX_R_OPEN2) : 0;
}

/*
 * The run [vaddr, vaddr + nr_pages pages) of an entry: page-aligned, inside
 * the user address space (PH_PS_VADDR_END less one page, TASK_SIZE_MAX),
 * and with data at most PH_PS_PAGES_MAX pages. Entries without data are
 * not capped by count: CRIU sends one per unchanged region, however large.
 */
static int psx_check_run(const struct psx_parser *p, const struct psx_hdr *h, const char *n,
			 bool data)
{
	return psx_run_check(p->page_size, h->vaddr, h->nr_pages, n, data);
}

int psx_run_check(size_t page_size, uint64_t vaddr, uint32_t nr_pages, const char *n, bool data)
{
	uint64_t end = PH_PS_VADDR_END - page_size;
	/* nr_pages < 2^32, page_size <= 2^16 in practice: no 64-bit overflow. */
	uint64_t len = (uint64_t)nr_pages * page_size;

	if (!nr_pages)
		return ph_seterr(PH_EPROTO, "page-server %s: nr_pages 0, expected at least 1", n);
	if (data && nr_pages > PH_PS_PAGES_MAX)
		return ph_seterr(PH_ETOOBIG,
				 "page-server %s: nr_pages %u with data, allowed 1..%u (CRIU "
				 "sends at most one pipe, 1024 pages)",
				 n, nr_pages, PH_PS_PAGES_MAX);
	if (vaddr % page_size)
		return ph_seterr(PH_EPROTO,
				 "page-server %s: vaddr 0x%" PRIx64 " not aligned to page size %zu",
				 n, vaddr, page_size);
	if (vaddr + len < vaddr)
		return ph_seterr(PH_EPROTO,
				 "page-server %s: vaddr 0x%" PRIx64 " + %u pages wraps around", n,
				 vaddr, nr_pages);
	if (vaddr > end || len > end - vaddr)
		return ph_seterr(PH_EPROTO,
				 "page-server %s: vaddr 0x%" PRIx64 " + %u pages ends beyond "
				 "the user address space (0x%" PRIx64 ")",
				 n, vaddr, nr_pages, end);
	return 0;
}

/* ADD, HOLE, ADD_F: a run of pages of the open pagemap; returns payload bytes. */
static int psx_do_pages(struct psx_parser *p, const struct psx_hdr *h, uint32_t cmd, uint32_t flags,
			uint64_t *payload)
{
	const char *n = psx_cmd_name(cmd);
	bool data;
	int r;

	if (cmd == PS_IOV_ADD)
		flags = PSX_PE_PRESENT;
	data = flags & PSX_PE_PRESENT;
	if ((r = psx_check_run(p, h, n, data)) < 0)
		return r;
	if (!p->have_dst || h->dst_id != p->dst_id)
		return ph_seterr(PH_EPROTO,
				 "page-server %s: dst_id 0x%" PRIx64
				 " was not opened (open: %s0x%" PRIx64 ")",
				 n, h->dst_id, p->have_dst ? "" : "none, ", p->dst_id);
	*payload = data ? (uint64_t)h->nr_pages * p->page_size : 0;
	if (*payload) {
		p->session.pages += h->nr_pages;
		p->total.pages += h->nr_pages;
	} else {
		p->session.pages_nodata += h->nr_pages;
		p->total.pages_nodata += h->nr_pages;
	}
	return 0;
}

static int psx_do_close(struct psx_parser *p, const struct psx_hdr *h)
{
	int r = psx_check_zero(h, true);

	if (r < 0)
		return r;
	p->closed = true;
	p->have_dst = false;
	return psx_owe(p, PSX_R_CLOSE);
}

/* Validate one complete header; *payload gets the page bytes that follow. */
static int psx_header(struct psx_parser *p, const struct psx_hdr *h, uint64_t *payload)
{
	uint32_t cmd = h->cmd & PS_CMD_MASK, flags = h->cmd >> PS_CMD_BITS;

	*payload = 0;
	if (flags && cmd != PS_IOV_ADD_F)
		return ph_seterr(PH_EPROTO,
				 "page-server %s: cmd 0x%08x carries flags 0x%x, "
				 "only ADD_F may",
				 psx_cmd_name(cmd), h->cmd, flags);
	if (flags & ~PSX_PE_ALL)
		return ph_seterr(PH_EPROTO, "page-server ADD_F: flags 0x%x, known 0x%x", flags,
				 PSX_PE_ALL);
	p->session.headers++;
	p->total.headers++;
	p->in_session = true;
	switch (cmd) {
	case PS_IOV_OPEN:
	case PS_IOV_OPEN2:
	case PS_IOV_PARENT: return psx_do_open(p, h, cmd);
	case PS_IOV_ADD:
	case PS_IOV_HOLE:
	case PS_IOV_ADD_F: return psx_do_pages(p, h, cmd, flags, payload);
	case PS_IOV_CLOSE:
	case PS_IOV_FORCE_CLOSE: return psx_do_close(p, h);
	case PS_IOV_GET:
		return ph_seterr(PH_EPROTO, "page-server: cmd GET (lazy-pages pull) in a dump "
					    "stream");
	}
	return ph_seterr(PH_EPROTO,
			 "page-server: cmd 0x%08x unknown (CRIU 3.17 knows 1..7, "
			 "0x1023, 0x1024)",
			 h->cmd);
}

static void psx_count_bytes(struct psx_parser *p, size_t n, bool payload)
{
	p->session.stream_bytes += n;
	p->total.stream_bytes += n;
	if (payload) {
		p->session.payload_bytes += n;
		p->total.payload_bytes += n;
	}
}

static int psx_emit(struct psx_parser *p, const struct psx_hdr *h)
{
	struct psx_ev ev = {
		.cmd = h->cmd & PS_CMD_MASK,
		.flags = h->cmd >> PS_CMD_BITS,
		.nr_pages = h->nr_pages,
		.vaddr = h->vaddr,
		.dst_id = h->dst_id,
	};

	if (ev.cmd == PS_IOV_ADD)
		ev.flags = PSX_PE_PRESENT;
	else if (ev.cmd == PS_IOV_HOLE)
		ev.flags = PSX_PE_PARENT;
	return p->sink.hdr(p->sink.arg, &ev);
}

void psx_set_sink(struct psx_parser *p, const struct psx_sink *sink)
{
	if (sink)
		p->sink = *sink;
	else
		memset(&p->sink, 0, sizeof(p->sink));
}

/* Take header bytes from buf; returns bytes used, or <0 on a bad header. */
static long psx_take_header(struct psx_parser *p, const uint8_t *buf, size_t len)
{
	size_t n = PSX_HDR_SIZE - p->hdr_have;
	struct psx_hdr h;
	int r;

	if (n > len)
		n = len;
	memcpy(p->hdr + p->hdr_have, buf, n);
	p->hdr_have += n;
	if (p->hdr_have < PSX_HDR_SIZE)
		return (long)n;
	/* Raw host-endian struct, exactly as CRIU's send_psi() writes it. */
	memcpy(&h.cmd, p->hdr, 4);
	memcpy(&h.nr_pages, p->hdr + 4, 4);
	memcpy(&h.vaddr, p->hdr + 8, 8);
	memcpy(&h.dst_id, p->hdr + 16, 8);
	p->hdr_have = 0;
	r = psx_header(p, &h, &p->payload_left);
	if (r == 0 && p->sink.hdr)
		r = psx_emit(p, &h);
	if (r < 0)
		return r;
	psx_count_bytes(p, PSX_HDR_SIZE, false);
	return (long)n;
}

int psx_feed(struct psx_parser *p, const uint8_t *buf, size_t len, size_t *consumed)
{
	size_t off = 0;
	long n;
	int r;

	*consumed = 0;
	if (p->err)
		return ph_seterr(p->err, "page-server stream: parser failed earlier");
	if (p->closed && len)
		return psx_fail(p, ph_seterr(PH_EPROTO,
					     "page-server stream: %zu bytes after "
					     "CLOSE in the same session",
					     len));
	while (off < len) {
		if (p->payload_left) {
			n = len - off;
			if ((uint64_t)n > p->payload_left)
				n = (long)p->payload_left;
			p->payload_left -= n;
			psx_count_bytes(p, n, true);
			if (p->sink.data && (r = p->sink.data(p->sink.arg, buf + off, n)) < 0)
				return psx_fail(p, r);
		} else {
			n = psx_take_header(p, buf + off, len - off);
			if (n < 0)
				return psx_fail(p, (int)n);
		}
		off += n;
		*consumed = off;
		if (p->closed)
			return PSX_SESSION_END;
	}
	return 0;
}

static int psx_check_reply(uint8_t kind, const uint8_t *v)
{
	int32_t i;

	if (kind == PSX_R_OPEN2) {
		if (v[0] > 1)
			return ph_seterr(PH_EPROTO,
					 "page-server answer to OPEN2: has_parent %u, "
					 "expected 0 or 1",
					 v[0]);
		return 0;
	}
	memcpy(&i, v, 4);
	if (kind == PSX_R_PARENT && i != 0 && i != 1)
		return ph_seterr(PH_EPROTO, "page-server answer to PARENT: %d, expected 0 or 1", i);
	if (kind == PSX_R_CLOSE && i != 0)
		return ph_seterr(PH_EPROTO, "page-server answer to CLOSE: status %d, expected 0",
				 i);
	return 0;
}

int psx_reply_feed(struct psx_parser *p, const uint8_t *buf, size_t len)
{
	size_t off = 0, want, n;
	uint8_t kind;
	int r;

	if (p->err)
		return ph_seterr(p->err, "page-server stream: parser failed earlier");
	while (off < len) {
		if (!p->rq_len)
			return psx_fail(p, ph_seterr(PH_EPROTO,
						     "page-server: %zu answer bytes "
						     "nobody asked for",
						     len - off));
		kind = p->rq[p->rq_head];
		want = reply_size(kind) - p->rhave;
		n = len - off < want ? len - off : want;
		memcpy(p->rbuf + p->rhave, buf + off, n);
		p->rhave += n;
		off += n;
		if (p->rhave < reply_size(kind))
			break;
		r = psx_check_reply(kind, p->rbuf);
		if (r < 0)
			return psx_fail(p, r);
		p->rhave = 0;
		p->rq_head = (p->rq_head + 1) % PSX_REPLIES_MAX;
		p->rq_len--;
	}
	return 0;
}

void psx_close_hdr(uint8_t out[PSX_HDR_SIZE])
{
	struct psx_hdr h = { .cmd = PS_IOV_CLOSE };

	memcpy(out, &h, sizeof(h));
}

bool psx_session_closed(const struct psx_parser *p)
{
	return p->closed;
}

size_t psx_reply_pending(const struct psx_parser *p)
{
	size_t sum = 0;
	unsigned int i;

	for (i = 0; i < p->rq_len; i++)
		sum += reply_size(p->rq[(p->rq_head + i) % PSX_REPLIES_MAX]);
	return sum - p->rhave;
}

int psx_next_session(struct psx_parser *p)
{
	if (p->err)
		return ph_seterr(p->err, "page-server stream: parser failed earlier");
	if (!p->closed)
		return ph_seterr(PH_EPROTO, "page-server stream: session not closed");
	if (p->rq_len)
		return ph_seterr(PH_EPROTO, "page-server stream: answer to CLOSE still owed");
	p->closed = false;
	p->in_session = false;
	p->sessions++;
	memset(&p->session, 0, sizeof(p->session));
	return 0;
}

int psx_finish(const struct psx_parser *p)
{
	if (p->err)
		return ph_seterr(p->err, "page-server stream: parser failed earlier");
	if (p->hdr_have)
		return ph_seterr(PH_ETRUNC,
				 "page-server stream ended inside a header: %zu of %u "
				 "bytes",
				 p->hdr_have, PSX_HDR_SIZE);
	if (p->payload_left)
		return ph_seterr(PH_ETRUNC,
				 "page-server stream ended with %" PRIu64 " page bytes missing",
				 p->payload_left);
	if (p->rq_len)
		return ph_seterr(PH_ETRUNC, "page-server stream ended with %zu answer bytes owed",
				 psx_reply_pending(p));
	if (p->in_session && !p->closed)
		return ph_seterr(PH_ETRUNC, "page-server stream ended without CLOSE");
	return 0;
}

const struct psx_counts *psx_session_counts(const struct psx_parser *p)
{
	return &p->session;
}

const struct psx_counts *psx_total_counts(const struct psx_parser *p)
{
	return &p->total;
}
