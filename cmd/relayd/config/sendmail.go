package config

import (
	"path/filepath"
	"strings"

	"github.com/relayd/relayd/relay"
)

// [sendmail] and [[team]] unix_users (docs/relayd.toml.5.md): the unix socket that
// `relayd sendmail` submits to. The daemon runs it as one more listener,
// named SendmailListenerName, with a [[listener]]'s default limits, no TLS
// and no AUTH: the kernel names the local user instead (SO_PEERCRED).

// Sendmail is [sendmail].
type Sendmail struct {
	Socket string `toml:"socket"` // default <state_dir>/sendmail.sock
	Team   string `toml:"team"`   // team of callers whose user is in no [[team]] unix_users

	tableMeta
}

// SendmailListenerName is the listener name of the sendmail socket in
// logs and metrics (relayd_messages_accepted_total{listener="sendmail"}).
const SendmailListenerName = "sendmail"

// maxSocketPath is the longest unix socket path Linux can bind
// (sizeof(sun_path) - 1, unix(7)).
const maxSocketPath = 107

func sendmailDefaults(f *File) {
	if f.Sendmail.Socket == "" {
		f.Sendmail.Socket = filepath.Join(f.Server.StateDir, "sendmail.sock")
	}
}

// validateSendmail checks [sendmail] and every team's unix_users.
func validateSendmail(f *File, teams map[string]*Team, p *problems) {
	s := &f.Sendmail
	m := &s.tableMeta
	if len(s.Socket) > maxSocketPath {
		p.err(m, "socket", "%q is longer than the %d bytes a unix socket path may have: choose a shorter path", s.Socket, maxSocketPath)
	}
	if s.Team != "" && teams[s.Team] == nil {
		p.err(m, "team", "no team is named %q", s.Team)
	}
	for i := range f.Listeners {
		l := &f.Listeners[i]
		if l.Name == SendmailListenerName {
			p.err(&l.tableMeta, "name", "%q is the name of the [sendmail] socket's listener: choose another", l.Name)
		}
		if a, ok := strings.CutPrefix(l.Address, "unix:"); ok && filepath.Clean(a) == filepath.Clean(s.Socket) {
			p.err(&l.tableMeta, "address", "%q is the [sendmail] socket: choose another path, or set [sendmail] socket", l.Address)
		}
	}
	owner := map[string]string{} // user → team
	for i := range f.Teams {
		t := &f.Teams[i]
		for _, u := range t.UnixUsers {
			switch {
			case u == "" || strings.ContainsAny(u, " \t\r\n:"):
				p.err(&t.tableMeta, "unix_users", "%q is not a user name", u)
			case owner[u] != "" && owner[u] != t.Name:
				p.err(&t.tableMeta, "unix_users", "user %q is already in team %q: a user belongs to one team", u, owner[u])
			default:
				owner[u] = t.Name
			}
		}
	}
}

// sendmailListener is the relay.Listener of the sendmail socket.
func (f *File) sendmailListener() relay.Listener {
	l := Listener{Name: SendmailListenerName, Address: "unix:" + f.Sendmail.Socket, TLS: "none", Auth: "none",
		Team: f.Sendmail.Team}
	listenerDefaults(&l)
	rl := l.relay()
	rl.Sendmail = true
	rl.UnixUsers = map[string]string{}
	for _, t := range f.Teams {
		for _, u := range t.UnixUsers {
			rl.UnixUsers[u] = t.Name
		}
	}
	return rl
}
