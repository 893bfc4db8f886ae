// Package redistest starts real redis-server processes for tests,
// benchmarks and tools, the way net/http/httptest starts HTTP servers: each
// on a free loopback port (never 6379), in a directory of its own, with
// persistence off. It needs the redis-server binary (Debian package
// redis-server) on PATH, and for a Sentinel setup ([StartFailover]) the
// redis-sentinel binary (Debian package redis-sentinel).
//
// A Server's methods are safe for concurrent use.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// InstallHint says how to get redis-server.
const InstallHint = "install it with `apt-get install redis-server`"

// ErrNoServer reports that redis-server is not on PATH.
var ErrNoServer = errors.New("redistest: redis-server is not on PATH: " + InstallHint)

// Server is one redis-server process.
type Server struct {
	bin  string
	port int
	dir  string
	conf string // a config file passed first on the command line, or ""
	args []string
	temp bool // dir was made by Start, and is removed by Stop

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // receives the process's exit status once
}

// Start starts a redis-server on a free loopback port, with extra
// command-line arguments (for example "--cluster-enabled", "yes"), and
// waits until it answers PING (at most 10 s). Stop it with [Server.Stop].
func Start(extra ...string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoServer
	}
	return startIn(bin, "", 0, extra)
}

// startIn starts bin with config file conf (if conf is not empty: written
// into the server's new directory) and extra arguments, on port, or on a
// free port if port is 0.
func startIn(bin, conf string, port int, extra []string) (*Server, error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, args: extra, temp: true}
	if conf != "" {
		s.conf = filepath.Join(dir, "redis.conf")
		if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if port != 0 {
		s.port = port
		if err = s.start(); err == nil {
			return s, nil
		}
		os.RemoveAll(dir)
		return nil, err
	}
	for range 5 { // another process may take the free port before the server does
		if s.port, err = FreePort(); err != nil {
			continue
		}
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, err
}

// Run is Start for a test: it skips the test if redis-server is not on
// PATH, except under CI=true, where that fails the test; it fails the test
// if the server does not start, and stops the server when the test ends.
func Run(t testing.TB, extra ...string) *Server {
	t.Helper()
	Require(t)
	s, err := Start(extra...)
	if err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// Require skips t if redis-server is not on PATH, or fails it under
// CI=true, where it must be installed.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is not on PATH, and CI=true requires it: %s", InstallHint)
		}
		t.Skipf("redis-server is not on PATH: %s to run this test", InstallHint)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago (never
// 6379).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if port == 6379 {
		return 0, errors.New("redistest: got port 6379, which is never used")
	}
	return port, nil
}

// Addr returns the server's address, 127.0.0.1:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port returns the server's port.
func (s *Server) Port() int { return s.port }

// start runs the server on s.port and waits (a bounded loop) until it
// answers PING.
func (s *Server) start() error {
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
	args = append(args, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
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
		time.Sleep(10 * time.Millisecond) // polling another process's readiness
	}
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

// Kill kills the server with SIGKILL (kill -9) and waits for it to exit.
// Its directory stays until Stop.
func (s *Server) Kill() {
	if cmd, exited := s.take(); cmd != nil {
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s), waits for it to
// exit, and removes its directory. It is safe to call more than once.
func (s *Server) Stop() {
	s.halt()
	if s.temp {
		os.RemoveAll(s.dir)
	}
}

// take returns the running process and forgets it (nil if none runs).
func (s *Server) take() (cmd *exec.Cmd, exited chan error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd, exited = s.cmd, s.exited
	s.cmd = nil
	return cmd, exited
}

func (s *Server) halt() {
	cmd, exited := s.take()
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

// Restart stops the server and starts a new one on the same port: every
// key and cached script is gone (persistence is off).
func (s *Server) Restart() error {
	s.halt()
	var err error
	for range 20 { // the port may linger for a moment
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("restarting redis-server: %w", err)
}
