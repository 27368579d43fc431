// SPDX-License-Identifier: GPL-2.0
/*
 * A tcp peer for tests/host/run.sh that proves the shared secret like a
 * real source, then misbehaves on purpose:
 *
 *   peer ADDR SECRET_FILE stall-hello    send Hello, then nothing at all
 *   peer ADDR SECRET_FILE stall-frame    Hello, then a frame header and 10
 *                                        of its 100 payload bytes, then nothing
 *   peer ADDR SECRET_FILE idle SECONDS   Hello, quiet (keepalives only) for
 *                                        SECONDS, then Finish: the session
 *                                        must still answer
 *   peer ADDR SECRET_FILE hold SECONDS   Hello, then hold the session
 *   peer ADDR SECRET_FILE hello          Hello and report the answer
 *   peer ADDR SECRET_FILE bad-id         Hello with a migration id that is a
 *                                        path and a forged line, then as hello
 *   peer ADDR SECRET_FILE late-hello SECONDS
 *                                        wait SECONDS after authenticating,
 *                                        then Hello and report the answer
 *   peer ADDR SECRET_FILE resume MIG_ID TOKEN_HEX
 *                                        Hello, Resume of a post-copy migration
 *                                        with that token; on "ok" a record
 *                                        "ping" on the page stream (exit 0),
 *                                        else the refusal (exit 1)
 *   peer - WORK_DIR holder MIG_ID SECONDS
 *                                        no tcp: stand for the agent session
 *                                        that holds MIG_ID in post-copy (the
 *                                        real pclink, listening in WORK_DIR);
 *                                        print its token in hex, wait up to
 *                                        SECONDS for a resumed link and one
 *                                        record on it (exit 0), else exit 1
 *   peer ADDR SECRET_FILE fs-hold SECONDS DEST
 *                                        Hello, FsSyncStart into DEST with an
 *                                        rsync command line that has no
 *                                        --timeout, then send nothing more
 *
 * The stall modes write raw frames (no mux, so no keepalives), keep
 * reading and throwing away what the agent sends, and print
 * "closed after N.N s" when it hangs up; they give up after 60 s (exit 1).
 * Exit 0 when the expected thing happened, 1 otherwise, with one line
 * saying what.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "proto/msg.h"
#include "transport/chan.h"
#include "transport/frame.h"
#include "transport/mux.h"
#include "config.h"
#include "pclink.h"

#define GIVE_UP_S 60

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One DATA frame on the control stream carrying our Hello, written raw. */
static int raw_hello(struct chan *c)
{
	static char *caps[] = { "zstd" };
	Phaul__Msg msg = PHAUL__MSG__INIT;
	Phaul__Hello h = PHAUL__HELLO__INIT;
	struct frame_hdr fh = { FRAME_DATA, MUX_CTL, 0, 0 };
	uint8_t hdr[FRAME_HDR_LEN], body[1024];
	int r;

	h.proto_version = PHAUL_PROTO_VERSION;
	h.phaul_version = PHAUL_VERSION;
	h.hostname = "stalled-peer";
	h.role = "source";
	h.n_caps = 1;
	h.caps = caps;
	msg.body_case = PHAUL__MSG__BODY_HELLO;
	msg.hello = &h;
	fh.len = (uint32_t)phaul__msg__pack(&msg, body);
	if ((r = frame_put_hdr(hdr, &fh)) < 0 || (r = chan_write_full(c, hdr, sizeof(hdr))) < 0)
		return r;
	return chan_write_full(c, body, fh.len);
}

/* Read and drop until the agent hangs up; seconds taken, or -1 after GIVE_UP_S. */
static double until_closed(struct chan *c, double t0)
{
	uint8_t buf[4096];

	chan_set_timeout(c, 1000);
	while (now_s() - t0 < GIVE_UP_S) {
		ssize_t n = c->ops->read(c, buf, sizeof(buf));

		if (n == 0 || (n < 0 && n != -PH_ETIMEDOUT))
			return now_s() - t0;
	}
	return -1;
}

