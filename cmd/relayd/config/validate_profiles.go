package config

import (
	"errors"
	"io/fs"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/crypto/bcrypt"

	"github.com/relayd/relayd/policy"
)

// validName accepts a profile or team name: it appears in X-Relay-Profile
// headers, metric labels and log lines, so no white space or controls.
func validName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// validateProfiles checks every profile and returns them by name.
func validateProfiles(f *File, p *problems) map[string]*ProfileTable {
	byName := map[string]*ProfileTable{}
	for i := range f.Profiles {
		pr := &f.Profiles[i]
		m := &pr.tableMeta
		switch {
		case pr.Name == "":
			p.err(m, "name", "required")
		case !validName(pr.Name):
			p.err(m, "name", "%q: a name must not contain white space", pr.Name)
		case byName[pr.Name] != nil:
			// Only this error: the duplicate is not resolved (extends) nor
			// used, so its other keys would give misleading ones.
			p.err(m, "name", "another profile is named %q (line %d): give each [[profile]] its own name", pr.Name, p.line(byName[pr.Name].path))
			continue
		default:
			byName[pr.Name] = pr
		}
		if len(pr.chain) == 0 {
			pr.chain = []string{pr.Name}
		}
		validateProfileTarget(pr, p)
		validateProfileAuth(pr, f.mode.secretsOf(pr.Name), p)
		positive(m, "timeout", pr.Timeout, p)
		positive(m, "data_timeout", pr.DataTimeout, p)
		atLeast(m, "max_per_connection", int64(pr.MaxPerConnection), 1, p)
		atLeast(m, "max_connections", int64(pr.MaxConnections), 1, p)
		if pr.Helo != f.Server.Hostname && !validHostname(pr.Helo) {
			p.err(m, "helo", "%q is not a host name", pr.Helo)
		}
		if err := rewriteOf(pr).Validate(); err != nil {
			var fe *policy.FieldError
			if errors.As(err, &fe) {
				p.err(m, fe.Key, "%s", fe.Msg)
			} else {
				p.err(m, "from_address", "%v", err)
			}
		}
	}
	for i := range f.Profiles {
		pr := &f.Profiles[i]
		for _, fb := range pr.Fallback {
			switch {
			case byName[fb] == nil:
				p.err(&pr.tableMeta, "fallback", "no profile is named %q", fb)
			case fb == pr.Name:
				p.err(&pr.tableMeta, "fallback", "a profile cannot be its own fallback")
			}
		}
	}
	return byName
}

func rewriteOf(pr *ProfileTable) policy.Rewrite {
	return policy.Rewrite{
		FromAddress:       pr.FromAddress,
		RewriteHeaderFrom: pr.RewriteHeaderFrom,
		DefaultSenderName: pr.DefaultSenderName,
		DefaultReplyTo:    pr.DefaultReplyTo,
	}
}

// ownKey reports whether the profile sets key itself (not through extends).
func ownKey(m *tableMeta, key string) bool { return m.set[key] && !inherited(m, key) }

// validateProfileTarget checks where the profile connects: host and port for
// smtp, resolver for direct, TLS and CA.
func validateProfileTarget(pr *ProfileTable, p *problems) {
	m := &pr.tableMeta
	if pr.Type == "direct" {
		if ownKey(m, "host") {
			p.err(m, "host", "type \"direct\" delivers to each recipient domain's MX hosts: remove host, or use type \"smtp\"")
		}
		for _, k := range []string{"username", "password", "password_file", "password_env", "auth_mechanisms", "oauth2"} {
			if ownKey(m, k) {
				p.err(m, k, "only for type \"smtp\": MX hosts take no AUTH")
			}
		}
		if pr.Resolver != "" {
			if _, port, err := net.SplitHostPort(pr.Resolver); err != nil || !validPort(port, false) {
				p.err(m, "resolver", "%q is not host:port, like \"127.0.0.1:53\"", pr.Resolver)
			}
		}
	} else {
		for _, k := range []string{"resolver", "allow_loopback", "allow_private"} {
			if ownKey(m, k) {
				p.err(m, k, "only for type \"direct\"")
			}
		}
		switch {
		case pr.Host == "":
			p.err(m, "host", "required for type \"smtp\": the smarthost's name, like \"smtp.office365.com\"")
		case strings.ContainsAny(pr.Host, ":,") && net.ParseIP(pr.Host) == nil:
			if _, port, ok := splitHostPortLoose(pr.Host); ok {
				p.err(m, "host", "%q names port %d, but port = %d", pr.Host, port, pr.Port)
			} else {
				p.err(m, "host", "%q is not a host name, \"host:port\" or \"host,port\"", pr.Host)
			}
		case net.ParseIP(pr.Host) == nil && !validHostname(pr.Host):
			p.err(m, "host", "%q is not a host name", pr.Host)
		}
	}
	if pr.Port < 1 || pr.Port > 65535 {
		p.err(m, "port", "must be between 1 and 65535")
	}
	if pr.Type == "smtp" && pr.Port == 465 && pr.TLS != "implicit" {
		p.warn(m, "tls", "port 465 speaks TLS from the first byte (SMTPS), but tls = %q: set tls = \"implicit\", or use port 587 for STARTTLS", pr.TLS)
	}
	if pr.CAFile != "" {
		pool, err := loadCAFile(pr.CAFile)
		if err != nil {
			p.err(m, "ca_file", "%v", err)
		}
		pr.rootCAs = pool
	}
}

