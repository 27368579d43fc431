// SPDX-License-Identifier: GPL-2.0
/*
 * linkbench: measure TCP throughput over the guests' link (busybox nc
 * drops data at end of input, so it cannot be used for this).
 *
 *   linkbench recv PORT OUTFILE   accept one connection, read to EOF, write
 *                                 "bytes=N secs=S MiB/s=R" to OUTFILE
 *   linkbench send HOST PORT MIB  send MIB MiB of zeros
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int recv_main(int port, const char *out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char buf[1 << 16];
	long long total = 0;
	double t0, t1;
	int s, c, one = 1;
	ssize_t n;
	FILE *f;

	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1)) {
		perror("linkbench: listen");
		return 1;
	}
	c = accept(s, NULL, NULL);
	if (c < 0) {
		perror("linkbench: accept");
		return 1;
	}
	t0 = now();
	while ((n = read(c, buf, sizeof(buf))) > 0)
		total += n;
	t1 = now();
	f = fopen(out, "w");
	if (!f)
		return 1;
	fprintf(f, "bytes=%lld secs=%.3f MiB/s=%.2f\n", total, t1 - t0,
		total / 1048576.0 / (t1 - t0));
	return fclose(f) ? 1 : 0;
}

static int send_main(const char *host, int port, long mib)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	static char buf[1 << 16];
	long long left = mib * 1048576LL;
	ssize_t n;
	int s;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return 2;
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("linkbench: connect");
		return 1;
	}
	while (left > 0) {
		n = write(s, buf, left < (long long)sizeof(buf) ? left : (long long)sizeof(buf));
		if (n <= 0) {
			perror("linkbench: write");
			return 1;
		}
		left -= n;
	}
	return close(s) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "recv"))
		return recv_main(atoi(argv[2]), argv[3]);
	if (argc == 5 && !strcmp(argv[1], "send"))
		return send_main(argv[2], atoi(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: linkbench recv PORT OUTFILE | send HOST PORT MIB\n");
	return 2;
}
