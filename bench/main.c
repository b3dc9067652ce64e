/*
 * weft-bench: which structure should I use, on my machine, at my thread count?
 * Command line, the sweep, and the output files. See --help and bench/README.md.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <weft/thread.h>

#define EXIT_USAGE 2

static const bench_suite *const all_suites[] = {
	&bench_suite_counter, &bench_suite_mutex,   &bench_suite_rwlock,
	&bench_suite_queue,   &bench_suite_reclaim, &bench_suite_sched,   &bench_suite_pool,
	&bench_suite_fiber,
};
#define NSUITES (sizeof all_suites / sizeof all_suites[0])

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weft-bench [SUITE...] [options]\n"
		"       weft-bench compare OLD.json NEW.json\n"
		"       weft-bench plot RUN.json -o DIR\n"
		"\n"
		"suites: counter mutex rwlock queue reclaim sched pool fiber all (default: all)\n"
		"\n"
		"options:\n"
		"  --list               the suites and their implementations, then exit\n"
		"  --impl a,b           only these implementations\n"
		"  --threads 1,2,4,8    thread counts (default: 1, cores, 2x cores, 4x cores);\n"
		"                       1..%d each; in the queue suite each value n means P=C=n\n"
		"  --duration TIME      measured time per run (default 0.1s; 250ms, 2s, 0.5)\n"
		"  --ops N              instead of a duration: N operations per run (1e6, 10M)\n"
		"  --warmup TIME        warmup before each run (default 0.02s)\n"
		"  --repeat N           runs per figure (default 5); median and min..max over them\n"
		"  --read-pct P[,P..]   rwlock: percentage of reads (default 99)\n"
		"  --cs-ns NS           mutex: critical section length (default: 0 and 1000)\n"
		"  --producers P        queue: producers (with --consumers: one fixed shape)\n"
		"  --consumers C        queue: consumers\n"
		"  --capacity N         queue: capacity of bounded kinds (default 1024)\n"
		"  --pin                pin thread i to CPU i mod cpus (default: unpinned)\n"
		"  --csv FILE           write a CSV table\n"
		"  --json FILE          write all samples, machine and build information\n"
		"  --out-dir DIR        write DIR/run.json, DIR/run.csv and plots (with gnuplot)\n"
		"  --quiet              no progress line\n"
		"  --help               this text\n"
		"\n"
		"exit status: 0 ok, 1 a structure gave a wrong answer or a run failed, 2 bad usage\n",
		BENCH_MAX_THREADS);
}

static int usage_error(const char *fmt, const char *arg, const char *valid)
{
	fprintf(stderr, "weft-bench: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	if (valid)
		fprintf(stderr, "valid choices: %s\n", valid);
	fprintf(stderr, "(weft-bench --help lists every option)\n");
	return EXIT_USAGE;
}

/* "0.1", "100ms", "2s", "500us" -> seconds; -1 on error. */
static double parse_time(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !(v >= 0) || isinf(v))
		return -1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		return v;
	if (!strcmp(end, "ms"))
		return v / 1e3;
	if (!strcmp(end, "us"))
		return v / 1e6;
	if (!strcmp(end, "ns"))
		return v / 1e9;
	return -1;
}

/* "1000", "1e6", "10M", "5k" -> count; 0 on error. */
static uint64_t parse_count(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !(v >= 1) || v > 1e18)
		return 0;
	if (*end == 'k' || *end == 'K')
		v *= 1e3, end++;
	else if (*end == 'M')
		v *= 1e6, end++;
	else if (*end == 'G')
		v *= 1e9, end++;
	if (*end || v > 1e18)
		return 0;
	return (uint64_t)v;
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_list(const char *s, unsigned lo, unsigned hi, unsigned *out, size_t *n)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", s);
	*n = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long v;
		if (*n >= BENCH_MAX_LIST || parse_uint(tok, lo, hi, &v))
			return -1;
		out[(*n)++] = (unsigned)v;
	}
	return *n ? 0 : -1;
}

static const bench_suite *find_suite(const char *name)
{
	for (size_t i = 0; i < NSUITES; i++)
		if (!strcmp(all_suites[i]->name, name))
			return all_suites[i];
	return NULL;
}

