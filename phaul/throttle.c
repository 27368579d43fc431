// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "htype.h"
#include "log.h"
#include "throttle.h"
#include "util.h"

#define CG_TEXT_MAX 65536
/* A crash record is a few short lines. */
#define REC_MAX	  2048
#define REC_MAGIC "phaul-throttle 1"

/* Where cgroup v2 is mounted; "" when it is not. */
static const char *cg_mount(void)
{
	static char root[PATH_MAX];
	struct mntent *me;
	FILE *f;

	if (root[0])
		return root;
	f = setmntent("/proc/self/mounts", "re");
	if (!f)
		return "";
	while ((me = getmntent(f)))
		if (!strcmp(me->mnt_type, "cgroup2")) {
			snprintf(root, sizeof(root), "%s", me->mnt_dir);
			break;
		}
	endmntent(f);
	return root;
}

static void cg_path(char *out, size_t len, const char *cg, const char *file)
{
	snprintf(out, len, "%s%s%s%s", cg_mount(), strcmp(cg, "/") ? cg : "", file ? "/" : "",
		 file ? file : "");
}

/* A cgroup file into a buffer of CG_TEXT_MAX the caller frees. */
static int cg_read(const char *cg, const char *file, char **text)
{
	char path[PATH_MAX];
	int ret;

	cg_path(path, sizeof(path), cg, file);
	*text = malloc(CG_TEXT_MAX);
	if (!*text)
		return ph_seterr(PH_ENOMEM, "reading %s", path);
	if ((ret = read_text(path, *text, CG_TEXT_MAX)) < 0) {
		free(*text);
		*text = NULL;
	}
	return ret;
}

/* 0 or -errno: callers tell a vanished task (ESRCH) from a real failure. */
static int cg_write_raw(const char *cg, const char *file, const char *val)
{
	char path[PATH_MAX];
	int fd, e = 0;

	cg_path(path, sizeof(path), cg, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		e = -errno;
	close(fd);
	return e;
}

/* The error for cg_write_raw()'s -errno e. */
static int cg_write_err(const char *cg, const char *file, const char *val, int e)
{
	char path[PATH_MAX];

	cg_path(path, sizeof(path), cg, file);
	return ph_seterr(PH_ESYS, "writing '%s' to %s: %s", val, path, strerror(-e));
}

static int cg_write(const char *cg, const char *file, const char *val)
{
	int e = cg_write_raw(cg, file, val);

	return e ? cg_write_err(cg, file, val, e) : 0;
}

int throttle_parse_proc_cgroup(const char *text, char *out, size_t len)
{
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, "0::", 3)) {
			size_t n = strcspn(p + 3, "\n");

			if (n == 0 || n >= len || p[3] != '/')
				break;
			memcpy(out, p + 3, n);
			out[n] = '\0';
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return ph_seterr(PH_ENOTSUP, "no cgroup v2 entry");
}

void throttle_cpu_max(uint32_t pct, char *buf, size_t len)
{
	if (!pct)
		snprintf(buf, len, "max %u", THROTTLE_PERIOD_US);
	else
		snprintf(buf, len, "%u %u", THROTTLE_PERIOD_US * (100 - pct) / 100,
			 THROTTLE_PERIOD_US);
}

static int cgroup_of(pid_t pid, char *out, size_t len)
{
	char path[64], text[4096];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if ((ret = read_text(path, text, sizeof(text))) < 0)
		return ret;
	if (throttle_parse_proc_cgroup(text, out, len) < 0)
		return ph_seterr(PH_ENOTSUP, "pid %d is not in a cgroup v2 hierarchy", (int)pid);
	return 0;
}

static void parent_of(const char *cg, char *out, size_t len)
{
	const char *slash = strrchr(cg, '/');

	if (!slash || slash == cg)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - cg), cg);
}

static bool ct_has(const struct ct *ct, long pid)
{
	for (size_t i = 0; i < ct->npids; i++)
		if (ct->pids[i] == (uint32_t)pid)
			return true;
	return false;
}

/* Does cg hold processes outside the CT? */
static int holds_others(const struct ct *ct, const char *cg, bool *others)
{
	char *text, *p, *end;
	int ret;

	if ((ret = cg_read(cg, "cgroup.procs", &text)) < 0)
		return ret;
	*others = false;
	for (p = text; *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (!ct_has(ct, pid))
			*others = true;
	}
	free(text);
	return 0;
}

