// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctcmd.h"
#include "err.h"
#include "log.h"
#include "phaul.pb-c.h"
#include "htype.h"
#include "util.h"
#include "transport/chan.h"

extern const struct htype_ops htype_pid;
extern const struct htype_ops htype_lxc;
extern const struct htype_ops htype_runc;
extern const struct htype_ops htype_podman;

static const struct htype_ops *const htypes[] = { &htype_pid, &htype_lxc, &htype_runc,
						  &htype_podman };

const struct htype_ops *const *htype_all(size_t *n)
{
	*n = sizeof(htypes) / sizeof(htypes[0]);
	return htypes;
}

int ct_parse(const char *spec, struct ct *ct)
{
	const char *colon = strchr(spec, ':');

	memset(ct, 0, sizeof(*ct));
	if (strlen(spec) >= sizeof(ct->spec))
		return ph_seterr(PH_EUSAGE, "CT name too long");
	snprintf(ct->spec, sizeof(ct->spec), "%s", spec);
	if (!colon)
		return ph_seterr(PH_EUSAGE, "'%s': CT must be TYPE:ID, e.g. pid:4242", spec);
	if (strlen(colon + 1) >= sizeof(ct->id) || !colon[1])
		return ph_seterr(PH_EUSAGE, "'%s': bad CT id", spec);
	snprintf(ct->id, sizeof(ct->id), "%s", colon + 1);
	for (size_t i = 0; i < sizeof(htypes) / sizeof(htypes[0]); i++) {
		if (strlen(htypes[i]->name) == (size_t)(colon - spec) &&
		    !strncmp(spec, htypes[i]->name, colon - spec)) {
			ct->ops = htypes[i];
			return 0;
		}
	}
	return ph_seterr(PH_EUSAGE, "'%s': unknown CT type (known: pid, lxc, runc, podman)", spec);
}

int ct_parse_dst(const char *spec, struct ct *ct)
{
	int ret = 0;

	if (spec[0])
		ret = ct_parse(spec, ct);
	else
		memset(ct, 0, sizeof(*ct));
	if (!ct->ops)
		ct->ops = htypes[0]; /* pid: a process tree */
	return ret;
}

void ct_close(struct ct *ct)
{
	int st;

	criu_conn_close(ct->criu);
	ct->criu = NULL;
	if (ct->guard <= 0)
		return;
	/* phaul settled the migration itself (or recorded it for recover) */
	if (write(ct->guard_fd, "done\n", 5) != 5)
		pr_warn("telling the guard of %s that phaul is done: %s", ct->spec,
			strerror(errno));
	close(ct->guard_fd);
	if (ctcmd_wait(ct->guard, now_us() + 10 * 1000000ULL, &st) < 0)
		pr_warn("%s", ph_errmsg());
	ct->guard = 0;
	ct->guard_fd = -1;
}

int ct_criu_any(const struct ct *ct, const struct criu_opts *o)
{
	return 0;
}

void ct_criu_opts_none(const struct ct *ct, struct criu_opts *o)
{
}

int ct_pages_listen(struct ct *ct, struct ct_pages *p)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = chan_tcp_listen("127.0.0.1:0");

	if (fd < 0)
		return fd;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return ph_seterr_errno(PH_ESYS, "page relay: getsockname");
	}
	*p = (struct ct_pages){ .sk = fd, .accept = true, .port = ntohs(sa.sin_port) };
	return 0;
}

int ct_probe_none(const struct ct *ct, const char *path, struct ct_facts *f)
{
	return ph_seterr(PH_ENOTSUP, "%s: no runtime to probe", ct->spec);
}

int ct_kept_none(struct ct *ct, enum ct_kept_act act, const char *log)
{
	(void)ct;
	(void)act;
	(void)log;
	return CT_KEPT_NONE;
}

int ct_open(const char *spec, struct ct *ct)
{
	int ret = ct_parse(spec, ct);

	return ret < 0 ? ret : ct->ops->resolve(ct);
}

/* Append N's children (all threads' children files) breadth-first. */
static int add_children(struct ct *ct, pid_t pid)
{
	char path[64], buf[4096];
	struct dirent *de;
	pid_t child;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0; /* gone meanwhile: the dump will notice */
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(buf, sizeof(buf), "/proc/%d/task/%s/children", pid, de->d_name);
		f = fopen(buf, "re");
		if (!f)
			continue;
		while (fscanf(f, "%d", &child) == 1) {
			if (ct->npids == CT_PIDS_MAX) {
				fclose(f);
				closedir(d);
				return ph_seterr(PH_ETOOBIG, "%s has more than %d processes",
						 ct->spec, CT_PIDS_MAX);
			}
			ct->pids[ct->npids++] = (uint32_t)child;
		}
		fclose(f);
	}
	closedir(d);
	return 0;
}

static uint64_t rss_kb(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return proc_kb(path, "VmRSS");
}

int ct_collect_tree(struct ct *ct)
{
	int ret;

	ct->npids = 0;
	ct->pids[ct->npids++] = (uint32_t)ct->root;
	for (size_t i = 0; i < ct->npids; i++)
		if ((ret = add_children(ct, (pid_t)ct->pids[i])) < 0)
			return ret;
	ct->rss_kb = 0;
	for (size_t i = 0; i < ct->npids; i++)
		ct->rss_kb += rss_kb((pid_t)ct->pids[i]);
	return 0;
}

