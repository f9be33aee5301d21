package upstream

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
)

// TestRedactWhereSent: AUTH payloads are hidden where relayd sends them,
// never by searching text for the password. With a password that is a
// piece of the server's words ("x", "ample" in "example"), the server's
// replies reach the transcript and the diagnoses intact, and no form of
// the secret that went over the wire (plain or base64) shows in the
// transcript, the logs or the errors.
func TestRedactWhereSent(t *testing.T) {
	const rcptReply = "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown"
	const authReply = "535 5.7.8 <" + testUser + ">: authentication failed (example)"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, pass := range []string{"x", "ample", "Very-Distinct-Pa55"} {
		for _, mech := range []string{"PLAIN", "LOGIN"} {
			t.Run(pass+"/"+mech, func(t *testing.T) {
				plainIR := b64("\x00" + testUser + "\x00" + pass)
				peer := newRawPeer(t, rawNormal)
				peer.ehlo = []string{"AUTH PLAIN LOGIN"}
				peer.replies["AUTH PLAIN "+plainIR] = "235 2.7.0 accepted"
				peer.replies["AUTH LOGIN"] = "334 VXNlcm5hbWU6"
				peer.replies[b64(testUser)] = "334 UGFzc3dvcmQ6"
				peer.replies[b64(pass)] = "235 2.7.0 accepted"
				peer.replies["RCPT TO:<nobody@example.test>"] = rcptReply
				p, logs := newTestPool(t, Options{})
				prof := peer.profile("o365")
				prof.Username, prof.Password, prof.AuthMechanisms = testUser, pass, []string{mech}
				prof.Transcript = filepath.Join(t.TempDir(), "t.log")

				res := p.Send(context.Background(), prof, testEnv("nobody@example.test", "ok@example.org"))
				if res.Err != nil || len(res.Rcpt) != 2 || res.Rcpt[0] == nil || res.Rcpt[1] != nil {
					t.Fatalf("Send: %v %v", res.Err, res.Rcpt)
				}
				rcptErr := res.Rcpt[0].Error()
				if !strings.Contains(rcptErr, rcptReply) {
					t.Errorf("diagnosis does not quote the server intact:\n%s\nwant %q", rcptErr, rcptReply)
				}

				// A refused login: the reply names the account, intact.
				bad := *prof
				bad.Password = pass + "-old"
				bad.Transcript = prof.Transcript
				peer.replies["AUTH PLAIN "+b64("\x00"+testUser+"\x00"+bad.Password)] = authReply
				peer.replies[b64(bad.Password)] = authReply
				steps := p.Probe(context.Background(), &bad, ProbeOptions{})
				authErr := lastErr(t, steps)
				if authErr.Step != StepAuth || !strings.Contains(authErr.Error(), authReply) ||
					!strings.Contains(authErr.Error(), "authentication failed for "+testUser+" at ") {
					t.Errorf("auth diagnosis:\n%s\nwant it to quote %q", authErr, authReply)
				}
				p.Close()

				lines := readTranscript(t, prof.Transcript)
				text := strings.Join(lines, "\n")
				for _, want := range []string{"S: " + rcptReply, "S: " + authReply, "C: RCPT TO:<nobody@example.test>",
					"C: MAIL FROM:<sender@example.com>"} {
					if countLines(lines, want) == 0 {
						t.Errorf("transcript lacks %q:\n%s", want, text)
					}
				}
				if mech == "PLAIN" {
					if n := countLines(lines, "C: AUTH PLAIN <redacted>"); n != 2 {
						t.Errorf("%d redacted AUTH PLAIN lines, want 2:\n%s", n, text)
					}
				} else if n := countLines(lines, "] C: <redacted>"); n != 4 { // user and password, twice
					t.Errorf("%d redacted LOGIN responses, want 4:\n%s", n, text)
				}
				if strings.Contains(text, "[redacted]") || strings.Contains(rcptErr+authErr.Error(), "[redacted]") {
					t.Errorf("text was searched and replaced:\n%s\n%s\n%s", text, rcptErr, authErr)
				}

				// What went over the wire, and must show nowhere else.
				wire := strings.Join(peer.received(), "\n")
				sent := []string{b64(pass), b64(bad.Password)}
				if mech == "PLAIN" {
					sent = []string{plainIR, b64("\x00" + testUser + "\x00" + bad.Password)}
				}
				if len(pass) > 5 { // a distinctive password is never shown in plain either
					sent = append(sent, pass)
				}
				all := text + "\n" + logs.String() + "\n" + rcptErr + "\n" + authErr.Error()
				for _, st := range steps {
					all += "\n" + st.Detail
				}
				for _, s := range sent {
					if !strings.Contains(wire, s) && s != pass {
						t.Errorf("the peer never received %q: the test proves nothing", s)
					}
					if strings.Contains(all, s) {
						t.Errorf("secret %q shows in the transcript, the logs or a diagnosis:\n%s", s, all)
					}
				}
			})
		}
	}
}
