package redismap

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap"
)

// Map is a cache of K → V kept in Redis and shared by every process that
// opens a Map with the same client target and Prefix. Its LoadOrTryCompute
// runs the loader once per missing key across all of them (per lease: see
// the package documentation for the exact guarantee).
//
// All methods are safe for concurrent use by multiple goroutines. Every
// method that can touch the network takes a context and returns an error;
// none blocks past its context, and waits for another process's loader are
// bounded by that loader's lease. A Map must not be copied after first use.
// It is not usable as a zero value: create it with [New], and call
// [Map.Close] to stop its background goroutines (one notification reader,
// plus one lease renewer per loader running).
type Map[K comparable, V any] struct {
	client   redis.UniversalClient
	cfg      config[K, V]
	channel  string
	tagStart string // entryTagStart(prefix)
	fenceTTL time.Duration

	// flights deduplicates concurrent misses of one key in this process:
	// the goroutines that miss it together (single calls and batches) share
	// one fetch from Redis, and at most one loader call (flights.go).
	flights safemap.Map[string, *flight[V]]

	near   *nearCache[V] // nil without a near cache
	notify *notifier
	clock  *serverClock // the server's clock, for values' stored expiries
	stats  counters

	ctx    context.Context // ends at Close
	cancel context.CancelFunc

	mu       sync.Mutex // orders wg.Add against Close
	isClosed bool
	closed   atomic.Bool
	wg       sync.WaitGroup

	// refreshing holds the in-process state of keys being refreshed, or
	// told by the server not to be refreshed yet (see refresh.go).
	refreshing safemap.Map[string, int64]

	testWaiting    atomic.Pointer[func(name string)]                       // called when a waiter starts to wait (tests)
	testRefreshDue atomic.Pointer[func(age, ttl, load time.Duration) bool] // replaces RefreshAfter's rule (measurements)
}

// New returns a Map that keeps its entries in Redis through client, which
// may be a single-server client, a Sentinel failover client or a cluster
// client. New validates opts (the zero Options means every default) and
// returns an error naming each invalid field. It does no I/O itself; it
// starts the goroutine that subscribes to the Map's notification channel,
// which connects in the background (until it has, waiters rely on lease
// timers and the near cache stays empty). The client is not closed by
// [Map.Close].
func New[K comparable, V any](client redis.UniversalClient, opts Options[K, V]) (*Map[K, V], error) {
	if client == nil {
		return nil, errors.New("redismap: New with a nil client")
	}
	cfg, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	m := &Map[K, V]{
		client:   client,
		cfg:      cfg,
		channel:  cfg.prefix + ":events",
		tagStart: entryTagStart(cfg.prefix),
		fenceTTL: max(10*cfg.lease, time.Minute),
		clock:    newServerClock(client),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.notify = newNotifier(m.ctx, client, m.channel, &m.stats)
	if cfg.nearSize > 0 {
		m.near = newNearCache[V](cfg.nearSize, cfg.nearTTL, m.notify, &m.stats)
	}
	m.notify.setListener(m.changed, m.mayHaveChanged)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.notify.run()
	}()
	return m, nil
}

// changed handles a notification: the entry called name changed.
func (m *Map[K, V]) changed(name string) {
	if m.near != nil {
		m.near.invalidate(name)
	}
	m.forgetRefresh(name)
}

// mayHaveChanged handles a change of the subscription's state: messages
// may have been lost, so any entry may have changed.
func (m *Map[K, V]) mayHaveChanged() {
	if m.near != nil {
		m.near.flush()
	}
	if m.cfg.refreshAfter > 0 {
		m.refreshing.Clear()
	}
}

// Close stops the Map's background goroutines (the notification reader and
// any lease renewers) and waits for them to exit. Calls in progress end
// with ErrClosed where they wait; a loader already running is not
// interrupted, but its lease is no longer renewed. Every later call returns
// ErrClosed. Close does not close the client. It is safe to call more than
// once and always returns nil.
func (m *Map[K, V]) Close() error {
	m.mu.Lock()
	if m.isClosed {
		m.mu.Unlock()
		return nil
	}
	m.isClosed = true
	m.closed.Store(true)
	m.mu.Unlock()
	if m.near != nil {
		m.near.entries.Clear() // from here on, every call misses it and sees closed
	}
	m.cancel()
	m.notify.close()
	m.wg.Wait()
	if m.near != nil {
		m.near.close() // and a fill that raced with the first Clear
	}
	return nil
}

