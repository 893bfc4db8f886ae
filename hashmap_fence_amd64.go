package safemap

// loadFence orders the plain loads before it ahead of the atomic load that
// follows it. On amd64 (total store order) loads are never reordered with
// other loads, so it is empty.
func loadFence() {}
