//go:build !linux

package relay

import "net"

// peerUID is not implemented outside Linux: sendmail socket sessions then
// have no local user and take the listener's team.
func peerUID(net.Conn) (uint32, bool) { return 0, false }
