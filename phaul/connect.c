// SPDX-License-Identifier: GPL-2.0
/* Reaching the destination agent over the configured transport. */
#include <stdio.h>
#include <string.h>

#include "caps.h"
#include "cli.h"
#include "err.h"
#include "log.h"
#include "proto/msg.h"
#include "phaul.h"
#include "util.h"

static int open_chan(const struct phaul_config *cfg, const char *host, struct chan **c)
{
	uint8_t key[PH_SECRET_MAX];
	struct cli_host h;
	size_t keylen = 0;
	char addr[300];
	int ret;

	if (!strcmp(cfg->transport, "ssh")) {
		struct chan_ssh_opts o = {
			.target = host,
			.remote_cmd = cfg->agent_cmd,
			.known_hosts = cfg->known_hosts[0] ? cfg->known_hosts : NULL,
			.identity = cfg->identity[0] ? cfg->identity : NULL,
			.timeout_ms = cfg->timeout_s * 1000,
		};
		return chan_ssh_open(&o, c);
	}
	/* "[user@]host[:port]", "[v6]:port"; no port: the configured tcp port */
	if ((ret = cli_parse_host(host, cfg->tcp_port, &h)) < 0)
		return ret;
	if ((ret = chan_load_secret(cfg->secret_file, key, &keylen)) < 0)
		return ret;
	cli_host_addr(&h, addr, sizeof(addr));
	ret = chan_tcp_connect(addr, cfg->timeout_s * 1000, c);
	if (ret == 0 && (ret = chan_auth_client(*c, key, keylen)) < 0) {
		chan_close(*c);
		*c = NULL;
	}
	memset(key, 0, sizeof(key));
	return ret;
}

int connect_agent(const struct phaul_config *cfg, const char *host, struct mux **out,
		  char *peer_name, size_t peer_len)
{
	return connect_agent_mig(cfg, host, NULL, out, peer_name, peer_len, NULL, 0);
}

int connect_agent_mig(const struct phaul_config *cfg, const char *host, const char *mig_id,
		      struct mux **out, char *peer_name, size_t peer_len, char *log_dir,
		      size_t log_len)
{
	Phaul__Hello *hello = NULL;
	struct chan *c = NULL;
	struct mux *m = NULL;
	int ret;

	*out = NULL;
	pr_info("connecting to %s over %s", host, cfg->transport);
	if ((ret = open_chan(cfg, host, &c)) < 0)
		return ph_errctx(ret, "connecting to %s over %s", host, cfg->transport);
	if ((ret = mux_start(c, &m)) < 0)
		return ret; /* mux_start() closed c */
	mux_set_send_timeout(m, cfg->timeout_s * 1000);
	if ((ret = msg_hello_ex(m, "source", mig_id, NULL, &hello, cfg->timeout_s * 1000)) < 0) {
		mux_close(m);
		return ph_errctx(ret, "hello with %s", host);
	}
	/* The peer's name is shown in logs, tables and reports: data, not text. */
	ph_strvis(peer_name, peer_len,
		  hello->hostname && *hello->hostname ? hello->hostname : host);
	pr_info("connected to %s (phaul %s)", peer_name, hello->phaul_version);
	/* a path on the peer, only ever printed: capped, made visible */
	if (log_dir && log_len)
		ph_strvis(log_dir, log_len < PH_PATH_MAX ? log_len : PH_PATH_MAX,
			  hello->log_dir ? hello->log_dir : "");
	phaul__hello__free_unpacked(hello, NULL);
	*out = m;
	return 0;
}

int finish_agent(struct mux *m, bool commit, bool keep, const char *reason, int timeout_ms)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *ack = NULL;
	Phaul__Finish f = PHAUL__FINISH__INIT;
	int ret;

	f.commit = commit;
	f.reason = (char *)reason;
	f.has_keep_images = 1;
	f.keep_images = keep;
	out.body_case = PHAUL__MSG__BODY_FINISH;
	out.finish = &f;
	if ((ret = msg_send(m, &out)) < 0 ||
	    (ret = msg_expect(m, PHAUL__MSG__BODY_FINISH_ACK, &ack, timeout_ms)) < 0)
		return ret;
	if (!ack->finish_ack->ok)
		ret = ph_seterr(PH_EPEER, "%s could not %s", mux_peer(m),
				commit ? "commit" : "discard the migration");
	msg_free(ack);
	return ret;
}
