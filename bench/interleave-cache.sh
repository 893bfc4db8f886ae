#!/usr/bin/env bash
# Runs the cache speed rows (bench/cache_speed_test.go) of safemap's cache
# and its peers in interleaved rounds: one test binary, built once; each
# round runs every cache back to back on each row, the first cache
# rotating from round to round (-cache.round), so that the host's drift
# hits all of them alike. Then the memory rows, and benchstat's tables
# (-col /impl: every cache against the first column, safemap's cache).
# BENCHMARKS.md's cache rows come from it. Run it from anywhere in the
# repository, on a host as quiet as you can get:
#
#	bench/interleave-cache.sh                                   # 6 rounds into bench/results/cache/<date>/
#	ROUNDS=8 BENCHTIME=2s OUT=/tmp/c bench/interleave-cache.sh
#	IMPLS='safemap|otter' bench/interleave-cache.sh              # ours and otter only
#
# About 1 minute per round for all five caches, plus 1-2 minutes of
# memory rows.
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
rounds=${ROUNDS:-6}
benchtime=${BENCHTIME:-1s}
impls=${IMPLS:-.*}
out=${OUT:-bench/results/cache/$(date -u +%Y-%m-%d)}
benchstat=${BENCHSTAT:-$(go env GOPATH)/bin/benchstat}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bench.test" ./bench

: >"$out/speed.txt"
for r in $(seq "$rounds"); do
	echo "round $r of $rounds" >&2
	(cd "$tmp" && GOMAXPROCS=2 ./bench.test -test.run '^$' -cache.round "$r" \
		-test.bench "Cache(LoadHit|LoadOrCompute)\$/impl=($impls)/" \
		-test.benchtime "$benchtime" -test.count 1) | grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"$out/speed.txt"
done
(cd "$tmp" && GOMAXPROCS=2 ./bench.test -test.run '^$' -test.bench "CacheMemory\$/impl=($impls)/" \
	-test.benchtime 1x -test.count 3) | grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >"$out/memory.txt"

for f in speed memory; do
	"$benchstat" -col '/impl@(safemap otter ristretto theine golang-lru)' "$out/$f.txt" >"$out/$f.benchstat.txt" 2>&1
	echo "== $f"
	cat "$out/$f.benchstat.txt"
done
