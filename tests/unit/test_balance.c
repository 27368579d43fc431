// SPDX-License-Identifier: GPL-2.0
/* The balancer's decision, its [balance] keys and its state between runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "balance.h"
#include "config.h"
#include "err.h"
#include "util.h"

#define GIB (1024ull * 1024)

static struct bal_params params(void)
{
	struct bal_config b;

	bal_config_defaults(&b);
	b.p.hold_runs = 1;
	return b.p;
}

/* A host with ncpu CPUs, mem_gib GiB, load and used memory as given. */
static void host(struct bal_host *h, const char *name, double load1, double used_gib,
		 struct bal_ct *cts, size_t ncts)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->up = true;
	h->ncpu = 4;
	h->load1 = load1;
	h->mem_total_kb = 16 * GIB;
	h->mem_avail_kb = (uint64_t)((16 - used_gib) * GIB);
	h->cts = cts;
	h->ncts = ncts;
}

static void ct(struct bal_ct *c, const char *name, double cpu, double rss_gib)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->cpu = cpu;
	c->rss_kb = (uint64_t)(rss_gib * GIB);
	c->movable = true;
}

static void test_score(void **state)
{
	struct bal_params p = params();
	struct bal_host h;

	host(&h, "a", 2.0, 8, NULL, 0);
	/* mean of 8/16 memory and 2/4 load */
	assert_float_equal(bal_score(&p, &h), 0.5, 1e-9);
	assert_float_equal(bal_score_with(&p, &h, 4.0 * GIB, 2.0), 0.875, 1e-9);
	/* never below 0, whatever leaves */
	assert_float_equal(bal_score_with(&p, &h, -100.0 * GIB, -100), 0.0, 1e-9);
	h.has_psi = true;
	h.psi_cpu = h.psi_mem = h.psi_io = 60;
	assert_float_equal(bal_score(&p, &h), 0.5, 1e-9); /* PSI off by default */
	p.use_psi = true;
	assert_float_equal(bal_score(&p, &h), (0.5 + 0.5 + 0.6) / 3, 1e-9);
}

/* busy: 3.6 load, 12 GiB; idle: 0.4 load, 2 GiB; four CTs on busy. */
struct fleet {
	struct bal_ct cts[4];
	struct bal_host h[3];
};

static void fleet(struct fleet *f)
{
	ct(&f->cts[0], "lxc:big", 2.0, 6);
	ct(&f->cts[1], "lxc:mid", 1.0, 3);
	ct(&f->cts[2], "lxc:small", 0.4, 1);
	ct(&f->cts[3], "lxc:tiny", 0.01, 0.01);
	host(&f->h[0], "busy", 3.6, 12, f->cts, 4);
	host(&f->h[1], "idle", 0.4, 2, NULL, 0);
	host(&f->h[2], "mid", 1.6, 6, NULL, 0);
}

static void test_balanced_moves_nothing(void **state)
{
	struct bal_params p = params();
	struct bal_decision d;
	struct fleet f;

	fleet(&f);
	host(&f.h[0], "busy", 1.7, 6.5, f.cts, 4);
	host(&f.h[1], "idle", 1.5, 6, NULL, 0);
	bal_decide(&p, f.h, 3, 5, NULL, NULL, &d);
	assert_false(d.imbalanced);
	assert_int_equal(d.held, 0); /* a balanced run resets the count */
	assert_int_equal(d.nmoves, 0);
	assert_non_null(strstr(d.why, "balanced"));
}

static void test_hold_runs(void **state)
{
	struct bal_params p = params();
	struct bal_decision d;
	struct fleet f;

	p.hold_runs = 3;
	fleet(&f);
	bal_decide(&p, f.h, 3, 0, NULL, NULL, &d);
	assert_true(d.imbalanced);
	assert_int_equal(d.held, 1);
	assert_int_equal(d.nmoves, 0);
	assert_non_null(strstr(d.why, "1 of 3 runs"));
	bal_decide(&p, f.h, 3, 1, NULL, NULL, &d);
	assert_int_equal(d.nmoves, 0);
	bal_decide(&p, f.h, 3, 2, NULL, NULL, &d);
	assert_int_equal(d.held, 3);
	assert_int_equal(d.nmoves, 1);
}

static void test_one_move_busiest_to_idlest(void **state)
{
	struct bal_params p = params();
	struct bal_decision d;
	struct fleet f;

	fleet(&f);
	bal_decide(&p, f.h, 3, 0, NULL, NULL, &d);
	assert_int_equal(d.nmoves, 1); /* max_moves defaults to 1 */
	assert_int_equal(d.moves[0].src, 0);
	assert_int_equal(d.moves[0].dst, 1);
	assert_int_equal(d.imax, 0);
	assert_int_equal(d.imin, 1);
	/* big closes the gap most: busy 0.825 -> 0.3875, idle 0.1125 -> 0.55 */
	assert_string_equal(f.cts[d.moves[0].ct].name, "lxc:big");
	assert_float_equal(d.moves[0].src_after, 0.3875, 1e-6);
	assert_float_equal(d.moves[0].dst_after, 0.55, 1e-6);
	assert_float_equal(d.moves[0].gain, 0.7125 - 0.1625, 1e-6);
}

