// Package testkit holds the helpers that the tests of every package and
// module of this repository share: bounded waits that turn a deadlock into a
// failure with every goroutine's stack, panic capture, a failure collector
// for stress tests, and the sizes that -short shrinks.
//
// It imports only the standard library, and no package of this repository,
// so that the root package's internal tests (package safemap) may import it
// as well as its external ones. Every wait has one bound, Timeout (BulkTimeout
// for phases of bulk work); no helper sleeps: the bounds only detect a
// failure, and a passing test never waits for one to elapse.
package testkit

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Timeout bounds how long a test lets something run that must finish
// promptly: an operation on another key while a value function blocks, a
// waiter released by a panic, a result sent on a channel. It only detects a
// deadlock or a lost wake-up, so it is generous: a loaded machine running
// the race detector must not reach it.
const Timeout = 20 * time.Second

// BulkTimeout is Timeout for a phase that does a lot of work from many
// goroutines, which on a loaded machine under the race detector can take
// seconds before anything is wrong.
const BulkTimeout = 2 * time.Minute

// Within runs f on a new goroutine and fails the test, with every
// goroutine's stack, if f has not returned within Timeout: that is how a
// test detects a deadlock (a lock left held, a waiter never released). f
// must report problems with t.Error, not t.Fatal; a panic in f fails the
// test. Within itself must run on the test's goroutine.
func Within(t testing.TB, what string, f func()) {
	t.Helper()
	withinFor(t, Timeout, what, f)
}

// WithinBulk is Within for a phase of bulk work, bounded by BulkTimeout.
func WithinBulk(t testing.TB, what string, f func()) {
	t.Helper()
	withinFor(t, BulkTimeout, what, f)
}

func withinFor(t testing.TB, limit time.Duration, what string, f func()) {
	t.Helper()
	type result struct {
		panicked bool
		value    any
		stack    string
	}
	done := make(chan result, 1)
	go func() {
		normal := false
		defer func() {
			if normal {
				done <- result{}
				return
			}
			r := recover()
			done <- result{panicked: true, value: r, stack: stack(false)}
		}()
		f()
		normal = true
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.panicked {
			t.Fatalf("%s: unexpected panic: %v\n%s", what, r.value, r.stack)
		}
	case <-timer.C:
		t.Fatalf("%s: did not return within %v (deadlock?)\n%s", what, limit, AllStacks())
	}
}

// Receive returns the next value from ch, failing the test, with every
// goroutine's stack, if none comes within Timeout: a caller that is never
// released must fail the test, not hang it until go test's own timeout.
func Receive[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s: got nothing within %v (deadlock?)\n%s", what, Timeout, AllStacks())
		panic("unreachable")
	}
}

// WaitFor polls cond, yielding the processor between polls, until it
// holds, and fails the test if it does not within Timeout (the goroutine
// it waits for is stuck).
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s after %v\n%s", what, Timeout, AllStacks())
		}
		runtime.Gosched()
	}
}

// WaitUntilParked waits until at least n goroutines are parked (on a
// channel, a select, a condition variable or a WaitGroup) with frame on
// their stacks, and fails the test if that takes longer than Timeout.
//
// Tests use it to know that goroutines calling LoadOrCompute have become
// waiters of a computation (the computing caller's fn is parked on a
// channel the test controls) before the test makes that computation end.
// The maps offer no hook for this, and a sleep would only make it likely;
// the goroutine dump states it. Goroutines parked on a mutex are not
// counted: a waiter never waits on one, but a caller on its way to become a
// waiter may block on one for an instant; nor are goroutines that the
// runtime holds at its own semaphores (see semacquire).
func WaitUntilParked(t testing.TB, frame string, n int) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		got := countParked(frame)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d goroutines parked in %s; want %d within %v\n%s", got, frame, n, Timeout, AllStacks())
		}
		runtime.Gosched()
	}
}

// parkedStates are the wait reasons of goroutines that wait for another
// goroutine to act, as printed in a goroutine dump ("goroutine 7 [select]:").
var parkedStates = []string{"select", "chan receive", "chan send", "sync.Cond.Wait", "sync.WaitGroup.Wait"}

