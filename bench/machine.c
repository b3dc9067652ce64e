/* Machine and build information for the JSON report. */
#define _GNU_SOURCE
#include "bench.h"
#include "core/json.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <weft/thread.h>
#include <weft/version.h>

#ifndef WEFT_BENCH_GIT_COMMIT
#define WEFT_BENCH_GIT_COMMIT "unknown"
#endif
#ifndef WEFT_BENCH_BUILD_TYPE
#define WEFT_BENCH_BUILD_TYPE "unknown"
#endif
#ifndef WEFT_BENCH_COMPILER
#define WEFT_BENCH_COMPILER __VERSION__
#endif

const char *bench_cpu_model(void)
{
	static char model[160];
	if (model[0])
		return model;
	snprintf(model, sizeof model, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return model;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "model name", 10) && strncmp(line, "Model", 5) &&
		    strncmp(line, "CPU part", 8))
			continue;
		char *c = strchr(line, ':');
		if (!c)
			continue;
		c++;
		while (*c == ' ' || *c == '\t')
			c++;
		c[strcspn(c, "\n")] = 0;
		snprintf(model, sizeof model, "%s", c);
		break;
	}
	fclose(f);
	return model;
}

void bench_json_machine(FILE *f)
{
	struct utsname u;
	char host[128] = "";
	memset(&u, 0, sizeof u);
	uname(&u);
	gethostname(host, sizeof host - 1);
	fprintf(f, "  \"machine\": {\"cpu_model\": ");
	bench_json_write_str(f, bench_cpu_model());
	fprintf(f, ", \"cpus\": %u, \"kernel\": ", weft_cpu_count());
	char kern[400];
	snprintf(kern, sizeof kern, "%s %s %s", u.sysname, u.release, u.machine);
	bench_json_write_str(f, kern);
	fprintf(f, ", \"hostname\": ");
	bench_json_write_str(f, host);
	fprintf(f, "},\n  \"build\": {\"weft_version\": ");
	bench_json_write_str(f, weft_version());
	fprintf(f, ", \"git_commit\": ");
	bench_json_write_str(f, WEFT_BENCH_GIT_COMMIT);
	fprintf(f, ", \"compiler\": ");
	bench_json_write_str(f, WEFT_BENCH_COMPILER);
	fprintf(f, ", \"build_type\": ");
	bench_json_write_str(f, WEFT_BENCH_BUILD_TYPE);
	fprintf(f, ", \"sanitizer\": ");
#if defined(WEFT_TSAN)
	bench_json_write_str(f, "thread");
#elif defined(WEFT_ASAN)
	bench_json_write_str(f, "address");
#else
	bench_json_write_str(f, "");
#endif
	fprintf(f, "},\n");
}
