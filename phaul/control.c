// SPDX-License-Identifier: GPL-2.0
/* The control socket of a running migration and its live thread (control.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "control.h"
#include "err.h"
#include "event.h"
#include "log.h"
#include "util.h"

/* A client has this long to send its request and take the answer. */
#define CTL_CLIENT_MS 1000
/* The status line's and the JSON events' periods. */
#define CTL_DRAW_MS 500
/* a fixed rate a little under a second: "at least once a second" despite poll's jitter */
#define CTL_JSON_MS 950

/* A decimal number, at most max, taking all of s[0..n). */
static int parse_num(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!n || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

long ctl_parse_req(const char *buf, size_t len, struct ctl_req *r)
{
	static const char dt[] = "set downtime-limit ", bw[] = "set bwlimit ";
	const char *nl = memchr(buf, '\n', len < PH_CTL_REQ_MAX ? len : PH_CTL_REQ_MAX);
	size_t n;

	if (!nl)
		return len < PH_CTL_REQ_MAX ? 0 : -PH_ETOOBIG;
	n = (size_t)(nl - buf);
	memset(r, 0, sizeof(*r));
	if (n == 6 && !memcmp(buf, "status", 6))
		r->verb = CTL_STATUS;
	else if (n == 6 && !memcmp(buf, "cancel", 6))
		r->verb = CTL_CANCEL;
	else if (n > sizeof(dt) - 1 && !memcmp(buf, dt, sizeof(dt) - 1) &&
		 !parse_num(buf + sizeof(dt) - 1, n - (sizeof(dt) - 1), CTL_DOWNTIME_MAX_MS,
			    &r->value) &&
		 r->value)
		r->verb = CTL_SET_DOWNTIME;
	else if (n > sizeof(bw) - 1 && !memcmp(buf, bw, sizeof(bw) - 1) &&
		 !parse_num(buf + sizeof(bw) - 1, n - (sizeof(bw) - 1), CTL_BWLIMIT_MAX, &r->value))
		r->verb = CTL_SET_BWLIMIT;
	else
		return -PH_EPROTO;
	return (long)n + 1;
}

/* ---- the server: in the migration's live thread ---- */

static int run_dir(const char *work_dir, char *out, size_t len)
{
	if ((size_t)snprintf(out, len, "%s/run", work_dir) >= len)
		return ph_seterr(PH_ETOOBIG, "control socket: work dir %s too long", work_dir);
	return mkdir_p(out, 0700);
}

int control_sock_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return ph_seterr(PH_ETOOBIG, "control socket path %s is longer than %zu bytes",
				 path, sizeof(sa->sun_path) - 1);
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/* Listen on DIR/ID.sock: bound as ID.new, renamed once it listens (control.h). */
static int ctl_listen(struct control *c, const char *work_dir, const char *id)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	struct sockaddr_un sa;
	int fd = -1, ret;

	if ((ret = run_dir(work_dir, dir, sizeof(dir))) < 0)
		return ret;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s.new", dir, id) >= sizeof(tmp) ||
	    (size_t)snprintf(c->path, sizeof(c->path), "%s/%s.sock", dir, id) >= sizeof(c->path))
		return ph_seterr(PH_ETOOBIG,
				 "control socket path %s/%s.sock is longer than %zu bytes", dir, id,
				 sizeof(c->path) - 1);
	if ((ret = control_sock_addr(tmp, &sa)) < 0)
		return ret;
	unlink(tmp);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "control socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(tmp, 0600) < 0 ||
	    listen(fd, 8) < 0 || rename(tmp, c->path) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "control socket %s", c->path);
		unlink(tmp);
		close(fd);
		c->path[0] = '\0';
		return ret;
	}
	c->lfd = fd;
	return 0;
}

/* Read one request line within the client's deadline. */
static int read_req(int fd, struct ctl_req *r)
{
	char buf[PH_CTL_REQ_MAX];
	uint64_t end = now_us() + CTL_CLIENT_MS * 1000ull;
	size_t used = 0;
	long n;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_us();
		ssize_t got;

		if ((n = ctl_parse_req(buf, used, r)) != 0)
			return n < 0 ? (int)n : 0;
		if (now >= end || poll(&pfd, 1, (int)((end - now) / 1000) + 1) <= 0)
			return -PH_ETIMEDOUT;
		got = read(fd, buf + used, sizeof(buf) - used);
		if (got <= 0)
			return -PH_EEOF;
		used += (size_t)got;
	}
}

static void reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(int fd, const char *fmt, ...)
{
	char line[PH_CTL_REPLY_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* the client's socket has a send deadline (SO_SNDTIMEO) */
	if (write_full(fd, line, (size_t)n) < 0)
		pr_debug("control: answer lost: %s", ph_errmsg());
}

static void reply_status(struct control *c, int fd)
{
	struct progress_snap s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		reply(fd, "err no memory");
		return;
	}
	progress_sample(c->prog, &s);
	event_head(f, "progress");
	progress_json_fields(f, &s);
	fputc('}', f);
	fclose(f);
	reply(fd, "ok %s", buf);
	free(buf);
}

