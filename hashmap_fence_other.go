//go:build !amd64

package safemap

import "sync/atomic"

// loadFence orders the plain loads before it ahead of the atomic load that
// follows it. An acquire load alone does not keep earlier loads from being
// satisfied after it on weakly ordered processors (arm64, ppc64, riscv64),
// but a read-modify-write is a full barrier in Go's atomics, and one on a
// goroutine-local word costs no cache-line traffic.
func loadFence() {
	var fence atomic.Uint32
	fence.Add(0)
}
