// SPDX-License-Identifier: GPL-2.0
/* This host's facts, gathered from the kernel and /proc. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "caps.h"
#include "compat/compat.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define PM_SOFT_DIRTY (1ull << 55)

/*
 * Soft-dirty works when a page written after clearing the bits shows bit 55
 * in pagemap. Kernels without CONFIG_MEM_SOFT_DIRTY accept the clear but
 * never set the bit, so the write-then-read test is the only reliable one.
 */
bool compat_soft_dirty(void)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t ent = 0;
	bool ok = false;
	int cfd = -1, pfd = -1;
	char *p;

	p = mmap(NULL, psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	p[0] = 1;
	cfd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (cfd < 0 || write(cfd, "4", 1) != 1)
		goto out;
	p[0] = 2;
	pfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		goto out;
	if (pread(pfd, &ent, sizeof(ent), ((uintptr_t)p / psz) * sizeof(ent)) != sizeof(ent))
		goto out;
	ok = (ent & PM_SOFT_DIRTY) != 0;
out:
	if (cfd >= 0)
		close(cfd);
	if (pfd >= 0)
		close(pfd);
	munmap(p, psz);
	return ok;
}

/* Free space for the work dir, or its nearest existing parent. */
static uint64_t disk_avail_kb(const char *dir)
{
	char path[PATH_MAX];
	struct statvfs sv;

	snprintf(path, sizeof(path), "%s", dir ? dir : "/");
	while (statvfs(path, &sv) < 0) {
		char *slash = strrchr(path, '/');

		if (!slash || slash == path) {
			if (statvfs("/", &sv) < 0)
				return 0;
			break;
		}
		*slash = '\0';
	}
	return (uint64_t)sv.f_bavail * sv.f_frsize / 1024;
}

static int pid_in_use(uint32_t pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

int compat_local_facts(const struct compat_probe *p, Phaul__HostFacts *f)
{
	char host[256] = "", rsync[PATH_MAX];
	struct utsname u;
	int ret;

	phaul__host_facts__init(f);
	/* Fault injection: the probe fails before any field is set. */
	if (getenv("PHAUL_FAULT_FACTS")) {
		errno = EIO;
		return ph_seterr_errno(PH_ESYS, "uname");
	}
	if (uname(&u) < 0)
		return ph_seterr_errno(PH_ESYS, "uname");
	gethostname(host, sizeof(host) - 1);
	f->hostname = xstrdup(host);
	f->arch = xstrdup(u.machine);
	f->kernel = xstrdup(u.release);
	f->has_page_size = f->has_mem_avail_kb = f->has_disk_avail_kb = 1;
	f->page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	f->mem_avail_kb = proc_kb("/proc/meminfo", "MemAvailable");
	f->disk_avail_kb = disk_avail_kb(p->work_dir);
	f->work_dir = xstrdup(p->work_dir);
	f->has_soft_dirty = 1;
	f->soft_dirty = compat_soft_dirty();
	f->has_rsync_ok = 1;
	f->rsync_ok = find_exe("rsync", "PHAUL_RSYNC", "/usr/bin", rsync, sizeof(rsync)) == 0 &&
		      access(rsync, X_OK) == 0;

	f->pids_busy = calloc(p->npids ? p->npids : 1, sizeof(uint32_t));
	if (!f->pids_busy)
		return ph_seterr(PH_ENOMEM, "pid list");
	for (size_t i = 0; i < p->npids; i++) {
		if (!pid_in_use(p->pids[i]))
			continue;
		if (f->n_pids_busy < PH_CHECK_BUSY_LIST_MAX)
			f->pids_busy[f->n_pids_busy++] = p->pids[i];
		else
			f->pids_busy_more++;
	}
	f->has_pids_busy_more = f->pids_busy_more > 0;

	ret = p->criu ? compat_criu_facts(p, f) : 0;
	if (!f->criu_version)
		f->criu_version = xstrdup("");
	if (!f->criu_msg)
		f->criu_msg = xstrdup(p->criu ? "" : "not probed");
	if (!f->cpu_msg)
		f->cpu_msg = xstrdup("");
	return ret;
}

void compat_facts_free(Phaul__HostFacts *f)
{
	if (!f)
		return;
	free(f->hostname);
	free(f->arch);
	free(f->kernel);
	free(f->criu_version);
	free(f->criu_msg);
	free(f->work_dir);
	free(f->pids_busy);
	free(f->cpu_msg);
	free(f->files_missing);
	free(f->files_differ);
	free(f->ct_runtime);
	phaul__host_facts__init(f);
}