static int stall(struct chan *c, int mid_frame)
{
	struct frame_hdr fh = { FRAME_DATA, MUX_CTL, 0, 100 };
	uint8_t hdr[FRAME_HDR_LEN];
	double t0, took;
	int r;

	if ((r = raw_hello(c)) < 0)
		return r;
	if (mid_frame &&
	    ((r = frame_put_hdr(hdr, &fh)) < 0 || (r = chan_write_full(c, hdr, sizeof(hdr))) < 0 ||
	     (r = chan_write_full(c, "0123456789", 10)) < 0))
		return r;
	t0 = now_s();
	took = until_closed(c, t0);
	if (took < 0)
		return ph_seterr(PH_ETIMEDOUT, "agent still holds the session after %d s",
				 GIVE_UP_S);
	printf("closed after %.1f s\n", took);
	return 0;
}

/* Quiet for secs (the mux sends keepalives), then Finish: FinishAck must come. */
static int idle_then_finish(struct mux *m, int secs)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__Finish f = PHAUL__FINISH__INIT;
	int r;

	sleep(secs);
	f.commit = false;
	out.body_case = PHAUL__MSG__BODY_FINISH;
	out.finish = &f;
	if ((r = msg_send(m, &out)) < 0 ||
	    (r = msg_expect(m, PHAUL__MSG__BODY_FINISH_ACK, &in, 10000)) < 0)
		return r;
	msg_free(in);
	printf("session alive after %d s\n", secs);
	return 0;
}

/* Start an fs-sync whose rsync stream never comes, and hold the session. */
static int fs_hold(struct mux *m, int secs, const char *dest)
{
	char *args[] = { "rsync", "--server", "-logDtpr", ".", (char *)dest };
	Phaul__Msg out = PHAUL__MSG__INIT;
	Phaul__FsSyncStart f = PHAUL__FS_SYNC_START__INIT;
	int r;

	f.dest = (char *)dest;
	f.n_args = sizeof(args) / sizeof(args[0]);
	f.args = args;
	out.body_case = PHAUL__MSG__BODY_FS_START;
	out.fs_start = &f;
	if ((r = msg_send(m, &out)) < 0)
		return r;
	sleep(secs);
	return 0;
}

/* The holder of a post-copy migration, as pclink.h has it, for the resume test. */
static int holder(const char *work, const char *id, int secs)
{
	static struct phaul_config cfg;
	uint8_t tok[PCLINK_TOKEN_LEN], buf[64];
	struct chan *ca, *cb;
	struct mux *slot = NULL, *old = NULL, *now;
	struct pclink *l = NULL;
	int sv[2], r = ph_seterr(PH_ESYS, "holder: socketpair");
	long n = -1;

	config_defaults(&cfg);
	snprintf(cfg.work_dir, sizeof(cfg.work_dir), "%s", work);
	cfg.postcopy_reconnect_s = secs;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    (r = chan_fd_open(sv[0], sv[0], "old-src", &ca)) < 0 ||
	    (r = chan_fd_open(sv[1], sv[1], "old-dst", &cb)) < 0 || (r = mux_start(ca, &old)) < 0 ||
	    (r = mux_start(cb, &slot)) < 0 || (r = pclink_new(&l, &slot, NULL)) < 0 ||
	    (r = pclink_token_new(l, tok)) < 0 || (r = pclink_arm_dst(l, &cfg, id)) < 0)
		goto out;
	for (size_t i = 0; i < sizeof(tok); i++)
		printf("%02x", tok[i]);
	printf("\n");
	fflush(stdout);
	for (double t0 = now_s(); now_s() - t0 < secs && !pclink_relinks(l);)
		usleep(50000);
	now = pclink_mux(l);
	if (pclink_relinks(l))
		n = mux_recv(now, MUX_PAGES, buf, sizeof(buf), 5000);
	printf("holder: %s, got %ld bytes\n", pclink_relinks(l) ? "took a link" : "no link taken",
	       n);
	r = n == 4 ? 0 : -PH_EPROTO;
