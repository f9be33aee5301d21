package policy

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// The Rule words (as `relayd route` prints them, docs/relayd.8.md) that do not depend on the configuration. The
// other two are "route #N" and "team NAME default".
const (
	RuleHeader        = "X-Relay-Profile" // chosen by the X-Relay-Profile header
	RuleSystemDefault = "system default"  // [relay] default_profile
)

// ErrNoProfile means no routing candidate exists, is enabled and is allowed
// for the team: relay answers 451 4.3.5. Its text names no profile, team or
// address, so it can be shown to a client as is.
var ErrNoProfile = errors.New("policy: no enabled profile")

// RecipientError is returned by RouteAll: the recipient that could not be
// routed and why (ErrNoProfile). Use errors.Is(err, ErrNoProfile) and
// errors.As to get the recipient.
type RecipientError struct {
	Recipient string
	Err       error
}

// Error implements error.
func (e *RecipientError) Error() string {
	return "policy: route " + e.Recipient + ": " + strings.TrimPrefix(e.Err.Error(), "policy: ")
}

// Unwrap returns the cause, so errors.Is(err, ErrNoProfile) works.
func (e *RecipientError) Unwrap() error { return e.Err }

// Router answers the team and routing questions (docs/relayd.toml.5.md,
// [[team]] and ROUTING) for one configuration. It copies
// everything it needs from the Config, is immutable after NewRouter, and is
// safe for concurrent use; a reload builds a new Router.
type Router struct {
	teams   []team           // in config order: the first network match wins
	byName  map[string]*team // team name → entry of teams
	routes  []route          // in file order
	def     string           // [relay] default_profile
	enabled map[string]bool  // profile → enabled; absent = does not exist
}

type team struct {
	name     string
	def      string          // default_profile, "" = none
	rule     string          // "team NAME default"
	networks []netip.Prefix  // masked; IPv4 prefixes stay IPv4
	allowed  map[string]bool // nil = any profile
}

type route struct {
	sender, team, recipient string // "" = any
	profile                 string
	rule                    string // "route #N"
}

// NewRouter builds a Router from c. Slices and maps of c are copied, so the
// caller may reuse c. A Route with Index < 1 is named by its position in
// c.Routes (counting from 1) instead. Team names, profile names and route
// teams are compared exactly (they are configuration identifiers); only the
// sender and recipient globs ignore case.
func NewRouter(c Config) *Router {
	r := &Router{
		teams:   make([]team, len(c.Teams)),
		byName:  make(map[string]*team, len(c.Teams)),
		routes:  make([]route, len(c.Routes)),
		def:     c.DefaultProfile,
		enabled: make(map[string]bool, len(c.Enabled)),
	}
	for name, on := range c.Enabled {
		r.enabled[name] = on
	}
	for i, t := range c.Teams {
		nt := team{name: t.Name, def: t.DefaultProfile, rule: "team " + t.Name + " default"}
		for _, p := range t.Networks {
			nt.networks = append(nt.networks, p.Masked())
		}
		if len(t.Profiles) > 0 {
			nt.allowed = make(map[string]bool, len(t.Profiles))
			for _, p := range t.Profiles {
				nt.allowed[p] = true
			}
		}
		r.teams[i] = nt
		if _, dup := r.byName[t.Name]; !dup { // the first of duplicate names wins
			r.byName[t.Name] = &r.teams[i]
		}
	}
	for i, rt := range c.Routes {
		n := rt.Index
		if n < 1 {
			n = i + 1
		}
		r.routes[i] = route{
			sender: rt.Sender, team: rt.Team, recipient: rt.Recipient,
			profile: rt.Profile, rule: "route #" + strconv.Itoa(n),
		}
	}
	return r
}

// TeamOf returns a session's team, first match wins: authTeam (the
// authenticated user's team, "" if none); the first team, in config order,
// whose networks contain addr; listenerTeam; "" for none. An IPv4-mapped IPv6
// address (a dual-stack listener) also matches IPv4 networks, and an IPv6
// zone is ignored. The zero Addr (a unix socket client) matches no network.
func (r *Router) TeamOf(authTeam string, addr netip.Addr, listenerTeam string) string {
	if authTeam != "" {
		return authTeam
	}
	if addr.IsValid() {
		a := addr.WithZone("")
		u := a.Unmap()
		for i := range r.teams {
			for _, p := range r.teams[i].networks {
				if p.Contains(a) || p.Contains(u) {
					return r.teams[i].name
				}
			}
		}
	}
	return listenerTeam
}

