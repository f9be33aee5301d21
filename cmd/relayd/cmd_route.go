package main

import (
	"fmt"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/policy"
)

// route is `relayd route -from ADDR [-team T] [-to ADDR]...`: one line per
// recipient, "RECIPIENT -> PROFILE (RULE)", routed by the same policy.Router
// the daemon uses (docs/relayd.toml.5.md, ROUTING), followed by an indented line for each candidate
// that applied but was skipped ("  route #3 skipped: profile old is
// disabled"). Recipients may also be given as arguments.
// Exit 0; 1 when a recipient has no enabled profile; 2 on bad usage or a bad
// config.
func (c *cli) route(args []string) int {
	fs, cfg := c.newFlags("route")
	from := fs.String("from", "", "envelope sender (required; \"<>\" for the null sender)")
	team := fs.String("team", "", "the session's team")
	header := fs.String("header-profile", "", "an X-Relay-Profile header value, as if the listener allowed it")
	var to stringList
	fs.Var(&to, "to", "recipient (repeatable)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	to = append(to, fs.Args()...)
	if *from == "" || len(to) == 0 {
		fmt.Fprintln(c.stderr, "usage: relayd route -from ADDR [-team T] [-to ADDR]...")
		return 2
	}
	sender := *from
	if sender == "<>" {
		sender = ""
	}
	f, _, ok := c.loadConfigFor(*cfg, config.LoadMode{}) // routing reads no secret
	if !ok {
		return 2
	}
	if *team != "" && !hasTeam(f, *team) {
		fmt.Fprintf(c.stderr, "relayd route: no team is named %q\n", *team)
		return 2
	}
	router := policy.NewRouter(f.Policy())
	code := 0
	for _, rcpt := range to {
		d, skipped, err := router.Explain(policy.Request{Sender: sender, Team: *team, Recipient: rcpt, HeaderProfile: *header})
		if err != nil {
			fmt.Fprintf(c.stdout, "%s -> none (no enabled profile: the client gets 451 4.3.5)\n", rcpt)
			code = 1
		} else {
			fmt.Fprintf(c.stdout, "%s -> %s (%s)\n", rcpt, d.Profile, d.Rule)
		}
		for _, s := range skipped {
			fmt.Fprintf(c.stdout, "  %s\n", s)
		}
	}
	return code
}

func hasTeam(f *config.File, name string) bool {
	for _, t := range f.Teams {
		if t.Name == name {
			return true
		}
	}
	return false
}
