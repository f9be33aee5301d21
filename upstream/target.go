package upstream

import (
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Target is the connection side of one [[profile]]: where and how to deliver.
// It is immutable once handed to a Pool; a reload builds new Targets.
type Target struct {
	Name           string
	Type           string         // "smtp" (smarthost) | "direct" (MX delivery)
	Host           string         // smarthost: "host", "host:port", "host,port", "[v6]:port" or a bare IPv6 literal (type smtp)
	Port           int            // TCP port, overrides one in Host; 0 = Host's, else 25, or 465 for TLSImplicit (direct: 0 = 25)
	TLS            TLSMode        // "" = TLSStartTLSRequired (direct: TLSStartTLS, opportunistic)
	TLSVerify      bool           // verify the upstream certificate chain and name (direct: against the MX host name)
	RootCAs        *x509.CertPool // nil = system roots (ca_file appended by the caller)
	Username       string         // AUTH identity; "" = no AUTH
	Password       string         // secret: never logged, never in an error text
	AuthMechanisms []string       // allowed mechanisms in order of preference; empty = best of CRAM-MD5, PLAIN, LOGIN offered (with OAuth2: XOAUTH2, then OAUTHBEARER)
	OAuth2         *OAuth2        // non-nil: AUTH with an OAuth2 access token (XOAUTH2 / OAUTHBEARER) instead of Password
	Helo           string         // EHLO name; "" = "localhost" (cmd/relayd sets server.hostname)
	Timeout        time.Duration  // connect, TLS handshake and each command's reply; 0 = 30 s
	DataTimeout    time.Duration  // writing the body and the reply to the final "."; 0 = 10 min
	MaxPerConn     int            // messages per connection, then QUIT and reconnect; 0 = 100
	MaxConns       int            // busy connections to this upstream at once; 0 = 2
	Resolver       string         // type direct: DNS server "host:port" (port 53 when omitted), UDP then TCP; "" = system
	AllowLoopback  bool           // type direct: permit MX hosts that resolve to loopback or unspecified addresses
	AllowPrivate   bool           // type direct: permit MX hosts that resolve to private, link-local, shared or other non-global addresses (nonGlobal); loopback stays AllowLoopback's
	Transcript     string         // debug_transcript: file that every session of this profile (deliveries and probes) appends its SMTP dialogue to, AUTH redacted (transcript.go); "" = none
}

// Defaults for zero Target fields; cmd/relayd normally sets them (docs/relayd.toml.5.md).
const (
	defaultTimeout     = 30 * time.Second
	defaultDataTimeout = 10 * time.Minute
	defaultMaxPerConn  = 100
	defaultMaxConns    = 2
)

// smarthostAddr returns the TLS server name and the host:port to dial for a
// smarthost profile. Host may be "host", "host:port", "host,port",
// "[v6]:port" or a bare IPv6 literal; a non-zero Port overrides the one in
// Host; the default is 25, or 465 with implicit TLS.
func smarthostAddr(prof *Target) (serverName, addr string, err error) {
	host, port, err := splitHost(prof.Host)
	if err != nil {
		return "", "", err
	}
	switch {
	case prof.Port < 0 || prof.Port > 65535:
		return "", "", fmt.Errorf("port %d out of range", prof.Port)
	case prof.Port != 0:
		port = prof.Port
	case port == 0 && tlsMode(prof) == TLSImplicit:
		port = 465
	case port == 0:
		port = 25
	}
	return host, net.JoinHostPort(host, strconv.Itoa(port)), nil
}

func splitHost(s string) (host string, port int, err error) {
	s = strings.TrimSpace(s)
	var ps string
	switch {
	case strings.Contains(s, ","):
		host, ps, _ = strings.Cut(s, ",")
		host, ps = strings.TrimSpace(host), strings.TrimSpace(ps)
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host = s[1 : len(s)-1]
	case strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1:
		if host, ps, err = net.SplitHostPort(s); err != nil {
			return "", 0, fmt.Errorf("host %q: %w", s, err)
		}
	default: // a name, an IPv4 address or a bare IPv6 literal
		host = s
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n/@,<>[]\"\\") {
		return "", 0, fmt.Errorf("invalid host %q", s)
	}
	if ps != "" {
		if port, err = strconv.Atoi(ps); err != nil || port < 1 || port > 65535 {
			return "", 0, fmt.Errorf("invalid port %q in host %q", ps, s)
		}
	}
	return host, port, nil
}

// tlsMode is the profile's TLS mode; "" is the smarthost default
// starttls-required, or opportunistic starttls for direct.
func tlsMode(prof *Target) TLSMode {
	switch {
	case prof.TLS != "":
		return prof.TLS
	case prof.Type == "direct":
		return TLSStartTLS
	}
	return TLSStartTLSRequired
}

// heloName is the EHLO argument: the profile's helo, "localhost" if unset.
func heloName(prof *Target) (string, error) {
	if prof.Helo == "" {
		return "localhost", nil
	}
	for i := 0; i < len(prof.Helo); i++ {
		if c := prof.Helo[i]; c <= ' ' || c >= 0x7f {
			return "", fmt.Errorf("invalid helo name %q", prof.Helo)
		}
	}
	return prof.Helo, nil
}

func timeouts(prof *Target) (cmd, data time.Duration) {
	cmd, data = prof.Timeout, prof.DataTimeout
	if cmd <= 0 {
		cmd = defaultTimeout
	}
	if data <= 0 {
		data = defaultDataTimeout
	}
	return cmd, data
}

// profileError is the failure of a profile that checkProfile refused.
func profileError(prof *Target, err error) *Error {
	fix := ": fix the profile's host, port, tls or helo"
	if prof.OAuth2 != nil {
		fix = ": fix the profile's host, port, tls, helo or oauth2"
	}
	if prof.Type == "direct" {
		fix = ": fix the profile's port, tls, helo or resolver"
	}
	return &Error{Profile: prof.Name, Step: StepConnect, Temporary: true, Err: err, Text: err.Error() + fix}
}

// checkProfile finds the profile errors no connection can fix.
func checkProfile(prof *Target) error {
	var err error
	switch prof.Type {
	case "direct":
		if prof.Port < 0 || prof.Port > 65535 {
			err = fmt.Errorf("port %d out of range", prof.Port)
		} else if prof.Resolver != "" {
			_, err = resolverAddr(prof.Resolver)
		}
	case "", "smtp":
		_, _, err = smarthostAddr(prof)
	default:
		err = fmt.Errorf("unknown profile type %q", prof.Type)
	}
	if err == nil {
		_, err = heloName(prof)
	}
	if err == nil && prof.OAuth2 != nil {
		err = prof.OAuth2.check()
	}
	if m := tlsMode(prof); err == nil && m != TLSNone && m != TLSStartTLS && m != TLSStartTLSRequired && m != TLSImplicit {
		err = fmt.Errorf("unknown tls mode %q", m)
	}
	return err
}

func maxConns(prof *Target) int {
	if prof.MaxConns <= 0 {
		return defaultMaxConns
	}
	return prof.MaxConns
}

func maxPerConn(prof *Target) int {
	if prof.MaxPerConn <= 0 {
		return defaultMaxPerConn
	}
	return prof.MaxPerConn
}
