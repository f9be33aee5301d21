// Package redistest runs a real redis-server (the Debian package
// redis-server) for tests: on a free loopback port, persistence off,
// stopped at the end of the test. Without the program the test is skipped
// with an install hint, or fails when CI=true.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one redis-server process; Stop and Start it to simulate an
// outage (it comes back on the same port, empty).
type Server struct {
	t        *testing.T
	bin      string
	port     int
	password string
	mu       sync.Mutex
	cmd      *exec.Cmd
}

// Start runs redis-server on 127.0.0.1 and a free port; password "" means
// none (else --requirepass). It is stopped when the test ends.
func Start(t *testing.T, password string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed: .ci/run must apt-get install redis-server")
		}
		t.Skip("redis-server is not installed: apt-get install redis-server (Debian) to run this test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, bin: bin, port: port, password: password}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is "redis://127.0.0.1:PORT/0".
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Start (re)starts the server and waits until it answers PING (10 s).
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	args := []string{"--save", "", "--appendonly", "no", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.t.TempDir(), "--loglevel", "warning"}
	if s.password != "" {
		args = append(args, "--requirepass", s.password)
	}
	cmd := exec.Command(s.bin, args...)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for !s.ping() {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer within 10s", s.Addr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop ends the server and waits for it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// ping speaks RESP to see whether the server is up (a NOAUTH error counts
// as up).
func (s *Server) ping() bool {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := fmt.Fprint(c, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH"))
}
