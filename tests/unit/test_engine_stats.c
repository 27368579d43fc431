// SPDX-License-Identifier: GPL-2.0
/* engine/stats.c: valid, truncated, wrong magic, oversized stats images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "err.h"
#include "engine/stats.h"
#include "criu_stats.pb-c.h"

struct img {
	uint8_t buf[4096];
	size_t len;
};

static void put_u32(struct img *im, uint32_t v)
{
	memcpy(im->buf + im->len, &v, 4);
	im->len += 4;
}

/* Build a file the way CRIU's write_stats()/pb_write_one() does. */
static void build(struct img *im, bool service_magic, Criustats__StatsEntry *e)
{
	size_t n = criustats__stats_entry__get_packed_size(e);

	im->len = 0;
	if (service_magic)
		put_u32(im, STATS_IMG_SERVICE_MAGIC);
	put_u32(im, STATS_MAGIC);
	put_u32(im, (uint32_t)n);
	assert_true(im->len + n <= sizeof(im->buf));
	criustats__stats_entry__pack(e, im->buf + im->len);
	im->len += n;
}

static void build_dump(struct img *im, bool service_magic)
{
	Criustats__StatsEntry e = CRIUSTATS__STATS_ENTRY__INIT;
	Criustats__DumpStatsEntry d = CRIUSTATS__DUMP_STATS_ENTRY__INIT;

	d.has_freezing_time = d.has_frozen_time = d.has_memdump_time = true;
	d.has_memwrite_time = d.has_pages_scanned = d.has_pages_skipped_parent = true;
	d.has_pages_written = d.has_pages_lazy = d.has_irmap_resolve = true;
	d.freezing_time = 1200;
	d.frozen_time = 345678;
	d.memdump_time = 2000;
	d.memwrite_time = 3000;
	d.irmap_resolve = 7;
	d.pages_scanned = 1ull << 33;
	d.pages_skipped_parent = 100;
	d.pages_written = 16384;
	d.pages_lazy = 0;
	e.dump = &d;
	build(im, service_magic, &e);
}

static void build_restore(struct img *im)
{
	Criustats__StatsEntry e = CRIUSTATS__STATS_ENTRY__INIT;
	Criustats__RestoreStatsEntry r = CRIUSTATS__RESTORE_STATS_ENTRY__INIT;

	r.has_pages_compared = r.has_pages_skipped_cow = r.has_forking_time = true;
	r.has_restore_time = r.has_pages_restored = true;
	r.pages_compared = 5;
	r.pages_skipped_cow = 6;
	r.forking_time = 777;
	r.restore_time = 88888;
	r.pages_restored = 16384;
	e.restore = &r;
	build(im, true, &e);
}

static void test_dump_valid(void **state)
{
	struct criu_stats st = { 0 };
	struct img im;

	build_dump(&im, true);
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), 0);
	assert_true(st.has_dump);
	assert_false(st.has_restore);
	assert_int_equal(st.frozen_time_us, 345678);
	assert_int_equal(st.freezing_time_us, 1200);
	assert_int_equal(st.pages_scanned, 1ull << 33);
	assert_int_equal(st.pages_skipped_parent, 100);
	assert_int_equal(st.pages_written, 16384);
	assert_int_equal(st.irmap_resolve_us, 7);
}

static void test_v1_layout(void **state)
{
	struct criu_stats st = { 0 };
	struct img im;

	build_dump(&im, false);
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), 0);
	assert_int_equal(st.memwrite_time_us, 3000);
}

static void test_restore_valid_merge(void **state)
{
	struct criu_stats st = { 0 };
	struct img im;

	build_dump(&im, true);
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), 0);
	build_restore(&im);
	assert_int_equal(stats_parse(im.buf, im.len, STATS_RESTORE, &st), 0);
	assert_true(st.has_dump && st.has_restore);
	assert_int_equal(st.restore_time_us, 88888);
	assert_int_equal(st.forking_time_us, 777);
	assert_int_equal(st.pages_restored, 16384);
	assert_int_equal(st.pages_written, 16384);
}

