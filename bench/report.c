/* Reports: the aligned table, JSON (schema weft-bench/1) and CSV. */
#include "bench.h"
#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const double QS[4] = { 0.50, 0.95, 0.99, 0.999 };
static const char *const QNAMES[4] = { "p50", "p95", "p99", "p99.9" };

static bool same_row(const bench_figure *a, const bench_figure *b)
{
	return a->suite == b->suite && !strcmp(a->shape.variant, b->shape.variant) &&
	       a->shape.threads == b->shape.threads &&
	       a->shape.label_threads == b->shape.label_threads &&
	       a->shape.producers == b->shape.producers &&
	       a->shape.consumers == b->shape.consumers;
}

void bench_rank(bench_results *r)
{
	for (size_t i = 0; i < r->nfigs; i++) {
		bench_figure *f = &r->figs[i];
		f->fastest = false;
		f->ratio = 0;
		if (f->status != FIG_OK)
			continue;
		double best = 0;
		const bench_figure *bf = NULL;
		for (size_t j = 0; j < r->nfigs; j++) {
			const bench_figure *g = &r->figs[j];
			if (g->status == FIG_OK && same_row(f, g) && (!bf || g->sum.median > best)) {
				best = g->sum.median;
				bf = g;
			}
		}
		f->fastest = bf == f;
		f->ratio = best > 0 ? f->sum.median / best : 0;
	}
}

static void shape_label(const bench_shape *sh, char *buf, size_t len)
{
	if (sh->producers || sh->consumers)
		snprintf(buf, len, "%u+%u", sh->producers, sh->consumers);
	else
		snprintf(buf, len, "%u", sh->label_threads);
}

static void fmt_num(char *buf, size_t len, double v)
{
	if (v >= 1000)
		snprintf(buf, len, "%.0f", v);
	else if (v >= 100)
		snprintf(buf, len, "%.1f", v);
	else if (v >= 1)
		snprintf(buf, len, "%.2f", v);
	else
		snprintf(buf, len, "%.3g", v);
}

static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns >= 10000000)
		snprintf(buf, len, "%.0fms", (double)ns / 1e6);
	else if (ns >= 100000)
		snprintf(buf, len, "%.0fus", (double)ns / 1e3);
	else
		snprintf(buf, len, "%llu", (unsigned long long)ns);
}

/* What the process spent over all of a figure's samples (the table's and CSV's columns). */
typedef struct usage_sum {
	double cpu_s;
	long vcsw, ivcsw, faults;
} usage_sum;

static usage_sum figure_usage(const bench_figure *f)
{
	usage_sum u = { 0, 0, 0, 0 };
	for (size_t k = 0; k < f->nsamples; k++) {
		u.cpu_s += f->samples[k].cpu_s;
		u.vcsw += f->samples[k].vcsw;
		u.ivcsw += f->samples[k].ivcsw;
		u.faults += f->samples[k].minflt + f->samples[k].majflt;
	}
	return u;
}

static void print_header(FILE *out, const bench_results *r, const bench_figure *f)
{
	const bench_cfg *c = r->cfg;
	fprintf(out, "\n== %s [%s]: %s\n   %s; %s; ", f->suite->name, f->shape.variant,
		f->suite->what, f->suite->unit_note, c->pin ? "pinned (--pin)" : "unpinned");
	if (c->ops)
		fprintf(out, "%u repeats of %llu ops", c->repeat, (unsigned long long)c->ops);
	else
		fprintf(out, "%u repeats of %.3g s", c->repeat, c->duration_s);
	fprintf(out, ", warmup %.3g s\n", c->warmup_s);
	fprintf(out, "%-7s  %-18s %10s  %-19s %8s  %7s %7s %7s %7s  %7s %7s %7s %6s\n", "threads",
		"impl", "Mops/s", "min..max", "vs best", "p50ns", "p95ns", "p99ns", "p99.9",
		"cpu-s", "vcsw", "ivcsw", "flt");
}

/* One line (wrapped) naming every figure of the block ending at last whose repeats spread
 * more than +-10% around their median: a noisy machine, or a structure that is unstable. */
