package upstream

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
)

// maxDomainsParallel bounds the recipient domains one Send delivers at
// once. Connections per MX address are bounded by the profile's
// max_connections, as for a smarthost (one pool entry per address).
const maxDomainsParallel = 4

// domainGroup is the recipients of one domain: one transaction.
type domainGroup struct {
	domain  string // as DNS knows it (lower case, A-labels), or the address literal
	idx     []int  // Envelope.To indexes
	literal bool   // "[192.0.2.1]": refused on direct profiles
	invalid bool   // a UTF-8 domain IDNA refuses
}

// domainOutcome is how one domain's delivery ended: err is a failure of
// the whole transaction (nil when the message went out, even if some
// recipients were refused at RCPT); host is the MX that answered.
type domainOutcome struct {
	err  *Error
	host string
}

// sendDirect delivers w by MX: the recipients grouped per
// domain, one transaction per domain, at most maxDomainsParallel domains at
// once. It fills res as documented on Result.
func (p *Pool) sendDirect(ctx context.Context, prof *Target, w *wire, res *Result) {
	groups := groupByDomain(w)
	r := p.resolverFor(prof)
	outs := make([]domainOutcome, len(groups))
	sem := make(chan struct{}, maxDomainsParallel)
	var wg sync.WaitGroup
	for i, g := range groups {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			defer func() {
				if v := recover(); v != nil {
					p.log.Error("panic in direct delivery: the recipients stay queued", "msg_id", w.env.ID,
						"profile", prof.Name, "err", v, "stack", string(debug.Stack()))
					outs[i] = domainOutcome{err: domainError(prof, g.domain, 0, "4.3.0", true, nil,
						fmt.Sprintf("internal error (%v)", v))}
				}
			}()
			outs[i] = p.deliverDomain(ctx, prof, r, w, g, res)
		})
	}
	wg.Wait()
	mergeDomains(res, groups, outs)
}

// mergeDomains puts each domain's transaction failure into Rcpt[i] of its
// recipients that have no answer of their own, and sets res.Err when
// every domain failed as a whole in the same way (all temporary or all
// permanent): then relay may try a fallback profile, as for a smarthost.
func mergeDomains(res *Result, groups []domainGroup, outs []domainOutcome) {
	var first *Error
	alike := true
	for gi, g := range groups {
		o := outs[gi]
		if res.Host == "" {
			res.Host = o.host
		}
		if o.err == nil {
			alike = false
			continue
		}
		for _, i := range g.idx {
			if res.Rcpt[i] == nil {
				res.Rcpt[i] = o.err
			}
		}
		if first == nil {
			first = o.err
		} else if o.err.Temporary != first.Temporary {
			alike = false
		}
	}
	if alike && first != nil {
		res.Err = first
	}
}

// groupByDomain groups the valid recipients by domain, in Envelope.To order.
func groupByDomain(w *wire) []domainGroup {
	var groups []domainGroup
	index := map[string]int{}
	for i, rcpt := range w.rcpts {
		if rcpt == "" {
			continue
		}
		g := domainGroup{domain: rcpt[strings.LastIndexByte(rcpt, '@')+1:]}
		if strings.HasSuffix(rcpt, "]") { // RFC 5321 §4.1.3 address literal
			g.domain, g.literal = rcpt[strings.LastIndex(rcpt, "@[")+1:], true
		} else {
			var ok bool
			g.domain, ok = asciiDomain(g.domain)
			g.invalid = !ok
		}
		k, seen := index[g.domain]
		if !seen {
			k = len(groups)
			index[g.domain] = k
			groups = append(groups, g)
		}
		groups[k].idx = append(groups[k].idx, i)
	}
	return groups
}

