package upstream

import (
	"context"
	"encoding/json"
	"net"
	"strconv"

	"github.com/emersion/go-sasl"
)

// OAuth2 SASL mechanisms: Google's and Microsoft's XOAUTH2, and
// OAUTHBEARER (RFC 7628).
const (
	mechXOAUTH2     = "XOAUTH2"
	mechOAuthBearer = sasl.OAuthBearer
)

// oauthMechs is the order of preference with [profile.oauth2].
var oauthMechs = []string{mechXOAUTH2, mechOAuthBearer}

// oauthState is a connection's view of its profile's OAuth2 token.
type oauthState struct {
	src      *tokenSource
	stale    string // a token the upstream rejected on the previous connection
	rejected string // the token this connection presented, when the upstream rejected it
}

// rejectedToken is the access token the upstream refused on c, or "".
func (c *client) rejectedToken() string {
	if c == nil || c.oauth == nil {
		return ""
	}
	return c.oauth.rejected
}

// authenticateOAuth presents an access token with mech. A rejection (a
// 334 error challenge, RFC 7628 §3.2.2, or 535) is remembered, so that
// Pool.connect refreshes the token and tries once more.
func (c *client) authenticateOAuth(ctx context.Context, prof *Target, mech string) *Error {
	tok, xerr := c.oauth.src.token(ctx, prof, c.oauth.stale)
	if xerr != nil {
		xerr.Host = c.addr
		return xerr
	}
	sc := newOAuthSASL(mech, prof.Username, tok, c.addr)
	r, xerr := c.sasl(ctx, prof.Username, sc)
	if xerr != nil {
		return xerr
	}
	if r.code == 235 {
		c.mech = mech
		return nil
	}
	xerr = c.sessionError(StepAuth, prof.Username, r)
	xerr.Err = ErrOAuth2
	if sc.status != "" {
		xerr.Text += " (token status: " + truncate(sc.status, 80) + ")"
	}
	if sc.status != "" || r.code == 535 {
		c.oauth.rejected = tok
	}
	return xerr
}

// oauthClient is the client side of XOAUTH2 and OAUTHBEARER. On failure
// the server sends a JSON error as a 334 challenge; the client answers with
// the empty response (XOAUTH2) or %x01 (RFC 7628 §3.2.3) and the server
// then sends the final failure reply.
type oauthClient struct {
	mech   string
	ir     []byte
	status string // the "status" of the server's error challenge, "" = none
}

// newOAuthSASL builds the initial response. XOAUTH2 is
// "user=" USER ^A "auth=Bearer " TOKEN ^A ^A; OAUTHBEARER is the GS2
// header with the authzid, host, port and token (RFC 7628 §3.1).
func newOAuthSASL(mech, user, token, addr string) *oauthClient {
	if mech == mechXOAUTH2 {
		return &oauthClient{mech: mech, ir: []byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01")}
	}
	host, ps, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(ps)
	_, ir, _ := sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: token,
		Host: host, Port: port}).Start()
	return &oauthClient{mech: mech, ir: ir}
}

// Start implements sasl.Client.
func (a *oauthClient) Start() (string, []byte, error) { return a.mech, a.ir, nil }

// Next implements sasl.Client.
func (a *oauthClient) Next(challenge []byte) ([]byte, error) {
	if a.status != "" {
		return nil, sasl.ErrUnexpectedServerChallenge
	}
	var e sasl.OAuthBearerError
	if json.Unmarshal(challenge, &e) != nil || e.Status == "" {
		e.Status = "unknown"
	}
	a.status = e.Status
	if a.mech == mechXOAUTH2 {
		return []byte{}, nil
	}
	return []byte{0x01}, nil
}