static void print_noisy(FILE *out, const bench_results *r, size_t last)
{
	const bench_figure *f = &r->figs[last];
	size_t col = 0;
	for (size_t j = 0; j <= last; j++) {
		const bench_figure *g = &r->figs[j];
		if (g->suite != f->suite || strcmp(g->shape.variant, f->shape.variant) ||
		    g->status != FIG_OK || g->sum.spread_pct <= 10)
			continue;
		char lab[24], item[96];
		shape_label(&g->shape, lab, sizeof lab);
		snprintf(item, sizeof item, "%s@%s +-%.0f%%", g->impl->name, lab, g->sum.spread_pct);
		if (col == 0)
			col = (size_t)fprintf(out, "   ! noisy (repeats spread more than +-10%% "
						   "around the median):");
		else if (col + strlen(item) > 110)
			col = (size_t)fprintf(out, ",\n     ");
		else
			col += (size_t)fprintf(out, ",");
		col += (size_t)fprintf(out, " %s", item);
	}
	if (col)
		fprintf(out, "\n");
}

void bench_print_table(FILE *out, const bench_results *r)
{
	const bench_figure *prev = NULL;
	for (size_t i = 0; i < r->nfigs; i++) {
		const bench_figure *f = &r->figs[i];
		bool new_block = !prev || prev->suite != f->suite ||
				 strcmp(prev->shape.variant, f->shape.variant);
		if (new_block) {
			/* Noisy figures of the finished block. */
			print_header(out, r, f);
		}
		char lab[24] = "", med[24], lo[24], hi[24], mm[80], vs[24];
		if (new_block || !same_row(prev, f))
			shape_label(&f->shape, lab, sizeof lab);
		if (f->status != FIG_OK) {
			fprintf(out, "%-7s  %-18s %10s  %s: %s\n", lab, f->impl->name, "-",
				f->status == FIG_SKIPPED ? "skipped" : "FAILED", f->note);
			prev = f;
			continue;
		}
		fmt_num(med, sizeof med, f->sum.median);
		fmt_num(lo, sizeof lo, f->sum.min);
		fmt_num(hi, sizeof hi, f->sum.max);
		snprintf(mm, sizeof mm, "%s..%s%s", lo, hi, f->sum.spread_pct > 10 ? " !" : "");
		if (f->fastest)
			snprintf(vs, sizeof vs, "best");
		else
			snprintf(vs, sizeof vs, "%.3gx", f->ratio);
		char q[4][16];
		for (int k = 0; k < 4; k++)
			fmt_ns(q[k], sizeof q[k], bench_hist_quantile(&f->hist, QS[k]));
		usage_sum u = figure_usage(f);
		double ns = f->nsamples ? (double)f->nsamples : 1;
		fprintf(out, "%-7s %c%-18s %10s  %-19s %8s  %7s %7s %7s %7s  %7.3f %7.0f %7.0f %6.0f\n",
			lab, f->fastest ? '*' : ' ', f->impl->name, med, mm, vs, q[0], q[1], q[2],
			q[3], u.cpu_s / ns, (double)u.vcsw / ns, (double)u.ivcsw / ns,
			(double)u.faults / ns);
		prev = f;
		bool end_block = i + 1 == r->nfigs || r->figs[i + 1].suite != f->suite ||
				 strcmp(r->figs[i + 1].shape.variant, f->shape.variant);
		if (end_block)
			print_noisy(out, r, i);
	}
	fprintf(out, "\n   * fastest in its row; 'vs best' = median / the fastest median; "
		     "latency = sampled op time (1 call in %d, sched: every call; divided by its batch); cpu-s, "
		     "vcsw, ivcsw, flt = getrusage per repeat\n",
		BENCH_SAMPLE_EVERY);
}

static const char *status_name(bench_status s)
{
	return s == FIG_OK ? "ok" : s == FIG_SKIPPED ? "skipped" : "failed";
}

