// SPDX-License-Identifier: GPL-2.0
/*
 * tcp transport over loopback, real sockets end to end: auth, the sealed
 * record layer against a tampering relay, mux streams
 * with and without zstd, flow control, and every way a peer can misbehave
 * (a raw peer writes hand-made frames).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <cmocka.h>
#include <sodium.h>

#include "caps.h"
#include "err.h"
#include "helpers.h"
#include "transport/chan.h"
#include "transport/chan_int.h"
#include "transport/frame.h"
#include "transport/mux.h"

#define MiB (1024u * 1024)

static const uint8_t key_a[] = "0123456789abcdef-shared-secret-A";
static const uint8_t key_b[] = "0123456789abcdef-shared-secret-B";

/* Poll for a condition for up to 30 s: the machine may be loaded. */
#define WAIT_FOR(cond)                                                                             \
	do {                                                                                       \
		double t0_ = now_s();                                                              \
		while (!(cond) && now_s() - t0_ < 30)                                              \
			usleep(2000);                                                              \
		assert_true(cond);                                                                 \
	} while (0)

/* A connected pair of tcp chans over 127.0.0.1 (port 0: the kernel picks). */
static void tcp_pair(struct chan **client, struct chan **server)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char addr[64];
	int lfd = chan_tcp_listen("127.0.0.1:0");

	assert_true(lfd >= 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	assert_int_equal(chan_tcp_connect(addr, 10000, client), 0);
	assert_int_equal(chan_tcp_accept(lfd, server), 0);
	assert_non_null(strstr((*server)->peer, "tcp:127.0.0.1:"));
	assert_string_equal((*client)->peer + 4, addr);
	close(lfd);
}

static void sealed_pair(struct chan **c, struct chan **s);
static void gen(uint8_t *b, uint64_t off, size_t len, int compressible);
static void test_flow_control(void **state);
/* Set by a test that runs the mux over authenticated, sealed chans. */
static int pair_sealed;

static void mux_pair(struct mux **a, struct mux **b)
{
	struct chan *c, *s;

	if (pair_sealed)
		sealed_pair(&c, &s);
	else
		tcp_pair(&c, &s);
	assert_int_equal(mux_start(c, a), 0);
	assert_int_equal(mux_start(s, b), 0);
}

/* A mux on one end, a raw chan on the other for hand-written frames. */
static void raw_pair(struct mux **m, struct chan **raw)
{
	struct chan *c;

	tcp_pair(&c, raw);
	assert_int_equal(mux_start(c, m), 0);
}

static void raw_frame(struct chan *raw, uint8_t type, uint8_t s, uint16_t flags, uint32_t len)
{
	uint8_t b[FRAME_HDR_LEN] = { type, s, flags >> 8, flags & 0xff };

	frame_put_u32(b + 4, len);
	assert_int_equal(chan_write_full(raw, b, sizeof(b)), 0);
}

/* ---- auth ---- */

struct auth_job {
	struct chan *c;
	const uint8_t *key;
	int tmo;
	int rc;
	char msg[1024];
};

static void *auth_server_thread(void *arg)
{
	struct auth_job *j = arg;

	j->rc = chan_auth_server_tmo(j->c, j->key, sizeof(key_a) - 1, j->tmo);
	snprintf(j->msg, sizeof(j->msg), "%s", ph_errmsg());
	return NULL;
}

static void run_auth(const uint8_t *skey, const uint8_t *ckey, int *src, int *crc,
		     struct auth_job *j)
{
	struct chan *c, *s;
	pthread_t t;

	tcp_pair(&c, &s);
	*j = (struct auth_job){ .c = s, .key = skey, .tmo = 30000 };
	assert_int_equal(pthread_create(&t, NULL, auth_server_thread, j), 0);
	*crc = chan_auth_client(c, ckey, sizeof(key_a) - 1);
	pthread_join(t, NULL);
	*src = j->rc;
	chan_close(c);
	chan_close(s);
}

static void test_auth_ok(void **state)
{
	struct auth_job j;
	int src, crc;

	run_auth(key_a, key_a, &src, &crc, &j);
	assert_int_equal(src, 0);
	assert_int_equal(crc, 0);
}

static void test_auth_wrong_secret(void **state)
{
	struct auth_job j;
	int src, crc;

	run_auth(key_a, key_b, &src, &crc, &j);
	assert_int_equal(src, -PH_EAUTH);
	assert_non_null(strstr(j.msg, "failed shared-secret authentication"));
	assert_non_null(strstr(j.msg, "tcp peer tcp:127.0.0.1:"));
	assert_int_equal(crc, -PH_EAUTH);
	assert_non_null(strstr(ph_errmsg(), "refused our shared secret"));
}

/* A peer without the secret cannot pose as the server either. */
static void *fake_server_thread(void *arg)
{
	struct auth_job *j = arg;
	uint8_t hello[45] = "PHAUL-AUTH2\n", sk[32], proof[77], answer[32] = { 0 };

	crypto_kx_keypair(hello + 12, sk);
	hello[44] = 1; /* offers ChaCha20-Poly1305 */
	j->rc = chan_write_full(j->c, hello, sizeof(hello));
	if (!j->rc)
		j->rc = chan_read_full(j->c, proof, sizeof(proof));
	if (!j->rc)
		j->rc = chan_write_full(j->c, answer, sizeof(answer));
	return NULL;
}

