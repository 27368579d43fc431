// SPDX-License-Identifier: GPL-2.0
/*
 * stats-dump / stats-restore parsing; format in engine/stats.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "engine/stats.h"
#include "util.h"
#include "criu_stats.pb-c.h"

typedef Criustats__StatsEntry StatsEntry;
typedef Criustats__DumpStatsEntry DumpStatsEntry;
typedef Criustats__RestoreStatsEntry RestoreStatsEntry;

const char *stats_file_name(enum stats_kind kind)
{
	return kind == STATS_RESTORE ? "stats-restore" : "stats-dump";
}

/* CRIU writes host-endian u32s; the file comes from a CRIU on this host. */
static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Skip the magic words; on success *off is the offset of the size word.
 * Images written with the v1 layout (CRIU < 1.x inventories) lack the
 * service magic, so a bare STATS_MAGIC is accepted too.
 */
static int stats_check_magic(const uint8_t *buf, size_t len, const char *name, size_t *off)
{
	uint32_t m;

	if (len < 8)
		return ph_seterr(PH_EPROTO, "%s: file is %zu bytes, shorter than its header", name,
				 len);
	m = get_u32(buf);
	if (m == STATS_MAGIC) {
		*off = 4;
		return 0;
	}
	if (m != STATS_IMG_SERVICE_MAGIC)
		return ph_seterr(PH_EPROTO, "%s: head magic 0x%08x, expected 0x%08x", name, m,
				 STATS_IMG_SERVICE_MAGIC);
	m = get_u32(buf + 4);
	if (m != STATS_MAGIC)
		return ph_seterr(PH_EPROTO, "%s: magic 0x%08x, expected 0x%08x", name, m,
				 STATS_MAGIC);
	*off = 8;
	return 0;
}

/* Locate the one length-prefixed object; nothing may follow it. */
static int stats_frame(const uint8_t *buf, size_t len, const char *name, const uint8_t **obj,
		       size_t *olen)
{
	size_t off, size;
	int r;

	if (len > PH_STATS_FILE_MAX)
		return ph_seterr(PH_ETOOBIG, "%s: file is %zu bytes, limit %u", name, len,
				 PH_STATS_FILE_MAX);
	r = stats_check_magic(buf, len, name, &off);
	if (r < 0)
		return r;
	if (len - off < 4)
		return ph_seterr(PH_EPROTO, "%s: no object size after the magic", name);
	size = get_u32(buf + off);
	off += 4;
	if (size > PH_STATS_FILE_MAX)
		return ph_seterr(PH_ETOOBIG, "%s: object size %zu, limit %u", name, size,
				 PH_STATS_FILE_MAX);
	if (size > len - off)
		return ph_seterr(PH_EPROTO, "%s: object size %zu, only %zu bytes follow", name,
				 size, len - off);
	if (size < len - off)
		return ph_seterr(PH_EPROTO, "%s: %zu trailing bytes after the object", name,
				 len - off - size);
	*obj = buf + off;
	*olen = size;
	return 0;
}

