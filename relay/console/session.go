package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Cookie names: the session, and the login form's double-submit token
// (there is no session yet to hold a CSRF token for the login form).
const (
	sessionCookie = "relayd_session"
	loginCookie   = "relayd_login"
	csrfField     = "csrf"
)

// user is who is logged in.
type user struct {
	Name  string // "admin" for the admin token
	Team  string // "" for the admin
	Admin bool
}

// session is one login. CSRF is the token every form of the session
// carries; Flash is a message shown once on the next page.
type session struct {
	user
	CSRF    string
	Expires time.Time
	Flash   string
	FlashOK bool
}

// sessions are kept in memory: a restart logs everyone out.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) create(u user, expires time.Time, now time.Time) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*session{}
	}
	for id, se := range s.m { // drop expired sessions; the map stays bounded by logins
		if !now.Before(se.Expires) {
			delete(s.m, id)
		}
	}
	id := randomToken()
	se := &session{user: u, CSRF: randomToken(), Expires: expires}
	s.m[id] = se
	return id, se
}

func (s *sessions) get(id string, now time.Time) (*session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[id]
	if !ok || !now.Before(se.Expires) {
		delete(s.m, id)
		return nil, false
	}
	cp := *se
	return &cp, true
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// flash sets the message the next page shows once.
func (s *sessions) flash(id, msg string, ok bool) {
	s.mu.Lock()
	if se := s.m[id]; se != nil {
		se.Flash, se.FlashOK = msg, ok
	}
	s.mu.Unlock()
}

// takeFlash returns and clears the flash message.
func (s *sessions) takeFlash(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[id]
	if se == nil {
		return "", false
	}
	msg, ok := se.Flash, se.FlashOK
	se.Flash = ""
	return msg, ok
}

type ctxKey struct{}

// reqSession is the session of a request that passed authed.
type reqSession struct {
	id string
	*session
}

func sessionOf(r *http.Request) reqSession { return r.Context().Value(ctxKey{}).(reqSession) }

// authed lets only logged-in requests through: a GET without a session
// goes to /login, anything else gets 403. A state change must carry the
// session's CSRF token in the form field csrf (403 and nothing changed
// without it).
func (c *Console) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var se *session
		var id string
		if ck, err := r.Cookie(sessionCookie); err == nil {
			id = ck.Value
			se, _ = c.sessions.get(id, c.now())
		}
		if se == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			c.forbidden(w, r, "You are not logged in (or your session expired): log in again and repeat what you did.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !sameToken(r.PostFormValue(csrfField), se.CSRF) {
				c.log.Warn("console request refused: missing or wrong CSRF token", "user", se.Name, "path", r.URL.Path, "remote", r.RemoteAddr)
				c.forbidden(w, r, "This form is out of date or did not come from this console (its security token is missing or wrong). Reload the page and try again.")
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, reqSession{id, se})))
	}
}

func sameToken(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (c *Console) setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.opts.Secure,
		SameSite: http.SameSiteStrictMode}
	if value == "" {
		ck.MaxAge = -1
	} else if !expires.IsZero() {
		ck.Expires = expires
	}
	http.SetCookie(w, ck)
}

// loginPage shows the login form with a fresh double-submit token.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.renderLogin(w, r, http.StatusOK, "", "")
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, username, errMsg string) {
	tok := randomToken()
	c.setCookie(w, loginCookie, tok, time.Time{})
	c.render(w, r, status, "login", page{Title: "Log in", CSRF: tok, Error: errMsg, Data: username})
}

// login checks the form: an empty username and the admin token, or a
// [[team.user]] username and password (relay.CheckUser: the same bcrypt,
// lock and delays as SMTP AUTH). A failure stays on /login.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostFormValue(csrfField), ck.Value) {
		c.log.Warn("console login refused: missing or wrong CSRF token", "remote", r.RemoteAddr)
		c.forbidden(w, r, "This login form is out of date or did not come from this console. Reload the page and log in again.")
		return
	}
	username := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	addr := remoteAddr(r)
	var u user
	ok := false
	if username == "" {
		tok := c.opts.AdminToken()
		ok = tok != "" && password != "" && subtle.ConstantTimeCompare([]byte(password), []byte(tok)) == 1
		if !ok {
			c.log.Warn("console login failed", "user", "admin", "remote", addr.String())
			c.srv.FailDelay(addr)
		}
		u = user{Name: "admin", Admin: true}
	} else {
		var team string
		team, ok = c.srv.CheckUser(username, password, addr)
		u = user{Name: username, Team: team}
	}
	if !ok {
		msg := "Wrong username or password. Leave the username empty to log in with the admin token."
		if username == "" {
			msg = "That is not the admin token. Copy it from the token file ([admin] token_file, else admin.token in the state directory), or give a username."
		}
		c.renderLogin(w, r, http.StatusUnauthorized, username, msg)
		return
	}
	now := c.now()
	expires := now.Add(c.opts.SessionTimeout)
	id, _ := c.sessions.create(u, expires, now)
	c.setCookie(w, sessionCookie, id, expires)
	c.setCookie(w, loginCookie, "", time.Time{})
	c.log.Info("console login", "user", u.Name, "team", u.Team, "remote", addr.String())
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	se := sessionOf(r)
	c.sessions.delete(se.id)
	c.setCookie(w, sessionCookie, "", time.Time{})
	c.log.Info("console logout", "user", se.Name)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.IPv6Unspecified()
	}
	return ap.Addr().Unmap()
}
