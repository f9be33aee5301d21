package attachments

import (
	"bytes"
	"github.com/relayd/relayd/relay/attachments/attachtest"
	"math/rand"
	"testing"
	"time"
)

// FuzzWalk: the walk never panics and its leaves cover the message in
// order without overlap; replacing every attachment by a link never loses
// or changes a part that is not an attachment (or Rewrite says it cannot).
// The seed corpus is in testdata/fuzz/FuzzWalk plus the messages below.
func FuzzWalk(f *testing.F) {
	f.Add([]byte(attachtest.Thunderbird(attachtest.Content(3000, 1), attachtest.Content(100, 2))))
	f.Add([]byte(attachtest.Outlook(attachtest.Content(500, 3), attachtest.Content(700, 4))))
	f.Add([]byte(attachtest.Signed(attachtest.Content(300, 5))))
	f.Add([]byte(attachtest.CRLF("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Disposition: attachment; filename*=UTF-8''%C3%A9.txt\n\nx\n--b--\n")))
	f.Fuzz(checkWalk)
}

// checkWalk is FuzzWalk's property.
func checkWalk(t *testing.T, msg []byte) {
	{
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
	}
}

// TestWalkMutations runs FuzzWalk's property over a bounded, seeded set of
// mutations of the client messages (cut, duplicated, flipped octets, stray
// delimiters), so the property is exercised on every test run and not only
// under -fuzz.
func TestWalkMutations(t *testing.T) {
	seeds := [][]byte{[]byte(attachtest.Thunderbird(attachtest.Content(3000, 1), attachtest.Content(100, 2))), []byte(attachtest.Outlook(attachtest.Content(500, 3), attachtest.Content(700, 4))),
		[]byte(attachtest.Signed(attachtest.Content(300, 5)))}
	junk := [][]byte{[]byte("\r\n--------------mQz3n0JmWkSdJ5yCvYq0fT4a\r\n"), []byte("\r\n--_004_DB9PR01MB1234_--"),
		[]byte("\r\n\r\n"), []byte("Content-Disposition: attachment; filename=x\r\n"), []byte("="), []byte("\n")}
	rnd := rand.New(rand.NewSource(1))
	for i := 0; i < 1500; i++ {
		msg := append([]byte(nil), seeds[i%len(seeds)]...)
		for k := rnd.Intn(4) + 1; k > 0; k-- {
			at := rnd.Intn(len(msg) + 1)
			switch rnd.Intn(4) {
			case 0: // cut
				msg = append(msg[:at], msg[min(len(msg), at+rnd.Intn(200)):]...)
			case 1: // insert junk
				j := junk[rnd.Intn(len(junk))]
				msg = append(msg[:at], append(append([]byte(nil), j...), msg[at:]...)...)
			case 2: // flip an octet
				if at < len(msg) {
					msg[at] = byte(rnd.Intn(256))
				}
			case 3: // truncate
				msg = msg[:at]
			}
		}
		checkWalk(t, msg)
	}
}
