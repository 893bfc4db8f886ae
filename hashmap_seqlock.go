package safemap

import (
	"runtime"
	"time"
)

// This file holds the lock and the sequence word of a bucket chain, which
// let readers run without locks while writers change the chain in place.
//
// The lock, L, is a bit of the chain's tags word (metaLocked, in the
// head's meta): the word that says which slots of the root are empty,
// entries or reservations. A writer takes it with a compare-and-swap on
// that word; so a compare-and-swap on the word that expects L clear fails
// if any writer took the chain since the word was read, even one that has
// changed nothing yet. That is what lets a LoadOrCompute land without the
// lock (landFast, hashmap_flights.go). L may be held across Compute's
// function; readers ignore it.
//
// The sequence word, seq, in the same head:
//
//   - D (dirty) is set for the few instructions during which the holder of
//     L changes slots, meta or next. Readers retry while it is set or if
//     seq changed while they read.
//   - M (moved) is set, for good, when a resize or Clear has moved the
//     chain to the table at next: readers and writers go there.
//   - n counts modifications, in steps of seqStep.
//
// Readers copy a candidate slot, then check that seq is unchanged before
// they use the copy, so a torn copy (a string header from two writes, say)
// is never dereferenced or returned. Every word of a torn copy is a word
// that some writer stored, so the garbage collector only ever sees valid
// pointers. Under the race detector, which cannot reason about such reads,
// readers take D themselves instead (raceEnabled, hashmap_race.go).

const (
	seqDirty uint64 = 1 << iota // D
	seqMoved                    // M
	seqStep                     // one modification
)

// backoff waits a little before attempt number n is retried: a short spin
// first, since the other side holds the word for a few instructions, then
// yields so a preempted holder can run.
func backoff(n int) {
	if n >= 16 {
		runtime.Gosched()
	}
}

// lock takes L. The holder may change the chain only between beginWrite
// and endWrite.
func (b *head) lock() {
	for n := 0; ; n++ {
		if b.tryLockOnce() {
			return
		}
		lockBackoff(n)
	}
}

// tryLockOnce takes L if it is free.
func (b *head) tryLockOnce() bool {
	m := b.meta.Load()
	return m&metaLocked == 0 && b.meta.CompareAndSwap(m, m|metaLocked)
}

// tryLock takes L unless it stays held through a short spin. A resize uses
// it to pass over a busy chain and come back to it later.
func (b *head) tryLock() bool {
	for n := 0; n < lockSpins; n++ {
		if b.tryLockOnce() {
			return true
		}
	}
	return false
}

const (
	lockSpins  = 16 // attempts before a waiting writer yields
	lockYields = 16 // yields before it sleeps
)

// lockBackoff waits before attempt number n to take a chain lock: a spin
// first, since L is usually held for a few stores, then yields, then
// sleeps of growing length (up to about 0.1 ms). A holder that stays longer
// is running a Compute function or, more often on a loaded machine, its
// thread was descheduled by the operating system: yielding forever would
// keep this thread on the processor that the holder's thread is waiting
// for, while sleeping gives it up.
func lockBackoff(n int) {
	switch {
	case n < lockSpins:
	case n < lockSpins+lockYields:
		runtime.Gosched()
	default:
		time.Sleep(time.Microsecond << min(n-lockSpins-lockYields, 7))
	}
}

// unlock releases L.
func (b *head) unlock() {
	b.meta.And(^uint64(metaLocked))
}

// beginWrite sets D; the caller holds L.
func (b *head) beginWrite() {
	if !raceEnabled {
		// Only the holder of L writes seq, so a store suffices. The store is
		// sequentially consistent: it is visible before the stores that
		// follow it.
		b.seq.Store(b.seq.Load() | seqDirty)
		return
	}
	b.acquireDirty()
}

// endWrite clears D and counts the modification; the caller holds L. The
// store publishes the slot, meta and next stores before it.
func (b *head) endWrite() {
	b.seq.Store((b.seq.Load() &^ seqDirty) + seqStep)
}

// markMoved sets M; the caller holds L and has copied the chain to the next
// table. The store publishes that copy to whoever sees M.
func (b *head) markMoved() {
	b.beginWrite()
	b.meta.Store(b.meta.Load() | metaMoved)
	b.seq.Store(((b.seq.Load() &^ seqDirty) | seqMoved) + seqStep)
}

// acquireDirty takes D with a compare-and-swap: readers under the race
// detector, and writers in race builds, who share D with those readers.
func (b *head) acquireDirty() uint64 {
	for n := 0; ; n++ {
		if s := b.seq.Load(); s&seqDirty == 0 && b.seq.CompareAndSwap(s, s|seqDirty) {
			return s
		}
		backoff(n)
	}
}

// releaseDirty clears D without counting a modification (race-build
// readers).
func (b *head) releaseDirty() {
	b.seq.And(^seqDirty)
}

// readResult says how a read of one chain went.
type readResult uint8

const (
	readOK    readResult = iota // the result is consistent
	readRetry                   // a writer changed the chain: read again
	readMoved                   // the chain is in the next table
)

// readBegin starts a read of the chain whose head is b and returns the seq
// value to validate against.
func (b *head) readBegin() (s uint64, r readResult) {
	if raceEnabled {
		s = b.acquireDirty()
	} else {
		s = b.seq.Load()
		if s&seqDirty != 0 {
			return s, readRetry
		}
	}
	if s&seqMoved != 0 {
		b.readEnd(s)
		return s, readMoved
	}
	return s, readOK
}

// readValid reports whether nothing changed the chain since readBegin
// returned s: the plain loads made since then saw one consistent state.
func (b *head) readValid(s uint64) bool {
	if raceEnabled {
		return true // we hold D: nobody can change the chain
	}
	loadFence()
	return b.seq.Load() == s
}

// readEnd ends a read begun by readBegin.
func (b *head) readEnd(uint64) {
	if raceEnabled {
		b.releaseDirty()
	}
}
