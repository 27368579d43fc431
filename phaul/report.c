// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat/compat.h"
#include "err.h"
#include "event.h"
#include "log.h"
#include "notify.h"
#include "progress.h"
#include "report.h"
#include "util.h"

void report_init(struct report *r, bool json)
{
	memset(r, 0, sizeof(*r));
	r->json = json;
	r->stop_reason = "";
}

void report_mark(struct report *r, enum report_mark m)
{
	if (m >= RM_NMARKS || (m == RM_THROTTLE && r->mark[m]))
		return;
	r->mark[m] = now_us();
}

/* b - a when both moments were reached in that order, else 0 */
static uint64_t span(const struct report *r, enum report_mark a, enum report_mark b)
{
	if (!r->mark[a] || !r->mark[b] || r->mark[b] < r->mark[a])
		return 0;
	return r->mark[b] - r->mark[a];
}

void report_interruption(const struct report *r, struct report_interruption *out)
{
	memset(out, 0, sizeof(*out));
	out->total_us = r->downtime_us;
	out->dump_us = span(r, RM_FREEZE, RM_DUMPED);
	out->images_us = span(r, RM_DUMPED, RM_IMAGES);
	out->restore_us = span(r, RM_IMAGES, RM_RESTORED);
	out->commit_us = span(r, RM_RESTORED, RM_RUNNING);
}

uint64_t report_throttle_us(const struct report *r)
{
	if (!r->mark[RM_THROTTLE])
		return 0;
	if (r->mark[RM_FREEZE])
		return span(r, RM_THROTTLE, RM_FREEZE);
	/* never frozen: throttled until the end (lifted then) */
	if (r->mark[RM_START] && r->total_us &&
	    r->mark[RM_START] + r->total_us > r->mark[RM_THROTTLE])
		return r->mark[RM_START] + r->total_us - r->mark[RM_THROTTLE];
	return 0;
}

void report_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* sep "key": "escaped value", sep being "" or "," */
static void json_field_to(FILE *f, const char *sep, const char *key, const char *val)
{
	fprintf(f, "%s\"%s\":", sep, key);
	report_json_str(f, val);
}

static void json_field(const char *sep, const char *key, const char *val)
{
	json_field_to(stdout, sep, key, val);
}

static double mib(uint64_t b)
{
	return b / (1024.0 * 1024.0);
}

struct sync_report *report_sync_path(struct report *r, const char *path)
{
	struct sync_report *s;

	if (r->nsync == PH_SYNC_MAX)
		return NULL;
	s = &r->sync[r->nsync++];
	memset(s, 0, sizeof(*s));
	s->path = path;
	return s;
}

/* "shared", "rsync" or "unknown" (the probe did not get to it). */
static const char *sync_mode(const struct sync_report *s)
{
	if (!s->probed)
		return "unknown";
	return s->shared ? "shared" : "rsync";
}

void report_phase(struct report *r, const char *phase, const char *fmt, ...)
{
	char msg[512] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	progress_hold();
	if (r->json) {
		event_head(stdout, "phase");
		json_field(",", "phase", phase);
		json_field(",", "msg", msg);
		printf("}\n");
	} else {
		char vis[1024];

		/* msg may quote the peer (a throttle note, say): one printable line */
		printf("[%s] %s\n", phase, ph_strvis(vis, sizeof(vis), msg));
	}
	fflush(stdout);
	progress_release();
}

/* bytes per second over usec; 0 for no time */
static double rate(uint64_t bytes, uint64_t usec)
{
	return usec ? bytes * 1e6 / usec : 0.0;
}

