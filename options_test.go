package safemap_test

import (
	"fmt"
	"testing"

	"github.com/safemap-go/safemap"
	"github.com/safemap-go/safemap/internal/testkit"
)

func TestOptions_BadValuesPanicInConstructor(t *testing.T) {
	testkit.MustPanicWith(t, "NewRWMap[int, int](safemap.WithCapacity(-1))", func() { safemap.NewRWMap[int, int](safemap.WithCapacity(-1)) }, "safemap: WithCapacity(-1)")
	testkit.MustPanicWith(t, "NewShardedMap[int, int](safemap.WithShards(0))", func() { safemap.NewShardedMap[int, int](safemap.WithShards(0)) }, "safemap: WithShards(0)")
	testkit.MustPanicWith(t, "NewShardedMap[int, int](safemap.WithShards(-3))", func() { safemap.NewShardedMap[int, int](safemap.WithShards(-3)) }, "safemap: WithShards(-3)")
	testkit.MustPanicWith(t, "NewShardedMap[int, int](safemap.WithShards(1 << 20))", func() { safemap.NewShardedMap[int, int](safemap.WithShards(1 << 20)) }, "safemap: WithShards(1048576)")
	testkit.MustPanicWith(t, "NewSyncMap[int, int](nil)", func() { safemap.NewSyncMap[int, int](nil) }, "safemap: NewSyncMap: nil Option")
	testkit.MustPanicWith(t, "NewSnapshotMapWithFallback[int, int](nil)", func() { safemap.NewSnapshotMapWithFallback[int, int](nil) }, "safemap: NewSnapshotMapWithFallback called with a nil fallback")
}

func TestOptions_OptionForAnotherMapPanics(t *testing.T) {
	testkit.MustPanicWith(t, "NewRWMap[int, int](safemap.WithShards(4))", func() { safemap.NewRWMap[int, int](safemap.WithShards(4)) }, "safemap: WithShards does not apply to NewRWMap")
	testkit.MustPanicWith(t, "NewSnapshotMap[int, int](safemap.WithShards(4))", func() { safemap.NewSnapshotMap[int, int](safemap.WithShards(4)) }, "safemap: WithShards does not apply to NewSnapshotMap")
	fb := func(int) (int, bool) { return 0, false }
	testkit.MustPanicWith(t, "NewSnapshotMapWithFallback(fb, safemap.WithShards(4))", func() { safemap.NewSnapshotMapWithFallback(fb, safemap.WithShards(4)) }, "safemap: WithShards does not apply to NewSnapshotMapWithFallback")
}

func TestOptions_GoodValuesBuildWorkingMaps(t *testing.T) {
	maps := []safemap.ConcurrentMap[int, int]{
		safemap.NewSyncMap[int, int](safemap.WithCapacity(10)),
		safemap.NewRWMap[int, int](safemap.WithCapacity(10)),
		safemap.NewShardedMap[int, int](safemap.WithCapacity(1000), safemap.WithShards(3)),
		safemap.NewShardedMap[int, int](safemap.WithShards(1)),
		safemap.NewSnapshotMap[int, int](safemap.WithCapacity(10)),
	}
	for _, m := range maps {
		for i := range 100 {
			m.Store(i, i*i)
		}
		for i := range 100 {
			if v, ok := m.Load(i); !ok || v != i*i {
				t.Fatalf("%T: Load(%d) = %d, %t; want %d, true", m, i, v, ok, i*i)
			}
		}
		if got := m.Len(); got != 100 {
			t.Fatalf("%T: Len() = %d; want 100", m, got)
		}
	}
}

func TestComputeOp_String(t *testing.T) {
	for op, want := range map[safemap.ComputeOp]string{
		safemap.CancelOp: "CancelOp", safemap.UpdateOp: "UpdateOp", safemap.DeleteOp: "DeleteOp", 7: "ComputeOp(7)",
	} {
		if got := op.String(); got != want {
			t.Errorf("ComputeOp(%d).String() = %q; want %q", int(op), got, want)
		}
	}
}

func TestCompute_UnknownOpPanicsAndChangesNothing(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im impl) {
		m := newMap[int, int](t, im)
		m.Store(1, 10)
		for _, op := range []safemap.ComputeOp{42, -1} {
			for _, k := range []int{1, 2} { // present and absent
				testkit.MustPanicWith(t, fmt.Sprintf("Compute(%d) whose fn returns %v", k, op), func() {
					m.Compute(k, func(int, bool) (int, safemap.ComputeOp) { return 99, op })
				}, "safemap: Compute function returned unknown "+op.String())
			}
		}
		if v, ok := m.Load(1); !ok || v != 10 {
			t.Fatalf("after the panics Load(1) = %d, %t; want 10, true", v, ok)
		}
		if v, ok := m.Load(2); ok {
			t.Fatalf("after the panics Load(2) = %d, true; want absent", v)
		}
		m.Store(1, 11) // the map is still usable: no lock is held
	})
}

func TestShard_IsWholeCacheLines(t *testing.T) {
	if safemap.ShardSize%safemap.CacheLine != 0 {
		t.Fatalf("shard size %d is not a multiple of the %d-byte cache line", safemap.ShardSize, safemap.CacheLine)
	}
}
