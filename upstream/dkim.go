package upstream

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"slices"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMKey is one [[dkim]] key (docs/relayd.toml.5.md): it signs the messages whose
// header From domain is Domain. It is immutable once in use; a DKIMKey
// may be shared between goroutines (crypto.Signer implementations of the
// standard library are safe for concurrent use).
type DKIMKey struct {
	Domain   string        // the d= domain (RFC 6376 §3.5), compared case-insensitively
	Selector string        // the s= selector: the key is published at Selector._domainkey.Domain
	Signer   crypto.Signer // *rsa.PrivateKey (at least 1024 bits, RSA-SHA256) or ed25519.PrivateKey (RFC 8463)
	// Headers are the header fields to sign; nil = DefaultDKIMHeaders().
	// Each is oversigned (see SignDKIM); From is always included.
	Headers []string
}

// DefaultDKIMHeaders returns the header fields signed by default: those
// that RFC 6376 §5.4.1 recommends and that change what a reader sees or how
// a client replies or unsubscribes. The caller may modify the slice.
func DefaultDKIMHeaders() []string { return slices.Clone(defaultDKIMHeaders) }

var defaultDKIMHeaders = []string{
	"From", "Sender", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID",
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Post", "List-Help", "List-Owner",
	"List-Subscribe", "List-Archive",
}

// maxLineOctets is RFC 5322 §2.1.1's limit, without the CRLF.
const maxLineOctets = 998

// ErrDKIMLongLine is returned by SignDKIM for a message with a line over
// 998 octets: a downstream MTA would fold it and break the signature.
var ErrDKIMLongLine = errors.New("upstream: dkim: line longer than 998 octets")

// SignDKIM signs msg (CRLF line endings, as relayd sends it) with the key
// whose Domain equals the domain of the header From (RFC 6376)
// and returns it with the DKIM-Signature field prepended. The signature
// uses relaxed/relaxed canonicalization, SHA-256 (rsa-sha256 or
// ed25519-sha256) and oversigns every listed field: each name is listed
// once more than it occurs (RFC 6376 §8.15), so that no From, Subject, ...
// can be added without breaking it.
//
// A message whose header has not exactly one From field with exactly one
// mailbox, or no empty line ending it, or whose From domain no key
// matches, is returned unchanged.
//
// relay re-encodes lines over 998 octets before delivery; if one
// is still there, SignDKIM returns an error wrapping ErrDKIMLongLine rather
// than a signature that a downstream MTA would break by folding the line.
// The signature time (t=) is go-msgauth's clock, time.Now. SignDKIM is
// safe for concurrent use; msg is not modified.
func SignDKIM(msg []byte, keys []DKIMKey) ([]byte, error) {
	fields, ok := headerFields(msg)
	if !ok {
		return msg, nil
	}
	domain, ok := fromDomain(fields)
	if !ok {
		return msg, nil
	}
	key := matchKey(keys, domain)
	if key == nil {
		return msg, nil
	}
	if err := checkLineLengths(msg); err != nil {
		return nil, err
	}
	if k, ok := key.Signer.(*rsa.PrivateKey); ok && k.N.BitLen() < 1024 {
		return nil, fmt.Errorf("upstream: dkim: the RSA key for %s has %d bits, fewer than 1024", key.Domain, k.N.BitLen())
	}
	names := key.Headers
	if names == nil {
		names = defaultDKIMHeaders
	}
	d, _ := asciiDomain(strings.TrimSuffix(key.Domain, "."))
	s, err := dkim.NewSigner(&dkim.SignOptions{Domain: d, Selector: key.Selector, Signer: key.Signer,
		Hash: crypto.SHA256, HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization: dkim.CanonicalizationRelaxed, HeaderKeys: oversign(names, fields)})
	if err != nil {
		return nil, fmt.Errorf("upstream: dkim: %s: %w", key.Domain, err)
	}
	if _, err = s.Write(msg); err == nil {
		err = s.Close()
	} else {
		s.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("upstream: dkim: signing for %s: %w", key.Domain, err)
	}
	sig := s.Signature()
	out := make([]byte, 0, len(sig)+len(msg))
	return append(append(out, sig...), msg...), nil
}

// headerField is one field of the header section, unfolded.
type headerField struct{ name, value string }

// headerFields parses the header section (RFC 5322 §2.2). ok is false when
// there is no empty line ending it.
func headerFields(msg []byte) ([]headerField, bool) {
	var fields []headerField
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			msg = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case len(line) == 0:
			return fields, true
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			fields[len(fields)-1].value += string(line)
		default:
			if name, value, ok := bytes.Cut(line, []byte(":")); ok {
				fields = append(fields, headerField{strings.TrimSpace(string(name)), string(value)})
			}
		}
	}
	return nil, false
}

// fromDomain is the domain of the single mailbox of the single From
// field, in lower case A-labels.
func fromDomain(fields []headerField) (string, bool) {
	var from []string
	for _, f := range fields {
		if strings.EqualFold(f.name, "From") {
			from = append(from, f.value)
		}
	}
	if len(from) != 1 {
		return "", false
	}
	// Encoded words in an unknown charset stay as they are: only the
	// address matters here.
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil }}}
	list, err := p.ParseList(from[0])
	if err != nil || len(list) != 1 {
		return "", false
	}
	at := strings.LastIndexByte(list[0].Address, '@')
	if at < 0 {
		return "", false
	}
	d, ok := asciiDomain(strings.TrimSuffix(list[0].Address[at+1:], "."))
	return d, ok && d != ""
}

func matchKey(keys []DKIMKey, domain string) *DKIMKey {
	for i := range keys {
		if d, _ := asciiDomain(strings.TrimSuffix(keys[i].Domain, ".")); d == domain {
			return &keys[i]
		}
	}
	return nil
}

// oversign lists each name once more than the header has it (RFC 6376
// §5.4.2, §8.15), From first and always.
func oversign(names []string, fields []headerField) []string {
	seen := map[string]bool{}
	var out []string
	for _, name := range append([]string{"From"}, names...) {
		key := strings.ToLower(name)
		if seen[key] || name == "" {
			continue
		}
		seen[key] = true
		n := 1
		for _, f := range fields {
			if strings.EqualFold(f.name, name) {
				n++
			}
		}
		for range n {
			out = append(out, name)
		}
	}
	return out
}

// checkLineLengths fails on the first line over 998 octets.
func checkLineLengths(msg []byte) error {
	for n := 1; len(msg) > 0; n++ {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			msg = nil
		}
		if l := len(bytes.TrimSuffix(line, []byte("\r"))); l > maxLineOctets {
			return fmt.Errorf("%w: line %d has %d octets; relay should have re-encoded it", ErrDKIMLongLine, n, l)
		}
	}
	return nil
}
