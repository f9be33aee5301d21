package upstream

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFormatAddress(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" = error
	}{
		{"bob@example.org", "bob@example.org"},
		{"first.last+tag@example.org", "first.last+tag@example.org"},
		{"o'brien@example.org", "o'brien@example.org"},
		{"jörg@exämple.org", "jörg@exämple.org"},
		{"bob@[192.0.2.1]", "bob@[192.0.2.1]"},
		{"bob@[IPv6:2001:db8::1]", "bob@[IPv6:2001:db8::1]"},
		{`"john NOTIFY=SUCCESS doe"@x.org`, `"john NOTIFY=SUCCESS doe"@x.org`},
		{`john NOTIFY=SUCCESS doe@x.org`, `"john NOTIFY=SUCCESS doe"@x.org`},
		{`"bob"@example.org`, "bob@example.org"},
		{`"a@b"@example.org`, `"a@b"@example.org`},
		{`a@b@example.org`, `"a@b"@example.org`},
		{`".bob"@example.org`, `".bob"@example.org`},
		{`bob.@example.org`, `"bob."@example.org`},
		{`a..b@example.org`, `"a..b"@example.org`},
		{`"a\"b"@example.org`, `"a\"b"@example.org`},
		{`"a\\b"@example.org`, `"a\\b"@example.org`},
		{`a"b@example.org`, `"a\"b"@example.org`},
		{`"a<b>"@example.org`, `"a<b>"@example.org`},
		{`x> NOTIFY=NEVER <y@example.org`, ""},
		{"a<b@example.org", ""},
		{"bob@example.org>", ""},
		{"bob@example.org\r\nRSET", ""},
		{"bob\n@example.org", ""},
		{"bob\x00@example.org", ""},
		{"bob\x7f@example.org", ""},
		{"bob\u0085@example.org", ""},
		{"bob\xff@example.org", ""},
		{"", ""},
		{"bob", ""},
		{"@example.org", ""},
		{`""@example.org`, ""},
		{"bob@", ""},
		{"bob@exa mple.org", ""},
		{"bob@example..org", ""},
		{"bob@[1.2.3.4", ""},
		{"bob@[1.2]3.4]", ""},
		{`0@["]`, ""},                   // found by FuzzFormatAddress
		{"bob@[a>b]", ""},               // '>' would end the path early
		{"bob@[IPv6:fe80::1%eth0]", ""}, // zones are not in RFC 5321
		{"bob@[::1]", ""},               // IPv6 needs its tag
		{"bob@[999.1.1.1]", ""},
		{"bob@[IPv6:::ffff:192.0.2.1]", "bob@[IPv6:::ffff:192.0.2.1]"},
		{"bob@[x-tag:abc.def]", "bob@[x-tag:abc.def]"},
		{"bob@exam<ple.org", ""},
		{strings.Repeat("a", 250) + "@x.org", ""},
	} {
		got, err := FormatAddress(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("FormatAddress(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzFormatAddress checks that whatever FormatAddress returns is one
// RFC 5321 Mailbox: nothing in it can end the path or start a parameter,
// it keeps the local part, and formatting it again changes nothing.
func FuzzFormatAddress(f *testing.F) {
	f.Add(`"john NOTIFY=SUCCESS doe"@x.org`)
	f.Add("bob@example.org")
	f.Add(`a\"b@[1.2.3.4]`)
	f.Fuzz(func(t *testing.T, addr string) {
		out, err := FormatAddress(addr)
		if err != nil {
			if out != "" {
				t.Fatalf("error %v with output %q", err, out)
			}
			return
		}
		if !utf8.ValidString(out) || len(out) > maxPath {
			t.Fatalf("%q: invalid UTF-8 or too long", out)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("%q: control character", out)
			}
		}
		local, domain, rest, ok := parseMailbox(out + "> NOTIFY=NEVER")
		if !ok || rest != " NOTIFY=NEVER" {
			t.Fatalf("%q does not parse as one path: local %q domain %q rest %q", out, local, domain, rest)
		}
		wantLocal, _, _ := splitAddress(addr)
		if local != wantLocal {
			t.Fatalf("%q: local part %q, want %q", out, local, wantLocal)
		}
		if again, err := FormatAddress(out); err != nil || again != out {
			t.Fatalf("FormatAddress(%q) = %q, %v; not idempotent", out, again, err)
		}
	})
}

// parseMailbox is a strict RFC 5321 reader of `Mailbox ">" rest`, written
// independently of FormatAddress. It returns the unquoted local part.
func parseMailbox(s string) (local, domain, rest string, ok bool) {
	var b strings.Builder
	i := 0
	if strings.HasPrefix(s, `"`) {
		for i = 1; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' {
				i++
				if i == len(s) || s[i] < 32 || s[i] > 126 {
					return "", "", "", false
				}
			} else if s[i] < 32 || s[i] == 127 {
				return "", "", "", false
			}
			b.WriteByte(s[i])
		}
		if i == len(s) {
			return "", "", "", false
		}
		i++
	} else {
		for ; i < len(s) && s[i] != '@'; i++ {
			if !isAtext(s[i]) && s[i] != '.' {
				return "", "", "", false
			}
			b.WriteByte(s[i])
		}
	}
	if i == len(s) || s[i] != '@' {
		return "", "", "", false
	}
	end := strings.IndexByte(s[i:], '>')
	if end < 0 {
		return "", "", "", false
	}
	domain = s[i+1 : i+end]
	if strings.ContainsAny(domain, " @<\"") {
		return "", "", "", false
	}
	return b.String(), domain, s[i+end+1:], true
}
