// SPDX-License-Identifier: GPL-2.0
/*
 * ssh backend: a libssh2 exec channel running the remote agent.
 *
 * Set-up (handshake, host key, auth, exec) runs in blocking mode with the
 * caller's timeout. Then the session goes non-blocking: the mux reader
 * thread reads while other threads write, libssh2 is not thread-safe, so
 * every libssh2 call holds p->lock, and on EAGAIN the lock is dropped while
 * we poll() the socket in the directions libssh2 asks for. The poll is
 * short because the other thread may consume our socket data into
 * libssh2's buffers while we sleep.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "log.h"
#include "transport/chan_int.h"

#define SSH_POLL_MS 10
/* After the remote EOF, how long to wait for the exit status. */
#define SSH_EXIT_WAIT_MS 5000
#define SSH_ERRLINE	 1024
#define SSH_FREE_WAIT_MS 1000
#define PATH_MAX_SSH	 4096
/* A known_hosts line longer than this is skipped (an RSA-16384 key is ~2.8 KiB). */
#define KH_LINE_MAX 16384

struct ssh_target {
	char user[128];
	char host[256];
	int port;
};

struct ssh_priv {
	int sock;
	LIBSSH2_SESSION *s;
	LIBSSH2_CHANNEL *ch;
	pthread_mutex_t lock;
	int wake[2];
	atomic_int shut;
	int timeout_ms; /* set_timeout(); -1: none */
	int wtimeout_ms; /* set_write_timeout(), when timeout_ms is -1 */
	char errline[SSH_ERRLINE];
	size_t errlen;
	char host[300]; /* for log lines */
	char cmd[PH_CMD_MAX];
};

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc;

static void ssh_global_init(void)
{
	ssh_init_rc = libssh2_init(0);
}

