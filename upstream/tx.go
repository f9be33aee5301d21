package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxPipeline bounds the commands written before their replies are read,
// so that neither side's socket buffer can fill up (RFC 2920 §3.1).
const maxPipeline = 100

// wire is an Envelope with its addresses checked and formatted.
type wire struct {
	env   *Envelope
	from  string   // canonical sender, "" = null sender
	rcpts []string // canonical recipients by Envelope.To index; "" where refused
	valid int      // recipients that may be sent
	utf8  bool     // SMTPUTF8 needed
	body  []byte   // what DATA sends: env.Body, or its 7-bit form (fitBody)
}

// prepare formats every address before anything is sent. A bad sender
// fails the transaction, a bad recipient only itself; both are permanent
// (RFC 3463 5.1.7 and 5.1.3).
func prepare(prof *Target, env *Envelope, res *Result) (*wire, *Error) {
	w := &wire{env: env, rcpts: make([]string, len(env.To)), utf8: env.UTF8, body: env.Body}
	if env.From != "" {
		from, err := FormatAddress(env.From)
		if err != nil {
			return nil, &Error{Profile: prof.Name, Step: StepMail, Enhanced: "5.1.7", Subject: display(env.From),
				Text: "invalid sender address: " + err.Error(), Err: err}
		}
		w.from = from
	}
	w.utf8 = w.utf8 || !isASCII(w.from)
	for i, to := range env.To {
		rcpt, err := FormatAddress(to)
		if err != nil {
			res.Rcpt[i] = &Error{Profile: prof.Name, Step: StepRcpt, Enhanced: "5.1.3", Subject: display(to),
				Text: "invalid recipient address: " + err.Error(), Err: err}
			continue
		}
		w.rcpts[i], w.valid = rcpt, w.valid+1
		w.utf8 = w.utf8 || !isASCII(rcpt)
	}
	return w, nil
}

// txOutcome tells the pool what to do with the connection after transact.
type txOutcome struct {
	retry bool // a reused connection failed before MAIL was accepted: safe to try a new one
	reuse bool // the connection may carry another transaction
}

// transact runs one transaction (RFC 5321 §3.3) on c and fills res. On a
// reused connection it starts with RSET.
func (c *client) transact(ctx context.Context, w *wire, reused bool, res *Result) txOutcome {
	if res.Err = c.checkUTF8(w); res.Err != nil {
		return txOutcome{reuse: true}
	}
	if w, res.Err = c.fitBody(w); res.Err != nil {
		return txOutcome{reuse: true}
	}
	cmds := make([]string, 0, 2+w.valid)
	if reused {
		cmds = append(cmds, "RSET")
	}
	cmds = append(cmds, c.mailCommand(w))
	for _, rcpt := range w.rcpts {
		if rcpt != "" {
			cmds = append(cmds, "RCPT TO:<"+rcpt+">")
		}
	}
	nrcpt := len(cmds) - 1 - boolInt(reused)
	// With PIPELINING, DATA goes in the same write as MAIL and RCPT
	// (RFC 2920 §3.1: it may be the last command of a group).
	pipelined := c.has("PIPELINING")
	if pipelined {
		cmds = append(cmds, "DATA")
	}
	c.msgs++
	head := 1 + boolInt(reused) // RSET and MAIL: the sequence stops when one fails
	replies, err := c.exchange(cmds, head)
	if len(replies) < head || !replies[0].ok() || !replies[head-1].ok() {
		return c.mailFailed(ctx, w, replies, err, reused, res)
	}
	accepted, reuse := c.rcptResults(ctx, w, replies[head:min(len(replies), head+nrcpt)], err, res)
	if !pipelined {
		if res.Err != nil || accepted == 0 {
			return txOutcome{reuse: reuse && res.Err == nil}
		}
		return c.data(ctx, w, res, nil)
	}
	var dataReply *reply
	if len(replies) == len(cmds) {
		dataReply = replies[len(cmds)-1]
	}
	switch {
	case res.Err != nil:
		return txOutcome{}
	case dataReply == nil:
		res.Err = c.netError(ctx, StepData, orEOF(err))
		return txOutcome{}
	case accepted == 0 && dataReply.code == 354:
		// RFC 2920 §3.1: a server that accepts DATA without any recipient
		// gets an empty message, and the connection is not trusted again.
		c.write(".")
		c.read(c.timeout)
		return txOutcome{}
	case accepted == 0:
		return txOutcome{reuse: reuse}
	}
	return c.data(ctx, w, res, dataReply)
}

