// SPDX-License-Identifier: GPL-2.0
#include "transport/frame.h"

#include "caps.h"
#include "err.h"
#include "transport/mux.h"

const char *frame_type_name(unsigned int type)
{
	switch (type) {
	case FRAME_DATA: return "DATA";
	case FRAME_WINDOW: return "WINDOW";
	case FRAME_ABORT: return "ABORT";
	case FRAME_PING: return "PING";
	}
	return "unknown";
}

/* Length rules per type; flags already known to be valid for the type. */
static int frame_check_len(const struct frame_hdr *h)
{
	switch (h->type) {
	case FRAME_DATA:
		if (h->len > PH_FRAME_MAX)
			return ph_seterr(PH_ETOOBIG,
					 "frame length %u exceeds the limit %u (DATA, stream %u)",
					 h->len, PH_FRAME_MAX, h->stream);
		if ((h->flags & FRAME_FIN) && h->len)
			return ph_seterr(PH_EPROTO,
					 "frame length %u on a FIN frame (stream %u): must be 0",
					 h->len, h->stream);
		return 0;
	case FRAME_WINDOW:
		if (h->len != FRAME_U32_LEN)
			return ph_seterr(PH_EPROTO, "frame length %u on a WINDOW frame: must be %u",
					 h->len, FRAME_U32_LEN);
		return 0;
	case FRAME_PING:
		if (h->len)
			return ph_seterr(PH_EPROTO, "frame length %u on a PING frame: must be 0",
					 h->len);
		return 0;
	default: /* FRAME_ABORT */
		if (h->len > PH_FRAME_MAX)
			return ph_seterr(PH_ETOOBIG, "frame length %u exceeds the limit %u (ABORT)",
					 h->len, PH_FRAME_MAX);
		if (h->len < FRAME_U32_LEN)
			return ph_seterr(PH_EPROTO,
					 "frame length %u on an ABORT frame: must be %u..%u",
					 h->len, FRAME_U32_LEN, PH_FRAME_MAX);
		return 0;
	}
}

static int frame_check(const struct frame_hdr *h)
{
	if (h->type < FRAME_DATA || h->type > FRAME_PING)
		return ph_seterr(PH_EPROTO, "frame type %u is unknown (known: 1..4)", h->type);
	if (h->stream >= MUX_NSTREAMS)
		return ph_seterr(PH_EPROTO, "frame stream %u out of range (limit %u)", h->stream,
				 MUX_NSTREAMS - 1);
	if (h->type == FRAME_PING && h->stream != MUX_CTL)
		return ph_seterr(PH_EPROTO, "frame stream %u on a PING frame: must be 0",
				 h->stream);
	if (h->flags & ~FRAME_FLAGS_KNOWN)
		return ph_seterr(PH_EPROTO, "frame flags 0x%04x have unknown bits (known: 0x%04x)",
				 h->flags, FRAME_FLAGS_KNOWN);
	if (h->type != FRAME_DATA && h->flags)
		return ph_seterr(PH_EPROTO, "frame flags 0x%04x on %s frames: must be 0", h->flags,
				 frame_type_name(h->type));
	if ((h->flags & FRAME_FIN) && (h->flags & FRAME_ZSTD))
		return ph_seterr(PH_EPROTO, "frame flags 0x%04x: FIN and ZSTD are exclusive",
				 h->flags);
	return frame_check_len(h);
}

int frame_parse_hdr(const uint8_t *buf, size_t len, struct frame_hdr *h)
{
	struct frame_hdr t;
	int r;

	if (len < FRAME_HDR_LEN)
		return 0;
	t.type = buf[0];
	t.stream = buf[1];
	t.flags = (uint16_t)(buf[2] << 8 | buf[3]);
	t.len = frame_get_u32(buf + 4);
	r = frame_check(&t);
	if (r < 0)
		return r;
	*h = t;
	return FRAME_HDR_LEN;
}

int frame_put_hdr(uint8_t *buf, const struct frame_hdr *h)
{
	int r = frame_check(h);

	if (r < 0)
		return r;
	buf[0] = h->type;
	buf[1] = h->stream;
	buf[2] = h->flags >> 8;
	buf[3] = h->flags & 0xff;
	frame_put_u32(buf + 4, h->len);
	return FRAME_HDR_LEN;
}
