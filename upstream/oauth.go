package upstream

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// OAuth2 grants (RFC 6749 §6 and §4.4).
const (
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// ErrOAuth2 is the cause (see Error.Unwrap) of every failure to get an
// OAuth2 access token from the token endpoint and of every rejection of one
// by the upstream. Such failures are temporary: the admin fixes the
// credentials, the queue waits.
var ErrOAuth2 = errors.New("upstream: OAuth2")

// OAuth2 is a profile's [profile.oauth2] (docs/relayd.toml.5.md): where relayd gets
// the access token it presents with AUTH XOAUTH2 or OAUTHBEARER. It is
// immutable once handed to a Pool. ClientSecret and the refresh token are
// secrets: they never appear in an Error, a log line or on the SMTP wire.
type OAuth2 struct {
	TokenURL     string // the provider's token endpoint
	ClientID     string
	ClientSecret string // "" for public clients
	// RefreshTokenFile holds the refresh token (trailing white space
	// trimmed). It is read again before every refresh, so an admin can put
	// a new one in place, and rewritten atomically (mode 0600) when the
	// provider rotates the token.
	RefreshTokenFile string
	Scopes           []string
	// Grant is GrantRefreshToken or GrantClientCredentials; "" = refresh
	// token when RefreshTokenFile is set, else client credentials.
	Grant string
	// HTTPClient talks to the token endpoint; nil = one that trusts the
	// system roots, or Target.RootCAs when set (which the caller builds
	// from the system roots plus ca_file).
	HTTPClient *http.Client
}

// check finds the configuration errors no token request can fix.
func (o *OAuth2) check() error {
	u, err := url.Parse(o.TokenURL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return fmt.Errorf("oauth2 token_url %q is not an http(s) URL", displayURL(o.TokenURL))
	case o.grant() != GrantRefreshToken && o.grant() != GrantClientCredentials:
		return fmt.Errorf("unknown oauth2 grant %q: use %q or %q", o.Grant, GrantRefreshToken, GrantClientCredentials)
	case o.grant() == GrantRefreshToken && o.RefreshTokenFile == "":
		return errors.New("oauth2 grant refresh_token needs refresh_token_file")
	}
	return nil
}

func (o *OAuth2) grant() string {
	switch {
	case o.Grant != "":
		return o.Grant
	case o.RefreshTokenFile != "":
		return GrantRefreshToken
	}
	return GrantClientCredentials
}

// tokenRefreshMargin is how long before its expiry an access token is
// replaced, so that it cannot expire between AUTH and the upstream's check.
const tokenRefreshMargin = time.Minute

// tokenKey identifies one token configuration. Profiles that share it
// (through extends) share one tokenSource, so they never race each other
// rotating the same refresh token file.
type tokenKey struct {
	digest [sha256.Size]byte
	client *http.Client
	roots  *x509.CertPool
}

// oauthDigest is a digest of o, so that keys hold no secret; zero for nil.
func oauthDigest(o *OAuth2) (d [sha256.Size]byte) {
	if o == nil {
		return d
	}
	h := sha256.New()
	for _, s := range append([]string{o.TokenURL, o.ClientID, o.ClientSecret, o.RefreshTokenFile, o.grant()}, o.Scopes...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	copy(d[:], h.Sum(nil))
	return d
}

// tokenSource returns the cached token source of prof's OAuth2
// configuration, creating it on first use.
func (p *Pool) tokenSource(prof *Target) *tokenSource {
	key := tokenKey{digest: oauthDigest(prof.OAuth2), client: prof.OAuth2.HTTPClient, roots: prof.RootCAs}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.tokens[key]
	if s == nil {
		cfg := *prof.OAuth2
		s = &tokenSource{cfg: cfg, client: cfg.HTTPClient, now: p.now, log: p.log, metrics: p.metrics}
		if s.client == nil {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{RootCAs: prof.RootCAs}
			s.client = &http.Client{Transport: tr}
		}
		p.tokens[key] = s
	}
	return s
}

// tokenSource caches one configuration's access token and refreshes it
// before it expires, or when the upstream rejected it. It does what
// oauth2.ReuseTokenSource does, plus a forced refresh and the Pool's clock.
// It is safe for concurrent use; one refresh runs at a time.
type tokenSource struct {
	cfg     OAuth2
	client  *http.Client
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	tok      *oauth2.Token
	expiry   time.Time // by now(); zero = no expiry given
	refresh  string    // the refresh token in use
	fileSeen string    // RefreshTokenFile's content as last read or written
	lastTry  time.Time // the latest token request, zero = none yet
	lastErr  string    // its diagnosis when it failed, "" when it worked
}

// token returns a valid access token. stale is a token the upstream
// rejected: if it is still the cached one, a new one is fetched.
func (s *tokenSource) token(ctx context.Context, prof *Target, stale string) (string, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.valid() && (stale == "" || s.tok.AccessToken != stale) {
		return s.tok.AccessToken, nil
	}
	timeout, _ := timeouts(prof)
	tok, err := s.fetch(ctx, timeout)
	s.lastTry = s.now()
	if err != nil {
		xerr := s.tokenError(ctx, prof, err)
		s.lastErr = xerr.diagnosis()
		s.metrics.oauthRefresh(prof.Name, false)
		s.log.Warn("OAuth2 token refresh failed", "profile", prof.Name, "err", s.lastErr)
		return "", xerr
	}
	s.metrics.oauthRefresh(prof.Name, true)
	s.lastErr = ""
	s.tok, s.expiry = tok, time.Time{}
	if tok.ExpiresIn > 0 {
		s.expiry = s.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	} else if !tok.Expiry.IsZero() {
		s.expiry = tok.Expiry
	}
	s.log.Debug("OAuth2 access token obtained", "profile", prof.Name, "grant", s.cfg.grant(), "expires", s.expiry)
	return tok.AccessToken, nil
}

func (s *tokenSource) valid() bool {
	return s.tok != nil && s.tok.AccessToken != "" &&
		(s.expiry.IsZero() || s.now().Before(s.expiry.Add(-tokenRefreshMargin)))
}

// fetch asks the token endpoint for a new access token within timeout.
func (s *tokenSource) fetch(ctx context.Context, timeout time.Duration) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.client)
	// Credentials in the body: what Microsoft and Google both take, and no
	// second request to probe the style (RFC 6749 §2.3.1).
	style := oauth2.AuthStyleInParams
	if s.cfg.grant() == GrantClientCredentials {
		cc := &clientcredentials.Config{ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret,
			TokenURL: s.cfg.TokenURL, Scopes: s.cfg.Scopes, AuthStyle: style}
		return cc.Token(ctx)
	}
	rt, err := s.refreshToken()
	if err != nil {
		return nil, err
	}
	// The refresh grant with the scopes (RFC 6749 §6): Microsoft issues a
	// token for the scopes asked, and without them one that may lack
	// SMTP.Send. oauth2.Config's refresh sends no scope, so the request is
	// clientcredentials' with the grant replaced, which x/oauth2 allows.
	conf := &clientcredentials.Config{ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret,
		TokenURL: s.cfg.TokenURL, Scopes: s.cfg.Scopes, AuthStyle: style,
		EndpointParams: url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rt}}}
	tok, err := conf.Token(ctx)
	if err != nil {
		return nil, err
	}
	if tok.RefreshToken != "" && tok.RefreshToken != rt {
		s.rotate(tok.RefreshToken)
	}
	return tok, nil
}