static void test_auth_fake_server(void **state)
{
	struct auth_job j = { 0 };
	struct chan *c, *s;
	pthread_t t;

	tcp_pair(&c, &s);
	j.c = s;
	assert_int_equal(pthread_create(&t, NULL, fake_server_thread, &j), 0);
	assert_int_equal(chan_auth_client(c, key_a, sizeof(key_a) - 1), -PH_EAUTH);
	assert_non_null(strstr(ph_errmsg(), "failed to prove it holds the shared secret"));
	pthread_join(t, NULL);
	assert_int_equal(j.rc, 0);
	chan_close(c);
	chan_close(s);
}

/* After a refusal the server reads nothing more from that peer. */
static void test_auth_refused_reads_nothing(void **state)
{
	uint8_t junk[77] = "PHAUL-AUTH2\n", hello[45], b[1];
	struct chan *c, *s;

	randombytes_buf(junk + 12, sizeof(junk) - 12); /* a valid key, a wrong proof */
	junk[44] = 1;
	tcp_pair(&c, &s);
	assert_int_equal(chan_write_full(c, junk, sizeof(junk)), 0);
	assert_int_equal(chan_write_full(c, "more", 4), 0);
	assert_int_equal(chan_auth_server(s, key_a, sizeof(key_a) - 1), -PH_EAUTH);
	assert_non_null(strstr(ph_errmsg(), "failed shared-secret authentication"));
	assert_true(s->ops->read(s, b, 1) <= 0);
	assert_int_equal(chan_read_full(c, hello, sizeof(hello)), 0);
	assert_int_equal(chan_read_full(c, b, 1), -PH_EEOF);
	chan_close(c);
	chan_close(s);
}

/* A phaul that predates the record layer is told so, on both sides. */
static void test_auth_old_peer(void **state)
{
	uint8_t old[76] = "PHAUL-AUTH1\n", hello[45];
	struct chan *c, *s;

	tcp_pair(&c, &s);
	assert_int_equal(chan_write_full(c, old, sizeof(old)), 0);
	assert_int_equal(chan_auth_server(s, key_a, sizeof(key_a) - 1), -PH_EVERSION);
	assert_non_null(strstr(ph_errmsg(), "speaks PHAUL-AUTH1"));
	assert_int_equal(chan_read_full(c, hello, sizeof(hello)), 0);
	assert_memory_equal(hello, "PHAUL-AUTH2\n", 12);
	chan_close(c);
	chan_close(s);

	tcp_pair(&c, &s);
	memset(old + 12, 7, sizeof(old) - 12);
	assert_int_equal(chan_write_full(s, old, 44), 0);
	assert_int_equal(chan_auth_client(c, key_a, sizeof(key_a) - 1), -PH_EVERSION);
	assert_non_null(strstr(ph_errmsg(), "update phaul on both hosts"));
	chan_close(c);
	chan_close(s);
}

/* A server that offers no cipher the client runs is refused before any proof. */
static void test_auth_no_common_cipher(void **state)
{
	uint8_t hello[45] = "PHAUL-AUTH2\n", sk[32], b[1];
	struct chan *c, *s;

	crypto_kx_keypair(hello + 12, sk);
	hello[44] = 0x80; /* a cipher of some future phaul */
	tcp_pair(&c, &s);
	assert_int_equal(chan_write_full(s, hello, sizeof(hello)), 0);
	assert_int_equal(chan_auth_client(c, key_a, sizeof(key_a) - 1), -PH_EVERSION);
	assert_non_null(strstr(ph_errmsg(), "offers record ciphers 0x80"));
	chan_close(c);
	assert_int_equal(chan_read_full(s, b, 1), -PH_EEOF); /* the client sent nothing */
	chan_close(s);
}

static void test_auth_silent_peer_times_out(void **state)
{
	struct chan *c, *s;
	double t0 = now_s();

	tcp_pair(&c, &s);
	assert_int_equal(chan_auth_server_tmo(s, key_a, sizeof(key_a) - 1, 300), -PH_ETIMEDOUT);
	assert_non_null(strstr(ph_errmsg(), "not completed in time (got 0 of 12 bytes)"));
	assert_true(now_s() - t0 < 20);
	chan_close(c);
	chan_close(s);
}

static void test_auth_short_key(void **state)
{
	struct chan *c, *s;

	tcp_pair(&c, &s);
	assert_int_equal(chan_auth_client(c, key_a, 5), -PH_ECONFIG);
	assert_non_null(strstr(ph_errmsg(), "5 bytes, must be 16..4096"));
	chan_close(c);
	chan_close(s);
}

/* ---- the record layer (seal.c) ---- */

static void *sealed_server_thread(void *arg)
{
	struct auth_job *j = arg;

	j->rc = chan_auth_server(j->c, key_a, sizeof(key_a) - 1);
	return NULL;
}

/* Authenticate c against s: afterwards both carry sealed records only. */
static void auth_both(struct chan *c, struct chan *s)
{
	struct auth_job j = { .c = s };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, sealed_server_thread, &j), 0);
	assert_int_equal(chan_auth_client(c, key_a, sizeof(key_a) - 1), 0);
	pthread_join(t, NULL);
	assert_int_equal(j.rc, 0);
	assert_string_equal(c->ops->name, "sealed");
	assert_string_equal(s->ops->name, "sealed");
}

