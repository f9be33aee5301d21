// Package console is relayd's web console (docs/console.md): the seeds' settings
// pages — Overview, Outbox, a message, Servers — served on the admin
// listener for the office admins and agents who will not type `relayd
// queue`. It renders html/template pages from assets embedded in the
// binary, keeps its own cookie sessions and CSRF tokens, and calls the
// same operations of relay as the JSON API (never the API over HTTP).
//
// cmd/relayd mounts Handler at "/" behind the admin listener's one
// middleware chain (Host allowlist, body limit, Origin/Sec-Fetch-Site);
// this package adds the login, the roles (admin with the admin token, team
// users with their [[team.user]] password) and the CSRF check of every
// form. It imports relay; relay never imports it.
package console

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/relayd/relayd/relay"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure a Console. Server and AdminToken are required.
type Options struct {
	Server *relay.Server
	// AdminToken returns the admin token ([admin] token_file, else
	// <state_dir>/admin.token); logging in with it makes a person admin.
	AdminToken func() string
	// Secure marks the session cookie Secure: the admin listener has TLS.
	Secure bool
	// SessionTimeout is how long a login lasts; default 12h.
	SessionTimeout time.Duration
	Logger         *slog.Logger     // nil = discard
	Now            func() time.Time // nil = time.Now
}

// Console serves the web console. Safe for concurrent use.
type Console struct {
	opts     Options
	srv      *relay.Server
	log      *slog.Logger
	now      func() time.Time
	tmpl     map[string]*template.Template
	sessions sessions
}

// New builds a Console; it panics only if the embedded templates do not
// parse (a build error, caught by every test).
func New(opts Options) *Console {
	c := &Console{opts: opts, srv: opts.Server, log: opts.Logger, now: opts.Now}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "console")
	if c.now == nil {
		c.now = time.Now
	}
	if c.opts.SessionTimeout <= 0 {
		c.opts.SessionTimeout = 12 * time.Hour
	}
	c.tmpl = parseTemplates()
	return c
}

// routes is every route of the console, for Handler and Patterns.
func (c *Console) routes() []struct {
	pattern string
	h       http.HandlerFunc
} {
	return []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /login", c.loginPage},
		{"POST /login", c.login},
		{"POST /logout", c.authed(c.logout)},
		{"GET /{$}", c.authed(c.overview)},
		{"GET /outbox", c.authed(c.outbox)},
		{"POST /outbox", c.authed(c.outboxAction)},
		{"GET /outbox/{id}", c.authed(c.message)},
		{"GET /servers", c.authed(c.servers)},
		{"POST /servers/{name}/test", c.authed(c.serverTest)},
		{"POST /servers/{name}/pause", c.authed(c.serverPause)},
		{"POST /servers/{name}/resume", c.authed(c.serverResume)},
		{"GET /static/", c.static},
	}
}

// Patterns returns the "METHOD /path" patterns of the console's routes
// (HTML pages, not part of the /api/ document).
func Patterns() []string {
	var out []string
	for _, r := range (&Console{}).routes() {
		out = append(out, r.pattern)
	}
	return out
}

// Handler serves the console's pages under "/". Every response carries
// a strict Content-Security-Policy: scripts and styles only from the
// embedded assets, nothing from elsewhere, no framing.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range c.routes() {
		mux.HandleFunc(r.pattern, r.h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

func (c *Console) static(w http.ResponseWriter, r *http.Request) {
	sub, _ := fs.Sub(staticFS, "static")
	w.Header().Set("Cache-Control", "max-age=3600")
	http.StripPrefix("/static/", http.FileServerFS(sub)).ServeHTTP(w, r)
}