/* cpu must be on in parent's subtree_control for cg's cpu.max to exist. */
static int enable_cpu(const char *parent)
{
	char *text, *tok, *save;
	bool on = false;
	int ret;

	if ((ret = cg_read(parent, "cgroup.subtree_control", &text)) < 0)
		return ret;
	for (tok = strtok_r(text, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		on |= !strcmp(tok, "cpu");
	free(text);
	return on ? 0 : cg_write(parent, "cgroup.subtree_control", "+cpu");
}

static int move_procs(const struct ct *ct, const char *to)
{
	char pid[16];
	int ret;

	for (size_t i = 0; i < ct->npids; i++) {
		snprintf(pid, sizeof(pid), "%u", ct->pids[i]);
		if ((ret = cg_write_raw(to, "cgroup.procs", pid)) < 0 && ret != -ESRCH)
			return cg_write_err(to, "cgroup.procs", pid, ret);
	}
	return 0;
}

static int lift_cg(const char *cg, bool created, const char *home, const char *orig_max, char *note,
		   size_t len);

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int throttle_record(struct throttle *t, pid_t root)
{
	char tmp[PATH_MAX + 8], text[REC_MAX];
	int fd, n, ret;

	if (!t->rec_dir[0] || t->rec[0])
		return 0; /* not asked for, or made already */
	if ((ret = mkdir_p(t->rec_dir, 0700)) < 0)
		return ph_errctx(ret, "throttle record dir");
	n = snprintf(text, sizeof(text),
		     REC_MAGIC "\npid %d\ncg %s\ncreated %d\nhome %s\n"
			       "orig_max %s\n",
		     (int)getpid(), t->cg, t->created, t->home, t->orig_max);
	snprintf(t->rec, sizeof(t->rec), "%s/pid-%d.rec", t->rec_dir, (int)root);
	snprintf(tmp, sizeof(tmp), "%s.tmp", t->rec);
	unlink(tmp);
	/* Locked before it has its name: a recovery never sees it unheld. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || write(fd, text, n) != n || fsync(fd) < 0 ||
	    rename(tmp, t->rec) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "writing throttle record %s", tmp);
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		t->rec[0] = '\0';
		return ret;
	}
	fsync_dir(t->rec_dir);
	t->rec_fd = fd;
	return 0;
}

static void record_remove(struct throttle *t)
{
	if (!t->rec[0])
		return;
	unlink(t->rec);
	fsync_dir(t->rec_dir);
	close(t->rec_fd);
	t->rec[0] = '\0';
}

static int setup(struct throttle *t, struct ct *ct)
{
	char parent[256], path[PATH_MAX];
	char *text;
	bool others;
	int ret;

	if (!*cg_mount())
		return ph_seterr(PH_ENOTSUP, "cgroup v2 is not mounted");
	/* the tree may have grown since it was resolved */
	if ((ret = ct->ops->resolve(ct)) < 0 ||
	    (ret = cgroup_of(ct->root, t->home, sizeof(t->home))) < 0 ||
	    (ret = holds_others(ct, t->home, &others)) < 0)
		return ret;
	parent_of(t->home, parent, sizeof(parent));
	if (strcmp(t->home, "/") && !others) {
		/* a cgroup of its own: the quota goes on it */
		if ((ret = enable_cpu(parent)) < 0)
			return ret;
		snprintf(t->cg, sizeof(t->cg), "%s", t->home);
		if ((ret = cg_read(t->cg, "cpu.max", &text)) < 0)
			return ret;
		snprintf(t->orig_max, sizeof(t->orig_max), "%.*s", (int)strcspn(text, "\n"), text);
		free(text);
		return throttle_record(t, ct->root);
	}
	/* shared with others (or the root cgroup): a sibling of its own */
	if ((ret = enable_cpu(parent)) < 0)
		return ph_errctx(ret, "cgroup %s holds other processes too", t->home);
	snprintf(t->cg, sizeof(t->cg), "%s/phaul.throttle.%d", strcmp(parent, "/") ? parent : "",
		 (int)ct->root);
	t->created = true;
	if ((ret = throttle_record(t, ct->root)) < 0)
		return ret;
	cg_path(path, sizeof(path), t->cg, NULL);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return ph_seterr_errno(PH_ESYS, "creating cgroup %s", path);
	return move_procs(ct, t->cg);
}

int throttle_apply(struct throttle *t, struct ct *ct, uint32_t pct)
{
	char val[64];
	int ret;

	if (!t->cg[0] && (ret = setup(t, ct)) < 0) {
		ret = ph_errctx(ret, "auto-converge cannot throttle %s", ct->spec);
		/* Undo what setup did after its record (a tree moved half-way, say). */
		if (t->rec[0] && t->created) {
			char note[512], why[1024];

			snprintf(why, sizeof(why), "%s", ph_errmsg());
			lift_cg(t->cg, true, t->home, t->orig_max, note, sizeof(note));
			ph_seterr(ret, "%s", why);
		}
		record_remove(t);
		t->cg[0] = '\0';
		t->created = false;
		return ret;
	}
	throttle_cpu_max(pct, val, sizeof(val));
	if ((ret = cg_write(t->cg, "cpu.max", val)) < 0)
		return ret;
	t->pct = pct;
	pr_info("auto-converge: %s throttled by %u%% (cgroup %s, cpu.max %s)", ct->spec, pct, t->cg,
		val);
	return 0;
}

/* Remove a cgroup phaul made; its last tasks may take a moment to leave. */
static void remove_cg(const char *cg)
{
	char path[PATH_MAX];

	cg_path(path, sizeof(path), cg, NULL);
	for (int i = 0; i < 100; i++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		usleep(10000);
	}
	pr_warn("could not remove cgroup %s: %s", path, strerror(errno));
}

int throttle_lift(struct throttle *t, struct ct *ct)
{
	int ret = 0;

	if (!t->cg[0])
		return 0;
	if (t->created) {
		if ((ret = ct->ops->resolve(ct)) == 0)
			ret = move_procs(ct, t->home);
		if (ret == 0)
			remove_cg(t->cg);
	} else {
		ret = cg_write(t->cg, "cpu.max", t->orig_max);
	}
	if (ret < 0)
		return ph_errctx(ret, "lifting the auto-converge throttle of %s", ct->spec);
	pr_info("auto-converge: throttle of %s lifted", ct->spec);
	record_remove(t);
	t->cg[0] = '\0';
	t->pct = 0;
	return 0;
}

void throttle_release(struct throttle *t)
{
	if (t->cg[0] && t->created)
		remove_cg(t->cg);
	record_remove(t);
	t->cg[0] = '\0';
}

int throttle_lift_restored(pid_t pid, const char *cg, bool created, const char *home,
			   const char *orig_max, char *note, size_t len)
{
	char now[256];
	int ret;

	if ((ret = cgroup_of(pid, now, sizeof(now))) < 0)
		return ret;
	if (strcmp(now, cg)) {
		snprintf(note, len, "restored into cgroup %s, not the throttled %s: nothing to lift",
			 now, cg);
		return 0;
	}
	return lift_cg(cg, created, home, orig_max, note, len);
}

/*
 * Lift a throttle on cg: cpu.max back (in place), or every task in cg moved
 * home and cg removed (created). Writes what it did into note.
 */
static int lift_cg(const char *cg, bool created, const char *home, const char *orig_max,
		   char *note, size_t len)
{
	char *text, *p, *end;
	int ret, moved = 0;

	/*
	 * The lift itself; where the tree ends up comes second. CRIU may have
	 * made cg here without the cpu controller: no cpu.max, no quota.
	 */
	ret = cg_write_raw(cg, "cpu.max", created ? "max" : orig_max);
	if (ret < 0 && (ret != -ENOENT || !created))
		return cg_write_err(cg, "cpu.max", created ? "max" : orig_max, ret);
	if (!created) {
		snprintf(note, len, "cpu.max of %s back to '%s'", cg, orig_max);
		return 0;
	}
	if ((ret = cg_read(cg, "cgroup.procs", &text)) < 0)
		return ret;
	for (p = text; *p; p = end) {
		long n = strtol(p, &end, 10);
		char s[16];

		if (end == p)
			break;
		snprintf(s, sizeof(s), "%ld", n);
		if ((ret = cg_write_raw(home, "cgroup.procs", s)) < 0 && ret != -ESRCH)
			break;
		ret = 0;
		moved++;
	}
	free(text);
	if (ret < 0) {
		/* its home need not exist here (a login session's scope, say) */
		snprintf(note, len, "cpu.max of %s lifted; the tree stays there (moving it to %s: %s)",
			 cg, home, strerror(-ret));
		return 0;
	}
	remove_cg(cg);
	snprintf(note, len, "%d process%s moved from %s back to %s", moved, moved == 1 ? "" : "es", cg,
		 home);
	return 0;
}

/* One "key value" line of a record into out; false if absent. */
static bool rec_field(const char *text, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, k) && p[k] == ' ') {
			snprintf(out, len, "%.*s", (int)strcspn(p + k + 1, "\n"), p + k + 1);
			return true;
		}
	return false;
}

