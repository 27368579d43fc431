// SPDX-License-Identifier: GPL-2.0
/*
 * kvclient: the client side of the redis scenario.  It is not migrated;
 * it writes into a redis-server that is, and checks afterwards that every
 * write the server acknowledged is still there.
 *
 *   kvclient write --port P --log PATH [--rate N] [--stop-file PATH]
 *       SET k<i> value(i) for i = 1, 2, ... over one connection, appending
 *       i to PATH after each +OK; stops (closing its connection) when the
 *       stop file appears.  Daemonizes once connected.
 *   kvclient verify --port P --log PATH
 *       GET every key acknowledged in PATH and compare; prints PASS/FAIL.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VALUE_LEN 512

struct conn {
	int fd;
	char buf[4096];
	size_t len, off;
};

static void value_of(unsigned long i, char *v)
{
	int n = snprintf(v, VALUE_LEN + 1, "v%lu:", i);

	for (; n < VALUE_LEN; n++)
		v[n] = 'a' + (i * 7 + n) % 26;
	v[VALUE_LEN] = 0;
}

static int conn_open(struct conn *c, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->len = c->off = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a))) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static int send_all(struct conn *c, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(c->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

/* One reply line (without \r\n) into line; returns its length or -1. */
static int read_line(struct conn *c, char *line, size_t max)
{
	size_t n = 0;
	ssize_t r;

	for (;;) {
		if (c->off == c->len) {
			r = read(c->fd, c->buf, sizeof(c->buf));
			if (r <= 0)
				return -1;
			c->len = r;
			c->off = 0;
		}
		char ch = c->buf[c->off++];

		if (ch == '\n') {
			if (n && line[n - 1] == '\r')
				n--;
			line[n] = 0;
			return n;
		}
		if (n + 1 < max)
			line[n++] = ch;
	}
}

static int cmd(struct conn *c, const char *verb, const char *key, const char *val)
{
	char req[VALUE_LEN + 256];
	int n;

	if (val)
		n = snprintf(req, sizeof(req), "*3\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
			     strlen(verb), verb, strlen(key), key, strlen(val), val);
	else
		n = snprintf(req, sizeof(req), "*2\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
			     strlen(verb), verb, strlen(key), key);
	return send_all(c, req, n);
}

static int do_write(int port, const char *log, double rate, const char *stop)
{
	char key[32], val[VALUE_LEN + 1], line[VALUE_LEN + 64], num[32];
	struct conn c;
	unsigned long i = 0;
	struct stat st;
	int fd, n, tries;

	for (tries = 0; conn_open(&c, port); tries++) {
		if (tries > 500) {
			fprintf(stderr, "kvclient: cannot connect to port %d\n", port);
			return 1;
		}
		poll(NULL, 0, 20);
	}
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(log);
		return 1;
	}
	/* connected: let the caller go on */
	if (daemon(0, 0))
		return 1;
	while (!stop || stat(stop, &st)) {
		i++;
		snprintf(key, sizeof(key), "k%lu", i);
		value_of(i, val);
		if (cmd(&c, "SET", key, val) || read_line(&c, line, sizeof(line)) < 0)
			break;	/* server gone: nothing after i-1 was acknowledged */
		if (strcmp(line, "+OK"))
			break;
		n = snprintf(num, sizeof(num), "%lu\n", i);
		if (write(fd, num, n) != n)
			break;
		if (rate > 0)
			poll(NULL, 0, (int)(1000 / rate));
	}
	close(c.fd);
	close(fd);
	return 0;
}

static int do_verify(int port, const char *log)
{
	char key[32], want[VALUE_LEN + 1], line[VALUE_LEN + 64];
	unsigned long i, n = 0;
	struct conn c;
	FILE *f;

	f = fopen(log, "re");
	if (!f) {
		printf("FAIL %s: %s\n", log, strerror(errno));
		return 1;
	}
	if (conn_open(&c, port)) {
		printf("FAIL cannot connect to port %d: %s\n", port, strerror(errno));
		return 1;
	}
	while (fscanf(f, "%lu", &i) == 1) {
		snprintf(key, sizeof(key), "k%lu", i);
		value_of(i, want);
		if (cmd(&c, "GET", key, NULL) || read_line(&c, line, sizeof(line)) < 0) {
			printf("FAIL connection lost at %s\n", key);
			return 1;
		}
		if (line[0] != '$' || atoi(line + 1) != VALUE_LEN) {
			printf("FAIL %s: reply '%s' after %lu good keys\n", key, line, n);
			return 1;
		}
		if (read_line(&c, line, sizeof(line)) < 0 || strcmp(line, want)) {
			printf("FAIL %s: wrong value after %lu good keys\n", key, n);
			return 1;
		}
		n++;
	}
	if (!n) {
		printf("FAIL no acknowledged writes in %s\n", log);
		return 1;
	}
	printf("PASS acknowledged=%lu all present\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *log = NULL, *stop = NULL;
	double rate = 0;
	int port = 6379, i;

	for (i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--log"))
			log = argv[i + 1];
		else if (!strcmp(argv[i], "--rate"))
			rate = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--stop-file"))
			stop = argv[i + 1];
		else
			break;
	}
	if (argc < 2 || i != argc || !log) {
		fprintf(stderr, "usage: kvclient write|verify --log PATH [--port P] "
			"[--rate N] [--stop-file PATH]\n");
		return 2;
	}
	if (!strcmp(argv[1], "write"))
		return do_write(port, log, rate, stop);
	if (!strcmp(argv[1], "verify"))
		return do_verify(port, log);
	fprintf(stderr, "kvclient: unknown mode %s\n", argv[1]);
	return 2;
}
