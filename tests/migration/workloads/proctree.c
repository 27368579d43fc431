// SPDX-License-Identifier: GPL-2.0
/*
 * proctree: a migration workload made of three processes joined by pipes.
 *
 *   parent --pipe--> forwarder --pipe--> sink (re-exec'd as proctree-sink)
 *
 * The parent sends sequence numbers 1, 2, 3... at --rate per second; the
 * forwarder (a forked child) passes them on; the sink (the other child,
 * which exec()s this binary again as "proctree-sink") appends each as a
 * line to --data-file, which it keeps open.  Everything is started at
 * launch; nothing forks later.
 *
 * On a check the parent stops sending, waits until the file ends with the
 * last number sent, verifies the file holds exactly 1..last, that both
 * children are alive and, when it has seen the hostname change (a
 * migration), that numbers kept flowing after it.
 */
#include "wl.h"
#include <sys/prctl.h>

struct proctree {
	struct wl w;
	const char *data_file;
	double rate;
	int exit_after_check;
	pid_t fwd, sink;
	int out;		/* write end of the first pipe */
	uint64_t seq;		/* last number sent */
	uint64_t mig_seq;	/* last number sent before the last migration */
};

static int read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, (const char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

/* child 1: pass numbers on, unchanged, until the parent goes away */
static void forwarder(int in, int out)
{
	uint64_t v;

	prctl(PR_SET_NAME, "proctree-fwd");
	while (read_full(in, &v, sizeof(v)) == 0)
		if (write_full(out, &v, sizeof(v)))
			break;
	_exit(0);
}

/* child 2 after exec: append every number to the data file */
static int sink_main(int in, const char *path)
{
	uint64_t v, last = 0;
	char line[64];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return 1;
	while (read_full(in, &v, sizeof(v)) == 0) {
		if (v == last + 1)
			n = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)v);
		else
			n = snprintf(line, sizeof(line), "GAP %llu after %llu\n",
				     (unsigned long long)v, (unsigned long long)last);
		last = v;
		if (write_full(fd, line, n))
			return 1;
	}
	return 0;
}

static void start_tree(struct proctree *t, const char *self)
{
	int p1[2], p2[2];
	char fdarg[16];

	if (pipe2(p1, O_CLOEXEC) || pipe2(p2, O_CLOEXEC))
		wl_die(&t->w, "pipe: %s", strerror(errno));
	t->fwd = fork();
	if (t->fwd < 0)
		wl_die(&t->w, "fork: %s", strerror(errno));
	if (t->fwd == 0) {
		close(p1[1]);
		close(p2[0]);
		forwarder(p1[0], p2[1]);
	}
	t->sink = fork();
	if (t->sink < 0)
		wl_die(&t->w, "fork: %s", strerror(errno));
	if (t->sink == 0) {
		/* only the read end of the second pipe survives the exec */
		fcntl(p2[0], F_SETFD, 0);
		snprintf(fdarg, sizeof(fdarg), "%d", p2[0]);
		execl(self, "proctree-sink", "--sink", fdarg, t->data_file, (char *)NULL);
		_exit(127);
	}
	close(p1[0]);
	close(p2[0]);
	close(p2[1]);
	t->out = p1[1];
}

static int child_alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

/* Wait (up to 20 s) until the data file's last line is t->seq. */
static int wait_drained(struct proctree *t)
{
	char buf[64], want[32];
	int i, fd, wl;
	off_t sz;

	wl = snprintf(want, sizeof(want), "\n%llu\n", (unsigned long long)t->seq);
	for (i = 0; i < 2000; i++) {
		fd = open(t->data_file, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			sz = lseek(fd, 0, SEEK_END);
			if (sz >= wl && pread(fd, buf, wl, sz - wl) == wl &&
			    !memcmp(buf, want, wl)) {
				close(fd);
				return 0;
			}
			close(fd);
		}
		poll(NULL, 0, 10);
	}
	return -1;
}

