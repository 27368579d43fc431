// SPDX-License-Identifier: GPL-2.0
/*
 * seal: the record layer of a chan authenticated by the shared secret
 * (PROTOCOL.md section 5.3). chan_seal() wraps an established chan in
 * place, so the mux above reads and writes the same byte stream as before:
 *
 *	record := len[4, big-endian] || AEAD(key, nonce, ad = len, plaintext)
 *
 * with AES-256-GCM or ChaCha20-Poly1305 (IETF), one key per direction and
 * the nonce 0[4] || seq[8, big-endian], seq counting this direction's
 * records from 0; it is never sent, so a replayed, reordered, dropped or
 * spliced record fails to open. len (plaintext + 16) is authenticated and
 * checked against PH_RECORD_MAX before the record is read. An empty record
 * is the close record: a cut connection is told apart from a clean end.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "err.h"
#include "transport/chan_int.h"

#define SEAL_ABYTES    16
#define SEAL_NONCE     12
#define SEAL_LEN_BYTES 4
#define SEAL_WIRE_MAX  (SEAL_LEN_BYTES + PH_RECORD_MAX + SEAL_ABYTES)
/* A close record that cannot leave at once is not waited for longer. */
#define SEAL_CLOSE_TIMEOUT_MS 200

struct seal {
	struct chan *inner; /* owned */
	pthread_mutex_t txlock, rxlock;

	int cipher; /* SEAL_* */
	/* tx, under txlock */
	uint8_t tx_key[SEAL_KEY_LEN];
	uint64_t tx_seq;
	uint8_t *txbuf; /* one record on the wire, SEAL_WIRE_MAX */
	int tx_err;	/* sticky: a record went out in part, the stream is lost */
	int tx_closed;	/* the close record is sent */

	/* rx, under rxlock */
	uint8_t rx_key[SEAL_KEY_LEN];
	uint8_t *rxbuf; /* the record being read, SEAL_WIRE_MAX */
	size_t rx_have; /* bytes of it read so far */
	size_t rx_need; /* SEAL_LEN_BYTES until the length is in, then the whole record */
	uint8_t *plain; /* the opened record, PH_RECORD_MAX */
	size_t plain_off, plain_len;
	uint64_t rx_seq; /* records opened: the next one's nonce */
	int rx_final;	 /* the close record arrived: the peer closed in order */
	int rx_err;	 /* sticky */
	char rx_msg[512];

	/* rx_err for writers, set once (rx_msg first): why the session is over */
	atomic_int broken;
};

static uint32_t seal_get_u32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void seal_put_u32(uint8_t *b, uint32_t v)
{
	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
}

static void seal_nonce(uint8_t *n, uint64_t seq)
{
	memset(n, 0, 4);
	seal_put_u32(n + 4, (uint32_t)(seq >> 32));
	seal_put_u32(n + 8, (uint32_t)seq);
}

/* With txlock held: seal len bytes (len <= PH_RECORD_MAX; 0: the close record), send them. */
static int seal_send(struct seal *s, const void *buf, size_t len)
{
	size_t clen = len + SEAL_ABYTES;
	uint8_t nonce[SEAL_NONCE];
	int r;

	seal_put_u32(s->txbuf, (uint32_t)clen);
	seal_nonce(nonce, s->tx_seq++);
	if (s->cipher == SEAL_AES256_GCM)
		crypto_aead_aes256gcm_encrypt(s->txbuf + SEAL_LEN_BYTES, NULL, buf, len, s->txbuf,
					      SEAL_LEN_BYTES, NULL, nonce, s->tx_key);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt(s->txbuf + SEAL_LEN_BYTES, NULL, buf, len,
							  s->txbuf, SEAL_LEN_BYTES, NULL, nonce,
							  s->tx_key);
	r = chan_write_full(s->inner, s->txbuf, SEAL_LEN_BYTES + clen);
	if (r < 0)
		s->tx_err = r; /* the sequence moved on: no later record can be read */
	return r;
}

static ssize_t seal_write(struct chan *c, const void *buf, size_t len)
{
	struct seal *s = c->priv;
	size_t n = len < PH_RECORD_MAX ? len : PH_RECORD_MAX;
	ssize_t r;

	pthread_mutex_lock(&s->txlock);
	if (atomic_load(&s->broken))
		r = atomic_load(&s->broken); /* restated below */
	else if (s->tx_err)
		r = ph_seterr(-s->tx_err, "%s: an earlier record was not sent whole", c->peer);
	else if (s->tx_closed)
		r = ph_seterr(PH_EEOF, "%s: channel shut down", c->peer);
	else if (!n)
		r = 0; /* an empty record would be the close record */
	else if ((r = seal_send(s, buf, n)) == 0)
		r = (ssize_t)n;
	/*
	 * A forged or cut record the reader found ends the session: say that,
	 * not the broken pipe its shutdown left under this write.
	 */
	if (r < 0 && atomic_load(&s->broken))
		r = ph_seterr(-atomic_load(&s->broken), "%s", s->rx_msg);
	pthread_mutex_unlock(&s->txlock);
	return r;
}