static void test_max_moves(void **state)
{
	struct bal_params p = params();
	struct bal_decision d;
	struct fleet f;

	struct bal_ct more[4];
	struct bal_host h[4];

	p.max_moves = 3;
	fleet(&f);
	memcpy(more, f.cts, sizeof(more));
	memcpy(h, f.h, sizeof(f.h));
	host(&h[2], "busy2", 3.6, 12, more, 4); /* two busy hosts, two idle */
	host(&h[3], "idle2", 0.4, 2, NULL, 0);
	bal_decide(&p, h, 4, 0, NULL, NULL, &d);
	assert_true(d.nmoves >= 2 && d.nmoves <= 3);
	for (size_t i = 0; i < d.nmoves; i++)
		for (size_t j = i + 1; j < d.nmoves; j++)
			assert_false(d.moves[i].src == d.moves[j].src &&
				     d.moves[i].ct == d.moves[j].ct);
	/* the planned moves spread the load: the second does not go to the same idlest */
	assert_int_not_equal(d.moves[0].dst, d.moves[1].dst);
}

static void test_target_would_overload(void **state)
{
	struct bal_params p = params();
	struct bal_decision d;
	struct fleet f;

	fleet(&f);
	p.max_target_score = 0.15; /* idle is 0.1125; any real move brings it above */
	f.h[2].up = false;
	f.cts[3].movable = false;
	bal_decide(&p, f.h, 3, 0, NULL, NULL, &d);
	assert_true(d.imbalanced);
	assert_int_equal(d.nmoves, 0);
	assert_true(d.nskips > 0);
	assert_non_null(strstr(d.skips[0].text, "max_target_score"));
	assert_non_null(strstr(d.why, "no move qualifies"));
}

static void test_min_gain(void **state)
{
	struct bal_params p = params();
	struct bal_decision d;
	struct fleet f;

	fleet(&f);
	/* only the tiny CT may move: it closes almost nothing */
	f.cts[0].movable = f.cts[1].movable = f.cts[2].movable = false;
	f.cts[0].why_not = f.cts[1].why_not = f.cts[2].why_not = "pinned";
	bal_decide(&p, f.h, 3, 0, NULL, NULL, &d);
	assert_int_equal(d.nmoves, 0);
	assert_int_equal(d.nskips, 4);
	assert_non_null(strstr(d.skips[0].text, "lxc:big on busy: pinned"));
	assert_non_null(strstr(d.skips[3].text, "lxc:tiny -> idle: gain 0.003 < min_gain 0.020"));
	p.min_gain = 0.0001;
	bal_decide(&p, f.h, 3, 0, NULL, NULL, &d);
	assert_int_equal(d.nmoves, 1);
	assert_string_equal(f.cts[d.moves[0].ct].name, "lxc:tiny");
}

/* Refuses every move to the host named by arg. */
static bool refuse(void *arg, size_t src, size_t dst, const struct bal_ct *c, char *why, size_t len)
{
	if (dst != *(size_t *)arg)
		return true;
	snprintf(why, len, "compat: criu-check FAILED");
	return false;
}

static void test_incompatible_target_skipped(void **state)
{
	struct bal_params p = params();
	struct bal_decision d;
	struct fleet f;
	size_t bad = 1;

	fleet(&f);
	bal_decide(&p, f.h, 3, 0, refuse, &bad, &d);
	assert_int_equal(d.nmoves, 1);
	assert_int_equal(d.moves[0].dst, 2); /* the next best target */
	assert_true(d.nskips > 0);
	assert_non_null(strstr(d.skips[0].text, "-> idle: compat: criu-check FAILED"));
}

static void test_too_few_hosts(void **state)
{
	struct bal_params p = params();
	struct bal_decision d;
	struct fleet f;

	fleet(&f);
	f.h[1].up = f.h[2].up = false;
	bal_decide(&p, f.h, 3, 0, NULL, NULL, &d);
	assert_int_equal(d.nup, 0);
	assert_int_equal(d.nmoves, 0);
	assert_non_null(strstr(d.why, "fewer than two"));
}

