package relay

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/spool"
)

// api sends one request to the admin API handler and returns the status
// and the body.
func (r *testRelay) api(method, path string) (int, string) {
	r.t.Helper()
	rec := httptest.NewRecorder()
	r.srv.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code, rec.Body.String()
}

// TestQueueItemFromSubject: a queue item shows the header From and
// Subject decoded to UTF-8 (RFC 2047 in UTF-8, ISO-8859-1 and
// windows-1252, folded), taken at acceptance and listed from the envelope.
func TestQueueItemFromSubject(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Profiles["sink"].SendDelay = time.Hour
	r := startRelay(t, cfg)
	for _, tc := range []struct{ header, from, subject string }{
		{"From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>\r\nSubject: =?UTF-8?B?UmVjaG51bmcgZsO8ciBNw6Ryeg==?=\r\n",
			"Jörg Müller <joerg@example.com>", "Rechnung für März"},
		{"From: \"Billing, Dept.\" <billing@example.com>, ops@example.com\r\nSubject: =?ISO-8859-1?Q?Mahnung_f=FCr?=\r\n =?windows-1252?Q?_Kunde_=80_42?=\r\n",
			"Billing, Dept. <billing@example.com>, <ops@example.com>", "Mahnung für Kunde € 42"},
		{"From: not an address\r\nSubject: plain\ttext  with\r\n  folding\r\n", "not an address", "plain text with folding"},
		{"Subject: =?x-unknown?Q?a?= tail\r\n", "", "=?x-unknown?Q?a?= tail"},
		{"Subject: " + strings.Repeat("x", 300) + "\r\n", "", strings.Repeat("x", maxShownField-1) + "…"},
	} {
		id := send(t, r.addr, "crm@example.com", []string{"customer@example.org"}, tc.header+"\r\nbody\r\n")
		code, body := r.api("GET", "/api/v1/queue/"+id)
		var it QueueItem
		if err := json.Unmarshal([]byte(body), &it); code != 200 || err != nil {
			t.Fatalf("show %s: %d %v\n%s", id, code, err, body)
		}
		if it.From != tc.from || it.Subject != tc.subject {
			t.Errorf("header\n%s\nfrom %q subject %q, want %q %q", tc.header, it.From, it.Subject, tc.from, tc.subject)
		}
		if !strings.Contains(body, `"from": `) || !strings.Contains(body, `"subject": `) {
			t.Errorf("JSON lacks from/subject:\n%s", body)
		}
	}
	code, body := r.api("GET", "/api/v1/queue?state=active")
	var items []QueueItem
	if err := json.Unmarshal([]byte(body), &items); code != 200 || err != nil || len(items) != 5 {
		t.Fatalf("list active: %d %v, %d items\n%s", code, err, len(items), body)
	}
	if items[0].Subject != "Rechnung für März" || items[0].From != "Jörg Müller <joerg@example.com>" {
		t.Errorf("listed item: %+v", items[0])
	}
}

// TestQueueListActiveAndJournal: ?state=active lists the active queue
// only; no state lists the journal too; a journal state lists it.
func TestQueueListActiveAndJournal(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Profiles["sink"].SendDelay = time.Hour
	r := startRelay(t, cfg)
	keep := send(t, r.addr, "crm@example.com", []string{"a@example.org"}, "Subject: keep\r\n\r\nx\r\n")
	gone := send(t, r.addr, "crm@example.com", []string{"b@example.org"}, "Subject: gone\r\n\r\nx\r\n")
	if code, body := r.api("DELETE", "/api/v1/queue/"+gone); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	for q, want := range map[string][]string{"?state=active": {keep}, "": {keep, gone}, "?state=cancelled": {gone}, "?state=delayed": {keep}} {
		code, body := r.api("GET", "/api/v1/queue"+q)
		var items []QueueItem
		json.Unmarshal([]byte(body), &items)
		var ids []string
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		if code != 200 || strings.Join(ids, " ") != strings.Join(want, " ") {
			t.Errorf("GET /api/v1/queue%s: %d %v, want %v", q, code, ids, want)
		}
	}
	if code, body := r.api("GET", "/api/v1/queue?state=bogus"); code != 400 || !strings.Contains(body, "unknown state bogus: use active, delayed") {
		t.Errorf("bad state: %d %s", code, body)
	}
}

// TestQueueErrorSentences: errors read as sentences about the message, not
// the spool's wrapped errors.
func TestQueueErrorSentences(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Profiles["sink"].SendDelay = time.Hour
	r := startRelay(t, cfg)
	id := send(t, r.addr, "crm@example.com", []string{"a@example.org"}, "Subject: x\r\n\r\nx\r\n")
	if code, _ := r.api("DELETE", "/api/v1/queue/"+id); code != 200 {
		t.Fatal("delete failed")
	}
	held := send(t, r.addr, "crm@example.com", []string{"b@example.org"}, "Subject: y\r\n\r\ny\r\n")
	if code, _ := r.api("POST", "/api/v1/queue/"+held+"/hold"); code != 200 {
		t.Fatal("hold failed")
	}
	for _, tc := range []struct {
		method, path string
		status       int
		err          string
	}{
		{"GET", "/api/v1/queue/NOSUCHID", 404, "no message with ID NOSUCHID"},
		{"POST", "/api/v1/queue/NOSUCHID/hold", 404, "no message with ID NOSUCHID"},
		{"DELETE", "/api/v1/queue/NOSUCHID", 404, "no message with ID NOSUCHID"},
		{"POST", "/api/v1/queue/" + id + "/hold", 409, "message " + id + " is cancelled: it cannot be held"},
		{"POST", "/api/v1/queue/" + id + "/release", 409, "message " + id + " is cancelled: it cannot be released (only a held message can)"},
		{"POST", "/api/v1/queue/" + id + "/retry", 409, "message " + id + " is cancelled: it cannot be retried (only a delayed, ready or deferred message can)"},
		{"DELETE", "/api/v1/queue/" + id, 409, "message " + id + " is cancelled: it cannot be deleted"},
		{"POST", "/api/v1/queue/" + held + "/retry", 409, "message " + held + " is held: it cannot be retried (release it first)"},
	} {
		code, body := r.api(tc.method, tc.path)
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal([]byte(body), &e)
		if code != tc.status || e.Error != tc.err {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, code, e.Error, tc.status, tc.err)
		}
	}
	if m, _ := r.store.Get(held); m.Recipients[0].State != spool.StateHeld {
		t.Errorf("held message is %s", m.Recipients[0].State)
	}
}

// TestNoticeFields: a DSN or alert relayd queues shows its From and
// Subject too.
func TestNoticeFields(t *testing.T) {
	body := "From: Mail Delivery System <MAILER-DAEMON@relay.test>\r\nTo: app@example.com\r\n" +
		"Subject: =?UTF-8?Q?Undelivered_Mail:_R=C3=BCckfrage?=\r\nMIME-Version: 1.0\r\n\r\nbody\r\n"
	from, subject := noticeFields([]byte(body))
	if from != "Mail Delivery System <MAILER-DAEMON@relay.test>" || subject != "Undelivered Mail: Rückfrage" {
		t.Errorf("from %q subject %q", from, subject)
	}
	if from, subject := noticeFields([]byte("no header end")); from != "" || subject != "" {
		t.Errorf("broken notice: %q %q", from, subject)
	}
}
