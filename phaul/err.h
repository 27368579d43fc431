/* SPDX-License-Identifier: GPL-2.0 */
/*
 * phaul-wide error codes.
 *
 * The numeric values cross the wire between agents (a destination reports
 * its failure as a code plus a message): never renumber, only append.
 * Functions return 0 on success or a negative PH_E* value; the detail
 * (which check, which host, which value) goes into a per-thread message set
 * with ph_seterr() and read back with ph_errmsg().
 */
#ifndef PHAUL_ERR_H
#define PHAUL_ERR_H

#include <stdarg.h>

enum ph_err {
	PH_OK = 0,
	PH_ESYS = 1,	   /* a system call failed (errno in the message) */
	PH_ENOMEM = 2,	   /* allocation failed */
	PH_EPROTO = 3,	   /* peer sent something the protocol forbids */
	PH_ETOOBIG = 4,	   /* a length or count exceeds its named maximum */
	PH_ETRUNC = 5,	   /* stream ended inside a frame or record */
	PH_EEOF = 6,	   /* peer closed the connection */
	PH_EAUTH = 7,	   /* shared-secret or key authentication failed */
	PH_EHOSTKEY = 8,   /* ssh host key unknown or changed */
	PH_ESSH = 9,	   /* libssh2 reported an error */
	PH_ETIMEDOUT = 10, /* a deadline passed */
	PH_ECRIU = 11,	   /* CRIU refused or failed a request */
	PH_ECOMPAT = 12,   /* hosts are not compatible */
	PH_ECONFIG = 13,   /* bad configuration file or value */
	PH_EUSAGE = 14,	   /* bad command line */
	PH_EZSTD = 15,	   /* compression or decompression failed */
	PH_EPATH = 16,	   /* a path from the peer escapes the work dir */
	PH_ENOSPC = 17,	   /* no space left where data had to be written */
	PH_EINTR = 18,	   /* interrupted by the operator (SIGINT/SIGTERM) */
	PH_EPEER = 19,	   /* the peer reported a failure (message says which) */
	PH_EVERSION = 20,  /* incompatible protocol version */
	PH_ENOTSUP = 21,   /* feature not available on this host */
	PH_EHOOK = 22,	   /* a stage hook failed */
	PH_ERSYNC = 23,	   /* rsync failed */
	PH_ENOENT = 24,	   /* the named CT or file does not exist */
	PH_EROLLBACK = 25, /* rollback itself failed: source state uncertain */
	PH_ELIMIT = 26,	   /* the downtime limit cannot be met */
	PH_EUNKNOWN = 27,  /* outcome unknown: a lost answer; `phaul recover` */
	PH_E_MAX
};

/* Static description of a code; never NULL. Accepts negative or positive. */
const char *ph_strerror(int err);

/*
 * Record the detail of the current failure (printf-style) for this thread
 * and return -err, so callers can write: return ph_seterr(PH_EPROTO, ...);
 */
int ph_seterr(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like ph_seterr() and appends ": strerror(errno)". */
int ph_seterr_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current detail with more context ("connecting to h: <old>"). */
int ph_errctx(int ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The detail of the last ph_seterr() on this thread, or the code's text. */
const char *ph_errmsg(void);
int ph_lasterr(void);
void ph_clearerr(void);

#endif
