// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

static bool vis_ok(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

char *ph_strvis(char *dst, size_t len, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!len)
		return dst;
	for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p; p++) {
		char e[4];
		size_t n = 1;

		e[0] = (char)*p;
		if (!vis_ok(*p)) {
			e[0] = '\\';
			n = 2;
			if (*p == '\n' || *p == '\r' || *p == '\t') {
				e[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
			} else {
				e[1] = 'x';
				e[2] = hex[*p >> 4];
				e[3] = hex[*p & 15];
				n = 4;
			}
		}
		if (o + n >= len) {
			/* cut: end in "..." where it fits */
			size_t dots = len > 4 ? 3 : len - 1;

			o = o < len - 1 - dots ? o : len - 1 - dots;
			memset(dst + o, '.', dots);
			o += dots;
			break;
		}
		memcpy(dst + o, e, n);
		o += n;
	}
	dst[o] = '\0';
	return dst;
}

void ph_strvis_inplace(char *s, size_t cap)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; s[i] && i < cap; i++)
		if (!vis_ok((unsigned char)s[i]))
			s[i] = '?';
	s[i] = '\0';
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		return ph_seterr_errno(PH_ESYS, "removing %s", path);
	return 0;
}

int rm_tree(const char *path)
{
	int r = nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	if (r < 0 && errno == ENOENT)
		return 0;
	return r ? -PH_ESYS : 0;
}

int mkdir_p(const char *path, unsigned mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return ph_seterr(PH_EPATH, "path too long: %.64s...", path);
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return ph_seterr_errno(PH_ESYS, "creating %s", buf);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return ph_seterr_errno(PH_ESYS, "creating %s", buf);
	return 0;
}

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t u64_file_load(const char *path)
{
	char text[32];
	unsigned long long v;

	if (read_text(path, text, sizeof(text)) < 0 || sscanf(text, "%llu", &v) != 1)
		return 0;
	return v;
}

void u64_file_save(const char *path, uint64_t v)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (!v || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%llu\n", (unsigned long long)v);
	if (fclose(f) == 0)
		rename(tmp, path);
}

void u64_file_blend(const char *path, uint64_t v)
{
	uint64_t old = u64_file_load(path);

	if (old && v && old <= UINT64_MAX / 4 && v <= UINT64_MAX / 4)
		v = (3 * old + v) / 4;
	u64_file_save(path, v);
}

int find_exe(const char *name, const char *env, const char *fallback_dir, char *path, size_t len)
{
	const char *val = env ? getenv(env) : NULL, *p, *end;
	char dirs[4096];
	int n;

	if (val && *val) {
		snprintf(path, len, "%s", val);
		return 0;
	}
	snprintf(dirs, sizeof(dirs), "%s", getenv("PATH") ?: "/usr/bin:/bin");
	for (p = dirs; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		n = snprintf(path, len, "%.*s/%s", (int)(end - p), p, name);
		if (n > 0 && (size_t)n < len && access(path, X_OK) == 0)
			return 0;
	}
	snprintf(path, len, "%s/%s", fallback_dir, name);
	return access(path, X_OK) == 0 ? 0 : -1;
}

uint64_t proc_kb(const char *path, const char *field)
{
	size_t flen = strlen(field);
	unsigned long long kb = 0;
	char line[256];
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			sscanf(line + flen + 1, "%llu", &kb);
			break;
		}
	}
	fclose(f);
	return kb;
}

int read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	struct stat st;
	int fd, ret = 0;
	ssize_t n;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "reading %s", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		ret = ph_seterr(PH_ETOOBIG, "%s has %lld bytes (max %zu)", path,
				(long long)st.st_size, max);
		goto out;
	}
	*buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!*buf) {
		ret = ph_seterr(PH_ENOMEM, "reading %s", path);
		goto out;
	}
	n = read(fd, *buf, (size_t)st.st_size);
	if (n != st.st_size) {
		free(*buf);
		*buf = NULL;
		ret = ph_seterr_errno(PH_ESYS, "short read of %s", path);
		goto out;
	}
	*len = (size_t)n;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int read_text(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "reading %s", path);
	n = len ? read_full(fd, buf, len - 1) : 0;
	if (n < 0) {
		close(fd);
		return ph_seterr_errno(PH_ESYS, "reading %s", path);
	}
	got = (size_t)n;
	close(fd);
	buf[got] = '\0';
	if (got + 1 == len)
		return ph_seterr(PH_ETOOBIG, "%s is larger than %zu bytes", path, len - 1);
	return 0;
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	bool sock = true;

	while (len) {
		ssize_t n = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);

		if (n < 0 && sock && errno == ENOTSOCK) {
			sock = false;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

bool ph_id_valid(const char *id, size_t max)
{
	size_t n = 0;

	for (; id[n]; n++)
		if (n == max ||
		    !((id[n] >= 'a' && id[n] <= 'z') || (id[n] >= 'A' && id[n] <= 'Z') ||
		      (id[n] >= '0' && id[n] <= '9') || id[n] == '-'))
			return false;
	return n > 0;
}