/* The rate is taken here: the final iteration never passes precopy_next(). */
void report_iter(struct report *r, const struct iter_report *it)
{
	if (it->iter < PH_ITER_MAX + 1)
		r->it[it->iter] = *it;
	if (it->iter >= r->niter)
		r->niter = it->iter + 1;
	progress_hold();
	if (r->json) {
		event_head(stdout, "iteration");
		printf(",\"iter\":%u,\"final\":%s,\"pages\":%llu,"
		       "\"raw_bytes\":%llu,\"wire_bytes\":%llu,\"usec\":%llu,\"frozen_us\":%llu,"
		       "\"dirty_pages_per_sec\":%.0f,\"bytes_per_sec\":%.0f,"
		       "\"predicted_downtime_us\":%llu,\"throttle_pct\":%u}\n",
		       it->iter, it->final ? "true" : "false", (unsigned long long)it->pages,
		       (unsigned long long)it->raw_bytes, (unsigned long long)it->wire_bytes,
		       (unsigned long long)it->usec, (unsigned long long)it->frozen_us,
		       it->dirty_pps, rate(it->wire_bytes, it->usec),
		       (unsigned long long)it->predicted_downtime_us, it->throttle_pct);
	} else {
		printf("  %s %2u: %7llu pages  %8.1f MiB raw  %8.1f MiB wire  %6.2f s  %7.1f MiB/s",
		       it->final ? "final" : "iter ", it->iter, (unsigned long long)it->pages,
		       mib(it->raw_bytes), mib(it->wire_bytes), it->usec / 1e6,
		       mib((uint64_t)rate(it->wire_bytes, it->usec)));
		if (!it->final)
			printf("  dirty %6.0f pages/s  predicted downtime %llu ms", it->dirty_pps,
			       (unsigned long long)it->predicted_downtime_us / 1000);
		if (it->throttle_pct)
			printf("  throttle %u%%", it->throttle_pct);
		printf("\n");
	}
	fflush(stdout);
	progress_release();
}

void report_restore_resp(struct report *r, const Phaul__RestoreResp *q)
{
	snprintf(r->restore_mode, sizeof(r->restore_mode), "%s",
		 q->restore_mode && !strcmp(q->restore_mode, "lazy") ? "lazy" : "eager");
	snprintf(r->restore_note, sizeof(r->restore_note), "%s",
		 q->restore_note ? q->restore_note : "");
	snprintf(r->store_io, sizeof(r->store_io), "%s", q->store_io ? q->store_io : "");
	snprintf(r->store_io_note, sizeof(r->store_io_note), "%s",
		 q->store_io_note ? q->store_io_note : "");
	r->store_apply_us = q->store_apply_us;
	r->store_moved_pages = q->store_moved_pages;
	r->dt.dst_wall_us = q->dst_wall_us;
	r->dt.dst_store_us = q->dst_store_us;
	r->dt.dst_lazy_start_us = q->dst_lazy_start_us;
	r->dt.dst_criu_us = q->dst_criu_us;
}

void report_lazy_done(struct report *r, const Phaul__LazyDone *d)
{
	r->lazy_done = true;
	r->memory_complete_us = d->memory_complete_us;
	r->lazy_pages_total = d->pages_total;
	r->lazy_pages_fault = d->pages_fault;
	r->lazy_pages_background = d->pages_background;
	r->lazy_pages_missing = d->pages_missing;
}

static void print_restore_text(const struct report *r)
{
	if (!r->restore_mode[0])
		return;
	printf("  restore mode     %s%s%s%s\n", r->restore_mode, r->restore_note[0] ? " (" : "",
	       r->restore_note, r->restore_note[0] ? ")" : "");
	if (r->lazy_done && !r->lazy_pages_missing)
		printf("  memory complete  %.0f ms after the restore began: %llu pages, %llu on "
		       "fault, %llu in the background\n",
		       r->memory_complete_us / 1e3, (unsigned long long)r->lazy_pages_total,
		       (unsigned long long)r->lazy_pages_fault,
		       (unsigned long long)r->lazy_pages_background);
	else if (r->lazy_done)
		printf("  MEMORY LOST      %llu of %llu pages never arrived\n",
		       (unsigned long long)r->lazy_pages_missing,
		       (unsigned long long)r->lazy_pages_total);
	else if (!strcmp(r->restore_mode, "lazy"))
		printf("  memory complete  unknown (no word from the destination)\n");
	if (r->store_io[0])
		printf("  page store       %s%s%s%s, final delta applied in %.1f ms (%llu pages "
		       "moved)\n",
		       r->store_io, r->store_io_note[0] ? " (" : "", r->store_io_note,
		       r->store_io_note[0] ? ")" : "", r->store_apply_us / 1e3,
		       (unsigned long long)r->store_moved_pages);
}

