// SPDX-License-Identifier: GPL-2.0
/* The facts only CRIU can tell: its version, its own check, the CPU. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compat/compat.h"
#include "engine/criu.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define CPUINFO_IMG "cpuinfo.img"
#define CPUINFO_MAX (64u * 1024)

/* A private scratch dir for CRIU's images and logs, under work_dir. */
static int scratch_dir(const char *work_dir, const char *what, char *out, size_t len)
{
	int ret = mkdir_p(work_dir, 0700);

	if (ret < 0)
		return ret;
	snprintf(out, len, "%s/%s.XXXXXX", work_dir, what);
	if (!mkdtemp(out))
		return ph_seterr_errno(PH_ESYS, "creating %s", out);
	return 0;
}

int compat_cpuinfo_dump(const char *work_dir, uint8_t **buf, size_t *len)
{
	char dir[PATH_MAX], img[PATH_MAX + 32];
	int ret;

	*buf = NULL;
	*len = 0;
	if ((ret = scratch_dir(work_dir, "cpuinfo", dir, sizeof(dir))) < 0)
		return ret;
	if ((ret = criu_cpuinfo_dump(dir)) == 0) {
		snprintf(img, sizeof(img), "%s/" CPUINFO_IMG, dir);
		ret = read_file(img, CPUINFO_MAX, buf, len);
	}
	/* On failure the message names cpuinfo-dump.log in dir: keep it for the operator. */
	if (ret == 0)
		rm_tree(dir);
	return ret;
}

/* CPUINFO_CHECK of the source's image against this host's CPU. */
static void cpu_check(const struct compat_probe *p, Phaul__HostFacts *f)
{
	char dir[PATH_MAX], img[PATH_MAX + 32];
	int fd, ret;

	f->has_cpu_ok = 1;
	if (!p->cpuinfo) {
		f->cpu_msg = strdup(COMPAT_NO_CPUINFO);
		return;
	}
	if (p->cpuinfo_len > CPUINFO_MAX) {
		f->cpu_msg = strdup("source cpuinfo image too large");
		return;
	}
	if (scratch_dir(p->work_dir, "cpucheck", dir, sizeof(dir)) < 0) {
		f->cpu_msg = strdup(ph_errmsg());
		return;
	}
	snprintf(img, sizeof(img), "%s/" CPUINFO_IMG, dir);
	fd = open(img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, p->cpuinfo, p->cpuinfo_len) != (ssize_t)p->cpuinfo_len) {
		f->cpu_msg = strdup("cannot write the source's cpuinfo image");
	} else {
		ret = criu_cpuinfo_check(dir);
		f->cpu_ok = ret == 0;
		f->cpu_msg = strdup(ret == 0 ? "" : ph_errmsg());
	}
	if (fd >= 0)
		close(fd);
	/* a failed check's message names cpuinfo-check.log in dir: kept */
	if (f->cpu_ok)
		rm_tree(dir);
}

int compat_criu_facts(const struct compat_probe *p, Phaul__HostFacts *f)
{
	struct criu_version v;
	char dir[PATH_MAX], msg[512];

	if (criu_version(&v) < 0) {
		f->criu_msg = strdup(ph_errmsg());
		return 0; /* no CRIU is a fact for the table, not an error */
	}
	f->criu_version = strdup(v.str);
	f->has_criu_ok = 1;
	if (scratch_dir(p->work_dir, "check", dir, sizeof(dir)) < 0) {
		f->criu_msg = strdup(ph_errmsg());
		return 0;
	}
	f->criu_ok = criu_check(dir, msg, sizeof(msg)) == 0;
	f->criu_msg = strdup(f->criu_ok ? "" : ph_errmsg());
	/* On failure the message names check.log in dir: keep it for the operator. */
	if (f->criu_ok)
		rm_tree(dir);
	if (f->criu_ok) {
		struct criu_features feat;

		cpu_check(p, f);
		/* lazy restore: userfaultfd and its non-cooperative events */
		f->has_lazy_pages = 1;
		f->lazy_pages = criu_feature_check(&feat) == 0 && feat.lazy_pages &&
				!getenv("PHAUL_FAULT_NO_UFFD");
	}
	else
		f->cpu_msg = strdup("not checked: CRIU does not work here");
	return 0;
}
