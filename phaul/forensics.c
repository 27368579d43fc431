// SPDX-License-Identifier: GPL-2.0
/* Kept logs and reports of each migration, and their pruning (forensics.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "config.h"
#include "engine/criu.h"
#include "err.h"
#include "forensics.h"
#include "log.h"
#include "report.h"
#include "util.h"

int fx_begin(const char *work_dir, const char *name, const char *file, char *dir, size_t len)
{
	char runs[PATH_MAX], path[PATH_MAX];
	int ret, fd;

	if ((size_t)snprintf(runs, sizeof(runs), "%s/" FX_RUNS_DIR, work_dir) >= sizeof(runs) ||
	    (size_t)snprintf(dir, len, "%s/%s", runs, name) >= len ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return ph_seterr(PH_ETOOBIG, "run dir under %.64s: path too long", work_dir);
	if ((ret = mkdir_p(runs, 0700)) < 0)
		return ret;
	if (mkdir(dir, 0700) < 0)
		return ph_seterr_errno(PH_ESYS, "creating %s", dir);
	if ((ret = log_open_file(path)) < 0)
		return ret;
	/* CRIU's stderr beside our log, not in our terminal or between our lines */
	snprintf(path, sizeof(path), "%s/" FX_CRIU_STDERR, dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		pr_warn("%s: %s: CRIU's stderr stays ours", path, strerror(errno));
	else
		criu_set_stderr(fd); /* held for the process's life */
	return 0;
}

int fx_session_name(char *out, size_t len)
{
	char stamp[32];
	time_t t = time(NULL);
	uint64_t rnd;
	struct tm tm;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return ph_seterr_errno(PH_ESYS, "getrandom for the run's name");
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", gmtime_r(&t, &tm));
	snprintf(out, len, "in-%s-%016llx", stamp, (unsigned long long)rnd);
	return 0;
}

int fx_save_report(const char *dir, const struct report *r)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f = NULL;
	int fd, ret = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/report.json", dir) >= sizeof(path))
		return ph_seterr(PH_ETOOBIG, "report path under %.64s too long", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		ret = ph_seterr_errno(PH_ESYS, "creating %s", tmp);
		if (fd >= 0)
			close(fd);
		return ret;
	}
	report_json(f, r);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		ret = ph_seterr_errno(PH_ESYS, "writing %s", tmp);
	if (fclose(f) != 0 && !ret)
		ret = ph_seterr_errno(PH_ESYS, "writing %s", tmp);
	if (!ret && rename(tmp, path) < 0)
		ret = ph_seterr_errno(PH_ESYS, "renaming %s", tmp);
	if (ret)
		unlink(tmp);
	return ret;
}

static bool is_log(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, ".log");
}

/* Below dfd: remove all but *.log; 1 if something was kept, 0 if not, or -PH_ESYS. */
static int strip_at(int dfd, const char *where)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	int kept = 0, ret = 0;

	if (!d) {
		close(dfd);
		return ph_seterr_errno(PH_ESYS, "reading %s", where);
	}
	while ((e = readdir(d))) {
		struct stat st;
		int sub, r;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			sub = openat(dirfd(d), e->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || (r = strip_at(sub, where)) < 0) {
				ret = ret
					      ?: sub < 0 ? ph_seterr_errno(PH_ESYS, "opening %s/%s",
									   where, e->d_name)
							 : r;
				continue;
			}
			if (r)
				kept = 1;
			else
				unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
		} else if (S_ISREG(st.st_mode) && is_log(e->d_name)) {
			kept = 1;
		} else if (unlinkat(dirfd(d), e->d_name, 0) < 0 && !ret) {
			ret = ph_seterr_errno(PH_ESYS, "removing %s/.../%s", where, e->d_name);
		}
	}
	closedir(d);
	return ret < 0 ? ret : kept;
}

int fx_keep_logs_only(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), ret, fd;

	if (dfd < 0)
		return ph_seterr_errno(PH_ESYS, "opening %s", dir);
	if ((ret = strip_at(dfd, dir)) < 0)
		return ret;
	fd = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		int m = openat(fd, FX_LOGS_ONLY, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (m >= 0)
			close(m);
		close(fd);
	}
	return 0;
}

struct fx_entry {
	char name[256];
	struct timespec mtime; /* ns: runs of one second must still sort */
};

static int by_age(const void *a, const void *b)
{
	const struct fx_entry *x = a, *y = b;

	/* newest first; names (which start with a UTC stamp) break ties */
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? 1 : -1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? 1 : -1;
	return -strcmp(x->name, y->name);
}

