// SPDX-License-Identifier: GPL-2.0
/* Live figures of one migration (progress.h). */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "progress.h"
#include "report.h"
#include "util.h"

#define MIB (1024.0 * 1024.0)

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void progress_init(struct progress *p, const char *id, const char *ct, const char *dst,
		   uint64_t ct_bytes, pthread_mutex_t *mux_lock, struct mux **mux)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	copy_str(p->s.id, sizeof(p->s.id), id);
	copy_str(p->s.ct, sizeof(p->s.ct), ct);
	copy_str(p->s.dst, sizeof(p->s.dst), dst);
	copy_str(p->s.phase, sizeof(p->s.phase), "connect");
	p->s.pid = (int)getpid();
	p->s.eta_us = -1;
	p->t_start = now_us();
	p->ct_bytes = p->next_bytes = ct_bytes;
	p->page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	p->mux_lock = mux_lock;
	p->mux = mux;
}

void progress_set_phase(struct progress *p, const char *phase)
{
	pthread_mutex_lock(&p->mu);
	copy_str(p->s.phase, sizeof(p->s.phase), phase);
	pthread_mutex_unlock(&p->mu);
}

void progress_set_downtime_limit(struct progress *p, uint64_t us)
{
	pthread_mutex_lock(&p->mu);
	p->s.downtime_limit_us = us;
	pthread_mutex_unlock(&p->mu);
}

void progress_set_bwlimit(struct progress *p, uint64_t bytes_per_sec)
{
	pthread_mutex_lock(&p->mu);
	p->s.bwlimit = bytes_per_sec;
	pthread_mutex_unlock(&p->mu);
}

/* The page stream's tx counters now (zero without a connection). */
static void pages_tx(struct progress *p, struct mux_stats *tx)
{
	struct mux_stats rx;

	memset(tx, 0, sizeof(*tx));
	pthread_mutex_lock(p->mux_lock);
	if (*p->mux)
		mux_get_stats(*p->mux, MUX_PAGES, tx, &rx);
	pthread_mutex_unlock(p->mux_lock);
}

void progress_iter_begin(struct progress *p, uint32_t iter, bool final)
{
	struct mux_stats tx;

	pages_tx(p, &tx);
	pthread_mutex_lock(&p->mu);
	p->base = tx;
	p->t_iter = now_us();
	p->s.iter = iter;
	p->s.final = final;
	p->s.transfer = true;
	p->s.expected_bytes = p->next_bytes;
	pthread_mutex_unlock(&p->mu);
}

void progress_iter_end(struct progress *p, const struct iter_report *it)
{
	double next_pages = it->dirty_pps * (it->usec / 1e6);

	/* as the stop rule reckons (precopy.c): what was dirtied while this one ran */
	if (it->iter > 1 && next_pages > it->pages)
		next_pages = (double)it->pages;
	pthread_mutex_lock(&p->mu);
	p->s.transfer = false;
	p->s.eta_us = -1;
	/* the final dump has no verdict: the figures of the last pre-copy stay */
	if (!it->final) {
		p->s.dirty_pps = it->dirty_pps;
		p->s.predicted_downtime_us = it->predicted_downtime_us;
		p->s.throttle_pct = it->throttle_pct;
		p->next_bytes = (uint64_t)(next_pages * p->page_size);
	}
	pthread_mutex_unlock(&p->mu);
}

void progress_sample(struct progress *p, struct progress_snap *out)
{
	struct mux_stats tx;
	uint64_t now;
	double secs;

	pages_tx(p, &tx);
	pthread_mutex_lock(&p->mu);
	now = now_us();
	p->s.elapsed_us = now - p->t_start;
	if (p->s.transfer && tx.raw_bytes >= p->base.raw_bytes) {
		secs = (now - p->t_iter) / 1e6;
		p->s.done_bytes = tx.raw_bytes - p->base.raw_bytes;
		p->s.wire_bytes = tx.wire_bytes - p->base.wire_bytes;
		p->s.raw_bps = secs > 0 ? p->s.done_bytes / secs : 0;
		p->s.wire_bps = secs > 0 ? p->s.wire_bytes / secs : 0;
		p->s.eta_us = -1;
		if (p->s.expected_bytes > p->s.done_bytes && p->s.raw_bps > 0)
			p->s.eta_us = (int64_t)((p->s.expected_bytes - p->s.done_bytes) /
						p->s.raw_bps * 1e6);
	}
	*out = p->s;
	pthread_mutex_unlock(&p->mu);
}

