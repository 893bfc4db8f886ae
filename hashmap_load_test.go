package safemap_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

// Tests of hashmap_load.go's optimistic reads: a Load (or a Range) never
// returns a value torn between two writes, nor an older value than one it
// saw before, while writers overwrite and the table resizes.

// tornCase describes values (and keys) that hold pointers and differ in
// length from one write to the next, derived from the key so that a reader
// can tell whether what it got was really stored for that key: a torn copy
// (a header from one write with a pointer from another) fails check, or
// crashes.
type tornCase[K comparable, V any] struct {
	key   func(i int) K
	value func(i, gen int) V
	check func(k K, v V) string // "" if v is value(i, gen) for the i of k and some gen
}

// runTornCase has writers overwrite, delete and re-insert a few hot keys
// with values of ever-changing length, and fill and empty their own ranges
// of other keys to make the table grow and shrink, while readers Load the
// hot keys and Range over everything, checking every key and value.
func runTornCase[K comparable, V any](t *testing.T, c tornCase[K, V]) {
	t.Helper()
	const (
		hot       = 64
		writers   = 3
		readers   = 2
		churnKeys = 400
	)
	ops := testkit.ShortOr(3000, 40000)
	f := testkit.NewFailures(t)
	defer f.Summarize()
	m := safemap.New[K, V]()
	for i := range hot {
		m.Store(c.key(i), c.value(i, 0))
	}
	checked := func(how string, k K, v V) {
		if msg := c.check(k, v); msg != "" {
			f.Errorf("%s yielded key %v with %v: %s", how, k, v, msg)
		}
	}
	var (
		writing, reading sync.WaitGroup
		stop             = make(chan struct{})
		loads, ranges    atomic.Int64
		budget           = newResizeBudget(rangeResizeLimit)
	)
	for r := range readers {
		reading.Add(1)
		go func() {
			defer reading.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 5))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if n%64 == 63 {
					budget.pass(func() {
						m.Range(func(k K, v V) bool { checked("Range", k, v); return true })
					})
					ranges.Add(1)
					continue
				}
				k := c.key(rng.IntN(hot))
				if v, ok := m.Load(k); ok {
					checked("Load", k, v)
				}
				loads.Add(1)
			}
		}()
	}
	for w := range writers {
		writing.Add(1)
		go func() {
			defer writing.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 6))
			churnBase := 1000 + w*churnKeys
			watch := newBucketWatch(m, budget)
			for n := range ops {
				if n%1000 == 999 {
					for i := churnBase; i < churnBase+churnKeys; i++ {
						m.Store(c.key(i), c.value(i, n))
						watch.note()
					}
					for i := churnBase; i < churnBase+churnKeys; i++ {
						m.Delete(c.key(i))
						watch.note()
					}
				}
				i := rng.IntN(hot)
				k, v := c.key(i), c.value(i, w*ops+n+1)
				switch rng.IntN(6) {
				case 0, 1:
					m.Store(k, v)
				case 2:
					if prev, loaded := m.Swap(k, v); loaded {
						checked("Swap", k, prev)
					}
				case 3:
					if prev, loaded := m.LoadAndDelete(k); loaded {
						checked("LoadAndDelete", k, prev)
					}
				case 4:
					m.Compute(k, func(old V, loaded bool) (V, safemap.ComputeOp) {
						if loaded {
							checked("Compute", k, old)
						}
						return v, safemap.UpdateOp
					})
				default:
					if actual, loaded := m.LoadOrStore(k, v); loaded {
						checked("LoadOrStore", k, actual)
					}
				}
			}
		}()
	}
	writing.Wait()
	close(stop)
	reading.Wait()
	t.Logf("%d Loads and %d Range passes checked", loads.Load(), ranges.Load())
}

// tornLetter is the filler byte of key i's values.
func tornLetter(i int) string { return string(rune('a' + i%26)) }

// checkRepeated returns "" if s is at least one copy of fill, and nothing
// else.
func checkRepeated(s, fill string) string {
	if s == "" || strings.Trim(s, fill) != "" {
		return fmt.Sprintf("filler %q; want one or more %q", s, fill)
	}
	return ""
}