/* Lift the throttle of one record we hold the lock of. */
static int recover_one(const char *path, int fd)
{
	char text[REC_MAX], cg[320], home[256], orig_max[64], created[8], note[512];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	int ret;

	text[n > 0 ? n : 0] = '\0';
	if (strncmp(text, REC_MAGIC "\n", sizeof(REC_MAGIC)) ||
	    !rec_field(text, "cg", cg, sizeof(cg)) ||
	    !rec_field(text, "created", created, sizeof(created)) ||
	    !rec_field(text, "home", home, sizeof(home)) ||
	    !rec_field(text, "orig_max", orig_max, sizeof(orig_max)) || cg[0] != '/' ||
	    strstr(cg, "/..") || (created[0] == '1' && (home[0] != '/' || strstr(home, "/.."))))
		return ph_seterr(PH_ECONFIG, "throttle record %s is not one phaul wrote", path);
	if (created[0] == '1') {
		char full[PATH_MAX];

		cg_path(full, sizeof(full), cg, NULL);
		if (access(full, F_OK) < 0) {
			pr_info("throttle left by a stopped phaul: cgroup %s is gone already", cg);
			return 0;
		}
	}
	if ((ret = lift_cg(cg, created[0] == '1', home, orig_max, note, sizeof(note))) < 0)
		return ph_errctx(ret, "lifting the throttle recorded in %s", path);
	pr_warn("lifted a throttle left by a phaul that stopped: %s", note);
	return 0;
}

