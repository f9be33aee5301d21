package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/relay"
	"github.com/relayd/relayd/upstream"
)

const oauthUsage = `usage: relayd oauth login PROFILE [-flow device|browser]
       relayd oauth status [PROFILE] [-json]

login   signs in to the profile's provider and writes [profile.oauth2]
        refresh_token_file (the running daemon uses it at its next refresh)
status  per profile: refresh token present, access token expiry, last refresh
        and its error (the running daemon's view; the files' when it is down)
`

// loginTimeout bounds the wait for the person to sign in with -flow browser
// (the device flow ends when its code expires).
const loginTimeout = 15 * time.Minute

type oauthOptions struct {
	fs     *flag.FlagSet
	config *string
	flow   string
	json   bool
}

func (c *cli) newOAuthFlags() *oauthOptions {
	fs, cfg := c.newFlags("oauth")
	o := &oauthOptions{fs: fs, config: cfg}
	fs.StringVar(&o.flow, "flow", "", "login: device or browser (default: device when device_auth_url is known, else browser)")
	fs.BoolVar(&o.json, "json", false, "status: print the admin API's JSON")
	fs.Usage = func() {
		fmt.Fprint(c.stderr, oauthUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	return o
}

// oauth is `relayd oauth login|status` (docs/relayd.8.md). Exit 0 ok; 1 a failed
// login, or a status with a profile that needs a login; 2 bad usage or
// config.
func (c *cli) oauth(args []string) int {
	o := c.newOAuthFlags()
	if code, ok := parse(o.fs, args); !ok {
		return code
	}
	rest := o.fs.Args()
	bad := func(format string, a ...any) int {
		fmt.Fprintf(c.stderr, "relayd oauth: "+format+"\n\n%s", append(a, oauthUsage)...)
		return 2
	}
	switch {
	case len(rest) == 0:
		return bad("missing subcommand")
	case rest[0] == "login" && len(rest) != 2:
		return bad("login needs exactly one profile name")
	case rest[0] == "login" && o.json:
		return bad("-json only goes with status")
	case rest[0] == "login":
		return c.oauthLogin(o, rest[1])
	case rest[0] == "status" && len(rest) > 2:
		return bad("status takes at most one profile name")
	case rest[0] == "status" && o.flow != "":
		return bad("-flow only goes with login")
	case rest[0] == "status":
		return c.oauthStatus(o, rest[1:])
	}
	return bad("unknown subcommand %q", rest[0])
}

// oauthProfile finds profile name in f and checks it can log in.
func oauthProfile(f *config.File, name string) (*config.ProfileTable, error) {
	var names []string
	for i := range f.Profiles {
		p := &f.Profiles[i]
		if p.OAuth2 != nil {
			names = append(names, p.Name)
		}
		if p.Name != name {
			continue
		}
		switch {
		case p.OAuth2 == nil:
			return nil, fmt.Errorf("profile %s has no [profile.oauth2]", name)
		case p.OAuth2.Grant == "client_credentials":
			return nil, fmt.Errorf("profile %s uses grant = \"client_credentials\": it needs no sign-in", name)
		}
		return p, nil
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("no profile is named %q, and no profile has [profile.oauth2]", name)
	}
	return nil, fmt.Errorf("no profile is named %q; the profiles with [profile.oauth2] are: %s", name, strings.Join(names, ", "))
}

func (c *cli) oauthLogin(o *oauthOptions, name string) int {
	if o.flow != "" && o.flow != "device" && o.flow != "browser" {
		fmt.Fprintf(c.stderr, "relayd oauth login: -flow %q: use device or browser\n", o.flow)
		return 2
	}
	f, _, ok := c.loadConfigFor(*o.config, config.LoadMode{Profile: name, Login: true})
	if !ok {
		return 2
	}
	p, err := oauthProfile(f, name)
	if err != nil {
		fmt.Fprintf(c.stderr, "relayd oauth login: %v\n", err)
		return 2
	}
	oc := p.OAuth2
	l := &upstream.Login{Profile: name, OAuth2: oc.Upstream(), AuthURL: oc.AuthURL, DeviceAuthURL: oc.DeviceAuthURL,
		RootCAs: p.RootCAs(), Out: c.stdout, Wait: c.oauthWait}
	if oc.Provider == "google" {
		// Google issues a refresh token only for offline access, and again
		// only with consent.
		l.AuthParams = map[string]string{"access_type": "offline", "prompt": "consent"}
	}
	flow := o.flow
	if flow == "" {
		flow = "browser"
		if oc.DeviceAuthURL != "" {
			flow = "device"
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if flow == "device" {
		err = l.Device(ctx)
	} else {
		ctx, cancel := context.WithTimeout(ctx, loginTimeout)
		defer cancel()
		err = l.Browser(ctx)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "relayd oauth login %s: %v\n", name, err)
		return 1
	}
	return 0
}

// oauthStatus prints the daemon's view (GET /api/v1/oauth), or, when the
// daemon is not running, whether each refresh token file holds a token.
func (c *cli) oauthStatus(o *oauthOptions, only []string) int {
	f, _, ok := c.loadConfigFor(*o.config, config.LoadMode{}) // no secret: only file names and [admin]
	if !ok {
		return 2
	}
	want := func(name string) bool { return len(only) == 0 || only[0] == name }
	if len(only) == 1 && !slices.ContainsFunc(f.Profiles, func(p config.ProfileTable) bool { return p.Name == only[0] && p.OAuth2 != nil }) {
		fmt.Fprintf(c.stderr, "relayd oauth status: no profile named %q has [profile.oauth2]\n", only[0])
		return 2
	}
	var items []relay.OAuthProfile
	var body []byte
	ac, err := newAdminClient(&f.Admin, f.Path)
	if err == nil {
		ac.token, ac.tokenFile = cliAdminToken(f), adminTokenPath(f)
		body, err = ac.do(http.MethodGet, "/api/v1/oauth", "", &items)
	}
	var nr errNotRunning
	daemon := err == nil
	switch {
	case daemon:
	case errors.As(err, &nr) || ac == nil:
		fmt.Fprintf(c.stdout, "%v: showing the refresh token files only\n", err)
		items = fileOAuthStatus(f)
	default:
		fmt.Fprintf(c.stderr, "relayd oauth status: %v\n", err)
		return 1
	}
	shown := items[:0:0]
	for _, it := range items {
		if want(it.Profile) {
			shown = append(shown, it)
		}
	}
	if o.json {
		if daemon && len(only) == 0 {
			c.stdout.Write(body)
		} else {
			enc := json.NewEncoder(c.stdout)
			enc.SetIndent("", "  ")
			enc.Encode(shown)
		}
	}
	healthy := true
	for _, it := range shown {
		if !o.json {
			printOAuthStatus(c.stdout, it, daemon, time.Now())
		}
		if (it.Grant == "refresh_token" && !it.RefreshTokenPresent) || it.LastError != "" {
			healthy = false
		}
	}
	if len(shown) == 0 && !o.json {
		fmt.Fprintln(c.stdout, "no profile has [profile.oauth2]")
	}
	if !healthy {
		return 1
	}
	return 0
}

// fileOAuthStatus is the status without the daemon: the files only.
func fileOAuthStatus(f *config.File) []relay.OAuthProfile {
	var out []relay.OAuthProfile
	for _, p := range f.Profiles {
		if p.OAuth2 == nil {
			continue
		}
		it := relay.OAuthProfile{Profile: p.Name, Grant: string(p.OAuth2.Grant), RefreshTokenFile: p.OAuth2.RefreshTokenFile}
		if it.Grant == "refresh_token" {
			it.RefreshTokenPresent = upstream.RefreshTokenPresent(it.RefreshTokenFile)
		}
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b relay.OAuthProfile) int { return strings.Compare(a.Profile, b.Profile) })
	return out
}

// printOAuthStatus prints one profile, e.g.
//
//	o365: refresh token present in /var/lib/relayd/o365.refresh
//	  access token:  valid until 2026-12-06 16:20:00 UTC (in 59m)
//	  last refresh:  2026-12-06 15:20:00 UTC, ok
func printOAuthStatus(w io.Writer, it relay.OAuthProfile, daemon bool, now time.Time) {
	switch {
	case it.Grant == "client_credentials":
		fmt.Fprintf(w, "%s: grant client_credentials (no refresh token needed)\n", it.Profile)
	case it.RefreshTokenPresent:
		fmt.Fprintf(w, "%s: refresh token present in %s\n", it.Profile, it.RefreshTokenFile)
	default:
		fmt.Fprintf(w, "%s: NO refresh token in %s: run relayd oauth login %s\n", it.Profile, it.RefreshTokenFile, it.Profile)
	}
	if !daemon {
		return
	}
	switch {
	case !it.AccessToken:
		fmt.Fprintf(w, "  access token:  none yet (fetched at the first delivery)\n")
	case it.AccessTokenExpiry == nil:
		fmt.Fprintf(w, "  access token:  held (no expiry given)\n")
	case it.AccessTokenExpiry.After(now):
		fmt.Fprintf(w, "  access token:  valid until %s (in %s)\n", it.AccessTokenExpiry.UTC().Format(time.DateTime+" UTC"),
			age(it.AccessTokenExpiry.Sub(now)))
	default:
		fmt.Fprintf(w, "  access token:  expired at %s (renewed at the next delivery)\n", it.AccessTokenExpiry.UTC().Format(time.DateTime+" UTC"))
	}
	switch {
	case it.LastRefresh == nil:
		fmt.Fprintf(w, "  last refresh:  none since relayd started\n")
	case it.LastError != "":
		fmt.Fprintf(w, "  last refresh:  %s, FAILED: %s\n", it.LastRefresh.UTC().Format(time.DateTime+" UTC"), it.LastError)
	default:
		fmt.Fprintf(w, "  last refresh:  %s, ok\n", it.LastRefresh.UTC().Format(time.DateTime+" UTC"))
	}
}