static void print_parts_text(const struct downtime_parts *d)
{
	printf("    parts, finer   final dump %.0f, sync %.0f, images %.0f, restore %.0f (dst "
	       "%.0f: store %.0f, lazy-pages start %.0f, criu %.0f), commit %.0f, Go %.0f (dst "
	       "%.0f) ms; rtt %.1f ms; predicted switch %.0f ms\n",
	       d->final_dump_us / 1e3, d->final_sync_us / 1e3, d->images_us / 1e3,
	       d->restore_req_us / 1e3, d->dst_wall_us / 1e3, d->dst_store_us / 1e3,
	       d->dst_lazy_start_us / 1e3, d->dst_criu_us / 1e3, d->commit_us / 1e3, d->go_us / 1e3,
	       d->dst_go_us / 1e3, d->rtt_us / 1e3, d->predicted_switch_us / 1e3);
}

static void print_parts_json(FILE *f, const struct downtime_parts *d)
{
	fprintf(f,
		",\"downtime_parts\":{\"final_dump_us\":%llu,\"final_sync_us\":%llu,"
		"\"images_us\":%llu,\"restore_req_us\":%llu,\"dst_wall_us\":%llu,"
		"\"dst_store_us\":%llu,\"dst_lazy_start_us\":%llu,\"dst_criu_us\":%llu,"
		"\"commit_us\":%llu,\"go_us\":%llu,\"dst_go_us\":%llu,\"rtt_us\":%llu,"
		"\"predicted_switch_us\":%llu}",
		(unsigned long long)d->final_dump_us, (unsigned long long)d->final_sync_us,
		(unsigned long long)d->images_us, (unsigned long long)d->restore_req_us,
		(unsigned long long)d->dst_wall_us, (unsigned long long)d->dst_store_us,
		(unsigned long long)d->dst_lazy_start_us, (unsigned long long)d->dst_criu_us,
		(unsigned long long)d->commit_us, (unsigned long long)d->go_us,
		(unsigned long long)d->dst_go_us, (unsigned long long)d->rtt_us,
		(unsigned long long)d->predicted_switch_us);
}

static void print_restore_json(FILE *f, const struct report *r)
{
	json_field_to(f, ",", "restore_mode", r->restore_mode);
	json_field_to(f, ",", "restore_note", r->restore_note);
	fprintf(f,
		",\"memory_complete\":%s,\"memory_complete_us\":%llu,\"lazy_pages_total\":%llu,"
		"\"lazy_pages_fault\":%llu,\"lazy_pages_background\":%llu,"
		"\"lazy_pages_missing\":%llu",
		r->lazy_done && !r->lazy_pages_missing ? "true" : "false",
		(unsigned long long)r->memory_complete_us, (unsigned long long)r->lazy_pages_total,
		(unsigned long long)r->lazy_pages_fault,
		(unsigned long long)r->lazy_pages_background,
		(unsigned long long)r->lazy_pages_missing);
	json_field_to(f, ",", "store_io", r->store_io);
	json_field_to(f, ",", "store_io_note", r->store_io_note);
	fprintf(f, ",\"store_apply_us\":%llu,\"store_moved_pages\":%llu",
		(unsigned long long)r->store_apply_us, (unsigned long long)r->store_moved_pages);
	print_parts_json(f, &r->dt);
}

