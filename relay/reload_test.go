package relay

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestReloadUnderLoad reloads the configuration while many sessions run
// (EHLO, STARTTLS on every other one, MAIL with SIZE=, DATA): every message
// is accepted and delivered, and under -race no reload writes what a
// running session reads. A reload's limits apply to the sessions after it.
func TestReloadUnderLoad(t *testing.T) {
	const workers, sessions = 6, 8
	srvTLS, cliTLS := hostileTLS(t)
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Listeners[0].TLS = "starttls"
	cfg.Listeners[0].TLSConfig = srvTLS
	r := startRelay(t, cfg)

	// Each finished session triggers a reload, so reloads interleave with
	// sessions in every state.
	var wg sync.WaitGroup
	errs := make(chan error, workers*sessions)
	finished := make(chan struct{}, workers*sessions)
	for w := range workers {
		wg.Go(func() {
			for i := range sessions {
				if err := sendOnce(r.addr, cliTLS, i%2 == 0, fmt.Sprintf("w%d-%d@example.org", w, i)); err != nil {
					errs <- err
				}
				finished <- struct{}{}
			}
		})
	}
	for i := range workers * sessions {
		<-finished
		c := *cfg
		c.Listeners = append([]Listener(nil), cfg.Listeners...)
		c.Listeners[0].MaxMessageSize = int64(10<<20 + i%2*(10<<20))
		c.Listeners[0].TLSConfig = srvTLS.Clone()
		if err := r.srv.Reload(&c); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for range workers * sessions {
		sk.wait()
	}

	// A lower limit applies to the next session, with or without TLS.
	c := *cfg
	c.Listeners = append([]Listener(nil), cfg.Listeners...)
	c.Listeners[0].MaxMessageSize = 1000
	c.Listeners[0].TLSConfig = srvTLS.Clone()
	if err := r.srv.Reload(&c); err != nil {
		t.Fatal(err)
	}
	for _, starttls := range []bool{false, true} {
		err := sendOnce(r.addr, cliTLS, starttls, "big@example.org", strings.Repeat("x", 2000))
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 552 {
			t.Errorf("2000 octets after lowering max_message_size to 1000 (STARTTLS %v): %v, want 552", starttls, err)
		}
	}
	sk.none(r)
}

// sendOnce sends one small message (or body, if given) to rcpt in a new
// session, with STARTTLS if tls, and returns the first error.
func sendOnce(addr string, cliTLS *tls.Config, starttls bool, rcpt string, body ...string) error {
	dial := smtp.Dial
	if starttls {
		dial = func(addr string) (*smtp.Client, error) { return smtp.DialStartTLS(addr, cliTLS) }
	}
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	msg := simpleBody
	if len(body) > 0 {
		msg = "Subject: big\r\n\r\n" + body[0] + "\r\n"
	}
	if err := c.Mail("app@example.com", &smtp.MailOptions{Size: int64(len(msg))}); err != nil {
		return err
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