// tornScale separates a key's part of a value from the write's: key*tornScale
// + generation stays within a 32-bit int for every key runTornCase writes
// (at most a few thousand), so the test means the same on 386.
const tornScale = 100_000

// tornPair is a value of several words that must stay consistent: all three
// fields come from the same write.
type tornPair struct {
	n int
	s string
	p *int
}

// TestMap_ValuesHoldingPointersAreNeverTornUnderConcurrentOverwrites stores
// values of pointer-holding types (strings and slices of ever-changing
// length, pointers, multi-word structs, interfaces of changing dynamic
// type) and string keys of different lengths, overwritten and deleted
// concurrently while the table resizes: every value a reader gets must be
// one stored for that key, whole.
func TestMap_ValuesHoldingPointersAreNeverTornUnderConcurrentOverwrites(t *testing.T) {
	t.Run("V=string", func(t *testing.T) {
		runTornCase(t, tornCase[int, string]{
			key: func(i int) int { return i },
			value: func(i, gen int) string {
				return strings.Repeat(tornLetter(i), 1+gen%48) + "#" + strconv.Itoa(i)
			},
			check: func(k int, v string) string {
				fill, suffix, ok := strings.Cut(v, "#")
				if !ok || suffix != strconv.Itoa(k) {
					return fmt.Sprintf("suffix %q; want %q", suffix, strconv.Itoa(k))
				}
				return checkRepeated(fill, tornLetter(k))
			},
		})
	})
	t.Run("V=[]byte", func(t *testing.T) {
		runTornCase(t, tornCase[int, []byte]{
			key: func(i int) int { return i },
			value: func(i, gen int) []byte {
				n := 1 + gen%48
				b := make([]byte, n+1)
				for j := range n {
					b[j] = byte(i)
				}
				b[n] = byte(n) // the length, to catch a header torn between writes
				return b
			},
			check: func(k int, v []byte) string {
				if len(v) < 2 || int(v[len(v)-1]) != len(v)-1 {
					return fmt.Sprintf("length %d; want a final byte holding the length before it", len(v))
				}
				for _, b := range v[:len(v)-1] {
					if b != byte(k) {
						return fmt.Sprintf("byte %d; want %d", b, byte(k))
					}
				}
				return ""
			},
		})
	})
	t.Run("V=*int", func(t *testing.T) {
		runTornCase(t, tornCase[int, *int]{
			key: func(i int) int { return i },
			value: func(i, gen int) *int {
				v := i*tornScale + gen%tornScale
				return &v
			},
			check: func(k int, v *int) string {
				if v == nil || *v/tornScale != k {
					return fmt.Sprintf("pointer to a value not stored for key %d", k)
				}
				return ""
			},
		})
	})
	t.Run("V=struct", func(t *testing.T) {
		runTornCase(t, tornCase[int, tornPair]{
			key: func(i int) int { return i },
			value: func(i, gen int) tornPair {
				n := i*tornScale + gen%tornScale
				p := n
				return tornPair{n: n, s: strconv.Itoa(n), p: &p}
			},
			check: func(k int, v tornPair) string {
				if v.n/tornScale != k || v.s != strconv.Itoa(v.n) || v.p == nil || *v.p != v.n {
					return fmt.Sprintf("fields from different writes, or a value not stored for key %d", k)
				}
				return ""
			},
		})
	})
	t.Run("V=any", func(t *testing.T) {
		runTornCase(t, tornCase[int, any]{
			key: func(i int) int { return i },
			value: func(i, gen int) any {
				switch gen % 3 {
				case 0:
					return strings.Repeat(tornLetter(i), 1+gen%40)
				case 1:
					return i*tornScale + gen%tornScale
				default:
					v := -i
					return &v
				}
			},
			check: func(k int, v any) string {
				switch v := v.(type) {
				case string:
					return checkRepeated(v, tornLetter(k))
				case int:
					if v/tornScale != k {
						return fmt.Sprintf("int not stored for key %d", k)
					}
				case *int:
					if v == nil || *v != -k {
						return fmt.Sprintf("*int not stored for key %d", k)
					}
				default:
					return fmt.Sprintf("dynamic type %T; want string, int or *int", v)
				}
				return ""
			},
		})
	})
	t.Run("K=string", func(t *testing.T) {
		key := func(i int) string { return strings.Repeat("~", i%11) + "k" + strconv.Itoa(i) }
		runTornCase(t, tornCase[string, string]{
			key: key,
			value: func(i, gen int) string {
				return key(i) + "=" + strings.Repeat("!", 1+gen%37)
			},
			check: func(k, v string) string {
				tildes, digits, ok := strings.Cut(k, "k")
				i, err := strconv.Atoi(digits)
				if !ok || err != nil || tildes != strings.Repeat("~", i%11) {
					return fmt.Sprintf("key %q was never stored", k)
				}
				prefix, fill, ok := strings.Cut(v, "=")
				if !ok || prefix != k {
					return fmt.Sprintf("value stored for key %q", prefix)
				}
				return checkRepeated(fill, "!")
			},
		})
	})
}