/* snprintf that appends at *o and never runs past len. */
static void append(char *buf, size_t len, size_t *o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*o >= len - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *o, len - *o, fmt, ap);
	va_end(ap);
	if (n > 0)
		*o = *o + (size_t)n < len - 1 ? *o + (size_t)n : len - 1;
}

size_t progress_line(const struct progress_snap *s, char *buf, size_t len)
{
	size_t o = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	if (!s->iter) {
		append(buf, len, &o, "%s, no pages sent yet", s->phase);
	} else {
		append(buf, len, &o, "%s %u  %.1f", s->final ? "final" : "iter", s->iter,
		       s->done_bytes / MIB);
		if (s->expected_bytes && s->expected_bytes >= s->done_bytes)
			append(buf, len, &o, "/%.1f MiB %.0f%%", s->expected_bytes / MIB,
			       100.0 * s->done_bytes / s->expected_bytes);
		else
			append(buf, len, &o, " MiB");
		append(buf, len, &o, "  raw %.1f MiB/s  wire %.1f MiB/s", s->raw_bps / MIB,
		       s->wire_bps / MIB);
		if (s->transfer)
			append(buf, len, &o, s->eta_us >= 0 ? "  ETA %.0f s" : "  ETA --",
			       s->eta_us / 1e6);
	}
	if (s->dirty_pps > 0)
		append(buf, len, &o, "  dirty %.0f pages/s", s->dirty_pps);
	if (s->predicted_downtime_us)
		append(buf, len, &o, "  downtime ~%.0f ms", s->predicted_downtime_us / 1e3);
	if (s->predicted_downtime_us && s->downtime_limit_us)
		append(buf, len, &o, " (limit %.0f)", s->downtime_limit_us / 1e3);
	else if (s->downtime_limit_us)
		append(buf, len, &o, "  downtime limit %.0f ms", s->downtime_limit_us / 1e3);
	if (s->throttle_pct)
		append(buf, len, &o, "  throttle %u%%", s->throttle_pct);
	if (s->bwlimit)
		append(buf, len, &o, "  bwlimit %.1f MiB/s", s->bwlimit / MIB);
	return o;
}

void progress_json_fields(FILE *f, const struct progress_snap *s)
{
	fprintf(f, ",\"id\":");
	report_json_str(f, s->id);
	fprintf(f, ",\"ct\":");
	report_json_str(f, s->ct);
	fprintf(f, ",\"destination\":");
	report_json_str(f, s->dst);
	fprintf(f, ",\"phase\":");
	report_json_str(f, s->phase);
	fprintf(f,
		",\"pid\":%d,\"iter\":%u,\"final\":%s,\"transfer\":%s,\"elapsed_us\":%llu,"
		"\"done_bytes\":%llu,\"wire_bytes\":%llu,\"expected_bytes\":%llu,"
		"\"raw_bytes_per_sec\":%.0f,\"wire_bytes_per_sec\":%.0f,"
		"\"dirty_pages_per_sec\":%.0f,\"eta_us\":%lld,\"predicted_downtime_us\":%llu,"
		"\"throttle_pct\":%u,\"downtime_limit_us\":%llu,\"bwlimit\":%llu",
		s->pid, s->iter, s->final ? "true" : "false", s->transfer ? "true" : "false",
		(unsigned long long)s->elapsed_us, (unsigned long long)s->done_bytes,
		(unsigned long long)s->wire_bytes, (unsigned long long)s->expected_bytes,
		s->raw_bps, s->wire_bps, s->dirty_pps, (long long)s->eta_us,
		(unsigned long long)s->predicted_downtime_us, s->throttle_pct,
		(unsigned long long)s->downtime_limit_us, (unsigned long long)s->bwlimit);
}

