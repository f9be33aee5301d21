package policy

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

// testConfig is the configuration the router tests share. Profile "old" is
// disabled; "nosuch" does not exist.
func testConfig() Config {
	pfx := netip.MustParsePrefix
	return Config{
		Teams: []Team{
			{Name: "sales", DefaultProfile: "sales-gmail",
				Networks: []netip.Prefix{pfx("10.1.2.0/24"), pfx("2001:db8:1::/48")},
				Profiles: []string{"sales-gmail", "office365"}},
			{Name: "ops", DefaultProfile: "old", Networks: []netip.Prefix{pfx("127.0.0.0/8")}},
			{Name: "wide", Networks: []netip.Prefix{pfx("10.0.0.0/8"), pfx("fe80::/10")}},
			{Name: "restricted", Profiles: []string{"support"}},
			{Name: "gone", DefaultProfile: "nosuch"},
		},
		Routes: []Route{
			{Index: 1, Sender: "*@sales.example.com", Recipient: "*@example.org", Profile: "sales-gmail"},
			{Index: 2, Team: "sales", Recipient: "vip@*", Profile: "office365"},
			{Index: 3, Sender: "*@legacy.example.com", Profile: "old"},
			{Index: 4, Sender: "*@legacy.example.com", Profile: "support"},
			{Index: 5, Recipient: "*@support.example.net", Profile: "support"},
			{Index: 6, Sender: "billing-??@example.com", Profile: "direct"},
			{Index: 7, Sender: "*@ghost.example.com", Profile: "nosuch"},
			{Index: 8, Team: "restricted", Recipient: "*@example.org", Profile: "support"},
		},
		DefaultProfile: "office365",
		Enabled: map[string]bool{
			"office365": true, "sales-gmail": true, "support": true, "direct": true, "old": false,
		},
	}
}

func TestRoute(t *testing.T) {
	r := NewRouter(testConfig())
	tests := []struct {
		name                       string
		header, team, sender, rcpt string
		wantProfile, wantRule      string
		wantErr                    error
	}{
		{"header enabled", "support", "", "a@x.com", "b@y.com", "support", "X-Relay-Profile", nil},
		{"header white space trimmed", "  support ", "", "a@x.com", "b@y.com", "support", "X-Relay-Profile", nil},
		{"header beats routes", "direct", "", "a@sales.example.com", "b@example.org", "direct", "X-Relay-Profile", nil},
		{"header disabled skipped", "old", "", "a@x.com", "b@y.com", "office365", "system default", nil},
		{"header missing skipped", "nosuch", "", "a@x.com", "b@y.com", "office365", "system default", nil},
		{"header name is exact", "SUPPORT", "", "a@x.com", "b@y.com", "office365", "system default", nil},
		{"header not allowed for team", "support", "sales", "a@x.com", "b@y.com", "sales-gmail", "team sales default", nil},
		{"route sender+recipient", "", "", "bob@sales.example.com", "x@example.org", "sales-gmail", "route #1", nil},
		{"route globs ignore case", "", "", "Bob@SALES.Example.COM", "X@EXAMPLE.ORG", "sales-gmail", "route #1", nil},
		{"route needs every field", "", "", "bob@sales.example.com", "x@example.net", "office365", "system default", nil},
		{"route team field", "", "sales", "a@x.com", "vip@y.com", "office365", "route #2", nil},
		{"route team is exact", "", "Sales", "a@x.com", "vip@y.com", "office365", "system default", nil},
		{"route team mismatch", "", "ops", "a@x.com", "vip@y.com", "office365", "system default", nil},
		{"first matching route wins", "", "sales", "bob@sales.example.com", "vip@example.org", "sales-gmail", "route #1", nil},
		{"disabled route falls through", "", "", "a@legacy.example.com", "b@y.com", "support", "route #4", nil},
		{"missing route profile falls through", "", "", "a@ghost.example.com", "b@y.com", "office365", "system default", nil},
		{"route recipient only", "", "", "a@x.com", "help@support.example.net", "support", "route #5", nil},
		{"route ? glob", "", "", "billing-07@example.com", "b@y.com", "direct", "route #6", nil},
		{"route ? glob one char each", "", "", "billing-7@example.com", "b@y.com", "office365", "system default", nil},
		{"null sender skips sender rules", "", "", "", "b@example.org", "office365", "system default", nil},
		{"route not allowed for team", "", "sales", "a@x.com", "help@support.example.net", "sales-gmail", "team sales default", nil},
		{"team default", "", "sales", "a@x.com", "b@y.com", "sales-gmail", "team sales default", nil},
		{"team default disabled", "", "ops", "a@x.com", "b@y.com", "office365", "system default", nil},
		{"team default missing", "", "gone", "a@x.com", "b@y.com", "office365", "system default", nil},
		{"team without default", "", "wide", "a@x.com", "b@y.com", "office365", "system default", nil},
		{"unknown team is no team", "", "nobody", "a@x.com", "b@y.com", "office365", "system default", nil},
		{"system default", "", "", "a@x.com", "b@y.com", "office365", "system default", nil},
		{"allowed list: header", "support", "restricted", "a@x.com", "b@y.com", "support", "X-Relay-Profile", nil},
		{"allowed list: route", "", "restricted", "a@legacy.example.com", "b@y.com", "support", "route #4", nil},
		{"allowed list: route skipped", "", "sales", "a@legacy.example.com", "b@y.com", "sales-gmail", "team sales default", nil},
		{"allowed list: later route", "", "restricted", "bob@sales.example.com", "x@example.org", "support", "route #8", nil},
		{"allowed list: system default too", "", "restricted", "a@x.com", "b@y.com", "", "", ErrNoProfile},
		{"allowed list: nothing allowed", "direct", "restricted", "billing-07@example.com", "b@y.com", "", "", ErrNoProfile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := r.Route(Request{Sender: tt.sender, Team: tt.team, Recipient: tt.rcpt, HeaderProfile: tt.header})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if d.Profile != tt.wantProfile || d.Rule != tt.wantRule {
				t.Errorf("got %+v, want {Profile:%s Rule:%s}", d, tt.wantProfile, tt.wantRule)
			}
		})
	}
}

