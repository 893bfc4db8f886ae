package redismap_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file starts and stops the real redis-server processes the tests run
// against: each on a free loopback port, with its own directory, no
// persistence, never port 6379.

// redisServerPath returns the redis-server binary, skipping the test if
// there is none (failing under CI=true, where it must be installed).
func redisServerPath(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is not on PATH, and CI=true requires it: install it with `apt-get install redis-server`")
		}
		t.Skip("redis-server is not on PATH: install it with `apt-get install redis-server` to run the Redis tier's tests")
	}
	return path
}

// server is one redis-server process.
type server struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // receives the exit status once
}

// startServer starts a redis-server on a free loopback port and stops it
// when the test ends. extra arguments are added to its command line.
func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	s := &server{t: t, bin: redisServerPath(t), dir: t.TempDir(), args: extra}
	var err error
	for range 5 { // another process may take the free port before the server does
		if s.port, err = freePort(); err != nil {
			continue
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if port == 6379 {
		return 0, fmt.Errorf("got port 6379, which the tests never use")
	}
	return port, nil
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server on s.port and waits (a bounded loop) until it
// answers PING.
func (s *server) start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server on port %d exited: %v\n%s", s.port, err, log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on port %d did not answer PING within 10s: %v", s.port, err)
		}
		time.Sleep(10 * time.Millisecond) // polling an external process's readiness
	}
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

// stop stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (s *server) stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// restart stops the server and starts a new one on the same port: every
// key, lease, fence and cached script is gone.
func (s *server) restart() {
	s.t.Helper()
	s.stop()
	var err error
	for range 20 { // the port may linger for a moment
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("restarting redis-server: %v", err)
}

// client returns a new client of the server, closed when the test ends.
// Each client is a separate pool, like another process's.
func (s *server) client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.addr()})
	t.Cleanup(func() { c.Close() })
	return c
}

// counter counts the round trips a client makes for its caller (a
// pipeline counts once), leaving out the handshake of new connections
// (HELLO, CLIENT SETINFO), which go-redis also sends through hooks.
type counter struct{ n atomic.Int64 }

func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && !handshake(cmds[0]) {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// countingClient returns a client of s whose round trips are counted.
func (s *server) countingClient(t testing.TB) (*redis.Client, *counter) {
	c := s.client(t)
	n := new(counter)
	c.AddHook(n)
	return c, n
}

var (
	sharedOnce   sync.Once
	sharedServer *server
	sharedStop   func()
)

// shared returns the server that most tests share (each test uses its own
// Prefix). It is started on first use and stopped by TestMain.
func shared(t testing.TB) *server {
	t.Helper()
	redisServerPath(t)
	sharedOnce.Do(func() {
		st := &stopper{}
		sharedServer = startServer(st)
		sharedStop = st.run
	})
	if sharedServer == nil {
		t.Fatal("the shared redis-server did not start")
	}
	return sharedServer
}

// stopper is the testing.TB of the shared server: its cleanups run when
// TestMain calls run, and a failure panics (there is no test to fail).
type stopper struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	dirs     []string
}

func (s *stopper) Helper() {}
func (s *stopper) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
func (s *stopper) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
func (s *stopper) Skip(args ...any)  { panic(fmt.Sprint(args...)) }
func (s *stopper) Cleanup(f func()) {
	s.mu.Lock()
	s.cleanups = append(s.cleanups, f)
	s.mu.Unlock()
}
func (s *stopper) TempDir() string {
	dir, err := os.MkdirTemp("", "redismap-test-")
	if err != nil {
		panic(err)
	}
	s.dirs = append(s.dirs, dir)
	return dir
}
func (s *stopper) run() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	for _, d := range s.dirs {
		os.RemoveAll(d)
	}
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
	if sharedStop != nil {
		sharedStop()
	}
	os.Exit(code)
}
