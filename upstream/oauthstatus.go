package upstream

import (
	"os"
	"strings"
	"time"
)

// OAuthStatus is what the running daemon knows about one profile's OAuth2
// token (`relayd oauth status`). It holds no secret.
type OAuthStatus struct {
	Grant string // GrantRefreshToken or GrantClientCredentials
	// RefreshTokenFile is the configured file; RefreshTokenPresent
	// whether it holds a token now (always false for client credentials).
	RefreshTokenFile    string
	RefreshTokenPresent bool
	// AccessTokenExpiry is when the access token relayd holds expires;
	// zero when it holds none, or the provider gave no expiry.
	AccessTokenExpiry time.Time
	HasAccessToken    bool
	// LastRefresh is the time of the latest token request, zero when
	// there was none since the start; LastError its diagnosis when it
	// failed ("oauth: ...").
	LastRefresh time.Time
	LastError   string
}

// OAuthStatus reports prof's OAuth2 token state. It makes no request: a
// profile that has not delivered since the start shows no access token.
// It is safe for concurrent use; prof.OAuth2 must be non-nil.
func (p *Pool) OAuthStatus(prof *Target) OAuthStatus {
	st := OAuthStatus{Grant: prof.OAuth2.grant(), RefreshTokenFile: prof.OAuth2.RefreshTokenFile}
	if st.Grant == GrantRefreshToken {
		st.RefreshTokenPresent = RefreshTokenPresent(st.RefreshTokenFile)
	}
	key := tokenKey{digest: oauthDigest(prof.OAuth2), client: prof.OAuth2.HTTPClient, roots: prof.RootCAs}
	p.mu.Lock()
	s := p.tokens[key]
	p.mu.Unlock()
	if s == nil {
		return st
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.tok.AccessToken != "" {
		st.HasAccessToken, st.AccessTokenExpiry = true, s.expiry
	}
	if st.Grant == GrantRefreshToken && !st.RefreshTokenPresent && s.refresh != "" && s.lastErr == "" {
		st.RefreshTokenPresent = true // rotated, kept in memory: writing it back failed
	}
	st.LastRefresh, st.LastError = s.lastTry, s.lastErr
	return st
}

// RefreshTokenPresent reports whether file holds a refresh token (is
// readable and not blank).
func RefreshTokenPresent(file string) bool {
	if file == "" {
		return false
	}
	data, err := os.ReadFile(file)
	return err == nil && strings.TrimSpace(string(data)) != ""
}
