package upstream

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Login obtains a profile's first refresh token (`relayd oauth
// login`, docs/operations.md) with the device code flow (RFC 8628) or the authorization code
// flow with PKCE (RFC 7636, S256) and a loopback redirect (RFC 8252), and
// writes it to OAuth2.RefreshTokenFile (mode 0600, atomically). The
// running daemon reads that file before its next refresh.
//
// What the person must do is printed to Out as the lines docs/operations.md shows.
// No secret (client secret, refresh or access token) is printed or put in
// an error.
type Login struct {
	Profile string // the profile's name, for messages
	OAuth2  *OAuth2
	// AuthURL and DeviceAuthURL are the provider's authorization and
	// device authorization endpoints ([profile.oauth2] auth_url and
	// device_auth_url).
	AuthURL, DeviceAuthURL string
	// AuthParams are extra query parameters of the authorization URL
	// (Google: access_type=offline, prompt=consent).
	AuthParams map[string]string
	// RootCAs verifies the endpoints: the system roots plus the profile's
	// ca_file; nil = the system roots.
	RootCAs *x509.CertPool
	Out     io.Writer
	// Wait sleeps d, or less when ctx ends (returning its error): the
	// device flow's poll interval. nil = a timer. Tests inject one.
	Wait func(ctx context.Context, d time.Duration) error
	// Listen is the browser flow's loopback listen address; "" =
	// "127.0.0.1:0" (a free port).
	Listen string
}

// oauthHTTPClient talks to OAuth2 endpoints trusting roots (nil = system).
func oauthHTTPClient(roots *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

func (l *Login) config(redirect string) *oauth2.Config {
	o := l.OAuth2
	return &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: o.Scopes, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{TokenURL: o.TokenURL, AuthURL: l.AuthURL, DeviceAuthURL: l.DeviceAuthURL,
			AuthStyle: oauth2.AuthStyleInParams}}
}

func (l *Login) context(ctx context.Context) context.Context {
	client := l.OAuth2.HTTPClient
	if client == nil {
		client = oauthHTTPClient(l.RootCAs)
	}
	return context.WithValue(ctx, oauth2.HTTPClient, client)
}

// Device runs the device code flow: it prints "To sign in, open <URL> and
// enter the code <CODE>", polls the token endpoint at the interval the
// provider asks (RFC 8628 §3.4, §3.5) until the person signed in, declined
// or the code expired, and saves the refresh token.
func (l *Login) Device(ctx context.Context) error {
	if l.DeviceAuthURL == "" {
		return fmt.Errorf("profile %s has no device_auth_url: use -flow browser, or set device_auth_url", l.Profile)
	}
	ctx = l.context(ctx)
	conf := l.config("")
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		return l.endpointError("device authorization endpoint", l.DeviceAuthURL, err)
	}
	if da.VerificationURI == "" || da.UserCode == "" || da.DeviceCode == "" {
		return fmt.Errorf("the device authorization endpoint %s gave no code: check device_auth_url", displayURL(l.DeviceAuthURL))
	}
	fmt.Fprintf(l.Out, "To sign in, open %s and enter the code %s\n", da.VerificationURI, da.UserCode)
	if !da.Expiry.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, da.Expiry)
		defer cancel()
	}
	interval := time.Duration(da.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second // RFC 8628 §3.2
	}
	// Polling is done here rather than by oauth2.Config.DeviceAccessToken,
	// whose ticker cannot be replaced in tests.
	poll := &clientcredentials.Config{ClientID: l.OAuth2.ClientID, ClientSecret: l.OAuth2.ClientSecret,
		TokenURL: l.OAuth2.TokenURL, Scopes: l.OAuth2.Scopes, AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
			"device_code": {da.DeviceCode}}}
	for {
		if err := l.wait(ctx, interval); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return errors.New("the code expired before the sign-in was done: run relayd oauth login again")
			}
			return err
		}
		tok, err := poll.Token(ctx)
		var re *oauth2.RetrieveError
		switch {
		case err == nil:
			return l.save(tok)
		case errors.As(err, &re) && re.ErrorCode == "authorization_pending":
		case errors.As(err, &re) && re.ErrorCode == "slow_down":
			interval += 5 * time.Second
		case errors.As(err, &re) && re.ErrorCode == "access_denied":
			return errors.New("the sign-in was declined: nothing was saved")
		case errors.As(err, &re) && re.ErrorCode == "expired_token":
			return errors.New("the code expired before the sign-in was done: run relayd oauth login again")
		default:
			return l.endpointError("token endpoint", l.OAuth2.TokenURL, err)
		}
	}
}