static void sealed_pair(struct chan **c, struct chan **s)
{
	tcp_pair(c, s);
	auth_both(*c, *s);
}

/*
 * A hostile relay between a client and a server chan (socketpairs, so the
 * fd backend carries the sealed layer as under --inetd): it passes the
 * handshake, then does one thing to the client's record number nth.
 */
enum tamper { T_PASS, T_FLIP, T_DROP, T_REPLAY, T_SWAP, T_SPLICE, T_TRUNC, T_CUT, T_BIGLEN };

struct relay {
	int a, b; /* the client's side, the server's side */
	enum tamper mode;
	int nth;
	uint8_t saved[256];    /* T_PASS: record nth as sent; T_SPLICE: sent instead */
	uint8_t offer, cipher; /* seen in the handshake */
	size_t saved_len;
};

static int fd_full(int fd, void *buf, size_t len, int wr)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = wr ? write(fd, (uint8_t *)buf + done, len - done)
			       : read(fd, (uint8_t *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

/* Pass len bytes on; returns the last. */
static uint8_t relay_copy(int from, int to, size_t len)
{
	uint8_t b[128];

	assert_true(len <= sizeof(b));
	assert_int_equal(fd_full(from, b, len, 0), 0);
	assert_int_equal(fd_full(to, b, len, 1), 0);
	return b[len - 1];
}

/* One record from the client, or 0 bytes at its end. */
static size_t relay_record(int fd, uint8_t *rec, size_t cap)
{
	uint32_t len;

	if (fd_full(fd, rec, 4, 0))
		return 0;
	len = (uint32_t)rec[0] << 24 | rec[1] << 16 | rec[2] << 8 | rec[3];
	assert_true(4 + len <= cap);
	assert_int_equal(fd_full(fd, rec + 4, len, 0), 0);
	return 4 + len;
}

static void *relay_thread(void *arg)
{
	struct relay *r = arg;
	uint8_t rec[256], held[256];
	size_t n, held_len = 0;
	int i, cut = 0;

	r->offer = relay_copy(r->b, r->a, 45);	/* S1: the last byte offers ciphers */
	r->cipher = relay_copy(r->a, r->b, 45); /* C1 up to the client's pick */
	relay_copy(r->a, r->b, 32);		/* C1: the client's proof */
	relay_copy(r->b, r->a, 32);		/* S2 */
	for (i = 0; (n = relay_record(r->a, rec, sizeof(rec))) > 0; i++) {
		if (cut)
			continue; /* swallow the rest: the server hears nothing more */
		if (i == r->nth) {
			switch (r->mode) {
			case T_PASS:
				memcpy(r->saved, rec, n);
				r->saved_len = n;
				break;
			case T_FLIP: rec[n - 1] ^= 0x01; break;
			case T_DROP: continue;
			case T_REPLAY: fd_full(r->b, rec, n, 1); break;
			case T_SWAP:
				memcpy(held, rec, n);
				held_len = n;
				continue;
			case T_SPLICE:
				memcpy(rec, r->saved, r->saved_len);
				n = r->saved_len;
				break;
			case T_TRUNC:
				n /= 2;
				cut = 1;
				break;
			case T_CUT: cut = 1; continue;
			case T_BIGLEN: memset(rec, 0xff, 4); break;
			}
		}
		fd_full(r->b, rec, n, 1);
		if (held_len && i == r->nth + 1) {
			fd_full(r->b, held, held_len, 1);
			held_len = 0;
		}
	}
	shutdown(r->b, SHUT_WR);
	return NULL;
}

/*
 * The client sends "rec0".."rec3" as four records and closes in order; the
 * server reads what arrives: *got holds the bytes, the return is the last
 * read's result (0 for the orderly end).
 */
static ssize_t tamper_run(struct relay *r, char *got, size_t cap)
{
	int ca[2], sb[2];
	struct chan *c, *s;
	pthread_t t;
	size_t have = 0;
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ca), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sb), 0);
	r->a = ca[1];
	r->b = sb[1];
	assert_int_equal(chan_fd_open(ca[0], ca[0], "fd:client", &c), 0);
	assert_int_equal(chan_fd_open(sb[0], sb[0], "fd:server", &s), 0);
	assert_int_equal(pthread_create(&t, NULL, relay_thread, r), 0);
	auth_both(c, s);
	for (int i = 0; i < 4; i++) {
		char m[16];

		snprintf(m, sizeof(m), "rec%d", i);
		assert_int_equal(c->ops->write(c, m, 4), 4);
	}
	chan_close(c);
	while ((n = s->ops->read(s, got + have, cap - 1 - have)) > 0)
		have += n;
	got[have] = '\0';
	/* What the reader found ends the session for writers too, in the same words. */
	if (n < 0)
		assert_int_equal(s->ops->write(s, "x", 1), n);
	pthread_join(t, NULL);
	chan_close(s);
	close(r->a);
	close(r->b);
	return n;
}

