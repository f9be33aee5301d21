package main

import (
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/relayd/relayd/cmd/relayd/config"
)

// checkConfig is `relayd check-config`: exit 0 valid (with a summary of
// what the config resolves to), 2 invalid (every error on stderr as
// PATH:LINE: key: message). Warnings go to stderr in both cases. It never
// prints a secret: only where each one comes from.
func (c *cli) checkConfig(args []string) int {
	fs, cfg := c.newFlags("check-config")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if !c.noArgs(fs) {
		return 2
	}
	f, warnings, ok := c.loadConfigFor(*cfg, config.LoadMode{Full: true, Check: true})
	if !ok {
		fmt.Fprintln(c.stderr, "relayd check-config: the configuration is invalid")
		return 2
	}
	printSummary(c.stdout, f)
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	fmt.Fprintf(c.stdout, "\nconfiguration OK (%d warnings)\n", len(warnings))
	return 0
}

func printSummary(out io.Writer, f *config.File) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	s := &f.Server
	fmt.Fprintf(w, "config:\t%s\n", config.Name(f.Path))
	fmt.Fprintf(w, "server:\thostname=%s state_dir=%s log=%s/%s min_free_space=%s spool_encrypted=%t\n",
		s.Hostname, s.StateDir, s.LogFormat, s.LogLevel, s.MinFreeSpace, s.SpoolKey() != nil)
	admin := "off"
	if f.Admin.Listen != "" {
		admin = f.Admin.Listen + " token=" + yesNo(f.Admin.TokenFile != "")
	}
	fmt.Fprintf(w, "admin:\t%s\n", admin)
	r := &f.RelayTable
	sched := make([]string, len(r.RetrySchedule))
	for i, d := range r.RetrySchedule {
		sched[i] = d.String()
	}
	warn := r.WarnAfter.String()
	if r.WarnAfter == 0 {
		warn = "never"
	}
	fmt.Fprintf(w, "relay:\tdefault_profile=%s retry=%s max_queue_age=%s warn_after=%s journal_retention=%s bare_lf=%s\n",
		r.DefaultProfile, strings.Join(sched, ","), r.MaxQueueAge, warn, r.JournalRetention, r.BareLF)
	fmt.Fprintf(w, "notify:\tfrom=%s admin=%s bounces=%s\n", f.Notify.From, dash(f.Notify.Admin), dash(f.Notify.Bounces))
	printTables(w, f)
}

// printTables prints listeners, teams, profiles, routes and DKIM keys.
func printTables(w io.Writer, f *config.File) {
	fmt.Fprintln(w, "\nlisteners:")
	for _, l := range f.Listeners {
		fmt.Fprintf(w, "  %s\t%s\ttls=%s auth=%s team=%s allow=%s max_message_size=%s max_recipients=%d profile_header=%t\n",
			l.Name, l.Address, l.TLS, l.Auth, dash(l.Team), cidrs(l.AllowNetworks), l.MaxMessageSize, l.MaxRecipients, l.AllowProfileHeader)
	}
	fmt.Fprintf(w, "  %s\tunix:%s\t(relayd sendmail) auth=none team=%s\n", config.SendmailListenerName, f.Sendmail.Socket, dash(f.Sendmail.Team))
	fmt.Fprintln(w, "\nteams:")
	if len(f.Teams) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, t := range f.Teams {
		users := make([]string, len(t.Users))
		for i, u := range t.Users {
			users[i] = u.Username
		}
		profiles := "any"
		if len(t.Profiles) > 0 {
			profiles = strings.Join(t.Profiles, ",")
		}
		fmt.Fprintf(w, "  %s\tdefault=%s\tprofiles=%s networks=%s users=%s unix_users=%s\n",
			t.Name, dash(t.DefaultProfile), profiles, cidrs(t.Networks), dash(strings.Join(users, ",")), dash(strings.Join(t.UnixUsers, ",")))
	}
	fmt.Fprintln(w, "\nprofiles:")
	for i := range f.Profiles {
		printProfile(w, &f.Profiles[i])
	}
	fmt.Fprintln(w, "\nroutes:")
	for i, rt := range f.Routes {
		fmt.Fprintf(w, "  route #%d\tsender=%s team=%s recipient=%s\t-> %s%s\n",
			i+1, star(string(rt.Sender)), star(rt.Team), star(string(rt.Recipient)), rt.Profile, skipNote(f, rt.Profile))
	}
	for _, t := range f.Teams {
		if t.DefaultProfile != "" {
			fmt.Fprintf(w, "  team %s default\t\t-> %s%s\n", t.Name, t.DefaultProfile, skipNote(f, t.DefaultProfile))
		}
	}
	fmt.Fprintf(w, "  system default\t\t-> %s%s\n", f.RelayTable.DefaultProfile, skipNote(f, f.RelayTable.DefaultProfile))
	if len(f.DKIM) > 0 {
		fmt.Fprintln(w, "\ndkim:")
		for _, d := range f.DKIM {
			fmt.Fprintf(w, "  %s\tselector=%s key=%s\n", d.Domain, d.Selector, keyKind(d))
		}
	}
}

