package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/relay"
)

// `relayd queue` is a client of the running daemon's admin API
// (docs/admin-api.md): the CLI never opens the spool, whose Badger directory lock belongs
// to the daemon (like mox ctl.go).

const queueUsage = `usage: relayd queue list [-state S | -all] [-json]
       relayd queue show ID [-json]
       relayd queue hold ID | release ID | delete ID | retry ID [-json]
       relayd queue retry -all [-json]

Talks to the running daemon's admin API at [admin] listen of the config,
with the bearer token of [admin] token_file (else <state_dir>/admin.token
when readable). list shows the active queue; -state S the messages with a
recipient in state S, -all the journal (sent, bounced, cancelled) too.
States: delayed ready sending deferred held sent bounced cancelled.
`

// queueTimeout bounds one admin API request; retry -all walks the spool.
const queueTimeout = 60 * time.Second

// Where list truncates a recipient's last error and a message's From and
// Subject (show prints them whole).
const (
	lastErrorWidth = 60
	fromWidth      = 40
	subjectWidth   = 40
)

// queueItem is the admin API's queue item (docs/admin-api.md).
type queueItem = relay.QueueItem

// queueAction is one per-message action: its HTTP method and path suffix
// after /api/v1/queue/{id}, and the past tense printed after it.
type queueAction struct {
	method, suffix, done string
}

var queueActions = map[string]queueAction{
	"hold":    {http.MethodPost, "/hold", "held"},
	"release": {http.MethodPost, "/release", "released"},
	"retry":   {http.MethodPost, "/retry", "queued for retry"},
	"delete":  {http.MethodDelete, "", "deleted"},
}

// queueOptions are the flags of every `relayd queue` subcommand; which
// ones a subcommand accepts is checked after parsing.
type queueOptions struct {
	fs     *flag.FlagSet
	config *string
	state  string
	json   bool
	all    bool
}

