package relay

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// The operations below are what the web console (relay/console, docs/console.md)
// calls: the same operations as the JSON API, exported so that the console
// never calls the API over HTTP. Every method is safe for
// concurrent use.

// CheckUser checks a [[team.user]] login for the console exactly as SMTP
// AUTH does (auth.go): the bcrypt hash, the per-user lock after repeated
// failures and the per-address delay before a failure is answered. It
// returns the user's team.
func (s *Server) CheckUser(username, password string, addr netip.Addr) (team string, ok bool) {
	gen := s.gen.Load()
	locked := s.userLocked(username)
	if good := s.checkPassword(gen, username, password); !good || locked {
		_, known := gen.cfg.Users[username]
		args := []any{"user", username, "remote", addr.String(), "via", "console"}
		if known && !good {
			if until := s.userFailed(username); !until.IsZero() {
				args = append(args, "locked_until", until.UTC().Format(time.RFC3339))
			}
		} else if known {
			args = append(args, "locked", true)
		}
		s.log.Warn("authentication failed", args...)
		s.authDelay(addr)
		return "", false
	}
	s.userSucceeded(username)
	return gen.cfg.Users[username].Team, true
}

// FailDelay waits as a failed SMTP AUTH from addr does (1 s, doubling per
// recent failure from that address, at most 8 s): the console's wrong
// admin token.
func (s *Server) FailDelay(addr netip.Addr) { s.authDelay(addr) }

// Spool returns the store the server delivers from, for reads (counts,
// envelopes, bodies). Changes go through the Server's methods.
func (s *Server) Spool() *spool.Store { return s.spool }

// Now is the server's clock.
func (s *Server) Now() time.Time { return s.now() }

// Item is m as the admin API shows it (docs/admin-api.md).
func (s *Server) Item(m *spool.Message) QueueItem { return s.itemOf(m) }

// QueueQuery selects a page of the queue, newest first.
type QueueQuery struct {
	State    string // "" = every message (queue and journal), "active", or a recipient state
	Team     string // only this team's messages when TeamOnly
	TeamOnly bool
	Search   string // case-insensitive substring of sender, a recipient, From or Subject
	Profile  string // only messages with a recipient routed to this profile ("" = any)
	Before   string // the page starts after this ID ("" = newest)
	Limit    int    // items per page; default 50
	// MaxScan bounds how many envelopes one page reads (a search that
	// matches little stops there); default 20000.
	MaxScan int
}

// QueuePage is one page of QueueNewest.
type QueuePage struct {
	Items []QueueItem
	Next  string // Before of the next page, "" when there is none
	// Stopped is set when MaxScan envelopes were read before the page was
	// full; Next continues the search from there.
	Stopped bool
}

// QueueNewest returns a page of the queue, newest first, reading
// envelopes only (spool.ListNewest): its cost is that of the page, not of
// the queue.
func (s *Server) QueueNewest(q QueueQuery) (QueuePage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.MaxScan <= 0 {
		q.MaxScan = 20000
	}
	st := spool.State(q.State)
	if _, ok := stateOrder[st]; st != "" && q.State != stateActive && !ok {
		return QueuePage{}, fmt.Errorf("unknown state %q: use active, delayed, ready, sending, deferred, held, sent, bounced or cancelled", q.State)
	}
	journal := st == "" || st.Final()
	search := strings.ToLower(strings.TrimSpace(q.Search))
	var page QueuePage
	scanned, last := 0, ""
	err := s.spool.ListNewest(q.Before, journal, func(m *spool.Message) bool {
		scanned++
		last = m.ID
		if s.queueMatch(m, q, st, search) {
			if len(page.Items) == q.Limit {
				page.Next = page.Items[len(page.Items)-1].ID
				return false
			}
			page.Items = append(page.Items, s.itemOf(m))
		}
		if scanned >= q.MaxScan {
			page.Stopped, page.Next = true, last
			return false
		}
		return true
	})
	return page, err
}

func (s *Server) queueMatch(m *spool.Message, q QueueQuery, st spool.State, search string) bool {
	if q.TeamOnly && m.Team != q.Team {
		return false
	}
	if st != "" && q.State != stateActive && !slices.ContainsFunc(m.Recipients, func(r spool.Recipient) bool { return r.State == st }) {
		return false
	}
	if q.Profile != "" && !slices.ContainsFunc(m.Recipients, func(r spool.Recipient) bool { return r.Profile == q.Profile }) {
		return false
	}
	if search == "" {
		return true
	}
	if containsFold(m.Sender, search) || containsFold(m.From, search) || containsFold(m.Subject, search) {
		return true
	}
	return slices.ContainsFunc(m.Recipients, func(r spool.Recipient) bool { return containsFold(r.Address, search) })
}

func containsFold(s, lowerSub string) bool { return strings.Contains(strings.ToLower(s), lowerSub) }

