package cache

import "fmt"

// CheckInvariants returns an error unless, with no write in flight, the
// cache's bookkeeping matches its map: every node in the map (but NaN
// keys') is held by the current generation of the policy and the wheel and
// is not retired, the policy holds exactly those nodes, every node with a
// deadline is in the wheel, and the hidden count is right.
func (c *Cache[K, V]) CheckInvariants() error {
	c.maint.Lock()
	defer c.maint.Unlock()
	var err error
	inMap, hidden := 0, 0
	c.m.Range(func(k K, n *node[K, V]) bool {
		if k != k || !c.maintained {
			return true
		}
		w := n.Word.Load()
		switch {
		case w&retiredBit != 0:
			err = fmt.Errorf("key %v: the map holds a retired node", k)
		case genOf(w) != c.gen:
			err = fmt.Errorf("key %v: node of generation %d; the cache is at %d", k, genOf(w), c.gen)
		case deadlineOf(w) != 0 && c.wheel != nil && n.wl.next == nil:
			err = fmt.Errorf("key %v: node with a deadline is not in the wheel", k)
		}
		if n.key != k {
			err = fmt.Errorf("key %v: node of key %v", k, n.key)
		}
		inMap++
		if w&hiddenBit != 0 {
			hidden++
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	if c.bounded && c.policy.Len() != inMap {
		return fmt.Errorf("the policy holds %d nodes; the map %d", c.policy.Len(), inMap)
	}
	if c.bounded && c.policy.Weight() > c.maxWeight {
		return fmt.Errorf("the policy holds weight %d over the bound %d", c.policy.Weight(), c.maxWeight)
	}
	if got := c.l19.hidden.Load(); c.maintained && got != int64(hidden) {
		return fmt.Errorf("hidden count %d; the map holds %d hidden nodes", got, hidden)
	}
	return nil
}

// Cleanup runs the background cleanup once, as the clock's ticker does.
func (c *Cache[K, V]) Cleanup() { c.cleanup() }

// ClockRunning reports whether the coarse clock's goroutine runs.
func ClockRunning() bool {
	coarse.mu.Lock()
	defer coarse.mu.Unlock()
	return coarse.running
}

// CoarseNow and AdvanceClock expose the coarse clock to the clock's tests.
func CoarseNow() int64 { return coarse.now.Load() }

// AdvanceClock is advanceClock.
func AdvanceClock(t int64) { advanceClock(t) }
