// SPDX-License-Identifier: GPL-2.0
/*
 * pid1: the guests' init after /init has set them up.  It only reaps, and
 * does so the moment a child exits: busybox init looks once a second, so a
 * process CRIU killed at the end of a dump stayed a zombie on src for up
 * to a second, and "is the source gone?" checks had to allow for that.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>

int main(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	sigprocmask(SIG_BLOCK, &s, NULL);
	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		/* a SIGCHLD that came since the loop above is still pending */
		sigwaitinfo(&s, NULL);
	}
}
