package safemap

import "testing"

// Tests of hashmap_overflow.go: the arena of overflow buckets.

// TestOverflowLocate checks the arena's index arithmetic: indexes map to
// consecutive offsets of consecutive chunks, each overflowLen long, with
// no gap or overlap, and the last index fits.
func TestOverflowLocate(t *testing.T) {
	wantChunk, wantOff := 0, uint32(0)
	for i := range uint32(1 << 20) {
		c, off := overflowLocate(i)
		if c != wantChunk || off != wantOff {
			t.Fatalf("overflowLocate(%d) = %d, %d; want %d, %d", i, c, off, wantChunk, wantOff)
		}
		if wantOff++; wantOff == overflowLen(wantChunk) {
			wantChunk, wantOff = wantChunk+1, 0
		}
	}
	if c, _ := overflowLocate(overflowMax - 1); c >= overflowChunks {
		t.Errorf("the last index lands in chunk %d of %d", c, overflowChunks)
	}
}
