package upstream

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeResolver is a map-backed Resolver (like mox's dns/mock.go). Names
// are lower case with the trailing dot; a name in neither map is not found.
type fakeResolver struct {
	mu      sync.Mutex
	mx      map[string][]*net.MX
	ips     map[string][]netip.Addr
	fail    map[string]error // returned for the name, any type
	queries []string
}

func newFakeResolver() *fakeResolver {
	return &fakeResolver{mx: map[string][]*net.MX{}, ips: map[string][]netip.Addr{}, fail: map[string]error{}}
}

func (r *fakeResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, "MX "+name)
	if err := r.fail[name]; err != nil {
		return nil, err
	}
	mxs, ok := r.mx[name]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	out := make([]*net.MX, len(mxs)) // the caller may reorder
	for i, mx := range mxs {
		c := *mx
		out[i] = &c
	}
	return out, nil
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, "IP "+host)
	if err := r.fail[host]; err != nil {
		return nil, err
	}
	ips, ok := r.ips[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return ips, nil
}

func (r *fakeResolver) asked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.queries...)
}

// remapDialer maps the documentation addresses (RFC 5737, RFC 3849) that
// a fakeResolver hands out onto test servers on loopback. An address it
// does not know is refused at once: nothing but loopback is ever dialled.
type remapDialer struct {
	mu     sync.Mutex
	routes map[string]string // "192.0.2.1:25" -> "127.0.0.1:port"
	dialed []string
}

func newRemapDialer() *remapDialer { return &remapDialer{routes: map[string]string{}} }

// route sends connections for ip:25 to the server's port on 127.0.0.1.
func (d *remapDialer) route(ip string, port int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.routes[net.JoinHostPort(ip, "25")] = fmt.Sprintf("127.0.0.1:%d", port)
}

func (d *remapDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	to, ok := d.routes[addr]
	d.dialed = append(d.dialed, addr)
	d.mu.Unlock()
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return (&net.Dialer{}).DialContext(ctx, network, to)
}

func (d *remapDialer) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dialed...)
}

// directProfile is a direct profile for tests: plain text, short timeouts.
// Its Resolver points nowhere usable on purpose: tests either inject a
// Resolver through Options or set it to a dnsServer, never the system's.
func directProfile(name string) *Target {
	return &Target{Name: name, Type: "direct", TLS: TLSNone, Helo: "relay.test", Timeout: 5 * time.Second,
		DataTimeout: 5 * time.Second, MaxPerConn: 100, MaxConns: 2, AllowLoopback: true, AllowPrivate: true,
		Resolver: "127.0.0.1:1"}
}

func mx(pref uint16, host string) *net.MX { return &net.MX{Host: host, Pref: pref} }

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// rcptErr returns res.Rcpt[i], failing when it is nil.
func rcptErr(t *testing.T, res *Result, i int) *Error {
	t.Helper()
	if res.Rcpt[i] == nil {
		t.Fatalf("recipient %d: no error", i)
	}
	return res.Rcpt[i]
}

func wantEnhanced(t *testing.T, e *Error, enhanced string, temporary bool, text string) {
	t.Helper()
	if e.Enhanced != enhanced || e.Temporary != temporary || !strings.Contains(e.Error(), text) {
		t.Errorf("error %q enhanced %q temporary %v, want %q %v containing %q", e, e.Enhanced, e.Temporary,
			enhanced, temporary, text)
	}
}
