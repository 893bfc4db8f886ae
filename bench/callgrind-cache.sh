#!/usr/bin/env bash
# Instructions per operation of the cache speed rows, which the host's
# noise does not touch: valgrind --tool=callgrind on the bench test binary,
# one goroutine (-test.cpu 1, GOMAXPROCS=1, async preemption off), each row
# run twice, with N and with 2 operations; (Ir of N − Ir of 2) ÷ (N − 2) is
# what one operation costs, the harness's key choice and every goroutine
# the cache runs in the background (all threads are counted) included. (The
# testing package runs a sub-benchmark once with 1 operation before any
# -benchtime Nx with N > 1, so both runs set the cache up twice; a 1x run
# would set it up once, and the difference would not cancel.)
#
#	bench/callgrind-cache.sh                      # safemap and otter, N = 200000
#	IMPLS='safemap otter theine' N=500000 OUT=/tmp/cg bench/callgrind-cache.sh
#
# It prints one line per row and cache, and writes the same table to
# $OUT/callgrind.txt (default bench/results/cache/<date>/).
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
n=${N:-200000}
impls=${IMPLS:-safemap otter}
out=${OUT:-bench/results/cache/$(date -u +%Y-%m-%d)}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bench.test" ./bench

# ir BENCH N: the total instructions of one run of BENCH at -benchtime Nx.
ir() {
	(cd "$tmp" && GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind \
		--callgrind-out-file="$tmp/cg.out" ./bench.test -test.run '^$' -test.bench "$1" \
		-test.benchtime "${2}x" -test.cpu 1 >/dev/null 2>&1)
	sed -n 's/^summary: //p; s/^totals: //p' "$tmp/cg.out" | head -1 | awk '{print $1}'
}

{
	echo "# instructions per operation: (Ir at ${n}x − Ir at 2x) ÷ ($n − 2), GOMAXPROCS=1"
	for row in 'CacheLoadHit$/impl=%s/bound=200000$' 'CacheLoadHit$/impl=%s/bound=100000$' 'CacheLoadOrCompute$/impl=%s/hot=90%%$'; do
		for im in $impls; do
			# shellcheck disable=SC2059 # the row is a printf format on purpose
			bench=$(printf "$row" "$im")
			big=$(ir "$bench" "$n")
			two=$(ir "$bench" 2)
			awk -v b="$big" -v o="$two" -v n="$n" -v name="$bench" \
				'BEGIN { printf "%-50s %8.1f instructions/op\n", name, (b - o) / (n - 2) }'
		done
	done
} | tee "$out/callgrind.txt"
