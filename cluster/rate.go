package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Window is one sliding rate window: at most N deliveries in any span of
// Per.
type Window struct {
	N   int
	Per time.Duration
}

// allowScript counts one delivery in every window of a profile if all of
// them have room, atomically: Redis runs a script alone, so two relayd
// cannot both take the last place of a window. Each window is a sorted set
// of deliveries scored by their start (ms, the caller's clock).
//
// KEYS: one sorted set per window. ARGV[1]: now (ms); ARGV[2]: this
// delivery's unique member; then N and Per (ms) of each window.
// Returns {1, 0} when counted, else {0, t}: t (ms) is when every window
// could allow.
var allowScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local nxt = 0
for i, key in ipairs(KEYS) do
  local n = tonumber(ARGV[1 + 2*i])
  local per = tonumber(ARGV[2 + 2*i])
  -- a delivery at exactly now-per is outside the window (per long, ending at now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - per)
  local c = redis.call('ZCARD', key)
  if c >= n then
    local e = redis.call('ZRANGE', key, c - n, c - n, 'WITHSCORES')
    local t = tonumber(e[2]) + per
    if t > nxt then nxt = t end
  end
end
if nxt > 0 then return {0, nxt} end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 + 2*i]))
end
return {1, 0}
`)

// Allow counts one delivery of profile starting at now if every window
// has room, across the cluster, and reports true; otherwise it counts
// nothing and returns when every window could allow. When Redis does not
// answer it counts on this host alone (and the outage is reported once).
func (c *Cluster) Allow(profile string, windows []Window, now time.Time) (bool, time.Time) {
	windows = active(windows)
	if len(windows) == 0 {
		return true, time.Time{}
	}
	if !c.Up() && c.stateKnown() {
		return c.local.allow(profile, windows, now)
	}
	bk := localKey(profile, windows)
	c.mu.Lock()
	if t, ok := c.blocked[bk]; ok && t.After(now) {
		// Redis said when the windows open: the other hosts can only add
		// deliveries, never open them sooner. Spares a round trip per
		// queued message of a limited profile.
		c.mu.Unlock()
		return false, t
	}
	c.mu.Unlock()
	keys := make([]string, len(windows))
	args := []any{now.UnixMilli(), c.member(now)}
	for i, w := range windows {
		keys[i] = rateKey(profile, w)
		args = append(args, w.N, w.Per.Milliseconds())
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	res, err := allowScript.Run(ctx, c.rdb, keys, args...).Int64Slice()
	if err != nil || len(res) != 2 {
		if err == nil {
			err = fmt.Errorf("unexpected answer %v to the rate script", res)
		}
		c.fail(err)
		return c.local.allow(profile, windows, now)
	}
	c.ok()
	c.mu.Lock()
	defer c.mu.Unlock()
	if res[0] == 1 {
		delete(c.blocked, bk)
		return true, time.Time{}
	}
	next := time.UnixMilli(res[1])
	c.blocked[bk] = next
	return false, next
}

// WaitUntil returns when profile may start its next delivery, zero when
// it may try now. It asks no one (the scheduler calls it often): it is the
// time the last refusal named, or this host's own count while Redis is
// down. A zero answer can still be refused by Allow, which then says until
// when.
func (c *Cluster) WaitUntil(profile string, windows []Window, now time.Time) time.Time {
	if len(active(windows)) == 0 {
		return time.Time{}
	}
	if !c.Up() && c.stateKnown() {
		return c.local.waitUntil(profile, windows, now)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.blocked[localKey(profile, active(windows))]; ok && t.After(now) {
		return t
	}
	return time.Time{}
}

func (c *Cluster) stateKnown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state != stateUnknown
}

// member is a unique sorted-set member for one delivery.
func (c *Cluster) member(now time.Time) string {
	c.mu.Lock()
	c.seq++
	n := c.seq
	c.mu.Unlock()
	return fmt.Sprintf("%s/%d/%d", c.id, now.UnixMilli(), n)
}

func active(ws []Window) []Window {
	var out []Window
	for _, w := range ws {
		if w.N > 0 && w.Per > 0 {
			out = append(out, w)
		}
	}
	return out
}

// localWindows counts deliveries on this host alone, while Redis is down.
type localWindows struct {
	mu sync.Mutex
	m  map[string][]time.Time // profile+windows → delivery starts, oldest first
}

func localKey(profile string, ws []Window) string {
	var b strings.Builder
	b.WriteString(profile)
	for _, w := range ws {
		fmt.Fprintf(&b, "|%d/%d", w.N, w.Per)
	}
	return b.String()
}

func (l *localWindows) allow(profile string, ws []Window, now time.Time) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string][]time.Time{}
	}
	k := localKey(profile, ws)
	if next := l.next(k, ws, now); !next.IsZero() {
		return false, next
	}
	l.m[k] = append(l.m[k], now)
	return true, time.Time{}
}

func (l *localWindows) waitUntil(profile string, ws []Window, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next(localKey(profile, ws), active(ws), now)
}

// next forgets deliveries older than the longest window and returns when
// every window allows one more: zero if now.
func (l *localWindows) next(k string, ws []Window, now time.Time) time.Time {
	sent := l.m[k]
	var longest time.Duration
	for _, w := range ws {
		longest = max(longest, w.Per)
	}
	i := sort.Search(len(sent), func(i int) bool { return sent[i].After(now.Add(-longest)) })
	sent = sent[i:]
	if l.m != nil {
		l.m[k] = sent
	}
	var next time.Time
	for _, w := range ws {
		j := sort.Search(len(sent), func(i int) bool { return sent[i].After(now.Add(-w.Per)) })
		if len(sent)-j >= w.N {
			if t := sent[len(sent)-w.N].Add(w.Per); t.After(next) {
				next = t
			}
		}
	}
	return next
}