// deliverDomain sends w to the recipients g.idx through the domain's mail
// hosts in order (RFC 5321 §5.1): a connect or TLS failure or a temporary
// reply (4xx, or every recipient 4xx at RCPT) moves on to the next address
// and host; a permanent reply, a delivery, or a possible one (no reply after
// the final dot) ends it. The answers per recipient go into res.Rcpt[g.idx].
func (p *Pool) deliverDomain(ctx context.Context, prof *Target, r Resolver, w *wire, g domainGroup, res *Result) domainOutcome {
	if xerr := checkGroup(prof, g); xerr != nil {
		return domainOutcome{err: xerr}
	}
	hosts, xerr := p.lookupMX(ctx, prof, r, g.domain)
	if xerr != nil {
		return domainOutcome{err: xerr}
	}
	sub := subWire(w, g.idx)
	var last *Result
	for _, h := range hosts {
		addrs, xerr := p.lookupAddrs(ctx, prof, r, g.domain, h)
		if xerr != nil && !xerr.Temporary {
			return domainOutcome{err: xerr}
		}
		if xerr != nil {
			if last == nil || last.Rcpt == nil { // keep an SMTP answer rather than a DNS one
				last = &Result{Err: xerr}
			}
			p.log.Debug("MX host skipped", "msg_id", w.env.ID, "profile", prof.Name, "host", h.name, "err", xerr)
			continue
		}
		for _, a := range addrs {
			port := strconv.Itoa(directPort(prof))
			d := dest{serverName: h.name, addr: net.JoinHostPort(h.name, port), dial: net.JoinHostPort(a.String(), port)}
			att := &Result{Rcpt: make([]*Error, len(w.env.To))}
			p.sendTo(ctx, prof, d, sub, att)
			if !tryNext(ctx, att, g.idx) {
				return finishDomain(att, g.idx, res)
			}
			last = att
			p.log.Debug("MX attempt failed, trying the next one", "msg_id", w.env.ID, "profile", prof.Name,
				"host", d.addr, "ip", a.String(), "err", att.Err)
		}
	}
	if last.Rcpt == nil { // only DNS failures
		return domainOutcome{err: last.Err}
	}
	return finishDomain(last, g.idx, res)
}

// checkGroup refuses the domains a direct profile never looks up:
// address literals, names IDNA refuses, and names under .invalid, which
// RFC 6761 §6.4 reserves never to exist and resolvers should answer
// negatively without asking anyone: such a recipient bounces at once, also
// on a machine without DNS (the README's first try of the embedded
// default).
func checkGroup(prof *Target, g domainGroup) *Error {
	switch {
	case g.literal:
		return domainError(prof, g.domain, 550, "5.1.2", false, nil, "address-literal "+
			"recipient domains are not delivered by a direct profile: use the domain name, or route "+
			"the recipient to a smarthost profile")
	case g.domain == "invalid" || strings.HasSuffix(g.domain, ".invalid"):
		return domainError(prof, g.domain, 550, "5.1.2", false, nil, g.domain+" does not exist: "+
			".invalid is reserved for names that never exist (RFC 6761), so no DNS lookup is made; "+
			"check the recipient's address")
	case g.invalid:
		return domainError(prof, g.domain, 550, "5.1.2", false, nil,
			"the domain name is not valid (IDNA, RFC 5891)")
	}
	return nil
}

// tryNext reports whether the next MX address may get the message: the
// attempt failed temporarily and nothing was accepted (RFC 5321 §5.1).
func tryNext(ctx context.Context, att *Result, idx []int) bool {
	if ctx.Err() != nil {
		return false
	}
	if att.Err != nil {
		return att.Err.Temporary && !att.Err.Ambiguous
	}
	for _, i := range idx {
		if att.Rcpt[i] == nil || !att.Rcpt[i].Temporary {
			return false
		}
	}
	return true
}

func finishDomain(att *Result, idx []int, res *Result) domainOutcome {
	for _, i := range idx {
		res.Rcpt[i] = att.Rcpt[i] // distinct indexes per domain: no lock needed
	}
	return domainOutcome{err: att.Err, host: att.Host}
}

// subWire is w restricted to the recipients idx.
func subWire(w *wire, idx []int) *wire {
	sub := &wire{env: w.env, from: w.from, rcpts: make([]string, len(w.rcpts)), utf8: w.env.UTF8 || !isASCII(w.from),
		body: w.body}
	for _, i := range idx {
		sub.rcpts[i] = w.rcpts[i]
		sub.valid++
		sub.utf8 = sub.utf8 || !isASCII(w.rcpts[i])
	}
	return sub
}

// directPort is the MX port: the profile's (tests), else 25.
func directPort(prof *Target) int {
	if prof.Port != 0 {
		return prof.Port
	}
	return 25
}
