package main

import (
	"crypto/subtle"
	"fmt"
	"html"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/relay"
)

// The admin listener's request rules (docs/admin-api.md, "Access rules"): one chain wraps
// every route, in this order:
//
//	Host allowlist (403) → body limit (413) → for POST/DELETE: content type
//	(415) and Origin/Sec-Fetch-Site (403) → bearer token (401) → route.
//
// The Host check defeats DNS rebinding (a page whose name resolves to
// 127.0.0.1 still sends its own name as Host). The content type and Origin
// checks defeat cross-site requests: a browser sends a cross-origin POST
// without asking first only with a form's content types (text/plain,
// urlencoded, multipart), and always names the page's origin.

// maxAdminBody bounds a request body on the admin listener.
const maxAdminBody = 1 << 20

// adminGuard holds what the chain checks; build it with newAdminGuard.
type adminGuard struct {
	port    int                  // the port the admin listener is bound to
	allowed []config.AllowedHost // listen address, [admin] allowed_hosts
	token   string               // bearer token; "" = none
	// tokenRequired: every request must carry the token (token_file set);
	// otherwise a request without Authorization is trusted (loopback)
	// and one that carries a token must carry the right one.
	tokenRequired bool
	// console: the web console serves every path that is not the API's
	// (consolePath); it does its own login and CSRF token check, so the
	// bearer token is not asked for there and its forms may be posted
	// as application/x-www-form-urlencoded.
	console bool
	log     *slog.Logger // refused requests are logged (audit)
}

// consolePath reports whether path belongs to the web console: anything
// but /api/, /metrics, /healthz and /readyz.
func (g *adminGuard) consolePath(path string) bool {
	if !g.console || strings.HasPrefix(path, "/api/") {
		return false
	}
	switch path {
	case "/metrics", "/healthz", "/readyz":
		return false
	}
	return true
}

// newAdminGuard builds the rules for a listener bound to bound (host:port;
// the real port when [admin] listen asked for port 0).
func newAdminGuard(a *config.Admin, bound string, token string, required bool, log *slog.Logger) (*adminGuard, error) {
	host, p, err := net.SplitHostPort(bound)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, err
	}
	g := &adminGuard{port: port, token: token, tokenRequired: required, log: log}
	if lh, _, err := net.SplitHostPort(a.Listen); err == nil && lh != "" {
		host = lh // the name as configured, e.g. "relay.internal"
	}
	if ah, err := config.ParseAllowedHost(host); err == nil && ah.Name != "" {
		if ip, err := netip.ParseAddr(ah.Name); err != nil || !ip.IsUnspecified() {
			g.allowed = append(g.allowed, config.AllowedHost{Name: ah.Name, Port: port})
		}
	}
	for _, s := range a.AllowedHosts {
		ah, err := config.ParseAllowedHost(s)
		if err != nil {
			return nil, fmt.Errorf("[admin] allowed_hosts %q %v", s, err)
		}
		g.allowed = append(g.allowed, ah)
	}
	return g, nil
}

// wrap returns next behind the whole chain.
func (g *adminGuard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !g.hostAllowed(r.Host) {
			g.refuse(w, r, http.StatusForbidden, fmt.Sprintf(
				"this admin server does not answer to the name %q: use its listen address, localhost, or add the name to [admin] allowed_hosts", r.Host))
			return
		}
		if r.ContentLength > maxAdminBody {
			g.refuse(w, r, http.StatusRequestEntityTooLarge, "the request body is over 1 MB")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
		console := g.consolePath(r.URL.Path)
		if status, msg := crossSite(r, console); status != 0 {
			g.refuse(w, r, status, msg)
			return
		}
		if !console && !g.authorized(r) {
			g.refuse(w, r, http.StatusUnauthorized, "missing or wrong bearer token: send \"Authorization: Bearer TOKEN\" with the admin token ([admin] token_file, else admin.token in state_dir)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers with status and msg and logs the refusal (never the
// Authorization header): {"error": msg} to the API, a small page to the
// console, which a person reads in a browser.
func (g *adminGuard) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	g.log.Warn("admin request refused", "status", status, "method", r.Method, "path", r.URL.Path,
		"host", r.Host, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
	if !g.consolePath(r.URL.Path) {
		relay.WriteJSON(w, status, map[string]string{"error": msg})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html>\n<html lang=\"en\"><meta charset=\"utf-8\"><title>relayd: request refused</title>\n"+
		"<h1>Request refused</h1>\n<p>%s.</p>\n", html.EscapeString(strings.ToUpper(msg[:1])+msg[1:]))
}

// hostAllowed applies the Host allowlist. A Host without a port is port
// 80, the default of http://.
func (g *adminGuard) hostAllowed(hostport string) bool {
	name, port := hostport, 80
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil {
			return false
		}
		name, port = h, n
	} else if strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]") {
		name = hostport[1 : len(hostport)-1]
	}
	name = strings.ToLower(name)
	if ip, err := netip.ParseAddr(name); err == nil {
		if ip.Zone() != "" {
			return false
		}
		if ip.Unmap().IsLoopback() {
			return port == g.port
		}
		name = ip.String()
	} else if name == "localhost" {
		return port == g.port
	}
	for _, a := range g.allowed {
		if a.Name == name && (a.Port == 0 || a.Port == port) {
			return true
		}
	}
	return false
}

// crossSite checks a state-changing request (anything but GET, HEAD and
// OPTIONS): the JSON content type (415; a console form's
// application/x-www-form-urlencoded on a console path), then Origin and
// Sec-Fetch-Site (403). It returns status 0 when the request may go on.
func crossSite(r *http.Request, console bool) (int, string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return 0, ""
	}
	ct := r.Header.Get("Content-Type")
	if console {
		if mt, _, err := mime.ParseMediaType(ct); r.Method != http.MethodPost || err != nil || mt != "application/x-www-form-urlencoded" {
			return http.StatusUnsupportedMediaType, "the console takes only its own forms (a POST of application/x-www-form-urlencoded)"
		}
	} else if ct != "" || (r.Method != http.MethodDelete && strings.HasPrefix(r.URL.Path, "/api/")) {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, fmt.Sprintf("a %s to the admin API must have Content-Type: application/json", r.Method)
		}
	}
	if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, "http://"+r.Host) && !strings.EqualFold(o, "https://"+r.Host) {
		return http.StatusForbidden, fmt.Sprintf("cross-site request refused: its Origin %q is not this admin server (%s)", o, r.Host)
	}
	if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") {
		return http.StatusForbidden, "cross-site request refused: the browser marked it Sec-Fetch-Site: cross-site"
	}
	return 0, ""
}

// authorized checks the bearer token in constant time.
func (g *adminGuard) authorized(r *http.Request) bool {
	got := r.Header.Get("Authorization")
	if got == "" || g.token == "" {
		return !g.tokenRequired && got == ""
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+g.token)) == 1
}
