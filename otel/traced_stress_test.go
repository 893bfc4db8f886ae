package safemapotel_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/safemap-go/safemap"
	"go.opentelemetry.io/otel/trace"
)

// TestTraced_UnderContention_EveryLoadIsOneSpanAndEveryLinkIsACaller runs
// many goroutines with spans over a few keys that are deleted again and
// again, so that loads, waiters and hits interleave, and checks: one load
// span per loader call, each waiter link names a caller's span (never the
// loader's own caller), and no in-flight record is left.
func TestTraced_UnderContention_EveryLoadIsOneSpanAndEveryLinkIsACaller(t *testing.T) {
	tp, rec := newTracerProvider(t)
	m := safemap.New[int, int]()
	p := safemap.NewProfile[int, int](m)
	tm := tracedMap[int, int](t, p, tp)
	tracer := tp.Tracer("test")

	goroutines, rounds := 2*runtime.GOMAXPROCS(0)+2, 300
	if testing.Short() {
		rounds = 50
	}
	const keys = 4
	var mu sync.Mutex
	callers := map[trace.SpanID]bool{}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				ctx, span := tracer.Start(context.Background(), fmt.Sprintf("caller %d/%d", g, i))
				mu.Lock()
				callers[span.SpanContext().SpanID()] = true
				mu.Unlock()
				k := (g + i) % keys
				tm.LoadOrTryCompute(ctx, k, func(context.Context) (int, error) {
					runtime.Gosched() // let others miss the key meanwhile
					return k, nil
				})
				if i%3 == 0 {
					m.Delete(k)
				}
				span.End()
			}
		}()
	}
	wg.Wait()

	spans := loadSpans(rec)
	if got, want := int64(len(spans)), p.Stats().Computes; got != want {
		t.Errorf("%d load spans; want one per loader call, %d", got, want)
	}
	links := 0
	for _, s := range spans {
		for _, sc := range linksOf(s, "waiter") {
			links++
			if !callers[sc.SpanID()] {
				t.Errorf("a load links to %v, which is no caller's span", sc.SpanID())
			}
			if sc.SpanID() == s.Parent().SpanID() {
				t.Errorf("a load links to the caller that ran it as a waiter")
			}
		}
	}
	if _, records := tm.Waiting(0); records != 0 {
		t.Errorf("%d in-flight records left; want 0", records)
	}
	t.Logf("%d loads, %d waiter links, %d waiters counted by the Profile", len(spans), links, p.Stats().Waiters)
}
