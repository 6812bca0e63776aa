#!/usr/bin/env bash
# Usage: scripts/with-servers.sh CMD [ARGS...]
#
# Runs CMD with a fresh redis-server and edge-caches-gateway in front of it, both on free ports
# of 127.0.0.1 with random tokens, and stops both when CMD ends (also when it fails or the script
# is interrupted). Exits with CMD's status. CMD gets these environment variables:
#   REDIS_URL               redis://127.0.0.1:PORT
#   REDIS_PORT              PORT
#   GATEWAY_URL             http://127.0.0.1:PORT
#   GATEWAY_TOKEN           the token for every command
#   GATEWAY_READONLY_TOKEN  the read-only token
#   GATEWAY_BIN             the gateway binary used
# The gateway is built with `cargo build --profile gateway -p edge-caches-gateway` unless
# GATEWAY_BIN names a binary already built. It runs with --allow-origin '*' so browser tests can
# call it from any page. Needs bash, coreutils and redis-server; nothing else, no state.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 CMD [ARGS...]" >&2
    exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ -z "${GATEWAY_BIN:-}" ]; then
    (cd "$root" && cargo build --quiet --profile gateway -p edge-caches-gateway) >&2
    target_dir=${CARGO_TARGET_DIR:-target}
    case $target_dir in
        /*) ;;
        *) target_dir=$root/$target_dir ;;
    esac
    GATEWAY_BIN=$target_dir/gateway/edge-caches-gateway
fi
if [ ! -x "$GATEWAY_BIN" ]; then
    echo "with-servers: no gateway binary at $GATEWAY_BIN" >&2
    exit 1
fi
GATEWAY_BIN=$(cd "$(dirname "$GATEWAY_BIN")" && pwd)/$(basename "$GATEWAY_BIN")
command -v redis-server >/dev/null || { echo "with-servers: redis-server is not installed" >&2; exit 1; }

workdir=$(mktemp -d "${TMPDIR:-/tmp}/with-servers.XXXXXX")
redis_pid=
gateway_pid=

stop() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    # Up to 5 s for a clean exit, then kill.
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop "$gateway_pid"
    stop "$redis_pid"
    rm -rf "$workdir"
}
# On INT/TERM, CMD is stopped too and then the servers (the EXIT trap).
cmd_pid=
on_signal() {
    if [ -n "$cmd_pid" ]; then
        kill -TERM "$cmd_pid" 2>/dev/null || true
        wait "$cmd_pid" 2>/dev/null || true
    fi
    exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

random_token() {
    od -An -tx1 -N24 /dev/urandom | tr -d ' \n'
}

# A port the kernel calls free now; redis-server cannot pick one itself, so a start that loses
# the race for it is retried with another.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        # A connection that fails means nothing listens there.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

redis_answers() {
    local reply
    reply=$(exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1" && printf 'PING\r\n' >&3 && timeout 1 head -c 7 <&3) || return 1
    [[ $reply == +PONG* ]]
}

for attempt in 1 2 3 4 5; do
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --logfile "$workdir/redis.log" &
    redis_pid=$!
    for _ in $(seq 100); do
        redis_answers "$REDIS_PORT" && break
        kill -0 "$redis_pid" 2>/dev/null || break
        sleep 0.05
    done
    redis_answers "$REDIS_PORT" && break
    stop "$redis_pid"
    redis_pid=
    if [ "$attempt" -eq 5 ]; then
        echo "with-servers: redis-server did not start:" >&2
        cat "$workdir/redis.log" >&2 || true
        exit 1
    fi
done

GATEWAY_TOKEN=$(random_token)
GATEWAY_READONLY_TOKEN=$(random_token)
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
# Tokens go through the environment, not argv, so `ps` does not show them.
EDGE_CACHES_TOKEN=$GATEWAY_TOKEN EDGE_CACHES_READONLY_TOKEN=$GATEWAY_READONLY_TOKEN \
    "$GATEWAY_BIN" --listen 127.0.0.1:0 --redis "$REDIS_URL" --allow-origin '*' \
    2>"$workdir/gateway.log" </dev/null &
gateway_pid=$!
gateway_port=
for _ in $(seq 200); do
    gateway_port=$(sed -n 's/^edge-caches-gateway listening on .*:\([0-9][0-9]*\)$/\1/p' "$workdir/gateway.log")
    [ -n "$gateway_port" ] && break
    kill -0 "$gateway_pid" 2>/dev/null || break
    sleep 0.05
done
if [ -z "$gateway_port" ]; then
    echo "with-servers: the gateway did not start:" >&2
    cat "$workdir/gateway.log" >&2 || true
    exit 1
fi

export REDIS_URL REDIS_PORT GATEWAY_TOKEN GATEWAY_READONLY_TOKEN GATEWAY_BIN
export GATEWAY_URL=http://127.0.0.1:$gateway_port

# CMD runs in the background (stdin kept) so that a signal to this script is handled at once
# instead of after CMD ends.
set +e
"$@" <&0 &
cmd_pid=$!
wait "$cmd_pid"
status=$?
cmd_pid=
exit "$status"
