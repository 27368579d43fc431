/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket of a running `phaul migrate` and the commands that
 * talk to it (`phaul status`, `phaul cancel`, `phaul set`).
 *
 * Each migration listens on WORK_DIR/run/ID.sock (AF_UNIX stream, the
 * directory 0700, the socket 0600, and every client's SO_PEERCRED uid must
 * be 0). The socket is bound under a temporary name and renamed once it
 * listens, so a name that refuses connections (ECONNREFUSED) belongs to a
 * phaul that died: clients remove it and go on.
 *
 * Protocol (HOWTO.md "The control socket"): one request line of at
 * most PH_CTL_REQ_MAX bytes, one answer line of at most PH_CTL_REPLY_MAX,
 * then the server closes. A client has one second to send its line.
 *
 *   status                    ok {"event":"progress",...}   (progress.h fields)
 *   cancel                    ok cancelling | err WHY
 *   set downtime-limit MS     ok ... | err WHY      MS in 1..3600000
 *   set bwlimit BYTES         ok ... | err WHY      bytes/s, 0 = no limit
 *
 * The live thread (control_start) serves the socket and draws progress:
 * the terminal's status line every half second while pages move, a JSON
 * progress event every second with --json. It never touches the page
 * stream; what a request changes goes through the migration's ops.
 */
#ifndef PHAUL_CONTROL_H
#define PHAUL_CONTROL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "config.h"
#include "progress.h"

enum ctl_verb {
	CTL_STATUS = 1,
	CTL_CANCEL,
	CTL_SET_DOWNTIME, /* value: ms */
	CTL_SET_BWLIMIT,  /* value: bytes/s */
};

struct ctl_req {
	enum ctl_verb verb;
	uint64_t value;
};

#define CTL_DOWNTIME_MAX_MS 3600000
#define CTL_BWLIMIT_MAX	    (1ull << 50)

/*
 * Parse one request from buf[0..len): the bytes it took (the line and its
 * '\n'), 0 when no '\n' came yet and more may, -PH_ETOOBIG when none came
 * within PH_CTL_REQ_MAX bytes, -PH_EPROTO for anything but the four forms.
 */
long ctl_parse_req(const char *buf, size_t len, struct ctl_req *r);

/* What a request does to the migration; each returns 0 or <0 with why filled in. */
struct control_ops {
	int (*cancel)(void *arg, char *why, size_t len);
	int (*set_downtime_limit)(void *arg, uint64_t ms, char *why, size_t len);
	int (*set_bwlimit)(void *arg, uint64_t bytes_per_sec, char *why, size_t len);
};

struct control {
	int lfd;     /* listening socket, -1: none (progress only) */
	int wake[2]; /* control_stop() writes to wake[1] */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool json; /* --json: progress events on stdout */
	bool tty;  /* the status line on stderr */
	bool running;
	bool quiet; /* control_quiet(): no more events or line (under progress_hold) */
	pthread_t thread;
	struct progress *prog;
	const struct control_ops *ops;
	void *arg;
};

/*
 * Start the live thread of the migration p describes: its control socket
 * under work_dir (a socket that cannot be made is a warning, not a
 * failure: the migration runs on without), the status line when stderr is
 * a terminal and json is off, progress events when json is on. ops and
 * arg are called from that thread. 0, or <0 when the thread cannot start.
 */
int control_start(struct control *c, const char *work_dir, struct progress *p, bool json,
		  const struct control_ops *ops, void *arg);
/*
 * The report is about to be printed: no progress event or status line
 * after it (the socket still answers until control_stop()).
 */
void control_quiet(struct control *c);
/* Stop and join it, erase the status line, remove the socket. Accepts a control never started. */
void control_stop(struct control *c);
/* Serve one connection waiting on c->lfd (the live thread does; tests call it). */
void control_serve_one(struct control *c);

/*
 * The client side (control_cmd.c): one request to the socket at path.
 * 0 with the answer's text after "ok " in out; -PH_EPEER with the
 * server's "err" text; -PH_ENOENT when nothing listens there (a dead
 * phaul's socket, which is then removed); other errors as they come.
 */
int control_call(const char *path, const char *req, char *out, size_t len);

struct sockaddr_un;
/* sa for path (both sides); -PH_ETOOBIG when path does not fit sun_path. */
int control_sock_addr(const char *path, struct sockaddr_un *sa);

#endif
