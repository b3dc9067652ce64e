/*
 * weft-bench compare OLD.json NEW.json: benchstat for C. For every figure in both runs,
 * the old and new medians, the change, and whether it is significant: a two-sided
 * Mann-Whitney U test over the repeats, p < 0.05 (exact for small samples). With 5
 * repeats a side the smallest possible p is 0.008; with 3, 0.1, so no change can be
 * significant: the output says so rather than guess.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

#define SCHEMA "weft-bench/1"

static int load(const char *path, bench_json **out)
{
	char err[512];
	bench_json *j = bench_json_load(path, err, sizeof err);
	if (!j) {
		fprintf(stderr, "weft-bench compare: %s\n", err);
		return 2;
	}
	const char *schema = bench_json_str(j, "schema", NULL);
	if (!schema || strcmp(schema, SCHEMA)) {
		fprintf(stderr,
			"weft-bench compare: %s has schema '%s', this weft-bench reads '%s' "
			"(files from different versions of weft-bench cannot be compared)\n",
			path, schema ? schema : "(none: not a weft-bench result)", SCHEMA);
		bench_json_free(j);
		return 2;
	}
	*out = j;
	return 0;
}

static void suite_list(const bench_json *j, char *buf, size_t len)
{
	buf[0] = 0;
	const bench_json *s = bench_json_get(j, "suites");
	for (const bench_json *k = s ? s->kid : NULL; k; k = k->next)
		if (k->type == BJ_STR) {
			size_t l = strlen(buf);
			snprintf(buf + l, len - l, "%s%s", l ? " " : "", k->str);
		}
}

static bool same_figure(const bench_json *a, const bench_json *b)
{
	static const char *const keys[] = { "suite", "variant", "impl" };
	for (int i = 0; i < 3; i++)
		if (strcmp(bench_json_str(a, keys[i], ""), bench_json_str(b, keys[i], "")))
			return false;
	static const char *const nums[] = { "threads", "producers", "consumers" };
	for (int i = 0; i < 3; i++)
		if (bench_json_num(a, nums[i], -1) != bench_json_num(b, nums[i], -1))
			return false;
	return true;
}

static size_t samples(const bench_json *fig, double *out, size_t max)
{
	const bench_json *s = bench_json_get(fig, "samples");
	size_t n = 0;
	for (const bench_json *k = s ? s->kid : NULL; k && n < max; k = k->next)
		out[n++] = bench_json_num(k, "mops", 0);
	return n;
}

static void label(const bench_json *f, char *buf, size_t len)
{
	unsigned p = (unsigned)bench_json_num(f, "producers", 0),
		 c = (unsigned)bench_json_num(f, "consumers", 0);
	if (p || c)
		snprintf(buf, len, "%u+%u", p, c);
	else
		snprintf(buf, len, "%u", (unsigned)bench_json_num(f, "threads", 0));
}

int bench_compare_main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: weft-bench compare OLD.json NEW.json\n");
		return 2;
	}
	bench_json *a = NULL, *b = NULL;
	int rc = load(argv[1], &a);
	if (rc)
		return rc;
	if ((rc = load(argv[2], &b))) {
		bench_json_free(a);
		return rc;
	}
	char sa[512], sb[512];
	suite_list(a, sa, sizeof sa);
	suite_list(b, sb, sizeof sb);
	if (strcmp(sa, sb)) {
		fprintf(stderr,
			"weft-bench compare: the runs are of different suites: %s has [%s], %s has "
			"[%s]; run both with the same suites\n",
			argv[1], sa, argv[2], sb);
		bench_json_free(a);
		bench_json_free(b);
		return 2;
	}
	printf("old: %s (%s, %s)\nnew: %s (%s, %s)\n", argv[1], bench_json_str(a, "started", "?"),
	       bench_json_str(bench_json_get(a, "build"), "git_commit", "?"), argv[2],
	       bench_json_str(b, "started", "?"),
	       bench_json_str(bench_json_get(b, "build"), "git_commit", "?"));
	printf("%-8s %-12s %-18s %-7s %11s %11s %9s %7s  %s\n", "suite", "variant", "impl",
	       "threads", "old Mops/s", "new Mops/s", "delta", "p", "");
	const bench_json *fa = bench_json_get(a, "figures"), *fb = bench_json_get(b, "figures");
	size_t matched = 0, sig = 0, too_few = 0;
	for (const bench_json *g = fb ? fb->kid : NULL; g; g = g->next) {
		const bench_json *o = NULL;
		for (const bench_json *k = fa ? fa->kid : NULL; k && !o; k = k->next)
			if (same_figure(k, g))
				o = k;
		char lab[24];
		label(g, lab, sizeof lab);
		if (!o) {
			printf("%-8s %-12s %-18s %-7s %11s  (only in new)\n", bench_json_str(g, "suite", ""),
			       bench_json_str(g, "variant", ""), bench_json_str(g, "impl", ""), lab, "");
			continue;
		}
		double x[1024], y[1024];
		size_t nx = samples(o, x, 1024), ny = samples(g, y, 1024);
		if (!nx || !ny || strcmp(bench_json_str(o, "status", ""), "ok") ||
		    strcmp(bench_json_str(g, "status", ""), "ok")) {
			printf("%-8s %-12s %-18s %-7s  old %s, new %s\n", bench_json_str(g, "suite", ""),
			       bench_json_str(g, "variant", ""), bench_json_str(g, "impl", ""), lab,
			       bench_json_str(o, "status", "?"), bench_json_str(g, "status", "?"));
			continue;
		}
		matched++;
		double mo = bench_median(x, nx), mn = bench_median(y, ny);
		bench_mwu u;
		bench_mann_whitney(x, nx, y, ny, &u);
		const char *verdict;
		if (u.exact && u.min_p >= 0.05) {
			verdict = "(too few repeats to tell)";
			too_few++;
		} else if (u.p < 0.05) {
			verdict = mn > mo ? "faster" : "slower";
			sig++;
		} else {
			verdict = "~ (no significant change)";
		}
		char delta[32];
		if (mo > 0)
			snprintf(delta, sizeof delta, "%+.1f%%", (mn - mo) / mo * 100);
		else
			snprintf(delta, sizeof delta, "n/a");
		printf("%-8s %-12s %-18s %-7s %11.4g %11.4g %9s %7.3f  %s\n",
		       bench_json_str(g, "suite", ""), bench_json_str(g, "variant", ""),
		       bench_json_str(g, "impl", ""), lab, mo, mn, delta, u.p, verdict);
	}
	for (const bench_json *k = fa ? fa->kid : NULL; k; k = k->next) {
		bool found = false;
		for (const bench_json *g = fb ? fb->kid : NULL; g && !found; g = g->next)
			found = same_figure(k, g);
		if (!found) {
			char lab[24];
			label(k, lab, sizeof lab);
			printf("%-8s %-12s %-18s %-7s %11s  (only in old)\n", bench_json_str(k, "suite", ""),
			       bench_json_str(k, "variant", ""), bench_json_str(k, "impl", ""), lab, "");
		}
	}
	printf("\n%zu figures compared, %zu significant changes (Mann-Whitney U, two-sided, "
	       "p < 0.05)%s\n",
	       matched, sig, too_few ? "; some had too few repeats to reach p < 0.05 (use --repeat 5 or more)" : "");
	bench_json_free(a);
	bench_json_free(b);
	return 0;
}
