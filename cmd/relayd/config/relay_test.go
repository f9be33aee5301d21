package config

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/relay"
	"github.com/relayd/relayd/upstream"
)

func TestRelayTranslation(t *testing.T) {
	dir := t.TempDir()
	cert, _ := configtest.WriteCert(t, dir)
	t.Setenv("RELAYD_TEST_PW", "pw")
	f, _ := mustLoad(t, `
[server]
hostname = "relay.example.com"
[relay]
default_profile = "o365"
retry_schedule = ["30s", "2m"]
max_queue_age = "2d"
journal_retention = "1d"
warn_after = ""
bare_lf = "reject"
[[listener]]
name = "l"
address = "[::1]:2525"
team = "sales"
max_message_size = 1048576
max_line_length = "2KB"
allow_profile_header = true
[[team]]
name = "sales"
default_profile = "o365"
networks = ["10.1.2.0/24", "10.9.9.9"]
profiles = ["o365"]
  [[team.user]]
  username = "crm"
  password_hash = "`+testHash+`"
[[profile]]
name = "o365"
description = "d"
host = "smtp.office365.com"
port = 587
tls = "implicit"
ca_file = `+configtest.TOMLPath(cert)+`
username = "u@example.com"
password_env = "RELAYD_TEST_PW"
auth_mechanisms = ["login", "PLAIN"]
helo = "helo.example.com"
timeout = "10s"
data_timeout = "5m"
mode = "immediate"
send_delay = "2m"
max_per_connection = 7
max_connections = 3
rate = ["30/m"]
from_address = "u@example.com"
rewrite_header_from = true
default_sender_name = "Relay"
default_reply_to = "r@example.com"
debug_transcript = "/tmp/t.log"
fallback = ["mx"]
[[profile]]
name = "mx"
type = "direct"
resolver = "127.0.0.1:5353"
allow_loopback = true
allow_private = true
[[route]]
sender = "*@sales.example.com"
team = "sales"
recipient = "*@example.org"
profile = "o365"
[notify]
admin = "it@example.com"
`)
	rc, err := f.Relay()
	if err != nil {
		t.Fatal(err)
	}
	if rc.Hostname != "relay.example.com" || !reflect.DeepEqual(rc.RetrySchedule, []time.Duration{30 * time.Second, 2 * time.Minute}) ||
		rc.MaxQueueAge != 48*time.Hour || rc.JournalRetention != 24*time.Hour || rc.WarnAfter != 0 || rc.BareLF != relay.BareLFReject {
		t.Errorf("relay: %+v", rc)
	}
	if rc.Notify != (relay.Notify{From: "MAILER-DAEMON@relay.example.com", Admin: "it@example.com"}) {
		t.Errorf("notify: %+v", rc.Notify)
	}
	l := rc.Listeners[0]
	if l.Address != "[::1]:2525" || l.Team != "sales" || l.MaxMessageSize != 1<<20 || l.MaxLineLength != 2048 || !l.AllowProfileHeader {
		t.Errorf("listener: %+v", l)
	}
	if rc.Users["crm"] != (relay.User{Team: "sales", PasswordHash: testHash}) {
		t.Errorf("users: %+v", rc.Users)
	}
	wantPolicy := policy.Config{
		Teams: []policy.Team{{Name: "sales", DefaultProfile: "o365",
			Networks: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("10.9.9.9/32")}, Profiles: []string{"o365"}}},
		Routes:         []policy.Route{{Index: 1, Sender: "*@sales.example.com", Team: "sales", Recipient: "*@example.org", Profile: "o365"}},
		DefaultProfile: "o365",
		Enabled:        map[string]bool{"o365": true, "mx": true},
	}
	if !reflect.DeepEqual(rc.Policy, wantPolicy) {
		t.Errorf("policy:\n%+v\nwant\n%+v", rc.Policy, wantPolicy)
	}
	p := rc.Profiles["o365"]
	u := p.Upstream
	if u.RootCAs == nil {
		t.Error("ca_file not loaded into RootCAs")
	}
	u.RootCAs = nil
	wantU := upstream.Target{Name: "o365", Type: "smtp", Host: "smtp.office365.com", Port: 587, TLS: upstream.TLSImplicit,
		TLSVerify: true, Username: "u@example.com", Password: "pw", AuthMechanisms: []string{"LOGIN", "PLAIN"},
		Helo: "helo.example.com", Timeout: 10 * time.Second, DataTimeout: 5 * time.Minute, MaxPerConn: 7, MaxConns: 3,
		Transcript: "/tmp/t.log"}
	if !reflect.DeepEqual(u, wantU) {
		t.Errorf("upstream:\n%+v\nwant\n%+v", u, wantU)
	}
	if p.Description != "d" || !p.Enabled || !p.Immediate || p.SendDelay != 2*time.Minute || !reflect.DeepEqual(p.Rate, relay.Rates{{N: 30, Per: time.Minute}}) ||
		!reflect.DeepEqual(p.Fallback, []string{"mx"}) || p.Transcript != "/tmp/t.log" ||
		p.Rewrite != (policy.Rewrite{FromAddress: "u@example.com", RewriteHeaderFrom: true, DefaultSenderName: "Relay", DefaultReplyTo: "r@example.com"}) {
		t.Errorf("profile: %+v", p)
	}
	mx := rc.Profiles["mx"].Upstream
	if mx.Type != "direct" || mx.Host != "" || mx.Resolver != "127.0.0.1:5353" || !mx.AllowLoopback || !mx.AllowPrivate || mx.TLSVerify || mx.TLS != upstream.TLSStartTLS {
		t.Errorf("direct: %+v", mx)
	}
	if _, err := (&File{}).Relay(); err == nil {
		t.Error("Relay on a File not from Load succeeded")
	}
}
