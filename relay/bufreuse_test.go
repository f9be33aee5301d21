package relay

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestPooledBuffersKeepMessagesApart: the buffers a message is collected
// into, written to the body log from and delivered from are pooled and
// reused across sessions and messages (internal/bufpool). Many clients at
// once, several messages per connection, sizes across the pool's classes
// and beyond its largest: every message reaches the sink exactly as it was
// sent, never with octets of another.
func TestPooledBuffersKeepMessagesApart(t *testing.T) {
	const clients, perConn = 8, 6
	sizes := []int{300, 9 << 10, 20 << 10, 100 << 10, 140 << 10, 300 << 10}
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))

	bodies := map[string]string{} // X-Seq -> the body after the header
	for c := range clients {
		for m := range perConn {
			seq := fmt.Sprintf("c%d-m%d", c, m)
			line := strings.Repeat(seq+" ", 70/(len(seq)+1)) + "\r\n"
			n := sizes[(c+m)%len(sizes)]
			bodies[seq] = strings.Repeat(line, n/len(line)+1)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			cl, err := smtp.Dial(r.addr)
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			for m := range perConn {
				seq := fmt.Sprintf("c%d-m%d", c, m)
				if err := sendOn(cl, seq, bodies[seq]); err != nil {
					errs <- fmt.Errorf("%s: %w", seq, err)
					return
				}
			}
			cl.Quit()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for range clients * perConn {
		got := string(sk.wait().Data)
		_, after, ok := strings.Cut(got, "X-Seq: ")
		seq, _, _ := strings.Cut(after, "\r\n")
		want, known := bodies[seq]
		if !ok || !known {
			t.Fatalf("the sink got a message without a known X-Seq (%d octets)", len(got))
		}
		delete(bodies, seq)
		if _, body, _ := strings.Cut(got, "\r\n\r\n"); body != want {
			t.Errorf("%s: the body that arrived (%d octets) is not the one sent (%d octets)", seq, len(body), len(want))
		}
	}
	if len(bodies) != 0 {
		t.Errorf("%d messages never arrived", len(bodies))
	}
}

// sendOn sends one message on an open client connection.
func sendOn(cl *smtp.Client, seq, body string) error {
	if err := cl.Mail("app@example.com", nil); err != nil {
		return err
	}
	if err := cl.Rcpt("someone@example.org", nil); err != nil {
		return err
	}
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "From: app@example.com\r\nSubject: %s\r\nX-Seq: %s\r\n\r\n%s", seq, seq, body); err != nil {
		return err
	}
	return w.Close()
}
