package cache

import (
	"context"
	"hash/maphash"
	"iter"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/tinylfu"
)

// Cache is a concurrent map whose entries may be bounded in number or
// weight and may expire. It implements [safemap.ConcurrentMap] with the
// same contract as [safemap.Map], where an entry that leaves by eviction or
// expiry does so exactly as if another goroutine had deleted it:
//
//   - A hit (Load, or the hit of LoadOrCompute and LoadOrTryCompute) takes
//     no lock, allocates nothing and writes no shared word: it reads the
//     map without locks, checks the entry's deadline against a coarse
//     clock (one atomic load; see docs/cache.md for its precision), records
//     the hit in the entry itself (at most one atomic store, only when the
//     entry's 2-bit hit count changes) and in a per-goroutine stripe of the
//     statistics.
//   - A write changes the map first, then runs a short maintenance section
//     under one mutex of the cache (never taken by a hit): the eviction
//     policy, the timing wheel of deadlines and the evictions they decide.
//     Victims are removed with CompareAndDelete of their own entry, so a
//     newer value stored concurrently is never removed.
//   - Every user callback (a loader, Weigher, TTLFunc, OnEvict, Clock) runs
//     with no lock of the cache held, and may call any method of the cache,
//     with one exception: Compute's function (and the Weigher and TTLFunc
//     that price its new value) runs holding the key's bucket-chain lock,
//     as in [safemap.Map.Compute], and may call only Load.
//   - LoadOrCompute and LoadOrTryCompute run their function at most once per
//     absence of the key, as [safemap.Map] does (they are its methods, on
//     the map of entries). Invalidation wins, as in the Map: a Delete,
//     LoadAndDelete or Clear of the key while the function runs means its
//     value is not stored (the caller and its waiters still get it), and a
//     caller that arrives after the invalidation loads anew; a Store or
//     Swap meanwhile wins. A background reload is dropped likewise if its
//     key was written, deleted or cleared after it started.
//   - An expired entry is absent for every method. Its memory is reclaimed
//     when a lookup finds it, or by the timing wheel, which writes and a
//     background cleanup every 16 ms advance; Len stops counting it within
//     about 35 ms of its deadline.
//
// Create a Cache with [New]; the zero Cache is not ready for use. A Cache
// must not be copied after first use. A Cache that can expire entries is
// cleaned by a process-wide background goroutine; call Close when done
// with it to stop that (a Cache that is garbage collected unclosed stops it
// too).
type Cache[K comparable, V any] struct {
	_ noCopy
	m safemap.Map[K, *node[K, V]]

	// computes counts the Computes running: their functions hold a bucket
	// lock of m and may call Load, so while any runs, a Load that finds an
	// expired entry cannot delete it from m (which could need that lock).
	// It queues the entry on late instead (up to maxLate; the timing wheel
	// reclaims the rest), and each Compute drops the queued entries once
	// its own lock is released, so that an entry a call has reported
	// expired is not counted by Len after a Compute around that call.
	computes atomic.Int32
	lateMu   sync.Mutex
	late     []*node[K, V] // guarded by lateMu
	hasLate  atomic.Bool   // late is not empty

	// Fixed by New.
	maintained bool // bounded or expiring: writes run the maintenance section
	bounded    bool // MaxEntries or MaxWeight set: a policy chooses victims
	expiring   bool // TTL or TTLFunc set: entries carry deadlines
	maxWeight  uint64
	ttl        time.Duration
	ttlFunc    func(K, V) time.Duration
	weigher    func(K, V) uint32
	onEvict    func(K, V, EvictCause)
	seed       maphash.Seed

	clockKind atomic.Uint32 // clockCoarse, clockPrecise (after Close) or clockCustom
	clockFn   func() time.Time
	clockBase time.Time
	slack     int64 // ms added to deadlines so that the coarse clock's lag never expires an entry early

	// Guarded by maint.
	maint   sync.Mutex
	policy  *tinylfu.Policy // nil unless bounded
	wheel   *wheel[K, V]    // nil unless expiring
	gen     uint64          // generation of policy and wheel, 1 to 2^genBits-1; Clear starts a new one
	now     int64           // the time of the maintenance section in progress
	pending []eviction[K, V]
	evictFn func(*tinylfu.Node)

	cleared atomic.Bool // a Clear ran: admit checks that a node is still in the map
	stats   counters
	l19     loaders19[K, V]

	reg       *registration
	closeOnce sync.Once
}

// noCopy makes go vet's copylocks check report copies of a Cache.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

const (
	clockCoarse uint32 = iota
	clockPrecise
	clockCustom
)

// eviction is an OnEvict call decided under maint, made after it.
type eviction[K comparable, V any] struct {
	key   K
	value V
	cause EvictCause
}

var _ safemap.ConcurrentMap[int, int] = (*Cache[int, int])(nil)