bool ct_alive(const struct ct *ct)
{
	return ct->root > 0 && (kill(ct->root, 0) == 0 || errno == EPERM);
}

int ct_lock(const struct ct *ct, const char *work_dir, int *out)
{
	char path[PATH_MAX], holder[128] = "";
	ssize_t n;
	int fd, ret;

	*out = -1;
	snprintf(path, sizeof(path), "%s/locks", work_dir);
	if ((ret = mkdir_p(path, 0700)) < 0)
		return ph_errctx(ret, "%s: lock dir", ct->spec);
	snprintf(path, sizeof(path), "%s/locks/pid-%d.lock", work_dir, (int)ct->root);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "%s: opening lock %s", ct->spec, path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			ret = ph_seterr_errno(PH_ESYS, "%s: locking %s", ct->spec, path);
		} else {
			n = pread(fd, holder, sizeof(holder) - 1, 0);
			holder[n > 0 ? n : 0] = '\0';
			holder[strcspn(holder, "\n")] = '\0';
			ret = ph_seterr(
				PH_EUSAGE,
				"%s is being migrated by another phaul run (pid and CT: %s; "
				"lock %s): wait for it, or stop it with SIGTERM",
				ct->spec, *holder ? holder : "unknown", path);
		}
		close(fd);
		return ret;
	}
	if (ftruncate(fd, 0) < 0 || dprintf(fd, "%d %s\n", (int)getpid(), ct->spec) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "%s: writing lock %s", ct->spec, path);
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

int ct_check_session(const struct ct *ct, const char *host, bool shell_job)
{
	pid_t sid = getsid(ct->root);

	if (shell_job || sid == ct->root)
		return 0;
	if (sid < 0)
		return ph_seterr_errno(PH_ESYS, "%s: session of pid %d", ct->spec, (int)ct->root);
	return ph_seterr(PH_ECOMPAT,
			 "check 'session' failed on %s: the root of %s (pid %d) does not lead its "
			 "session (session %d, led outside the tree), which CRIU cannot dump; "
			 "start it with setsid, or migrate it with --shell-job",
			 host, ct->spec, (int)ct->root, (int)sid);
}

int ct_img_write(const char *images_dir, const char *img, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", images_dir, img);
	f = fopen(path, "we");
	if (!f || fprintf(f, "%s", text) < 0 || fclose(f) != 0) {
		if (f)
			fclose(f);
		return ph_seterr_errno(PH_ESYS, "writing %s", path);
	}
	return 0;
}

int ct_img_dir(const struct ct *ct, const char *images_dir, const char *img, const char *what,
	       const char *file, char *dir, size_t len)
{
	char path[PATH_MAX], real[PATH_MAX];
	uint8_t *buf = NULL;
	struct stat st;
	size_t n;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", images_dir, img);
	if ((ret = read_file(path, PATH_MAX - 1, &buf, &n)) < 0)
		return ph_errctx(ret, "%s: the %s path", ct->spec, what);
	snprintf(dir, len, "%.*s", (int)n, (const char *)buf);
	free(buf);
	if (strlen(dir) != n || dir[0] != '/' || !realpath(dir, real) || strcmp(real, dir)) {
		ph_strvis_inplace(dir, 128);
		return ph_seterr(
			PH_EPATH,
			"%s: %s '%s' from the source is not a canonical absolute path here",
			ct->spec, what, dir);
	}
	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return ph_seterr(PH_EPATH, "%s: %s path too long", ct->spec, what);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return ph_seterr(PH_ENOENT, "%s: no %s here (was the %s synced?)", ct->spec, path,
				 what);
	return 0;
}

void ct_facts_fill(const char *spec, const char *path, const char *image, Phaul__HostFacts *f)
{
	static struct ct ct; /* large; the agent answers one check at a time */
	struct ct_facts cf = { 0 };
	int ret;

	if (ct_parse(spec, &ct) < 0)
		return;
	if (path && strnlen(path, PATH_MAX) == PATH_MAX) {
		pr_warn("check of %s: directory path too long, not looked up", ct.spec);
		path = NULL;
	}
	if (image && strnlen(image, CT_IMAGE_MAX) == CT_IMAGE_MAX) {
		pr_warn("check of %s: image name too long, not looked up", ct.spec);
		image = NULL;
	}
	if (image)
		snprintf(cf.image, sizeof(cf.image), "%s", image);
	if ((ret = ct.ops->probe(&ct, path, &cf)) == -PH_ENOTSUP)
		return;
	if (ret < 0) {
		/* unknown counts as missing: the source refuses */
		pr_warn("check of %s: %s", ct.spec, ph_errmsg());
		cf.runtime[0] = '\0';
	}
	f->ct_runtime = strdup(cf.runtime);
	f->has_ct_id_busy = 1;
	f->ct_id_busy = cf.id_busy;
	f->has_ct_path_busy = 1;
	f->ct_path_busy = cf.path_busy;
	if (image) {
		f->has_ct_image_present = 1;
		f->ct_image_present = cf.image_present;
	}
}
