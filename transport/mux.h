/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mux: framed, multiplexed, flow-controlled streams over one chan.
 *
 * Every stream carries records (one frame each, at most PH_FRAME_MAX bytes
 * of payload). The control stream carries one protobuf message per record;
 * data streams (pages, images, fs) carry chunks and end with an EOF record.
 * A stream may be zstd-compressed: each record is one flushed block of the
 * stream's zstd stream, decompressed by the receiver into at most
 * PH_FRAME_MAX bytes (more is a protocol error, not an allocation).
 *
 * Flow control: per-stream credit. A sender blocks in mux_send() until the
 * receiver's consumer has drained enough (WINDOW frames), so a fast
 * producer cannot grow the peer's memory without bound.
 *
 * A reader thread demultiplexes; receiving functions block on a per-stream
 * queue with a timeout. When the connection fails, every blocked call
 * returns the same error (PH_EEOF, PH_ETRUNC, PH_EPROTO, ...).
 *
 * Keepalive: a side that has written nothing for MUX_KEEPALIVE_MS sends a
 * PING frame, so a live peer is never silent for longer than that, whatever
 * its application is busy with. An idle limit (mux_set_idle_timeout) then
 * turns a silent peer, or one stalled inside a frame, into a failure.
 * Wire format: transport/PROTOCOL.md.
 */
#ifndef TRANSPORT_MUX_H
#define TRANSPORT_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "transport/chan.h"

enum mux_stream {
	MUX_CTL = 0,
	MUX_PAGES = 1,
	MUX_IMAGES = 2,
	MUX_FS = 3,
	MUX_NSTREAMS = 4,
};

struct mux;

struct mux_stats {
	uint64_t raw_bytes;  /* payload before compression */
	uint64_t wire_bytes; /* bytes on the wire, headers included */
	uint64_t frames;
};

/* A side that wrote nothing for this long sends a PING. */
#define MUX_KEEPALIVE_MS 1000
/* Idle limits below this are raised to it: three missed keepalives. */
#define MUX_IDLE_MIN_MS (3 * MUX_KEEPALIVE_MS)

/*
 * Take ownership of c and start the reader and ticker threads. c belongs
 * to the mux from this call on, whatever it returns: on failure
 * mux_start() has already closed c and *out is NULL, so the caller must
 * not touch c again.
 */
int mux_start(struct chan *c, struct mux **out);
/* Stop, join, close the chan, free. Accepts NULL. The only way to end a mux. */
void mux_close(struct mux *m);

/* Compress what this side sends on stream s with zstd at level (0: off). */
int mux_set_compress(struct mux *m, int s, int level);
/* Cap the send rate, all streams together, bytes per second (0: none). */
void mux_set_bwlimit(struct mux *m, uint64_t bytes_per_sec);
/*
 * A sender waits at most timeout_ms for the peer to grant credit, and a
 * write to the channel at most that long for progress (-1, the default:
 * forever); then the whole mux fails with PH_ETIMEDOUT. Without it, a link
 * that dies while a stream's window or the socket's buffer is full blocks
 * the sender until TCP gives up, many minutes later.
 */
void mux_set_send_timeout(struct mux *m, int timeout_ms);

/*
 * Fail the whole mux with PH_ETIMEDOUT ("peer sent nothing for N ms") when
 * not a byte arrives from the peer for timeout_ms, counted from this call
 * (-1, the default: never). Applies to every wait at once: between
 * messages, inside a frame, inside a data stream. Checked once per
 * MUX_KEEPALIVE_MS, so the failure comes up to two of those late; values
 * below MUX_IDLE_MIN_MS are raised to it.
 */
void mux_set_idle_timeout(struct mux *m, int timeout_ms);

/* Send len bytes on stream s, split into records; blocks on credit. buf stays the caller's. */
int mux_send(struct mux *m, int s, const void *buf, size_t len);
/*
 * Send one record (len <= PH_FRAME_MAX); record boundary preserved. A
 * zero-length record is not sent (it would read as EOF). Records of one
 * stream from several threads are serialised in call order.
 */
int mux_send_rec(struct mux *m, int s, const void *buf, size_t len);
/* Mark the end of the data on stream s (receiver gets 0 from mux_recv). */
int mux_send_eof(struct mux *m, int s);

/*
 * Receive the next record of stream s into buf (cap PH_FRAME_MAX is always
 * enough). Returns its length (>0), 0 at an EOF record, <0 PH_E* on
 * failure, PH_ETIMEDOUT after timeout_ms (-1: wait forever; 0: poll). After
 * an EOF the stream can carry a new sequence (next iteration). A record
 * larger than cap is refused with PH_ETOOBIG and kept for the next call.
 * Records that arrived before a connection failure are delivered before
 * the failure is reported; after an ABORT (either side) they are dropped.
 * Taking a record returns its credit to the peer. buf is the caller's; the
 * record is copied into it.
 */
long mux_recv(struct mux *m, int s, void *buf, size_t cap, int timeout_ms);

/*
 * Tell the peer we are going away because of err (PH_E*) with a message;
 * the peer's blocked calls return PH_EPEER with "peer X aborted: <msg>".
 * Our own later calls return err. Still call mux_close() afterwards.
 */
void mux_abort(struct mux *m, int err, const char *msg);

void mux_get_stats(struct mux *m, int s, struct mux_stats *tx, struct mux_stats *rx);
/*
 * Flow-control state of stream s, for tests and progress output. Credit is
 * counted as payload bytes + MUX_REC_COST (64) per DATA frame.
 */
struct mux_flow {
	uint64_t window;    /* this stream's window */
	uint64_t rx_queued; /* credit held by records queued for our consumer */
	uint64_t rx_peak;   /* highest rx_queued so far (never above window) */
	int64_t tx_credit;  /* what we may still send before the peer grants more */
};
void mux_get_flow(struct mux *m, int s, struct mux_flow *f);

/*
 * The connection's sticky failure (its text in ph_errmsg()), or 0 while it
 * is up. Tells a failed mux from a receive that merely timed out.
 */
int mux_failed(struct mux *m);
/* Did it fail by an ABORT, sent by either side (a decision, not a lost link)? */
int mux_aborted(struct mux *m);

/* Peer name of the underlying chan, for messages; borrowed, valid until mux_close(). */
const char *mux_peer(struct mux *m);

#endif
