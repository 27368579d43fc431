// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: engine/pstore.c (the flat page store) over arbitrary
 * page-server streams from the peer, several sessions per input. The first
 * byte picks the record size (split headers and payloads), the second the
 * I/O backend. Each session ends at FORCE_CLOSE or at the input's end; the
 * store must refuse or apply, never crash, leak or write outside its dir.
 * page_size 4096; a fresh store (in a tmpfs dir if /dev/shm exists) per input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/pstore.h"
#include "util.h"

struct feed {
	const uint8_t *data;
	size_t size, off, rec;
	bool session_over;
};

static int f_send(void *arg, const void *buf, size_t len)
{
	return 0;
}

static int f_eof(void *arg)
{
	return 0;
}

/* Records of f->rec bytes; 0 (end of session) once the input runs out. */
static long f_recv(void *arg, void *buf, size_t cap, int timeout_ms)
{
	struct feed *f = arg;
	size_t n = f->size - f->off;

	if (!n)
		return 0;
	if (n > f->rec)
		n = f->rec;
	if (n > cap)
		n = cap;
	memcpy(buf, f->data + f->off, n);
	f->off += n;
	return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[64];
	struct feed f = { .data = data, .size = size, .off = 2 };
	struct relay_io io = { f_send, f_eof, f_recv, &f };
	struct psx_parser p;
	struct pstore *s;

	if (size < 2)
		return 0;
	f.rec = (size_t)data[0] * 97 % 65536 + 1;
	snprintf(dir, sizeof(dir), "%s/fuzz-pstore.%d",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
	if (pstore_open(&s, dir, data[1] & 1 ? PIO_PLAIN : PIO_AUTO) < 0)
		return 0;
	for (int i = 0; i < 8 && f.off < f.size; i++) {
		psx_init(&p, 4096);
		if (pstore_session(s, &p, &io, 1000) < 0)
			break;
	}
	pstore_write_images(s);
	pstore_close(s);
	rm_tree(dir);
	return 0;
}
