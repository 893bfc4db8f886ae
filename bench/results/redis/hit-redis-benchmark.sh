#!/usr/bin/env bash
# A GET against the acquire script (what a LoadOrTryCompute hit ran before
# the GET-first change), on the server alone: redis-benchmark with one
# client, then the server's own time per call (INFO commandstats). Starts a
# redis-server on a free loopback port (never 6379) and stops it.
# Run from the repository root: bench/results/redis/hit-redis-benchmark.sh
set -euo pipefail
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/pid" --logfile "$dir/log"
trap 'kill "$(cat "$dir/pid")"; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
sha=$(redis-cli -p "$port" SCRIPT LOAD "$(cat redismap/scripts/fence.lua redismap/scripts/acquire.lua)")
redis-cli -p "$port" SET '{1:p:k}:v' 't3600000,0;value' >/dev/null
echo "# $(date -u +%F), $(redis-server --version | cut -d' ' -f1-3), one client, 100,000 requests each, twice"
for _ in 1 2; do
	redis-benchmark -p "$port" -c 1 -n 100000 --csv GET '{1:p:k}:v'
	redis-benchmark -p "$port" -c 1 -n 100000 --csv EVALSHA "$sha" 3 '{1:p:k}:v' '{1:p:k}:l' '{1:p:k}:f' 5000 60000
done
redis-cli -p "$port" INFO commandstats | grep -E '^cmdstat_(get|evalsha):'
