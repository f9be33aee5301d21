package relay

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/spool"
)

// newAuthRefusingUpstream is a go-smtp server on loopback that offers AUTH
// PLAIN in plain text and refuses every login with 535 5.7.8 (an Office
// 365 account whose password changed). It returns the address.
func newAuthRefusingUpstream(t *testing.T) string {
	t.Helper()
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return refusingSession{}, nil }))
	srv.Domain, srv.AllowInsecureAuth, srv.ErrorLog = "o365.test", true, nopLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

type refusingSession struct{}

func (refusingSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (refusingSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(string, string, string) error { return smtp.ErrAuthFailed }), nil
}
func (refusingSession) Mail(string, *smtp.MailOptions) error { return smtp.ErrAuthRequired }
func (refusingSession) Rcpt(string, *smtp.RcptOptions) error { return smtp.ErrAuthRequired }
func (refusingSession) Data(io.Reader) error                 { return smtp.ErrAuthRequired }
func (refusingSession) Reset()                               {}
func (refusingSession) Logout() error                        { return nil }

// alertConfig: office365 is the system default and cannot log in;
// "company" is a second, working profile.
func alertConfig(t *testing.T) (*Config, *sink) {
	cfg := baseConfig(newAuthRefusingUpstream(t))
	o365 := cfg.Profiles["sink"]
	delete(cfg.Profiles, "sink")
	o365.Upstream.Name, o365.Upstream.Username, o365.Upstream.Password = "office365", "system@example.com", "changed"
	company := newSink(t)
	cfg.Profiles["office365"] = o365
	cfg.Profiles["company"] = profileFor("company", company.addr)
	cfg.Policy.DefaultProfile = "office365"
	cfg.Policy.Enabled = map[string]bool{"office365": true, "company": true}
	cfg.Notify.Admin = "it@example.com"
	return cfg, company
}

// TestAlertAvoidsTheFailingProfile: the alert about the system default
// office365 failing at AUTH reaches the admin through the other enabled
// profile, at once, instead of being queued behind office365.
func TestAlertAvoidsTheFailingProfile(t *testing.T) {
	for _, notifyProfile := range []string{"", "company"} {
		t.Run("notify.profile="+notifyProfile, func(t *testing.T) {
			cfg, company := alertConfig(t)
			cfg.Notify.Profile = notifyProfile
			r, logs := startRelayLogged(t, cfg, nil)
			id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
			r.waitState(id, spool.StateDeferred)
			alert := company.wait()
			if alert.From != "" || strings.Join(alert.To, ",") != "it@example.com" ||
				!bytes.Contains(alert.Data, []byte("Subject: [relayd] profile office365 is failing (auth)")) ||
				!bytes.Contains(alert.Data, []byte("authentication failed for system@example.com")) {
				t.Fatalf("alert %q %v:\n%s", alert.From, alert.To, alert.Data)
			}
			rule := "alert: an enabled profile other than office365"
			if notifyProfile != "" {
				rule = "[notify] profile"
			}
			if !strings.Contains(logs.String(), `msg="admin alert queued" profile=office365`) ||
				!strings.Contains(logs.String(), `via=company rule="`+rule+`"`) {
				t.Errorf("log:\n%s", logs)
			}
			company.none(r)
		})
	}
}

// TestAlertNoPath: with no enabled profile but the failing one, the alert
// is not queued behind it, and the log says why and what to do.
func TestAlertNoPath(t *testing.T) {
	cfg, _ := alertConfig(t)
	cfg.Profiles["company"].Enabled = false
	cfg.Policy.Enabled["company"] = false
	r, logs := startRelayLogged(t, cfg, nil)
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	r.waitState(id, spool.StateDeferred)
	deadline := time.Now().Add(10 * time.Second)
	want := `level=ERROR msg="admin alert not sent: no enabled profile other than the failing one to send it through; ` +
		`set [notify] profile to a profile that works" profile=office365 rcpt=it@example.com`
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q:\n%s", want, logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.idle()
	if n := r.store.Counts()[spool.StateReady] + r.store.Counts()[spool.StateDeferred]; n != 1 {
		t.Errorf("%d messages waiting, want only the one sent (no alert behind office365)", n)
	}
}