// New returns an empty cache configured by opts. It returns an error
// matching ErrInvalidOptions (an *OptionsError) that names every bad field
// if opts is invalid.
func New[K comparable, V any](opts Options[K, V]) (*Cache[K, V], error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	c := &Cache[K, V]{
		ttl:      opts.TTL,
		ttlFunc:  opts.TTLFunc,
		weigher:  opts.Weigher,
		onEvict:  opts.OnEvict,
		seed:     maphash.MakeSeed(),
		expiring: opts.TTL > 0 || opts.TTLFunc != nil || opts.NegativeTTL > 0 || opts.ErrorTTL > 0,
		gen:      1,
	}
	switch {
	case opts.MaxEntries > 0:
		c.maxWeight = uint64(opts.MaxEntries)
	case opts.MaxWeight > 0:
		c.maxWeight = opts.MaxWeight
	}
	c.l19.init(opts)
	c.bounded = c.maxWeight > 0
	c.maintained = c.bounded || c.expiring || c.l19.refreshAfter > 0
	if c.bounded {
		c.policy = tinylfu.New(c.maxWeight)
		c.evictFn = c.evictLocked
	}
	if opts.Clock != nil {
		c.clockFn, c.clockBase = opts.Clock, opts.Clock()
		c.clockKind.Store(clockCustom)
	} else {
		c.slack = 1
	}
	if c.expiring || c.l19.refreshAfter > 0 {
		if opts.Clock == nil {
			advanceClock(sinceOrigin()) // register does it too, but the wheel starts first
		}
		c.wheel = newWheel[K, V](c.nowSlow())
		c.reg = newRegistration(c)
		register(c.reg) // after the wheel is set: the first cleanup may run at once
	}
	return c, nil
}

// newRegistration returns c's registration with the coarse clock, holding
// c weakly.
func newRegistration[K comparable, V any](c *Cache[K, V]) *registration {
	wp := weak.Make(c)
	return &registration{cleanup: func() bool {
		c := wp.Value()
		if c == nil {
			return false
		}
		c.cleanup()
		return true
	}}
}

// Close stops the cache's background work: it leaves the coarse clock's
// cleanup (and the clock's goroutine stops once no cache uses it) and
// waits for background reloads to end. It is idempotent, and every method
// keeps working afterwards, reading the system clock instead of the coarse
// one and reclaiming expired entries only as writes and lookups meet them.
func (c *Cache[K, V]) Close() {
	c.closeOnce.Do(func() {
		if c.clockKind.Load() == clockCoarse {
			c.clockKind.Store(clockPrecise)
		}
		if c.reg != nil {
			unregister(c.reg)
		}
		c.l19.close()
	})
}

// clock returns the time in coarse clock milliseconds. Hits of entries
// that can expire call it: for the coarse clock it is one atomic load.
func (c *Cache[K, V]) clock() int64 {
	if c.clockKind.Load() == clockCoarse {
		return coarse.now.Load()
	}
	return c.nowSlow()
}

// nowSlow reads the custom clock, or the system clock (outlined so that
// clock inlines).
func (c *Cache[K, V]) nowSlow() int64 {
	if c.clockFn != nil {
		return max(int64(c.clockFn().Sub(c.clockBase)/time.Millisecond)+1, 1)
	}
	if c.clockKind.Load() == clockCoarse {
		return coarse.now.Load()
	}
	return sinceOrigin()
}

// deadline returns the deadline of an entry written now with time to live
// ttl (not 0): now itself (expired at once) if ttl is negative.
func (c *Cache[K, V]) deadline(ttl time.Duration) int64 {
	now := c.clock()
	if ttl < 0 {
		return now
	}
	ms := int64((ttl + time.Millisecond - 1) / time.Millisecond)
	return min(now+ms+c.slack, maxDeadline)
}

// live reports whether n holds a value that is not expired: whether a
// lookup that finds n returns it.
func (c *Cache[K, V]) live(n *node[K, V]) bool {
	return c.liveAt(n, c.clock())
}

// liveAt is live at time now, which the caller read from the clock before
// calling. A remover that reports a node as live or absent passes the same
// now to settle, so that OnEvict agrees with what it reported.
//
// A node past its deadline is live while it is pinned (see pin); otherwise
// liveAt marks it dead before reporting it expired, so that no pin can
// follow: once any caller has seen a node expired, nobody sees it live.
func (c *Cache[K, V]) liveAt(n *node[K, V], now int64) bool {
	for {
		w := n.Word.Load()
		switch {
		case w&(hiddenBit|deadBit) != 0:
			return false
		case !expiredAt(w, now) || w&pinnedBit != 0:
			return true
		case n.Word.CompareAndSwap(w, w|deadBit):
			return false
		}
	}
}

