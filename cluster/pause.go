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
	c.publish(p, func(ctx context.Context, data []byte) error {
		return c.rdb.Set(ctx, pauseKey(profile), data, ttl).Err()
	})
}

// ShareResume announces that profile was resumed.
func (c *Cluster) ShareResume(profile, by string) {
	p := Pause{Profile: profile, By: by, Host: c.opts.Host, Resumed: true}
	c.publish(p, func(ctx context.Context, _ []byte) error {
		return c.rdb.Del(ctx, pauseKey(profile)).Err()
	})
}

func (c *Cluster) publish(p Pause, store func(context.Context, []byte) error) {
	data, _ := json.Marshal(wirePause{Pause: p, Origin: c.id})
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	err := store(ctx, data)
	if err == nil {
		err = c.rdb.Publish(ctx, pauseChannel, data).Err()
	}
	if err != nil {
		c.fail(err)
		c.log.Warn("pause not shared with the other relayd: the cluster's Redis is unreachable; it holds on this host",
			"profile", p.Profile, "host", c.addr)
		return
	}
	c.ok()
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
