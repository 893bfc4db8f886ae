package safemap

import (
	"math/bits"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"
)

// Tests of hashmap_bucket.go: the layout of a bucket and a chain head, and
// the SWAR helpers that match tags, empty slots and reservations in a tags
// word.

// TestMapBucketSize_IsPinned pins the layout of a bucket of int64→int64: a
// meta word and a next pointer, then seven 16-byte slots; and of a chain's
// head in the dense array: a meta word and a seq word.
func TestMapBucketSize_IsPinned(t *testing.T) {
	if got, want := unsafe.Sizeof(bucket[int64, int64]{}), uintptr(16+7*16); got != want {
		t.Errorf("bucket[int64, int64] size got %d; want %d", got, want)
	}
	if got, want := unsafe.Sizeof(head{}), uintptr(16); got != want {
		t.Errorf("head size got %d; want %d", got, want)
	}
	if got, want := slotsPerBucket, 7; got != want {
		t.Errorf("slotsPerBucket got %d; want %d", got, want)
	}
}

// randomMeta returns a bucket's meta word: each of the seven slot bytes
// empty (0) or a tag (high bit set), the eighth byte unused (0).
func randomMeta(rng *rand.Rand, emptyOneIn int) uint64 {
	var meta uint64
	for i := range slotsPerBucket {
		if rng.IntN(emptyOneIn) != 0 {
			meta |= uint64(0x80|rng.IntN(0x80)) << (8 * i)
		}
	}
	return meta
}

// TestMatchEmpty_FindsExactlyTheEmptySlots checks matchEmpty against a
// byte-by-byte scan over random meta words, including all-empty and
// all-full ones.
func TestMatchEmpty_FindsExactlyTheEmptySlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	metas := []uint64{0, 0x00ffffffffffffff, 0x0080808080808080, 0x0000000000000080, 0x0080000000000000}
	for range 20000 {
		metas = append(metas, randomMeta(rng, 1+rng.IntN(4)))
	}
	for _, meta := range metas {
		var want uint64
		for i := range slotsPerBucket {
			if slotByte(meta, i) == 0 {
				want |= 0x80 << (8 * i)
			}
		}
		if got := matchEmpty(meta); got != want {
			t.Fatalf("matchEmpty(%#016x) got %#016x; want %#016x", meta, got, want)
		}
	}
}

// TestMatchTag_FindsEveryMatchingSlot checks that matchTag reports every
// slot holding the tag, never an empty slot, never the unused eighth byte,
// and a false positive only above a true match (a borrow), so that a
// bucket without the tag is rejected outright.
func TestMatchTag_FindsEveryMatchingSlot(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	check := func(meta uint64, tag uint8) {
		t.Helper()
		got := matchTag(meta, tag)
		if got&^0x0080808080808080 != 0 {
			t.Fatalf("matchTag(%#016x, %#x) got %#016x; want only the high bits of slot bytes", meta, tag, got)
		}
		lowestTrue := -1
		for i := range slotsPerBucket {
			b := slotByte(meta, i)
			reported := got&(0x80<<(8*i)) != 0
			switch {
			case b == tag:
				if !reported {
					t.Fatalf("matchTag(%#016x, %#x) got %#016x; want slot %d reported", meta, tag, got, i)
				}
				if lowestTrue < 0 {
					lowestTrue = i
				}
			case reported && b == 0:
				t.Fatalf("matchTag(%#016x, %#x) got %#016x, reporting empty slot %d; want it not reported", meta, tag, got, i)
			case reported && (lowestTrue < 0 || lowestTrue > i):
				t.Fatalf("matchTag(%#016x, %#x) got %#016x, reporting slot %d with no true match below it; want it not reported", meta, tag, got, i)
			}
		}
	}
	for range 20000 {
		meta := randomMeta(rng, 1+rng.IntN(4))
		check(meta, uint8(0x80|rng.IntN(0x80)))
		// A tag that is present, and its neighbours (which borrows
		// can make look present).
		tag := slotByte(meta, rng.IntN(slotsPerBucket))
		if tag != 0 {
			check(meta, tag)
			check(meta, tag^1)
		}
	}
	// Every tag against a full bucket of that tag, and an empty bucket.
	for tag := 0x80; tag <= 0xff; tag++ {
		check(0x0001010101010101*uint64(tag), uint8(tag))
		check(0, uint8(tag))
	}
}

// TestSlotIndex_ReturnsTheLowestReportedSlot checks slotIndex on every
// non-empty set of reported slots.
func TestSlotIndex_ReturnsTheLowestReportedSlot(t *testing.T) {
	for set := 1; set < 1<<slotsPerBucket; set++ {
		var match uint64
		for i := range slotsPerBucket {
			if set&(1<<i) != 0 {
				match |= 0x80 << (8 * i)
			}
		}
		if got, want := slotIndex(match), bits.TrailingZeros(uint(set)); got != want {
			t.Errorf("slotIndex(%#016x) got %d; want %d", match, got, want)
		}
	}
}

// TestBucketHoldsNoPointerForPlainKeysAndValues pins what keeps the
// collector out of a table: a bucket of pointer-free keys and values holds
// no pointer (overflow links are indexes), so the bucket array is never
// scanned. A pointer field added to bucket would make every collection
// scan 32 MB for 1M int64 entries again.
func TestBucketHoldsNoPointerForPlainKeysAndValues(t *testing.T) {
	if hasPointers(reflect.TypeFor[bucket[int64, int64]]()) {
		t.Error("bucket[int64, int64] holds a pointer: the collector scans every table")
	}
	if hasPointers(reflect.TypeFor[head]()) {
		t.Error("head holds a pointer")
	}
	if !hasPointers(reflect.TypeFor[bucket[string, int64]]()) {
		t.Error("hasPointers misses the string key of bucket[string, int64]")
	}
}