// validateProfileAuth checks username, the password forms, auth mechanisms
// and [profile.oauth2], and reads the secrets unless use is secretSkip.
func validateProfileAuth(pr *ProfileTable, use secretUse, p *problems) {
	m := &pr.tableMeta
	pw, hasPW := secret{"password", "password_file", "password_env", pr.Password, pr.PasswordFile, pr.PasswordEnv}.resolve(m, use, p)
	pr.password = pw
	if o := pr.OAuth2; o != nil {
		validateOAuth2(o, pr.Name, use, p)
		if pr.Username == "" {
			p.err(m, "username", "required with [profile.oauth2]: the account's address")
		}
	}
	switch {
	case hasPW && pr.Username == "":
		p.err(m, "username", "required with a password: the account to log in as")
	case !hasPW && pr.OAuth2 == nil && pr.Username != "":
		p.err(m, "username", "needs password, password_file or password_env (or [profile.oauth2])")
	}
	for _, mech := range pr.AuthMechanisms {
		oauth := mech == "XOAUTH2" || mech == "OAUTHBEARER"
		if oauth && pr.OAuth2 == nil {
			p.err(m, "auth_mechanisms", "%s needs [profile.oauth2]", mech)
			break
		}
		if !oauth && !hasPW {
			p.err(m, "auth_mechanisms", "%s needs a password", mech)
			break
		}
	}
	if pr.TLS == "none" && (hasPW || pr.OAuth2 != nil) && !isLoopbackHost(pr.Host) {
		p.warn(m, "tls", "tls = \"none\": the password is sent in clear text to %s", pr.Host)
	}
}

func validateOAuth2(o *OAuth2, profileName string, use secretUse, p *problems) {
	m := &o.tableMeta
	if o.TokenURL == "" {
		p.err(m, "token_url", "required: the provider's OAuth2 token endpoint")
	} else if u, err := url.Parse(o.TokenURL); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) {
		p.err(m, "token_url", "%q is not an https:// URL", o.TokenURL)
	}
	if o.ClientID == "" {
		p.err(m, "client_id", "required")
	}
	for _, k := range []struct{ key, url string }{{"auth_url", o.AuthURL}, {"device_auth_url", o.DeviceAuthURL}} {
		if u, err := url.Parse(k.url); k.url != "" && (err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())))) {
			p.err(m, k.key, "%q is not an https:// URL", k.url)
		}
	}
	if o.Tenant != "" && o.Provider != "microsoft365" {
		p.err(m, "tenant", "only goes with provider = \"microsoft365\": other providers' URLs are set with token_url and auth_url")
	}
	cs, hasCS := secret{"client_secret", "client_secret_file", "client_secret_env", o.ClientSecret, o.ClientSecretFile, o.ClientSecretEnv}.resolve(m, use, p)
	o.clientSecret = cs
	switch o.Grant {
	case "refresh_token":
		if o.RefreshTokenFile == "" {
			p.err(m, "refresh_token_file", "required with grant = \"refresh_token\": the file holding the refresh token (relayd keeps it up to date)")
		} else if _, err := os.Stat(o.RefreshTokenFile); errors.Is(err, fs.ErrNotExist) && use != secretSkip && use != secretLogin {
			// Not signed in yet: the daemon runs, this profile's mail
			// waits, and the login's file is read at the next attempt.
			p.warn(m, "refresh_token_file", "%s does not exist yet: run relayd oauth login %s; mail for this profile waits until then",
				o.RefreshTokenFile, profileName)
		} else if use != secretSkip && use != secretLogin {
			readSecretFile(m, "refresh_token_file", o.RefreshTokenFile, p)
		}
	case "client_credentials":
		if !hasCS {
			p.err(m, "client_secret", "grant = \"client_credentials\" needs client_secret, client_secret_file or client_secret_env")
		}
	}
}

