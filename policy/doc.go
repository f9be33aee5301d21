// Package policy makes relayd's pure decisions: which team a session belongs
// to, which profile each recipient is routed to and by which rule
// (docs/relayd.toml.5.md, [[team]] and ROUTING), and which envelope and
// header rewrites a profile asks for (from_address, rewrite_header_from, default_sender_name,
// default_reply_to). It also resolves profile inheritance (`extends`) for the
// config loader.
//
// In relayd's data flow (docs/architecture.md) it sits between the listener and the spool:
//
//	SMTP client -> relay -> policy -> spool -> upstream
//
// relay asks policy for a session's team when a client connects or
// authenticates, routes every recipient before the 250 (the Decision is stored
// with the message), routes again at delivery time when the recorded profile
// has gone away, and applies the header Edits of the chosen profile when it
// builds what is sent upstream.
//
// The package imports only the standard library and does no I/O, logging or
// time keeping: every function is a deterministic function of its arguments,
// and a Router is immutable, so all of it is safe for concurrent use. Glob
// matching is linear in len(glob)*len(s) at worst, so hostile addresses and
// patterns cannot make routing slow.
package policy
