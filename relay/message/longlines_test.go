package message

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// fix reads s, runs FixLongLines and checks the invariants every result
// must have: CRLF only, no line over 998, idempotence.
func fix(t *testing.T, s string) (*Message, bool) {
	t.Helper()
	m := read(t, s, Limits{})
	changed, err := m.FixLongLines()
	if err != nil {
		t.Fatal(err)
	}
	out := m.Bytes()
	checkCRLF(t, out)
	if n := longestLine(out); n > maxLine {
		t.Errorf("line of %d octets after FixLongLines", n)
	}
	again, err := m.FixLongLines()
	if err != nil || again || !bytes.Equal(out, m.Bytes()) {
		t.Errorf("second FixLongLines changed = %v, err = %v", again, err)
	}
	return m, changed
}

func qpDecode(t *testing.T, b []byte) []byte {
	t.Helper()
	d, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("quoted-printable: %v", err)
	}
	return d
}

func TestFixLongLinesNothingToDo(t *testing.T) {
	m, changed := fix(t, sample)
	if changed || string(m.Bytes()) != sample {
		t.Errorf("changed = %v; message %q", changed, m.Bytes())
	}
}

func TestFixLongLinesPlainText(t *testing.T) {
	long := strings.Repeat("Lorem ipsum dolor sit amet = 100% ", 150)[:5000]
	body := "Hello,\r\n" + long + "\r\ntrailing space \r\n"
	in := "From: a@example.com\r\nSubject: plain\r\n\r\n" + body
	m, changed := fix(t, in)
	if !changed {
		t.Fatal("not changed")
	}
	golden(t, "longlines_plain.golden", m.Bytes())
	if got := m.Get("Content-Transfer-Encoding"); len(got) != 1 || got[0] != "quoted-printable" {
		t.Errorf("CTE = %q", got)
	}
	if got := m.Get("Content-Type"); len(got) != 1 || got[0] != "text/plain; charset=us-ascii" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := m.Get("MIME-Version"); len(got) != 1 || got[0] != "1.0" {
		t.Errorf("MIME-Version = %q", got)
	}
	if got := qpDecode(t, m.Body()); string(got) != body {
		t.Errorf("decoded body differs:\n%q", trunc(string(got)))
	}
}

func TestFixLongLinesCharset(t *testing.T) {
	tests := []struct{ body, ctype string }{
		{"caf\xc3\xa9 " + strings.Repeat("x", 1000), "text/plain; charset=utf-8"},
		{"caf\xe9 " + strings.Repeat("x", 1000), "text/plain; charset=unknown-8bit"},
	}
	for _, tt := range tests {
		m, _ := fix(t, "Subject: c\r\n\r\n"+tt.body+"\r\n")
		if got := m.Get("Content-Type"); len(got) != 1 || got[0] != tt.ctype {
			t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
		}
	}
	// An existing Content-Type is kept as it is.
	m, _ := fix(t, "Content-Type: text/html; charset=windows-1252\r\n\r\n<p>"+strings.Repeat("x", 1000)+"\r\n")
	if got := m.Get("Content-Type"); got[0] != "text/html; charset=windows-1252" || !m.Has("MIME-Version") {
		t.Errorf("Content-Type = %q, MIME-Version %v", got, m.Has("MIME-Version"))
	}
}

const altText = "Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n\r\n" +
	"Plain version, caf\xc3\xa9.\r\n"

func altMessage(html string) string {
	return "From: crm@example.com\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n" +
		"preamble\r\n" +
		"--b1\r\n" + altText +
		"--b1\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n\r\n" + html +
		"\r\n--b1--\r\n" +
		"epilogue\r\n"
}

func TestFixLongLinesMultipart(t *testing.T) {
	html := "<html><body>\r\n" + strings.Repeat("<td class=\"x\">caf\xc3\xa9 =</td>", 1000)[:20000] + "\r\n</body></html>"
	in := altMessage(html)
	m, changed := fix(t, in)
	if !changed {
		t.Fatal("not changed")
	}
	out := m.Bytes()
	golden(t, "longlines_multipart.golden", out)
	if !bytes.Contains(out, []byte("--b1\r\n"+altText+"--b1\r\n")) {
		t.Error("text/plain part is not byte-identical")
	}
	if !bytes.HasPrefix(out, []byte(in[:strings.Index(in, "Content-Type: text/html")])) {
		t.Error("header or first part changed")
	}
	mt, params, err := mime.ParseMediaType(m.Get("Content-Type")[0])
	if err != nil || mt != "multipart/alternative" {
		t.Fatal(mt, err)
	}
	mr := multipart.NewReader(bytes.NewReader(m.Body()), params["boundary"])
	var parts [][]byte
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		if len(parts) == 1 {
			if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
				t.Errorf("html CTE = %q", cte)
			}
			if ct := p.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("html Content-Type = %q", ct)
			}
			b = qpDecode(t, b)
		}
		parts = append(parts, b)
	}
	if len(parts) != 2 || string(parts[1]) != html {
		t.Errorf("%d parts; html decodes equal: %v", len(parts), len(parts) == 2 && string(parts[1]) == html)
	}
}

