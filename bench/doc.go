// Package bench holds the benchmarks that compare safemap's strategies with
// each other and with the public peers (xsync, sync.Map, a built-in map).
// It is a module of its own so that the peers it imports never reach a user
// of the library: run it from the repository root, where go.work makes it
// use the working copy of safemap,
//
//	go test -run '^$' -bench . -count 8 ./bench | tee new.txt
//	benchstat -col /impl new.txt
//
// BENCHMARKS.md at the repository root quotes these benchmarks, with the
// commands that produced each figure; the raw outputs are under results/.
package bench