static bool impl_selected(const bench_cfg *cfg, const bench_impl *im)
{
	if (!cfg->impls)
		return true;
	for (char **p = cfg->impls; *p; p++)
		if (!strcmp(*p, im->name))
			return true;
	return false;
}

static void list_suites(FILE *f)
{
	for (size_t i = 0; i < NSUITES; i++) {
		const bench_suite *s = all_suites[i];
		const char *why = s->unavailable ? s->unavailable() : NULL;
		fprintf(f, "%s: %s%s%s\n", s->name, s->what, why ? "  [unavailable: " : "",
			why ? why : "");
		if (why)
			fprintf(f, "]\n");
		for (size_t k = 0; k < s->nimpls; k++) {
			const bench_impl *im = &s->impls[k];
			const char *u = im->unavailable ? im->unavailable(NULL) : NULL;
			fprintf(f, "  %-18s %s%s%s%s\n", im->name, im->what, u ? "  [unavailable: " : "",
				u ? u : "", u ? "]" : "");
		}
	}
}

/* Every implementation name of the given suites, for an error message. */
static void impl_names(const bench_suite **suites, size_t n, char *buf, size_t len)
{
	buf[0] = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < suites[i]->nimpls; k++) {
			const char *nm = suites[i]->impls[k].name;
			if (strstr(buf, nm) && (strstr(buf, nm)[strlen(nm)] == ' ' ||
						strstr(buf, nm)[strlen(nm)] == 0))
				continue;
			size_t l = strlen(buf);
			snprintf(buf + l, len - l, "%s%s", l ? " " : "", nm);
		}
}

static int mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0777) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0777) && errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(buf, &st) || !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

static FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "weft-bench: cannot write %s: %s (nothing was run)\n", path,
			strerror(errno));
	return f;
}

static void progress(bool on, const char *suite, const char *variant, const char *impl,
		     const bench_shape *sh, unsigned rep, unsigned reps, size_t done, size_t total)
{
	if (!on)
		return;
	fprintf(stderr, "\r\033[K[%zu/%zu] %s [%s] %s threads=%u repeat %u/%u", done + 1, total,
		suite, variant, impl, sh->threads, rep + 1, reps);
	fflush(stderr);
}

/* Run one suite's sweep into r; returns the number of failed figures. */
static int run_suite(const bench_suite *s, bench_results *r, const bench_cfg *cfg,
		     bool show, size_t *done, size_t total)
{
	bench_shape shapes[256];
	size_t nsh = s->shapes(cfg, shapes, 256);
	int failures = 0;
	size_t first = r->nfigs;
	for (size_t si = 0; si < nsh; si++) {
		const bench_shape *sh = &shapes[si];
		for (size_t k = 0; k < s->nimpls; k++) {
			const bench_impl *im = &s->impls[k];
			if (!impl_selected(cfg, im))
				continue;
			if (r->nfigs == r->cap) {
				size_t nc = r->cap ? r->cap * 2 : 64;
				bench_figure *nf = realloc(r->figs, nc * sizeof *nf);
				if (!nf) {
					fprintf(stderr, "weft-bench: out of memory\n");
					exit(1);
				}
				r->figs = nf;
				r->cap = nc;
			}
			bench_figure *f = &r->figs[r->nfigs++];
			memset(f, 0, sizeof *f);
			f->suite = s;
			f->impl = im;
			f->shape = *sh;
			f->samples = calloc(cfg->repeat, sizeof *f->samples);
			bench_hist_init(&f->hist);
			const char *why = im->unavailable ? im->unavailable(sh) : NULL;
			if (why) {
				f->status = FIG_SKIPPED;
				snprintf(f->note, sizeof f->note, "%s", why);
			}
		}
	}
	/* Repeats outermost, then every shape and implementation: drift on a shared machine
	 * spreads over all of them instead of biasing whichever ran last, so ratios between
	 * rows (2 workers against 1, 8 threads against 2) are as fair as those within one. */
	for (unsigned rep = 0; rep < cfg->repeat; rep++)
		for (size_t fi = first; fi < r->nfigs; fi++) {
			bench_figure *f = &r->figs[fi];
			const bench_shape *sh = &f->shape;
			if (f->status != FIG_OK)
				continue;
			progress(show, s->name, sh->variant, f->impl->name, sh, rep, cfg->repeat,
				 (*done)++, total);
			char err[256] = "";
			if (bench_run_once(f->impl, sh, cfg, &f->samples[f->nsamples], &f->hist,
					   err, sizeof err)) {
				f->status = FIG_FAILED;
				snprintf(f->note, sizeof f->note, "%s", err);
				if (show)
					fprintf(stderr, "\r\033[K");
				fprintf(stderr, "weft-bench: FAILED %s [%s] %s threads=%u: %s\n",
					s->name, sh->variant, f->impl->name, sh->threads, err);
				failures++;
				continue;
			}
			f->nsamples++;
		}
	for (size_t fi = first; fi < r->nfigs; fi++) {
		bench_figure *f = &r->figs[fi];
		double mops[1024];
		size_t n = f->nsamples < 1024 ? f->nsamples : 1024;
		for (size_t k = 0; k < n; k++)
			mops[k] = f->samples[k].mops;
		bench_summarize(mops, n, &f->sum);
	}
	return failures;
}

