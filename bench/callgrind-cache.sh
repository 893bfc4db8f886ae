#!/usr/bin/env bash
# Instructions per operation of the cache speed rows, which the host's
# noise does not touch: valgrind --tool=callgrind on bench/cmd/cachecg,
# collecting only inside its measured loop (--toggle-collect=main.run: the
# operations and everything they call, otter's maintenance included, since
# cachecg gives otter a synchronous Executor), one goroutine
# (GOMAXPROCS=1, async preemption off), per thread (--separate-threads:
# otherwise what another thread, such as the runtime's sysmon, runs while
# run is on the stack is counted too, which made repeated runs differ by a
# third). Each row runs twice, with N and
# with N/5 operations; (Ir of N − Ir of N/5) ÷ (4N/5) is what one operation
# costs, without what happens once per run (a GC cycle, a table's first
# growth), and with the loop's key choice, the same few instructions for
# every cache. The counts still vary from run to run (the runtime seeds its
# hashes and fast random numbers afresh in every process, which moves
# otter's buffer stripes and both policies' sketch slots): otter's by up to
# 2x (its LoadOrCompute row by 3x), safemap's hit by under 1 % and its
# LoadOrCompute by up to a fifth, so each figure is the median of REPEAT runs,
# with their range.
#
#	bench/callgrind-cache.sh                     # safemap and otter, N = 1000000
#	N=2000000 OUT=/tmp/cg bench/callgrind-cache.sh
#
# It prints one line per row and cache, and writes the same table to
# $OUT/callgrind.txt (default bench/results/cache/<date>/). About a minute
# per row and cache for each of the REPEAT runs.
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
n=${N:-1000000}
repeat=${REPEAT:-3} # runs per row and cache: the median and the range are printed
impls=${IMPLS:-safemap otter}
out=${OUT:-bench/results/cache/$(date -u +%Y-%m-%d)}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/cachecg" ./bench/cmd/cachecg

# ir IMPL ROW N: the instructions collected in run for N operations.
ir() {
	rm -f "$tmp"/cg.out*
	GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --toggle-collect=main.run \
		--separate-threads=yes --callgrind-out-file="$tmp/cg.out" "$tmp/cachecg" -impl "$1" -row "$2" -n "$3" >/dev/null 2>&1
	# One file per thread: run's goroutine may move between threads.
	cat "$tmp"/cg.out* | sed -n 's/^totals: //p' | awk '{s += $1} END {print s}'
}

{
	echo "# instructions per operation: (Ir of N − Ir of N/5) ÷ (4N/5), N = $n, GOMAXPROCS=1"
	for row in hit compute; do
		for im in $impls; do
			per=()
			for _ in $(seq "$repeat"); do
				big=$(ir "$im" "$row" "$n")
				small=$(ir "$im" "$row" $((n / 5)))
				per+=("$(awk -v b="$big" -v s="$small" -v n="$n" 'BEGIN { printf "%.1f", (b - s) / (n - n / 5) }')")
			done
			printf '%s\n' "${per[@]}" | sort -g | awk -v name="row=$row impl=$im" \
				'{ v[NR] = $1 } END { printf "%-28s %8.1f instructions/op (median of %d; range %.1f-%.1f)\n", name, v[int((NR + 1) / 2)], NR, v[1], v[NR] }'
		done
	done
} | tee "$out/callgrind.txt"
