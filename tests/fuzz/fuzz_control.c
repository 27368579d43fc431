// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket's two parsers (phaul/control.h): the request lines a
 * migration reads from a client, and the status answer `phaul status`
 * reads back (progress_parse_json). Whatever comes, requests parse to one
 * of the four forms within their bounds or are refused, and an answer
 * fills the figures within their fields, which then format into a bounded
 * status line.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "caps.h"
#include "control.h"
#include "progress.h"

static void requests(const char *buf, size_t size)
{
	struct ctl_req r;
	long n;

	while (size && (n = ctl_parse_req(buf, size, &r)) != 0) {
		if (n < 0)
			return;
		if ((size_t)n > size || (size_t)n > PH_CTL_REQ_MAX || r.verb < CTL_STATUS ||
		    r.verb > CTL_SET_BWLIMIT ||
		    (r.verb == CTL_SET_DOWNTIME && (!r.value || r.value > CTL_DOWNTIME_MAX_MS)) ||
		    (r.verb == CTL_SET_BWLIMIT && r.value > CTL_BWLIMIT_MAX))
			__builtin_trap();
		buf += n;
		size -= (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct progress_snap s;
	char line[PROGRESS_LINE_MAX];

	requests((const char *)data, size);
	if (size > PH_CTL_REPLY_MAX)
		size = PH_CTL_REPLY_MAX;
	if (progress_parse_json((const char *)data, size, &s) == 0) {
		if (strnlen(s.id, sizeof(s.id)) == sizeof(s.id) ||
		    strnlen(s.phase, sizeof(s.phase)) == sizeof(s.phase) ||
		    progress_line(&s, line, sizeof(line)) >= sizeof(line))
			__builtin_trap();
	}
	return 0;
}
