package relay

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/upstream"
)

// TestDKIMSignedAfterRewrite: the signature covers the From that the
// profile's rewrite produced, verifies against the published key, and
// mail of other domains is not signed.
func TestDKIMSignedAfterRewrite(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	txt, err := upstream.DKIMRecord(pub)
	if err != nil {
		t.Fatal(err)
	}
	sk := newSink(t)
	cfg := baseConfig(sk.addr)
	cfg.DKIM = []upstream.DKIMKey{{Domain: "example.net", Selector: "s1", Signer: priv}}
	cfg.Profiles["sink"].Rewrite = policy.Rewrite{FromAddress: "system@example.net", RewriteHeaderFrom: true}
	r := startRelay(t, cfg)
	send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	m := sk.wait()
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(m.Data), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != "s1._domainkey.example.net" {
				t.Errorf("looked up %q", domain)
			}
			return []string{txt}, nil
		}})
	if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "example.net" {
		t.Fatalf("verification: %+v %v\n%s", verifs, err, m.Data)
	}

	cfg2 := *cfg
	cfg2.Profiles = map[string]*Profile{"sink": sinkProfile("sink", "127.0.0.1", 0)}
	*cfg2.Profiles["sink"] = *cfg.Profiles["sink"]
	cfg2.Profiles["sink"].Rewrite = policy.Rewrite{}
	if err := r.srv.Reload(&cfg2); err != nil {
		t.Fatal(err)
	}
	send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody) // From app@example.com
	if m := sk.wait(); bytes.Contains(m.Data, []byte("DKIM-Signature")) {
		t.Errorf("mail from another domain was signed")
	}
}
