package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config"
)

// cli is one invocation's environment, so tests run commands in-process.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	systemConfig   string // /etc/relayd/relayd.toml, replaced in tests
	// oauthWait is the device flow's poll wait of `relayd oauth login`;
	// nil = a real timer (tests inject one).
	oauthWait func(ctx context.Context, d time.Duration) error
}

// run executes the command line args (without the program name) and returns
// the exit status: 0 ok, 1 failure, 2 bad usage or bad config (docs/relayd.8.md, EXIT STATUS).
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, systemConfig: config.SystemPath}
	return c.run(args)
}

const usageText = `usage: relayd [COMMAND] [-config PATH] [ARGS]

commands:
  serve              run the daemon in the foreground (the default)
  check-config       validate the config and print what it resolves to
  route -from ADDR [-team T] [-to ADDR]...
                     print the profile and rule each recipient is routed by
  test PROFILE [-from ADDR] [-to ADDR]... [-send]
                     connection test of an upstream profile, step by step
  dkim-keygen -domain D -selector S [-type rsa|ed25519] [-bits 2048] [-out FILE]
                     make a DKIM key; print its DNS record and [[dkim]] table
  queue list [-state S | -all] | show ID | hold ID | release ID | delete ID | retry ID | retry -all  [-json]
                     manage the queue of the running daemon
  profile list | pause NAME [-for D] | resume NAME  [-json]
                     profile status; pause or resume a profile's deliveries
  oauth login PROFILE [-flow device|browser] | status [PROFILE] [-json]
                     get a profile's first OAuth2 refresh token; show token health
  attachments list [-message ID] | revoke TOKEN  [-json]
                     list the attachments replaced by links; revoke a link
  passwd             read a password, print a bcrypt hash for [[team.user]]
  version            print version, Go version and commit
  sendmail [-t] [-i] [-f ADDR] [-F NAME] [-bs | -bp] [RCPT...]
                     sendmail-compatible injection into the running daemon
                     (also when run as sendmail or mailq)

-config PATH is accepted by every command; default $RELAYD_CONFIG, else
/etc/relayd/relayd.toml if it exists, else the embedded default.
Flags may stand before or after the other arguments.
`

type command func(c *cli, args []string) int

func commands() map[string]command {
	return map[string]command{
		"serve":        func(c *cli, args []string) int { return c.runServe(args) },
		"check-config": (*cli).checkConfig,
		"route":        (*cli).route,
		"test":         (*cli).test,
		"dkim-keygen":  (*cli).dkimKeygen,
		"queue":        (*cli).queue,
		"profile":      (*cli).profile,
		"oauth":        (*cli).oauth,
		"attachments":  (*cli).attachments,
		"passwd":       (*cli).passwd,
		"version":      (*cli).version,
		"sendmail":     (*cli).sendmail,
	}
}

func (c *cli) run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			fmt.Fprint(c.stdout, usageText)
			return 0
		}
	}
	name, rest := splitCommand(args)
	if name == "" {
		name = "serve"
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(c.stderr, "relayd: unknown command %q\n\n%s", name, usageText)
		return 2
	}
	return cmd(c, rest)
}

// splitCommand finds the command: the first argument that is not a flag
// (nor the value of -config, the one flag every command shares), so that
// "relayd -config x.toml check-config" works too. The other arguments keep
// their order.
func splitCommand(args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			if n := strings.TrimLeft(a, "-"); n == "config" && i+1 < len(args) {
				i++
			}
			continue
		}
		rest := append(append([]string(nil), args[:i]...), args[i+1:]...)
		return a, rest
	}
	return "", args
}

// newFlags returns the flag set of a command, with -config on it.
func (c *cli) newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("relayd "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	cfg := fs.String("config", "", "config file (default $RELAYD_CONFIG, else "+config.SystemPath+" if it exists, else the embedded default)")
	return fs, cfg
}

// parse parses args, flags before or after positionals. ok false means the
// command must return code: 0 after -h, 2 after a bad flag.
func parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(reorderArgs(fs, args))
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		return 0, false
	}
	return 2, false
}

// reorderArgs moves flags (with their values) in front of the positional
// arguments, so that "test office365 -from a@x" parses like
// "test -from a@x office365" (the flag package stops at the first
// positional). Whether a flag takes a value is read from fs: a boolean flag
// (IsBoolFlag) takes none unless written -flag=value. Everything after "--"
// stays positional.
func reorderArgs(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil || isBoolFlag(f) {
			continue // unknown: fs.Parse reports it
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if len(pos) == 0 {
		return flags
	}
	return append(append(flags, "--"), pos...)
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// stringList is a repeatable string flag (-to a -to b).
type stringList []string

// String implements fmt.Stringer.
func (l *stringList) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value.
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// loadConfigFor resolves and loads the config for a command, reading only
// the secrets mode names: a command reads the secrets of the profiles it
// uses and no others, so it works while another profile's password_env is
// unset (loadMode{full: true} reads all, as serve does). On failure it
// prints why (every error, one per line) and returns false: exit 2.
func (c *cli) loadConfigFor(flagPath string, mode config.LoadMode) (*config.File, []string, bool) {
	path, err := c.resolveConfig(flagPath)
	if err != nil {
		fmt.Fprintf(c.stderr, "relayd: %v\n", err)
		return nil, nil, false
	}
	f, warnings, err := config.LoadWith(path, mode)
	if err != nil {
		for _, w := range warnings {
			fmt.Fprintf(c.stderr, "warning: %s\n", w)
		}
		printConfigError(c.stderr, err)
		return nil, warnings, false
	}
	return f, warnings, true
}

// resolveConfig finds the config file of every command (docs/relayd.8.md, FILES): -config
// (flagPath), else $RELAYD_CONFIG from c.getenv, else c.systemConfig if it
// exists, else "" (the embedded default).
func (c *cli) resolveConfig(flagPath string) (string, error) {
	return config.Resolve(flagPath, c.getenv(config.Env), c.systemConfig)
}

// printConfigError prints a Load or Relay error: each config.Error on its
// own line ("PATH:LINE: key: message"), anything else as one line.
func printConfigError(w io.Writer, err error) {
	var list config.Errors
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintf(w, "relayd: %v\n", err)
}

// noArgs reports unexpected positional arguments.
func (c *cli) noArgs(fs *flag.FlagSet) bool {
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false
	}
	return true
}