func (l *Login) wait(ctx context.Context, d time.Duration) error {
	if l.Wait != nil {
		return l.Wait(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Browser runs the authorization code flow with PKCE: it listens on a
// loopback port, prints "Open this URL in a browser: <URL>" whose
// redirect_uri is http://127.0.0.1:PORT/callback, checks the state of
// the answer (RFC 6749 §10.12), exchanges the code with the verifier and
// saves the refresh token. It gives up when ctx ends.
func (l *Login) Browser(ctx context.Context) error {
	if l.AuthURL == "" {
		return fmt.Errorf("profile %s has no auth_url: set auth_url, or use -flow device", l.Profile)
	}
	addr := l.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s for the sign-in's redirect: %v", addr, err)
	}
	defer ln.Close()
	redirect := "http://" + ln.Addr().String() + "/callback"
	conf := l.config(redirect)
	verifier, state := oauth2.GenerateVerifier(), randomState()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for k, v := range l.AuthParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	answers := make(chan loginAnswer, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		a := callbackAnswer(r.URL.Query(), state)
		if a.err != nil {
			http.Error(w, "relayd: "+a.err.Error(), http.StatusBadRequest)
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			io.WriteString(w, "relayd: signed in. You can close this window.\n")
		}
		select {
		case answers <- a:
		default:
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintf(l.Out, "Open this URL in a browser: %s\n", conf.AuthCodeURL(state, opts...))
	var a loginAnswer
	select {
	case <-ctx.Done():
		return fmt.Errorf("no sign-in arrived at %s: %v", redirect, ctx.Err())
	case a = <-answers:
	}
	if a.err != nil {
		return a.err
	}
	tok, err := conf.Exchange(l.context(ctx), a.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return l.endpointError("token endpoint", l.OAuth2.TokenURL, err)
	}
	return l.save(tok)
}

// loginAnswer is what the browser flow's redirect brought: a code, or why
// not.
type loginAnswer struct {
	code string
	err  error
}

// callbackAnswer checks the redirect's query: the state must be the one
// sent, so that nobody else's code is taken (RFC 6749 §10.12).
func callbackAnswer(q url.Values, state string) (a loginAnswer) {
	switch {
	case q.Get("state") != state:
		a.err = errors.New("the sign-in answer's state does not match the request (a stale or forged redirect): nothing was saved; run relayd oauth login again")
	case q.Get("error") != "":
		a.err = fmt.Errorf("the sign-in failed: %s (%s): nothing was saved", clip(q.Get("error")), clip(q.Get("error_description")))
	case q.Get("code") == "":
		a.err = errors.New("the sign-in answer has no code: nothing was saved")
	default:
		a.code = q.Get("code")
	}
	return a
}

func clip(s string) string { return truncate(strings.Map(printable, s), 200) }

func printable(r rune) rune {
	if r < ' ' || r == 0x7f {
		return -1
	}
	return r
}

func randomState() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// save writes the refresh token of tok and prints where.
func (l *Login) save(tok *oauth2.Token) error {
	if tok.RefreshToken == "" {
		return errors.New("the provider issued no refresh token: the scopes must include offline_access " +
			"(Microsoft), or the app must ask for offline access (Google); nothing was saved")
	}
	file := l.OAuth2.RefreshTokenFile
	if err := writeFileAtomic(file, []byte(tok.RefreshToken+"\n")); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot write the refresh token to %s (%v): check that the directory exists and "+
			"that you may write there (run as the relayd user or root)", file, err)
	}
	fmt.Fprintf(l.Out, "refresh token saved to %s\n", file)
	return nil
}

// endpointError explains a failed request to an OAuth2 endpoint without
// secrets.
func (l *Login) endpointError(what, endpoint string, err error) error {
	var re *oauth2.RetrieveError
	red := func(s string) string {
		if cs := l.OAuth2.ClientSecret; cs != "" {
			s = strings.ReplaceAll(s, cs, "[redacted]")
		}
		return clip(s)
	}
	switch {
	case errors.As(err, &re) && re.ErrorCode != "":
		msg := fmt.Sprintf("the %s %s refused: %s", what, displayURL(endpoint), re.ErrorCode)
		if d := red(re.ErrorDescription); d != "" {
			msg += " (" + d + ")"
		}
		switch re.ErrorCode {
		case "invalid_client", "unauthorized_client":
			msg += ": check client_id and the client secret, and that the app registration allows this flow " +
				"(Microsoft: \"Allow public client flows\" for the device flow)"
		case "invalid_scope":
			msg += ": check scopes"
		}
		return errors.New(msg)
	case errors.As(err, &re) && re.Response != nil:
		return fmt.Errorf("the %s %s answered HTTP %s: check the URL", what, displayURL(endpoint), re.Response.Status)
	}
	return fmt.Errorf("could not reach the %s %s (%s): check the URL and the network", what, displayURL(endpoint),
		red(netReason(context.Background(), err)))
}