func TestRouteNoProfile(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
	}{
		{"system default missing", func(c *Config) { c.DefaultProfile = "nosuch" }},
		{"system default disabled", func(c *Config) { c.DefaultProfile = "old" }},
		{"system default unset", func(c *Config) { c.DefaultProfile = "" }},
		{"no profiles at all", func(c *Config) { c.Enabled = nil }},
	}
	for _, tt := range tests {
		c := testConfig()
		tt.mod(&c)
		d, err := NewRouter(c).Route(Request{Sender: "a@x.com", Recipient: "b@y.com"})
		if err != ErrNoProfile || d != (Decision{}) {
			t.Errorf("%s: got %+v, %v; want ErrNoProfile", tt.name, d, err)
		}
	}
	if got := ErrNoProfile.Error(); got != "policy: no enabled profile" {
		t.Errorf("ErrNoProfile text = %q", got)
	}
}

func TestRouteRuleNumbering(t *testing.T) {
	c := Config{
		Routes: []Route{
			{Sender: "a@*", Profile: "p"},           // no Index: position 1
			{Index: 9, Sender: "b@*", Profile: "p"}, // Index wins over position
		},
		Enabled: map[string]bool{"p": true},
	}
	r := NewRouter(c)
	c.Routes[0].Profile = "changed" // NewRouter copied the config
	c.Enabled["p"] = false
	for sender, want := range map[string]string{"a@x": "route #1", "b@x": "route #9"} {
		d, err := r.Route(Request{Sender: sender, Recipient: "r@x"})
		if err != nil || d.Profile != "p" || d.Rule != want {
			t.Errorf("%s: got %+v, %v; want p by %s", sender, d, err, want)
		}
	}
}

func TestRouteAll(t *testing.T) {
	r := NewRouter(testConfig())
	req := Request{Sender: "bob@sales.example.com", Recipient: "ignored@x"}
	rcpts := []string{"a@example.org", "b@other.com", "c@example.org", "d@support.example.net", "e@other.com"}
	p, err := r.RouteAll(req, rcpts)
	if err != nil {
		t.Fatal(err)
	}
	wantGroups := map[string][]string{
		"sales-gmail": {"a@example.org", "c@example.org"},
		"office365":   {"b@other.com", "e@other.com"},
		"support":     {"d@support.example.net"},
	}
	if !reflect.DeepEqual(p.Groups, wantGroups) {
		t.Errorf("Groups = %v, want %v", p.Groups, wantGroups)
	}
	if want := []string{"sales-gmail", "office365", "support"}; !reflect.DeepEqual(p.Profiles, want) {
		t.Errorf("Profiles = %v, want %v", p.Profiles, want)
	}
	wantDec := []Decision{
		{"sales-gmail", "route #1"}, {"office365", "system default"}, {"sales-gmail", "route #1"},
		{"support", "route #5"}, {"office365", "system default"},
	}
	if !reflect.DeepEqual(p.Decisions, wantDec) {
		t.Errorf("Decisions = %v, want %v", p.Decisions, wantDec)
	}
}

