package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOpenAPIMatchesServer holds docs/openapi.yaml to the admin server of a
// running relayd: every operation the document lists answers (never 404 or
// 405 from the router), every route the server registers (adminPatterns,
// the list its mux is built from) is in the document, and every JSON answer
// validates against the schema the document gives for its status.
func TestOpenAPIMatchesServer(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := doc.operations()

	listed := map[string]bool{}
	for _, op := range ops {
		listed[op.Method+" "+op.Path] = true
	}
	for _, p := range adminPatterns() {
		if !listed[p] {
			t.Errorf("the server serves %q but docs/openapi.yaml does not list it", p)
		}
	}
	for _, op := range ops {
		if !slices.Contains(adminPatterns(), op.Method+" "+op.Path) {
			t.Errorf("docs/openapi.yaml lists %s %s but the server has no such route", op.Method, op.Path)
		}
	}

	// A profile whose upstream port is closed: tests fail fast on loopback,
	// and messages wait (send_delay) so every queue action has an ID.
	p := startRelayd(t, fmt.Sprintf(`[server]
hostname = "relay.test"
state_dir = "@DIR@/state"

[admin]
listen = "127.0.0.1:%d"

[relay]
default_profile = "closed"

[[listener]]
name = "local"
address = "127.0.0.1:%d"

[[profile]]
name = "closed"
host = "127.0.0.1"
port = %d
tls = "none"
send_delay = "1h"
timeout = "5s"
`, freePort(t), freePort(t), freePort(t)))
	sent, err := sendMail(p.smtpAddr, "app@example.com", []string{"someone@example.org"},
		"From: App <app@example.com>\r\nSubject: openapi\r\n\r\nhello\r\n", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}

	// The order matters for the queue: show, hold, release, retry, then
	// delete, then everything else.
	order := []string{"GET /api/v1/queue/{id}", "POST /api/v1/queue/{id}/hold", "POST /api/v1/queue/{id}/release",
		"POST /api/v1/queue/{id}/retry", "DELETE /api/v1/queue/{id}"}
	slices.SortStableFunc(ops, func(a, b operation) int {
		ia, ib := slices.Index(order, a.Method+" "+a.Path), slices.Index(order, b.Method+" "+b.Path)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		return ia - ib
	})
	client := &http.Client{Timeout: 30 * time.Second}
	for _, op := range ops {
		path := strings.NewReplacer("{id}", sent.QueueID, "{name}", "closed").Replace(op.Path)
		var body io.Reader
		if op.Method == http.MethodPost {
			body = strings.NewReader("{}")
		}
		req, err := http.NewRequest(op.Method, "http://"+p.adminAddr+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", op.Method, path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: %v", op.Method, path, err)
		}
		name := op.Method + " " + op.Path
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d\n%s", name, resp.StatusCode, b)
			continue
		}
		respDoc, ok := op.Responses[strconv.Itoa(resp.StatusCode)]
		if !ok {
			t.Errorf("%s: status %d is not in the document\n%s", name, resp.StatusCode, b)
			continue
		}
		schema, err := doc.jsonSchema(respDoc)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if schema == nil {
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("%s: Content-Type %q, the document says text/plain", name, ct)
			}
			if op.Path == "/metrics" {
				checkMetricsDocumented(t, string(b))
			}
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q, want application/json", name, ct)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: answer is not JSON: %v\n%s", name, err, b)
			continue
		}
		for _, e := range doc.validate(schema, v, "response") {
			t.Errorf("%s (%d): %s", name, resp.StatusCode, e)
		}
		t.Logf("%s: %d", name, resp.StatusCode)
	}
}

// checkMetricsDocumented fails for every relayd_ metric family of a
// /metrics exposition that docs/metrics.md does not list.
func checkMetricsDocumented(t *testing.T, exposition string) {
	t.Helper()
	documented := documentedMetrics(t)
	for _, line := range strings.Split(exposition, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" && strings.HasPrefix(f[2], "relayd_") && !slices.Contains(documented, f[2]) {
			t.Errorf("relayd exports %s but docs/metrics.md does not list it", f[2])
		}
	}
}
