// SPDX-License-Identifier: GPL-2.0
/* phaul status, cancel and set: clients of the control socket (control.h). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "caps.h"
#include "cli.h"
#include "control.h"
#include "err.h"
#include "event.h"
#include "log.h"
#include "mrec.h"
#include "phaul.h"
#include "util.h"

/* A running migration answers within this (its live thread serves one client at a time). */
#define CTL_CALL_MS 3000
/* `phaul cancel` polls for the migration's end this often. */
#define CTL_CANCEL_POLL_MS 200

static int ctl_connect(const char *path, int *out)
{
	struct timeval tv = { .tv_sec = CTL_CALL_MS / 1000 };
	struct sockaddr_un sa;
	struct stat st;
	int fd, ret;

	*out = -1;
	if ((ret = control_sock_addr(path, &sa)) < 0)
		return ret;
	if (lstat(path, &st) < 0)
		return ph_seterr(PH_ENOENT, "no control socket %s", path);
	/* only root's sockets: the run dir is root's 0700, this says so again */
	if (!S_ISSOCK(st.st_mode) || st.st_uid != 0)
		return ph_seterr(PH_EPROTO, "%s is not a socket owned by root: ignored", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return ph_seterr_errno(PH_ESYS, "control socket");
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		/* renamed into place only once it listens: refused means its phaul is gone */
		if (e == ECONNREFUSED) {
			unlink(path);
			return ph_seterr(PH_ENOENT, "%s: its phaul is gone (stale socket removed)",
					 path);
		}
		errno = e;
		return ph_seterr_errno(e == ENOENT ? PH_ENOENT : PH_ESYS, "connect %s", path);
	}
	*out = fd;
	return 0;
}

/* The answer line, within CTL_CALL_MS, at most PH_CTL_REPLY_MAX bytes. */
static int read_answer(int fd, const char *path, char *buf, size_t cap)
{
	uint64_t end = now_us() + CTL_CALL_MS * 1000ull;
	size_t used = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_us();
		char *nl = memchr(buf, '\n', used);
		ssize_t n;

		if (nl) {
			*nl = '\0';
			return 0;
		}
		if (used + 1 >= cap)
			return ph_seterr(PH_ETOOBIG, "%s: answer longer than %zu bytes", path, cap);
		if (now >= end || poll(&pfd, 1, (int)((end - now) / 1000) + 1) <= 0)
			return ph_seterr(PH_ETIMEDOUT, "%s: no answer within %d ms", path,
					 CTL_CALL_MS);
		n = read(fd, buf + used, cap - 1 - used);
		if (n <= 0)
			return ph_seterr(PH_EEOF, "%s: closed without an answer", path);
		used += (size_t)n;
	}
}

