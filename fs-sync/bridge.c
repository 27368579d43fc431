// SPDX-License-Identifier: GPL-2.0
/*
 * The bridge between a local rsync and MUX_FS: one thread per direction.
 * Each direction ends with an EOF record, on every path, so that the peer's
 * rsync sees its input close and the stream is ready for the next sync.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "fss_int.h"
#include "log.h"
#include "util.h"

/* Poll slice of the receiving thread, so it can notice a silent peer. */
#define FSS_RECV_SLICE_MS 500

static void *up_thread(void *arg)
{
	struct fss_bridge *b = arg;
	char *buf = malloc(PH_FRAME_MAX);
	int ret = 0, eret;
	ssize_t n;

	if (!buf)
		ret = ph_seterr(PH_ENOMEM, "fs-sync bridge buffer");
	while (buf) {
		n = read(b->rfd, buf, PH_FRAME_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		/* A reset from a dying rsync ends its output like EOF; rsync's exit code says why.
		 */
		if (n <= 0)
			break;
		if ((ret = mux_send(b->m, MUX_FS, buf, (size_t)n)) < 0)
			break;
	}
	eret = mux_send_eof(b->m, MUX_FS);
	if (!ret)
		ret = eret;
	close(b->rfd);
	b->rfd = -1;
	free(buf);
	b->up_ret = ret;
	if (ret < 0) /* the detail is per thread: keep it for the joiner */
		snprintf(b->up_msg, sizeof(b->up_msg), "%s", ph_errmsg());
	return NULL;
}

static void end_output(struct fss_bridge *b)
{
	if (b->wfd < 0)
		return;
	shutdown(b->wfd, SHUT_WR); /* the same socket may still be read by up_thread */
	close(b->wfd);
	b->wfd = -1;
}

static void *down_thread(void *arg)
{
	struct fss_bridge *b = arg;
	char *buf = malloc(PH_FRAME_MAX);
	uint64_t idle_since = 0;
	int ret = 0;
	long n;

	if (!buf)
		ret = ph_seterr(PH_ENOMEM, "fs-sync bridge buffer");
	while (buf) {
		n = mux_recv(b->m, MUX_FS, buf, PH_FRAME_MAX, FSS_RECV_SLICE_MS);
		if (n == -PH_ETIMEDOUT) {
			/* rsync's own --timeout governs while it runs; after, the peer must end. */
			if (!atomic_load(&b->local_done))
				continue;
			if (!idle_since)
				idle_since = now_us();
			if (now_us() - idle_since < (uint64_t)b->idle_ms * 1000)
				continue;
			ret = ph_seterr(PH_ETIMEDOUT,
					"%s did not end its fs-sync stream within %d ms",
					mux_peer(b->m), b->idle_ms);
			break;
		}
		if (n <= 0) {
			ret = (int)n;
			break;
		}
		idle_since = 0;
		/* After rsync stopped reading, keep draining to the EOF record. */
		if (b->wfd >= 0 && write_full(b->wfd, buf, (size_t)n) < 0)
			end_output(b);
	}
	end_output(b);
	free(buf);
	b->down_ret = ret;
	if (ret < 0)
		snprintf(b->down_msg, sizeof(b->down_msg), "%s", ph_errmsg());
	atomic_store(&b->peer_done, true);
	return NULL;
}

int fss_bridge_start(struct fss_bridge *b, struct mux *m, int rfd, int wfd, int idle_ms)
{
	memset(b, 0, sizeof(*b));
	b->m = m;
	b->rfd = rfd;
	b->wfd = wfd;
	b->idle_ms = idle_ms;
	atomic_init(&b->local_done, false);
	atomic_init(&b->peer_done, false);
	if (pthread_create(&b->down, NULL, down_thread, b)) {
		close(rfd);
		end_output(b);
		return ph_seterr(PH_ESYS, "fs-sync: cannot start the bridge thread");
	}
	b->down_started = true;
	if (pthread_create(&b->up, NULL, up_thread, b)) {
		close(rfd);
		b->rfd = -1;
		mux_send_eof(m, MUX_FS); /* so the peer's rsync and our down thread end */
		atomic_store(&b->local_done, true);
		pthread_join(b->down, NULL);
		b->down_started = false;
		return ph_seterr(PH_ESYS, "fs-sync: cannot start the bridge thread");
	}
	b->up_started = true;
	return 0;
}

int fss_bridge_join(struct fss_bridge *b)
{
	if (b->up_started)
		pthread_join(b->up, NULL);
	if (b->down_started)
		pthread_join(b->down, NULL);
	b->up_started = b->down_started = false;
	if (b->up_ret < 0)
		return ph_seterr(-b->up_ret, "fs-sync stream to %s: %s", mux_peer(b->m), b->up_msg);
	if (b->down_ret < 0)
		return ph_seterr(-b->down_ret, "fs-sync stream from %s: %s", mux_peer(b->m),
				 b->down_msg);
	return 0;
}

int fss_drain(struct mux *m, int timeout_ms)
{
	char *buf = malloc(PH_FRAME_MAX);
	long n;

	if (!buf)
		return ph_seterr(PH_ENOMEM, "fs-sync drain buffer");
	while ((n = mux_recv(m, MUX_FS, buf, PH_FRAME_MAX, timeout_ms)) > 0)
		;
	free(buf);
	return n < 0 ? (int)n : 0;
}
