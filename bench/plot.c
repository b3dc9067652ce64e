/*
 * weft-bench plot RUN.json -o DIR: one SVG per suite (a panel per variant), throughput
 * against threads, one line per implementation, drawn by gnuplot. The gnuplot script is
 * left beside the SVG (DIR/<suite>.gp) so a plot can be restyled by hand.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/json.h"

static bool have_gnuplot(void)
{
	const char *path = getenv("PATH");
	if (!path)
		return false;
	char *dup = strdup(path), *save = NULL;
	bool found = false;
	for (char *d = strtok_r(dup, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char p[4096];
		snprintf(p, sizeof p, "%s/gnuplot", *d ? d : ".");
		found = access(p, X_OK) == 0;
	}
	free(dup);
	return found;
}

static int run_gnuplot(const char *dir, const char *script)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (chdir(dir) == 0)
			execlp("gnuplot", "gnuplot", script, (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void gp_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Distinct string values of key among the figures of suite (and variant if given). */
static size_t distinct(const bench_json *figs, const char *suite, const char *variant,
		       const char *key, const char **out, size_t max)
{
	size_t n = 0;
	for (const bench_json *f = figs->kid; f; f = f->next) {
		if (strcmp(bench_json_str(f, "suite", ""), suite))
			continue;
		if (variant && strcmp(bench_json_str(f, "variant", ""), variant))
			continue;
		const char *v = bench_json_str(f, key, "");
		bool seen = false;
		for (size_t i = 0; i < n; i++)
			seen |= !strcmp(out[i], v);
		if (!seen && n < max)
			out[n++] = v;
	}
	return n;
}

static int plot_suite(const bench_json *root, const bench_json *figs, const char *suite,
		      const char *dir)
{
	char path[4096], script[300];
	snprintf(script, sizeof script, "%s.gp", suite);
	snprintf(path, sizeof path, "%s/%s", dir, script);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "weft-bench plot: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	const char *variants[64], *impls[64];
	size_t nv = distinct(figs, suite, NULL, "variant", variants, 64);
	const bench_json *m = bench_json_get(root, "machine");
	fprintf(f, "set terminal svg size %zu,420 dynamic noenhanced background rgb 'white' font 'sans,11'\n",
		nv * 560);
	fprintf(f, "set output '%s.svg'\n", suite);
	fprintf(f, "set multiplot layout 1,%zu title ", nv);
	char title[400];
	snprintf(title, sizeof title, "weft-bench %s - %s, %g CPUs (median of repeats)", suite,
		 bench_json_str(m, "cpu_model", "?"), bench_json_num(m, "cpus", 0));
	gp_str(f, title);
	fprintf(f, "\nset logscale xy 2\nset grid\nset key outside bottom center horizontal\n"
		   "set offsets graph 0.05, graph 0.05, 0, 0\nset xlabel 'threads'\nset ylabel 'Mops/s'\nset format y '%%g'\n");
	for (size_t v = 0; v < nv; v++) {
		size_t ni = distinct(figs, suite, variants[v], "impl", impls, 64);
		for (size_t i = 0; i < ni; i++) {
			fprintf(f, "$d%zu_%zu << EOD\n", v, i);
			for (const bench_json *g = figs->kid; g; g = g->next) {
				if (strcmp(bench_json_str(g, "suite", ""), suite) ||
				    strcmp(bench_json_str(g, "variant", ""), variants[v]) ||
				    strcmp(bench_json_str(g, "impl", ""), impls[i]) ||
				    strcmp(bench_json_str(g, "status", ""), "ok") ||
				    !(bench_json_num(g, "median", 0) > 0))
					continue;
				fprintf(f, "%g %g %g %g\n", bench_json_num(g, "threads", 0),
					bench_json_num(g, "median", 0), bench_json_num(g, "min", 0),
					bench_json_num(g, "max", 0));
			}
			fprintf(f, "EOD\n");
		}
		fprintf(f, "set title ");
		gp_str(f, variants[v]);
		fprintf(f, "\nplot ");
		for (size_t i = 0; i < ni; i++) {
			fprintf(f, "%s$d%zu_%zu using 1:2:3:4 with yerrorlines title ", i ? ", " : "",
				v, i);
			gp_str(f, impls[i]);
		}
		fprintf(f, "\n");
	}
	fprintf(f, "unset multiplot\n");
	if (fclose(f)) {
		fprintf(stderr, "weft-bench plot: writing %s failed\n", path);
		return 1;
	}
	if (run_gnuplot(dir, script)) {
		fprintf(stderr, "weft-bench plot: gnuplot failed on %s\n", path);
		return 1;
	}
	printf("plot: %s/%s.svg\n", dir, suite);
	return 0;
}

int bench_plot_file(const char *json_path, const char *dir, bool quiet_missing)
{
	if (!have_gnuplot()) {
		fprintf(stderr,
			"weft-bench plot: gnuplot is not installed, so no plots were drawn; install "
			"it with 'apt-get install gnuplot-nox' (make deps does)%s\n",
			quiet_missing ? "; the results themselves were written" : "");
		return 3;
	}
	char err[512];
	bench_json *j = bench_json_load(json_path, err, sizeof err);
	if (!j) {
		fprintf(stderr, "weft-bench plot: %s\n", err);
		return 1;
	}
	const char *schema = bench_json_str(j, "schema", "");
	const bench_json *figs = bench_json_get(j, "figures"), *suites = bench_json_get(j, "suites");
	if (strcmp(schema, "weft-bench/1") || !figs || !suites) {
		fprintf(stderr, "weft-bench plot: %s is not a weft-bench/1 result file\n", json_path);
		bench_json_free(j);
		return 1;
	}
	struct stat st;
	if (mkdir(dir, 0777) && errno != EEXIST) {
		fprintf(stderr, "weft-bench plot: cannot create %s: %s\n", dir, strerror(errno));
		bench_json_free(j);
		return 1;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "weft-bench plot: %s is not a directory\n", dir);
		bench_json_free(j);
		return 1;
	}
	int rc = 0;
	for (const bench_json *s = suites->kid; s; s = s->next)
		if (s->type == BJ_STR)
			rc |= plot_suite(j, figs, s->str, dir);
	bench_json_free(j);
	return rc;
}

int bench_plot_main(int argc, char **argv)
{
	const char *in = NULL, *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc)
			dir = argv[++i];
		else if (!strncmp(argv[i], "-o", 2) && argv[i][2])
			dir = argv[i] + 2;
		else if (argv[i][0] != '-' && !in)
			in = argv[i];
		else {
			fprintf(stderr, "usage: weft-bench plot RUN.json -o DIR\n");
			return 2;
		}
	}
	if (!in || !dir) {
		fprintf(stderr, "usage: weft-bench plot RUN.json -o DIR\n");
		return 2;
	}
	return bench_plot_file(in, dir, false);
}
