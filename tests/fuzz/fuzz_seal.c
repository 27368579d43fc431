// SPDX-License-Identifier: GPL-2.0
/*
 * The sealed record layer (transport/seal.c) as a reader of a hostile
 * wire. The input is a cipher byte (bit 0: AES-256-GCM) and a small
 * program that builds the wire from records sealed here, independently,
 * in the format of PROTOCOL.md 5.3, and from what an attacker adds:
 *
 *	0 L16 bytes	a valid record of L bytes (taken from the input)
 *	1 L16 bytes	L raw bytes (garbage, a forged header, a torn record)
 *	2 K		record K again (replay)
 *	3 P		flip bit P of the last record on the wire (once)
 *	4		the close record (empty)
 *	5 L16 bytes	a valid record of L bytes, not sent (drop)
 *
 * The oracle: the reader delivers exactly the valid records that precede
 * the first change, never a byte of or after a changed record; it ends
 * with 0 only after an untouched close record, with an error otherwise.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "transport/chan_int.h"

#define ABYTES	  16
#define WIRE_MAX  (1u << 20)
#define KEEP_RECS 16

struct wire {
	uint8_t *buf;
	size_t len;
	int fd;
};

static void *writer(void *arg)
{
	struct wire *w = arg;
	size_t off = 0;

	while (off < w->len) {
		ssize_t n = send(w->fd, w->buf + off, w->len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break; /* the reader gave up: fine */
		off += n;
	}
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

static size_t get16(const uint8_t **p, const uint8_t *end)
{
	size_t v;

	if (end - *p < 2)
		return 0;
	v = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	return v;
}

struct prog {
	int cipher;
	const uint8_t *key;
	uint64_t seq;
	uint8_t *wire, *want;
	size_t wlen, wantlen;
	size_t rec_off[KEEP_RECS], rec_len[KEEP_RECS];
	int nrec;
	int tampered, closed; /* before the close record: a change; the close record */
	size_t close_end;     /* where the close record ends on the wire */
	size_t last_off, last_len;
	size_t last_want; /* what the last record on the wire added to want */
	int last_flipped; /* once: a second flip could undo the first */
};

/* Seal len bytes (0: the close record); append to the wire unless drop. 0 or -1 (full). */
static int seal_rec(struct prog *p, const uint8_t *m, size_t len, int drop)
{
	uint8_t *r = p->wire + p->wlen, nonce[12] = { 0 };
	size_t clen = len + ABYTES;
	int tag = !len;

	if (p->wlen + 4 + clen > WIRE_MAX)
		return -1;
	r[0] = clen >> 24;
	r[1] = clen >> 16;
	r[2] = clen >> 8;
	r[3] = clen;
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(p->seq >> (56 - 8 * i));
	p->seq++;
	if (p->cipher == SEAL_AES256_GCM)
		crypto_aead_aes256gcm_encrypt(r + 4, NULL, m, len, r, 4, NULL, nonce, p->key);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt(r + 4, NULL, m, len, r, 4, NULL, nonce,
							  p->key);
	if (drop) {
		if (!p->closed)
			p->tampered = 1;
		return 0;
	}
	p->last_want = 0;
	p->last_flipped = 0;
	if (!p->tampered && !p->closed) {
		if (tag) {
			p->closed = 1;
			p->close_end = p->wlen + 4 + clen;
		} else {
			memcpy(p->want + p->wantlen, m, len);
			p->wantlen += len;
			p->last_want = len;
		}
	}
	if (p->nrec < KEEP_RECS) {
		p->rec_off[p->nrec] = p->wlen;
		p->rec_len[p->nrec++] = 4 + clen;
	}
	p->last_off = p->wlen;
	p->last_len = 4 + clen;
	p->wlen += 4 + clen;
	return 0;
}

/* An attacker's change, unless the close record already ended what counts. */
static void tamper(struct prog *p)
{
	if (!p->closed)
		p->tampered = 1;
}

static void build(struct prog *p, const uint8_t *d, const uint8_t *end)
{
	while (d < end) {
		uint8_t op = *d++ % 6;
		size_t n;

		switch (op) {
		case 0:
		case 5:
			n = get16(&d, end);
			if (n > (size_t)(end - d))
				n = end - d;
			if (!n)
				break; /* an empty record is the close record */
			if (seal_rec(p, d, n, op == 5))
				return;
			d += n;
			break;
		case 1:
			n = get16(&d, end);
			if (n > (size_t)(end - d))
				n = end - d;
			if (p->wlen + n > WIRE_MAX)
				return;
			memcpy(p->wire + p->wlen, d, n);
			p->wlen += n;
			d += n;
			if (n)
				tamper(p);
			break;
		case 2:
			if (d >= end || !p->nrec)
				return;
			n = *d++ % p->nrec;
			if (p->wlen + p->rec_len[n] > WIRE_MAX)
				return;
			memmove(p->wire + p->wlen, p->wire + p->rec_off[n], p->rec_len[n]);
			p->last_off = p->wlen;
			p->last_len = p->rec_len[n];
			p->last_want = 0;
			p->last_flipped = 0;
			p->wlen += p->rec_len[n];
			tamper(p);
			break;
		case 3:
			if (d >= end || !p->last_len || p->last_flipped)
				return;
			n = *d++ % (p->last_len * 8);
			p->last_flipped = 1;
			p->wire[p->last_off + n / 8] ^= 1u << (n % 8);
			if (!p->closed || p->last_off < p->close_end) {
				p->tampered = 1;	    /* the close record itself counts */
				p->wantlen -= p->last_want; /* nothing of it may come out */
				p->last_want = 0;
			}
			break;
		case 4:
			if (seal_rec(p, NULL, 0, 0))
				return;
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[SEAL_KEY_LEN] = "fuzz-seal-key", other[SEAL_KEY_LEN] = "tx";
	struct prog p = { .key = key };
	struct wire w;
	struct chan *c = NULL;
	uint8_t *got;
	size_t have = 0;
	pthread_t t;
	ssize_t n;
	int sv[2];

	if (sodium_init() < 0)
		abort();
	p.wire = malloc(WIRE_MAX);
	p.want = malloc(WIRE_MAX);
	got = malloc(WIRE_MAX + 1);
	p.cipher = size && data[0] & 1 && crypto_aead_aes256gcm_is_available()
			   ? SEAL_AES256_GCM
			   : SEAL_CHACHA20_POLY1305;
	if (size)
		build(&p, data + 1, data + size);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (chan_fd_open(sv[1], sv[1], "fuzz", &c) || chan_seal(c, p.cipher, other, key))
		abort();
	w = (struct wire){ p.wire, p.wlen, sv[0] };
	if (pthread_create(&t, NULL, writer, &w))
		abort();
	while ((n = c->ops->read(c, got + have, WIRE_MAX - have)) > 0)
		have += n;
	if (getenv("FUZZ_SEAL_DEBUG"))
		fprintf(stderr, "n=%zd have=%zu want=%zu closed=%d tampered=%d %s\n", n, have,
			p.wantlen, p.closed, p.tampered, ph_errmsg());
	/* Untouched up to an untouched close record: all of it, then 0. */
	if (p.closed && !p.tampered ? n != 0 : n >= 0)
		abort();
	/* Exactly the records before the first change, and nothing of it. */
	if (have != p.wantlen || memcmp(got, p.want, have))
		abort();
	/* The failure is sticky. */
	if (n < 0 && c->ops->read(c, got, 1) != n)
		abort();
	chan_shutdown(c);
	pthread_join(t, NULL);
	chan_close(c);
	close(sv[0]);
	free(p.wire);
	free(p.want);
	free(got);
	return 0;
}
