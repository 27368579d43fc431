/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loopback TCP between phaul and a CRIU it does not start (liblxc's,
 * runc's): such a CRIU can only name a host:port, and a port on
 * 127.0.0.1 is open to every local user. The kernel's socket table
 * (/proc/net/tcp) names each socket's owner; these check it, so that no
 * other local user takes CRIU's place on either end.
 */
#ifndef PHAUL_LSOCK_H
#define PHAUL_LSOCK_H

#include <stdint.h>
#include <sys/types.h>

/*
 * The socket 127.0.0.1:lport connected to 127.0.0.1:rport: its owner and
 * inode (0 while it waits in a listener's queue, not accepted). 0, or
 * -PH_ENOENT when there is none.
 */
int lsock_owner(uint16_t lport, uint16_t rport, uid_t *uid, unsigned long *inode);

/*
 * Accept on lsk (listening on 127.0.0.1) the first connection whose
 * other end is root's, within timeout_ms (< 0: none). Others are closed
 * and logged. The new fd, or PH_E*.
 */
int lsock_accept_root(int lsk, int timeout_ms);

/*
 * sk is connected to a listener on 127.0.0.1 that accepts one connection
 * (CRIU's lazy page server): wait up to wait_ms until it accepted ours,
 * and make sure no one else is connected to it. 0, or PH_EAUTH naming
 * the other connection's owner.
 */
int lsock_sole_client(int sk, int wait_ms);

#endif
