package cache

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Options configures a [Cache]. The zero Options is an unbounded cache whose
// entries never expire: it behaves exactly like [safemap.Map].
//
// Every callback (Weigher, TTLFunc, OnEvict, Clock) runs with no lock of the
// cache held, so it may call any method of the cache.
type Options[K comparable, V any] struct {
	// MaxEntries bounds the number of entries: when a write would exceed it,
	// the policy (W-TinyLFU, see docs/cache.md) evicts entries, possibly the
	// new one. 0 means no bound. Len stays within MaxEntries plus a slack of
	// max(1 %, 64) entries, and within MaxEntries exactly when no write runs
	// concurrently. Set MaxEntries or MaxWeight, not both.
	MaxEntries int

	// MaxWeight bounds the total weight of the entries, as computed by
	// Weigher; 0 means no bound. It needs Weigher.
	MaxWeight uint64

	// Weigher returns an entry's weight, when it is stored. It runs before
	// the cache takes any lock; if it panics, the write panics with the same
	// value and changes nothing. It needs MaxWeight. An entry that weighs
	// more than MaxWeight is evicted at once.
	Weigher func(key K, value V) uint32

	// TTL is how long an entry lives after each write of it; 0 means entries
	// do not expire. An expired entry is absent for every method. Deadlines
	// are counted in milliseconds of a coarse clock (see Clock).
	TTL time.Duration

	// TTLFunc, if set, gives each entry its own time to live when it is
	// written, overriding TTL. A result of 0 means the entry does not expire;
	// a negative result means it is expired at once (the write takes effect
	// and the entry is absent afterwards). It runs before the cache takes any
	// lock; if it panics, the write panics with the same value and changes
	// nothing.
	TTLFunc func(key K, value V) time.Duration

	// OnEvict, if set, is called once for every entry that leaves the cache
	// by size (EvictSize) or expiry (EvictExpired); never for an entry that
	// Delete, LoadAndDelete, CompareAndDelete, Compute, Clear or a write
	// replaced while it was live. It runs after the cache's locks are
	// released, in the goroutine whose call removed the entry (a write that
	// evicted it, a lookup that found it expired) or in the cache's
	// background cleanup. A panic in OnEvict is recovered; the other
	// callbacks still run, and once the cache is consistent the first panic
	// is re-raised in the goroutine whose call removed the entry (the call's
	// own effect is complete by then). A panic in the background cleanup is
	// dropped. It is not called for negative or error entries (issue 19's
	// NegativeTTL and ErrorTTL), which hold no value.
	OnEvict func(key K, value V, cause EvictCause)

	// RefreshAfter, if positive, makes a LoadOrCompute or LoadOrTryCompute
	// that hits an entry older than RefreshAfter (and not expired) return
	// the entry at once and reload it in the background with that call's
	// function. See docs/cache.md.
	RefreshAfter time.Duration

	// RefreshTimeout bounds each background reload's context; 0 means
	// [DefaultRefreshTimeout].
	RefreshTimeout time.Duration

	// NegativeTTL, if positive, makes a loader error matching [ErrNotFound]
	// remembered for that long: LoadOrTryCompute then returns an error
	// matching ErrNotFound without calling its loader. 0 turns it off.
	NegativeTTL time.Duration

	// ErrorTTL, if positive, makes any other loader error remembered for that
	// long: calls made within it return a [*CachedError] wrapping it without
	// calling their loader. 0 turns it off.
	ErrorTTL time.Duration

	// MaxBatch caps the keys of one call of LoadOrTryComputeAll's function:
	// it splits the keys it loads into calls of at most MaxBatch keys (0: no
	// limit).
	MaxBatch int

	// Clock, if set, replaces the coarse process clock, for tests: the cache
	// reads it on every lookup of an entry that can expire, and counts
	// deadlines in its milliseconds. It must never go backwards.
	Clock func() time.Time
}

// DefaultRefreshTimeout bounds a background reload when
// Options.RefreshTimeout is 0.
const DefaultRefreshTimeout = 30 * time.Second

// ErrInvalidOptions is matched (with errors.Is) by the error New returns for
// invalid Options.
var ErrInvalidOptions = errors.New("cache: invalid options")

// OptionsError is the error New returns for invalid Options. It names every
// bad field.
type OptionsError struct {
	// Problems holds one line per bad field, each starting with the field's
	// name.
	Problems []string
}

func (e *OptionsError) Error() string {
	s := "cache: invalid options:"
	for i, p := range e.Problems {
		if i > 0 {
			s += ";"
		}
		s += " " + p
	}
	return s
}

// Is reports whether target is ErrInvalidOptions.
func (e *OptionsError) Is(target error) bool { return target == ErrInvalidOptions }

// validate returns an *OptionsError naming every bad field, or nil.
func (o *Options[K, V]) validate() error {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if o.MaxEntries < 0 {
		bad("MaxEntries is %d; want 0 (no bound) or more", o.MaxEntries)
	}
	if o.MaxEntries > 0 && o.MaxWeight > 0 {
		bad("MaxEntries and MaxWeight are both set; set one bound")
	}
	if o.MaxWeight > 0 && o.Weigher == nil {
		bad("MaxWeight is %d without a Weigher", o.MaxWeight)
	}
	if o.MaxWeight > math.MaxInt64 {
		bad("MaxWeight is %d; want at most %d", o.MaxWeight, uint64(math.MaxInt64))
	}
	if o.Weigher != nil && o.MaxWeight == 0 {
		bad("Weigher is set without MaxWeight")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"TTL", o.TTL}, {"RefreshAfter", o.RefreshAfter}, {"RefreshTimeout", o.RefreshTimeout},
		{"NegativeTTL", o.NegativeTTL}, {"ErrorTTL", o.ErrorTTL},
	} {
		if d.v < 0 {
			bad("%s is %v; want 0 (off) or more", d.name, d.v)
		}
	}
	if o.RefreshAfter > 0 && o.TTL > 0 && o.RefreshAfter >= o.TTL {
		bad("RefreshAfter is %v, not below TTL %v: entries would expire before a refresh", o.RefreshAfter, o.TTL)
	}
	if o.MaxBatch < 0 {
		bad("MaxBatch is %d; want 0 (no limit) or more", o.MaxBatch)
	}
	if len(p) == 0 {
		return nil
	}
	return &OptionsError{Problems: p}
}

// EvictCause says why an entry left the cache, for Options.OnEvict.
type EvictCause uint8

const (
	// EvictSize: the policy evicted the entry to keep the cache within
	// MaxEntries or MaxWeight.
	EvictSize EvictCause = iota + 1
	// EvictExpired: the entry's time to live ran out.
	EvictExpired
)

// String returns the cause's name, such as "EvictSize".
func (c EvictCause) String() string {
	switch c {
	case EvictSize:
		return "EvictSize"
	case EvictExpired:
		return "EvictExpired"
	}
	return "EvictCause(" + strconv.Itoa(int(c)) + ")"
}
