package redismap

import (
	"context"
	"time"
)

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

// SetRefreshRule replaces RefreshAfter's rule for deciding that a value
// read is due for a refresh (the server still refuses values younger than
// RefreshAfter), so that a measurement can compare rules.
func SetRefreshRule[K comparable, V any](m *Map[K, V], due func(age, ttl, load time.Duration) bool) {
	m.testRefreshDue.Store(&due)
}