out:
	pclink_free(l);
	mux_close(slot);
	mux_close(old);
	return r;
}

/* Resume MIG_ID with the token TOKEN_HEX on m. */
static int resume(struct mux *m, const char *id, const char *hex)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__Resume q = PHAUL__RESUME__INIT;
	uint8_t tok[PCLINK_TOKEN_LEN];
	int r;

	for (size_t i = 0; i < sizeof(tok); i++)
		if (strlen(hex) < 2 * sizeof(tok) || sscanf(hex + 2 * i, "%2hhx", &tok[i]) != 1)
			return ph_seterr(PH_EUSAGE, "token: %zu hex digits", 2 * sizeof(tok));
	q.mig_id = (char *)id;
	q.token.data = tok;
	q.token.len = sizeof(tok);
	out.body_case = PHAUL__MSG__BODY_RESUME;
	out.resume = &q;
	if ((r = msg_send(m, &out)) < 0 ||
	    (r = msg_expect(m, PHAUL__MSG__BODY_RESUME_RESP, &in, 10000)) < 0)
		return r;
	if (!in->resume_resp->ok)
		r = ph_seterr(PH_EPEER, "refused: %s",
			      in->resume_resp->msg ? in->resume_resp->msg : "");
	else
		r = mux_send_rec(m, MUX_PAGES, "ping", 4);
	if (r == 0) {
		printf("resumed\n");
		sleep(1); /* the record crosses the splice before we hang up */
	}
	msg_free(in);
	return r;
}

int main(int argc, char **argv)
{
	uint8_t key[PH_SECRET_MAX];
	Phaul__Hello *hello = NULL;
	struct chan *c = NULL;
	struct mux *m = NULL;
	const char *mode;
	size_t keylen;
	int r, secs;

	if (argc < 4) {
		fprintf(stderr, "usage: peer ADDR SECRET_FILE MODE [SECONDS]\n");
		return 2;
	}
	mode = argv[3];
	secs = argc > 4 ? atoi(argv[4]) : 0;
	if (!strcmp(mode, "holder") && argc > 5) {
		r = holder(argv[2], argv[4], atoi(argv[5]));
		goto out;
	}
	if ((r = chan_load_secret(argv[2], key, &keylen)) < 0 ||
	    (r = chan_tcp_connect(argv[1], 5000, &c)) < 0 ||
	    (r = chan_auth_client(c, key, keylen)) < 0)
		goto out;
	if (!strcmp(mode, "stall-hello") || !strcmp(mode, "stall-frame")) {
		r = stall(c, !strcmp(mode, "stall-frame"));
		goto out;
	}
	if (!strcmp(mode, "late-hello"))
		sleep(secs);
	r = mux_start(c, &m);
	c = NULL; /* the mux owns it, or closed it */
	/* bad-id: a migration id that is no id, to be shown nowhere nor used in a path */
	if (r < 0 ||
	    (r = msg_hello_ex(m, "source",
			      !strcmp(mode, "bad-id") ? "../../../phaul-fx-escape\n2026 forged"
						      : NULL,
			      NULL, &hello, 10000)) < 0)
		goto out;
	if (!strcmp(mode, "idle"))
		r = idle_then_finish(m, secs);
	else if (!strcmp(mode, "hold"))
		sleep(secs);
	else if (!strcmp(mode, "resume") && argc > 5)
		r = resume(m, argv[4], argv[5]);
	else if (!strcmp(mode, "fs-hold") && argc > 5)
		r = fs_hold(m, secs, argv[5]);
	else
		printf("hello from %s\n", hello->hostname);
out:
	if (r < 0)
		printf("peer: %s\n", ph_errmsg());
	if (hello)
		phaul__hello__free_unpacked(hello, NULL);
	mux_close(m);
	chan_close(c);
	return r < 0 ? 1 : 0;
}
