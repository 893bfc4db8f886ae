package redismap

import "context"

// OnWait installs a hook called when a caller of m starts waiting for
// another holder's lease, so that tests synchronise without sleeping.
func OnWait[K comparable, V any](m *Map[K, V], hook func(name string)) {
	m.testWaiting.Store(&hook)
}

// WaitConnected waits until m's notification subscription is up (want true,
// as Ready does) or down (want false), or ctx ends.
func WaitConnected[K comparable, V any](ctx context.Context, m *Map[K, V], want bool) error {
	for {
		changed := m.notify.stateChanged()
		if m.notify.connected() == want {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
