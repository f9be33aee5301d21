// Command relayd is the local SMTP relay daemon and its command line
// (docs/relayd.8.md). This package is the composition root: it finds the config file
// the way every command does (cli.resolveConfig), loads it with package
// config (cmd/relayd/config: the TOML schema, defaults, the embedded
// default, validation, the translation into relay.Config), and dispatches
// the subcommands (cli.go, cmd_*.go).
//
//	TOML file -> config -> relay.Config
//	SMTP client -> relay -> policy -> spool -> upstream
//
// cmd/relayd builds the configuration every one of those packages runs on.
package main

import "os"

func main() {
	os.Exit(run(programArgs(os.Args), os.Stdout, os.Stderr))
}
