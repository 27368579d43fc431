// SPDX-License-Identifier: GPL-2.0
/*
 * phaul/pclink: post-copy link recovery. The holder's check of a resuming
 * session's request (form, constant-time token), Resume's form, and the
 * handoff end to end: a real agent session (agent_serve) gets Resume from
 * the test as a source and hands the link to a holder listening in the
 * work dir, which takes it only with the migration's token. A stranger
 * who can authenticate but has no token must not attach.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_pair.h"
#include "mux_pair.h"
#include "caps.h"
#include "err.h"
#include "pclink.h"

#define MIG "20261202-0600-1-abcdef01"

static void req_make(uint8_t *req, const uint8_t *token)
{
	memcpy(req, PCLINK_HELLO, PCLINK_HELLO_LEN);
	memcpy(req + PCLINK_HELLO_LEN, token, PCLINK_TOKEN_LEN);
}

static void test_check_req(void **state)
{
	uint8_t tok[PCLINK_TOKEN_LEN], req[PCLINK_REQ_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(tok); i++)
		tok[i] = (uint8_t)(i * 7 + 1);
	req_make(req, tok);
	assert_int_equal(pclink_check_req(req, PCLINK_REQ_LEN, tok), 0);
	/* one bit off in the last byte, the first byte */
	req[PCLINK_REQ_LEN - 1] ^= 1;
	assert_int_equal(pclink_check_req(req, PCLINK_REQ_LEN, tok), -PH_EAUTH);
	req[PCLINK_REQ_LEN - 1] ^= 1;
	req[PCLINK_HELLO_LEN] ^= 0x80;
	assert_int_equal(pclink_check_req(req, PCLINK_REQ_LEN, tok), -PH_EAUTH);
	req[PCLINK_HELLO_LEN] ^= 0x80;
	/* short, long, empty, another greeting */
	assert_int_equal(pclink_check_req(req, PCLINK_REQ_LEN - 1, tok), -PH_EPROTO);
	assert_int_equal(pclink_check_req(req, PCLINK_REQ_LEN + 1, tok), -PH_EPROTO);
	assert_int_equal(pclink_check_req(req, 0, tok), -PH_EPROTO);
	req[3] = 'X';
	assert_int_equal(pclink_check_req(req, PCLINK_REQ_LEN, tok), -PH_EPROTO);
}

static void test_resume_valid(void **state)
{
	uint8_t tok[PCLINK_TOKEN_LEN + 1] = { 0 };
	Phaul__Resume q = PHAUL__RESUME__INIT;

	(void)state;
	q.mig_id = MIG;
	q.token.data = tok;
	q.token.len = PCLINK_TOKEN_LEN;
	assert_int_equal(pclink_resume_valid(&q), 0);
	q.token.len = PCLINK_TOKEN_LEN - 1;
	assert_int_equal(pclink_resume_valid(&q), -PH_EPROTO);
	q.token.len = PCLINK_TOKEN_LEN + 1;
	assert_int_equal(pclink_resume_valid(&q), -PH_EPROTO);
	q.token.len = PCLINK_TOKEN_LEN;
	q.mig_id = "../mig-in-x";
	assert_int_equal(pclink_resume_valid(&q), -PH_EPROTO);
	q.mig_id = "";
	assert_int_equal(pclink_resume_valid(&q), -PH_EPROTO);
	q.mig_id = NULL;
	assert_int_equal(pclink_resume_valid(&q), -PH_EPROTO);
}

/* The session that holds MIG in post-copy: its link (a socketpair) and pclink. */
struct holder {
	struct phaul_config cfg;
	struct mux *slot, *old_peer;
	struct pclink *l;
	uint8_t token[PCLINK_TOKEN_LEN];
};

static void holder_open(struct holder *h, const char *work)
{
	config_defaults(&h->cfg);
	snprintf(h->cfg.work_dir, sizeof(h->cfg.work_dir), "%s", work);
	h->cfg.timeout_s = 5;
	h->cfg.postcopy_reconnect_s = 5;
	mux_pair(&h->old_peer, &h->slot);
	assert_int_equal(pclink_new(&h->l, &h->slot, NULL), 0);
	assert_int_equal(pclink_token_new(h->l, h->token), 0);
	assert_int_equal(pclink_arm_dst(h->l, &h->cfg, MIG), 0);
}

static void holder_close(struct holder *h)
{
	pclink_free(h->l);
	mux_close(h->slot);
	mux_close(h->old_peer);
}

