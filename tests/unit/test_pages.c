// SPDX-License-Identifier: GPL-2.0
/*
 * Which reason a failed destination page-server session reports: the
 * relay's refusal must reach the source, not the SIGKILL we sent after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "pages.h"

#define KILLED "criu PAGE_SERVER: page server 4242 killed by signal 9"

static void test_relay_refusal_beats_our_kill(void **state)
{
	int r = ph_seterr(PH_EPROTO, "page-server ADD: nr_pages 70000, limit 65536");

	assert_int_equal(pages_ps_verdict(r, true, -PH_ECRIU, KILLED), -PH_EPROTO);
	assert_non_null(strstr(ph_errmsg(), "nr_pages 70000"));
	r = ph_seterr(PH_EPEER, "peer src aborted: interrupted");
	assert_int_equal(pages_ps_verdict(r, true, -PH_ECRIU, KILLED), -PH_EPEER);
	assert_non_null(strstr(ph_errmsg(), "interrupted"));
}

static void test_server_reason_beats_broken_pipe(void **state)
{
	int r = ph_seterr(PH_ESYS, "relay: write to CRIU socket: Broken pipe");

	/* the server died on its own first (reaped: our kill found nobody) */
	assert_int_equal(pages_ps_verdict(r, false, -PH_ECRIU, "page server: No space left"),
			 -PH_ECRIU);
	assert_non_null(strstr(ph_errmsg(), "No space left"));
	/* the relay was fine, the server failed */
	assert_int_equal(pages_ps_verdict(0, false, -PH_ECRIU, "page server exited with 1"),
			 -PH_ECRIU);
	assert_int_equal(pages_ps_verdict(0, false, 0, ""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_refusal_beats_our_kill),
		cmocka_unit_test(test_server_reason_beats_broken_pipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
