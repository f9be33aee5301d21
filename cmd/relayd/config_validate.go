package main

import (
	"io/fs"
	"net"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
)

// validate checks the whole defaulted File and loads the files it names
// (certificates, keys, secrets). Every problem is reported on its key; none
// stops the others from being found.
func validate(f *File, p *problems) {
	validateServer(f, p)
	validateAdmin(&f.Admin, p)
	profiles := validateProfiles(f, p)
	teams := validateTeams(f, profiles, p)
	validateRelay(&f.RelayTable, profiles, p)
	validateListeners(f, teams, p)
	validateSendmail(f, teams, p)
	validateRoutes(f, profiles, teams, p)
	validateDKIM(f, p)
	validateNotify(&f.Notify, p)
}

// checkLiteralSecrets warns when a file others can read holds a password or
// client secret in clear (SPEC §3).
func checkLiteralSecrets(f *File, mode fs.FileMode, p *problems) {
	if mode&0o077 == 0 {
		return
	}
	for i := range f.Profiles {
		pr := &f.Profiles[i]
		if pr.Password != "" && !inherited(&pr.tableMeta, "password") {
			p.warn(&pr.tableMeta, "password", "the config file holds a literal password and is readable by group or others (mode %04o): chmod 600 it, or use password_file or password_env", mode)
		}
		if o := pr.OAuth2; o != nil && o.ClientSecret != "" && !inherited(&o.tableMeta, "client_secret") && o.path == join(pr.path, "oauth2") {
			p.warn(&o.tableMeta, "client_secret", "the config file holds a literal client secret and is readable by group or others (mode %04o): chmod 600 it, or use client_secret_file or client_secret_env", mode)
		}
	}
}

func inherited(m *tableMeta, key string) bool { _, ok := m.inherited[key]; return ok }

func validateServer(f *File, p *problems) {
	s := &f.Server
	if !validHostname(s.Hostname) {
		p.err(&s.tableMeta, "hostname", "%q is not a host name: it is the greeting, HELO and Message-ID domain", s.Hostname)
	}
	if s.SpoolKeyFile != "" {
		if v := readSecretFile(&s.tableMeta, "spool_key_file", s.SpoolKeyFile, p); v != "" {
			key, err := parseSpoolKey(v)
			if err != nil {
				p.err(&s.tableMeta, "spool_key_file", "%s %v", s.SpoolKeyFile, err)
			}
			s.spoolKey = key
		}
	}
}

// validHostname accepts a DNS name or address literal usable in EHLO.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		_, err := netip.ParseAddr(strings.TrimPrefix(h[1:len(h)-1], "IPv6:"))
		return err == nil
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if r != '-' && r != '_' && (r > unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r)) {
				return false
			}
		}
	}
	return true
}

func validateAdmin(a *Admin, p *problems) {
	m := &a.tableMeta
	if a.Listen == "" {
		return // no admin server
	}
	host, port, err := net.SplitHostPort(a.Listen)
	if err != nil || !validPort(port, true) {
		p.err(m, "listen", "%q is not host:port", a.Listen)
		return
	}
	if a.TokenFile != "" {
		a.token = readSecretFile(m, "token_file", a.TokenFile, p)
	} else if !isLoopbackHost(host) {
		p.err(m, "listen", "%q is not a loopback address: set token_file, the bearer token the admin API then requires", a.Listen)
	}
}

func validPort(s string, zeroOK bool) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n <= 65535 && (n > 0 || zeroOK && n == 0)
}

// isLoopbackHost reports whether host ("" is every address) is loopback only.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func validateRelay(r *RelayTable, profiles map[string]*Profile, p *problems) {
	m := &r.tableMeta
	switch pr := profiles[r.DefaultProfile]; {
	case r.DefaultProfile == "":
		p.err(m, "default_profile", "required: the profile for mail that no route or team default decides")
	case pr == nil:
		p.err(m, "default_profile", "no profile is named %q", r.DefaultProfile)
	case !pr.Enabled:
		p.err(m, "default_profile", "profile %q is disabled: the system default must be an enabled profile", r.DefaultProfile)
	}
	if len(r.RetrySchedule) == 0 {
		p.err(m, "retry_schedule", "must not be empty")
	}
	for _, d := range r.RetrySchedule {
		if d <= 0 {
			p.err(m, "retry_schedule", "every delay must be positive")
			break
		}
	}
	positive(m, "max_queue_age", r.MaxQueueAge, p)
	positive(m, "journal_retention", r.JournalRetention, p)
	if r.WarnAfter > 0 && r.MaxQueueAge > 0 && r.WarnAfter >= r.MaxQueueAge {
		p.warn(m, "warn_after", "%s is not before max_queue_age %s: no delay warning is ever sent", r.WarnAfter, r.MaxQueueAge)
	}
}

