// SPDX-License-Identifier: GPL-2.0
/*
 * ssh transport against a real sshd started on a free loopback port with
 * throw-away host and user keys. The remote command is plain shell (`cat`
 * echoes our own frames back, which a mux accepts as a peer's), so no phaul
 * binary is needed on the "remote" side.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "config.h"
#include "err.h"
#include "helpers.h"
#include "log.h"
#include "phaul.h"
#include "transport/chan.h"
#include "transport/mux.h"

#define SSHD "/usr/sbin/sshd"
#define MiB  (1024u * 1024)

static char dir[] = "/tmp/phaul-ssh-test-XXXXXX";
static char target[300], user[128];
static int port;
static pid_t sshd_pid = -1;
static const char *skip_reason;

static char *path(const char *name)
{
	static __thread char b[8][512];
	static __thread int i;

	i = (i + 1) % 8;
	snprintf(b[i], sizeof(b[i]), "%s/%s", dir, name);
	return b[i];
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl))
		return -1;
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

static int port_open(int p)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_port = htons(p), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static int start_sshd(void)
{
	FILE *f;

	mkdir("/run/sshd", 0755);
	f = fopen(path("sshd_config"), "w");
	if (!f)
		return -1;
	fprintf(f,
		"ListenAddress 127.0.0.1\nPort %d\nHostKey %s\nAuthorizedKeysFile %s\n"
		"PidFile %s\nStrictModes no\nUsePAM no\nPermitRootLogin yes\n"
		"PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
		"PubkeyAuthentication yes\nLogLevel VERBOSE\n",
		port, path("host_ed25519"), path("authorized_keys"), path("sshd.pid"));
	fclose(f);
	sshd_pid = fork();
	if (sshd_pid == 0) {
		freopen(path("sshd.log"), "w", stderr);
		execl(SSHD, SSHD, "-D", "-e", "-f", path("sshd_config"), (char *)NULL);
		_exit(127);
	}
	for (double t0 = now_s(); now_s() - t0 < 30; usleep(20000)) {
		if (port_open(port))
			return 0;
		if (waitpid(sshd_pid, NULL, WNOHANG) == sshd_pid) {
			sshd_pid = -1;
			break;
		}
	}
	sh("cat %s >&2", path("sshd.log"));
	return -1;
}

static int setup_all(void **state)
{
	struct passwd *pw = getpwuid(getuid());

	if (access(SSHD, X_OK)) {
		skip_reason = SSHD " is not installed (apt-get install openssh-server)";
		return 0;
	}
	unsetenv("SSH_AUTH_SOCK"); /* only the keys this test makes */
	assert_non_null(mkdtemp(dir));
	snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "root");
	port = free_port();
	if (sh("cd %s && ssh-keygen -q -t ed25519 -N '' -f host_ed25519 && "
	       "ssh-keygen -q -t ed25519 -N '' -f other_host && "
	       "ssh-keygen -q -t ed25519 -N '' -C phaul-test -f user_key && "
	       "ssh-keygen -q -t ed25519 -N '' -f wrong_key && cp user_key.pub authorized_keys && "
	       "printf '[127.0.0.1]:%d %%s\\n' \"$(cut -d' ' -f1,2 host_ed25519.pub)\" > "
	       "known_hosts && "
	       "printf '[127.0.0.1]:%d %%s\\n' \"$(cut -d' ' -f1,2 other_host.pub)\" > "
	       "changed_hosts && "
	       "cp known_hosts hashed_hosts && ssh-keygen -q -H -f hashed_hosts >/dev/null 2>&1",
	       dir, port, port))
		return -1;
	snprintf(target, sizeof(target), "%s@127.0.0.1:%d", user, port);
	return start_sshd();
}

static int teardown_all(void **state)
{
	if (sshd_pid > 0) {
		kill(sshd_pid, SIGTERM);
		waitpid(sshd_pid, NULL, 0);
	}
	if (!skip_reason)
		sh("rm -rf %s", dir);
	return 0;
}

static int open_ssh(const char *cmd, const char *kh, const char *id, struct chan **c)
{
	struct chan_ssh_opts o = {
	    .target = target,
	    .remote_cmd = cmd,
	    .known_hosts = kh,
	    .identity = id,
	    .timeout_ms = 30000,
	};

	return chan_ssh_open(&o, c);
}

