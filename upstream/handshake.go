package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// connect opens a new connection to d for prof and runs the session
// setup: dial, banner, EHLO, STARTTLS or implicit TLS (the
// certificate is checked before AUTH), AUTH. d.serverName is the name the
// certificate must carry. Direct delivery calls it once per MX address in
// preference order. When the upstream rejects an OAuth2 access token, the
// token is refreshed and AUTH tried once more on a new connection. Every
// attempt counts once in relayd_upstream_connections_total.
func (p *Pool) connect(ctx context.Context, prof *Target, d dest) (*client, *Error) {
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
func (p *Pool) connectOnce(ctx context.Context, prof *Target, d dest, stale string) (*client, *Error, string) {
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
func (p *Pool) setup(ctx context.Context, prof *Target, d dest, stale string) (*client, *Error) {
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
func (p *Pool) open(ctx context.Context, prof *Target, d dest, stale string) (*client, *Error) {
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
func (c *client) handshake(ctx context.Context, prof *Target, serverName string) *Error {
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
