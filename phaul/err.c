// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "util.h"

#define PH_ERRMSG_MAX 1024

static __thread char errbuf[PH_ERRMSG_MAX];
static __thread int lasterr;

static const char *const errtab[PH_E_MAX] = {
	[PH_OK] = "success",
	[PH_ESYS] = "system call failed",
	[PH_ENOMEM] = "out of memory",
	[PH_EPROTO] = "protocol violation by peer",
	[PH_ETOOBIG] = "length exceeds limit",
	[PH_ETRUNC] = "truncated stream",
	[PH_EEOF] = "connection closed by peer",
	[PH_EAUTH] = "authentication failed",
	[PH_EHOSTKEY] = "host key verification failed",
	[PH_ESSH] = "ssh error",
	[PH_ETIMEDOUT] = "timed out",
	[PH_ECRIU] = "CRIU failed",
	[PH_ECOMPAT] = "hosts are not compatible",
	[PH_ECONFIG] = "configuration error",
	[PH_EUSAGE] = "usage error",
	[PH_EZSTD] = "compression error",
	[PH_EPATH] = "path escapes the work directory",
	[PH_ENOSPC] = "no space left on device",
	[PH_EINTR] = "interrupted",
	[PH_EPEER] = "peer reported failure",
	[PH_EVERSION] = "incompatible protocol version",
	[PH_ENOTSUP] = "not supported on this host",
	[PH_EHOOK] = "hook failed",
	[PH_ERSYNC] = "rsync failed",
	[PH_ENOENT] = "not found",
	[PH_EROLLBACK] = "rollback failed",
	[PH_ELIMIT] = "downtime limit cannot be met",
	[PH_EUNKNOWN] = "outcome unknown: run phaul recover",
};

const char *ph_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= PH_E_MAX || !errtab[err])
		return "unknown error";
	return errtab[err];
}

/* An error text may quote the peer: keep it one printable line (see ph_strvis()). */
static void errvis(void)
{
	char tmp[PH_ERRMSG_MAX];

	ph_strvis(tmp, sizeof(tmp), errbuf);
	memcpy(errbuf, tmp, sizeof(errbuf));
}

static int vset(int err, int with_errno, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static int vset(int err, int with_errno, const char *fmt, va_list ap)
{
	char tmp[sizeof(errbuf)]; /* an argument may be ph_errmsg() itself */
	int saved = errno;
	int n;

	if (err < 0)
		err = -err;
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof(tmp))
		snprintf(tmp + n, sizeof(tmp) - n, ": %s", strerror(saved));
	memcpy(errbuf, tmp, sizeof(errbuf));
	errvis();
	lasterr = err;
	errno = saved;
	return -err;
}

int ph_seterr(int err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vset(err, 0, fmt, ap);
	va_end(ap);
	return r;
}

int ph_seterr_errno(int err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vset(err, 1, fmt, ap);
	va_end(ap);
	return r;
}

int ph_errctx(int ret, const char *fmt, ...)
{
	char prefix[256], old[PH_ERRMSG_MAX];
	va_list ap;
	size_t n, len;

	if (ret >= 0)
		return ret;
	snprintf(old, sizeof(old), "%s", ph_errmsg());
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	/* prefix + ": " + old, cut to fit */
	n = strlen(prefix);
	memcpy(errbuf, prefix, n);
	memcpy(errbuf + n, ": ", 3);
	n += 2;
	len = strlen(old);
	if (len > sizeof(errbuf) - n - 1)
		len = sizeof(errbuf) - n - 1;
	memcpy(errbuf + n, old, len);
	errbuf[n + len] = '\0';
	errvis();
	lasterr = -ret;
	return ret;
}

const char *ph_errmsg(void)
{
	if (errbuf[0])
		return errbuf;
	return ph_strerror(lasterr);
}

int ph_lasterr(void)
{
	return lasterr;
}

void ph_clearerr(void)
{
	errbuf[0] = '\0';
	lasterr = 0;
}
