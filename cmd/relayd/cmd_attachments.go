package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/relay/attachments"
)

// `relayd attachments` is, like `relayd queue`, a client of the running
// daemon's admin API: list the attachments replaced by links,
// revoke a link.

const attachmentsUsage = `usage: relayd attachments list [-message ID] [-json]
       relayd attachments revoke TOKEN [-json]

Talks to the running daemon's admin API at [admin] listen of the config.
A revoked link answers 410 Gone and its file is removed.
`

// attachments is `relayd attachments SUBCOMMAND`. Exit 0 ok, 1 error
// (daemon not running, unknown token), 2 bad usage or bad config.
func (c *cli) attachments(args []string) int {
	fs, cfg := c.newFlags("attachments")
	message := fs.String("message", "", "list: only the attachments of this message (queue ID)")
	asJSON := fs.Bool("json", false, "print the admin API's JSON")
	fs.Usage = func() {
		fmt.Fprint(c.stderr, attachmentsUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parse(fs, args); !ok {
		return code
	}
	rest := fs.Args()
	bad := func(format string, a ...any) int {
		fmt.Fprintf(c.stderr, "relayd attachments: "+format+"\n\n%s", append(a, attachmentsUsage)...)
		return 2
	}
	switch {
	case len(rest) == 0:
		return bad("missing subcommand")
	case rest[0] == "list" && len(rest) != 1:
		return bad("list takes no arguments, got %q", rest[1])
	case rest[0] == "revoke" && len(rest) != 2:
		return bad("revoke needs exactly one token (%d given)", len(rest)-1)
	case rest[0] == "revoke" && *message != "":
		return bad("-message only goes with list")
	case rest[0] != "list" && rest[0] != "revoke":
		return bad("unknown subcommand %q", rest[0])
	}
	f, _, ok := c.loadConfigFor(*cfg, config.LoadMode{}) // only [admin]: no profile secret
	if !ok {
		return 2
	}
	ac, err := newAdminClient(&f.Admin, f.Path)
	if err == nil {
		err = c.attachmentsRun(ac, rest, *message, *asJSON)
	}
	if err != nil {
		var nr errNotRunning
		if errors.As(err, &nr) {
			fmt.Fprintln(c.stderr, err)
		} else {
			fmt.Fprintf(c.stderr, "relayd attachments %s: %v\n", rest[0], err)
		}
		return 1
	}
	return 0
}

func (c *cli) attachmentsRun(ac *adminClient, args []string, message string, asJSON bool) error {
	if args[0] == "revoke" {
		var info attachments.Info
		body, err := ac.do(http.MethodPost, "/api/v1/attachments/"+url.PathEscape(args[1])+"/revoke", "", &info)
		if err != nil || asJSON {
			return c.printRaw(body, err)
		}
		fmt.Fprintf(c.stdout, "link to %s of message %s revoked\n", clean(info.File), info.MessageID)
		return nil
	}
	path := "/api/v1/attachments"
	if message != "" {
		path += "?message=" + url.QueryEscape(message)
	}
	var items []attachments.Info
	body, err := ac.do(http.MethodGet, path, "", &items)
	if err != nil || asJSON {
		return c.printRaw(body, err)
	}
	printAttachments(c.stdout, items)
	return nil
}

func printAttachments(w io.Writer, items []attachments.Info) {
	if len(items) == 0 {
		fmt.Fprintln(w, "no attachments are stored")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN\tMESSAGE\tFILE\tSIZE\tSTATE\tEXPIRES")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Token, it.MessageID, clean(it.File), size(it.Size), it.State,
			it.Expires.Local().Format("2006-01-02 15:04"))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d %s\n", len(items), plural(len(items), "attachment"))
}
