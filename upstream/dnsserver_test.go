package upstream

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer is a DNS server on 127.0.0.1 (UDP and TCP on one port) that
// answers from maps, for the production *net.Resolver that Pool builds from
// Target.Resolver. Names are lower case with the trailing dot. A name in
// none of the maps is NXDOMAIN; a name with only A/AAAA records answers MX
// queries with no records (NODATA).
type dnsServer struct {
	t    *testing.T
	addr string // 127.0.0.1:port for Target.Resolver
	udp  net.PacketConn
	tcp  net.Listener

	mu       sync.Mutex
	mx       map[string][]*net.MX    // "." as the only host: null MX (RFC 7505)
	ips      map[string][]netip.Addr // A and AAAA
	servfail map[string]bool
	silent   map[string]bool // never answered: the client times out
	tcpOnly  map[string]bool // over UDP: an empty answer with TC set (RFC 1035 4.2.1)
	queries  map[string]int  // "udp MX example.org." -> count
}

func newDNSServer(t *testing.T) *dnsServer {
	t.Helper()
	s := &dnsServer{t: t, mx: map[string][]*net.MX{}, ips: map[string][]netip.Addr{},
		servfail: map[string]bool{}, silent: map[string]bool{}, tcpOnly: map[string]bool{}, queries: map[string]int{}}
	for try := 0; ; try++ {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			s.udp, s.tcp, s.addr = udp, tcp, udp.LocalAddr().String()
			break
		}
		udp.Close()
		if try == 20 {
			t.Fatalf("no port free for UDP and TCP: %v", err)
		}
	}
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(func() { s.udp.Close(); s.tcp.Close() })
	return s
}

// set changes the zone under the lock.
func (s *dnsServer) set(f func(s *dnsServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *dnsServer) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[key]
}

func (s *dnsServer) serveUDP() {
	buf := make([]byte, 4096)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		if out := s.answer(buf[:n], "udp"); out != nil {
			s.udp.WriteTo(out, from)
		}
	}
}

func (s *dnsServer) serveTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				out := s.answer(msg, "tcp")
				if out == nil {
					continue
				}
				c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(out))))
				c.Write(out)
			}
		}()
	}
}

// answer builds the reply to one query, or nil for none.
func (s *dnsServer) answer(query []byte, network string) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.ToLower(q.Name.String())
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries[network+" "+strings.TrimPrefix(q.Type.String(), "Type")+" "+name]++
	if s.silent[name] {
		return nil
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired,
		RecursionAvailable: true}
	_, hasMX := s.mx[name]
	_, hasIP := s.ips[name]
	switch {
	case s.servfail[name]:
		rh.RCode = dnsmessage.RCodeServerFailure
	case !hasMX && !hasIP:
		rh.RCode = dnsmessage.RCodeNameError
	case network == "udp" && s.tcpOnly[name]:
		rh.Truncated = true
		return s.build(rh, q, nil)
	}
	if rh.RCode != dnsmessage.RCodeSuccess {
		return s.build(rh, q, nil)
	}
	return s.build(rh, q, s.records(q, name))
}

// records are the answers to q, from the maps.
func (s *dnsServer) records(q dnsmessage.Question, name string) []dnsmessage.Resource {
	var rrs []dnsmessage.Resource
	hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	switch q.Type {
	case dnsmessage.TypeMX:
		for _, mx := range s.mx[name] {
			rr := &dnsmessage.MXResource{Pref: mx.Pref, MX: dnsmessage.MustNewName(mx.Host)}
			rrs = append(rrs, dnsmessage.Resource{Header: hdr, Body: rr})
		}
	case dnsmessage.TypeA, dnsmessage.TypeAAAA:
		for _, a := range s.ips[name] {
			switch {
			case a.Is4() && q.Type == dnsmessage.TypeA:
				rrs = append(rrs, dnsmessage.Resource{Header: hdr, Body: &dnsmessage.AResource{A: a.As4()}})
			case a.Is6() && q.Type == dnsmessage.TypeAAAA:
				rrs = append(rrs, dnsmessage.Resource{Header: hdr, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}})
			}
		}
	}
	return rrs
}

func (s *dnsServer) build(h dnsmessage.Header, q dnsmessage.Question, rrs []dnsmessage.Resource) []byte {
	b := dnsmessage.NewBuilder(nil, h)
	b.EnableCompression()
	err := b.StartQuestions()
	if err == nil {
		err = b.Question(q)
	}
	if err == nil {
		err = b.StartAnswers()
	}
	for _, rr := range rrs {
		if err != nil {
			break
		}
		switch body := rr.Body.(type) {
		case *dnsmessage.MXResource:
			err = b.MXResource(rr.Header, *body)
		case *dnsmessage.AResource:
			err = b.AResource(rr.Header, *body)
		case *dnsmessage.AAAAResource:
			err = b.AAAAResource(rr.Header, *body)
		default:
			err = errors.New("unexpected record")
		}
	}
	out, berr := b.Finish()
	if err != nil || berr != nil {
		s.t.Errorf("dns test server: building the reply: %v %v", err, berr)
		return nil
	}
	return out
}
