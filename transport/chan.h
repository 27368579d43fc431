/* SPDX-License-Identifier: GPL-2.0 */
/*
 * chan: a reliable, ordered byte pipe to the peer agent.
 *
 * Backends behind one small ops table: tcp (a socket), fd (a pair of file
 * descriptors: `phaul agent --stdio` under sshd), ssh (a libssh2 exec
 * channel running `phaul agent --stdio` on the remote host). After the
 * shared-secret handshake a tcp or fd chan is wrapped in place by the
 * sealed record layer (seal.c, "sealed"). Read and write
 * may be called from two threads at once (mux has a reader thread); each
 * backend makes that safe (ssh serialises libssh2 calls internally).
 */
#ifndef TRANSPORT_CHAN_H
#define TRANSPORT_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct chan;

struct chan_ops {
	const char *name;
	/* >0 bytes, 0 on orderly EOF, <0 PH_E* (detail via ph_seterr) */
	ssize_t (*read)(struct chan *c, void *buf, size_t len);
	/* >0 bytes written, <0 PH_E* */
	ssize_t (*write)(struct chan *c, const void *buf, size_t len);
	/* stop both directions; blocked readers return 0 or an error */
	void (*shutdown)(struct chan *c);
	void (*free)(struct chan *c);
	/*
	 * Optional (NULL: reads never time out). Until called again, read and
	 * write fail with PH_ETIMEDOUT when no progress is possible for
	 * timeout_ms (-1: wait forever). Used to bound the auth handshake.
	 */
	int (*set_timeout)(struct chan *c, int timeout_ms);
	/*
	 * Optional: writes alone fail with PH_ETIMEDOUT after timeout_ms
	 * without progress (-1: never), whatever set_timeout says for reads.
	 * A peer that takes nothing for that long is stalled or unreachable.
	 */
	int (*set_write_timeout)(struct chan *c, int timeout_ms);
};

struct chan {
	const struct chan_ops *ops;
	char peer[256]; /* "tcp:127.0.0.1:7000", "ssh:root@node2", for messages */
	void *priv;
};

/* Read exactly len bytes: 0, PH_EEOF if the peer closed before the first
 * byte, PH_ETRUNC if it closed in the middle. */
int chan_read_full(struct chan *c, void *buf, size_t len);
int chan_write_full(struct chan *c, const void *buf, size_t len);
void chan_shutdown(struct chan *c);
/* ops->set_write_timeout, or PH_ENOTSUP. */
int chan_set_write_timeout(struct chan *c, int timeout_ms);
/* Shut down and free; accepts NULL. */
void chan_close(struct chan *c);
/*
 * Free without shutting the connection down: after fork(), the process
 * that hands the connection to the other must not end it for both.
 */
void chan_release(struct chan *c);

/* Per-call I/O timeout (see chan_ops.set_timeout); PH_ENOTSUP if the backend has none. */
int chan_set_timeout(struct chan *c, int timeout_ms);

/*
 * fd backend: rfd/wfd are owned from the call on (closed on free, and on
 * failure); they may be the same fd (a socket). Both are switched to
 * O_NONBLOCK: chan_shutdown() must be able to wake a blocked read or write.
 */
int chan_fd_open(int rfd, int wfd, const char *peer, struct chan **out);

/*
 * tcp backend. addr "HOST:PORT" or "[V6]:PORT". Every chan_*_open/connect/
 * accept gives *out to the caller, to end with chan_close() (or to hand to
 * mux_start(), which takes it).
 */
int chan_tcp_connect(const char *addr, int timeout_ms, struct chan **out);
/* Listening socket for the agent; returns the fd (the caller's) or <0. */
int chan_tcp_listen(const char *addr);
/* lfd stays the caller's. */
int chan_tcp_accept(int lfd, struct chan **out);

/* ssh backend. */
struct chan_ssh_opts {
	const char *target;	 /* "[user@]host[:port]" */
	const char *remote_cmd;	 /* run on the remote host, e.g. "phaul agent --stdio" */
	const char *known_hosts; /* NULL: ~/.ssh/known_hosts */
	const char *identity;	 /* NULL: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa */
	int timeout_ms;
};
/*
 * Connect, verify the host key against known_hosts (PH_EHOSTKEY if unknown
 * or changed, with its SHA256 fingerprint), authenticate (PH_EAUTH naming
 * what was tried), and run remote_cmd. Reads get its stdout; its stderr
 * is logged at warn level, prefixed with the host; when it exits, reads
 * return PH_EEOF with its exit status.
 */
int chan_ssh_open(const struct chan_ssh_opts *o, struct chan **out);
/* Split "[user@]host[:port]" (user: $USER or root; port 22). */
int chan_ssh_parse_target(const char *target, char *user, size_t ulen, char *host, size_t hlen,
			  int *port);
/* OpenSSH-style "SHA256:<base64, no padding>" fingerprint of a raw key blob. */
void chan_ssh_fingerprint(const unsigned char *key, size_t len, char *out, size_t outlen);

/*
 * Shared-secret authentication (tcp, --inetd; PROTOCOL.md section 5):
 * ephemeral X25519, both sides prove the secret over the transcript; the
 * secret never crosses the wire. Must complete before anything else is
 * read from the peer. On success c is sealed in place: every later read
 * and write is an encrypted, authenticated record with keys of this
 * session and direction, and a forged, replayed, reordered or truncated
 * record fails the read (PH_EAUTH, PH_ETRUNC, PH_ETOOBIG; PH_EEOF when the
 * connection ends without the peer's close record; 0 after it). Returns 0
 * or <0: PH_EAUTH (wrong secret, either side), PH_EVERSION (an older
 * phaul), PH_ETIMEDOUT (the whole exchange is bounded), PH_EEOF,
 * PH_ECONFIG (key length). On failure the server side shuts the chan
 * down: the caller can only close it.
 */
int chan_auth_client(struct chan *c, const uint8_t *key, size_t keylen);
int chan_auth_server(struct chan *c, const uint8_t *key, size_t keylen);
/* Default bound on the whole handshake; the _tmo variants take their own. */
#define CHAN_AUTH_TIMEOUT_MS 15000
int chan_auth_client_tmo(struct chan *c, const uint8_t *key, size_t keylen, int timeout_ms);
int chan_auth_server_tmo(struct chan *c, const uint8_t *key, size_t keylen, int timeout_ms);
/* Load a secret file (PH_SECRET_MIN..PH_SECRET_MAX bytes; a regular file,
 * not a link, owned by root or the running uid, not accessible by group or
 * others). key must hold PH_SECRET_MAX bytes. */
int chan_load_secret(const char *path, uint8_t *key, size_t *keylen);

#endif
