package upstream

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMaxPerConnection(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	p, _ := newTestPool(t, Options{})
	prof := s.profile("batch")
	prof.MaxPerConn = 3
	for range 10 {
		mustSend(t, p, prof, testEnv("bob@example.org"))
	}
	conns := s.connections()
	if len(conns) < 4 {
		t.Fatalf("%d connections, want at least 4", len(conns))
	}
	total := 0
	for _, c := range conns {
		total += c.txs
		in := c.in.String()
		if c.txs > 3 || c.txs == 0 {
			t.Errorf("connection %d carried %d transactions", c.id, c.txs)
		}
		if got := strings.Count(in, "\r\nRSET\r\n"); got != c.txs-1 {
			t.Errorf("connection %d: %d RSET for %d transactions", c.id, got, c.txs)
		}
		if c.txs == 3 && !strings.HasSuffix(in, "QUIT\r\n") {
			t.Errorf("connection %d: no QUIT after 3 messages", c.id)
		}
	}
	if total != 10 {
		t.Errorf("%d transactions, want 10", total)
	}
}

func TestMaxConnections(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	// The first two messages wait in DATA until both are there: proof that
	// two connections really run in parallel.
	var mu sync.Mutex
	inData, both := 0, make(chan struct{})
	s.set(func(s *testServer) {
		s.dataHook = func() {
			mu.Lock()
			if inData++; inData == 2 {
				close(both)
			}
			mu.Unlock()
			select {
			case <-both:
			case <-time.After(10 * time.Second):
			}
		}
	})
	p, _ := newTestPool(t, Options{})
	prof := s.profile("par")
	prof.MaxConns = 2
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() {
			if res := p.Send(t.Context(), prof, testEnv("bob@example.org")); res.Err != nil {
				errs <- res.Err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	select {
	case <-both:
	default:
		t.Error("never two connections at once")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxActive != 2 || len(s.txs) != 10 {
		t.Errorf("max simultaneous connections %d (want 2), transactions %d", s.maxActive, len(s.txs))
	}
}

func TestDeadPooledConnectionReplaced(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	p, logs := newTestPool(t, Options{})
	prof := s.profile("p")
	mustSend(t, p, prof, testEnv("bob@example.org"))
	s.dropAll()
	s.waitClosed(1)
	mustSend(t, p, prof, testEnv("bob@example.org"))
	if n, txs := len(s.connections()), len(s.transactions()); n != 2 || txs != 2 {
		t.Errorf("%d connections, %d transactions; want 2, 2", n, txs)
	}
	if got := connCount(p, "p", "ok"); got != 2 {
		t.Errorf("connections ok = %v", got)
	}
	if !strings.Contains(logs.String(), "pooled upstream connection is dead") {
		t.Errorf("the pooled connection was not found dead: %s", logs)
	}
}

func TestIdleTimeout(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	p, _ := newTestPool(t, Options{IdleTimeout: 50 * time.Millisecond})
	prof := s.profile("p")
	mustSend(t, p, prof, testEnv("bob@example.org"))
	s.waitClosed(1) // the pool QUITs the idle connection
	if in := s.connections()[0].in.String(); !strings.HasSuffix(in, "QUIT\r\n") {
		t.Errorf("idle connection closed without QUIT: %q", in)
	}
	mustSend(t, p, prof, testEnv("bob@example.org"))
	if n := len(s.connections()); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

func TestClose(t *testing.T) {
	s := newTestServer(t, serverConfig{})
	p, _ := newTestPool(t, Options{})
	prof := s.profile("p")
	mustSend(t, p, prof, testEnv("bob@example.org"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	s.waitClosed(1)
	if in := s.connections()[0].in.String(); !strings.HasSuffix(in, "QUIT\r\n") {
		t.Errorf("Close did not QUIT: %q", in)
	}
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	if !errors.Is(e, ErrClosed) || !e.Temporary {
		t.Errorf("after Close: %v", e)
	}
}

func TestPoolKeySeparatesCredentials(t *testing.T) {
	s := newTestServer(t, serverConfig{mechs: []string{"PLAIN"}, insecureAuth: true})
	p, _ := newTestPool(t, Options{})
	a := s.profile("shared")
	a.Username, a.Password = testUser, testPass
	b := s.profile("shared") // same name, no AUTH: must not get a's connection
	for range 2 {
		mustSend(t, p, a, testEnv("bob@example.org"))
		mustSend(t, p, b, testEnv("bob@example.org"))
	}
	txs := s.transactions()
	if n := len(s.connections()); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	for i, tx := range txs {
		if want := []string{testUser, ""}[i%2]; tx.User != want {
			t.Errorf("transaction %d as %q, want %q", i, tx.User, want)
		}
	}
}
