package safemap

import (
	"math/rand/v2"
	"testing"
)

// TestFlightStripeModel drives one flight stripe with random claims and
// lands, on hashes with few bits so that probe runs collide and wrap, and
// checks it against a built-in map: a claim finds exactly the flight
// registered for its key, land removes exactly that one, and a flight is
// recycled only when no waiter claimed it.
func TestFlightStripeModel(t *testing.T) {
	for _, bits := range []uint{1, 3, 6, 64} {
		r := rand.New(rand.NewPCG(uint64(bits), 7))
		hash := func(k int) uint64 {
			h := mixInt(12345, uint64(k))
			if bits < 64 {
				h &= 1<<bits - 1
			}
			return h
		}
		var st flightStripe[int, int]
		model := map[int]*flight[int]{}
		waited := map[*flight[int]]bool{}
		for step := range 20000 {
			k := r.IntN(300)
			if f, ok := model[k]; ok && r.IntN(2) == 0 {
				got := st.land(k, hash(k), f)
				if got != waited[f] {
					t.Fatalf("bits=%d step %d: land(%d) waited=%v, want %v", bits, step, k, got, waited[f])
				}
				delete(model, k)
				delete(waited, f)
				if !got {
					for _, g := range model {
						if g == f {
							t.Fatalf("bits=%d step %d: recycled flight of %d is still registered", bits, step, k)
						}
					}
				}
				continue
			}
			f, wait := st.claim(k, hash(k))
			if want, ok := model[k]; ok {
				if f != want || wait == nil {
					t.Fatalf("bits=%d step %d: claim(%d) = %p, %v; want the registered %p to wait on", bits, step, k, f, wait, want)
				}
				waited[f] = true
			} else {
				if wait != nil {
					t.Fatalf("bits=%d step %d: claim(%d) of an unregistered key returned a wait channel", bits, step, k)
				}
				for _, g := range model {
					if g == f {
						t.Fatalf("bits=%d step %d: claim(%d) reused a registered flight", bits, step, k)
					}
				}
				model[k] = f
			}
			if st.n != len(model) {
				t.Fatalf("bits=%d step %d: %d flights registered, want %d", bits, step, st.n, len(model))
			}
		}
		// Land them all: the table is dropped once it is empty and large.
		for k, f := range model {
			st.land(k, hash(k), f)
		}
		if st.n != 0 {
			t.Fatalf("bits=%d: %d flights left", bits, st.n)
		}
		for i := range st.slots {
			if st.slots[i].f != nil {
				t.Fatalf("bits=%d: slot %d still holds a flight", bits, i)
			}
		}
	}
}
