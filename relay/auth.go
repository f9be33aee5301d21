package relay

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/netip"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"golang.org/x/crypto/bcrypt"
)

// loginServer is the server side of the non-standard but ubiquitous LOGIN
// mechanism (draft-murchison-sasl-login): go-sasl only has the client side,
// and legacy clients use LOGIN as often as PLAIN.
type loginServer struct {
	step     int
	username string
	check    func(username, password string) error
}

func newLoginServer(check func(username, password string) error) sasl.Server {
	return &loginServer{check: check}
}

// Next implements sasl.Server. An initial response, if given, is the username.
func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.username, string(response))
	}
}

// authCache remembers recently verified passwords so that a legacy client
// authenticating once per message does not pay a bcrypt check (tens of ms of
// CPU) every time. Entries are bound to the hash they were checked against,
// so a reload with a new password_hash invalidates them.
type authCache struct {
	mu      sync.Mutex
	entries map[string]authEntry
}

type authEntry struct {
	hash       string // the bcrypt hash the password was verified against
	digest     [32]byte
	validUntil time.Time // the entry is used until then (authCacheTTL)
}

const authCacheTTL = 5 * time.Minute

// checkPassword verifies username/password against the snapshot's users.
func (s *Server) checkPassword(gen *generation, username, password string) bool {
	u, ok := gen.cfg.Users[username]
	if !ok {
		// Spend the same time as a real check so usernames cannot be probed.
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return false
	}
	digest := sha256.Sum256([]byte(username + "\x00" + password))
	now := time.Now()
	s.auth.mu.Lock()
	e, hit := s.auth.entries[username]
	s.auth.mu.Unlock()
	if hit && e.hash == u.PasswordHash && now.Before(e.validUntil) && subtle.ConstantTimeCompare(e.digest[:], digest[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return false
	}
	s.auth.mu.Lock()
	if s.auth.entries == nil {
		s.auth.entries = map[string]authEntry{}
	}
	s.auth.entries[username] = authEntry{hash: u.PasswordHash, digest: digest, validUntil: now.Add(authCacheTTL)}
	s.auth.mu.Unlock()
	return true
}

// dummyHash is a bcrypt hash of a string nobody knows, for unknown users.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte(time.Now().String()), bcrypt.DefaultCost)
	return h
})

// authFailures tracks failed AUTH attempts per client address so that
// repeated failures are answered ever more slowly (at least 1 s,
// more for repeated failures from one address), and per username, so that
// guessing one account's password from many addresses locks that account
// for a while. Together with max_auth_failures per connection these are
// the three limits on password guessing.
type authFailures struct {
	mu     sync.Mutex
	byIP   map[netip.Addr]failRecord
	byUser map[string]failRecord // only usernames of [[team.user]]: bounded by the config
}

type failRecord struct {
	n     int
	last  time.Time
	until time.Time // byUser: locked until then
}

// Limits of the per-user lock: after userFailLimit failed logins of one
// username (from anywhere, forgotten after failMemory without one) it is
// locked for userLockBase, doubling with each further failure up to
// userLockMax. A locked user is answered 535 5.7.8 after the usual delay,
// like a wrong password, even with the right one (a guesser learns
// nothing); a login after the lock resets the count.
const (
	failMemory    = 15 * time.Minute
	userFailLimit = 5
	userLockBase  = time.Minute
	userLockMax   = time.Hour
)

// userLocked reports whether username is locked at now.
func (s *Server) userLocked(username string) bool {
	s.fails.mu.Lock()
	defer s.fails.mu.Unlock()
	return s.now().Before(s.fails.byUser[username].until)
}

// userFailed counts a wrong password for a configured username and locks
// it once it has failed userFailLimit times. It returns the end of the
// lock, zero when the user is not locked.
func (s *Server) userFailed(username string) time.Time {
	now := s.now()
	s.fails.mu.Lock()
	defer s.fails.mu.Unlock()
	if s.fails.byUser == nil {
		s.fails.byUser = map[string]failRecord{}
	}
	r := s.fails.byUser[username]
	if now.Sub(r.last) > failMemory && !now.Before(r.until) {
		r = failRecord{}
	}
	r.n++
	r.last = now
	if r.n >= userFailLimit {
		r.until = now.Add(min(userLockBase<<min(r.n-userFailLimit, 8), userLockMax))
	}
	s.fails.byUser[username] = r
	return r.until
}

// userSucceeded forgets username's failures.
func (s *Server) userSucceeded(username string) {
	s.fails.mu.Lock()
	defer s.fails.mu.Unlock()
	delete(s.fails.byUser, username)
}

// authDelay waits before a failed AUTH is answered: 1 s, doubling per
// recent failure from the same address, at most 8 s; forgotten after 15
// minutes.
func (s *Server) authDelay(addr netip.Addr) {
	now := s.now()
	s.fails.mu.Lock()
	if s.fails.byIP == nil {
		s.fails.byIP = map[netip.Addr]failRecord{}
	}
	r := s.fails.byIP[addr]
	if now.Sub(r.last) > failMemory {
		r.n = 0
	}
	r.n++
	r.last = now
	s.fails.byIP[addr] = r
	if len(s.fails.byIP) > 10000 { // bound memory under a distributed attack
		clear(s.fails.byIP)
	}
	s.fails.mu.Unlock()
	d := time.Second << min(r.n-1, 3)
	if s.opts.Sleep != nil {
		s.opts.Sleep(d)
		return
	}
	time.Sleep(d)
}