int bench_write_json(FILE *f, const bench_results *r)
{
	const bench_cfg *c = r->cfg;
	fprintf(f, "{\n  \"schema\": \"weft-bench/1\",\n  \"started\": ");
	bench_json_write_str(f, r->started);
	fprintf(f, ",\n");
	bench_json_machine(f);
	fprintf(f, "  \"config\": {\"duration_s\": %.6g, \"ops\": %llu, \"warmup_s\": %.6g, "
		   "\"repeat\": %u, \"pin\": %s, \"spin_iters_per_ns\": %.6g, "
		   "\"sample_every\": %d, \"threads\": [",
		c->duration_s, (unsigned long long)c->ops, c->warmup_s, c->repeat,
		c->pin ? "true" : "false", r->spin_per_ns, BENCH_SAMPLE_EVERY);
	for (size_t i = 0; i < c->nthreads; i++)
		fprintf(f, "%s%u", i ? ", " : "", c->threads[i]);
	fprintf(f, "]},\n  \"suites\": [");
	const bench_suite *last = NULL;
	int first = 1;
	for (size_t i = 0; i < r->nfigs; i++) {
		const bench_suite *s = r->figs[i].suite;
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= r->figs[j].suite == s;
		if (seen || s == last)
			continue;
		fprintf(f, "%s", first ? "" : ", ");
		bench_json_write_str(f, s->name);
		first = 0;
		last = s;
	}
	fprintf(f, "],\n  \"figures\": [");
	for (size_t i = 0; i < r->nfigs; i++) {
		const bench_figure *g = &r->figs[i];
		fprintf(f, "%s\n    {\"suite\": ", i ? "," : "");
		bench_json_write_str(f, g->suite->name);
		fprintf(f, ", \"variant\": ");
		bench_json_write_str(f, g->shape.variant);
		fprintf(f, ", \"impl\": ");
		bench_json_write_str(f, g->impl->name);
		fprintf(f, ", \"threads\": %u, \"producers\": %u, \"consumers\": %u, "
			   "\"status\": \"%s\", \"note\": ",
			g->shape.label_threads, g->shape.producers, g->shape.consumers,
			status_name(g->status));
		bench_json_write_str(f, g->note);
		fprintf(f, ",\n     \"unit\": \"Mops/s\", \"median\": %.6g, \"min\": %.6g, "
			   "\"max\": %.6g, \"spread_pct\": %.4g, \"noisy\": %s, \"fastest\": %s, "
			   "\"ratio\": %.4g,\n     \"latency_ns\": {",
			g->sum.median, g->sum.min, g->sum.max, g->sum.spread_pct,
			g->sum.spread_pct > 10 ? "true" : "false", g->fastest ? "true" : "false",
			g->ratio);
		for (int k = 0; k < 4; k++)
			fprintf(f, "\"%s\": %llu, ", QNAMES[k],
				(unsigned long long)bench_hist_quantile(&g->hist, QS[k]));
		fprintf(f, "\"samples\": %llu},\n     \"samples\": [",
			(unsigned long long)g->hist.count);
		for (size_t k = 0; k < g->nsamples; k++) {
			const bench_sample *s = &g->samples[k];
			fprintf(f, "%s{\"mops\": %.6g, \"ops\": %llu, \"secs\": %.6g, \"cpu_s\": %.6g, "
				   "\"vcsw\": %ld, \"ivcsw\": %ld, \"minflt\": %ld, \"majflt\": %ld}",
				k ? ", " : "", s->mops, (unsigned long long)s->ops, s->secs, s->cpu_s,
				s->vcsw, s->ivcsw, s->minflt, s->majflt);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "\n  ]\n}\n");
	return ferror(f) ? -1 : 0;
}

static void csv_field(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
}

int bench_write_csv(FILE *f, const bench_results *r)
{
	fprintf(f, "suite,variant,impl,threads,producers,consumers,status,median_mops,min_mops,"
		   "max_mops,spread_pct,ratio_to_best,p50_ns,p95_ns,p99_ns,p999_ns,"
		   "cpu_s,vcsw,ivcsw,faults,mops_samples,note\n");
	for (size_t i = 0; i < r->nfigs; i++) {
		const bench_figure *g = &r->figs[i];
		csv_field(f, g->suite->name);
		fputc(',', f);
		csv_field(f, g->shape.variant);
		fputc(',', f);
		csv_field(f, g->impl->name);
		fprintf(f, ",%u,%u,%u,%s,%.6g,%.6g,%.6g,%.4g,%.4g", g->shape.label_threads,
			g->shape.producers, g->shape.consumers, status_name(g->status),
			g->sum.median, g->sum.min, g->sum.max, g->sum.spread_pct, g->ratio);
		for (int k = 0; k < 4; k++)
			fprintf(f, ",%llu", (unsigned long long)bench_hist_quantile(&g->hist, QS[k]));
		usage_sum u = figure_usage(g);
		fprintf(f, ",%.6g,%ld,%ld,%ld,", u.cpu_s, u.vcsw, u.ivcsw, u.faults);
		for (size_t k = 0; k < g->nsamples; k++)
			fprintf(f, "%s%.6g", k ? ";" : "", g->samples[k].mops);
		fputc(',', f);
		csv_field(f, g->note);
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}
