package attachments

import (
	"bytes"
	"testing"
	"time"
)

// FuzzWalk: the walk never panics and its leaves cover the message in
// order without overlap; replacing every attachment by a link never loses
// or changes a part that is not an attachment (or Rewrite says it cannot).
// The seed corpus is in testdata/fuzz/FuzzWalk plus the messages below.
func FuzzWalk(f *testing.F) {
	f.Add([]byte(thunderbird(content(3000, 1), content(100, 2))))
	f.Add([]byte(outlook(content(500, 3), content(700, 4))))
	f.Add([]byte(signed(content(300, 5))))
	f.Add([]byte(crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Disposition: attachment; filename*=UTF-8''%C3%A9.txt\n\nx\n--b--\n")))
	f.Fuzz(func(t *testing.T, msg []byte) {
		tr := Walk(msg)
		pos := 0
		for i, p := range tr.Leaves {
			if p.Index != i || p.Start < pos || p.BodyStart < p.Start || p.End < p.BodyStart || p.End > len(msg) {
				t.Fatalf("leaf %d out of order or bounds: %+v (len %d)", i, p, len(msg))
			}
			pos = p.End
			p.Size(msg)
		}
		links := map[int]Link{}
		for _, a := range tr.Attachments() {
			links[a.Index] = Link{Name: a.FileName, Size: 1, URL: "https://f.example/a/t/" + a.FileName,
				Expires: time.Unix(0, 0)}
		}
		out, err := Rewrite(msg, links)
		if err != nil {
			return
		}
		if len(links) == 0 || tr.Sealed {
			if !bytes.Equal(out, msg) {
				t.Fatal("a message without links to make changed")
			}
			return
		}
		after := Walk(out)
		for i, p := range tr.Leaves {
			q := after.Leaves[i]
			if _, linked := links[i]; !linked && !bytes.Equal(msg[p.Start:p.End], out[q.Start:q.End]) {
				t.Fatalf("part %d lost or changed", i)
			}
			if _, linked := links[i]; linked && q.Attachment {
				t.Fatalf("part %d still an attachment after its rewrite", i)
			}
		}
	})
}
