package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/relay"
	"github.com/relayd/relayd/upstream"
)

// testOptions are the flags of `relayd test PROFILE [-from ADDR] [-to ADDR]... [-send]`.
type testOptions struct {
	fs     *flag.FlagSet
	config *string
	from   string
	to     stringList
	send   bool
}

func (c *cli) newTestFlags() *testOptions {
	fs, cfg := c.newFlags("test")
	o := &testOptions{fs: fs, config: cfg}
	fs.StringVar(&o.from, "from", "", "envelope sender for MAIL FROM (default: the profile's from_address, else [notify] from)")
	fs.Var(&o.to, "to", "recipient for RCPT TO (repeatable; default: [notify] admin, else the sender)")
	fs.BoolVar(&o.send, "send", false, "send a real test message")
	return o
}

// test is `relayd test PROFILE [-from ADDR] [-to ADDR]... [-send]`
// (docs/relayd.8.md): upstream.Pool.Probe on the profile as the daemon would configure
// it, one line per step with its timing, and on failure the diagnosis
// (docs/operations.md, "Why doesn't my mail go?"). MAIL and RCPT (then RSET) run when -from, -to or -send is
// given, with the envelope of relay.PlanTest (the same as the admin API's
// test), which the output names. Exit 0 when every step worked, 1 when one failed, 2 on bad usage,
// a bad config or an unknown profile.
func (c *cli) test(args []string) int {
	o := c.newTestFlags()
	if code, ok := parse(o.fs, args); !ok {
		return code
	}
	if o.fs.NArg() != 1 {
		fmt.Fprintln(c.stderr, "usage: relayd test PROFILE [-from ADDR] [-to ADDR]... [-send]")
		return 2
	}
	name := o.fs.Arg(0)
	f, warnings, ok := c.loadConfigFor(*o.config, config.LoadMode{Profile: name}) // this profile's secrets only
	if !ok {
		return 2
	}
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	rc, err := f.Relay()
	if err != nil {
		printConfigError(c.stderr, err)
		return 2
	}
	prof := rc.Profiles[name]
	if prof == nil {
		fmt.Fprintf(c.stderr, "relayd test: no profile is named %q; the profiles are: %s\n", name, profileNames(rc))
		return 2
	}
	plan, err := relay.PlanTest(rc, prof, relay.TestRequest{From: o.from, To: o.to, Send: o.send,
		FromHint: "-from ADDR", ToHint: "-to ADDR"})
	if err != nil {
		fmt.Fprintf(c.stderr, "relayd test: %s\n", err)
		return 2
	}
	popts := plan.Options
	up := prof.Upstream
	fmt.Fprintf(c.stdout, "testing profile %s (%s)\n", name, describeProfile(prof, popts))
	printEnvelope(c.stdout, plan)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool := upstream.NewPool(upstream.Options{IdleTimeout: -1})
	defer pool.Close()
	popts.Progress = func(s upstream.ProbeStep) { printStep(c.stdout, s) }
	steps := pool.Probe(ctx, &up, popts)
	if n := len(steps); n > 0 && !steps[n-1].OK {
		fmt.Fprintf(c.stdout, "\n%s\n", steps[n-1].Err)
		return 1
	}
	what := "connection and login work"
	switch {
	case popts.Send:
		what = "the test message was accepted"
	case popts.Envelope:
		what = "the sender and recipients are accepted"
	}
	fmt.Fprintf(c.stdout, "\nprofile %s: all steps ok: %s\n", name, what)
	return 0
}

// printEnvelope names the sender and recipients a test with MAIL and RCPT
// uses, and where they came from, e.g.
//
//	sender:     relayd@example.com ([notify] from; the profile has no from_address)
//	recipients: it@example.com ([notify] admin, the System Notification Mailbox)
func printEnvelope(w io.Writer, plan relay.TestPlan) {
	po := plan.Options
	if !po.Envelope {
		return
	}
	from, fromSource := po.From, plan.FromSource
	if fromSource == "given" {
		fromSource = "-from"
	}
	toSource := plan.ToSource
	if toSource == "given" {
		toSource = "-to"
	}
	fmt.Fprintf(w, "sender:     %s (%s)\n", from, fromSource)
	fmt.Fprintf(w, "recipients: %s (%s)\n", strings.Join(po.To, ", "), toSource)
	if po.Send && plan.ToSource != "given" {
		fmt.Fprintf(w, "The test will be sent to the System Notification Mailbox, %s.\n", strings.Join(po.To, ", "))
	}
}

// describeProfile is the header line: where the test goes and how.
func describeProfile(prof *relay.Profile, po upstream.ProbeOptions) string {
	up := &prof.Upstream
	var parts []string
	if up.Type == "direct" {
		domain := po.To[0][strings.LastIndexByte(po.To[0], '@')+1:]
		parts = append(parts, "direct delivery to the MX hosts of "+domain)
	} else {
		host := up.Host
		if up.Port != 0 {
			host += ", port " + strconv.Itoa(up.Port)
		}
		parts = append(parts, host)
	}
	if up.TLS != "" {
		parts = append(parts, "tls "+string(up.TLS))
	}
	if up.Username != "" {
		parts = append(parts, "user "+up.Username)
	}
	if !prof.Enabled {
		parts = append(parts, "disabled: routing never picks it")
	}
	return strings.Join(parts, ", ")
}

// printStep prints "  ok   connect   smtp.example.com:587 (192.0.2.1)   3 ms".
func printStep(w io.Writer, s upstream.ProbeStep) {
	status := "ok"
	if !s.OK {
		status = "FAIL"
	}
	fmt.Fprintf(w, "  %-4s %-9s %s   %d ms\n", status, s.Step, s.Detail, s.Duration.Milliseconds())
}

func profileNames(rc *relay.Config) string {
	names := make([]string, 0, len(rc.Profiles))
	for n := range rc.Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
