package relay

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProbeEnvelope: the admin API's probe (profile test) uses the envelope of
// relayd test (PlanTest): the sender the profile will use ([notify] from
// without from_address, never the login name) and, for "Send test
// email" without "to", [notify] admin; without either, a 400 that says
// what to give.
func TestProbeEnvelope(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Notify = Notify{From: "relayd@relay.test", Admin: "it@example.com"}
	r := startRelay(t, cfg)
	post := func(body string) (int, string) {
		rec := httptest.NewRecorder()
		r.srv.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/profiles/sink/test", strings.NewReader(body)))
		return rec.Code, rec.Body.String()
	}
	code, body := post(`{"send":true}`)
	var out struct {
		OK         bool     `json:"ok"`
		From       string   `json:"from"`
		FromSource string   `json:"from_source"`
		To         []string `json:"to"`
		ToSource   string   `json:"to_source"`
	}
	json.Unmarshal([]byte(body), &out)
	if code != 200 || !out.OK || out.From != "relayd@relay.test" || strings.Join(out.To, ",") != "it@example.com" ||
		!strings.Contains(out.FromSource, "[notify] from") || !strings.Contains(out.ToSource, "System Notification Mailbox") {
		t.Fatalf("status %d: %s", code, body)
	}
	m := sk.wait()
	if m.From != "relayd@relay.test" || strings.Join(m.To, ",") != "it@example.com" {
		t.Errorf("the upstream got MAIL FROM %q RCPT TO %v", m.From, m.To)
	}

	noAdmin := *cfg
	noAdmin.Notify.Admin = ""
	if err := r.srv.Reload(&noAdmin); err != nil {
		t.Fatal(err)
	}
	code, body = post(`{"send":true}`)
	if code != 400 || !strings.Contains(body, `the test message needs a recipient: give \"to\", or set [notify] admin`) {
		t.Errorf("status %d: %s", code, body)
	}
	sk.none(r)
}