/* The dry run, the interruption's parts, the throttle's span, where the logs are. */
static void print_forensics_json(FILE *f, const struct report *r)
{
	struct report_interruption in;

	report_interruption(r, &in);
	fprintf(f,
		",\"dry_run\":%s,\"interruption_us\":%llu,\"interruption\":{\"dump_us\":%llu,"
		"\"images_us\":%llu,\"restore_us\":%llu,\"commit_us\":%llu},"
		"\"throttle_us\":%llu",
		r->dry_run ? "true" : "false", (unsigned long long)in.total_us,
		(unsigned long long)in.dump_us, (unsigned long long)in.images_us,
		(unsigned long long)in.restore_us, (unsigned long long)in.commit_us,
		(unsigned long long)report_throttle_us(r));
	json_field_to(f, ",", "log_dir", r->log_dir);
	json_field_to(f, ",", "images_dir", r->images_dir);
	json_field_to(f, ",", "dst_log_dir", r->dst_log_dir);
}

void report_check(struct report *r, const struct compat_table *t)
{
	progress_hold();
	if (!r->json) {
		printf("\n");
		compat_print(stdout, t, r->src, r->dst);
		printf("\n");
		fflush(stdout);
		progress_release();
		return;
	}
	event_head(stdout, "check");
	printf(",\"rows\":[");
	for (int i = 0; i < t->nrows; i++) {
		const struct compat_row *row = &t->rows[i];

		printf("%s{", i ? "," : "");
		json_field("", "check", row->check);
		json_field(",", "source", row->src);
		json_field(",", "destination", row->dst);
		json_field(",", "verdict", compat_verdict_str(row->verdict));
		json_field(",", "detail", row->detail);
		printf("}");
	}
	printf("]}\n");
	fflush(stdout);
	progress_release();
}

void report_json(FILE *f, const struct report *r)
{
	event_head(f, "report");
	fprintf(f, ",\"ok\":%s,\"exit_code\":%d", r->result ? "false" : "true", r->exit_code);
	json_field_to(f, ",", "ct", r->ct);
	json_field_to(f, ",", "source", r->src);
	json_field_to(f, ",", "destination", r->dst);
	json_field_to(f, ",", "transport", r->transport ? r->transport : "");
	json_field_to(f, ",", "error", r->error);
	fprintf(f, ",\"rolled_back\":%s", r->rolled_back ? "true" : "false");
	if (r->mig_id[0])
		fprintf(f, ",\"id\":\"%s\"", r->mig_id); /* [A-Za-z0-9-] */
	if (r->where[0])
		json_field_to(f, ",", "where", r->where);
	json_field_to(f, ",", "stop_reason", r->stop_reason);
	if (r->postcopy_switch[0])
		json_field_to(f, ",", "postcopy_switch", r->postcopy_switch);
	fprintf(f,
		",\"total_us\":%llu,\"downtime_us\":%llu,\"predicted_downtime_us\":%llu,"
		"\"frozen_us\":%llu,\"restore_us\":%llu,\"images_bytes\":%llu,\"raw_bytes\":%llu,"
		"\"wire_bytes\":%llu,\"dst_pid\":%u,\"fs_syncs\":%u,\"fs_wire_bytes\":%llu,"
		"\"fs_usec\":%llu,\"downtime_limit_us\":%llu,\"downtime_overrun_us\":%llu,"
		"\"overrun_allowed\":%s,\"throttle_pct\":%u,",
		(unsigned long long)r->total_us, (unsigned long long)r->downtime_us,
		(unsigned long long)r->predicted_downtime_us, (unsigned long long)r->frozen_us,
		(unsigned long long)r->restore_us, (unsigned long long)r->images_bytes,
		(unsigned long long)r->raw_bytes, (unsigned long long)r->wire_bytes, r->dst_pid,
		r->fs_syncs, (unsigned long long)r->fs_wire_bytes, (unsigned long long)r->fs_usec,
		(unsigned long long)r->limit_us, (unsigned long long)report_overrun_us(r),
		r->overrun_allowed ? "true" : "false", r->throttle_pct);
	json_field_to(f, "", "throttle_cgroup", r->throttle_cgroup);
	print_restore_json(f, r);
	print_forensics_json(f, r);
	fprintf(f, ",\"iterations\":[");
	for (uint32_t i = 1; i < r->niter; i++)
		fprintf(f,
			"%s{\"iter\":%u,\"final\":%s,\"pages\":%llu,\"raw_bytes\":%llu,"
			"\"wire_bytes\":%llu,\"usec\":%llu,\"raw_bytes_per_sec\":%.0f,"
			"\"wire_bytes_per_sec\":%.0f,\"throttle_pct\":%u}",
			i > 1 ? "," : "", i, r->it[i].final ? "true" : "false",
			(unsigned long long)r->it[i].pages, (unsigned long long)r->it[i].raw_bytes,
			(unsigned long long)r->it[i].wire_bytes, (unsigned long long)r->it[i].usec,
			rate(r->it[i].raw_bytes, r->it[i].usec),
			rate(r->it[i].wire_bytes, r->it[i].usec), r->it[i].throttle_pct);
	fprintf(f, "],\"fs_paths\":[");
	for (uint32_t i = 0; i < r->nsync; i++) {
		const struct sync_report *s = &r->sync[i];

		fprintf(f, "%s{", i ? "," : "");
		json_field_to(f, "", "path", s->path);
		json_field_to(f, ",", "mode", sync_mode(s));
		fprintf(f, ",\"shared\":%s,\"syncs\":%u,\"wire_bytes\":%llu}",
			s->shared ? "true" : "false", s->syncs, (unsigned long long)s->wire_bytes);
	}
	fprintf(f, "]}\n");
}

