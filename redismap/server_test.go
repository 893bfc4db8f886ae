package redismap_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/safemap-go/safemap/redismap/redistest"
)

// This file starts and stops the real redis-server processes the tests run
// against: each on a free loopback port, with its own directory, no
// persistence, never port 6379.

// redisServerPath skips the test if redis-server is not on PATH (failing
// under CI=true, where it must be installed).
func redisServerPath(t testing.TB) { redistest.Require(t) }

// server is one redis-server process, stopped when its test ends.
type server struct {
	*redistest.Server
	t testing.TB
}

// startServer starts a redis-server on a free loopback port and stops it
// when the test ends. extra arguments are added to its command line.
func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	return &server{redistest.Run(t, extra...), t}
}

func freePort() (int, error) { return redistest.FreePort() }

func (s *server) addr() string { return s.Addr() }

// restart restarts the server on its port: every key, lease, fence and
// cached script is gone.
func (s *server) restart() {
	s.t.Helper()
	if err := s.Restart(); err != nil {
		s.t.Fatal(err)
	}
}

// client returns a new client of the server, closed when the test ends.
// Each client is a separate pool, like another process's.
func (s *server) client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.addr()})
	t.Cleanup(func() { c.Close() })
	return c
}

// countingClient returns a client of s whose round trips are counted.
func (s *server) countingClient(t testing.TB) (*redis.Client, *redistest.RoundTrips) {
	c := s.client(t)
	n := new(redistest.RoundTrips)
	c.AddHook(n)
	return c, n
}

var (
	sharedOnce   sync.Once
	sharedServer *server
)

// shared returns the server that most tests share (each test uses its own
// Prefix). It is started on first use and stopped by TestMain.
func shared(t testing.TB) *server {
	t.Helper()
	redisServerPath(t)
	sharedOnce.Do(func() {
		s, err := redistest.Start()
		if err != nil {
			t.Fatalf("starting the shared redis-server: %v", err)
		}
		sharedServer = &server{Server: s}
	})
	if sharedServer == nil {
		t.Fatal("the shared redis-server did not start")
	}
	return &server{sharedServer.Server, t}
}

var prefixes atomic.Int64

// prefix returns a Prefix unique to the test and the call (so that -count
// runs and earlier runs on a server do not share entries).
func prefix(t testing.TB) string {
	name := strings.NewReplacer("/", ".", "{", "(", "}", ")").Replace(t.Name())
	return fmt.Sprintf("%s.%d.%d", name, os.Getpid(), prefixes.Add(1))
}

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role))
	}
	code := m.Run()
	if sharedServer != nil {
		sharedServer.Stop()
	}
	os.Exit(code)
}
