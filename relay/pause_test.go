package relay

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/relayd/relayd/spool"
)

// pausedMetric is relayd_profile_paused{profile} as a scrape sees it, -1
// when the series is missing.
func (r *testRelay) pausedMetric(profile string) float64 {
	r.t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "relayd_profile_paused" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == profile {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// waiting asserts that message id is still queued for its first attempt:
// no attempt counted, no error, nothing bounced.
func waiting(t *testing.T, r *testRelay, id string) *spool.Message {
	t.Helper()
	m, err := r.store.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range m.Recipients {
		if rc.State != spool.StateReady || rc.Attempts != 0 || rc.LastError != "" {
			t.Fatalf("recipient of a paused profile: %+v; want ready, no attempt, no error", rc)
		}
	}
	return m
}

// TestPausedProfileKeepsMessagesQueued: while "sink" is paused until
// resumed, a message routed to it reaches no upstream however often the
// scheduler runs and however much time passes (even past max_queue_age);
// resume delivers it. The gauge follows.
func TestPausedProfileKeepsMessagesQueued(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	if got := r.pausedMetric("sink"); got != 0 {
		t.Fatalf("relayd_profile_paused before any pause = %v, want 0", got)
	}
	if err := r.srv.PauseProfile("sink", 0, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := r.pausedMetric("sink"); got != 1 {
		t.Errorf("relayd_profile_paused while paused = %v, want 1", got)
	}
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	for range 3 {
		r.settle()
	}
	sk.none(r)
	waiting(t, r, id)
	r.advance(3 * time.Hour) // past the park interval: read again, parked again
	r.settle()
	sk.none(r)
	waiting(t, r, id)
	if p := r.srv.Profiles()[0]; !p.Paused || p.PausedUntil != nil || p.PausedBy != "alice" {
		t.Errorf("profile listing while paused: %+v", p)
	}
	var item QueueItem
	if code, body := r.api("GET", "/api/v1/queue/"+id); code != 200 || json.Unmarshal([]byte(body), &item) != nil {
		t.Fatalf("GET queue item: %d %s", code, body)
	}
	if rc := item.Recipients[0]; rc.NextAttempt != nil || rc.LastError != "waiting: profile sink is paused until resumed" {
		t.Errorf("API while paused: next attempt %v, last error %q", rc.NextAttempt, rc.LastError)
	}

	if err := r.srv.ResumeProfile("sink", "bob"); err != nil {
		t.Fatal(err)
	}
	if got := sk.wait(); len(got.To) != 1 || got.To[0] != "x@example.org" {
		t.Errorf("delivered after resume: %+v", got)
	}
	r.waitState(id, spool.StateSent)
	if got := r.pausedMetric("sink"); got != 0 {
		t.Errorf("relayd_profile_paused after resume = %v, want 0", got)
	}
	if _, ok, _ := r.store.GetPause("sink"); ok {
		t.Error("the pause is still stored after resume")
	}
}

// TestPauseStopsExpiry: a paused profile's message is not bounced for
// max_queue_age while the pause lasts; max_queue_age applies again once it
// is resumed.
func TestPauseStopsExpiry(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	if err := r.srv.PauseProfile("sink", 0, "alice"); err != nil {
		t.Fatal(err)
	}
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	r.settle()
	r.advance(6 * 24 * time.Hour) // max_queue_age is 5d
	r.settle()
	sk.none(r)
	waiting(t, r, id)
	if err := r.srv.ResumeProfile("sink", "bob"); err != nil {
		t.Fatal(err)
	}
	m := r.waitState(id, spool.StateBounced)
	if !strings.Contains(m.Recipients[0].LastError, "max_queue_age") {
		t.Errorf("after resume: %q", m.Recipients[0].LastError)
	}
}

// TestTimedPauseEndsByItself: a pause "for 1h" holds the message until the
// injected clock reaches its end; then the scheduler delivers it without a
// resume, and the pause is gone from the spool.
func TestTimedPauseEndsByItself(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	if err := r.srv.PauseProfile("sink", time.Hour, "alice"); err != nil {
		t.Fatal(err)
	}
	want := r.clock.Now().Add(time.Hour)
	if p := r.srv.Profiles()[0]; !p.Paused || p.PausedUntil == nil || !p.PausedUntil.Equal(want) {
		t.Errorf("profile listing: %+v, want paused until %v", p, want)
	}
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	r.settle()
	r.advance(59 * time.Minute)
	r.settle()
	sk.none(r)
	waiting(t, r, id)
	r.advance(time.Minute)
	sk.wait()
	r.waitState(id, spool.StateSent)
	if got := r.pausedMetric("sink"); got != 0 {
		t.Errorf("relayd_profile_paused after the pause ended = %v, want 0", got)
	}
	r.settle()
	if _, ok, _ := r.store.GetPause("sink"); ok {
		t.Error("the ended pause is still stored")
	}
	if p := r.srv.Profiles()[0]; p.Paused || p.PausedUntil != nil {
		t.Errorf("profile listing after the pause: %+v", p)
	}
}

// TestPausedProfileIsNotRerouted: a message for paused "a" goes neither to
// its fallback "b" nor anywhere else; it waits for "a".
func TestPausedProfileIsNotRerouted(t *testing.T) {
	cfg, sa, sb := twoUpstreams(t)
	cfg.Profiles["a"].Fallback = []string{"b"}
	r := startRelay(t, cfg)
	if err := r.srv.PauseProfile("a", 0, "alice"); err != nil {
		t.Fatal(err)
	}
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	r.settle()
	r.settle()
	sa.none(r)
	sb.none(r)
	if m := waiting(t, r, id); m.Recipients[0].Profile != "a" {
		t.Errorf("recipient moved to profile %q", m.Recipients[0].Profile)
	}
	if err := r.srv.ResumeProfile("a", "bob"); err != nil {
		t.Fatal(err)
	}
	sa.wait()
	sb.none(r)
}

// TestPauseUnknownProfile: pausing or resuming a profile the configuration
// does not have fails with ErrNoProfile, and nothing is stored.
func TestPauseUnknownProfile(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	if err := r.srv.PauseProfile("nosuch", 0, "alice"); !errors.Is(err, ErrNoProfile) {
		t.Errorf("PauseProfile(nosuch) = %v, want ErrNoProfile", err)
	}
	if err := r.srv.ResumeProfile("nosuch", "alice"); !errors.Is(err, ErrNoProfile) {
		t.Errorf("ResumeProfile(nosuch) = %v, want ErrNoProfile", err)
	}
	if ps, err := r.store.Pauses(); err != nil || len(ps) != 0 {
		t.Errorf("stored pauses: %v %v", ps, err)
	}
}

// TestPauseSurvivesRestart: a Server started on a spool with a stored
// pause starts with the profile paused.
func TestPauseSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	store, err := spool.Open(spool.Options{Dir: dir, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := baseConfig("127.0.0.1:1")
	srv, err := New(Options{Config: cfg, Spool: store, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.PauseProfile("sink", 2*time.Hour, "alice"); err != nil {
		t.Fatal(err)
	}
	srv2, err := New(Options{Config: cfg, Spool: store, Now: clock.Now, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	p := srv2.Profiles()[0]
	if !p.Paused || p.PausedUntil == nil || !p.PausedUntil.Equal(clock.Now().Add(2*time.Hour)) || p.PausedBy != "alice" {
		t.Errorf("after restart: %+v", p)
	}
}

// TestPauseAPI: the routes answer 200 with the profile, 404 for an
// unknown profile, 400 for a bad body; GET /api/v1/profiles shows paused
// and paused_until (null for a pause until resumed).
func TestPauseAPI(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		r.srv.Handler().ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: not a JSON object: %q", path, rec.Body.String())
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		return rec.Code, out
	}
	profiles := func() map[string]any {
		t.Helper()
		code, body := r.api("GET", "/api/v1/profiles")
		var out []map[string]any
		if err := json.Unmarshal([]byte(body), &out); code != 200 || err != nil || len(out) != 1 {
			t.Fatalf("GET profiles: %d %q %v", code, body, err)
		}
		return out[0]
	}
	if p := profiles(); p["paused"] != false || p["paused_until"] != nil {
		t.Errorf("before any pause: %v", p)
	}
	code, out := post("/api/v1/profiles/sink/pause", `{"for": "2h"}`)
	until := r.clock.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	if code != 200 || out["paused"] != true || out["paused_until"] != until || out["paused_by"] != "admin" {
		t.Errorf("pause for 2h: %d %v (want paused_until %s)", code, out, until)
	}
	if p := profiles(); p["paused"] != true || p["paused_until"] != until {
		t.Errorf("listing after pause for 2h: %v", p)
	}
	if code, out = post("/api/v1/profiles/sink/pause", ""); code != 200 || out["paused"] != true || out["paused_until"] != nil {
		t.Errorf("pause until resumed: %d %v", code, out)
	}
	if code, out = post("/api/v1/profiles/sink/pause", `{"for": "1d"}`); code != 200 || out["paused_until"] == nil {
		t.Errorf("pause for 1d: %d %v", code, out)
	}
	for _, bad := range []string{`{"for": "soon"}`, `{"for": "-1h"}`, `{"for": "0s"}`, `{"until": "2h"}`, `not json`} {
		if code, out = post("/api/v1/profiles/sink/pause", bad); code != 400 || out["error"] == nil {
			t.Errorf("pause with %s: %d %v, want 400", bad, code, out)
		}
	}
	if code, out = post("/api/v1/profiles/nosuch/pause", ""); code != 404 || !strings.Contains(out["error"].(string), `"nosuch"`) {
		t.Errorf("pause of an unknown profile: %d %v", code, out)
	}
	if code, out = post("/api/v1/profiles/nosuch/resume", ""); code != 404 {
		t.Errorf("resume of an unknown profile: %d %v", code, out)
	}
	if code, out = post("/api/v1/profiles/sink/resume", ""); code != 200 || out["paused"] != false || out["paused_until"] != nil {
		t.Errorf("resume: %d %v", code, out)
	}
	if p := profiles(); p["paused"] != false {
		t.Errorf("listing after resume: %v", p)
	}
	if code, _ = post("/api/v1/profiles/sink/resume", ""); code != 200 {
		t.Errorf("resuming a profile that is not paused: %d, want 200", code)
	}
	if n, _ := testutil.GatherAndCount(r.reg, "relayd_profile_paused"); n != 1 {
		t.Errorf("relayd_profile_paused series: %d, want 1 (pre-created)", n)
	}
}

// TestPausedImmediateProfileAnswersQueued: the client of a paused
// mode = "immediate" profile is not kept waiting for an upstream: it gets
// the ordinary 250 and the message waits.
func TestPausedImmediateProfileAnswersQueued(t *testing.T) {
	cfg, sa, _ := twoUpstreams(t)
	cfg.Profiles["a"].Immediate = true
	r := startRelay(t, cfg)
	if err := r.srv.PauseProfile("a", 0, "alice"); err != nil {
		t.Fatal(err)
	}
	resp, err := sendAs(t, r.addr, "", nil, "app@example.com", []string{"x@example.org"}, simpleBody)
	if err != nil || !strings.HasPrefix(resp.StatusText, "2.0.0 Ok: queued as ") || strings.Contains(resp.StatusText, "retry") {
		t.Fatalf("immediate while paused: %+v %v", resp, err)
	}
	sa.none(r)
	if err := r.srv.ResumeProfile("a", "bob"); err != nil {
		t.Fatal(err)
	}
	sa.wait()
}

// TestPausedFallbackTakesNothingOver: when the primary is down, a paused
// fallback is skipped: the recipient is deferred for the primary, and the
// fallback's upstream sees nothing.
func TestPausedFallbackTakesNothingOver(t *testing.T) {
	cfg, sa, sb := twoUpstreams(t)
	cfg.Profiles["a"].Fallback = []string{"b"}
	r := startRelay(t, cfg)
	if err := r.srv.PauseProfile("b", 0, "alice"); err != nil {
		t.Fatal(err)
	}
	sa.srv.Close() // primary down: connection refused
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	m := r.waitState(id, spool.StateDeferred)
	if m.Recipients[0].Profile != "a" {
		t.Errorf("deferred under profile %q, want a", m.Recipients[0].Profile)
	}
	sb.none(r)
}