// pin reports whether n, which the caller found as its key's entry while
// holding the key's bucket lock, is live at time now (read from the clock
// before calling), and if so keeps it live until unpin, or for good if the
// caller replaces or deletes it. Without the pin, the entry could expire
// for other callers while the lock holder computes a value from it: one of
// them would see the key absent, and then the derived value appear.
//
// Pin and liveAt decide with a compare-and-swap on n's Word, and each reads
// the clock first, which never goes back: whichever swaps first wins, and
// the loser agrees with it. A node that never expires needs no pin.
func (c *Cache[K, V]) pin(n *node[K, V], now int64) bool {
	for {
		w := n.Word.Load()
		switch {
		case w&(hiddenBit|deadBit) != 0:
			return false
		case deadlineOf(w) == 0 || w&pinnedBit != 0:
			return true
		case expiredAt(w, now):
			return c.liveAt(n, now) // marks it dead
		case n.Word.CompareAndSwap(w, w|pinnedBit):
			return true
		}
	}
}

// unpin undoes pin for a node that stays its key's entry: from now on it
// expires as its deadline says.
func unpin[K comparable, V any](n *node[K, V]) {
	if n.Word.Load()&pinnedBit != 0 {
		setWord(&n.Node, pinnedBit, 0)
	}
}

// newNode returns a node for key and value, calling Weigher and TTLFunc
// (with no lock held: a panic there changes nothing).
func (c *Cache[K, V]) newNode(key K, value V) *node[K, V] {
	var n *node[K, V]
	var w uint64
	if c.l19.refreshAfter > 0 {
		e := &extNode[K, V]{born: c.clock()}
		n, w = &e.node, extBit
	} else {
		n = new(node[K, V])
	}
	n.key, n.value = key, value
	if !c.maintained {
		return n
	}
	if c.expiring && findable(key) { // a NaN key is never found again: it cannot expire
		ttl := c.ttl
		if c.ttlFunc != nil {
			ttl = c.ttlFunc(key, value)
		}
		if ttl != 0 {
			w |= uint64(c.deadline(ttl)) << deadlineShift
		}
	}
	if c.bounded {
		weight := uint32(1)
		if c.weigher != nil {
			weight = c.weigher(key, value)
		}
		n.Init(0, weight) // the hash is set by admitLocked, once the key is known to be hashable
	}
	n.Word.Store(w)
	return n
}

// findable reports whether key == key: false for a NaN (or a value holding
// one), which is never found again once stored. A key that cannot be
// compared counts as findable: the map's own check then panics with its
// message, before anything changes.
func findable[K comparable](key K) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = true
		}
	}()
	return key == key
}

// hitMask selects the bits of a Word that a hit must find clear to return
// the value without reading the clock: hidden, and every deadline bit. An
// entry with a deadline is checked against the coarse clock in line (the
// clock method does not inline there); with another clock, the hit paths'
// outlined continuations check it.
const hitMask = hiddenBit | ^uint64(1<<deadlineShift-1)

// Load returns the value stored for key, or the zero value and false if the
// key is absent or its entry expired. It takes no lock and never allocates;
// it never starts a refresh.
func (c *Cache[K, V]) Load(key K) (value V, ok bool) {
	n, ok := c.m.Load(key)
	if ok {
		w := n.Word.Load()
		if w&hitMask == 0 || (w&hiddenBit == 0 && c.clockKind.Load() == clockCoarse && deadlineOf(w) > coarse.now.Load()) {
			tinylfu.Touch(&n.Node, w)
			c.stats.hit()
			return n.value, true
		}
	}
	return c.loadMiss(n, ok)
}

// loadMiss is Load's miss (outlined so that Load's hit inlines): found says
// whether the map held a node, expired or hidden.
func (c *Cache[K, V]) loadMiss(n *node[K, V], found bool) (value V, ok bool) {
	if found {
		// The fast path reads only the coarse clock: with a custom clock,
		// or after Close, a live entry gets here.
		if c.liveAt(n, c.clock()) {
			tinylfu.Touch(&n.Node, n.Word.Load())
			c.stats.hit()
			return n.value, true
		}
		c.dropIfExpired(n)
	}
	c.stats.miss()
	return value, false
}

// dropIfExpired removes n from the map if it has expired and is still the
// key's node, and settles its removal.
func (c *Cache[K, V]) dropIfExpired(n *node[K, V]) {
	if c.computes.Load() != 0 {
		c.dropLater(n) // a Compute's fn may hold n's bucket lock
		return
	}
	c.drop(n)
}

// maxLate bounds the expired entries queued while Computes run; past it,
// the timing wheel reclaims them.
const maxLate = 64

// dropLater queues n for the next Compute to return to drop.
func (c *Cache[K, V]) dropLater(n *node[K, V]) {
	c.lateMu.Lock()
	if len(c.late) < maxLate {
		c.late = append(c.late, n)
		c.hasLate.Store(true)
	}
	c.lateMu.Unlock()
}

