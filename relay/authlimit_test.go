package relay

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// delays records the AUTH failure delays a Server asked for, instead of
// sleeping them.
type delays struct {
	mu sync.Mutex
	d  []time.Duration
}

func (d *delays) sleep(x time.Duration) {
	d.mu.Lock()
	d.d = append(d.d, x)
	d.mu.Unlock()
}

func (d *delays) all() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]time.Duration(nil), d.d...)
}

// TestAuthPerUserLock: guessing one user's password is limited per user
// too, with backoff: after 5 failures the user is locked, and then even the
// right password is answered exactly like a wrong one, after the same
// delay; other users are not affected; after the lock a login works and
// resets the count. Delays and the clock are injected: nothing sleeps.
func TestAuthPerUserLock(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Listeners[0].MaxAuthFailures = 100 // the per-connection limit is not what is tested
	users := map[string]User{}
	for _, u := range []string{"crm", "other"} {
		h, _ := bcrypt.GenerateFromPassword([]byte("pw-"+u), bcrypt.MinCost)
		users[u] = User{PasswordHash: string(h)}
	}
	cfg.Users = users
	var waits delays
	r, logs := startRelayLogged(t, cfg, func(o *Options) { o.Sleep = waits.sleep })
	c := dialRaw(t, r.addr)
	c.greet()
	plain := func(user, pass string) string {
		return c.cmd("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)) + "\r\n")
	}
	wrong := plain("crm", "guess-0")
	if !strings.HasPrefix(wrong, "535 5.7.8 ") {
		t.Fatalf("wrong password: %q", wrong)
	}
	for i := 1; i < userFailLimit; i++ {
		if got := plain("crm", "guess"); got != wrong {
			t.Fatalf("failure %d: %q", i+1, got)
		}
	}
	if !strings.Contains(logs.String(), `user=crm failures=5 locked_until=2026-11-24T09:01:00Z`) {
		t.Errorf("the lock is not logged:\n%s", logs)
	}
	// Locked: the right password gets the same reply after the same
	// (per-address) delay as a wrong one.
	if got := plain("crm", "pw-crm"); got != wrong {
		t.Errorf("locked user with the right password: %q, want %q", got, wrong)
	}
	if got, want := fmt.Sprint(waits.all()), "[1s 2s 4s 8s 8s 8s]"; got != want {
		t.Errorf("delays %s, want %s", got, want)
	}
	// A second connection, as from another address, is locked out too.
	c2 := dialRaw(t, r.addr)
	c2.greet()
	if got := c2.cmd("AUTH LOGIN\r\n"); !strings.HasPrefix(got, "334 ") {
		t.Fatalf("AUTH LOGIN: %q", got)
	}
	c2.cmd(base64.StdEncoding.EncodeToString([]byte("crm")) + "\r\n")
	if got := c2.cmd(base64.StdEncoding.EncodeToString([]byte("pw-crm")) + "\r\n"); got != wrong {
		t.Errorf("locked user over LOGIN: %q", got)
	}
	// Another user is not locked.
	if got := c2.cmd("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00other\x00pw-other")) + "\r\n"); !strings.HasPrefix(got, "235 ") {
		t.Errorf("other user: %q", got)
	}

	// After the lock (1 minute after the 5th failure; the right password
	// during it did not extend it), the user logs in, which resets the
	// count: one more failure does not lock again.
	r.clock.Advance(time.Minute)
	if got := plain("crm", "pw-crm"); !strings.HasPrefix(got, "235 ") {
		t.Fatalf("after the lock: %q", got)
	}
	c3 := dialRaw(t, r.addr)
	c3.greet()
	if got := c3.cmd("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00crm\x00nope")) + "\r\n"); got != wrong {
		t.Errorf("wrong after reset: %q", got)
	}
	if got := c3.cmd("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00crm\x00pw-crm")) + "\r\n"); !strings.HasPrefix(got, "235 ") {
		t.Errorf("right after reset: %q", got)
	}
}

// TestAuthPerUserBackoff: failures during a lock extend it, doubling.
func TestAuthPerUserBackoff(t *testing.T) {
	cfg := baseConfig(newSink(t).addr)
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	cfg.Users = map[string]User{"crm": {PasswordHash: string(h)}}
	var waits delays
	r, _ := startRelayLogged(t, cfg, func(o *Options) { o.Sleep = waits.sleep })
	var until []time.Time
	for range userFailLimit + 3 {
		until = append(until, r.srv.userFailed("crm"))
	}
	now := r.clock.Now()
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute} {
		if got := until[userFailLimit-1+i].Sub(now); got != want {
			t.Errorf("lock after failure %d: %v, want %v", userFailLimit+i, got, want)
		}
	}
	for range 20 {
		r.srv.userFailed("crm")
	}
	if got := r.srv.userFailed("crm").Sub(now); got != userLockMax {
		t.Errorf("lock %v, want at most %v", got, userLockMax)
	}
}
