package upstream

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Steps that only Probe reports; deliveries fail at the steps of error.go.
const (
	StepRSET Step = "rset" // RSET after the test MAIL and RCPT (no test message)
	StepQuit Step = "quit"
)

// ProbeStep is one step of a connection test: one line of `relayd test`
// (docs/relayd.8.md) and of the admin API's POST /api/v1/profiles/{name}/test.
type ProbeStep struct {
	Step     Step
	OK       bool
	Detail   string        // what was seen: addresses, the reply, TLS version and certificate, AUTH mechanism; never a secret
	Duration time.Duration // since the previous step ended (the first: since Probe started)
	Err      *Error        // why the step failed, nil when OK; Err.Error() is the diagnosis
}

// ProbeOptions say how far Probe goes and what it reports to.
type ProbeOptions struct {
	// From is the envelope sender of the MAIL step; "" = the null sender.
	From string
	// To are the recipients of the RCPT steps. For a type direct profile
	// they pick what is tested: the MX hosts of their domain (one domain;
	// From's domain when To is empty).
	To []string
	// Envelope adds, after AUTH, MAIL FROM, one RCPT TO per recipient and
	// RSET: nothing is sent.
	Envelope bool
	// Send implies Envelope and, instead of RSET, sends a short test
	// message (Subject "relayd test message from HOSTNAME") to To and reads
	// the final reply. It needs From.
	Send bool
	// Hostname names relayd in the test message (Subject, Message-ID);
	// "" = the profile's helo.
	Hostname string
	// DKIM keys sign the test message as a delivery would be (SignDKIM);
	// nil = unsigned.
	DKIM []DKIMKey
	// Progress, when set, is called with each step as it ends, from the
	// goroutine that called Probe, so that a command can print it at once.
	Progress func(ProbeStep)
}

// Probe tests prof step by step and returns the steps, stopping at the
// first failure (the last step then has OK false and Err set): resolve
// (the host's addresses; type direct: the MX hosts of the recipients'
// domain), connect, banner, EHLO, STARTTLS or implicit TLS (the TLS
// version and certificate), AUTH (the mechanism; never the secret); with
// o.Envelope MAIL, RCPT per recipient and RSET; with o.Send the test
// message's DATA and final reply; then QUIT.
//
// It runs the same client code as Send, on a connection of its own: no
// pooled connection is used or kept, max_connections is not waited for
// (a test must work while deliveries are stuck), and it does not count in
// relayd_upstream_connections_total. Its session goes to the profile's
// debug transcript like any other. A type direct profile tries the MX
// addresses in order until one accepts the TCP connection. Cancelling ctx
// ends it with a failed step. Probe is safe for concurrent use with Send
// and other Probes.
func (p *Pool) Probe(ctx context.Context, prof *Target, o ProbeOptions) []ProbeStep {
	start := p.now()
	r := &prober{p: p, prof: prof, o: o, last: start}
	r.run(ctx)
	args := []any{"profile", prof.Name, "steps", len(r.steps), "duration", p.now().Sub(start)}
	if n := len(r.steps); n > 0 && !r.steps[n-1].OK {
		e := r.steps[n-1].Err
		args = append(args, "host", e.Host, "step", e.Step, "code", e.Code, "err", e)
	}
	p.log.Info("upstream probe", args...)
	return r.steps
}

// prober records one Probe's steps.
type prober struct {
	p     *Pool
	prof  *Target
	o     ProbeOptions
	steps []ProbeStep
	last  time.Time
}

func (r *prober) add(s ProbeStep) {
	now := r.p.now()
	s.Duration, r.last = now.Sub(r.last), now
	r.steps = append(r.steps, s)
	if r.o.Progress != nil {
		r.o.Progress(s)
	}
}

// ok records a step that worked; it is also the clients' trace hook.
func (r *prober) ok(step Step, detail string) { r.add(ProbeStep{Step: step, OK: true, Detail: detail}) }

// fail records the failed step of e, with the upstream's reply or the
// local reason as its detail.
func (r *prober) fail(e *Error) {
	detail := e.reply()
	if detail == "" {
		detail = strings.ReplaceAll(e.Text, "\n", " / ")
	}
	if e.Host != "" && e.Code == 0 && (e.Step == StepConnect || e.Step == StepResolve) {
		detail = e.Host + ": " + detail
	}
	r.add(ProbeStep{Step: e.Step, Detail: truncate(detail, 160), Err: e})
}