// dropLate drops the entries dropLater queued. The caller must hold no lock
// of m: dropping may wait for a running Compute's lock.
func (c *Cache[K, V]) dropLate() {
	if !c.hasLate.Load() {
		return
	}
	c.lateMu.Lock()
	late := c.late
	c.late = nil
	c.hasLate.Store(false)
	c.lateMu.Unlock()
	for _, n := range late {
		c.drop(n)
	}
}

// drop removes n from the map if it has expired and is still the key's
// node, and settles its removal. The caller must hold no lock of m.
func (c *Cache[K, V]) drop(n *node[K, V]) {
	now := c.clock()
	if expiredAt(n.Word.Load(), now) && c.m.CompareAndDelete(n.key, n) {
		c.settleAt(nil, n, now)
	}
}

// Store sets the value for key. Weigher and TTLFunc run before anything
// changes; a panic in either changes nothing.
func (c *Cache[K, V]) Store(key K, value V) {
	c.Swap(key, value)
}

// Swap stores value for key and returns the previous value, if the key had
// one that had not expired.
func (c *Cache[K, V]) Swap(key K, value V) (previous V, loaded bool) {
	n := c.newNode(key, value)
	old, found := c.m.Swap(key, n)
	if found {
		now := c.clock()
		if c.liveAt(old, now) {
			previous, loaded = old.value, true
		}
		c.settleAt(n, old, now)
	} else {
		c.settle(n, nil)
	}
	return previous, loaded
}

