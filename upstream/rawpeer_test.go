package upstream

import (
	"bufio"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawMode is what a rawPeer does beyond a normal dialogue.
type rawMode int

const (
	rawNormal       rawMode = iota
	rawHang                 // accept, then never send a byte
	rawDropAfterDot         // read the message, then close without a reply
	rawMuteAfterDot         // read the message, then send nothing more
)

// rawPeer is a scripted SMTP server on 127.0.0.1:0 for what a go-smtp
// server cannot do (like chasquid's internal/courier/fakeserver_test.go):
// hang, drop after the final dot, record command lines verbatim, or answer
// any command with a chosen reply, or hold replies back until DATA to
// check that a client pipelines (RFC 2920).
type rawPeer struct {
	t        *testing.T
	ln       net.Listener
	port     int
	mode     rawMode
	ehlo     []string          // EHLO keywords; default 8BITMIME
	replies  map[string]string // whole command line or verb ("MAIL", "DATA", ".") -> reply line
	holdFrom []string          // verbs from which replies are held back until DATA arrives
	accepted chan struct{}     // one value per accepted connection

	mu     sync.Mutex
	lines  []string   // command lines received, verbatim, without CRLF
	bodies [][]string // per message after a 354: its lines as sent (dot-stuffed), without the final "."
	conns  []net.Conn
}

func newRawPeer(t *testing.T, mode rawMode) *rawPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{t: t, ln: ln, port: ln.Addr().(*net.TCPAddr).Port, mode: mode,
		ehlo: []string{"8BITMIME"}, replies: map[string]string{}, accepted: make(chan struct{}, 100)}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

// profile is a plain-text profile for this peer with short timeouts.
func (p *rawPeer) profile(name string) *Target {
	return &Target{Name: name, Type: "smtp", Host: "127.0.0.1", Port: p.port, TLS: TLSNone,
		Helo: "client.test", Timeout: 5 * time.Second, DataTimeout: 5 * time.Second, MaxPerConn: 100, MaxConns: 1}
}

func (p *rawPeer) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

func (p *rawPeer) messages() [][]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.bodies)
}

// heldWriter is a connection's output. While holding, replies are kept
// back; release writes them all in one write, in order.
type heldWriter struct {
	net.Conn
	holding bool
	held    []byte
}

func (h *heldWriter) Write(b []byte) (int, error) {
	if h.holding {
		h.held = append(h.held, b...)
		return len(b), nil
	}
	return h.Conn.Write(b)
}

func (h *heldWriter) release() {
	h.holding = false
	if len(h.held) > 0 {
		h.Conn.Write(h.held)
		h.held = nil
	}
}

func (p *rawPeer) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		p.accepted <- struct{}{}
		go p.handle(c)
	}
}

func (p *rawPeer) handle(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	if p.mode == rawHang {
		r.ReadString(0) // until the client or the cleanup closes
		return
	}
	c.Write([]byte("220 raw.test ESMTP\r\n"))
	w := &heldWriter{Conn: c}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.mu.Unlock()
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		switch {
		case verb == "DATA":
			// A client that waits for a reply before sending DATA never
			// gets one: it times out instead.
			w.release()
		case slices.Contains(p.holdFrom, verb):
			w.holding = true
		}
		if !p.answer(w, r, line, verb) {
			return
		}
	}
}

// answer replies to one command; false ends the connection.
func (p *rawPeer) answer(c io.Writer, r *bufio.Reader, line, verb string) bool {
	reply := func(def string) string {
		if s, ok := p.replies[line]; ok {
			return s
		}
		if s, ok := p.replies[verb]; ok {
			return s
		}
		return def
	}
	switch verb {
	case "EHLO":
		out := "250-raw.test"
		for _, kw := range p.ehlo {
			out += "\r\n250-" + kw
		}
		c.Write([]byte(out + "\r\n250 HELP\r\n"))
	case "DATA":
		rep := reply("354 go ahead")
		c.Write([]byte(rep + "\r\n"))
		if !strings.HasPrefix(rep, "354") {
			return true
		}
		return p.message(c, r)
	case "QUIT":
		c.Write([]byte("221 2.0.0 bye\r\n"))
		return false
	default:
		c.Write([]byte(reply("250 2.0.0 ok") + "\r\n"))
	}
	return true
}

// message reads the message up to the final dot and acts per mode.
func (p *rawPeer) message(c io.Writer, r *bufio.Reader) bool {
	var body []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if line == ".\r\n" {
			break
		}
		body = append(body, strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"))
	}
	p.mu.Lock()
	p.bodies = append(p.bodies, body)
	p.mu.Unlock()
	switch p.mode {
	case rawDropAfterDot:
		return false
	case rawMuteAfterDot:
		r.ReadString(0)
		return false
	}
	rep, ok := p.replies["."]
	if !ok {
		rep = "250 2.0.0 queued"
	}
	c.Write([]byte(rep + "\r\n"))
	return true
}
