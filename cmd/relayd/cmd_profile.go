package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/relay"
	"github.com/relayd/relayd/spool"
)

// `relayd profile` shows the profiles of the running daemon and pauses or
// resumes one at run time (docs/relayd.8.md). Like `relayd queue`, it is a
// client of the admin API.

const profileUsage = `usage: relayd profile list [-json]
       relayd profile pause NAME [-for D] [-json]
       relayd profile resume NAME [-json]

Talks to the running daemon's admin API like relayd queue. list shows every
profile: type, host:port, enabled, paused (until when), last result and the
messages waiting for it. pause stops deliveries through the profile until it
is resumed, or for D ("90m", "2h", "1d"); its messages stay queued, are not
sent through another profile and do not expire meanwhile. The pause is
stored in the spool and survives restarts.
`

// profileOptions are the flags of every `relayd profile` subcommand.
type profileOptions struct {
	fs     *flag.FlagSet
	config *string
	dur    string
	json   bool
}

// profile is `relayd profile SUBCOMMAND`. Exit 0 ok, 1 error (daemon not
// running, unknown profile), 2 bad usage or bad config.
func (c *cli) profile(args []string) int {
	fs, cfg := c.newFlags("profile")
	o := &profileOptions{fs: fs, config: cfg}
	fs.StringVar(&o.dur, "for", "", "pause: how long (\"2h\", \"1d\"); default until resumed")
	fs.BoolVar(&o.json, "json", false, "print the admin API's JSON")
	fs.Usage = func() {
		fmt.Fprint(c.stderr, profileUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parse(fs, args); !ok {
		return code
	}
	sub, name, ok := c.profileArgs(o)
	if !ok {
		return 2
	}
	return c.withAdmin("profile", sub, *o.config, func(ac *adminClient) error { return c.profileRun(ac, o, sub, name) })
}

// profileArgs checks the subcommand, its profile name and its flags.
func (c *cli) profileArgs(o *profileOptions) (sub, name string, ok bool) {
	args := o.fs.Args()
	bad := func(format string, a ...any) (string, string, bool) {
		fmt.Fprintf(c.stderr, "relayd profile: "+format+"\n\n%s", append(a, profileUsage)...)
		return "", "", false
	}
	if len(args) == 0 {
		return bad("missing subcommand")
	}
	sub, args = args[0], args[1:]
	switch {
	case sub != "list" && sub != "pause" && sub != "resume":
		return bad("unknown subcommand %q", sub)
	case o.dur != "" && sub != "pause":
		return bad("-for only goes with pause")
	case sub == "list" && len(args) > 0:
		return bad("list takes no profile name, got %q", args[0])
	case sub == "list":
		return sub, "", true
	case len(args) != 1:
		return bad("%s needs exactly one profile name (%d given)", sub, len(args))
	}
	if o.dur != "" {
		if d, err := config.ParseDuration(o.dur); err != nil || d <= 0 {
			return bad("-for %q is not a positive duration: use a number and a unit, like \"90m\", \"2h\" or \"1d\"", o.dur)
		}
	}
	return sub, args[0], true
}

// profileRun performs sub and prints its result.
func (c *cli) profileRun(ac *adminClient, o *profileOptions, sub, name string) error {
	if sub == "list" {
		var ps []relay.ProfileStatus
		body, err := ac.do(http.MethodGet, "/api/v1/profiles", "", &ps)
		if err != nil || o.json {
			return c.printRaw(body, err)
		}
		var items []queueItem
		if _, err := ac.do(http.MethodGet, "/api/v1/queue?state=active", "", &items); err != nil {
			return err
		}
		printProfileList(c.stdout, ps, waitingByProfile(items), time.Now())
		return nil
	}
	path := "/api/v1/profiles/" + url.PathEscape(name) + "/" + sub
	var req []byte
	if o.dur != "" {
		req, _ = json.Marshal(map[string]string{"for": o.dur})
	}
	var p relay.ProfileStatus
	body, err := ac.doBody(http.MethodPost, path, name, req, &p)
	if err != nil || o.json {
		return c.printRaw(body, err)
	}
	switch {
	case sub == "resume":
		fmt.Fprintf(c.stdout, "profile %s resumed: its waiting messages are delivered now\n", p.Name)
	case p.PausedUntil != nil:
		fmt.Fprintf(c.stdout, "profile %s paused until %s\n", p.Name, p.PausedUntil.Local().Format(time.RFC3339))
	default:
		fmt.Fprintf(c.stdout, "profile %s paused until resumed (relayd profile resume %s)\n", p.Name, p.Name)
	}
	return nil
}

// waitingByProfile counts, per profile, the messages with a recipient for
// it that is not yet sent, bounced or cancelled.
func waitingByProfile(items []queueItem) map[string]int {
	n := map[string]int{}
	for _, it := range items {
		seen := map[string]bool{}
		for _, r := range it.Recipients {
			if spool.State(r.State).Final() || seen[r.Profile] {
				continue
			}
			seen[r.Profile] = true
			n[r.Profile]++
		}
	}
	return n
}

// printProfileList prints the table of `relayd profile list`.
func printProfileList(w io.Writer, ps []relay.ProfileStatus, waiting map[string]int, now time.Time) {
	if len(ps) == 0 {
		fmt.Fprintln(w, "no profiles")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tHOST:PORT\tENABLED\tPAUSED\tLAST RESULT\tWAITING")
	for _, p := range ps {
		hostport := "-"
		if p.Host != "" {
			hostport = p.Host + ":" + strconv.Itoa(p.Port)
		}
		enabled := "yes"
		if !p.Enabled {
			enabled = "no"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", clean(p.Name), orDash(clean(p.Type)), clean(hostport), enabled,
			pausedText(p, now), lastResultText(p, now), waiting[p.Name])
	}
	tw.Flush()
}

// pausedText is "no", "until resumed" or "until 15:04 (in 2h)".
func pausedText(p relay.ProfileStatus, now time.Time) string {
	switch {
	case !p.Paused:
		return "no"
	case p.PausedUntil == nil:
		return "until resumed"
	}
	return fmt.Sprintf("until %s (in %s)", p.PausedUntil.Local().Format(time.RFC3339), age(p.PausedUntil.Sub(now)))
}

// lastResultText is the last delivery result and how long ago it was.
func lastResultText(p relay.ProfileStatus, now time.Time) string {
	if p.LastResult == "" {
		return "-"
	}
	s := truncate(clean(p.LastResult), lastErrorWidth)
	if p.LastAttempt != nil {
		s += " (" + age(now.Sub(*p.LastAttempt)) + " ago)"
	}
	return s
}
