#!/usr/bin/env bash
# Times chosen rows of the go test benchmarks, Map against xsync, in
# interleaved rounds within one run: each round runs every row once per
# GOMAXPROCS setting, Map and xsync back to back, the order of the two
# alternating from round to round, so that the host's drift hits both
# alike. docs/design.md ("Where the mixed row's time goes") quotes it. Unlike
# bench/interleave.sh it builds one tree only (no base/new), so a round is
# short enough to run many. Run it from anywhere in the repository:
#
#	bench/versus_xsync.sh                               # 9 rounds: mixed and long-string rows, GOMAXPROCS 1 and 2
#	ROUNDS=12 ROWS='mixed' CPUS='2' bench/versus_xsync.sh
#	TEST=/tmp/old.test bench/versus_xsync.sh            # a test binary built elsewhere (older code)
#
# Rows (ROWS, any of): mixed (BenchmarkMixed 90/9/1), longstring
# (BenchmarkLoadLongString, hits and misses), string (BenchmarkLoadString),
# loadorstore (BenchmarkLoadOrStore, 50 % new), loadorcompute
# (BenchmarkLoadOrComputeFromEmpty, 50 % new). It writes the raw lines to
# $OUT/versus_xsync.txt (the /cpu= name component is GOMAXPROCS) and prints
# benchstat's Map ÷ xsync table.
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
rounds=${ROUNDS:-9}
rows=${ROWS:-mixed longstring}
cpus=${CPUS:-1 2}
out=${OUT:-bench/results/map-vs-xsync/breakdown}
benchstat=${BENCHSTAT:-$(go env GOPATH)/bin/benchstat}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
test=${TEST:-}
if [[ -z $test ]]; then
	go test -c -o "$tmp/bench.test" ./bench
	test=$tmp/bench.test
fi

# pattern ROW IMPL, benchtime ROW: the -test.bench regexp and -test.benchtime of a row.
pattern() {
	case $1 in
	mixed) echo "^BenchmarkMixed\$/^impl=$2\$/^mix=90/" ;;
	longstring) echo "^BenchmarkLoadLongString\$/^impl=$2\$/" ;;
	string) echo "^BenchmarkLoadString\$/^impl=$2\$/" ;;
	loadorstore) echo "^BenchmarkLoadOrStore\$/^impl=$2\$/^new=50%" ;;
	loadorcompute) echo "^BenchmarkLoadOrComputeFromEmpty\$/^impl=$2\$/^new=50%" ;;
	*) echo "unknown row $1" >&2 && exit 2 ;;
	esac
}
benchtime() {
	case $1 in
	loadorstore | loadorcompute) echo 2000000x ;; # the map grows with b.N: a fixed size
	*) echo 1s ;;
	esac
}

raw=$out/versus_xsync.txt
: >"$raw"
for r in $(seq "$rounds"); do
	echo "round $r of $rounds" >&2
	order="Map xsync"
	if ((r % 2 == 0)); then
		order="xsync Map"
	fi
	for row in $rows; do
		for cpu in $cpus; do
			for impl in $order; do
				(cd "$tmp" && GOMAXPROCS=$cpu "$test" -test.run '^$' -test.bench "$(pattern "$row" "$impl")" \
					-test.benchtime "$(benchtime "$row")" -test.count 1) |
					grep '^Benchmark' | sed -E "s|^(Benchmark[^/]*)/|\1/cpu=$cpu/|; s|-[0-9]+ | |" >>"$raw"
			done
		done
	done
done
"$benchstat" -col /impl "$raw" | tee "$out/versus_xsync.benchstat.txt"
