package cache

import "testing"

func TestSmoke(t *testing.T) {
	c, err := New(Options[int, int]{MaxEntries: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10000 {
		if _, ok := c.Load(i % 300); !ok {
			c.Store(i%300, i)
		}
		if c.Len() > 100 {
			t.Fatalf("len %d", c.Len())
		}
	}
	t.Log(c.Stats(), c.Len())
}