// Ready waits until the Map's notification subscription is up, or ctx
// ends (returning ctx.Err()), or the Map is closed (ErrClosed). Every
// method works before that; until then, a waiter wakes at the end of the
// holder's lease rather than at its commit, and the near cache stays
// empty. A process can call Ready before it takes traffic.
func (m *Map[K, V]) Ready(ctx context.Context) error {
	for {
		if m.closed.Load() {
			return ErrClosed
		}
		changed := m.notify.stateChanged()
		if m.notify.connected() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-m.ctx.Done():
			return ErrClosed
		}
	}
}

// goBackground runs f on a goroutine that Close waits for, unless the Map
// is closed; it reports whether f was started.
func (m *Map[K, V]) goBackground(f func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.isClosed {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
	return true
}

// Stats returns a snapshot of the Map's counters. It is safe to call
// concurrently with every other method, and after Close.
func (m *Map[K, V]) Stats() Stats { return m.stats.snapshot() }

// Load returns the value stored for key, or ok == false if there is none.
// Like the in-process maps' Load, it does not wait for a value being
// computed, and a negative entry or error marker reads as absent. With a
// near cache, a fresh near-cache entry is returned without a Redis call;
// otherwise Load makes one round trip: a GET (with a near cache on a
// cluster client, pipelined with a PTTL; see docs/redis.md). A stored
// value that does not decode is an error (*DecodeError), never a zero
// value.
func (m *Map[K, V]) Load(ctx context.Context, key K) (value V, ok bool, err error) {
	name, err := m.name(key)
	if err != nil {
		return value, false, err
	}
	// Close empties the near cache, so a closed Map misses here and
	// returns ErrClosed below.
	if m.near != nil {
		if v, _, ok := m.near.get(name); ok {
			m.stats.nearHits.add(1)
			return v, true, nil
		}
	}
	return m.loadSlow(ctx, name)
}

// loadSlow is Load's Redis round trip (outlined so that the near-cache hit
// path stays small).
func (m *Map[K, V]) loadSlow(ctx context.Context, name string) (value V, ok bool, err error) {
	if m.closed.Load() {
		return value, false, ErrClosed
	}
	keys := m.keys(name)
	p := m.near.reserve(name)
	sent := monotime()
	entry, pttl, err := m.read(ctx, keys, p != nil)
	if err != nil {
		m.near.abandon(name, p)
		if err == redis.Nil {
			m.stats.misses.Add(1)
			return value, false, nil
		}
		return value, false, opError("load", name, err)
	}
	v, meta, kind, err := m.decodeEntry(name, entry)
	if err != nil || kind != kindValue {
		m.near.abandon(name, p)
		var shared *SharedError
		if errors.As(err, &shared) || kind == kindNegative {
			// Markers read as absence: Load does not load.
			m.stats.misses.Add(1)
			return value, false, nil
		}
		return value, false, err
	}
	m.near.fill(name, p, v, sent, pttl, m.refreshIn(meta, pttl))
	m.stats.remoteHits.add(1)
	return v, true, nil
}

// read reads an entry with one GET. With withTTL (the near cache or
// refresh needs the value's remaining TTL), it also returns pttl, the
// value's remaining TTL in milliseconds as of the request (-1: no expiry
// or not needed; -2: gone by the time it was read), at the least. An absent
// entry is redis.Nil.
//
// A value stored by this version carries its expiry in server time
// (entry.lua), which the Map's estimate of the server's clock turns into
// a remaining TTL (serverclock.go): the read is then a plain GET, with a
// TIME pipelined once per clockEstimateLife. Without a usable estimate (a
// cluster client), the GET is pipelined with a PTTL; a value of an older
// form, which carries no expiry, costs a PTTL after the GET.
//
// The GET and the PTTL are not atomic, which the near cache allows: a
// write between them publishes a message that drops the entry (the
// placeholder was made before the GET was sent), and an expiry between
// them reads as -2, which is not cached.
func (m *Map[K, V]) read(ctx context.Context, keys entryKeys, withTTL bool) (entry string, pttl int64, err error) {
	if !withTTL {
		entry, err = m.client.Get(ctx, keys.value).Result()
		return entry, -1, err
	}
	if !m.clock.usable.Load() {
		return m.readWithPTTL(ctx, keys)
	}
	sent := monotime()
	state := m.notify.state.Load()
	est := m.clock.current(state, sent)
	if est == nil {
		entry, est, err = m.readAndMeasure(ctx, keys, sent, state)
	} else {
		entry, err = m.client.Get(ctx, keys.value).Result()
	}
	if err != nil {
		return "", 0, err
	}
	var kind byte
	if entry != "" {
		kind = entry[0]
	}
	switch kind {
	case kindExpiringValue:
		at, ok := storedExpiry(entry)
		if !ok {
			return entry, -2, nil // it does not decode: nothing is cached
		}
		if est != nil {
			return entry, est.remaining(at, sent), nil
		}
	case kindTimedValue, kindValue:
	default:
		return entry, -1, nil // a negative entry or an error marker: never cached
	}
	// A value that carries no expiry, or a server that refused TIME.
	d, err := m.client.PTTL(ctx, keys.value).Result()
	if err != nil {
		return "", 0, err
	}
	return entry, pttlMillis(d), nil
}

// readAndMeasure reads an entry with a GET pipelined with a TIME, sent at
// monotime sent in notifier state state, and returns the new estimate of
// the server's clock (nil if the server refused TIME: the Map then reads
// with PTTL from now on). A server clock that turns out to have jumped
// ahead flushes the near cache.
func (m *Map[K, V]) readAndMeasure(ctx context.Context, keys entryKeys, sent int64, state uint64) (entry string, est *clockEstimate, err error) {
	var get *redis.StringCmd
	var now *redis.TimeCmd
	_, _ = m.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, keys.value)
		now = p.Time(ctx)
		return nil
	})
	received := monotime()
	switch t, err := now.Result(); {
	case err == nil:
		var jumped bool
		est, jumped = m.clock.measured(t.UnixNano(), sent, received, state)
		if jumped && m.near != nil {
			m.near.flush()
		}
	case refusedTIME(err):
		m.clock.usable.Store(false)
	}
	if entry, err = get.Result(); err != nil {
		return "", nil, err
	}
	return entry, est, nil
}

