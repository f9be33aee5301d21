package relay

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// rawMsg is one message a rawSink took: the MAIL line and the octets of
// the message as sent (dot-stuffing removed).
type rawMsg struct {
	Mail string
	Data []byte
}

// rawSink is a scripted upstream on 127.0.0.1 for what go-smtp's server
// cannot be made to do: its EHLO offers exactly the keywords given (go-smtp
// always offers 8BITMIME). It accepts every command.
type rawSink struct {
	t    *testing.T
	addr string
	ehlo []string
	msgs chan rawMsg
}

func newRawSink(t *testing.T, ehlo ...string) *rawSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawSink{t: t, addr: ln.Addr().String(), ehlo: ehlo, msgs: make(chan rawMsg, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return s
}

func (s *rawSink) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	c.Write([]byte("220 raw.test ESMTP\r\n"))
	var mail string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		switch verb {
		case "EHLO":
			out := "250-raw.test\r\n"
			for _, kw := range s.ehlo {
				out += "250-" + kw + "\r\n"
			}
			c.Write([]byte(out + "250 HELP\r\n"))
		case "MAIL":
			mail = line
			c.Write([]byte("250 2.1.0 ok\r\n"))
		case "DATA":
			c.Write([]byte("354 go ahead\r\n"))
			data, ok := readDotted(r)
			if !ok {
				return
			}
			s.msgs <- rawMsg{Mail: mail, Data: data}
			c.Write([]byte("250 2.0.0 queued\r\n"))
		case "QUIT":
			c.Write([]byte("221 2.0.0 bye\r\n"))
			return
		default:
			c.Write([]byte("250 2.0.0 ok\r\n"))
		}
	}
}

// readDotted reads a message up to the line "." and removes the dot
// stuffing (RFC 5321 4.5.2); every other octet is kept as sent.
func readDotted(r *bufio.Reader) ([]byte, bool) {
	var data []byte
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return nil, false
		}
		if string(line) == ".\r\n" {
			return data, true
		}
		if line[0] == '.' {
			line = line[1:]
		}
		data = append(data, line...)
	}
}

// wait returns the next message or fails after 10 s.
func (s *rawSink) wait() rawMsg {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(10 * time.Second):
		s.t.Fatal("raw sink: no message arrived within 10s")
	}
	return rawMsg{}
}
