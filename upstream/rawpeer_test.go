package upstream

import (
	"bufio"
	"net"
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
// any command with a chosen reply.
type rawPeer struct {
	t        *testing.T
	ln       net.Listener
	port     int
	mode     rawMode
	ehlo     []string          // EHLO keywords; default 8BITMIME
	replies  map[string]string // verb ("MAIL", "DATA", ".") -> reply line
	accepted chan struct{}     // one value per accepted connection

	mu    sync.Mutex
	lines []string // command lines received, verbatim, without CRLF
	conns []net.Conn
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
func (p *rawPeer) profile(name string) *Profile {
	return &Profile{Name: name, Type: "smtp", Host: "127.0.0.1", Port: p.port, TLS: TLSNone,
		Helo: "client.test", Timeout: 5 * time.Second, DataTimeout: 5 * time.Second, MaxPerConn: 100, MaxConns: 1}
}

func (p *rawPeer) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
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
		if !p.answer(c, r, verb) {
			return
		}
	}
}

// answer replies to one command; false ends the connection.
func (p *rawPeer) answer(c net.Conn, r *bufio.Reader, verb string) bool {
	reply := func(def string) string {
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
func (p *rawPeer) message(c net.Conn, r *bufio.Reader) bool {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if line == ".\r\n" {
			break
		}
	}
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