static void expect_tamper(enum tamper mode, int nth, const char *want_got, int want_err,
			  const char *needle, struct relay *from)
{
	struct relay r = { .mode = mode, .nth = nth };
	char got[64];
	ssize_t n;

	if (from) {
		memcpy(r.saved, from->saved, from->saved_len);
		r.saved_len = from->saved_len;
	}
	n = tamper_run(&r, got, sizeof(got));
	if (n != -want_err || strcmp(got, want_got))
		fail_msg("tamper %d: got '%s' and %zd (%s), want '%s' and %d", mode, got, n,
			 ph_errmsg(), want_got, -want_err);
	if (needle && !strstr(ph_errmsg(), needle))
		fail_msg("tamper %d: '%s' lacks '%s'", mode, ph_errmsg(), needle);
}

/*
 * Every change a relay can make to the records is caught at the first one
 * it touches, with either cipher (cipher: the one the client must pick).
 */
static void seal_tamper(int cipher)
{
	struct relay first = { .mode = T_PASS, .nth = 1 };
	char got[64];

	assert_int_equal(tamper_run(&first, got, sizeof(got)), 0); /* close record: orderly end */
	assert_string_equal(got, "rec0rec1rec2rec3");
	assert_int_equal(first.offer, chan_seal_ciphers());
	assert_int_equal(first.cipher, cipher);
	assert_true(first.saved_len == 4 + 4 + 16);
	assert_null(memmem(first.saved, first.saved_len, "rec1", 4)); /* encrypted */

	expect_tamper(T_FLIP, 1, "rec0", PH_EAUTH, "sealed record 1 failed authentication", NULL);
	expect_tamper(T_FLIP, 0, "", PH_EAUTH, "forged, replayed, reordered", NULL);
	expect_tamper(T_DROP, 1, "rec0", PH_EAUTH, "failed authentication", NULL);
	expect_tamper(T_REPLAY, 1, "rec0rec1", PH_EAUTH, "sealed record 2 failed", NULL);
	expect_tamper(T_SWAP, 1, "rec0", PH_EAUTH, "failed authentication", NULL);
	/* Record 1 of another session, same secret, same position. */
	expect_tamper(T_SPLICE, 1, "rec0", PH_EAUTH, "failed authentication", &first);
	expect_tamper(T_TRUNC, 2, "rec0rec1", PH_ETRUNC, "ended inside sealed record 2", NULL);
	expect_tamper(T_CUT, 2, "rec0rec1", PH_EEOF, "without its close record", NULL);
	/* Dropping the close record alone is a cut too. */
	expect_tamper(T_CUT, 4, "rec0rec1rec2rec3", PH_EEOF, "without its close record", NULL);
	expect_tamper(T_BIGLEN, 1, "rec0", PH_ETOOBIG, "has length 4294967295", NULL);
}

static void test_seal_tamper(void **state)
{
	unsetenv("PHAUL_SEAL_CIPHER");
	seal_tamper(crypto_aead_aes256gcm_is_available() ? SEAL_AES256_GCM
							 : SEAL_CHACHA20_POLY1305);
	setenv("PHAUL_SEAL_CIPHER", "chacha20-poly1305", 1);
	seal_tamper(SEAL_CHACHA20_POLY1305);
	unsetenv("PHAUL_SEAL_CIPHER");
}

/* Large writes are split into records of at most PH_RECORD_MAX; reads take any size. */
static void test_seal_sizes(void **state)
{
	size_t total = 3 * PH_RECORD_MAX + 12345, got = 0;
	uint8_t *out = malloc(total), *in = malloc(total);
	struct chan *c, *s;

	gen(out, 99, total, 0);
	sealed_pair(&c, &s);
	assert_int_equal(c->ops->write(c, out, total), PH_RECORD_MAX);
	assert_int_equal(chan_write_full(c, out + PH_RECORD_MAX, total - PH_RECORD_MAX), 0);
	while (got < total) {
		ssize_t n = s->ops->read(s, in + got, got % 3 ? 1000 : total - got);

		assert_true(n > 0);
		got += n;
	}
	assert_memory_equal(in, out, total);
	chan_close(c);
	assert_int_equal(s->ops->read(s, in, 1), 0);
	chan_close(s);
	free(out);
	free(in);
}

static void write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_load_secret(void **state)
{
	char path[] = "/tmp/phaul-secret-XXXXXX";
	uint8_t key[PH_SECRET_MAX];
	size_t n;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	write_file(path, "0123456789abcdef0123\n", 21, 0600);
	assert_int_equal(chan_load_secret(path, key, &n), 0);
	assert_int_equal(n, 20);
	assert_memory_equal(key, "0123456789abcdef0123", 20);

	write_file(path, "0123456789abcdef0123\n", 21, 0640);
	assert_int_equal(chan_load_secret(path, key, &n), -PH_ECONFIG);
	assert_non_null(strstr(ph_errmsg(), "mode 0640"));
	assert_non_null(strstr(ph_errmsg(), path));

	write_file(path, "0123456789abcdef0123", 20, 0604);
	assert_int_equal(chan_load_secret(path, key, &n), -PH_ECONFIG);

	write_file(path, "short\n", 6, 0600);
	assert_int_equal(chan_load_secret(path, key, &n), -PH_ECONFIG);
	assert_non_null(strstr(ph_errmsg(), "must be 16..4096"));
	unlink(path);
	assert_int_equal(chan_load_secret(path, key, &n), -PH_ECONFIG);
}

