package safemap

import "iter"

// This file holds Map's iteration: Range and All, and how they keep their
// place when they cross a resize.

// Range calls fn for each entry until fn returns false. It copies one
// bucket chain at a time (a handful of entries) and calls fn with no lock
// held, so fn may call any method of the map. Each chain is seen at one
// instant, different chains at different instants: an entry written during
// Range may or may not be visited, an entry present throughout is visited,
// and no key is visited twice. If Range meets a chain that a resize has
// moved, it waits for that resize to finish and goes on in the new table.
func (m *Map[K, V]) Range(fn func(key K, value V) bool) {
	if fn == nil {
		panicNilFunc("Range")
	}
	t := m.table.Load()
	if t == nil {
		return
	}
	// Chains are visited in index order. When chain i of t turns out to
	// have moved, chains 0..i-1 of t have been visited, so Range goes on
	// through the whole next table, skipping the keys that lived in those
	// chains: each switch adds one such condition.
	var skip []rangeSkip
	var buf []slot[K, V]
	for {
		i, n := 0, len(t.buckets)
		for ; i < n; i++ {
			var moved bool
			if buf, moved = t.buckets[i].collect(&t.ovf, &t.heads[i], buf[:0]); moved {
				break
			}
			for _, e := range buf {
				if len(skip) > 0 && t.shared.skipped(e.key, uint64(i), t.mask, skip) {
					continue
				}
				if !fn(e.key, e.value) {
					return
				}
			}
		}
		if i == n {
			return
		}
		skip = append(skip, rangeSkip{mask: t.mask, below: uint64(i)})
		// The resize that moved chain i holds resizeMu from before it
		// moves anything until the next table is complete; waiting for it
		// means no chain of t is still to be copied.
		m.resizeMu.Lock()
		//lint:ignore SA2001 an empty critical section: waiting is the point
		m.resizeMu.Unlock()
		t = t.next.Load()
	}
}

// All returns an iterator over the entries with the guarantees of Range.
func (m *Map[K, V]) All() iter.Seq2[K, V] {
	return m.Range
}

// rangeSkip is one condition of Range: keys whose chain in a table of
// mask+1 buckets was below index below have been visited already.
type rangeSkip struct{ mask, below uint64 }

// skipped reports whether Range has visited key already, in a table it
// left, given that the key is in chain j of the table of mask+1 buckets it
// is reading now.
//
// Moves keep a key's chain index in its low bits (growing sends chain i to
// i or i+n, shrinking to i&mask'), so a key's chain in a table that was no
// larger than this one is j's low bits, whatever the key: that needs no
// hashing, which a NaN key could not use (it hashes differently on every
// call). Only a table that was larger, before a shrink, leaves it open:
// chain j then gathered several of its chains, and if Range had visited
// some of those but not all, the key is hashed. A NaN key in such a chain
// cannot be placed and counts as visited: Range keeps its promise of at
// most once, and may miss that entry.
func (sh *mapShared[K, V]) skipped(key K, j, mask uint64, skip []rangeSkip) bool {
	for _, c := range skip {
		if c.mask <= mask {
			if j&c.mask < c.below {
				return true
			}
			continue
		}
		// A larger table: chain j gathered its chains j, j+mask+1, ...
		switch {
		case j|(c.mask&^mask) < c.below:
			return true // all of them visited
		case j >= c.below:
			continue // none of them visited
		case !findable(key):
			return true // cannot be placed: see above
		case sh.hash(key)&c.mask < c.below:
			return true
		}
	}
	return false
}
