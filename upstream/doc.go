// Package upstream is the outbound end of relayd's data flow (docs/architecture.md):
//
//	relay (scheduler, workers) -> upstream.Pool.Send -> the upstream SMTP server
//	                           <- upstream.Result    -> spool (sent / deferred / bounced)
//
// relay leases a message in the spool, builds an Envelope (after policy's
// rewrites, and DKIM signing with SignDKIM) and calls Pool.Send with the
// Target of the profile the recipients were routed to. upstream owns everything on the
// wire of delivery: parsing the host, dialling, the banner, EHLO, the TLS
// modes (none, starttls, starttls-required, implicit), AUTH (CRAM-MD5,
// PLAIN, LOGIN, and XOAUTH2 / OAUTHBEARER with an OAuth2 access token),
// one transaction per Send (type direct: one per recipient domain, to its
// MX hosts), connection pooling per profile, destination, credentials and
// TLS policy (at most max_connections busy connections, at most
// max_per_connection messages per connection, RSET between them).
//
// Every failure is an *Error: the profile, host and step that failed, the
// upstream's reply, whether it is worth retrying and whether the
// message may already have been accepted (Ambiguous). Its Error method is the
// plain-language diagnosis (docs/operations.md). upstream never decides about
// bounces, DSNs or retry schedules: relay does, from the Result.
//
// Names: a profile is relay's (relay.Profile, the [[profile]] table);
// Target is the part of it upstream needs, the connection settings of one
// upstream (host, port, TLS mode, AUTH, HELO, timeouts, limits). A client
// is one connection to an upstream; the handshake is everything between its
// TCP connect and the first MAIL. An idle connection is closed by closeIdle
// when its idle timeout passes ("expire" in relayd means a message past its
// queue lifetime, which relay decides).
//
// Implementation summary:
//
//   - target.go: Target, its defaults and the checks no connection can fix;
//     types.go: TLSMode, and Envelope and Result (what Send takes and gives).
//   - pool.go: Pool, per-key semaphores, idle connections and closing them
//     (closeIdle).
//   - handshake.go: connection setup: dial, banner, EHLO, STARTTLS or
//     implicit TLS, AUTH.
//   - client.go: the client type and its life cycle: commands, replies,
//     deadlines, QUIT, close.
//   - auth.go: mechanism choice and the SASL clients (CRAM-MD5, LOGIN).
//   - auth_oauth.go, oauth.go: XOAUTH2 / OAUTHBEARER (RFC 7628) and the
//     cached OAuth2 token source (refresh before expiry and after a
//     rejection, rotated refresh tokens written back).
//   - direct.go, mx.go: direct delivery: grouping
//     per domain, MX lookup (RFC 5321 §5.1, RFC 7505), MX order;
//     private.go: the non-global addresses refused without allow_private.
//   - dkim.go, dkimkey.go: DKIM signing (RFC 6376, RFC 8463) and keys.
//   - tx.go: one transaction: MAIL, RCPT, DATA, the final reply; the 7-bit
//     form of an 8-bit message for an upstream without 8BITMIME (fitBody).
//   - address.go: FormatAddress, the only way an address reaches the wire.
//   - tls.go: STARTTLS and implicit TLS, configuration, certificate diagnoses.
//   - error.go: Error, the diagnoses and the client's error constructors;
//     metrics.go: Prometheus counters.
//   - probe.go, probedetail.go: Pool.Probe, the step-by-step connection
//     test behind `relayd test` and the admin API's profile test, on the
//     same client code as Send.
//   - transcript.go: debug_transcript files (AUTH and bodies redacted,
//     line-atomic, rotated by size); owner_*.go keeps a file's owner when
//     root rewrites it.
//
// The SMTP client is written here on net/textproto rather than taken from
// go-smtp's Client: that one (v0.25) has no exported STARTTLS that can follow
// a custom EHLO name, performs the TLS handshake lazily inside the next
// command, sends EHLO again after every RSET, always adds BODY=8BITMIME and
// has no PIPELINING. Dot-stuffing uses textproto's DotWriter, the same one
// go-smtp's DataCommand wraps.
package upstream
