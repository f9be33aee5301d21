package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/cmd/relayd/config/configtest"
	"github.com/relayd/relayd/relay"
	"github.com/relayd/relayd/spool"
)

// adminHarness is relayd's admin listener as serve wires it (startAdmin
// over relay's API and a real spool in a temp dir), with one profile
// "office365" pointing at a loopback TCP listener that counts connections.
type adminHarness struct {
	f     *config.File
	hs    *http.Server
	addr  string // the admin listener, 127.0.0.1:PORT
	port  int
	store *spool.Store
	up    *countingPeer
	logs  *lockedBuffer
}

// countingPeer accepts TCP connections on loopback, counts and closes
// them: the upstream that a hostile request must never reach.
type countingPeer struct {
	ln net.Listener
	n  atomic.Int64
	wg sync.WaitGroup
}

func newCountingPeer(t *testing.T) *countingPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingPeer{ln: ln}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.n.Add(1)
			c.Write([]byte("554 5.3.2 not a real server\r\n"))
			c.Close()
		}
	})
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *countingPeer) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// startAdminHarness starts the admin listener on a config with adminExtra
// appended to its [admin] table.
func startAdminHarness(t *testing.T, adminExtra string) *adminHarness {
	t.Helper()
	up := newCountingPeer(t)
	state := t.TempDir()
	cfg := fmt.Sprintf(`[server]
hostname = "relay.test"
state_dir = %s

[admin]
listen = "127.0.0.1:0"
%s

[relay]
default_profile = "office365"

[[listener]]
name = "l"
address = "127.0.0.1:0"

[[profile]]
name = "office365"
host = "127.0.0.1"
port = %d
tls = "none"
send_delay = "1h"
`, configtest.TOMLPath(state), adminExtra, up.port())
	f, _, err := config.Load(configtest.WriteFile(t, state, "relayd.toml", cfg, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := f.Relay()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	store, err := spool.Open(spool.Options{Dir: t.TempDir(), Logger: log, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv, err := relay.New(relay.Options{Config: rc, Spool: store, Logger: log, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	ready.Store(true)
	hs, err := startAdmin(f, reg, srv, &ready, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		hs.Close()
		if t.Failed() {
			t.Logf("relayd log:\n%s", logs.String())
		}
	})
	h := &adminHarness{f: f, hs: hs, store: store, up: up, logs: logs}
	h.addr = hs.Addr
	_, p, _ := net.SplitHostPort(h.addr)
	fmt.Sscan(p, &h.port)
	return h
}

// commitDelayed puts one message in the spool, delayed for an hour.
func (h *adminHarness) commitDelayed(t *testing.T, from, subject string, rcpts ...string) string {
	t.Helper()
	now := time.Now()
	m := &spool.Message{ID: spool.NewID(), Created: now, Sender: "crm@example.com", Listener: "l",
		From: from, Subject: subject}
	for _, r := range rcpts {
		m.Recipients = append(m.Recipients, spool.Recipient{Address: r, Profile: "office365", Rule: "system default",
			State: spool.StateDelayed, NextAttempt: now.Add(time.Hour), Updated: now})
	}
	body := "From: " + from + "\r\nSubject: " + subject + "\r\n\r\nhello\r\n"
	m.Size = int64(len(body))
	if err := h.store.Commit(m, []byte(body)); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// rawHTTP sends req (a request as it goes on the wire, "\n" line ends are
// made CRLF and Content-Length is added for a body after the blank line)
// and returns the status and body of the answer.
func (h *adminHarness) rawHTTP(t *testing.T, req string) (int, string) {
	t.Helper()
	head, body, _ := strings.Cut(req, "\n\n")
	head = strings.ReplaceAll(head, "\n", "\r\n") + "\r\n"
	if body != "" {
		head += fmt.Sprintf("Content-Length: %d\r\n", len(body))
	}
	head += "Connection: close\r\n\r\n"
	c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, head+body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer to\n%s\n: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// do sends one request with net/http (as the CLI does) and returns the
// status and body.
func (h *adminHarness) do(t *testing.T, method, path string, header map[string]string, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+h.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// state is the spool state of message id's first recipient.
func (h *adminHarness) state(t *testing.T, id string) spool.State {
	t.Helper()
	m, err := h.store.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return m.Recipients[0].State
}
