package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"

	"github.com/emersion/go-smtp"
)

type loadSink struct{ got chan []byte }

func (s loadSink) NewSession(*smtp.Conn) (smtp.Session, error) { return loadSession(s), nil }

type loadSession loadSink

func (loadSession) Mail(string, *smtp.MailOptions) error { return nil }
func (loadSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s loadSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.got <- b
	return err
}
func (loadSession) Reset()        {}
func (loadSession) Logout() error { return nil }

// TestSendOneOverLoopback: the load generator's own SMTP client delivers
// a message octet for octet to a go-smtp server, lines that start with a
// dot included, and reports a refusal with the server's reply.
func TestSendOneOverLoopback(t *testing.T) {
	sink := loadSink{got: make(chan []byte, 4)}
	srv := smtp.NewServer(sink)
	srv.Domain = "sink.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	for _, msg := range [][]byte{
		attachMessage(3, pdfLike(20)),
		[]byte("Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n"),
	} {
		if _, _, err := sendOne(context.Background(), ln.Addr().String(), 3, msg); err != nil {
			t.Fatal(err)
		}
		if got := <-sink.got; !bytes.Equal(got, msg) {
			t.Errorf("the server got %d octets that differ from the %d sent", len(got), len(msg))
		}
	}
	srv.MaxMessageBytes = 10
	if _, _, err := sendOne(context.Background(), ln.Addr().String(), 4, []byte("Subject: big\r\n\r\nmore than ten\r\n")); err == nil ||
		!bytes.HasPrefix([]byte(err.Error()), []byte("552 ")) {
		t.Errorf("a refused message: %v, want the server's 552 reply", err)
	}
}