static size_t count_runs(const bench_suite *s, const bench_cfg *cfg)
{
	bench_shape shapes[256];
	size_t nsh = s->shapes(cfg, shapes, 256), n = 0;
	for (size_t k = 0; k < s->nimpls; k++)
		n += impl_selected(cfg, &s->impls[k]);
	return n * nsh * cfg->repeat;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "compare"))
		return bench_compare_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "plot"))
		return bench_plot_main(argc - 1, argv + 1);

	bench_cfg cfg = { .duration_s = 0.1, .warmup_s = 0.02, .repeat = 5, .cs_ns = -1,
			  .capacity = 1024 };
	cfg.read_pct[0] = 99;
	cfg.nread_pct = 1;
	const bench_suite *suites[NSUITES];
	size_t nsuites = 0;
	bool list = false, quiet = false, threads_set = false, all = false;
	const char *csv = NULL, *json = NULL, *outdir = NULL, *impl_arg = NULL;
	char suite_names[128] = "counter mutex rwlock queue reclaim sched pool fiber all";

	for (int i = 1; i < argc; i++) {
		char *a = argv[i], *val = NULL, name[64];
		if (strncmp(a, "--", 2)) {
			if (!strcmp(a, "all")) {
				all = true;
				continue;
			}
			const bench_suite *s = find_suite(a);
			if (!s)
				return usage_error("unknown suite '%s'", a, suite_names);
			bool dup = false;
			for (size_t k = 0; k < nsuites; k++)
				dup |= suites[k] == s;
			if (!dup)
				suites[nsuites++] = s;
			continue;
		}
		snprintf(name, sizeof name, "%s", a);
		char *eq = strchr(name, '=');
		if (eq) {
			*eq = 0;
			val = a + (eq - name) + 1;
		}
		static const char *const flags[] = { "--list", "--pin", "--quiet", "--help", NULL };
		bool is_flag = false;
		for (int k = 0; flags[k]; k++)
			is_flag |= !strcmp(name, flags[k]);
		if (is_flag) {
			if (val)
				return usage_error("option %s takes no value", name, NULL);
			if (!strcmp(name, "--list"))
				list = true;
			else if (!strcmp(name, "--pin"))
				cfg.pin = true;
			else if (!strcmp(name, "--quiet"))
				quiet = true;
			else {
				usage(stdout);
				return 0;
			}
			continue;
		}
		static const char *const opts[] = { "--impl", "--threads", "--duration", "--ops",
						    "--warmup", "--repeat", "--read-pct", "--cs-ns",
						    "--producers", "--consumers", "--capacity", "--csv",
						    "--json", "--out-dir", NULL };
		bool known = false;
		for (int k = 0; opts[k]; k++)
			known |= !strcmp(name, opts[k]);
		if (!known)
			return usage_error("unknown option '%s'", name,
					   "--list --impl --threads --duration --ops --warmup "
					   "--repeat --read-pct --cs-ns --producers --consumers "
					   "--capacity --pin --csv --json --out-dir --quiet --help");
		if (!val) {
			if (i + 1 >= argc)
				return usage_error("option %s needs a value", name, NULL);
			val = argv[++i];
		}
		unsigned long u;
		if (!strcmp(name, "--impl")) {
			impl_arg = val;
		} else if (!strcmp(name, "--threads")) {
			if (parse_list(val, 1, BENCH_MAX_THREADS, cfg.threads, &cfg.nthreads))
				return usage_error("bad --threads '%s'", val,
						   "a comma-separated list of counts from 1 to 1024");
			threads_set = true;
		} else if (!strcmp(name, "--duration")) {
			cfg.duration_s = parse_time(val);
			if (!(cfg.duration_s > 0) || cfg.duration_s > 3600)
				return usage_error("bad --duration '%s'", val,
						   "a time above 0 and at most 3600 s: 0.5, 250ms, 2s");
		} else if (!strcmp(name, "--ops")) {
			if (!(cfg.ops = parse_count(val)))
				return usage_error("bad --ops '%s'", val, "a count >= 1: 1000000, 1e6, 10M");
		} else if (!strcmp(name, "--warmup")) {
			cfg.warmup_s = parse_time(val);
			if (cfg.warmup_s < 0 || cfg.warmup_s > 600)
				return usage_error("bad --warmup '%s'", val, "a time from 0 to 600 s");
		} else if (!strcmp(name, "--repeat")) {
			if (parse_uint(val, 1, 1000, &u))
				return usage_error("bad --repeat '%s'", val, "1 to 1000");
			cfg.repeat = (unsigned)u;
		} else if (!strcmp(name, "--read-pct")) {
			if (parse_list(val, 0, 100, cfg.read_pct, &cfg.nread_pct))
				return usage_error("bad --read-pct '%s'", val,
						   "percentages from 0 to 100, comma-separated");
			cfg.read_pct_set = true;
		} else if (!strcmp(name, "--cs-ns")) {
			if (parse_uint(val, 0, 10000000, &u))
				return usage_error("bad --cs-ns '%s'", val, "0 to 10000000 ns");
			cfg.cs_ns = (long)u;
		} else if (!strcmp(name, "--producers") || !strcmp(name, "--consumers")) {
			if (parse_uint(val, 1, BENCH_MAX_THREADS, &u))
				return usage_error("bad thread count '%s'", val, "1 to 1024");
			if (name[2] == 'p')
				cfg.producers = (unsigned)u;
			else
				cfg.consumers = (unsigned)u;
		} else if (!strcmp(name, "--capacity")) {
			if (parse_uint(val, 1, 1u << 30, &u))
				return usage_error("bad --capacity '%s'", val, "1 to 1073741824");
			cfg.capacity = u;
		} else if (!strcmp(name, "--csv")) {
			csv = val;
		} else if (!strcmp(name, "--json")) {
			json = val;
		} else if (!strcmp(name, "--out-dir")) {
			outdir = val;
		}
	}
	if (list) {
		list_suites(stdout);
		return 0;
	}
	bool explicit_suites = !all && nsuites > 0;
	if (all || nsuites == 0) {
		nsuites = 0;
		for (size_t i = 0; i < NSUITES; i++)
			suites[nsuites++] = all_suites[i];
	}
	if ((cfg.producers != 0) != (cfg.consumers != 0))
		return usage_error("%s", "--producers and --consumers go together", NULL);
	if (!threads_set) {
		unsigned c = weft_cpu_count(), cand[4] = { 1, c, 2 * c, 4 * c };
		for (int k = 0; k < 4; k++) {
			if (cand[k] > BENCH_MAX_THREADS)
				continue;
			bool dup = false;
			for (size_t j = 0; j < cfg.nthreads; j++)
				dup |= cfg.threads[j] == cand[k];
			if (!dup)
				cfg.threads[cfg.nthreads++] = cand[k];
		}
	}
	if (cfg.ops)
		cfg.duration_s = 0;
	/* --impl: every name must exist in a chosen suite. */
	char *impl_buf = NULL, *impl_list[128];
	if (impl_arg) {
		impl_buf = strdup(impl_arg);
		size_t n = 0;
		for (char *save = NULL, *tok = strtok_r(impl_buf, ",", &save); tok && n < 127;
		     tok = strtok_r(NULL, ",", &save)) {
			bool found = false;
			for (size_t si = 0; si < nsuites; si++)
				for (size_t k = 0; k < suites[si]->nimpls; k++)
					found |= !strcmp(suites[si]->impls[k].name, tok);
			if (!found) {
				char names[2048];
				impl_names(suites, nsuites, names, sizeof names);
				int rc = usage_error("unknown implementation '%s' in the chosen suites",
						     tok, names);
				free(impl_buf);
				return rc;
			}
			impl_list[n++] = tok;
		}
		impl_list[n] = NULL;
		if (n == 0) {
			free(impl_buf);
			return usage_error("%s", "--impl needs at least one name", NULL);
		}
		cfg.impls = impl_list;
	}
	/* Explicitly named suites that cannot run are an error; "all" skips them. */
	const bench_suite *run_list[NSUITES];
	size_t nrun = 0;
	for (size_t i = 0; i < nsuites; i++) {
		const char *why = suites[i]->unavailable ? suites[i]->unavailable() : NULL;
		if (why) {
			if (explicit_suites) {
				fprintf(stderr, "weft-bench: suite %s is unavailable in this build: %s\n",
					suites[i]->name, why);
				return EXIT_USAGE;
			}
			fprintf(stderr, "weft-bench: note: suite %s skipped: %s\n", suites[i]->name,
				why);
			continue;
		}
		run_list[nrun++] = suites[i];
	}

	/* Output files are opened before anything runs: a bad path fails now, not after. */
	FILE *fcsv = NULL, *fjson = NULL, *fcsv2 = NULL, *fjson2 = NULL;
	char dir_json[4096] = "";
	if (csv && !(fcsv = open_out(csv)))
		return 1;
	if (json && !(fjson = open_out(json)))
		return 1;
	if (outdir) {
		char p[4096];
		if (mkdir_p(outdir)) {
			fprintf(stderr, "weft-bench: cannot create --out-dir %s: %s (nothing was run)\n",
				outdir, strerror(errno));
			return 1;
		}
		snprintf(dir_json, sizeof dir_json, "%s/run.json", outdir);
		snprintf(p, sizeof p, "%s/run.csv", outdir);
		if (!(fjson2 = open_out(dir_json)) || !(fcsv2 = open_out(p)))
			return 1;
	}

	bench_calibrate();
	bench_results r = { .cfg = &cfg, .spin_per_ns = bench_spin_rate() };
	time_t now = time(NULL);
	strftime(r.started, sizeof r.started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	bool show = !quiet && isatty(2);
	size_t total = 0, done = 0;
	for (size_t i = 0; i < nrun; i++)
		total += count_runs(run_list[i], &cfg);
	if (!quiet && !cfg.ops)
		fprintf(stderr, "weft-bench: %zu runs of %.3g s + %.3g s warmup: about %.0f s\n",
			total, cfg.duration_s, cfg.warmup_s,
			(double)total * (cfg.duration_s + cfg.warmup_s + 0.005));
	int failures = 0;
	for (size_t i = 0; i < nrun; i++)
		failures += run_suite(run_list[i], &r, &cfg, show, &done, total);
	if (show)
		fprintf(stderr, "\r\033[K");
	bench_rank(&r);
	bench_print_table(stdout, &r);
	int werr = 0;
	FILE *outs[2] = { fjson, fjson2 }, *couts[2] = { fcsv, fcsv2 };
	for (int k = 0; k < 2; k++) {
		if (outs[k]) {
			werr |= bench_write_json(outs[k], &r);
			werr |= fclose(outs[k]);
		}
		if (couts[k]) {
			werr |= bench_write_csv(couts[k], &r);
			werr |= fclose(couts[k]);
		}
	}
	if (werr)
		fprintf(stderr, "weft-bench: writing the output files failed\n");
	if (outdir) {
		int prc = bench_plot_file(dir_json, outdir, true);
		if (prc == 0)
			printf("plots: %s/*.svg\n", outdir);
		printf("results: %s/run.json, %s/run.csv\n", outdir, outdir);
	}
	for (size_t i = 0; i < r.nfigs; i++)
		free(r.figs[i].samples);
	free(r.figs);
	free(impl_buf);
	if (failures) {
		fprintf(stderr, "weft-bench: %d figure(s) FAILED their correctness check\n",
			failures);
		return 1;
	}
	return werr ? 1 : 0;
}
