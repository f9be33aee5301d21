package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults for zero Profile fields; cmd/relayd normally sets them (SPEC §3).
const (
	defaultTimeout     = 30 * time.Second
	defaultDataTimeout = 10 * time.Minute
	defaultMaxPerConn  = 100
	defaultMaxConns    = 2
)

// target returns the TLS server name and the host:port to dial for a
// smarthost profile. Host may be "host", "host:port", "host,port",
// "[v6]:port" or a bare IPv6 literal; a non-zero Port overrides the one in
// Host; the default is 25, or 465 with implicit TLS (SPEC §3).
func target(prof *Profile) (serverName, addr string, err error) {
	host, port, err := splitHost(prof.Host)
	if err != nil {
		return "", "", err
	}
	switch {
	case prof.Port < 0 || prof.Port > 65535:
		return "", "", fmt.Errorf("port %d out of range", prof.Port)
	case prof.Port != 0:
		port = prof.Port
	case port == 0 && tlsMode(prof) == TLSImplicit:
		port = 465
	case port == 0:
		port = 25
	}
	return host, net.JoinHostPort(host, strconv.Itoa(port)), nil
}

func splitHost(s string) (host string, port int, err error) {
	s = strings.TrimSpace(s)
	var ps string
	switch {
	case strings.Contains(s, ","):
		host, ps, _ = strings.Cut(s, ",")
		host, ps = strings.TrimSpace(host), strings.TrimSpace(ps)
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host = s[1 : len(s)-1]
	case strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1:
		if host, ps, err = net.SplitHostPort(s); err != nil {
			return "", 0, fmt.Errorf("host %q: %w", s, err)
		}
	default: // a name, an IPv4 address or a bare IPv6 literal
		host = s
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n/@,<>[]\"\\") {
		return "", 0, fmt.Errorf("invalid host %q", s)
	}
	if ps != "" {
		if port, err = strconv.Atoi(ps); err != nil || port < 1 || port > 65535 {
			return "", 0, fmt.Errorf("invalid port %q in host %q", ps, s)
		}
	}
	return host, port, nil
}

// tlsMode is the profile's TLS mode; "" is the smarthost default
// starttls-required, or opportunistic starttls for direct (SPEC §3).
func tlsMode(prof *Profile) TLSMode {
	switch {
	case prof.TLS != "":
		return prof.TLS
	case prof.Type == "direct":
		return TLSStartTLS
	}
	return TLSStartTLSRequired
}

// heloName is the EHLO argument: the profile's helo, "localhost" if unset.
func heloName(prof *Profile) (string, error) {
	if prof.Helo == "" {
		return "localhost", nil
	}
	for i := 0; i < len(prof.Helo); i++ {
		if c := prof.Helo[i]; c <= ' ' || c >= 0x7f {
			return "", fmt.Errorf("invalid helo name %q", prof.Helo)
		}
	}
	return prof.Helo, nil
}

func timeouts(prof *Profile) (cmd, data time.Duration) {
	cmd, data = prof.Timeout, prof.DataTimeout
	if cmd <= 0 {
		cmd = defaultTimeout
	}
	if data <= 0 {
		data = defaultDataTimeout
	}
	return cmd, data
}

// connect opens a new connection to d for prof and runs the session
// setup of SPEC §8.1: dial, banner, EHLO, STARTTLS or implicit TLS (the
// certificate is checked before AUTH), AUTH. d.serverName is the name the
// certificate must carry. Direct delivery calls it once per MX address in
// preference order. When the upstream rejects an OAuth2 access token, the
// token is refreshed and AUTH tried once more on a new connection. Every
// attempt counts once in relayd_upstream_connections_total.
func (p *Pool) connect(ctx context.Context, prof *Profile, d dest) (*client, *Error) {
	c, xerr, rejected := p.connectOnce(ctx, prof, d, "")
	if rejected != "" && ctx.Err() == nil {
		p.log.Debug("upstream rejected the OAuth2 access token, refreshing it", "profile", prof.Name,
			"host", d.addr, "code", xerr.Code)
		c, xerr, _ = p.connectOnce(ctx, prof, d, rejected)
	}
	return c, xerr
}

