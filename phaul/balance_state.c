// SPDX-License-Identifier: GPL-2.0
/*
 * What the balancer remembers between runs (work_dir/balance/state, JSON):
 * how many consecutive runs found the fleet imbalanced, and per CT when it
 * last moved (and from where) or failed to. One run at a time: the state
 * is read and written under an flock on work_dir/balance/lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "balance.h"
#include "err.h"
#include "util.h"

/* A state file larger than this is not ours. */
#define STATE_MAX (16u * 1024 * 1024)

struct bal_ct_state *bal_state_ct(struct bal_state *s, const char *ct, bool create)
{
	struct bal_ct_state *n;

	for (size_t i = 0; i < s->ncts; i++)
		if (!strcmp(s->cts[i].ct, ct))
			return &s->cts[i];
	if (!create || strlen(ct) >= sizeof(n->ct))
		return NULL;
	n = realloc(s->cts, (s->ncts + 1) * sizeof(*n));
	if (!n)
		return NULL;
	s->cts = n;
	n = &s->cts[s->ncts++];
	memset(n, 0, sizeof(*n));
	strcpy(n->ct, ct);
	return n;
}

static int load(struct bal_state *s)
{
	json_error_t e;
	json_t *root, *cts, *v;
	size_t i;
	int ret = 0;

	root = json_load_file(s->path, JSON_REJECT_DUPLICATES, &e);
	if (!root) {
		if (access(s->path, F_OK) < 0 && errno == ENOENT)
			return 0; /* first run */
		return ph_seterr(PH_ECONFIG, "%s:%d: %s (remove it to start afresh)", s->path,
				 e.line, e.text);
	}
	s->held = (unsigned)json_integer_value(json_object_get(root, "held"));
	cts = json_object_get(root, "cts");
	json_array_foreach(cts, i, v)
	{
		const char *ct = json_string_value(json_object_get(v, "ct"));
		const char *from = json_string_value(json_object_get(v, "from"));
		struct bal_ct_state *c;

		if (!ct)
			continue;
		if (!(c = bal_state_ct(s, ct, true))) {
			ret = ph_seterr(PH_ENOMEM, "balance state");
			break;
		}
		snprintf(c->from, sizeof(c->from), "%s", from ? from : "");
		c->moved_at = (time_t)json_integer_value(json_object_get(v, "moved_at"));
		c->failed_at = (time_t)json_integer_value(json_object_get(v, "failed_at"));
	}
	json_decref(root);
	return ret;
}

int bal_state_open(const char *work_dir, struct bal_state *s)
{
	char dir[560], lock[600];
	struct stat st;
	int ret;

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	snprintf(dir, sizeof(dir), "%s/balance", work_dir);
	snprintf(lock, sizeof(lock), "%s/lock", dir);
	snprintf(s->path, sizeof(s->path), "%s/state", dir);
	if ((ret = mkdir_p(dir, 0700)) < 0)
		return ret;
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return ph_seterr_errno(PH_ESYS, "open %s", lock);
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK
			      ? ph_seterr(PH_EINTR, "another phaul balance holds %s", lock)
			      : ph_seterr_errno(PH_ESYS, "flock %s", lock);
		close(s->lock_fd);
		s->lock_fd = -1;
		return ret;
	}
	if (stat(s->path, &st) == 0 && st.st_size > STATE_MAX)
		return ph_seterr(PH_ETOOBIG, "%s is %lld bytes (max %u)", s->path,
				 (long long)st.st_size, STATE_MAX);
	return load(s);
}

int bal_state_save(struct bal_state *s)
{
	json_t *root = json_object(), *cts = json_array();
	char tmp[620];
	int ret = 0;

	if (!root || !cts) {
		json_decref(root);
		json_decref(cts);
		return ph_seterr(PH_ENOMEM, "balance state");
	}
	json_object_set_new(root, "held", json_integer(s->held));
	for (size_t i = 0; i < s->ncts; i++)
		json_array_append_new(cts, json_pack("{s:s, s:s, s:I, s:I}", "ct", s->cts[i].ct,
						     "from", s->cts[i].from, "moved_at",
						     (json_int_t)s->cts[i].moved_at, "failed_at",
						     (json_int_t)s->cts[i].failed_at));
	json_object_set_new(root, "cts", cts);
	/* Write aside and rename: a crash leaves the old state or the new one. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
	if (json_dump_file(root, tmp, JSON_INDENT(1)) < 0)
		ret = ph_seterr_errno(PH_ESYS, "write %s", tmp);
	else if (rename(tmp, s->path) < 0)
		ret = ph_seterr_errno(PH_ESYS, "rename %s", tmp);
	json_decref(root);
	return ret;
}

void bal_state_close(struct bal_state *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	s->lock_fd = -1;
	free(s->cts);
	s->cts = NULL;
	s->ncts = 0;
}
