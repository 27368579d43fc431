// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket (phaul/control.h) and the live figures
 * (phaul/progress.h): the request parser, the status line and the JSON
 * object both ways, the terminal line's erase before other output, and a
 * real control socket served by a real live thread: status, cancel, set,
 * its modes, a stale socket, and a client that is not root (refused by
 * SO_PEERCRED even where the file modes would let it in).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "control.h"
#include "err.h"
#include "event.h"
#include "log.h"
#include "progress.h"
#include "util.h"

static long parse(const char *s, struct ctl_req *r)
{
	return ctl_parse_req(s, strlen(s), r);
}

static void test_parse_req(void **state)
{
	struct ctl_req r;
	char big[PH_CTL_REQ_MAX + 8];

	assert_int_equal(parse("status\n", &r), 7);
	assert_int_equal(r.verb, CTL_STATUS);
	assert_int_equal(parse("cancel\nstatus\n", &r), 7); /* one line at a time */
	assert_int_equal(r.verb, CTL_CANCEL);
	assert_int_equal(parse("set downtime-limit 500\n", &r), 23);
	assert_int_equal(r.verb, CTL_SET_DOWNTIME);
	assert_int_equal(r.value, 500);
	assert_int_equal(parse("set downtime-limit 3600000\n", &r), 27);
	assert_int_equal(parse("set bwlimit 0\n", &r), 14);
	assert_int_equal(r.verb, CTL_SET_BWLIMIT);
	assert_int_equal(r.value, 0);
	assert_int_equal(parse("set bwlimit 1125899906842624\n", &r), 29); /* 2^50 */
	/* need more: no newline yet */
	assert_int_equal(parse("", &r), 0);
	assert_int_equal(parse("stat", &r), 0);
	/* refused */
	assert_int_equal(parse("status \n", &r), -PH_EPROTO);
	assert_int_equal(parse("STATUS\n", &r), -PH_EPROTO);
	assert_int_equal(parse("set downtime-limit 0\n", &r), -PH_EPROTO);
	assert_int_equal(parse("set downtime-limit 3600001\n", &r), -PH_EPROTO);
	assert_int_equal(parse("set downtime-limit -5\n", &r), -PH_EPROTO);
	assert_int_equal(parse("set downtime-limit \n", &r), -PH_EPROTO);
	assert_int_equal(parse("set bwlimit 1125899906842625\n", &r), -PH_EPROTO);
	assert_int_equal(parse("set bwlimit 99999999999999999999999\n", &r), -PH_EPROTO);
	assert_int_equal(parse("set bwlimit 1M\n", &r), -PH_EPROTO);
	assert_int_equal(ctl_parse_req("status\0\n", 8, &r), -PH_EPROTO);
	/* a line that never ends within the cap */
	memset(big, 'a', sizeof(big));
	assert_int_equal(ctl_parse_req(big, PH_CTL_REQ_MAX - 1, &r), 0);
	assert_int_equal(ctl_parse_req(big, PH_CTL_REQ_MAX, &r), -PH_ETOOBIG);
	assert_int_equal(ctl_parse_req(big, sizeof(big), &r), -PH_ETOOBIG);
}

static struct progress_snap sample_snap(void)
{
	struct progress_snap s = { .pid = 4242,
				   .iter = 2,
				   .transfer = true,
				   .elapsed_us = 12000000,
				   .done_bytes = 800ull << 20,
				   .wire_bytes = 100ull << 20,
				   .expected_bytes = 1000ull << 20,
				   .raw_bps = 32.0 * (1 << 20),
				   .wire_bps = 4.0 * (1 << 20),
				   .dirty_pps = 1200,
				   .eta_us = 6250000,
				   .predicted_downtime_us = 240000,
				   .throttle_pct = 20,
				   .downtime_limit_us = 300000,
				   .bwlimit = 50ull << 20 };

	strcpy(s.id, "20261202-023000-1-abcdef01");
	strcpy(s.ct, "pid:4242");
	strcpy(s.dst, "node2");
	strcpy(s.phase, "precopy");
	return s;
}

