// SPDX-License-Identifier: GPL-2.0
/*
 * What the agent lets the peer run: exactly the rsync receiver command line
 * fss_sync() produces, into a path under the configured root. The peer
 * never chooses the program, a remote shell, a daemon, a sender, a log or
 * batch file, or any option that reads or writes outside the destination.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caps.h"
#include "err.h"
#include "fss.h"

/* Letters of the short-option cluster -aHAXS gives the server (rsync 3.2 .. 3.5). */
static const char short_ok[] = "lHogDtpAXrS";

static const char *const long_ok[] = { "--delete", "--numeric-ids", "--stats" };

/* A printable, bounded copy of a peer's string for an error message. */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t i;

	/* len >= 4: room for "..." and the NUL after a cut */
	for (i = 0; s[i] && i + 4 < len; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i])
		strcpy(buf + i, "...");
	else
		buf[i] = '\0';
	return buf;
}

/* "-lHogDtpAXrSe.iLsfxCIvu": known letters, then rsync's "e.<capabilities>". */
static bool short_cluster_ok(const char *a)
{
	const char *p = a + 1;

	if (a[0] != '-' || !*p || *p == '-')
		return false;
	for (; *p && *p != 'e'; p++)
		if (!strchr(short_ok, *p))
			return false;
	if (!*p)
		return true;
	/* What follows "e" is the client's capability string, never a shell. */
	if (p[1] != '.')
		return false;
	for (p += 2; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '.'))
			return false;
	return true;
}

static bool timeout_ok(const char *a)
{
	const char *v;
	size_t n;

	if (strncmp(a, "--timeout=", strlen("--timeout=")))
		return false;
	v = a + strlen("--timeout=");
	n = strlen(v);
	return n > 0 && n <= 6 && strspn(v, "0123456789") == n && v[0] != '0';
}

static bool option_ok(const char *a, bool *had_cluster)
{
	size_t i;

	for (i = 0; i < sizeof(long_ok) / sizeof(long_ok[0]); i++)
		if (!strcmp(a, long_ok[i]))
			return true;
	if (timeout_ok(a))
		return true;
	if (*had_cluster || !short_cluster_ok(a))
		return false;
	*had_cluster = true;
	return true;
}

int fss_check_args(const char *const *args, size_t nargs, const char *dest)
{
	bool cluster = false;
	char b[80];
	size_t i;

	if (nargs < 4 || nargs > PH_FSS_ARGS_MAX)
		return ph_seterr(PH_EPROTO, "FsSyncStart has %zu arguments (allowed 4..%u)", nargs,
				 PH_FSS_ARGS_MAX);
	for (i = 0; i < nargs; i++)
		if (!args[i] || strnlen(args[i], PH_FSS_ARG_MAX + 1) > PH_FSS_ARG_MAX)
			return ph_seterr(PH_ETOOBIG,
					 "FsSyncStart argument %zu is missing or longer "
					 "than %u bytes",
					 i, PH_FSS_ARG_MAX);
	if (strcmp(args[0], "rsync") || strcmp(args[1], "--server"))
		return ph_seterr(PH_EPROTO,
				 "FsSyncStart is not an rsync receiver command line: "
				 "it starts with '%s'",
				 shown(args[0], b, sizeof(b)));
	for (i = 2; i < nargs - 2; i++)
		if (!option_ok(args[i], &cluster))
			return ph_seterr(PH_EPROTO,
					 "FsSyncStart argument %zu '%s' is not allowed "
					 "(only the receiver options phaul's fs-sync sends)",
					 i, shown(args[i], b, sizeof(b)));
	if (strcmp(args[nargs - 2], "."))
		return ph_seterr(PH_EPROTO,
				 "FsSyncStart argument %zu '%s' is not allowed (want '.')",
				 nargs - 2, shown(args[nargs - 2], b, sizeof(b)));
	if (!dest || strcmp(args[nargs - 1], dest))
		return ph_seterr(PH_EPATH,
				 "FsSyncStart destination argument '%s' differs from "
				 "its dest",
				 shown(args[nargs - 1], b, sizeof(b)));
	return 0;
}

/* Characters rsync passes to the remote side unescaped; anything else is refused. */
static bool path_chars_ok(const char *p, char *bad)
{
	static const char extra[] = "._+,=@%:/-";

	for (; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(extra, *p))
			continue;
		*bad = *p;
		return false;
	}
	return true;
}

/* Length of root without trailing slashes ("/" stays 1). */
static size_t root_len(const char *root, size_t n)
{
	while (n > 1 && root[n - 1] == '/')
		n--;
	return n;
}

/* Is dest at or under the root root[0..n)? */
static bool under_root(const char *dest, const char *root, size_t n)
{
	n = root_len(root, n);
	if (n == 1)
		return true;
	return !strncmp(dest, root, n) && (dest[n] == '\0' || dest[n] == '/');
}

size_t fss_pick_root(const char *dest, const char *roots, const char **root)
{
	const char *r = roots, *best = NULL;
	size_t n, best_n = 0;

	*root = NULL;
	for (r += strspn(r, FSS_ROOT_SEP); *r; r += n, r += strspn(r, FSS_ROOT_SEP)) {
		n = strcspn(r, FSS_ROOT_SEP);
		if (r[0] == '/' && under_root(dest, r, n) && root_len(r, n) > best_n) {
			best = r;
			best_n = root_len(r, n);
		}
	}
	*root = best;
	return best_n;
}

static bool roots_ok(const char *roots)
{
	const char *r;
	size_t n;

	if (!roots || !roots[strspn(roots, FSS_ROOT_SEP)])
		return false;
	for (r = roots + strspn(roots, FSS_ROOT_SEP); *r; r += n, r += strspn(r, FSS_ROOT_SEP))
		if (r[0] != '/' || (n = strcspn(r, FSS_ROOT_SEP)) >= PH_PATH_MAX)
			return false;
	return true;
}

int fss_check_dest_lexical(const char *dest, const char *roots)
{
	char b[80], bad = 0;
	const char *c, *root;

	if (!roots_ok(roots))
		return ph_seterr(PH_ENOTSUP, "fs-sync is not enabled on this agent (fs_root in its "
					     "config is empty or not a list of absolute paths)");
	if (!dest || dest[0] != '/' || strnlen(dest, PH_PATH_MAX + 1) > PH_PATH_MAX)
		return ph_seterr(PH_EPATH,
				 "fs-sync destination '%s' is not an absolute path of at "
				 "most %u bytes",
				 dest ? shown(dest, b, sizeof(b)) : "", PH_PATH_MAX);
	if (!path_chars_ok(dest, &bad))
		return ph_seterr(PH_EPATH,
				 "fs-sync destination '%s' contains byte 0x%02x (allowed: "
				 "letters, digits and ._+,=@%%:/-)",
				 shown(dest, b, sizeof(b)), (unsigned char)bad);
	for (c = dest; *c; c = strchrnul(c + 1, '/')) {
		const char *s = c + 1, *e = strchrnul(s, '/');

		if ((e - s == 1 && s[0] == '.') || (e - s == 2 && s[0] == '.' && s[1] == '.') ||
		    (e == s && *e))
			return ph_seterr(PH_EPATH,
					 "fs-sync destination '%s' has a '.', '..' or "
					 "empty component",
					 shown(dest, b, sizeof(b)));
	}
	if (!fss_pick_root(dest, roots, &root))
		return ph_seterr(PH_EPATH,
				 "fs-sync destination '%s' is outside the agent's fs_root "
				 "(%.200s)",
				 shown(dest, b, sizeof(b)), roots);
	return 0;
}
