package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
	"github.com/relayd/relayd/upstream"
)

func TestExtends(t *testing.T) {
	t.Setenv("RELAYD_TEST_BASE_PW", "base-secret")
	t.Setenv("RELAYD_TEST_ANNA_PW", "anna-secret")
	f, _ := mustLoad(t, configtest.Minimal+`
[[profile]]
name = "agent-anna"
extends = "agents"
username = "anna@example.com"
password_env = "RELAYD_TEST_ANNA_PW"

[[profile]]
name = "base"
description = "Office 365"
host = "smtp.office365.com"
port = 587
tls = "starttls"
tls_verify = false
username = "system@example.com"
password_env = "RELAYD_TEST_BASE_PW"
send_delay = "1m"
fallback = ["p"]
enabled = false
  [profile.oauth2]
  token_url = "https://login.example.com/token"
  client_id = "base-client"
  grant = "client_credentials"
  client_secret_env = "RELAYD_TEST_BASE_PW"
  scopes = ["a"]

[[profile]]
name = "agents"
extends = "base"
enabled = true
mode = "immediate"
  [profile.oauth2]
  client_id = "agents-client"
`)
	byName := map[string]*ProfileTable{}
	for i := range f.Profiles {
		byName[f.Profiles[i].Name] = &f.Profiles[i]
	}
	anna, agents, base := byName["agent-anna"], byName["agents"], byName["base"]
	if got := anna.Chain(); !reflect.DeepEqual(got, []string{"base", "agents", "agent-anna"}) {
		t.Errorf("chain = %v", got)
	}
	if base.Chain()[0] != "base" || len(base.Chain()) != 1 {
		t.Errorf("base chain = %v", base.Chain())
	}
	// Inherited from base through agents.
	if anna.Host != "smtp.office365.com" || anna.Port != 587 || anna.TLS != "starttls" || anna.TLSVerify ||
		anna.SendDelay != Duration(time.Minute) || !reflect.DeepEqual(anna.Fallback, []string{"p"}) || anna.Description != "Office 365" {
		t.Errorf("anna did not inherit base's values: %+v", anna)
	}
	// From agents, which overrides base.
	if !anna.Enabled || anna.Mode != "immediate" {
		t.Errorf("anna did not inherit agents' values: enabled=%v mode=%q", anna.Enabled, anna.Mode)
	}
	// Its own values, and its own password form replaces the parent's.
	if anna.Username != "anna@example.com" || anna.password != "anna-secret" || anna.PasswordEnv != "RELAYD_TEST_ANNA_PW" {
		t.Errorf("anna's own values: user %q env %q", anna.Username, anna.PasswordEnv)
	}
	if agents.password != "base-secret" || agents.Username != "system@example.com" {
		t.Errorf("agents did not inherit the password")
	}
	// Nested table merged key by key.
	if o := agents.OAuth2; o == nil || o.ClientID != "agents-client" || o.TokenURL != "https://login.example.com/token" ||
		o.Grant != "client_credentials" || o.Secret() != "base-secret" || !reflect.DeepEqual(o.Scopes, []string{"a"}) {
		t.Errorf("agents oauth2 = %+v", agents.OAuth2)
	}
	if o := anna.OAuth2; o == nil || o.ClientID != "agents-client" {
		t.Errorf("anna oauth2 = %+v", anna.OAuth2)
	}
	if base.OAuth2.ClientID != "base-client" || base.Enabled {
		t.Errorf("parent was modified: %+v", base.OAuth2)
	}
	// Slices are not shared.
	anna.Fallback[0] = "changed"
	if base.Fallback[0] != "p" {
		t.Error("child and parent share a slice")
	}
	rc, err := f.Relay()
	if err != nil {
		t.Fatal(err)
	}
	if u := rc.Profiles["agent-anna"].Upstream; u.Password != "anna-secret" || u.Host != "smtp.office365.com" || u.TLS != upstream.TLSStartTLS {
		t.Errorf("relay profile: %+v", u)
	}
	if !rc.Policy.Enabled["agent-anna"] || rc.Policy.Enabled["base"] {
		t.Errorf("enabled map: %v", rc.Policy.Enabled)
	}
}

func TestExtendsDefaultsAfterInheritance(t *testing.T) {
	// The child of a direct profile is direct, with direct's defaults;
	// a value inherited beats a default.
	f, _ := mustLoad(t, configtest.Minimal+`
[[profile]]
name = "child"
extends = "p"
max_connections = 5
[[profile]]
name = "smtps"
host = "smtp.example.com"
tls = "implicit"
[[profile]]
name = "smtps-child"
extends = "smtps"
`)
	c := f.Profiles[1]
	if c.Type != "direct" || c.TLS != "starttls" || c.TLSVerify || c.MaxConnections != 5 || c.Port != 25 {
		t.Errorf("child of direct: %+v", c)
	}
	if sc := f.Profiles[3]; sc.Port != 465 || sc.TLS != "implicit" {
		t.Errorf("child of implicit: port %d tls %s", sc.Port, sc.TLS)
	}
}

func TestExtendsErrorAtParentLine(t *testing.T) {
	// A bad value inherited from the parent is reported once, at the
	// parent's line.
	text := configtest.Minimal + `
[[profile]]
name = "base"
host = "smtp.example.com"
username = "u"
password_env = "RELAYD_TEST_SURELY_UNSET"
[[profile]]
name = "child"
extends = "base"
`
	_, _, err := loadText(t, text)
	list := configErrors(t, err)
	n := 0
	for _, e := range list {
		if e.Key == "profile.password_env" {
			n++
			if e.Line != lineOf(t, text, "password_env") {
				t.Errorf("line %d: %v", e.Line, e)
			}
		}
	}
	if n != 1 || !strings.Contains(err.Error(), "RELAYD_TEST_SURELY_UNSET is not set") {
		t.Errorf("%d password_env errors:\n%v", n, err)
	}
}
