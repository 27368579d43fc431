// SPDX-License-Identifier: GPL-2.0
/*
 * Shared-secret mutual authentication and key agreement for tcp peers
 * (PROTOCOL.md section 5): ephemeral X25519 (crypto_kx) for forward
 * secrecy, the record cipher chosen from what the server offers, both
 * sides proving the secret over the transcript, and one key per direction
 * for the record layer (seal.c):
 *
 *	S->C  S1 = "PHAUL-AUTH2\n" spk[32] offer[1]
 *	C->S  C1 = "PHAUL-AUTH2\n" cpk[32] cipher[1] tag_c[32]
 *	S->C  S2 = tag_s[32]
 *
 * Fixed sizes only, so nothing read here is ever used as a length. The
 * server answers nothing to a wrong proof and the caller closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "transport/chan_int.h"

#define AUTH_MAGIC     "PHAUL-AUTH2\n"
#define AUTH_MAGIC_OLD "PHAUL-AUTH1\n"
#define AUTH_MAGIC_LEN (sizeof(AUTH_MAGIC) - 1)
#define AUTH_PK	       crypto_kx_PUBLICKEYBYTES
#define AUTH_KEY       SEAL_KEY_LEN
#define AUTH_TAG       32
#define AUTH_S1_LEN    (AUTH_MAGIC_LEN + AUTH_PK + 1)
#define AUTH_C1_SIGNED (AUTH_MAGIC_LEN + AUTH_PK + 1) /* what the transcript covers */
#define AUTH_C1_LEN    (AUTH_C1_SIGNED + AUTH_TAG)
#define AUTH_S2_LEN    AUTH_TAG
#define AUTH_KDF_CTX   "phaulau2"

/* What both sides derive once the ephemeral keys are exchanged. */
struct auth_keys {
	uint8_t th[32]; /* transcript hash: S1 || C1 up to its tag */
	uint8_t tag_c[AUTH_KEY], tag_s[AUTH_KEY];
	uint8_t c2s[AUTH_KEY], s2c[AUTH_KEY];
};

/*
 * The key schedule. dh is crypto_kx's BLAKE2b-512(X25519 || cpk || spk)
 * (the client's rx||tx, the server's tx||rx). The secret keys a BLAKE2b
 * over dh and the transcript; crypto_kdf splits that into the four keys.
 */
static void auth_derive(struct auth_keys *k, const uint8_t *key, size_t keylen,
			const uint8_t dh[64], const uint8_t *s1, const uint8_t *c1)
{
	crypto_generichash_state st;
	uint8_t psk[32], prk[crypto_kdf_KEYBYTES];

	crypto_generichash_init(&st, NULL, 0, sizeof(psk));
	crypto_generichash_update(&st, (const uint8_t *)"phaul-auth2 psk", 15);
	crypto_generichash_update(&st, key, keylen);
	crypto_generichash_final(&st, psk, sizeof(psk));
	crypto_generichash_init(&st, NULL, 0, sizeof(k->th));
	crypto_generichash_update(&st, s1, AUTH_S1_LEN);
	crypto_generichash_update(&st, c1, AUTH_C1_SIGNED);
	crypto_generichash_final(&st, k->th, sizeof(k->th));
	crypto_generichash_init(&st, psk, sizeof(psk), sizeof(prk));
	crypto_generichash_update(&st, dh, 64);
	crypto_generichash_update(&st, k->th, sizeof(k->th));
	crypto_generichash_final(&st, prk, sizeof(prk));
	crypto_kdf_derive_from_key(k->tag_c, AUTH_KEY, 1, AUTH_KDF_CTX, prk);
	crypto_kdf_derive_from_key(k->tag_s, AUTH_KEY, 2, AUTH_KDF_CTX, prk);
	crypto_kdf_derive_from_key(k->c2s, AUTH_KEY, 3, AUTH_KDF_CTX, prk);
	crypto_kdf_derive_from_key(k->s2c, AUTH_KEY, 4, AUTH_KDF_CTX, prk);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(psk, sizeof(psk));
	sodium_memzero(prk, sizeof(prk));
}

