package redismap

import (
	"sync/atomic"
	"unsafe"
)

// Stats counts what a Map did since New. Each field is a counter that only
// grows; a snapshot taken while calls run may show some counters of a call
// and not others. The JSON names are stable.
type Stats struct {
	NearHits   int64 `json:"near_hits"`   // values served from the near cache, no Redis call
	RemoteHits int64 `json:"remote_hits"` // values read from Redis (Load or LoadOrTryCompute)
	Misses     int64 `json:"misses"`      // Loads that found no value (absent, negative or error marker)

	Loads        int64 `json:"loads"`         // loader calls: this process held the lease and called fn (refreshes included)
	LoaderErrors int64 `json:"loader_errors"` // loader calls that returned an error (stored as a marker)
	Waits        int64 `json:"waits"`         // times a caller began to wait for another process's lease
	WakeUps      int64 `json:"wake_ups"`      // waits ended by a notification (the rest by the lease timer or the caller's ctx)
	Takeovers    int64 `json:"takeovers"`     // leases taken after the previous holder's ended with nothing stored
	Renewals     int64 `json:"renewals"`      // lease renewals sent
	Releases     int64 `json:"releases"`      // leases given up with nothing stored (panic, caller's ctx ended)

	Commits       int64 `json:"commits"`        // entries stored by a loader's commit
	FencedCommits int64 `json:"fenced_commits"` // commits rejected: a newer token was issued (ErrFenced)
	LostCommits   int64 `json:"lost_commits"`   // commits that found the fence gone (ErrLeaseLost)
	CommitErrors  int64 `json:"commit_errors"`  // commits whose request failed (Redis unreachable, a failover): outcome unknown

	Refreshes     int64 `json:"refreshes"`      // refresh loader calls (RefreshAfter): this process held the lease to reload a value
	RefreshErrors int64 `json:"refresh_errors"` // refreshes that failed (an error, a panic, a value that does not encode): the value was kept
	RefreshPanics int64 `json:"refresh_panics"` // refresh loaders that panicked (also counted in RefreshErrors)

	SharedErrors  int64 `json:"shared_errors"`  // error markers returned to a caller as a *SharedError
	NegativeHits  int64 `json:"negative_hits"`  // cached ErrNotFound answers returned to a caller
	DecodeErrors  int64 `json:"decode_errors"`  // stored values that did not decode
	Notifications int64 `json:"notifications"`  // messages received on the notification channel, counted once handled
	Disconnects   int64 `json:"disconnects"`    // times the notification subscription was lost
	NearFlushes   int64 `json:"near_flushes"`   // times the near cache was emptied (subscription lost or regained, or the server's clock found to have jumped ahead)
	NearEvictions int64 `json:"near_evictions"` // near-cache entries dropped to stay within NearCache.Size
}

// counters is the live form of Stats. The hit counters, bumped on every
// hit, are striped so that parallel hits do not contend for one line.
type counters struct {
	nearHits, remoteHits stripedCounter

	misses, loads, loaderErrors, waits, wakeUps, takeovers, renewals, releases,
	commits, fencedCommits, lostCommits, commitErrors, refreshes, refreshErrors, refreshPanics, sharedErrors, negativeHits, decodeErrors,
	notifications, disconnects, nearFlushes, nearEvictions atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		NearHits:      c.nearHits.sum(),
		RemoteHits:    c.remoteHits.sum(),
		Misses:        c.misses.Load(),
		Loads:         c.loads.Load(),
		LoaderErrors:  c.loaderErrors.Load(),
		Waits:         c.waits.Load(),
		WakeUps:       c.wakeUps.Load(),
		Takeovers:     c.takeovers.Load(),
		Renewals:      c.renewals.Load(),
		Releases:      c.releases.Load(),
		Commits:       c.commits.Load(),
		FencedCommits: c.fencedCommits.Load(),
		LostCommits:   c.lostCommits.Load(),
		CommitErrors:  c.commitErrors.Load(),
		Refreshes:     c.refreshes.Load(),
		RefreshErrors: c.refreshErrors.Load(),
		RefreshPanics: c.refreshPanics.Load(),
		SharedErrors:  c.sharedErrors.Load(),
		NegativeHits:  c.negativeHits.Load(),
		DecodeErrors:  c.decodeErrors.Load(),
		Notifications: c.notifications.Load(),
		Disconnects:   c.disconnects.Load(),
		NearFlushes:   c.nearFlushes.Load(),
		NearEvictions: c.nearEvictions.Load(),
	}
}

// stripedCounter spreads its count over cache-line-sized cells, so that
// goroutines on different cores rarely share a line.
//
// It is the root package's counter (counter.go) with the stripe picked
// another way, for the reason that decides the pick in both: the stripe
// comes from the cheapest source that still spreads goroutines running at
// once over different stripes. Measured (BENCHMARKS.md, "Redis tier"), the
// address of a local variable is that source: an add that picks by it runs
// about a ninth of the instructions of one that picks by rand.Uint32,
// which counter.go's comment takes to be the cheaper. This package cannot
// use the root's counter (it is unexported), so it keeps its own, with 16
// fixed stripes where the root sizes them by GOMAXPROCS.
type stripedCounter struct {
	_     [64]byte // keep cell 0 off the line of whatever precedes the counter
	cells [16]struct {
		n atomic.Int64
		_ [56]byte // one cell per 64-byte cache line
	}
}

func (c *stripedCounter) add(n int64) {
	// Goroutines have stacks of their own, so goroutines running at once
	// on different cores mostly pick different cells, for two instructions.
	var local byte
	// Safety: the address is only hashed, never dereferenced; the pointer
	// does not escape.
	i := uintptr(unsafe.Pointer(&local)) >> 12 // stacks are at least 2 KiB apart; a page per stripe
	c.cells[i%uintptr(len(c.cells))].n.Add(n)
}

func (c *stripedCounter) sum() int64 {
	var s int64
	for i := range c.cells {
		s += c.cells[i].n.Load()
	}
	return s
}