/* With rxlock held: remember the first failure; every later read repeats it. */
static int seal_rx_fail(struct seal *s, int err)
{
	s->rx_err = err;
	snprintf(s->rx_msg, sizeof(s->rx_msg), "%s", ph_errmsg());
	atomic_store(&s->broken, err);
	return err;
}

/* The inner chan ended (n == 0 or -PH_EEOF) with s->rx_have bytes of a record in. */
static int seal_rx_eof(struct chan *c, struct seal *s)
{
	if (s->rx_have)
		return seal_rx_fail(s, ph_seterr(PH_ETRUNC,
						 "peer %s: connection ended inside sealed record "
						 "%llu (got %zu of %zu bytes)",
						 c->peer, (unsigned long long)s->rx_seq, s->rx_have,
						 s->rx_need));
	return seal_rx_fail(s, ph_seterr(PH_EEOF,
					 "peer %s closed the connection without its close record "
					 "(the peer died or the connection was cut on the way)",
					 c->peer));
}

/* With rxlock held: s->rx_need bytes are in; open them. */
static int seal_open(struct chan *c, struct seal *s)
{
	const uint8_t *ct = s->rxbuf + SEAL_LEN_BYTES;
	size_t clen = s->rx_need - SEAL_LEN_BYTES;
	uint8_t nonce[SEAL_NONCE];
	unsigned long long mlen;
	int r;

	seal_nonce(nonce, s->rx_seq);
	if (s->cipher == SEAL_AES256_GCM)
		r = crypto_aead_aes256gcm_decrypt(s->plain, &mlen, NULL, ct, clen, s->rxbuf,
						  SEAL_LEN_BYTES, nonce, s->rx_key);
	else
		r = crypto_aead_chacha20poly1305_ietf_decrypt(s->plain, &mlen, NULL, ct, clen,
							      s->rxbuf, SEAL_LEN_BYTES, nonce,
							      s->rx_key);
	if (r != 0)
		return seal_rx_fail(s,
				    ph_seterr(PH_EAUTH,
					      "peer %s: sealed record %llu failed authentication "
					      "(forged, replayed, reordered or altered on the way)",
					      c->peer, (unsigned long long)s->rx_seq));
	s->rx_seq++;
	s->rx_have = 0;
	s->rx_need = SEAL_LEN_BYTES;
	if (mlen == 0)
		s->rx_final = 1;
	s->plain_off = 0;
	s->plain_len = (size_t)mlen;
	return 0;
}

/* With rxlock held: check the length header just read. */
static int seal_check_len(struct chan *c, struct seal *s)
{
	uint32_t clen = seal_get_u32(s->rxbuf);

	if (clen < SEAL_ABYTES || clen > PH_RECORD_MAX + SEAL_ABYTES)
		return seal_rx_fail(s, ph_seterr(PH_ETOOBIG,
						 "peer %s: sealed record %llu has length %u, must "
						 "be %u..%u",
						 c->peer, (unsigned long long)s->rx_seq, clen,
						 (unsigned int)SEAL_ABYTES,
						 (unsigned int)(PH_RECORD_MAX + SEAL_ABYTES)));
	s->rx_need = SEAL_LEN_BYTES + clen;
	return 0;
}

/*
 * With rxlock held: read and open the next record. 0 when a record was
 * opened or the close record arrived, <0 on failure. A timeout keeps what
 * was read, so the next call resumes inside the record.
 */
static int seal_next(struct chan *c, struct seal *s)
{
	struct chan *in = s->inner;
	int r;

	while (s->rx_have < s->rx_need) {
		ssize_t n = in->ops->read(in, s->rxbuf + s->rx_have, s->rx_need - s->rx_have);

		if (n == 0 || n == -PH_EEOF)
			return seal_rx_eof(c, s);
		if (n == -PH_ETIMEDOUT)
			return (int)n;
		if (n < 0)
			return seal_rx_fail(s, (int)n);
		s->rx_have += (size_t)n;
		if (s->rx_have == SEAL_LEN_BYTES && s->rx_need == SEAL_LEN_BYTES &&
		    (r = seal_check_len(c, s)) < 0)
			return r;
	}
	return seal_open(c, s);
}

