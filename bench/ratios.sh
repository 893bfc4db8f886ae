#!/usr/bin/env bash
# Prints Map ÷ xsync per round for raw files that bench/interleave.sh
# wrote: each round runs Map and xsync back to back, so the k-th Map line
# of a row and its k-th xsync line are one round's pair. For every row and
# version (base, new) it prints the median and range of the per-round
# ratios and each map's median ns/op. Rows of the cache (interleave.sh's
# cachehit workload) pair safemap's cache with otter instead. interleave.sh runs it at the end
# (into per-round-ratios.txt); run it by hand on older raw files:
#
#	bench/ratios.sh bench/results/map-vs-xsync/2026-12-06/*.txt
set -euo pipefail

for f in "$@"; do
	case $f in *.benchstat.txt | *ratios.txt) continue ;; esac
	echo "# $(basename "$f")"
	awk '
	# Benchmark<Name>/ver=<v>/impl=<impl><rest> N <ns> ns/op ...
	match($1, /\/ver=[a-z]+\/impl=[A-Za-z.]+/) && $4 == "ns/op" {
		split(substr($1, RSTART + 1, RLENGTH - 1), p, "/")
		ver = substr(p[1], 5); impl = substr(p[2], 6)
		row = substr($1, 1, RSTART - 1) substr($1, RSTART + RLENGTH) " " ver
		if (!(row in seen)) { seen[row] = 1; order[++rows] = row }
		n = ++count[row, impl]
		ns[row, impl, n] = $3
	}
	function median(a, n,    i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	END {
		for (r = 1; r <= rows; r++) {
			row = order[r]
			a = "Map"; b = "xsync"
			if (count[row, a] == 0) { a = "safemap"; b = "otter" }
			k = count[row, a]; if (count[row, b] < k) k = count[row, b]
			if (k == 0) continue
			delete q; delete m; delete x
			lo = hi = ns[row, a, 1] / ns[row, b, 1]
			for (i = 1; i <= k; i++) {
				q[i] = ns[row, a, i] / ns[row, b, i]
				m[i] = ns[row, a, i]; x[i] = ns[row, b, i]
				if (q[i] < lo) lo = q[i]; if (q[i] > hi) hi = q[i]
			}
			split(row, rv, " ")
			printf "%-50s %-4s n=%d median %.2f range %.2f-%.2f  %s med %.1f %s med %.1f\n",
				rv[1], rv[2], k, median(q, k), lo, hi, a, median(m, k), b, median(x, k)
		}
	}' "$f"
done
