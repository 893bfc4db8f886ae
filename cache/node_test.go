package cache

import (
	"testing"
	"unsafe"
)

// TestNode_SizeIsPinned pins the per-entry overhead docs/cache.md states:
// the policy's 32 bytes, the wheel's 16, then the key and the value: 64
// for [int, int], the 64-byte size class (72 would round up to 80), on a
// 64-bit platform.
func TestNode_SizeIsPinned(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("32-bit platform: the pinned sizes are for 64-bit ones")
	}
	if got := unsafe.Sizeof(node[int, int]{}); got != 64 {
		t.Fatalf("node[int, int] is %d bytes; want 64 (32 policy + 16 wheel + 8 key + 8 value)", got)
	}
	if got := unsafe.Sizeof(extNode[int, int]{}) - unsafe.Sizeof(node[int, int]{}); got != 24 {
		t.Fatalf("extNode adds %d bytes; want 24", got)
	}
	if unsafe.Offsetof(node[int, int]{}.Node) != 0 || unsafe.Offsetof(extNode[int, int]{}.node) != 0 {
		t.Fatal("the embedded tinylfu.Node and node must come first: nodeOf and extOf convert by address")
	}
}