#define NEED_SSHD()                                                                                \
	do {                                                                                       \
		if (skip_reason) {                                                                 \
			print_message("skip: %s\n", skip_reason);                                  \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

static void test_parse_target(void **state)
{
	char u[64], h[64];
	int p;

	assert_int_equal(chan_ssh_parse_target("root@node2:2222", u, sizeof(u), h, sizeof(h), &p),
			 0);
	assert_string_equal(u, "root");
	assert_string_equal(h, "node2");
	assert_int_equal(p, 2222);
	const char *saved = getenv("USER");
	char old[128];

	snprintf(old, sizeof(old), "%s", saved ? saved : "");
	setenv("USER", "alice", 1);
	assert_int_equal(chan_ssh_parse_target("node2", u, sizeof(u), h, sizeof(h), &p), 0);
	if (saved)
		setenv("USER", old, 1);
	else
		unsetenv("USER");
	assert_string_equal(u, "alice");
	assert_int_equal(p, 22);
	assert_int_equal(chan_ssh_parse_target("bob@[::1]:7", u, sizeof(u), h, sizeof(h), &p), 0);
	assert_string_equal(h, "::1");
	assert_int_equal(p, 7);
	assert_int_equal(chan_ssh_parse_target("fe80::1", u, sizeof(u), h, sizeof(h), &p), 0);
	assert_string_equal(h, "fe80::1");
	assert_int_equal(chan_ssh_parse_target("h:0", u, sizeof(u), h, sizeof(h), &p), -PH_EUSAGE);
	assert_int_equal(chan_ssh_parse_target("h:99999", u, sizeof(u), h, sizeof(h), &p),
			 -PH_EUSAGE);
	assert_int_equal(chan_ssh_parse_target("@h", u, sizeof(u), h, sizeof(h), &p), -PH_EUSAGE);
	assert_int_equal(chan_ssh_parse_target("u@", u, sizeof(u), h, sizeof(h), &p), -PH_EUSAGE);
}

static void echo_check(struct chan *c)
{
	char buf[16];

	assert_int_equal(chan_write_full(c, "hello phaul\n", 12), 0);
	assert_int_equal(chan_read_full(c, buf, 12), 0);
	assert_memory_equal(buf, "hello phaul\n", 12);
}

static void test_known_host_ok(void **state)
{
	struct chan *c;
	int r;

	NEED_SSHD();
	r = open_ssh("cat", path("known_hosts"), path("user_key"), &c);
	if (r)
		fail_msg("%s", ph_errmsg());
	assert_non_null(strstr(c->peer, "ssh:"));
	echo_check(c);
	chan_close(c);
}

static void test_hashed_known_host_ok(void **state)
{
	struct chan *c;
	int r;

	NEED_SSHD();
	r = open_ssh("cat", path("hashed_hosts"), path("user_key"), &c);
	if (r)
		fail_msg("%s", ph_errmsg());
	echo_check(c);
	chan_close(c);
}

/* The fingerprint as `ssh-keygen -l` prints it. */
static void host_fingerprint(char *fp, size_t n)
{
	char cmd[600];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ssh-keygen -l -E sha256 -f %s | cut -d' ' -f2",
		 path("host_ed25519.pub"));
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(fp, (int)n, f));
	fp[strcspn(fp, "\n")] = '\0';
	pclose(f);
	assert_non_null(strstr(fp, "SHA256:"));
}

static void test_unknown_host_key(void **state)
{
	struct chan *c = (struct chan *)1;
	char fp[128];

	NEED_SSHD();
	host_fingerprint(fp, sizeof(fp));
	assert_int_equal(open_ssh("cat", path("no_such_known_hosts"), path("user_key"), &c),
			 -PH_EHOSTKEY);
	assert_null(c);
	print_message("%s\n", ph_errmsg());
	assert_non_null(strstr(ph_errmsg(), "is not in"));
	assert_non_null(strstr(ph_errmsg(), "[127.0.0.1]:"));
	assert_non_null(strstr(ph_errmsg(), fp));
}