func positive(m *tableMeta, key string, d Duration, p *problems) {
	if d <= 0 {
		p.err(m, key, "must be a positive duration")
	}
}

func atLeast(m *tableMeta, key string, v, low int64, p *problems) {
	if v < low {
		p.err(m, key, "must be at least %d", low)
	}
}

func validateListeners(f *File, teams map[string]*Team, p *problems) {
	names := map[string]bool{}
	addrs := map[string]string{}
	for i := range f.Listeners {
		l := &f.Listeners[i]
		m := &l.tableMeta
		switch {
		case l.Name == "":
			p.err(m, "name", "required")
		case names[l.Name]:
			p.err(m, "name", "another listener is named %q", l.Name)
		}
		names[l.Name] = true
		validateListenAddress(l, addrs, p)
		if l.TLS == "starttls" || l.TLS == "implicit" {
			if l.CertFile == "" || l.KeyFile == "" {
				p.err(m, "tls", "tls = %q needs cert_file and key_file", l.TLS)
			} else if cfg, err := loadServerTLS(l.CertFile, l.KeyFile); err != nil {
				p.err(m, "cert_file", "%v", err)
			} else {
				l.tlsConfig = cfg
			}
		} else if l.CertFile != "" || l.KeyFile != "" {
			p.warn(m, "tls", "cert_file and key_file are ignored with tls = \"none\"")
		}
		if l.Team != "" && teams[l.Team] == nil {
			p.err(m, "team", "no team is named %q", l.Team)
		}
		if m.isSet("allow_networks") && len(l.AllowNetworks) == 0 && !strings.HasPrefix(l.Address, "unix:") {
			p.warn(m, "allow_networks", "is empty: every TCP client is refused")
		}
		atLeast(m, "max_message_size", int64(l.MaxMessageSize), 1024, p)
		atLeast(m, "max_line_length", int64(l.MaxLineLength), 1000, p) // RFC 5321 §4.5.3.1.6
		atLeast(m, "max_recipients", int64(l.MaxRecipients), 1, p)
		atLeast(m, "max_connections", int64(l.MaxConnections), 1, p)
		atLeast(m, "max_connections_per_ip", int64(l.MaxConnectionsPerIP), 1, p)
		atLeast(m, "max_errors", int64(l.MaxErrors), 1, p)
		atLeast(m, "max_auth_failures", int64(l.MaxAuthFailures), 1, p)
		positive(m, "idle_timeout", l.IdleTimeout, p)
		positive(m, "session_timeout", l.SessionTimeout, p)
	}
}

// validateListenAddress checks "host:port" or "unix:/path" and that no two
// listeners share one.
func validateListenAddress(l *Listener, seen map[string]string, p *problems) {
	m := &l.tableMeta
	a := l.Address
	switch {
	case a == "":
		p.err(m, "address", `required: "host:port" or "unix:/path/to/socket"`)
		return
	case strings.HasPrefix(a, "unix:"):
		if strings.TrimPrefix(a, "unix:") == "" {
			p.err(m, "address", `"unix:" needs a socket path, like "unix:/run/relayd/smtp.sock"`)
			return
		}
	default:
		host, port, err := net.SplitHostPort(a)
		if err != nil || !validPort(port, true) {
			p.err(m, "address", `%q is not "host:port" or "unix:/path/to/socket"`, a)
			return
		}
		if host != "" && host != "localhost" {
			if _, err := netip.ParseAddr(host); err != nil && !validHostname(host) {
				p.err(m, "address", "%q: %q is not an address or host name", a, host)
				return
			}
		}
		if l.Auth == "required" && l.TLS == "none" && !isLoopbackHost(host) {
			p.warn(m, "auth", "auth = \"required\" without TLS on a non-loopback address: AUTH is only offered over TLS, so remote clients cannot send")
		}
	}
	if other, dup := seen[a]; dup && !strings.HasSuffix(a, ":0") {
		p.err(m, "address", "%q is also the address of listener %q", a, other)
	}
	seen[a] = l.Name
}

func validateNotify(n *Notify, p *problems) {
	for _, kv := range []struct{ key, v string }{{"from", n.From}, {"admin", n.Admin}, {"bounces", n.Bounces}} {
		if kv.v == "" {
			continue
		}
		if _, err := mail.ParseAddress(kv.v); err != nil {
			p.err(&n.tableMeta, kv.key, "%q is not an address", kv.v)
		}
	}
}
