package policy

import "strings"

// Skipped is a routing candidate (docs/relayd.toml.5.md, ROUTING) that applied to a recipient but could
// not be used: its profile is disabled, does not exist, or is not one of the
// team's profiles. `relayd route` prints them so an admin sees why mail did
// not go where a rule says.
type Skipped struct {
	Rule    string // the words `relayd route` prints: "route #3", "team sales default", "system default", "X-Relay-Profile"
	Profile string
	Reason  string // "is disabled", "does not exist", `is not in team "sales"'s profiles`
}

// String is "route #3 skipped: profile old is disabled".
func (s Skipped) String() string {
	return s.Rule + " skipped: profile " + s.Profile + " " + s.Reason
}

// Explain routes one recipient exactly as Route does and also returns, in
// order, every candidate that applied but was skipped. Route stays the fast
// path of the SMTP session; Explain is for the CLI and the admin side.
func (r *Router) Explain(req Request) (Decision, []Skipped, error) {
	t := r.byName[req.Team]
	var skipped []Skipped
	try := func(profile, rule string) bool {
		if r.usable(profile, t) {
			return true
		}
		skipped = append(skipped, Skipped{Rule: rule, Profile: profile, Reason: r.whyNot(profile, t)})
		return false
	}
	if hp := strings.TrimSpace(req.HeaderProfile); hp != "" && try(hp, RuleHeader) {
		return Decision{Profile: hp, Rule: RuleHeader}, skipped, nil
	}
	for i := range r.routes {
		rt := &r.routes[i]
		if rt.matches(req) && try(rt.profile, rt.rule) {
			return Decision{Profile: rt.profile, Rule: rt.rule}, skipped, nil
		}
	}
	if t != nil && t.def != "" && try(t.def, t.rule) {
		return Decision{Profile: t.def, Rule: t.rule}, skipped, nil
	}
	if r.def != "" && try(r.def, RuleSystemDefault) {
		return Decision{Profile: r.def, Rule: RuleSystemDefault}, skipped, nil
	}
	return Decision{}, skipped, ErrNoProfile
}

// whyNot says why usable(profile, t) is false.
func (r *Router) whyNot(profile string, t *team) string {
	on, exists := r.enabled[profile]
	switch {
	case !exists:
		return "does not exist"
	case !on:
		return "is disabled"
	case t != nil:
		return "is not in team " + t.name + "'s profiles"
	}
	return "cannot be used"
}
