package upstream

// TLSMode is how a connection to an upstream is secured (tls in docs/relayd.toml.5.md).
type TLSMode string

// TLS modes, the values of a profile's tls key.
const (
	TLSNone             TLSMode = "none"              // plain text
	TLSStartTLS         TLSMode = "starttls"          // STARTTLS when offered, else plain
	TLSStartTLSRequired TLSMode = "starttls-required" // STARTTLS or a temporary failure
	TLSImplicit         TLSMode = "implicit"          // TLS from the first byte (465)
)

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
	// 8BITMIME. An error means it cannot be (8-bit header
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
