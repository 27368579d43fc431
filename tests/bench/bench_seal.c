// SPDX-License-Identifier: GPL-2.0
/*
 * What the tcp record layer costs the page stream (`make bench-seal`):
 * push N MiB (default 1024) of incompressible pages through a mux over a
 * loopback tcp chan, plain and then sealed (PHAUL-AUTH2, with each record
 * cipher), in the same run, and the single-core rate of each record cipher
 * alone (seal and open one PH_FRAME_MAX record at a time, one thread).
 * Prints MiB/s and the ratios.
 *
 *	bench_seal [MIB]
 *
 * Loopback runs sender and receiver on the same machine: the sealed
 * figure is bounded by two crypto passes (seal + open) and the copies of
 * both ends sharing the CPUs; on a real link each host does one of them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "transport/chan.h"
#include "transport/mux.h"

#define MiB (1024.0 * 1024.0)

static const uint8_t key[] = "bench-shared-secret-0123456789ab";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_seal: %s: %s\n", what, ph_errmsg());
	exit(1);
}

struct job {
	struct chan *c;
	struct mux *m;
	uint64_t total;
	int rc;
};

static void *server_auth(void *arg)
{
	struct job *j = arg;

	j->rc = chan_auth_server(j->c, key, sizeof(key) - 1);
	return NULL;
}

static void tcp_pair(int sealed, struct chan **c, struct chan **s)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char addr[64];
	int lfd = chan_tcp_listen("127.0.0.1:0");
	struct job j = { 0 };
	pthread_t t;

	if (lfd < 0 || getsockname(lfd, (struct sockaddr *)&sa, &sl))
		die("listen");
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	if (chan_tcp_connect(addr, 10000, c) || chan_tcp_accept(lfd, s))
		die("connect");
	close(lfd);
	if (!sealed)
		return;
	j.c = *s;
	pthread_create(&t, NULL, server_auth, &j);
	if (chan_auth_client(*c, key, sizeof(key) - 1))
		die("auth client");
	pthread_join(t, NULL);
	if (j.rc)
		die("auth server");
}

static void *sender(void *arg)
{
	struct job *j = arg;
	size_t chunk = 1 << 20;
	uint8_t *b = malloc(chunk);

	randombytes_buf(b, chunk); /* pages that do not compress */
	for (uint64_t off = 0; off < j->total && !j->rc; off += chunk)
		j->rc = mux_send(j->m, MUX_PAGES, b, chunk);
	if (!j->rc)
		j->rc = mux_send_eof(j->m, MUX_PAGES);
	free(b);
	return NULL;
}

/* CPU seconds this process has used, all threads. */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/*
 * MiB/s of total bytes over the page stream of a plain or sealed pair;
 * *cpu: CPU seconds both ends spent per GiB.
 */
static double stream_rate(int sealed, uint64_t total, double *cpu)
{
	static uint8_t buf[PH_FRAME_MAX];
	struct chan *c, *s;
	struct mux *a, *b;
	struct job j = { .total = total };
	uint64_t got = 0;
	pthread_t t;
	double t0;
	long n;

	tcp_pair(sealed, &c, &s);
	if (mux_start(c, &a) || mux_start(s, &b))
		die("mux_start");
	j.m = a;
	*cpu = cpu_s();
	t0 = now_s();
	pthread_create(&t, NULL, sender, &j);
	while ((n = mux_recv(b, MUX_PAGES, buf, sizeof(buf), 60000)) > 0)
		got += n;
	pthread_join(t, NULL);
	t0 = now_s() - t0;
	*cpu = (cpu_s() - *cpu) / (total / MiB / 1024);
	if (n < 0 || j.rc || got != total)
		die("stream");
	mux_close(a);
	mux_close(b);
	return total / MiB / t0;
}

/* One core: seal, then open, PH_FRAME_MAX records for about a second each. */
static void cipher_rate(int aes, double *seal, double *open)
{
	size_t n = PH_FRAME_MAX, clen = n + 16;
	uint8_t k[32], nonce[12] = { 0 }, ad[4] = { 0 };
	uint8_t *m = malloc(n), *c = malloc(clen);
	unsigned long long mlen;
	long recs = 0, i;
	double t0;

	randombytes_buf(m, n);
	randombytes_buf(k, sizeof(k));
	t0 = now_s();
	while (now_s() - t0 < 1.0)
		for (i = 0; i < 16; i++, recs++) {
			memcpy(nonce + 4, &recs, 8);
			if (aes)
				crypto_aead_aes256gcm_encrypt(c, NULL, m, n, ad, 4, NULL, nonce, k);
			else
				crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, m, n, ad, 4,
									  NULL, nonce, k);
		}
	*seal = recs * (n / MiB) / (now_s() - t0);
	/* Open the last record again and again: the same work as a new one. */
	t0 = now_s();
	for (i = 0; i < recs; i++)
		if (aes ? crypto_aead_aes256gcm_decrypt(m, &mlen, NULL, c, clen, ad, 4, nonce, k)
			: crypto_aead_chacha20poly1305_ietf_decrypt(m, &mlen, NULL, c, clen, ad, 4,
								    nonce, k))
			die("open");
	*open = recs * (n / MiB) / (now_s() - t0);
	free(m);
	free(c);
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
	double plain, aes = 0, chacha, seal, open, cpu_p, cpu_a = 0, cpu_c;

	if (sodium_init() < 0 || !mib)
		return 2;
	printf("record cipher, one core, %u KiB records (10 Gbit/s = 1192 MiB/s):\n",
	       PH_FRAME_MAX / 1024);
	if (crypto_aead_aes256gcm_is_available()) {
		cipher_rate(1, &seal, &open);
		printf("  aes256-gcm         seal %5.0f MiB/s  open %5.0f MiB/s\n", seal, open);
	}
	cipher_rate(0, &seal, &open);
	printf("  chacha20-poly1305  seal %5.0f MiB/s  open %5.0f MiB/s\n", seal, open);

	plain = stream_rate(0, mib << 20, &cpu_p);
	if (crypto_aead_aes256gcm_is_available())
		aes = stream_rate(1, mib << 20, &cpu_a);
	setenv("PHAUL_SEAL_CIPHER", "chacha20-poly1305", 1);
	chacha = stream_rate(1, mib << 20, &cpu_c);
	printf("page stream, mux over loopback tcp, %llu MiB (both ends on this host):\n",
	       (unsigned long long)mib);
	printf("  plain              %5.0f MiB/s  CPU %.2f s/GiB (both ends)\n", plain, cpu_p);
	if (aes > 0)
		printf("  sealed aes256-gcm  %5.0f MiB/s  CPU %.2f s/GiB  (%.2f of plain)\n", aes,
		       cpu_a, aes / plain);
	printf("  sealed chacha20    %5.0f MiB/s  CPU %.2f s/GiB  (%.2f of plain)\n", chacha, cpu_c,
	       chacha / plain);
	/* Each host of a real link runs one end: half the extra CPU is its share. */
	if (aes > 0)
		printf("per host, the record layer adds %.2f s of CPU per GiB with aes256-gcm "
		       "(one core: %.0f MiB/s)\n",
		       (cpu_a - cpu_p) / 2, 1024 / ((cpu_a - cpu_p) / 2));
	printf("per host, the record layer adds %.2f s of CPU per GiB with chacha20-poly1305 "
	       "(one core: %.0f MiB/s)\n",
	       (cpu_c - cpu_p) / 2, 1024 / ((cpu_c - cpu_p) / 2));
	return 0;
}