// TestMap_LoadNeverSeesAnOlderValueThanItSawBefore has one writer per key
// overwrite a few hot keys with increasing generations while the table
// resizes under churn, and readers check that, for each key, the
// generation they read never goes backwards: no read may be served from a
// stale copy of a chain left in an old table.
func TestMap_LoadNeverSeesAnOlderValueThanItSawBefore(t *testing.T) {
	const hot = 8
	writes := testkit.ShortOr(20000, 300000)
	f := testkit.NewFailures(t)
	defer f.Summarize()
	m := safemap.New[int64, int64]()
	var (
		writing, others sync.WaitGroup
		stop            = make(chan struct{})
		watchChanges    atomic.Int64
	)
	for r := range 2 {
		others.Add(1)
		go func() {
			defer others.Done()
			g := &genTracker{f: f, last: make(map[int64]uint32)}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := int64((n + r) % hot)
				if v, ok := m.Load(k); ok {
					g.see("Load", k, v)
				}
			}
		}()
	}
	others.Add(1)
	go func() { // churn: grow and shrink without pause
		defer others.Done()
		watch := newBucketWatch(m, nil)
		defer func() { watchChanges.Store(int64(watch.changes)) }()
		for {
			for k := int64(1 << 20); k < 1<<20+2000; k++ {
				m.Store(k, resizeValue(k, 1))
				watch.note()
			}
			for k := int64(1 << 20); k < 1<<20+2000; k++ {
				m.Delete(k)
				watch.note()
				if k%256 == 0 {
					select {
					case <-stop:
						return
					default:
					}
				}
			}
		}
	}()
	for w := range int64(hot) {
		writing.Add(1)
		go func() {
			defer writing.Done()
			for gen := uint32(1); gen <= uint32(writes/hot); gen++ {
				m.Store(w, resizeValue(w, gen))
				if gen%64 == 0 {
					runtime.Gosched() // let readers and the churner interleave on few CPUs
				}
			}
		}()
	}
	writing.Wait()
	close(stop)
	others.Wait()
	t.Logf("the table resized %d times during the writes", watchChanges.Load())
}

// TestMap_PackageTestsAlsoPassWithoutTheRaceDetector runs this package's
// tests and the cache's (whose entries live in a Map) again in a build
// without -race, with the go command. A race build's Load never takes the
// in-line fast path (the detector cannot reason about its optimistic
// reads; see hashmap_race.go), so without this, `go test -race`, the one
// command CI runs, would never check the code every hit executes: a fast
// path that skipped the sequence check passes every race-build test, and
// fails the torn-value tests here at once.
func TestMap_PackageTestsAlsoPassWithoutTheRaceDetector(t *testing.T) {
	if !safemap.RaceEnabled {
		t.Skip("this build runs the fast path in the tests themselves")
	}
	if testing.Short() {
		t.Skip("builds and runs two packages' tests again (-short)")
	}
	out := run(t, ".", nil, "test", "-race=false", "-count=1", ".", "./cache")
	for _, pkg := range []string{rootImportPath, rootImportPath + "/cache"} {
		if !strings.Contains(out, "ok  \t"+pkg+"\t") {
			t.Errorf("go test without -race did not report %s ok:\n%s", pkg, out)
		}
	}
}
