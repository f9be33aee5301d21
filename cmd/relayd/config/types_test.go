package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"", 0, ""},
		{"0", 0, ""},
		{"0s", 0, ""},
		{"90s", 90 * time.Second, ""},
		{"15m", 15 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"5d", 5 * day, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"1.5d", 36 * time.Hour, ""},
		{"2d3h4m5s", 2*day + 3*time.Hour + 4*time.Minute + 5*time.Second, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{" 4h ", 4 * time.Hour, ""},
		{"+1m", time.Minute, ""},
		{"30", 0, "missing unit"},
		{"-1m", 0, "negative"},
		{"5x", 0, "invalid duration"},
		{"d", 0, "invalid duration"},
		{"1..5h", 0, "invalid duration"},
		{"abc", 0, "invalid duration"},
		{"999999999999d", 0, "invalid duration"},
		{"106751d106751d", 0, "too long"},
	} {
		got, err := ParseDuration(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDuration(%q) = %v, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestDurationString(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{90 * time.Second, "1m30s"},
		{time.Minute, "1m"},
		{4 * time.Hour, "4h"},
		{90 * time.Minute, "1h30m"},
		{5 * 24 * time.Hour, "5d"},
		{36 * time.Hour, "1d12h"},
		{24*time.Hour + 5*time.Minute, "1d5m"},
	} {
		if got := Duration(tc.d).String(); got != tc.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tc.d, got, tc.want)
		}
		back, err := ParseDuration(Duration(tc.d).String())
		if err != nil || back != tc.d {
			t.Errorf("round trip of %v: %v, %v", tc.d, back, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1000", 1000, true},
		{"512KB", 512 << 10, true},
		{"1MB", 1 << 20, true},
		{"25MB", 25 << 20, true},
		{"1GB", 1 << 30, true},
		{"25 mb", 25 << 20, true},
		{"2k", 2048, true},
		{"3MiB", 3 << 20, true},
		{"10B", 10, true},
		{"", 0, false},
		{"MB", 0, false},
		{"1.5MB", 0, false},
		{"-1", 0, false},
		{"25XB", 0, false},
		{"1TB", 0, false},
		{"99999999999999999999", 0, false},
		{"9999999999999GB", 0, false},
	} {
		got, err := parseSize(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		s    Size
		want string
	}{{25 << 20, "25MB"}, {1 << 30, "1GB"}, {512 << 10, "512KB"}, {1000, "1000"}, {0, "0"}} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tc.s), got, tc.want)
		}
	}
}

func TestEnums(t *testing.T) {
	type enum interface{ UnmarshalText([]byte) error }
	for _, tc := range []struct {
		v    enum
		good []string
		bad  []string
	}{
		{new(ListenerTLS), []string{"none", "starttls", "implicit", "STARTTLS"}, []string{"starttls-required", ""}}, // "tls", "ssl": TestTLSWords
		{new(ProfileTLS), []string{"none", "starttls", "starttls-required", "implicit"}, []string{"sslv3", ""}},
		{new(AuthMode), []string{"none", "optional", "required"}, []string{"yes"}},
		{new(LogFormat), []string{"text", "json"}, []string{"logfmt"}},
		{new(LogLevel), []string{"debug", "info", "warn", "error"}, []string{"verbose", "warning"}},
		{new(BareLF), []string{"normalize", "reject"}, []string{"accept"}},
		{new(Mode), []string{"queue", "immediate"}, []string{"sync"}},
		{new(ProfileType), []string{"smtp", "direct"}, []string{"lmtp"}},
		{new(Grant), []string{"refresh_token", "client_credentials"}, []string{"password"}},
		{new(AuthMechanism), []string{"PLAIN", "login", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER"}, []string{"NTLM", ""}},
	} {
		for _, s := range tc.good {
			if err := tc.v.UnmarshalText([]byte(s)); err != nil {
				t.Errorf("%T %q: %v", tc.v, s, err)
			}
		}
		for _, s := range tc.bad {
			err := tc.v.UnmarshalText([]byte(s))
			if err == nil || !strings.Contains(err.Error(), "must be one of") {
				t.Errorf("%T %q: got %v, want a 'must be one of' error", tc.v, s, err)
			}
		}
	}
	var m ProfileTLS
	if err := m.UnmarshalText([]byte("StartTLS-Required")); err != nil || m != "starttls-required" {
		t.Errorf("ProfileTLS is not lower-cased: %q, %v", m, err)
	}
}

func TestParseCIDR(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.5/24", "10.1.2.0/24"},
		{"127.0.0.1", "127.0.0.1/32"},
		{"::1", "::1/128"},
		{"2001:db8::/32", "2001:db8::/32"},
		{" 192.168.1.1 ", "192.168.1.1/32"},
	} {
		var c CIDR
		if err := c.UnmarshalText([]byte(tc.in)); err != nil || c.Prefix != netip.MustParsePrefix(tc.want) {
			t.Errorf("CIDR %q = %v, %v; want %s", tc.in, c.Prefix, err, tc.want)
		}
	}
	for _, in := range []string{"", "10.0.0.0/33", "host.example", "10.0.0", "fe80::1%eth0", "1.2.3.4/x"} {
		var c CIDR
		if err := c.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("CIDR %q accepted as %v", in, c.Prefix)
		}
	}
}

func TestGlob(t *testing.T) {
	var g Glob
	if err := g.UnmarshalText([]byte(" *@Sales.example.com ")); err != nil || g != "*@Sales.example.com" {
		t.Errorf("glob = %q, %v", g, err)
	}
	for _, bad := range []string{"a b@x", "a\t@x", "x\x00"} {
		if err := g.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("glob %q accepted", bad)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in  string
		n   int
		per time.Duration
		ok  bool
	}{
		{"", 0, 0, true},
		{"30/m", 30, time.Minute, true},
		{"2000/d", 2000, 24 * time.Hour, true},
		{"5/s", 5, time.Second, true},
		{"100/h", 100, time.Hour, true},
		{" 10 / M ", 10, time.Minute, true},
		{"30", 0, 0, false},
		{"0/m", 0, 0, false},
		{"-1/m", 0, 0, false},
		{"30/w", 0, 0, false},
		{"x/m", 0, 0, false},
		{"30/", 0, 0, false},
	} {
		r, err := parseRate(tc.in)
		if tc.ok != (err == nil) || r.N != tc.n || r.Per != tc.per {
			t.Errorf("parseRate(%q) = %+v, %v; want %d/%v ok=%v", tc.in, r, err, tc.n, tc.per, tc.ok)
		}
		if err == nil && r.String() != "" {
			if back, _ := parseRate(r.String()); back != r {
				t.Errorf("round trip of %q: %+v", tc.in, back)
			}
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90s", "5d", "1d12h", "1.5d", "", "0", "-1m", "1..5h", "99999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v: negative", s, d)
		}
		back, err := ParseDuration(Duration(d).String())
		if err != nil || back != d {
			t.Fatalf("round trip of %q (%v): %v, %v", s, d, back, err)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"25MB", "1000", "512KB", "1GB", "", "-1", "1.5MB", "9999999999999GB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d: negative", s, n)
		}
		back, err := parseSize(Size(n).String())
		if err != nil || back != n {
			t.Fatalf("round trip of %q (%d): %d, %v", s, n, back, err)
		}
	})
}
