#!/usr/bin/env bash
# Reproduces BENCHMARKS.md's "Issue 13" tables: interleaved rounds of the
# issue's rows and of issue 3's rows, each round running every benchmark on
# the base commit's code and on the working tree's, Map and its peers back
# to back, so that the host's drift hits both alike. Run it from anywhere
# in the repository, on a host as quiet as you can get:
#
#	bench/results/2026-12-01/run.sh                 # 10 rounds into bench/results/2026-12-01/
#	ROUNDS=4 OUT=/tmp/r BASE=main bench/results/2026-12-01/run.sh
#
# It writes one raw file per workload (benchstat reads them; the version is
# the /ver= name component, base or new) and, at the end, the benchstat
# tables: Map ÷ xsync on the new code (-col /impl) and base → new for Map
# (-col /ver). About 20 minutes for 10 rounds on 2 cores.
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
rounds=${ROUNDS:-10}
out=${OUT:-bench/results/2026-12-01}
base=${BASE:-be21554} # the commit before issue 13's changes
benchstat=${BENCHSTAT:-$(go env GOPATH)/bin/benchstat}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/new.test" ./bench
mkdir "$tmp/base"
git archive "$base" | tar -x -C "$tmp/base" # a plain copy: no worktree to clean up
cp bench/issue13_test.go bench/stringkeys_test.go bench/alternate_test.go "$tmp/base/bench/" # the new benchmarks, public API only
(cd "$tmp/base" && GOFLAGS=-buildvcs=false go test -c -o "$tmp/base.test" ./bench)

# run NAME REGEXP BENCHTIME: one run of each version, appended to NAME.txt.
run() {
	for ver in base new; do
		(cd "$tmp" && GOMAXPROCS=2 "./$ver.test" -test.run '^$' -test.bench "$2" \
			-test.benchtime "$3" -test.count 1) |
			grep '^Benchmark' | sed "s|^\(Benchmark[^/]*\)/|\1/ver=$ver/|" >>"$out/$1.txt"
	done
}

for f in loadorcompute loadlongstring load loadorstore mixed loadstring slowcompute memory; do
	: >"$out/$f.txt"
done
for r in $(seq "$rounds"); do
	echo "round $r of $rounds" >&2
	run loadorcompute 'LoadOrComputeFromEmpty$/impl=(Map|xsync)$' 2000000x
	run loadlongstring 'LoadLongString$/impl=(Map|xsync)$' 1s
	run load 'Load$/impl=(Map|xsync|builtin)$/keys=1000000/' 1s
	run loadorstore 'LoadOrStore$/impl=(Map|xsync)$/new=(50|99)%' 2000000x
	run mixed 'Mixed$/impl=(Map|xsync)$/mix=90' 1s
	run loadstring 'LoadString$/impl=(Map|xsync)$' 1s
	run slowcompute 'InsertDuringSlowCompute$/impl=(Map|xsync)$' 1s
	if ((r <= 3)); then
		run memory 'Memory$/impl=(Map|xsync|builtin)$' 1x
	fi
done

for f in loadorcompute loadlongstring load loadorstore mixed loadstring slowcompute memory; do
	{
		echo "# Map ÷ peers, new code"
		"$benchstat" -col /impl -filter '/ver:new' "$out/$f.txt"
		echo
		echo "# base → new, Map"
		"$benchstat" -col /ver -filter '/impl:Map' "$out/$f.txt"
	} >"$out/$f.benchstat.txt" 2>&1
	echo "== $f"
	cat "$out/$f.benchstat.txt"
done