static void test_line(void **state)
{
	struct progress_snap s = sample_snap();
	char line[PROGRESS_LINE_MAX], small[24];

	progress_line(&s, line, sizeof(line));
	assert_string_equal(line, "iter 2  800.0/1000.0 MiB 80%  raw 32.0 MiB/s  wire 4.0 MiB/s"
				  "  ETA 6 s  dirty 1200 pages/s  downtime ~240 ms (limit 300)"
				  "  throttle 20%  bwlimit 50.0 MiB/s");
	assert_null(strchr(line, '\n'));
	/* past the estimate: no percentage; unknown ETA */
	s.final = true;
	s.done_bytes = 1200ull << 20;
	s.eta_us = -1;
	s.throttle_pct = 0;
	s.bwlimit = 0;
	progress_line(&s, line, sizeof(line));
	assert_non_null(strstr(line, "final 2  1200.0 MiB  raw"));
	assert_non_null(strstr(line, "ETA --"));
	assert_null(strstr(line, "throttle"));
	assert_null(strstr(line, "bwlimit"));
	/* before any iteration: the phase and the limit only */
	memset(&s, 0, sizeof(s));
	strcpy(s.phase, "connect");
	s.downtime_limit_us = 300000;
	progress_line(&s, line, sizeof(line));
	assert_string_equal(line, "connect, no pages sent yet  downtime limit 300 ms");
	/* cut, never overrun */
	s = sample_snap();
	assert_int_equal(progress_line(&s, small, sizeof(small)), sizeof(small) - 1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

static char *json_of(const struct progress_snap *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	event_head(f, "progress");
	progress_json_fields(f, s);
	fputc('}', f);
	fclose(f);
	return buf;
}

static void test_json_round_trip(void **state)
{
	struct progress_snap s = sample_snap(), back;
	char *j;

	strcpy(s.ct, "pid:\"4242\"\n"); /* escaped on the way out */
	j = json_of(&s);
	assert_true(!strncmp(j, "{\"event\":\"progress\",\"schema\":1,\"ts\":\"20", 39));
	assert_null(strchr(j, '\n'));
	assert_int_equal(progress_parse_json(j, strlen(j), &back), 0);
	assert_string_equal(back.id, s.id);
	assert_string_equal(back.ct, s.ct);
	assert_string_equal(back.dst, s.dst);
	assert_string_equal(back.phase, s.phase);
	assert_int_equal(back.pid, s.pid);
	assert_int_equal(back.iter, s.iter);
	assert_true(back.transfer);
	assert_false(back.final);
	assert_int_equal(back.done_bytes, s.done_bytes);
	assert_int_equal(back.wire_bytes, s.wire_bytes);
	assert_int_equal(back.expected_bytes, s.expected_bytes);
	assert_int_equal((uint64_t)back.raw_bps, (uint64_t)s.raw_bps);
	assert_int_equal((uint64_t)back.dirty_pps, 1200);
	assert_int_equal(back.eta_us, s.eta_us);
	assert_int_equal(back.predicted_downtime_us, s.predicted_downtime_us);
	assert_int_equal(back.throttle_pct, 20);
	assert_int_equal(back.downtime_limit_us, s.downtime_limit_us);
	assert_int_equal(back.bwlimit, s.bwlimit);
	free(j);
	s.eta_us = -1;
	j = json_of(&s);
	assert_int_equal(progress_parse_json(j, strlen(j), &back), 0);
	assert_int_equal(back.eta_us, -1);
	free(j);
	/* not an object, truncated, a string too long for its field */
	assert_int_equal(progress_parse_json("[1]", 3, &back), -PH_EPROTO);
	assert_int_equal(progress_parse_json("{\"id\":", 6, &back), -PH_EPROTO);
	assert_int_equal(progress_parse_json("", 0, &back), -PH_EPROTO);
	{
		char big[2048] = "{\"phase\":\"";
		size_t n = strlen(big);

		memset(big + n, 'p', 1000);
		strcpy(big + n + 1000, "\",\"iter\":-3,\"pid\":1e300}");
		assert_int_equal(progress_parse_json(big, strlen(big), &back), 0);
		assert_int_equal(strlen(back.phase), sizeof(back.phase) - 1);
		assert_int_equal(back.iter, 0);
	}
}

static void test_event_time(void **state)
{
	struct timespec t = { .tv_sec = 1796178600, .tv_nsec = 123999999 };
	char ts[32];

	event_time(&t, ts, sizeof(ts));
	assert_string_equal(ts, "2026-12-02T02:30:00.123Z");
}

/* The expected size: the CT's memory first, then what the dirty rate predicts. */
static void test_expected(void **state)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct mux *m = NULL;
	struct progress p;
	struct progress_snap s;
	struct iter_report it = { .iter = 1, .pages = 5000, .usec = 2000000, .dirty_pps = 1000 };

	progress_init(&p, "id-1", "pid:1", "node2", 64ull << 20, &mu, &m);
	progress_iter_begin(&p, 1, false);
	progress_sample(&p, &s);
	assert_true(s.transfer);
	assert_int_equal(s.expected_bytes, 64ull << 20);
	assert_int_equal(s.done_bytes, 0);
	progress_iter_end(&p, &it);
	progress_iter_begin(&p, 2, false);
	progress_sample(&p, &s);
	assert_int_equal(s.expected_bytes, 2000ull * p.page_size);
	assert_int_equal((uint64_t)s.dirty_pps, 1000);
	/* never more than the iteration before sent, after the first */
	it = (struct iter_report){ .iter = 2, .pages = 100, .usec = 2000000, .dirty_pps = 1000 };
	progress_iter_end(&p, &it);
	progress_sample(&p, &s);
	assert_false(s.transfer);
	progress_iter_begin(&p, 3, true);
	progress_sample(&p, &s);
	assert_int_equal(s.expected_bytes, 100ull * p.page_size);
	assert_true(s.final);
}

/* The status line is drawn on its fd and erased before anything else prints. */
static void test_tty_line(void **state)
{
	struct progress_snap s = sample_snap();
	char buf[1024];
	int pfd[2];
	ssize_t n;

	assert_int_equal(pipe(pfd), 0);
	progress_tty_open(pfd[1]);
	progress_tty_draw(&s);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	assert_true(n > 8);
	buf[n] = '\0';
	assert_int_equal(buf[0], '\r');
	assert_non_null(strstr(buf, "iter 2  800.0/1000.0 MiB"));
	assert_string_equal(buf + n - 3, "\033[K");
	/* 80 columns without a terminal: the line stops one short */
	assert_true(n - 4 <= 79);
	progress_hold(); /* another line is about to be printed */
	n = read(pfd[0], buf, sizeof(buf));
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "\r\033[K", 4);
	progress_release();
	progress_hold(); /* nothing shown: nothing written */
	progress_release();
	progress_tty_close();
	close(pfd[1]);
	assert_int_equal(read(pfd[0], buf, sizeof(buf)), 0);
	close(pfd[0]);
}