/* Entries of dir to prune: those accepted by want(); *out malloc'ed. */
static int list_dir(const char *dir, bool (*want)(const char *dir, const char *name),
		    struct fx_entry **out, size_t *n)
{
	DIR *d = opendir(dir);
	struct fx_entry *v = NULL, *nv;
	struct dirent *e;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : ph_seterr_errno(PH_ESYS, "reading %s", dir);
	while ((e = readdir(d))) {
		struct stat st;

		if (e->d_name[0] == '.' || !want(dir, e->d_name) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || strlen(e->d_name) >= sizeof(v->name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			if (!(nv = realloc(v, cap * sizeof(*v)))) {
				free(v);
				closedir(d);
				return ph_seterr(PH_ENOMEM, "listing %s", dir);
			}
			v = nv;
		}
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", e->d_name);
		v[(*n)++].mtime = st.st_mtim;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), by_age);
	*out = v;
	return 0;
}

static bool any_run(const char *dir, const char *name)
{
	return true;
}

static bool stripped_in(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (strncmp(name, "in-", 3))
		return false;
	snprintf(path, sizeof(path), "%s/%s/" FX_LOGS_ONLY, dir, name);
	return access(path, F_OK) == 0;
}

/* compat's CRIU scratch dirs, left only when CRIU failed there (their log names them) */
static bool failed_check(const char *dir, const char *name)
{
	return !strncmp(name, "check.", 6) || !strncmp(name, "cpuinfo.", 8) ||
	       !strncmp(name, "cpucheck.", 9);
}

static int prune_dir(const char *dir, bool (*want)(const char *, const char *), unsigned keep,
		     unsigned days, const char *except, time_t now)
{
	struct fx_entry *v;
	size_t n, kept = 0;
	int removed = 0;

	if (list_dir(dir, want, &v, &n) < 0) {
		pr_warn("pruning old runs: %s", ph_errmsg());
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		bool old = days && now - v[i].mtime.tv_sec > (time_t)days * 86400;

		if (except && !strcmp(v[i].name, except))
			continue;
		if (!old && kept < keep) {
			kept++;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
		if (rm_tree(path) < 0)
			pr_warn("pruning old runs: %s", ph_errmsg());
		else
			removed++;
	}
	free(v);
	return removed;
}

int fx_prune(const char *work_dir, unsigned keep, unsigned days, const char *except, time_t now)
{
	char runs[PATH_MAX];
	int removed;

	snprintf(runs, sizeof(runs), "%s/" FX_RUNS_DIR, work_dir);
	removed = prune_dir(runs, any_run, keep, days, except, now);
	removed += prune_dir(work_dir, stripped_in, keep, days, NULL, now);
	removed += prune_dir(work_dir, failed_check, keep, days, NULL, now);
	if (removed)
		pr_info("pruned %d old run%s under %s (keep_reports %u, keep_days %u)", removed,
			removed == 1 ? "" : "s", work_dir, keep, days);
	return removed;
}

int fx_source_begin(const struct phaul_config *cfg, const char *id, char *dir, size_t len)
{
	char name[PH_MIG_ID_MAX + 8];
	int ret;

	dir[0] = '\0';
	log_set_id(id);
	snprintf(name, sizeof(name), "out-%s", id);
	fx_prune(cfg->work_dir, cfg->keep_reports - 1, cfg->keep_days, NULL, time(NULL));
	if ((ret = fx_begin(cfg->work_dir, name, "phaul.log", dir, len)) < 0) {
		/* the migration matters more than its log: stderr still has every line */
		pr_warn("no log of this migration kept: %s", ph_errmsg());
		dir[0] = '\0';
	}
	return ret;
}

void fx_source_failed(struct report *r, const char *images_dir)
{
	char here[2048] = "", there[PH_PATH_MAX + 300] = "";

	if (images_dir && images_dir[0])
		snprintf(r->images_dir, sizeof(r->images_dir), "%s", images_dir);
	if (r->log_dir[0] || r->images_dir[0])
		snprintf(here, sizeof(here), "%.256s: %.600s%s%s%.1024s%s", r->src,
			 r->log_dir[0] ? r->log_dir : "",
			 r->log_dir[0] ? " (phaul.log, report.json)" : "",
			 r->log_dir[0] && r->images_dir[0] ? " and " : "", r->images_dir,
			 r->images_dir[0] ? " (CRIU's logs, images)" : "");
	if (r->dst_log_dir[0])
		snprintf(there, sizeof(there), "%s%.256s: %s (agent.log names CRIU's logs there)",
			 here[0] ? "; " : "", r->dst, r->dst_log_dir);
	if (here[0] || there[0])
		pr_err("logs kept: %s%s", here, there);
}

void fx_source_end(const struct report *r)
{
	if (r->log_dir[0] && fx_save_report(r->log_dir, r) < 0)
		pr_warn("%s", ph_errmsg());
}
