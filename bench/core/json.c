/* A small recursive-descent JSON reader: see json.h. */
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
	const char *s, *start;
	char *err;
	size_t errlen;
	int failed;
	int depth;
} parser;

static void fail(parser *p, const char *what)
{
	if (p->failed)
		return;
	p->failed = 1;
	int line = 1;
	for (const char *c = p->start; c < p->s; c++)
		line += *c == '\n';
	snprintf(p->err, p->errlen, "JSON line %d: %s", line, what);
}

static void skip_ws(parser *p)
{
	while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
		p->s++;
}

static void put_utf8(char **o, unsigned cp)
{
	char *d = *o;
	if (cp < 0x80) {
		*d++ = (char)cp;
	} else if (cp < 0x800) {
		*d++ = (char)(0xC0 | (cp >> 6));
		*d++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*d++ = (char)(0xE0 | (cp >> 12));
		*d++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*d++ = (char)(0x80 | (cp & 0x3F));
	}
	*o = d;
}

static char *parse_string(parser *p)
{
	if (*p->s != '"') {
		fail(p, "expected a string");
		return NULL;
	}
	p->s++;
	const char *q = p->s;
	size_t n = 0;
	while (*q && *q != '"') {
		if (*q == '\\' && q[1])
			q++;
		q++;
		n++;
	}
	if (*q != '"') {
		fail(p, "unterminated string");
		return NULL;
	}
	char *out = malloc(n * 3 + 1), *o = out;
	if (!out) {
		fail(p, "out of memory");
		return NULL;
	}
	while (*p->s != '"') {
		char c = *p->s++;
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		c = *p->s++;
		switch (c) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u': {
			unsigned cp = 0;
			for (int i = 0; i < 4; i++) {
				char h = *p->s;
				if (!isxdigit((unsigned char)h)) {
					fail(p, "bad \\u escape");
					free(out);
					return NULL;
				}
				cp = cp * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0'
									 : (tolower(h) - 'a' + 10));
				p->s++;
			}
			put_utf8(&o, cp);
			break;
		}
		default: *o++ = c; break;
		}
	}
	p->s++;
	*o = 0;
	return out;
}

static bench_json *parse_value(parser *p);

static bench_json *new_value(parser *p, bench_json_type t)
{
	bench_json *v = calloc(1, sizeof *v);
	if (!v)
		fail(p, "out of memory");
	else
		v->type = t;
	return v;
}

static bench_json *parse_container(parser *p, int obj)
{
	bench_json *v = new_value(p, obj ? BJ_OBJ : BJ_ARR);
	if (!v)
		return NULL;
	if (++p->depth > 64) {
		fail(p, "nested too deeply");
		return v;
	}
	p->s++;
	skip_ws(p);
	bench_json **tail = &v->kid;
	char close = obj ? '}' : ']';
	if (*p->s == close) {
		p->s++;
		p->depth--;
		return v;
	}
	for (;;) {
		char *key = NULL;
		skip_ws(p);
		if (obj) {
			key = parse_string(p);
			if (!key)
				return v;
			skip_ws(p);
			if (*p->s != ':') {
				free(key);
				fail(p, "expected ':'");
				return v;
			}
			p->s++;
		}
		bench_json *kid = parse_value(p);
		if (!kid) {
			free(key);
			return v;
		}
		kid->key = key;
		*tail = kid;
		tail = &kid->next;
		v->len++;
		if (p->failed)
			return v;
		skip_ws(p);
		if (*p->s == ',') {
			p->s++;
			continue;
		}
		if (*p->s == close) {
			p->s++;
			p->depth--;
			return v;
		}
		fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		return v;
	}
}

static bench_json *parse_value(parser *p)
{
	skip_ws(p);
	char c = *p->s;
	if (c == '{' || c == '[')
		return parse_container(p, c == '{');
	if (c == '"') {
		char *s = parse_string(p);
		if (!s)
			return NULL;
		bench_json *v = new_value(p, BJ_STR);
		if (!v) {
			free(s);
			return NULL;
		}
		v->str = s;
		return v;
	}
	if (!strncmp(p->s, "true", 4) || !strncmp(p->s, "false", 5)) {
		bench_json *v = new_value(p, BJ_BOOL);
		if (v)
			v->num = c == 't';
		p->s += c == 't' ? 4 : 5;
		return v;
	}
	if (!strncmp(p->s, "null", 4)) {
		p->s += 4;
		return new_value(p, BJ_NULL);
	}
	if (c == '-' || isdigit((unsigned char)c)) {
		char *end;
		errno = 0;
		double d = strtod(p->s, &end);
		if (end == p->s) {
			fail(p, "bad number");
			return NULL;
		}
		p->s = end;
		bench_json *v = new_value(p, BJ_NUM);
		if (v)
			v->num = d;
		return v;
	}
	fail(p, c ? "unexpected character" : "unexpected end of input");
	return NULL;
}

bench_json *bench_json_parse(const char *text, char *err, size_t errlen)
{
	parser p = { text, text, err, errlen, 0, 0 };
	bench_json *v = parse_value(&p);
	if (!p.failed) {
		skip_ws(&p);
		if (*p.s)
			fail(&p, "trailing characters after the document");
	}
	if (p.failed) {
		bench_json_free(v);
		return NULL;
	}
	return v;
}

bench_json *bench_json_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (n + 1 < cap)
			break;
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	fclose(f);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	buf[n] = 0;
	char msg[200];
	bench_json *v = bench_json_parse(buf, msg, sizeof msg);
	free(buf);
	if (!v)
		snprintf(err, errlen, "%s: %s", path, msg);
	return v;
}

void bench_json_free(bench_json *v)
{
	while (v) {
		bench_json *next = v->next;
		bench_json_free(v->kid);
		free(v->str);
		free(v->key);
		free(v);
		v = next;
	}
}

const bench_json *bench_json_get(const bench_json *v, const char *key)
{
	if (!v || v->type != BJ_OBJ)
		return NULL;
	for (const bench_json *k = v->kid; k; k = k->next)
		if (k->key && !strcmp(k->key, key))
			return k;
	return NULL;
}

const char *bench_json_str(const bench_json *v, const char *key, const char *dflt)
{
	const bench_json *m = bench_json_get(v, key);
	return m && m->type == BJ_STR ? m->str : dflt;
}

double bench_json_num(const bench_json *v, const char *key, double dflt)
{
	const bench_json *m = bench_json_get(v, key);
	return m && (m->type == BJ_NUM || m->type == BJ_BOOL) ? m->num : dflt;
}

void bench_json_write_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}