void report_notify(const struct report *r, const char *url, int timeout_s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (!url || !*url)
		return;
	if (!(f = open_memstream(&buf, &len))) {
		pr_warn("notify %s: no memory for the report", url);
		return;
	}
	report_json(f, r);
	fclose(f);
	if (notify_post(url, buf, timeout_s) < 0)
		pr_warn("%s", ph_errmsg());
	free(buf);
}

uint64_t report_overrun_us(const struct report *r)
{
	if (r->result || !r->limit_us || r->downtime_us <= r->limit_us)
		return 0;
	return r->downtime_us - r->limit_us;
}

static void print_text(const struct report *r);
/* The headline: the service interruption, then its parts. */
static void print_interruption_text(const struct report *r)
{
	struct report_interruption in;

	report_interruption(r, &in);
	printf("  SERVICE INTERRUPTION %.0f ms  (frozen on %s until it ran on %s; predicted %.0f "
	       "ms",
	       in.total_us / 1e3, r->src, r->dst, r->predicted_downtime_us / 1e3);
	if (r->limit_us)
		printf(", limit %.0f ms", r->limit_us / 1e3);
	printf(")\n");
	if (report_overrun_us(r))
		printf("  OVER THE LIMIT   by %.0f ms (limit %.0f ms%s)\n",
		       report_overrun_us(r) / 1e3, r->limit_us / 1e3,
		       r->overrun_allowed ? ", --allow-downtime-overrun" : "");
	if (in.dump_us || in.images_us || in.restore_us || in.commit_us) {
		const struct iter_report *fin = r->niter ? &r->it[r->niter - 1] : NULL;

		printf("    final dump     %6.0f ms  the last delta dumped and sent",
		       in.dump_us / 1e3);
		if (fin && fin->final)
			printf(" (%llu pages, %.1f MiB on the wire)",
			       (unsigned long long)fin->pages, mib(fin->wire_bytes));
		printf("\n    images         %6.0f ms  %.1f MiB of non-page images sent\n",
		       in.images_us / 1e3, mib(r->images_bytes));
		printf("    restore        %6.0f ms  on %s (CRIU's restore time %.0f ms%s%s)\n",
		       in.restore_us / 1e3, r->dst, r->restore_us / 1e3,
		       r->restore_mode[0] ? ", " : "", r->restore_mode);
		printf("    commit         %6.0f ms  the source copy ended, %s let the CT run\n",
		       in.commit_us / 1e3, r->dst);
	}
	printf("    (CRIU frozen   %6.0f ms  CRIU's own count on %s: from the freeze to the end of "
	       "the source copy)\n",
	       r->frozen_us / 1e3, r->src);
	print_parts_text(&r->dt);
}