static void test_changed_host_key(void **state)
{
	struct chan *c;
	char fp[128];

	NEED_SSHD();
	host_fingerprint(fp, sizeof(fp));
	assert_int_equal(open_ssh("cat", path("changed_hosts"), path("user_key"), &c),
			 -PH_EHOSTKEY);
	print_message("%s\n", ph_errmsg());
	assert_non_null(strstr(ph_errmsg(), "HOST KEY for [127.0.0.1]:"));
	assert_non_null(strstr(ph_errmsg(), "CHANGED"));
	assert_non_null(strstr(ph_errmsg(), fp));
}

static void test_wrong_user_key(void **state)
{
	struct chan *c;
	char want[256];

	NEED_SSHD();
	assert_int_equal(open_ssh("cat", path("known_hosts"), path("wrong_key"), &c), -PH_EAUTH);
	print_message("%s\n", ph_errmsg());
	snprintf(want, sizeof(want), "as %s@127.0.0.1 failed", user);
	assert_non_null(strstr(ph_errmsg(), want));
	assert_non_null(strstr(ph_errmsg(), "wrong_key"));
	assert_non_null(strstr(ph_errmsg(), "publickey"));
}

static void test_remote_exit_status(void **state)
{
	struct chan *c;
	char buf[64];

	NEED_SSHD();
	assert_int_equal(open_ssh("echo 'remote agent: it broke' >&2; printf ab; exit 3",
				  path("known_hosts"), path("user_key"), &c),
			 0);
	assert_int_equal(chan_read_full(c, buf, 2), 0);
	assert_memory_equal(buf, "ab", 2);
	assert_int_equal(chan_read_full(c, buf, 1), -PH_EEOF);
	print_message("%s\n", ph_errmsg());
	assert_non_null(strstr(ph_errmsg(), "exited with status 3"));
	chan_close(c);
}

/*
 * The remote phaul's info lines stay in its own log (ours shows them at
 * debug only); its warnings, errors and anything not in its log format
 * are relayed as warnings.
 */