#define NEED(e, f, name)                                                                           \
	do {                                                                                       \
		if (!(e)->has_##f)                                                                 \
			return ph_seterr(PH_EPROTO, "%s: field " #f " missing", name);             \
	} while (0)

static int stats_fill_dump(const DumpStatsEntry *d, struct criu_stats *st, const char *name)
{
	/* The fields CRIU 3.17 declares required. */
	NEED(d, freezing_time, name);
	NEED(d, frozen_time, name);
	NEED(d, memdump_time, name);
	NEED(d, memwrite_time, name);
	NEED(d, pages_scanned, name);
	NEED(d, pages_skipped_parent, name);
	NEED(d, pages_written, name);
	NEED(d, pages_lazy, name);
	st->freezing_time_us = d->freezing_time;
	st->frozen_time_us = d->frozen_time;
	st->memdump_time_us = d->memdump_time;
	st->memwrite_time_us = d->memwrite_time;
	st->irmap_resolve_us = d->has_irmap_resolve ? d->irmap_resolve : 0;
	st->pages_scanned = d->pages_scanned;
	st->pages_skipped_parent = d->pages_skipped_parent;
	st->pages_written = d->pages_written;
	st->pages_lazy = d->pages_lazy;
	st->shpages_scanned = d->has_shpages_scanned ? d->shpages_scanned : 0;
	st->shpages_skipped_parent = d->has_shpages_skipped_parent ? d->shpages_skipped_parent : 0;
	st->shpages_written = d->has_shpages_written ? d->shpages_written : 0;
	st->has_dump = true;
	return 0;
}

static int stats_fill_restore(const RestoreStatsEntry *r, struct criu_stats *st, const char *name)
{
	NEED(r, pages_compared, name);
	NEED(r, pages_skipped_cow, name);
	NEED(r, forking_time, name);
	NEED(r, restore_time, name);
	st->pages_compared = r->pages_compared;
	st->pages_skipped_cow = r->pages_skipped_cow;
	st->forking_time_us = r->forking_time;
	st->restore_time_us = r->restore_time;
	st->pages_restored = r->has_pages_restored ? r->pages_restored : 0;
	st->has_restore = true;
	return 0;
}

int stats_parse(const uint8_t *buf, size_t len, enum stats_kind kind, struct criu_stats *st)
{
	const char *name = stats_file_name(kind);
	StatsEntry *e = NULL;
	const uint8_t *obj = NULL;
	size_t olen = 0;
	int r;

	r = stats_frame(buf, len, name, &obj, &olen);
	if (r < 0)
		goto out;
	/* protobuf-c bounds every read by olen; it fails on malformed input. */
	e = criustats__stats_entry__unpack(NULL, olen, obj);
	if (!e) {
		r = ph_seterr(PH_EPROTO, "%s: object of %zu bytes is not a StatsEntry", name, olen);
		goto out;
	}
	if (kind == STATS_DUMP && !e->dump) {
		r = ph_seterr(PH_EPROTO, "%s: entry has no dump part", name);
		goto out;
	}
	if (kind == STATS_RESTORE && !e->restore) {
		r = ph_seterr(PH_EPROTO, "%s: entry has no restore part", name);
		goto out;
	}
	if (kind == STATS_DUMP)
		r = stats_fill_dump(e->dump, st, name);
	else
		r = stats_fill_restore(e->restore, st, name);
out:
	if (e)
		criustats__stats_entry__free_unpacked(e, NULL);
	return r;
}

/* Read at most cap bytes; one more than cap is read to detect "too big". */
static int stats_slurp(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	ssize_t n = read_full(fd, buf, cap + 1);

	if (n < 0)
		return ph_seterr_errno(PH_ESYS, "read");
	*len = (size_t)n;
	return 0;
}

int stats_read(const char *dir, enum stats_kind kind, struct criu_stats *st)
{
	const char *name = stats_file_name(kind);
	uint8_t *buf = NULL;
	char path[PATH_MAX];
	size_t len = 0;
	int fd = -1, r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		r = ph_seterr(PH_EUSAGE, "stats: path too long: %s/%s", dir, name);
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			r = ph_seterr(PH_ENOENT, "%s: not written by CRIU", path);
		else
			r = ph_seterr_errno(PH_ESYS, "open %s", path);
		goto out;
	}
	buf = malloc(PH_STATS_FILE_MAX + 1);
	if (!buf) {
		r = ph_seterr(PH_ENOMEM, "stats: %u bytes", PH_STATS_FILE_MAX + 1);
		goto out;
	}
	r = stats_slurp(fd, buf, PH_STATS_FILE_MAX, &len);
	if (r < 0) {
		r = ph_errctx(r, "%s", path);
		goto out;
	}
	r = stats_parse(buf, len, kind, st);
	if (r < 0)
		r = ph_errctx(r, "%s", dir);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}