/* Owner, type and links of the secret file, checked on the opened file. */
static void test_load_secret_file_checks(void **state)
{
	char dir[] = "/tmp/phaul-secret-XXXXXX", path[64], link[64];
	uint8_t key[PH_SECRET_MAX];
	double t0;
	size_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	write_file(path, "0123456789abcdef0123\n", 21, 0600);
	assert_int_equal(chan_load_secret(path, key, &n), 0);

	/* Someone else's file, even mode 0600: they chose the secret. */
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(chan_load_secret(path, key, &n), -PH_ECONFIG);
		assert_non_null(strstr(ph_errmsg(), "owned by uid 65534"));
		assert_int_equal(chown(path, 0, 0), 0);
	}
	/* Not through a symbolic link. */
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(chan_load_secret(link, key, &n), -PH_ECONFIG);
	assert_non_null(strstr(ph_errmsg(), "is a symbolic link"));
	unlink(link);

	/* A FIFO with no writer must not hang start-up. */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	t0 = now_s();
	assert_int_equal(chan_load_secret(path, key, &n), -PH_ECONFIG);
	assert_true(now_s() - t0 < 5);
	assert_non_null(strstr(ph_errmsg(), "is not a regular file"));
	unlink(path);

	/* A directory. */
	assert_int_equal(chan_load_secret(dir, key, &n), -PH_ECONFIG);
	assert_non_null(strstr(ph_errmsg(), "is not a regular file"));
	rmdir(dir);
}

/* ---- streams ---- */

/* Deterministic content so the receiver verifies without a copy. */
static uint8_t gen_byte(uint64_t off, int compressible)
{
	if (compressible)
		return "phaul page data, mostly repetitive\n"[off % 35] ^ ((off >> 16) & 1);
	return (uint8_t)(((off >> 3) * 0x9E3779B97F4A7C15ull) >> (56 - (off & 7)));
}

static void gen(uint8_t *b, uint64_t off, size_t len, int compressible)
{
	for (size_t i = 0; i < len; i++)
		b[i] = gen_byte(off + i, compressible);
}

struct send_job {
	struct mux *m;
	int stream;
	uint64_t total;
	int compressible;
	uint64_t sent; /* atomic */
	int done;      /* atomic */
	int rc;
};