int control_call(const char *path, const char *req, char *out, size_t len)
{
	char *buf = malloc(PH_CTL_REPLY_MAX + 1), line[PH_CTL_REQ_MAX];
	int fd = -1, ret, n = snprintf(line, sizeof(line), "%s\n", req);

	if (!buf)
		return ph_seterr(PH_ENOMEM, "control answer");
	if (n < 0 || (size_t)n >= sizeof(line)) {
		ret = ph_seterr(PH_ETOOBIG, "control request too long");
		goto out;
	}
	if ((ret = ctl_connect(path, &fd)) < 0 || (ret = write_full(fd, line, (size_t)n)) < 0 ||
	    (ret = read_answer(fd, path, buf, PH_CTL_REPLY_MAX + 1)) < 0)
		goto out;
	if (!strncmp(buf, "ok", 2) && (!buf[2] || buf[2] == ' ')) {
		snprintf(out, len, "%s", buf[2] ? buf + 3 : "");
	} else {
		char vis[512];

		ret = ph_seterr(
			PH_EPEER, "%s",
			ph_strvis(vis, sizeof(vis), strncmp(buf, "err ", 4) ? buf : buf + 4));
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* ---- the migrations running on this host ---- */

struct ctl_entry {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct progress_snap s;
};

static bool sock_name(const char *name, char *id, size_t len)
{
	size_t n = strlen(name);

	if (n <= 5 || strcmp(name + n - 5, ".sock") || n - 5 >= len)
		return false;
	memcpy(id, name, n - 5);
	id[n - 5] = '\0';
	return mrec_id_valid(id);
}

/* Every migration that answers status, into *out (malloc'd, the caller frees). */
static int list_running(const struct phaul_config *cfg, struct ctl_entry **out, size_t *n)
{
	char dir[PATH_MAX], id[PH_MIG_ID_MAX + 1], *ans = NULL;
	struct ctl_entry *e = NULL;
	struct dirent *d;
	DIR *dp;
	int ret = 0;

	*out = NULL;
	*n = 0;
	snprintf(dir, sizeof(dir), "%s/run", cfg->work_dir);
	if (!(dp = opendir(dir)))
		return errno == ENOENT ? 0 : ph_seterr_errno(PH_ESYS, "open %s", dir);
	if (!(e = calloc(PH_CTL_SOCKETS_MAX, sizeof(*e))) || !(ans = malloc(PH_CTL_REPLY_MAX))) {
		ret = ph_seterr(PH_ENOMEM, "listing migrations");
		goto out;
	}
	while ((d = readdir(dp)) && *n < PH_CTL_SOCKETS_MAX) {
		struct ctl_entry *x = &e[*n];

		if (!sock_name(d->d_name, id, sizeof(id)) ||
		    (size_t)snprintf(x->path, sizeof(x->path), "%s/%s", dir, d->d_name) >=
			    sizeof(x->path))
			continue;
		if (control_call(x->path, "status", ans, PH_CTL_REPLY_MAX) < 0 ||
		    progress_parse_json(ans, strlen(ans), &x->s) < 0) {
			/* a stale socket is no migration; say why only when asked */
			pr_debug("%s", ph_errmsg());
			continue;
		}
		(*n)++;
	}
out:
	closedir(dp);
	free(ans);
	if (ret < 0)
		free(e);
	else
		*out = e;
	return ret;
}

/* The running migration with this id or CT, or -PH_ENOENT naming what was looked for. */
static int find_one(const struct phaul_config *cfg, const char *what, struct ctl_entry *one)
{
	struct ctl_entry *e;
	size_t n;
	int ret = list_running(cfg, &e, &n);

	if (ret < 0)
		return ret;
	ret = ph_seterr(PH_ENOENT, "no migration %s runs on this host (work dir %s)", what,
			cfg->work_dir);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(e[i].s.id, what) && strcmp(e[i].s.ct, what))
			continue;
		*one = e[i];
		ret = 0;
		break;
	}
	free(e);
	return ret;
}

static void print_text(const struct progress_snap *s)
{
	char line[PROGRESS_LINE_MAX], vis[3][300];

	progress_line(s, line, sizeof(line));
	/* what the socket said is data: one printable line each */
	printf("%s  %s -> %s  %s, %.0f s (phaul pid %d)\n  %s\n",
	       ph_strvis(vis[0], sizeof(vis[0]), s->id), ph_strvis(vis[1], sizeof(vis[1]), s->ct),
	       ph_strvis(vis[2], sizeof(vis[2]), s->dst), s->phase, s->elapsed_us / 1e6, s->pid,
	       line);
}

static int parse_common(int argc, char **argv, const char *cmd, const struct option *opts,
			const char *usage, struct phaul_config *cfg, bool *json, uint64_t *limit_ms,
			uint64_t *bw, bool *has_bw)
{
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'w': snprintf(cfg->work_dir, sizeof(cfg->work_dir), "%s", optarg); break;
		case 'j': *json = true; break;
		case 'd':
			if (config_set(cfg, NULL, "downtime_limit_ms", optarg) < 0)
				return cli_usage_error(cmd, "--downtime-limit: %s", ph_errmsg());
			*limit_ms = cfg->downtime_limit_ms;
			break;
		case 'b':
			if (config_parse_size(optarg, bw) < 0)
				return cli_usage_error(
					cmd, "--bwlimit: '%s' is not a rate (100M, 1G)", optarg);
			*has_bw = true;
			break;
		case 'h': fputs(usage, stdout); exit(EXIT_OK);
		default: return cli_usage_hint(cmd);
		}
	}
	return 0;
}

