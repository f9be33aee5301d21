package config

import (
	"errors"
	"io/fs"
	"net"
	"net/mail"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/relayd/relayd/spool"
)

// validate checks the whole defaulted File and loads the files it names
// (certificates, keys, secrets). Every problem is reported on its key; none
// stops the others from being found.
func validate(f *File, p *problems) {
	validateServer(f, p)
	validateAdmin(&f.Admin, p)
	profiles := validateProfiles(f, p)
	if f.mode.Full {
		checkTranscripts(f, p)
	}
	teams := validateTeams(f, profiles, p)
	validateRelay(&f.RelayTable, profiles, p)
	validateListeners(f, teams, p)
	validateSendmail(f, teams, p)
	validateRoutes(f, profiles, teams, p)
	validateDKIM(f, p)
	validateNotify(&f.Notify, p)
	validateNotifyProfile(&f.Notify, profiles, p)
	validateCluster(f, p)
	validateAttachments(f, p)
}

// checkLiteralSecrets warns when a config file that readers (configReaders:
// "every user", "group staff") can read holds a password or client secret
// in clear. The documented root:relayd 0640 gets no warning.
func checkLiteralSecrets(f *File, mode fs.FileMode, readers string, p *problems) {
	if readers == "" {
		return
	}
	fix := "chmod o-r it (the documented setup is root:relayd 0640)"
	if readers != "every user" {
		fix = "chgrp relayd it (the documented setup is root:relayd 0640) or chmod g-r it"
	}
	for i := range f.Profiles {
		pr := &f.Profiles[i]
		if pr.Password != "" && !inherited(&pr.tableMeta, "password") {
			p.warn(&pr.tableMeta, "password", "the config file holds a literal password and is readable by %s (mode %04o): %s, or use password_file or password_env", readers, mode, fix)
		}
		if o := pr.OAuth2; o != nil && o.ClientSecret != "" && !inherited(&o.tableMeta, "client_secret") && o.path == join(pr.path, "oauth2") {
			p.warn(&o.tableMeta, "client_secret", "the config file holds a literal client secret and is readable by %s (mode %04o): %s, or use client_secret_file or client_secret_env", readers, mode, fix)
		}
	}
}

func inherited(m *tableMeta, key string) bool { _, ok := m.inherited[key]; return ok }

func validateServer(f *File, p *problems) {
	s := &f.Server
	if !validHostname(s.Hostname) {
		p.err(&s.tableMeta, "hostname", "%q is not a host name: it is the greeting, HELO and Message-ID domain", s.Hostname)
	}
	if s.SpoolKeyFile != "" && f.mode.Full {
		if v := readSecretFile(&s.tableMeta, "spool_key_file", s.SpoolKeyFile, p); v != "" {
			key, err := parseSpoolKey(v)
			if err != nil {
				p.err(&s.tableMeta, "spool_key_file", "%s %v", s.SpoolKeyFile, err)
			}
			s.spoolKey = key
		}
	}
	if f.mode.Full && !p.has(&s.tableMeta, "spool_key_file") {
		checkSpoolKey(s, p)
	}
}