/* ---- a real control socket ---- */

struct fake_mig {
	int cancels, limit_ms;
	long long bw;
};

static int fake_cancel(void *arg, char *why, size_t len)
{
	struct fake_mig *f = arg;

	if (f->cancels++) {
		snprintf(why, len, "too late");
		return -PH_EUSAGE;
	}
	snprintf(why, len, "cancelling");
	return 0;
}

static int fake_limit(void *arg, uint64_t ms, char *why, size_t len)
{
	((struct fake_mig *)arg)->limit_ms = (int)ms;
	snprintf(why, len, "limit %llu", (unsigned long long)ms);
	return 0;
}

static int fake_bw(void *arg, uint64_t bps, char *why, size_t len)
{
	((struct fake_mig *)arg)->bw = (long long)bps;
	snprintf(why, len, "bw %llu", (unsigned long long)bps);
	return 0;
}

static const struct control_ops fake_ops = { fake_cancel, fake_limit, fake_bw };

struct live {
	char dir[64];
	pthread_mutex_t mu;
	struct mux *m;
	struct progress p;
	struct control c;
	struct fake_mig f;
};

static int live_setup(void **state)
{
	struct live *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	strcpy(l->dir, "/tmp/phaul-ctl.XXXXXX");
	assert_non_null(mkdtemp(l->dir));
	pthread_mutex_init(&l->mu, NULL);
	progress_init(&l->p, "20261202-000000-1-00000001", "pid:77", "node2", 1 << 20, &l->mu,
		      &l->m);
	assert_int_equal(control_start(&l->c, l->dir, &l->p, false, &fake_ops, &l->f), 0);
	*state = l;
	return 0;
}

