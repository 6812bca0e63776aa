#!/usr/bin/env bash
# Every suite that needs a real Redis and gateway, run inside tests/with-servers.mjs by
# `make test-servers`: the conformance suite over REST in Node, Deno, Bun and workerd, the REST
# backend's own tests, the near tier (and the conformance suite again with it on), the bus
# between two processes (and in Deno and Bun), getOrSet across processes (lock, refreshAhead,
# softTimeout), @upstash/redis
# against the gateway, the real async-caches (Python) on the same Redis, the examples, and the
# browser playground in headless Chromium.
# node --test runs one file at a time: the conformance suite's unprefixed clear() is a FLUSHDB.
set -euo pipefail
cd "$(dirname "$0")/.."
export EDGE_CACHES_URL=$GATEWAY_URL EDGE_CACHES_TOKEN=$GATEWAY_TOKEN
bin=node_modules/.bin
# (As the Makefile runs node --test, Deno and Bun: a hang fails after 5 minutes instead of
# hanging CI.)
node_test="node --test --test-timeout=300000 --test-force-exit"
bounded="timeout --kill-after=10s 300"

$node_test --test-concurrency=1 \
  tests/conformance/conformance.test.mjs tests/rest/ tests/near/ tests/bus/ tests/stampede/ tests/gateway/ tests/python/ tests/runtimes/ tests/examples/ tests/browser/
echo "== Node: conformance over REST with the near tier on"
EDGE_CACHES_NEAR=1 $node_test tests/conformance/conformance.test.mjs
echo "== Deno: conformance over REST"
$bounded $bin/deno test --no-check --allow-env --allow-net=127.0.0.1 tests/conformance/conformance.test.mjs
echo "== Bun: conformance over REST"
$bounded $bin/bun test tests/conformance/conformance.test.mjs
echo "== Deno and Bun: the bus"
$bounded $bin/deno test --no-check --allow-env --allow-net=127.0.0.1 tests/bus/runtimes.test.mjs
$bounded $bin/bun test tests/bus/runtimes.test.mjs
