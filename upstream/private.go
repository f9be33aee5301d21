package upstream

import "net/netip"

// nonGlobalPrefixes are the special-purpose blocks whose addresses are not
// globally reachable (IANA IPv4 and IPv6 Special-Purpose Address
// Registries, RFC 6890), plus multicast and the deprecated site-local
// block: a mail host on one of them is an internal host, never the public
// MX of a recipient's domain. Loopback and unspecified addresses are left
// out: allow_loopback governs those (lookupAddrs).
var nonGlobalPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network" (RFC 791)
		"10.0.0.0/8",      // private (RFC 1918)
		"100.64.0.0/10",   // shared address space, carrier-grade NAT (RFC 6598)
		"169.254.0.0/16",  // link-local, cloud metadata services (RFC 3927)
		"172.16.0.0/12",   // private (RFC 1918)
		"192.0.0.0/24",    // IETF protocol assignments (RFC 6890)
		"192.0.2.0/24",    // documentation TEST-NET-1 (RFC 5737)
		"192.168.0.0/16",  // private (RFC 1918)
		"198.18.0.0/15",   // benchmarking (RFC 2544)
		"198.51.100.0/24", // documentation TEST-NET-2 (RFC 5737)
		"203.0.113.0/24",  // documentation TEST-NET-3 (RFC 5737)
		"224.0.0.0/4",     // multicast (RFC 5771)
		"240.0.0.0/4",     // reserved, and the limited broadcast address (RFC 1112, RFC 919)
		"64:ff9b:1::/48",  // local-use IPv4/IPv6 translation (RFC 8215)
		"100::/64",        // discard-only (RFC 6666)
		"2001:2::/48",     // benchmarking (RFC 5180)
		"2001:10::/28",    // ORCHID, deprecated (RFC 4843)
		"2001:db8::/32",   // documentation (RFC 3849)
		"3fff::/20",       // documentation (RFC 9637)
		"5f00::/16",       // SRv6 SIDs (RFC 9602)
		"fc00::/7",        // unique local (RFC 4193)
		"fe80::/10",       // link-local (RFC 4291)
		"fec0::/10",       // site-local, deprecated (RFC 3879)
		"ff00::/8",        // multicast (RFC 4291)
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// Prefixes that carry an IPv4 address in an IPv6 one, which is then what
// decides: NAT64 (RFC 6052) at bits 96-127, 6to4 (RFC 3056) at bits 16-47.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// nonGlobal reports whether a is a private (RFC 1918, RFC 4193),
// link-local, shared (100.64.0.0/10) or other not globally reachable
// address, which direct delivery refuses unless allow_private:
// a local client must not make relayd connect to internal hosts through a
// recipient domain whose MX points at them. Loopback and unspecified
// addresses are not reported (see allow_loopback).
func nonGlobal(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return embeddedInternal(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(a):
			return embeddedInternal(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	return !a.IsLoopback() && !a.IsUnspecified() && inNonGlobalBlock(a)
}

// embeddedInternal: an IPv4 address inside a translation prefix is
// internal when it is non-global, loopback or unspecified (the IPv6
// address itself is neither, so allow_loopback would not catch it).
func embeddedInternal(a netip.Addr) bool {
	return a.IsLoopback() || a.IsUnspecified() || inNonGlobalBlock(a)
}

func inNonGlobalBlock(a netip.Addr) bool {
	for _, p := range nonGlobalPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
