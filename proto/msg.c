// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "log.h"
#include "proto/msg.h"

static const char *const names[] = {
	[PHAUL__MSG__BODY_HELLO] = "Hello",
	[PHAUL__MSG__BODY_CHECK_REQ] = "CheckReq",
	[PHAUL__MSG__BODY_CHECK_RESP] = "CheckResp",
	[PHAUL__MSG__BODY_ITER_START] = "IterStart",
	[PHAUL__MSG__BODY_ITER_READY] = "IterReady",
	[PHAUL__MSG__BODY_ITER_DONE] = "IterDone",
	[PHAUL__MSG__BODY_IMAGE_FILE] = "ImageFile",
	[PHAUL__MSG__BODY_IMAGES_DONE] = "ImagesDone",
	[PHAUL__MSG__BODY_RESTORE_REQ] = "RestoreReq",
	[PHAUL__MSG__BODY_RESTORE_RESP] = "RestoreResp",
	[PHAUL__MSG__BODY_FINISH] = "Finish",
	[PHAUL__MSG__BODY_FINISH_ACK] = "FinishAck",
	[PHAUL__MSG__BODY_ERROR] = "Error",
	[PHAUL__MSG__BODY_FS_START] = "FsSyncStart",
	[PHAUL__MSG__BODY_FS_DONE] = "FsSyncDone",
	[PHAUL__MSG__BODY_FS_PROBE] = "FsProbe",
	[PHAUL__MSG__BODY_FS_PROBE_RESP] = "FsProbeResp",
	[PHAUL__MSG__BODY_RECOVER] = "Recover",
	[PHAUL__MSG__BODY_RECOVER_RESP] = "RecoverResp",
	[PHAUL__MSG__BODY_LOAD_REQ] = "LoadReq",
	[PHAUL__MSG__BODY_LOAD_RESP] = "LoadResp",
	[PHAUL__MSG__BODY_MIGRATE_REQ] = "MigrateReq",
	[PHAUL__MSG__BODY_MIGRATE_LINE] = "MigrateLine",
	[PHAUL__MSG__BODY_MIGRATE_DONE] = "MigrateDone",
	[PHAUL__MSG__BODY_LAZY_DONE] = "LazyDone",
	[PHAUL__MSG__BODY_RESUME] = "Resume",
	[PHAUL__MSG__BODY_RESUME_RESP] = "ResumeResp",
};

const char *msg_name(Phaul__Msg__BodyCase c)
{
	if ((size_t)c < sizeof(names) / sizeof(names[0]) && names[c])
		return names[c];
	return "unknown";
}

int msg_send(struct mux *m, const Phaul__Msg *msg)
{
	size_t len = phaul__msg__get_packed_size(msg);
	uint8_t *buf;
	int ret;

	if (len > PH_MSG_MAX)
		return ph_seterr(PH_ETOOBIG, "%s message of %zu bytes exceeds %u",
				 msg_name(msg->body_case), len, PH_MSG_MAX);
	buf = malloc(len ? len : 1);
	if (!buf)
		return ph_seterr(PH_ENOMEM, "message buffer");
	phaul__msg__pack(msg, buf);
	ret = mux_send_rec(m, MUX_CTL, buf, len);
	free(buf);
	pr_debug("sent %s (%zu bytes)", msg_name(msg->body_case), len);
	return ret;
}

int msg_decode(const uint8_t *buf, size_t len, const char *peer, Phaul__Msg **out)
{
	Phaul__Msg *msg;
	int ret;

	*out = NULL;
	if (len > PH_MSG_MAX)
		return ph_seterr(PH_ETOOBIG, "%s sent a %zu-byte control message (max %u)", peer,
				 len, PH_MSG_MAX);
	msg = phaul__msg__unpack(NULL, len, buf);
	if (!msg)
		return ph_seterr(PH_EPROTO, "%s sent an undecodable control message", peer);
	if (msg->body_case == PHAUL__MSG__BODY__NOT_SET) {
		phaul__msg__free_unpacked(msg, NULL);
		return ph_seterr(PH_EPROTO, "%s sent an empty or unknown message", peer);
	}
	if (msg->body_case == PHAUL__MSG__BODY_ERROR) {
		int code = msg->error->code;

		if (code <= 0 || code >= PH_E_MAX)
			code = PH_EPEER;
		ret = ph_seterr(code, "%s: %s",
				msg->error->host && *msg->error->host ? msg->error->host : peer,
				msg->error->msg);
		phaul__msg__free_unpacked(msg, NULL);
		return ret;
	}
	*out = msg;
	return 0;
}

