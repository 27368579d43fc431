// SPDX-License-Identifier: GPL-2.0
/*
 * The options each command's parser knows (its getopt table in cli_cmds[])
 * against what its --help, HOWTO.md and the man page (man/phaul.8) document,
 * both ways: every option of a table is documented in all three, and every
 * option the docs list for a command (HOWTO's option table rows "| `--X",
 * the man page's .TP entries, --help's option lines) is in that table.
 * Run from the top of the tree (HOWTO.md and man/phaul.8 are read from there).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "helpers.h"
#include "util.h"

static int mismatches;

static const struct option *find_opt(const struct cli_cmd *c, const char *name, size_t n)
{
	for (const struct option *o = c->opts; o->name; o++)
		if (strlen(o->name) == n && !strncmp(o->name, name, n))
			return o;
	return NULL;
}

/* The text of doc from the line starting with head to the next line starting with any of stops. */
static char *section(const char *doc, const char *head, const char *const *stops)
{
	const char *b = doc, *e;
	size_t hl = strlen(head);

	while (b && strncmp(b, head, hl))
		b = (b = strchr(b, '\n')) ? b + 1 : NULL;
	if (!b)
		return NULL;
	for (e = strchr(b, '\n'); e; e = strchr(e + 1, '\n')) {
		bool stop = false;

		for (size_t i = 0; stops[i]; i++)
			stop |= !strncmp(e + 1, stops[i], strlen(stops[i]));
		if (stop)
			break;
	}
	return strndup(b, e ? (size_t)(e - b) : strlen(b));
}

/* Each option of c's table (help only for the global ones) is in text as --NAME. */
static void forward(const struct cli_cmd *c, const char *where, const char *text)
{
	char want[96];

	for (const struct option *o = c->opts; o->name; o++) {
		const char *p = text;
		bool found = false;
		size_t wl;

		if (!strcmp(o->name, "help") && c->name[0])
			continue;
		wl = (size_t)snprintf(want, sizeof(want), "--%s", o->name);
		while (text && (p = strstr(p, want))) {
			char nx = p[wl];

			if (!(nx == '-' || (nx >= 'a' && nx <= 'z'))) {
				found = true;
				break;
			}
			p += wl;
		}
		if (!found) {
			print_message("phaul %s: --%s is not documented in %s\n",
				      c->name[0] ? c->name : "(global)", o->name, where);
			mismatches++;
		}
	}
}

/* man(7) text with every "\-" as "-", so options read as in the other docs. */
static char *unroff(const char *s)
{
	char *out = s ? strdup(s) : NULL, *w = out;

	for (; s && *s; s++)
		if (!(s[0] == '\\' && s[1] == '-'))
			*w++ = *s;
	if (w)
		*w = '\0';
	return out;
}

/*
 * Every "--NAME" starting one of text's lines that begin with lead (after
 * leading blanks, lead skipped) is in c's table.
 */
static void reverse(const struct cli_cmd *c, const char *where, const char *text, const char *lead)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *p = l, *n;
		char name[64];
		size_t k = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, lead, strlen(lead)))
			continue;
		p += strlen(lead);
		while (*p == ' ' || *p == '`')
			p++;
		if (p[0] == '-' && p[1] != '-' && strstr(p, "--"))
			p = strstr(p, "--"); /* "-c, --config" */
		if (strncmp(p, "--", 2) || p[2] < 'a' || p[2] > 'z')
			continue; /* not an option (a table's "|---|" line) */
		for (n = p + 2; k + 1 < sizeof(name); n++) {
			if (!(*n == '-' || (*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9')))
				break;
			name[k++] = *n;
		}
		name[k] = '\0';
		if (k && !find_opt(c, name, k)) {
			print_message(
				"%s documents --%s for phaul %s, which its parser does not know\n",
				where, name, c->name[0] ? c->name : "(global)");
			mismatches++;
		}
	}
}

static void test_docs_match_parser(void **state)
{
	static const char *const md_stops[] = { "### ", "## ", NULL };
	static const char *const roff_stops[] = { ".SS ", ".SH ", NULL };
	char *howto = slurp("HOWTO.md"), *man = slurp("man/phaul.8");

	mismatches = 0;
	for (const struct cli_cmd *c = cli_cmds; c->name; c++) {
		char mdhead[64], roffhead[64];
		char *md, *roff, *raw;

		snprintf(mdhead, sizeof(mdhead), c->name[0] ? "### phaul %s" : "### Global options",
			 c->name);
		snprintf(roffhead, sizeof(roffhead),
			 c->name[0] ? ".SS phaul %s" : ".SH GLOBAL OPTIONS", c->name);
		md = section(howto, mdhead, md_stops);
		raw = section(man, roffhead, roff_stops);
		roff = unroff(raw);
		free(raw);
		if (!md)
			print_message("HOWTO.md has no section '%s'\n", mdhead), mismatches++;
		if (!roff)
			print_message("man/phaul.8 has no section '%s'\n", roffhead), mismatches++;
		forward(c, "its --help", c->usage);
		forward(c, "HOWTO.md", md);
		forward(c, "man/phaul.8", roff);
		reverse(c, "its --help", c->usage, "");
		reverse(c, "HOWTO.md", md, "|");
		/* the man page: the line after each .TP names the option */
		for (char *l = roff; l && (l = strstr(l, "\n.TP\n")); l += 5) {
			char *e = strchr(l + 5, '\n');
			char *line = strndup(l + 5, e ? (size_t)(e - l - 5) : strlen(l + 5));
			char *sp = strchr(line, ' ');

			reverse(c, "man/phaul.8", sp ? sp + 1 : "", "");
			free(line);
		}
		free(md);
		free(roff);
	}
	free(howto);
	free(man);
	assert_int_equal(mismatches, 0);
}

/* The comparison can fail: an option the docs do not know is found. */
static void test_detects_mismatch(void **state)
{
	static const struct option opts[] = {
		{ "documented", no_argument, NULL, 'd' },
		{ "secret-knob", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct cli_cmd c = { "x", opts, "  --documented   yes\n  --extra   no\n" };

	char *roff = unroff(".TP\n.B \\-\\-documented\n.TP\n.B \\-\\-secret\\-knob\n");

	mismatches = 0;
	forward(&c, "test", c.usage);
	assert_int_equal(mismatches, 1); /* --secret-knob */
	reverse(&c, "test", c.usage, "");
	assert_int_equal(mismatches, 2); /* --extra */
	forward(&c, "test", roff);
	assert_int_equal(mismatches, 2); /* both in the man(7) text */
	reverse(&c, "test", "| `--documented` | x |\n|---|---|\n| `--gone` | y |\n", "|");
	assert_int_equal(mismatches, 3); /* --gone */
	free(roff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detects_mismatch),
		cmocka_unit_test(test_docs_match_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
