package redismap

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Options configures a [Map]. The zero value of every field means the
// default documented on it, so Options[K, V]{} is a valid configuration.
// New validates the options once; a Map never changes them afterwards.
type Options[K comparable, V any] struct {
	// Prefix names the Map's entries and its notification channel
	// (Prefix + ":events"): entry keys start with "{", Prefix's length in
	// bytes, ":", Prefix and ":" (see the package documentation). Maps that
	// share a Prefix share entries, and only those, so use one Prefix per
	// kind of value. It must not contain '{' or '}' (it is part of each
	// entry's hash tag). Default "safemap".
	Prefix string

	// TTL is how long a stored value lives in Redis (before jitter).
	// Default 1 hour.
	TTL time.Duration

	// TTLJitter is the largest amount taken off TTL at random for each
	// stored value, so that keys filled together do not expire together.
	// Values never live longer than TTL. Default TTL/10; negative means no
	// jitter. It must be less than TTL.
	TTLJitter time.Duration

	// RefreshAfter, if positive, refreshes hot values before they expire.
	// A LoadOrTryCompute that finds a value older than RefreshAfter (and
	// not expired) returns it at once, and starts a reload of the key in
	// the background with that call's loader, unless a reload of the key
	// is already running or backing off in any process: one process takes
	// the key's lease for it, the others go on serving the current value.
	// The reload is committed like a miss's load (fenced: a Store or Delete
	// made meanwhile wins) and restarts the value's TTL; a reload that
	// fails keeps the value until it expires, and no process tries again
	// for a backoff that doubles with each failure (with jitter, capped at
	// TTL − RefreshAfter). Load never refreshes. Zero (the default) turns
	// refresh off. It must be less than TTL − TTLJitter, so that every
	// value reaches it before it expires. docs/redis.md says why a fixed
	// age and not probabilistic early expiration (XFetch).
	RefreshAfter time.Duration

	// Lease is how long a loader's claim on a key lasts without renewal.
	// The holder renews it every Lease/3 while its loader runs; if the
	// holder dies or stalls, a waiter takes over once the lease has
	// expired, so Lease bounds how long a crash delays the key. Default 5
	// seconds; at least 10 milliseconds.
	Lease time.Duration

	// MaxLoad bounds how long one loader keeps the lease: the loader's ctx
	// gets this deadline, and renewal stops at it, so a loader that hangs
	// blocks the key for at most MaxLoad + Lease. Default 1 minute;
	// negative means no limit (a hung loader then blocks the key's waiters
	// until their contexts end).
	MaxLoad time.Duration

	// ErrorTTL is how long a loader's error stays in Redis as an error
	// marker, returned to every caller of the key (in every process) as a
	// *SharedError without calling the loader. The first call after it
	// expires tries again. Default 1 second.
	ErrorTTL time.Duration

	// NegativeTTL, if positive, caches a loader's ErrNotFound for this long
	// (with the jitter of TTLJitter scaled down in proportion), so that a
	// hot missing key does not reach the source on every call. Zero (the
	// default) turns negative caching off: ErrNotFound is then shared like
	// any other loader error, for ErrorTTL.
	NegativeTTL time.Duration

	// MaxBatch, if positive, is the most keys LoadOrTryComputeAll passes to
	// one call of its loader: more missing keys are loaded in several calls
	// of at most MaxBatch keys each, one after another, each committed as
	// soon as it returns. Zero (the default) means no limit.
	MaxBatch int

	// Codec encodes and decodes values. Default: string and []byte values
	// are stored as they are; anything else as JSON (encoding/json).
	Codec Codec[V]

	// Key encodes a key as the name part of its Redis keys. Default:
	// strings (and types whose underlying type is string) as they are,
	// integers, booleans and floats in decimal (a NaN is rejected; -0 and
	// +0 are one key), anything else as JSON. It must be deterministic and
	// injective: two keys with one encoding are one entry.
	Key func(K) (string, error)

	// SharedErrors lists sentinel errors that must survive the trip to
	// other processes: a loader error that matches one of them by errors.Is
	// reaches the waiters of other processes as a *SharedError whose Unwrap
	// returns that sentinel. They are told apart by their Error() text,
	// which must be the same in every process and unique in the list.
	SharedErrors []error

	// MaxValueSize is the longest encoded value stored, in bytes. A larger
	// one is not stored and fails the computation with ErrValueTooLarge.
	// Default 1 MiB; at most 512 MiB (Redis's own limit).
	MaxValueSize int

	// NearCache, if its Size is positive, keeps recently read values in
	// process, in front of Redis. See [NearCacheOptions].
	NearCache NearCacheOptions
}

// NearCacheOptions configures the optional in-process cache in front of
// Redis. A near-cache hit makes no Redis call. Entries are invalidated by
// the notifications that every write of the Map publishes, dropped all at
// once when the notification connection drops, and never outlive the
// value's expiry in Redis (see docs/redis.md for the staleness bound and
// the assumptions about the server's clock).
type NearCacheOptions struct {
	// Size is the most entries kept; when full, an insert evicts about an
	// eighth of them (arbitrary ones). Zero, the default, turns the near
	// cache off.
	Size int

	// TTL bounds how long one entry is served from the near cache (it is
	// also bounded by the value's expiry in Redis). Default 1 minute.
	TTL time.Duration
}

