package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// tlsConfig is the client TLS configuration: the certificate
// must name serverName (the profile's host, or the MX host) and chain to
// RootCAs (nil = system roots), unless tls_verify = false.
func tlsConfig(prof *Target, serverName string) *tls.Config {
	return &tls.Config{
		ServerName:         serverName,
		RootCAs:            prof.RootCAs,
		InsecureSkipVerify: !prof.TLSVerify, //nolint:gosec // the admin chose tls_verify = false
	}
}

// describeTLS turns a handshake error into the reason and what to do
// (a TLS failure names the certificate or protocol reason).
func describeTLS(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
	)
	switch {
	case isTimeout(err):
		return "timeout during the TLS handshake"
	case errors.As(err, &unknown):
		return fmt.Sprintf("the certificate is signed by an unknown authority (%v): set ca_file to the CA "+
			"that issued it, or tls_verify = false if the network is trusted", unknown.Error())
	case errors.As(err, &hostname):
		return fmt.Sprintf("the certificate does not match the host name (%v): set host to a name "+
			"the certificate carries, or tls_verify = false if the network is trusted", hostname.Error())
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("the certificate has expired or is not yet valid (%v): the server's "+
			"certificate must be renewed (or check the clock); tls_verify = false only as a stopgap", invalid.Error())
	case errors.As(err, &invalid):
		return fmt.Sprintf("the certificate is not valid (%v): set ca_file, or tls_verify = false "+
			"if the network is trusted", invalid.Error())
	case errors.As(err, &record):
		return "the server did not answer with TLS (tls: first record does not look like a TLS handshake): " +
			"the port expects plain SMTP; use tls = \"starttls-required\" (ports 25/587) or the TLS port (465)"
	case errors.As(err, &alert):
		return fmt.Sprintf("the server aborted the TLS handshake (%v): the TLS versions or ciphers "+
			"may not match, or it wants a client certificate", err)
	}
	return fmt.Sprintf("TLS handshake failed (%v)", err)
}

// startTLS upgrades the connection in the starttls modes. Without STARTTLS
// on offer, starttls-required fails and starttls goes on in plain text.
func (c *client) startTLS(ctx context.Context, prof *Target, serverName, helo string) *Error {
	required := tlsMode(prof) == TLSStartTLSRequired
	if !c.has("STARTTLS") {
		if required {
			return c.localError(StepStartTLS, fmt.Sprintf("%s does not offer STARTTLS and tls = \"starttls-required\", "+
				"so nothing is sent in plain text: check the port (465 needs tls = \"implicit\"), or use "+
				"tls = \"starttls\" or \"none\" only on a trusted network", c.addr))
		}
		c.traceStep(StepStartTLS, func() string { return `not offered: plain text (tls = "starttls")` })
		return nil
	}
	r, err := c.cmd("STARTTLS")
	if err != nil {
		return c.netError(ctx, StepStartTLS, err)
	}
	if r.code != 220 {
		if !required && r.code < 500 { // RFC 3207 §4: the client may go on without TLS
			c.traceStep(StepStartTLS, func() string {
				return "refused (" + c.replyLine(r) + `): plain text (tls = "starttls")`
			})
			return nil
		}
		return c.sessionError(StepStartTLS, "", r)
	}
	if c.r.R.Buffered() > 0 { // CVE-2011-0411: plain text injected before the handshake
		c.broken = true
		return &Error{Profile: c.profile, Host: c.addr, Step: StepStartTLS, Temporary: true,
			Text: errTLSInjection.Error(), Err: errTLSInjection}
	}
	if xerr := c.startTLSNow(ctx, prof, serverName, StepStartTLS); xerr != nil {
		return xerr
	}
	if xerr := c.hello(ctx, helo); xerr != nil { // RFC 3207 §4.2: forget what was said before TLS
		return xerr
	}
	c.traceStep(StepStartTLS, func() string { return c.tlsDetail(prof) })
	return nil
}

// startTLSNow runs the TLS handshake at once, so a bad certificate fails at
// step (starttls, or tls for implicit TLS), before any EHLO or AUTH goes
// through it.
func (c *client) startTLSNow(ctx context.Context, prof *Target, serverName string, step Step) *Error {
	tc := tls.Client(c.raw, tlsConfig(prof, serverName))
	c.raw.SetDeadline(time.Now().Add(c.timeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.broken = true
		text := describeTLS(err)
		if ctx.Err() != nil {
			text = netReason(ctx, err)
		}
		if c.tr != nil {
			c.note("TLS handshake failed: " + text)
		}
		return &Error{Profile: c.profile, Host: c.addr, Step: step, Text: text, Temporary: true,
			Err: cause(ctx, err)}
	}
	c.raw.SetDeadline(time.Time{})
	c.setConn(tc)
	c.tls = true
	if c.tr != nil {
		c.note("TLS established: " + c.tlsDetail(prof))
	}
	return nil
}
