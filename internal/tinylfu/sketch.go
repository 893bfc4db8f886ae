package tinylfu

import "math/bits"

// sketch is a count-min sketch of access frequencies with 4-bit counters (Cormode and
// Muthukrishnan's structure, as TinyLFU uses it). A key's four counters sit in one block of
// eight 64-bit words (one cache line), one counter in each of four words, so an update
// touches one line. Once the number of increments reaches sampleSize, every counter is
// halved, so the sketch forgets old popularity and follows a changing workload.
type sketch struct {
	table      []uint64 // len is a power of two, at least 8
	blockMask  uint64   // number of blocks - 1
	additions  int      // increments since the last halving
	sampleSize int      // additions that trigger a halving
	halvings   uint64   // how many halvings ran; lets callers notice one
}

const (
	minSketchWords = 1024
	maxSketchWords = 1 << 24 // 128 MiB at most, for a bound in the tens of millions
	counterMax     = 15
	oneMask        = 0x1111111111111111 // the low bit of every counter
	halfMask       = 0x7777777777777777 // every counter's three low bits
)

// newSketch sizes the sketch for about capacity distinct hot keys: one word (16 counters)
// per key, rounded up to a power of two, at least minSketchWords.
func newSketch(capacity uint64) *sketch {
	words := uint64(minSketchWords)
	for words < capacity && words < maxSketchWords {
		words <<= 1
	}
	s := &sketch{
		table:     make([]uint64, words),
		blockMask: words/8 - 1,
	}
	s.sampleSize = int(10 * words)
	return s
}

// mix spreads h again so that the block and counter choices are independent of the bits the
// cache's table used.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// slot returns, for depth i, the word index and bit offset of the counter of the key whose
// mixed hash is m.
func (s *sketch) slot(m uint64, i uint) (word uint64, shift uint) {
	block := (m & s.blockMask) << 3
	sel := m >> (32 + 8*i) // 8 fresh bits per depth from the high half
	// depth i uses word 2i or 2i+1 of the block, and one of its 16 counters.
	word = block + uint64(2*i) + (sel & 1)
	shift = uint((sel>>1)&15) << 2
	return word, shift
}

// frequency returns the estimated number of recent accesses to the key hashed h, 0 to 15.
func (s *sketch) frequency(h uint64) uint64 {
	m := mix(h)
	f := uint64(counterMax)
	for i := uint(0); i < 4; i++ {
		w, sh := s.slot(m, i)
		f = min(f, (s.table[w]>>sh)&counterMax)
	}
	return f
}

// increment adds n (1 to 3) to the key's four counters, each saturating at 15, and halves
// the sketch when enough increments accumulated.
func (s *sketch) increment(h uint64, n uint64) {
	m := mix(h)
	added := false
	for i := uint(0); i < 4; i++ {
		w, sh := s.slot(m, i)
		c := (s.table[w] >> sh) & counterMax
		if c < counterMax {
			nc := min(c+n, counterMax)
			s.table[w] += (nc - c) << sh
			added = true
		}
	}
	if added {
		s.additions += int(n)
		if s.additions >= s.sampleSize {
			s.halve()
		}
	}
}

// halve divides every counter by two, forgetting half of the recorded history.
func (s *sketch) halve() {
	odd := 0
	for i, w := range s.table {
		odd += bits.OnesCount64(w & oneMask)
		s.table[i] = (w >> 1) & halfMask
	}
	// Each key owns four counters; the rounding lost about odd/4 increments.
	s.additions = (s.additions - odd/4) / 2
	if s.additions < 0 {
		s.additions = 0
	}
	s.halvings++
}