static void *sender_thread(void *arg)
{
	struct send_job *j = arg;
	size_t chunk = 1 * MiB;
	uint8_t *b = malloc(chunk);
	int r = 0;

	for (uint64_t off = 0; off < j->total && !r; off += chunk) {
		size_t n = j->total - off < chunk ? j->total - off : chunk;

		gen(b, off, n, j->compressible);
		r = mux_send(j->m, j->stream, b, n);
		__atomic_store_n(&j->sent, off + n, __ATOMIC_SEQ_CST);
	}
	if (!r)
		r = mux_send_eof(j->m, j->stream);
	free(b);
	j->rc = r;
	__atomic_store_n(&j->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Receive a stream up to its EOF record and verify every byte. */
static uint64_t recv_verify(struct mux *m, int s, int compressible)
{
	static __thread uint8_t buf[PH_FRAME_MAX], want[PH_FRAME_MAX];
	uint64_t off = 0;
	long n;

	while ((n = mux_recv(m, s, buf, sizeof(buf), 60000)) > 0) {
		gen(want, off, n, compressible);
		if (memcmp(buf, want, n))
			fail_msg("stream %d differs in [%llu, +%ld)", s, (unsigned long long)off,
				 n);
		off += n;
	}
	if (n < 0)
		fail_msg("mux_recv: %ld %s", n, ph_errmsg());
	return off;
}

static void ctl_roundtrip(struct mux *a, struct mux *b)
{
	static const size_t sizes[] = { 1, 17, 4096, PH_MSG_MAX, PH_FRAME_MAX };
	uint8_t *out = malloc(PH_FRAME_MAX), *in = malloc(PH_FRAME_MAX);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(out, (int)i + 'a', sizes[i]);
		assert_int_equal(mux_send_rec(a, MUX_CTL, out, sizes[i]), 0);
	}
	assert_int_equal(mux_send_eof(a, MUX_CTL), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(mux_recv(b, MUX_CTL, in, PH_FRAME_MAX, 30000), sizes[i]);
		memset(out, (int)i + 'a', sizes[i]);
		assert_memory_equal(in, out, sizes[i]);
	}
	assert_int_equal(mux_recv(b, MUX_CTL, in, PH_FRAME_MAX, 30000), 0);
	/* After EOF the stream carries a new sequence. */
	assert_int_equal(mux_send_rec(a, MUX_CTL, "again", 5), 0);
	assert_int_equal(mux_recv(b, MUX_CTL, in, PH_FRAME_MAX, 30000), 5);
	assert_int_equal(mux_recv(b, MUX_CTL, in, PH_FRAME_MAX, 50), -PH_ETIMEDOUT);
	free(out);
	free(in);
}

static void big_stream(int level, int compressible, uint64_t total)
{
	struct send_job j = { .stream = MUX_PAGES, .total = total, .compressible = compressible };
	struct mux_stats tx, rx;
	struct mux_flow f;
	struct mux *a, *b;
	pthread_t t;

	mux_pair(&a, &b);
	if (level) {
		assert_int_equal(mux_set_compress(a, MUX_PAGES, level), 0);
		assert_int_equal(mux_set_compress(a, MUX_CTL, level), 0);
	}
	j.m = a;
	assert_int_equal(pthread_create(&t, NULL, sender_thread, &j), 0);
	ctl_roundtrip(a, b); /* control traffic interleaved with the bulk stream */
	assert_int_equal(recv_verify(b, MUX_PAGES, compressible), total);
	pthread_join(t, NULL);
	assert_int_equal(j.rc, 0);

	mux_get_stats(a, MUX_PAGES, &tx, NULL);
	mux_get_stats(b, MUX_PAGES, NULL, &rx);
	assert_int_equal(tx.raw_bytes, total);
	assert_int_equal(rx.raw_bytes, total);
	assert_int_equal(tx.wire_bytes, rx.wire_bytes);
	assert_int_equal(tx.frames, rx.frames);
	if (level && compressible)
		assert_true(tx.wire_bytes < total / 4);
	if (!level)
		assert_true(tx.wire_bytes > total);
	mux_get_flow(b, MUX_PAGES, &f);
	assert_true(f.rx_peak <= f.window);
	mux_close(a);
	mux_close(b);
}

static void test_mux_64m_plain(void **state)
{
	big_stream(0, 0, 64 * MiB);
}

static void test_mux_64m_zstd(void **state)
{
	big_stream(3, 1, 64 * MiB);
}

/* The same streams through the record layer. */
static void test_mux_64m_sealed(void **state)
{
	pair_sealed = 1;
	big_stream(0, 0, 64 * MiB);
	big_stream(3, 1, 16 * MiB);
	test_flow_control(state);
	pair_sealed = 0;
}

static void test_mux_zstd_incompressible(void **state)
{
	big_stream(1, 0, 8 * MiB);
}

/* Full-size incompressible records fall back to raw frames mid zstd stream. */
static void test_mux_zstd_mixed_records(void **state)
{
	uint8_t *out = malloc(PH_FRAME_MAX), *in = malloc(PH_FRAME_MAX);
	struct mux *a, *b;

	mux_pair(&a, &b);
	assert_int_equal(mux_set_compress(a, MUX_IMAGES, 5), 0);
	for (int i = 0; i < 12; i++) {
		size_t n = i % 3 == 2 ? PH_FRAME_MAX : 1000u + i;

		gen(out, i * 7919, n, i % 3 != 2);
		if (i == 6)
			assert_int_equal(mux_set_compress(a, MUX_IMAGES, 0), 0);
		if (i == 8)
			assert_int_equal(mux_set_compress(a, MUX_IMAGES, 9), 0);
		assert_int_equal(mux_send_rec(a, MUX_IMAGES, out, n), 0);
		assert_int_equal(mux_recv(b, MUX_IMAGES, in, PH_FRAME_MAX, 30000), n);
		assert_memory_equal(in, out, n);
	}
	/* A buffer too small for a record: refused, record kept for the next call. */
	gen(out, 0, 5000, 1);
	assert_int_equal(mux_send_rec(a, MUX_IMAGES, out, 5000), 0);
	assert_int_equal(mux_recv(b, MUX_IMAGES, in, 100, 30000), -PH_ETOOBIG);
	assert_int_equal(mux_recv(b, MUX_IMAGES, in, PH_FRAME_MAX, 30000), 5000);
	assert_memory_equal(in, out, 5000);
	mux_close(a);
	mux_close(b);
	free(out);
	free(in);
}

static void test_flow_control(void **state)
{
	struct send_job j = { .stream = MUX_FS, .total = 40 * MiB, .compressible = 0 };
	struct mux_flow fa, fb;
	struct mux *a, *b;
	pthread_t t;

	mux_pair(&a, &b);
	j.m = a;
	assert_int_equal(pthread_create(&t, NULL, sender_thread, &j), 0);
	/* Nobody reads on b: a runs out of credit and blocks. */
	WAIT_FOR((mux_get_flow(a, MUX_FS, &fa), fa.tx_credit < (int64_t)PH_FRAME_MAX + 64));
	WAIT_FOR((mux_get_flow(b, MUX_FS, &fb), fb.rx_queued + PH_FRAME_MAX + 64 > fb.window));
	usleep(100000); /* give a broken sender the chance to overrun */
	mux_get_flow(b, MUX_FS, &fb);
	assert_false(__atomic_load_n(&j.done, __ATOMIC_SEQ_CST));
	assert_true(__atomic_load_n(&j.sent, __ATOMIC_SEQ_CST) < j.total);
	assert_true(fb.rx_queued <= fb.window);
	assert_true(fb.rx_peak <= fb.window);
	/* Reading resumes the sender, and everything arrives intact. */
	assert_int_equal(recv_verify(b, MUX_FS, 0), j.total);
	pthread_join(t, NULL);
	assert_int_equal(j.rc, 0);
	mux_get_flow(b, MUX_FS, &fb);
	assert_true(fb.rx_peak <= fb.window);
	mux_close(a);
	mux_close(b);
}

static void test_bwlimit(void **state)
{
	struct send_job j = { .stream = MUX_PAGES, .total = 4 * MiB, .compressible = 0 };
	struct mux *a, *b;
	pthread_t t;
	double t0 = now_s(), dt;

	mux_pair(&a, &b);
	mux_set_bwlimit(a, 8 * MiB);
	j.m = a;
	assert_int_equal(pthread_create(&t, NULL, sender_thread, &j), 0);
	assert_int_equal(recv_verify(b, MUX_PAGES, 0), j.total);
	pthread_join(t, NULL);
	dt = now_s() - t0;
	assert_int_equal(j.rc, 0);
	assert_true(dt >= 0.3);
	mux_close(a);
	mux_close(b);
}

/* ---- misbehaving peers ---- */

static void expect_fail(struct mux *m, int err, const char *needle)
{
	uint8_t buf[64];
	long r = mux_recv(m, MUX_CTL, buf, sizeof(buf), 30000);

	if (r != -err || !strstr(ph_errmsg(), needle))
		fail_msg("got %ld (%s), want %d with '%s'", r, ph_errmsg(), -err, needle);
	/* Sticky: the next call reports the same failure; sending fails too. */
	assert_int_equal(mux_recv(m, MUX_IMAGES, buf, sizeof(buf), 30000), -err);
	assert_int_equal(mux_send_rec(m, MUX_CTL, "x", 1), -err);
}

/* The mux tells a misbehaving peer why it hangs up: an ABORT frame. */
static void expect_told(struct chan *raw, int err, const char *needle)
{
	uint8_t b[FRAME_HDR_LEN], msg[1024] = { 0 };
	struct frame_hdr h;

	assert_int_equal(chan_read_full(raw, b, sizeof(b)), 0);
	assert_int_equal(frame_parse_hdr(b, sizeof(b), &h), FRAME_HDR_LEN);
	assert_int_equal(h.type, FRAME_ABORT);
	assert_true(h.len < sizeof(msg));
	assert_int_equal(chan_read_full(raw, msg, h.len), 0);
	assert_int_equal(frame_get_u32(msg), err);
	if (!strstr((char *)msg + 4, needle))
		fail_msg("ABORT says '%s', want '%s'", (char *)msg + 4, needle);
}

static void test_oversized_frame(void **state)
{
	struct chan *raw;
	struct mux *m;

	raw_pair(&m, &raw);
	raw_frame(raw, FRAME_DATA, MUX_CTL, 0, PH_FRAME_MAX + 1);
	expect_fail(m, PH_ETOOBIG, "frame length 262145 exceeds the limit 262144");
	expect_told(raw, PH_ETOOBIG, "refused what we sent: peer tcp:127.0.0.1:");
	mux_close(m);
	chan_close(raw);
}

static void test_bad_type(void **state)
{
	struct chan *raw;
	struct mux *m;

	raw_pair(&m, &raw);
	raw_frame(raw, 7, MUX_CTL, 0, 0);
	expect_fail(m, PH_EPROTO, "frame type 7 is unknown");
	mux_close(m);
	chan_close(raw);
}

static void test_truncated_frame(void **state)
{
	uint8_t half[50] = { 0 };
	struct chan *raw;
	struct mux *m;

	raw_pair(&m, &raw);
	raw_frame(raw, FRAME_DATA, MUX_CTL, 0, 100);
	assert_int_equal(chan_write_full(raw, half, sizeof(half)), 0);
	chan_close(raw);
	expect_fail(m, PH_ETRUNC, "stream ended inside a frame (got 58 of 108 bytes)");
	mux_close(m);
}

struct recv_job {
	struct mux *m;
	long rc;
	char msg[1024];
};

static void *blocked_recv_thread(void *arg)
{
	struct recv_job *j = arg;
	uint8_t buf[16];

	j->rc = mux_recv(j->m, MUX_IMAGES, buf, sizeof(buf), -1);
	snprintf(j->msg, sizeof(j->msg), "%s", ph_errmsg());
	return NULL;
}

static void test_hangup_wakes_blocked_recv(void **state)
{
	struct recv_job j = { 0 };
	struct chan *raw;
	pthread_t t;

	raw_pair(&j.m, &raw);
	assert_int_equal(pthread_create(&t, NULL, blocked_recv_thread, &j), 0);
	/* Queued data is still delivered before the hang-up is reported. */
	raw_frame(raw, FRAME_DATA, MUX_CTL, 0, 3);
	assert_int_equal(chan_write_full(raw, "abc", 3), 0);
	chan_close(raw);
	pthread_join(t, NULL);
	assert_int_equal(j.rc, -PH_EEOF);
	assert_non_null(strstr(j.msg, "closed the connection"));
	{
		uint8_t buf[8];

		assert_int_equal(mux_recv(j.m, MUX_CTL, buf, sizeof(buf), 30000), 3);
		assert_int_equal(mux_recv(j.m, MUX_CTL, buf, sizeof(buf), 30000), -PH_EEOF);
	}
	mux_close(j.m);
}

static void test_zstd_bomb(void **state)
{
	size_t big = 4 * MiB, zcap = ZSTD_compressBound(big);
	uint8_t *zeros = calloc(1, big), *z = malloc(zcap), buf[64];
	struct chan *raw;
	struct mux *m;
	size_t zn = ZSTD_compress(z, zcap, zeros, big, 3);

	assert_false(ZSTD_isError(zn));
	assert_true(zn < 1024);
	raw_pair(&m, &raw);
	raw_frame(raw, FRAME_DATA, MUX_PAGES, FRAME_ZSTD, (uint32_t)zn);
	assert_int_equal(chan_write_full(raw, z, zn), 0);
	assert_int_equal(mux_recv(m, MUX_PAGES, buf, sizeof(buf), 30000), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "zstd record on stream 1 expands beyond 262144"));
	expect_fail(m, PH_EPROTO, "expands beyond");
	mux_close(m);
	chan_close(raw);
	free(zeros);
	free(z);
}

