package upstream

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
)

// Mechanism names (RFC 4954, RFC 2195, draft-murchison-sasl-login).
const (
	mechCRAMMD5 = "CRAM-MD5"
	mechPlain   = "PLAIN"
	mechLogin   = "LOGIN"
)

// bestMechs is the order used when auth_mechanisms is empty:
// CRAM-MD5 never sends the password itself, PLAIN takes one round trip.
var bestMechs = []string{mechCRAMMD5, mechPlain, mechLogin}

// maxSASLSteps bounds the challenges of one AUTH exchange.
const maxSASLSteps = 8

var errSASLSteps = errors.New("too many AUTH challenges")

// authenticate logs in when the profile has a username. The password only
// goes over TLS, or in plain text when the admin chose tls = "none".
//
// Upstream AUTH failures are temporary, even 535: a changed or expired
// password would otherwise bounce every queued message, while the admin can
// fix the profile and let the queue drain (the diagnosis says so, and
// [notify] admin gets told).
func (c *client) authenticate(ctx context.Context, prof *Target) *Error {
	if prof.Username == "" && prof.OAuth2 == nil {
		return nil
	}
	if !c.tls && tlsMode(prof) != TLSNone {
		what := "the password"
		if prof.OAuth2 != nil {
			what = "the OAuth2 access token"
		}
		return c.localError(StepStartTLS, fmt.Sprintf("%s does not offer STARTTLS, and relayd never sends "+
			"%s for %s over an unencrypted connection: use a port with TLS (tls = \"starttls-required\" "+
			"or \"implicit\"), or tls = \"none\" only on a trusted network", c.addr, what, prof.Username))
	}
	mech, xerr := c.chooseMech(prof)
	if xerr != nil {
		return xerr
	}
	if prof.OAuth2 != nil {
		return c.authenticateOAuth(ctx, prof, mech)
	}
	r, xerr := c.sasl(ctx, prof.Username, newSASL(mech, prof.Username, prof.Password))
	if xerr != nil {
		return xerr
	}
	if r.code != 235 {
		return c.sessionError(StepAuth, prof.Username, r)
	}
	c.mech = mech
	return nil
}

// chooseMech picks the first allowed mechanism the server offers.
func (c *client) chooseMech(prof *Target) (string, *Error) {
	offered := strings.Fields(strings.ToUpper(c.ext["AUTH"]))
	allowed := allowedMechs(prof)
	for _, m := range allowed {
		if slices.Contains(offered, m) {
			return m, nil
		}
	}
	xerr := c.localError(StepAuth, fmt.Sprintf("%s offers no AUTH on this connection: check the port "+
		"(587 is the usual submission port) and tls, or remove username if it relays without login", c.addr))
	if len(offered) > 0 {
		xerr.Text = fmt.Sprintf("%s offers AUTH %s, none of the allowed mechanisms (%s): change auth_mechanisms",
			c.addr, strings.Join(offered, " "), strings.Join(allowed, " "))
	}
	xerr.Subject = prof.Username
	return "", xerr
}

// allowedMechs is the profile's auth_mechanisms that relayd implements for
// its kind of credentials, in order. With OAuth2 they are XOAUTH2 and
// OAUTHBEARER: those that auth_mechanisms names, else both, XOAUTH2 first
// (what Gmail and Office 365 offer).
func allowedMechs(prof *Target) []string {
	known := bestMechs
	if prof.OAuth2 != nil {
		known = oauthMechs
	}
	if len(prof.AuthMechanisms) == 0 {
		return known
	}
	var allowed []string
	for _, m := range prof.AuthMechanisms {
		if m = strings.ToUpper(m); slices.Contains(known, m) {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 && prof.OAuth2 != nil {
		return known
	}
	return allowed
}

// sasl runs one AUTH exchange (RFC 4954 §4) and returns the final reply.
// Nothing of it is logged.
func (c *client) sasl(ctx context.Context, user string, sc sasl.Client) (*reply, *Error) {
	mech, ir, err := sc.Start()
	if err != nil {
		return nil, c.localError(StepAuth, err.Error())
	}
	// Secrets are hidden where they are sent, never by searching text for
	// them (which mangles the server's words and reveals a short password
	// by elimination): while authing, logSent shows "AUTH MECH <redacted>"
	// and every response line as "<redacted>" (transcript.go); nothing of
	// the exchange reaches a log, and an Error carries only the server's
	// reply or a local reason.
	c.authing = true
	defer func() { c.authing = false }()
	line := "AUTH " + mech
	if ir != nil {
		line += " " + encode64(ir)
	}
	r, err := c.cmd(line)
	for step := 0; err == nil && r.code == 334; step++ {
		var challenge, resp []byte
		challenge, err = base64.StdEncoding.DecodeString(strings.TrimSpace(r.text))
		if err == nil && step == maxSASLSteps {
			err = errSASLSteps
		}
		if err == nil {
			resp, err = sc.Next(challenge)
		}
		if err != nil {
			c.cmd("*") // cancel the exchange (RFC 4954 §4); the reply does not matter
			err = fmt.Errorf("AUTH %s: %w", mech, err)
			xerr := c.localError(StepAuth, err.Error())
			xerr.Subject, xerr.Err = user, err
			return nil, xerr
		}
		// A continuation response is plain base64; an empty one is an
		// empty line ("=" only stands for an empty initial response).
		r, err = c.cmd(base64.StdEncoding.EncodeToString(resp))
	}
	if err != nil {
		xerr := c.netError(ctx, StepAuth, err)
		xerr.Subject = user
		return nil, xerr
	}
	return r, nil
}

// encode64 is an AUTH response: base64, "=" for an empty one (RFC 4954 §4).
func encode64(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

func newSASL(mech, user, pass string) sasl.Client {
	switch mech {
	case mechCRAMMD5:
		return &cramMD5{user: user, pass: pass}
	case mechLogin:
		return &login{user: user, pass: pass}
	}
	return sasl.NewPlainClient("", user, pass)
}

// cramMD5 is the CRAM-MD5 client of RFC 2195: the reply to the server's
// challenge is "user HEX(HMAC-MD5(password, challenge))".
type cramMD5 struct{ user, pass string }

// Start implements sasl.Client.
func (a *cramMD5) Start() (string, []byte, error) { return mechCRAMMD5, nil, nil }

// Next implements sasl.Client.
func (a *cramMD5) Next(challenge []byte) ([]byte, error) {
	h := hmac.New(md5.New, []byte(a.pass))
	h.Write(challenge)
	return []byte(a.user + " " + hex.EncodeToString(h.Sum(nil))), nil
}

// login is the LOGIN client. Unlike go-sasl's it sends no initial response
// and answers by the prompt ("Username:" / "Password:", any case), falling
// back to the order, as servers word the prompts differently.
type login struct {
	user, pass string
	step       int
}

// Start implements sasl.Client.
func (a *login) Start() (string, []byte, error) { return mechLogin, nil, nil }

// Next implements sasl.Client.
func (a *login) Next(challenge []byte) ([]byte, error) {
	prompt := strings.ToLower(string(challenge))
	a.step++
	switch {
	case strings.Contains(prompt, "user"):
		return []byte(a.user), nil
	case strings.Contains(prompt, "pass"):
		return []byte(a.pass), nil
	case a.step == 1:
		return []byte(a.user), nil
	case a.step == 2:
		return []byte(a.pass), nil
	}
	return nil, sasl.ErrUnexpectedServerChallenge
}
