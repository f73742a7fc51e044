# A new user's commands. Each target first installs any missing system package.
#   make demo   build (release) and run the main job on the shipped default
#   make test   the whole test suite (debug build)
#   make bench  loft against its Python peers, same machine, same run -> docs/benchmarks.md
#   make fuzz   libFuzzer targets for every reader (FUZZ_SECONDS each; FUZZ_TARGETS="npz gguf" for some)

SYSTEM_PACKAGES := zlib1g-dev libjson-c-dev libopenblas-dev pkg-config
# Open MPI, for the data-parallel tests and benchmark only: loft loads libmpi at run time when
# mpirun starts it, and never links it (docs/distributed.md).
MPI_PACKAGES := openmpi-bin
PYTHON ?= python3
FUZZ_SECONDS ?= 60
RELEASE_BIN := .build/release/loft

.PHONY: demo test bench fuzz deps mpi-deps python-deps build release clean

deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Not fatal: without Open MPI the MPI tests are reported as skipped and bench skips its MPI rows.
mpi-deps:
	@command -v mpirun >/dev/null 2>&1 || { \
		echo "installing system packages: $(MPI_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		($$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(MPI_PACKAGES) >/dev/null) || \
		echo "note: Open MPI unavailable; the MPI tests will be skipped"; }

# numpy, safetensors and ml_dtypes let the tests round-trip through the reference readers;
# the tests that need them are skipped (and say so) when they cannot be installed.
python-deps:
	@$(PYTHON) -c "import numpy, safetensors, ml_dtypes" 2>/dev/null || \
		$(PYTHON) -m pip install -q numpy safetensors ml_dtypes 2>/dev/null || \
		echo "note: numpy/safetensors/ml_dtypes unavailable; Python round-trip tests will be skipped"

build: deps
	swift build

release: deps
	swift build -c release

test: deps mpi-deps python-deps
	swift build --build-tests
	swift test --skip-build --parallel --num-workers 2

demo: release
	@bash scripts/demo.sh $(RELEASE_BIN)

bench: release mpi-deps python-deps
	@bash scripts/bench.sh $(RELEASE_BIN)

fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf .build bench-out demo-out fuzz-out
