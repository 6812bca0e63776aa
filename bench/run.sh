#!/usr/bin/env bash
# The benchmark of edge-caches (`make bench` runs this after `make build`): edge-caches from the
# npm-packed package, @upstash/redis (auto-pipelining on) and a raw-fetch baseline, one process
# after another on this machine. Prints one markdown table per section and writes every figure
# to bench/results.json. A benchmark, not a test: nothing here fails because a target is missed;
# it fails only when a section cannot be measured.
#
#   1 cost per call   bench/cost.mjs        fetch stubbed in-process, fresh process per client
#   2 throughput      bench/throughput.mjs  gateway + redis-server, 1 and 64 concurrent callers
#   3 requests        bench/requests.mjs    HTTP requests per API method
#   4 size            bench/size.mjs        wasm + glue as shipped vs @upstash/redis bundled
#   5 cold start      bench/coldstart.mjs   process start -> first get
#   6 gateway         bench/gateway.mjs     wrk vs webdis; /pipeline vs redis-benchmark -P 100
#   7 near tier       bench/near.mjs        64 callers through a 20 ms proxy; bench/near-latency.svg
#   8 cluster         bench/cluster.mjs     the gateway over one Redis and over a 3-master cluster
#   9 tags, events    bench/tags-events.mjs a tagged get beside an untagged one; onEvent's cost
#  10 compression     bench/compression.mjs stored size and cost of compress: true, 1 KB to 1 MB
#  11 stampede        bench/stampede.mjs    getOrSet across processes: lock, refreshAhead
#
# Needs: node, redis-server/redis-benchmark (scripts/setup.sh installs them), wrk and webdis
# (installed here with apt-get when missing, as root). Sections 2, 3, 6, 7, 8, 9 and 11 run inside
# tests/with-servers.mjs (a fresh redis-server and gateway on free ports).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH="$root/node_modules/.bin:$PATH"

# Runs one section; a section that fails is reported and the others still run.
status=0
run_section() {
    local name=$1
    shift
    echo "== $name" >&2
    if ! "$@" 2> >(tee "$BENCH_OUT/$name.stderr" >&2); then
        { echo "$* failed:"; tail -n 8 "$BENCH_OUT/$name.stderr"; } > "$BENCH_OUT/$name.error"
        status=1
    fi
}

# Inner mode: run by tests/with-servers.mjs with the servers' environment.
if [ "${1:-}" = "--server-sections" ]; then
    run_section throughput node bench/throughput.mjs
    run_section near node bench/near.mjs
    run_section requests node bench/requests.mjs
    run_section gateway node bench/gateway.mjs
    run_section cluster node bench/cluster.mjs
    run_section tagsEvents node bench/tags-events.mjs
    run_section stampede node bench/stampede.mjs
    exit "$status"
fi

export BENCH_STARTED_EPOCH=$(date +%s)
export BENCH_STARTED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
export BENCH_LOAD_AT_START=$(cut -d' ' -f1 /proc/loadavg)
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
echo "bench: ${cpu:-unknown CPU}, $(nproc) cores, Node $(node --version), load average $BENCH_LOAD_AT_START" >&2

# wrk and webdis, from apt when missing (the package lists are refreshed only if needed).
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v webdis >/dev/null || missing+=(webdis)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "bench: installing ${missing[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
        apt-get update -q >&2
        apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    fi
fi
for tool in node redis-server redis-benchmark wrk webdis; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/edge-caches-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export BENCH_OUT=$work/results
mkdir -p "$BENCH_OUT"

# One copy of the packed package for every section: others may rebuild pkg/ meanwhile, and the
# figures must all be of one build.
packed=$(readlink -f node_modules/edge-caches || true)
if [ -z "$packed" ] || [ ! -f "$packed/package.json" ]; then
    echo "bench: node_modules/edge-caches is missing: run make build (or make bench)" >&2
    exit 1
fi
cp -r "$packed" "$work/edge-caches"
export EDGE_CACHES_DIR=$work/edge-caches

# The gateway as built (tests/with-servers.mjs builds it when there is none).
if [ -z "${GATEWAY_BIN:-}" ] && [ -x "$root/target/gateway/edge-caches-gateway" ]; then
    export GATEWAY_BIN=$root/target/gateway/edge-caches-gateway
fi

run_section cost node bench/cost.mjs
run_section coldstart node bench/coldstart.mjs
run_section size node bench/size.mjs
run_section compression node bench/compression.mjs
node tests/with-servers.mjs "$root/bench/run.sh" --server-sections || status=1

echo >&2
node bench/report.mjs --merge "$BENCH_OUT"
exit "$status"