// LoadOrStore returns the existing value for key if present (loaded is
// true). Otherwise it stores value and returns it (loaded is false). An
// expired entry is replaced.
func (c *Cache[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool) {
	if n, ok := c.m.Load(key); ok && c.live(n) {
		return n.value, true
	}
	n := c.newNode(key, value)
	for {
		cur, found := c.m.LoadOrStore(key, n)
		if !found {
			c.settle(n, nil)
			return value, false
		}
		now := c.clock()
		if c.liveAt(cur, now) {
			return cur.value, true
		}
		if c.m.CompareAndSwap(key, cur, n) {
			c.settleAt(n, cur, now)
			return value, false
		}
	}
}

// LoadOrCompute returns the value for key, calling fn to compute and store
// it if the key is absent or its entry expired; see
// [safemap.ConcurrentMap.LoadOrCompute]. fn runs with no lock held, at most
// once per absence, and its value is dropped if a Delete, LoadAndDelete or
// Clear of the key runs meanwhile. A hit takes no lock and allocates
// nothing. With Options.RefreshAfter, a hit on an entry older than it
// returns the entry and reloads it in the background with fn.
func (c *Cache[K, V]) LoadOrCompute(key K, fn func() V) (actual V, loaded bool) {
	if fn == nil {
		panicNilFunc("LoadOrCompute")
	}
	if n, ok := c.m.Load(key); ok {
		w := n.Word.Load()
		if w&hitMask == 0 || (w&hiddenBit == 0 && c.clockKind.Load() == clockCoarse && deadlineOf(w) > coarse.now.Load()) {
			tinylfu.Touch(&n.Node, w)
			c.stats.hit()
			if c.l19.refreshAfter > 0 {
				c.maybeRefresh(n, func(context.Context) (V, error) { return fn(), nil })
			}
			return n.value, true
		}
	}
	return c.computeMiss(key, fn)
}

// computeMiss is LoadOrCompute after its lookup missed.
func (c *Cache[K, V]) computeMiss(key K, fn func() V) (actual V, loaded bool) {
	for {
		ran := false
		n, found := c.m.LoadOrCompute(key, func() *node[K, V] {
			ran = true
			c.stats.loads.Add(1)
			return c.newNode(key, fn())
		})
		if ran {
			c.stats.miss()
			if !found {
				c.settle(n, nil)
				return n.value, false
			}
			if n.Word.Load()&hiddenBit == 0 {
				// A write stored the key while fn ran, and wins. It was live
				// right after it was stored, during this call, even if it
				// has expired since: return it rather than run fn again.
				return n.value, true
			}
		}
		if c.live(n) {
			if !ran {
				c.stats.hit()
				if c.l19.refreshAfter > 0 {
					c.maybeRefresh(n, func(context.Context) (V, error) { return fn(), nil })
				}
			}
			return n.value, true
		}
		c.dropIfExpired(n)
		if n.Word.Load()&hiddenBit != 0 && !expiredAt(n.Word.Load(), c.clock()) {
			// A negative or error entry: LoadOrCompute cannot fail, so it
			// replaces it with a value of its own.
			if v, ok := c.replaceHidden(key, n, fn); ok {
				return v, false
			}
		}
	}
}

// LoadOrTryCompute is LoadOrCompute for loaders that can fail; see
// [safemap.ConcurrentMap.LoadOrTryCompute]. fn runs with no lock held. With
// Options.NegativeTTL or ErrorTTL, a failure may be remembered and returned
// to later calls without calling their fn; see docs/cache.md.
func (c *Cache[K, V]) LoadOrTryCompute(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	mustLoader("LoadOrTryCompute", ctx, fn == nil)
	if n, ok := c.m.Load(key); ok {
		w := n.Word.Load()
		if w&hitMask == 0 || (w&hiddenBit == 0 && c.clockKind.Load() == clockCoarse && deadlineOf(w) > coarse.now.Load()) {
			tinylfu.Touch(&n.Node, w)
			c.stats.hit()
			if c.l19.refreshAfter > 0 {
				c.maybeRefresh(n, fn)
			}
			return n.value, true, nil
		}
	}
	return c.tryComputeMiss(ctx, key, fn)
}

// tryComputeMiss is LoadOrTryCompute after its lookup missed.
func (c *Cache[K, V]) tryComputeMiss(ctx context.Context, key K, fn func(context.Context) (V, error)) (actual V, loaded bool, err error) {
	for {
		ran := false
		n, found, err := c.m.LoadOrTryCompute(ctx, key, func(ctx context.Context) (*node[K, V], error) {
			ran = true
			c.stats.loads.Add(1)
			v, err := fn(ctx)
			if err != nil {
				c.stats.loadErrors.Add(1)
				if h := c.hiddenFor(ctx, key, err); h != nil {
					return h, nil // remembered: stored as a hidden entry
				}
				return nil, err
			}
			return c.newNode(key, v), nil
		})
		if ran {
			c.stats.miss()
		}
		if err != nil {
			if !ran {
				c.stats.miss()
			}
			return actual, false, err
		}
		if ran && !found {
			c.settle(n, nil)
			if n.Word.Load()&hiddenBit != 0 {
				return actual, false, extOf(n).err // the computing caller gets its own error
			}
			return n.value, false, nil
		}
		w := n.Word.Load()
		if ran && w&hiddenBit == 0 {
			return n.value, true, nil // a write won while fn ran: see computeMiss
		}
		if !expiredAt(w, c.clock()) {
			if w&hiddenBit != 0 {
				if !ran {
					c.stats.miss()
				}
				return actual, false, c.hiddenErr(n)
			}
			if !ran {
				c.stats.hit()
				if c.l19.refreshAfter > 0 {
					c.maybeRefresh(n, fn)
				}
			}
			return n.value, true, nil
		}
		c.dropIfExpired(n)
		if err := ctx.Err(); err != nil {
			return actual, false, err
		}
	}
}

// Compute atomically reads, modifies and writes the entry for key; see
// [safemap.ConcurrentMap.Compute]. It is [safemap.Map.Compute] on the map
// of entries, so it keeps that method's guarantee and its lock: fn (and
// Weigher and TTLFunc, which price the new value) runs once, holding the
// key's bucket-chain lock, which blocks writers of that chain but never
// readers; fn may call Load but no other method of the cache. An expired
// entry is passed to fn as absent (and leaves by expiry, for OnEvict); a
// live one that fn is given stays live for every caller until Compute
// returns, even if its deadline passes meanwhile (see pin). A panic in fn, Weigher or TTLFunc changes nothing and leaves no lock held.
// The policy and the timing wheel learn of the change after the lock is
// released.
func (c *Cache[K, V]) Compute(key K, fn func(old V, loaded bool) (newValue V, op safemap.ComputeOp)) (actual V, ok bool) {
	if fn == nil {
		panicNilFunc("Compute")
	}
	var (
		added, removed, expired *node[K, V]
		now                     int64
		old                     V
		live                    bool
	)
	n := c.lockedCompute(key, func(cur *node[K, V], found bool) (*node[K, V], safemap.ComputeOp) {
		added, removed, expired = nil, nil, nil
		now = c.clock()
		live = found && c.pin(cur, now)
		old = *new(V)
		if live {
			old = cur.value
			// The entry stays pinned if it leaves the map; if it stays
			// (a cancel, or a panic in fn, Weigher or TTLFunc), it expires
			// again from here on.
			defer func() {
				if removed == nil {
					unpin(cur)
				}
			}()
		}
		newValue, op := fn(old, live)
		mustKnownOp(op)
		switch op {
		case safemap.UpdateOp:
			added = c.newNode(key, newValue)
			if found {
				removed = cur
			}
			return added, safemap.UpdateOp
		case safemap.DeleteOp:
			if found {
				removed = cur
				return nil, safemap.DeleteOp
			}
		case safemap.CancelOp:
			if found && !live {
				expired = cur
			}
		}
		return nil, safemap.CancelOp
	})
	switch {
	case added != nil || removed != nil:
		c.settleAt(added, removed, now)
	case expired != nil:
		c.drop(expired)
	}
	if added != nil {
		return n.value, true
	}
	if removed != nil {
		return actual, false
	}
	return old, live
}

// lockedCompute runs [safemap.Map.Compute] on the map of entries, counted
// in computes while fn holds the key's lock, and then drops the expired
// entries that Loads queued meanwhile, also if fn panicked (its own Loads
// may have queued some).
func (c *Cache[K, V]) lockedCompute(key K, fn func(cur *node[K, V], found bool) (*node[K, V], safemap.ComputeOp)) *node[K, V] {
	c.computes.Add(1)
	defer c.dropLate()       // second, once fn holds no lock
	defer c.computes.Add(-1) // first
	n, _ := c.m.Compute(key, fn)
	return n
}

// loadEqual reports whether key's entry is live and its value == old (an
// expired one it finds is dropped): the lock-free first step of
// CompareAndSwap and CompareAndDelete, named by method.
func (c *Cache[K, V]) loadEqual(method string, key K, old V) bool {
	cur, found := c.m.Load(key)
	if !found {
		return false
	}
	if !c.live(cur) {
		c.dropIfExpired(cur)
		return false
	}
	return equalValues(method, cur.value, old)
}

// CompareAndSwap stores new for key if its current value == old. It panics
// if V is not comparable.
func (c *Cache[K, V]) CompareAndSwap(key K, old, new V) (swapped bool) {
	equalValues("CompareAndSwap", old, old)
	if !c.loadEqual("CompareAndSwap", key, old) {
		return false
	}
	n := c.newNode(key, new)
	removed, now := c.replaceIfEqual("CompareAndSwap", key, old, n)
	if removed == nil {
		return false
	}
	c.settleAt(n, removed, now)
	return true
}

// CompareAndDelete deletes key if its current value == old. It panics if V
// is not comparable.
func (c *Cache[K, V]) CompareAndDelete(key K, old V) (deleted bool) {
	equalValues("CompareAndDelete", old, old)
	if !c.loadEqual("CompareAndDelete", key, old) {
		return false
	}
	removed, now := c.replaceIfEqual("CompareAndDelete", key, old, nil)
	if removed == nil {
		return false
	}
	c.settleAt(nil, removed, now)
	return true
}

// replaceIfEqual is the write step of CompareAndSwap (n is the new node)
// and CompareAndDelete (n is nil): under key's bucket lock, if the entry is
// live and its value == old, it pins the entry and replaces or deletes it.
// It returns the entry it removed (nil if none) and the time it read. The
// lock-free first step, loadEqual, only filters: the entry can expire
// between it and the write, and a caller that saw it expired must not see
// the swap succeed.
func (c *Cache[K, V]) replaceIfEqual(method string, key K, old V, n *node[K, V]) (removed *node[K, V], now int64) {
	op := safemap.UpdateOp
	if n == nil {
		op = safemap.DeleteOp
	}
	var expired *node[K, V]
	c.m.Compute(key, func(cur *node[K, V], found bool) (*node[K, V], safemap.ComputeOp) {
		removed, expired = nil, nil
		if !found || !equalValues(method, cur.value, old) {
			return nil, safemap.CancelOp
		}
		now = c.clock()
		if !c.pin(cur, now) {
			expired = cur
			return nil, safemap.CancelOp
		}
		removed = cur
		return n, op
	})
	if expired != nil {
		c.drop(expired)
	}
	return removed, now
}

// LoadAndDelete deletes key and returns the value it had, if any and not
// expired. It also forgets a remembered error or not-found, and drops a
// background reload of key in progress.
func (c *Cache[K, V]) LoadAndDelete(key K) (value V, loaded bool) {
	n, found := c.m.LoadAndDelete(key)
	if !found {
		return value, false
	}
	now := c.clock()
	if c.liveAt(n, now) {
		value, loaded = n.value, true
	}
	c.settleAt(nil, n, now)
	return value, loaded
}

// Delete deletes key; see LoadAndDelete.
func (c *Cache[K, V]) Delete(key K) {
	c.LoadAndDelete(key)
}

// Range calls fn for each entry that has not expired until fn returns
// false, with the guarantees of [safemap.Map.Range]: no lock held while fn
// runs, each key at most once, no consistent snapshot. Expired entries it
// meets are removed.
func (c *Cache[K, V]) Range(fn func(key K, value V) bool) {
	if fn == nil {
		panicNilFunc("Range")
	}
	c.m.Range(func(key K, n *node[K, V]) bool {
		if c.live(n) {
			return fn(key, n.value)
		}
		c.dropIfExpired(n)
		return true
	})
}

// All returns an iterator over the entries, with the guarantees of Range.
func (c *Cache[K, V]) All() iter.Seq2[K, V] {
	return c.Range
}

// Len returns the number of entries, not counting the negative and error
// entries of NegativeTTL and ErrorTTL. An expired entry that a call has
// reported absent is no longer counted once that call (or, for a Load inside
// a Compute's fn, that Compute) has returned; one nobody has looked up is
// counted until it is reclaimed (within about 35 ms of its deadline, see
// Cache). It is exact when no write runs concurrently and nothing has
// expired.
func (c *Cache[K, V]) Len() int {
	return max(c.m.Len()-int(c.l19.hidden.Load()), 0)
}

// Clear deletes every entry, as [safemap.Map.Clear] does, and drops the
// background reloads in progress. No OnEvict is called.
func (c *Cache[K, V]) Clear() {
	if !c.maintained {
		c.m.Clear()
		return
	}
	c.maint.Lock()
	defer c.maint.Unlock()
	c.cleared.Store(true)
	c.m.Clear()
	c.gen = c.gen%(1<<genBits-1) + 1
	if c.bounded {
		c.policy = tinylfu.New(c.maxWeight)
		c.stats.weight.Store(0)
	}
	if c.wheel != nil {
		c.wheel = newWheel[K, V](c.nowSlow())
	}
	c.l19.hidden.Store(0)
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache[K, V]) Stats() Stats {
	s := Stats{
		Loads:           c.stats.loads.Load(),
		LoadErrors:      c.stats.loadErrors.Load(),
		Evictions:       c.stats.evictions.Load(),
		Expirations:     c.stats.expirations.Load(),
		Refreshes:       c.stats.refreshes.Load(),
		RefreshFailures: c.stats.refreshFailures.Load(),
		Entries:         c.Len(),
	}
	s.Hits, s.Misses = c.stats.hitsAndMisses()
	if c.weigher != nil {
		s.Weight = c.stats.weight.Load()
	}
	return s
}

// settle is the maintenance section every write runs after changing the
// map: added is a node it inserted (nil if none), removed one it took out
// (nil if none). Under maint it retires removed, admits added to the policy
// and the wheel, evicts what the policy chooses and advances the wheel;
// then, with no lock held, it calls OnEvict for the entries that left.
func (c *Cache[K, V]) settle(added, removed *node[K, V]) {
	c.settleAt(added, removed, 0)
}

// settleAt is settle for a caller that judged removed live or expired at
// time removedAt (0: judge it now): OnEvict is told it expired only if it
// had expired then.
func (c *Cache[K, V]) settleAt(added, removed *node[K, V], removedAt int64) {
	if !c.maintained {
		return
	}
	var h uint64
	if added != nil && c.bounded {
		h = maphash.Comparable(c.seed, added.key) // the map accepted the key: it is hashable
	}
	now := c.clock()
	if removedAt == 0 {
		removedAt = now
	}
	ev := c.settleLocked(added, removed, h, now, removedAt)
	c.runEvictions(ev, true)
}

func (c *Cache[K, V]) settleLocked(added, removed *node[K, V], h uint64, now, removedAt int64) []eviction[K, V] {
	c.maint.Lock()
	defer c.maint.Unlock()
	c.now = max(now, c.now)
	var replaced *node[K, V] // removed, left in the policy for added to take its place
	if removed != nil {
		if c.retireLocked(removed, removedAt, added != nil) {
			replaced = removed
		}
	}
	if added != nil {
		c.admitLocked(added, h, replaced)
	}
	if c.wheel != nil {
		c.wheel.advance(c.now, c.expireLocked)
	}
	if c.bounded {
		c.stats.weight.Store(c.policy.Weight())
	}
	ev := c.pending
	c.pending = nil
	return ev
}

// cleanup is the background cleanup: it advances the wheel if no write
// holds maint, and calls OnEvict for what expired, dropping its panics.
func (c *Cache[K, V]) cleanup() {
	if !c.maint.TryLock() {
		return // a write holds it, and advances the wheel itself
	}
	ev := func() []eviction[K, V] {
		defer c.maint.Unlock()
		c.now = max(c.clock(), c.now)
		c.wheel.advance(c.now, c.expireLocked)
		if c.bounded {
			c.stats.weight.Store(c.policy.Weight())
		}
		ev := c.pending
		c.pending = nil
		return ev
	}()
	c.runEvictions(ev, false)
}

// retireLocked does the bookkeeping of n, which its caller removed from the
// map: it leaves the policy and the wheel, and if it had expired, OnEvict
// is told.
//
// If replacing is set (a write put a new node in n's place) and the policy
// holds n, n stays in the policy and retireLocked returns true: admitLocked
// then hands its place to the new node (tinylfu's Replace), so that
// rewriting a value counts as an access of the entry, not a new entry.
func (c *Cache[K, V]) retireLocked(n *node[K, V], removedAt int64, replacing bool) (keptInPolicy bool) {
	w := setWord(&n.Node, genMask, retiredBit)
	if w&retiredBit != 0 {
		return false
	}
	keptInPolicy = replacing && c.bounded && genOf(w) == c.gen && !expiredAt(w, removedAt)
	c.leaveLocked(n, w, keptInPolicy)
	if expiredAt(w, removedAt) {
		c.expiredLocked(n, w)
	}
	return keptInPolicy
}

// leaveLocked takes n, whose Word was w, out of the policy (unless
// keepInPolicy) and the wheel if the current generation holds it.
func (c *Cache[K, V]) leaveLocked(n *node[K, V], w uint64, keepInPolicy bool) {
	if genOf(w) != c.gen {
		return
	}
	if c.bounded && !keepInPolicy {
		c.policy.Remove(&n.Node)
	}
	if c.wheel != nil {
		c.wheel.remove(n)
	}
	c.forgetHiddenLocked(w)
}

// forgetHiddenLocked is called when a node whose Word was w leaves the
// current generation: a hidden one no longer counts in loaders19.hidden.
func (c *Cache[K, V]) forgetHiddenLocked(w uint64) {
	if w&hiddenBit != 0 {
		c.l19.hidden.Add(-1)
	}
}

// expiredLocked counts n, which left the map expired, and queues its
// OnEvict call.
func (c *Cache[K, V]) expiredLocked(n *node[K, V], w uint64) {
	if w&hiddenBit != 0 {
		return
	}
	c.stats.expirations.Add(1)
	if c.onEvict != nil {
		c.pending = append(c.pending, eviction[K, V]{n.key, n.value, EvictExpired})
	}
}

// admitLocked adds n, which its caller inserted into the map, to the
// policy (whose victims leave through evictLocked) and the wheel.
//
// replaced, if not nil, is the node n replaced, still held by the policy:
// n takes its place there, or, if n is not admitted, it leaves.
func (c *Cache[K, V]) admitLocked(n *node[K, V], h uint64, replaced *node[K, V]) {
	if !c.admitOrRefuseLocked(n, h, replaced) && replaced != nil {
		c.policy.Remove(&replaced.Node)
	}
}

// admitOrRefuseLocked is admitLocked; it returns false if it did not admit
// n (so replaced is still in the policy).
func (c *Cache[K, V]) admitOrRefuseLocked(n *node[K, V], h uint64, replaced *node[K, V]) bool {
	w := n.Word.Load()
	if w&retiredBit != 0 || n.key != n.key {
		return false // already removed; or a NaN key, which only Clear removes
	}
	// Admit only what is in the map: a Clear may have removed n before its
	// admission, and a LoadOrCompute landing that an invalidation discarded
	// never got in. (A node removed otherwise is settled by its remover.)
	if cur, ok := c.m.Load(n.key); !ok || cur != n {
		return false
	}
	if expiredAt(w, c.now) {
		if c.m.CompareAndDelete(n.key, n) {
			setWord(&n.Node, 0, retiredBit)
			c.expiredLocked(n, w)
		}
		return false
	}
	setWord(&n.Node, genMask, c.gen<<genShift)
	if w&hiddenBit != 0 {
		c.l19.hidden.Add(1) // see loaders19.hidden
	}
	if d := deadlineOf(w); d != 0 && c.wheel != nil {
		c.wheel.schedule(n, d)
	}
	if c.bounded {
		n.Init(h, n.Weight())
		if replaced != nil {
			c.policy.Replace(&replaced.Node, &n.Node, c.evictFn)
		} else {
			c.policy.Add(&n.Node, c.evictFn)
		}
	}
	return true
}

// evictLocked is the policy's evict callback: pn has left the policy.
func (c *Cache[K, V]) evictLocked(pn *tinylfu.Node) {
	n := nodeOf[K, V](pn)
	w := setWord(pn, genMask, 0)
	if c.wheel != nil {
		c.wheel.remove(n)
	}
	c.forgetHiddenLocked(w)
	if !c.m.CompareAndDelete(n.key, n) {
		return // removed or replaced meanwhile: its remover settles it
	}
	setWord(pn, 0, retiredBit)
	if expiredAt(w, c.now) {
		c.expiredLocked(n, w)
		return
	}
	if w&hiddenBit != 0 {
		return
	}
	c.stats.evictions.Add(1)
	if c.onEvict != nil {
		c.pending = append(c.pending, eviction[K, V]{n.key, n.value, EvictSize})
	}
}

// expireLocked is the wheel's expire callback: n's deadline has passed.
func (c *Cache[K, V]) expireLocked(n *node[K, V]) {
	w := setWord(&n.Node, genMask, 0)
	if c.bounded {
		c.policy.Remove(&n.Node)
	}
	c.forgetHiddenLocked(w)
	if !c.m.CompareAndDelete(n.key, n) {
		return
	}
	setWord(&n.Node, 0, retiredBit)
	c.expiredLocked(n, w)
}

// runEvictions calls OnEvict for each of ev, with no lock held. A panic is
// recovered so that the others still run; the first is re-raised at the
// end if reraise is set.
func (c *Cache[K, V]) runEvictions(ev []eviction[K, V], reraise bool) {
	if len(ev) == 0 {
		return
	}
	var first any
	panicked := false
	for i := range ev {
		func() {
			defer func() {
				if r := recover(); r != nil && !panicked {
					first, panicked = r, true
				}
			}()
			c.onEvict(ev[i].key, ev[i].value, ev[i].cause)
		}()
	}
	if panicked && reraise {
		panic(first)
	}
}
