package redismap

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Notifications. Every script that changes an entry (commit, release,
// store, delete) publishes the entry's name on the Map's channel, Prefix +
// ":events", from inside the script, so the message leaves with the change.
// Each Map holds one subscription to that channel, on a connection of its
// own, read by one goroutine (run). A message wakes this process's waiter
// on the entry, if any, and drops the entry from the near cache.
//
// Pub/sub delivers at most once: a message published while the connection
// is down is lost. So the subscription's state is tracked. While it is
// down, waiters rely on their timers (set at the lease's remaining time)
// and the near cache is empty and takes no entries; when it comes back,
// the near cache is flushed again and every waiter re-reads its entry.

const (
	// healthInterval is how long the subscription may stay silent before a
	// PING checks it; with no answer for another interval it is declared
	// dead and replaced. A silent connection failure is therefore detected
	// within about 2 × healthInterval.
	healthInterval = time.Second

	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
)

// notifier owns a Map's subscription and its waiters.
type notifier struct {
	client  redis.UniversalClient
	channel string
	ctx     context.Context // ends at Close

	// state is generation<<1 | connected. Every disconnect and every
	// reconnect starts a new generation, so a near-cache read that began in
	// one generation cannot fill the cache in another.
	state atomic.Uint64

	mu      sync.Mutex
	ps      *redis.PubSub // nil between a dead connection and its replacement
	closed  bool
	waiters map[string][]chan struct{}

	invalidate func(name string) // drops name from the near cache (may be nil)
	flush      func()            // empties the near cache (may be nil)
	stats      *counters
	changed    chan struct{} // closed and replaced at every state change (under mu)
}

// newNotifier returns the notifier of channel on client. Its run method
// reads the subscription until ctx ends (at Close) and close is called.
func newNotifier(ctx context.Context, client redis.UniversalClient, channel string, stats *counters) *notifier {
	return &notifier{client: client, channel: channel, ctx: ctx, stats: stats}
}

// setListener makes every message drop its entry from a near cache
// (invalidate) and every change of state empty it (flush). Call it before
// run starts.
func (n *notifier) setListener(invalidate func(name string), flush func()) {
	n.invalidate, n.flush = invalidate, flush
}

// stateChanged returns a channel closed at the next change of state.
func (n *notifier) stateChanged() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.changed == nil {
		n.changed = make(chan struct{})
	}
	return n.changed
}

func (n *notifier) connected() bool { return n.state.Load()&1 == 1 }

// watch registers interest in name's next notification. The returned
// channel is closed by the next message for name, or when the subscription
// comes back after a drop; stop unregisters it. Register before sending the
// request whose answer the wait depends on: a message published after the
// server ran that request then cannot be missed while the subscription is
// up.
func (n *notifier) watch(name string) (wake <-chan struct{}, stop func()) {
	ch := make(chan struct{})
	n.mu.Lock()
	if n.waiters == nil {
		n.waiters = make(map[string][]chan struct{})
	}
	n.waiters[name] = append(n.waiters[name], ch)
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		list := n.waiters[name]
		for i, c := range list {
			if c == ch {
				list[i] = list[len(list)-1]
				list = list[:len(list)-1]
				break
			}
		}
		if len(list) == 0 {
			delete(n.waiters, name)
		} else {
			n.waiters[name] = list
		}
		n.mu.Unlock()
	}
}

// deliver handles one message: the entry called name changed.
//
// The message is counted last, once the near cache has dropped the entry
// and its waiters are woken: a count that has moved past a message means
// that message has taken effect.
func (n *notifier) deliver(name string) {
	if n.invalidate != nil {
		n.invalidate(name)
	}
	n.mu.Lock()
	list := n.waiters[name]
	delete(n.waiters, name)
	n.mu.Unlock()
	for _, ch := range list {
		close(ch)
	}
	n.stats.notifications.Add(1)
}

// wakeAll wakes every waiter: messages may have been lost.
func (n *notifier) wakeAll() {
	n.mu.Lock()
	all := n.waiters
	n.waiters = nil
	n.mu.Unlock()
	for _, list := range all {
		for _, ch := range list {
			close(ch)
		}
	}
}

// setState moves to a new generation, connected or not.
func (n *notifier) setState(connected bool) {
	for {
		old := n.state.Load()
		next := (old>>1 + 1) << 1
		if connected {
			next |= 1
		}
		if n.state.CompareAndSwap(old, next) {
			break
		}
	}
	if n.flush != nil {
		n.flush()
	}
	n.mu.Lock()
	if n.changed != nil {
		close(n.changed)
		n.changed = nil
	}
	n.mu.Unlock()
}

// lost records that the subscription dropped (if it was up).
func (n *notifier) lost() {
	if !n.connected() {
		return
	}
	n.stats.disconnects.Add(1)
	n.setState(false)
}

// pubsub returns the current subscription, creating one if there is none,
// or nil after Close.
func (n *notifier) pubsub() *redis.PubSub {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	if n.ps == nil {
		// Subscribe dials now; if that fails, the next Receive dials again.
		n.ps = n.client.Subscribe(n.ctx, n.channel)
	}
	return n.ps
}

// discard closes ps and forgets it, so that the next pubsub call dials a
// new connection.
func (n *notifier) discard(ps *redis.PubSub) {
	n.mu.Lock()
	if n.ps == ps {
		n.ps = nil
	}
	n.mu.Unlock()
	_ = ps.Close()
}

// close stops run: it closes the subscription, unblocking its read. The
// caller has cancelled n.ctx.
func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	ps := n.ps
	n.ps = nil
	n.mu.Unlock()
	if ps != nil {
		_ = ps.Close()
	}
	n.wakeAll()
}

// run reads the subscription until Close.
func (n *notifier) run() {
	backoff := minBackoff
	pinged := false
	for n.ctx.Err() == nil {
		ps := n.pubsub()
		if ps == nil {
			return
		}
		msg, err := ps.ReceiveTimeout(n.ctx, healthInterval)
		if n.ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && n.connected() {
				if pinged {
					// No answer to the PING for a whole interval.
					n.lost()
					n.discard(ps)
					pinged = false
					continue
				}
				if ps.Ping(n.ctx) == nil {
					pinged = true
					continue
				}
			}
			// The connection failed (go-redis dials again on the next
			// Receive) or the server is unreachable: back off.
			n.lost()
			pinged = false
			if !n.sleep(backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == n.channel {
				// Subscribed (again): messages sent while we were not
				// may be lost, so start a new generation and re-check.
				n.setState(true)
				n.wakeAll()
			}
		case *redis.Message:
			n.deliver(m.Payload)
		}
	}
}

// sleep waits for d or Close, reporting whether the Map is still open.
func (n *notifier) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}
