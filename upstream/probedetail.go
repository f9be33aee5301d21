package upstream

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The details Probe shows per step, and its test message.

// traceStep reports a handshake step that worked to c.trace (Probe);
// detail is only computed when someone listens.
func (c *client) traceStep(step Step, detail func() string) {
	if c.trace != nil {
		c.trace(step, detail())
	}
}

// replyLine is a reply as "250 2.0.0 first line", shortened.
func (c *client) replyLine(r *reply) string {
	s := fmt.Sprint(r.code)
	if r.enhanced != "" {
		s += " " + r.enhanced
	}
	first, _, more := strings.Cut(r.text, "\n")
	if first != "" {
		s += " " + first
	}
	if more {
		s += " ..."
	}
	return truncate(s, 120)
}

// heloDetail lists the extensions the server announced, sorted.
func (c *client) heloDetail(helo string) string {
	if len(c.ext) == 0 {
		return "EHLO " + helo + ": no extensions"
	}
	kws := make([]string, 0, len(c.ext))
	for k, v := range c.ext {
		if v != "" {
			k += " " + v
		}
		kws = append(kws, k)
	}
	slices.Sort(kws)
	return truncate("EHLO "+helo+": "+strings.Join(kws, ", "), 200)
}

// tlsDetail describes the TLS session: version, cipher suite, and the
// server certificate's subject, issuer and expiry.
func (c *client) tlsDetail(prof *Target) string {
	tc, ok := c.conn.(*tls.Conn)
	if !ok {
		return "plain text"
	}
	cs := tc.ConnectionState()
	s := tls.VersionName(cs.Version) + " " + tls.CipherSuiteName(cs.CipherSuite)
	if len(cs.PeerCertificates) > 0 {
		cert := cs.PeerCertificates[0]
		subject, issuer := cert.Subject.CommonName, cert.Issuer.CommonName
		if subject == "" {
			subject = cert.Subject.String()
		}
		if issuer == "" {
			issuer = cert.Issuer.String()
		}
		s += fmt.Sprintf("; certificate %q issued by %q, expires %s", subject, issuer,
			cert.NotAfter.UTC().Format("2006-01-02"))
		switch left := time.Until(cert.NotAfter); {
		case left < 0:
			s += " (EXPIRED)"
		case left < 14*24*time.Hour:
			s += fmt.Sprintf(" (in %d days: renew soon)", int(left.Hours()/24))
		default:
			s += fmt.Sprintf(" (in %d days)", int(left.Hours()/24))
		}
	}
	if prof.TLSVerify {
		s += "; verified"
	} else {
		s += "; not verified (tls_verify = false)"
	}
	return s
}

// authDetail names the mechanism and the account, never the secret, and
// the mechanisms the server offered (after STARTTLS).
func (c *client) authDetail(prof *Target) string {
	offered := ""
	if m := strings.Fields(strings.ToUpper(c.ext["AUTH"])); len(m) > 0 {
		offered = " (offered: " + strings.Join(m, " ") + ")"
	}
	switch {
	case c.mech == "":
		return "not used (no username)" + offered
	case prof.OAuth2 != nil:
		return c.mech + " as " + prof.Username + " with an OAuth2 access token" + offered
	}
	return c.mech + " as " + prof.Username + offered
}

// connDetail is "host:port (ip)" of a new connection: the address dialled
// (type direct), else the one the dialer picked for the name.
func connDetail(d dest, c *client) string {
	ip := d.dial
	if d.dial == d.addr {
		ip = c.raw.RemoteAddr().String()
	}
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	if h, _, err := net.SplitHostPort(d.addr); err == nil && h == ip {
		return d.addr
	}
	return d.addr + " (" + ip + ")"
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// testMessage is the message of Probe with o.Send: a short plain-text
// note, with Date and Message-ID, DKIM-signed when a key matches From.
func testMessage(prof *Target, o ProbeOptions, now time.Time) ([]byte, error) {
	host := o.Hostname
	if host == "" {
		host, _ = heloName(prof)
	}
	var id [12]byte
	rand.Read(id[:])
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\n", o.From)
	if len(o.To) > 0 {
		fmt.Fprintf(&b, "To: <%s>\r\n", strings.Join(o.To, ">,\r\n <")) // folded: no line over 998 octets
	}
	fmt.Fprintf(&b, "Subject: relayd test message from %s\r\n", host)
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s.test@%s>\r\n", hex.EncodeToString(id[:]), host)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	fmt.Fprintf(&b, "This message was sent by `relayd test %s -send` on %s\r\n", prof.Name, host)
	fmt.Fprintf(&b, "to check that profile %s can deliver mail. No reply is needed.\r\n", prof.Name)
	msg := []byte(b.String())
	if len(o.DKIM) == 0 {
		return msg, nil
	}
	return SignDKIM(msg, o.DKIM)
}