static void test_remote_stderr_levels(void **state)
{
	char tmpl[] = "/tmp/phaul-ssh-err.XXXXXX", text[4096];
	int fd = mkstemp(tmpl), saved = dup(2), lvl = log_level;
	struct chan *c;
	char buf[8];
	ssize_t n;

	NEED_SSHD();
	assert_true(fd >= 0 && saved >= 0);
	log_level = LOG_INFO;
	fflush(stderr);
	dup2(fd, 2);
	assert_int_equal(
		open_ssh("echo '2026-12-02T00:00:00.000Z agent[m-1] info: session start: chatter' "
			 ">&2;"
			 "echo '2026-12-02T00:00:00.001Z agent[m-1] warn: disk nearly full' >&2;"
			 "echo 'bash: phaul: command not found' >&2; printf ab; exit 0",
			 path("known_hosts"), path("user_key"), &c),
		0);
	assert_int_equal(chan_read_full(c, buf, 2), 0);
	chan_read_full(c, buf, 1); /* EOF: the rest of stderr drained */
	chan_close(c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log_level = lvl;
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	unlink(tmpl);
	assert_true(n > 0);
	text[n] = '\0';
	print_message("%s", text);
	assert_null(strstr(text, "chatter"));
	assert_non_null(strstr(text, "warn: disk nearly full"));
	assert_non_null(strstr(text, "command not found"));
}

/* ---- mux over ssh: `cat` echoes our frames, so we are our own peer ---- */

static uint8_t gen_byte(uint64_t off)
{
	return (uint8_t)(((off >> 3) * 0x9E3779B97F4A7C15ull) >> (56 - (off & 7)));
}

struct send_job {
	struct mux *m;
	uint64_t total;
	int rc;
};

static void *sender(void *arg)
{
	struct send_job *j = arg;
	uint8_t *b = malloc(MiB);
	int r = 0;

	for (uint64_t off = 0; off < j->total && !r; off += MiB) {
		for (size_t i = 0; i < MiB; i++)
			b[i] = gen_byte(off + i);
		r = mux_send(j->m, MUX_PAGES, b, MiB);
	}
	j->rc = r ? r : mux_send_eof(j->m, MUX_PAGES);
	free(b);
	return NULL;
}

static void test_mux_over_ssh(void **state)
{
	struct send_job j = {.total = 16 * MiB};
	uint8_t *buf = malloc(PH_FRAME_MAX);
	struct mux_stats rx;
	struct chan *c;
	struct mux *m;
	uint64_t off = 0;
	pthread_t t;
	long n;

	NEED_SSHD();
	assert_int_equal(open_ssh("cat", path("known_hosts"), path("user_key"), &c), 0);
	assert_int_equal(mux_start(c, &m), 0);
	assert_int_equal(mux_set_compress(m, MUX_CTL, 3), 0);
	assert_int_equal(mux_send_rec(m, MUX_CTL, "hello over ssh", 14), 0);
	assert_int_equal(mux_recv(m, MUX_CTL, buf, PH_FRAME_MAX, 60000), 14);
	assert_memory_equal(buf, "hello over ssh", 14);
	j.m = m;
	assert_int_equal(pthread_create(&t, NULL, sender, &j), 0);
	while ((n = mux_recv(m, MUX_PAGES, buf, PH_FRAME_MAX, 120000)) > 0) {
		for (long i = 0; i < n; i++)
			if (buf[i] != gen_byte(off + i))
				fail_msg("byte %llu differs", (unsigned long long)(off + i));
		off += n;
	}
	if (n < 0)
		fail_msg("%s", ph_errmsg());
	pthread_join(t, NULL);
	assert_int_equal(j.rc, 0);
	assert_int_equal(off, j.total);
	mux_get_stats(m, MUX_PAGES, NULL, &rx);
	assert_int_equal(rx.raw_bytes, j.total);
	mux_close(m);
	free(buf);
}

/* The remote agent dies: blocked mux calls get PH_EEOF with its exit status. */
static void test_mux_remote_exit(void **state)
{
	uint8_t buf[64];
	struct chan *c;
	struct mux *m;

	NEED_SSHD();
	assert_int_equal(
	    open_ssh("head -c 20 >/dev/null; exit 7", path("known_hosts"), path("user_key"), &c),
	    0);
	assert_int_equal(mux_start(c, &m), 0);
	assert_int_equal(mux_send_rec(m, MUX_CTL, "0123456789abcdefghijklmnop", 26), 0);
	assert_int_equal(mux_recv(m, MUX_CTL, buf, sizeof(buf), 60000), -PH_EEOF);
	print_message("%s\n", ph_errmsg());
	assert_non_null(strstr(ph_errmsg(), "exited with status 7"));
	mux_close(m);
}

/*
 * mux_start() owns the chan even when it fails: connect_agent() must not
 * close it a second time (a use-after-free under ASan, a double free
 * without).
 */
static void test_connect_mux_start_fails(void **state)
{
	struct phaul_config cfg;
	struct mux *m = (struct mux *)1;
	char peer[64];

	NEED_SSHD();
	config_defaults(&cfg);
	snprintf(cfg.transport, sizeof(cfg.transport), "ssh");
	snprintf(cfg.agent_cmd, sizeof(cfg.agent_cmd), "cat");
	snprintf(cfg.known_hosts, sizeof(cfg.known_hosts), "%s", path("known_hosts"));
	snprintf(cfg.identity, sizeof(cfg.identity), "%s", path("user_key"));
	setenv("PHAUL_FAULT_MUX_START", "1", 1);
	assert_int_equal(connect_agent(&cfg, target, &m, peer, sizeof(peer)), -PH_ESYS);
	unsetenv("PHAUL_FAULT_MUX_START");
	assert_null(m);
	print_message("%s\n", ph_errmsg());
	assert_non_null(strstr(ph_errmsg(), "reader thread"));
}

/* ---- known_hosts markers and patterns, as OpenSSH reads them ---- */

/* Write name with lines, each "%s" replaced by the host key ("type base64"). */
static const char *kh_file(const char *name, const char *lines)
{
	char key[512] = "", cmd[600];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "cut -d' ' -f1,2 %s", path("host_ed25519.pub"));
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(key, sizeof(key), f));
	pclose(f);
	key[strcspn(key, "\n")] = '\0';
	f = fopen(path(name), "w");
	assert_non_null(f);
	for (const char *p = lines; *p; p++) {
		if (p[0] == '%' && p[1] == 's') {
			fputs(key, f);
			p++;
		} else if (p[0] == '%' && p[1] == 'p') {
			fprintf(f, "%d", port);
			p++;
		} else {
			fputc(*p, f);
		}
	}
	fclose(f);
	return path(name);
}