func (r *prober) run(ctx context.Context) {
	p, prof := r.p, r.prof
	if err := checkProfile(prof); err != nil {
		r.fail(profileError(prof, err))
		return
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		r.fail(&Error{Profile: prof.Name, Step: StepConnect, Text: "relayd is shutting down", Temporary: true, Err: ErrClosed})
		return
	}
	w, res, xerr := r.envelope()
	if xerr != nil {
		r.fail(xerr)
		return
	}
	var dests []dest
	if prof.Type == "direct" {
		dests, xerr = r.resolveMX(ctx)
	} else {
		dests, xerr = r.resolveHost(ctx)
	}
	if xerr != nil {
		r.fail(xerr)
		return
	}
	c, d, xerr := r.connect(ctx, dests)
	if xerr != nil {
		r.fail(xerr)
		return
	}
	r.session(ctx, c, d, w, res)
}

// session runs the handshake and the optional transaction on c, then QUIT.
func (r *prober) session(ctx context.Context, c *client, d dest, w *wire, res *Result) {
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	c.trace = r.ok
	xerr := c.handshake(ctx, r.prof, d.serverName)
	if tok := c.rejectedToken(); xerr != nil && tok != "" && ctx.Err() == nil {
		// The upstream refused the OAuth2 access token: like a delivery
		// (Pool.connect), refresh it and log in once more.
		c.close()
		c, xerr = r.reauth(ctx, d, tok)
		if c != nil {
			defer context.AfterFunc(ctx, c.close)()
		}
	}
	if xerr != nil {
		if c != nil {
			c.quit() // after a refusal (535 ...) the session can still end politely
		}
		r.fail(xerr)
		return
	}
	if (r.o.Envelope || r.o.Send) && !r.transaction(ctx, c, w, res) {
		c.quit()
		return
	}
	r.quit(c)
}

// reauth is the handshake on a new connection with a refreshed OAuth2
// access token; only its AUTH step is reported, the others were.
func (r *prober) reauth(ctx context.Context, d dest, stale string) (*client, *Error) {
	c, xerr := r.p.open(ctx, r.prof, d, stale)
	if xerr != nil {
		return nil, xerr
	}
	c.trace = func(step Step, detail string) {
		if step == StepAuth {
			r.ok(step, detail+" (the cached access token was rejected: refreshed and reconnected)")
		}
	}
	return c, c.handshake(ctx, r.prof, d.serverName)
}

// envelope checks the test envelope and builds the test message.
func (r *prober) envelope() (*wire, *Result, *Error) {
	o := r.o
	env := &Envelope{ID: "probe", From: o.From, To: o.To}
	if o.Send {
		if o.From == "" {
			return nil, nil, &Error{Profile: r.prof.Name, Step: StepMail, Subject: "<>",
				Text: "a test message needs a sender address (-from)"}
		}
		body, err := testMessage(r.prof, o, r.p.now())
		if err != nil {
			return nil, nil, &Error{Profile: r.prof.Name, Step: StepData, Text: err.Error(), Err: err}
		}
		env.Body, env.EightBit = body, !isASCII(string(body))
	}
	res := &Result{Rcpt: make([]*Error, len(env.To))}
	w, xerr := prepare(r.prof, env, res)
	return w, res, xerr
}

// resolveHost looks up a smarthost's addresses: what the dialer will do.
func (r *prober) resolveHost(ctx context.Context) ([]dest, *Error) {
	serverName, addr, _ := smarthostAddr(r.prof) // checked
	d := []dest{{serverName: serverName, addr: addr, dial: addr}}
	if _, err := netip.ParseAddr(serverName); err == nil {
		r.ok(StepResolve, serverName+" is an IP address")
		return d, nil
	}
	var res Resolver = net.DefaultResolver
	if r.p.resolver != nil {
		res = r.p.resolver
	}
	timeout, _ := timeouts(r.prof)
	lctx, cancel := context.WithTimeout(ctx, timeout)
	ips, err := res.LookupNetIP(lctx, "ip", serverName+".")
	cancel()
	if err == nil && len(ips) == 0 {
		err = &net.DNSError{Err: "no address", Name: serverName, IsNotFound: true}
	}
	if err != nil {
		return nil, &Error{Profile: r.prof.Name, Host: addr, Step: StepResolve, Text: dnsReason(ctx, err),
			Temporary: true, Err: cause(ctx, err)}
	}
	r.ok(StepResolve, serverName+" -> "+joinAddrs(ips))
	return d, nil
}