// checkUTF8 fails a transaction that needs SMTPUTF8 on a connection
// without it, before MAIL: permanent 5.6.7 (RFC 6531 §3.5).
func (c *client) checkUTF8(w *wire) *Error {
	if !w.utf8 || c.has("SMTPUTF8") {
		return nil
	}
	return &Error{Profile: c.profile, Host: c.addr, Step: StepMail, Enhanced: "5.6.7", Subject: sender(w.env),
		Text: "the message needs SMTPUTF8 (non-ASCII addresses, RFC 6531) and " + c.addr + " does not offer it"}
}

// errNoSevenBit is fitBody's cause when the Envelope has no SevenBit.
var errNoSevenBit = errors.New("relayd has no 7-bit form of it")

// fitBody returns w with the body this connection may carry
// (never 8-bit octets on a 7-bit wire): env.Body when it is 7-bit, when the
// upstream offers 8BITMIME (RFC 6152), or when the transaction uses
// SMTPUTF8 (RFC 6531 §3.1: its servers support 8-bit mail); else the
// 7-bit form from Envelope.SevenBit. The octets are checked, not only
// EightBit: a DSN may quote 8-bit header fields. Where there is no 7-bit
// form, a permanent 5.6.3 before MAIL (RFC 3463: conversion required but
// not supported).
func (c *client) fitBody(w *wire) (*wire, *Error) {
	if c.has("8BITMIME") || (w.utf8 && c.has("SMTPUTF8")) || !(w.env.EightBit || eightBit(w.body)) {
		return w, nil
	}
	err := errNoSevenBit
	if w.env.SevenBit != nil {
		body, serr := w.env.SevenBit()
		if serr == nil && !eightBit(body) {
			fitted := *w
			fitted.body = body
			return &fitted, nil
		}
		if err = serr; err == nil {
			err = errors.New("its 7-bit form still holds 8-bit octets")
		}
	}
	return w, &Error{Profile: c.profile, Host: c.addr, Step: StepMail, Enhanced: "5.6.3", Err: err,
		Text: "the message holds 8-bit octets, the upstream does not offer 8BITMIME (RFC 6152), and they " +
			"cannot be re-encoded: " + err.Error()}
}

func eightBit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

func (c *client) mailCommand(w *wire) string {
	var b strings.Builder
	b.WriteString("MAIL FROM:<" + w.from + ">")
	if w.env.EightBit && c.has("8BITMIME") { // RFC 6152
		b.WriteString(" BODY=8BITMIME")
	}
	if w.utf8 { // RFC 6531 §3.4
		b.WriteString(" SMTPUTF8")
	}
	if c.has("SIZE") { // RFC 1870: lets the server refuse an oversized message at once
		b.WriteString(" SIZE=" + strconv.Itoa(len(w.body)))
	}
	return b.String()
}

// mailFailed handles a failed RSET or MAIL. On a reused connection nothing
// has been accepted yet, so the pool may retry on a new connection.
func (c *client) mailFailed(ctx context.Context, w *wire, replies []*reply, err error, reused bool, res *Result) txOutcome {
	retry := reused && ctx.Err() == nil
	switch {
	case reused && len(replies) == 0:
		res.Err = c.netError(ctx, StepMail, orEOF(err))
		res.Err.Text = "RSET: " + res.Err.Text
	case reused && !replies[0].ok():
		res.Err = c.replyError(StepMail, "", replies[0])
		res.Err.Text = "RSET: " + res.Err.Text
	case len(replies) < 1+boolInt(reused):
		res.Err = c.netError(ctx, StepMail, orEOF(err))
	default:
		r := replies[boolInt(reused)]
		res.Err = c.replyError(StepMail, sender(w.env), r)
		retry = retry && r.code == 421 // "closing": the pooled connection was stale
	}
	return txOutcome{retry: retry}
}