static int live_teardown(void **state)
{
	struct live *l = *state;

	control_stop(&l->c);
	rm_tree(l->dir);
	free(l);
	return 0;
}

static void test_socket_serves(void **state)
{
	struct live *l = *state;
	char ans[PH_CTL_REPLY_MAX], path[128];
	struct progress_snap s;
	struct stat st;

	snprintf(path, sizeof(path), "%s/run/20261202-000000-1-00000001.sock", l->dir);
	assert_string_equal(l->c.path, path);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/run", l->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	progress_set_bwlimit(&l->p, 1000);
	assert_int_equal(control_call(l->c.path, "status", ans, sizeof(ans)), 0);
	assert_int_equal(progress_parse_json(ans, strlen(ans), &s), 0);
	assert_string_equal(s.ct, "pid:77");
	assert_string_equal(s.phase, "connect");
	assert_int_equal(s.bwlimit, 1000);
	assert_int_equal(s.pid, getpid());

	assert_int_equal(control_call(l->c.path, "set downtime-limit 700", ans, sizeof(ans)), 0);
	assert_string_equal(ans, "limit 700");
	assert_int_equal(l->f.limit_ms, 700);
	assert_int_equal(control_call(l->c.path, "set bwlimit 5", ans, sizeof(ans)), 0);
	assert_int_equal(l->f.bw, 5);
	assert_int_equal(control_call(l->c.path, "cancel", ans, sizeof(ans)), 0);
	assert_string_equal(ans, "cancelling");
	assert_int_equal(control_call(l->c.path, "cancel", ans, sizeof(ans)), -PH_EPEER);
	assert_non_null(strstr(ph_errmsg(), "too late"));
	assert_int_equal(control_call(l->c.path, "set bwlimit -1", ans, sizeof(ans)), -PH_EPEER);
	assert_non_null(strstr(ph_errmsg(), "unknown request"));
	assert_int_equal(l->f.bw, 5);
}

/* A socket bound but not listening is what a dead phaul leaves: removed, no error but ENOENT. */
static void test_stale_socket(void **state)
{
	struct live *l = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char ans[256];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/run/20261202-000000-2-dead0000.sock",
		 l->dir);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(control_call(sa.sun_path, "status", ans, sizeof(ans)), -PH_ENOENT);
	assert_int_equal(access(sa.sun_path, F_OK), -1);
	/* the live one is untouched (its answer cut to ans) */
	assert_int_equal(control_call(l->c.path, "status", ans, sizeof(ans)), 0);
	assert_int_equal(access(l->c.path, F_OK), 0);
}

/*
 * A client that is not root, with the modes opened up as a careless
 * admin might: the server still refuses it (SO_PEERCRED), the request is
 * never acted on.
 */