// connectOnce is one connection attempt. stale is an access token the
// upstream rejected, to be replaced before AUTH. It returns the access token
// used when the upstream rejected it, else "".
func (p *Pool) connectOnce(ctx context.Context, prof *Profile, d dest, stale string) (*client, *Error, string) {
	start := p.now()
	c, xerr := p.setup(ctx, prof, d, stale)
	if xerr != nil {
		p.metrics.connection(prof.Name, connResult(xerr))
		p.log.Debug("upstream connection failed", "profile", prof.Name, "host", d.addr, "ip", d.dial, "step", xerr.Step,
			"code", xerr.Code, "err", xerr, "duration", p.now().Sub(start))
		return nil, xerr, c.rejectedToken()
	}
	p.metrics.connection(prof.Name, "ok")
	p.log.Debug("upstream connected", "profile", prof.Name, "host", d.addr, "ip", d.dial, "tls", c.tls, "auth", c.mech,
		"duration", p.now().Sub(start))
	return c, nil, ""
}

// setup dials and runs the handshake. On failure it returns the closed
// client too, when there was one, so that connectOnce can read why AUTH
// failed.
func (p *Pool) setup(ctx context.Context, prof *Profile, d dest, stale string) (*client, *Error) {
	c, xerr := p.open(ctx, prof, d, stale)
	if xerr != nil {
		return nil, xerr
	}
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	if xerr := c.handshake(ctx, prof, d.serverName); xerr != nil {
		c.close()
		return c, xerr
	}
	return c, nil
}

// open dials d and returns the client, before the banner. stale is an
// OAuth2 access token the upstream rejected (see connectOnce).
func (p *Pool) open(ctx context.Context, prof *Profile, d dest, stale string) (*client, *Error) {
	cmdTimeout, dataTimeout := timeouts(prof)
	tr := p.transcriptFor(prof)
	dctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	raw, err := p.dial(dctx, "tcp", d.dial)
	cancel()
	if err != nil {
		xerr := &Error{Profile: prof.Name, Host: d.addr, Step: StepConnect, Text: netReason(ctx, err),
			Temporary: true, Err: cause(ctx, err)}
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && !dnsErr.IsTimeout {
			xerr.Step = StepResolve
		}
		if tr != nil {
			tr.line("* ", fmt.Sprintf("connecting to %s failed: %s", dialName(d), xerr.Text))
		}
		return nil, xerr
	}
	c := newClient(prof.Name, d.addr, raw)
	c.timeout, c.dataTimeout, c.tr = cmdTimeout, dataTimeout, tr
	if prof.OAuth2 != nil {
		c.oauth = &oauthState{src: p.tokenSource(prof), stale: stale}
	}
	if tr != nil {
		c.note(fmt.Sprintf("connected to %s from %s, profile %s, tls %s", dialName(d), raw.LocalAddr(), prof.Name,
			tlsMode(prof)))
	}
	return c, nil
}

// dialName is "host:port (ip)", or the address alone when it was dialled.
func dialName(d dest) string {
	if d.dial == d.addr {
		return d.addr
	}
	host, _, _ := net.SplitHostPort(d.dial)
	return d.addr + " (" + host + ")"
}

// handshake runs everything between the TCP connect and the first MAIL.
// With c.trace set (Probe) it reports each step that succeeded.
func (c *client) handshake(ctx context.Context, prof *Profile, serverName string) *Error {
	mode := tlsMode(prof)
	helo, _ := heloName(prof) // checked by Send
	if mode == TLSImplicit {
		if xerr := c.startTLSNow(ctx, prof, serverName, StepTLS); xerr != nil {
			return xerr
		}
		c.traceStep(StepTLS, func() string { return "implicit TLS: " + c.tlsDetail(prof) })
	}
	r, err := c.read(c.timeout)
	if err != nil {
		return c.netError(ctx, StepBanner, err)
	}
	if r.code != 220 {
		return c.sessionError(StepBanner, "", r)
	}
	c.traceStep(StepBanner, func() string { return c.replyLine(r) })
	if xerr := c.hello(ctx, helo); xerr != nil {
		return xerr
	}
	c.traceStep(StepEHLO, func() string { return c.heloDetail(helo) })
	switch mode {
	case TLSStartTLS, TLSStartTLSRequired:
		if xerr := c.startTLS(ctx, prof, serverName, helo); xerr != nil {
			return xerr
		}
	case TLSNone:
		c.traceStep(StepStartTLS, func() string { return `not used (tls = "none"): plain text` })
	}
	if xerr := c.authenticate(ctx, prof); xerr != nil {
		return xerr
	}
	c.traceStep(StepAuth, func() string { return c.authDetail(prof) })
	return nil
}