int throttle_recover(const char *work_dir)
{
	char dir[PATH_MAX], path[PATH_MAX + 300];
	struct dirent *de;
	int lifted = 0, ret = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/throttle", work_dir);
	if (!(d = opendir(dir)))
		return errno == ENOENT ? 0
				       : ph_seterr_errno(PH_ESYS, "throttle records in %s", dir);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		bool tmp = l > 8 && !strcmp(de->d_name + l - 8, ".rec.tmp");
		struct stat a, b;
		int fd, r;

		if (!tmp && (l <= 4 || strcmp(de->d_name + l - 4, ".rec")))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* Held: its phaul runs. Unlinked meanwhile: lifted by its owner. */
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &a) < 0 || stat(path, &b) < 0 ||
		    a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
			close(fd);
			continue;
		}
		/* a record never renamed into place: nothing was changed yet */
		r = tmp ? 0 : recover_one(path, fd);
		if (r == 0) {
			unlink(path);
			lifted += !tmp;
		} else if (!ret) {
			ret = r; /* kept for the next start; the others still run */
		}
		close(fd);
	}
	closedir(d);
	if (lifted)
		fsync_dir(dir);
	return ret < 0 ? ret : lifted;
}

int throttle_init(struct throttle *t, const char *work_dir)
{
	memset(t, 0, sizeof(*t));
	t->rec_fd = -1;
	snprintf(t->rec_dir, sizeof(t->rec_dir), "%s/throttle", work_dir);
	return throttle_recover(work_dir);
}

bool throttle_available(void)
{
	char *text, *tok, *save;
	bool on = false;

	if (!*cg_mount() || cg_read("/", "cgroup.controllers", &text) < 0)
		return false;
	for (tok = strtok_r(text, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		on |= !strcmp(tok, "cpu");
	free(text);
	return on;
}
