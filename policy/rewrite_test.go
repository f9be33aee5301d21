package policy

import (
	"errors"
	"mime"
	"net/mail"
	"reflect"
	"strings"
	"testing"
)

// fields returns a Headers get function over name/value pairs; names are
// matched case-insensitively, as a real header lookup does.
func fields(kv ...string) func(string) []string {
	return func(name string) []string {
		var vs []string
		for i := 0; i+1 < len(kv); i += 2 {
			if strings.EqualFold(kv[i], name) {
				vs = append(vs, kv[i+1])
			}
		}
		return vs
	}
}

func TestEnvelope(t *testing.T) {
	tests := []struct {
		rw           Rewrite
		sender, want string
	}{
		{Rewrite{}, "app@legacy.example.com", "app@legacy.example.com"},
		{Rewrite{}, "", ""},
		{Rewrite{FromAddress: "system@example.com"}, "app@legacy.example.com", "system@example.com"},
		{Rewrite{FromAddress: "system@example.com"}, "", ""}, // a bounce keeps its null sender
		{Rewrite{DefaultSenderName: "X", DefaultReplyTo: "r@x"}, "a@b", "a@b"},
	}
	for _, tt := range tests {
		if got := tt.rw.Envelope(tt.sender); got != tt.want {
			t.Errorf("%+v.Envelope(%q) = %q, want %q", tt.rw, tt.sender, got, tt.want)
		}
	}
}

func set(name, value string) Edit { return Edit{Op: EditSet, Name: name, Value: value} }
func add(name, value string) Edit { return Edit{Op: EditAdd, Name: name, Value: value} }

// rewrite is a typical send-as profile: from_address with rewrite_header_from.
var rewrite = Rewrite{FromAddress: "system@example.com", RewriteHeaderFrom: true}

func named(rw Rewrite, name string) Rewrite { rw.DefaultSenderName = name; return rw }
func replyTo(rw Rewrite, rt string) Rewrite { rw.DefaultReplyTo = rt; return rw }

// headerTests are TestHeaders' cases: Headers of rw on fields (name/value
// pairs) must return want.
var headerTests = []struct {
	name   string
	rw     Rewrite
	fields []string
	want   []Edit
}{
	{"nothing set", Rewrite{}, []string{"From", "a@b.example"}, nil},
	{"from_address alone leaves headers", Rewrite{FromAddress: "system@example.com"}, []string{"From", "a@b.example"}, nil},
	{"rewrite_header_from alone does nothing", Rewrite{RewriteHeaderFrom: true}, []string{"From", "a@b.example"}, nil},
	{"rewrite keeps display name", rewrite, []string{"From", "Alice <alice@sales.example.com>"},
		[]Edit{set("From", `"Alice" <system@example.com>`), add("Reply-To", `"Alice" <alice@sales.example.com>`)}},
	{"rewrite uses default name", named(rewrite, "Example Sales"), []string{"From", "alice@sales.example.com"},
		[]Edit{set("From", `"Example Sales" <system@example.com>`), add("Reply-To", "<alice@sales.example.com>")}},
	{"rewrite without any name", rewrite, []string{"From", "alice@sales.example.com"},
		[]Edit{set("From", "<system@example.com>"), add("Reply-To", "<alice@sales.example.com>")}},
	{"rewrite keeps existing Reply-To", replyTo(rewrite, "d@x.example"), []string{"From", "Alice <alice@x.example>", "reply-to", "desk@x.example"},
		[]Edit{set("From", `"Alice" <system@example.com>`)}},
	{"rewrite of From already from_address", named(rewrite, "Sys"), []string{"From", "SYSTEM@Example.com"},
		[]Edit{set("From", `"Sys" <SYSTEM@Example.com>`)}},
	{"rewrite of From already from_address with name", rewrite, []string{"From", "Sys <system@example.com>"}, nil},
	{"rewrite adds a missing From", replyTo(named(rewrite, "Sys"), "help@example.com"), nil,
		[]Edit{set("From", `"Sys" <system@example.com>`), add("Reply-To", "<help@example.com>")}},
	{"moved From wins over default_reply_to", replyTo(rewrite, "help@example.com"), []string{"From", "a@x.example"},
		[]Edit{set("From", "<system@example.com>"), add("Reply-To", "<a@x.example>")}},
	{"rewrite of a windows-1252 name", rewrite, []string{"From", "=?windows-1252?q?J=F6rg_=80?= <j@x.example>"},
		[]Edit{set("From", "=?utf-8?q?J=C3=B6rg_=E2=82=AC?= <system@example.com>"), add("Reply-To", "=?utf-8?q?J=C3=B6rg_=E2=82=AC?= <j@x.example>")}},
	{"rewrite of an ISO-8859-15 name", rewrite, []string{"From", "=?ISO-8859-15?Q?=A4uro?= <e@x.example>"},
		[]Edit{set("From", "=?utf-8?q?=E2=82=ACuro?= <system@example.com>"), add("Reply-To", "=?utf-8?q?=E2=82=ACuro?= <e@x.example>")}},
	{"rewrite of a comment name", rewrite, []string{"From", "a@x.example (Alice)"},
		[]Edit{set("From", `"Alice" <system@example.com>`), add("Reply-To", `"Alice" <a@x.example>`)}},
	{"default name added", named(Rewrite{}, "Sales Team"), []string{"From", "a@x.example"},
		[]Edit{set("From", `"Sales Team" <a@x.example>`)}},
	{"default name added to empty name", named(Rewrite{}, "Sales Team"), []string{"From", `"" <a@x.example>`},
		[]Edit{set("From", `"Sales Team" <a@x.example>`)}},
	{"default name not over a name", named(Rewrite{}, "Sales Team"), []string{"From", "Bob <a@x.example>"}, nil},
	{"default name quotes specials", named(Rewrite{}, `Smith, John "JJ" \o/`), []string{"From", "a@x.example"},
		[]Edit{set("From", `"Smith, John \"JJ\" \\o/" <a@x.example>`)}},
	{"default name non-ASCII", named(Rewrite{}, "Jörg Müller"), []string{"From", "a@x.example"},
		[]Edit{set("From", "=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <a@x.example>")}},
	{"default name non-ASCII with specials", named(Rewrite{}, "Müller, Jörg"), []string{"From", "a@x.example"},
		[]Edit{set("From", "=?utf-8?b?TcO8bGxlciwgSsO2cmc=?= <a@x.example>")}},
	{"default name without From", named(Rewrite{}, "X"), nil, nil},
	{"default reply-to", replyTo(Rewrite{}, "Support <support@example.com>"), []string{"From", "a@x.example"},
		[]Edit{add("Reply-To", `"Support" <support@example.com>`)}},
	{"default reply-to list", replyTo(Rewrite{}, "a@x.example, B <b@y.example>"), nil,
		[]Edit{add("Reply-To", `<a@x.example>, "B" <b@y.example>`)}},
	{"default reply-to not over one", replyTo(Rewrite{}, "s@example.com"), []string{"Reply-To", "me@x.example"}, nil},
	{"default reply-to not over an empty one", replyTo(Rewrite{}, "s@example.com"), []string{"Reply-To", ""}, nil},
	{"unparsable default reply-to", replyTo(Rewrite{}, "not an address"), nil, nil},
	{"unparsable From left alone", replyTo(named(rewrite, "N"), "s@example.com"), []string{"From", "not an address"},
		[]Edit{add("Reply-To", "<s@example.com>")}},
	{"From list left alone", rewrite, []string{"From", "a@x.example, b@x.example"}, nil},
	{"From group left alone", rewrite, []string{"From", "undisclosed-recipients:;"}, nil},
	{"unknown charset left alone", rewrite, []string{"From", "=?koi8-r?q?=F0?= <a@b.example>"}, nil},
	{"two From fields left alone", named(rewrite, "N"), []string{"From", "a@x.example", "From", "b@x.example"}, nil},
	{"unparsable from_address ignored", Rewrite{FromAddress: "bad address", RewriteHeaderFrom: true}, []string{"From", "a@x.example"}, nil},
}