int msg_recv(struct mux *m, Phaul__Msg **out, int timeout_ms)
{
	uint8_t *buf;
	long n;
	int ret;

	*out = NULL;
	buf = malloc(PH_FRAME_MAX);
	if (!buf)
		return ph_seterr(PH_ENOMEM, "message buffer");
	n = mux_recv(m, MUX_CTL, buf, PH_FRAME_MAX, timeout_ms);
	if (n <= 0) {
		free(buf);
		if (n == 0)
			return ph_seterr(PH_EPROTO, "%s ended the control stream", mux_peer(m));
		return (int)n;
	}
	ret = msg_decode(buf, (size_t)n, mux_peer(m), out);
	free(buf);
	if (ret == 0)
		pr_debug("got %s", msg_name((*out)->body_case));
	return ret;
}

int msg_expect(struct mux *m, Phaul__Msg__BodyCase want, Phaul__Msg **out, int timeout_ms)
{
	int ret = msg_recv(m, out, timeout_ms);

	if (ret < 0)
		return ret;
	if ((*out)->body_case != want) {
		ret = ph_seterr(PH_EPROTO, "%s sent %s where %s was expected", mux_peer(m),
				msg_name((*out)->body_case), msg_name(want));
		msg_free(*out);
		*out = NULL;
	}
	return ret;
}

void msg_send_error(struct mux *m, int code, const char *text, const char *host)
{
	Phaul__Msg msg = PHAUL__MSG__INIT;
	Phaul__Error e = PHAUL__ERROR__INIT;

	e.code = code < 0 ? -code : code;
	e.msg = (char *)text;
	e.host = (char *)host;
	msg.body_case = PHAUL__MSG__BODY_ERROR;
	msg.error = &e;
	if (msg_send(m, &msg) < 0)
		pr_debug("could not report the error to the peer: %s", ph_errmsg());
}

void msg_free(Phaul__Msg *msg)
{
	if (msg)
		phaul__msg__free_unpacked(msg, NULL);
}

int msg_hello(struct mux *m, const char *role, Phaul__Hello **peer, int timeout_ms)
{
	return msg_hello_ex(m, role, NULL, NULL, peer, timeout_ms);
}

int msg_hello_ex(struct mux *m, const char *role, const char *mig_id, const char *log_dir,
		 Phaul__Hello **peer, int timeout_ms)
{
	static char *caps[] = { "zstd", "precopy", "fs-sync" };
	Phaul__Msg msg = PHAUL__MSG__INIT, *in = NULL;
	Phaul__Hello h = PHAUL__HELLO__INIT;
	char host[256] = "";
	int ret;

	*peer = NULL;
	gethostname(host, sizeof(host) - 1);
	h.proto_version = PHAUL_PROTO_VERSION;
	h.phaul_version = PHAUL_VERSION;
	h.hostname = host;
	h.role = (char *)role;
	h.n_caps = sizeof(caps) / sizeof(caps[0]);
	h.caps = caps;
	h.mig_id = (char *)mig_id;
	h.log_dir = (char *)log_dir;
	msg.body_case = PHAUL__MSG__BODY_HELLO;
	msg.hello = &h;
	if ((ret = msg_send(m, &msg)) < 0)
		return ret;
	if ((ret = msg_expect(m, PHAUL__MSG__BODY_HELLO, &in, timeout_ms)) < 0)
		return ret;
	if (in->hello->proto_version != PHAUL_PROTO_VERSION) {
		ret = ph_seterr(PH_EVERSION, "%s speaks phaul protocol %u (phaul %s), we speak %u",
				mux_peer(m), in->hello->proto_version, in->hello->phaul_version,
				PHAUL_PROTO_VERSION);
		msg_free(in);
		return ret;
	}
	/* Detach the Hello from its envelope so the caller owns just it. */
	*peer = in->hello;
	in->hello = NULL;
	in->body_case = PHAUL__MSG__BODY__NOT_SET;
	msg_free(in);
	return 0;
}
