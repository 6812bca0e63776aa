#!/usr/bin/env bash
# From cargo's wasm to the package's: wasm-bindgen as the package needs it, then wasm-opt (the
# import and export names minified, then -O2), then the functions put in an order that gzip
# compresses better.
# One place for `make build` and for the size measures in bench/, which must measure the wasm
# the package ships. With --names, function names are kept (for bench/size-marginal.mjs).
# Usage: scripts/finish-wasm.sh CARGO_WASM OUT_DIR [--names]
#   writes OUT_DIR/edge_caches.js (the glue), OUT_DIR/edge_caches_bg.wasm, and
#   OUT_DIR/wasm-names.json (the wasm's import and export names as minified, from the glue's)
set -euo pipefail

in=$1
out=$2
names=${3:-}
# The features rustc's wasm32 target emits; wasm-opt must be told to accept them.
features=(--enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int
  --enable-sign-ext --enable-reference-types --enable-multivalue)
mkdir -p "$out"
if [ "$names" = --names ]; then
  # Unstripped, the wasm keeps its target_features section, which would tell wasm-bindgen to
  # use reference types (Cargo.toml and .cargo/config.toml say why the shipped build has none).
  wasm-opt "${features[@]}" --strip-target-features -g "$in" -o "$out/named-in.wasm"
  in=$out/named-in.wasm
  keep=(-g)
else
  keep=(--strip-debug --strip-producers)
fi
# wasm-bindgen warns that the wasm has no target_features section: Cargo.toml's strip drops it
# on purpose ([profile.release] says why). --encode-into always: every runtime the package
# supports has TextEncoder.encodeInto, so the glue needs no fallback for it.
wasm-bindgen --target web --encode-into always --out-dir "$out" --out-name edge_caches "$in"
# The imports' and exports' names minified (binaryen's pass, as emscripten uses it): wasm-bindgen
# names each with a hash, which the wasm and the glue both carry and gzip cannot share. The pass
# prints the map as JSON; scripts/package.mjs has terser rename the glue's side by it. Before
# the optimizer, which then does a little better (160 B).
wasm-opt --minify-imports-and-exports-and-modules "${features[@]}" "${keep[@]}" "$out/edge_caches_bg.wasm" \
  -o "$out/edge_caches_bg.wasm" > "$out/wasm-names.json"
# For the gzipped size, which is what users download: -O2 rather than -Os or -Oz (278 and
# 215 B smaller gzipped at 3a58cb8), and a function with one caller inlined into it only when
# small. LLVM (opt-level "z") already inlined what it
# judged worth it; binaryen's inlining of the larger single-caller functions left makes the wasm
# smaller raw but 2.2 KB larger gzipped (measured; why, not: likely the inlined bodies' locals
# renumbered among their callers'). docs/performance.md, *Size*, has the measures. --converge: again while it still shrinks the wasm.
# --code-folding: one of the two function passes -Os adds to -O2 (binaryen runs it from -O3 or a
# shrink level of 1): identical code at the ends of branches kept once, 64 B smaller gzipped. The
# other, ssa-nomerge, is 1.4 KB larger.
wasm-opt -O2 --code-folding --one-caller-inline-max-function-size=20 --converge "${features[@]}" "${keep[@]}" \
  "$out/edge_caches_bg.wasm" -o "$out/edge_caches_bg.wasm"
# Similar functions next to each other, for gzip (about 1 KB; docs/decisions/0015), then the
# wasm written again with -Os's StackIR optimizations (binaryen.js writes it plainly; -O2's
# shrink level here is 100 B larger).
node "$(dirname "${BASH_SOURCE[0]}")/order-functions.mjs" "$out/edge_caches_bg.wasm" "$out/ordered.wasm" $names
wasm-opt --optimize-level=2 --shrink-level=1 --generate-stack-ir --optimize-stack-ir "${features[@]}" "${keep[@]}" \
  "$out/ordered.wasm" -o "$out/edge_caches_bg.wasm"
rm -f "$out/ordered.wasm"
rm -f "$out/named-in.wasm"
