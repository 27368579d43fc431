// SPDX-License-Identifier: GPL-2.0
/*
 * The agent protocol's control messages as the peer may send them: decode,
 * then run the checks the agent applies to names and counts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "compat/compat.h"
#include "images.h"
#include "mrec.h"
#include "pclink.h"
#include "proto/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Phaul__Msg *m = NULL;

	if (msg_decode(data, size, "fuzz", &m) < 0)
		return 0;
	(void)msg_name(m->body_case);
	if (m->body_case == PHAUL__MSG__BODY_IMAGE_FILE)
		(void)images_name_ok(m->image_file->name);
	if (m->body_case == PHAUL__MSG__BODY_CHECK_RESP && m->check_resp->facts->hostname)
		(void)strlen(m->check_resp->facts->hostname);
	/* the agent's bounds on the CT's paths, then its look-up (stat only) */
	if (m->body_case == PHAUL__MSG__BODY_CHECK_REQ &&
	    compat_files_valid(m->check_req->files, m->check_req->n_files) == 0) {
		Phaul__HostFacts f = PHAUL__HOST_FACTS__INIT;

		(void)compat_files_lookup(m->check_req->files, m->check_req->n_files, &f);
		compat_facts_free(&f);
	}
	/* the source naming paths by the indices in the peer's answer */
	if (m->body_case == PHAUL__MSG__BODY_CHECK_RESP) {
		Phaul__CheckFile a = PHAUL__CHECK_FILE__INIT, *v[1] = { &a };
		struct compat_files fl = { .v = v, .n = 1, .total = 1 };
		struct compat_req q = { .files = &fl };
		struct compat_table t;

		a.path = "/var/log/app.log";
		(void)compat_compare(m->check_resp->facts, m->check_resp->facts, &q, &t);
	}
	/* ids the agent turns into record names (Recover, RestoreReq) */
	if (m->body_case == PHAUL__MSG__BODY_RECOVER)
		(void)mrec_id_valid(m->recover->mig_id);
	if (m->body_case == PHAUL__MSG__BODY_RESTORE_REQ && m->restore_req->mig_id)
		(void)mrec_id_valid(m->restore_req->mig_id);
	/* a resumed post-copy link: the form the agent checks before a byte moves */
	if (m->body_case == PHAUL__MSG__BODY_RESUME)
		(void)pclink_resume_valid(m->resume);
	if (m->body_case == PHAUL__MSG__BODY_RESTORE_RESP && m->restore_resp->has_resume_token &&
	    m->restore_resp->resume_token.len == PCLINK_TOKEN_LEN)
		(void)m->restore_resp->resume_token.data[PCLINK_TOKEN_LEN - 1];
	if (m->body_case == PHAUL__MSG__BODY_LOAD_RESP) {
		struct bal_host h;

		memset(&h, 0, sizeof(h));
		(void)bal_load_take("fuzz", m->load_resp, &h);
		free(h.cts);
	}
	msg_free(m);
	return 0;
}
