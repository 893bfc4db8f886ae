#!/usr/bin/env bash
# Counts the instructions of one operation of each kind, Map against xsync,
# with callgrind: TestOpCost (bench/opcost_test.go) runs each kind N and 2N
# times, callgrind counts only what its costRun executes, and
# (count at 2N - count at N) / N is one operation's cost. docs/design.md
# ("Where the mixed row's time goes") quotes its output. Run it from
# anywhere in the repository:
#
#	bench/opcost.sh                       # every kind, both maps
#	OPS='load-hit string-hit' bench/opcost.sh
#	CACHE=1 OPS=mixed bench/opcost.sh     # also simulated cache misses per op
#
# With CACHE=1, callgrind also simulates the caches (--cache-sim=yes, an L1
# of 48 KiB and a last level of 2 MiB, this host's L1d and L2 per core) and
# the script prints data-read and data-write misses per operation at both
# levels. The growth kinds (los-grow50, loc-grow50) are not differenced:
# they print the whole run's count per operation, and the share spent in
# each map's resize (callgrind_annotate --inclusive=yes).
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
ops=${OPS:-load-hit load-miss los-hit los-insert delete-hit delete-miss loc-hit mixed string-hit los-grow50 loc-grow50}
impls=${IMPLS:-map xsync}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bench.test" ./bench

# n OP: the N each kind runs at (2N must not run out of keys of its kind:
# about 10k keys are absent in the settled map).
n() {
	case $1 in
	los-insert | delete-miss | load-miss) echo 4000 ;;
	delete-hit) echo 8000 ;;
	los-grow50 | loc-grow50) echo 2000000 ;;
	*) echo 20000 ;;
	esac
}

# count IMPL OP N: runs one measurement, leaving callgrind's output in
# $tmp/IMPL.OP.N.out, and prints its events line (Ir, and with CACHE=1
# Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw).
count() {
	local cache=()
	if [[ ${CACHE:-0} == 1 ]]; then
		cache=(--cache-sim=yes --D1=49152,12,64 --LL=2097152,16,64)
	fi
	(cd "$tmp" && SAFEMAP_OPCOST="$1:$2:$3" GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 GOGC=off \
		valgrind --tool=callgrind "${cache[@]}" --toggle-collect='*costRun*' \
		--callgrind-out-file="$tmp/$1.$2.$3.out" ./bench.test -test.run '^TestOpCost$' >/dev/null 2>&1)
	grep '^summary:' "$tmp/$1.$2.$3.out" | cut -d' ' -f2-
}

if [[ ${CACHE:-0} == 1 ]]; then
	printf '%-12s %-6s %8s %8s %8s %8s %8s\n' op impl Ir/op D1mr/op D1mw/op DLmr/op DLmw/op
else
	printf '%-12s %-6s %8s\n' op impl Ir/op
fi
for op in $ops; do
	for impl in $impls; do
		n=$(n "$op")
		case $op in
		*grow*)
			read -r -a a <<<"$(count "$impl" "$op" "$n")"
			f="$tmp/$impl.$op.$n.out"
			# The resize's inclusive share: Map's moveTable, xsync's resize.
			pat='\.(moveTable|resize) \['
			resize=$(callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
				grep -E "$pat" | head -1 | awk '{gsub(",","",$1); print $1}')
			awk -v t="${a[0]}" -v r="${resize:-0}" -v n="$n" -v op="$op" -v impl="$impl" \
				'BEGIN { printf "%-12s %-6s %8.1f   resize %.1f%% (%.1f/op)\n", op, impl, t/n, 100*r/t, r/n }'
			;;
		*)
			read -r -a a <<<"$(count "$impl" "$op" "$n")"
			read -r -a b <<<"$(count "$impl" "$op" $((2 * n)))"
			if [[ ${CACHE:-0} == 1 ]]; then
				# events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
				awk -v n="$n" -v op="$op" -v impl="$impl" \
					-v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
					split(a, x, " "); split(b, y, " ")
					printf "%-12s %-6s %8.1f %8.2f %8.2f %8.2f %8.2f\n", op, impl,
						(y[1]-x[1])/n, (y[5]-x[5])/n, (y[6]-x[6])/n, (y[8]-x[8])/n, (y[9]-x[9])/n }'
			else
				awk -v n="$n" -v op="$op" -v impl="$impl" -v a="${a[0]}" -v b="${b[0]}" \
					'BEGIN { printf "%-12s %-6s %8.1f\n", op, impl, (b-a)/n }'
			fi
			;;
		esac
	done
done
if [[ -n ${KEEP:-} ]]; then
	mkdir -p "$KEEP" && cp "$tmp"/*.out "$KEEP"/
fi
