package main

import (
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestReadyzFollowsSpoolHealth: /readyz is 503 before start and while the
// spool is failing, with a body that says why.
func TestReadyzFollowsSpoolHealth(t *testing.T) {
	var ready atomic.Bool
	var spoolErr atomic.Pointer[error]
	h := adminMux(prometheus.NewRegistry(), nil, nil, &ready, func() error {
		if p := spoolErr.Load(); p != nil {
			return *p
		}
		return nil
	})
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get(); code != 503 {
		t.Errorf("before start: %d, want 503", code)
	}
	ready.Store(true)
	if code, body := get(); code != 200 {
		t.Errorf("ready and healthy: %d %s, want 200", code, body)
	}
	err := errors.New("the spool in /var/lib/relayd/spool could not write or sync its files (input/output error)")
	spoolErr.Store(&err)
	if code, body := get(); code != 503 || !strings.Contains(body, "spool") {
		t.Errorf("spool failing: %d %s, want 503 naming the spool", code, body)
	}
}
