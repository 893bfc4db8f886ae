package safemapotel

// Waiting returns the number of callers registered as waiting for key, and
// the number of keys with an in-flight record, for tests to synchronise
// with.
func (t *Traced[K, V]) Waiting(key K) (waiters, records int) {
	s := t.flights.shard(key)
	s.mu.Lock()
	if f := s.m[key]; f != nil {
		waiters = len(f.waiters)
	}
	s.mu.Unlock()
	return waiters, t.flights.len()
}
