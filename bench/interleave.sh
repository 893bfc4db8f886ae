#!/usr/bin/env bash
# Runs the go test benchmarks of the default Map against xsync (and a
# built-in map where it applies) in interleaved rounds: each round runs
# every benchmark on a base commit's code and on the working tree's, Map
# and its peers back to back, so that the host's drift hits both alike.
# BENCHMARKS.md's "The default Map against xsync" rows come from it. Run it
# from anywhere in the repository, on a host as quiet as you can get:
#
#	bench/interleave.sh                                # 10 rounds, base HEAD, into bench/results/map-vs-xsync/
#	ROUNDS=8 BASE=be21554 bench/interleave.sh          # the run BENCHMARKS.md quotes
#	ROUNDS=4 OUT=/tmp/r BASE=main bench/interleave.sh
#	WORKLOADS='loadorstore mixed' bench/interleave.sh   # some workloads only
#	WORKLOADS='mixed cachehit' bench/interleave.sh      # cachehit: the cache's Load hit against otter
#
# It writes one raw file per workload (benchstat reads them; the version is
# the /ver= name component, base or new) and, at the end, the benchstat
# tables: Map ÷ xsync on the new code (-col /impl) and base → new for Map
# (-col /ver), and per-round-ratios.txt: Map ÷ xsync round by round
# (bench/ratios.sh), the median and range BENCHMARKS.md quotes. About 20 minutes for 10 rounds on 2 cores.
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
rounds=${ROUNDS:-10}
out=${OUT:-bench/results/map-vs-xsync}
base=${BASE:-HEAD} # the code to compare the working tree with
workloads=${WORKLOADS:-loadorcompute loadlongstring load loadorstore mixed loadstring slowcompute memory}
benchstat=${BENCHSTAT:-$(go env GOPATH)/bin/benchstat}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go test -c -o "$tmp/new.test" ./bench
mkdir "$tmp/base"
git archive "$base" | tar -x -C "$tmp/base" # a plain copy: no worktree to clean up
rm -f "$tmp/base/bench/issue13_test.go" # the old name of loadorcompute_fromempty_test.go, copied below
# Benchmarks an older tree may lack, and the harness they share (bench_test.go
# and its padded per-goroutine generators), so that both versions are
# measured alike; public API only.
cp bench/loadorcompute_fromempty_test.go bench/stringkeys_test.go bench/alternate_test.go \
	bench/bench_test.go bench/goroutine_rand_test.go "$tmp/base/bench/"
(cd "$tmp/base" && GOFLAGS=-buildvcs=false go test -c -o "$tmp/base.test" ./bench)

# run NAME REGEXP BENCHTIME: one run of each version, appended to NAME.txt,
# if NAME is one of the workloads asked for.
run() {
	[[ " $workloads " == *" $1 "* ]] || return 0
	for ver in base new; do
		(cd "$tmp" && GOMAXPROCS=2 "./$ver.test" -test.run '^$' -test.bench "$2" \
			-test.benchtime "$3" -test.count 1) |
			grep '^Benchmark' | sed "s|^\(Benchmark[^/]*\)/|\1/ver=$ver/|" >>"$out/$1.txt"
	done
}

for f in $workloads; do
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
	run cachehit 'CacheLoadHit$/impl=(safemap|otter)$/' 1s # not by default: the cache's Map, base against new
	if ((r <= 3)); then
		run memory 'Memory$/impl=(Map|xsync|builtin)$' 1x
	fi
done

for f in $workloads; do
	{
		echo "# Map ÷ peers, new code"
		"$benchstat" -col /impl -filter '/ver:new' "$out/$f.txt"
		echo
		echo "# base → new, Map (the cache, for cachehit)"
		"$benchstat" -col /ver -filter '/impl:(Map OR safemap)' "$out/$f.txt"
	} >"$out/$f.benchstat.txt" 2>&1
	echo "== $f"
	cat "$out/$f.benchstat.txt"
done
for f in $workloads; do
	echo "$out/$f.txt"
done | xargs bench/ratios.sh >"$out/per-round-ratios.txt"
echo "== Map ÷ xsync per round (bench/ratios.sh)"
cat "$out/per-round-ratios.txt"
