// SPDX-License-Identifier: GPL-2.0
/*
 * timesync: set this guest's CLOCK_REALTIME to the other guest's over the
 * link, so that a workload's "gap across the migration" (the last tick on
 * src to the first on dst) measures downtime and not the clocks' offset.
 * The guests' clocks start from the emulated RTC, one second resolution.
 *
 *   timesync serve PORT            answer time requests (exits when idle 5 s)
 *   timesync sync HOST PORT [N]    N exchanges (default 40), take the one
 *                                  with the shortest round trip, step clock
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int serve(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct pollfd pfd;
	socklen_t alen;
	int64_t t;
	char buf[64];
	int s;

	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("timesync: bind");
		return 1;
	}
	pfd.fd = s;
	pfd.events = POLLIN;
	while (poll(&pfd, 1, 5000) > 0) {
		alen = sizeof(a);
		if (recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&a, &alen) < 0)
			continue;
		t = now_ns();
		sendto(s, &t, sizeof(t), 0, (struct sockaddr *)&a, alen);
	}
	return 0;
}

static int sync_to(const char *host, int port, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct pollfd pfd;
	int64_t t0, t1, ts, best_rtt = -1, best_off = 0;
	struct timespec set;
	int s, i, got = 0;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "timesync: bad address %s\n", host);
		return 1;
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a))) {
		perror("timesync: connect");
		return 1;
	}
	pfd.fd = s;
	pfd.events = POLLIN;
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		if (send(s, "t", 1, 0) != 1)
			continue;
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		if (recv(s, &ts, sizeof(ts), 0) != sizeof(ts))
			continue;
		t1 = now_ns();
		got++;
		if (best_rtt < 0 || t1 - t0 < best_rtt) {
			best_rtt = t1 - t0;
			best_off = ts - (t0 + (t1 - t0) / 2);
		}
	}
	if (!got) {
		fprintf(stderr, "timesync: no answer from %s:%d\n", host, port);
		return 1;
	}
	t0 = now_ns() + best_off;
	set.tv_sec = t0 / 1000000000;
	set.tv_nsec = t0 % 1000000000;
	if (clock_settime(CLOCK_REALTIME, &set)) {
		perror("timesync: clock_settime");
		return 1;
	}
	printf("timesync: stepped by %.3f ms (round trip %.3f ms, %d/%d answers)\n",
	       best_off / 1e6, best_rtt / 1e6, got, n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "sync"))
		return sync_to(argv[2], atoi(argv[3]), argc == 5 ? atoi(argv[4]) : 40);
	fprintf(stderr, "usage: timesync serve PORT | timesync sync HOST PORT [N]\n");
	return 2;
}
