package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/relayd/config/configtest"
)

// TestProviderPresets: provider fills the endpoints, scopes, host, port and
// TLS; tenant goes into Microsoft's URLs; what the file sets wins.
func TestProviderPresets(t *testing.T) {
	dir := t.TempDir()
	rt := configtest.WriteFile(t, dir, "rt", "r\n", 0o600)
	f, _ := mustLoad(t, configtest.Minimal+`
[[profile]]
name = "ms"
username = "a@example.com"
  [profile.oauth2]
  provider = "microsoft365"
  client_id = "c"
  refresh_token_file = "`+rt+`"

[[profile]]
name = "ms-tenant"
username = "a@example.com"
port = 25
  [profile.oauth2]
  provider = "microsoft365"
  tenant = "contoso.onmicrosoft.com"
  client_id = "c"
  grant = "client_credentials"
  client_secret = "s"

[[profile]]
name = "gmail"
username = "a@example.com"
host = "smtp-relay.gmail.com"
  [profile.oauth2]
  provider = "google"
  client_id = "c"
  scopes = ["x"]
  refresh_token_file = "`+rt+`"
`)
	by := map[string]*ProfileTable{}
	for i := range f.Profiles {
		by[f.Profiles[i].Name] = &f.Profiles[i]
	}
	ms := by["ms"]
	base := "https://login.microsoftonline.com/organizations/oauth2/v2.0/"
	if ms.Host != "smtp.office365.com" || ms.Port != 587 || ms.TLS != "starttls-required" ||
		ms.OAuth2.TokenURL != base+"token" || ms.OAuth2.AuthURL != base+"authorize" || ms.OAuth2.DeviceAuthURL != base+"devicecode" ||
		!reflect.DeepEqual(ms.OAuth2.Scopes, []string{"https://outlook.office.com/SMTP.Send", "offline_access"}) {
		t.Errorf("microsoft365: %s:%d %s %+v", ms.Host, ms.Port, ms.TLS, *ms.OAuth2)
	}
	mt := by["ms-tenant"]
	if mt.Port != 25 || !strings.HasPrefix(mt.OAuth2.TokenURL, "https://login.microsoftonline.com/contoso.onmicrosoft.com/") ||
		!reflect.DeepEqual(mt.OAuth2.Scopes, []string{"https://outlook.office365.com/.default"}) {
		t.Errorf("microsoft365 with tenant: port %d %+v", mt.Port, *mt.OAuth2)
	}
	g := by["gmail"]
	if g.Host != "smtp-relay.gmail.com" || g.Port != 587 || g.OAuth2.TokenURL != "https://oauth2.googleapis.com/token" ||
		g.OAuth2.AuthURL != "https://accounts.google.com/o/oauth2/v2/auth" || g.OAuth2.DeviceAuthURL != "" ||
		!reflect.DeepEqual(g.OAuth2.Scopes, []string{"x"}) {
		t.Errorf("google: %s:%d %+v", g.Host, g.Port, *g.OAuth2)
	}

	_, _, err := loadText(t, configtest.Minimal+`
[[profile]]
name = "x"
username = "a@example.com"
  [profile.oauth2]
  provider = "yahoo"
  tenant = "t"
  client_id = "c"
  refresh_token_file = "`+rt+`"
`)
	if err == nil || !strings.Contains(err.Error(), "microsoft365, google") {
		t.Errorf("unknown provider: %v", err)
	}
}