// Usable reports whether profile exists, is enabled, and is allowed for
// teamName (a team with a non-empty profiles list allows only those; no team,
// or a name that is not a configured team, allows any). It is the test every
// routing candidate must pass, and the check relay makes at delivery time
// before trusting a recorded Decision after a reload.
func (r *Router) Usable(profile, teamName string) bool {
	return r.usable(profile, r.byName[teamName])
}

func (r *Router) usable(profile string, t *team) bool {
	if profile == "" || !r.enabled[profile] {
		return false
	}
	return t == nil || t.allowed == nil || t.allowed[profile]
}

// Route routes one recipient (docs/relayd.toml.5.md, ROUTING). The candidates, in order, are
// req.HeaderProfile (surrounding white space trimmed), the [[route]] rules in
// file order whose every non-empty field matches (sender and recipient as
// case-insensitive globs, team exactly), the team's default_profile, and
// [relay] default_profile. The first candidate that passes Usable wins; a
// missing, disabled or not-allowed candidate is skipped, never an error.
//
// The team's allowed list applies to every candidate, the system default
// included: the rule states the condition once for "the first candidate", so a
// team restricted to its own accounts never leaks mail through the company
// default. With no usable candidate Route returns ErrNoProfile.
func (r *Router) Route(req Request) (Decision, error) {
	t := r.byName[req.Team]
	if hp := strings.TrimSpace(req.HeaderProfile); hp != "" && r.usable(hp, t) {
		return Decision{Profile: hp, Rule: RuleHeader}, nil
	}
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.matches(req) && r.usable(rt.profile, t) {
			return Decision{Profile: rt.profile, Rule: rt.rule}, nil
		}
	}
	if t != nil && r.usable(t.def, t) {
		return Decision{Profile: t.def, Rule: t.rule}, nil
	}
	if r.usable(r.def, t) {
		return Decision{Profile: r.def, Rule: RuleSystemDefault}, nil
	}
	return Decision{}, ErrNoProfile
}

func (rt *route) matches(req Request) bool {
	return (rt.team == "" || rt.team == req.Team) &&
		Match(rt.sender, req.Sender) &&
		Match(rt.recipient, req.Recipient)
}

// Plan is the routing of one message: one Decision per recipient and the
// recipients grouped per profile, each group a separate delivery.
type Plan struct {
	Decisions []Decision          // Decisions[i] is for recipients[i]
	Groups    map[string][]string // profile → its recipients, in input order
	Profiles  []string            // the keys of Groups, in order of first use
}

// RouteAll routes every recipient with req's sender, team and header profile
// (req.Recipient is ignored) and groups them per profile. On the first
// recipient that cannot be routed it returns a *RecipientError wrapping
// ErrNoProfile and an empty Plan.
func (r *Router) RouteAll(req Request, recipients []string) (Plan, error) {
	p := Plan{
		Decisions: make([]Decision, 0, len(recipients)),
		Groups:    make(map[string][]string),
	}
	for _, rcpt := range recipients {
		req.Recipient = rcpt
		d, err := r.Route(req)
		if err != nil {
			return Plan{}, &RecipientError{Recipient: rcpt, Err: err}
		}
		p.Decisions = append(p.Decisions, d)
		if _, seen := p.Groups[d.Profile]; !seen {
			p.Profiles = append(p.Profiles, d.Profile)
		}
		p.Groups[d.Profile] = append(p.Groups[d.Profile], rcpt)
	}
	return p, nil
}

// Fallbacks returns the profiles to try, in order, after a temporary failure
// of profile: its fallback list keeping only profiles that pass
// Usable for teamName, without duplicates and without profile itself. The
// result is a new slice, nil when nothing is left.
func (r *Router) Fallbacks(profile string, fallback []string, teamName string) []string {
	t := r.byName[teamName]
	var out []string
	for _, f := range fallback {
		if f == profile || !r.usable(f, t) || slices.Contains(out, f) {
			continue
		}
		out = append(out, f)
	}
	return out
}
