package redistest

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"
)

// Latencies is a histogram of durations in buckets about 1 % wide: small
// enough for a worker process to report as JSON after millions of calls,
// and mergeable, so that a harness adds up its workers' and reads
// quantiles of the whole. The zero value is empty and ready for use; it is
// not safe for concurrent use.
type Latencies struct {
	Buckets map[int]int64 `json:"buckets"` // bucket index → calls
	N       int64         `json:"n"`
	Max     time.Duration `json:"max"`
}

// bucketBase is the ratio of one bucket's upper bound to the previous one's.
const bucketBase = 1.01

func bucketOf(d time.Duration) int {
	if d <= 1 {
		return 0
	}
	return int(math.Log(float64(d)) / math.Log(bucketBase))
}

// bucketUpper returns the largest duration in bucket i.
func bucketUpper(i int) time.Duration {
	return time.Duration(math.Pow(bucketBase, float64(i+1)))
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	if l.Buckets == nil {
		l.Buckets = make(map[int]int64)
	}
	l.Buckets[bucketOf(d)]++
	l.N++
	l.Max = max(l.Max, d)
}

// Merge adds o's durations to l.
func (l *Latencies) Merge(o Latencies) {
	if l.Buckets == nil {
		l.Buckets = make(map[int]int64)
	}
	for i, n := range o.Buckets {
		l.Buckets[i] += n
	}
	l.N += o.N
	l.Max = max(l.Max, o.Max)
}

// Quantile returns the q-quantile (0 < q < 1) to within a bucket's width
// (the bucket's upper bound, never more than Max), or 0 if l is empty.
func (l *Latencies) Quantile(q float64) time.Duration {
	if l.N == 0 {
		return 0
	}
	idx := make([]int, 0, len(l.Buckets))
	for i := range l.Buckets {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	rank := int64(math.Ceil(q * float64(l.N)))
	var seen int64
	for _, i := range idx {
		if seen += l.Buckets[i]; seen >= rank {
			return min(bucketUpper(i), l.Max)
		}
	}
	return l.Max
}

// CountAbove returns how many durations were at least d, to within a
// bucket's width (a bucket counts if its upper bound is at least d).
func (l *Latencies) CountAbove(d time.Duration) int64 {
	var n int64
	for i, c := range l.Buckets {
		if bucketUpper(i) >= d {
			n += c
		}
	}
	return n
}

// ReadHotKey calls read from goroutines goroutines, each once per pace (or
// back to back if pace is 0), until d has passed or ctx ends, and returns
// the calls' latencies and how many returned an error. It is the reading
// side of the hot-key workload: every process of a service reading one key
// through its TTL periods.
func ReadHotKey(ctx context.Context, goroutines int, d, pace time.Duration, read func(context.Context) error) (lat Latencies, errs int64) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine Latencies
			var failed int64
			var tick <-chan time.Time
			if pace > 0 {
				t := time.NewTicker(pace)
				defer t.Stop()
				tick = t.C
			}
			for ctx.Err() == nil {
				begin := time.Now()
				if err := read(ctx); err != nil {
					if ctx.Err() != nil {
						break // the run ended during this call
					}
					failed++
				}
				mine.Add(time.Since(begin))
				if tick != nil {
					select {
					case <-tick:
					case <-ctx.Done():
					}
				}
			}
			mu.Lock()
			lat.Merge(mine)
			errs += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lat, errs
}
