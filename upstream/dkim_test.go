package upstream

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// dkimMsg is a CRLF message from example.com, with a Subject to oversign.
const dkimMsg = "From: \"Jörg Müller\" <joerg@Example.COM>\r\n" +
	"To: bob@example.org\r\n" +
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n" +
	"Message-ID: <1@example.com>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hello  Bob,\r\n\r\n.leading dot and trailing space \r\n\r\n\r\n"

// dkimFixture is one generated key with its TXT record.
type dkimFixture struct {
	key DKIMKey
	txt string
	pem []byte
}

var (
	dkimOnce sync.Once
	dkimKeys map[string]dkimFixture // by kind; RSA-2048 takes a moment to generate
)

func testDKIMKey(t *testing.T, kind string) dkimFixture {
	t.Helper()
	dkimOnce.Do(func() {
		dkimKeys = map[string]dkimFixture{}
		for _, k := range []string{DKIMKeyRSA, DKIMKeyEd25519} {
			pemData, txt, err := GenerateDKIMKey(k, 2048)
			if err != nil {
				panic(err)
			}
			signer, err := ParseDKIMKey(pemData)
			if err != nil {
				panic(err)
			}
			dkimKeys[k] = dkimFixture{key: DKIMKey{Domain: "example.com", Selector: "sel-" + k, Signer: signer},
				txt: txt, pem: pemData}
		}
	})
	return dkimKeys[kind]
}

// verifyDKIM checks msg's signatures with go-msgauth, the record of f
// served by a LookupTXT func, and returns the first verification.
func verifyDKIM(t *testing.T, msg []byte, f dkimFixture) *dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if name == DKIMRecordName(f.key.Selector, f.key.Domain) {
				return []string{f.txt}, nil
			}
			return nil, errors.New("no such record " + name)
		}})
	if err != nil || len(vs) == 0 {
		t.Fatalf("VerifyWithOptions: %v, %d signatures", err, len(vs))
	}
	return vs[0]
}

func TestSignDKIM(t *testing.T) {
	for _, kind := range []string{DKIMKeyRSA, DKIMKeyEd25519} {
		t.Run(kind, func(t *testing.T) {
			f := testDKIMKey(t, kind)
			other := DKIMKey{Domain: "other.example", Selector: "x", Signer: f.key.Signer}
			signed, err := SignDKIM([]byte(dkimMsg), []DKIMKey{other, f.key})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(signed, []byte("DKIM-Signature: ")) || !bytes.HasSuffix(signed, []byte(dkimMsg)) {
				t.Fatalf("signature not prepended:\n%s", signed)
			}
			v := verifyDKIM(t, signed, f)
			if v.Err != nil || v.Domain != "example.com" {
				t.Fatalf("verification: domain %q err %v\n%s", v.Domain, v.Err, signed)
			}
			sig := string(signed[:len(signed)-len(dkimMsg)])
			for _, want := range []string{"c=relaxed/relaxed", "a=" + kind + "-sha256", "s=sel-" + kind} {
				if !strings.Contains(strings.Join(strings.Fields(sig), ""), want) {
					t.Errorf("signature lacks %s: %s", want, sig)
				}
			}
			h := strings.ToLower(strings.Join(v.HeaderKeys, ":"))
			for _, want := range []string{"from:from:", "subject:subject:", "reply-to", "list-unsubscribe"} {
				if !strings.Contains(h, want) {
					t.Errorf("h= %q lacks %q (oversigned)", h, want)
				}
			}
			// Oversigned: a second Subject (or a Reply-To) breaks it.
			for _, add := range []string{"Subject: changed\r\n", "Reply-To: evil@example.net\r\n"} {
				tampered := bytes.Replace(signed, []byte("To: bob"), []byte(add+"To: bob"), 1)
				if v := verifyDKIM(t, tampered, f); v.Err == nil {
					t.Errorf("adding %q did not break the signature", add)
				}
			}
		})
	}
}