func TestHeaders(t *testing.T) {
	for _, tt := range headerTests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rw.Headers(fields(tt.fields...))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Headers =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestHeadersEncodedWord checks that non-ASCII display names come out as
// RFC 2047 encoded-words that decode back to the configured name.
func TestHeadersEncodedWord(t *testing.T) {
	names := []string{"Jörg Müller", "Müller, Jörg (Vertrieb)", "日本語の営業部", "Zoë \"Z\" O'Brien", "a\r\nBcc: x@evil.example",
		strings.Repeat("é", 60)}
	dec := new(mime.WordDecoder)
	for _, name := range names {
		edits := Rewrite{DefaultSenderName: name}.Headers(fields("From", "a@x.example"))
		if len(edits) != 1 {
			t.Fatalf("%q: edits = %+v", name, edits)
		}
		v := edits[0].Value
		if strings.ContainsAny(v, "\r\n") || !isASCII(v) {
			t.Errorf("%q: value %q is not one ASCII line", name, v)
		}
		decoded, err := dec.DecodeHeader(strings.TrimSuffix(v, " <a@x.example>"))
		if err != nil || decoded != name {
			t.Errorf("%q: DecodeHeader(%q) = %q, %v", name, v, decoded, err)
		}
		a, err := mail.ParseAddress(v)
		if err != nil || a.Name != name || a.Address != "a@x.example" {
			t.Errorf("%q: ParseAddress(%q) = %+v, %v", name, v, a, err)
		}
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func TestValidate(t *testing.T) {
	tests := []struct {
		rw      Rewrite
		wantKey string
	}{
		{Rewrite{}, ""},
		{Rewrite{FromAddress: "system@example.com", RewriteHeaderFrom: true, DefaultSenderName: "Jörg", DefaultReplyTo: "A <a@x>, b@y"}, ""},
		{Rewrite{FromAddress: "System <system@example.com>"}, "from_address"},
		{Rewrite{FromAddress: "<system@example.com>"}, "from_address"},
		{Rewrite{FromAddress: "not an address"}, "from_address"},
		{Rewrite{RewriteHeaderFrom: true}, "rewrite_header_from"},
		{Rewrite{DefaultSenderName: "a\nb"}, "default_sender_name"},
		{Rewrite{DefaultReplyTo: "nope"}, "default_reply_to"},
	}
	for _, tt := range tests {
		err := tt.rw.Validate()
		var fe *FieldError
		switch {
		case tt.wantKey == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", tt.rw, err)
		case tt.wantKey != "" && (!errors.As(err, &fe) || fe.Key != tt.wantKey):
			t.Errorf("%+v: err = %v, want a FieldError for %s", tt.rw, err, tt.wantKey)
		case fe != nil && !strings.HasPrefix(err.Error(), tt.wantKey+": "):
			t.Errorf("%+v: error text %q does not start with the key", tt.rw, err)
		}
	}
}
