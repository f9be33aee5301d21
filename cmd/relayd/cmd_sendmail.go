package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/sendmail"
)

// `relayd sendmail` (docs/relayd.8.md), also run as `sendmail` or `mailq` through
// a link: parsing, the message and the SMTP client are in package
// sendmail; this file finds the socket in the config and runs the modes.

// programArgs turns os.Args into run's arguments: the binary run under the
// name sendmail or mailq (a symlink such as /usr/sbin/sendmail) is
// `relayd sendmail` or `relayd sendmail -bp`.
func programArgs(osArgs []string) []string {
	if len(osArgs) == 0 {
		return nil
	}
	switch filepath.Base(osArgs[0]) {
	case "sendmail":
		return append([]string{"sendmail"}, osArgs[1:]...)
	case "mailq":
		return append([]string{"sendmail", "-bp"}, osArgs[1:]...)
	}
	return osArgs[1:]
}

// sendmailSettings reads the config the way every command finds it
// (c.resolveConfig), leniently: config.ReadSendmailClient.
func (c *cli) sendmailSettings(flagPath string) (*config.SendmailClient, error) {
	path, err := c.resolveConfig(flagPath)
	if err != nil {
		return nil, err
	}
	return config.ReadSendmailClient(path)
}

const sendmailUsage = `usage: relayd sendmail [flags] [RCPT...]
       (the same when run as sendmail; mailq is relayd sendmail -bp)

Reads a message from standard input and hands it to the running daemon
through its [sendmail] socket. Exit status: 0 accepted, 64 bad usage,
65 message refused, 67 recipient refused, 75 try again later (relayd not
running, or a temporary refusal), 70 anything else.

flags:
  -t            recipients also from To:, Cc: and Bcc: (Bcc: is removed)
  -i, -oi       a line with a single dot does not end the message
  -f ADDR       envelope sender (also -r ADDR); default LOGIN@[server] hostname
  -F NAME       display name of the From: added when the message has none
  -bm           read a message from standard input (the default)
  -bs           speak SMTP on standard input and output
  -bp           list the queue, like relayd queue list
  -config PATH  the config file that names the socket
accepted without effect: -odi -odb -odq -oem -oep -oX... -B8BITMIME -BMIME -v -L TAG
`

// sendmail is `relayd sendmail [flags] [RCPT...]`; the exit status is a
// sysexits code, with one line on standard error saying why.
func (c *cli) sendmail(args []string) int {
	err := c.runSendmail(args)
	if err == nil {
		return 0
	}
	var se *sendmail.Error
	if !errors.As(err, &se) {
		se = &sendmail.Error{Code: sendmail.ExitSoftware, Msg: err.Error()}
	}
	fmt.Fprintf(c.stderr, "relayd sendmail: %s\n", se.Msg)
	return se.Code
}

func (c *cli) runSendmail(args []string) error {
	o, err := sendmail.ParseArgs(args)
	if err != nil {
		return err
	}
	if o.Help {
		fmt.Fprint(c.stdout, sendmailUsage)
		return nil
	}
	cfg, err := c.sendmailSettings(o.Config)
	if err != nil {
		return err
	}
	client := &sendmail.Client{Socket: cfg.Sendmail.Socket, Helo: cfg.Server.Hostname}
	switch o.Mode {
	case sendmail.ModeSMTP:
		return client.Proxy(context.Background(), c.stdin, c.stdout)
	case sendmail.ModeQueue:
		return c.mailq(cfg)
	}
	msg, err := sendmail.ReadMessage(c.stdin, o.IgnoreDots)
	if err != nil {
		return err
	}
	env, msg, err := envelope(o, cfg.Server.Hostname, msg)
	if err != nil {
		return err
	}
	return client.Submit(context.Background(), env, msg)
}

// envelope builds the sender and recipients of a message and the message
// as submitted: without Bcc: with -t, with a From: when it has none.
func envelope(o *sendmail.Options, host string, msg []byte) (sendmail.Envelope, []byte, error) {
	var env sendmail.Envelope
	sender := o.Sender
	if !o.SenderSet {
		sender = loginName()
	}
	env.From = qualify(sender, host)
	h, msg := sendmail.ScanHeader(msg, o.Extract)
	var rcpts []string
	if o.Extract {
		rcpts = append(rcpts, h.Recipients...)
	}
	rcpts = append(rcpts, o.Recipients...)
	for _, r := range rcpts {
		env.To = append(env.To, qualify(r, host))
	}
	if len(env.To) == 0 {
		return env, nil, &sendmail.Error{Code: sendmail.ExitUsage,
			Msg: "no recipients: give them as arguments, or use -t and put them in To:, Cc: or Bcc:"}
	}
	if !h.HasFrom {
		msg = sendmail.AddFrom(msg, o.FullName, env.From)
	}
	return env, msg, nil
}

// qualify completes a bare local part ("root", what cron passes) with the
// host name, as sendmail does with $j; "" stays the null sender.
func qualify(addr, host string) string {
	if addr == "" || strings.Contains(addr, "@") {
		return addr
	}
	return addr + "@" + host
}

// loginName is the invoking user's login name (the real uid's, not
// $USER, which the caller could set to anything).
func loginName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid" + strconv.Itoa(os.Getuid())
}

// mailq is -bp: the queue list of `relayd queue list`, through the admin
// API.
func (c *cli) mailq(cfg *config.SendmailClient) error {
	ac, err := newAdminClient(cfg.AdminTable(), cfg.Path)
	if err != nil {
		return err
	}
	o := c.newQueueFlags()
	if err := c.queueRun(ac, o, "list", ""); err != nil {
		var nr errNotRunning
		if errors.As(err, &nr) {
			return &sendmail.Error{Code: sendmail.ExitTempFail, Msg: err.Error()}
		}
		return err
	}
	return nil
}
