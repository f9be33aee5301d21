package relay

import (
	"crypto/tls"
	"net/netip"
	"time"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/upstream"
)

// Config is one validated configuration snapshot. cmd/relayd builds it from
// TOML; Server.Reload swaps it atomically. It must not be modified after it
// is handed to the Server.
type Config struct {
	Hostname         string // greeting, Received, Message-ID and DSN domain
	Listeners        []Listener
	Profiles         map[string]*Profile // by name
	Policy           policy.Config
	Users            map[string]User // [[team.user]] by username
	RetrySchedule    []time.Duration // last one repeats
	MaxQueueAge      time.Duration   // then bounce
	JournalRetention time.Duration   // sent/bounced/cancelled records kept this long
	WarnAfter        time.Duration   // "still trying" DSN after this; 0 = never
	BareLF           BareLF
	Notify           Notify
	DKIM             []upstream.DKIMKey // [[dkim]]: signed at delivery time, after rewrites
	// MaxBufferedBytes caps the octets of message data all sessions hold
	// in memory while receiving; a message that does not fit is answered
	// 452 4.3.1. 0: 16 times the largest max_message_size (at least
	// 64 MiB); negative: no cap.
	MaxBufferedBytes int64
}

// BareLF is the [relay] bare_lf policy.
type BareLF string

// bare_lf values.
const (
	BareLFNormalize BareLF = "normalize"
	BareLFReject    BareLF = "reject"
)

// User is one [[team.user]].
type User struct {
	Team         string
	PasswordHash string // bcrypt
}

// Notify is [notify]. Empty fields are unset.
type Notify struct {
	From    string // sender of DSNs and alerts; default MAILER-DAEMON@Hostname
	Admin   string
	Bounces string
	// Profile is the profile alert mail goes through; "" = the system
	// default, or another enabled profile when that is the failing one
	// (alerts.go).
	Profile string
}

// Listener is one [[listener]].
type Listener struct {
	Name                string
	Network             string // "tcp" or "unix"
	Address             string // host:port or socket path
	TLS                 string // "none" | "starttls" | "implicit"
	TLSConfig           *tls.Config
	Auth                string // "none" | "optional" | "required"
	AllowNetworks       []netip.Prefix
	Team                string
	MaxMessageSize      int64
	MaxRecipients       int
	MaxConnections      int
	MaxConnectionsPerIP int
	MaxLineLength       int64 // DATA lines; command lines are limited to 2000 octets
	IdleTimeout         time.Duration
	SessionTimeout      time.Duration
	MaxErrors           int
	MaxAuthFailures     int
	AllowProfileHeader  bool

	// Sendmail marks the [sendmail] socket: each session learns
	// its local user from the kernel (SO_PEERCRED), takes the team
	// UnixUsers maps that user's name to (else Team), and its Received:
	// field names the user.
	Sendmail  bool
	UnixUsers map[string]string // login name → team, from [[team]] unix_users
}

// Profile is one [[profile]] after `extends` is resolved.
type Profile struct {
	Upstream    upstream.Target // connection settings; Upstream.Name is the profile name
	Description string
	Enabled     bool
	Immediate   bool          // mode = "immediate"
	SendDelay   time.Duration // hold each message this long before the first attempt
	Rate        Rates         // windows that must all allow a delivery; empty = unlimited
	Fallback    []string
	Rewrite     policy.Rewrite
	Transcript  string // debug_transcript file, "" = off

	// QuotaReplies are reply patterns added to policy's built-in quota
	// replies (quota_replies in docs/relayd.toml.5.md); QuotaPause is how long a quota reply pauses the
	// profile (0 = one hour).
	QuotaReplies []string
	QuotaPause   time.Duration

	// MaxAttachmentSize is the largest attachment (decoded octets) this
	// profile sends; 0 = no limit. AttachmentsAsURL is never | oversize |
	// always ("" = never).
	MaxAttachmentSize int64
	AttachmentsAsURL  string
}

// Rates are a profile's `rate` windows: every one must allow.
type Rates []Rate

// Rate is one window of a profile's `rate`: at most N messages in any span
// of Per (sliding, not aligned to the calendar).
type Rate struct {
	N   int
	Per time.Duration
}