// QueueAction applies action (hold, release, retry or delete) to message
// id for user by (logged with the user, as docs/console.md says), and returns the item
// after the change. The error is a sentence for the person who asked;
// errors.Is(err, spool.ErrNotFound) tells an unknown ID.
func (s *Server) QueueAction(action, id, by string) (QueueItem, error) {
	acts := map[string]func(string) (*spool.Message, error){
		"hold": s.spool.Hold, "release": s.spool.Release, "retry": s.spool.RetryNow, "delete": s.spool.Cancel}
	act, ok := acts[action]
	if !ok {
		return QueueItem{}, fmt.Errorf("unknown action %q: use hold, release, retry or delete", action)
	}
	m, err := act(id)
	if err != nil {
		var sending *spool.SendingError
		switch {
		case errors.As(err, &sending):
			return QueueItem{}, errors.New(sending.Error())
		case errors.Is(err, spool.ErrNotFound):
			return QueueItem{}, fmt.Errorf("no message with ID %s: %w", id, spool.ErrNotFound)
		case errors.Is(err, spool.ErrState):
			return QueueItem{}, errors.New(s.refusal(action, id))
		case errors.Is(err, spool.ErrNoSpace):
			return QueueItem{}, fmt.Errorf("message %s was not changed: the spool's disk is below its free-space reserve ([server] min_free_space); free some space and try again", id)
		}
		s.log.Error("console: could not "+action+" message "+id, "err", err, "user", by)
		return QueueItem{}, fmt.Errorf("relayd could not %s message %s: the spool failed; relayd's log has the cause", action, id)
	}
	s.log.Info("admin action", "msg_id", id, "action", action, "user", by)
	s.delivery.kick()
	return s.itemOf(m), nil
}

// ConsoleProfile is one profile as the console's Servers page shows it:
// the API's status plus what a person checks first.
type ConsoleProfile struct {
	ProfileStatus
	FailingSince time.Time // zero unless the latest attempts failed
	Waiting      int       // recipients not yet final that are routed to it
}

// ConsoleProfiles returns every configured profile by name with its
// status. Waiting is counted from the active queue's envelopes, at most
// every few seconds (a cached count in between).
func (s *Server) ConsoleProfiles() []ConsoleProfile {
	waiting := s.waitingCounts()
	var out []ConsoleProfile
	for _, p := range s.Profiles() {
		out = append(out, ConsoleProfile{ProfileStatus: p, Waiting: waiting[p.Name],
			FailingSince: s.delivery.health.failingSince(p.Name)})
	}
	return out
}

// TeamProfiles reports which profiles team may use (a team
// without profiles may use any); nil means every one.
func (s *Server) TeamProfiles(team string) []string {
	for _, t := range s.gen.Load().cfg.Policy.Teams {
		if t.Name == team {
			if len(t.Profiles) == 0 {
				return nil
			}
			return slices.Clone(t.Profiles)
		}
	}
	return []string{}
}

// waitCache keeps the per-profile waiting counts for a few seconds.
type waitCache struct {
	mu     sync.Mutex
	at     time.Time
	counts map[string]int
}

const waitCacheTTL = 5 * time.Second

func (s *Server) waitingCounts() map[string]int {
	wc := &s.waitc
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if wc.counts != nil && time.Since(wc.at) < waitCacheTTL {
		return wc.counts
	}
	counts := map[string]int{}
	err := s.spool.ListActive(func(m *spool.Message) bool {
		for _, r := range m.Recipients {
			if !r.State.Final() {
				counts[r.Profile]++
			}
		}
		return true
	})
	if err != nil {
		s.log.Warn("console: could not count the waiting messages", "err", err)
	}
	wc.at, wc.counts = time.Now(), counts
	return counts
}

// Recent returns the delivery outcomes (per recipient) of the last d, at
// most a day, counted since relayd started.
func (s *Server) Recent(d time.Duration) Outcomes {
	return s.delivery.recent.sum(s.now(), min(d, 24*time.Hour))
}

// TestResult is the outcome of a connection test (TestProfile).
type TestResult struct {
	Plan  TestPlan
	Steps []upstream.ProbeStep
	OK    bool
}

// TestProfile runs `relayd test` for profile name through the running
// daemon (the seeds' "Test connect" and, with req.Send, "Send test
// email"), logged with user by. The error is a sentence: an unknown
// profile or an envelope that cannot be tested.
func (s *Server) TestProfile(ctx context.Context, name string, req TestRequest, by string) (TestResult, error) {
	gen := s.gen.Load()
	p, ok := gen.cfg.Profiles[name]
	if !ok {
		return TestResult{}, fmt.Errorf("no profile %s", name)
	}
	plan, err := PlanTest(gen.cfg, p, req)
	if err != nil {
		return TestResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	res := TestResult{Plan: plan, Steps: s.pool.Probe(ctx, &p.Upstream, plan.Options)}
	res.OK = len(res.Steps) > 0
	for _, st := range res.Steps {
		res.OK = res.OK && st.OK
	}
	s.log.Info("profile test", "profile", name, "ok", res.OK, "send", req.Send, "user", by)
	return res, nil
}

// NotifyAdmin is [notify] admin, the default recipient of a test message.
func (s *Server) NotifyAdmin() string { return s.gen.Load().cfg.Notify.Admin }