func TestSignDKIMUnsigned(t *testing.T) {
	f := testDKIMKey(t, DKIMKeyEd25519)
	keys := []DKIMKey{f.key}
	for name, msg := range map[string]string{
		"other domain": strings.Replace(dkimMsg, "Example.COM", "example.net", 1),
		"subdomain":    strings.Replace(dkimMsg, "Example.COM", "mail.example.com", 1),
		"two froms":    "From: a@example.com\r\n" + dkimMsg,
		"two mailboxes": strings.Replace(dkimMsg, "<joerg@Example.COM>",
			"<joerg@example.com>, b@example.com", 1),
		"group":     strings.Replace(dkimMsg, "\"Jörg Müller\" <joerg@Example.COM>", "team: a@example.com, b@example.com;", 1),
		"no from":   strings.Replace(dkimMsg, "From:", "X-From:", 1),
		"no body":   "From: a@example.com\r\nSubject: x\r\n",
		"bad from":  strings.Replace(dkimMsg, "<joerg@Example.COM>", "<joerg@>", 1),
		"no header": "",
	} {
		out, err := SignDKIM([]byte(msg), keys)
		if err != nil || !bytes.Equal(out, []byte(msg)) {
			t.Errorf("%s: signed or failed (%v)", name, err)
		}
	}
}

func TestSignDKIMLongLine(t *testing.T) {
	f := testDKIMKey(t, DKIMKeyEd25519)
	msg := dkimMsg + strings.Repeat("x", 999) + "\r\n"
	if _, err := SignDKIM([]byte(msg), []DKIMKey{f.key}); !errors.Is(err, ErrDKIMLongLine) {
		t.Errorf("err = %v, want ErrDKIMLongLine", err)
	}
	msg = dkimMsg + strings.Repeat("x", 998) + "\r\n"
	if _, err := SignDKIM([]byte(msg), []DKIMKey{f.key}); err != nil {
		t.Errorf("998 octets: %v", err)
	}
	// An unmatched domain is passed through, long line or not.
	other := strings.Replace(msg, "Example.COM", "example.net", 1) + strings.Repeat("y", 2000) + "\r\n"
	if out, err := SignDKIM([]byte(other), []DKIMKey{f.key}); err != nil || string(out) != other {
		t.Errorf("unmatched: %v", err)
	}
}

func TestSignDKIMCustomHeaders(t *testing.T) {
	f := testDKIMKey(t, DKIMKeyRSA)
	key := f.key
	key.Headers = []string{"Subject", "To"}
	signed, err := SignDKIM([]byte(dkimMsg), []DKIMKey{key})
	if err != nil {
		t.Fatal(err)
	}
	v := verifyDKIM(t, signed, f)
	if got := strings.ToLower(strings.Join(v.HeaderKeys, ":")); got != "from:from:subject:subject:to:to" || v.Err != nil {
		t.Errorf("h= %q, err %v", got, v.Err)
	}
}

func TestDKIMKeys(t *testing.T) {
	if _, _, err := GenerateDKIMKey("dsa", 0); err == nil {
		t.Error("dsa accepted")
	}
	if _, _, err := GenerateDKIMKey(DKIMKeyRSA, 512); err == nil {
		t.Error("RSA-512 accepted")
	}
	f := testDKIMKey(t, DKIMKeyRSA)
	if !strings.HasPrefix(f.txt, "v=DKIM1; k=rsa; p=MII") || !strings.Contains(string(f.pem), "BEGIN PRIVATE KEY") {
		t.Errorf("RSA record %q", f.txt)
	}
	if e := testDKIMKey(t, DKIMKeyEd25519); !strings.HasPrefix(e.txt, "v=DKIM1; k=ed25519; p=") || len(e.txt) != 22+44 {
		t.Errorf("Ed25519 record %q", e.txt)
	}
	zone := DKIMZoneRecord("sel", "example.com.", f.txt)
	if !strings.HasPrefix(zone, "sel._domainkey.example.com. IN TXT ( \"v=DKIM1;") ||
		strings.ReplaceAll(zone[strings.Index(zone, "(")+3:len(zone)-3], "\" \"", "") != f.txt {
		t.Errorf("zone record %q", zone)
	}
	// PKCS#1 is read too; other key types and garbage are refused.
	der := x509.MarshalPKCS1PrivateKey(f.key.Signer.(*rsa.PrivateKey))
	if _, err := ParseDKIMKey(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})); err != nil {
		t.Errorf("PKCS#1: %v", err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	for name, data := range map[string][]byte{
		"ecdsa":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
		"garbage": []byte("not a key"),
		"cert":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
	} {
		if _, err := ParseDKIMKey(data); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