/* A proof: BLAKE2b keyed with tag_c or tag_s over the transcript hash. */
static void auth_tag(uint8_t *out, const uint8_t *tkey, const uint8_t *th)
{
	crypto_generichash(out, AUTH_TAG, th, 32, tkey, AUTH_KEY);
}

/* Read exactly len bytes before the deadline (an absolute chan_now_ms()). */
static int auth_read(struct chan *c, void *buf, size_t len, int64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		int64_t left = deadline - chan_now_ms();
		ssize_t n;

		if (left <= 0)
			return ph_seterr(PH_ETIMEDOUT,
					 "peer %s: authentication not completed in time (got %zu "
					 "of %zu bytes)",
					 c->peer, got, len);
		if (c->ops->set_timeout)
			c->ops->set_timeout(c, (int)left);
		n = c->ops->read(c, (uint8_t *)buf + got, len - got);
		if (n > 0) {
			got += n;
			continue;
		}
		if (n == -PH_ETIMEDOUT)
			continue; /* the loop head reports it with the byte count */
		if (n == 0)
			return ph_seterr(PH_EEOF,
					 "peer %s closed the connection during authentication (got "
					 "%zu of %zu bytes)",
					 c->peer, got, len);
		return (int)n;
	}
	return 0;
}

static int auth_write(struct chan *c, const void *buf, size_t len, int64_t deadline)
{
	int64_t left = deadline - chan_now_ms();

	if (c->ops->set_timeout)
		c->ops->set_timeout(c, left > 0 ? (int)left : 1);
	return chan_write_full(c, buf, len);
}

static int auth_check_key(struct chan *c, size_t keylen)
{
	if (keylen < PH_SECRET_MIN || keylen > PH_SECRET_MAX)
		return ph_seterr(PH_ECONFIG, "shared secret for %s is %zu bytes, must be %u..%u",
				 c->peer, keylen, PH_SECRET_MIN, PH_SECRET_MAX);
	if (sodium_init() < 0)
		return ph_seterr(PH_ESYS, "libsodium failed to initialise");
	return 0;
}

static void auth_done(struct chan *c)
{
	if (c->ops->set_timeout)
		c->ops->set_timeout(c, -1);
}

/* The greeting the peer sent: ours, an older phaul's, or something else. */
static int auth_check_magic(struct chan *c, const uint8_t *magic, int server)
{
	if (!memcmp(magic, AUTH_MAGIC, AUTH_MAGIC_LEN))
		return 0;
	if (!memcmp(magic, AUTH_MAGIC_OLD, AUTH_MAGIC_LEN))
		return ph_seterr(PH_EVERSION,
				 "tcp peer %s speaks PHAUL-AUTH1 (an older phaul without the "
				 "encrypted record layer); this phaul requires PHAUL-AUTH2: update "
				 "phaul on both hosts",
				 c->peer);
	if (server)
		return ph_seterr(PH_EAUTH,
				 "tcp peer %s failed shared-secret authentication: not a phaul "
				 "client (bad greeting)",
				 c->peer);
	return ph_seterr(PH_EAUTH, "tcp peer %s is not a phaul agent (bad auth greeting)", c->peer);
}

/* The client's pick from the server's offer: AES-256-GCM if both run it fast. */
static int auth_pick_cipher(struct chan *c, uint8_t offer, uint8_t *cipher)
{
	int both = offer & chan_seal_ciphers();

	*cipher = both & SEAL_AES256_GCM ? SEAL_AES256_GCM : both & SEAL_CHACHA20_POLY1305;
	if (!*cipher)
		return ph_seterr(PH_EVERSION,
				 "tcp peer %s offers record ciphers 0x%02x, none of which this "
				 "phaul runs",
				 c->peer, offer);
	return 0;
}

