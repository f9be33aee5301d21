package relay

import (
	"fmt"
	"net"
	"os/user"
	"strconv"
)

// The sendmail socket ([sendmail] in docs/relayd.toml.5.md): a unix listener every local user may
// write to. Its clients do not authenticate; the kernel tells who they are
// (SO_PEERCRED, localuser_linux.go), the session's team follows from the
// user name ([[team]] unix_users, then the listener's team, which is
// [sendmail] team), and the Received: field names the user.

// localUser is the process on the other end of a sendmail socket
// connection, as the kernel reports it when the connection was made.
type localUser struct {
	UID  uint32
	Name string // login name from the user database; "" when the uid has none
}

// peerUser identifies the peer of an accepted unix connection, nil when the
// kernel cannot say (not a unix socket, or not Linux).
func peerUser(c net.Conn) *localUser {
	uid, ok := peerUID(c)
	if !ok {
		return nil
	}
	u := &localUser{UID: uid}
	if pw, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		u.Name = pw.Username
	}
	return u
}

// unixTeam is the team whose unix_users holds the session's local user, ""
// when none does or the session is not on the sendmail socket.
func (s *session) unixTeam() string {
	if s.peer == nil || s.peer.Name == "" {
		return ""
	}
	return s.lcfg.UnixUsers[s.peer.Name]
}

// receivedFrom is the "from" part of the Received: field: the client's
// HELO name and address, or on the sendmail socket the local user, e.g.
// "local user nobody (uid 65534)".
func (s *session) receivedFrom() string {
	if s.peer != nil {
		name := "unknown"
		if s.peer.Name != "" {
			name = sanitizeHelo(s.peer.Name)
		}
		return fmt.Sprintf("local user %s (uid %d)", name, s.peer.UID)
	}
	return sanitizeHelo(s.helo) + " (" + clientLiteral(s.c) + ")"
}