static void test_config_keys(void **state)
{
	struct phaul_config c;

	config_defaults(&c);
	assert_float_equal(c.balance.p.threshold, 0.20, 1e-9);
	assert_int_equal(c.balance.p.max_moves, 1);
	assert_false(c.allow_remote_migrate);
	assert_int_equal(config_set(&c, "balance", "host", "a 10.0.0.1 tcp"), 0);
	assert_int_equal(config_set(&c, "balance", "host", "b root@10.0.0.2:22"), 0);
	assert_int_equal(config_set(&c, NULL, "balance.ct", "a lxc:web1"), 0);
	assert_int_equal(config_set(&c, "balance", "pin", "lxc:db"), 0);
	assert_int_equal(config_set(&c, "balance", "exclude", "b pid:42"), 0);
	assert_int_equal(config_set(&c, "balance", "rule", "unit:nginx.service"), 0);
	assert_int_equal(config_set(&c, "balance", "threshold", "0.3"), 0);
	assert_int_equal(config_set(&c, "balance", "max_moves", "2"), 0);
	assert_int_equal(config_set(&c, "balance", "instance", "a a.example:9100"), 0);
	assert_int_equal(config_set(&c, "balance", "metrics", "prometheus http://p:9090"), 0);
	assert_int_equal(config_set(&c, "agent", "allow_remote_migrate", "yes"), 0);
	assert_int_equal(c.balance.nhosts, 2);
	assert_string_equal(c.balance.hosts[0].transport, "tcp");
	assert_string_equal(c.balance.hosts[1].addr, "root@10.0.0.2:22");
	assert_true(bal_ct_listed(c.balance.pins, c.balance.npins, "any", "lxc:db"));
	assert_true(bal_ct_listed(c.balance.excludes, c.balance.nexcludes, "b", "pid:42"));
	assert_false(bal_ct_listed(c.balance.excludes, c.balance.nexcludes, "a", "pid:42"));
	assert_float_equal(c.balance.p.threshold, 0.3, 1e-9);
	assert_string_equal(c.balance.hosts[0].instance, "a.example:9100");
	assert_string_equal(c.balance.metrics, "prometheus");
	assert_string_equal(c.balance.metrics_url, "http://p:9090");
	assert_true(c.allow_remote_migrate);
	/* refused: duplicate host, bad transport, option-like address, bad CT, ranges */
	assert_int_equal(config_set(&c, "balance", "host", "a 10.0.0.9"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "host", "c 10.0.0.3 udp"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "host", "c -oProxyCommand=x"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "ct", "lxc:web1"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "ct", "a web1"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "rule", "unit:"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "threshold", "0"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "threshold", "1.5"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "max_moves", "0"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "max_moves", "17"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "metrics", "prometheus ftp://x"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "nope", "1"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, "balance", "instance", "zz x:9100"), -PH_ECONFIG);
	assert_int_equal(config_set(&c, NULL, "notify_url", "file:///etc/passwd"), -PH_ECONFIG);
	bal_config_free(&c.balance);
}

static void test_prom_instance(void **state)
{
	struct bal_host_cfg h = { .name = "a" };
	char out[300];

	strcpy(h.addr, "root@10.0.0.1:22");
	bal_prom_instance(&h, out, sizeof(out));
	assert_string_equal(out, "10.0.0.1:9100");
	strcpy(h.addr, "node1");
	bal_prom_instance(&h, out, sizeof(out));
	assert_string_equal(out, "node1:9100");
	strcpy(h.addr, "[fd00::1]:7070");
	bal_prom_instance(&h, out, sizeof(out));
	assert_string_equal(out, "[fd00::1]:9100");
	strcpy(h.instance, "node1.example:9100");
	bal_prom_instance(&h, out, sizeof(out));
	assert_string_equal(out, "node1.example:9100");
}

static void test_state_lock_and_roundtrip(void **state)
{
	char dir[] = "/tmp/phaul-bal.XXXXXX";
	struct bal_state s, s2;
	struct bal_ct_state *c;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(bal_state_open(dir, &s), 0);
	assert_int_equal(s.held, 0);
	/* a second run at the same time gets nothing */
	assert_int_equal(bal_state_open(dir, &s2), -PH_EINTR);
	assert_non_null(strstr(ph_errmsg(), "another phaul balance"));
	bal_state_close(&s2);
	s.held = 2;
	assert_non_null(c = bal_state_ct(&s, "lxc:web1", true));
	snprintf(c->from, sizeof(c->from), "a");
	c->moved_at = 1000;
	assert_int_equal(bal_state_save(&s), 0);
	bal_state_close(&s);
	assert_int_equal(bal_state_open(dir, &s), 0);
	assert_int_equal(s.held, 2);
	assert_non_null(c = bal_state_ct(&s, "lxc:web1", false));
	assert_string_equal(c->from, "a");
	assert_int_equal(c->moved_at, 1000);
	assert_null(bal_state_ct(&s, "lxc:other", false));
	bal_state_close(&s);
	rm_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_score),
		cmocka_unit_test(test_balanced_moves_nothing),
		cmocka_unit_test(test_hold_runs),
		cmocka_unit_test(test_one_move_busiest_to_idlest),
		cmocka_unit_test(test_max_moves),
		cmocka_unit_test(test_target_would_overload),
		cmocka_unit_test(test_min_gain),
		cmocka_unit_test(test_incompatible_target_skipped),
		cmocka_unit_test(test_too_few_hosts),
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_prom_instance),
		cmocka_unit_test(test_state_lock_and_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
