package config

import (
	"net/url"
	"strings"
)

// Provider presets (docs/operations.md, OAuth2 recipes): what an admin would otherwise copy from the
// provider's documentation. Each value applies only where the config does
// not set it.
//
// Microsoft 365: the identity platform v2.0 endpoints of the tenant
// ("organizations" = any work or school account), SMTP AUTH on
// smtp.office365.com:587 with STARTTLS, the delegated SMTP.Send scope plus
// offline_access for a refresh token; with grant = "client_credentials"
// the application scope ".default". Both flows work.
//
// Google: the OAuth 2.0 endpoints, smtp.gmail.com:587 with STARTTLS, and
// the only scope that allows SMTP, https://mail.google.com/. Google's
// device flow does not grant that scope, so no device_auth_url: login uses
// the browser flow.
const (
	msLoginBase     = "https://login.microsoftonline.com/"
	msDefaultTenant = "organizations"
)

// providerDefaults fills the preset of p's [profile.oauth2] provider.
func providerDefaults(p *ProfileTable) {
	o := p.OAuth2
	if o == nil || o.Provider == "" {
		return
	}
	m := &p.tableMeta
	var host, tokenURL, authURL, deviceURL string
	var scopes []string
	switch o.Provider {
	case "microsoft365":
		tenant := o.Tenant
		if tenant == "" {
			tenant = msDefaultTenant
		}
		base := msLoginBase + url.PathEscape(strings.TrimSpace(tenant)) + "/oauth2/v2.0/"
		host, tokenURL, authURL, deviceURL = "smtp.office365.com", base+"token", base+"authorize", base+"devicecode"
		scopes = []string{"https://outlook.office.com/SMTP.Send", "offline_access"}
		if o.Grant == "client_credentials" {
			scopes = []string{"https://outlook.office365.com/.default"}
		}
	case "google":
		host, tokenURL, authURL = "smtp.gmail.com", "https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/v2/auth"
		scopes = []string{"https://mail.google.com/"}
	}
	if p.Host == "" {
		p.Host = host
	}
	if !m.isSet("port") && !strings.ContainsAny(p.Host, ":,") {
		p.Port = 587
		m.set["port"] = true
	}
	if p.TLS == "" {
		p.TLS = "starttls-required"
	}
	if o.TokenURL == "" {
		o.TokenURL = tokenURL
	}
	if o.AuthURL == "" {
		o.AuthURL = authURL
	}
	if o.DeviceAuthURL == "" {
		o.DeviceAuthURL = deviceURL
	}
	if !o.isSet("scopes") {
		o.Scopes = scopes
	}
}
