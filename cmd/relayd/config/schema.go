package config

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
)

// The TOML schema of relayd.toml (docs/relayd.toml.5.md). Every exported field with a toml
// tag is a key; config.example.toml documents each of them (a test checks).
// Values are decoded key by key (decode.go), so each table records
// which keys the file set: defaults and `extends` fill only the others.

// File is one decoded, defaulted and validated configuration file. Build it
// with Load; it is read-only afterwards and safe to share between goroutines.
type File struct {
	Server     Server         `toml:"server"`
	Admin      Admin          `toml:"admin"`
	RelayTable RelayTable     `toml:"relay"` // [relay]; named so because Relay() is the translation
	Listeners  []Listener     `toml:"listener"`
	Teams      []Team         `toml:"team"`
	Profiles   []ProfileTable `toml:"profile"`
	Routes     []Route        `toml:"route"`
	DKIM       []DKIM         `toml:"dkim"`
	Notify     Notify         `toml:"notify"`
	Sendmail   Sendmail       `toml:"sendmail"` // sendmail.go
	Cluster    Cluster        `toml:"cluster"`
	// Attachments is [attachments] (attachments.go).
	Attachments Attachments `toml:"attachments"`

	// Path is the file it was loaded from; "" for the embedded default.
	Path string `toml:"-"`

	tableMeta
	name  string         // Path, or "embedded default", for messages
	mode  LoadMode       // what Load read
	lines map[string]int // indexed key path → line (lines.go)
}

// tableMeta is what the decoder records about one TOML table.
type tableMeta struct {
	path      string            // indexed path: "server", "listener[1]", "profile[0].oauth2"
	set       map[string]bool   // keys given in the file (or inherited through extends)
	inherited map[string]string // key → profile it was inherited from (profiles only)
}

func (m *tableMeta) meta() *tableMeta { return m }

// isSet reports whether key was given in the file (or inherited).
func (m *tableMeta) isSet(key string) bool { return m.set[key] }

// metaHolder is implemented by every table struct through its embedded
// tableMeta.
type metaHolder interface{ meta() *tableMeta }

// Server is [server].
type Server struct {
	Hostname     string    `toml:"hostname"`
	StateDir     string    `toml:"state_dir"`
	LogFormat    LogFormat `toml:"log_format"`
	LogLevel     LogLevel  `toml:"log_level"`
	SpoolKeyFile string    `toml:"spool_key_file"`
	MinFreeSpace Size      `toml:"min_free_space"`

	tableMeta
	spoolKey []byte
}

// SpoolKey returns the AES key read from spool_key_file (16, 24 or 32
// bytes), nil when the spool is not encrypted.
func (s *Server) SpoolKey() []byte { return s.spoolKey }