static ssize_t seal_read(struct chan *c, void *buf, size_t len)
{
	struct seal *s = c->priv;
	ssize_t r = 0;
	size_t n;

	pthread_mutex_lock(&s->rxlock);
	while (s->plain_off == s->plain_len) {
		if (s->rx_err) {
			r = ph_seterr(-s->rx_err, "%s", s->rx_msg);
			goto out;
		}
		if (s->rx_final) {
			r = 0; /* orderly end: the peer said so, under the key */
			goto out;
		}
		if ((r = seal_next(c, s)) < 0)
			goto out;
	}
	n = s->plain_len - s->plain_off < len ? s->plain_len - s->plain_off : len;
	memcpy(buf, s->plain + s->plain_off, n);
	s->plain_off += n;
	r = (ssize_t)n;
out:
	pthread_mutex_unlock(&s->rxlock);
	return r;
}

/*
 * Send the close record if no writer is in the middle of one (a writer
 * blocked on a stalled peer is woken by the inner shutdown instead), then
 * stop the inner chan. Keeps the caller's error detail.
 */
static void seal_shutdown(struct chan *c)
{
	struct seal *s = c->priv;
	char saved[1024];
	int saved_err = ph_lasterr();

	snprintf(saved, sizeof(saved), "%s", ph_errmsg());
	if (pthread_mutex_trylock(&s->txlock) == 0) {
		/* A session the reader found tampered with is not closed in order. */
		if (!s->tx_err && !s->tx_closed && !atomic_load(&s->broken)) {
			if (s->inner->ops->set_write_timeout)
				s->inner->ops->set_write_timeout(s->inner, SEAL_CLOSE_TIMEOUT_MS);
			seal_send(s, NULL, 0);
			s->tx_closed = 1;
		}
		pthread_mutex_unlock(&s->txlock);
	}
	s->inner->ops->shutdown(s->inner);
	if (saved_err)
		ph_seterr(saved_err < 0 ? -saved_err : saved_err, "%s", saved);
	else
		ph_clearerr();
}

static void seal_free(struct chan *c)
{
	struct seal *s = c->priv;

	if (s) {
		s->inner->ops->free(s->inner);
		pthread_mutex_destroy(&s->txlock);
		pthread_mutex_destroy(&s->rxlock);
		free(s->txbuf);
		free(s->rxbuf);
		free(s->plain);
		sodium_memzero(s, sizeof(*s));
		free(s);
	}
	free(c);
}

static int seal_set_timeout(struct chan *c, int timeout_ms)
{
	struct seal *s = c->priv;

	return chan_set_timeout(s->inner, timeout_ms);
}

static int seal_set_write_timeout(struct chan *c, int timeout_ms)
{
	struct seal *s = c->priv;

	return chan_set_write_timeout(s->inner, timeout_ms);
}

static const struct chan_ops seal_ops = {
	.name = "sealed",
	.read = seal_read,
	.write = seal_write,
	.shutdown = seal_shutdown,
	.free = seal_free,
	.set_timeout = seal_set_timeout,
	.set_write_timeout = seal_set_write_timeout,
};

int chan_seal_ciphers(void)
{
	int have = SEAL_CHACHA20_POLY1305;
	const char *only = getenv("PHAUL_SEAL_CIPHER");

	if (sodium_init() >= 0 && crypto_aead_aes256gcm_is_available())
		have |= SEAL_AES256_GCM;
	if (only && !strcmp(only, "chacha20-poly1305"))
		have &= SEAL_CHACHA20_POLY1305;
	return have;
}

const char *chan_seal_cipher_name(int cipher)
{
	return cipher == SEAL_AES256_GCM ? "aes256-gcm" : "chacha20-poly1305";
}

int chan_seal(struct chan *c, int cipher, const uint8_t *tx_key, const uint8_t *rx_key)
{
	struct chan *inner = NULL;
	struct seal *s = NULL;

	inner = malloc(sizeof(*inner));
	s = calloc(1, sizeof(*s));
	if (!inner || !s)
		goto fail;
	s->txbuf = malloc(SEAL_WIRE_MAX);
	s->rxbuf = malloc(SEAL_WIRE_MAX);
	s->plain = malloc(PH_RECORD_MAX);
	if (!s->txbuf || !s->rxbuf || !s->plain)
		goto fail;
	*inner = *c;
	s->inner = inner;
	s->cipher = cipher;
	memcpy(s->tx_key, tx_key, SEAL_KEY_LEN);
	memcpy(s->rx_key, rx_key, SEAL_KEY_LEN);
	s->rx_need = SEAL_LEN_BYTES;
	atomic_init(&s->broken, 0);
	pthread_mutex_init(&s->txlock, NULL);
	pthread_mutex_init(&s->rxlock, NULL);
	c->ops = &seal_ops;
	c->priv = s;
	return 0;
fail:
	if (s) {
		free(s->txbuf);
		free(s->rxbuf);
		free(s->plain);
	}
	free(s);
	free(inner);
	return ph_seterr(PH_ENOMEM, "sealing the channel to %s", c->peer);
}
