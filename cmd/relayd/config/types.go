package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The value types of the TOML schema. Each implements
// encoding.TextUnmarshaler, so BurntSushi/toml hands it the raw value and the
// loader can report a bad one with its key and line. None of them ever puts
// more than the offending value into an error text, and no secret is decoded
// through them.

// Duration is a TOML duration: Go syntax ("90s", "1h30m") plus "d" for days
// of 24 hours ("5d", "1d12h", "1.5d"). "" is zero. Negative values are refused.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way it can be written back ("5d", "1d12h", "90s" as
// "1m30s", "4h").
func (d Duration) String() string {
	td := time.Duration(d)
	day := 24 * time.Hour
	if td < day {
		return compactDuration(td)
	}
	days, rest := td/day, td%day
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%s", days, compactDuration(rest))
}

// compactDuration is time.Duration.String without zero minutes and seconds
// ("1h", not "1h0m0s").
func compactDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses Go duration syntax extended by the unit "d" (24h).
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, nil
	}
	if in == "0" {
		return 0, nil
	}
	if in[0] == '-' {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	in = strings.TrimPrefix(in, "+")
	var total time.Duration
	for in != "" {
		// One number and its unit.
		i := 0
		for i < len(in) && (in[i] == '.' || ('0' <= in[i] && in[i] <= '9')) {
			i++
		}
		j := i
		for j < len(in) && in[j] != '.' && (in[j] < '0' || in[j] > '9') {
			j++
		}
		num, unit := in[:i], in[i:j]
		in = in[j:]
		if num == "" {
			return 0, fmt.Errorf("invalid duration %q: use a number and a unit, like \"90s\", \"15m\", \"4h\" or \"5d\"", s)
		}
		if unit == "" {
			return 0, fmt.Errorf("invalid duration %q: missing unit: use s, m, h or d, like \"%ss\"", s, num)
		}
		var part time.Duration
		var err error
		if unit == "d" {
			part, err = time.ParseDuration(num + "h")
			if err == nil {
				if part > math.MaxInt64/24 {
					err = errors.New("overflow")
				}
				part *= 24
			}
		} else {
			part, err = time.ParseDuration(num + unit)
		}
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: use a number and a unit (ns, us, ms, s, m, h, d), like \"90s\" or \"1d12h\"", s)
		}
		if total > math.MaxInt64-part {
			return 0, fmt.Errorf("invalid duration %q: too long", s)
		}
		total += part
	}
	return total, nil
}

// Size is a byte count: a TOML integer, or a string of digits with an
// optional unit B, KB, MB or GB (powers of 1024; K, M, G and KiB, MiB, GiB
// are accepted too, any case). Negative values are refused.
type Size int64

// String formats s with the largest unit that divides it ("25MB", "1000").
func (s Size) String() string {
	for _, u := range []struct {
		n    int64
		name string
	}{{1 << 30, "GB"}, {1 << 20, "MB"}, {1 << 10, "KB"}} {
		if s != 0 && int64(s)%u.n == 0 {
			return fmt.Sprintf("%d%s", int64(s)/u.n, u.name)
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := parseSize(string(b))
	if err != nil {
		return err
	}
	*s = Size(v)
	return nil
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
}

func parseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && '0' <= in[i] && in[i] <= '9' {
		i++
	}
	num, unit := in[:i], strings.ToLower(strings.TrimSpace(in[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("invalid size %q: use bytes or a whole number with KB, MB or GB, like \"25MB\"", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return n * mult, nil
}

// setEnum stores the lower-cased b in *dst when it is one of allowed.
func setEnum(dst *string, b []byte, allowed ...string) error {
	v := strings.ToLower(strings.TrimSpace(string(b)))
	for _, a := range allowed {
		if v == a {
			*dst = v
			return nil
		}
	}
	return fmt.Errorf("invalid value %q: must be one of %s", string(b), strings.Join(allowed, ", "))
}

// ListenerTLS is [[listener]] tls: none | starttls | implicit.
type ListenerTLS string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *ListenerTLS) UnmarshalText(b []byte) error {
	if isTLSAlias(b) {
		return fmt.Errorf(`invalid value %q: say which TLS: "implicit" (TLS from the first byte, the "SSL" of port 465) or "starttls" (offered after EHLO, ports 25 and 587)`, string(b))
	}
	return setEnum((*string)(v), b, "none", "starttls", "implicit")
}

// isTLSAlias reports the words legacy setups use for TLS ("SSL: yes"),
// which do not say whether TLS starts at once or after STARTTLS.
func isTLSAlias(b []byte) bool {
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "ssl", "yes", "tls", "smtps", "true", "on", "enabled":
		return true
	}
	return false
}

// ProfileTLS is [[profile]] tls: none | starttls | starttls-required | implicit.
type ProfileTLS string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *ProfileTLS) UnmarshalText(b []byte) error {
	if isTLSAlias(b) {
		return fmt.Errorf(`invalid value %q: say which TLS: "implicit" (TLS from the first byte, the "SSL" of port 465) or "starttls-required" (STARTTLS after EHLO, port 587)`, string(b))
	}
	return setEnum((*string)(v), b, "none", "starttls", "starttls-required", "implicit")
}

// AuthMode is [[listener]] auth: none | optional | required.
type AuthMode string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *AuthMode) UnmarshalText(b []byte) error {
	return setEnum((*string)(v), b, "none", "optional", "required")
}

// LogFormat is [server] log_format: text | json.
type LogFormat string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *LogFormat) UnmarshalText(b []byte) error {
	return setEnum((*string)(v), b, "text", "json")
}

