package relay

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/spool"
)

// gaugeValue reads an unlabelled gauge from reg; -1 when it is missing.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// TestSpoolFailureIsVisible: after a failed fsync of the spool new mail
// gets 452 4.3.1, relayd_spool_healthy drops to 0, and the admin gets an
// alert mail (sent straight to the upstream: the spool cannot queue it).
func TestSpoolFailureIsVisible(t *testing.T) {
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.Notify.Admin = "it@example.com"
	var failing atomic.Bool
	r := startRelay(t, cfg, func(o *spool.Options) {
		o.Fsync = func(f *os.File) error {
			if failing.Load() {
				return errors.New("input/output error")
			}
			return f.Sync()
		}
	})
	if got := gaugeValue(t, r.reg, "relayd_spool_healthy"); got != 1 {
		t.Errorf("relayd_spool_healthy = %v before the failure, want 1", got)
	}
	send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	sk.wait()

	failing.Store(true)
	_, err := sendAs(t, r.addr, "", nil, "app@example.com", []string{"x@example.org"}, simpleBody)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 1}) {
		t.Errorf("DATA after the failed fsync: %v, want 452 4.3.1", err)
	}
	if got := gaugeValue(t, r.reg, "relayd_spool_healthy"); got != 0 {
		t.Errorf("relayd_spool_healthy = %v after the failure, want 0", got)
	}
	alert := sk.wait()
	if len(alert.To) != 1 || alert.To[0] != "it@example.com" || !bytes.Contains(alert.Data, []byte("spool is failing")) {
		t.Fatalf("alert to %v:\n%s", alert.To, alert.Data)
	}
	if !strings.Contains(string(alert.Data), "restart relayd") {
		t.Errorf("the alert does not say what to do:\n%s", alert.Data)
	}
	_, err = sendAs(t, r.addr, "", nil, "app@example.com", []string{"y@example.org"}, simpleBody)
	if !errors.As(err, &se) || se.Code != 452 {
		t.Errorf("a later message: %v, want 452 (the failure is sticky)", err)
	}
	sk.none(r) // one alert, and nothing of the refused messages
}