// readWithPTTL reads an entry with a GET pipelined with a PTTL.
func (m *Map[K, V]) readWithPTTL(ctx context.Context, keys entryKeys) (entry string, pttl int64, err error) {
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	_, err = m.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, keys.value)
		ttl = p.PTTL(ctx, keys.value)
		return nil
	})
	if err != nil && err != redis.Nil {
		return "", 0, err
	}
	if entry, err = get.Result(); err != nil {
		return "", 0, err
	}
	d, err := ttl.Result()
	if err != nil {
		return "", 0, err
	}
	return entry, pttlMillis(d), nil
}

// pttlMillis converts go-redis's answer to a PTTL into milliseconds,
// keeping Redis's -1 (no expiry) and -2 (no key).
func pttlMillis(d time.Duration) int64 {
	if d < 0 {
		return int64(d) // -1 or -2, as Redis said
	}
	return d.Milliseconds()
}

// Store sets the value for key, with the Map's TTL (less jitter), in one
// round trip. It issues a new fencing token for the key, so a loader in
// flight for the key (in any process) cannot overwrite the stored value:
// its commit fails with ErrFenced. Near caches in every process drop the
// key. A value that does not encode or is too large stores nothing and
// returns an error wrapping ErrEncode or ErrValueTooLarge.
func (m *Map[K, V]) Store(ctx context.Context, key K, value V) error {
	if m.closed.Load() {
		return ErrClosed
	}
	name, err := m.name(key)
	if err != nil {
		return err
	}
	ttl := m.jittered(m.cfg.ttl)
	payload, err := m.encodeValue(name, value, ttl, 0)
	if err != nil {
		return err
	}
	if m.near != nil {
		m.near.localWrite(name)
	}
	err = runStore(ctx, m.client, m.keys(name), payload, ms(ttl), ms(m.fenceTTL), m.channel, name)
	if m.near != nil {
		m.near.localWrite(name)
	}
	if err != nil {
		return opError("store", name, err)
	}
	return nil
}

// Delete removes key's value (or its negative entry or error marker) in one
// round trip. Like Store, it issues a new fencing token, so a loader in
// flight for the key, whose value may predate the deletion, cannot store
// it (ErrFenced); near caches in every process drop the key.
func (m *Map[K, V]) Delete(ctx context.Context, key K) error {
	if m.closed.Load() {
		return ErrClosed
	}
	name, err := m.name(key)
	if err != nil {
		return err
	}
	if m.near != nil {
		m.near.localWrite(name)
	}
	err = runDelete(ctx, m.client, m.keys(name), ms(m.fenceTTL), m.channel, name)
	if m.near != nil {
		m.near.localWrite(name)
	}
	if err != nil {
		return opError("delete", name, err)
	}
	return nil
}