/* A source's Resume to a fresh agent session; the answer's err (0: ok). */
static int resume(struct agent_pair *p, const char *work, const char *id, const uint8_t *tok)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__Resume q = PHAUL__RESUME__INIT;
	int err;

	agent_pair_open(p, work, "dst", "src");
	agent_pair_start(p);
	agent_pair_hello(p, "src");
	q.mig_id = (char *)id;
	q.token.data = (uint8_t *)tok;
	q.token.len = PCLINK_TOKEN_LEN;
	out.body_case = PHAUL__MSG__BODY_RESUME;
	out.resume = &q;
	assert_int_equal(msg_send(p->peer, &out), 0);
	assert_int_equal(msg_expect(p->peer, PHAUL__MSG__BODY_RESUME_RESP, &in, 10000), 0);
	print_message("ResumeResp: ok=%d %s\n", in->resume_resp->ok,
		      in->resume_resp->msg ? in->resume_resp->msg : "");
	err = in->resume_resp->ok ? 0 : -in->resume_resp->err;
	assert_true(in->resume_resp->ok || err < 0);
	msg_free(in);
	return err;
}

static void session_end(struct agent_pair *p)
{
	mux_close(p->peer); /* the source's side of the link goes */
	p->peer = NULL;
	agent_pair_join(p);
	mux_close(p->a.mux);
}

/* Another token (an authenticated stranger): refused, the holder keeps its link. */
static void test_stranger_refused(void **state)
{
	char work[] = "/var/tmp/pclink.XXXXXX";
	uint8_t wrong[PCLINK_TOKEN_LEN];
	struct agent_pair p;
	struct holder h;
	struct mux *before;

	(void)state;
	assert_non_null(mkdtemp(work));
	memset(&p, 0, sizeof(p));
	holder_open(&h, work);
	before = pclink_mux(h.l);
	memcpy(wrong, h.token, sizeof(wrong));
	wrong[PCLINK_TOKEN_LEN - 1] ^= 1;
	assert_int_equal(resume(&p, work, MIG, wrong), -PH_EAUTH);
	assert_ptr_equal(pclink_mux(h.l), before);
	assert_int_equal(pclink_relinks(h.l), 0);
	assert_int_equal(mux_failed(before), 0);
	session_end(&p);
	holder_close(&h);
	rm_tree(work);
}

/* A migration not held in post-copy here: refused, whatever the token. */
static void test_unknown_migration(void **state)
{
	char work[] = "/var/tmp/pclink.XXXXXX";
	struct agent_pair p;
	struct holder h;

	(void)state;
	assert_non_null(mkdtemp(work));
	memset(&p, 0, sizeof(p));
	holder_open(&h, work);
	assert_int_equal(resume(&p, work, "20261202-0600-2-00000000", h.token), -PH_ENOENT);
	session_end(&p);
	holder_close(&h);
	rm_tree(work);
}

/* The token: the holder takes the link; records go through the splice both ways. */
static void test_resumed_spliced(void **state)
{
	char work[] = "/var/tmp/pclink.XXXXXX";
	uint8_t buf[64];
	struct agent_pair p;
	struct holder h;
	struct mux *now;
	uint64_t raw, wire;

	(void)state;
	assert_non_null(mkdtemp(work));
	memset(&p, 0, sizeof(p));
	holder_open(&h, work);
	assert_int_equal(mux_send_rec(h.slot, MUX_PAGES, "early", 5), 0); /* on the old link */
	assert_int_equal(mux_recv(h.old_peer, MUX_PAGES, buf, sizeof(buf), 5000), 5);
	pclink_old_sent(h.l, &raw, &wire);
	assert_true(raw == 0 && wire == 0);
	assert_int_equal(resume(&p, work, MIG, h.token), 0);
	for (int i = 0; i < 100 && pclink_relinks(h.l) == 0; i++)
		usleep(20000);
	assert_int_equal(pclink_relinks(h.l), 1);
	/* what went on the replaced link still counts (the report's bytes) */
	pclink_old_sent(h.l, &raw, &wire);
	assert_true(raw >= 5 && wire >= 5);
	now = pclink_mux(h.l);
	assert_ptr_equal(now, h.slot); /* the caller's slot follows */
	assert_int_equal(mux_send_rec(p.peer, MUX_PAGES, "get", 3), 0);
	assert_int_equal(mux_recv(now, MUX_PAGES, buf, sizeof(buf), 5000), 3);
	assert_memory_equal(buf, "get", 3);
	assert_int_equal(mux_send_rec(now, MUX_CTL, "done", 4), 0);
	assert_int_equal(mux_recv(p.peer, MUX_CTL, buf, sizeof(buf), 5000), 4);
	assert_memory_equal(buf, "done", 4);
	/* the source's link cut: the holder's link ends as a cut, not an ABORT */
	session_end(&p);
	assert_true(mux_recv(now, MUX_PAGES, buf, sizeof(buf), 5000) < 0);
	assert_false(mux_aborted(now));
	holder_close(&h);
	rm_tree(work);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_req),	 cmocka_unit_test(test_resume_valid),
		cmocka_unit_test(test_stranger_refused), cmocka_unit_test(test_unknown_migration),
		cmocka_unit_test(test_resumed_spliced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