static void test_zstd_garbage(void **state)
{
	uint8_t buf[64];
	struct chan *raw;
	struct mux *m;

	raw_pair(&m, &raw);
	raw_frame(raw, FRAME_DATA, MUX_FS, FRAME_ZSTD, 9);
	assert_int_equal(chan_write_full(raw, "not zstd!", 9), 0);
	assert_int_equal(mux_recv(m, MUX_FS, buf, sizeof(buf), 30000), -PH_EZSTD);
	assert_non_null(strstr(ph_errmsg(), "bad zstd record on stream 3"));
	mux_close(m);
	chan_close(raw);
}

static void test_credit_violation(void **state)
{
	uint8_t *p = calloc(1, PH_FRAME_MAX);
	struct chan *raw;
	struct mux *m;
	int r = 0;

	raw_pair(&m, &raw);
	/* 33 full frames: 8 MiB + 33 * (256 KiB + 64) is over the data window. */
	for (int i = 0; i < 33 && !r; i++) {
		raw_frame(raw, FRAME_DATA, MUX_PAGES, 0, PH_FRAME_MAX);
		r = chan_write_full(raw, p, PH_FRAME_MAX);
	}
	expect_fail(m, PH_EPROTO, "exceeded its credit on stream 1");
	mux_close(m);
	chan_close(raw);
	free(p);
}

