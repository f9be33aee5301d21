package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The attachments phase (docs/performance.md): one shape (2000×20×100 KiB
// by default) of Go-built multipart/mixed messages, each a text body and
// one PDF attachment of S KiB, against relayd without attachment rules,
// relayd whose profile links every attachment over 50 KB
// (attachments_as_url = "oversize": every message is rewritten at
// delivery) and the private Postfix, one after the other, each with a
// fresh state and its own smtp-sink.

// attachLimit is the profile's max_attachment_size in the linking variant.
const attachLimit = "50KB"

// attachTargets are the phase's targets in order: name and kind.
var attachTargets = []struct{ name, kind string }{
	{"relayd", "relayd"}, {"relayd-links", "relayd"}, {"postfix", "postfix"},
}

// attachResult is the attachments phase.
type attachResult struct {
	Shape    shape
	MsgBytes int // one message on the wire
	Targets  map[string]*attachTarget
}

// attachTarget is one target's load and delivery.
type attachTarget struct {
	Load      loadResult
	E2E       float64 // load start until the sink counted every accepted message (0: not reached)
	Delivered int
	Lost      int
	CPUusMsg  float64 // the daemon's process tree
	Linked    float64 // relayd_attachments_linked_total after the load (warm-up included)
	Err       string  `json:",omitempty"`
}

// attachConfig turns relaydConfig c into the linking variant: every
// attachment over attachLimit becomes a link served on listen.
func attachConfig(c *relaydConfig, dir, listen string) {
	c.AttachMode, c.AttachMax = "oversize", attachLimit
	c.AttachListen, c.AttachDir = listen, filepath.Join(dir, "attachments")
	c.AttachBaseURL = "http://" + listen + "/relayd"
}

// attachPhase runs the shape against the three targets.
func attachPhase(ctx context.Context, o *options) (*attachResult, error) {
	sh := o.AttachShape
	res := &attachResult{Shape: sh, MsgBytes: len(attachMessage(1, pdfLike(sh.SizeKB))), Targets: map[string]*attachTarget{}}
	for _, tg := range attachTargets {
		if tg.kind == "postfix" && !o.Postfix {
			continue
		}
		logf("attachments %s: %s, %d messages with a %d KiB PDF each", sh, tg.name, sh.N, sh.SizeKB)
		at, err := attachTargetRun(ctx, o, tg.kind, tg.name)
		if err != nil {
			at.Err = err.Error()
			logf("attachments %s: %s: %v", sh, tg.name, err)
		}
		res.Targets[tg.name] = at
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	return res, nil
}

func attachTargetRun(ctx context.Context, o *options, kind, name string) (*attachTarget, error) {
	at := &attachTarget{}
	var adjust func(*relaydConfig, string) error
	if name == "relayd-links" {
		adjust = func(c *relaydConfig, dir string) error {
			p, err := freePort()
			attachConfig(c, dir, fmt.Sprintf("127.0.0.1:%d", p))
			return err
		}
	}
	t, err := startTarget(ctx, o, kind, "attach-"+name, adjust)
	if err != nil {
		return at, err
	}
	defer t.stop()
	sh := o.AttachShape
	spec := loadSpec{Addr: t.addr, C: sh.C, SizeKB: sh.SizeKB, Deadline: o.RunTimeout, Attach: true}
	base := 0
	if w := min(o.Warmup, sh.N); w > 0 {
		spec.N = w
		warm := runLoad(ctx, spec)
		base = t.sink.waitCount(warm.Accepted, o.RunTimeout, harnessStall)
		time.Sleep(harnessSettle)
	}
	spec.N = sh.N
	cpu0 := treeTicks(t.root)
	t0 := time.Now()
	at.Load = runLoad(ctx, spec)
	got := t.sink.waitDelivered(ctx, base+at.Load.Accepted, t0.Add(o.RunTimeout), harnessStall)
	if got >= base+at.Load.Accepted {
		at.E2E = time.Since(t0).Seconds()
	}
	if at.Load.Accepted > 0 {
		at.CPUusMsg = float64(treeTicks(t.root)-cpu0) / clkTck * 1e6 / float64(at.Load.Accepted)
	}
	time.Sleep(harnessSettle)
	at.Delivered = t.sink.count() - base
	at.Lost = max(0, at.Load.Accepted-at.Delivered)
	if t.admin != "" {
		at.Linked, _ = scrapeCounter(ctx, t.admin, "relayd_attachments_linked_total")
	}
	return at, nil
}

// e2ePerSec is the end-to-end rate, false when not every accepted message
// reached the sink.
func (a *attachTarget) e2ePerSec() (float64, bool) {
	if a == nil || a.E2E <= 0 || a.Load.Accepted == 0 {
		return 0, false
	}
	return float64(a.Load.Accepted) / a.E2E, true
}

// scrapeCounter sums every series of the counter name on relayd's admin
// /metrics.
func scrapeCounter(ctx context.Context, admin, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return counterSum(resp.Body, name)
}

// counterSum sums the series of name in the Prometheus text format.
func counterSum(r io.Reader, name string) (float64, error) {
	var sum float64
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		series, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}