static void test_not_root_refused(void **state)
{
	struct live *l = *state;
	char run[96], ans[256];
	int status;
	pid_t pid;
	ssize_t n;
	int sp[2];

	if (geteuid() != 0)
		skip();
	snprintf(run, sizeof(run), "%s/run", l->dir);
	assert_int_equal(chmod(l->dir, 0755), 0);
	assert_int_equal(chmod(run, 0755), 0);
	assert_int_equal(chmod(l->c.path, 0666), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		char buf[256] = "";
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ssize_t got = 0;

		close(sp[0]);
		if (setgid(65534) || setuid(65534))
			_exit(3);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->c.path);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(4);
		/* the server may have answered and closed first */
		signal(SIGPIPE, SIG_IGN);
		if (write(fd, "cancel\n", 7) < 0 && errno != EPIPE)
			_exit(5);
		got = read(fd, buf, sizeof(buf) - 1);
		if (got > 0 && write(sp[1], buf, (size_t)got) != got)
			_exit(6);
		_exit(0);
	}
	close(sp[1]);
	n = read(sp[0], ans, sizeof(ans) - 1);
	close(sp[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(n > 0);
	ans[n] = '\0';
	assert_non_null(strstr(ans, "err refused: uid 65534 is not root"));
	assert_int_equal(l->f.cancels, 0);
}

/* Read what the terminal gets during ms, into buf (NUL-terminated); its length. */
static size_t drain(int master, char *buf, size_t cap, int ms)
{
	uint64_t end = now_us() + (uint64_t)ms * 1000;
	size_t used = 0;

	for (;;) {
		struct pollfd pfd = { .fd = master, .events = POLLIN };
		uint64_t now = now_us();
		ssize_t n;

		if (used + 1 >= cap || now >= end ||
		    poll(&pfd, 1, (int)((end - now) / 1000) + 1) <= 0)
			break;
		n = read(master, buf + used, cap - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	buf[used] = '\0';
	return used;
}

/*
 * The live thread on a real terminal (stderr a pty): while a page stream
 * runs it draws the line in place; a log line erases it first; nothing
 * is drawn without a stream; control_stop() leaves the terminal clean.
 */
static void test_live_terminal(void **state)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct fake_mig f = { 0 };
	struct mux *m = NULL;
	struct progress p;
	struct control c;
	char dir[] = "/tmp/phaul-ctl-tty.XXXXXX", buf[8192], *warn, *erase;
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave, saved;

	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	assert_non_null(mkdtemp(dir));
	saved = dup(STDERR_FILENO);
	assert_true(dup2(slave, STDERR_FILENO) >= 0);
	progress_init(&p, "20261202-000000-1-00000003", "pid:77", "node2", 64ull << 20, &mu, &m);
	assert_int_equal(control_start(&c, dir, &p, false, &fake_ops, &f), 0);
	assert_true(c.tty);
	drain(master, buf, sizeof(buf), 700);
	assert_null(strstr(buf, "no pages sent")); /* no stream: no line */
	progress_iter_begin(&p, 1, false);
	drain(master, buf, sizeof(buf), 1200);
	assert_non_null(strstr(buf, "\riter 1  0.0/64.0 MiB 0%"));
	assert_non_null(strstr(buf, "\033[K"));
	assert_null(strchr(buf, '\n')); /* rewritten in place */
	pr_warn("a line of its own");
	drain(master, buf, sizeof(buf), 100);
	warn = strstr(buf, "a line of its own");
	assert_non_null(warn);
	/* the line went first: an erase, then the log line (its time and role), no redraw between
	 */
	erase = memmem(buf, (size_t)(warn - buf), "\r\033[K", 4);
	assert_non_null(erase);
	assert_null(memchr(erase + 1, '\r', (size_t)(warn - erase - 1)));
	progress_iter_end(&p, &(struct iter_report){ .iter = 1, .pages = 10, .usec = 1000 });
	control_stop(&c);
	drain(master, buf, sizeof(buf), 700);
	/* whatever came after the warning ends erased: no line left on the screen */
	if (buf[0])
		assert_non_null(strstr(buf, "\r\033[K"));
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(slave);
	close(master);
	rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_req),
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_event_time),
		cmocka_unit_test(test_expected),
		cmocka_unit_test(test_tty_line),
		cmocka_unit_test(test_live_terminal),
		cmocka_unit_test_setup_teardown(test_socket_serves, live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket, live_setup, live_teardown),
		cmocka_unit_test_setup_teardown(test_not_root_refused, live_setup, live_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
