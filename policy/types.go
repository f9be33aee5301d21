package policy

import "net/netip"

// Team is one [[team]] (docs/relayd.toml.5.md): clients from its networks or authenticated
// as one of its users belong to it.
type Team struct {
	Name           string
	DefaultProfile string         // "" = none
	Networks       []netip.Prefix // client addresses that belong to the team
	Profiles       []string       // profiles the team may use; empty = any
}

// Route is one [[route]] rule. Empty fields match anything; all given fields
// must match (globs are case-insensitive, '*' and '?').
type Route struct {
	Index     int    // 1-based position in file order: the rule is "route #Index"
	Sender    string // glob on the envelope sender
	Team      string // exact team name
	Recipient string // glob on the recipient
	Profile   string
}

// Config is everything routing needs. It is immutable once given to NewRouter.
type Config struct {
	Teams          []Team
	Routes         []Route
	DefaultProfile string          // [relay] default_profile
	Enabled        map[string]bool // every profile name → enabled; a name absent here does not exist
}

// Request is one routing question: where does this recipient go?
type Request struct {
	Sender        string // envelope sender ("" = null sender)
	Team          string // the session's team ("" = none)
	Recipient     string
	HeaderProfile string // X-Relay-Profile value when the listener allows it, else ""
}

// Decision is the answer: the profile and the words `relayd route` prints for the rule
// that decided ("X-Relay-Profile", "route #2", "team sales default",
// "system default").
type Decision struct {
	Profile string
	Rule    string
}

// Rewrite is a profile's header and envelope rewrite settings (docs/relayd.toml.5.md).
type Rewrite struct {
	FromAddress       string // MAIL FROM becomes this when set
	RewriteHeaderFrom bool   // with FromAddress: header From becomes it too
	DefaultSenderName string // display name added when From has none
	DefaultReplyTo    string // Reply-To added when the message has none
}

// EditOp is what a header edit does.
type EditOp int

// Header edit operations.
const (
	EditSet    EditOp = iota // replace every field of Name by one with Value (add if absent)
	EditAdd                  // add a field at the end of the header
	EditDelete               // remove every field of Name
)

// Edit is one header change decided by a Rewrite. Value is an unfolded,
// RFC 5322/2047-correct field body (encoded-words for non-ASCII).
type Edit struct {
	Op    EditOp
	Name  string
	Value string
}
