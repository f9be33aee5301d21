package smtpwire

import (
	"net"
	"strings"
	"testing"
)

// writeCounter records the writes that reach the connection.
type writeCounter struct {
	net.Conn
	writes []string
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// TestHeldReplyLimit: continuation lines are held up to maxHeldReply
// octets; beyond, they go out, and nothing is lost or reordered. Lines
// that are not whole continuation lines are never held.
func TestHeldReplyLimit(t *testing.T) {
	w := &writeCounter{}
	l := &Conn{Conn: w}
	l.greeted.Store(true)
	line := "250-" + strings.Repeat("x", 96) + "\r\n"
	var sent strings.Builder
	for range 2 * maxHeldReply / len(line) {
		l.Write([]byte(line))
		sent.WriteString(line)
	}
	l.Write([]byte("250 last\r\n"))
	sent.WriteString("250 last\r\n")
	if got := strings.Join(w.writes, ""); got != sent.String() {
		t.Fatalf("the connection got %d octets, want the %d written, in order", len(got), sent.Len())
	}
	if len(w.writes) < 2 || len(w.writes) > 3 {
		t.Errorf("%d writes, want 2 or 3 for a reply of twice the limit", len(w.writes))
	}
	for _, p := range []string{"250-partial", "25x-x\r\n", "250-a\r\nb\r\n", "220 banner\r\n", "\x17\x03\x03\x00\x10-abc\r\n"} {
		if continuationLine([]byte(p)) {
			t.Errorf("continuationLine(%q) = true", p)
		}
	}
}