static void test_window_overgrant(void **state)
{
	uint8_t inc[4];
	struct chan *raw;
	struct mux *m;

	raw_pair(&m, &raw);
	frame_put_u32(inc, 1);
	raw_frame(raw, FRAME_WINDOW, MUX_CTL, 0, 4);
	assert_int_equal(chan_write_full(raw, inc, 4), 0);
	expect_fail(m, PH_EPROTO, "granted 1 bytes of credit on stream 0");
	expect_told(raw, PH_EPROTO, "granted 1 bytes");
	mux_close(m);
	chan_close(raw);
}

static void test_abort(void **state)
{
	struct mux *a, *b;
	uint8_t buf[16];

	mux_pair(&a, &b);
	assert_int_equal(mux_send_rec(a, MUX_CTL, "hi", 2), 0);
	assert_int_equal(mux_recv(b, MUX_CTL, buf, sizeof(buf), 30000), 2);
	mux_abort(a, PH_ECRIU, "criu dump failed on node1: no space");
	assert_int_equal(mux_recv(b, MUX_CTL, buf, sizeof(buf), 30000), -PH_EPEER);
	assert_non_null(strstr(ph_errmsg(), "aborted: criu dump failed on node1: no space"));
	assert_int_equal(mux_send_rec(b, MUX_PAGES, "x", 1), -PH_EPEER);
	assert_int_equal(mux_send_rec(a, MUX_CTL, "x", 1), -PH_ECRIU);
	mux_close(a);
	mux_close(b);
}

static void test_close_idle(void **state)
{
	struct mux *a, *b;

	mux_pair(&a, &b);
	mux_close(a);
	mux_close(b);
	mux_close(NULL);
	chan_close(NULL);
}

static void test_connect_refused(void **state)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct chan *c;
	char addr[64];
	int lfd = chan_tcp_listen("127.0.0.1:0");

	assert_true(lfd >= 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	close(lfd);
	assert_int_equal(chan_tcp_connect(addr, 5000, &c), -PH_ESYS);
	assert_non_null(strstr(ph_errmsg(), "Connection refused"));
	assert_null(c);
	assert_int_equal(chan_tcp_connect("nocolon", 5000, &c), -PH_EUSAGE);
	assert_int_equal(chan_tcp_listen("[::1"), -PH_EUSAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_ok),
		cmocka_unit_test(test_auth_wrong_secret),
		cmocka_unit_test(test_auth_fake_server),
		cmocka_unit_test(test_auth_refused_reads_nothing),
		cmocka_unit_test(test_auth_old_peer),
		cmocka_unit_test(test_auth_no_common_cipher),
		cmocka_unit_test(test_seal_tamper),
		cmocka_unit_test(test_seal_sizes),
		cmocka_unit_test(test_auth_silent_peer_times_out),
		cmocka_unit_test(test_auth_short_key),
		cmocka_unit_test(test_load_secret),
		cmocka_unit_test(test_load_secret_file_checks),
		cmocka_unit_test(test_mux_64m_plain),
		cmocka_unit_test(test_mux_64m_zstd),
		cmocka_unit_test(test_mux_64m_sealed),
		cmocka_unit_test(test_mux_zstd_incompressible),
		cmocka_unit_test(test_mux_zstd_mixed_records),
		cmocka_unit_test(test_flow_control),
		cmocka_unit_test(test_bwlimit),
		cmocka_unit_test(test_oversized_frame),
		cmocka_unit_test(test_bad_type),
		cmocka_unit_test(test_truncated_frame),
		cmocka_unit_test(test_hangup_wakes_blocked_recv),
		cmocka_unit_test(test_zstd_bomb),
		cmocka_unit_test(test_zstd_garbage),
		cmocka_unit_test(test_credit_violation),
		cmocka_unit_test(test_window_overgrant),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_close_idle),
		cmocka_unit_test(test_connect_refused),
	};

	alarm(600); /* a hang is a failure, not a stuck CI job */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
