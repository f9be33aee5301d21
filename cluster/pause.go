package cluster

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Pauses are shared two ways: a key per paused profile that expires when
// the pause ends (so a relayd that starts, or reconnects after an outage,
// finds the pauses in force), and a message on pauseChannel so the others
// apply it at once. Each relayd also keeps the pause in its own spool.

type wirePause struct {
	Pause
	Origin string `json:"origin"`
}

// SharePause announces that profile is paused until until (zero: until
// resumed), as of now (the caller's clock: the key expires after
// until-now). While Redis is down the pause stays local (logged).
func (c *Cluster) SharePause(profile string, until time.Time, by string, now time.Time) {
	p := Pause{Profile: profile, Until: until, By: by, Host: c.opts.Host}
	var ttl time.Duration
	if !until.IsZero() {
		ttl = until.Sub(now)
		if ttl <= 0 {
			return
		}
	}
	c.share(pendingShare{p: p, ttl: ttl, at: time.Now()})
}

// ShareResume announces that profile was resumed.
func (c *Cluster) ShareResume(profile, by string) {
	c.share(pendingShare{p: Pause{Profile: profile, By: by, Host: c.opts.Host, Resumed: true}, at: time.Now()})
}

// pendingShare is a pause or resume to tell the others; one that Redis
// did not take is kept (the latest per profile) and sent when Redis is
// back, before the pauses in force are read, so that a resume made during
// the outage is not undone by the pause it ended.
type pendingShare struct {
	p   Pause
	ttl time.Duration // the pause's remaining time at `at`; 0 until resumed
	at  time.Time     // real time, to shorten ttl by the wait
}

func (c *Cluster) share(ps pendingShare) {
	if err := c.send(ps); err != nil {
		c.mu.Lock()
		if c.pending == nil {
			c.pending = map[string]pendingShare{}
		}
		c.pending[ps.p.Profile] = ps
		c.mu.Unlock()
		c.fail(err)
		c.log.Warn("pause not shared with the other relayd yet: the cluster's Redis is unreachable; "+
			"it holds on this host and is shared when Redis is back", "profile", ps.p.Profile, "host", c.addr)
		return
	}
	c.ok()
}

// send stores and publishes one pause or resume.
func (c *Cluster) send(ps pendingShare) error {
	data, _ := json.Marshal(wirePause{Pause: ps.p, Origin: c.id})
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	var err error
	switch {
	case ps.p.Resumed:
		err = c.rdb.Del(ctx, pauseKey(ps.p.Profile)).Err()
	case ps.ttl > 0:
		ttl := ps.ttl - time.Since(ps.at)
		if ttl <= 0 {
			return nil // over meanwhile
		}
		err = c.rdb.Set(ctx, pauseKey(ps.p.Profile), data, ttl).Err()
	default:
		err = c.rdb.Set(ctx, pauseKey(ps.p.Profile), data, 0).Err()
	}
	if err == nil {
		err = c.rdb.Publish(ctx, pauseChannel, data).Err()
	}
	return err
}

// flushPending sends the shares Redis did not take during an outage.
func (c *Cluster) flushPending() {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for name, ps := range pending {
		if err := c.send(ps); err != nil {
			c.mu.Lock()
			if c.pending == nil {
				c.pending = map[string]pendingShare{}
			}
			if _, newer := c.pending[name]; !newer {
				c.pending[name] = ps
			}
			c.mu.Unlock()
		}
	}
}

// received applies a pause message of another relayd.
func (c *Cluster) received(payload string) {
	var w wirePause
	if err := json.Unmarshal([]byte(payload), &w); err != nil || w.Profile == "" {
		c.log.Warn("ignored a message on the cluster's pause channel that relayd did not write", "host", c.addr)
		return
	}
	if w.Origin == c.id {
		return
	}
	c.deliver(w.Pause)
}

func (c *Cluster) deliver(p Pause) {
	c.mu.Lock()
	h := c.h.Pause
	c.mu.Unlock()
	if h != nil {
		h(p)
	}
}

// catchUp applies the pauses in force in Redis (after the start or an
// outage: messages published meanwhile were missed).
func (c *Cluster) catchUp(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 4*c.opts.Timeout)
	defer cancel()
	iter := c.rdb.Scan(cctx, 0, keyPrefix+"pause:*", 100).Iterator()
	for iter.Next(cctx) {
		data, err := c.rdb.Get(cctx, iter.Val()).Result()
		if err != nil {
			continue // expired meanwhile
		}
		var w wirePause
		if json.Unmarshal([]byte(data), &w) != nil || w.Profile == "" || w.Origin == c.id {
			continue
		}
		c.deliver(w.Pause)
	}
	if err := iter.Err(); err != nil && ctx.Err() == nil {
		c.log.Warn("could not read the pauses in force in the cluster", "host", c.addr, "err", redactErr(err, c.opts))
	}
}

func replaceAll(s, old, repl string) string { return strings.ReplaceAll(s, old, repl) }
