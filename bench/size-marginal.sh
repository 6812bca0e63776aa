#!/usr/bin/env bash
# Each function's marginal gzipped bytes in the wasm (bench/size-marginal.mjs says what that
# is): builds the committed tree's wasm as `make build` does, but with its function names kept
# (the release profile unstripped, `scripts/finish-wasm.sh --names`), then measures it. A few minutes; not part of
# `make bench`. For the JavaScript: `node bench/size-marginal.mjs pkg/edge_caches.js`.
# Usage: bench/size-marginal.sh [ROWS] [--by-module]   (after `make build`, which installs the tools)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="$root/target/size-marginal"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
# Legacy symbol names (the nightly's default, v0, names an impl by its type, not by the module
# that holds it: every Engine method would count as one module).
CARGO_PROFILE_RELEASE_STRIP=false scripts/build-wasm.sh -p edge-caches \
  --config 'target.wasm32-unknown-unknown.rustflags = ["-Csymbol-mangling-version=legacy"]'
scripts/finish-wasm.sh "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/edge_caches.wasm" "$work" --names
node bench/size-marginal.mjs "$work/edge_caches_bg.wasm" "${@:-60}"
