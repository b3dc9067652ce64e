#include "bench.h"
int bench_compare_main(int argc, char **argv) { return 2; }
int bench_plot_main(int argc, char **argv) { return 2; }
int bench_plot_file(const char *json_path, const char *dir, bool quiet_missing) { return 3; }
