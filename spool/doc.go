// Package spool is relayd's durable queue: the third stage of relayd's data
// flow (docs/architecture.md)
//
//	client -> relay -> policy -> spool -> upstream -> result back into spool
//
// relay commits every accepted message here before it answers 250,
// the scheduler asks it which recipients are due (Due, NextDue), leases them
// and writes the delivery results back (Update), and the admin API acts on it
// (Hold, Release, Cancel, RetryNow, RetryAll). Finished messages stay as
// journal records for journal_retention (PurgeJournal). docs/architecture.md ("The spool") lists the states.
//
// # Implementation summary
//
// Names: a journal record is the envelope of a finished message (every
// recipient final), kept for journal_retention; PurgeJournal removes those
// past it (retention.go, with Badger's value log GC). "Expire" is not used
// here: in relayd it means a message past its queue lifetime, which relay
// decides. The body log is the append-only segment files that make a commit
// durable: bodylog.go holds the segments (append, fdatasync, read),
// logformat.go their on-disk format (segment header, record, the l/<id>
// reference), logreuse.go which segments are free, emptied or spare, and
// logcheckpoint.go the Store's side (the c/log checkpoint, the replay at
// Open, the background tick).
//
// The store is one Badger v4 database (state_dir/spool) with these keys
// (keys.go), and the body log in state_dir/spool/bodies:
//
//	m/<id>                 envelope (codec.go) of an active message: at least one
//	                       recipient is not final
//	l/<id>                 where the body of an active message is in the body
//	                       log (segment, sequence number, offset, size)
//	b/<id>                 body of an active message that is not in the body
//	                       log (encrypted spool, body larger than a segment,
//	                       moved out of a mostly finished segment, spool
//	                       written before the body log)
//	                       l/ and b/ are dropped when every recipient is final
//	j/<id>                 envelope of a journal message (every recipient final)
//	r/<8-byte nanos><id>   retention index of journal messages, keyed by the
//	                       last Updated time; the value is the state bit mask
//	c/log                  the body log checkpoint
//	p/<profile>            a profile paused at run time (pause.go)
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
// Durability: Commit appends the message (envelope and body) to the body
// log, writes its envelope and l/ reference in Badger, and returns after a
// group fdatasync of the log (groupsync.go: concurrent commits share one).
// Badger runs with SyncWrites=false and is fsynced in the background every
// 50 ms (filesync.go, which also covers the files Badger rotated, unlike
// Badger's own DB.Sync); the log's checkpoint in Badger tells Open which log
// records may be missing from Badger after a power cut, and Open writes
// those back. Without the body log (encrypted spool, huge body) Commit
// waits for Badger's fsync itself. Update is synced by the background flush
// within 50 ms, UpdateSync and the admin actions before they return.
//
// Failures (health.go): the first failed fsync or fdatasync, of Badger's
// files or of the log, or failed log write, makes the store unhealthy until
// the process ends (Err, Failed): every later Commit fails (relay answers
// 452 4.3.1), since nothing written after a failed fsync is known to be on
// disk. A commit that fails is rolled back durably: its log record's dead
// flag is fdatasynced and Badger's deletion fsynced before Commit returns,
// so a message refused with 452 never comes back at the next Open. Open
// creates the spool directory and fsyncs the parent of every directory it
// creates.
//
// All methods of Store are safe for concurrent use.
package spool
