// SPDX-License-Identifier: GPL-2.0
/* A migration's record on one host (mrec.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "mrec.h"
#include "util.h"

static const char *const phase_names[] = {
	[PHASE_CONNECT] = "connect",
	[PHASE_PRECOPY] = "precopy",
	[PHASE_FROZEN] = "frozen",
	[PHASE_RESTORING] = "restoring",
	[PHASE_COMMITTING] = "committing",
	[PHASE_COMMITTED] = "committed",
	[PHASE_DONE] = "done",
	[PHASE_ROLLED_BACK] = "rolled-back",
};

static const char *const dst_names[] = {
	[DST_NONE] = "none",	       [DST_HELD] = "held", [DST_RUNNING] = "running",
	[DST_DISCARDED] = "discarded", [DST_GONE] = "gone", [DST_LOST] = "lost",
	[DST_FILLING] = "filling",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *mig_phase_name(enum mig_phase p)
{
	return (size_t)p < NELEM(phase_names) ? phase_names[p] : "?";
}

const char *mrec_dst_state_name(enum mrec_dst_state s)
{
	return (size_t)s < NELEM(dst_names) ? dst_names[s] : "?";
}

bool mrec_id_valid(const char *id)
{
	return ph_id_valid(id, PH_MIG_ID_MAX);
}

int mrec_new_id(char *out, size_t len)
{
	char stamp[32];
	time_t now = time(NULL);
	uint32_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return ph_seterr_errno(PH_ESYS, "getrandom");
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", gmtime(&now));
	snprintf(out, len, "%s-%d-%08x", stamp, (int)getpid(), rnd);
	return 0;
}

int mrec_path(const char *work_dir, enum mrec_side side, const char *id, char *out, size_t len)
{
	if (!mrec_id_valid(id))
		return ph_seterr(PH_EUSAGE, "migration id '%.64s' is not [A-Za-z0-9-]{1,%d}", id,
				 PH_MIG_ID_MAX);
	if ((size_t)snprintf(out, len, "%s/mig-%s-%s", work_dir, side == MREC_SOURCE ? "out" : "in",
			     id) >= len)
		return ph_seterr(PH_ETOOBIG, "record path under %s too long", work_dir);
	return 0;
}

static int fsync_dir(const char *work_dir)
{
	int fd = open(work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0 || fsync(fd) < 0)
		ret = ph_seterr_errno(PH_ESYS, "fsync of %s", work_dir);
	if (fd >= 0)
		close(fd);
	return ret;
}

int mrec_save(const char *work_dir, const struct mrec *r)
{
	const char *const *names = r->side == MREC_SOURCE ? phase_names : dst_names;
	size_t nnames = r->side == MREC_SOURCE ? NELEM(phase_names) : NELEM(dst_names);
	char path[PATH_MAX], tmp[PATH_MAX + 8], text[PH_MREC_MAX];
	int fd, n, ret;

	if ((ret = mrec_path(work_dir, r->side, r->id, path, sizeof(path))) < 0)
		return ret;
	if (r->state < 0 || (size_t)r->state >= nnames)
		return ph_seterr(PH_EUSAGE, "record %s: state %d", r->id, r->state);
	n = snprintf(
		text, sizeof(text),
		"id=%s\nside=%s\nstate=%s\nct=%s\npeer=%s\ntransport=%s\npid=%d\nstart=%" PRIu64
		"\n",
		r->id, r->side == MREC_SOURCE ? "source" : "destination", names[r->state], r->ct,
		r->peer, r->transport, (int)r->pid, r->start);
	if (n < 0 || (size_t)n >= sizeof(text))
		return ph_seterr(PH_ETOOBIG, "record %s over %d bytes", r->id, PH_MREC_MAX);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "creating %s", tmp);
	if (write(fd, text, (size_t)n) != n || fsync(fd) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "writing %s", tmp);
		close(fd);
		unlink(tmp);
		return ret;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "renaming %s", tmp);
		unlink(tmp);
		return ret;
	}
	return fsync_dir(work_dir);
}

static int name_index(const char *v, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && !strcmp(v, names[i]))
			return (int)i;
	return -1;
}

/* One "key=value" line into r; 0 or -1. */
static int parse_line(char *line, enum mrec_side side, struct mrec *r, unsigned *seen)
{
	static const char *const keys[] = { "id",   "side",	 "state", "ct",
					    "peer", "transport", "pid",	  "start" };
	char *v = strchr(line, '='), *end;
	size_t k;

	if (!v)
		return -1;
	*v++ = '\0';
	for (k = 0; k < NELEM(keys) && strcmp(line, keys[k]); k++)
		;
	if (k == NELEM(keys) || (*seen & (1u << k)))
		return -1;
	*seen |= 1u << k;
	errno = 0;
	switch (k) {
	case 0:
		if (!mrec_id_valid(v))
			return -1;
		snprintf(r->id, sizeof(r->id), "%s", v);
		return 0;
	case 1: return strcmp(v, side == MREC_SOURCE ? "source" : "destination") ? -1 : 0;
	case 2:
		r->state = side == MREC_SOURCE ? name_index(v, phase_names, NELEM(phase_names))
					       : name_index(v, dst_names, NELEM(dst_names));
		return r->state < 0 ? -1 : 0;
	case 3: return (size_t)snprintf(r->ct, sizeof(r->ct), "%s", v) >= sizeof(r->ct) ? -1 : 0;
	case 4:
		return (size_t)snprintf(r->peer, sizeof(r->peer), "%s", v) >= sizeof(r->peer) ? -1
											      : 0;
	case 5:
		return (size_t)snprintf(r->transport, sizeof(r->transport), "%s", v) >=
				       sizeof(r->transport)
			       ? -1
			       : 0;
	case 6: {
		long p = strtol(v, &end, 10);

		if (errno || end == v || *end || p < 0 || p > INT32_MAX)
			return -1;
		r->pid = (pid_t)p;
		return 0;
	}
	default:
		r->start = strtoull(v, &end, 10);
		return errno || end == v || *end || v[0] == '-' ? -1 : 0;
	}
}

