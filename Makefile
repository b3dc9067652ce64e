# weft's Makefile only drives CMake (see README.md). Targets:
#   make deps   install missing Debian packages (as root; otherwise print the apt-get line)
#   make test   deps, then build and run ctest in three builds: optimised gcc,
#               ThreadSanitizer (clang), AddressSanitizer+UBSan (clang)
#   make bench  deps (+ the optional TBB and Go peers), release build, run weft-bench's
#               default suite
#   make build  the optimised build only
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_FLAGS ?= --output-on-failure -j $(JOBS)
BENCH_ARGS ?=

# test-release, test-tsan, test-asan come from the test-% pattern (a pattern rule cannot be .PHONY).
.PHONY: all deps bench-deps build test bench clean

all: build

deps:
	@bash cmake/install-deps.sh

# The benchmark also wants its optional peers (TBB, Go); best effort.
bench-deps:
	@bash cmake/install-deps.sh --peers

$(BUILD)/release/CMakeCache.txt:
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc

$(BUILD)/tsan/CMakeCache.txt:
	cmake -S . -B $(BUILD)/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_COMPILER=clang -DWEFT_SANITIZE=thread -DWEFT_DEBUG_CHECKS=ON

$(BUILD)/asan/CMakeCache.txt:
	cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_COMPILER=clang -DWEFT_SANITIZE=address -DWEFT_DEBUG_CHECKS=ON

build: deps $(BUILD)/release/CMakeCache.txt
	cmake --build $(BUILD)/release -j $(JOBS)

test-%: $(BUILD)/%/CMakeCache.txt
	cmake --build $(BUILD)/$* -j $(JOBS)
	cd $(BUILD)/$* && ctest $(CTEST_FLAGS)

# Sequential on purpose: each build's stress tests want both cores.
test: deps
	$(MAKE) --no-print-directory test-release
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory test-asan
	@echo "make test: all three builds passed"

bench: bench-deps build
	mkdir -p $(BUILD)/bench-results
	$(BUILD)/release/bench/weft-bench --out-dir $(BUILD)/bench-results $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)
