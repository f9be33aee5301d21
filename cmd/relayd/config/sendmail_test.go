package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestSendmailConfigErrors: [sendmail] and unix_users mistakes, each on its
// key and line.
func TestSendmailConfigErrors(t *testing.T) {
	team := "[[team]]\nname = \"ops\"\nunix_users = [\"www-data\"]\n"
	for _, tc := range []struct {
		name, text, key, at, msg string
	}{
		{"unknown team", configtest.Minimal + "[sendmail]\nteam = \"ghost\"\n", "sendmail.team", `team = "ghost"`, `no team is named "ghost"`},
		{"socket too long", configtest.Minimal + "[sendmail]\nsocket = \"/" + strings.Repeat("s", 120) + "\"\n", "sendmail.socket", "socket =", "longer than the 107 bytes"},
		{"user in two teams", configtest.Minimal + team + "[[team]]\nname = \"web\"\nunix_users = [\"www-data\"]\n", "team.unix_users", `unix_users = ["www-data"]`, `already in team "ops"`},
		{"bad user name", configtest.Minimal + "[[team]]\nname = \"ops\"\nunix_users = [\"a b\"]\n", "team.unix_users", "unix_users", "not a user name"},
		{"listener named sendmail", configtest.Minimal + "[[listener]]\nname = \"sendmail\"\naddress = \"127.0.0.1:1\"\n", "listener.name", `name = "sendmail"`, "[sendmail] socket's listener"},
		{"listener on the socket", configtest.Minimal + "[sendmail]\nsocket = \"/run/relayd/sm.sock\"\n[[listener]]\nname = \"u\"\naddress = \"unix:/run/relayd/sm.sock\"\n", "listener.address", `address = "unix:/run/relayd/sm.sock"`, "is the [sendmail] socket"},
		{"unknown key", configtest.Minimal + "[sendmail]\nsockets = \"/x\"\n", "sendmail.sockets", "sockets", "unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadText(t, tc.text)
			if err == nil {
				t.Fatalf("no error; config:\n%s", tc.text)
			}
			e := findError(configErrors(t, err), tc.key, tc.msg)
			if e == nil {
				t.Fatalf("no error on %s saying %q; got:\n%v", tc.key, tc.msg, err)
			}
			if want := lineOf(t, tc.text, tc.at); e.Line != want {
				t.Errorf("line %d, want %d: %v", e.Line, want, e)
			}
		})
	}
}

// TestSendmailConfigRelay: the sendmail socket becomes a listener with a
// [[listener]]'s default limits, no AUTH, and the unix_users map.
func TestSendmailConfigRelay(t *testing.T) {
	f, _ := mustLoad(t, configtest.Minimal+`[server]
state_dir = "/var/lib/relayd-test"
[sendmail]
team = "web"
[[team]]
name = "ops"
unix_users = ["root", "backup"]
[[team]]
name = "web"
unix_users = ["www-data"]
`)
	rc, err := f.Relay()
	if err != nil {
		t.Fatal(err)
	}
	sm := rc.Listeners[len(rc.Listeners)-1]
	want := map[string]string{"root": "ops", "backup": "ops", "www-data": "web"}
	if sm.Name != "sendmail" || !sm.Sendmail || sm.Network != "unix" || sm.Address != "/var/lib/relayd-test/sendmail.sock" ||
		sm.Auth != "none" || sm.TLS != "none" || sm.Team != "web" || !reflect.DeepEqual(sm.UnixUsers, want) {
		t.Errorf("sendmail listener: %+v", sm)
	}
	if sm.MaxMessageSize != 25<<20 || sm.MaxRecipients != 100 || sm.MaxConnections != 100 || sm.IdleTimeout == 0 || sm.MaxErrors != 10 {
		t.Errorf("sendmail listener limits are not a listener's defaults: %+v", sm)
	}
}