static void get_str(json_t *o, const char *key, char *dst, size_t cap)
{
	const char *v = json_string_value(json_object_get(o, key));

	copy_str(dst, cap, v);
}

/* A non-negative integer field (JSON numbers, integral or not); 0 when absent or negative. */
static uint64_t get_u64(json_t *o, const char *key)
{
	double v = json_number_value(json_object_get(o, key));

	return v > 0 && v < 1.8e19 ? (uint64_t)v : 0;
}

int progress_parse_json(const char *buf, size_t len, struct progress_snap *s)
{
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *eta;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o)) {
		json_decref(o);
		return ph_seterr(PH_EPROTO, "status answer is not a JSON object");
	}
	get_str(o, "id", s->id, sizeof(s->id));
	get_str(o, "ct", s->ct, sizeof(s->ct));
	get_str(o, "destination", s->dst, sizeof(s->dst));
	get_str(o, "phase", s->phase, sizeof(s->phase));
	s->pid = (int)(get_u64(o, "pid") & 0x7fffffff);
	s->iter = (uint32_t)get_u64(o, "iter");
	s->final = json_is_true(json_object_get(o, "final"));
	s->transfer = json_is_true(json_object_get(o, "transfer"));
	s->elapsed_us = get_u64(o, "elapsed_us");
	s->done_bytes = get_u64(o, "done_bytes");
	s->wire_bytes = get_u64(o, "wire_bytes");
	s->expected_bytes = get_u64(o, "expected_bytes");
	s->raw_bps = (double)get_u64(o, "raw_bytes_per_sec");
	s->wire_bps = (double)get_u64(o, "wire_bytes_per_sec");
	s->dirty_pps = (double)get_u64(o, "dirty_pages_per_sec");
	eta = json_object_get(o, "eta_us");
	s->eta_us = json_is_number(eta) && json_number_value(eta) >= 0
			    ? (int64_t)get_u64(o, "eta_us")
			    : -1;
	s->predicted_downtime_us = get_u64(o, "predicted_downtime_us");
	s->throttle_pct = (uint32_t)get_u64(o, "throttle_pct");
	s->downtime_limit_us = get_u64(o, "downtime_limit_us");
	s->bwlimit = get_u64(o, "bwlimit");
	json_decref(o);
	return 0;
}

/* ---- the terminal's status line ---- */

static pthread_mutex_t tty_mu = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static int tty_fd = -1;
static bool tty_shown;

void progress_tty_open(int fd)
{
	pthread_mutex_lock(&tty_mu);
	tty_fd = fd;
	pthread_mutex_unlock(&tty_mu);
	log_set_output_hold(progress_hold, progress_release);
}

/* Best effort: a status line lost on a closed terminal is no error. */
static void tty_write(const char *buf, size_t len)
{
	ssize_t r = write(tty_fd, buf, len);

	(void)r;
}

static void tty_erase(void)
{
	/* a terminal that went away has nothing left to erase */
	if (tty_shown)
		tty_write("\r\033[K", 4);
	tty_shown = false;
}

void progress_tty_draw(const struct progress_snap *s)
{
	char line[PROGRESS_LINE_MAX + 8];
	struct winsize ws;
	size_t n, width = 80;

	pthread_mutex_lock(&tty_mu);
	if (tty_fd < 0)
		goto out;
	if (ioctl(tty_fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		width = ws.ws_col;
	line[0] = '\r';
	n = progress_line(s, line + 1, sizeof(line) - 4);
	/* one column short of the edge: a full line would wrap and \r then misses it */
	if (n > width - 1)
		n = width - 1;
	memcpy(line + 1 + n, "\033[K", 3);
	tty_write(line, n + 4);
	tty_shown = true;
out:
	pthread_mutex_unlock(&tty_mu);
}

void progress_tty_close(void)
{
	pthread_mutex_lock(&tty_mu);
	if (tty_fd >= 0)
		tty_erase();
	tty_fd = -1;
	pthread_mutex_unlock(&tty_mu);
}

void progress_hold(void)
{
	pthread_mutex_lock(&tty_mu);
	if (tty_fd >= 0)
		tty_erase();
}

void progress_release(void)
{
	pthread_mutex_unlock(&tty_mu);
}
