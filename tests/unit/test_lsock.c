// SPDX-License-Identifier: GPL-2.0
/*
 * Loopback sockets between phaul and a CRIU it does not start (lsock.h):
 * another local user who connects to the page relay's port first must
 * not take CRIU's place (it would feed the destination pages of its
 * own), and one who reaches CRIU's lazy page server first must be
 * noticed. The impostor is a real process running as nobody.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "lsock.h"

#define NOBODY 65534

static int listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(sk >= 0);
	assert_int_equal(bind(sk, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(sk, 8), 0);
	assert_int_equal(getsockname(sk, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return sk;
}

static int dial(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (sk < 0 || connect(sk, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return sk;
}

static uint16_t local_port(int sk)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(sk, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static uint16_t peer_port(int sk)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getpeername(sk, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

/* A process running as nobody connected to port (until killed); its pid. */
static pid_t impostor(uint16_t port)
{
	int p[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int sk;

		close(p[0]);
		/* not the test's stdio, and gone with the test (a failed assertion too) */
		if (dup2(open("/dev/null", O_RDWR), 1) < 0 || dup2(1, 2) < 0 || setgid(NOBODY) < 0 ||
		    setuid(NOBODY) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1 ||
		    (sk = dial(port)) < 0)
			_exit(1);
		if (write(p[1], "c", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1); /* connected */
	close(p[0]);
	return pid;
}

static void impostor_end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* the impostor needs a uid of its own */
	return 0;
}

/* The relay's listener: nobody connects first, CRIU (root) next; CRIU's is taken. */
static void test_accept_refuses_other_users(void **state)
{
	uint16_t port;
	int lsk = listener(&port), mine, got;
	pid_t imp;

	(void)state;
	imp = impostor(port);
	mine = dial(port);
	assert_true(mine >= 0);
	got = lsock_accept_root(lsk, 3000);
	assert_true(got >= 0);
	assert_int_equal(peer_port(got), local_port(mine));
	close(got);
	/* nobody alone: refused until the deadline */
	close(mine);
	assert_int_equal(lsock_accept_root(lsk, 300), -PH_ETIMEDOUT);
	impostor_end(imp);
	close(lsk);
}

static void test_owner(void **state)
{
	uint16_t port;
	int lsk = listener(&port), c, s;
	unsigned long inode = 1;
	uid_t uid = 1;

	(void)state;
	c = dial(port);
	assert_true(c >= 0);
	/* queued, not accepted: the server end has no inode yet */
	assert_int_equal(lsock_owner(port, local_port(c), &uid, &inode), 0);
	assert_int_equal(inode, 0);
	s = accept(lsk, NULL, NULL);
	assert_int_equal(lsock_owner(port, local_port(c), &uid, &inode), 0);
	assert_int_equal(uid, 0);
	assert_true(inode != 0);
	assert_int_equal(lsock_owner(port, 1, &uid, &inode), -PH_ENOENT);
	close(s);
	close(c);
	close(lsk);
}

/* CRIU's lazy page server accepts one connection: ours, or the alarm. */
static void test_sole_client(void **state)
{
	uint16_t port;
	int lsk = listener(&port), c, s;
	pid_t imp;

	(void)state;
	c = dial(port);
	s = accept(lsk, NULL, NULL);
	assert_int_equal(lsock_sole_client(c, 1000), 0);
	close(s);
	close(c);

	imp = impostor(port);
	s = accept(lsk, NULL, NULL); /* CRIU takes the first: nobody's */
	c = dial(port);
	assert_int_equal(lsock_sole_client(c, 300), -PH_EAUTH);
	assert_non_null(strstr(ph_errmsg(), "uid 65534"));
	close(c);
	close(s);
	impostor_end(imp);
	close(lsk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_accept_refuses_other_users, setup),
		cmocka_unit_test_setup(test_owner, setup),
		cmocka_unit_test_setup(test_sole_client, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
