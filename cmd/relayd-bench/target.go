package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// runningTarget is a relay under test of the sendmail and attachments
// phases, started fresh with its own smtp-sink: relayd (its config
// adjusted by the phase) or the private Postfix.
type runningTarget struct {
	dir   string
	sink  *sink
	addr  string // SMTP listener
	admin string // relayd's admin API, "" for Postfix
	cfg   string // relayd's config file
	etc   string // Postfix's config directory
	root  int    // the daemon's process tree (CPU)
	stops []func()
}

// stop stops the daemon, then the sink, and removes the directory unless
// -keep.
func (t *runningTarget) stop() {
	for i := len(t.stops) - 1; i >= 0; i-- {
		t.stops[i]()
	}
}

// startTarget starts a sink and kind ("relayd" or "postfix") in a fresh
// directory under o.Work named after name. adjust, if not nil, changes
// relayd's config before it is written; it gets the directory.
func startTarget(ctx context.Context, o *options, kind, name string, adjust func(c *relaydConfig, dir string) error) (*runningTarget, error) {
	dir, err := mkdirTemp(o.Work, name+".")
	if err != nil {
		return nil, err
	}
	t := &runningTarget{dir: dir}
	if !o.Keep {
		t.stops = append(t.stops, func() { os.RemoveAll(dir) })
	}
	fail := func(err error) (*runningTarget, error) {
		t.stop()
		return nil, err
	}
	var ports [3]int // sink, SMTP, admin
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return fail(err)
		}
	}
	if t.sink, err = startSink(dir, ports[0]); err != nil {
		return fail(err)
	}
	t.stops = append(t.stops, t.sink.stop)
	t.addr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	switch kind {
	case "relayd":
		t.admin = fmt.Sprintf("127.0.0.1:%d", ports[2])
		c := relaydConfig{Listen: t.addr, SinkPort: fmt.Sprint(ports[0]), StateDir: filepath.Join(dir, "state"),
			Admin: t.admin, UpstreamConns: o.UpstreamConns, PerConn: o.PerConn, LogLevel: o.LogLevel}
		if adjust != nil {
			if err := adjust(&c, dir); err != nil {
				return fail(err)
			}
		}
		if t.cfg, err = writeConfig(dir, c); err != nil {
			return fail(err)
		}
		logPath := filepath.Join(dir, "relayd.log")
		rd, err := startRelayd(o.Relayd, t.cfg, logPath)
		if err != nil {
			return fail(err)
		}
		t.stops = append(t.stops, func() { rd.stop(30 * time.Second) })
		if err := wait220(ctx, t.addr, 30*time.Second); err != nil {
			return fail(fmt.Errorf("%w: %s", err, tailFile(logPath, 5)))
		}
		t.root = rd.pid()
		logf("%s: relayd started: pid %d, %s -> 127.0.0.1:%d", name, t.root, t.addr, ports[0])
	case "postfix":
		pf, err := startPostfix(filepath.Join(dir, "postfix"), ports[1], ports[0])
		if err != nil {
			return fail(err)
		}
		t.stops = append(t.stops, pf.Stop)
		t.etc, t.root = pf.ConfigDir(), pf.Master()
		logf("%s: postfix started: master pid %d, %s -> 127.0.0.1:%d", name, t.root, t.addr, ports[0])
	default:
		return fail(fmt.Errorf("unknown target %q", kind))
	}
	return t, nil
}
