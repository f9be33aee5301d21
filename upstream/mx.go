package upstream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Resolver answers the DNS questions of direct delivery (RFC 5321 §5.1).
// Names are passed fully qualified, with the trailing dot. Not-found
// answers (NXDOMAIN, or no record of the type) must be a *net.DNSError
// with IsNotFound; any other error is a temporary failure. *net.Resolver
// implements it; implementations must be safe for concurrent use.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// resolverFor is Options.Resolver, or a Go resolver that sends every query
// to prof.Resolver (UDP, then TCP when the answer is truncated), or the
// system's.
func (p *Pool) resolverFor(prof *Target) Resolver {
	if p.resolver != nil {
		return p.resolver
	}
	if prof.Resolver == "" {
		return net.DefaultResolver
	}
	addr, _ := resolverAddr(prof.Resolver) // checked by checkProfile
	d := &net.Dialer{}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
}

// resolverAddr parses resolver = "ip", "ip:port", "[v6]:port" or a bare
// IPv6 address; the port defaults to 53. A name is refused: resolving it
// would need the DNS it configures.
func resolverAddr(s string) (string, error) {
	host, port, err := splitHost(s)
	if err != nil {
		return "", fmt.Errorf("resolver: %w", err)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "", fmt.Errorf("resolver %q is not an IP address", s)
	}
	if port == 0 {
		port = 53
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// mxHost is one host to try for a domain.
type mxHost struct {
	name     string // lower case, without the trailing dot; or an IP address
	implicit bool   // the domain itself: it has no MX (RFC 5321 §5.1 implicit MX)
}

// lookupMX returns the hosts to try for domain, in order (RFC 5321 §5.1):
// the MX hosts by preference, equal preferences shuffled to spread the
// load, or the domain itself when it has no MX. A null MX (RFC 7505) is a
// permanent 5.1.10; a failed lookup a temporary 4.4.3.
func (p *Pool) lookupMX(ctx context.Context, prof *Target, r Resolver, domain string) ([]mxHost, *Error) {
	timeout, _ := timeouts(prof)
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	mxs, err := r.LookupMX(lctx, domain+".")
	if err != nil && len(mxs) == 0 {
		if dnsNotFound(err) {
			return []mxHost{{name: domain, implicit: true}}, nil
		}
		return nil, domainError(prof, domain, 0, "4.4.3", true, err,
			fmt.Sprintf("the MX lookup for %s at %s failed (%s): relayd retries; check the DNS server if it persists",
				domain, resolverName(prof, p.resolver != nil), dnsReason(ctx, err)))
	}
	var hosts []mxHost
	slices.SortStableFunc(shuffled(mxs), func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	for _, mx := range mxs {
		name := strings.ToLower(strings.TrimSuffix(mx.Host, "."))
		if name != "" && !slices.ContainsFunc(hosts, func(h mxHost) bool { return h.name == name }) {
			hosts = append(hosts, mxHost{name: name})
		}
	}
	if len(hosts) == 0 { // only "." (RFC 7505 §3: a null MX stands alone)
		return nil, domainError(prof, domain, 556, "5.1.10", false, nil,
			domain+" publishes a null MX (RFC 7505): the domain accepts no mail")
	}
	return hosts, nil
}

func shuffled(mxs []*net.MX) []*net.MX {
	rand.Shuffle(len(mxs), func(i, j int) { mxs[i], mxs[j] = mxs[j], mxs[i] })
	return mxs
}

// lookupAddrs returns the IPv4 and IPv6 addresses of h to connect to.
// Loopback and unspecified ones are dropped unless allow_loopback:
// a DNS mistake must not loop mail back. Private, link-local,
// shared and other non-global ones (nonGlobal) are dropped unless
// allow_private: a local client must not make relayd reach internal hosts.
// Both happen before any dial. An implicit MX that does not resolve means
// the domain has no mail route: permanent 5.1.2.
func (p *Pool) lookupAddrs(ctx context.Context, prof *Target, r Resolver, domain string, h mxHost) ([]netip.Addr, *Error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(h.name); err == nil {
		addrs = []netip.Addr{a}
	} else {
		timeout, _ := timeouts(prof)
		lctx, cancel := context.WithTimeout(ctx, timeout)
		addrs, err = r.LookupNetIP(lctx, "ip", h.name+".")
		cancel()
		switch {
		case err != nil && h.implicit && dnsNotFound(err):
			return nil, domainError(prof, domain, 550, "5.1.2", false, err, domain+" does not exist or has "+
				"no MX, A or AAAA record (RFC 5321 §5.1): check the recipient's address")
		case err != nil && dnsNotFound(err):
			return nil, domainError(prof, domain, 0, "4.4.4", true, err,
				fmt.Sprintf("MX host %s has no A or AAAA record", h.name))
		case err != nil:
			return nil, domainError(prof, domain, 0, "4.4.3", true, err,
				fmt.Sprintf("the address lookup for %s at %s failed (%s): relayd retries", h.name,
					resolverName(prof, p.resolver != nil), dnsReason(ctx, err)))
		}
	}
	var usable, loop, internal []netip.Addr
	for _, a := range addrs {
		switch a = a.Unmap(); {
		case (a.IsLoopback() || a.IsUnspecified()) && !prof.AllowLoopback:
			loop = append(loop, a)
		case nonGlobal(a) && !prof.AllowPrivate:
			internal = append(internal, a)
		case a.IsValid() && !slices.Contains(usable, a):
			usable = append(usable, a)
		}
	}
	switch {
	case len(usable) == 0 && len(loop) > 0:
		return nil, domainError(prof, domain, 0, "4.4.4", true, nil, fmt.Sprintf("mail host %s resolves only "+
			"to loopback or unspecified addresses (%s), refused so that a DNS mistake cannot loop mail back: "+
			"fix the domain's DNS, or set allow_loopback = true (tests only)", h.name, loop[0]))
	case len(usable) == 0 && len(internal) > 0:
		return nil, domainError(prof, domain, 0, "4.4.4", true, nil, fmt.Sprintf("mail host %s resolves only "+
			"to private, link-local or other non-global addresses (%s), refused so that mail cannot be made to "+
			"reach internal hosts: fix the domain's DNS, route the domain to a smarthost profile, or set "+
			"allow_private = true on profile %s if its MX hosts are meant to be internal", h.name, internal[0], prof.Name))
	}
	if len(usable) == 0 {
		return nil, domainError(prof, domain, 0, "4.4.4", true, nil,
			fmt.Sprintf("mail host %s has no A or AAAA record", h.name))
	}
	return usable, nil
}

// domainError is a failure of a whole recipient domain before any SMTP
// reply: the Subject is the domain. code is the reply relayd would give in
// its place (RFC 7505 §4.3 556 for a null MX, 550 for no such domain), 0
// for temporary failures.
func domainError(prof *Target, domain string, code int, enhanced string, temporary bool, err error, text string) *Error {
	return &Error{Profile: prof.Name, Step: StepResolve, Code: code, Enhanced: enhanced, Text: text,
		Temporary: temporary, Err: err, Subject: domain}
}

func dnsNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// dnsReason names a DNS failure: "timeout", "server misbehaving" (SERVFAIL), ...
func dnsReason(ctx context.Context, err error) string {
	var de *net.DNSError
	switch {
	case ctx.Err() != nil:
		return netReason(ctx, err)
	case errors.As(err, &de) && de.IsTimeout:
		return "timeout"
	case errors.As(err, &de):
		return de.Err
	}
	return err.Error()
}

func resolverName(prof *Target, injected bool) string {
	switch {
	case injected:
		return "the resolver"
	case prof.Resolver != "":
		addr, _ := resolverAddr(prof.Resolver)
		return "DNS server " + addr
	}
	return "the system resolver"
}

// asciiDomain is domain as DNS knows it: lower case, and IDNA A-labels
// for a UTF-8 name (RFC 5890, UTS #46 lookup mapping). ok is false for a
// name IDNA refuses.
func asciiDomain(domain string) (string, bool) {
	if isASCII(domain) {
		return strings.ToLower(domain), true
	}
	a, err := toASCII(domain)
	if err != nil {
		return strings.ToLower(domain), false
	}
	return strings.ToLower(a), true
}

// toASCII turns a UTF-8 domain into A-labels ("xn--...") for DNS lookups.
func toASCII(domain string) (string, error) {
	return idna.Lookup.ToASCII(domain)
}
