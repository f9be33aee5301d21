package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// The sendmail phase (issue 18): N invocations of `relayd
// sendmail`, one process each, one after the other as a shell loop, cron or
// PHP's mail() run them, against a running relayd's [sendmail] socket; then
// the same N invocations of Postfix's own sendmail into the private Postfix
// (postdrop, pickup), both relaying to their own smtp-sink.

// sendmailSizeKB is the body size of the sendmail phase's messages.
const sendmailSizeKB = 5

// sendmailWarmup invocations go to each target before the measured loop.
const sendmailWarmup = 20

// sendmailResult is the sendmail phase: "relayd" and "postfix".
type sendmailResult struct {
	N, SizeKB int
	Targets   map[string]*sendmailTarget
}

// sendmailTarget is one target's loop.
type sendmailTarget struct {
	Sent      int     // invocations that exited 0
	Failed    int     // any other exit
	Seconds   float64 // wall time of the loop
	PerSec    float64 // Sent / Seconds
	E2E       float64 // loop start until the sink counted Sent (0: not reached)
	Delivered int
	Lost      int
	CPUusMsg  float64 // the daemon's process tree (not the sendmail processes)
	FirstErr  string  `json:",omitempty"`
	Err       string  `json:",omitempty"`
}

// sendmailArgv is the command line of invocation i: relayd's client finds
// the socket from relayd's config file, Postfix's from its config
// directory (-C). Both get -i (a lone dot is text, as PHP passes it), the
// envelope sender and one recipient.
func sendmailArgv(kind, bin, config string, i int) []string {
	rcpt := fmt.Sprintf("%d.rcpt@bench.test", i)
	if kind == "relayd" {
		return []string{bin, "sendmail", "-config", config, "-i", "-f", "sender@bench.test", rcpt}
	}
	return []string{bin, "-C", config, "-i", "-f", "sender@bench.test", rcpt}
}

// sendmailMessage is message i as a program pipes it to sendmail: LF line
// endings.
func sendmailMessage(i int, pad []byte) []byte {
	return bytes.ReplaceAll(body(i, sendmailSizeKB, pad), []byte("\r\n"), []byte("\n"))
}

// sendmailPhase runs the loop against relayd, then Postfix.
func sendmailPhase(ctx context.Context, o *options) (*sendmailResult, error) {
	res := &sendmailResult{N: o.Sendmail, SizeKB: sendmailSizeKB, Targets: map[string]*sendmailTarget{}}
	targets := []string{"relayd"}
	if o.Postfix {
		targets = append(targets, "postfix")
	}
	for _, kind := range targets {
		logf("sendmail: %s, %d invocations of its sendmail, %d KiB each", kind, o.Sendmail, sendmailSizeKB)
		st, err := sendmailTargetRun(ctx, o, kind)
		if err != nil {
			st.Err = err.Error()
			logf("sendmail: %s: %v", kind, err)
		}
		res.Targets[kind] = st
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return res, nil
}

func sendmailTargetRun(ctx context.Context, o *options, kind string) (*sendmailTarget, error) {
	st := &sendmailTarget{}
	t, err := startTarget(ctx, o, kind, "sendmail-"+kind, func(c *relaydConfig, dir string) error {
		c.SendmailSocket = dir + "/sendmail.sock"
		return nil
	})
	if err != nil {
		return st, err
	}
	defer t.stop()
	bin, config := o.Relayd, t.cfg
	if kind == "postfix" {
		out, err := exec.Command("postconf", "-c", t.etc, "-h", "sendmail_path").Output()
		if err != nil {
			return st, fmt.Errorf("postconf sendmail_path: %w", err)
		}
		bin, config = strings.TrimSpace(string(out)), t.etc
	}
	pad := padding(sendmailSizeKB)
	ctx, cancel := context.WithTimeout(ctx, o.RunTimeout)
	defer cancel()
	loop := func(first, n int) (sent int, firstErr string) {
		for i := first; i < first+n && ctx.Err() == nil; i++ {
			if err := sendmailOnce(ctx, sendmailArgv(kind, bin, config, i), sendmailMessage(i, pad)); err != nil {
				if firstErr == "" {
					firstErr = err.Error()
				}
				continue
			}
			sent++
		}
		return sent, firstErr
	}
	warm, werr := loop(1, min(sendmailWarmup, o.Sendmail))
	if werr != "" {
		logf("sendmail: %s warm-up: %s", kind, werr)
	}
	base := t.sink.waitCount(warm, 2*time.Minute, 30*time.Second)
	cpu0 := treeTicks(t.root)
	t0 := time.Now()
	st.Sent, st.FirstErr = loop(1000001, o.Sendmail)
	st.Seconds = time.Since(t0).Seconds()
	st.Failed = o.Sendmail - st.Sent
	if st.Seconds > 0 {
		st.PerSec = float64(st.Sent) / st.Seconds
	}
	got := t.sink.waitDelivered(context.Background(), base+st.Sent, t0.Add(o.RunTimeout), harnessStall)
	if got >= base+st.Sent {
		st.E2E = time.Since(t0).Seconds()
	}
	if st.Sent > 0 {
		st.CPUusMsg = float64(treeTicks(t.root)-cpu0) / clkTck * 1e6 / float64(st.Sent)
	}
	time.Sleep(harnessSettle) // count late duplicates too
	st.Delivered = t.sink.count() - base
	st.Lost = max(0, st.Sent-st.Delivered)
	return st, nil
}

// sendmailOnce runs one sendmail process with msg on its standard input;
// an exit status other than 0 is an error with its standard error.
func sendmailOnce(ctx context.Context, argv []string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = bytes.NewReader(msg), &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s exited %d: %s", argv[0], ee.ExitCode(), strings.TrimSpace(string(head(stderr.Bytes(), 300))))
		}
		return err
	}
	return nil
}
