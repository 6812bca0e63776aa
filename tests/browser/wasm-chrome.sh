#!/usr/bin/env bash
# tests/wasm.rs (the wasm-bindgen tests `make test-wasm` runs in Node) in headless Chromium,
# through chromedriver: `wasm-pack test --headless --chrome`. Needs the apt packages chromium and
# chromium-driver (same version). Prints the runner's output and a one-line verdict; exits non-zero
# when a test fails or when no test ran at all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH=$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}

# tests/wasm.rs has no `wasm_bindgen_test_configure!(run_in_browser)`, so its tests are "Node
# tests": under --chrome the runner would skip the whole file ("only configured to run in
# node.js") and report success. This variable makes the runner load such a file in the browser,
# so the one file runs in both without being edited.
export WASM_BINDGEN_USE_BROWSER=1
# The runner itself adds headless, no-sandbox (needed as root) and disable-dev-shm-usage; this
# file adds flags that keep Chromium quiet and off the network.
export WASM_BINDGEN_TEST_WEBDRIVER_JSON=$PWD/tests/browser/webdriver.json

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
wasm-pack test --headless --chrome --chromedriver "$CHROMEDRIVER" -- --features std --test wasm 2>&1 | tee "$log" || status=$?

if grep -q "only configured to run in node.js" "$log"; then
    echo "wasm-chrome: FAILED: the tests were skipped instead of run in Chromium" >&2
    exit 1
fi
result=$(grep -E '^test result: ' "$log" | tail -n 1 || true)
if [ "$status" -ne 0 ] || ! [[ $result =~ ^test\ result:\ ok\.\ ([1-9][0-9]*)\ passed ]]; then
    echo "wasm-chrome: FAILED (exit $status): ${result:-no test result}" >&2
    exit $(( status == 0 ? 1 : status ))
fi
echo "wasm-chrome: tests/wasm.rs in $(chromium --version 2>/dev/null | head -n 1): ${BASH_REMATCH[1]} passed"
