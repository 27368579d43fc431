// SPDX-License-Identifier: GPL-2.0
/*
 * Shared-secret mutual authentication for tcp peers (PROTOCOL.md, "auth"):
 *
 *	S->C  "PHAUL-AUTH1\n" ns[32]
 *	C->S  "PHAUL-AUTH1\n" nc[32] HMAC(key, "phaul client" || ns || nc)
 *	S->C  HMAC(key, "phaul server" || ns || nc)
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

#define AUTH_MAGIC     "PHAUL-AUTH1\n"
#define AUTH_MAGIC_LEN (sizeof(AUTH_MAGIC) - 1)
#define AUTH_NONCE     32
#define AUTH_MAC       crypto_auth_hmacsha256_BYTES
#define AUTH_HELLO_LEN (AUTH_MAGIC_LEN + AUTH_NONCE)
#define AUTH_PROOF_LEN (AUTH_MAGIC_LEN + AUTH_NONCE + AUTH_MAC)

static void auth_mac(uint8_t *out, const uint8_t *key, size_t keylen, const char *role,
		     const uint8_t *ns, const uint8_t *nc)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)role, strlen(role));
	crypto_auth_hmacsha256_update(&st, ns, AUTH_NONCE);
	crypto_auth_hmacsha256_update(&st, nc, AUTH_NONCE);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
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

int chan_auth_server_tmo(struct chan *c, const uint8_t *key, size_t keylen, int timeout_ms)
{
	uint8_t hello[AUTH_HELLO_LEN], proof[AUTH_PROOF_LEN], mac[AUTH_MAC];
	const uint8_t *ns = hello + AUTH_MAGIC_LEN, *nc = proof + AUTH_MAGIC_LEN;
	int64_t deadline = chan_now_ms() + timeout_ms;
	int r;

	if ((r = auth_check_key(c, keylen)) < 0)
		return r;
	memcpy(hello, AUTH_MAGIC, AUTH_MAGIC_LEN);
	randombytes_buf(hello + AUTH_MAGIC_LEN, AUTH_NONCE);
	if ((r = auth_write(c, hello, sizeof(hello), deadline)) < 0)
		goto out;
	if ((r = auth_read(c, proof, sizeof(proof), deadline)) < 0)
		goto out;
	if (memcmp(proof, AUTH_MAGIC, AUTH_MAGIC_LEN)) {
		r = ph_seterr(PH_EAUTH,
			      "tcp peer %s failed shared-secret authentication: not a phaul client "
			      "(bad greeting)",
			      c->peer);
		goto out;
	}
	auth_mac(mac, key, keylen, "phaul client", ns, nc);
	if (sodium_memcmp(mac, nc + AUTH_NONCE, AUTH_MAC)) {
		r = ph_seterr(PH_EAUTH, "tcp peer %s failed shared-secret authentication", c->peer);
		goto out;
	}
	auth_mac(mac, key, keylen, "phaul server", ns, nc);
	r = auth_write(c, mac, sizeof(mac), deadline);
out:
	auth_done(c);
	sodium_memzero(mac, sizeof(mac));
	if (r < 0) /* an unproven peer gets nothing more from us, not even a read */
		chan_shutdown(c);
	return r;
}

int chan_auth_client_tmo(struct chan *c, const uint8_t *key, size_t keylen, int timeout_ms)
{
	uint8_t hello[AUTH_HELLO_LEN], proof[AUTH_PROOF_LEN], mac[AUTH_MAC], want[AUTH_MAC];
	const uint8_t *ns = hello + AUTH_MAGIC_LEN, *nc = proof + AUTH_MAGIC_LEN;
	int64_t deadline = chan_now_ms() + timeout_ms;
	int r;

	if ((r = auth_check_key(c, keylen)) < 0)
		return r;
	if ((r = auth_read(c, hello, sizeof(hello), deadline)) < 0)
		goto out;
	if (memcmp(hello, AUTH_MAGIC, AUTH_MAGIC_LEN)) {
		r = ph_seterr(PH_EAUTH, "tcp peer %s is not a phaul agent (bad auth greeting)",
			      c->peer);
		goto out;
	}
	memcpy(proof, AUTH_MAGIC, AUTH_MAGIC_LEN);
	randombytes_buf(proof + AUTH_MAGIC_LEN, AUTH_NONCE);
	auth_mac(proof + AUTH_MAGIC_LEN + AUTH_NONCE, key, keylen, "phaul client", ns, nc);
	if ((r = auth_write(c, proof, sizeof(proof), deadline)) < 0)
		goto out;
	r = auth_read(c, mac, sizeof(mac), deadline);
	if (r == -PH_EEOF) {
		r = ph_seterr(PH_EAUTH,
			      "tcp peer %s refused our shared secret (it closed the connection): "
			      "the two hosts use different secrets",
			      c->peer);
		goto out;
	}
	if (r < 0)
		goto out;
	auth_mac(want, key, keylen, "phaul server", ns, nc);
	if (sodium_memcmp(mac, want, AUTH_MAC))
		r = ph_seterr(PH_EAUTH, "tcp peer %s failed to prove it holds the shared secret",
			      c->peer);
out:
	auth_done(c);
	sodium_memzero(want, sizeof(want));
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
 */
int chan_load_secret(const char *path, uint8_t *key, size_t *keylen)
{
	struct stat st;
	ssize_t n;
	int fd, r;

	*keylen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return ph_seterr_errno(PH_ECONFIG, "secret file %s", path);
	if (fstat(fd, &st) < 0) {
		r = ph_seterr_errno(PH_ECONFIG, "secret file %s: stat", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = ph_seterr(PH_ECONFIG, "secret file %s is not a regular file", path);
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