int chan_auth_server_tmo(struct chan *c, const uint8_t *key, size_t keylen, int timeout_ms)
{
	uint8_t s1[AUTH_S1_LEN], c1[AUTH_C1_LEN], s2[AUTH_S2_LEN], sk[crypto_kx_SECRETKEYBYTES];
	uint8_t dh[64], want[AUTH_TAG];
	const uint8_t *spk = s1 + AUTH_MAGIC_LEN, *cpk = c1 + AUTH_MAGIC_LEN;
	uint8_t offer = (uint8_t)chan_seal_ciphers(), cipher;
	struct auth_keys k;
	int64_t deadline = chan_now_ms() + timeout_ms;
	int r;

	if ((r = auth_check_key(c, keylen)) < 0)
		return r;
	memcpy(s1, AUTH_MAGIC, AUTH_MAGIC_LEN);
	crypto_kx_keypair(s1 + AUTH_MAGIC_LEN, sk);
	s1[AUTH_MAGIC_LEN + AUTH_PK] = offer;
	if ((r = auth_write(c, s1, sizeof(s1), deadline)) < 0)
		goto out;
	if ((r = auth_read(c, c1, AUTH_MAGIC_LEN, deadline)) < 0 ||
	    (r = auth_check_magic(c, c1, 1)) < 0)
		goto out;
	if ((r = auth_read(c, c1 + AUTH_MAGIC_LEN, sizeof(c1) - AUTH_MAGIC_LEN, deadline)) < 0)
		goto out;
	if (crypto_kx_server_session_keys(dh + 32, dh, spk, sk, cpk)) {
		r = ph_seterr(PH_EAUTH,
			      "tcp peer %s failed shared-secret authentication: invalid public key",
			      c->peer);
		goto out;
	}
	auth_derive(&k, key, keylen, dh, s1, c1);
	auth_tag(want, k.tag_c, k.th);
	if (sodium_memcmp(want, c1 + AUTH_C1_SIGNED, AUTH_TAG)) {
		r = ph_seterr(PH_EAUTH, "tcp peer %s failed shared-secret authentication", c->peer);
		goto out;
	}
	cipher = c1[AUTH_MAGIC_LEN + AUTH_PK];
	if ((cipher != SEAL_AES256_GCM && cipher != SEAL_CHACHA20_POLY1305) || !(cipher & offer)) {
		r = ph_seterr(PH_EPROTO,
			      "tcp peer %s chose record cipher 0x%02x, not one of 0x%02x", c->peer,
			      cipher, offer);
		goto out;
	}
	auth_tag(s2, k.tag_s, k.th);
	if ((r = auth_write(c, s2, sizeof(s2), deadline)) < 0)
		goto out;
	r = chan_seal(c, cipher, k.s2c, k.c2s);
out:
	auth_done(c);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(&k, sizeof(k));
	if (r < 0) /* an unproven peer gets nothing more from us, not even a read */
		chan_shutdown(c);
	return r;
}

int chan_auth_client_tmo(struct chan *c, const uint8_t *key, size_t keylen, int timeout_ms)
{
	uint8_t s1[AUTH_S1_LEN], c1[AUTH_C1_LEN], s2[AUTH_S2_LEN], sk[crypto_kx_SECRETKEYBYTES];
	uint8_t dh[64], want[AUTH_TAG];
	const uint8_t *spk = s1 + AUTH_MAGIC_LEN, *cpk = c1 + AUTH_MAGIC_LEN;
	uint8_t cipher;
	struct auth_keys k;
	int64_t deadline = chan_now_ms() + timeout_ms;
	int r;

	if ((r = auth_check_key(c, keylen)) < 0)
		return r;
	/* The greeting alone first: an older agent sends fewer bytes. */
	if ((r = auth_read(c, s1, AUTH_MAGIC_LEN, deadline)) < 0 ||
	    (r = auth_check_magic(c, s1, 0)) < 0)
		goto out;
	if ((r = auth_read(c, s1 + AUTH_MAGIC_LEN, sizeof(s1) - AUTH_MAGIC_LEN, deadline)) < 0 ||
	    (r = auth_pick_cipher(c, s1[AUTH_MAGIC_LEN + AUTH_PK], &cipher)) < 0)
		goto out;
	memcpy(c1, AUTH_MAGIC, AUTH_MAGIC_LEN);
	crypto_kx_keypair(c1 + AUTH_MAGIC_LEN, sk);
	c1[AUTH_MAGIC_LEN + AUTH_PK] = cipher;
	if (crypto_kx_client_session_keys(dh, dh + 32, cpk, sk, spk)) {
		r = ph_seterr(PH_EAUTH, "tcp peer %s sent an invalid public key", c->peer);
		goto out;
	}
	auth_derive(&k, key, keylen, dh, s1, c1);
	auth_tag(c1 + AUTH_C1_SIGNED, k.tag_c, k.th);
	if ((r = auth_write(c, c1, sizeof(c1), deadline)) < 0)
		goto out;
	r = auth_read(c, s2, sizeof(s2), deadline);
	if (r == -PH_EEOF) {
		r = ph_seterr(PH_EAUTH,
			      "tcp peer %s refused our shared secret (it closed the connection): "
			      "the two hosts use different secrets",
			      c->peer);
		goto out;
	}
	if (r < 0)
		goto out;
	auth_tag(want, k.tag_s, k.th);
	if (sodium_memcmp(want, s2, AUTH_TAG)) {
		r = ph_seterr(PH_EAUTH, "tcp peer %s failed to prove it holds the shared secret",
			      c->peer);
		goto out;
	}
	r = chan_seal(c, cipher, k.c2s, k.s2c);
out:
	auth_done(c);
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(&k, sizeof(k));
	return r;
}

