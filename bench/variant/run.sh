#!/usr/bin/env bash
# `make bench-variant`: builds the variant client (wasm-pack's steps by hand, then wasm-opt -Oz
# as `make build` does) and compares it with the packed edge-caches: gzip -9 bytes, and µs per
# `get` with fetch stubbed, each in fresh Node processes taking turns (bench/variant/cost.mjs).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
export PATH="$root/node_modules/.bin:$HOME/.cargo/bin:$PATH"
gz() { gzip -9c "$1" | wc -c; }
# $1: the output directory; the rest: cargo's feature flags.
build() {
  local out=$1
  shift
  cargo build --quiet --release --target wasm32-unknown-unknown --target-dir "$root/target/variant" "$@"
  rm -rf "$out" && mkdir -p "$out"
  wasm-bindgen --target web --out-dir "$out" --out-name variant "$root/target/variant/wasm32-unknown-unknown/release/variant_futures.wasm" 2>/dev/null
  wasm-opt -Oz --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-reference-types --enable-multivalue --strip-debug --strip-producers "$out/variant_bg.wasm" -o "$out/variant_bg.wasm"
  esbuild --minify --log-level=warning "$out/variant.js" --outfile="$out/variant.min.js"
  echo "$(basename "$out"): wasm $(gz "$out/variant_bg.wasm") + glue $(gz "$out/variant.min.js") bytes gzip -9"
}
build "$root/.build/variant-no-serde" --no-default-features
build "$root/.build/variant"
pkg=$root/.build/packed/edge-caches
echo "edge-caches (every method): wasm $(gz "$pkg/edge_caches_bg.wasm") + JavaScript $(gz "$pkg/edge_caches.js") bytes gzip -9"
node cost.mjs "$root/.build/variant" "$pkg"
