// SPDX-License-Identifier: GPL-2.0
/*
 * Arbitrary bytes as the other side of the PHAUL-AUTH2 handshake, for both
 * roles: the reader takes fixed sizes only (greeting, then the rest of a
 * 45, 77 or 32-byte message), checks the peer's X25519 key and proof, and
 * must refuse cleanly; it never seals a chan for a peer without the key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "transport/chan.h"

static const uint8_t key[] = "fuzzing-shared-secret-0123456789";

static void one(const uint8_t *data, size_t size, int server)
{
	struct chan *c = NULL;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	if (size && write(sv[0], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[0], SHUT_WR);
	if (chan_fd_open(sv[1], sv[1], "fuzz", &c))
		abort();
	if (server)
		r = chan_auth_server_tmo(c, key, sizeof(key) - 1, 5000);
	else
		r = chan_auth_client_tmo(c, key, sizeof(key) - 1, 5000);
	/* Fresh ephemeral keys: nobody can answer them without the secret. */
	if (r == 0 || r == -PH_ETIMEDOUT)
		abort();
	if (r != -PH_EAUTH && r != -PH_EVERSION && r != -PH_EEOF && r != -PH_ETRUNC)
		abort();
	if (!strcmp(c->ops->name, "sealed"))
		abort();
	chan_close(c);
	close(sv[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		size = 4096; /* the handshake never reads more than 77 bytes */
	one(data, size, 1);
	one(data, size, 0);
	return 0;
}
