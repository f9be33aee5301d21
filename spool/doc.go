// Package spool is relayd's durable queue: the third stage of the SPEC data
// flow
//
//	client -> relay -> policy -> spool -> upstream -> result back into spool
//
// relay commits every accepted message here before it answers 250 (SPEC §4),
// the scheduler asks it which recipients are due (Due, NextDue), leases them
// and writes the delivery results back (Update), and the admin API acts on it
// (Hold, Release, Cancel, RetryNow, RetryAll). Finished messages stay as
// journal records for journal_retention (Expire). SPEC §7 defines the states.
//
// # Implementation summary
//
// The store is one Badger v4 database (state_dir/spool) with four key
// prefixes (keys.go):
//
//	m/<id>                 envelope (codec.go) of an active message: at least one
//	                       recipient is not final
//	b/<id>                 body of an active message; dropped when every
//	                       recipient is final
//	j/<id>                 envelope of a journal message (every recipient final)
//	r/<8-byte nanos><id>   retention index of journal messages, keyed by the
//	                       last Updated time; the value is the state bit mask
//
// Active and journal envelopes live under different prefixes so that Open
// decodes only the active ones; the journal is counted from the small r/
// keys. The schedule index (which active message is due when), the per-state
// counters and the oldest active message are kept in memory (index.go): they
// are rebuilt from m/ at Open, and every change goes through Commit or
// Update, which update them after the transaction has committed while
// holding a per-ID lock, so memory and disk always agree. An in-memory
// schedule avoids scanning the tombstones that a queue's churn leaves at the
// head of an on-disk index.
//
// Durability: Badger runs with SyncWrites=false and the store does group
// commit (groupsync.go): Commit writes its transaction and then waits for an
// fsync that started after the write, so concurrent commits share one fsync.
// The fsync itself (filesync.go) also covers the files Badger rotated, which
// Badger's own DB.Sync misses. Update is synced by a background flush within
// 50 ms, UpdateSync and the admin actions before they return.
//
// All methods of Store are safe for concurrent use.
package spool
