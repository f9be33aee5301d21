package upstream

import (
	"slices"
	"testing"
	"time"
)

// Wire-level tests of PIPELINING (RFC 2920 §3.1): with it, DATA goes in the
// same write as RSET, MAIL and RCPT, and its reply is read with theirs.

const (
	pipeEHLO  = "EHLO client.test"
	pipeMAIL  = "MAIL FROM:<sender@example.com>"
	pipeBob   = "RCPT TO:<bob@example.org>"
	pipeCarol = "RCPT TO:<carol@example.org>"
)

// pipelinePeer is a rawPeer that announces PIPELINING.
func pipelinePeer(t *testing.T) *rawPeer {
	t.Helper()
	peer := newRawPeer(t, rawNormal)
	peer.ehlo = []string{"8BITMIME", "PIPELINING"}
	return peer
}

func wantLines(t *testing.T, peer *rawPeer, want ...string) {
	t.Helper()
	if got := peer.received(); !slices.Equal(got, want) {
		t.Errorf("command lines\n got %q\nwant %q", got, want)
	}
}

func wantConns(t *testing.T, peer *rawPeer, want int) {
	t.Helper()
	if n := len(peer.accepted); n != want {
		t.Errorf("%d connections accepted, want %d", n, want)
	}
}

func wantRcpt550(t *testing.T, res *Result, n int) {
	t.Helper()
	if res.Err != nil || len(res.Rcpt) != n {
		t.Fatalf("Err %v, %d recipient results, want nil and %d", res.Err, len(res.Rcpt), n)
	}
	for i, e := range res.Rcpt {
		if e == nil {
			t.Errorf("recipient %d accepted, want refused", i)
			continue
		}
		wantStep(t, e, StepRcpt, false)
		if e.Code != 550 || e.Enhanced != "5.1.1" {
			t.Errorf("recipient %d: reply %d %s", i, e.Code, e.Enhanced)
		}
	}
}

// TestPipelinedData: the peer answers nothing from MAIL (or RSET) on until
// it has read DATA, so a client that waits for any reply of the group
// before sending DATA times out instead of delivering.
func TestPipelinedData(t *testing.T) {
	peer := pipelinePeer(t)
	peer.holdFrom = []string{"RSET", "MAIL"}
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("p")
	env := testEnv("bob@example.org", "carol@example.org")
	env.Body = []byte("Subject: dots\r\n\r\n.hidden\r\n..two\r\nend\r\n")

	mustSend(t, p, prof, env)
	wantLines(t, peer, pipeEHLO, pipeMAIL, pipeBob, pipeCarol, "DATA")
	want := []string{"Subject: dots", "", "..hidden", "...two", "end"}
	if got := peer.messages(); len(got) != 1 || !slices.Equal(got[0], want) {
		t.Errorf("bodies on the wire %q, want [%q]", got, want)
	}

	// On the pooled connection RSET leads the same group.
	mustSend(t, p, prof, testEnv("bob@example.org"))
	wantLines(t, peer, pipeEHLO, pipeMAIL, pipeBob, pipeCarol, "DATA", "RSET", pipeMAIL, pipeBob, "DATA")
	if got := peer.messages(); len(got) != 2 {
		t.Errorf("%d messages, want 2", len(got))
	}
	wantConns(t, peer, 1)
}

// TestPipeliningOffWaitsForRcpt: without PIPELINING the client waits for the RCPT
// reply before DATA, so a peer holding that reply back sees no DATA.
func TestPipeliningOffWaitsForRcpt(t *testing.T) {
	peer := newRawPeer(t, rawNormal) // 8BITMIME only
	peer.holdFrom = []string{"RCPT"}
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("p")
	prof.Timeout = 300 * time.Millisecond
	e := sendErr(t, p, prof, testEnv("bob@example.org"))
	wantStep(t, e, StepRcpt, true)
	if e.Text != "timeout" || contains(peer.received(), "DATA") {
		t.Errorf("text %q, lines %q: DATA sent before the RCPT reply", e.Text, peer.received())
	}
}

