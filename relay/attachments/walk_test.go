package attachments

import (
	"bytes"
	"github.com/relayd/relayd/relay/attachments/attachtest"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestWalkClients(t *testing.T) {
	big, small := attachtest.Content(200<<10, 1), attachtest.Content(3000, 2)
	img, xlsx := attachtest.Content(5000, 3), attachtest.Content(70<<10, 4)
	tests := []struct {
		name   string
		msg    string
		sealed bool
		want   []string // attachments: "name type size"
		leaves int
	}{
		{"thunderbird", attachtest.Thunderbird(big, small), false,
			[]string{"report.pdf application/pdf 204800", "Zahlen März.csv text/csv; charset=UTF-8 3000"}, 4},
		{"outlook", attachtest.Outlook(img, xlsx), false,
			[]string{"Figures 2026.xlsx application/vnd.openxmlformats-officedocument.spreadsheetml.sheet 71680"}, 4},
		{"signed", attachtest.Signed(small), true, []string{"contract.pdf application/pdf 3000", "smime.p7s application/pkcs7-signature 35"}, 3},
		{"plain", attachtest.CRLF("Subject: hi\n\nhello\n"), false, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := []byte(tt.msg)
			tr := Walk(msg)
			if tr.Sealed != tt.sealed || len(tr.Leaves) != tt.leaves {
				t.Fatalf("sealed %v leaves %d, want %v %d: %+v", tr.Sealed, len(tr.Leaves), tt.sealed, tt.leaves, tr.Leaves)
			}
			var got []string
			for _, a := range tr.Attachments() {
				got = append(got, a.FileName+" "+a.ContentType()+" "+strconv.Itoa(int(a.Size(msg))))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("attachments\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestWalkDecodes: the decoded content of a base64 attachment is the
// original octets.
func TestWalkDecodes(t *testing.T) {
	big, small := attachtest.Content(100<<10, 5), attachtest.Content(10, 6)
	msg := []byte(attachtest.Thunderbird(big, small))
	atts := Walk(msg).Attachments()
	got, _ := io.ReadAll(atts[0].Content(msg))
	if !bytes.Equal(got, big) {
		t.Fatalf("decoded %d octets differ from the original %d", len(got), len(big))
	}
}

// TestRewriteKeepsTheRest: only the linked part changes; the text parts,
// the small attachment, headers and boundaries are byte-identical.
func TestRewriteKeepsTheRest(t *testing.T) {
	big, small := attachtest.Content(200<<10, 7), attachtest.Content(3000, 8)
	msg := []byte(attachtest.Thunderbird(big, small))
	tr := Walk(msg)
	exp := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)
	out, err := Rewrite(msg, map[int]Link{2: {Name: "report.pdf", Size: int64(len(big)),
		URL: "https://files.example.com/r/a/TOKEN/report.pdf", Expires: exp}})
	if err != nil {
		t.Fatal(err)
	}
	after := Walk(out)
	if len(after.Leaves) != len(tr.Leaves) {
		t.Fatalf("leaves %d -> %d", len(tr.Leaves), len(after.Leaves))
	}
	if !bytes.Equal(out[:tr.Leaves[2].Start], msg[:tr.Leaves[2].Start]) {
		t.Error("octets before the replaced part changed")
	}
	if !bytes.Equal(out[after.Leaves[2].End:], msg[tr.Leaves[2].End:]) {
		t.Error("octets after the replaced part changed")
	}
	r := after.Leaves[2]
	if r.MediaType != "text/plain" || r.Attachment || r.Disposition != "inline" {
		t.Errorf("replacement part %+v", r)
	}
	text, _ := io.ReadAll(r.Content(out))
	for _, want := range []string{`"report.pdf"`, "200.0 KB (204800 bytes)", "https://files.example.com/r/a/TOKEN/report.pdf",
		"24 December 2026 09:00 UTC"} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("replacement text lacks %q:\n%s", want, text)
		}
	}
	if s, err := Rewrite([]byte(attachtest.Signed(small)), map[int]Link{1: {}}); err != nil || !bytes.Equal(s, []byte(attachtest.Signed(small))) {
		t.Error("a signed message was rewritten")
	}
}

// TestWalkTopLevelAttachment: a message that is itself one attachment is
// one leaf; its replacement keeps the other header fields.
func TestWalkTopLevelAttachment(t *testing.T) {
	msg := []byte(attachtest.CRLF("From: a@example.com\nSubject: scan\nMIME-Version: 1.0\n"+
		"Content-Type: application/pdf\nContent-Disposition: attachment; filename=scan.pdf\nContent-Transfer-Encoding: base64\n\n") +
		attachtest.Base64(attachtest.Content(1000, 9)))
	tr := Walk(msg)
	if len(tr.Leaves) != 1 || !tr.Leaves[0].Attachment || !tr.Leaves[0].Top || tr.Leaves[0].FileName != "scan.pdf" {
		t.Fatalf("%+v", tr.Leaves)
	}
	out, err := Rewrite(msg, map[int]Link{0: {Name: "scan.pdf", URL: "http://x/a/t/scan.pdf"}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("From: a@example.com\r\nSubject: scan\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n")) {
		t.Errorf("rewritten:\n%s", out)
	}
}

// delimitersByLine is the reference FuzzDelimiters holds the search to,
// written another way: the body cut into lines, each matched against a
// regular expression of a delimiter line (RFC 2046 5.1.1: the boundary,
// "--" if it closes, then spaces, tabs and the line break).
func delimitersByLine(body []byte, boundary string) []delimiter {
	re := regexp.MustCompile(`\A--` + regexp.QuoteMeta(boundary) + `(--)?[ \t]*[\r\n]*\z`)
	var ds []delimiter
	start := 0
	for _, line := range bytes.SplitAfter(body, []byte("\n")) {
		if m := re.FindSubmatchIndex(line); m != nil {
			closing := m[2] >= 0
			ds = append(ds, delimiter{start: start, end: start + len(line), close: closing})
			if closing {
				break
			}
		}
		start += len(line)
	}
	return ds
}

// FuzzDelimiters: the delimiter search finds exactly the delimiter lines
// a line-by-line scan finds.
func FuzzDelimiters(f *testing.F) {
	f.Add([]byte("--b\r\nx\r\n--b \r\ny--b\r\n---b\r\n--bb\r\n--b--\r\nafter\r\n--b\r\n"), "b")
	f.Add([]byte("--a\nb--\n--a\nb--\r\n"), "a\nb")
	f.Add([]byte(attachtest.Thunderbird(attachtest.Content(3000, 1), attachtest.Content(100, 2))), "------------mQz3n0JmWkSdJ5yCvYq0fT4a")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		if boundary == "" || !utf8.ValidString(boundary) || strings.ContainsRune(boundary, utf8.RuneError) {
			return // the reference's regular expression matches runes; boundaries are ASCII
		}
		got, want := delimiters(body, boundary), delimitersByLine(body, boundary)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("delimiters(%q, %q) = %+v, want %+v", body, boundary, got, want)
		}
	})
}
