# VoxServe — the two commands: `make run` and `make test`.
SHELL := /bin/bash
ROOT := $(abspath .)
DEPS ?= $(ROOT)/.deps
export PKG_CONFIG_PATH := $(DEPS)/pkgconfig:$(PKG_CONFIG_PATH)
export VOXSERVE_DEPS := $(DEPS)
SWIFT ?= $(shell command -v swift || echo /opt/swift/usr/bin/swift)
CONFIG ?= release
BIN = $(ROOT)/.build/$(CONFIG)/voxserve
HOST ?= 127.0.0.1
PORT ?= 8080
SCRATCH = $(ROOT)/scripts/in-scratch-tmp.sh

.PHONY: setup build run test bench doctor clean webui-test bench-stream bench-throughput soak fuzz gpu-check gpu-bundle chatterbox-standin bench-chatterbox

setup:
	@GPU=$(GPU) BENCH=$(BENCH) scripts/setup.sh

build: setup
	$(SWIFT) build -c $(CONFIG) --product voxserve

run: build
	$(BIN) serve --host $(HOST) --port $(PORT) $(if $(WYOMING_PORT),--wyoming-port $(WYOMING_PORT))

test:
	@GPU=$(GPU) TEST=1 BENCH=1 scripts/setup.sh
	scripts/test-fixtures.sh
	$(SWIFT) build --build-tests
	# Tests keep their voices and caches out of the user's ~/.voxserve. Three suites run after the
	# others, each alone: the hostile-input suite (a server of its own under 180 abusive requests),
	# the fleet suite (PostgreSQL, nginx and two replicas of its own), which would starve the
	# timing-sensitive live tests on 2 cores, and the OpenAI SDK suite, which times first bytes.
	# Every step runs with a TMPDIR of its own, removed afterwards (scripts/in-scratch-tmp.sh).
	rm -rf $(ROOT)/.build/test-home && VOXSERVE_HOME=$(ROOT)/.build/test-home $(SCRATCH) $(SWIFT) test --skip-build \
	  --skip HostileInputTests --skip FleetTests --skip OpenAISDKTests
	VOXSERVE_HOME=$(ROOT)/.build/test-home $(SCRATCH) $(SWIFT) test --skip-build --filter OpenAISDKTests
	VOXSERVE_HOME=$(ROOT)/.build/test-home $(SCRATCH) $(SWIFT) test --skip-build --filter HostileInputTests
	VOXSERVE_HOME=$(ROOT)/.build/test-home $(SCRATCH) $(SWIFT) test --skip-build --filter FleetTests
	# The web page in headless Chromium (Debian's), as a person uses it; screenshots in .build/webui-screenshots.
	$(SWIFT) build --product voxserve
	$(SCRATCH) scripts/webui-check.py --bin $(ROOT)/.build/debug/voxserve --screenshots $(ROOT)/.build/webui-screenshots
	# Every benchmark once, small (Chatterbox on the tiny models): fails unless every figure was measured.
	$(SCRATCH) $(ROOT)/.build/debug/voxserve bench --quick --report $(ROOT)/.build/bench-quick

bench: build
	@BENCH=1 scripts/setup.sh
	$(BIN) bench --out bench-results.json --report bench-report

doctor: build
	$(BIN) doctor

# The web page alone in headless Chromium (also the last step of `make test`).
webui-test:
	@TEST=1 scripts/setup.sh
	$(SWIFT) build --product voxserve
	scripts/webui-check.py --bin $(ROOT)/.build/debug/voxserve --screenshots $(ROOT)/.build/webui-screenshots

# Time to first audio byte vs whole response, five sentences, against a server on $(HOST):$(PORT).
bench-stream:
	scripts/bench-stream.py --url http://$(HOST):$(PORT)

# VoxServe beside piper-tts's own HTTP server at 1, 4 and 16 concurrent clients.
bench-throughput: build
	@BENCH=1 scripts/setup.sh
	scripts/bench-throughput.py --bin $(BIN)

# 16 clients for 10 minutes against --max-concurrent 2: errors, p50/p95, RSS each minute (goal: < 5%
# growth in the second half). Shorter: make soak SOAK_ARGS="--minutes 1 --sample-seconds 10".
soak: build
	scripts/soak.py --bin $(BIN) $(SOAK_ARGS)

# libFuzzer (+ AddressSanitizer) on the audio decoder, the multipart and speech-request parsers and
# the Piper config: FUZZ_SECONDS each (120), FUZZ_TARGETS to pick some. Builds in .build-fuzz.
fuzz: setup
	SWIFT=$(SWIFT) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" scripts/fuzz.sh

clean:
	rm -rf .build

# The CUDA path end to end on an NVIDIA GPU, in under 8 minutes (builds the release binary and
# installs the GPU runtime first); prints `GPUCHECK RESULT: PASS` or the failures. Without a GPU:
# `SKIPPED: no NVIDIA GPU`, exit 0.
gpu-check:
	@scripts/gpu-check.sh

# A self-contained bundle for `make gpu-check` on a bare GPU machine (no Swift, no packages), split
# into parts of at most 64 MiB in gpu-bundle/ (BUNDLE_CUDA=1 also carries the pinned CUDA/cuDNN).
gpu-bundle: setup
	SWIFT=$(SWIFT) BUNDLE_CUDA=$(BUNDLE_CUDA) scripts/gpu-bundle.sh

# Full-size Chatterbox Turbo stand-ins (random weights, real sizes; int8 and q4 too) in .deps/chatterbox-standin,
# from chatterbox-tts's classes in .deps/standin-venv; scripts/chatterbox_reference_loop.py times them.
# Rebuilt only when its scripts or pins change.
chatterbox-standin:
	@scripts/setup-standin.sh
	@sum=$$(cat scripts/make_chatterbox_standin.py scripts/make_chatterbox_test_models.py scripts/requirements-standin.txt | sha256sum | cut -d' ' -f1); \
	if [ "$$(cat $(DEPS)/chatterbox-standin/.stamp 2>/dev/null)" != "$$sum" ]; then \
	  nice $(DEPS)/standin-venv/bin/python scripts/make_chatterbox_standin.py --backend torch $(DEPS)/chatterbox-standin && \
	  echo "$$sum" > $(DEPS)/chatterbox-standin/.stamp; \
	else echo "chatterbox-standin: up to date in $(DEPS)/chatterbox-standin"; fi

# Chatterbox on the full-size stand-ins beside the model card's Python loop, for fp32, int8 and q4
# (ms/token, time to first audio, RTF, peak RSS), alternating; report in bench-report/. The CPU plan
# then prefers the precision measured fastest here. RUNS=3 by default.
bench-chatterbox: build chatterbox-standin
	$(BIN) bench chatterbox --runs $(or $(RUNS),3) --report bench-report
