package attachments

import (
	"bytes"
	"encoding/base64"
	"io"
	"testing"
)

// TestAttachSizeMatchesDecode: the size counted from the encoded length
// is what decoding gives, for well-formed and broken base64 alike.
func TestAttachSizeMatchesDecode(t *testing.T) {
	raw := make([]byte, 300)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	var cases []string
	for n := 0; n <= 10; n++ {
		enc := base64.StdEncoding.EncodeToString(raw[:n])
		cases = append(cases, enc, enc+"\r\n", " "+enc[:len(enc)/2]+"\r\n\t"+enc[len(enc)/2:]+"!\r\n")
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	var wrapped []byte
	for i := 0; i < len(enc); i += 76 {
		wrapped = append(wrapped, enc[i:min(i+76, len(enc))]...)
		wrapped = append(wrapped, "\r\n"...)
	}
	cases = append(cases, string(wrapped), "QQ=", "QQ===", "Q", "QQ==QQ==", "QQ=Q", "QUJD=", "=", "====", "QUJDRA")
	for _, c := range cases {
		msg := []byte(c)
		p := Part{BodyStart: 0, End: len(msg), Encoding: "base64"}
		n, err := io.Copy(io.Discard, p.Content(msg))
		want := n
		if err != nil {
			want = max(n, int64(len(msg)))
		}
		if got := p.Size(msg); got != want {
			t.Errorf("Size(%q) = %d, decoding gives %d (err %v)", c, got, want, err)
		}
	}
}

// TestAttachAlphabetOnly: the filter keeps the alphabet and '=' only.
func TestAttachAlphabetOnly(t *testing.T) {
	in := []byte("QU\r\nJD\x00-RA==\n")
	out, err := io.ReadAll(&alphabetOnly{r: bytes.NewReader(in)})
	if err != nil || string(out) != "QUJDRA==" {
		t.Fatalf("filtered %q, %v", out, err)
	}
}

func BenchmarkAttachSize(b *testing.B) {
	raw := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16)
	enc := base64.StdEncoding.EncodeToString(raw)
	var msg []byte
	for i := 0; i < len(enc); i += 76 {
		msg = append(msg, enc[i:min(i+76, len(enc))]...)
		msg = append(msg, "\r\n"...)
	}
	p := Part{End: len(msg), Encoding: "base64"}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if p.Size(msg) != int64(len(raw)) {
			b.Fatal("wrong size")
		}
	}
}