func TestRouteAllError(t *testing.T) {
	r := NewRouter(testConfig())
	req := Request{Sender: "a@x.com", Team: "restricted"}
	p, err := r.RouteAll(req, []string{"help@support.example.net", "b@y.com", "c@z.com"})
	if !errors.Is(err, ErrNoProfile) {
		t.Fatalf("err = %v, want ErrNoProfile", err)
	}
	var re *RecipientError
	if !errors.As(err, &re) || re.Recipient != "b@y.com" {
		t.Fatalf("err = %#v, want a *RecipientError for b@y.com", err)
	}
	if got, want := err.Error(), "policy: route b@y.com: no enabled profile"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if p.Groups != nil || p.Decisions != nil {
		t.Errorf("Plan = %+v, want empty", p)
	}
}

func TestTeamOf(t *testing.T) {
	r := NewRouter(testConfig())
	ip := netip.MustParseAddr
	tests := []struct {
		name, auth     string
		addr           netip.Addr
		listener, want string
	}{
		{"auth beats network", "ops", ip("10.1.2.3"), "wide", "ops"},
		{"auth beats listener", "sales", netip.Addr{}, "wide", "sales"},
		{"network IPv4", "", ip("10.1.2.3"), "", "sales"},
		{"network IPv6", "", ip("2001:db8:1::5"), "", "sales"},
		{"network IPv4-mapped IPv6", "", ip("::ffff:10.1.2.3"), "", "sales"},
		{"network beats listener", "", ip("127.0.0.2"), "sales", "ops"},
		{"first team in order wins", "", ip("10.9.9.9"), "", "wide"},
		{"network IPv6 zone ignored", "", ip("fe80::1%eth0"), "", "wide"},
		{"listener", "", ip("192.0.2.1"), "restricted", "restricted"},
		{"listener IPv6", "", ip("2001:db8:2::1"), "restricted", "restricted"},
		{"unix socket client", "", netip.Addr{}, "restricted", "restricted"},
		{"none", "", ip("192.0.2.1"), "", ""},
		{"none IPv6", "", ip("::1"), "", ""},
	}
	for _, tt := range tests {
		if got := r.TeamOf(tt.auth, tt.addr, tt.listener); got != tt.want {
			t.Errorf("%s: TeamOf(%q, %v, %q) = %q, want %q", tt.name, tt.auth, tt.addr, tt.listener, got, tt.want)
		}
	}
}

func TestFallbacks(t *testing.T) {
	r := NewRouter(testConfig())
	list := []string{"office365", "old", "nosuch", "direct", "support", "direct", "", "sales-gmail"}
	tests := []struct {
		name, profile, team string
		fallback            []string
		want                []string
	}{
		{"filtered", "office365", "", list, []string{"direct", "support", "sales-gmail"}},
		{"team allowed list", "office365", "sales", list, []string{"sales-gmail"}},
		{"unknown team", "office365", "nobody", list, []string{"direct", "support", "sales-gmail"}},
		{"nothing left", "support", "restricted", list, nil},
		{"empty", "office365", "", nil, nil},
	}
	for _, tt := range tests {
		if got := r.Fallbacks(tt.profile, tt.fallback, tt.team); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Fallbacks = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestUsable(t *testing.T) {
	r := NewRouter(testConfig())
	tests := []struct {
		profile, team string
		want          bool
	}{
		{"office365", "", true},
		{"office365", "sales", true},
		{"support", "sales", false},
		{"old", "", false},
		{"nosuch", "", false},
		{"", "", false},
		{"direct", "nobody", true},
	}
	for _, tt := range tests {
		if got := r.Usable(tt.profile, tt.team); got != tt.want {
			t.Errorf("Usable(%q, %q) = %v, want %v", tt.profile, tt.team, got, tt.want)
		}
	}
}