const char status_usage[] =
	"Usage: phaul status [--json] [ID|CT]\n"
	"\n"
	"The migrations running on this host (all, or the one with this id or CT):\n"
	"id, CT, destination, phase, and the figures of the live status line.\n"
	"  --json        one {\"event\":\"status\"} line with every migration\n"
	"  --work-dir D  where the control sockets are (default from config)\n";

const struct option status_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "work-dir", required_argument, NULL, 'w' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_status(struct phaul_config *cfg, int argc, char **argv)
{
	struct ctl_entry *e = NULL;
	bool json = false, has_bw = false, any = false;
	uint64_t lim = 0, bw = 0;
	char host[256] = "";
	size_t n = 0;
	int ret;

	if ((ret = parse_common(argc, argv, "status", status_opts, status_usage, cfg, &json, &lim,
				&bw, &has_bw)) != 0)
		return ret;
	if (optind + 1 < argc)
		return cli_usage_error("status", "one ID or CT at most, got %d operands",
				       argc - optind);
	log_init("status", cfg->log_level);
	if (list_running(cfg, &e, &n) < 0) {
		fprintf(stderr, "phaul status: %s\n", ph_errmsg());
		return EXIT_FAILED;
	}
	gethostname(host, sizeof(host) - 1);
	if (json) {
		event_head(stdout, "status");
		printf(",\"host\":");
		report_json_str(stdout, host);
		printf(",\"migrations\":[");
	}
	for (size_t i = 0; i < n; i++) {
		const struct progress_snap *s = &e[i].s;

		if (optind < argc && strcmp(s->id, argv[optind]) && strcmp(s->ct, argv[optind]))
			continue;
		if (json) {
			if (any)
				putchar(',');
			event_head(stdout, "progress");
			progress_json_fields(stdout, s);
			printf("}");
		} else {
			print_text(s);
		}
		any = true;
	}
	if (json)
		printf("]}\n");
	else if (!any)
		printf("no migration %s%son %s\n", optind < argc ? argv[optind] : "running",
		       optind < argc ? " running " : " ", host);
	free(e);
	return optind < argc && !any ? EXIT_FAILED : EXIT_OK;
}

const char cancel_usage[] =
	"Usage: phaul cancel ID|CT\n"
	"\n"
	"Cancel a running migration as Ctrl-C on its phaul migrate would: before\n"
	"the commit point it rolls back (the source runs on, unchanged; its\n"
	"migrate exits 4, or 1 before anything moved). After the commit point it\n"
	"is refused: the migration completes on its own. Waits for it to end.\n"
	"  --work-dir D  where the control sockets are (default from config)\n";

