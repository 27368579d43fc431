/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Image files of one dump, streamed from the source's iteration dir to the
 * destination's: an ImageFile message on the control stream announces
 * each file (name, size, mode), its bytes follow on the IMAGES stream and
 * end with an EOF record. Names are plain file names (no "/", no ".."),
 * created with O_EXCL|O_NOFOLLOW inside the receiving dir only.
 */
#ifndef PHAUL_IMAGES_H
#define PHAUL_IMAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "phaul.pb-c.h"
#include "transport/mux.h"

/*
 * The layout both sides share: iteration N's images in "<dir>/N", its
 * parent linked as "../N-1". PH_EPATH if the path does not fit in len.
 */
int images_iter_dir(const char *dir, uint32_t iter, char *out, size_t len);
void images_parent(uint32_t parent, char *out, size_t len);

/* Send every *.img in dir (and nothing else); *bytes gets the total. */
int images_send(struct mux *m, uint32_t iter, const char *dir, uint32_t *count, uint64_t *bytes);

/* Is name acceptable as an image file name from the peer? */
bool images_name_ok(const char *name);

/*
 * Receive the file announced by f into dirfd. PH_EPATH for a bad name,
 * PH_ETOOBIG for a size over the cap, PH_ENOSPC when the disk is full, and
 * PH_EPROTO when the stream carries more or fewer bytes than announced.
 * A partial file is removed. dirfd stays the caller's.
 */
int images_recv(struct mux *m, int dirfd, const Phaul__ImageFile *f, const char *host);

#endif
