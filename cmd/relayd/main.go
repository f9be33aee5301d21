// Command relayd is the local SMTP relay daemon and its command line
// (SPEC §2). This package is the composition root: it owns the TOML schema,
// its defaults, the embedded default and validation (config*.go), translates
// them into relay.Config, and dispatches the subcommands (cli.go, cmd_*.go).
//
//	SMTP client -> relay -> policy -> spool -> upstream
//
// cmd/relayd builds the configuration every one of those packages runs on.
package main

import "os"

func main() {
	os.Exit(run(programArgs(os.Args), os.Stdout, os.Stderr))
}
