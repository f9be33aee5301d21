package upstream

import (
	"crypto/x509"
	"time"
)

// TLSMode is how a connection to an upstream is secured (SPEC §8.1).
type TLSMode string

// TLS modes of SPEC §8.1.
const (
	TLSNone             TLSMode = "none"              // plain text
	TLSStartTLS         TLSMode = "starttls"          // STARTTLS when offered, else plain
	TLSStartTLSRequired TLSMode = "starttls-required" // STARTTLS or a temporary failure
	TLSImplicit         TLSMode = "implicit"          // TLS from the first byte (465)
)

// Profile is the connection side of one [[profile]]: where and how to deliver.
// It is immutable once handed to a Pool; a reload builds new Profiles.
type Profile struct {
	Name           string
	Type           string         // "smtp" (smarthost) | "direct" (MX delivery)
	Host           string         // smarthost: "host", "host:port", "host,port", "[v6]:port" or a bare IPv6 literal (type smtp)
	Port           int            // TCP port, overrides one in Host; 0 = Host's, else 25, or 465 for TLSImplicit (direct: 0 = 25)
	TLS            TLSMode        // "" = TLSStartTLSRequired (direct: TLSStartTLS, opportunistic)
	TLSVerify      bool           // verify the upstream certificate chain and name (direct: against the MX host name)
	RootCAs        *x509.CertPool // nil = system roots (ca_file appended by the caller)
	Username       string         // AUTH identity; "" = no AUTH
	Password       string         // secret: never logged, never in an error text
	AuthMechanisms []string       // allowed mechanisms in order of preference; empty = best of CRAM-MD5, PLAIN, LOGIN offered (with OAuth2: XOAUTH2, then OAUTHBEARER)
	OAuth2         *OAuth2        // non-nil: AUTH with an OAuth2 access token (XOAUTH2 / OAUTHBEARER) instead of Password
	Helo           string         // EHLO name; "" = "localhost" (cmd/relayd sets server.hostname)
	Timeout        time.Duration  // connect, TLS handshake and each command's reply; 0 = 30 s
	DataTimeout    time.Duration  // writing the body and the reply to the final "."; 0 = 10 min
	MaxPerConn     int            // messages per connection, then QUIT and reconnect; 0 = 100
	MaxConns       int            // busy connections to this upstream at once; 0 = 2
	Resolver       string         // type direct: DNS server "host:port" (port 53 when omitted), UDP then TCP; "" = system
	AllowLoopback  bool           // type direct: permit MX hosts that resolve to loopback or unspecified addresses
	AllowPrivate   bool           // type direct: permit MX hosts that resolve to private, link-local, shared or other non-global addresses (nonGlobal); loopback stays AllowLoopback's
	Transcript     string         // debug_transcript: file that every session of this profile (deliveries and probes) appends its SMTP dialogue to, AUTH redacted (transcript.go); "" = none
}

// Envelope is one SMTP transaction to send: one message to the recipients of
// one profile.
type Envelope struct {
	ID       string   // queue ID, for logs
	From     string   // envelope sender, "" = null sender
	To       []string // recipients, validated addresses without brackets
	Body     []byte   // the message, CRLF line endings, not dot-stuffed
	UTF8     bool     // needs SMTPUTF8
	EightBit bool     // body has 8-bit octets (8BITMIME)
	// SevenBit returns the message made 7-bit (its 8-bit MIME parts
	// re-encoded, then signed again), for an upstream that does not offer
	// 8BITMIME (SPEC §8.1). An error means it cannot be (8-bit header
	// fields): the recipients bounce with 5.6.3. It is called only when
	// needed, possibly from several goroutines (type direct delivers
	// domains in parallel), so it must be safe for that and should
	// remember its result. nil: the message cannot be made 7-bit.
	SevenBit func() ([]byte, error)
}

// Result is the outcome of one Send. Callers look at Rcpt[i] first, then
// at Err: a recipient failed when Rcpt[i] != nil, else when Err != nil.
type Result struct {
	// Rcpt holds, per Envelope.To index, nil when the recipient was
	// accepted at RCPT and *Error when it was refused.
	//
	// type direct: nil when the message was delivered to the recipient;
	// a failure of its domain's whole transaction (DNS, connect, TLS,
	// MAIL, DATA, the final reply) is put into Rcpt[i] of every recipient
	// of that domain.
	Rcpt []*Error
	// Err is a transaction-level failure (connect, TLS, AUTH, MAIL, DATA or
	// the final reply). It applies to every recipient accepted at RCPT.
	// nil means the message was accepted for every recipient with a nil Rcpt.
	//
	// type direct: Err is the first domain's failure when every domain
	// failed as a whole and all those failures are alike (all temporary or
	// all permanent), so that relay can try a fallback profile; nil
	// otherwise. Rcpt is filled in either case.
	Err *Error
	// Host is the host:port that answered. type direct: the MX host
	// ("mx.example.org:25") of the first domain, in Envelope.To order, whose
	// MX was reached; each Error names its own.
	Host string
}
