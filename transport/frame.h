/* SPDX-License-Identifier: GPL-2.0 */
/*
 * frame: the 8-byte header in front of every mux frame.
 *
 *	u8  type	FRAME_DATA, FRAME_WINDOW, FRAME_ABORT, FRAME_PING
 *	u8  stream	< MUX_NSTREAMS (PING: 0)
 *	u16 flags	FRAME_FIN, FRAME_ZSTD (DATA only)
 *	u32 length	payload bytes that follow
 *
 * Big-endian, encoded byte by byte (never a raw struct). The parser checks
 * every field against its limit, so a caller may allocate h->len bytes
 * once frame_parse_hdr() returned > 0. Wire format: transport/PROTOCOL.md.
 */
#ifndef TRANSPORT_FRAME_H
#define TRANSPORT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR_LEN 8

enum frame_type {
	FRAME_DATA = 1,	  /* stream payload (a record) */
	FRAME_WINDOW = 2, /* u32 credit increment for the stream */
	FRAME_ABORT = 3,  /* u32 PH_E* code + message text; ends the session */
	FRAME_PING = 4,	  /* keepalive: stream 0, no flags, no payload; ignored */
};

#define FRAME_FIN	  0x0001u /* end of the stream's data; no payload */
#define FRAME_ZSTD	  0x0002u /* payload is one flushed block of the stream's zstd stream */
#define FRAME_FLAGS_KNOWN (FRAME_FIN | FRAME_ZSTD)

/* WINDOW payload is exactly this; ABORT payload at least this (the code). */
#define FRAME_U32_LEN 4

struct frame_hdr {
	uint8_t type;
	uint8_t stream;
	uint16_t flags;
	uint32_t len;
};

/*
 * Parse one header from the first len bytes of buf. Returns FRAME_HDR_LEN
 * (bytes consumed) with *h filled, 0 if fewer than FRAME_HDR_LEN bytes are
 * available yet, or <0: PH_EPROTO (bad type, stream, flags, or a length the
 * type forbids) or PH_ETOOBIG (length above PH_FRAME_MAX), with a message
 * naming the field, the value and the limit. *h is untouched on failure.
 */
int frame_parse_hdr(const uint8_t *buf, size_t len, struct frame_hdr *h);

/*
 * Encode h into buf (FRAME_HDR_LEN bytes). Returns FRAME_HDR_LEN, or <0 if
 * h is not something frame_parse_hdr() would accept (a local bug: the
 * encoder never puts an invalid header on the wire).
 */
int frame_put_hdr(uint8_t *buf, const struct frame_hdr *h);

/* "DATA", "WINDOW", "ABORT", "PING" or "unknown"; static strings. */
const char *frame_type_name(unsigned int type);

static inline void frame_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline uint32_t frame_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
