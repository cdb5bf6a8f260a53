# aksid — one entry point for people and CI. Every target installs what it needs, idempotently.
#   make demo    build everything and check the shipped examples
#   make test    the whole test suite (fmt, clippy, unit, end-to-end, corpus, registry, pre-commit)
#   make bench   the performance table of the README

SHELL := /bin/bash
CARGO ?= cargo
POLICIES := no-local-accounts no-cluster-admin-users workload-identity-labels no-plaintext-secret-env
WASM_TARGET := wasm32-wasip1
# Reproducible modules: no absolute build paths in panic locations (the build may run anywhere).
WASM_RUSTFLAGS := --remap-path-prefix=$(CURDIR)=/aksid --remap-path-prefix=$(HOME)/.cargo=/cargo
# The release date of the policies' version, recorded in artifacthub-pkg.yml; bump it together
# with the version. A fixed value (not the clock, not the commit date) keeps builds reproducible.
RELEASE_DATE := 2026-11-22T00:00:00Z
PLUGIN := target/release/kubectl-aksid

.PHONY: all tools modules artifacts build demo test test-tools lint bench clean

all: build

tools:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

modules: tools
	RUSTFLAGS="$(WASM_RUSTFLAGS)" $(CARGO) build --release --locked --target $(WASM_TARGET) \
		$(addprefix -p ,$(POLICIES)) -p hostile-policy

artifacts: modules
	$(CARGO) run --release --locked -q -p aksid-dist -- --out artifacts --created-at $(RELEASE_DATE)

build: artifacts
	$(CARGO) build --release --locked -p kubectl-aksid

# Exit status 1 means "the examples hold rejected manifests", which is the point of the demo.
demo: build
	@echo; echo '$$ kubectl aksid check -f examples/'; echo
	@$(PLUGIN) check -f examples/; status=$$?; [ $$status -le 1 ]

test-tools:
	tests/support/install-test-tools.sh

lint: artifacts
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

test: build test-tools lint
	$(CARGO) test --release --locked --workspace

bench: build
	$(CARGO) bench --locked -p aksid-host
	$(CARGO) run --release --locked -q -p aksid-tests --bin aksid-bench

clean:
	$(CARGO) clean
	find artifacts -mindepth 1 ! -name README.md -delete