// checkSpoolKey finds, before serve's spool.Open fails with Badger's
// "Encryption key mismatch", a spool_key_file that does not fit the spool
// on disk. It reads only Badger's key registry (spool.CheckEncryption), so
// it works while relayd runs; a spool it may not read is not checked.
func checkSpoolKey(s *Server, p *problems) {
	dir := filepath.Join(s.StateDir, "spool")
	switch err := spool.CheckEncryption(dir, s.spoolKey); {
	case err == nil || errors.Is(err, fs.ErrPermission):
	case errors.Is(err, spool.ErrNotEncrypted):
		p.err(&s.tableMeta, "spool_key_file", "the spool in %s was created without encryption, and an existing spool cannot be encrypted: remove spool_key_file, or let the queue empty (relayd queue list), stop relayd, move %s aside and start relayd again to create an encrypted spool", dir, dir)
	case errors.Is(err, spool.ErrEncrypted):
		p.err(&s.tableMeta, "spool_key_file", "the spool in %s is encrypted: set spool_key_file to the key file it was created with", dir)
	case errors.Is(err, spool.ErrWrongKey):
		p.err(&s.tableMeta, "spool_key_file", "%s does not hold the key the spool in %s was encrypted with: restore the key file the spool was created with", s.SpoolKeyFile, dir)
	default:
		p.warn(&s.tableMeta, "spool_key_file", "cannot check the spool's encryption in %s: %v", dir, err)
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
	for _, h := range a.AllowedHosts {
		if _, err := ParseAllowedHost(h); err != nil {
			p.err(m, "allowed_hosts", "%q %v", h, err)
		}
	}
	if ip, err := netip.ParseAddr(host); (host == "" || err == nil && ip.IsUnspecified()) && len(a.AllowedHosts) == 0 {
		p.warn(m, "listen", "%q listens on every address, but requests from other hosts are refused (403) unless their Host is in allowed_hosts: list the names they use", a.Listen)
	}
	if a.SessionTimeout.D() <= 0 && m.isSet("session_timeout") {
		p.err(m, "session_timeout", "must be a positive duration such as \"12h\"")
	}
	switch {
	case (a.CertFile == "") != (a.KeyFile == ""):
		p.err(m, "cert_file", "cert_file and key_file go together: give both for HTTPS on the admin listener, or neither")
	case a.CertFile != "":
		cfg, err := loadServerTLS(a.CertFile, a.KeyFile)
		if err != nil {
			p.err(m, "cert_file", "%v", err)
		}
		a.tlsConfig = cfg
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

func validateRelay(r *RelayTable, profiles map[string]*ProfileTable, p *problems) {
	m := &r.tableMeta
	// A disabled or missing default is valid: routing skips it,
	// and a recipient that nothing else routes gets 451 4.3.5.
	switch pr := profiles[r.DefaultProfile]; {
	case r.DefaultProfile == "":
		p.err(m, "default_profile", "required: the profile for mail that no route or team default decides")
	case pr == nil:
		p.warn(m, "default_profile", "no profile is named %q: routing skips it, and mail that no route or team default decides is refused with 451 4.3.5", r.DefaultProfile)
	case !pr.Enabled:
		p.warn(m, "default_profile", "profile %q is disabled: mail that no route or team default decides is refused with 451 4.3.5 until it is enabled", r.DefaultProfile)
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
			} else if !f.mode.Full {
				// Only serve needs the listener's key.
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

// allNetworks returns the prefix of l that covers every address
// ("0.0.0.0/0", "::/0"), "" when none does.
func allNetworks(l []CIDR) string {
	for _, c := range l {
		if c.Bits() == 0 {
			return c.String()
		}
	}
	return ""
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
		if all := allNetworks(l.AllowNetworks); all != "" && l.Auth != "required" && !isLoopbackHost(host) {
			p.warn(m, "allow_networks", "OPEN RELAY: listener %q on %s accepts mail from every address (%s) without authentication (auth = %q): anyone who can reach it can send mail through your upstream accounts; set auth = \"required\", or list only your own networks in allow_networks",
				l.Name, a, all, l.Auth)
		}
	}
	if other, dup := seen[a]; dup && !strings.HasSuffix(a, ":0") {
		p.err(m, "address", "%q is also the address of listener %q", a, other)
	}
	seen[a] = l.Name
}

// validateNotifyProfile warns about a [notify] profile that alerts cannot
// go through; like a route's profile it never refuses the
// config, and alerts then take another enabled profile.
func validateNotifyProfile(n *Notify, profiles map[string]*ProfileTable, p *problems) {
	switch pr := profiles[n.Profile]; {
	case n.Profile == "":
	case pr == nil:
		p.warn(&n.tableMeta, "profile", "no profile is named %q: alerts go through another enabled profile", n.Profile)
	case !pr.Enabled:
		p.warn(&n.tableMeta, "profile", "profile %q is disabled: alerts go through another enabled profile", n.Profile)
	}
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
