// SPDX-License-Identifier: GPL-2.0
/*
 * fs-sync with the real rsync between two real muxes over a socketpair:
 * the source thread runs fss_sync(), the agent thread fss_serve(). A tree
 * with everything a container root holds arrives identical, and again
 * after changes and deletions; bad requests are refused naming the bad
 * argument; a failing rsync is PH_ERSYNC with its exit code and words;
 * the shared-filesystem probe tells one directory from two.
 *
 * This binary is also its own "fs-rsh" (see main), as phaul is in use.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "caps.h"
#include "err.h"
#include "fs-sync/fss.h"
#include "fs-sync/fss_int.h"
#include "proto/msg.h"
#include "util.h"
#include "mux_pair.h"

struct pair {
	struct mux *a, *b; /* a: source, b: agent */
	char top[64];	   /* everything of one test lives here */
	char src[96], root[96], dst[128];
	pthread_t agent;
	int nreq; /* requests the agent thread serves */
	int serve_ret;
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	mux_pair_named(&p->a, "dsthost", &p->b, "srchost");
	strcpy(p->top, "/var/tmp/phaul-fss.XXXXXX");
	assert_non_null(mkdtemp(p->top));
	snprintf(p->src, sizeof(p->src), "%s/src", p->top);
	snprintf(p->root, sizeof(p->root), "%s/root", p->top);
	snprintf(p->dst, sizeof(p->dst), "%s/ct/rootfs", p->root);
	assert_int_equal(mkdir(p->src, 0755), 0);
	assert_int_equal(mkdir(p->root, 0755), 0);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	umount2(p->dst, MNT_DETACH);
	mux_close(p->a);
	mux_close(p->b);
	rm_tree(p->top);
	free(p);
	return 0;
}

/* ---- the agent: serve nreq fs requests, as its dispatch handler would ---- */

static void *agent_thread(void *arg)
{
	struct pair *p = arg;
	Phaul__Msg *in;
	int ret = 0;

	for (int i = 0; i < p->nreq && ret == 0; i++) {
		if ((ret = msg_recv(p->b, &in, 30000)) < 0)
			break;
		if (in->body_case == PHAUL__MSG__BODY_FS_START)
			ret = fss_serve(p->b, in->fs_start, p->root, "dsthost");
		else if (in->body_case == PHAUL__MSG__BODY_FS_PROBE)
			ret = fss_serve_probe(p->b, in->fs_probe, p->root, "dsthost");
		else
			ret = -PH_EPROTO;
		msg_free(in);
	}
	p->serve_ret = ret;
	return NULL;
}

static void agent_start(struct pair *p, int nreq)
{
	p->nreq = nreq;
	assert_int_equal(pthread_create(&p->agent, NULL, agent_thread, p), 0);
}

static void agent_join(struct pair *p)
{
	pthread_join(p->agent, NULL);
	assert_int_equal(p->serve_ret, 0);
}

/* ---- building and comparing trees ---- */

static void put(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void at(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static bool xattrs_ok;

static void build_tree(const char *d)
{
	char a[256], b[256];
	int fd;

	put(d, "plain", "hello\n");
	at(a, sizeof(a), d, "sub");
	assert_int_equal(mkdir(a, 0750), 0);
	put(a, "deep", "deep file\n");
	/* hard link */
	at(a, sizeof(a), d, "plain");
	at(b, sizeof(b), d, "sub/hardlink");
	assert_int_equal(link(a, b), 0);
	/* symlink, dangling on purpose: it must not be followed */
	at(a, sizeof(a), d, "link");
	assert_int_equal(symlink("/nonexistent/target", a), 0);
	/* sparse: 16 MiB with one written block in the middle */
	at(a, sizeof(a), d, "sparse");
	fd = open(a, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 << 20), 0);
	assert_int_equal(pwrite(fd, "data", 4, 8 << 20), 4);
	close(fd);
	/* FIFO and a device node */
	at(a, sizeof(a), d, "fifo");
	assert_int_equal(mkfifo(a, 0600), 0);
	at(a, sizeof(a), d, "null");
	if (mknod(a, S_IFCHR | 0666, makedev(1, 3)) < 0)
		print_message("mknod: %s (device node not tested)\n", strerror(errno));
	/* owner, mode, xattr */
	put(d, "owned", "owned by 1234\n");
	at(a, sizeof(a), d, "owned");
	assert_int_equal(chown(a, 1234, 1234), 0);
	assert_int_equal(chmod(a, 0640), 0);
	xattrs_ok = setxattr(a, "user.phaul", "v1", 2, 0) == 0;
	if (!xattrs_ok)
		print_message("setxattr: %s (xattrs not asserted)\n", strerror(errno));
}

/* rsync's own itemized dry run between the two trees: nothing to do. */
static void assert_same(const char *src, const char *dst)
{
	char cmd[512], line[512];
	int lines = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "rsync -n -i --delete -aHAXS --numeric-ids %s/ %s/ 2>&1", src,
		 dst);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		/* "." first: an unchanged entry listed for other reasons */
		if (line[0] == '.' && !strchr(line, '+') && strspn(line + 2, ".") >= 9)
			continue;
		print_message("differs: %s", line);
		lines++;
	}
	assert_int_equal(pclose(f), 0);
	assert_int_equal(lines, 0);
}