// validateTeams checks teams and their users and returns teams by name.
func validateTeams(f *File, profiles map[string]*ProfileTable, p *problems) map[string]*Team {
	byName := map[string]*Team{}
	users := map[string]string{} // username → team
	for i := range f.Teams {
		t := &f.Teams[i]
		m := &t.tableMeta
		switch {
		case t.Name == "":
			p.err(m, "name", "required")
		case !validName(t.Name):
			p.err(m, "name", "%q: a name must not contain white space", t.Name)
		case byName[t.Name] != nil:
			p.err(m, "name", "another team is named %q", t.Name)
		default:
			byName[t.Name] = t
		}
		// Missing profiles are warnings: routing skips them.
		for _, name := range t.Profiles {
			if profiles[name] == nil {
				p.warn(m, "profiles", "no profile is named %q: the team cannot use it", name)
			}
		}
		if d := t.DefaultProfile; d != "" {
			switch {
			case len(t.Profiles) > 0 && !slices.Contains(t.Profiles, d):
				p.err(m, "default_profile", "%q is not in the team's profiles", d)
			case profiles[d] == nil:
				p.warn(m, "default_profile", "no profile is named %q: routing skips the team default", d)
			case !profiles[d].Enabled:
				p.warn(m, "default_profile", "profile %q is disabled: routing skips the team default", d)
			}
		}
		for j := range t.Users {
			u := &t.Users[j]
			um := &u.tableMeta
			switch other, dup := users[u.Username]; {
			case u.Username == "":
				p.err(um, "username", "required")
			case dup:
				p.err(um, "username", "%q is also a user of team %q: usernames are unique across teams", u.Username, other)
			default:
				users[u.Username] = t.Name
			}
			if u.PasswordHash == "" {
				p.err(um, "password_hash", "required: a bcrypt hash from `relayd passwd`")
			} else if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || !strings.HasPrefix(u.PasswordHash, "$2") {
				p.err(um, "password_hash", "not a bcrypt hash: create one with `relayd passwd`")
			}
		}
	}
	return byName
}

func validateRoutes(f *File, profiles map[string]*ProfileTable, teams map[string]*Team, p *problems) {
	for i := range f.Routes {
		r := &f.Routes[i]
		m := &r.tableMeta
		t := teams[r.Team]
		if r.Team != "" && t == nil {
			p.err(m, "team", "no team is named %q", r.Team)
		}
		switch {
		case r.Profile == "":
			p.err(m, "profile", "required: the profile this rule sends to")
		case t != nil && len(t.Profiles) > 0 && !slices.Contains(t.Profiles, r.Profile):
			p.err(m, "profile", "%q is not in team %q's profiles: the rule could never apply", r.Profile, r.Team)
		case profiles[r.Profile] == nil:
			p.warn(m, "profile", "route #%d: no profile is named %q: routing skips this rule", i+1, r.Profile)
		}
	}
}

func validateDKIM(f *File, p *problems) {
	seen := map[string]bool{}
	for i := range f.DKIM {
		d := &f.DKIM[i]
		m := &d.tableMeta
		d.Domain = strings.ToLower(strings.TrimSuffix(d.Domain, "."))
		if d.Domain == "" || !validHostname(d.Domain) {
			p.err(m, "domain", "required: the From domain to sign for, like \"example.com\"")
		}
		if d.Selector == "" || !validHostname(d.Selector) {
			p.err(m, "selector", "required: the DNS selector, like \"relay2026\" (TXT record relay2026._domainkey.DOMAIN)")
		}
		if id := d.Selector + "._domainkey." + d.Domain; seen[id] {
			p.err(m, "selector", "%s is configured twice", id)
		} else {
			seen[id] = true
		}
		if d.KeyFile == "" {
			p.err(m, "key_file", "required: the private key (RSA or Ed25519, PKCS#8 PEM)")
		} else if !f.mode.Full && f.mode.Profile == "" {
			// Only delivery and relayd test -send sign.
		} else if key, err := loadDKIMKey(d.KeyFile); err != nil {
			p.err(m, "key_file", "%v", err)
		} else {
			d.key = key
		}
		if len(d.Headers) > 0 && !slices.ContainsFunc(d.Headers, func(h string) bool { return strings.EqualFold(h, "From") }) {
			p.err(m, "headers", "must include From (RFC 6376 §5.4)")
		}
	}
}
