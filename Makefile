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

.PHONY: setup build run test bench doctor clean

setup:
	@GPU=$(GPU) BENCH=$(BENCH) scripts/setup.sh

build: setup
	$(SWIFT) build -c $(CONFIG) --product voxserve

run: build
	$(BIN) serve --host $(HOST) --port $(PORT)

test: setup
	scripts/test-fixtures.sh
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel --num-workers 2

bench: build
	@BENCH=1 scripts/setup.sh
	$(BIN) bench --out bench-results.json

doctor: build
	$(BIN) doctor

clean:
	rm -rf .build