static void assert_details(const char *dst)
{
	char a[256], b[256], v[8];
	struct stat s1, s2;

	at(a, sizeof(a), dst, "plain");
	at(b, sizeof(b), dst, "sub/hardlink");
	assert_int_equal(stat(a, &s1), 0);
	assert_int_equal(stat(b, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);
	at(a, sizeof(a), dst, "sparse");
	assert_int_equal(stat(a, &s1), 0);
	assert_int_equal(s1.st_size, 16 << 20);
	assert_true(s1.st_blocks * 512 < (1 << 20));
	at(a, sizeof(a), dst, "fifo");
	assert_int_equal(lstat(a, &s1), 0);
	assert_true(S_ISFIFO(s1.st_mode));
	at(a, sizeof(a), dst, "link");
	assert_int_equal(lstat(a, &s1), 0);
	assert_true(S_ISLNK(s1.st_mode));
	at(a, sizeof(a), dst, "owned");
	assert_int_equal(stat(a, &s1), 0);
	assert_int_equal(s1.st_uid, 1234);
	assert_int_equal(s1.st_gid, 1234);
	assert_int_equal(s1.st_mode & 07777, 0640);
	if (xattrs_ok) {
		assert_int_equal(getxattr(a, "user.phaul", v, sizeof(v)), 2);
		assert_memory_equal(v, "v1", 2);
	}
}

/* The CT's directory has the source's mode; the parent phaul made is root's only. */
static void assert_dir_modes(struct pair *p)
{
	struct stat s1, s2;
	char parent[160];

	assert_int_equal(stat(p->src, &s1), 0);
	assert_int_equal(stat(p->dst, &s2), 0);
	assert_int_equal(s2.st_mode & 07777, s1.st_mode & 07777);
	assert_int_equal(s2.st_mode & 07777, 0755);
	snprintf(parent, sizeof(parent), "%s/ct", p->root);
	assert_int_equal(stat(parent, &s2), 0);
	assert_int_equal(s2.st_mode & 07777, 0700);
}

static void test_sync_tree(void **state)
{
	struct pair *p = *state;
	struct fss_stats st;
	char a[256], b[256];

	build_tree(p->src);
	agent_start(p, 1);
	assert_int_equal(fss_sync(p->a, p->src, p->dst, NULL, &st), 0);
	agent_join(p);
	assert_same(p->src, p->dst);
	assert_details(p->dst);
	assert_dir_modes(p);
	assert_int_equal(st.client_exit, 0);
	assert_int_equal(st.server_exit, 0);
	assert_true(st.wire_tx > 0 && st.wire_rx > 0);
	print_message("files %llu, size %llu, wire %llu/%llu bytes, %llu us\n",
		      (unsigned long long)st.files, (unsigned long long)st.total_size,
		      (unsigned long long)st.wire_tx, (unsigned long long)st.wire_rx,
		      (unsigned long long)st.usec);
	assert_true(st.files >= 4);
	assert_true(st.usec > 0);

	/* Incremental: change, add, delete, rename, re-own; the destination follows. */
	put(p->src, "plain", "changed content, longer than before\n");
	put(p->src, "new", "new file\n");
	at(a, sizeof(a), p->src, "sub/deep");
	assert_int_equal(unlink(a), 0);
	at(a, sizeof(a), p->src, "fifo");
	at(b, sizeof(b), p->src, "fifo2");
	assert_int_equal(rename(a, b), 0);
	at(a, sizeof(a), p->src, "owned");
	assert_int_equal(chown(a, 4321, 4321), 0);
	if (xattrs_ok)
		assert_int_equal(setxattr(a, "user.phaul", "v2", 2, 0), 0);
	agent_start(p, 1);
	assert_int_equal(fss_sync(p->a, p->src, p->dst, NULL, &st), 0);
	agent_join(p);
	assert_same(p->src, p->dst);
	at(a, sizeof(a), p->dst, "sub/deep");
	assert_int_equal(access(a, F_OK), -1);
	at(a, sizeof(a), p->dst, "fifo");
	assert_int_equal(access(a, F_OK), -1);
	assert_int_equal(st.files, 2); /* plain, new */

	/* Nothing changed: nothing but the file list crosses. */
	agent_start(p, 1);
	assert_int_equal(fss_sync(p->a, p->src, p->dst, NULL, &st), 0);
	agent_join(p);
	assert_int_equal(st.files, 0);
}

/* ---- refusals ---- */

/* Send a hand-made FsSyncStart as a hostile source would; the agent's verdict. */
static int bad_request(struct pair *p, const char **args, size_t n, const char *dest, char *msg,
		       size_t mlen)
{
	Phaul__Msg out = PHAUL__MSG__INIT, *in = NULL;
	Phaul__FsSyncStart s = PHAUL__FS_SYNC_START__INIT;
	int err;

	s.dest = (char *)dest;
	s.args = (char **)args;
	s.n_args = n;
	out.body_case = PHAUL__MSG__BODY_FS_START;
	out.fs_start = &s;
	agent_start(p, 1);
	assert_int_equal(msg_send(p->a, &out), 0);
	/* Our "rsync" gives up at the closed connection: end our side, take theirs. */
	assert_int_equal(mux_send_eof(p->a, MUX_FS), 0);
	assert_int_equal(fss_drain(p->a, 10000), 0);
	assert_int_equal(msg_expect(p->a, PHAUL__MSG__BODY_FS_DONE, &in, 10000), 0);
	agent_join(p);
	assert_false(in->fs_done->ok);
	assert_true(in->fs_done->has_err);
	err = in->fs_done->err;
	snprintf(msg, mlen, "%s", in->fs_done->msg);
	msg_free(in);
	print_message("refused (%s): %s\n", ph_strerror(err), msg);
	return err;
}

#define BAD(err, substr, dest, ...)                                                                \
	do {                                                                                       \
		const char *v[] = { __VA_ARGS__ };                                                 \
		char m[512];                                                                       \
		assert_int_equal(bad_request(p, v, sizeof(v) / sizeof(v[0]), dest, m, sizeof(m)),  \
				 err);                                                             \
		assert_non_null(strstr(m, substr));                                                \
		assert_non_null(strstr(m, "dsthost"));                                             \
	} while (0)

static void test_refusals(void **state)
{
	struct pair *p = *state;
	const char *d = p->dst;
	char dd[256], out[256], ln[256], under[256];

	/* A remote shell, a daemon, a sender, another program: never run. */
	BAD(PH_EPROTO, "'-e'", d, "rsync", "--server", "-e", "sh -c id", ".", d);
	BAD(PH_EPROTO, "'--rsh=sh'", d, "rsync", "--server", "--rsh=sh", "-lr", ".", d);
	BAD(PH_EPROTO, "'--daemon'", d, "rsync", "--server", "--daemon", ".", d);
	BAD(PH_EPROTO, "'--sender'", d, "rsync", "--server", "--sender", "-lr", ".", d);
	BAD(PH_EPROTO, "'-lrK'", d, "rsync", "--server", "-lrK", ".", d);
	BAD(PH_EPROTO, "'-lre sh'", d, "rsync", "--server", "-lre sh", ".", d);
	BAD(PH_EPROTO, "'--log-file=/etc/x'", d, "rsync", "--server", "--log-file=/etc/x", ".", d);
	BAD(PH_EPROTO, "starts with 'sh'", d, "sh", "-c", "id", ".", d);
	BAD(PH_EPROTO, "starts with 'rsync'", d, "rsync", "-a", "/etc/", ".", d);
	/* Paths: "..", outside the root, through a symlink, odd characters. */
	snprintf(dd, sizeof(dd), "%s/../../etc", p->root);
	BAD(PH_EPATH, "'..'", dd, "rsync", "--server", "-lr", ".", dd);
	snprintf(out, sizeof(out), "%s/elsewhere", p->top);
	BAD(PH_EPATH, "outside", out, "rsync", "--server", "-lr", ".", out);
	snprintf(ln, sizeof(ln), "%s/ln", p->root);
	assert_int_equal(symlink("/etc", ln), 0);
	snprintf(under, sizeof(under), "%s/ln/x", p->root);
	BAD(PH_EPATH, "symlink", under, "rsync", "--server", "-lr", ".", under);
	snprintf(dd, sizeof(dd), "%s/a b", p->root);
	BAD(PH_EPATH, "0x20", dd, "rsync", "--server", "-lr", ".", dd);
	BAD(PH_EPATH, "differs", d, "rsync", "--server", "-lr", ".", p->root);
	/* Nothing was created for a refused request. */
	assert_int_equal(access(p->dst, F_OK), -1);
	assert_int_equal(access("/etc/x", F_OK), -1);
}

/* The agent has no fs root: fs-sync is off there, said so. */
static void test_disabled(void **state)
{
	struct pair *p = *state;
	char m[512];
	const char *v[] = { "rsync", "--server", "-lr", ".", p->dst };

	p->root[0] = '\0';
	assert_int_equal(bad_request(p, v, 5, p->dst, m, sizeof(m)), PH_ENOTSUP);
	assert_non_null(strstr(m, "not enabled"));
}

/* A full sync refused by the agent surfaces through fss_sync(). */
static void test_sync_refused(void **state)
{
	struct pair *p = *state;
	char out[256];

	put(p->src, "f", "x\n");
	snprintf(out, sizeof(out), "%s/outside", p->top);
	agent_start(p, 1);
	assert_int_equal(fss_sync(p->a, p->src, out, NULL, NULL), -PH_EPATH);
	agent_join(p);
	assert_non_null(strstr(ph_errmsg(), "outside"));
	/* The stream is in sync: the next sync works. */
	agent_start(p, 1);
	assert_int_equal(fss_sync(p->a, p->src, p->dst, NULL, NULL), 0);
	agent_join(p);
	assert_same(p->src, p->dst);
}

/* rsync itself fails (read-only destination): its exit code and last words. */
static void test_rsync_fails(void **state)
{
	struct pair *p = *state;
	struct fss_stats st;

	put(p->src, "f", "x\n");
	assert_int_equal(mkdir_p(p->dst, 0755), 0);
	if (mount("phaul-ro", p->dst, "tmpfs", MS_RDONLY, NULL) < 0) {
		print_message("mount: %s\n", strerror(errno));
		skip();
	}
	agent_start(p, 1);
	assert_int_equal(fss_sync(p->a, p->src, p->dst, NULL, &st), -PH_ERSYNC);
	agent_join(p);
	print_message("%s\n", ph_errmsg());
	assert_true(st.server_exit > 0 || st.client_exit > 0);
	assert_non_null(strstr(ph_errmsg(), "exit "));
	assert_non_null(strstr(ph_errmsg(), "Read-only file system"));
	umount2(p->dst, MNT_DETACH);
	/* And the stream is usable afterwards. */
	agent_start(p, 1);
	assert_int_equal(fss_sync(p->a, p->src, p->dst, NULL, NULL), 0);
	agent_join(p);
}

/* The source dir does not exist: rsync's own complaint, before anything is sent. */
static void test_no_source(void **state)
{
	struct pair *p = *state;
	char missing[256];

	snprintf(missing, sizeof(missing), "%s/missing", p->top);
	agent_start(p, 1);
	assert_int_equal(fss_sync(p->a, missing, p->dst, NULL, NULL), -PH_ERSYNC);
	print_message("%s\n", ph_errmsg());
	assert_non_null(strstr(ph_errmsg(), "missing"));
	/* rsync fails before or after connecting; if before, the agent waits on. */
	if (strstr(ph_errmsg(), "did not connect")) {
		bool shared;

		fss_probe_shared(p->a, p->src, p->dst, 10000, &shared);
	}
	agent_join(p);
}

/* ---- shared filesystem probe ---- */

static void test_probe(void **state)
{
	struct pair *p = *state;
	char other[256];
	bool shared = true;

	assert_int_equal(mkdir_p(p->dst, 0755), 0);
	/* Same directory on both "hosts". */
	agent_start(p, 1);
	assert_int_equal(fss_probe_shared(p->a, p->dst, p->dst, 10000, &shared), 0);
	agent_join(p);
	assert_true(shared);
	/* Two directories. */
	agent_start(p, 1);
	assert_int_equal(fss_probe_shared(p->a, p->src, p->dst, 10000, &shared), 0);
	agent_join(p);
	assert_false(shared);
	/* The destination path does not exist yet: not shared, no error. */
	snprintf(other, sizeof(other), "%s/ct2", p->root);
	agent_start(p, 1);
	assert_int_equal(fss_probe_shared(p->a, p->src, other, 10000, &shared), 0);
	agent_join(p);
	assert_false(shared);
	/* Outside the agent's root: refused. */
	agent_start(p, 1);
	assert_int_equal(fss_probe_shared(p->a, p->src, p->src, 10000, &shared), -PH_EPATH);
	agent_join(p);
	assert_false(shared);
	/* No cookie left behind. */
	assert_int_equal(rm_tree(p->src), 0);
}

/* ---- confinement ---- */

struct swapper {
	char a[160], b[160]; /* exchanged again and again: a dir and a symlink */
	atomic_bool stop;
	unsigned swaps;
};

static void *swap_thread(void *arg)
{
	struct swapper *s = arg;

	while (!atomic_load(&s->stop)) {
		if (renameat2(AT_FDCWD, s->a, AT_FDCWD, s->b, RENAME_EXCHANGE) == 0)
			s->swaps++;
		sched_yield(); /* as fast as it can: any window shows */
	}
	return NULL;
}

static unsigned entries(const char *dir)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/*
 * A checked directory swapped for a symlink to outside the root while the
 * agent handles syncs into it (another session of the same peer can do
 * this): nothing may land outside, whatever the timing. Real rsync.
 */
static void test_symlink_race(void **state)
{
	struct pair *p = *state;
	struct swapper s = { .stop = false };
	char outside[128], real[200];
	pthread_t t;
	int i, ok = 0, refused = 0, ret;

	put(p->src, "payload", "must stay inside the fs root\n");
	snprintf(outside, sizeof(outside), "%s/outside", p->top);
	assert_int_equal(mkdir(outside, 0755), 0);
	snprintf(s.a, sizeof(s.a), "%s/ct", p->root);
	snprintf(s.b, sizeof(s.b), "%s/ct.link", p->root);
	assert_int_equal(mkdir(s.a, 0755), 0);
	assert_int_equal(symlink(outside, s.b), 0);
	assert_int_equal(pthread_create(&t, NULL, swap_thread, &s), 0);
	for (i = 0; i < 40; i++) {
		agent_start(p, 1);
		ret = fss_sync(p->a, p->src, p->dst, NULL, NULL);
		agent_join(p);
		if (ret == 0)
			ok++;
		else if (ret == -PH_EPATH)
			refused++;
		else
			print_message("sync %d: %s\n", i, ph_errmsg());
	}
	atomic_store(&s.stop, true);
	pthread_join(t, NULL);
	print_message("%d synced, %d refused, %u swaps, %u entries outside\n", ok, refused, s.swaps,
		      entries(outside));
	assert_int_equal(entries(outside), 0);
	assert_true(ok > 0 && s.swaps > 100);
	/* What did sync landed in the real directory, wherever the swaps left it. */
	snprintf(real, sizeof(real), "%s/rootfs/payload", s.a);
	if (access(real, F_OK) < 0)
		snprintf(real, sizeof(real), "%s/rootfs/payload", s.b);
	assert_int_equal(access(real, F_OK), 0);
}

/*
 * Whatever runs as the receiver (rsync with a bug, say) writes only into
 * the CT's directory: the rest of the host is read-only for it and no
 * symlink in that directory is followed, not even to read.
 */
static void test_jail(void **state)
{
	static char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct pair *p = *state;
	char outside[128], link[160], cwd[160], root[PATH_MAX], script[PATH_MAX * 2];
	char *argv[] = { "sh", "-c", script, NULL };
	struct fss_proc pr;
	struct fss_jail j = { .at = root };
	struct stat st;
	int dfd, code;

	snprintf(outside, sizeof(outside), "%s/outside", p->top);
	assert_int_equal(mkdir(outside, 0755), 0);
	snprintf(cwd, sizeof(cwd), "%s/other-ct", p->root);
	assert_int_equal(mkdir(cwd, 0755), 0);
	assert_int_equal(fss_open_dest(p->dst, p->root, true, &dfd, root, sizeof(root)), 0);
	snprintf(link, sizeof(link), "%s/escape", p->dst);
	assert_int_equal(symlink(outside, link), 0);
	put(outside, "secret", "host data\n");
	snprintf(script, sizeof(script),
		 "echo in >inside && test \"$(pwd)\" = %s &&"
		 " ! echo x >%s/abs 2>/dev/null && ! echo x >escape/via-link 2>/dev/null &&"
		 " ! cat escape/secret 2>/dev/null && ! echo x >../up 2>/dev/null &&"
		 " ! test -e %s/other-ct && ls / >/dev/null",
		 root, outside, p->root);
	j.tree = open_tree(dfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	assert_true(j.tree >= 0);
	assert_int_equal(fss_spawn("/bin/sh", argv, envp, -1, -1, &j, &pr), 0);
	close(j.tree);
	close(dfd);
	code = fss_proc_wait(&pr, "jailed sh", NULL);
	fss_proc_free(&pr);
	assert_int_equal(code, 0);
	assert_int_equal(entries(outside), 1); /* only the secret */
	snprintf(cwd, sizeof(cwd), "%s/inside", p->dst);
	assert_int_equal(access(cwd, F_OK), 0);
	/* Created below the root: only root may enter (setuid files may follow). */
	snprintf(cwd, sizeof(cwd), "%s/ct", p->root);
	assert_int_equal(stat(cwd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

/* fs_root "/" (or a link to it) is the whole host: every sync is refused. */
static void test_root_is_host(void **state)
{
	struct pair *p = *state;
	char m[512], dest[160];
	const char *v[] = { "rsync", "--server", "-lr", ".", dest };

	snprintf(dest, sizeof(dest), "%s/victim", p->top);
	strcpy(p->root, "/");
	assert_int_equal(bad_request(p, v, 5, dest, m, sizeof(m)), PH_ENOTSUP);
	assert_non_null(strstr(m, "fs_root"));
	snprintf(p->root, sizeof(p->root), "%s/slash", p->top);
	assert_int_equal(symlink("/", p->root), 0);
	snprintf(dest, sizeof(dest), "%s/slash/victim", p->top);
	assert_int_equal(bad_request(p, v, 5, dest, m, sizeof(m)), PH_ENOTSUP);
	assert_non_null(strstr(m, "fs_root"));
	assert_int_equal(access(dest, F_OK), -1);
}

/* A sync into the root itself would --delete every other CT's tree. */
static void test_dest_is_root(void **state)
{
	struct pair *p = *state;
	char m[512], sibling[160], slash[160];
	const char *v[] = { "rsync", "--server", "--delete", "-lr", ".", p->root };
	const char *w[] = { "rsync", "--server", "--delete", "-lr", ".", slash };

	snprintf(sibling, sizeof(sibling), "%s/other-ct", p->root);
	assert_int_equal(mkdir(sibling, 0755), 0);
	assert_int_equal(bad_request(p, v, 6, p->root, m, sizeof(m)), PH_EPATH);
	assert_non_null(strstr(m, "fs_root itself"));
	snprintf(slash, sizeof(slash), "%s/", p->root);
	assert_int_equal(bad_request(p, w, 6, slash, m, sizeof(m)), PH_EPATH);
	assert_int_equal(access(sibling, F_OK), 0);
	/* Also through fss_sync(): refused, nothing deleted. */
	put(p->src, "f", "x\n");
	agent_start(p, 1);
	assert_int_equal(fss_sync(p->a, p->src, p->root, NULL, NULL), -PH_EPATH);
	agent_join(p);
	assert_int_equal(access(sibling, F_OK), 0);
}

/* ---- the validator on its own ---- */

static void test_check_args(void **state)
{
	const char *good[] = { "rsync",		"--server", "-lHogDtpAXrSe.iLsfxCIvu",
			       "--timeout=60",	"--delete", "--stats",
			       "--numeric-ids", ".",	    "/r/ct/" };
	const char *two[] = { "rsync", "--server", "-lr", "-lr", ".", "/r/ct/" };
	const char *zero[] = { "rsync", "--server", "--timeout=0", ".", "/r/ct/" };

	assert_int_equal(fss_check_args(good, 9, "/r/ct/"), 0);
	assert_int_equal(fss_check_args(good, 9, "/r/ct"), -PH_EPATH);
	assert_int_equal(fss_check_args(good, 3, "/r/ct/"), -PH_EPROTO);
	assert_int_equal(fss_check_args(two, 6, "/r/ct/"), -PH_EPROTO);
	assert_int_equal(fss_check_args(zero, 5, "/r/ct/"), -PH_EPROTO);
	assert_int_equal(fss_check_dest_lexical("/r/ct/", "/r"), 0);
	assert_int_equal(fss_check_dest_lexical("/r", "/r/"), 0);
	assert_int_equal(fss_check_dest_lexical("/rx/ct", "/r"), -PH_EPATH);
	assert_int_equal(fss_check_dest_lexical("/r//ct", "/r"), -PH_EPATH);
	assert_int_equal(fss_check_dest_lexical("/r/./ct", "/r"), -PH_EPATH);
	assert_int_equal(fss_check_dest_lexical("r/ct", "/r"), -PH_EPATH);
	assert_int_equal(fss_check_dest_lexical("/r/c\nt", "/r"), -PH_EPATH);
	assert_int_equal(fss_check_dest_lexical("/r/ct", "relative"), -PH_ENOTSUP);
	assert_int_equal(fss_check_dest_lexical("/anything", "/"), 0);
}

/* A sync during pre-copy tolerates a vanished file, whatever exit it earns; nothing else. */
static void test_err_vanished(void **state)
{
	static const struct {
		const char *line;
		int want;
	} t[] = {
		{ "file has vanished: \"/wl/progress.tmp\"", 1 },
		/* rsync 3.2.7 reading a gone file's ACL: exit 23, not 24 */
		{ "rsync: [sender] get_acl: sys_acl_get_file(wl/progress.tmp, ACL_TYPE_ACCESS): "
		  "No such file or directory (2)",
		  1 },
		{ "rsync warning: some files vanished before they could be transferred (code 24) "
		  "at main.c(1338) [sender=3.2.7]",
		  0 },
		{ "rsync error: some files/attrs were not transferred (see previous errors) (code "
		  "23) "
		  "at main.c(1338) [sender=3.2.7]",
		  0 },
		{ "rsync: [receiver] write failed on \"/ct/f\": No space left on device (28)", -1 },
		{ "rsync: [generator] failed to set permissions on \"/ct/f\": Permission denied "
		  "(13)",
		  -1 },
		{ "No such file or directory (2)", -1 }, /* not rsync's */
		{ "", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		print_message("%s\n", t[i].line);
		assert_int_equal(fss_err_vanished(t[i].line, strlen(t[i].line)), t[i].want);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_args),
		cmocka_unit_test_setup_teardown(test_sync_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rsync_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_is_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dest_is_root, setup, teardown),
		cmocka_unit_test(test_err_vanished),
	};

	/* rsync runs this binary as its remote shell, as it runs "phaul fs-rsh". */
	if (argc > 1 && !strcmp(argv[1], "fs-rsh"))
		return fss_rsh_main(argc - 1, argv + 1);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