int mrec_parse(const char *text, enum mrec_side side, struct mrec *r)
{
	char buf[PH_MREC_MAX], *line, *save = NULL;
	unsigned seen = 0;
	size_t n = strlen(text);

	memset(r, 0, sizeof(*r));
	r->side = side;
	if (n >= sizeof(buf))
		return ph_seterr(PH_ETOOBIG, "record over %d bytes", PH_MREC_MAX);
	memcpy(buf, text, n + 1);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (parse_line(line, side, r, &seen) < 0)
			return ph_seterr(PH_EPROTO, "record: bad line '%.80s'", line);
	/* id, side, state are required; the rest may be empty */
	if ((seen & 7u) != 7u)
		return ph_seterr(PH_EPROTO, "record without id, side or state");
	return 0;
}

int mrec_load(const char *work_dir, enum mrec_side side, const char *id, struct mrec *r)
{
	char path[PATH_MAX], text[PH_MREC_MAX];
	int ret;

	memset(r, 0, sizeof(*r));
	if ((ret = mrec_path(work_dir, side, id, path, sizeof(path))) < 0)
		return ret;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return ph_seterr(PH_ENOENT, "no record of migration %s in %s", id, work_dir);
	if ((ret = read_text(path, text, sizeof(text))) < 0 ||
	    (ret = mrec_parse(text, side, r)) < 0)
		return ph_errctx(ret, "%s", path);
	if (strcmp(r->id, id))
		return ph_seterr(PH_EPROTO, "%s holds the record of %s", path, r->id);
	return 0;
}

int mrec_remove(const char *work_dir, enum mrec_side side, const char *id)
{
	char path[PATH_MAX];
	int ret;

	if ((ret = mrec_path(work_dir, side, id, path, sizeof(path))) < 0)
		return ret;
	if (unlink(path) < 0 && errno != ENOENT)
		return ph_seterr_errno(PH_ESYS, "removing %s", path);
	return fsync_dir(work_dir);
}

int mrec_lock(const char *work_dir, enum mrec_side side, const char *id, bool wait)
{
	char path[PATH_MAX + 8];
	int fd, ret;

	if ((ret = mrec_path(work_dir, side, id, path, PATH_MAX)) < 0)
		return ret;
	strcat(path, ".lock");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "opening %s", path);
	while ((ret = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB))) < 0 && errno == EINTR)
		;
	if (ret < 0) {
		ret = errno == EWOULDBLOCK
			      ? ph_seterr(PH_ETIMEDOUT,
					  "migration %s is still in progress (%s held)", id, path)
			      : ph_seterr_errno(PH_ESYS, "locking %s", path);
		close(fd);
		return ret;
	}
	return fd;
}

void mrec_unlock(const char *work_dir, enum mrec_side side, const char *id, int fd)
{
	char path[PATH_MAX + 8];

	if (fd < 0)
		return;
	if (mrec_path(work_dir, side, id, path, PATH_MAX) == 0) {
		strcat(path, ".lock");
		unlink(path);
	}
	close(fd);
}

int proc_start_time(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	int i;

	*out = 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (pid <= 0 || read_text(path, buf, sizeof(buf)) < 0)
		return ph_seterr(PH_ENOENT, "process %d does not exist", (int)pid);
	/* After the command, which may hold spaces and parentheses: the last ')'. */
	if (!(p = strrchr(buf, ')')))
		return ph_seterr(PH_EPROTO, "%s: no ')'", path);
	/* field 3 follows ") "; starttime is field 22 */
	for (i = 2; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &v) != 1)
		return ph_seterr(PH_EPROTO, "%s: no start time", path);
	*out = v;
	return 0;
}

bool mrec_pid_alive(const struct mrec *r)
{
	uint64_t st;

	return r->pid > 0 && proc_start_time(r->pid, &st) == 0 && st == r->start;
}

bool fault_at(const char *point)
{
	const char *f = getenv("PHAUL_FAULT_COMMIT");
	size_t n = strlen(point);

	for (; f && *f; f += strcspn(f, ","), f += *f == ',')
		if (!strncmp(f, point, n) && (f[n] == ',' || f[n] == '\0'))
			return true;
	return false;
}