int chan_auth_server(struct chan *c, const uint8_t *key, size_t keylen)
{
	return chan_auth_server_tmo(c, key, keylen, CHAN_AUTH_TIMEOUT_MS);
}

int chan_auth_client(struct chan *c, const uint8_t *key, size_t keylen)
{
	return chan_auth_client_tmo(c, key, keylen, CHAN_AUTH_TIMEOUT_MS);
}

/*
 * The secret is the file's bytes, minus one trailing newline (so
 * `openssl rand -hex 32 > f` and `head -c 32 /dev/urandom > f` both work).
 * Opened without following a link and without blocking (a FIFO planted
 * there must not hang start-up), then checked on the open file: a regular
 * file owned by root or by us, not accessible by group or others.
 */
int chan_load_secret(const char *path, uint8_t *key, size_t *keylen)
{
	struct stat st;
	ssize_t n;
	int fd, r;

	*keylen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ELOOP)
		return ph_seterr(PH_ECONFIG,
				 "secret file %s is a symbolic link: name the file itself", path);
	if (fd < 0)
		return ph_seterr_errno(PH_ECONFIG, "secret file %s", path);
	if (fstat(fd, &st) < 0) {
		r = ph_seterr_errno(PH_ECONFIG, "secret file %s: stat", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = ph_seterr(PH_ECONFIG, "secret file %s is not a regular file (mode %06o)", path,
			      (unsigned int)st.st_mode);
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		r = ph_seterr(PH_ECONFIG,
			      "secret file %s is owned by uid %u: it must be owned by root or by "
			      "uid %u, which runs phaul",
			      path, (unsigned int)st.st_uid, (unsigned int)geteuid());
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		r = ph_seterr(PH_ECONFIG,
			      "secret file %s has mode %04o: it must not be accessible by group or "
			      "others (chmod 600)",
			      path, (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size < PH_SECRET_MIN || st.st_size > PH_SECRET_MAX + 1) {
		r = ph_seterr(PH_ECONFIG, "secret file %s is %lld bytes, must be %u..%u", path,
			      (long long)st.st_size, PH_SECRET_MIN, PH_SECRET_MAX);
		goto out;
	}
	{
		uint8_t buf[PH_SECRET_MAX + 2];

		do {
			n = read(fd, buf, sizeof(buf));
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			r = ph_seterr_errno(PH_ECONFIG, "reading secret file %s", path);
			goto out;
		}
		if (n > 0 && buf[n - 1] == '\n')
			n--;
		if (n < PH_SECRET_MIN || n > PH_SECRET_MAX) {
			sodium_memzero(buf, sizeof(buf));
			r = ph_seterr(PH_ECONFIG, "secret in %s is %zd bytes, must be %u..%u", path,
				      n, PH_SECRET_MIN, PH_SECRET_MAX);
			goto out;
		}
		memcpy(key, buf, n);
		sodium_memzero(buf, sizeof(buf));
		*keylen = n;
		r = 0;
	}
out:
	close(fd);
	return r;
}
