#!/usr/bin/env bash
# Each function's marginal gzipped bytes in the wasm (bench/size-marginal.mjs says what that
# is): builds the committed tree's wasm as `make build` does, but with its function names kept
# (the release profile unstripped, `wasm-opt -g`), then measures it. A few minutes; not part of
# `make bench`. For the JavaScript: `node bench/size-marginal.mjs pkg/edge_caches.js`.
# Usage: bench/size-marginal.sh [ROWS] [--by-module]   (after `make build`, which installs the tools)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$root/target/size-marginal"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
features="--enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-reference-types --enable-multivalue"
CARGO_PROFILE_RELEASE_STRIP=false cargo build --quiet --release --target wasm32-unknown-unknown -p edge-caches
# Unstripped, the wasm keeps its target_features section, which would tell wasm-bindgen to use
# reference types (Cargo.toml and .cargo/config.toml say why the shipped build has none).
wasm-opt $features --strip-target-features -g "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/edge_caches.wasm" -o "$work/in.wasm"
wasm-bindgen --target web --out-dir "$work" --out-name edge_caches "$work/in.wasm"
wasm-opt -Oz --converge $features -g "$work/edge_caches_bg.wasm" -o "$work/named.wasm"
node bench/size-marginal.mjs "$work/named.wasm" "${@:-60}"