// semacquire is the wait reason of a WaitGroup wait before Go 1.25, and of
// a goroutine held at one of the runtime's own semaphores: one that starts
// a garbage collection (on an allocation) while another goroutine stops the
// world, as every goroutine dump does. The dump hides the runtime's frames,
// so such a goroutine looks parked in its caller's code: a caller on its way
// to become a waiter, counted as one, once let a test release the
// computation early under load. Only a goroutine whose innermost frame is in
// package sync waits on a semaphore for another goroutine.
const semacquire = "semacquire"

func countParked(frame string) int {
	count := 0
	for _, g := range strings.Split(AllStacks(), "\n\n") {
		header, frames, _ := strings.Cut(g, "\n")
		i := strings.IndexByte(header, '[')
		if i < 0 || !strings.Contains(frames, frame) {
			continue
		}
		state := header[i+1:]
		if strings.HasPrefix(state, semacquire) {
			if strings.HasPrefix(frames, "sync.") {
				count++
			}
			continue
		}
		for _, s := range parkedStates {
			if strings.HasPrefix(state, s) {
				count++
				break
			}
		}
	}
	return count
}

// AllStacks returns the stacks of every goroutine.
func AllStacks() string { return stack(true) }

func stack(all bool) string {
	buf := make([]byte, 16<<10)
	for {
		n := runtime.Stack(buf, all)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// CatchPanic calls f and reports whether it panicked, and with what value.
func CatchPanic(f func()) (value any, panicked bool) {
	normal := false
	defer func() {
		if !normal {
			value, panicked = recover(), true
		}
	}()
	f()
	normal = true
	return nil, false
}

// PanicMessage returns the text of a recovered panic value.
func PanicMessage(r any) string {
	switch v := r.(type) {
	case string:
		return v
	case error:
		return v.Error()
	}
	return fmt.Sprint(r)
}

// MustPanicWith calls f and fails the test unless f panics with a message
// that starts with prefix (a package's, such as "safemap: ") and contains
// every string of mention. It reports with t.Error, so it may run on any
// goroutine.
func MustPanicWith(t testing.TB, what string, f func(), prefix string, mention ...string) {
	t.Helper()
	r, panicked := CatchPanic(f)
	if !panicked {
		t.Errorf("%s: got no panic; want a panic starting %q", what, prefix)
		return
	}
	msg := PanicMessage(r)
	if !strings.HasPrefix(msg, prefix) {
		t.Errorf("%s: got panic %q; want a message starting %q", what, msg, prefix)
	}
	for _, s := range mention {
		if !strings.Contains(msg, s) {
			t.Errorf("%s: got panic %q; want a message mentioning %q", what, msg, s)
		}
	}
}

// ShortOr returns short under -short and long otherwise.
func ShortOr(short, long int) int {
	if testing.Short() {
		return short
	}
	return long
}

// Goroutines returns how many goroutines a stress test starts: four per P,
// and at least eight.
func Goroutines() int {
	return max(8, 4*runtime.GOMAXPROCS(0))
}

// Failures reports the first few failures of a stress test with t.Errorf
// and counts the rest, so that a broken map does not flood the log. It is
// safe for concurrent use; create it with NewFailures and call Summarize
// once the goroutines that report to it are done.
type Failures struct {
	t testing.TB
	n atomic.Int64
}

// maxReportedFailures is how many failures a Failures prints.
const maxReportedFailures = 10

// NewFailures returns a Failures that reports to t.
func NewFailures(t testing.TB) *Failures { return &Failures{t: t} }

// Errorf reports a failure, printing it if fewer than ten came before.
func (f *Failures) Errorf(format string, args ...any) {
	f.t.Helper()
	if f.n.Add(1) <= maxReportedFailures {
		f.t.Errorf(format, args...)
	}
}

// Failed reports whether any failure was reported.
func (f *Failures) Failed() bool { return f.n.Load() > 0 }

// Summarize reports how many failures were not printed.
func (f *Failures) Summarize() {
	f.t.Helper()
	if n := f.n.Load(); n > maxReportedFailures {
		f.t.Errorf("... and %d more failures like the ones above", n-maxReportedFailures)
	}
}