static void verify(struct proctree *t)
{
	char line[64];
	uint64_t expect = 1;
	FILE *f;

	if (!child_alive(t->fwd) || !child_alive(t->sink)) {
		wl_result(&t->w, "FAIL children gone: forwarder %s, sink %s",
			  child_alive(t->fwd) ? "alive" : "dead",
			  child_alive(t->sink) ? "alive" : "dead");
		return;
	}
	if (wait_drained(t)) {
		wl_result(&t->w, "FAIL %s does not end with %llu after 20 s",
			  t->data_file, (unsigned long long)t->seq);
		return;
	}
	f = fopen(t->data_file, "re");
	if (!f) {
		wl_result(&t->w, "FAIL %s: %s", t->data_file, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strtoull(line, NULL, 10) != expect || line[0] == 'G') {
			line[strcspn(line, "\n")] = 0;
			wl_result(&t->w, "FAIL line %llu is '%s'",
				  (unsigned long long)expect, line);
			fclose(f);
			return;
		}
		expect++;
	}
	fclose(f);
	if (expect - 1 != t->seq) {
		wl_result(&t->w, "FAIL file has %llu numbers, sent %llu",
			  (unsigned long long)(expect - 1), (unsigned long long)t->seq);
		return;
	}
	if (t->w.migrations && t->seq <= t->mig_seq) {
		wl_result(&t->w, "FAIL nothing flowed after the migration (seq %llu)",
			  (unsigned long long)t->seq);
		return;
	}
	wl_result(&t->w, "PASS seq=%llu migrated_at=%llu migrations=%llu host=%s "
		  "migration_gap_ms=%.3f", (unsigned long long)t->seq,
		  (unsigned long long)t->mig_seq, (unsigned long long)t->w.migrations,
		  t->w.host, t->w.mig_gap_ns / 1e6);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: proctree --data-file PATH [--rate N] [options]\n"
		"  --rate N              numbers per second (default 100)\n"
		"  --exit-after-check    exit after the first check\n"
		WL_COMMON_USAGE);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		WL_COMMON_OPTS,
		{ "data-file", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "exit-after-check", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 }
	};
	struct proctree t = { .w = { .name = "proctree" }, .rate = 100 };
	char self[4096];
	double budget = 0;
	int64_t prev;
	uint64_t last_migrations = 0;
	ssize_t n;
	int c;

	if (argc == 4 && !strcmp(argv[1], "--sink"))
		return sink_main(atoi(argv[2]), argv[3]);

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (wl_common_opt(&t.w, c))
			continue;
		switch (c) {
		case 'd': t.data_file = optarg; break;
		case 'r': t.rate = atof(optarg); break;
		case 'x': t.exit_after_check = 1; break;
		default: usage();
		}
	}
	if (!t.data_file || t.data_file[0] != '/' || t.rate <= 0 || optind != argc)
		usage();
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		wl_die(&t.w, "readlink /proc/self/exe: %s", strerror(errno));
	self[n] = 0;

	signal(SIGPIPE, SIG_IGN);
	wl_daemonize(&t.w);
	start_tree(&t, self);
	wl_log(&t.w, "forwarder %d, sink %d, %.0f numbers/s", t.fwd, t.sink, t.rate);
	wl_ready(&t.w);

	prev = t.w.last_ns;
	for (;;) {
		int check = wl_tick(&t.w);

		if (t.w.migrations != last_migrations) {
			/* numbers sent before this tick were sent on the old host */
			last_migrations = t.w.migrations;
			t.mig_seq = t.seq;
		}
		budget += t.rate * (t.w.last_ns - prev) / 1e9;
		prev = t.w.last_ns;
		if (budget > t.rate / 10 + 1)
			budget = t.rate / 10 + 1;
		while (budget >= 1) {
			uint64_t v = t.seq + 1;

			if (write_full(t.out, &v, sizeof(v)))
				wl_die(&t.w, "pipe write: %s", strerror(errno));
			t.seq = v;
			budget -= 1;
		}
		snprintf(t.w.extra, sizeof(t.w.extra), "seq=%llu",
			 (unsigned long long)t.seq);
		if (check) {
			verify(&t);
			if (t.exit_after_check)
				return 0;
		}
	}
}
