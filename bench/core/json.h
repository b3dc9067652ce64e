/*
 * A small JSON reader for weft-bench's own files (compare, plot): parses a whole document
 * into a tree of bench_json values. Strings keep their escapes decoded (\uXXXX to UTF-8).
 */
#ifndef WEFT_BENCH_JSON_H
#define WEFT_BENCH_JSON_H

#include <stddef.h>
#include <stdio.h>

typedef enum { BJ_NULL, BJ_BOOL, BJ_NUM, BJ_STR, BJ_ARR, BJ_OBJ } bench_json_type;

typedef struct bench_json bench_json;
struct bench_json {
	bench_json_type type;
	double num;      /* BJ_NUM, BJ_BOOL (0/1) */
	char *str;       /* BJ_STR */
	char *key;       /* member name when inside an object */
	bench_json *kid; /* first element / member */
	bench_json *next;
	size_t len;      /* element / member count */
};

/* Parse text; NULL on error with a message (line number included) in err. */
bench_json *bench_json_parse(const char *text, char *err, size_t errlen);
/* Read and parse a file; NULL with a message in err. */
bench_json *bench_json_load(const char *path, char *err, size_t errlen);
void bench_json_free(bench_json *v);
/* Member of an object by name, NULL if absent or v is not an object. */
const bench_json *bench_json_get(const bench_json *v, const char *key);
/* Convenience: string/number member or a default. */
const char *bench_json_str(const bench_json *v, const char *key, const char *dflt);
double bench_json_num(const bench_json *v, const char *key, double dflt);

/* Write s to f as a JSON string literal: quotes, backslashes and control bytes escaped. */
void bench_json_write_str(FILE *f, const char *s);

#endif
