// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caps.h"
#include "err.h"
#include "images.h"
#include "log.h"
#include "proto/msg.h"
#include "util.h"

bool images_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 255 || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

int images_iter_dir(const char *dir, uint32_t iter, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%u", dir, iter);

	if (n < 0 || (size_t)n >= len)
		return ph_seterr(PH_EPATH, "work dir path too long: %.64s...", dir);
	return 0;
}

void images_parent(uint32_t parent, char *out, size_t len)
{
	snprintf(out, len, "../%u", parent);
}

static bool is_image(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, ".img") && images_name_ok(name);
}

static int send_one(struct mux *m, uint32_t iter, int dirfd, const char *name, uint64_t *bytes)
{
	Phaul__Msg msg = PHAUL__MSG__INIT;
	Phaul__ImageFile f = PHAUL__IMAGE_FILE__INIT;
	uint8_t *buf = NULL;
	struct stat st;
	uint64_t left;
	int fd, ret;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = ph_seterr_errno(PH_ESYS, "image %s", name);
		goto out;
	}
	f.iter = iter;
	f.name = (char *)name;
	f.size = (uint64_t)st.st_size;
	f.has_mode = 1;
	f.mode = st.st_mode & 0777;
	msg.body_case = PHAUL__MSG__BODY_IMAGE_FILE;
	msg.image_file = &f;
	if ((ret = msg_send(m, &msg)) < 0)
		goto out;
	buf = malloc(PH_FRAME_MAX);
	if (!buf) {
		ret = ph_seterr(PH_ENOMEM, "image buffer");
		goto out;
	}
	for (left = f.size; left;) {
		ssize_t n = read(fd, buf, left < PH_FRAME_MAX ? left : PH_FRAME_MAX);

		if (n <= 0) {
			ret = ph_seterr_errno(PH_ESYS, "reading image %s", name);
			goto out;
		}
		if ((ret = mux_send(m, MUX_IMAGES, buf, (size_t)n)) < 0)
			goto out;
		left -= (uint64_t)n;
	}
	ret = mux_send_eof(m, MUX_IMAGES);
	*bytes += f.size;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

int images_send(struct mux *m, uint32_t iter, const char *dir, uint32_t *count, uint64_t *bytes)
{
	Phaul__Msg msg = PHAUL__MSG__INIT;
	Phaul__ImagesDone done = PHAUL__IMAGES_DONE__INIT;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	*count = 0;
	*bytes = 0;
	d = opendir(dir);
	if (!d)
		return ph_seterr_errno(PH_ESYS, "opening images dir %s", dir);
	while ((de = readdir(d))) {
		if (!is_image(de->d_name))
			continue;
		if ((ret = send_one(m, iter, dirfd(d), de->d_name, bytes)) < 0)
			break;
		(*count)++;
	}
	closedir(d);
	if (ret < 0)
		return ret;
	done.iter = iter;
	done.count = *count;
	msg.body_case = PHAUL__MSG__BODY_IMAGES_DONE;
	msg.images_done = &done;
	return msg_send(m, &msg);
}

int images_recv(struct mux *m, int dirfd, const Phaul__ImageFile *f, const char *host)
{
	uint64_t got = 0;
	uint8_t *buf = NULL;
	int fd = -1, ret = 0;
	long n;

	if (!images_name_ok(f->name))
		return ph_seterr(PH_EPATH, "%s: refused image name '%.64s' (plain file names only)",
				 host, f->name);
	if (f->size > PH_IMAGE_FILE_MAX)
		return ph_seterr(PH_ETOOBIG, "%s: image %s announced %llu bytes (max %llu)", host,
				 f->name, (unsigned long long)f->size,
				 (unsigned long long)PH_IMAGE_FILE_MAX);
	fd = openat(dirfd, f->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    (f->has_mode ? f->mode : 0600) & 0777);
	if (fd < 0)
		return ph_seterr_errno(PH_ESYS, "%s: creating image %s", host, f->name);
	buf = malloc(PH_FRAME_MAX);
	if (!buf) {
		ret = ph_seterr(PH_ENOMEM, "image buffer");
		goto out;
	}
	while ((n = mux_recv(m, MUX_IMAGES, buf, PH_FRAME_MAX, -1)) > 0) {
		if (got + (uint64_t)n > f->size) {
			ret = ph_seterr(PH_EPROTO,
					"%s: image %s: more than the announced %llu bytes", host,
					f->name, (unsigned long long)f->size);
			goto out;
		}
		if (write_full(fd, buf, (size_t)n) < 0) {
			ret = ph_seterr_errno(errno == ENOSPC ? PH_ENOSPC : PH_ESYS,
					      "%s: writing image %s", host, f->name);
			goto out;
		}
		got += (uint64_t)n;
	}
	if (n < 0) {
		ret = (int)n;
		goto out;
	}
	if (got != f->size) {
		ret = ph_seterr(PH_EPROTO, "%s: image %s: got %llu of the announced %llu bytes",
				host, f->name, (unsigned long long)got,
				(unsigned long long)f->size);
		goto out;
	}
	/*
	 * No fsync: restore reads these from the page cache right away, and
	 * it would add to the downtime. ENOSPC shows at write() time.
	 */
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlinkat(dirfd, f->name, 0);
	return ret;
}
