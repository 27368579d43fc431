// SPDX-License-Identifier: GPL-2.0
/*
 * Peer strings are data: a log line or an error text quoting the peer stays
 * one printable line, so a peer cannot forge "committed" lines or terminal
 * escapes in our logs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "log.h"
#include "report.h"
#include "util.h"

#define FORGED "boom\nsrc: info: migration committed\033[1A\033[2K\r"

static void test_strvis(void **state)
{
	char b[64], c[64];

	assert_string_equal(ph_strvis(b, sizeof(b), "plain text"), "plain text");
	assert_string_equal(ph_strvis(b, sizeof(b), "a\nb\tc\rd\033e\x7f\xc3\xa9"),
			    "a\\nb\\tc\\rd\\x1be\\x7f\\xc3\\xa9");
	/* visifying twice changes nothing */
	assert_string_equal(ph_strvis(c, sizeof(c), b), b);
	assert_string_equal(ph_strvis(b, 8, "0123456789"), "0123...");
	assert_string_equal(ph_strvis(b, 8, "\033\033\033"), "\\x1b...");
	assert_string_equal(ph_strvis(b, 3, "abcdef"), "..");
	assert_string_equal(ph_strvis(b, sizeof(b), NULL), "");
	snprintf(b, sizeof(b), "ok\033[2Kmore\n");
	ph_strvis_inplace(b, 6);
	assert_string_equal(b, "ok?[2K");
}

/* Run fn with fd (stderr, stdout) captured; return what it wrote (malloc'ed). */
static char *capture_fd(int which, void (*fn)(void))
{
	char path[] = "/tmp/phaul-log-test.XXXXXX", *out;
	int fd = mkstemp(path), saved = dup(which);
	uint8_t *buf;
	size_t len;

	assert_true(fd >= 0 && saved >= 0);
	fflush(NULL);
	dup2(fd, which);
	fn();
	fflush(NULL);
	dup2(saved, which);
	close(saved);
	close(fd);
	assert_int_equal(read_file(path, 1 << 20, &buf, &len), 0);
	unlink(path);
	out = malloc(len + 1);
	memcpy(out, buf, len);
	out[len] = '\0';
	free(buf);
	return out;
}

static char *capture(void (*fn)(void))
{
	return capture_fd(2, fn);
}

static void log_forged(void)
{
	pr_err("peer node2 aborted: %s", FORGED);
}

static void test_log_line_cannot_be_forged(void **state)
{
	char *out = capture(log_forged);

	print_message("%s", out);
	assert_non_null(strstr(out, "aborted: boom\\nsrc: info: migration committed\\x1b[1A"));
	assert_null(strchr(out, '\033'));
	assert_null(strchr(out, '\r'));
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* one line */
	free(out);
}

static void log_long(void)
{
	char big[3000];

	memset(big, '\001', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pr_err("%s", big);
}

static void test_log_line_capped(void **state)
{
	char *out = capture(log_long);

	assert_true(strlen(out) < 4200);
	assert_non_null(strstr(out, "...\n"));
	free(out);
}

static void test_error_text_is_one_line(void **state)
{
	assert_int_equal(ph_seterr(PH_EPEER, "peer said: %s", FORGED), -PH_EPEER);
	assert_null(strchr(ph_errmsg(), '\n'));
	assert_null(strchr(ph_errmsg(), '\033'));
	assert_non_null(strstr(ph_errmsg(), "boom\\nsrc: info"));
	assert_int_equal(ph_errctx(-PH_EPEER, "from %s", "ho\nst"), -PH_EPEER);
	assert_null(strchr(ph_errmsg(), '\n'));
	assert_non_null(strstr(ph_errmsg(), "from ho\\nst: peer said: boom\\nsrc"));
}

static void phase_forged(void)
{
	static struct report r;

	report_init(&r, false);
	report_phase(&r, "restore", "on node2: %s", FORGED);
}

/* A progress line quoting the peer (its throttle note) stays one line too. */
/* The last error as an argument of the next (a common wrapping) is read before it is written. */
static void test_error_wraps_itself(void **state)
{
	(void)state;
	ph_seterr(PH_ECRIU, "runc checkpoint: exit status 1");
	ph_seterr(PH_ECRIU, "runc:rc1: dump failed: %s (see %s/runc.log)", ph_errmsg(), "/w/3");
	assert_string_equal(
		ph_errmsg(),
		"runc:rc1: dump failed: runc checkpoint: exit status 1 (see /w/3/runc.log)");
}

static void test_progress_line_cannot_be_forged(void **state)
{
	char *out = capture_fd(1, phase_forged);

	assert_non_null(strstr(out, "[restore] on node2: boom\\nsrc: info"));
	assert_null(strchr(out, '\033'));
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strvis),
		cmocka_unit_test(test_log_line_cannot_be_forged),
		cmocka_unit_test(test_log_line_capped),
		cmocka_unit_test(test_error_text_is_one_line),
		cmocka_unit_test(test_progress_line_cannot_be_forged),
		cmocka_unit_test(test_error_wraps_itself),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
