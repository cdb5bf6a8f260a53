# aksid — one entry point for people and CI. Every target installs what it needs, idempotently.
#   make demo    build kubectl-aksid (from the committed artifacts/) and check the shipped examples
#   make test    the whole suite: fmt, clippy, the reproducibility check, every test
#   make bench   the performance table of the README

SHELL := /bin/bash
CARGO ?= cargo
# One list of the policies: every folder of policies/ with a metadata.yml.
POLICIES := $(sort $(patsubst policies/%/metadata.yml,%,$(wildcard policies/*/metadata.yml)))
WASM_TARGET := wasm32-wasip1
# Reproducible modules: no absolute build paths in panic locations (the build may run anywhere).
# Every crate of a wasm tree at opt-level 3, whatever Cargo.toml's release profile says for
# native builds (where some crates are built at 0 or 1 to build faster): the modules are what runs.
WASM_RUSTFLAGS := --remap-path-prefix=$(CURDIR)=/aksid --remap-path-prefix=$(HOME)/.cargo=/cargo -Copt-level=3
# The release date of the policies' version, recorded in artifacthub-pkg.yml; bump it together
# with the version. A fixed value (not the clock, not the commit date) keeps builds reproducible.
RELEASE_DATE := 2026-11-22T00:00:00Z
BROWSER_TARGET := wasm32-unknown-unknown
DIST_ARGS = --modules target/$(WASM_TARGET)/release --created-at $(RELEASE_DATE) \
	--browser-wasm target/$(BROWSER_TARGET)/release/aksid_browser.wasm
PLUGIN := target/release/kubectl-aksid
# `make test` lints while it builds: clippy-driver compiles the workspace's own crates (and only
# those) in the one native build, so nothing is compiled twice for `cargo clippy`. The same
# environment for every cargo call of the suite keeps their fingerprints equal.
CLIPPY_DRIVER = $(shell rustup which clippy-driver 2>/dev/null || command -v clippy-driver)
LINT_ENV = RUSTC_WORKSPACE_WRAPPER=$(CLIPPY_DRIVER) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# Two tests per core: most end-to-end tests spend much of their time waiting on kubectl, Python,
# the registry or Chromium (2 per core: 2 min 1 s against 2 min 10 s at 1 per core).
TEST_THREADS := $(shell echo $$(( $$(nproc) * 2 )))
TEST_RUNNER = $(if $(shell command -v cargo-nextest),nextest run --no-fail-fast --cargo-quiet --test-threads $(TEST_THREADS),test --no-fail-fast)

.PHONY: all tools modules artifacts verify-artifacts build demo test test-build test-tools fmt-check bench clean playground

all: build

tools:
	@for t in $(WASM_TARGET) $(BROWSER_TARGET); do \
		rustup target list --installed | grep -qx $$t || rustup target add $$t; done

# The wasm trees, built once: the policies and the test guest; the playground's browser host.
modules: tools
	RUSTFLAGS="$(WASM_RUSTFLAGS)" $(CARGO) build --release --locked --target $(WASM_TARGET) \
		$(addprefix -p ,$(POLICIES)) -p hostile-policy
	RUSTFLAGS="$(WASM_RUSTFLAGS)" $(CARGO) build --release --locked --target $(BROWSER_TARGET) -p aksid-browser

artifacts: modules
	$(CARGO) run --release --locked -q -p aksid-dist -- $(DIST_ARGS) --out artifacts

# The browser playground (host/browser/) is part of the set: aksid-dist binds the browser host
# with wasm-bindgen (as a library, at the version Cargo.lock pins beside the crate's) and writes
# artifacts/playground/ (committed, embedded by kubectl-aksid, publishable as static pages).
playground: artifacts

# The committed modules are what kubectl-aksid embeds: no wasm toolchain is needed to build it.
verify-artifacts:
	@cd artifacts && sha256sum --check --quiet --strict SHA256SUMS \
		|| { echo "artifacts/ does not match artifacts/SHA256SUMS: run 'make artifacts' and commit" >&2; exit 2; }

build: verify-artifacts
	$(CARGO) build --release --locked -p kubectl-aksid

# Exit status 1 means "the examples hold rejected manifests", which is the point of the demo.
demo: build
	@echo; echo '$$ kubectl aksid check -f examples/'; echo
	@$(PLUGIN) check -f examples/; status=$$?; [ $$status -le 1 ]

test-tools: tools
	tests/support/install-test-tools.sh

fmt-check:
	$(CARGO) fmt --all -- --check

# The test tools (apt, pip: mostly waiting on the network) install while the compiler works.
test: fmt-check verify-artifacts
	$(MAKE) --no-print-directory -j2 test-tools test-build
	@# One feature set: neither the tests nor kubectl-aksid alone (cargo install, pre-commit)
	@# may recompile what this build compiled (see tools/workspace-hack/Cargo.toml).
	@for build in "test --no-run --workspace" "build -p kubectl-aksid"; do \
		recompiled=$$($(LINT_ENV) $(CARGO) $$build --release --locked 2>&1 | grep -E '^ *Compiling' || true); \
		if [ -n "$$recompiled" ]; then echo "cargo $$build recompiles what the build compiled:"; echo "$$recompiled"; \
			echo "align the features in tools/workspace-hack/Cargo.toml"; exit 2; fi; done
	@# Reproducible and current: the committed artifacts are what this tree builds, byte for byte.
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
		target/release/aksid-dist $(DIST_ARGS) --out "$$out" >/dev/null \
		&& diff -r --brief --exclude=README.md artifacts "$$out" \
		|| { echo "artifacts/ differs from a build of this tree: run 'make artifacts' and commit the result" >&2; exit 2; }
	@# --doc runs even a crate's doctest = false: the browser host's #[path] copies of the host's
	@# modules carry doctests written for aksid-host, which run there. Before the other tests: the
	@# pre-commit test's `cargo install` shares target/ and may leave units that --doc would rebuild.
	$(LINT_ENV) $(CARGO) test --release --locked --workspace --exclude aksid-browser --doc
	$(LINT_ENV) $(CARGO) $(TEST_RUNNER) --release --locked --workspace

# The wasm trees, then every native crate once; clippy-driver lints the workspace's crates as
# they compile (RUSTC_WORKSPACE_WRAPPER), so lint and build are one compilation.
test-build: modules
	$(LINT_ENV) $(CARGO) build --release --locked --workspace --all-targets --timings

# The benchmark's native baseline is the policies at opt-level 3, as their wasm modules are built
# (Cargo.toml builds them natively at 1 for the tests).
BENCH_CONFIG = $(foreach p,$(POLICIES) aksid-policy-common,--config 'profile.release.package.$(p).opt-level=3')

bench: build test-tools
	$(CARGO) bench --locked -p aksid-bench $(BENCH_CONFIG)
	$(CARGO) run --release --locked -q -p aksid-bench $(BENCH_CONFIG)
	@# The audit of a recorded 2,100-object cluster (real kubectl, HTTPS server on 127.0.0.1):
	@# aksid's share of the wall time, which the README's table records (target 2 s).
	$(CARGO) test --release --locked -p aksid-tests --test audit -- --ignored --nocapture audit_of_2000_objects 2>&1 | grep -E '^audit of'
	@# The playground: the page on the wire (gzip), and the first verdict in headless Chromium.
	@echo "playground page, each file gzip -9: $$(for f in $$(find artifacts/playground -type f); do gzip -9c $$f | wc -c; done | awk '{s += $$1} END {print s}') bytes (target <= 1.5 MiB)"
	$(CARGO) test --release --locked -p aksid-tests --test playground -- --nocapture every_corpus_file 2>&1 | grep -E '^first verdict'

clean:
	$(CARGO) clean
	find artifacts -mindepth 1 ! -name README.md -delete
