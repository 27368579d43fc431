/* SPDX-License-Identifier: GPL-2.0 */
/*
 * usk: the unix sockets of this network namespace from sock_diag, for the
 * source's pre-flight (compat/fdscan.c). Internal to compat/.
 */
#ifndef COMPAT_UNIXSK_H
#define COMPAT_UNIXSK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* sockets kept from one dump; a host with more is not checked */
#define USK_MAX (1u << 20)

struct usk {
	uint32_t ino;
	uint32_t peer; /* 0: not connected */
	uint8_t type;  /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	bool named;
	char name[108]; /* sun_path; abstract names start with '@' */
};

struct usk_table {
	struct usk *v;
	size_t n, cap;
};

/*
 * Fill t (owned: usk_free()) from a unix_diag dump. -1 when sock_diag is
 * missing (no unix_diag module), slow (5 s) or the host has more than
 * USK_MAX sockets; t is then empty.
 */
int usk_dump(struct usk_table *t);
/* The socket with inode ino, or NULL. */
const struct usk *usk_find(const struct usk_table *t, uint32_t ino);
void usk_free(struct usk_table *t);

#endif