// hello sends EHLO, and HELO when the server does not know EHLO
// (RFC 5321 §3.2), and records the announced extensions.
func (c *client) hello(ctx context.Context, name string) *Error {
	r, err := c.cmd("EHLO " + name)
	if err != nil {
		return c.netError(ctx, StepEHLO, err)
	}
	if r.code == 250 {
		c.ext = parseExtensions(r.text)
		return nil
	}
	if r.code == 500 || r.code == 502 || r.code == 504 {
		if r, err = c.cmd("HELO " + name); err != nil {
			return c.netError(ctx, StepEHLO, err)
		}
		if r.code == 250 {
			c.ext = map[string]string{}
			return nil
		}
	}
	return c.sessionError(StepEHLO, "", r)
}

// parseExtensions reads the EHLO reply's keyword lines (RFC 5321 §4.1.1.1),
// including the old "AUTH=PLAIN LOGIN" form.
func parseExtensions(text string) map[string]string {
	ext := map[string]string{}
	lines := strings.Split(text, "\n")
	for _, l := range lines[1:] {
		kw, params, _ := strings.Cut(strings.TrimSpace(l), " ")
		kw = strings.ToUpper(kw)
		if k, v, ok := strings.Cut(kw, "="); ok {
			kw, params = k, strings.TrimSpace(v+" "+params)
		}
		if kw == "AUTH" && ext[kw] != "" {
			params = ext[kw] + " " + params
		}
		ext[kw] = params
	}
	return ext
}

// netError is a failure without a reply: always temporary.
func (c *client) netError(ctx context.Context, step Step, err error) *Error {
	c.broken = true
	return &Error{Profile: c.profile, Host: c.addr, Step: step, Text: netReason(ctx, err),
		Temporary: true, Err: cause(ctx, err)}
}

// localError is a temporary failure decided here, at a session step.
func (c *client) localError(step Step, text string) *Error {
	return &Error{Profile: c.profile, Host: c.addr, Step: step, Text: text, Temporary: true}
}

// replyError is a failure reply about the message: 4xx and unknown codes
// are temporary, 5xx permanent (SPEC §7.3).
func (c *client) replyError(step Step, subject string, r *reply) *Error {
	return &Error{Profile: c.profile, Host: c.addr, Step: step, Code: r.code, Enhanced: r.enhanced,
		Text: r.text, Temporary: r.code < 500 || r.code > 599, Subject: subject}
}

// sessionError is a failure reply before MAIL (banner, EHLO, STARTTLS,
// AUTH). It is temporary even for 5xx: it says nothing about the message,
// only about the connection or the account, which the admin can fix; the
// message waits in the queue instead of bouncing (and bounces after
// max_queue_age if nobody does).
func (c *client) sessionError(step Step, subject string, r *reply) *Error {
	e := c.replyError(step, subject, r)
	e.Temporary = true
	return e
}

// netReason names a network failure for a diagnosis.
func netReason(ctx context.Context, err error) string {
	var dnsErr *net.DNSError
	var sysErr *os.SyscallError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timeout"
	case ctx.Err() != nil:
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case isTimeout(err):
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset by the server"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.As(err, &dnsErr):
		return dnsErr.Err
	case errors.As(err, &sysErr):
		return sysErr.Err.Error()
	}
	return err.Error()
}

// cause is the error to wrap: the context's when it ended the attempt.
func cause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// connResult is the relayd_upstream_connections_total result of a failed
// connection attempt.
func connResult(e *Error) string {
	switch {
	case e.Text == "timeout" || isTimeout(e.Err):
		return "timeout"
	case e.Step == StepConnect && errors.Is(e.Err, syscall.ECONNREFUSED):
		return "refused"
	case e.Step == StepStartTLS || e.Step == StepTLS:
		return "tls_error"
	case e.Step == StepAuth:
		return "auth_failed"
	}
	return "error"
}