func printProfile(w io.Writer, p *config.ProfileTable) {
	target := "MX of each recipient domain"
	if p.Type == "smtp" {
		target = hostPort(p.Host, p.Port)
	}
	fmt.Fprintf(w, "  %s\ttype=%s\t%s tls=%s verify=%t enabled=%t mode=%s send_delay=%s auth=%s",
		p.Name, p.Type, target, p.TLS, p.TLSVerify, p.Enabled, p.Mode, p.SendDelay, authSummary(p))
	if len(p.Chain()) > 1 {
		fmt.Fprintf(w, " extends=%s", chainString(p.Chain()))
	}
	if len(p.Fallback) > 0 {
		fmt.Fprintf(w, " fallback=%s", strings.Join(p.Fallback, ","))
	}
	if len(p.Rate) > 0 {
		fmt.Fprintf(w, " rate=%s", p.Rate)
	}
	fmt.Fprintln(w)
}

// authSummary names the account and where its secret comes from, never the
// secret itself.
func authSummary(p *config.ProfileTable) string {
	if p.Username == "" {
		return "none"
	}
	src := "password"
	switch {
	case p.OAuth2 != nil:
		src = "oauth2 " + string(p.OAuth2.Grant)
	case p.PasswordFile != "":
		src = "password_file " + p.PasswordFile
	case p.PasswordEnv != "":
		src = "password_env " + p.PasswordEnv
	}
	return p.Username + " (" + src + ")"
}

func hostPort(h string, port int) string {
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return h + ":" + strconv.Itoa(port)
}

func keyKind(d config.DKIM) string {
	switch k := d.Key().(type) {
	case *rsa.PrivateKey:
		return "rsa-" + strconv.Itoa(k.N.BitLen())
	case ed25519.PrivateKey:
		return "ed25519"
	}
	return "?"
}

func cidrs(l []config.CIDR) string {
	if len(l) == 0 {
		return "-"
	}
	s := make([]string, len(l))
	for i, c := range l {
		s[i] = netip.Prefix(c.Prefix).String()
	}
	return strings.Join(s, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func star(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// skipNote marks a route target that routing skips (a disabled or missing profile).
func skipNote(f *config.File, name string) string {
	for i := range f.Profiles {
		if f.Profiles[i].Name == name {
			if !f.Profiles[i].Enabled {
				return " (disabled: skipped)"
			}
			return ""
		}
	}
	return " (no such profile: skipped)"
}

// chainString formats an extends chain, root first: "base -> agent"; ""
// for a profile that extends nothing.
func chainString(chain []string) string {
	if len(chain) < 2 {
		return ""
	}
	return strings.Join(chain, " -> ")
}
