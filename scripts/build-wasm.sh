#!/usr/bin/env bash
# Builds the shipped wasm (cargo's release profile) on a pinned nightly: core and alloc built
# from source, with panics that abort where they happen, so that no panic message, its
# formatting or its source location is in the wasm (docs/decisions/0014). One place for
# `make build` and the size measures in bench/.
# Usage: scripts/build-wasm.sh CARGO_BUILD_ARGS...   (e.g. --target-dir target -p edge-caches)
set -euo pipefail
# scripts/setup.sh installs this toolchain (with rust-src) when it is missing.
toolchain=nightly-2026-10-28
# The flags add to .cargo/config.toml's for the target; -Cpanic=immediate-abort replaces the
# profile's panic = "abort". core, alloc and compiler_builtins at -O3, as the precompiled ones
# are: at the profile's "z" a near hit was 11% slower, and the wasm 394 B larger
# (docs/performance.md, *Issue 33's eighth cut*). -Zcross-crate-inline-threshold=always: every
# function, not only small leaves, can be inlined into another crate's code; wasm-bindgen's
# wrappers of our exports (70 functions) then go into the exports instead of staying beside
# them: 1.7 KB smaller gzipped, no slower (*Issue 33's fourteenth cut*).
exec cargo "+$toolchain" build --quiet --release --target wasm32-unknown-unknown -Zbuild-std=core,alloc \
  --config 'target.wasm32-unknown-unknown.rustflags = ["-Zunstable-options", "-Cpanic=immediate-abort", "-Zlocation-detail=none", "-Zcross-crate-inline-threshold=always"]' \
  --config 'profile.release.package.core.opt-level = 3' \
  --config 'profile.release.package.alloc.opt-level = 3' \
  --config 'profile.release.package.compiler_builtins.opt-level = 3' \
  "$@"
