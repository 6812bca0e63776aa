# edge-caches: `make demo` runs the demo on the in-memory default, `make test` runs every test.
# Both install what they need first (scripts/setup.sh).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)


.PHONY: all setup build demo bench bench-variant fuzz test test-size test-core test-wasm test-types test-js test-gateway test-servers test-faults test-topologies clean
all: build

setup:
	scripts/setup.sh

# pkg/: the npm package, built once and shared by every suite.
build: setup
	scripts/build-wasm.sh --target-dir target -p edge-caches
	scripts/finish-wasm.sh target/wasm32-unknown-unknown/release/edge_caches.wasm .build/wasm
	node scripts/package.mjs
	@# Every suite imports "edge-caches" as a user would: from the tarball `npm pack` makes.
	rm -rf .build/packed && mkdir -p .build/packed/edge-caches
	rm -f .build/edge-caches-*.tgz
	cd pkg && npm pack --silent --pack-destination ../.build > /dev/null
	tar -xzf .build/edge-caches-*.tgz -C .build/packed/edge-caches --strip-components=1
	ln -sfn ../.build/packed/edge-caches node_modules/edge-caches

# `make demo URL=https://... TOKEN=...` runs the same program against a REST endpoint.
demo: build
	node examples/demo.mjs $(URL)

# The benchmark (not a test): edge-caches beside @upstash/redis and raw fetch; prints a table
# and writes bench/results.json. `make bench BASELINE=DIR` adds another build (a packed package
# directory, e.g. another checkout's .build/packed/edge-caches) beside this one.
bench: build
	BENCH_BASELINE_DIR=$(BASELINE) bench/run.sh

# docs/decisions/0001: the client a wasm-bindgen project would usually write (async methods on
# wasm-bindgen-futures, web-sys's fetch, serde-wasm-bindgen options; `get` only) beside this one:
# size, and µs per `get` with fetch stubbed.
bench-variant: build
	bench/variant/run.sh

# The property tests of tests/fuzz.rs with a fixed, larger budget (PROPTEST_CASES per
# property; about a minute; a failing case is saved in tests/fuzz.proptest-regressions), and
# the simulation of tests/simulation/ over SIM_SEEDS seeds (a failing seed prints itself).
FUZZ_CASES ?= 20000
SIM_SEEDS ?= 100000
fuzz:
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --release -p edge-caches --test fuzz
	SIM_SEEDS=$(SIM_SEEDS) cargo test --release -p edge-caches --test simulation

# Every node --test run: a test that hangs fails after 5 minutes, and a file whose tests are done
# exits even if a failed test left a stream open (CI reports the failure instead of waiting).
# Deno and Bun runs are bounded from outside, at 5 minutes a run.
NODE_TEST := node --test --test-timeout=300000 --test-force-exit
BOUNDED := timeout --kill-after=10s 300

test: build test-size test-core test-wasm test-types test-js test-gateway test-servers test-faults test-topologies

# The package's bytes against size-budget.json (scripts/size-budget.mjs).
test-size:
	node scripts/size-budget.mjs

test-core:
	cargo test -p edge-caches

# The wasm-bindgen tests in Node and in headless Chromium (with std: the test harness needs it).
# With the target's default features (an empty RUSTFLAGS wins over .cargo/config.toml): a test
# build keeps std's target_features section, which says reference types, so wasm-bindgen
# wants them there (the shipped build strips that section: Cargo.toml).
test-wasm: export RUSTFLAGS :=
test-wasm:
	wasm-pack test --node --features std
	tests/browser/wasm-chrome.sh

# A TypeScript consumer of the packed package, under --strict.
test-types:
	tsc -p tests/types

# The conformance suite on memory:// and dummy://, in Node, Deno and Bun.
test-js:
	$(NODE_TEST) tests/conformance/
	$(BOUNDED) deno test --no-check --allow-env tests/conformance/
	$(BOUNDED) bun test tests/conformance/

test-gateway:
	cargo test -p edge-caches-gateway

# 64 concurrent callers while Redis and the gateway are killed and restarted and a proxy
# delays, drops and fails requests (it starts its own servers: it has to kill them).
test-faults:
	cargo build --quiet --profile gateway -p edge-caches-gateway
	$(NODE_TEST) tests/faults/

# The gateway over a real Redis Cluster (3 masters, 3 replicas) and over Sentinel (a primary, a
# replica, 3 sentinels), each started once by its suite: the conformance suite, @upstash/redis,
# a master killed under load; over TLS to one Redis, a cluster and Sentinel; in front of Valkey
# 9.1. Once, in Node:
# the runtimes add nothing the cluster changes.
test-topologies:
	cargo build --quiet --profile gateway -p edge-caches-gateway
	$(NODE_TEST) --test-concurrency=1 tests/topologies/

# One real Redis and gateway (tests/with-servers.mjs) for every suite that needs them.
test-servers:
	node tests/with-servers.mjs tests/with-servers.sh

clean:
	rm -rf .build pkg target node_modules/edge-caches
