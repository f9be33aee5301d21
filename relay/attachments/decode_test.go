package attachments

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand"
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

// TestAttachBase64MatchesStdlib: base64Reader decodes what
// encoding/base64's decoder behind the alphabet filter decodes, and fails
// where it fails, across chunk boundaries too.
func TestAttachBase64MatchesStdlib(t *testing.T) {
	raw := make([]byte, 40<<10)
	rng := rand.New(rand.NewSource(7))
	rng.Read(raw)
	var wrapped []byte
	enc := base64.StdEncoding.EncodeToString(raw)
	for i := 0; i < len(enc); i += 76 {
		wrapped = append(wrapped, enc[i:min(i+76, len(enc))]...)
		wrapped = append(wrapped, "\r\n"...)
	}
	junk := append(append(bytes.Clone(wrapped[:20000]), "!\t-"...), wrapped[20000:]...)
	blank := append(append(bytes.Clone(wrapped[:100]), bytes.Repeat([]byte("\r\n"), 20000)...), wrapped[100:]...)
	cases := [][]byte{wrapped, wrapped[:len(wrapped)-5], append(wrapped[:len(wrapped):len(wrapped)], "QQ=="...), junk, blank,
		append(bytes.Clone(wrapped[:len(wrapped)-30000]), "QQ==\r\n"...),
		append(append(bytes.Clone(wrapped[:30000]), "QQ==\r\n"...), wrapped[30000:]...),
		[]byte(""), []byte("QQ"), []byte("QQ==QQ=="), []byte("QUJD=\r\n"), []byte("QQ=Q")}
	for range 300 {
		b := make([]byte, rng.Intn(40))
		for i := range b {
			b[i] = "QUJD=\r\n!"[rng.Intn(8)]
		}
		cases = append(cases, b)
	}
	for _, c := range cases {
		want, werr := io.ReadAll(base64.NewDecoder(base64.StdEncoding, &alphabetOnly{r: bytes.NewReader(c)}))
		got, gerr := io.ReadAll(&base64Reader{r: bytes.NewReader(c)})
		if (werr == nil) != (gerr == nil) || (werr == nil && !bytes.Equal(got, want)) {
			t.Errorf("%.40q: decoded %d octets, err %v; encoding/base64: %d, err %v", c, len(got), gerr, len(want), werr)
		}
		var buf bytes.Buffer
		n, cerr := io.Copy(&buf, &base64Reader{r: bytes.NewReader(c)}) // WriteTo
		if (werr == nil) != (cerr == nil) || n != int64(buf.Len()) || (werr == nil && !bytes.Equal(buf.Bytes(), want)) {
			t.Errorf("%.40q: WriteTo wrote %d octets, err %v; encoding/base64: %d, err %v", c, n, cerr, len(want), werr)
		}
	}
}

// alphabetOnly (the filter Content used before base64Reader, the
// reference of TestAttachBase64MatchesStdlib) passes on only the base64
// alphabet and '=': line breaks
// and junk a generator left between the lines are dropped.
type alphabetOnly struct {
	r   io.Reader
	buf [4096]byte
}

func (a *alphabetOnly) Read(p []byte) (int, error) {
	for {
		n, err := a.r.Read(a.buf[:min(len(p), len(a.buf))])
		k := 0
		for _, c := range a.buf[:n] {
			p[k] = c
			if base64Class[c] != classJunk {
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
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

// FuzzBase64Reader: base64Reader agrees with encoding/base64's decoder
// behind the alphabet filter on any input (octets and failure).
func FuzzBase64Reader(f *testing.F) {
	for _, s := range []string{"QUJD\r\nRA==\r\n", "QQ==QQ==", "QU!JD", "Q", "\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := io.ReadAll(base64.NewDecoder(base64.StdEncoding, &alphabetOnly{r: bytes.NewReader(in)}))
		got, gerr := io.ReadAll(&base64Reader{r: bytes.NewReader(in)})
		if (werr == nil) != (gerr == nil) || (werr == nil && !bytes.Equal(got, want)) {
			t.Fatalf("%q: decoded %q, err %v; encoding/base64: %q, err %v", in, got, gerr, want, werr)
		}
	})
}