// resolveMX finds the MX hosts of the test recipients' domain and their
// addresses, in the order a delivery tries them (RFC 5321 §5.1).
func (r *prober) resolveMX(ctx context.Context) ([]dest, *Error) {
	p, prof := r.p, r.prof
	to := r.o.To
	if len(to) == 0 && r.o.From != "" {
		to = []string{r.o.From}
	}
	res := &Result{Rcpt: make([]*Error, len(to))}
	w, _ := prepare(prof, &Envelope{To: to}, res) // no sender: no error
	groups := groupByDomain(w)
	switch {
	case len(groups) == 0 && len(to) > 0:
		return nil, res.Rcpt[0]
	case len(groups) == 0:
		return nil, &Error{Profile: prof.Name, Step: StepConnect, Err: errNoProbeDomain, Text: errNoProbeDomain.Error()}
	case len(groups) > 1:
		return nil, &Error{Profile: prof.Name, Step: StepConnect, Err: errProbeDomains, Text: errProbeDomains.Error()}
	}
	g := groups[0]
	if xerr := checkGroup(prof, g); xerr != nil {
		return nil, xerr
	}
	resolver := p.resolverFor(prof)
	hosts, xerr := p.lookupMX(ctx, prof, resolver, g.domain)
	if xerr != nil {
		return nil, xerr
	}
	port := strconv.Itoa(directPort(prof))
	var dests []dest
	var seen []string
	for _, h := range hosts {
		addrs, xerr := p.lookupAddrs(ctx, prof, resolver, g.domain, h)
		if xerr != nil && (!xerr.Temporary || (h == hosts[len(hosts)-1] && len(dests) == 0)) {
			return nil, xerr
		}
		if xerr != nil {
			seen = append(seen, h.name+" ("+xerr.Text+")")
			continue
		}
		seen = append(seen, h.name+" ("+joinAddrs(addrs)+")")
		for _, a := range addrs {
			dests = append(dests, dest{serverName: h.name, addr: net.JoinHostPort(h.name, port),
				dial: net.JoinHostPort(a.String(), port)})
		}
	}
	what := g.domain + " MX: "
	if hosts[0].implicit {
		what = g.domain + " has no MX, its own address: "
	}
	r.ok(StepResolve, what+strings.Join(seen, ", "))
	return dests, nil
}

var (
	errNoProbeDomain = errors.New("a direct profile is tested against the MX hosts of a recipient's domain: give a recipient address")
	errProbeDomains  = errors.New("the recipients are in several domains: a direct profile is tested against one domain's MX hosts at a time")
)

// connect opens the first connection that works, in dests order.
func (r *prober) connect(ctx context.Context, dests []dest) (*client, dest, *Error) {
	var first *Error
	var failed []string
	for _, d := range dests {
		c, xerr := r.p.open(ctx, r.prof, d, "")
		if xerr == nil {
			if c.tr != nil {
				c.note("connection test (relayd test or the admin API), not a delivery")
			}
			detail := connDetail(d, c)
			if len(failed) > 0 {
				detail += "; after " + strings.Join(failed, "; ")
			}
			r.ok(StepConnect, detail)
			return c, d, nil
		}
		if first == nil {
			first = xerr
		}
		failed = append(failed, dialName(d)+": "+xerr.Text)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, dest{}, first
}

// transaction runs MAIL, each RCPT, then RSET, or DATA and the final
// reply with o.Send. false: a step failed (and was recorded).
func (r *prober) transaction(ctx context.Context, c *client, w *wire, res *Result) bool {
	if xerr := c.checkUTF8(w); xerr != nil {
		r.fail(xerr)
		return false
	}
	w, xerr := c.fitBody(w)
	if xerr != nil {
		r.fail(xerr)
		return false
	}
	mail := c.mailCommand(w)
	if !r.command(ctx, c, StepMail, sender(w.env), mail) {
		return false
	}
	for i, rcpt := range w.rcpts {
		if rcpt == "" { // refused by FormatAddress
			res.Rcpt[i].Host = c.addr
			r.fail(res.Rcpt[i])
			return false
		}
		if !r.command(ctx, c, StepRcpt, w.env.To[i], "RCPT TO:<"+rcpt+">") {
			return false
		}
	}
	if !r.o.Send {
		return r.command(ctx, c, StepRSET, "", "RSET")
	}
	c.data(ctx, w, res, nil) // reports data and dot through c.trace
	if res.Err != nil {
		r.fail(res.Err)
		return false
	}
	return true
}

// command sends one command as its own step.
func (r *prober) command(ctx context.Context, c *client, step Step, subject, line string) bool {
	rep, err := c.cmd(line)
	if err != nil {
		xerr := c.netError(ctx, step, err)
		xerr.Subject = subject
		r.fail(xerr)
		return false
	}
	if !rep.ok() {
		r.fail(c.replyError(step, subject, rep))
		return false
	}
	if step == StepRSET {
		r.ok(step, c.replyLine(rep))
	} else {
		r.ok(step, line+": "+c.replyLine(rep))
	}
	return true
}

// quit ends the session. A server that closes without answering QUIT
// does no harm: the step is still OK.
func (r *prober) quit(c *client) {
	err := c.write("QUIT")
	var rep *reply
	if err == nil {
		rep, err = c.read(min(c.timeout, quitTimeout))
	}
	c.close()
	if err != nil {
		r.ok(StepQuit, "no reply ("+netReason(context.Background(), err)+"), which is harmless after the test")
		return
	}
	r.ok(StepQuit, c.replyLine(rep))
}