static void dispatch(struct control *c, int fd, const struct ctl_req *r)
{
	char why[512] = "";
	int ret = 0;

	switch (r->verb) {
	case CTL_STATUS: reply_status(c, fd); return;
	case CTL_CANCEL: ret = c->ops->cancel(c->arg, why, sizeof(why)); break;
	case CTL_SET_DOWNTIME:
		ret = c->ops->set_downtime_limit(c->arg, r->value, why, sizeof(why));
		break;
	case CTL_SET_BWLIMIT: ret = c->ops->set_bwlimit(c->arg, r->value, why, sizeof(why)); break;
	}
	if (ret < 0)
		reply(fd, "err %s", why);
	else
		reply(fd, "ok %s", why);
}

/* The client's uid, from the kernel: root only (control.h). */
static int peer_is_root(int fd, char *why, size_t len)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0) {
		snprintf(why, len, "SO_PEERCRED: %s", strerror(errno));
		return 0;
	}
	if (cr.uid != 0) {
		snprintf(why, len, "uid %u is not root (uid 0)", (unsigned)cr.uid);
		return 0;
	}
	return 1;
}

void control_serve_one(struct control *c)
{
	struct timeval tv = { .tv_sec = CTL_CLIENT_MS / 1000,
			      .tv_usec = CTL_CLIENT_MS % 1000 * 1000 };
	struct ctl_req r;
	char why[128];
	int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC), ret;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!peer_is_root(fd, why, sizeof(why))) {
		pr_warn("control socket %s: refused a client: %s", c->path, why);
		reply(fd, "err refused: %s", why);
	} else if ((ret = read_req(fd, &r)) < 0) {
		reply(fd, "err %s",
		      ret == -PH_EPROTO	   ? "unknown request"
		      : ret == -PH_ETOOBIG ? "request line too long"
					   : "no request line in time");
	} else {
		dispatch(c, fd, &r);
	}
	close(fd);
}

static void emit_json(struct control *c, const struct progress_snap *s)
{
	progress_hold();
	if (!c->quiet) {
		event_head(stdout, "progress");
		progress_json_fields(stdout, s);
		fputs("}\n", stdout);
		fflush(stdout);
	}
	progress_release();
}

void control_quiet(struct control *c)
{
	progress_hold(); /* an event being printed ends first; none starts after */
	c->quiet = true;
	progress_release();
	if (c->tty)
		progress_tty_close();
}

static void *live_thread(void *arg)
{
	struct control *c = arg;
	uint64_t next_draw = now_us(), next_json = next_draw + CTL_JSON_MS * 1000ull;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = c->wake[0], .events = POLLIN },
					 { .fd = c->lfd, .events = POLLIN } };
		uint64_t now = now_us(), next = c->json ? next_json : next_draw;
		struct progress_snap s;
		int wait_ms = next > now ? (int)((next - now) / 1000) + 1 : 0;

		if (!c->json && !c->tty)
			wait_ms = -1;
		if (poll(pfd, c->lfd >= 0 ? 2 : 1, wait_ms) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (c->lfd >= 0 && pfd[1].revents)
			control_serve_one(c);
		now = now_us();
		if (c->json && now >= next_json) {
			progress_sample(c->prog, &s);
			emit_json(c, &s);
			next_json += CTL_JSON_MS * 1000ull;
			if (next_json <= now) /* a slow client held us: start afresh */
				next_json = now + CTL_JSON_MS * 1000ull;
		}
		if (c->tty && now >= next_draw) {
			progress_sample(c->prog, &s);
			if (s.transfer) {
				progress_tty_draw(&s);
			} else {
				/* a line left from the last stream goes */
				progress_hold();
				progress_release();
			}
			next_draw = now + CTL_DRAW_MS * 1000ull;
		}
	}
	return NULL;
}

int control_start(struct control *c, const char *work_dir, struct progress *p, bool json,
		  const struct control_ops *ops, void *arg)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->lfd = -1;
	c->wake[0] = c->wake[1] = -1;
	c->prog = p;
	c->ops = ops;
	c->arg = arg;
	c->json = json;
	c->tty = !json && isatty(STDERR_FILENO);
	if (pipe2(c->wake, O_CLOEXEC) < 0)
		return ph_seterr_errno(PH_ESYS, "live thread: pipe");
	if (ctl_listen(c, work_dir, p->s.id) < 0)
		pr_warn("no control socket (phaul status/cancel/set will not see this migration): "
			"%s",
			ph_errmsg());
	if (c->tty)
		progress_tty_open(STDERR_FILENO);
	if ((ret = pthread_create(&c->thread, NULL, live_thread, c)) != 0) {
		errno = ret;
		ret = ph_seterr_errno(PH_ESYS, "live thread");
		control_stop(c);
		return ret;
	}
	c->running = true;
	return 0;
}

void control_stop(struct control *c)
{
	if (c->running && write(c->wake[1], "x", 1) == 1)
		pthread_join(c->thread, NULL);
	c->running = false;
	if (c->tty)
		progress_tty_close();
	if (c->lfd >= 0) {
		unlink(c->path);
		close(c->lfd);
	}
	for (int i = 0; i < 2; i++)
		if (c->wake[i] >= 0)
			close(c->wake[i]);
	c->lfd = c->wake[0] = c->wake[1] = -1;
}
