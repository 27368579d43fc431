/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CRIU's stats-dump / stats-restore image files: what the report's "frozen
 * time", "pages written", "restore time" come from.
 *
 * File format (CRIU 3.17 criu/stats.c, criu/image.c, criu/protobuf.c), all
 * host-endian u32:
 *     [IMG_SERVICE_MAGIC 0x55105940]  (absent in old-style v1 images)
 *     STATS_MAGIC 0x57093306
 *     size
 *     size bytes: StatsEntry protobuf (engine/criu_stats.proto)
 *
 * The file is written by a CRIU running as root on this host, but it sits
 * in a directory the peer fills too, so it is parsed as untrusted input:
 * any violation is PH_EPROTO (PH_ETOOBIG for sizes over PH_STATS_FILE_MAX),
 * nothing is read out of bounds.
 */
#ifndef ENGINE_STATS_H
#define ENGINE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATS_IMG_SERVICE_MAGIC 0x55105940u
#define STATS_MAGIC		0x57093306u

enum stats_kind {
	STATS_DUMP = 0,	   /* "stats-dump": written by pre-dump, dump */
	STATS_RESTORE = 1, /* "stats-restore": written by restore */
};

/* Times in microseconds (CRIU stores u32 us), counts in pages. */
struct criu_stats {
	bool has_dump;
	bool has_restore;
	/* dump / pre-dump */
	uint64_t freezing_time_us;
	uint64_t frozen_time_us;
	uint64_t memdump_time_us;
	uint64_t memwrite_time_us;
	uint64_t irmap_resolve_us;
	uint64_t pages_scanned;
	uint64_t pages_skipped_parent;
	uint64_t pages_written;
	uint64_t pages_lazy;
	uint64_t shpages_scanned;
	uint64_t shpages_skipped_parent;
	uint64_t shpages_written;
	/* restore */
	uint64_t restore_time_us;
	uint64_t forking_time_us;
	uint64_t pages_compared;
	uint64_t pages_skipped_cow;
	uint64_t pages_restored;
};

/* "stats-dump" or "stats-restore". */
const char *stats_file_name(enum stats_kind kind);

/*
 * Parse one stats image held in buf[0..len). Fills the dump or restore half
 * of *st (the other half and its has_ flag are left untouched, so a dump
 * and a restore file can be merged into one struct). The entry must carry
 * the half `kind` names, with the fields CRIU 3.17 always writes.
 * Returns 0 or PH_EPROTO / PH_ETOOBIG / PH_ENOMEM.
 */
int stats_parse(const uint8_t *buf, size_t len, enum stats_kind kind, struct criu_stats *st);

/*
 * Read <dir>/stats-dump or <dir>/stats-restore (at most PH_STATS_FILE_MAX
 * bytes) and parse it as above. PH_ENOENT if the file does not exist (CRIU
 * writes it only when the action got far enough), PH_ESYS on I/O errors.
 */
int stats_read(const char *dir, enum stats_kind kind, struct criu_stats *st);

#endif