func TestFixLongLinesEncodings(t *testing.T) {
	data := bytes.Repeat([]byte("\x00\x01binary\r\n\xff"), 300)
	b64 := base64.StdEncoding.EncodeToString(data)
	qpText := strings.Repeat("caf=C3=A9 ", 200) + "=\r\nend"
	tests := []struct {
		name, part string
		check      func(t *testing.T, part []byte)
	}{
		{"base64 rewrapped", "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64,
			func(t *testing.T, p []byte) {
				_, body := splitHeader(p)
				if longestLine(body) != qpLine {
					t.Errorf("longest base64 line %d", longestLine(body))
				}
				got, err := base64.StdEncoding.DecodeString(string(bytes.ReplaceAll(body, []byte("\r\n"), nil)))
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("base64 content changed: %v", err)
				}
			}},
		{"qp soft breaks", "Content-Type: text/plain\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n" + qpText,
			func(t *testing.T, p []byte) {
				_, body := splitHeader(p)
				if longestLine(body) > qpLine {
					t.Errorf("longest qp line %d", longestLine(body))
				}
				if !bytes.Equal(qpDecode(t, body), qpDecode(t, []byte(qpText))) {
					t.Error("qp content changed")
				}
			}},
		{"8bit octet-stream exact", "Content-Type: application/octet-stream\r\n\r\n" + strings.Repeat("\xfe\xff", 600) + "\r\nx ",
			func(t *testing.T, p []byte) {
				_, body := splitHeader(p)
				if want := strings.Repeat("\xfe\xff", 600) + "\r\nx "; string(qpDecode(t, body)) != want {
					t.Error("binary content changed")
				}
			}},
		{"nested message/rfc822", "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\n" + strings.Repeat("y", 2000),
			func(t *testing.T, p []byte) {
				_, inner := splitHeader(p)
				ih, ib := splitHeader(inner)
				if v, _ := ih.first("Content-Transfer-Encoding"); v != "quoted-printable" {
					t.Errorf("inner CTE %q", v)
				}
				if string(qpDecode(t, ib)) != strings.Repeat("y", 2000) {
					t.Error("inner content changed")
				}
			}},
		{"long part header", "Content-Type: text/plain;\r\n name=\"" + strings.Repeat("n", 1200) + ".txt\"\r\n\r\nshort",
			func(t *testing.T, p []byte) {
				if !bytes.HasSuffix(p, []byte("\r\n\r\nshort")) {
					t.Errorf("body changed: %q", trunc(string(p)))
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhi\r\n--zz\r\n" +
				tt.part + "\r\n--zz--\r\n"
			m, changed := fix(t, in)
			if !changed {
				t.Fatal("not changed")
			}
			body := m.Body()
			start := bytes.Index(body, []byte("hi\r\n--zz\r\n")) + len("hi\r\n--zz\r\n")
			end := bytes.LastIndex(body, []byte("\r\n--zz--"))
			if start < len("hi\r\n--zz\r\n") || end < start {
				t.Fatalf("structure lost: %q", trunc(string(body)))
			}
			tt.check(t, body[start:end])
		})
	}
}

func TestFixLongLinesLastResort(t *testing.T) {
	long := strings.Repeat("z", 2500)
	tests := []struct{ name, in string }{
		{"long preamble and epilogue", "Content-Type: multipart/mixed; boundary=q\r\n\r\n" + long +
			"\r\n--q\r\n\r\nx\r\n--q--\r\n" + long + "\r\n"},
		{"boundary never found", "Content-Type: multipart/mixed; boundary=q\r\n\r\n" + long + "\r\n"},
		{"no boundary parameter", "Content-Type: multipart/mixed\r\n\r\n" + long + "\r\n"},
		{"long transport padding", "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q" +
			strings.Repeat(" ", 1200) + "\r\n\r\nx\r\n--q--" + strings.Repeat("\t", 1200) + "\r\n"},
		{"long header line", "Subject: " + long + "\r\nReferences: " + strings.Repeat("<a@b> ", 400) + "\r\n\r\nx\r\n"},
		{"no close delimiter", "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\n" + long + "\r\n"},
		{"deep nesting", strings.Repeat("Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n", 40) + "\r\n" + long + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, changed := fix(t, tt.in); !changed {
				t.Error("not changed")
			}
		})
	}
}
