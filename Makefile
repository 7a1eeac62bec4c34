# `make` builds everything into build/bin/ (arca, arcad, arca-run); `make test` runs the suite.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all test format clean
all:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test:
	scripts/test

format:
	find src tests bench -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf build build-asan
