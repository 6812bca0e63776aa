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
# (docs/performance.md, *Issue 33's eighth cut*). -Zinline-mir-threshold=400: rustc's MIR
# inliner (on by default) takes every call it can, where its default of 50 leaves some to LLVM
# at "z": 214 B smaller, no slower (*Issue 33's thirteenth cut*).
exec cargo "+$toolchain" build --quiet --release --target wasm32-unknown-unknown -Zbuild-std=core,alloc \
  --config 'target.wasm32-unknown-unknown.rustflags = ["-Zunstable-options", "-Cpanic=immediate-abort", "-Zlocation-detail=none", "-Zinline-mir-threshold=400"]' \
  --config 'profile.release.package.core.opt-level = 3' \
  --config 'profile.release.package.alloc.opt-level = 3' \
  --config 'profile.release.package.compiler_builtins.opt-level = 3' \
  "$@"