// Defaults, as documented on Options.
const (
	defaultPrefix       = "safemap"
	defaultTTL          = time.Hour
	defaultLease        = 5 * time.Second
	minLease            = 10 * time.Millisecond
	defaultMaxLoad      = time.Minute
	defaultErrorTTL     = time.Second
	defaultMaxValueSize = 1 << 20
	maxValueSizeLimit   = 512 << 20
	defaultNearTTL      = time.Minute
)

// config is Options with every default resolved.
type config[K comparable, V any] struct {
	prefix       string
	ttl, jitter  time.Duration
	refreshAfter time.Duration // 0: off
	lease        time.Duration
	maxLoad      time.Duration // 0: no limit
	errorTTL     time.Duration
	negativeTTL  time.Duration // 0: off
	codec        Codec[V]
	key          func(K) (string, error)
	sharedErrors []error // Options.SharedErrors, then the built-in ones
	maxValueSize int
	maxBatch     int // 0: no limit
	nearSize     int
	nearTTL      time.Duration
}

// resolve validates o and fills in the defaults.
func (o Options[K, V]) resolve() (config[K, V], error) {
	var c config[K, V]
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("redismap: Options."+format, args...))
	}

	c.prefix = o.Prefix
	if c.prefix == "" {
		c.prefix = defaultPrefix
	}
	if strings.ContainsAny(c.prefix, "{}") {
		bad("Prefix %q contains '{' or '}'; it is part of each entry's hash tag", c.prefix)
	}

	c.ttl = o.TTL
	switch {
	case c.ttl == 0:
		c.ttl = defaultTTL
	case c.ttl < time.Millisecond:
		bad("TTL %v is below the 1ms resolution of Redis expiry", o.TTL)
	}
	switch {
	case o.TTLJitter < 0:
		c.jitter = 0
	case o.TTLJitter == 0:
		c.jitter = c.ttl / 10
	case o.TTLJitter >= c.ttl:
		bad("TTLJitter %v is not less than TTL %v", o.TTLJitter, c.ttl)
	default:
		c.jitter = o.TTLJitter
	}

	c.refreshAfter = o.RefreshAfter
	switch {
	case c.refreshAfter < 0:
		bad("RefreshAfter %v is negative (zero turns refresh off)", o.RefreshAfter)
	case c.refreshAfter > 0 && c.refreshAfter >= c.ttl-c.jitter:
		bad("RefreshAfter %v is not less than TTL %v less TTLJitter %v: some values would expire first", o.RefreshAfter, c.ttl, c.jitter)
	}

	c.lease = o.Lease
	switch {
	case c.lease == 0:
		c.lease = defaultLease
	case c.lease < minLease:
		bad("Lease %v is below the minimum %v", o.Lease, minLease)
	}

	switch {
	case o.MaxLoad < 0:
		c.maxLoad = 0
	case o.MaxLoad == 0:
		c.maxLoad = defaultMaxLoad
	default:
		c.maxLoad = o.MaxLoad
	}

	c.errorTTL = o.ErrorTTL
	switch {
	case c.errorTTL == 0:
		c.errorTTL = defaultErrorTTL
	case c.errorTTL < time.Millisecond:
		bad("ErrorTTL %v is below 1ms", o.ErrorTTL)
	}

	c.negativeTTL = o.NegativeTTL
	if c.negativeTTL < 0 || (c.negativeTTL > 0 && c.negativeTTL < time.Millisecond) {
		bad("NegativeTTL %v is negative or below 1ms (zero turns negative caching off)", o.NegativeTTL)
	}

	c.codec = o.Codec
	if c.codec == nil {
		c.codec = defaultCodec[V]()
	}
	c.key = o.Key
	if c.key == nil {
		c.key = defaultKeyEncoder[K]()
	}

	seen := make(map[string]bool)
	for i, e := range o.SharedErrors {
		if e == nil {
			bad("SharedErrors[%d] is nil", i)
			continue
		}
		if seen[e.Error()] {
			bad("SharedErrors[%d] %q repeats the text of an earlier entry; processes tell them apart by it", i, e.Error())
		}
		seen[e.Error()] = true
	}
	c.sharedErrors = append(append([]error(nil), o.SharedErrors...), builtinSharedErrors...)

	c.maxValueSize = o.MaxValueSize
	switch {
	case c.maxValueSize == 0:
		c.maxValueSize = defaultMaxValueSize
	case c.maxValueSize < 0 || c.maxValueSize > maxValueSizeLimit:
		bad("MaxValueSize %d is outside 1..%d", o.MaxValueSize, maxValueSizeLimit)
	}

	c.maxBatch = o.MaxBatch
	if c.maxBatch < 0 {
		bad("MaxBatch %d is negative (zero means no limit)", o.MaxBatch)
	}

	c.nearSize = o.NearCache.Size
	if c.nearSize < 0 {
		bad("NearCache.Size %d is negative", o.NearCache.Size)
	}
	c.nearTTL = o.NearCache.TTL
	switch {
	case c.nearTTL == 0:
		c.nearTTL = defaultNearTTL
	case c.nearTTL < 0:
		bad("NearCache.TTL %v is negative", o.NearCache.TTL)
	}
	return c, errors.Join(errs...)
}