// LogLevel is [server] log_level: debug | info | warn | error.
type LogLevel string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *LogLevel) UnmarshalText(b []byte) error {
	return setEnum((*string)(v), b, "debug", "info", "warn", "error")
}

// BareLF is [relay] bare_lf: normalize | reject.
type BareLF string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *BareLF) UnmarshalText(b []byte) error {
	return setEnum((*string)(v), b, "normalize", "reject")
}

// Mode is [[profile]] mode: queue | immediate.
type Mode string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Mode) UnmarshalText(b []byte) error {
	return setEnum((*string)(v), b, "queue", "immediate")
}

// ProfileType is [[profile]] type: smtp | direct.
type ProfileType string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *ProfileType) UnmarshalText(b []byte) error {
	return setEnum((*string)(v), b, "smtp", "direct")
}

// Grant is [profile.oauth2] grant: refresh_token | client_credentials.
type Grant string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Grant) UnmarshalText(b []byte) error {
	return setEnum((*string)(v), b, "refresh_token", "client_credentials")
}

// Provider is [profile.oauth2] provider: microsoft365 | google.
type Provider string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Provider) UnmarshalText(b []byte) error {
	return setEnum((*string)(v), b, "microsoft365", "google")
}

// AuthMechanism is one entry of [[profile]] auth_mechanisms, upper-cased.
type AuthMechanism string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *AuthMechanism) UnmarshalText(b []byte) error {
	s := strings.ToUpper(strings.TrimSpace(string(b)))
	switch s {
	case "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER":
		*v = AuthMechanism(s)
		return nil
	}
	return fmt.Errorf("invalid value %q: must be one of CRAM-MD5, PLAIN, LOGIN, XOAUTH2, OAUTHBEARER", string(b))
}

// CIDR is a network prefix. A bare address is a single host (/32 or /128);
// host bits are cleared ("10.1.2.5/24" is 10.1.2.0/24).
type CIDR struct{ netip.Prefix }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *CIDR) UnmarshalText(b []byte) error {
	p, err := parseCIDR(string(b))
	if err != nil {
		return err
	}
	c.Prefix = p
	return nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	in := strings.TrimSpace(s)
	if strings.Contains(in, "/") {
		p, err := netip.ParsePrefix(in)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid network %q: use an address or a CIDR prefix like \"10.0.0.0/8\" or \"::1/128\"", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(in)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid network %q: use an address or a CIDR prefix like \"10.0.0.0/8\" or \"::1/128\"", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// prefixes converts a CIDR list.
func prefixes(l []CIDR) []netip.Prefix {
	if len(l) == 0 {
		return nil
	}
	out := make([]netip.Prefix, len(l))
	for i, c := range l {
		out[i] = c.Prefix
	}
	return out
}

// Glob is a case-insensitive pattern on an address: '*' matches any run of
// characters, '?' one character (policy.Match). "" matches anything. White
// space and control characters are refused: an address never has them, so
// such a pattern is a typo that would silently never match.
type Glob string

// UnmarshalText implements encoding.TextUnmarshaler.
func (g *Glob) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("invalid pattern %q: white space or control characters never match an address", string(b))
	}
	*g = Glob(s)
	return nil
}

// Rate is a profile's rate: at most N messages per Per ("30/m", "2000/d",
// "5/s", "100/h"). "" is unlimited (zero).
type Rate struct {
	N   int
	Per time.Duration
}

// String formats r as written ("30/m"), "" when unlimited.
func (r Rate) String() string {
	if r.N == 0 {
		return ""
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Second, "s"}, {time.Minute, "m"}, {time.Hour, "h"}, {24 * time.Hour, "d"}} {
		if r.Per == u.d {
			return fmt.Sprintf("%d/%s", r.N, u.name)
		}
	}
	return fmt.Sprintf("%d/%s", r.N, r.Per)
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := parseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Rates is a profile's `rate`: one window ("30/m") or a list of windows
// (["30/m", "10000/d"]) that must all allow a delivery. Empty is
// unlimited.
type Rates []Rate

// String formats rs as the windows joined by ", ", "" when unlimited.
func (rs Rates) String() string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}

// UnmarshalTOML implements toml.Unmarshaler: a string or an array of
// strings.
func (rs *Rates) UnmarshalTOML(v any) error {
	var in []string
	switch v := v.(type) {
	case string:
		in = []string{v}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("invalid rate %v: each window is a string like \"30/m\"", e)
			}
			in = append(in, s)
		}
	default:
		return fmt.Errorf("invalid rate %v: use a window like \"30/m\" or a list like [\"30/m\", \"10000/d\"]", v)
	}
	out := Rates{}
	for _, s := range in {
		r, err := parseRate(s)
		if err != nil {
			return err
		}
		if r.N > 0 {
			out = append(out, r)
		}
	}
	*rs = out
	return nil
}

func parseRate(s string) (Rate, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return Rate{}, nil
	}
	bad := fmt.Errorf("invalid rate %q: use messages per window, like \"30/m\", \"2000/d\", \"5/s\" or \"100/h\"", s)
	num, unit, ok := strings.Cut(in, "/")
	if !ok {
		return Rate{}, bad
	}
	n, err := strconv.Atoi(strings.TrimSpace(num))
	if err != nil || n < 1 {
		return Rate{}, bad
	}
	per := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	d, ok := per[strings.ToLower(strings.TrimSpace(unit))]
	if !ok {
		return Rate{}, bad
	}
	return Rate{N: n, Per: d}, nil
}