// rcptResults records each recipient's reply. It returns how many were
// accepted, and whether the connection can still be used.
func (c *client) rcptResults(ctx context.Context, w *wire, replies []*reply, err error, res *Result) (int, bool) {
	accepted, reuse, k := 0, true, 0
	for i, rcpt := range w.rcpts {
		if rcpt == "" {
			continue
		}
		if k == len(replies) {
			res.Err = c.netError(ctx, StepRcpt, orEOF(err))
			return 0, false
		}
		r := replies[k]
		k++
		if r.ok() {
			accepted++
			continue
		}
		res.Rcpt[i] = c.replyError(StepRcpt, w.env.To[i], r)
		reuse = reuse && r.code != 421
	}
	return accepted, reuse
}

// data sends DATA (unless r is its reply already: pipelined), the body (dot-stuffed, RFC 5321 §4.5.2: dotstuff.go) and reads the final reply within the data timeout. A connection
// lost while waiting for that reply leaves the outcome unknown: Ambiguous.
func (c *client) data(ctx context.Context, w *wire, res *Result, r *reply) txOutcome {
	var err error
	if r == nil {
		if r, err = c.cmd("DATA"); err != nil {
			res.Err = c.netError(ctx, StepData, err)
			return txOutcome{}
		}
	}
	if r.code != 354 {
		res.Err = c.replyError(StepData, "", r)
		return txOutcome{}
	}
	c.traceStep(StepData, func() string { return c.replyLine(r) })
	c.conn.SetWriteDeadline(time.Now().Add(c.dataTimeout))
	err = writeDotStuffed(c.w, w.body)
	if c.tr != nil { // the body is the users' mail: only its size (transcript.go)
		c.tr.line("C: ", fmt.Sprintf("<message body, %d octets>", len(w.body)))
		c.tr.line("C: ", ".")
	}
	if err != nil { // the final "." did not get out: not ambiguous
		res.Err = c.netError(ctx, StepData, err)
		return txOutcome{}
	}
	r, err = c.read(c.dataTimeout)
	if err != nil {
		res.Err = c.netError(ctx, StepDot, err)
		res.Err.Ambiguous = true
		return txOutcome{}
	}
	if !r.ok() {
		res.Err = c.replyError(StepDot, "", r)
		return txOutcome{}
	}
	c.traceStep(StepDot, func() string { return c.replyLine(r) })
	return txOutcome{reuse: true}
}

// exchange sends cmds and reads their replies: in batches with PIPELINING
// (RFC 2920), else one by one, stopping when one of the first head commands
// (RSET, MAIL) fails. Fewer replies than commands come back only with err.
func (c *client) exchange(cmds []string, head int) ([]*reply, error) {
	replies := make([]*reply, 0, len(cmds))
	if !c.has("PIPELINING") {
		for i, cmd := range cmds {
			r, err := c.cmd(cmd)
			if err != nil {
				return replies, err
			}
			if replies = append(replies, r); i < head && !r.ok() {
				return replies, nil
			}
		}
		return replies, nil
	}
	for len(cmds) > 0 {
		batch := cmds[:min(len(cmds), maxPipeline)]
		cmds = cmds[len(batch):]
		if err := c.write(batch...); err != nil {
			return replies, err
		}
		for range batch {
			r, err := c.read(c.timeout)
			if err != nil {
				return replies, err
			}
			replies = append(replies, r)
		}
	}
	return replies, nil
}

func orEOF(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sender names the envelope sender in diagnoses.
func sender(env *Envelope) string {
	if env.From == "" {
		return "<>"
	}
	return display(env.From)
}

// display quotes an address that could break a log line.
func display(addr string) string {
	for _, r := range addr {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return fmt.Sprintf("%q", addr)
		}
	}
	return addr
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