// TestPipelinedNoRecipientDataRefused: every RCPT gets 550 and the pipelined
// DATA 554; no body is sent and the connection stays in the pool.
func TestPipelinedNoRecipientDataRefused(t *testing.T) {
	peer := pipelinePeer(t)
	peer.replies["RCPT"] = "550 5.1.1 no such user"
	peer.replies["DATA"] = "554 5.5.1 no valid recipients"
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("p")
	env := testEnv("bob@example.org", "carol@example.org")

	wantRcpt550(t, p.Send(t.Context(), prof, env), 2)
	// The second transaction's lines come after anything else the client
	// sent on the connection: a body would show up between the two.
	wantRcpt550(t, p.Send(t.Context(), prof, env), 2)
	wantLines(t, peer, pipeEHLO, pipeMAIL, pipeBob, pipeCarol, "DATA", "RSET", pipeMAIL, pipeBob, pipeCarol, "DATA")
	if got := peer.messages(); len(got) != 0 {
		t.Errorf("bodies sent: %q", got)
	}
	wantConns(t, peer, 1)
}

// TestPipelinedNoRecipientData354: a broken server answers DATA with 354
// though it refused every recipient; it gets an empty message (a lone ".")
// and the connection is not used again.
func TestPipelinedNoRecipientData354(t *testing.T) {
	peer := pipelinePeer(t)
	peer.replies["RCPT"] = "550 5.1.1 no such user"
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("p")
	env := testEnv("bob@example.org", "carol@example.org")

	wantRcpt550(t, p.Send(t.Context(), prof, env), 2)
	wantLines(t, peer, pipeEHLO, pipeMAIL, pipeBob, pipeCarol, "DATA", "QUIT")
	if got := peer.messages(); len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("bodies on the wire %q, want one empty message", got)
	}
	wantConns(t, peer, 1)

	wantRcpt550(t, p.Send(t.Context(), prof, env), 2)
	wantConns(t, peer, 2)
	if got := peer.received(); len(got) < 7 || got[6] != pipeEHLO {
		t.Errorf("second message: lines %q, want a new session", got)
	}
}

// TestPipelinedMailRefused: MAIL gets 550, RCPT and DATA 503; the DATA
// reply is read with the others and the transaction fails at MAIL.
func TestPipelinedMailRefused(t *testing.T) {
	peer := pipelinePeer(t)
	peer.replies["MAIL"] = "550 5.7.1 sender refused"
	peer.replies["RCPT"] = "503 5.5.1 MAIL first"
	peer.replies["DATA"] = "503 5.5.1 MAIL first"
	p, _ := newTestPool(t, Options{})
	res := p.Send(t.Context(), peer.profile("p"), testEnv("bob@example.org"))
	if res.Err == nil {
		t.Fatalf("Send succeeded, Rcpt %v", res.Rcpt)
	}
	wantStep(t, res.Err, StepMail, false)
	if e := res.Err; e.Code != 550 || e.Enhanced != "5.7.1" || e.Subject != "sender@example.com" {
		t.Errorf("reply %d %s subject %q", e.Code, e.Enhanced, e.Subject)
	}
	if res.Rcpt[0] != nil {
		t.Errorf("recipient error %v beside the MAIL failure", res.Rcpt[0])
	}
	// QUIT, whose reply the client reads, comes after anything else sent.
	wantLines(t, peer, pipeEHLO, pipeMAIL, pipeBob, "DATA", "QUIT")
	if got := peer.messages(); len(got) != 0 {
		t.Errorf("bodies sent: %q", got)
	}
}

// TestPipelinedSomeRecipients: one recipient refused, the other accepted;
// the body follows the pipelined 354 and the connection stays usable.
func TestPipelinedSomeRecipients(t *testing.T) {
	peer := pipelinePeer(t)
	peer.replies[pipeCarol] = "550 5.1.1 no such user"
	p, _ := newTestPool(t, Options{})
	prof := peer.profile("p")
	res := p.Send(t.Context(), prof, testEnv("bob@example.org", "carol@example.org"))
	if res.Err != nil || res.Rcpt[0] != nil || res.Rcpt[1] == nil {
		t.Fatalf("Err %v Rcpt %v", res.Err, res.Rcpt)
	}
	wantStep(t, res.Rcpt[1], StepRcpt, false)
	if got := peer.messages(); len(got) != 1 || !slices.Contains(got[0], "..leading dot") {
		t.Errorf("bodies on the wire %q", got)
	}
	mustSend(t, p, prof, testEnv("bob@example.org"))
	wantLines(t, peer, pipeEHLO, pipeMAIL, pipeBob, pipeCarol, "DATA", "RSET", pipeMAIL, pipeBob, "DATA")
	wantConns(t, peer, 1)
}