const struct option cancel_opts[] = {
	{ "work-dir", required_argument, NULL, 'w' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The migration at path has ended (its socket is gone) within timeout_s: 0, else -PH_ETIMEDOUT. */
static int wait_gone(const char *path, int timeout_s)
{
	uint64_t end = now_us() + (uint64_t)timeout_s * 1000000;
	char *ans = malloc(PH_CTL_REPLY_MAX);

	if (!ans)
		return ph_seterr(PH_ENOMEM, "waiting for the end");
	while (now_us() < end) {
		if (control_call(path, "status", ans, PH_CTL_REPLY_MAX) == -PH_ENOENT) {
			free(ans);
			return 0;
		}
		usleep(CTL_CANCEL_POLL_MS * 1000);
	}
	free(ans);
	return ph_seterr(PH_ETIMEDOUT, "still running %d s after the cancel", timeout_s);
}

int cmd_cancel(struct phaul_config *cfg, int argc, char **argv)
{
	struct ctl_entry one;
	bool json = false, has_bw = false;
	uint64_t lim = 0, bw = 0;
	char ans[512];
	int ret;

	if ((ret = parse_common(argc, argv, "cancel", cancel_opts, cancel_usage, cfg, &json, &lim,
				&bw, &has_bw)) != 0)
		return ret;
	if (optind + 1 != argc)
		return cli_usage_error("cancel", "%s (usage: phaul cancel ID|CT)",
				       optind == argc ? "missing ID or CT" : "one ID or CT only");
	log_init("cancel", cfg->log_level);
	if (find_one(cfg, argv[optind], &one) < 0 ||
	    control_call(one.path, "cancel", ans, sizeof(ans)) < 0) {
		fprintf(stderr, "phaul cancel: %s\n", ph_errmsg());
		return EXIT_FAILED;
	}
	printf("cancelling migration %s of %s (phaul pid %d)\n", one.s.id, one.s.ct, one.s.pid);
	fflush(stdout);
	if (wait_gone(one.path, cfg->timeout_s) < 0) {
		fprintf(stderr, "phaul cancel: migration %s: %s\n", one.s.id, ph_errmsg());
		return EXIT_FAILED;
	}
	printf("migration %s ended; its phaul migrate reports how\n", one.s.id);
	return EXIT_OK;
}

const char set_usage[] =
	"Usage: phaul set ID|CT [--downtime-limit MS] [--bwlimit RATE]\n"
	"\n"
	"Change a running migration's limits (as virsh migrate-setmaxdowntime and\n"
	"migrate-setspeed do). The new figures show in phaul status at once.\n"
	"  --downtime-limit MS  the downtime limit from the next iteration's end on\n"
	"                       (pre-copy only; not with --policy fixed)\n"
	"  --bwlimit RATE       cap the link at once, bytes/s (100M, 1G; 0: no cap)\n"
	"  --work-dir D         where the control sockets are (default from config)\n";

const struct option set_opts[] = {
	{ "downtime-limit", required_argument, NULL, 'd' },
	{ "bwlimit", required_argument, NULL, 'b' },
	{ "work-dir", required_argument, NULL, 'w' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int set_one(const char *path, const char *what, unsigned long long v)
{
	char req[64], ans[512];

	snprintf(req, sizeof(req), "set %s %llu", what, v);
	if (control_call(path, req, ans, sizeof(ans)) < 0)
		return -1;
	printf("%s\n", ans);
	return 0;
}

int cmd_set(struct phaul_config *cfg, int argc, char **argv)
{
	struct ctl_entry one;
	bool json = false, has_bw = false;
	uint64_t lim = 0, bw = 0;
	int ret;

	if ((ret = parse_common(argc, argv, "set", set_opts, set_usage, cfg, &json, &lim, &bw,
				&has_bw)) != 0)
		return ret;
	if (optind + 1 != argc)
		return cli_usage_error("set",
				       "%s (usage: phaul set ID|CT [--downtime-limit MS] "
				       "[--bwlimit RATE])",
				       optind == argc ? "missing ID or CT" : "one ID or CT only");
	if (!lim && !has_bw)
		return cli_usage_error("set",
				       "nothing to set: --downtime-limit MS or --bwlimit RATE");
	if (bw > CTL_BWLIMIT_MAX)
		return cli_usage_error("set", "--bwlimit: at most %llu bytes/s",
				       (unsigned long long)CTL_BWLIMIT_MAX);
	log_init("set", cfg->log_level);
	if (find_one(cfg, argv[optind], &one) < 0 ||
	    (lim && set_one(one.path, "downtime-limit", (unsigned long long)lim) < 0) ||
	    (has_bw && set_one(one.path, "bwlimit", (unsigned long long)bw) < 0)) {
		fprintf(stderr, "phaul set: %s\n", ph_errmsg());
		return EXIT_FAILED;
	}
	return EXIT_OK;
}
