package config

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// Default values that other code refers to.
const (
	defaultStateDir    = "/var/lib/relayd"
	defaultAdminListen = "127.0.0.1:9425"
	defaultHostname    = "localhost" // when os.Hostname fails
)

var defaultRetrySchedule = []Duration{
	Duration(time.Minute), Duration(5 * time.Minute), Duration(15 * time.Minute),
	Duration(30 * time.Minute), Duration(time.Hour), Duration(2 * time.Hour), Duration(4 * time.Hour),
}

// setDefaults fills every key the file did not set (the one place
// defaults live, like chasquid's config.go). It runs after extends, so a
// profile's inherited value is not overwritten. String keys set to "" take
// their default too (an example may write helo = ""); numbers, booleans
// and durations keep what the file says, and validation judges it.
func setDefaults(f *File, hostname string) {
	s := &f.Server
	if s.Hostname == "" {
		s.Hostname = hostname
	}
	if s.StateDir == "" {
		s.StateDir = defaultStateDir
	}
	if s.LogFormat == "" {
		s.LogFormat = "text"
	}
	if s.LogLevel == "" {
		s.LogLevel = "info"
	}
	if !s.isSet("min_free_space") {
		s.MinFreeSpace = 256 << 20
	}

	if !f.Admin.isSet("listen") {
		f.Admin.Listen = defaultAdminListen
	}
	if !f.Admin.isSet("console") {
		f.Admin.Console = true
	}
	setDur(&f.Admin.tableMeta, "session_timeout", &f.Admin.SessionTimeout, 12*time.Hour)

	r := &f.RelayTable
	if !r.isSet("retry_schedule") {
		r.RetrySchedule = append([]Duration(nil), defaultRetrySchedule...)
	}
	setDur(&r.tableMeta, "max_queue_age", &r.MaxQueueAge, 5*24*time.Hour)
	setDur(&r.tableMeta, "journal_retention", &r.JournalRetention, 7*24*time.Hour)
	setDur(&r.tableMeta, "warn_after", &r.WarnAfter, 4*time.Hour)
	if r.BareLF == "" {
		r.BareLF = "normalize"
	}

	for i := range f.Listeners {
		listenerDefaults(&f.Listeners[i])
	}
	for i := range f.Profiles {
		profileDefaults(&f.Profiles[i], s.Hostname)
	}

	sendmailDefaults(f)
	attachmentsDefaults(f)
	if f.Notify.From == "" {
		f.Notify.From = "MAILER-DAEMON@" + s.Hostname
	}
}

func listenerDefaults(l *Listener) {
	m := &l.tableMeta
	if l.TLS == "" {
		l.TLS = "none"
	}
	if l.Auth == "" {
		l.Auth = "optional"
	}
	if !m.isSet("allow_networks") {
		l.AllowNetworks = []CIDR{mustCIDR("127.0.0.0/8"), mustCIDR("::1/128")}
	}
	setSize(m, "max_message_size", &l.MaxMessageSize, 25<<20)
	setSize(m, "max_line_length", &l.MaxLineLength, 1<<20)
	setInt(m, "max_recipients", &l.MaxRecipients, 100)
	setInt(m, "max_connections", &l.MaxConnections, 100)
	setInt(m, "max_connections_per_ip", &l.MaxConnectionsPerIP, 20)
	setInt(m, "max_errors", &l.MaxErrors, 10)
	setInt(m, "max_auth_failures", &l.MaxAuthFailures, 3)
	setDur(m, "idle_timeout", &l.IdleTimeout, 5*time.Minute)
	setDur(m, "session_timeout", &l.SessionTimeout, 30*time.Minute)
}

func profileDefaults(p *ProfileTable, hostname string) {
	m := &p.tableMeta
	providerDefaults(p)
	if !m.isSet("enabled") {
		p.Enabled = true
	}
	if p.Type == "" {
		p.Type = "smtp"
	}
	direct := p.Type == "direct"
	if p.TLS == "" {
		p.TLS = "starttls-required"
		if direct {
			p.TLS = "starttls"
		}
	}
	if !m.isSet("tls_verify") {
		p.TLSVerify = !direct
	}
	// host may carry the port: "host:port" or "host,port" (the seeds' form).
	if h, port, ok := splitHostPortLoose(p.Host); ok && !m.isSet("port") {
		p.Host, p.Port = h, port
		m.set["port"] = true
	} else if ok && port == p.Port {
		p.Host = h
	}
	if !m.isSet("port") {
		p.Port = 25
		if p.TLS == "implicit" {
			p.Port = 465
		}
	}
	if p.Helo == "" {
		p.Helo = hostname
	}
	setDur(m, "timeout", &p.Timeout, 30*time.Second)
	setDur(m, "data_timeout", &p.DataTimeout, 10*time.Minute)
	setDur(m, "quota_pause", &p.QuotaPause, time.Hour)
	if p.Mode == "" {
		p.Mode = "queue"
	}
	setInt(m, "max_per_connection", &p.MaxPerConnection, 100)
	setInt(m, "max_connections", &p.MaxConnections, 2)
	if p.OAuth2 != nil && p.OAuth2.Grant == "" {
		p.OAuth2.Grant = "refresh_token"
	}
}

// splitHostPortLoose splits "host:port", "[v6]:port" or "host,port". ok is
// false when s has no port (a bare host name or IPv6 address).
func splitHostPortLoose(s string) (host string, port int, ok bool) {
	var ps string
	if h, p, found := strings.Cut(s, ","); found {
		host, ps = strings.TrimSpace(h), strings.TrimSpace(p)
	} else if h, p, err := net.SplitHostPort(s); err == nil {
		host, ps = h, p
	} else {
		return "", 0, false
	}
	n, err := strconv.Atoi(ps)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, false
	}
	return host, n, true
}

func setInt(m *tableMeta, key string, v *int, def int) {
	if !m.isSet(key) {
		*v = def
	}
}

func setSize(m *tableMeta, key string, v *Size, def int64) {
	if !m.isSet(key) {
		*v = Size(def)
	}
}

func setDur(m *tableMeta, key string, v *Duration, def time.Duration) {
	if !m.isSet(key) {
		*v = Duration(def)
	}
}

func mustCIDR(s string) CIDR {
	p, err := parseCIDR(s)
	if err != nil {
		panic(err)
	}
	return CIDR{p}
}
