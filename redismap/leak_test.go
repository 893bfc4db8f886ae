package redismap_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/safemap-go/safemap/redismap"
)

// ourGoroutines returns the stacks of goroutines running this package's
// code (the tests' own goroutines are in redismap_test).
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "safemap/redismap.") {
			ours = append(ours, g)
		}
	}
	return ours
}

// Not parallel: it runs before the parallel tests, alone, so any goroutine
// of the package it finds is a leak.
func TestClose_StopsEveryBackgroundGoroutine(t *testing.T) {
	srv := shared(t)
	opts := redismap.Options[string, string]{
		Prefix: prefix(t), Lease: 30 * time.Millisecond, NearCache: redismap.NearCacheOptions{Size: 10},
	}
	m, err := redismap.New(srv.client(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	waitConnected(t, m)
	ctx, cancelLoader := context.WithCancel(testContext(t))
	defer cancelLoader()
	// A loader running long enough to be renewed, while Close runs.
	renewing := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, _, err := m.LoadOrTryCompute(ctx, "k", func(ctx context.Context) (string, error) {
			for m.Stats().Renewals == 0 {
				time.Sleep(time.Millisecond) // polling the renewer's counter
			}
			close(renewing)
			<-ctx.Done()
			return "", ctx.Err()
		})
		done <- err
	}()
	receive(t, renewing, "a renewal")
	if len(ourGoroutines()) == 0 {
		t.Fatal("found none of the Map's goroutines before Close; the leak check would see nothing")
	}
	m.Close()
	// The loader's ctx belongs to its caller: Close does not cancel it, but
	// its renewer has stopped.
	// The loader's own goroutine is still in LoadOrTryCompute.
	if left := settle(1); len(left) > 1 {
		t.Fatalf("%d of the package's goroutines are left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	// End the loader: then nothing of the package may be left at all.
	cancelLoader()
	if err := receive(t, done, "the loader's caller"); err != context.Canceled {
		t.Errorf("the loader's caller got %v; want context.Canceled", err)
	}
	if left := settle(0); len(left) > 0 {
		t.Fatalf("%d of the package's goroutines are left:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// settle waits (bounded) until at most n of the package's goroutines are
// left, and returns their stacks.
func settle(n int) []string {
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) { // goroutines exit asynchronously
		if left = ourGoroutines(); len(left) <= n || time.Now().After(deadline) {
			return left
		}
	}
}