func (c *cli) newQueueFlags() *queueOptions {
	fs, cfg := c.newFlags("queue")
	o := &queueOptions{fs: fs, config: cfg}
	fs.StringVar(&o.state, "state", "", "list: only messages in this state")
	fs.BoolVar(&o.json, "json", false, "print the admin API's JSON")
	fs.BoolVar(&o.all, "all", false, "list: the journal too; retry: every deferred message")
	fs.Usage = func() {
		fmt.Fprint(c.stderr, queueUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	return o
}

// queue is `relayd queue SUBCOMMAND`. Exit 0 ok, 1 error (daemon not
// running, unknown id, refused action), 2 bad usage or bad config.
func (c *cli) queue(args []string) int {
	o := c.newQueueFlags()
	if code, ok := parse(o.fs, args); !ok {
		return code
	}
	sub, id, ok := c.queueArgs(o)
	if !ok {
		return 2
	}
	return c.withAdmin("queue", sub, *o.config, func(ac *adminClient) error { return c.queueRun(ac, o, sub, id) })
}

// withAdmin runs one `relayd CMD SUB` through the running daemon's admin
// API: it reads only [admin] of the config at path (no profile secret),
// connects with the CLI's admin token and prints run's error in one line.
// Exit 0 ok, 1 error (relayd not running, a refusal), 2 bad config.
func (c *cli) withAdmin(cmd, sub, path string, run func(*adminClient) error) int {
	f, _, ok := c.loadConfigFor(path, config.LoadMode{})
	if !ok {
		return 2
	}
	ac, err := newAdminClient(&f.Admin, f.Path)
	if err != nil {
		fmt.Fprintf(c.stderr, "relayd %s: %v\n", cmd, err)
		return 1
	}
	ac.token, ac.tokenFile = cliAdminToken(f), adminTokenPath(f)
	if err := run(ac); err != nil {
		var nr errNotRunning
		if errors.As(err, &nr) {
			fmt.Fprintln(c.stderr, err)
		} else {
			fmt.Fprintf(c.stderr, "relayd %s %s: %v\n", cmd, sub, err)
		}
		return 1
	}
	return 0
}

// queueArgs checks the subcommand, its ID and its flags.
func (c *cli) queueArgs(o *queueOptions) (sub, id string, ok bool) {
	args := o.fs.Args()
	bad := func(format string, a ...any) (string, string, bool) {
		fmt.Fprintf(c.stderr, "relayd queue: "+format+"\n\n%s", append(a, queueUsage)...)
		return "", "", false
	}
	if len(args) == 0 {
		return bad("missing subcommand")
	}
	sub, args = args[0], args[1:]
	_, isAction := queueActions[sub]
	switch {
	case sub != "list" && sub != "show" && !isAction:
		return bad("unknown subcommand %q", sub)
	case o.state != "" && sub != "list":
		return bad("-state only goes with list")
	case o.all && sub != "retry" && sub != "list":
		return bad("-all only goes with list or retry")
	case o.all && o.state != "":
		return bad("-state and -all do not go together: -all lists every state")
	case sub == "list" || (sub == "retry" && o.all):
		if len(args) > 0 {
			return bad("%s takes no message ID here, got %q", sub, args[0])
		}
		return sub, "", true
	case len(args) != 1:
		return bad("%s needs exactly one message ID (%d given)", sub, len(args))
	}
	return sub, args[0], true
}

// queueRun performs sub and prints its result.
func (c *cli) queueRun(ac *adminClient, o *queueOptions, sub, id string) error {
	switch {
	case sub == "list":
		path := "/api/v1/queue?state=active"
		switch {
		case o.state != "":
			path = "/api/v1/queue?state=" + url.QueryEscape(o.state)
		case o.all:
			path = "/api/v1/queue"
		}
		var items []queueItem
		body, err := ac.do(http.MethodGet, path, "", &items)
		if err != nil || o.json {
			return c.printRaw(body, err)
		}
		printQueueList(c.stdout, items, o.state, o.all, time.Now())
	case sub == "retry" && o.all:
		var res struct {
			Retried int `json:"retried"`
		}
		body, err := ac.do(http.MethodPost, "/api/v1/queue/retry", "", &res)
		if err != nil || o.json {
			return c.printRaw(body, err)
		}
		fmt.Fprintf(c.stdout, "%d %s queued for retry\n", res.Retried, plural(res.Retried, "message"))
	default:
		method, path := http.MethodGet, "/api/v1/queue/"+url.PathEscape(id)
		act, isAction := queueActions[sub]
		if isAction {
			method, path = act.method, path+act.suffix
		}
		var it queueItem
		body, err := ac.do(method, path, id, &it)
		if err != nil || o.json {
			return c.printRaw(body, err)
		}
		if isAction {
			fmt.Fprintf(c.stdout, "%s %s (state now %s)\n", it.ID, act.done, it.State)
			return nil
		}
		printQueueItem(c.stdout, &it, time.Now())
	}
	return nil
}

// printRaw prints the API's JSON as it came, for -json.
func (c *cli) printRaw(body []byte, err error) error {
	if err != nil {
		return err
	}
	c.stdout.Write(body)
	if len(body) > 0 && body[len(body)-1] != '\n' {
		fmt.Fprintln(c.stdout)
	}
	return nil
}

// printQueueList prints the table of `relayd queue list`.
func printQueueList(w io.Writer, items []queueItem, state string, all bool, now time.Time) {
	if len(items) == 0 {
		switch {
		case state != "":
			fmt.Fprintf(w, "no messages in state %s\n", state)
		case all:
			fmt.Fprintln(w, "the queue and the journal are empty")
		default:
			fmt.Fprintln(w, "the queue is empty")
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tAGE\tSENDER\tFROM\tSUBJECT\tRECIPIENT -> PROFILE (RULE)\tATTEMPTS\tNEXT ATTEMPT\tLAST ERROR")
	for _, it := range items {
		msg := []any{it.ID, it.State, age(now.Sub(it.Created)), clean(orNull(it.Sender)),
			orDash(truncate(clean(it.From), fromWidth)), orDash(truncate(clean(it.Subject), subjectWidth))}
		if len(it.Recipients) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t-\t\t\t\n", msg...)
		}
		// One row per recipient with its own state (states are
		// per recipient); the message's columns only on its first row.
		for _, r := range it.Recipients {
			msg[1] = r.State
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", append(msg, clean(routeOf(r)), r.Attempts,
				nextAttempt(r.NextAttempt, now), truncate(clean(r.LastError), lastErrorWidth))...)
			msg = []any{"", "", "", "", "", ""}
		}
	}
	tw.Flush()
	n := len(items)
	fmt.Fprintf(w, "%d %s", n, plural(n, "message"))
	if n >= 10000 {
		fmt.Fprint(w, " (the admin API lists at most 10000)")
	}
	fmt.Fprintln(w)
}

// printQueueItem prints one message in full, last errors untruncated.
func printQueueItem(w io.Writer, it *queueItem, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\n", it.ID)
	fmt.Fprintf(tw, "state:\t%s\n", it.State)
	fmt.Fprintf(tw, "created:\t%s (%s ago)\n", it.Created.Local().Format(time.RFC3339), age(now.Sub(it.Created)))
	fmt.Fprintf(tw, "sender:\t%s\n", clean(orNull(it.Sender)))
	fmt.Fprintf(tw, "from:\t%s\n", orDash(clean(it.From)))
	fmt.Fprintf(tw, "subject:\t%s\n", orDash(clean(it.Subject)))
	fmt.Fprintf(tw, "team:\t%s\n", orDash(clean(it.Team)))
	fmt.Fprintf(tw, "size:\t%s\n", size(it.Size))
	tw.Flush()
	fmt.Fprintln(w, "recipients:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  RECIPIENT -> PROFILE (RULE)\tSTATE\tATTEMPTS\tNEXT ATTEMPT\tLAST ERROR")
	for _, r := range it.Recipients {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", clean(routeOf(r)), r.State, r.Attempts,
			nextAttempt(r.NextAttempt, now), orDash(clean(r.LastError)))
	}
	tw.Flush()
}

