package relay

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/spool"
)

func TestRateSpreadsMessagesWithoutFailing(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Profiles["sink"].Rate = Rates{{N: 5, Per: time.Second}}
	r := startRelay(t, cfg)
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody))
	}
	for window := 0; window < 4; window++ {
		for i := 0; i < 5; i++ {
			sk.wait()
		}
		sk.none(r) // the sixth waits for the next second
		if window == 0 {
			rec := httptest.NewRecorder()
			r.srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/queue/"+ids[19], nil))
			if !strings.Contains(rec.Body.String(), "rate limit: the profile's rate (5/s)") {
				t.Errorf("queue show does not tell the rate wait:\n%s", rec.Body.String())
			}
		}
		r.advance(time.Second)
	}
	for _, id := range ids {
		if m := r.waitState(id, spool.StateSent); m.Recipients[0].Attempts != 1 {
			t.Errorf("%s: %d attempts; a rate wait must not count as a failure", id, m.Recipients[0].Attempts)
		}
	}
}

func TestWarnAfterSendsOneDelayNotice(t *testing.T) {
	sk := newDeferringSink(t, "slow@example.org")
	cfg := baseConfig(sk.addr)
	cfg.WarnAfter = 4 * time.Minute
	cfg.RetrySchedule = []time.Duration{5 * time.Minute}
	r := startRelay(t, cfg)
	id := send(t, r.addr, "app@example.com", []string{"slow@example.org"}, simpleBody)
	r.waitState(id, spool.StateDeferred)
	sk.none(r) // not yet 4 minutes old
	for i := 0; i < 3; i++ {
		r.advance(5 * time.Minute)
		waitAttempts(r, id, i+2)
	}
	dsn := sk.wait()
	if dsn.From != "" || len(dsn.To) != 1 || dsn.To[0] != "app@example.com" {
		t.Fatalf("delay notice envelope %q %v", dsn.From, dsn.To)
	}
	for _, want := range []string{"Action: delayed", "Will-Retry-Until:", "Delayed Mail"} {
		if !bytes.Contains(dsn.Data, []byte(want)) {
			t.Errorf("delay notice lacks %q", want)
		}
	}
	sk.none(r) // once per message, not once per attempt
}

func TestAdminAlertOncePerProfileAndRecovery(t *testing.T) {
	cfg, sa, sb := twoUpstreams(t)
	cfg.Notify.Admin = "it@example.com"
	cfg.Profiles["b"].Upstream.TLS = "starttls-required" // sink b has no STARTTLS: every attempt fails
	cfg.Policy.Routes = nil
	r := startRelay(t, cfg)
	for i := 0; i < 5; i++ {
		sendAs(t, r.addr, "127.0.0.2", nil, "app@example.com", []string{"x@example.org"}, simpleBody) // team sales → b
	}
	alert := sa.wait() // alerts go by the system default, profile a
	if len(alert.To) != 1 || alert.To[0] != "it@example.com" || !bytes.Contains(alert.Data, []byte("profile b is failing")) {
		t.Fatalf("alert %v:\n%s", alert.To, alert.Data)
	}
	sa.none(r)
	sb.none(r)

	b := *cfg.Profiles["b"]
	b.Upstream.TLS = "none"
	c2 := *cfg
	c2.Profiles = map[string]*Profile{"a": cfg.Profiles["a"], "b": &b}
	if err := r.srv.Reload(&c2); err != nil {
		t.Fatal(err)
	}
	r.advance(time.Minute)
	for i := 0; i < 5; i++ {
		sb.wait()
	}
	rec := sa.wait()
	if !bytes.Contains(rec.Data, []byte("profile b works again")) {
		t.Fatalf("recovery mail:\n%s", rec.Data)
	}
	resp := httptest.NewRecorder()
	r.srv.Handler().ServeHTTP(resp, httptest.NewRequest("GET", "/api/v1/profiles", nil))
	var profiles []struct {
		Name       string `json:"name"`
		LastResult string `json:"last_result"`
	}
	json.Unmarshal(resp.Body.Bytes(), &profiles)
	for _, p := range profiles {
		if p.Name == "b" && p.LastResult != "ok" {
			t.Errorf("profile b last_result %q", p.LastResult)
		}
	}
}

func TestProfileTestEndpoint(t *testing.T) {
	sk := newSink(t)
	r := startRelay(t, baseConfig(sk.addr))
	for _, tc := range []struct {
		path, body string
		status     int
		ok         bool
	}{
		{"/api/v1/profiles/sink/test", `{"from":"app@example.com","to":["x@example.org"]}`, 200, true},
		{"/api/v1/profiles/nope/test", "", 404, false},
	} {
		rec := httptest.NewRecorder()
		r.srv.Handler().ServeHTTP(rec, httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body)))
		if rec.Code != tc.status {
			t.Fatalf("%s: status %d\n%s", tc.path, rec.Code, rec.Body.String())
		}
		var out struct {
			OK    bool `json:"ok"`
			Steps []struct {
				Step string `json:"step"`
			} `json:"steps"`
		}
		json.Unmarshal(rec.Body.Bytes(), &out)
		if out.OK != tc.ok || (tc.ok && len(out.Steps) < 5) {
			t.Errorf("%s: %s", tc.path, rec.Body.String())
		}
	}
	sk.none(r) // a test without -send delivers nothing
}
