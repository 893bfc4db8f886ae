package safemap

import (
	"fmt"
	"math/bits"
	"runtime"
)

// An Option configures a map at construction. Options are validated once,
// by the constructor, which panics with a message starting "safemap: " on a
// bad value or on an option that does not apply to the map being built.
type Option func(*options)

// options collects the settings of every constructor; each constructor
// accepts the subset it understands (see options.check).
type options struct {
	capacity int
	shards   int
	hashBits int // test hook: keep only this many low hash bits (0 = all)

	set optionSet
}

type optionSet uint8

const (
	setCapacity optionSet = 1 << iota
	setShards
)

// optionNames names each option in optionSet bit order, for error messages.
var optionNames = [...]string{"WithCapacity", "WithShards"}

// WithCapacity presizes the map for about n entries, avoiding growth while
// it fills. n must not be negative.
func WithCapacity(n int) Option {
	return func(o *options) {
		if n < 0 {
			panic(fmt.Sprintf("safemap: WithCapacity(%d): capacity must not be negative", n))
		}
		o.capacity = n
		o.set |= setCapacity
	}
}

// WithShards sets the number of shards of a [ShardedMap]. n must be
// positive; it is rounded up to a power of two. The default is four shards
// per GOMAXPROCS, rounded up to a power of two.
func WithShards(n int) Option {
	return func(o *options) {
		if n <= 0 || n > maxShards {
			panic(fmt.Sprintf("safemap: WithShards(%d): shard count must be in [1, %d]", n, maxShards))
		}
		o.shards = n
		o.set |= setShards
	}
}

// buildOptions applies opts and panics if one of them is not in allowed for
// the constructor named ctor.
func buildOptions(ctor string, allowed optionSet, opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt == nil {
			panic("safemap: " + ctor + ": nil Option")
		}
		opt(&o)
	}
	if extra := o.set &^ allowed; extra != 0 {
		for i, name := range optionNames {
			if extra&(1<<i) != 0 {
				panic("safemap: " + name + " does not apply to " + ctor)
			}
		}
	}
	return o
}

// maxShards bounds WithShards; more shards than this only waste memory.
const maxShards = 1 << 16

// defaultShards is four shards per P, rounded up to a power of two, so that
// two goroutines writing different keys rarely share a lock.
func defaultShards() int {
	return ceilPow2(4 * runtime.GOMAXPROCS(0))
}

// ceilPow2 returns the smallest power of two >= n, for n >= 1.
func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}
