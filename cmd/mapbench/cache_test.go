package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/safemap-go/safemap/cmd/mapbench/internal/report"
)

func TestMapbench_CacheGroupRunsEveryCacheAndChartsIt(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI(t, "-keys", "300", "-duration", "2ms", "-reps", "2", "-max-reps", "2",
		"-goroutines", "2", "-keytype", "int,string", "-workloads", "cache", "-progress", "off", "-redis", "off", "-o", dir)
	if code != exitOK {
		t.Fatalf("exit %d; want 0\nstderr: %s", code, stderr)
	}
	f, err := os.Open(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	run, err := report.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Workloads) != len(cacheWorkloads) {
		t.Fatalf("-workloads cache ran %d workloads; want the %d cache workloads", len(run.Workloads), len(cacheWorkloads))
	}
	for i, w := range run.Workloads {
		if w.Name != cacheWorkloads[i].name {
			t.Errorf("workload %d is %s; want %s", i, w.Name, cacheWorkloads[i].name)
		}
		for _, ci := range cacheImpls {
			ints, strs := 0, 0
			for _, c := range w.Cases {
				if c.Impl != ci.name {
					continue
				}
				switch c.KeyType {
				case "int":
					ints++
					if len(c.Samples) != 2 {
						t.Errorf("%s, %s: %d samples; want 2", w.Name, ci.name, len(c.Samples))
					}
				case "string":
					strs++
					if c.Unsupported == "" {
						t.Errorf("%s, %s with string keys: measured; want unsupported (the cache workloads use int keys)", w.Name, ci.name)
					}
				}
			}
			if ints != 1 || strs != 1 {
				t.Errorf("%s, %s: %d int and %d string cases; want 1 and 1", w.Name, ci.name, ints, strs)
			}
		}
		if !strings.Contains(out, w.Name) {
			t.Errorf("the tables do not mention %s", w.Name)
		}
	}
	// Every cache read in cache-hit hits: the bound holds the keys.
	for _, c := range run.Workloads[0].Cases {
		for _, s := range c.Samples {
			if m := s.Metrics["miss%"]; m != 0 {
				t.Errorf("cache-hit, %s: miss%% = %v; want 0 (2 × -keys bound, -keys keys)", c.Impl, m)
			}
		}
	}
	hf, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(hf))
	if err != nil {
		t.Fatal(err)
	}
	charts := map[string]int{}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "figure" {
			for _, a := range n.Attr {
				if a.Key == "data-workload" {
					charts[a.Val]++
				}
			}
		}
	}
	for _, w := range cacheWorkloads {
		if charts[w.name] == 0 {
			t.Errorf("report.html has no chart for %s", w.name)
		}
	}
}

func TestExpandCacheGroup_ReplacesTheGroupByItsWorkloads(t *testing.T) {
	got := expandCacheGroup("load,cache,memory")
	want := "load,cache-hit,cache-compute,cache-memory,memory"
	if got != want {
		t.Errorf("expandCacheGroup = %q; want %q", got, want)
	}
	if got := expandCacheGroup("load"); got != "load" {
		t.Errorf("expandCacheGroup(load) = %q; want load", got)
	}
}

func TestCacheTargets_HoldTheirBoundAndCountWhatTheyHold(t *testing.T) {
	for _, ci := range cacheImpls {
		t.Run(ci.name, func(t *testing.T) {
			c := ci.new(100, 0)
			defer c.Close()
			fillCache(ci, c, 50)
			if n := cacheLen(c, 50); n != 50 {
				t.Errorf("holds %d after 50 stores with a bound of 100; want 50", n)
			}
			for k := range 5000 {
				c.LoadOrCompute(k)
			}
			if ci.settle != nil {
				ci.settle(c)
			}
			if n := cacheLen(c, 5000); n > 200 {
				t.Errorf("holds %d entries after 5000 misses with a bound of 100; want about 100", n)
			}
		})
	}
}