static void test_wrong_kind(void **state)
{
	struct criu_stats st = { 0 };
	struct img im;

	build_restore(&im);
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "no dump part"));
}

static void test_missing_required(void **state)
{
	Criustats__StatsEntry e = CRIUSTATS__STATS_ENTRY__INIT;
	Criustats__DumpStatsEntry d = CRIUSTATS__DUMP_STATS_ENTRY__INIT;
	struct criu_stats st = { 0 };
	struct img im;

	d.has_frozen_time = true;
	e.dump = &d;
	build(&im, true, &e);
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "missing"));
	assert_false(st.has_dump);
}

static void test_truncated_everywhere(void **state)
{
	struct criu_stats st = { 0 };
	struct img im;
	size_t n;

	build_dump(&im, true);
	for (n = 0; n < im.len; n++) {
		/* A copy of exactly n bytes so ASan sees any overread. */
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, im.buf, n);
		assert_int_equal(stats_parse(cut, n, STATS_DUMP, &st), -PH_EPROTO);
		free(cut);
	}
}

static void test_trailing(void **state)
{
	struct criu_stats st = { 0 };
	struct img im;

	build_dump(&im, true);
	im.buf[im.len++] = 0;
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "trailing"));
}

static void test_wrong_magic(void **state)
{
	struct criu_stats st = { 0 };
	struct img im;

	build_dump(&im, true);
	im.buf[0] ^= 1;
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "head magic"));
	build_dump(&im, true);
	im.buf[5] ^= 1;
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "magic"));
}

static void test_oversized_length(void **state)
{
	struct criu_stats st = { 0 };
	struct img im;
	uint32_t big = PH_STATS_FILE_MAX + 1, huge = 0xffffffffu, more;

	build_dump(&im, true);
	memcpy(im.buf + 8, &big, 4);
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), -PH_ETOOBIG);
	memcpy(im.buf + 8, &huge, 4);
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), -PH_ETOOBIG);
	build_dump(&im, true);
	more = (uint32_t)(im.len - 12 + 1);
	memcpy(im.buf + 8, &more, 4);
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), -PH_EPROTO);
	/* A whole file over the cap is refused before parsing. */
	assert_int_equal(stats_parse(im.buf, PH_STATS_FILE_MAX + 1ul, STATS_DUMP, &st),
			 -PH_ETOOBIG);
}

static void test_garbage_object(void **state)
{
	struct criu_stats st = { 0 };
	struct img im = { .len = 0 };
	static const uint8_t junk[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 };

	put_u32(&im, STATS_IMG_SERVICE_MAGIC);
	put_u32(&im, STATS_MAGIC);
	put_u32(&im, sizeof(junk));
	memcpy(im.buf + im.len, junk, sizeof(junk));
	im.len += sizeof(junk);
	assert_int_equal(stats_parse(im.buf, im.len, STATS_DUMP, &st), -PH_EPROTO);
}

static void write_file(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static void test_read_files(void **state)
{
	char dir[] = "/tmp/phaul-stats-XXXXXX";
	struct criu_stats st = { 0 };
	static uint8_t big[PH_STATS_FILE_MAX + 10];
	char path[512];
	struct img im;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(stats_read(dir, STATS_DUMP, &st), -PH_ENOENT);
	build_dump(&im, true);
	write_file(dir, "stats-dump", im.buf, im.len);
	assert_int_equal(stats_read(dir, STATS_DUMP, &st), 0);
	assert_int_equal(st.frozen_time_us, 345678);
	write_file(dir, "stats-restore", big, sizeof(big));
	assert_int_equal(stats_read(dir, STATS_RESTORE, &st), -PH_ETOOBIG);
	snprintf(path, sizeof(path), "%s/stats-dump", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stats-restore", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dump_valid),
		cmocka_unit_test(test_v1_layout),
		cmocka_unit_test(test_restore_valid_merge),
		cmocka_unit_test(test_wrong_kind),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_trailing),
		cmocka_unit_test(test_wrong_magic),
		cmocka_unit_test(test_oversized_length),
		cmocka_unit_test(test_garbage_object),
		cmocka_unit_test(test_read_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