// routeOf is "RECIPIENT -> PROFILE (RULE)", as `relayd route` prints it.
func routeOf(r relay.QueueRecipient) string {
	return fmt.Sprintf("%s -> %s (%s)", r.Address, orDash(r.Profile), orDash(r.Rule))
}

func nextAttempt(t *time.Time, now time.Time) string {
	switch {
	case t == nil || t.IsZero():
		return "-"
	case !t.After(now):
		return "now"
	}
	return "in " + age(t.Sub(now))
}

// age is a short duration: 42s, 5m, 3h5m, 2d3h.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return trimZero(fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute)))
	}
	return trimZero(fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)))
}

// trimZero drops a zero second unit: "3h0m" -> "3h".
func trimZero(s string) string {
	if strings.HasSuffix(s, "h0m") || strings.HasSuffix(s, "d0h") {
		return s[:len(s)-2]
	}
	return s
}

func size(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// clean makes API text safe for one table cell: control characters
// (tabs and newlines would break the columns) become spaces.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// orNull shows the null sender of bounces as "<>".
func orNull(s string) string {
	if s == "" {
		return "<>"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// adminClient is an HTTP client of the admin API (docs/admin-api.md).
type adminClient struct {
	base  string // "http://HOST:PORT"
	addr  string // HOST:PORT, for messages
	token string // "" = no Authorization header
	// tokenFile is where the token came from (or would have), for messages.
	tokenFile string
	http      *http.Client
}

// errNotRunning is a request that could not connect: no daemon listens.
type errNotRunning struct{ addr string }

// Error implements error.
func (e errNotRunning) Error() string {
	return fmt.Sprintf("relayd is not running (admin API at %s unreachable)", e.addr)
}

// newAdminClient addresses [admin] listen. An unspecified listen address
// (0.0.0.0, ::) is reached over loopback.
func newAdminClient(a *config.Admin, configPath string) (*adminClient, error) {
	if configPath == "" {
		configPath = "the embedded default"
	}
	if a.Listen == "" {
		return nil, fmt.Errorf("the admin API is off: [admin] listen is empty in %s", configPath)
	}
	host, port, err := net.SplitHostPort(a.Listen)
	if err != nil {
		return nil, fmt.Errorf("[admin] listen %q in %s is not host:port", a.Listen, configPath)
	}
	if port == "0" {
		return nil, fmt.Errorf("[admin] listen %q in %s has port 0 (a random port): set a fixed port to use relayd queue", a.Listen, configPath)
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if err == nil && ip.Is6() {
			host = "::1"
		}
	}
	addr := net.JoinHostPort(host, port)
	return &adminClient{base: "http://" + addr, addr: addr, token: a.Token(), tokenFile: a.TokenFile,
		http: &http.Client{Timeout: queueTimeout}}, nil
}

// do sends one request and decodes a 200 answer into out. It returns the
// body as received. id names the message for a 404.
func (ac *adminClient) do(method, path, id string, out any) ([]byte, error) {
	return ac.doBody(method, path, id, nil, out)
}

// doBody is do with a JSON request body (nil: none).
func (ac *adminClient) doBody(method, path, id string, reqBody []byte, out any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
	defer cancel()
	var rd io.Reader
	if reqBody != nil {
		rd = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, ac.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json") // else 415
	}
	if ac.token != "" {
		req.Header.Set("Authorization", "Bearer "+ac.token)
	}
	resp, err := ac.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, errNotRunning{ac.addr}
		}
		return nil, fmt.Errorf("admin API at %s: %w", ac.addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: reading the answer: %w", ac.addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, ac.statusError(resp.StatusCode, body, id)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return nil, fmt.Errorf("admin API at %s: %s %s: bad JSON answer: %v", ac.addr, method, path, err)
	}
	return body, nil
}

// statusError maps an error answer of the admin API ({"error": "..."}) to what
// the user reads.
func (ac *adminClient) statusError(status int, body []byte, id string) error {
	var e struct {
		Error string `json:"error"`
	}
	text := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		text = e.Error
	}
	text = truncate(clean(text), 300)
	switch {
	case status == http.StatusNotFound && id != "" && text == "":
		return fmt.Errorf("no message with ID %s", id)
	case status == http.StatusNotFound && id != "", status == http.StatusConflict:
		return errors.New(text)
	case status == http.StatusUnauthorized && ac.token == "":
		return fmt.Errorf("admin API at %s wants a bearer token and %s could not be read: set [admin] token_file in the config relayd queue reads, or run relayd queue as a user who can read that file", ac.addr, orDash(ac.tokenFile))
	case status == http.StatusUnauthorized:
		return fmt.Errorf("admin API at %s refused the bearer token of %s (%s)", ac.addr, orDash(ac.tokenFile), text)
	}
	return fmt.Errorf("admin API at %s: %d %s: %s", ac.addr, status, http.StatusText(status), text)
}