// refreshToken is the refresh token to use: the file's, unless the file
// still holds what relayd last saw there and a rotated one is in memory
// because writing it back failed.
func (s *tokenSource) refreshToken() (string, error) {
	data, err := os.ReadFile(s.cfg.RefreshTokenFile)
	switch {
	case err != nil && s.refresh == "":
		return "", errRefreshFile{err: err}
	case err == nil:
		if f := strings.TrimSpace(string(data)); f != s.fileSeen {
			s.refresh, s.fileSeen = f, f
		}
	}
	if s.refresh == "" {
		return "", errRefreshFile{err: errors.New("the file is empty")}
	}
	return s.refresh, nil
}

// rotate keeps a new refresh token the provider issued (RFC 6749 §6) and
// writes it back, so that it survives a restart.
func (s *tokenSource) rotate(rt string) {
	s.refresh = rt
	if err := writeFileAtomic(s.cfg.RefreshTokenFile, []byte(rt+"\n")); err != nil {
		s.log.Error("cannot write the rotated OAuth2 refresh token back: relayd keeps it in memory until a restart",
			"file", s.cfg.RefreshTokenFile, "err", err)
		return
	}
	s.fileSeen = rt
	s.log.Info("OAuth2 refresh token rotated by the provider and written back", "file", s.cfg.RefreshTokenFile)
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, mode 0600 and the old file's owner (a new file: the
// directory's), fsync, rename, fsync of
// the directory. A crash leaves either the old or the new content, never a
// mix.
func writeFileAtomic(path string, data []byte) error {
	old, statErr := os.Stat(path)
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if statErr == nil {
		sameOwner(f, old) // `relayd test` as root must not take the file from the relayd user
	} else if dir, err := os.Stat(filepath.Dir(path)); err == nil {
		sameOwner(f, dir) // a first `relayd oauth login` as root: the owner of /var/lib/relayd
	}
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// errRefreshFile is a refresh token file that cannot be used.
type errRefreshFile struct{ err error }

// Error implements error.
func (e errRefreshFile) Error() string { return e.err.Error() }

// tokenError is the temporary *Error of a failed token request: the
// endpoint, the OAuth error code (RFC 6749 §5.2) and what to do. It never
// holds the client secret, a refresh token or an access token.
func (s *tokenSource) tokenError(ctx context.Context, prof *Target, err error) *Error {
	endpoint := displayURL(s.cfg.TokenURL)
	var text, code string
	var re *oauth2.RetrieveError
	var fe errRefreshFile
	switch {
	case errors.As(err, &fe):
		code = "refresh_token_file"
		text = fmt.Sprintf("cannot read the OAuth2 refresh token from %s (%v): run `relayd oauth login %s` "+
			"to sign in and write it (queued mail is retried)", s.cfg.RefreshTokenFile, fe.err, prof.Name)
	case errors.As(err, &re) && re.ErrorCode != "":
		code = re.ErrorCode
		text = fmt.Sprintf("the OAuth2 token endpoint %s refused the %s grant: %s", endpoint, s.cfg.grant(), code)
		if d := s.redact(re.ErrorDescription); d != "" {
			text += " (" + truncate(d, 200) + ")"
		}
		text += ": " + s.oauthHint(prof.Name, code)
	case errors.As(err, &re) && re.Response != nil:
		code = "http_" + fmt.Sprint(re.Response.StatusCode)
		text = fmt.Sprintf("the OAuth2 token endpoint %s answered HTTP %s: the provider has trouble, "+
			"or token_url is wrong", endpoint, re.Response.Status)
	default:
		code = "request"
		text = fmt.Sprintf("could not get an OAuth2 access token from %s (%s): check token_url and the "+
			"network", endpoint, s.redact(netReason(ctx, err)))
	}
	return &Error{Profile: prof.Name, Step: StepAuth, Temporary: true, Subject: prof.Username, Text: text,
		Err: fmt.Errorf("%w: token endpoint: %s", ErrOAuth2, code)}
}

// oauthHint tells the admin what to do about an RFC 6749 §5.2 error code.
func (s *tokenSource) oauthHint(profile, code string) string {
	switch code {
	case "invalid_grant":
		if s.cfg.grant() == GrantRefreshToken {
			return fmt.Sprintf("the refresh token was revoked or has expired: run `relayd oauth login %s` to sign in "+
				"again, which writes a new refresh token to %s (queued mail is retried)", profile, s.cfg.RefreshTokenFile)
		}
		return "the provider refused the grant; check the app registration (queued mail is retried)"
	case "invalid_client", "unauthorized_client":
		return "client_id or client_secret is wrong, expired, or the app may not use this grant (queued mail is retried)"
	case "invalid_scope":
		return "the scopes are wrong for this provider or not granted to the app (queued mail is retried)"
	}
	return "check the profile's oauth2 settings (queued mail is retried)"
}

func (s *tokenSource) redact(text string) string {
	for _, secret := range []string{s.cfg.ClientSecret, s.refresh} {
		if secret != "" {
			text = strings.ReplaceAll(text, secret, "[redacted]")
		}
	}
	if s.tok != nil && s.tok.AccessToken != "" {
		text = strings.ReplaceAll(text, s.tok.AccessToken, "[redacted]")
	}
	return text
}

// displayURL is u without user information, query or fragment.
func displayURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(invalid token_url)"
	}
	p.User, p.RawQuery, p.Fragment = nil, "", ""
	return p.String()
}