void report_print(const struct report *r)
{
	progress_hold();
	if (r->json)
		report_json(stdout, r);
	else
		print_text(r);
	fflush(stdout);
	progress_release();
}

static void print_text(const struct report *r)
{
	if (r->dry_run && !r->result) {
		printf("\ndry run of %s: %s -> %s over %s: checks passed, nothing migrated\n",
		       r->ct, r->src, r->dst, r->transport ? r->transport : "?");
		printf("  total time       %.2f s\n", r->total_us / 1e6);
		return;
	}
	printf("\n%s of %s: %s -> %s over %s: %s\n", r->dry_run ? "dry run" : "migration", r->ct,
	       r->src, r->dst, r->transport ? r->transport : "?", r->result ? "FAILED" : "done");
	if (r->result)
		printf("  error            %s\n  source           %s\n", r->error,
		       r->where[0]	? r->where
		       : r->rolled_back ? "resumed, unchanged"
					: "see error");
	if (!r->result)
		print_interruption_text(r);
	printf("  total time       %.2f s\n", r->total_us / 1e6);
	if (!r->result)
		printf("  pid on target    %u\n", r->dst_pid);
	if (!r->result || r->lazy_done)
		print_restore_text(r);
	printf("  iterations       %u%s%s%s\n", r->niter ? r->niter - 1 : 0,
	       *r->stop_reason ? " (stopped: " : "", r->stop_reason, *r->stop_reason ? ")" : "");
	if (r->postcopy_switch[0])
		printf("  post-copy        switched to it %s\n", r->postcopy_switch);
	for (uint32_t i = 1; i < r->niter; i++) {
		const struct iter_report *it = &r->it[i];

		printf("    %-5s %2u  %8llu pages  %8.1f MiB raw  %8.1f MiB wire  %6.2f s  "
		       "%7.1f MiB/s pages  %7.1f MiB/s wire",
		       it->final ? "final" : "iter", i, (unsigned long long)it->pages,
		       mib(it->raw_bytes), mib(it->wire_bytes), it->usec / 1e6,
		       rate(it->raw_bytes, it->usec) / 1048576.0,
		       rate(it->wire_bytes, it->usec) / 1048576.0);
		if (it->throttle_pct)
			printf("  throttle %u%%", it->throttle_pct);
		printf("\n");
	}
	if (r->throttle_pct)
		printf("  auto-converge    CPU throttled for %.1f s, up to %u%% (cgroup %s), "
		       "lifted on %s\n",
		       report_throttle_us(r) / 1e6, r->throttle_pct, r->throttle_cgroup,
		       r->result ? "the source" : "the destination");
	printf("  images (non-page) %.1f MiB\n", mib(r->images_bytes));
	if (r->fs_syncs || r->nsync)
		printf("  fs sync          %u runs, %.1f MiB on the wire, %.2f s\n", r->fs_syncs,
		       mib(r->fs_wire_bytes), r->fs_usec / 1e6);
	for (uint32_t i = 0; i < r->nsync; i++) {
		const struct sync_report *s = &r->sync[i];

		if (s->shared)
			printf("    %s  shared storage: not copied\n", s->path);
		else if (s->probed)
			printf("    %s  rsync: %u runs, %.1f MiB on the wire\n", s->path, s->syncs,
			       mib(s->wire_bytes));
		else
			printf("    %s  not synced (the migration stopped before)\n", s->path);
	}
	printf("  bytes            %.1f MiB raw, %.1f MiB on the wire (%.1fx)\n", mib(r->raw_bytes),
	       mib(r->wire_bytes), r->wire_bytes ? (double)r->raw_bytes / r->wire_bytes : 0.0);
	fflush(stdout);
}