// Admin is [admin].
type Admin struct {
	Listen    string `toml:"listen"` // "" = no admin server
	TokenFile string `toml:"token_file"`
	// AllowedHosts are the extra names the admin server answers to in
	// Host: "name" (any port) or "name:port" (docs/admin-api.md).
	AllowedHosts []string `toml:"allowed_hosts"`
	// Console serves the web console at "/" (docs/console.md); default true.
	Console bool `toml:"console"`
	// SessionTimeout is how long a console login lasts; default 12h.
	SessionTimeout Duration `toml:"session_timeout"`
	// CertFile and KeyFile put the admin listener on HTTPS (and mark the
	// console's cookie Secure).
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`

	tableMeta
	token     string
	tlsConfig *tls.Config
}

// TLSConfig returns the admin listener's TLS configuration from cert_file
// and key_file, nil for plain HTTP.
func (a *Admin) TLSConfig() *tls.Config { return a.tlsConfig }

// Token returns the bearer token read from token_file, "" when none.
func (a *Admin) Token() string { return a.token }

// RelayTable is [relay].
type RelayTable struct {
	DefaultProfile   string     `toml:"default_profile"`
	MaxQueueAge      Duration   `toml:"max_queue_age"`
	RetrySchedule    []Duration `toml:"retry_schedule"`
	JournalRetention Duration   `toml:"journal_retention"`
	WarnAfter        Duration   `toml:"warn_after"`
	BareLF           BareLF     `toml:"bare_lf"`

	tableMeta
}

// Listener is one [[listener]].
type Listener struct {
	Name                string      `toml:"name"`
	Address             string      `toml:"address"`
	TLS                 ListenerTLS `toml:"tls"`
	CertFile            string      `toml:"cert_file"`
	KeyFile             string      `toml:"key_file"`
	Auth                AuthMode    `toml:"auth"`
	AllowNetworks       []CIDR      `toml:"allow_networks"`
	Team                string      `toml:"team"`
	MaxMessageSize      Size        `toml:"max_message_size"`
	MaxRecipients       int         `toml:"max_recipients"`
	MaxConnections      int         `toml:"max_connections"`
	MaxConnectionsPerIP int         `toml:"max_connections_per_ip"`
	MaxLineLength       Size        `toml:"max_line_length"`
	IdleTimeout         Duration    `toml:"idle_timeout"`
	SessionTimeout      Duration    `toml:"session_timeout"`
	MaxErrors           int         `toml:"max_errors"`
	MaxAuthFailures     int         `toml:"max_auth_failures"`
	AllowProfileHeader  bool        `toml:"allow_profile_header"`

	tableMeta
	tlsConfig *tls.Config
}

// Team is one [[team]].
type Team struct {
	Name           string   `toml:"name"`
	DefaultProfile string   `toml:"default_profile"`
	Networks       []CIDR   `toml:"networks"`
	Profiles       []string `toml:"profiles"`
	Users          []User   `toml:"user"`
	UnixUsers      []string `toml:"unix_users"` // local users whose `relayd sendmail` mail is this team's

	tableMeta
}

// User is one [[team.user]].
type User struct {
	Username     string `toml:"username"`
	PasswordHash string `toml:"password_hash"`

	tableMeta
}

// ProfileTable is one [[profile]] table as written, then completed: after
// Load, `extends` is resolved (every key the profile does not set itself
// holds its parent's value) and the defaults are set. File.Relay turns it
// into a relay.Profile, whose connection side is an upstream.Target.
type ProfileTable struct {
	Name              string          `toml:"name"`
	Description       string          `toml:"description"`
	Enabled           bool            `toml:"enabled"`
	Type              ProfileType     `toml:"type"`
	Host              string          `toml:"host"`
	Port              int             `toml:"port"`
	TLS               ProfileTLS      `toml:"tls"`
	TLSVerify         bool            `toml:"tls_verify"`
	CAFile            string          `toml:"ca_file"`
	Username          string          `toml:"username"`
	Password          string          `toml:"password"`
	PasswordFile      string          `toml:"password_file"`
	PasswordEnv       string          `toml:"password_env"`
	AuthMechanisms    []AuthMechanism `toml:"auth_mechanisms"`
	Helo              string          `toml:"helo"`
	Timeout           Duration        `toml:"timeout"`
	DataTimeout       Duration        `toml:"data_timeout"`
	Mode              Mode            `toml:"mode"`
	SendDelay         Duration        `toml:"send_delay"`
	MaxPerConnection  int             `toml:"max_per_connection"`
	MaxConnections    int             `toml:"max_connections"`
	Rate              Rates           `toml:"rate"`
	QuotaReplies      []string        `toml:"quota_replies"` // reply patterns added to the built-in quota replies
	QuotaPause        Duration        `toml:"quota_pause"`   // how long a quota reply pauses the profile
	FromAddress       string          `toml:"from_address"`
	RewriteHeaderFrom bool            `toml:"rewrite_header_from"`
	DefaultSenderName string          `toml:"default_sender_name"`
	DefaultReplyTo    string          `toml:"default_reply_to"`
	DebugTranscript   string          `toml:"debug_transcript"`
	Extends           string          `toml:"extends"`
	Fallback          []string        `toml:"fallback"`
	Resolver          string          `toml:"resolver"`
	AllowLoopback     bool            `toml:"allow_loopback"`
	AllowPrivate      bool            `toml:"allow_private"`
	OAuth2            *OAuth2         `toml:"oauth2"`
	// Attachment limit and links.
	MaxAttachmentSize Size            `toml:"max_attachment_size"`
	AttachmentsAsURL  AttachmentsMode `toml:"attachments_as_url"`

	tableMeta
	chain    []string // extends chain, root first, this profile last
	password string   // resolved secret
	rootCAs  *x509.CertPool
}

// Chain returns the extends chain from the root ancestor down to p.
func (p *ProfileTable) Chain() []string { return p.chain }

// RootCAs is the pool ca_file gave (the system roots plus its
// certificates); nil without ca_file: the system roots.
func (p *ProfileTable) RootCAs() *x509.CertPool { return p.rootCAs }

// OAuth2 is [profile.oauth2]: how to get an access token for XOAUTH2 or
// OAUTHBEARER.
type OAuth2 struct {
	TokenURL         string   `toml:"token_url"`
	ClientID         string   `toml:"client_id"`
	ClientSecret     string   `toml:"client_secret"`
	ClientSecretFile string   `toml:"client_secret_file"`
	ClientSecretEnv  string   `toml:"client_secret_env"`
	Grant            Grant    `toml:"grant"`
	RefreshTokenFile string   `toml:"refresh_token_file"`
	Scopes           []string `toml:"scopes"`
	// Provider fills the endpoints, scopes and the profile's host, port
	// and TLS mode; Tenant is Microsoft's directory.
	Provider      Provider `toml:"provider"`
	Tenant        string   `toml:"tenant"`
	AuthURL       string   `toml:"auth_url"`
	DeviceAuthURL string   `toml:"device_auth_url"`

	tableMeta
	clientSecret string
}

// Secret returns the resolved client secret ("" for a public client).
func (o *OAuth2) Secret() string { return o.clientSecret }

// Route is one [[route]].
type Route struct {
	Sender    Glob   `toml:"sender"`
	Team      string `toml:"team"`
	Recipient Glob   `toml:"recipient"`
	Profile   string `toml:"profile"`

	tableMeta
}

// DKIM is one [[dkim]].
type DKIM struct {
	Domain   string   `toml:"domain"`
	Selector string   `toml:"selector"`
	KeyFile  string   `toml:"key_file"`
	Headers  []string `toml:"headers"`

	tableMeta
	key crypto.Signer
}

// Key returns the parsed private key (*rsa.PrivateKey or ed25519.PrivateKey).
func (d *DKIM) Key() crypto.Signer { return d.key }

// Notify is [notify].
type Notify struct {
	From    string `toml:"from"`
	Admin   string `toml:"admin"`
	Bounces string `toml:"bounces"`
	Profile string `toml:"profile"` // the profile alerts are sent through; "" = another enabled one than the failing

	tableMeta
}

// Cluster is [cluster]: the Redis that several relayd share
// their rate windows and pauses through. Without redis, relayd counts alone.
type Cluster struct {
	Redis             string `toml:"redis"`               // redis://[user@]host:port/db or rediss://...
	RedisPasswordFile string `toml:"redis_password_file"` // the Redis password, not in the URL

	tableMeta
	password string // read from redis_password_file; never shown
}

// Password is the Redis password read from redis_password_file ("" none;
// only in a File loaded with LoadMode.Full). Never log it.
func (c *Cluster) Password() string { return c.password }