static void expect_hostkey_refused(const char *kh, const char *want)
{
	struct chan *c = NULL;

	assert_int_equal(open_ssh("cat", kh, path("user_key"), &c), -PH_EHOSTKEY);
	assert_null(c);
	print_message("%s\n", ph_errmsg());
	if (!strstr(ph_errmsg(), want))
		fail_msg("'%s' not in: %s", want, ph_errmsg());
}

static void expect_hostkey_accepted(const char *kh)
{
	struct chan *c = NULL;

	if (open_ssh("cat", kh, path("user_key"), &c))
		fail_msg("%s", ph_errmsg());
	echo_check(c);
	chan_close(c);
}

/* A revoked key is refused even when another line accepts it. */
static void test_known_host_revoked(void **state)
{
	NEED_SSHD();
	expect_hostkey_refused(kh_file("kh_revoked", "[127.0.0.1]:%p %s\n"
						     "@revoked [127.0.0.1]:%p %s\n"),
			       "REVOKED");
	expect_hostkey_refused(kh_file("kh_revoked_wild", "@revoked * %s\n[127.0.0.1]:%p %s\n"),
			       "REVOKED");
	/* revoking another host's key changes nothing here */
	expect_hostkey_accepted(kh_file("kh_revoked_other", "@revoked other.example %s\n"
							    "[127.0.0.1]:%p %s\n"));
}

/* A CA key is not a host key: phaul does not verify certificates. */
static void test_known_host_cert_authority(void **state)
{
	NEED_SSHD();
	expect_hostkey_refused(kh_file("kh_ca", "@cert-authority [127.0.0.1]:%p %s\n"),
			       "@cert-authority lines are unsupported");
	expect_hostkey_refused(kh_file("kh_ca_wild", "@cert-authority * %s\n"), "is not in");
}

static void test_known_host_patterns(void **state)
{
	NEED_SSHD();
	/* a negated pattern excludes the host whatever else on the line matches */
	expect_hostkey_refused(kh_file("kh_neg", "![127.0.0.1]:%p,[127.0.0.1]:%p %s\n"),
			       "is not in");
	expect_hostkey_refused(kh_file("kh_neg_wild", "*,!*127.0.0.1* %s\n"), "is not in");
	/* lists and wildcards as OpenSSH matches them */
	expect_hostkey_accepted(kh_file("kh_list", "other.example,[127.0.0.1]:%p %s\n"));
	expect_hostkey_accepted(kh_file("kh_wild", "[127.0.0.?]:%p %s\n"));
	expect_hostkey_accepted(kh_file("kh_star", "# comment\n\nother.example %s\n* %s\n"));
	expect_hostkey_accepted(kh_file("kh_neg_other", "*,!other.example %s\n"));
	/* a line another marker starts is skipped, not an error */
	expect_hostkey_accepted(kh_file("kh_bad_marker", "@bogus [127.0.0.1]:%p %s\n"
							 "[127.0.0.1]:%p %s\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_target),
		cmocka_unit_test(test_known_host_ok),
		cmocka_unit_test(test_hashed_known_host_ok),
		cmocka_unit_test(test_unknown_host_key),
		cmocka_unit_test(test_changed_host_key),
		cmocka_unit_test(test_wrong_user_key),
		cmocka_unit_test(test_remote_exit_status),
		cmocka_unit_test(test_remote_stderr_levels),
		cmocka_unit_test(test_mux_over_ssh),
		cmocka_unit_test(test_mux_remote_exit),
		cmocka_unit_test(test_connect_mux_start_fails),
		cmocka_unit_test(test_known_host_revoked),
		cmocka_unit_test(test_known_host_cert_authority),
		cmocka_unit_test(test_known_host_patterns),
	};

	alarm(900);
	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