// KeyNames returns the names of the Redis keys that hold key's entry: its
// value (or negative entry or error marker), its lease and its fence
// counter. All three share one hash tag, so they live in one cluster slot;
// so does the entry's fourth key, which exists only after a failed refresh
// (the value key's name with ":r" for ":v"). It does no I/O.
func (m *Map[K, V]) KeyNames(key K) (value, lease, fence string, err error) {
	name, err := m.name(key)
	if err != nil {
		return "", "", "", err
	}
	k := m.keys(name)
	return k.value, k.lease, k.fence, nil
}

// name encodes key.
func (m *Map[K, V]) name(key K) (string, error) {
	name, err := m.cfg.key(key)
	if err != nil {
		return "", fmt.Errorf("redismap: key %v: %w: %w", key, ErrInvalidKey, err)
	}
	return name, nil
}

// keys returns the names of an entry's keys: tagStart + name + "}"
// followed by ":v", ":l", ":f" or ":r" (see entryTagStart for why this
// cannot collide). The hash tag is never empty, since the prefix is not,
// and it is the same for the four keys even if the name contains '}'.
func (m *Map[K, V]) keys(name string) entryKeys {
	tag := m.tagStart + name + "}"
	return entryKeys{value: tag + ":v", lease: tag + ":l", fence: tag + ":f", refresh: tag + ":r"}
}

// entryTagStart returns what every entry's key starts with: "{", the
// prefix's length in bytes, ":", the prefix and ":". The length makes the
// encoding of (prefix, name) unambiguous: read it, take that many bytes as
// the prefix, and the rest up to the key's last "}:" is the name. Without
// it, prefix "P" with name "sub:1" and prefix "P:sub" with name "1" were
// one entry.
func entryTagStart(prefix string) string {
	return "{" + strconv.Itoa(len(prefix)) + ":" + prefix + ":"
}

// encodeValue returns the stored form of value, to be stored for ttl,
// from a loader that took load (0 for a Store).
func (m *Map[K, V]) encodeValue(name string, value V, ttl, load time.Duration) (string, error) {
	b, err := m.cfg.codec.Encode(value)
	if err != nil {
		return "", fmt.Errorf("redismap: key %q: %w: %w", name, ErrEncode, err)
	}
	if len(b) > m.cfg.maxValueSize {
		return "", fmt.Errorf("redismap: key %q: value encodes to %d bytes, over MaxValueSize %d: %w", name, len(b), m.cfg.maxValueSize, ErrValueTooLarge)
	}
	return expiringValueHeader(ttl, load) + string(b), nil
}

// decodeEntry decodes a stored entry: a value (kind kindValue, whichever
// form it was stored in, with its metadata if it has some), a negative
// entry (kind kindNegative, no error) or an error marker (a *SharedError).
func (m *Map[K, V]) decodeEntry(name, entry string) (value V, meta valueMeta, kind byte, err error) {
	if entry == "" {
		m.stats.decodeErrors.Add(1)
		return value, meta, 0, &DecodeError{Key: name, Err: errors.New("empty entry")}
	}
	switch kind = entry[0]; kind {
	case kindExpiringValue, kindTimedValue, kindValue:
		data := entry[1:]
		if kind != kindValue {
			if meta, data, err = parseValueHeader(kind, data); err != nil {
				m.stats.decodeErrors.Add(1)
				return value, meta, kindValue, &DecodeError{Key: name, Err: err}
			}
		}
		value, err = m.cfg.codec.Decode([]byte(data))
		if err != nil {
			m.stats.decodeErrors.Add(1)
			return value, meta, kindValue, &DecodeError{Key: name, Err: err}
		}
		return value, meta, kindValue, nil
	case kindNegative:
		return value, meta, kind, nil
	case kindError:
		err = decodeErrorMarker(m.cfg.sharedErrors, name, entry[1:])
		var de *DecodeError
		if errors.As(err, &de) {
			m.stats.decodeErrors.Add(1)
		}
		return value, meta, kind, err
	}
	m.stats.decodeErrors.Add(1)
	return value, meta, kind, &DecodeError{Key: name, Err: fmt.Errorf("unknown entry kind %q (not written by this version of redismap?)", kind)}
}

// jittered returns d less a random jitter in [0, TTLJitter·d/TTL].
func (m *Map[K, V]) jittered(d time.Duration) time.Duration {
	j := m.cfg.jitter
	if d != m.cfg.ttl && m.cfg.ttl > 0 {
		j = time.Duration(float64(j) * float64(d) / float64(m.cfg.ttl))
	}
	if j <= 0 {
		return d
	}
	return d - time.Duration(rand.Int64N(int64(j)+1))
}

// ms formats d in whole milliseconds for a script argument, at least 1.
func ms(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
}
