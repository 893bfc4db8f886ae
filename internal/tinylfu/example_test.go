package tinylfu_test

import (
	"fmt"
	"hash/fnv"

	"github.com/safemap-go/safemap/internal/tinylfu"
)

// Example drives a Policy as a cache does: a miss stores an entry and Adds its node, a hit
// only Touches it, and the evict callback drops what the policy gives up.
func Example() {
	type entry struct {
		node tinylfu.Node // first field: a *Node converts back to its entry
		key  string
	}
	p := tinylfu.New(3) // at most three entries of weight 1
	table := map[string]*entry{}
	keyOf := map[*tinylfu.Node]string{}
	evict := func(n *tinylfu.Node) {
		fmt.Println("evicted", keyOf[n])
		delete(table, keyOf[n])
		delete(keyOf, n)
	}
	get := func(key string) {
		if e, ok := table[key]; ok {
			tinylfu.Touch(&e.node, e.node.Word.Load()) // the whole hit path
			return
		}
		e := &entry{key: key}
		h := fnv.New64a()
		h.Write([]byte(key))
		e.node.Init(h.Sum64(), 1) // the cache uses its table's hash

		table[key] = e
		keyOf[&e.node] = key
		p.Add(&e.node, evict)
	}
	for _, k := range []string{"a", "b", "c", "a", "a", "d", "e"} {
		get(k)
	}
	fmt.Println("held:", p.Len(), "weight:", p.Weight())
	_, aKept := table["a"]
	fmt.Println("a kept:", aKept)
	// c and d, seen once, lose the admission contest against b, also seen once (a tie keeps
	// the incumbent); a, hit twice, was promoted to the protected region on the way.

	// Output:
	// evicted c
	// evicted d
	// held: 3 weight: 3
	// a kept: true
}
