package upstream

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

const (
	eightBitBody = "From: a@example.com\r\nSubject: hi\r\n\r\nGrüße\r\n"
	sevenBitBody = "From: a@example.com\r\nSubject: hi\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n"
)

// eightBitEnv is an 8-bit message whose SevenBit gives sevenBitBody (or
// err) and counts its calls.
func eightBitEnv(err error, calls *atomic.Int32) *Envelope {
	env := testEnv("bob@example.org")
	env.Body, env.EightBit = []byte(eightBitBody), true
	env.SevenBit = func() ([]byte, error) {
		calls.Add(1)
		if err != nil {
			return nil, err
		}
		return []byte(sevenBitBody), nil
	}
	return env
}

func bodyLines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") }

// TestEightBitToSevenBitUpstream: an upstream that does not offer 8BITMIME
// gets the 7-bit form of the message (SevenBit, which relay makes by
// re-encoding before DKIM signing) and no BODY= parameter; one that offers
// it gets the message as it is with BODY=8BITMIME (RFC 6152).
func TestEightBitToSevenBitUpstream(t *testing.T) {
	peer := newRawPeer(t, rawNormal)
	peer.ehlo = []string{"PIPELINING", "SIZE 1000000"}
	p, _ := newTestPool(t, Options{})
	var calls atomic.Int32
	mustSend(t, p, peer.profile("p"), eightBitEnv(nil, &calls))
	msgs := peer.messages()
	if len(msgs) != 1 || !slices.Equal(msgs[0], bodyLines(sevenBitBody)) {
		t.Fatalf("upstream without 8BITMIME got %q, want the 7-bit form", msgs)
	}
	for _, l := range peer.received() {
		if strings.HasPrefix(l, "MAIL FROM:") && (strings.Contains(l, "BODY=") ||
			!strings.Contains(l, "SIZE="+strconv.Itoa(len(sevenBitBody)))) {
			t.Errorf("MAIL command %q: want no BODY= and the SIZE of the 7-bit form", l)
		}
	}

	// A message that says it is 7-bit but is not (a DSN quoting 8-bit
	// headers) is checked by its octets.
	env := eightBitEnv(nil, &calls)
	env.EightBit = false
	mustSend(t, p, peer.profile("p"), env)
	if msgs := peer.messages(); len(msgs) != 2 || !slices.Equal(msgs[1], bodyLines(sevenBitBody)) {
		t.Fatalf("unlabelled 8-bit message: upstream got %q", msgs[len(msgs)-1])
	}

	with := newRawPeer(t, rawNormal) // offers 8BITMIME
	mustSend(t, p, with.profile("p"), eightBitEnv(nil, &calls))
	if msgs := with.messages(); len(msgs) != 1 || !slices.Equal(msgs[0], bodyLines(eightBitBody)) {
		t.Fatalf("upstream with 8BITMIME got %q, want the message unchanged", msgs)
	}
	if !slices.ContainsFunc(with.received(), func(l string) bool {
		return strings.HasPrefix(l, "MAIL FROM:") && strings.HasSuffix(l, " BODY=8BITMIME")
	}) {
		t.Errorf("no BODY=8BITMIME in %q", with.received())
	}
	if calls.Load() != 2 {
		t.Errorf("SevenBit called %d times, want 2 (only for the upstream without 8BITMIME)", calls.Load())
	}
}

// TestEightBitImpossibleBounces: when the message cannot be made 7-bit
// (8-bit header fields) or nothing can re-encode it, the transaction fails
// permanently with 5.6.3 before MAIL, and no 8-bit octet is sent.
func TestEightBitImpossibleBounces(t *testing.T) {
	peer := newRawPeer(t, rawNormal)
	peer.ehlo = nil
	p, _ := newTestPool(t, Options{})
	var calls atomic.Int32
	cause := errors.New("a header field holds 8-bit octets")
	e := sendErr(t, p, peer.profile("p"), eightBitEnv(cause, &calls))
	wantEnhanced(t, e, "5.6.3", false, "does not offer 8BITMIME")
	if !strings.Contains(e.Error(), cause.Error()) || !errors.Is(e, cause) {
		t.Errorf("error %q does not carry the cause", e)
	}
	env := eightBitEnv(nil, &calls)
	env.SevenBit = nil
	e = sendErr(t, p, peer.profile("p"), env)
	wantEnhanced(t, e, "5.6.3", false, "does not offer 8BITMIME")
	for _, l := range peer.received() {
		if strings.HasPrefix(l, "MAIL") || l == "DATA" {
			t.Errorf("sent %q", l)
		}
	}
	if len(peer.messages()) != 0 {
		t.Errorf("a message was sent")
	}
}
