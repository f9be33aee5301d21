package config

import (
	"errors"
	"strings"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/relay"
	"github.com/relayd/relayd/upstream"
)

// Relay translates f into the runtime snapshot relay.Server runs on. Every
// file and secret was already read by Load, so Relay does no I/O; it fails
// only for a File that did not come from Load. The result shares no mutable
// memory with f.
func (f *File) Relay() (*relay.Config, error) {
	if f == nil || f.lines == nil {
		return nil, errors.New("config: Relay called on a File that Load did not return")
	}
	r := &f.RelayTable
	c := &relay.Config{
		Hostname:         f.Server.Hostname,
		Profiles:         make(map[string]*relay.Profile, len(f.Profiles)),
		Users:            map[string]relay.User{},
		MaxQueueAge:      r.MaxQueueAge.D(),
		JournalRetention: r.JournalRetention.D(),
		WarnAfter:        r.WarnAfter.D(),
		BareLF:           relay.BareLF(r.BareLF),
		Notify: relay.Notify{From: f.Notify.From, Admin: f.Notify.Admin, Bounces: f.Notify.Bounces,
			Profile: f.Notify.Profile},
		Policy: f.Policy(),
	}
	for _, d := range r.RetrySchedule {
		c.RetrySchedule = append(c.RetrySchedule, d.D())
	}
	for i := range f.Listeners {
		c.Listeners = append(c.Listeners, f.Listeners[i].relay())
	}
	c.Listeners = append(c.Listeners, f.sendmailListener())
	for _, t := range f.Teams {
		for _, u := range t.Users {
			c.Users[u.Username] = relay.User{Team: t.Name, PasswordHash: u.PasswordHash}
		}
	}
	for i := range f.Profiles {
		p := f.Profiles[i].relay()
		c.Profiles[p.Upstream.Name] = p
	}
	for _, d := range f.DKIM {
		c.DKIM = append(c.DKIM, upstream.DKIMKey{Domain: d.Domain, Selector: d.Selector, Signer: d.Key(),
			Headers: append([]string(nil), d.Headers...)})
	}
	return c, nil
}

// Upstream translates [profile.oauth2] into upstream's settings (for
// delivery and `relayd oauth login`); nil when the profile has none.
func (o *OAuth2) Upstream() *upstream.OAuth2 {
	if o == nil {
		return nil
	}
	return &upstream.OAuth2{TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.Secret(),
		RefreshTokenFile: o.RefreshTokenFile, Scopes: append([]string(nil), o.Scopes...), Grant: string(o.Grant)}
}

// Policy is the routing part of f for package policy: teams, routes,
// defaults, the enabled map (what `relayd route` explains with).
func (f *File) Policy() policy.Config {
	pc := policy.Config{
		DefaultProfile: f.RelayTable.DefaultProfile,
		Enabled:        make(map[string]bool, len(f.Profiles)),
	}
	for _, t := range f.Teams {
		pc.Teams = append(pc.Teams, policy.Team{
			Name:           t.Name,
			DefaultProfile: t.DefaultProfile,
			Networks:       prefixes(t.Networks),
			Profiles:       append([]string(nil), t.Profiles...),
		})
	}
	for i, r := range f.Routes {
		pc.Routes = append(pc.Routes, policy.Route{
			Index:     i + 1,
			Sender:    string(r.Sender),
			Team:      r.Team,
			Recipient: string(r.Recipient),
			Profile:   r.Profile,
		})
	}
	for _, p := range f.Profiles {
		pc.Enabled[p.Name] = p.Enabled
	}
	return pc
}

func (l *Listener) relay() relay.Listener {
	network, addr := "tcp", l.Address
	if path, ok := strings.CutPrefix(l.Address, "unix:"); ok {
		network, addr = "unix", path
	}
	var tc = l.tlsConfig
	if tc != nil {
		tc = tc.Clone()
	}
	return relay.Listener{
		Name:                l.Name,
		Network:             network,
		Address:             addr,
		TLS:                 string(l.TLS),
		TLSConfig:           tc,
		Auth:                string(l.Auth),
		AllowNetworks:       prefixes(l.AllowNetworks),
		Team:                l.Team,
		MaxMessageSize:      int64(l.MaxMessageSize),
		MaxRecipients:       l.MaxRecipients,
		MaxConnections:      l.MaxConnections,
		MaxConnectionsPerIP: l.MaxConnectionsPerIP,
		MaxLineLength:       int64(l.MaxLineLength),
		IdleTimeout:         l.IdleTimeout.D(),
		SessionTimeout:      l.SessionTimeout.D(),
		MaxErrors:           l.MaxErrors,
		MaxAuthFailures:     l.MaxAuthFailures,
		AllowProfileHeader:  l.AllowProfileHeader,
	}
}

func (p *ProfileTable) relay() *relay.Profile {
	mechs := make([]string, len(p.AuthMechanisms))
	for i, m := range p.AuthMechanisms {
		mechs[i] = string(m)
	}
	if len(mechs) == 0 {
		mechs = nil
	}
	host, resolver := p.Host, p.Resolver // inherited keys of the other type do not apply
	if p.Type == "direct" {
		host = ""
	} else {
		resolver = ""
	}
	return &relay.Profile{
		Upstream: upstream.Target{
			Name:           p.Name,
			Type:           string(p.Type),
			Host:           host,
			Port:           p.Port,
			TLS:            upstream.TLSMode(p.TLS),
			TLSVerify:      p.TLSVerify,
			RootCAs:        p.rootCAs,
			Username:       p.Username,
			Password:       p.password,
			AuthMechanisms: mechs,
			Helo:           p.Helo,
			Timeout:        p.Timeout.D(),
			DataTimeout:    p.DataTimeout.D(),
			MaxPerConn:     p.MaxPerConnection,
			MaxConns:       p.MaxConnections,
			Resolver:       resolver,
			AllowLoopback:  p.AllowLoopback && p.Type == "direct",
			AllowPrivate:   p.AllowPrivate && p.Type == "direct",
			OAuth2:         p.OAuth2.Upstream(),
			Transcript:     p.DebugTranscript,
		},
		Description: p.Description,
		Enabled:     p.Enabled,
		Immediate:   p.Mode == "immediate",
		SendDelay:   p.SendDelay.D(),
		Rate:        relayRates(p.Rate),
		Fallback:    append([]string(nil), p.Fallback...),
		Rewrite:     rewriteOf(p),
		Transcript:  p.DebugTranscript,

		QuotaReplies:      append([]string(nil), p.QuotaReplies...),
		QuotaPause:        p.QuotaPause.D(),
		MaxAttachmentSize: int64(p.MaxAttachmentSize),
		AttachmentsAsURL:  string(p.AttachmentsAsURL),
	}
}

// relayRates converts a profile's rate windows.
func relayRates(rs Rates) relay.Rates {
	var out relay.Rates
	for _, r := range rs {
		out = append(out, relay.Rate{N: r.N, Per: r.Per})
	}
	return out
}