static const char *ssh_lasterr(LIBSSH2_SESSION *s)
{
	char *msg = NULL;

	if (!s)
		return "no session";
	libssh2_session_last_error(s, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown libssh2 error";
}

/* "[user@]host[:port]", host may be "[v6]". */
int chan_ssh_parse_target(const char *t, char *user, size_t ulen, char *host, size_t hlen,
			  int *port)
{
	const char *at = strrchr(t, '@'), *h = at ? at + 1 : t, *colon = NULL, *hend;
	const char *env = getenv("USER");
	char *end;
	long pn = 22;

	if (at && ((size_t)(at - t) >= ulen || at == t))
		return ph_seterr(PH_EUSAGE, "ssh target '%s': bad user", t);
	if (at)
		snprintf(user, ulen, "%.*s", (int)(at - t), t);
	else
		snprintf(user, ulen, "%s", env && *env ? env : "root");
	if (*h == '[') {
		hend = strchr(h, ']');
		if (!hend || (hend[1] && hend[1] != ':'))
			return ph_seterr(PH_EUSAGE, "ssh target '%s': expected [V6]:PORT", t);
		colon = hend[1] ? hend + 1 : NULL;
		h++;
	} else {
		colon = strchr(h, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* bare IPv6 address, no port */
		hend = colon ? colon : h + strlen(h);
	}
	if (hend == h || (size_t)(hend - h) >= hlen)
		return ph_seterr(PH_EUSAGE, "ssh target '%s': empty or too long host", t);
	snprintf(host, hlen, "%.*s", (int)(hend - h), h);
	if (colon) {
		errno = 0;
		pn = strtol(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || pn < 1 || pn > 65535)
			return ph_seterr(PH_EUSAGE, "ssh target '%s': port '%s' not in 1..65535", t,
					 colon + 1);
	}
	*port = (int)pn;
	return 0;
}

/* ---- locked libssh2 calls ---- */

/* Called with p->lock held after EAGAIN; returns with it held. 1: shut down. */
static int ssh_wait(struct chan *c, int64_t deadline, int tmo)
{
	struct ssh_priv *p = c->priv;
	int dir = libssh2_session_block_directions(p->s);
	struct pollfd pfd[2] = { { p->sock, 0, 0 }, { p->wake[0], POLLIN, 0 } };

	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		pfd[0].events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd[0].events |= POLLOUT;
	pthread_mutex_unlock(&p->lock);
	poll(pfd, 2, SSH_POLL_MS);
	pthread_mutex_lock(&p->lock);
	if (atomic_load(&p->shut))
		return 1;
	if (deadline >= 0 && chan_now_ms() > deadline)
		return ph_seterr(PH_ETIMEDOUT, "%s: no progress within %d ms", c->peer, tmo);
	return 0;
}

static int64_t ssh_deadline(int tmo)
{
	return tmo < 0 ? -1 : chan_now_ms() + tmo;
}

/*
 * A line of the remote phaul's own log at info or debug level ("TIME
 * ROLE[ID] info: ..."): the agent keeps it in its own log, ours shows it
 * only at debug. Anything else (its warnings and errors, ssh's, a shell's)
 * is a warning here.
 */
static bool remote_chatter(const char *line)
{
	const char *p = line;

	for (int tok = 0; tok < 2; tok++) {
		if (!(p = strchr(p, ' ')))
			return false;
		p++;
	}
	return !strncmp(p, "info: ", 6) || !strncmp(p, "debug: ", 7);
}

static void relay_line(const char *host, const char *line)
{
	if (remote_chatter(line))
		pr_debug("%s: %s", host, line);
	else
		pr_warn("%s: %s", host, line);
}

/* Log the remote command's stderr a line at a time; lock held. */
static void ssh_drain_stderr(struct chan *c, int flush)
{
	struct ssh_priv *p = c->priv;
	char b[4096];
	ssize_t n;

	while ((n = libssh2_channel_read_stderr(p->ch, b, sizeof(b))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (b[i] != '\n' && p->errlen < sizeof(p->errline) - 1) {
				p->errline[p->errlen++] = b[i];
				continue;
			}
			p->errline[p->errlen] = '\0';
			if (b[i] == '\n' || p->errlen)
				relay_line(p->host, p->errline);
			p->errlen = 0;
			if (b[i] != '\n')
				p->errline[p->errlen++] = b[i];
		}
	}
	if (flush && p->errlen) {
		p->errline[p->errlen] = '\0';
		relay_line(p->host, p->errline);
		p->errlen = 0;
	}
}

/* The remote side closed its stdout: explain why, with the exit status. */
static int ssh_eof_error(struct chan *c)
{
	struct ssh_priv *p = c->priv;
	int64_t deadline = chan_now_ms() + SSH_EXIT_WAIT_MS;
	char *sig = NULL;
	int rc;

	while ((rc = libssh2_channel_wait_closed(p->ch)) == LIBSSH2_ERROR_EAGAIN) {
		ssh_drain_stderr(c, 0);
		if (ssh_wait(c, deadline, SSH_EXIT_WAIT_MS))
			break;
	}
	ssh_drain_stderr(c, 1);
	libssh2_channel_get_exit_signal(p->ch, &sig, NULL, NULL, NULL, NULL, NULL);
	if (sig) {
		rc = ph_seterr(
			PH_EEOF,
			"peer %s closed the connection: remote command '%s' killed by signal %s",
			c->peer, p->cmd, sig);
		libssh2_free(p->s, sig);
		return rc;
	}
	if (rc)
		return ph_seterr(PH_EEOF,
				 "peer %s closed the connection: remote command '%s' sent EOF "
				 "(exit status not received)",
				 c->peer, p->cmd);
	return ph_seterr(PH_EEOF,
			 "peer %s closed the connection: remote command '%s' exited with status %d",
			 c->peer, p->cmd, libssh2_channel_get_exit_status(p->ch));
}

static ssize_t ssh_read(struct chan *c, void *buf, size_t len)
{
	struct ssh_priv *p = c->priv;
	int64_t deadline;
	ssize_t n;

	pthread_mutex_lock(&p->lock);
	deadline = ssh_deadline(p->timeout_ms);
	for (;;) {
		if (atomic_load(&p->shut)) {
			n = 0;
			break;
		}
		ssh_drain_stderr(c, 0);
		n = libssh2_channel_read(p->ch, buf, len);
		if (n > 0)
			break;
		if (n == 0 || libssh2_channel_eof(p->ch)) {
			n = ssh_eof_error(c);
			break;
		}
		if (n != LIBSSH2_ERROR_EAGAIN) {
			n = ph_seterr(PH_ESSH, "reading from %s: %s", c->peer, ssh_lasterr(p->s));
			break;
		}
		if ((n = ssh_wait(c, deadline, p->timeout_ms)) != 0) {
			n = n > 0 ? 0 : n;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return n;
}

static ssize_t ssh_write(struct chan *c, const void *buf, size_t len)
{
	struct ssh_priv *p = c->priv;
	int64_t deadline;
	ssize_t n;
	int tmo;

	pthread_mutex_lock(&p->lock);
	tmo = p->timeout_ms >= 0 ? p->timeout_ms : p->wtimeout_ms;
	deadline = ssh_deadline(tmo);
	for (;;) {
		if (atomic_load(&p->shut)) {
			n = ph_seterr(PH_EEOF, "%s: channel shut down", c->peer);
			break;
		}
		n = libssh2_channel_write(p->ch, buf, len);
		if (n >= 0)
			break;
		if (n == LIBSSH2_ERROR_CHANNEL_CLOSED || n == LIBSSH2_ERROR_CHANNEL_EOF_SENT ||
		    n == LIBSSH2_ERROR_SOCKET_SEND || n == LIBSSH2_ERROR_SOCKET_DISCONNECT) {
			n = ph_seterr(PH_EEOF, "peer %s closed the connection (writing: %s)",
				      c->peer, ssh_lasterr(p->s));
			break;
		}
		if (n != LIBSSH2_ERROR_EAGAIN) {
			n = ph_seterr(PH_ESSH, "writing to %s: %s", c->peer, ssh_lasterr(p->s));
			break;
		}
		if ((n = ssh_wait(c, deadline, tmo)) != 0) {
			if (n > 0)
				n = ph_seterr(PH_EEOF, "%s: channel shut down", c->peer);
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return n;
}

static void ssh_shutdown(struct chan *c)
{
	struct ssh_priv *p = c->priv;
	char b = 1;

	if (atomic_exchange(&p->shut, 1))
		return;
	/* Wakes a thread in ssh_wait() at once; it sees 'shut' on relock. */
	(void)!write(p->wake[1], &b, 1);
}

static int ssh_set_timeout(struct chan *c, int timeout_ms)
{
	struct ssh_priv *p = c->priv;

	pthread_mutex_lock(&p->lock);
	p->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int ssh_set_write_timeout(struct chan *c, int timeout_ms)
{
	struct ssh_priv *p = c->priv;

	pthread_mutex_lock(&p->lock);
	p->wtimeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void ssh_priv_free(struct ssh_priv *p)
{
	if (!p)
		return;
	if (p->s) {
		/*
		 * Non-blocking frees may return EAGAIN and leak; blocking ones
		 * are bounded so a dead peer stalls us at most briefly.
		 */
		libssh2_session_set_timeout(p->s, SSH_FREE_WAIT_MS);
		libssh2_session_set_blocking(p->s, 1);
	}
	if (p->ch)
		libssh2_channel_free(p->ch);
	if (p->s) {
		libssh2_session_disconnect(p->s, "phaul done");
		libssh2_session_free(p->s);
	}
	if (p->sock >= 0)
		close(p->sock);
	if (p->wake[0] >= 0)
		close(p->wake[0]);
	if (p->wake[1] >= 0)
		close(p->wake[1]);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static void ssh_free(struct chan *c)
{
	ssh_priv_free(c->priv);
	free(c);
}

static const struct chan_ops ssh_ops = {
	.name = "ssh",
	.read = ssh_read,
	.write = ssh_write,
	.shutdown = ssh_shutdown,
	.free = ssh_free,
	.set_timeout = ssh_set_timeout,
	.set_write_timeout = ssh_set_write_timeout,
};

/* ---- set-up ---- */

static int ssh_connect(const struct ssh_target *t, int timeout_ms, int *out)
{
	char addr[300];
	int r, fd;

	snprintf(addr, sizeof(addr), strchr(t->host, ':') ? "[%s]:%d" : "%s:%d", t->host, t->port);
	if ((r = chan_tcp_dial(addr, timeout_ms, &fd)) < 0)
		return ph_errctx(r, "ssh to %s@%s", t->user, t->host);
	/* libssh2 drives the socket itself; blocking during set-up. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*out = fd;
	return 0;
}

/* "[host]:port" as known_hosts spells it, or plain host on port 22. */
static void ssh_kh_name(const struct ssh_target *t, char *b, size_t n)
{
	if (t->port == 22)
		snprintf(b, n, "%s", t->host);
	else
		snprintf(b, n, "[%s]:%d", t->host, t->port);
}

static int ssh_keytype(int hktype, const char **name)
{
	switch (hktype) {
	case LIBSSH2_HOSTKEY_TYPE_RSA: *name = "RSA"; return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS: *name = "DSA"; return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		*name = "ECDSA";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		*name = "ECDSA";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		*name = "ECDSA";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519: *name = "ED25519"; return LIBSSH2_KNOWNHOST_KEY_ED25519;
	}
	*name = "unknown";
	return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

/* "SHA256:<base64 without padding>" of the raw key blob, as OpenSSH prints it. */
void chan_ssh_fingerprint(const unsigned char *key, size_t len, char *out, size_t outlen)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char b64[64];

	crypto_hash_sha256(h, key, len);
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h),
			  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	snprintf(out, outlen, "SHA256:%s", b64);
}

/* One known_hosts pattern against name: '*' and '?' wildcards, case-insensitive. */
static bool kh_match_pattern(const char *name, const char *pat, size_t plen)
{
	if (plen == 0)
		return *name == '\0';
	if (*pat == '*') {
		for (;; name++) {
			if (kh_match_pattern(name, pat + 1, plen - 1))
				return true;
			if (!*name)
				return false;
		}
	}
	if (!*name ||
	    (*pat != '?' && tolower((unsigned char)*pat) != tolower((unsigned char)*name)))
		return false;
	return kh_match_pattern(name + 1, pat + 1, plen - 1);
}

/*
 * A comma-separated pattern list as OpenSSH's match_hostname() reads it:
 * 1 if a pattern matches, -1 if a negated one ("!pat") does (that wins),
 * 0 if none.
 */
static int kh_match_list(const char *name, const char *list)
{
	int got = 0;

	while (*list) {
		size_t n = strcspn(list, ",");
		bool neg = *list == '!';

		if (kh_match_pattern(name, list + neg, n - neg)) {
			if (neg)
				return -1;
			got = 1;
		}
		list += n + (list[n] == ',');
	}
	return got;
}

enum kh_verdict { KH_NOHOST, KH_MATCH, KH_MISMATCH };

/*
 * Does one known_hosts entry ("patterns keytype base64 [comment]") name
 * this host, and with this key? Plain patterns are matched here (libssh2
 * knows neither wildcards nor negation); hashed ones ("|1|salt|hash") by
 * libssh2, fed this entry alone. A line libssh2 cannot parse is skipped,
 * as OpenSSH does.
 */
static enum kh_verdict kh_entry(LIBSSH2_SESSION *s, const struct ssh_target *t, const char *name,
				const char *pats, const char *rest, const char *key, size_t len,
				int keytype)
{
	LIBSSH2_KNOWNHOSTS *kh;
	char line[KH_LINE_MAX + 320];
	int check;

	if (strncmp(pats, "|1|", 3) != 0) {
		if (kh_match_list(name, pats) != 1)
			return KH_NOHOST;
		pats = name;
	}
	snprintf(line, sizeof(line), "%s %s", pats, rest);
	kh = libssh2_knownhost_init(s);
	if (!kh)
		return KH_NOHOST;
	check = LIBSSH2_KNOWNHOST_CHECK_NOTFOUND;
	if (libssh2_knownhost_readline(kh, line, strlen(line), LIBSSH2_KNOWNHOST_FILE_OPENSSH) == 0)
		check = libssh2_knownhost_checkp(kh, t->host, t->port, key, len,
						 LIBSSH2_KNOWNHOST_TYPE_PLAIN |
							 LIBSSH2_KNOWNHOST_KEYENC_RAW | keytype,
						 NULL);
	libssh2_knownhost_free(kh);
	return check == LIBSSH2_KNOWNHOST_CHECK_MATCH	   ? KH_MATCH
	       : check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH ? KH_MISMATCH
							   : KH_NOHOST;
}

struct kh_result {
	bool match, mismatch, revoked, ca;
};

/* Read khfile (missing: empty) and collect what its lines say about this host and key. */
static int kh_scan(LIBSSH2_SESSION *s, const struct ssh_target *t, const char *name,
		   const char *khfile, const char *key, size_t len, int keytype,
		   struct kh_result *res)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	memset(res, 0, sizeof(*res));
	f = fopen(khfile, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0; /* a missing file is an empty one: every key is unknown */
		return ph_seterr_errno(PH_ECONFIG, "ssh to %s: cannot read %s", name, khfile);
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *p = line, *marker = NULL, *pats;
		enum kh_verdict v;

		if ((size_t)n > KH_LINE_MAX)
			continue; /* no key is that long */
		line[strcspn(line, "\r\n")] = '\0';
		p += strspn(p, " \t");
		if (!*p || *p == '#')
			continue;
		if (*p == '@') {
			marker = strsep(&p, " \t");
			if (!p)
				continue;
			p += strspn(p, " \t");
		}
		pats = strsep(&p, " \t");
		if (!p)
			continue;
		p += strspn(p, " \t");
		v = kh_entry(s, t, name, pats, p, key, len, keytype);
		if (v == KH_NOHOST)
			continue;
		if (!marker) {
			res->match |= v == KH_MATCH;
			res->mismatch |= v == KH_MISMATCH;
		} else if (!strcmp(marker, "@revoked")) {
			res->revoked |= v == KH_MATCH;
		} else if (!strcmp(marker, "@cert-authority")) {
			res->ca = true; /* a CA key, never a host key; certificates unsupported */
		}
		/* other markers: OpenSSH skips the line, so do we */
	}
	free(line);
	fclose(f);
	return 0;
}

/*
 * Check the server's host key against khfile as OpenSSH would: a key in a
 * matching @revoked line is refused whatever else matches; otherwise a
 * plain line with this key accepts, one with another key of this type is
 * a changed key. @cert-authority lines are not host keys (phaul does not
 * verify host certificates) and never accept.
 */
static int ssh_check_hostkey(LIBSSH2_SESSION *s, const struct ssh_target *t, const char *khfile)
{
	struct kh_result res;
	const char *key, *tname;
	char name[300], fp[80];
	size_t len;
	int type, r, keytype;

	key = libssh2_session_hostkey(s, &len, &type);
	if (!key)
		return ph_seterr(PH_ESSH, "ssh to %s: no host key: %s", t->host, ssh_lasterr(s));
	ssh_kh_name(t, name, sizeof(name));
	chan_ssh_fingerprint((const unsigned char *)key, len, fp, sizeof(fp));
	keytype = ssh_keytype(type, &tname);
	if ((r = kh_scan(s, t, name, khfile, key, len, keytype, &res)) < 0)
		return r;
	if (res.revoked)
		return ph_seterr(
			PH_EHOSTKEY,
			"host key for %s (%s key %s) is REVOKED in %s: refusing to connect", name,
			tname, fp, khfile);
	if (res.match)
		return 0;
	if (res.mismatch)
		return ph_seterr(
			PH_EHOSTKEY,
			"HOST KEY for %s CHANGED: it offered %s key %s, which does not "
			"match %s; someone may be intercepting the connection, or the host "
			"was reinstalled (fix %s after checking)",
			name, tname, fp, khfile, khfile);
	return ph_seterr(PH_EHOSTKEY,
			 "host key for %s is not in %s (%s key %s)%s; verify it and add it, e.g. "
			 "ssh-keyscan -p %d %s >> %s",
			 name, khfile, tname, fp,
			 res.ca ? "; its @cert-authority lines are unsupported (phaul does not "
				  "verify host certificates)"
				: "",
			 t->port, t->host, khfile);
}

static int ssh_auth_agent(LIBSSH2_SESSION *s, const char *user, char *tried, size_t tlen)
{
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	LIBSSH2_AGENT *ag;
	int r = -1;

	if (!getenv("SSH_AUTH_SOCK"))
		return -1;
	ag = libssh2_agent_init(s);
	if (!ag)
		return -1;
	strncat(tried, "ssh-agent", tlen - strlen(tried) - 1);
	if (libssh2_agent_connect(ag) || libssh2_agent_list_identities(ag))
		goto out;
	while (libssh2_agent_get_identity(ag, &id, prev) == 0) {
		if (libssh2_agent_userauth(ag, user, id) == 0) {
			r = 0;
			break;
		}
		prev = id;
	}
out:
	libssh2_agent_disconnect(ag);
	libssh2_agent_free(ag);
	return r;
}

static int ssh_auth_file(LIBSSH2_SESSION *s, const char *user, const char *priv, char *tried,
			 size_t tlen)
{
	char pub[PATH_MAX_SSH];

	if (access(priv, R_OK))
		return -1;
	if (*tried)
		strncat(tried, ", ", tlen - strlen(tried) - 1);
	strncat(tried, priv, tlen - strlen(tried) - 1);
	snprintf(pub, sizeof(pub), "%s.pub", priv);
	return libssh2_userauth_publickey_fromfile(s, user, access(pub, R_OK) ? NULL : pub, priv,
						   NULL)
		       ? -1
		       : 0;
}

static int ssh_auth(LIBSSH2_SESSION *s, const struct ssh_target *t, const char *identity)
{
	static const char *const defaults[] = { "id_ed25519", "id_ecdsa", "id_rsa" };
	const char *home = getenv("HOME"), *methods;
	char tried[1024] = "", path[PATH_MAX_SSH];

	methods = libssh2_userauth_list(s, t->user, (unsigned int)strlen(t->user));
	if (!methods && libssh2_userauth_authenticated(s))
		return 0;
	if (ssh_auth_agent(s, t->user, tried, sizeof(tried)) == 0)
		return 0;
	if (identity)
		return ssh_auth_file(s, t->user, identity, tried, sizeof(tried)) == 0
			       ? 0
			       : ph_seterr(
					 PH_EAUTH,
					 "ssh authentication as %s@%s failed (tried: %s%s; server "
					 "accepts: %s)",
					 t->user, t->host, tried, *tried ? "" : identity,
					 methods ? methods : "?");
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		snprintf(path, sizeof(path), "%s/.ssh/%s", home ? home : "/root", defaults[i]);
		if (ssh_auth_file(s, t->user, path, tried, sizeof(tried)) == 0)
			return 0;
	}
	return ph_seterr(PH_EAUTH,
			 "ssh authentication as %s@%s failed (tried: %s; server accepts: %s)",
			 t->user, t->host, *tried ? tried : "no agent, no key in ~/.ssh",
			 methods ? methods : "?");
}

static int ssh_exec(struct chan *c, const char *cmd)
{
	struct ssh_priv *p = c->priv;

	p->ch = libssh2_channel_open_session(p->s);
	if (!p->ch)
		return ph_seterr(PH_ESSH, "%s: opening a session channel: %s", c->peer,
				 ssh_lasterr(p->s));
	if (libssh2_channel_exec(p->ch, cmd))
		return ph_seterr(PH_ESSH, "%s: running '%s': %s", c->peer, cmd, ssh_lasterr(p->s));
	return 0;
}

static int ssh_session(struct chan *c, const struct ssh_target *t, const struct chan_ssh_opts *o)
{
	struct ssh_priv *p = c->priv;
	const char *home = getenv("HOME");
	char khdef[PATH_MAX_SSH];
	int r;

	p->s = libssh2_session_init();
	if (!p->s)
		return ph_seterr(PH_ENOMEM, "ssh session for %s", c->peer);
	libssh2_session_set_blocking(p->s, 1);
	libssh2_session_set_timeout(p->s, o->timeout_ms > 0 ? o->timeout_ms : 0);
	if (libssh2_session_handshake(p->s, p->sock))
		return ph_seterr(PH_ESSH, "ssh handshake with %s: %s", c->peer, ssh_lasterr(p->s));
	snprintf(khdef, sizeof(khdef), "%s/.ssh/known_hosts", home ? home : "/root");
	if ((r = ssh_check_hostkey(p->s, t, o->known_hosts ? o->known_hosts : khdef)) < 0)
		return r;
	if ((r = ssh_auth(p->s, t, o->identity)) < 0)
		return r;
	if ((r = ssh_exec(c, o->remote_cmd)) < 0)
		return r;
	libssh2_session_set_blocking(p->s, 0);
	return 0;
}

static int ssh_new(const struct chan_ssh_opts *o, const struct ssh_target *t, struct chan **out)
{
	struct chan *c = calloc(1, sizeof(*c));
	struct ssh_priv *p = calloc(1, sizeof(*p));

	if (!c || !p) {
		free(c);
		free(p);
		return ph_seterr(PH_ENOMEM, "ssh channel to %s", t->host);
	}
	p->sock = p->wake[0] = p->wake[1] = -1;
	pthread_mutex_init(&p->lock, NULL);
	atomic_init(&p->shut, 0);
	p->timeout_ms = -1;
	p->wtimeout_ms = -1;
	c->ops = &ssh_ops;
	c->priv = p;
	if (t->port == 22)
		snprintf(c->peer, sizeof(c->peer), "ssh:%.100s@%.120s", t->user, t->host);
	else
		snprintf(c->peer, sizeof(c->peer), "ssh:%.100s@%.120s:%d", t->user, t->host,
			 t->port);
	snprintf(p->host, sizeof(p->host), "%s", t->host);
	snprintf(p->cmd, sizeof(p->cmd), "%s", o->remote_cmd);
	*out = c;
	if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return ph_seterr_errno(PH_ESYS, "ssh channel to %s: pipe", t->host);
	return 0;
}

int chan_ssh_open(const struct chan_ssh_opts *o, struct chan **out)
{
	struct ssh_target t;
	struct chan *c = NULL;
	int r;

	*out = NULL;
	if (!o->remote_cmd || strlen(o->remote_cmd) >= PH_CMD_MAX)
		return ph_seterr(PH_EUSAGE, "ssh remote command missing or longer than %u",
				 PH_CMD_MAX);
	if ((r = chan_ssh_parse_target(o->target, t.user, sizeof(t.user), t.host, sizeof(t.host),
				       &t.port)) < 0)
		return r;
	pthread_once(&ssh_once, ssh_global_init);
	if (ssh_init_rc || sodium_init() < 0)
		return ph_seterr(PH_ESSH, "libssh2 or libsodium failed to initialise");
	if ((r = ssh_new(o, &t, &c)) < 0)
		goto fail;
	if ((r = ssh_connect(&t, o->timeout_ms, &((struct ssh_priv *)c->priv)->sock)) < 0)
		goto fail;
	if ((r = ssh_session(c, &t, o)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	if (c)
		ssh_free(c);
	return r;
}
